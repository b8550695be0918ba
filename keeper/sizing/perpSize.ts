/**
 * The perp venue's sizing (issue 14): `hedgePerp(sizeDelta, acceptablePrice, deadline)` orders the vault will accept
 * at the snapshot's state, and the margin the keeper moves (`postPerpMargin`, `withdrawPerpMargin`). Pure functions.
 *
 * On-chain values are exact bigint, mirroring `OptionVault.hedgePerp` (`_beforeTrade`, `_afterPerpTrade`,
 * `_afterTrade`) and `MockPerpMarket` formulas (3) and (4) with their rounding; the model numbers (`MarketView`) only
 * enter the cost/benefit rule, as for the AMM (`sizeHedge` in ./size.ts). The margin after a trade is estimated from
 * the position the market valued at the read: the funding that accrues until the trade lands is not known, so the
 * sizing keeps `MARGIN_HEADROOM_BPS` of room above the vault's minimum.
 */
import { hedgeBenefitQuote } from "../policy/benefit.ts";
import { formatAmount as f } from "../policy/format.ts";
import { isOutsideLimit, NO_HARD_LIMIT } from "../policy/hardLimit.ts";
import { absBigint, BPS, minBigint, mulDiv, numberToWad, tokenScale, WAD, wadToNumber } from "../pricing/wad.ts";
import type { HedgeOrder, MarginMove, MarketView, PerpLeg, PerpSnapshot, RiskPreferences, VaultSnapshot } from "../types.ts";
import { fitsBudget } from "./budget.ts";
import { largestPassing, type RebalanceDecision, type SizedOrder, type SizeOptions, type SizeResult } from "./size.ts";

/** Room kept above the vault's minimum margin after a perp trade, basis points of the minimum (funding until landing). */
export const MARGIN_HEADROOM_BPS = 1_000n;

/** Formula (3): fill(D) = p · (2S + [K] + [K + D]) / (2S), [x] = clamp(x, −S, S); up for D > 0, down otherwise. */
export function perpFillWad(spotWad: bigint, skewWad: bigint, sizeDeltaWad: bigint, skewScaleWad: bigint): bigint {
  const clamp = (x: bigint) => (x > skewScaleWad ? skewScaleWad : x < -skewScaleWad ? -skewScaleWad : x);
  const numerator = 2n * skewScaleWad + clamp(skewWad) + clamp(skewWad + sizeDeltaWad);
  return mulDiv(spotWad, numerator, 2n * skewScaleWad, sizeDeltaWad > 0n ? "up" : "down");
}

/** Formula (4): the maker part of D (towards zero skew) at makerFeeBps, the rest at takerFeeBps, on the fill; quote units, up. */
export function perpOrderFee(perp: Pick<PerpSnapshot, "skewWad" | "params">, sizeDeltaWad: bigint, fillWad: bigint, quoteDecimals: number): bigint {
  const absDelta = absBigint(sizeDeltaWad);
  const k = perp.skewWad;
  const maker = (k > 0n && sizeDeltaWad < 0n) || (k < 0n && sizeDeltaWad > 0n) ? minBigint(absDelta, absBigint(k)) : 0n;
  const weighted = maker * perp.params.makerFeeBps + (absDelta - maker) * perp.params.takerFeeBps;
  return mulDiv(weighted, fillWad, BPS * WAD * tokenScale(quoteDecimals), "up");
}

/** The position's effective margin (formula (7): remaining less the premium credit), quote units, signed. */
export function effectiveMargin(perp: PerpSnapshot): bigint {
  return perp.margin + perp.pnl + perp.funding - perp.premiumCredit;
}

/** `bps` of the notional of `sizeWad` at `spotWad`, quote units rounded up (the vault's `_marginOf`). */
export function marginOf(sizeWad: bigint, spotWad: bigint, bps: number, quoteDecimals: number): bigint {
  return mulDiv((absBigint(sizeWad) * spotWad) / WAD, BigInt(bps), BPS * tokenScale(quoteDecimals), "up");
}

/** The effective margin as basis points of the position's notional at the oracle; +Infinity without a position. */
export function marginRatioBps(snapshot: VaultSnapshot): number {
  const perp = snapshot.perp;
  if (perp === undefined || perp.sizeWad === 0n) return Number.POSITIVE_INFINITY;
  const notional = (absBigint(perp.sizeWad) * snapshot.spotWad) / WAD / tokenScale(snapshot.quoteDecimals);
  if (notional === 0n) return Number.POSITIVE_INFINITY;
  return Number((effectiveMargin(perp) * BPS * 1000n) / notional) / 1000;
}

/** The errors `hedgePerp` can revert with that `checkPerpHedge` predicts at a state. */
export const PERP_HEDGE_ERROR_NAMES = [
  "ZeroSize",
  "DeltaWithinTolerance",
  "MaxSkewExceeded",
  "TradeTooLarge",
  "SlippageTooHigh",
  "DeltaNotReduced",
  "HedgeOvershoot",
  "NotionalBudgetExceeded",
  "SlippageBudgetExceeded",
  "PerpMarginTooLow",
] as const;
export type PerpHedgeErrorName = (typeof PERP_HEDGE_ERROR_NAMES)[number];

export type PerpHedgeCheck =
  | { ok: true; fillWad: bigint; fee: bigint; deltaAfterWad: bigint; notionalWad: bigint; slippageWad: bigint; effectiveAfter: bigint; requiredMargin: bigint }
  | { ok: false; error: PerpHedgeErrorName; detail: string };

/**
 * What `hedgePerp(sizeDeltaWad, ·, ·)` would do at the snapshot's state, in the vault's order of checks and with its
 * rounding (paused, spacing and the oracle aside, as for `checkRebalance`). The margin check requires
 * `MARGIN_HEADROOM_BPS` more than the vault (`headroom` false: exactly the vault's rule).
 */
export function checkPerpHedge(snapshot: VaultSnapshot, sizeDeltaWad: bigint, maxSlippageBps = BigInt(snapshot.hedge.maxSlippageBps), headroom = true): PerpHedgeCheck {
  const perp = snapshot.perp;
  if (perp === undefined) throw new Error(`vault ${snapshot.vault} has no perp market`);
  if (sizeDeltaWad === 0n) return { ok: false, error: "ZeroSize", detail: "size 0" };
  const before = snapshot.netDeltaWad;
  const tol = snapshot.hedge.deltaToleranceWad;
  if (absBigint(before) <= tol) return { ok: false, error: "DeltaWithinTolerance", detail: `|delta| ${absBigint(before)} ≤ ${tol}` };
  const S = perp.params.skewScale;
  const skewAfter = perp.skewWad + sizeDeltaWad;
  const reducesSkew = absBigint(perp.skewWad) > S && absBigint(skewAfter) < absBigint(perp.skewWad) && (skewAfter >= 0n) === (perp.skewWad >= 0n);
  if (absBigint(skewAfter) > S && !reducesSkew) return { ok: false, error: "MaxSkewExceeded", detail: `skew ${skewAfter} beyond ${S}` };
  const size = absBigint(sizeDeltaWad);
  if (size > snapshot.hedge.maxTradeWad) return { ok: false, error: "TradeTooLarge", detail: `${size} > maxTradeWad ${snapshot.hedge.maxTradeWad}` };
  const buy = sizeDeltaWad > 0n;
  const spot = snapshot.spotWad;
  const scaleQ = tokenScale(snapshot.quoteDecimals);
  const fillWad = perpFillWad(spot, perp.skewWad, sizeDeltaWad, S);
  const fee = perpOrderFee(perp, sizeDeltaWad, fillWad, snapshot.quoteDecimals);
  const feeWad = fee * scaleQ;
  const atFill = mulDiv(size, fillWad, WAD, buy ? "up" : "down");
  const quoteWad = buy ? atFill + feeWad : atFill > feeWad ? atFill - feeWad : 0n;
  const notionalWad = (size * spot + WAD - 1n) / WAD;
  const fairWad = buy ? (size * spot) / WAD : notionalWad;
  let after: bigint;
  let slippageWad = 0n;
  if (buy) {
    const paid = (quoteWad * WAD + size - 1n) / size;
    const limit = (spot * (BPS + maxSlippageBps)) / BPS;
    if (paid > limit) return { ok: false, error: "SlippageTooHigh", detail: `all-in ${paid} vs limit ${limit}` };
    after = before + size;
    if (quoteWad > fairWad) slippageWad = quoteWad - fairWad;
  } else {
    const received = (quoteWad * WAD) / size;
    const limit = (spot * (BPS - maxSlippageBps)) / BPS;
    if (received < limit) return { ok: false, error: "SlippageTooHigh", detail: `all-in ${received} vs limit ${limit}` };
    after = before - size;
    if (fairWad > quoteWad) slippageWad = fairWad - quoteWad;
  }
  if (absBigint(after) >= absBigint(before)) return { ok: false, error: "DeltaNotReduced", detail: `delta ${before} → ${after}` };
  if (before < 0n !== after < 0n && after !== 0n && absBigint(after) > tol) {
    return { ok: false, error: "HedgeOvershoot", detail: `delta ${before} → ${after}, tolerance ${tol}` };
  }
  if (!fitsBudget({ notionalWad, slippageWad: 0n }, snapshot)) {
    return { ok: false, error: "NotionalBudgetExceeded", detail: `notional ${notionalWad} > ${snapshot.notionalLeftWad} left` };
  }
  if (!fitsBudget({ notionalWad: 0n, slippageWad }, snapshot)) {
    return { ok: false, error: "SlippageBudgetExceeded", detail: `slippage ${slippageWad} > ${snapshot.slippageLeftWad} left` };
  }
  // The margin after the trade: settled at the fill (P&L at p plus size · (fill − p), and the funding), less the fee,
  // less the new position's paper gap max(0, size · (fill − p)).
  const posBefore = perp.sizeWad;
  const posAfter = posBefore + sizeDeltaWad;
  const settledGap = (posBefore * (fillWad - spot)) / WAD / scaleQ;
  const marginAfter = perp.margin + perp.pnl + perp.funding + settledGap - fee;
  const gapAfter = (posAfter * (fillWad - spot)) / WAD;
  const effectiveAfter = marginAfter - (gapAfter > 0n ? (gapAfter + scaleQ - 1n) / scaleQ : 0n);
  const reducesOnly = (posAfter >= 0n) === (posBefore >= 0n) && absBigint(posAfter) < absBigint(posBefore);
  const minimum = marginOf(posAfter, spot, perp.minMarginBps, snapshot.quoteDecimals);
  const requiredMargin = headroom ? (minimum * (BPS + MARGIN_HEADROOM_BPS)) / BPS : minimum;
  if (!reducesOnly && posAfter !== 0n && effectiveAfter < requiredMargin) {
    return { ok: false, error: "PerpMarginTooLow", detail: `margin after ${effectiveAfter} < ${requiredMargin} required` };
  }
  return { ok: true, fillWad, fee, deltaAfterWad: after, notionalWad, slippageWad, effectiveAfter, requiredMargin };
}

/**
 * Sizes the perp hedge for `decision`, as `sizeHedge` does for the AMM: from the net delta towards the target,
 * capped by the delta rule, `maxTradeWad`, the skew cap, the budgets, the all-in slippage bound and the margin
 * (the largest size each allows); skipped when the cost (fee, impact and gas, plus the funding the position is
 * expected to pay over the risk horizon) exceeds the benefit, unless |net delta| is above the hard limit.
 * @param fundingCostQuote the expected funding cost of the order over the horizon (from `perpCost`), quote
 */
export function sizePerpHedge(
  snapshot: VaultSnapshot,
  decision: RebalanceDecision,
  view: MarketView,
  prefs: RiskPreferences,
  opts: SizeOptions & { fundingCostQuote?: (sizeDelta: number) => number; gasCostQuote?: number },
): SizeResult {
  const perp = snapshot.perp;
  if (perp === undefined) return { kind: "skip", reason: "the vault has no perp market" };
  if (!perp.priced) return { kind: "skip", reason: "the perp market cannot value the vault's position (its oracle check fails)" };
  const slippageBps = BigInt(Math.min(snapshot.hedge.maxSlippageBps, opts.maxSlippageBps ?? Number.POSITIVE_INFINITY));
  const before = snapshot.netDeltaWad;
  const tol = snapshot.hedge.deltaToleranceWad;
  if (absBigint(before) <= tol) return { kind: "skip", reason: `|net delta| within the vault's tolerance (DeltaWithinTolerance)`, error: "DeltaWithinTolerance" };
  if (!Number.isFinite(decision.targetDelta)) return { kind: "skip", reason: `target delta ${decision.targetDelta} is not a number` };
  const targetWad = numberToWad(decision.targetDelta);
  if (targetWad === before) return { kind: "skip", reason: "net delta is already at the target" };
  const buy = before < targetWad;
  if (buy ? before > 0n : before < 0n) return { kind: "skip", reason: "target lies away from zero (DeltaNotReduced)", error: "DeltaNotReduced" };
  const absBefore = absBigint(before);
  const deltaRuleCap = absBefore + minBigint(tol, absBefore - 1n);
  let size = minBigint(absBigint(targetWad - before), deltaRuleCap);
  const cappedBy: string[] = [];
  const capTo = (cap: bigint, why: string) => {
    if (cap < size) {
      size = cap;
      cappedBy.push(why);
    }
  };
  capTo(snapshot.hedge.maxTradeWad, "maxTradeWad");
  const S = perp.params.skewScale;
  capTo(buy ? S - perp.skewWad : S + perp.skewWad, "perp skew cap");
  if (size <= 0n) return { kind: "skip", reason: "the perp's skew cap or maxTradeWad leaves no size", error: "MaxSkewExceeded" };
  const signed = (n: bigint) => (buy ? n : -n);
  const passes = (n: bigint) => checkPerpHedge(snapshot, signed(n), slippageBps).ok;
  const sized = largestPassing(size, passes);
  if (sized === 0n) {
    const check = checkPerpHedge(snapshot, signed(size), slippageBps);
    const error = check.ok ? undefined : check.error;
    return { kind: "skip", reason: `no perp size passes the vault's rules: ${check.ok ? "" : `${check.error} (${check.detail})`}`, ...(error ? { error: error as never } : {}) };
  }
  if (sized < size) {
    const failed = checkPerpHedge(snapshot, signed(size), slippageBps);
    cappedBy.push(failed.ok ? "rounding" : failed.error === "PerpMarginTooLow" ? "perp margin" : failed.error);
  }
  const check = checkPerpHedge(snapshot, signed(sized), slippageBps);
  if (!check.ok) return { kind: "skip", reason: `${check.error} (${check.detail})` };
  const scaleQ = tokenScale(snapshot.quoteDecimals);
  const spot = snapshot.spotWad;
  const slippageCostQuote = wadToNumber(check.slippageWad);
  const fundingCostQuote = opts.fundingCostQuote?.(wadToNumber(signed(sized))) ?? 0;
  const gas = opts.gasCostQuote ?? view.costs.gasCostQuote;
  const totalCostQuote = slippageCostQuote + gas + fundingCostQuote;
  const benefitQuote = hedgeBenefitQuote(view, wadToNumber(before), wadToNumber(check.deltaAfterWad), prefs);
  const worthIt = totalCostQuote <= benefitQuote;
  const maxAbsDelta = opts.maxAbsDelta ?? NO_HARD_LIMIT;
  const outside = isOutsideLimit(wadToNumber(before), maxAbsDelta);
  if (!worthIt && !outside) {
    return {
      kind: "skip",
      reason: `perp cost ${f(totalCostQuote)} (fee and impact ${f(slippageCostQuote)} + gas ${f(gas)} + funding ${f(fundingCostQuote)}) > benefit ${f(benefitQuote)} quote`,
    };
  }
  const margin = BigInt(opts.minOutMarginBps);
  const acceptablePriceWad = buy ? (check.fillWad * (BPS + margin)) / BPS : (check.fillWad * (BPS - margin)) / BPS;
  const allIn = buy ? check.fillWad + (check.fee * scaleQ * WAD) / sized : check.fillWad - (check.fee * scaleQ * WAD) / sized;
  const slip = spot === 0n ? 0 : (Number(buy ? allIn - spot : spot - allIn) / Number(spot)) * 10_000;
  const order: SizedOrder & { perp: PerpLeg } = {
    buyUnderlying: buy,
    amountIn: sized,
    expectedOut: sized,
    minAmountOut: 0n,
    tradeWad: sized,
    deltaAfterWad: check.deltaAfterWad,
    slippageBps: slip,
    slippageCostQuote,
    totalCostQuote,
    benefitQuote,
    partial: cappedBy.length > 0,
    cappedBy: cappedBy as SizedOrder["cappedBy"],
    perp: { sizeDeltaWad: signed(sized), acceptablePriceWad, fillPriceWad: check.fillWad, fee: check.fee },
    ...(outside ? { outsideLimit: { maxAbsDelta, costGateWaived: !worthIt } } : {}),
  };
  return { kind: "order", order };
}

/** The keeper's margin targets, basis points of the position's notional. */
export interface MarginTargets {
  /** Top up when the effective margin falls below this (default: halfway from the vault's minimum to `target`). */
  topUpBps: number;
  /** What a top-up or a withdrawal aims at (default: halfway between the vault's bounds). */
  targetBps: number;
}

/** The default targets from the vault's bounds: aim halfway between them, top up halfway down to the minimum. */
export function defaultMarginTargets(perp: Pick<PerpSnapshot, "minMarginBps" | "maxMarginBps">): MarginTargets {
  const targetBps = Math.round((perp.minMarginBps + perp.maxMarginBps) / 2);
  return { targetBps, topUpBps: Math.round((perp.minMarginBps + targetBps) / 2) };
}

/**
 * The margin move this block needs, if any (checked before any perp hedge: a vault gets one transaction a block).
 * A margin move costs a transaction (~115–135k gas), so margin is sized for the hedge the book may need after a
 * 10% move — the larger of the position and |book delta| + |book gamma| · S · 10% — and left in place between
 * hedges rather than moved back and forth with each:
 * - a top-up to `targetBps` of that notional when the effective margin is below `topUpBps` of the position's
 *   notional (or the position is liquidatable), or when it does not cover the minimum of the position a wanted
 *   perp trade would leave (`wantedPositionWad`);
 * - a withdrawal only of what the vault's own cap would no longer allow (above `maxMarginBps` of max(open
 *   interest, |position|), as after the book shrank), down to that cap; and of all of it once the book is empty
 *   and no position is left.
 * A top-up is capped by the vault's own cap (`maxMarginBps` of max(open interest, |position|)) and by its cash less
 * unclaimed payouts; the collateral the book requires is checked by the vault (`InsufficientCollateral`).
 */
export function planMarginMove(snapshot: VaultSnapshot, wantedPositionWad?: bigint, targets?: MarginTargets): MarginMove | undefined {
  const perp = snapshot.perp;
  if (perp === undefined || !perp.priced || perp.maxMarginBps === 0) return undefined;
  const t = targets ?? defaultMarginTargets(perp);
  const spot = snapshot.spotWad;
  const q = snapshot.quoteDecimals;
  const effective = effectiveMargin(perp);
  const position = perp.sizeWad;
  const openInterest = snapshot.book.reduce((sum, s) => sum + absBigint(s.sizeWad), 0n);
  const cap = marginOf(openInterest > absBigint(position) ? openInterest : position, spot, perp.maxMarginBps, q);
  const cash = snapshot.cashBalance > snapshot.pendingPayouts ? snapshot.cashBalance - snapshot.pendingPayouts : 0n;
  const bookNeed = absBigint(snapshot.bookDeltaWad) + (absBigint(snapshot.gammaWad) * spot) / WAD / 10n;
  /** The size margin is sized for: the larger of `position` and the hedge the book may need after a 10% move. */
  const basis = (position: bigint) => (absBigint(position) > bookNeed ? absBigint(position) : bookNeed);
  const post = (want: bigint, reason: string): MarginMove | undefined => {
    const room = cap - effective;
    const amount = minBigint(minBigint(want, room), cash);
    return amount > 0n ? { direction: "post", amount, reason } : undefined;
  };
  if (position !== 0n) {
    const ratio = marginRatioBps(snapshot);
    if (perp.liquidatable || ratio < t.topUpBps) {
      const want = marginOf(basis(position), spot, t.targetBps, q) - effective;
      return post(want, `margin ${ratio.toFixed(0)} bps of notional < top-up ${t.topUpBps} bps${perp.liquidatable ? " (liquidatable)" : ""}`);
    }
  }
  if (wantedPositionWad !== undefined && wantedPositionWad !== 0n) {
    const minimum = (marginOf(wantedPositionWad, spot, perp.minMarginBps, q) * (BPS + MARGIN_HEADROOM_BPS)) / BPS;
    const reducesOnly = (wantedPositionWad >= 0n) === (position >= 0n) && absBigint(wantedPositionWad) < absBigint(position);
    if (!reducesOnly && effective < minimum) {
      return post(marginOf(basis(wantedPositionWad), spot, t.targetBps, q) - effective, `margin for a perp position of ${f(wadToNumber(wantedPositionWad))}`);
    }
  }
  if (wantedPositionWad !== undefined && wantedPositionWad !== 0n) return undefined;
  if (openInterest === 0n && position === 0n) {
    return perp.margin > 0n ? { direction: "withdraw", amount: perp.margin, reason: "an empty book and no perp position: margin back to cash" } : undefined;
  }
  if (effective > cap) {
    const amount = minBigint(effective - cap, perp.margin);
    if (amount > 0n) return { direction: "withdraw", amount, reason: `margin above the vault's cap (${perp.maxMarginBps} bps of max(open interest, |position|))` };
  }
  return undefined;
}

/** A margin move as an order for the send path (no trade: its delta is unchanged, its cost is its gas). */
export function marginOrder(snapshot: VaultSnapshot, move: MarginMove, gasCostQuote: number): HedgeOrder & { margin: MarginMove; cappedBy: readonly never[] } {
  return {
    buyUnderlying: false,
    amountIn: move.amount,
    expectedOut: 0n,
    minAmountOut: 0n,
    tradeWad: 0n,
    deltaAfterWad: snapshot.netDeltaWad,
    slippageBps: 0,
    slippageCostQuote: 0,
    totalCostQuote: gasCostQuote,
    benefitQuote: 0,
    partial: false,
    margin: move,
    cappedBy: [],
  };
}
