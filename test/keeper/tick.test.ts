import { describe, expect, it } from "vitest";
import { oracleDeviationBps } from "../../keeper/pricing/view.ts";
import { planBlock, updateHedgeAnchors, type HedgeAnchor, type PlanOptions } from "../../keeper/tick.ts";
import type { BlockInput, VaultSnapshot } from "../../keeper/types.ts";
import { TEST_PLAN_OPTIONS } from "../helpers/snapshot.ts";

const W = 10n ** 18n;

function snapshot(oraclePrice: bigint, poolPrice: bigint): VaultSnapshot {
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
    spotWad: oraclePrice * W,
    oracleUpdatedAt: 1_700_000_000n,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    oracleStatus: "Usable",
    ammReserveUnderlying: 10_000n * W,
    ammReserveQuote: 10_000n * poolPrice * 10n ** 6n,
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
  };
}

/** The block as the pure core takes it: plain data, no chain id, balance or read failures. */
const read = (s: VaultSnapshot): BlockInput => ({
  chain: { blockNumber: 100n, timestamp: 1_700_000_000n, baseFeePerGas: 10n ** 9n },
  vaults: [s],
});

const options: PlanOptions = TEST_PLAN_OPTIONS;

describe("planBlock", () => {
  it("measures the oracle's distance from the pool price in basis points", () => {
    expect(oracleDeviationBps(snapshot(3300n, 3000n))).toBeCloseTo(1000, 6);
    expect(oracleDeviationBps(snapshot(3000n, 3000n))).toBe(0);
  });

  it("holds on a wild oracle (further from the pool than the bound) and hedges when they agree", () => {
    const [wild] = planBlock(read(snapshot(3500n, 3000n)), options);
    expect(wild!.decision).toMatchObject({ kind: "hold", cause: "wild-oracle" });
    expect(wild!.decision.reason).toBe("wild oracle: 1667 bps from the pool price (max 1000)");
    expect(wild!.sizing).toBeUndefined();
    const [calm] = planBlock(read(snapshot(3000n, 3000n)), options);
    expect(calm!.decision.kind).toBe("rebalance");
    expect(calm!.sizing?.kind).toBe("order");
  });

  it("tells the wild oracle, the vault that cannot trade and the policy's own hold apart by cause", () => {
    // The oracle check comes first: a wild oracle on a vault that cannot trade is a wild-oracle hold.
    const [wildAndPaused] = planBlock(read({ ...snapshot(3500n, 3000n), paused: true }), options);
    expect(wildAndPaused!.decision).toMatchObject({ kind: "hold", cause: "wild-oracle" });
    const [paused] = planBlock(read({ ...snapshot(3000n, 3000n), paused: true }), options);
    expect(paused!.decision).toMatchObject({ kind: "hold", cause: "cannot-trade" });
    const [inBand] = planBlock(read({ ...snapshot(3000n, 3000n), netDeltaWad: -W / 4n }), options);
    expect(inBand!.decision).toMatchObject({ kind: "hold", cause: "policy" });
    // Exactly at the bound (1000 bps, exact in float64 here) is not wild.
    expect(oracleDeviationBps(snapshot(3300n, 3000n))).toBe(1000);
    const [atBound] = planBlock(read(snapshot(3300n, 3000n)), options);
    expect(atBound!.decision.kind).toBe("rebalance");
  });

  it("never sizes a vault whose hedge is still pending", () => {
    const s = snapshot(3000n, 3000n);
    const [plan] = planBlock(read(s), { ...options, pendingVaults: new Set([s.vault]) });
    expect(plan!.decision.kind).toBe("rebalance");
    expect(plan!.pending).toBe(true);
    expect(plan!.sizing).toBeUndefined();
  });
});

describe("updateHedgeAnchors", () => {
  const A = "0x0000000000000000000000000000000000000001";
  const B = "0x0000000000000000000000000000000000000002";
  const at = (vault: `0x${string}`, lastRebalanceBlock: bigint, spot: bigint): VaultSnapshot => ({
    ...snapshot(spot, spot),
    vault,
    lastRebalanceBlock,
  });

  it("anchors a new rebalance at the oracle spot of the snapshot that first shows it", () => {
    const anchors = updateHedgeAnchors(new Map(), [at(A, 99n, 3000n)]);
    expect([...anchors]).toEqual([[A, { block: 99n, spot: 3000 }]]);
  });

  it("keeps the anchor while the last rebalance stays the same, and moves it on the next rebalance", () => {
    const prev = new Map<`0x${string}`, HedgeAnchor>([[A, { block: 99n, spot: 3000 }]]);
    expect(updateHedgeAnchors(prev, [at(A, 99n, 3300n)]).get(A)).toEqual({ block: 99n, spot: 3000 });
    expect(updateHedgeAnchors(prev, [at(A, 105n, 3300n)]).get(A)).toEqual({ block: 105n, spot: 3300 });
    expect(prev.get(A)).toEqual({ block: 99n, spot: 3000 });
  });

  it("has no anchor for a vault that was never rebalanced", () => {
    expect(updateHedgeAnchors(new Map(), [at(A, 0n, 3000n)]).has(A)).toBe(false);
  });

  it("drops vaults that are not in the snapshots", () => {
    const prev = new Map<`0x${string}`, HedgeAnchor>([
      [A, { block: 99n, spot: 3000 }],
      [B, { block: 98n, spot: 2900 }],
    ]);
    const anchors = updateHedgeAnchors(prev, [at(A, 99n, 3100n)]);
    expect([...anchors.keys()]).toEqual([A]);
  });
});

describe("planBlock with hedge anchors", () => {
  // Hedged in the previous block (so the time rule is far off) at 2900; the oracle and the pool now say 3000.
  const s: VaultSnapshot = { ...snapshot(3000n, 3000n), lastRebalanceBlock: 99n };
  const timeOrMove: PlanOptions = {
    ...options,
    policy: { name: "time-or-move", maxBlocks: 1000, moveBps: 100, minTrade: 0.01 },
  };

  it("passes the vault's anchor spot into the view, so a time-or-move move trigger fires", () => {
    const hedgeAnchors = new Map([[s.vault, { block: 99n, spot: 2900 }]]);
    const [plan] = planBlock(read(s), { ...timeOrMove, hedgeAnchors });
    expect(plan!.view.lastHedgeSpot).toBe(2900);
    expect(plan!.decision.kind).toBe("rebalance");
    expect(plan!.decision.reason).toMatch(/spot moved 344\.83 bps since the last hedge/);
    expect(plan!.sizing?.kind).toBe("order");
  });

  it("leaves the spot at the last hedge unknown without an anchor, or with one from another rebalance", () => {
    for (const hedgeAnchors of [undefined, new Map([[s.vault, { block: 50n, spot: 2900 }]])]) {
      const [plan] = planBlock(read(s), hedgeAnchors === undefined ? timeOrMove : { ...timeOrMove, hedgeAnchors });
      expect(plan!.view).not.toHaveProperty("lastHedgeSpot");
      expect(plan!.decision.kind).toBe("hold");
      expect(plan!.decision.reason).toMatch(/spot at the last hedge unknown/);
    }
  });

  it("agrees with updateHedgeAnchors fed the same snapshots: the anchor spot is the first read's", () => {
    const first = updateHedgeAnchors(new Map(), [s]);
    const later = { ...s, blockNumber: 101n, spotWad: 3040n * W, ammReserveQuote: 10_000n * 3040n * 10n ** 6n };
    const anchors = updateHedgeAnchors(first, [later]);
    const block101 = { ...read(later), chain: { ...read(later).chain, blockNumber: 101n } };
    const [plan] = planBlock(block101, { ...timeOrMove, hedgeAnchors: anchors });
    expect(plan!.view.lastHedgeSpot).toBe(3000);
    expect(plan!.decision.reason).toMatch(/spot moved 133\.33 bps/);
  });
});
