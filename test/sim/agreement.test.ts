/**
 * Fork mode against model mode: the same paths and policy points, once with real transactions on a fork (a
 * Hardhat node started here, forked in-process) and once on the model started from the fork's own vault. The
 * model's only estimate is gas (from the committed gas snapshot); the pool, the vault's rules, the keeper's
 * decisions and sizing are the same code or its exact replay. They must agree within 2% on total cost and hedge
 * error (the bar), and the model's gas per hedge must match the receipts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGasModel } from "../../sim/gas.ts";
import { openFork, runForkAndModel, type ForkModelPair, type ForkSession } from "../../sim/fork.ts";
import { generatePaths } from "../../sim/paths.ts";
import { representativePoints, relDiff } from "../../sim/run.ts";
import { DEFAULT_SCENARIO, defaultPoints, type Scenario } from "../../sim/scenario.ts";
import { std } from "../../sim/stats.ts";

const scenario: Scenario = { ...DEFAULT_SCENARIO, steps: 300 };
const PATHS = 3;
const gas = loadGasModel();
const paths = generatePaths({ kind: "gbm", drift: 0, vol: 0.8 }, { count: PATHS, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: 42 });
const points = representativePoints(defaultPoints(scenario));

let session: ForkSession;
const results: ForkModelPair[] = [];

beforeAll(async () => {
  session = await openFork(scenario);
  results.push(...(await runForkAndModel(session, { scenario, points, paths, gas })));
}, 300_000);

afterAll(async () => {
  await session?.close();
});

describe("fork mode and model mode on the same paths and policies", () => {
  it("every policy family hedges on the fork, with real rebalance transactions and no reverts", () => {
    expect(points.map((p) => p.family).sort()).toEqual([...new Set(points.map((p) => p.family))].sort());
    expect(points.length).toBe(8);
    for (const { label, fork } of results) {
      expect(fork.reverts, label).toBe(0);
      expect(fork.measured.length, label).toBe(fork.hedges);
      expect(fork.greeksMismatches, label).toBe(0);
    }
    expect(results.reduce((n, r) => n + r.fork.hedges, 0)).toBeGreaterThan(100);
  });

  it("agree within 2% on total cost, hedge by hedge count, on every run", () => {
    for (const { label, fork, model } of results) {
      expect(model.hedges, label).toBe(fork.hedges);
      expect(relDiff(fork.totalCost, model.totalCost), label).toBeLessThan(0.02);
      expect(relDiff(fork.slippageCost, model.slippageCost), label).toBeLessThan(1e-6);
      // The vault's hedging budget, as the lens reports it on the fork and as the model's ledger rolls it.
      expect(relDiff(fork.budgetUse, model.budgetUse), label).toBeLessThan(1e-3);
    }
  });

  it("agree within 2% on hedge error: each run's tracking error and P&L, and the P&L spread of each policy", () => {
    for (const { label, fork, model } of results) {
      expect(relDiff(fork.trackingError, model.trackingError), label).toBeLessThan(0.02);
      expect(Math.abs(fork.pnl - model.pnl) / fork.trackingError, label).toBeLessThan(0.02);
    }
    for (let k = 0; k < points.length; k++) {
      const runs = results.slice(k * PATHS, (k + 1) * PATHS);
      const forkStd = std(runs.map((r) => r.fork.pnl));
      const modelStd = std(runs.map((r) => r.model.pnl));
      expect(relDiff(forkStd, modelStd), points[k]!.label).toBeLessThan(0.02);
    }
  });

  it("the gas model matches the receipts of every hedge within 1%", () => {
    for (const { label, fork, model } of results) {
      expect(relDiff(fork.gasUsed, model.gasUsed), label).toBeLessThan(0.01);
    }
  });
});
