/**
 * The snapshot → model boundary: `toMarketView` turns what the chain said (bigint, wad) into the `MarketView`
 * the policies read (float64, natural units), `poolView` does the same for the vault's pool, and
 * `bookGreeksOffChain` recomputes the book's Greeks with the float64 model so the keeper can notice when the
 * on-chain numbers (or its own inputs) go wrong.
 */
import type { CostModel, MarketView, SeriesSnapshot, VaultSnapshot } from "../types.ts";
import { greeks, SECONDS_PER_YEAR } from "./blackScholes.ts";
import { numberToWad, tokenToNumber, wadToNumber } from "./wad.ts";

/** `BlackScholes.MIN_PRICE_WAD` / `MAX_PRICE_WAD`: outside, the vault reports zero book Greeks. */
const MIN_PRICE_WAD = 10n ** 12n;
const MAX_PRICE_WAD = 10n ** 33n;

/** A book's delta (underlying), gamma (underlying per quote unit of price) and vega (quote per 1.0 vol), wad. */
export interface BookGreeksWad {
  deltaWad: bigint;
  gammaWad: bigint;
  vegaWad: bigint;
}

/**
 * The float64 recomputation, with the gross exposure Σ|size·Greek| of each Greek: the scale against which a
 * difference in the net Greek is measured. A book of offsetting series nets to ~0 while each leg keeps its own
 * rounding, so the net alone would be the wrong yardstick.
 */
export interface OffChainBookGreeks extends BookGreeksWad {
  grossDeltaWad: bigint;
  grossGammaWad: bigint;
  grossVegaWad: bigint;
}

export type GreekName = "delta" | "gamma" | "vega";

/** Difference of one Greek: `absolute` in natural units, `relative` to the larger of the two (see below). */
export interface GreekDifference {
  absolute: number;
  relative: number;
}

export interface GreeksDisagreement {
  delta: GreekDifference;
  gamma: GreekDifference;
  vega: GreekDifference;
  /** The largest `relative` of the three: compare it to a tolerance. */
  maxRelative: number;
  /** Which Greek it comes from. */
  worst: GreekName;
}

/**
 * Magnitudes below which a Greek is noise (natural units). Used as the smallest denominator of `relative`, so a
 * book whose gamma is ~0 (deep out of the money, where the on-chain library saturates to exactly 0 while the
 * float model keeps a 1e-20) does not read as a 100% disagreement.
 */
export const DEFAULT_GREEK_FLOORS: Readonly<Record<GreekName, number>> = Object.freeze({
  delta: 1e-12,
  gamma: 1e-12,
  vega: 1e-9,
});

/**
 * The vault as the model sees it. `costs` comes from the caller (gas price, AMM fee, pool depth), and so does
 * `lastHedgeSpot` (the chain does not record it; see `updateHedgeAnchors` in keeper/tick.ts), set on the view only
 * when known.
 *
 * `landingOffsetBlocks`: how many blocks after the snapshot's the hedge would execute in. The vault's spacing rule
 * (`nextRebalanceBlock`) is judged in that block, not the read one: a live keeper's transaction, sent after block
 * n is read, lands in n + 1 at the earliest (offset 1), so with `minRebalanceInterval` 1 it may hedge in the block
 * right after its own last hedge. An engine that executes in the block it decided on passes 0 (the default).
 */
export function toMarketView(snapshot: VaultSnapshot, costs: CostModel, lastHedgeSpot?: number, landingOffsetBlocks = 0): MarketView {
  return {
    vault: snapshot.vault,
    blockNumber: Number(snapshot.blockNumber),
    timestamp: Number(snapshot.timestamp),
    delta: wadToNumber(snapshot.netDeltaWad),
    gamma: wadToNumber(snapshot.gammaWad),
    vega: wadToNumber(snapshot.vegaWad),
    spot: wadToNumber(snapshot.spotWad),
    vol: wadToNumber(snapshot.risk.volWad),
    rate: wadToNumber(snapshot.risk.rateWad),
    timeToExpiry: bookTimeToExpiry(snapshot),
    blocksSinceHedge:
      snapshot.lastRebalanceBlock === 0n
        ? Number.POSITIVE_INFINITY
        : Number(snapshot.blockNumber - snapshot.lastRebalanceBlock),
    canTrade: !snapshot.paused && snapshot.oracleFresh && snapshot.blockNumber + BigInt(landingOffsetBlocks) >= snapshot.nextRebalanceBlock,
    deltaTolerance: wadToNumber(snapshot.hedge.deltaToleranceWad),
    onChainBand: wadToNumber(snapshot.hedge.bandWad),
    costs,
    ...(lastHedgeSpot === undefined ? {} : { lastHedgeSpot }),
  };
}

/** The vault's pool as the model sees it: reserves in whole tokens, the fee as a fraction of the input. */
export interface PoolView {
  reserveUnderlying: number;
  reserveQuote: number;
  /** 0.003 for 30 bps. */
  feeRate: number;
}

/** The snapshot's pool in natural units. */
export function poolView(snapshot: VaultSnapshot): PoolView {
  return {
    reserveUnderlying: tokenToNumber(snapshot.ammReserveUnderlying, snapshot.underlyingDecimals),
    reserveQuote: tokenToNumber(snapshot.ammReserveQuote, snapshot.quoteDecimals),
    feeRate: Number(snapshot.ammFeeBps) / 10_000,
  };
}

/** How far the oracle is from the pool's own price, in basis points of the pool price (Infinity for an empty pool). */
export function oracleDeviationBps(snapshot: VaultSnapshot): number {
  if (snapshot.ammReserveUnderlying === 0n || snapshot.ammReserveQuote === 0n) return Number.POSITIVE_INFINITY;
  const pool = poolView(snapshot);
  const poolPrice = pool.reserveQuote / pool.reserveUnderlying;
  return (Math.abs(wadToNumber(snapshot.spotWad) - poolPrice) / poolPrice) * 10_000;
}

/**
 * Time to expiry of the book in years, weighted by each live series' |gamma| (the series that drive the hedging
 * need, and the ones Whalley–Wilmott's e^{−r(T−t)} should discount by). Live: non-zero size, not expired. When
 * every live gamma is 0 (deep out of the money, or a book too small to register) the weights fall back to
 * |size|; an empty book has 0.
 */
export function bookTimeToExpiry(snapshot: VaultSnapshot): number {
  const live = snapshot.book.filter((s) => s.sizeWad !== 0n && s.expiry > snapshot.timestamp);
  if (live.length === 0) return 0;
  const tau = (expiry: bigint): number => Number(expiry - snapshot.timestamp) / SECONDS_PER_YEAR;
  const weighted = (weight: (s: SeriesSnapshot) => number): number | undefined => {
    let sumWeights = 0;
    let sum = 0;
    for (const s of live) {
      const w = weight(s);
      sumWeights += w;
      sum += w * tau(s.expiry);
    }
    return sumWeights > 0 ? sum / sumWeights : undefined;
  };
  return (
    weighted((s) => Math.abs(wadToNumber(s.gammaWad))) ?? weighted((s) => Math.abs(wadToNumber(s.sizeWad))) ?? 0
  );
}

/** The book's Greeks as the vault reports them (options only, no hedge), in the shape `greeksDisagreement` takes. */
export function bookGreeksOnChain(snapshot: VaultSnapshot): BookGreeksWad {
  return { deltaWad: snapshot.bookDeltaWad, gammaWad: snapshot.gammaWad, vegaWad: snapshot.vegaWad };
}

/**
 * The book's Greeks recomputed with the float64 model from each series (strike, expiry, size) and the vault's
 * vol, rate, spot and block time: the same inputs `OptionVault._bookGreeks` uses, and the same conventions
 * (expired series contribute 0; all zero when the spot is outside the on-chain pricing domain).
 */
export function bookGreeksOffChain(snapshot: VaultSnapshot): OffChainBookGreeks {
  const zero: OffChainBookGreeks = {
    deltaWad: 0n,
    gammaWad: 0n,
    vegaWad: 0n,
    grossDeltaWad: 0n,
    grossGammaWad: 0n,
    grossVegaWad: 0n,
  };
  if (snapshot.spotWad < MIN_PRICE_WAD || snapshot.spotWad > MAX_PRICE_WAD) return zero;
  const spot = wadToNumber(snapshot.spotWad);
  const vol = wadToNumber(snapshot.risk.volWad);
  const rate = wadToNumber(snapshot.risk.rateWad);
  let delta = 0;
  let gamma = 0;
  let vega = 0;
  let grossDelta = 0;
  let grossGamma = 0;
  let grossVega = 0;
  for (const s of snapshot.book) {
    if (s.sizeWad === 0n || s.expiry <= snapshot.timestamp) continue;
    const size = wadToNumber(s.sizeWad);
    const g = greeks({
      isCall: s.isCall,
      spot,
      strike: wadToNumber(s.strikeWad),
      vol,
      tauSeconds: Number(s.expiry - snapshot.timestamp),
      rate,
    });
    delta += size * g.delta;
    gamma += size * g.gamma;
    vega += size * g.vega;
    grossDelta += Math.abs(size * g.delta);
    grossGamma += Math.abs(size * g.gamma);
    grossVega += Math.abs(size * g.vega);
  }
  return {
    deltaWad: numberToWad(delta),
    gammaWad: numberToWad(gamma),
    vegaWad: numberToWad(vega),
    grossDeltaWad: numberToWad(grossDelta),
    grossGammaWad: numberToWad(grossGamma),
    grossVegaWad: numberToWad(grossVega),
  };
}

/** A series' terms as the vault stores them (`IOptionVault.Series` and its id), without Greeks. */
export type SeriesTerms = Pick<SeriesSnapshot, "id" | "isCall" | "strikeWad" | "expiry" | "sizeWad">;

/** What pricing a book needs besides its series: the vault's spot, vol and rate, and the block's time. */
export interface BookPricingInputs {
  spotWad: bigint;
  volWad: bigint;
  rateWad: bigint;
  timestamp: bigint;
}

/**
 * A book's series priced with the float64 model, in the shape the lens returns when it prices them on-chain
 * (`VaultLens.SeriesView`): each series' position Greeks (size-weighted) and one option's mark — intrinsic once
 * expired or when the spot is outside the on-chain pricing domain, where the Greeks are 0 — and the book's gamma
 * and vega (sums of the series', as the lens adds them up). How a keeper that reads a vault light (its net delta
 * from the vault itself, no book) fills in what the policies need from the series it keeps.
 * @throws PricingDomainError when the vault's vol or rate is outside the model's domain
 */
export function priceBookOffChain(
  terms: readonly SeriesTerms[],
  at: BookPricingInputs,
): { book: SeriesSnapshot[]; gammaWad: bigint; vegaWad: bigint } {
  const priced = at.spotWad >= MIN_PRICE_WAD && at.spotWad <= MAX_PRICE_WAD;
  const spot = wadToNumber(at.spotWad);
  const vol = wadToNumber(at.volWad);
  const rate = wadToNumber(at.rateWad);
  let gammaWad = 0n;
  let vegaWad = 0n;
  const book = terms.map((s): SeriesSnapshot => {
    if (priced && s.expiry > at.timestamp) {
      const size = wadToNumber(s.sizeWad);
      const g = greeks({ isCall: s.isCall, spot, strike: wadToNumber(s.strikeWad), vol, tauSeconds: Number(s.expiry - at.timestamp), rate });
      const series = {
        ...s,
        deltaWad: numberToWad(size * g.delta),
        gammaWad: numberToWad(size * g.gamma),
        vegaWad: numberToWad(size * g.vega),
        markWad: numberToWad(g.price),
      };
      gammaWad += series.gammaWad;
      vegaWad += series.vegaWad;
      return series;
    }
    const intrinsic = s.isCall ? at.spotWad - s.strikeWad : s.strikeWad - at.spotWad;
    return { ...s, deltaWad: 0n, gammaWad: 0n, vegaWad: 0n, markWad: intrinsic > 0n ? intrinsic : 0n };
  });
  return { book, gammaWad, vegaWad };
}

/**
 * How far two sets of book Greeks are apart. For each Greek, `absolute` = |a − b| (natural units) and
 * `relative` = |a − b| / max(|a|, |b|, gross, floor), where gross is the off-chain gross exposure when given
 * (so that a hedged-out book of offsetting series is judged against its legs, not against its ~0 net) and floor
 * is `floors[greek]` (default `DEFAULT_GREEK_FLOORS`). Both zero ⇒ 0.
 */
export function greeksDisagreement(
  onChain: BookGreeksWad,
  offChain: BookGreeksWad | OffChainBookGreeks,
  floors: Partial<Record<GreekName, number>> = {},
): GreeksDisagreement {
  const gross = "grossDeltaWad" in offChain ? offChain : undefined;
  const diff = (greek: GreekName, a: bigint, b: bigint, grossWad: bigint | undefined): GreekDifference => {
    const absolute = wadToNumber(a > b ? a - b : b - a);
    const scale = Math.max(
      Math.abs(wadToNumber(a)),
      Math.abs(wadToNumber(b)),
      grossWad === undefined ? 0 : wadToNumber(grossWad),
      floors[greek] ?? DEFAULT_GREEK_FLOORS[greek],
    );
    return { absolute, relative: scale > 0 ? absolute / scale : 0 };
  };
  const delta = diff("delta", onChain.deltaWad, offChain.deltaWad, gross?.grossDeltaWad);
  const gamma = diff("gamma", onChain.gammaWad, offChain.gammaWad, gross?.grossGammaWad);
  const vega = diff("vega", onChain.vegaWad, offChain.vegaWad, gross?.grossVegaWad);
  let worst: GreekName = "delta";
  if (gamma.relative > delta.relative) worst = "gamma";
  if (vega.relative > (worst === "gamma" ? gamma : delta).relative) worst = "vega";
  return { delta, gamma, vega, maxRelative: Math.max(delta.relative, gamma.relative, vega.relative), worst };
}
