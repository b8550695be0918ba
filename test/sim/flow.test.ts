/**
 * A book that takes new trades along the path (issue 15): buyers open positions block by block while the market
 * switches volatility regime and gas moves. Fork and model sell the same options at the same blocks; they must
 * still agree within 2% on cost and hedge for hedge, end with the same book, and the premium the model credits
 * must be the vault's own within rounding.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFunctionData } from "viem";
import { optionVaultAbi } from "../../keeper/abi.ts";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import { askPremium, salesOf, saleValue, type FlowScenario } from "../../sim/flow.ts";
import { loadGasModel } from "../../sim/gas.ts";
import { MAINNET_2021_PROCESS } from "../../sim/gasPrice.ts";
import { openFork, runFork, type ForkRun, type ForkSession } from "../../sim/fork.ts";
import { runModel } from "../../sim/model.ts";
import { generatePaths } from "../../sim/paths.ts";
import { relDiff } from "../../sim/run.ts";
import { checkScenario, DEFAULT_SCENARIO, defaultPoints, type Scenario } from "../../sim/scenario.ts";
import type { RunMetrics } from "../../sim/types.ts";
import type { VaultSnapshot } from "../../keeper/types.ts";

const SEED = 11;
const flow: FlowScenario = { seed: SEED, perBlock: 0.05, meanSize: 4, maxTotal: 60 };
const scenario: Scenario = {
  ...DEFAULT_SCENARIO,
  steps: 300,
  book: [
    { isCall: true, moneyness: 1, expiryDays: 7, size: 60 },
    { isCall: false, moneyness: 0.95, expiryDays: 3, size: 40 },
  ],
  gas: { source: { kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, seed: SEED, maxFeeGwei: 100, maxPriorityFeeGwei: 2 },
  flow,
};
const PATHS = 2;
const gas = loadGasModel();
const paths = generatePaths(
  { kind: "regime", drift: 0, vol: 0.8, vols: [0.5, 1.4], meanBlocks: [150, 60] },
  { count: PATHS, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: SEED },
);
const points = defaultPoints(scenario).filter((p) => p.label === "band ±0.177 → zero" || p.label === "gas-aware γ 0.1");

describe("the flow of sales (no chain)", () => {
  it("is the same for every caller of one (seed, path), different across paths, and sells at most maxTotal", () => {
    const a = salesOf(flow, { steps: 1000, path: 3, seriesCount: 2 });
    expect(salesOf(flow, { steps: 1000, path: 3, seriesCount: 2 })).toEqual(a);
    expect(salesOf(flow, { steps: 1000, path: 4, seriesCount: 2 })).not.toEqual(a);
    const total = a.reduce((s, x) => s + x.size, 0);
    expect(total).toBeCloseTo(60, 9);
    for (const sale of a) {
      expect(sale.size).toBeGreaterThanOrEqual(0.1 - 1e-12);
      expect(Math.abs(sale.size * 10 - Math.round(sale.size * 10))).toBeLessThan(1e-9);
      expect([0, 1]).toContain(sale.series);
    }
    // Unbounded, the rate is perBlock: ~50 sales in 1,000 blocks, of mean size ~4.
    const free = salesOf({ ...flow, maxTotal: 1e9 }, { steps: 1000, path: 3, seriesCount: 2 });
    expect(free.length).toBeGreaterThan(30);
    expect(free.length).toBeLessThan(75);
    const mean = free.reduce((s, x) => s + x.size, 0) / free.length;
    expect(mean).toBeGreaterThan(2.5);
    expect(mean).toBeLessThan(6);
  });

  it("a flow the vault's limits could refuse is rejected before any run, naming the series", () => {
    expect(() => checkScenario({ ...scenario, flow: { ...flow, maxTotal: 5_000 } })).toThrow(/scenario\.flow: with maxTotal 5000 sold on series 0/);
    expect(() => checkScenario({ ...scenario, flow: { ...flow, perBlock: 1.5 } })).toThrow(/perBlock must be in \[0, 1\]/);
    expect(() => checkScenario(scenario)).not.toThrow();
  });

  it("a sale at fair value is not hedging P&L: with the hedge held, the sold options' value leaves the P&L unchanged", () => {
    // Model runs of the same path, with and without the flow, and the keeper never hedging (a band nothing exits):
    // their P&L differs by the sold options' own value change after the sale (no jump at the sale itself).
    const never = { ...points[0]!, policy: { name: "band" as const, band: 1e9, target: "zero" as const } };
    const base = { path: paths[0]!, pathIndex: 0, point: never, gas };
    const withFlow = runModel({ ...base, scenario });
    const without = runModel({ ...base, scenario: { ...scenario, flow: undefined } });
    const soldValue = salesOf(flow, { steps: scenario.steps, path: 0, seriesCount: 2 }).reduce((s, x) => s + x.size, 0) * 3000 * 0.02;
    // Had the sale counted, P&L would drop by the premium's worth (~2% of spot an option, ~3,600 for 60).
    expect(Math.abs(withFlow.pnl - without.pnl)).toBeLessThan(0.5 * soldValue);
    expect(withFlow.hedges).toBe(0);
  });
});

describe("fork and model with new trades, volatility regimes and moving gas", () => {
  let session: ForkSession;
  const results: { label: string; fork: ForkRun; model: RunMetrics; forkLast: VaultSnapshot; modelLast: VaultSnapshot }[] = [];

  beforeAll(async () => {
    session = await openFork(scenario);
    for (const point of points) {
      for (let j = 0; j < PATHS; j++) {
        let forkLast: VaultSnapshot | undefined;
        let modelLast: VaultSnapshot | undefined;
        const fork = await runFork(session, { path: paths[j]!, pathIndex: j, point, scenario, onBlock: ({ snapshot }) => void (forkLast = snapshot) });
        const model = runModel({
          path: paths[j]!,
          pathIndex: j,
          point,
          scenario,
          gas,
          start: session.start,
          startBudget: session.startBudget,
          onBlock: ({ snapshot }) => void (modelLast = snapshot),
        });
        results.push({ label: `${point.label}, path ${j}`, fork, model, forkLast: forkLast!, modelLast: modelLast! });
      }
    }
  }, 300_000);

  afterAll(async () => {
    await session?.close();
  });

  it("both end with the book the flow sold: the start's plus every sale, series by series", () => {
    for (const { label, forkLast, modelLast } of results) {
      const j = Number(label.slice(-1));
      const sold = [0, 0];
      for (const sale of salesOf(flow, { steps: scenario.steps, path: j, seriesCount: 2 })) sold[sale.series]! += sale.size;
      expect(sold[0]! + sold[1]!, label).toBeGreaterThan(20);
      expect(sold[0]! + sold[1]!, label).toBeLessThanOrEqual(60 + 1e-9);
      forkLast.book.forEach((s, k) => {
        expect(modelLast.book[k]!.sizeWad, `${label}, series ${k}`).toBe(s.sizeWad);
        expect(wadToNumber(s.sizeWad - session.start.book[k]!.sizeWad), `${label}, series ${k}`).toBeCloseTo(-sold[k]!, 9);
      });
      // The premiums: the model's float mirror of the ask within a millionth of the vault's.
      expect(relDiff(Number(forkLast.cashBalance), Number(modelLast.cashBalance)), label).toBeLessThan(1e-6);
    }
  });

  it("agree within 2% on total cost and hedge error, hedge for hedge and delay for delay (a revert only after a delay)", () => {
    for (const { label, fork, model } of results) {
      expect(model.reverts, label).toBe(fork.reverts);
      expect(fork.reverts, label).toBeLessThanOrEqual(fork.delayedBlocks);
      expect(model.delayedBlocks, label).toBe(fork.delayedBlocks);
      expect(model.hedges, label).toBe(fork.hedges);
      expect(relDiff(fork.totalCost, model.totalCost), label).toBeLessThan(0.02);
      expect(relDiff(fork.trackingError, model.trackingError), label).toBeLessThan(0.02);
      expect(Math.abs(fork.pnl - model.pnl), label).toBeLessThan(0.02 * fork.trackingError);
    }
    expect(results.reduce((n, r) => n + r.fork.hedges, 0)).toBeGreaterThan(10);
  });

  it("the model's premium is the vault's quoteOpen within rounding, for a call and a put", async () => {
    const { start } = session;
    // Back to the state right after setup (the runs left the chain at their last path's end), as runFork does.
    expect(await session.request("evm_revert", [session.snapshotId])).toBe(true);
    session.snapshotId = (await session.request("evm_snapshot")) as string;
    for (const [k, series] of start.book.entries()) {
      const sizeWad = 3n * 10n ** 18n;
      const data = encodeFunctionData({ abi: optionVaultAbi, functionName: "quoteOpen", args: [series.id, sizeWad] });
      const raw = (await session.request("eth_call", [{ to: session.vault.address, data }, "latest"])) as `0x${string}`;
      const block = (await session.request("eth_getBlockByNumber", ["latest", false])) as { timestamp: `0x${string}` };
      const chain = Number(BigInt(raw)) / 10 ** start.quoteDecimals;
      const model = askPremium({
        isCall: series.isCall,
        spot: wadToNumber(start.spotWad),
        strike: wadToNumber(series.strikeWad),
        vol: wadToNumber(start.risk.volWad),
        rate: wadToNumber(start.risk.rateWad),
        tauSeconds: Number(series.expiry - BigInt(block.timestamp)),
        size: 3,
        charges: start.risk,
        stressUpBps: scenario.limits.stressUpBps,
      });
      expect(relDiff(chain, model), `series ${k}`).toBeLessThan(1e-6);
      // and the fair value the ledger takes out is below the ask (the vault's margin), not far below
      const fair = -saleValue({ ...series, spot: wadToNumber(start.spotWad), strike: wadToNumber(series.strikeWad), vol: 0.8, rate: 0, tauSeconds: Number(series.expiry - BigInt(block.timestamp)), size: 3 });
      expect(fair).toBeLessThan(model);
      expect(fair).toBeGreaterThan(0.5 * model);
    }
  });
});
