/**
 * One vault snapshot for the pure-core tests (pricing, sizing, policy): a WETH/USDC vault at 3,000 with the
 * deploy defaults' hedge and risk parameters, a fresh oracle and a 1,000 WETH / 3,000,000 USDC pool, the book
 * short 2 underlying. Each test states only what it changes, through `overrides`.
 */
import type { PlanOptions } from "../../keeper/tick.ts";
import type { MarketView, RiskPreferences, VaultSnapshot } from "../../keeper/types.ts";
import { DEFAULT_HEDGE_PARAMS, WAD } from "../../harness/system.ts";

export const SNAPSHOT_TIME = 1_750_000_000n;

/**
 * The deploy defaults (`DEFAULT_HEDGE_PARAMS`, the one table) as the lens reports them, made tighter where the
 * pure-core tests need room to step over a limit: rebalances 5 blocks apart, trades up to 100 underlying, a 0.01
 * tolerance and a 0.1 band.
 */
export const TEST_HEDGE_PARAMS: VaultSnapshot["hedge"] = Object.freeze({
  ...DEFAULT_HEDGE_PARAMS,
  minRebalanceInterval: 5,
  maxTradeWad: 100n * WAD,
  deltaToleranceWad: WAD / 100n,
  bandWad: WAD / 10n,
});

export const TEST_RISK_PARAMS: VaultSnapshot["risk"] = Object.freeze({
  volWad: (WAD * 8n) / 10n,
  rateWad: WAD / 20n,
  spreadBps: 100,
  latencyBps: 10,
  capitalChargeBps: 200,
  minPremiumBps: 5,
});

export function vaultSnapshot(overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return {
    vault: "0x00000000000000000000000000000000000000aa",
    blockNumber: 1_000n,
    timestamp: SNAPSHOT_TIME,
    bookDeltaWad: -2n * WAD,
    netDeltaWad: -2n * WAD,
    gammaWad: -(WAD / 1000n),
    vegaWad: -300n * WAD,
    hedgeBalance: 0n,
    cashBalance: 1_000_000n * 10n ** 6n,
    pendingPayouts: 0n,
    spotWad: 3_000n * WAD,
    oracleUpdatedAt: SNAPSHOT_TIME,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    oracleStatus: "Usable",
    ammReserveUnderlying: 1_000n * WAD,
    ammReserveQuote: 3_000_000n * 10n ** 6n,
    ammFeeBps: 30n,
    lastRebalanceBlock: 990n,
    nextRebalanceBlock: 995n,
    // The deploy defaults' whole budget (3,000,000 traded and 10,000 of slippage a day), unused.
    notionalLeftWad: 3_000_000n * WAD,
    slippageLeftWad: 10_000n * WAD,
    settlementPending: false,
    paused: false,
    hedge: { ...TEST_HEDGE_PARAMS },
    risk: { ...TEST_RISK_PARAMS },
    book: [],
    quoteDecimals: 6,
    underlyingDecimals: 18,
    ...overrides,
  };
}

/**
 * One market view for the policy tests: a vault short 2 underlying at 3,000, vol 0.8, 10 blocks since its last
 * hedge, able to trade, with cheap costs. Each test states only what it changes.
 */
export function marketView(overrides: Partial<MarketView> = {}): MarketView {
  return {
    vault: "0x00000000000000000000000000000000000000aa",
    blockNumber: 1_000,
    timestamp: 1_750_000_000,
    delta: -2,
    gamma: -0.002,
    vega: -500,
    spot: 3_000,
    vol: 0.8,
    rate: 0.05,
    timeToExpiry: 0.1,
    blocksSinceHedge: 10,
    canTrade: true,
    deltaTolerance: 0.01,
    onChainBand: 0.1,
    costs: { gasCostQuote: 2, feeRate: 0.003, eta: 3 },
    ...overrides,
  };
}

/** The policy tests' risk preferences: γ = 0.001 over an hour. */
export const TEST_PREFS: RiskPreferences = { riskAversion: 1e-3, horizonSeconds: 3_600 };

/**
 * planBlock's options in the pure-core tests: the README's local settings (band 0.5 to zero, γ = 0.01), the
 * keeper's slippage and margin, a 1 gwei tip, no hedge pending. Each test spreads it and states what it changes.
 */
export const TEST_PLAN_OPTIONS: PlanOptions = Object.freeze<PlanOptions>({
  policy: { name: "band", band: 0.5, target: "zero" },
  prefs: { riskAversion: 0.01, horizonSeconds: 3_600 },
  maxSlippageBps: 100,
  minOutMarginBps: 10,
  tipWei: 10n ** 9n,
  greeksTolerance: 1e-6,
  pendingVaults: new Set<`0x${string}`>(),
  maxOracleDeviationBps: 1000,
});
