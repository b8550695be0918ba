/**
 * The perpetual-futures market of `contracts/interfaces/IPerpMarket.sol` in float64: the same formulas, numbered as
 * there, without the contract's integer rounding. The reference the contract is tested against, and the model the
 * keeper's venue sizing and the simulator will price perp trades with. Pure functions, no I/O.
 *
 * Units (as on chain, converted to plain numbers): sizes in underlying (long > 0); prices in quote per underlying;
 * rates per day (0.01 = 1% of the price per day); velocities per day per day; funding per unit in quote per
 * underlying; margins, P&L, funding of a position and fees in quote (not token units); times in seconds.
 * With S = skewScale, K = the market skew, p = the oracle price, DAY = 86,400 s:
 *   (2) pd(s) = s / S
 *   (3) fill(D) = p · (1 + (pd([K]) + pd([K + D])) / 2), [x] = clamp(x, −S, S) (binds only after a liquidation)
 *   (4) fee(D) = (maker · makerFeeBps + taker · takerFeeBps) / 10⁴ · fill(D), maker = the part of D towards zero
 *   (5) v = clamp(K / S, −1, 1) · maxFundingVelocity;  r(t) = r_last + v · (t − t_last) / DAY;
 *       F(t) = F_last − (r_last + r(t)) / 2 · (t − t_last) / DAY · p
 *   (6) funding = size · (F − F_entry);  pnl = size · (p − entry);  remaining = margin + pnl + funding
 *   (7) reward = max(minLiquidationReward, |size| · p · liquidationRewardBps / 10⁴);
 *       maintenance = |size| · p · maintenanceMarginBps / 10⁴ + reward;  initial = |size| · p / maxLeverage;
 *       maintenance also holds p · size² / (2S);  credit = max(0, size · (p − fill)) at the last trade;
 *       liquidatable ⇔ size ≠ 0 ∧ remaining − credit ≤ maintenance
 */
import { wadToNumber } from "./wad.ts";

/** Seconds per funding day. */
export const FUNDING_DAY_SECONDS = 86_400;
const BPS = 10_000;

/** The market's parameters, as `IPerpMarket.MarketParams` in plain units. */
export interface PerpParams {
  /** Underlying; the skew at which the premium is 100%. */
  skewScale: number;
  /** Per day per day. */
  maxFundingVelocity: number;
  makerFeeBps: number;
  takerFeeBps: number;
  maintenanceMarginBps: number;
  liquidationRewardBps: number;
  /** Quote. */
  minLiquidationReward: number;
  /** e.g. 10 for 10x. */
  maxLeverage: number;
}

/** The market's funding state at its last recomputation, and its skew (formula (5)). */
export interface PerpMarketState {
  /** K, underlying. */
  skew: number;
  /** r_last, per day. */
  lastFundingRate: number;
  /** t_last, seconds. */
  lastFundingTime: number;
  /** F_last, quote per underlying. */
  lastFundingPerUnit: number;
}

/** One position as stored: size (underlying), margin (quote), entry (last fill) and F at entry. */
export interface PerpPosition {
  size: number;
  margin: number;
  entryPrice: number;
  entryFundingPerUnit: number;
  /** The premium the last trade collected at the oracle price, max(0, size · (p − fill)): not counted as margin. Absent: 0. */
  premiumCredit?: number;
}

/** Formula (6) and (7) for one position, in quote (remaining is signed here; the contract's view floors it at 0). */
export interface PerpPositionValue {
  pnl: number;
  funding: number;
  remainingMargin: number;
  maintenanceMargin: number;
  initialMargin: number;
  liquidatable: boolean;
}

/** Formula (2): the premium of a skew, pd(s) = s / S. */
export function premium(skew: number, skewScale: number): number {
  return skew / skewScale;
}

/**
 * Formula (3): the fill price of a size change `sizeDelta` at skew `skew` and oracle price `price`; each premium
 * clamped to ±100% (it only binds where a liquidation has left |skew| above the skew scale).
 */
export function fillPrice(p: { price: number; skew: number; skewScale: number; sizeDelta: number }): number {
  const clamp = (x: number) => Math.max(-1, Math.min(1, x));
  const before = clamp(premium(p.skew, p.skewScale));
  const after = clamp(premium(p.skew + p.sizeDelta, p.skewScale));
  return p.price * (1 + (before + after) / 2);
}

/** Formula (4): how much of `sizeDelta` brings `skew` towards zero (maker) and how much takes it away (taker). */
export function splitMakerTaker(skew: number, sizeDelta: number): { maker: number; taker: number } {
  const towardsZero = (skew > 0 && sizeDelta < 0) || (skew < 0 && sizeDelta > 0);
  const maker = towardsZero ? Math.min(Math.abs(sizeDelta), Math.abs(skew)) : 0;
  return { maker, taker: Math.abs(sizeDelta) - maker };
}

/** Formula (4): the order fee in quote of `sizeDelta` at `skew`, on the notional at the fill price. */
export function orderFee(p: {
  price: number;
  skew: number;
  sizeDelta: number;
  params: Pick<PerpParams, "skewScale" | "makerFeeBps" | "takerFeeBps">;
}): number {
  const fill = fillPrice({ price: p.price, skew: p.skew, skewScale: p.params.skewScale, sizeDelta: p.sizeDelta });
  const { maker, taker } = splitMakerTaker(p.skew, p.sizeDelta);
  return ((maker * p.params.makerFeeBps + taker * p.params.takerFeeBps) / BPS) * fill;
}

/** Formula (5): v = clamp(K / S, −1, 1) · maxFundingVelocity, per day per day. */
export function fundingVelocity(skew: number, params: Pick<PerpParams, "skewScale" | "maxFundingVelocity">): number {
  return Math.max(-1, Math.min(1, skew / params.skewScale)) * params.maxFundingVelocity;
}

/** Formula (5): the funding rate r(t) per day at time `t` (seconds, ≥ t_last). */
export function fundingRate(
  state: PerpMarketState,
  params: Pick<PerpParams, "skewScale" | "maxFundingVelocity">,
  t: number,
): number {
  const days = (t - state.lastFundingTime) / FUNDING_DAY_SECONDS;
  return state.lastFundingRate + fundingVelocity(state.skew, params) * days;
}

/** Formula (5): F(t), quote per underlying, at time `t` and oracle price `price`. Longs pay when it falls. */
export function accruedFundingPerUnit(
  state: PerpMarketState,
  params: Pick<PerpParams, "skewScale" | "maxFundingVelocity">,
  t: number,
  price: number,
): number {
  const days = (t - state.lastFundingTime) / FUNDING_DAY_SECONDS;
  const rate = fundingRate(state, params, t);
  return state.lastFundingPerUnit - ((state.lastFundingRate + rate) / 2) * days * price;
}

/** Formula (5), the recomputation: the state with r_last = r(t), F_last = F(t), t_last = t (skew unchanged). */
export function recomputeFunding(
  state: PerpMarketState,
  params: Pick<PerpParams, "skewScale" | "maxFundingVelocity">,
  t: number,
  price: number,
): PerpMarketState {
  return {
    skew: state.skew,
    lastFundingRate: fundingRate(state, params, t),
    lastFundingTime: t,
    lastFundingPerUnit: accruedFundingPerUnit(state, params, t, price),
  };
}

/**
 * Formula (7): the liquidation reward, the liquidation premium p · size² / (2S) (the closing premium as if the
 * skew were zero) and the maintenance margin holding both, of a position of `size` at `price`, quote.
 */
export function maintenanceMargin(
  size: number,
  price: number,
  params: Pick<PerpParams, "maintenanceMarginBps" | "liquidationRewardBps" | "minLiquidationReward" | "skewScale">,
): { maintenanceMargin: number; liquidationReward: number; liquidationPremium: number } {
  const notional = Math.abs(size) * price;
  const liquidationReward = Math.max(params.minLiquidationReward, (notional * params.liquidationRewardBps) / BPS);
  const liquidationPremium = (price * size * size) / (2 * params.skewScale);
  return {
    maintenanceMargin: (notional * params.maintenanceMarginBps) / BPS + liquidationReward + liquidationPremium,
    liquidationReward,
    liquidationPremium,
  };
}

/** Formula (7): the initial margin |size| · p / maxLeverage, quote. */
export function initialMargin(size: number, price: number, params: Pick<PerpParams, "maxLeverage">): number {
  return (Math.abs(size) * price) / params.maxLeverage;
}

/** Formulas (6) and (7): a position valued at oracle price `price` and funding index `fundingPerUnit` (= F(now)). */
export function positionValue(
  position: PerpPosition,
  params: PerpParams,
  price: number,
  fundingPerUnit: number,
): PerpPositionValue {
  if (position.size === 0) {
    return {
      pnl: 0,
      funding: 0,
      remainingMargin: position.margin,
      maintenanceMargin: 0,
      initialMargin: 0,
      liquidatable: false,
    };
  }
  const pnl = position.size * (price - position.entryPrice);
  const funding = position.size * (fundingPerUnit - position.entryFundingPerUnit);
  const remainingMargin = position.margin + pnl + funding;
  const maintenance = maintenanceMargin(position.size, price, params).maintenanceMargin;
  return {
    pnl,
    funding,
    remainingMargin,
    maintenanceMargin: maintenance,
    initialMargin: initialMargin(position.size, price, params),
    liquidatable: remainingMargin - (position.premiumCredit ?? 0) <= maintenance,
  };
}

/** The result of `modifyPosition`: the new market state, the new position and what the trade cost. */
export interface PerpTradeResult {
  market: PerpMarketState;
  position: PerpPosition;
  fillPrice: number;
  fee: number;
  /** P&L at the fill price plus funding, moved into the margin (positive = paid to the trader by the pool). */
  settled: number;
}

/**
 * `IPerpMarket.modifyPosition` without its checks: recompute funding at `t` and `price`, settle the position's
 * P&L at the fill price, size · (fill − entry), and its funding into the margin minus the fee, then size += D,
 * entry = fill, F_entry = F(t), skew += D. The caller checks margins (`positionValue`) and bounds if it needs to.
 */
export function modifyPosition(p: {
  market: PerpMarketState;
  position: PerpPosition;
  params: PerpParams;
  t: number;
  price: number;
  sizeDelta: number;
}): PerpTradeResult {
  const market = recomputeFunding(p.market, p.params, p.t, p.price);
  const fill = fillPrice({ price: p.price, skew: market.skew, skewScale: p.params.skewScale, sizeDelta: p.sizeDelta });
  const fee = orderFee({ price: p.price, skew: market.skew, sizeDelta: p.sizeDelta, params: p.params });
  const settled =
    p.position.size * (fill - p.position.entryPrice) +
    p.position.size * (market.lastFundingPerUnit - p.position.entryFundingPerUnit);
  return {
    market: { ...market, skew: market.skew + p.sizeDelta },
    position: {
      size: p.position.size + p.sizeDelta,
      margin: p.position.margin + settled - fee,
      entryPrice: fill,
      entryFundingPerUnit: market.lastFundingPerUnit,
      premiumCredit: Math.max(0, (p.position.size + p.sizeDelta) * (p.price - fill)),
    },
    fillPrice: fill,
    fee,
    settled,
  };
}

/** `IPerpMarket.MarketParams` as the contract takes and returns them: wad, bps, quote token units, seconds. */
export interface PerpParamsOnChain {
  skewScale: bigint;
  maxFundingVelocity: bigint;
  makerFeeBps: bigint;
  takerFeeBps: bigint;
  maintenanceMarginBps: bigint;
  liquidationRewardBps: bigint;
  minLiquidationReward: bigint;
  maxLeverage: bigint;
  maxOracleAge: bigint;
}

/** The chain's parameters in the model's units (the one boundary): wads to numbers, `minLiquidationReward` to quote. */
export function perpParamsFromChain(p: PerpParamsOnChain, quoteDecimals: number): PerpParams {
  return {
    skewScale: wadToNumber(p.skewScale),
    maxFundingVelocity: wadToNumber(p.maxFundingVelocity),
    makerFeeBps: Number(p.makerFeeBps),
    takerFeeBps: Number(p.takerFeeBps),
    maintenanceMarginBps: Number(p.maintenanceMarginBps),
    liquidationRewardBps: Number(p.liquidationRewardBps),
    minLiquidationReward: Number(p.minLiquidationReward) / 10 ** quoteDecimals,
    maxLeverage: wadToNumber(p.maxLeverage),
  };
}
