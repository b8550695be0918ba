/**
 * The types that cross the keeper's layers. Data flows one way:
 *
 *   chain state ──read──▶ VaultSnapshot ──model──▶ MarketView ──policy──▶ Decision ──size──▶ Sizing ──execute──▶ tx
 *
 * `VaultSnapshot` is what the chain said, in `bigint` and on-chain units (wad, token decimals), pinned to one
 * block. `MarketView` is the same vault as the model sees it, in `number`s of natural units (underlying units,
 * quote per underlying, years), converted at one boundary (`keeper/pricing/view.ts`). Policies read only the
 * `MarketView`; sizing reads both (AMM math is exact, in bigint, like the contract's).
 */
import type { Address } from "viem";
import type { PerpParamsOnChain } from "./pricing/perp.ts";

/** One live option series, as `VaultLens.bookOf` returns it (vault-signed, size-weighted Greeks). */
export interface SeriesSnapshot {
  id: `0x${string}`;
  isCall: boolean;
  strikeWad: bigint;
  expiry: bigint;
  sizeWad: bigint;
  deltaWad: bigint;
  gammaWad: bigint;
  vegaWad: bigint;
  markWad: bigint;
}

/** `IOptionVault.OracleStatus`, by name. */
export const ORACLE_STATUSES = ["Usable", "InvalidAnswer", "Stale", "SequencerDown", "SequencerGracePeriod"] as const;
export type OracleStatus = (typeof ORACLE_STATUSES)[number];

/** A vault's on-chain bounds and hedging budget (`IOptionVault.HedgeParams`). */
export interface HedgeBounds {
  maxSlippageBps: number;
  minRebalanceInterval: number;
  maxOracleAge: number;
  maxTradeWad: bigint;
  /** No rebalance starts within it; a rebalance may overshoot past zero by at most this much. */
  deltaToleranceWad: bigint;
  bandWad: bigint;
  /** The budget holds over any stretch of time this long, seconds. */
  budgetWindowSeconds: number;
  /** Notional (valued at the oracle) hedging may trade per window, whole quote units. */
  notionalBudget: number;
  /** Slippage against the oracle (fee and impact) hedging may pay per window, whole quote units. */
  slippageBudget: number;
}

/** A vault's pricing parameters (`IOptionVault.RiskParams`). */
export interface RiskParams {
  volWad: bigint;
  rateWad: bigint;
  spreadBps: number;
  /** How far the next oracle answer may be: premiums, bids and share prices are taken that far against the trader. */
  latencyBps: number;
  /** Annual charge on the collateral a sold option locks, basis points. */
  capitalChargeBps: number;
  /** Per-option premium floor, basis points of the spot. */
  minPremiumBps: number;
}

/** A vault's collateral and size limits (`IOptionVault.BookLimits`). */
export interface BookLimits {
  stressUpBps: number;
  maxUtilizationBps: number;
  minPositionWad: bigint;
  maxSeriesOpenInterestWad: bigint;
  maxOpenInterestWad: bigint;
  /** Newly minted shares cannot be redeemed or transferred for this long, seconds. */
  depositLockSeconds: number;
}

/**
 * A vault's perp venue at one block (`VaultLens.PerpState`): its position valued by the market (formulas (6) and
 * (7) of `IPerpMarket`), the market's parameters, skew, funding rate and pool, and the vault's margin bounds.
 * Amounts in quote token units, sizes and prices in wad.
 */
export interface PerpSnapshot {
  market: Address;
  /** The market valued the position (its oracle check passed); else only `sizeWad` and `margin` are set. */
  priced: boolean;
  sizeWad: bigint;
  /** Settled margin. */
  margin: bigint;
  pnl: bigint;
  /** Accrued since the last trade; positive = received. */
  funding: bigint;
  remainingMargin: bigint;
  maintenanceMargin: bigint;
  premiumCredit: bigint;
  liquidatable: boolean;
  params: PerpParamsOnChain;
  skewWad: bigint;
  /** Per day, wad. */
  fundingRateWad: bigint;
  pool: bigint;
  /** The vault's bounds on the margin, basis points of notional (`perpMarginBounds`). */
  minMarginBps: number;
  maxMarginBps: number;
}

/** Everything read for one vault at one block (`IOptionVault.VaultState` plus the book). */
export interface VaultSnapshot {
  vault: Address;
  blockNumber: bigint;
  timestamp: bigint;
  bookDeltaWad: bigint;
  /** Book delta + hedge balance + perp position: what `rebalance` and `hedgePerp` must bring towards zero. */
  netDeltaWad: bigint;
  gammaWad: bigint;
  vegaWad: bigint;
  /** Underlying tokens held, underlying decimals. */
  hedgeBalance: bigint;
  /** Quote tokens held, quote decimals. */
  cashBalance: bigint;
  /** Settled payouts not yet claimed, quote decimals: a buy may not leave less cash than this (`PayoutsNotCovered`). */
  pendingPayouts: bigint;
  spotWad: bigint;
  oracleUpdatedAt: bigint;
  oracleAgeSeconds: bigint;
  /** Usable for trading (`oracleStatus` is `Usable`). */
  oracleFresh: boolean;
  /** `IOptionVault.OracleStatus`: why the oracle is unusable when it is. */
  oracleStatus: OracleStatus;
  ammReserveUnderlying: bigint;
  ammReserveQuote: bigint;
  ammFeeBps: bigint;
  lastRebalanceBlock: bigint;
  nextRebalanceBlock: bigint;
  /**
   * The hedging budget left at the snapshot's timestamp (quote wad): notional a rebalance may still trade, and
   * slippage against the oracle it may still pay. It only grows with time (windows roll), so what fits at the
   * snapshot fits when the trade lands.
   */
  notionalLeftWad: bigint;
  slippageLeftWad: bigint;
  /** A series has expired with open interest and awaits `settleSeries` (deposits and withdrawals wait). */
  settlementPending: boolean;
  paused: boolean;
  hedge: HedgeBounds;
  risk: RiskParams;
  book: readonly SeriesSnapshot[];
  /** Token decimals (from the deployment or the tokens), needed to convert token amounts to wad. */
  quoteDecimals: number;
  underlyingDecimals: number;
  /** The perp venue; absent for a vault deployed without one. */
  perp?: PerpSnapshot;
}

/** Chain-wide facts read in the same call as the snapshots. */
export interface ChainSnapshot {
  blockNumber: bigint;
  timestamp: bigint;
  baseFeePerGas: bigint;
  /**
   * On a rollup: the L1 data fee one hedge transaction pays on top of its execution gas at this block, wei (the
   * chain's own oracle for a transaction of a hedge's size). Absent or 0 on an L1.
   */
  l1DataFeeWei?: bigint;
}

/**
 * One block as the pure core (`planBlock` in keeper/tick.ts) takes it: the block's facts and every vault seen at
 * it, plain data. A chain read (`ReadResult`, keeper/chain/readVaults.ts) is one as it stands; the simulator's
 * model builds one around the snapshot it computes, with nothing to invent.
 */
export interface BlockInput {
  /** The block the vaults were read at; its base fee prices a hedge's gas. */
  chain: ChainSnapshot;
  vaults: readonly VaultSnapshot[];
}

/** The costs a hedge pays, in quote units (e.g. USD). */
export interface CostModel {
  /**
   * Cost of one hedge transaction's gas, quote units: gas used × fee per gas × native token price, plus on a rollup
   * the transaction's L1 data fee (`l1DataFeeQuote`, included here).
   */
  gasCostQuote: number;
  /** The L1 data fee part of `gasCostQuote` (a rollup's; 0 or absent on an L1), quote units. */
  l1DataFeeQuote?: number;
  /** AMM fee as a fraction of the input (0.003 for 30 bps). */
  feeRate: number;
  /**
   * Price impact per unit traded on a constant-product pool: a trade of x underlying moves the price by about
   * 2·x/R relative (R = underlying reserve), so the slippage paid on x, beyond the fee, is ≈ η·x² with
   * η = spot / R (quote per underlying²).
   */
  eta: number;
}

/** A vault as the model sees it: plain numbers in natural units. */
export interface MarketView {
  vault: Address;
  blockNumber: number;
  timestamp: number;
  /** Net delta, underlying units (negative: the vault loses when the price rises). */
  delta: number;
  /** Net gamma, underlying units per quote unit of price. */
  gamma: number;
  /** Net vega, quote units per 1.0 of volatility. */
  vega: number;
  spot: number;
  vol: number;
  rate: number;
  /** Gamma-weighted time to expiry of the book, years (0 for an empty book). */
  timeToExpiry: number;
  /** Blocks since the vault's last rebalance (Infinity if never). */
  blocksSinceHedge: number;
  /**
   * Oracle spot at the vault's last rebalance, quote per underlying; undefined when unknown (never hedged, or not
   * tracked by the caller). The chain records only the block of the last rebalance, so this is keeper-side state:
   * `updateHedgeAnchors` in keeper/tick.ts derives it from the snapshots seen, identically live and in simulation.
   */
  lastHedgeSpot?: number;
  /**
   * Whether the contract would accept a rebalance (not paused, oracle fresh, spacing passed), the spacing judged in
   * the block the hedge would land in (`landingOffsetBlocks` after this one: see `toMarketView`).
   */
  canTrade: boolean;
  /** The contract's overshoot tolerance, underlying units. */
  deltaTolerance: number;
  /** The vault's on-chain band (`bandWad`), underlying units. */
  onChainBand: number;
  costs: CostModel;
}

/** Where a rebalance aims. */
export type HedgeTarget = "zero" | "edge";

/**
 * Why a vault holds, for code to branch on (`reason` is for people, and its wording may change):
 * - `policy`: the policy sees nothing worth trading in this block;
 * - `cannot-trade`: the vault would refuse a rebalance in this block (paused, oracle unusable, rebalance spacing),
 *   whatever the policy says (`decide` in keeper/policy/index.ts);
 * - `wild-oracle`: the oracle is further from the pool's price than the keeper trusts (`planBlock`).
 */
export type HoldCause = "policy" | "cannot-trade" | "wild-oracle";

/** A policy's verdict for one vault at one block. */
export type Decision =
  | { kind: "hold"; cause: HoldCause; reason: string; band?: number }
  | {
      kind: "rebalance";
      /** Delta to reach, underlying units (0, or the band's edge on the current side). */
      targetDelta: number;
      target: HedgeTarget;
      reason: string;
      band?: number;
    };

/** The perp's share of a hedge order: what `hedgePerp` is called with and what the market is expected to charge. */
export interface PerpLeg {
  sizeDeltaWad: bigint;
  /** The keeper's own worst fill (fee excluded): the expected fill moved by `minOutMarginBps` against the vault. */
  acceptablePriceWad: bigint;
  fillPriceWad: bigint;
  /** Quote token units. */
  fee: bigint;
}

/** A margin move: `postPerpMargin(amount)` or `withdrawPerpMargin(amount)`, quote token units. */
export interface MarginMove {
  direction: "post" | "withdraw";
  amount: bigint;
  /** Why, for the log line. */
  reason: string;
}

/**
 * A hedge order in on-chain units: on the AMM, `rebalance(...)` (sized against the pool); with `perp`, the vault's
 * `hedgePerp(...)` (`amountIn` = `tradeWad` = |size|); with `margin`, a margin move (`postPerpMargin` /
 * `withdrawPerpMargin` of `amountIn` quote units, no trade).
 */
export interface HedgeOrder {
  buyUnderlying: boolean;
  /** Exact input, in the input token's decimals. */
  amountIn: bigint;
  /** The AMM output expected at the snapshot's reserves. */
  expectedOut: bigint;
  /** The keeper's own bound on the output (expectedOut less a small margin). */
  minAmountOut: bigint;
  /** Underlying traded, wad. */
  tradeWad: bigint;
  /** Net delta expected after the trade, wad. */
  deltaAfterWad: bigint;
  /** Execution price vs oracle, basis points against the vault (fee included). */
  slippageBps: number;
  /** Slippage paid (fee + impact) in quote units, and total cost with gas. */
  slippageCostQuote: number;
  totalCostQuote: number;
  /** Risk-reduction value of the trade under the policy, quote units. */
  benefitQuote: number;
  /** True when the order was cut (slippage bound, max trade, hedge balance) short of the policy's target. */
  partial: boolean;
  /** Present for a trade on the perp market. */
  perp?: PerpLeg;
  /** Present for a margin move. */
  margin?: MarginMove;
}

/** Sizing's verdict: an order, or a reason not to trade now. */
export type Sizing = { kind: "order"; order: HedgeOrder } | { kind: "skip"; reason: string };

/** Risk preferences shared by the policies that weigh risk against cost, and by sizing's cost/benefit check. */
export interface RiskPreferences {
  /** γ: absolute risk aversion, per quote unit (e.g. 1e-4 per USD). */
  riskAversion: number;
  /** How long an unhedged delta is assumed to be carried when valuing a hedge, seconds. */
  horizonSeconds: number;
}

/** The hedging policy and its parameters, as configured. */
export type PolicyConfig =
  /** Hedge to zero whenever |delta| exceeds `minTrade` (underlying units). */
  | { name: "every-block"; minTrade: number }
  /** Hedge to zero every `intervalBlocks` blocks (if |delta| exceeds `minTrade`). */
  | { name: "interval"; intervalBlocks: number; minTrade: number }
  /** Hedge when |delta| exceeds `band` (underlying units), to zero or to the band's edge. */
  | { name: "band"; band: number; target: HedgeTarget }
  /**
   * Whalley–Wilmott: band half-width H = (3/2 · e^{-r(T-t)} · λ · S · Γ² / γ)^{1/3}, trade to the edge.
   * `costRate` is λ, the proportional cost per unit of value traded (defaults to the AMM fee).
   */
  | { name: "whalley-wilmott"; costRate?: number }
  /** Hedge only when the risk reduction is worth gas plus slippage; size chosen to maximise the net value. */
  | { name: "gas-aware" }
  /**
   * Hedge towards zero once `minDelayBlocks` blocks have passed since the last hedge (if |delta| exceeds
   * `minTrade`), moving the delta by at most `maxHedge` underlying units per hedge (+Infinity: no cap). The rule
   * of Lyra's GMX futures pool hedger: an interaction delay between hedges and a hedge cap.
   */
  | { name: "delay-cap"; minDelayBlocks: number; maxHedge: number; minTrade: number }
  /**
   * Hedge to zero after `maxBlocks` blocks or a spot move of `moveBps` basis points since the last hedge,
   * whichever comes first (if |delta| exceeds `minTrade`). The rule of Opyn's Crab strategy: a hedge time
   * threshold and a hedge price threshold.
   */
  | { name: "time-or-move"; maxBlocks: number; moveBps: number; minTrade: number };
