/**
 * `VaultHolds` (keeper/telemetry/holds.ts): a condition that stops hedging for many blocks — the oracle unusable,
 * the vault paused, a spent budget, cash owed to settled holders — is one line when it starts and one when it
 * ends, `debug` in between. Plans come from the real `planBlock`, so the skips are the ones sizing produces.
 */
import { describe, expect, it } from "vitest";
import { VaultHolds, type HoldLogLine } from "../../keeper/telemetry/holds.ts";
import { planBlock, type PlanOptions, type VaultPlan } from "../../keeper/tick.ts";
import type { BlockInput, Decision, VaultSnapshot } from "../../keeper/types.ts";

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
  policy: { name: "band", band: 0.5, target: "zero" },
  prefs: { riskAversion: 0.01, horizonSeconds: 3600 },
  maxSlippageBps: 100,
  minOutMarginBps: 10,
  tipWei: 10n ** 9n,
  greeksTolerance: 1e-6,
  pendingVaults: new Set(),
  maxOracleDeviationBps: 1000,
};

function plan(overrides: Partial<VaultSnapshot> = {}): VaultPlan {
  const s = snapshot(overrides);
  const block: BlockInput = {
    chain: { blockNumber: s.blockNumber, timestamp: s.timestamp, baseFeePerGas: 10n ** 9n },
    vaults: [s],
  };
  return planBlock(block, options)[0]!;
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
