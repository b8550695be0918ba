/**
 * The keeper's gas model (keeper/sizing/gasModel.ts) against the committed gas snapshot: its constants are
 * hand-copied, so this is what ties them to `gas-snapshot.json` (`npm run gas` rewrites it; `npm run gas:check`
 * holds the contracts to it). The rows are read the way the simulator reads them (`loadGasModel`, sim/gas.ts).
 */
import { describe, expect, it } from "vitest";
import {
  gasCostQuote,
  REBALANCE_GAS_FIXED,
  REBALANCE_GAS_PER_SERIES,
  rebalanceGasUnits,
} from "../../keeper/sizing/gasModel.ts";
import { PERP_HEDGE_EXTRA_GAS } from "../../keeper/sizing/choose.ts";
import { loadGasModel } from "../../sim/gas.ts";

/** How far the keeper's estimate may sit from a measured rebalance, relative. */
const TOLERANCE = 0.05;

/** Least-squares line through (live series, gas). */
function fitLine(points: readonly { liveSeries: number; gas: number }[]): { fixed: number; perSeries: number } {
  const n = points.length;
  const sx = points.reduce((a, p) => a + p.liveSeries, 0);
  const sy = points.reduce((a, p) => a + p.gas, 0);
  const sxx = points.reduce((a, p) => a + p.liveSeries * p.liveSeries, 0);
  const sxy = points.reduce((a, p) => a + p.liveSeries * p.gas, 0);
  const perSeries = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return { fixed: (sy - perSeries * sx) / n, perSeries };
}

describe("the keeper's gas model against gas-snapshot.json", () => {
  const { points } = loadGasModel();

  it("has rebalance rows at several series counts to check against", () => {
    expect(points.map((p) => p.liveSeries)).toEqual([1, 10, 32]);
  });

  it("estimates every measured rebalance (a later hedge) within 5%", () => {
    for (const p of points) {
      const error = rebalanceGasUnits(p.liveSeries) / p.gas - 1;
      expect(Math.abs(error), `${p.liveSeries} live series: ${rebalanceGasUnits(p.liveSeries)} vs ${p.gas} measured`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("charges each live series within 5% of the snapshot's least-squares slope", () => {
    const fit = fitLine(points);
    expect(Math.abs(REBALANCE_GAS_PER_SERIES / fit.perSeries - 1)).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.abs(REBALANCE_GAS_FIXED / fit.fixed - 1)).toBeLessThanOrEqual(TOLERANCE);
  });

  it("charges a perp hedge at least, and at most 1.5×, the snapshot's extra gas over a rebalance", () => {
    const { perpPoints } = loadGasModel();
    expect(perpPoints.map((p) => p.liveSeries)).toEqual(points.map((p) => p.liveSeries));
    for (const [i, perp] of perpPoints.entries()) {
      const extra = perp.gas - points[i]!.gas;
      expect(PERP_HEDGE_EXTRA_GAS, `${perp.liveSeries} live series: measured ${extra} extra`).toBeGreaterThanOrEqual(extra);
      expect(PERP_HEDGE_EXTRA_GAS).toBeLessThanOrEqual(1.5 * extra);
    }
  });

  it("prices gas units at base fee plus tip, in the native token's quote price", () => {
    // 100,000 gas × 20 gwei × 3000 quote per native token = 6 quote units.
    expect(gasCostQuote({ gasUnits: 100_000, baseFeePerGasWei: 19n * 10n ** 9n, tipWei: 10n ** 9n, nativePriceQuote: 3000 })).toBeCloseTo(6, 12);
  });
});
