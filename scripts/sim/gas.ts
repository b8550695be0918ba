/**
 * Gas of one `rebalance`, for model mode: read from the committed gas snapshot (`gas-snapshot.json`, written by
 * `npm run gas` and held by `npm run gas:check`), whose scenarios measure a buy at 1, 10 and 32 live series, each
 * for a vault's first-ever hedge (the underlying balance slot written from zero) and a later one. Between the
 * measured series counts the gas is linear (one cold slot and one Black–Scholes delta per series), so the model
 * interpolates. Fork mode measures receipts instead, and its calibration table (`calibrateGas`) is what the
 * agreement test compares this model with.
 */
import { readFileSync } from "node:fs";

export interface GasPoint {
  liveSeries: number;
  gas: number;
  firstHedgeGas: number;
}

/** Gas units of one hedge, by live series count and whether the vault holds no underlying yet. */
export interface GasModel {
  points: readonly GasPoint[];
  /** Extra gas of a sell over a buy (measured on a fork; 0 until calibrated). */
  sellExtra: number;
  /** Gas of a reverted rebalance (model mode's rare reverts), gas units. */
  revertGas: number;
}

const KEY = /^OptionVault\.rebalance \(buy, (\d+) live series(, vault's first hedge)?\)$/;

/** The model from a gas snapshot's `OptionVault.rebalance (buy, N live series[, vault's first hedge])` entries. */
export function gasModelFromSnapshot(snapshot: Record<string, number>): GasModel {
  const byN = new Map<number, Partial<GasPoint>>();
  for (const [key, gas] of Object.entries(snapshot)) {
    const m = KEY.exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    const point = byN.get(n) ?? { liveSeries: n };
    if (m[2]) point.firstHedgeGas = gas;
    else point.gas = gas;
    byN.set(n, point);
  }
  const points = [...byN.values()]
    .filter((p): p is GasPoint => p.gas !== undefined && p.firstHedgeGas !== undefined)
    .sort((a, b) => a.liveSeries - b.liveSeries);
  if (points.length === 0) throw new Error("the gas snapshot has no OptionVault.rebalance (buy, N live series) entries");
  return { points, sellExtra: 0, revertGas: Math.round(points[0]!.gas / 2) };
}

export function loadGasModel(file = new URL("../../gas-snapshot.json", import.meta.url)): GasModel {
  return gasModelFromSnapshot(JSON.parse(readFileSync(file, "utf8")) as Record<string, number>);
}

/** Gas units of one rebalance on a vault with `liveSeries` series (linear between, and beyond, the measured counts). */
export function hedgeGas(model: GasModel, p: { liveSeries: number; firstHedge: boolean; buy: boolean }): number {
  const pts = model.points;
  const pick = (g: GasPoint) => (p.firstHedge ? g.firstHedgeGas : g.gas);
  let gas: number;
  if (pts.length === 1) gas = pick(pts[0]!);
  else {
    let i = 0;
    while (i < pts.length - 2 && p.liveSeries > pts[i + 1]!.liveSeries) i++;
    const a = pts[i]!;
    const b = pts[i + 1]!;
    gas = pick(a) + ((pick(b) - pick(a)) * (p.liveSeries - a.liveSeries)) / (b.liveSeries - a.liveSeries);
  }
  return Math.round(gas + (p.buy ? 0 : model.sellExtra));
}
