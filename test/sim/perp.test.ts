/**
 * The simulator with a perp market beside the AMM (issue 14): both engines model the perp — fills on the skew,
 * fees, funding, margin — and agree. A put book (long delta: the keeper shorts on the perp, margin first) and a
 * mixed book (a delta that crosses zero: both venues, both sides) run on a fork and in the model over the same
 * path with the same policy: the same hedges, the same P&L, fees, impact and funding, and total cost within 2%
 * (the model's only estimate is gas, from the committed gas snapshot).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFork, runFork, type ForkRun } from "../../sim/fork.ts";
import { loadGasModel } from "../../sim/gas.ts";
import { runModel } from "../../sim/model.ts";
import { generatePaths } from "../../sim/paths.ts";
import { relDiff } from "../../sim/run.ts";
import { defaultPoints, MIXED_BOOK_SCENARIO, PUT_BOOK_SCENARIO, type Scenario } from "../../sim/scenario.ts";
import type { RunMetrics } from "../../sim/types.ts";

const cases = [
  ["a put book", { ...PUT_BOOK_SCENARIO, steps: 300 }],
  ["a mixed book", { ...MIXED_BOOK_SCENARIO, steps: 300 }],
] as const satisfies readonly (readonly [string, Scenario])[];

interface Case {
  fork: ForkRun;
  model: RunMetrics;
  venues: { amm: number; perp: number; margin: number; sells: number; buys: number };
}
const results = new Map<string, Case>();

beforeAll(async () => {
  const gas = loadGasModel();
  for (const [name, scenario] of cases) {
    const [path] = generatePaths({ kind: "gbm", drift: 0, vol: scenario.vol }, { count: 1, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: 3 });
    const point = defaultPoints(scenario).filter((p) => p.family === "band-zero")[2]!;
    const session = await openFork(scenario);
    try {
      const fork = await runFork(session, { path: path!, pathIndex: 0, point, scenario });
      const venues = { amm: 0, perp: 0, margin: 0, sells: 0, buys: 0 };
      const model = runModel({
        path: path!,
        pathIndex: 0,
        point,
        scenario,
        gas,
        start: session.start,
        startBudget: session.startBudget,
        onBlock: ({ plan }) => {
          const order = plan?.sizing?.kind === "order" ? plan.sizing.order : undefined;
          if (order === undefined) return;
          if (order.margin !== undefined) venues.margin++;
          else {
            venues[order.perp !== undefined ? "perp" : "amm"]++;
            venues[order.buyUnderlying ? "buys" : "sells"]++;
          }
        },
      });
      results.set(name, { fork, model, venues });
    } finally {
      await session.close();
    }
  }
}, 240_000);

afterAll(() => {
  for (const [name, { fork, model }] of results) {
    const f = (r: RunMetrics) =>
      `hedges ${r.hedges}, P&L ${r.pnl.toFixed(2)}, gas ${r.gasCost.toFixed(2)}, slippage ${r.slippageCost.toFixed(2)} (fees ${r.feeCost.toFixed(2)}), funding ${r.fundingCost.toFixed(4)}, total ${r.totalCost.toFixed(2)}`;
    console.log(`${name}: fork  ${f(fork)}\n${name}: model ${f(model)}`);
  }
});

describe.each(cases.map(([name]) => name))("the simulator's perp venue: %s", (name) => {
  it("both engines make the same hedges, with the same P&L, fees, impact and funding, and total cost within 2%", () => {
    const { fork, model } = results.get(name)!;
    expect(fork.reverts).toBe(0);
    expect(model.reverts).toBe(0);
    expect(model.hedges).toBe(fork.hedges);
    expect(fork.hedges).toBeGreaterThan(3);
    expect(relDiff(fork.volume, model.volume)).toBeLessThan(1e-6);
    expect(relDiff(fork.slippageCost, model.slippageCost)).toBeLessThan(1e-4);
    expect(relDiff(fork.feeCost, model.feeCost)).toBeLessThan(1e-4);
    expect(Math.abs(fork.fundingCost - model.fundingCost)).toBeLessThan(0.01);
    expect(Math.abs(fork.pnl - model.pnl) / Math.max(1, fork.trackingError)).toBeLessThan(0.02);
    expect(relDiff(fork.totalCost, model.totalCost)).toBeLessThan(0.02);
    expect(relDiff(fork.gasUsed, model.gasUsed)).toBeLessThan(0.02);
  });
});

describe("the simulator's perp venue: what each book needs", () => {
  it("the put book is hedged short on the perp, margin first, and kept in its band most blocks", () => {
    const { model, venues } = results.get("a put book")!;
    expect(venues.margin).toBeGreaterThanOrEqual(1);
    expect(venues.perp).toBeGreaterThan(3);
    expect(venues.amm).toBe(0);
    expect(venues.sells).toBeGreaterThan(0);
    expect(model.blocksInBand / model.blocks).toBeGreaterThan(0.7);
    expect(model.feeCost).toBeGreaterThan(0);
  });

  it("the mixed book is hedged both ways", () => {
    const { venues } = results.get("a mixed book")!;
    expect(venues.buys).toBeGreaterThan(0);
    expect(venues.sells).toBeGreaterThan(0);
  });
});
