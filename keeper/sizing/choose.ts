/**
 * The keeper's venue choice for one vault's hedge (issue 14): which venue this block's trade goes to, its size there,
 * and the margin move the perp needs first. Pure; `planBlock` (keeper/tick.ts) calls it for every vault, live and in
 * the simulator alike.
 *
 * The all-in cost of the wanted trade on each venue (fee, impact, gas and, on the perp, the funding the position is
 * expected to pay over the risk horizon) decides the split (`splitTrade` in ./venues.ts). A vault sends one hedge a
 * block (the two venues share the vault's spacing), so a split goes out one leg at a time: this block the larger
 * leg, sized exactly on its venue (`sizeHedge`, `sizePerpHedge`); the policy decides the rest in a later block. A leg
 * its venue refuses (the pool cannot short; the perp's skew cap) falls back to the other venue for the whole trade.
 * The perp needs margin before it trades: a top-up (or the margin for the wanted position) goes first, as that
 * block's transaction, and the hedge follows (`planMarginMove`).
 */
import { formatAmount as f } from "../policy/format.ts";
import { perpParamsFromChain } from "../pricing/perp.ts";
import { poolView } from "../pricing/view.ts";
import { absBigint, numberToWad, tokenToNumber, wadToNumber } from "../pricing/wad.ts";
import type { MarketView, RiskPreferences, VaultSnapshot } from "../types.ts";
import { marginOf, marginOrder, planMarginMove, sizePerpHedge, type MarginTargets } from "./perpSize.ts";
import { sizeHedge, type RebalanceDecision, type SizeOptions, type SizeResult } from "./size.ts";
import { perpCost, splitTrade, type PerpVenue, type SpotVenue, type VenueSplit } from "./venues.ts";

/**
 * Gas of a perp hedge beyond a spot rebalance's, and of a margin move (measured: `npm run gas`). The market's
 * `modifyPosition` costs about what the AMM's swap does: `hedgePerp` measures 3,749 above `rebalance` at 1, 10 and 32
 * series (`test/keeper/gasModel.test.ts` holds this constant between that and 1.5×); a vault's first
 * `postPerpMargin` 110k–157k at 1–10 series.
 */
export const PERP_HEDGE_EXTRA_GAS = 5_000;
export const MARGIN_MOVE_GAS = 170_000;

export interface VenueChoice {
  sizing: SizeResult;
  /** The venue of the order (or of the skip), and the split the costs suggested. */
  venue: "amm" | "perp";
  split?: VenueSplit;
}

/** The two venues in the float model, from the snapshot; the perp's room is what the vault's margin cap allows. */
export function venuesOf(snapshot: VaultSnapshot, spotGasQuote: number, perpGasQuote: number): { spot: SpotVenue; perp?: PerpVenue } {
  const pool = poolView(snapshot);
  const spot: SpotVenue = {
    reserveUnderlying: pool.reserveUnderlying,
    reserveQuote: pool.reserveQuote,
    feeRate: pool.feeRate,
    maxSell: tokenToNumber(snapshot.hedgeBalance, snapshot.underlyingDecimals),
    gasCost: spotGasQuote,
  };
  const p = snapshot.perp;
  if (p === undefined || !p.priced || p.minMarginBps === 0) return { spot };
  // The largest position the margin cap can carry at the vault's minimum: cap / (min · p).
  const openInterest = snapshot.book.reduce((sum, s) => sum + absBigint(s.sizeWad), 0n);
  const basis = openInterest > absBigint(p.sizeWad) ? openInterest : absBigint(p.sizeWad);
  const capQuote = tokenToNumber(marginOf(basis, snapshot.spotWad, p.maxMarginBps, snapshot.quoteDecimals), snapshot.quoteDecimals);
  const spotPrice = wadToNumber(snapshot.spotWad);
  const room = spotPrice > 0 ? capQuote / ((p.minMarginBps / 10_000) * spotPrice) : 0;
  const perp: PerpVenue = {
    params: perpParamsFromChain(p.params, snapshot.quoteDecimals),
    skew: wadToNumber(p.skewWad),
    fundingRate: wadToNumber(p.fundingRateWad),
    position: wadToNumber(p.sizeWad),
    maxLong: room,
    maxShort: room,
    gasCost: perpGasQuote,
  };
  return { spot, perp };
}

/**
 * This block's order for a rebalance decision on a vault with a perp market, or the AMM's alone without one; and
 * the margin move that goes first when the perp needs it (see the module's comment).
 * @param gas the gas cost of one spot hedge, quote (`view.costs.gasCostQuote`), and per gas unit
 */
export function chooseVenue(
  snapshot: VaultSnapshot,
  decision: RebalanceDecision,
  view: MarketView,
  prefs: RiskPreferences,
  opts: SizeOptions,
  gasQuotePerUnit: number,
): VenueChoice {
  const spotOnly = (): VenueChoice => ({ venue: "amm", sizing: sizeHedge(snapshot, decision, view, prefs, opts) });
  if (snapshot.perp === undefined) return spotOnly();
  const perpGas = view.costs.gasCostQuote + PERP_HEDGE_EXTRA_GAS * gasQuotePerUnit;
  const venues = venuesOf(snapshot, view.costs.gasCostQuote, perpGas);
  if (venues.perp === undefined) {
    // The vault has a market the keeper cannot use now: say why when the AMM alone cannot hedge either.
    const only = spotOnly();
    if (only.sizing.kind === "order") return only;
    const why = !snapshot.perp.priced
      ? "the perp market cannot value the vault's position (its oracle check fails)"
      : "the vault's perp margin bounds are not set (the manager calls setPerpMarginBounds)";
    return { ...only, sizing: { ...only.sizing, reason: `${only.sizing.reason}; the perp is unused: ${why}` } };
  }
  const perpVenue = venues.perp;
  const price = wadToNumber(snapshot.spotWad);
  const wanted = decision.targetDelta - view.delta;
  let split: VenueSplit | undefined;
  try {
    split = splitTrade({ size: wanted, price, spot: venues.spot, perp: perpVenue, horizonSeconds: prefs.horizonSeconds });
  } catch {
    split = undefined;
  }
  const funding = (size: number) => {
    try {
      return perpCost(size, price, { ...perpVenue, maxLong: Infinity, maxShort: Infinity }, prefs.horizonSeconds).funding;
    } catch {
      return 0;
    }
  };
  const onPerp = (target: number): SizeResult =>
    sizePerpHedge(snapshot, { ...decision, targetDelta: target }, view, prefs, { ...opts, fundingCostQuote: funding, gasCostQuote: perpGas });
  const onSpot = (target: number): SizeResult => sizeHedge(snapshot, { ...decision, targetDelta: target }, view, prefs, opts);
  const perpFirst = split === undefined ? true : Math.abs(split.perp) >= Math.abs(split.spot);
  const leg = split === undefined ? wanted : perpFirst ? split.perp : split.spot;
  const target = view.delta + leg;
  const first = perpFirst ? onPerp(target) : onSpot(target);
  if (first.kind === "order") return { venue: perpFirst ? "perp" : "amm", sizing: first, ...(split ? { split } : {}) };
  // The chosen venue refused: the other one for the whole trade.
  const second = perpFirst ? onSpot(decision.targetDelta) : onPerp(decision.targetDelta);
  if (second.kind === "order") return { venue: perpFirst ? "amm" : "perp", sizing: second, ...(split ? { split } : {}) };
  return {
    venue: perpFirst ? "perp" : "amm",
    sizing: { ...first, reason: `${perpFirst ? "perp" : "AMM"}: ${first.reason}; ${perpFirst ? "AMM" : "perp"}: ${second.reason}` },
    ...(split ? { split } : {}),
  };
}

/**
 * The margin move to make this block instead of any hedge, if the perp needs one: a top-up of a position whose
 * margin is low, the margin a wanted perp trade needs (`wantedSizeDelta`, underlying, from the plan's split or its
 * perp order), or — only when the block has no hedge to send (`hasOrder` false) — excess margin back to cash.
 * Its cost: the move's gas at `gasQuotePerUnit`, plus on a rollup the transaction's L1 data fee.
 */
export function marginFirst(
  snapshot: VaultSnapshot,
  wantedSizeDelta: number | undefined,
  gasQuotePerUnit: number,
  targets?: MarginTargets,
  hasOrder = false,
  l1DataFeeQuote = 0,
): SizeResult | undefined {
  const p = snapshot.perp;
  if (p === undefined) return undefined;
  const wantedPosition = wantedSizeDelta === undefined || wantedSizeDelta === 0 ? undefined : p.sizeWad + numberToWad(wantedSizeDelta);
  const move = planMarginMove(snapshot, wantedPosition, targets);
  if (move === undefined || (move.direction === "withdraw" && hasOrder)) return undefined;
  // A rollup's L1 data fee is per transaction: a margin move pays it as a hedge does.
  const order = marginOrder(snapshot, move, MARGIN_MOVE_GAS * gasQuotePerUnit + l1DataFeeQuote);
  return { kind: "order", order: { ...order, cappedBy: [] } };
}

/** The log's words for a margin move. */
export function describeMargin(move: { direction: string; amount: bigint; reason: string }, quoteDecimals: number): string {
  return `${move.direction} ${f(tokenToNumber(move.amount, quoteDecimals))} quote of perp margin: ${move.reason}`;
}
