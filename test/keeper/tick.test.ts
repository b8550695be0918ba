import { describe, expect, it } from "vitest";
import type { ReadResult } from "../../keeper/chain/readVaults.ts";
import { oracleDeviationBps, planBlock, type PlanOptions } from "../../keeper/tick.ts";
import type { VaultSnapshot } from "../../keeper/types.ts";

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
    spotWad: oraclePrice * W,
    oracleUpdatedAt: 1_700_000_000n,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    ammReserveUnderlying: 10_000n * W,
    ammReserveQuote: 10_000n * poolPrice * 10n ** 6n,
    ammFeeBps: 30n,
    lastRebalanceBlock: 0n,
    nextRebalanceBlock: 0n,
    paused: false,
    hedge: { maxSlippageBps: 100, minRebalanceInterval: 1, maxOracleAge: 3600, maxTradeWad: 100n * W, deltaToleranceWad: W / 10n, bandWad: W / 2n },
    risk: { volWad: (8n * W) / 10n, rateWad: 0n, spreadBps: 200, stressUpBps: 10_000 },
    book: [],
    quoteDecimals: 6,
    underlyingDecimals: 18,
  };
}

const read = (s: VaultSnapshot): ReadResult => ({
  chain: { blockNumber: 100n, timestamp: 1_700_000_000n, baseFeePerGas: 10n ** 9n, chainId: 31337n, accountBalance: W },
  vaults: [s],
  failures: [],
});

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

describe("planBlock", () => {
  it("measures the oracle's distance from the pool price in basis points", () => {
    expect(oracleDeviationBps(snapshot(3300n, 3000n))).toBeCloseTo(1000, 6);
    expect(oracleDeviationBps(snapshot(3000n, 3000n))).toBe(0);
  });

  it("holds on a wild oracle (further from the pool than the bound) and hedges when they agree", () => {
    const [wild] = planBlock(read(snapshot(3500n, 3000n)), options);
    expect(wild!.decision.kind).toBe("hold");
    expect(wild!.decision.reason).toMatch(/wild oracle/);
    expect(wild!.sizing).toBeUndefined();
    const [calm] = planBlock(read(snapshot(3000n, 3000n)), options);
    expect(calm!.decision.kind).toBe("rebalance");
    expect(calm!.sizing?.kind).toBe("order");
  });

  it("never sizes a vault whose hedge is still pending", () => {
    const s = snapshot(3000n, 3000n);
    const [plan] = planBlock(read(s), { ...options, pendingVaults: new Set([s.vault]) });
    expect(plan!.decision.kind).toBe("rebalance");
    expect(plan!.pending).toBe(true);
    expect(plan!.sizing).toBeUndefined();
  });
});
