/**
 * The vault's hedging budget where it binds: a vault whose budget (notional and slippage per 10-minute window)
 * covers a fraction of what the every-block policy wants to trade. Fork and model run the same path; block by block
 * they must show the same budget left and the keeper must size the same orders — cut to the budget, or refused
 * with the vault's error until the window rolls — and neither may send a hedge the vault reverts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SizeResult } from "../../keeper/sizing/size.ts";
import type { VaultSnapshot } from "../../keeper/types.ts";
import { openFork, readBudgetLedger, runFork, type ForkRun, type ForkSession } from "../../sim/fork.ts";
import { loadGasModel } from "../../sim/gas.ts";
import { runModel, type BlockObserver } from "../../sim/model.ts";
import { generatePaths } from "../../sim/paths.ts";
import { relDiff } from "../../sim/run.ts";
import { checkScenario, DEFAULT_SCENARIO, defaultPoints, type Scenario } from "../../sim/scenario.ts";
import type { RunMetrics } from "../../sim/types.ts";

const BUDGET_ERRORS = ["NotionalBudgetExceeded", "SlippageBudgetExceeded"] as const;
/** One budget unit (1e-4 quote), in quote wad: the vault's rounding of each charge. */
const UNIT_WAD = 10n ** 14n;

/**
 * 250 blocks of 12 s: five 10-minute budget windows. The every-block policy (min trade at the vault's tolerance)
 * hedges about every other block here, ~0.2 ETH (~600 of notional, ~1.8 of fee and impact) at a time; the budget
 * allows 6,000 of notional and 12 of slippage over any 10 minutes, so the slippage budget binds after about six
 * hedges — and, the vault counting the previous window with the current one, stays bound for most of the path.
 */
const scenario: Scenario = {
  ...DEFAULT_SCENARIO,
  steps: 250,
  hedge: { ...DEFAULT_SCENARIO.hedge, budgetWindowSeconds: 600, notionalBudget: 6_000, slippageBudget: 12 },
};
const point = defaultPoints(scenario).find((p) => p.family === "every-block")!;
const [path] = generatePaths({ kind: "gbm", drift: 0, vol: 0.8 }, { count: 1, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: 3 });

interface Block {
  number: bigint;
  spotWad: bigint;
  notionalLeftWad: bigint;
  slippageLeftWad: bigint;
  sizing: SizeResult | undefined;
}

function recorder(): { blocks: Block[]; last: () => VaultSnapshot; onBlock: BlockObserver } {
  const blocks: Block[] = [];
  let last: VaultSnapshot | undefined;
  return {
    blocks,
    last: () => last!,
    onBlock: ({ snapshot, plan }) => {
      last = snapshot;
      blocks.push({ number: snapshot.blockNumber, spotWad: snapshot.spotWad, notionalLeftWad: snapshot.notionalLeftWad, slippageLeftWad: snapshot.slippageLeftWad, sizing: plan?.sizing });
    },
  };
}

/**
 * The relative size difference one side's budget being 2 units (2e-4 quote) apart allows an order cut to that
 * budget: a cut order spends all that is left, so its size moves by those units over what is left (its slippage and
 * its notional grow in proportion to its size at these sizes). Without a budget cap, 0.
 */
function budgetCapSlack(block: Block, caps: readonly string[]): number {
  const units = 2 * Number(UNIT_WAD);
  const slippage = caps.includes("slippage budget") ? units / Math.max(Number(block.slippageLeftWad), units) : 0;
  const notional = caps.includes("notional budget") ? units / Math.max(Number(block.notionalLeftWad), units) : 0;
  return Math.max(slippage, notional);
}

/** The notional of `amountIn` (quote units for a buy, underlying wad for a sale) in quote wad at `spotWad`. */
function notionalWad(amountIn: bigint, buy: boolean, spotWad: bigint): bigint {
  return buy ? amountIn * 10n ** 12n : (amountIn * spotWad) / 10n ** 18n;
}

const budgetSkip = (s: SizeResult | undefined) => s?.kind === "skip" && (BUDGET_ERRORS as readonly (string | undefined)[]).includes(s.error);
const budgetCut = (s: SizeResult | undefined) =>
  s?.kind === "order" && s.order.cappedBy.some((c) => c === "notional budget" || c === "slippage budget");

let session: ForkSession;
let fork: ForkRun;
let model: RunMetrics;
let unbounded: RunMetrics;
const forkBlocks = recorder();
const modelBlocks = recorder();

beforeAll(async () => {
  checkScenario(scenario);
  session = await openFork(scenario);
  fork = await runFork(session, { path: path!, pathIndex: 0, point, scenario, onBlock: forkBlocks.onBlock });
  const gas = loadGasModel();
  const start = { start: session.start, startBudget: session.startBudget };
  model = runModel({ path: path!, pathIndex: 0, point, scenario, gas, ...start, onBlock: modelBlocks.onBlock });
  // The same vault with the deployment's budget, which this policy never reaches: what the budget cut.
  unbounded = runModel({ path: path!, pathIndex: 0, point, scenario: { ...scenario, hedge: DEFAULT_SCENARIO.hedge }, gas });
}, 240_000);

afterAll(async () => {
  await session?.close();
});

describe("a hedging budget that binds, on the fork and in the model", () => {
  it("binds: hedges are cut to the budget or refused until the window rolls, and fewer are traded than without it", () => {
    const skips = forkBlocks.blocks.filter((b) => budgetSkip(b.sizing)).length;
    const cuts = forkBlocks.blocks.filter((b) => budgetCut(b.sizing)).length;
    expect(skips + cuts, "blocks where the budget cut or refused a hedge").toBeGreaterThan(10);
    expect(forkBlocks.blocks.some((b) => b.sizing?.kind === "skip" && b.sizing.error === "SlippageBudgetExceeded")).toBe(true);
    expect(fork.budgetUse).toBeGreaterThan(0.99);
    expect(fork.volume).toBeLessThan(0.8 * unbounded.volume);
    expect(unbounded.budgetUse).toBeLessThan(0.05);
    // The window rolls and hedging resumes: some hedge follows a refusal.
    const firstRefusal = forkBlocks.blocks.findIndex((b) => budgetSkip(b.sizing));
    expect(firstRefusal).toBeGreaterThanOrEqual(0);
    expect(forkBlocks.blocks.slice(firstRefusal).some((b) => b.sizing?.kind === "order")).toBe(true);
  });

  it("the vault reverts none of the keeper's hedges: it sizes within the budget left", () => {
    expect(fork.reverts).toBe(0);
    expect(model.reverts).toBe(0);
    expect(fork.hedges).toBeGreaterThan(5);
  });

  it("model and fork see the same budget left at every block, within two budget units per hedge charged", () => {
    // The engines' Greeks differ in the ninth digit, so their orders differ by ~1e-7 of their size (the next test),
    // i.e. ~1e-4 quote of notional; each charge then rounds up to whole units (1e-4 quote) on either side. An order
    // cut to the slippage budget spends what is left on its side, so the slippage left stays within those units,
    // but its size — and so its notional — moves with that unit (`budgetCapSlack`): the notional left may differ by
    // that much more.
    expect(modelBlocks.blocks.map((b) => b.number)).toEqual(forkBlocks.blocks.map((b) => b.number));
    let charged = 0n;
    let notionalSlack = 0n;
    for (let i = 0; i < forkBlocks.blocks.length; i++) {
      const f = forkBlocks.blocks[i]!;
      const m = modelBlocks.blocks[i]!;
      const off = (a: bigint, b: bigint) => (a > b ? a - b : b - a);
      expect(off(f.notionalLeftWad, m.notionalLeftWad), `block ${f.number}: notional left`).toBeLessThanOrEqual(2n * UNIT_WAD * charged + notionalSlack);
      expect(off(f.slippageLeftWad, m.slippageLeftWad), `block ${f.number}: slippage left`).toBeLessThanOrEqual(2n * UNIT_WAD * charged);
      if (f.sizing?.kind === "order") charged++; // charged when it lands, first in the next block
      if (f.sizing?.kind === "order" && m.sizing?.kind === "order" && budgetCut(f.sizing)) {
        notionalSlack += notionalWad(off(f.sizing.order.amountIn, m.sizing.order.amountIn), f.sizing.order.buyUnderlying, f.spotWad);
      }
    }
  });

  it("the fork reads the vault's ledger from storage as the lens reports it (the model's start for an adopted vault)", async () => {
    // After the run the ledger holds this path's usage: readBudgetLedger checks its decoding against the lens.
    const ledger = await readBudgetLedger(session.request, forkBlocks.last());
    expect(ledger.notionalPrev + ledger.notionalCur).toBeGreaterThan(0n);
    expect(ledger.slippagePrev + ledger.slippageCur).toBeGreaterThan(0n);
    // The window of the last rebalance, which landed in the last two windows of the path.
    const current = forkBlocks.last().timestamp / BigInt(scenario.hedge.budgetWindowSeconds);
    expect([current - 1n, current]).toContain(ledger.window);
  });

  it("model and fork size the same orders block by block: the same cuts, the same refusals", () => {
    for (let i = 0; i < forkBlocks.blocks.length; i++) {
      const f = forkBlocks.blocks[i]!.sizing;
      const m = modelBlocks.blocks[i]!.sizing;
      const label = `block ${forkBlocks.blocks[i]!.number}`;
      expect(m?.kind, label).toBe(f?.kind);
      if (f?.kind === "order" && m?.kind === "order") {
        expect(m.order.buyUnderlying, label).toBe(f.order.buyUnderlying);
        expect(m.order.cappedBy, label).toEqual(f.order.cappedBy);
        // Within 1e-4: the budget is charged in units of 1e-4 quote rounded up, and the fork's and the model's
        // ledgers may sit a unit apart (as the budget left above), which moves a budget-capped size by about a unit's
        // worth (CI saw a 0.0055-WETH sale 2e-6 of itself apart; the series' expiry, from the wall clock at
        // deployment, decides whether a run meets such a case). The run's volume and slippage agree within 1e-6 below.
        const diff = relDiff(Number(f.order.amountIn), Number(m.order.amountIn));
        const bound = Math.max(1e-4, budgetCapSlack(forkBlocks.blocks[i]!, f.order.cappedBy));
        expect(diff <= bound, `${label}: ${f.order.amountIn} vs ${m.order.amountIn} (${f.order.cappedBy.join(", ")}; bound ${bound})`).toBe(true);
      }
      if (f?.kind === "skip" && m?.kind === "skip") expect(m.error, label).toBe(f.error);
    }
    expect(model.hedges).toBe(fork.hedges);
    expect(relDiff(fork.volume, model.volume)).toBeLessThan(1e-4);
    expect(relDiff(fork.slippageCost, model.slippageCost)).toBeLessThan(1e-4);
    expect(relDiff(fork.budgetUse, model.budgetUse)).toBeLessThan(1e-3);
  });
});
