/**
 * `VaultHolds` (keeper/telemetry/holds.ts): a condition that stops hedging for many blocks — the oracle unusable,
 * the vault paused, a spent budget, cash owed to settled holders — is one line when it starts and one when it
 * ends, `debug` in between. Plans come from the real `planBlock`, so the skips are the ones sizing produces.
 */
import { describe, expect, it } from "vitest";
import { limitStatus, VaultHolds, type HoldLogLine } from "../../keeper/telemetry/holds.ts";
import { planBlock, type PlanOptions, type VaultPlan } from "../../keeper/tick.ts";
import type { BlockInput, Decision, VaultSnapshot } from "../../keeper/types.ts";
import { TEST_PLAN_OPTIONS } from "../helpers/snapshot.ts";

const W = 10n ** 18n;

function snapshot(overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return {
    vault: "0x0000000000000000000000000000000000000001",
    blockNumber: 100n,
    timestamp: 1_700_000_000n,
    bookDeltaWad: -5n * W,
    netDeltaWad: -5n * W,
    gammaWad: -(W / 1000n),
    vegaWad: -100n * W,
    hedgeBalance: 0n,
    cashBalance: 10n ** 12n,
    pendingPayouts: 0n,
    spotWad: 3_000n * W,
    oracleUpdatedAt: 1_700_000_000n,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    oracleStatus: "Usable",
    ammReserveUnderlying: 10_000n * W,
    ammReserveQuote: 30_000_000n * 10n ** 6n,
    ammFeeBps: 30n,
    lastRebalanceBlock: 0n,
    nextRebalanceBlock: 0n,
    notionalLeftWad: 3_000_000n * W,
    slippageLeftWad: 10_000n * W,
    settlementPending: false,
    paused: false,
    hedge: {
      maxSlippageBps: 100,
      minRebalanceInterval: 1,
      maxOracleAge: 3600,
      maxTradeWad: 100n * W,
      deltaToleranceWad: W / 10n,
      bandWad: W / 2n,
      budgetWindowSeconds: 86_400,
      notionalBudget: 3_000_000,
      slippageBudget: 10_000,
    },
    risk: { volWad: (8n * W) / 10n, rateWad: 0n, spreadBps: 200, latencyBps: 10, capitalChargeBps: 200, minPremiumBps: 5 },
    book: [],
    quoteDecimals: 6,
    underlyingDecimals: 18,
    ...overrides,
  };
}

const options: PlanOptions = {
  ...TEST_PLAN_OPTIONS,
  // The holds below are sizing's and the snapshot's; the hard delta limit's own lines are tested at the end.
  maxAbsDelta: Number.POSITIVE_INFINITY,
};

function plan(overrides: Partial<VaultSnapshot> = {}, planOptions: PlanOptions = options): VaultPlan {
  const s = snapshot(overrides);
  const block: BlockInput = {
    chain: { blockNumber: s.blockNumber, timestamp: s.timestamp, baseFeePerGas: 10n ** 9n },
    vaults: [s],
  };
  return planBlock(block, planOptions)[0]!;
}

/** The lines above debug level: what an operator reads. */
const loud = (lines: HoldLogLine[]) => lines.filter((l) => l.level !== "debug").map((l) => [l.level, l.msg]);

describe("VaultHolds", () => {
  it("warns once when the budget is spent, stays quiet while it is, and says once when hedging resumes", () => {
    const holds = new VaultHolds();
    const spent = plan({ notionalLeftWad: 0n });
    expect(spent.sizing).toMatchObject({ kind: "skip", error: "NotionalBudgetExceeded" });
    const first = holds.observe(spent);
    expect(loud(first)).toEqual([["warn", "hedge skipped by sizing"]]);
    expect(first[0]!.fields).toMatchObject({ error: "NotionalBudgetExceeded" });
    for (let i = 0; i < 5; i++) expect(loud(holds.observe(spent))).toEqual([]);
    // The delta back in band for a while neither ends nor repeats the hold.
    expect(loud(holds.observe(plan({ notionalLeftWad: 0n, netDeltaWad: -W / 10n })))).toEqual([]);
    expect(loud(holds.observe(spent))).toEqual([]);
    const resumed = plan();
    expect(resumed.sizing?.kind).toBe("order");
    expect(loud(holds.observe(resumed))).toEqual([["info", "sizing no longer held back: hedging resumes"]]);
    expect(loud(holds.observe(resumed))).toEqual([]);
  });

  it("warns once while settled holders are owed the vault's cash, and again only if the reason changes", () => {
    const holds = new VaultHolds();
    const owed = plan({ pendingPayouts: 10n ** 12n });
    expect(owed.sizing).toMatchObject({ kind: "skip", error: "PayoutsNotCovered" });
    expect(loud(holds.observe(owed))).toEqual([["warn", "hedge skipped by sizing"]]);
    expect(loud(holds.observe(owed))).toEqual([]);
    const alsoSpent = plan({ pendingPayouts: 10n ** 12n, notionalLeftWad: 0n });
    expect(alsoSpent.sizing).toMatchObject({ kind: "skip", error: "NotionalBudgetExceeded" });
    expect(loud(holds.observe(alsoSpent))).toEqual([["warn", "hedge skipped by sizing"]]);
  });

  it("says once, at info, that a vault within its tolerance has nothing to hedge", () => {
    const holds = new VaultHolds();
    const within = plan({ netDeltaWad: -W, hedge: { ...snapshot().hedge, deltaToleranceWad: W } });
    expect(within.sizing).toMatchObject({ kind: "skip", error: "DeltaWithinTolerance" });
    expect(loud(holds.observe(within))).toEqual([["info", "hedge skipped by sizing"]]);
    expect(loud(holds.observe(within))).toEqual([]);
  });

  it("names each reason the oracle is unusable once, and its recovery once", () => {
    const holds = new VaultHolds();
    const down = plan({ oracleStatus: "SequencerDown", oracleFresh: false });
    expect(down.decision.kind).toBe("hold");
    expect(loud(holds.observe(down))).toEqual([["warn", expect.stringMatching(/^L2 sequencer down \(SequencerDown\)/)]]);
    expect(loud(holds.observe(down))).toEqual([]);
    const grace = plan({ oracleStatus: "SequencerGracePeriod", oracleFresh: false });
    expect(loud(holds.observe(grace))).toEqual([["warn", expect.stringMatching(/\(SequencerGracePeriod\)/)]]);
    const stale = plan({ oracleStatus: "Stale", oracleFresh: false });
    expect(loud(holds.observe(stale))).toEqual([["warn", "oracle stale: no hedge for this vault until it updates"]]);
    expect(loud(holds.observe(plan()))).toContainEqual(["info", "oracle fresh again: hedging resumes"]);
  });

  it("says once that the vault is paused and once that it is unpaused", () => {
    const holds = new VaultHolds();
    const paused = plan({ paused: true });
    expect(loud(holds.observe(paused))).toEqual([["warn", "vault paused (VaultPaused): no hedge until it is unpaused"]]);
    expect(loud(holds.observe(paused))).toEqual([]);
    expect(loud(holds.observe(plan()))).toContainEqual(["info", "vault unpaused: hedging resumes"]);
  });

  it("warns once while the oracle is far from the pool price, and says once when they agree again", () => {
    const holds = new VaultHolds();
    const wild = plan({ spotWad: 3_500n * W });
    expect(wild.decision).toMatchObject({ kind: "hold", cause: "wild-oracle" });
    const first = holds.observe(wild);
    expect(loud(first)).toEqual([["warn", "oracle far from the pool price: no hedge until they agree"]]);
    expect(first[0]!.fields).toMatchObject({ reason: wild.decision.reason });
    expect(loud(holds.observe(wild))).toEqual([]);
    expect(loud(holds.observe(plan()))).toEqual([["info", "oracle and pool agree again: hedging resumes"]]);
  });

  it("goes by the decision's cause, not by the words of its reason", () => {
    const holds = new VaultHolds();
    const calm = plan();
    const as = (decision: Decision): VaultPlan => ({ ...calm, decision });
    const reworded = as({ kind: "hold", cause: "wild-oracle", reason: "the oracle and the pool disagree" });
    expect(loud(holds.observe(reworded))).toEqual([["warn", "oracle far from the pool price: no hedge until they agree"]]);
    const lookalike = as({ kind: "hold", cause: "policy", reason: "wild oracle: a policy's words" });
    expect(loud(holds.observe(lookalike))).toEqual([["info", "oracle and pool agree again: hedging resumes"]]);
  });

  it("keeps each vault's holds apart", () => {
    const holds = new VaultHolds();
    const a = plan({ notionalLeftWad: 0n });
    const b = { ...a, vault: "0x0000000000000000000000000000000000000002" as const };
    expect(loud(holds.observe(a))).toHaveLength(1);
    expect(loud(holds.observe(b))).toHaveLength(1);
    expect(loud(holds.observe(a))).toEqual([]);
  });
});

describe("the hard delta limit: said once per episode, with why the vault is not brought back", () => {
  /** The band policy's default: the band (0.5) is the hard limit. */
  const limited: PlanOptions = { ...options, maxAbsDelta: undefined };
  const at = (block: bigint, overrides: Partial<VaultSnapshot> = {}) => plan({ blockNumber: block, ...overrides }, limited);
  const limitLines = (lines: HoldLogLine[]) => loud(lines).filter(([, msg]) => /hard delta limit/.test(String(msg)));

  it("trading back is one info line; a blocker warns once per episode; back inside is one line with the blocks outside", () => {
    const holds = new VaultHolds();
    const trading = at(100n);
    expect(limitStatus(trading)).toMatchObject({ kind: "returning" });
    const first = holds.observe(trading);
    expect(limitLines(first)).toEqual([["info", "vault outside its hard delta limit: trading back to it whatever the cost"]]);
    expect(limitLines(holds.observe(at(101n)))).toEqual([]);
    const spent = at(102n, { notionalLeftWad: 0n });
    const warned = holds.observe(spent);
    expect(limitLines(warned)).toEqual([["warn", "vault outside its hard delta limit and not being brought back (budget)"]]);
    expect(warned.find((l) => /hard delta limit/.test(l.msg))!.fields).toMatchObject({ blockedBy: "budget", delta: -5, maxAbsDelta: 0.5, reason: expect.stringMatching(/NotionalBudgetExceeded/) });
    expect(limitLines(holds.observe(at(103n, { notionalLeftWad: 0n })))).toEqual([]);
    // Another blocker in the same episode: news at info, not a second alarm.
    expect(limitLines(holds.observe(at(104n, { paused: true })))).toEqual([["info", "vault outside its hard delta limit and not being brought back (guard)"]]);
    expect(limitLines(holds.observe(at(105n)))).toEqual([["info", "vault outside its hard delta limit: trading back to it whatever the cost"]]);
    const back = holds.observe(at(106n, { netDeltaWad: -W / 4n }));
    expect(limitLines(back)).toEqual([["info", "vault back within its hard delta limit"]]);
    expect(back.find((l) => /back within/.test(l.msg))!.fields).toMatchObject({ blocksOutside: 6 });
    // A new episode warns again.
    expect(limitLines(holds.observe(at(107n, { notionalLeftWad: 0n })))).toEqual([["warn", "vault outside its hard delta limit and not being brought back (budget)"]]);
  });

  it("names the blocker: guard, liquidity, budget, oracle; a pending hedge or the spacing is on its way back", () => {
    expect(limitStatus(at(100n, { paused: true }))).toMatchObject({ kind: "blocked", by: "guard" });
    expect(limitStatus(at(100n, { pendingPayouts: 10n ** 12n }))).toMatchObject({ kind: "blocked", by: "guard" });
    expect(limitStatus(at(100n, { slippageLeftWad: 0n }))).toMatchObject({ kind: "blocked", by: "budget" });
    // The pool 3% above the oracle: no buy within the slippage bound.
    expect(limitStatus(at(100n, { ammReserveQuote: 30_900_000n * 10n ** 6n }))).toMatchObject({ kind: "blocked", by: "liquidity" });
    expect(limitStatus(at(100n, { oracleStatus: "Stale", oracleFresh: false }))).toMatchObject({ kind: "blocked", by: "oracle" });
    expect(limitStatus(at(100n, { spotWad: 3_500n * W }))).toMatchObject({ kind: "blocked", by: "oracle" });
    expect(limitStatus(at(100n, { nextRebalanceBlock: 101n }))).toMatchObject({ kind: "returning", how: expect.stringMatching(/spacing/) });
    const pending = planBlock({ chain: { blockNumber: 100n, timestamp: 1n, baseFeePerGas: 1n }, vaults: [snapshot()] }, { ...limited, pendingVaults: new Set([snapshot().vault]) })[0]!;
    expect(limitStatus(pending)).toEqual({ kind: "returning", how: "a hedge is pending" });
  });

  it("says nothing without a limit, or inside it", () => {
    expect(limitStatus(plan())).toEqual({ kind: "none" });
    expect(limitStatus(at(100n, { netDeltaWad: -W / 2n }))).toEqual({ kind: "inside" });
    const holds = new VaultHolds();
    expect(limitLines(holds.observe(plan({ notionalLeftWad: 0n })))).toEqual([]);
    expect(limitLines(holds.observe(at(100n, { netDeltaWad: -W / 4n })))).toEqual([]);
  });
});
