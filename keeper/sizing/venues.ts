/**
 * Which venue a hedge goes to, and how much to each: the all-in cost of a trade on the spot pool and on the
 * perpetual-futures market, and the split between them that costs least. Pure float64, in natural units (underlying,
 * quote, seconds); the venue sizing of issue 14, used by the keeper and the simulator alike.
 *
 * A trade of `size` underlying (> 0 buys, or goes longer; < 0 sells, or goes shorter) is charged against its oracle
 * value size · p. Its cost, in quote (positive = paid), is the sum of:
 * - fee: the spot pool's fee (its share of what the input loses), or the perp's order fee (formula (4));
 * - impact: the rest of what the execution price differs from p — the pool's curve, or the perp's skew premium,
 *   size · (fill − p) (formula (3));
 * - gas: the venue's hedge transaction, paid once if the venue is used at all;
 * - funding: the perp only — how much more funding the vault's position pays over the horizon H after the trade
 *   than before, with the rate drifting at the velocity of the skew after the trade (formula (5), the price and the
 *   others' positions held): for a position x at skew K, paid(x, K) = x · p · (r₀ · H + v(K) · H² / 2), H in days.
 *   Holding the underlying itself costs nothing over H (interest is not modelled).
 *
 * What each venue can take: the pool can sell at most the underlying the vault holds (`maxSell`) and never empties
 * a reserve; the perp's position after the trade must stay within what its margin allows (`maxLong`, `maxShort`),
 * and the trade within the skew cap.
 */
import * as perp from "../pricing/perp.ts";

/** The spot pool as a venue: reserves in underlying and quote, fee on the input, the vault's holdings, its gas. */
export interface SpotVenue {
  reserveUnderlying: number;
  reserveQuote: number;
  /** Fee on the input, a fraction (0.003 for 30 bps). */
  feeRate: number;
  /** Underlying the vault holds: the most it can sell. */
  maxSell: number;
  /** Quote, for one spot hedge transaction. */
  gasCost: number;
}

/** The perp market as a venue: its parameters and skew, the funding rate now, the vault's position and limits, its gas. */
export interface PerpVenue {
  params: Pick<perp.PerpParams, "skewScale" | "makerFeeBps" | "takerFeeBps" | "maxFundingVelocity">;
  /** K, underlying. */
  skew: number;
  /** r₀, per day. */
  fundingRate: number;
  /** The vault's position now, underlying (long > 0). */
  position: number;
  /** The longest and the shortest position the vault's margin allows (maxShort ≥ 0 is a magnitude). */
  maxLong: number;
  maxShort: number;
  /** Quote, for one perp hedge transaction. */
  gasCost: number;
}

/** A trade's cost on one venue, quote, each part positive when paid. */
export interface VenueCost {
  fee: number;
  impact: number;
  gas: number;
  funding: number;
  total: number;
}

export const NO_COST: Readonly<VenueCost> = Object.freeze({ fee: 0, impact: 0, gas: 0, funding: 0, total: 0 });

/** The cheapest split of a trade: the size to each venue, their costs, and what limited it. */
export interface VenueSplit {
  spot: number;
  perp: number;
  spotCost: VenueCost;
  perpCost: VenueCost;
  total: number;
  /** `size` could not be placed whole: what limited it (the pool's holdings, the perp's margin or skew cap). */
  capped?: { placed: number; reason: string };
}

/** Seconds per day, for the horizon. */
const DAY = perp.FUNDING_DAY_SECONDS;

/**
 * The cost of trading `size` on the pool at oracle price `price` (see the module's comment). Throws `RangeError`
 * when the pool cannot serve it (a sale beyond the vault's holdings, or a buy of the whole reserve).
 */
export function spotCost(size: number, price: number, venue: SpotVenue): VenueCost {
  if (size === 0) return { ...NO_COST };
  const { reserveUnderlying: ru, reserveQuote: rq, feeRate: f } = venue;
  if (size > 0) {
    if (size >= ru) throw new RangeError(`the pool cannot sell ${size} of its ${ru} underlying`);
    const quoteIn = (rq * size) / ((ru - size) * (1 - f));
    const noFee = (rq * size) / (ru - size);
    const fee = quoteIn - noFee;
    const impact = noFee - size * price;
    return withTotal({ fee, impact, gas: venue.gasCost, funding: 0 });
  }
  const sold = -size;
  if (sold > venue.maxSell) throw new RangeError(`cannot sell ${sold} underlying on the pool: the vault holds ${venue.maxSell}`);
  const quoteOut = (rq * sold * (1 - f)) / (ru + sold * (1 - f));
  const noFee = (rq * sold) / (ru + sold);
  const fee = noFee - quoteOut;
  const impact = sold * price - noFee;
  return withTotal({ fee, impact, gas: venue.gasCost, funding: 0 });
}

/**
 * The cost of changing the vault's perp position by `size` at oracle price `price`, with the funding over
 * `horizonSeconds` (see the module's comment). Throws `RangeError` beyond the margin's limits or the skew cap.
 */
export function perpCost(size: number, price: number, venue: PerpVenue, horizonSeconds: number): VenueCost {
  if (size === 0) return { ...NO_COST };
  const after = venue.position + size;
  if (after > venue.maxLong || -after > venue.maxShort) {
    throw new RangeError(`a perp position of ${after} is beyond what the margin allows (${-venue.maxShort} to ${venue.maxLong})`);
  }
  const skewAfter = venue.skew + size;
  if (Math.abs(skewAfter) > venue.params.skewScale && Math.abs(skewAfter) >= Math.abs(venue.skew)) {
    throw new RangeError(`the perp's skew would reach ${skewAfter}, beyond its scale ${venue.params.skewScale}`);
  }
  const fill = perp.fillPrice({ price, skew: venue.skew, skewScale: venue.params.skewScale, sizeDelta: size });
  const fee = perp.orderFee({ price, skew: venue.skew, sizeDelta: size, params: venue.params });
  const impact = size * (fill - price);
  const days = horizonSeconds / DAY;
  const paid = (position: number, skew: number) =>
    position * price * (venue.fundingRate * days + (perp.fundingVelocity(skew, venue.params) * days * days) / 2);
  const funding = paid(after, skewAfter) - paid(venue.position, venue.skew);
  return withTotal({ fee, impact, gas: venue.gasCost, funding });
}

/**
 * The split of `size` between the pool and the perp that costs least, both legs in the direction of `size`: all on
 * the pool, all on the perp, or the best split between (the sum of two convex costs, found by golden-section
 * search; each venue's gas is paid only if it is used). A trade that neither venue nor both together can take
 * whole is placed as far as they can, with `capped` saying why. Throws `RangeError` when neither can take any of it.
 */
export function splitTrade(p: { size: number; price: number; spot: SpotVenue; perp: PerpVenue; horizonSeconds: number }): VenueSplit {
  const { size, price, horizonSeconds } = p;
  const sign = Math.sign(size);
  if (sign === 0) return { spot: 0, perp: 0, spotCost: { ...NO_COST }, perpCost: { ...NO_COST }, total: 0 };
  const spotRoom = size > 0 ? p.spot.reserveUnderlying * (1 - 1e-9) : p.spot.maxSell;
  const perpRoom = Math.max(0, size > 0 ? p.perp.maxLong - p.perp.position : p.perp.maxShort + p.perp.position);
  const skewRoom = Math.max(0, size > 0 ? p.perp.params.skewScale - p.perp.skew : p.perp.params.skewScale + p.perp.skew);
  const perpMax = Math.min(perpRoom, skewRoom);
  const want = Math.abs(size);
  const placed = Math.min(want, spotRoom + perpMax);
  if (placed <= 0) throw new RangeError(`neither venue can take a trade of ${size}: the pool holds ${p.spot.maxSell} to sell, the perp's margin or skew allows none`);
  const capped = placed < want ? { placed: sign * placed, reason: cappedReason(size, spotRoom, perpRoom, skewRoom) } : undefined;

  // x = the magnitude on the pool, placed − x on the perp; feasible x in [lo, hi].
  const lo = Math.max(0, placed - perpMax);
  const hi = Math.min(placed, spotRoom);
  const at = (x: number): VenueSplit => {
    const spotCostX = spotCost(sign * x, price, p.spot);
    const perpCostX = perpCost(sign * (placed - x), price, p.perp, horizonSeconds);
    const signed = (magnitude: number) => (magnitude === 0 ? 0 : sign * magnitude);
    return { spot: signed(x), perp: signed(placed - x), spotCost: spotCostX, perpCost: perpCostX, total: spotCostX.total + perpCostX.total };
  };
  const candidates = [at(lo), at(hi)];
  if (hi > lo) {
    // Both legs used: gas is then a constant, and the rest is convex in x.
    let a = lo;
    let b = hi;
    const phi = (Math.sqrt(5) - 1) / 2;
    for (let i = 0; i < 80 && b - a > 1e-12 * Math.max(1, placed); i++) {
      const c = b - phi * (b - a);
      const d = a + phi * (b - a);
      if (at(c).total <= at(d).total) b = d;
      else a = c;
    }
    candidates.push(at((a + b) / 2));
  }
  const best = candidates.reduce((x, y) => (y.total < x.total ? y : x));
  return capped ? { ...best, capped } : best;
}

function cappedReason(size: number, spotRoom: number, perpRoom: number, skewRoom: number): string {
  const spot = size > 0 ? `the pool's depth (${spotRoom})` : `the underlying held (${spotRoom})`;
  const perpLimit = perpRoom <= skewRoom ? `the perp margin's room (${perpRoom})` : `the perp's skew cap (${skewRoom})`;
  return `${spot} and ${perpLimit}`;
}

function withTotal(c: Omit<VenueCost, "total">): VenueCost {
  return { ...c, total: c.fee + c.impact + c.gas + c.funding };
}
