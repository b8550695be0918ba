/**
 * How much to trade: turns a policy's `rebalance` decision into a `rebalance(buyUnderlying, amountIn,
 * minAmountOut, deadline)` order the vault will accept at the snapshot's state, or a reason to skip.
 *
 * Everything on-chain is exact bigint, mirroring `OptionVault._rebalance` / `_checkTrade` and `MockAmm`; the
 * model numbers (`MarketView`) only enter the cost/benefit rule. The order is re-checked against the vault's
 * rules (`checkRebalance`) before it is returned, so sizing never produces an order that would revert with
 * DeltaNotReduced, HedgeOvershoot, SlippageTooHigh, TradeTooLarge or InsufficientHedge at the snapshot's state.
 * (A later block can still differ: price, time and other trades move the pool and the delta.)
 */
import { hedgeBenefitQuote } from "../policy/benefit.ts";
import { formatAmount as f } from "../policy/format.ts";
import { absBigint, BPS, minBigint, mulDiv, numberToWad, tokenScale, WAD, wadToNumber } from "../pricing/wad.ts";
import type { Decision, HedgeOrder, MarketView, RiskPreferences, Sizing, VaultSnapshot } from "../types.ts";
import { executionPriceWad, getAmountIn, getAmountOut, slippageLimitWad } from "./amm.ts";

export type RebalanceDecision = Extract<Decision, { kind: "rebalance" }>;

export interface SizeOptions {
  /** The keeper's own bound on execution price vs oracle, fee included; the vault's applies when tighter. */
  maxSlippageBps?: number;
  /** `minAmountOut` = expected output less this margin, basis points. */
  minOutMarginBps: number;
}

/** The vault's (and pool's) errors a `rebalance` can revert with, by name. */
export type RebalanceErrorName =
  | "ZeroAmount"
  | "InsufficientHedge"
  | "InsufficientLiquidity"
  | "InsufficientOutput"
  | "TradeTooLarge"
  | "SlippageTooHigh"
  | "DeltaNotReduced"
  | "HedgeOvershoot";

export type RebalanceCheck =
  | { ok: true; amountOut: bigint; tradedWad: bigint; priceWad: bigint; deltaAfterWad: bigint }
  | { ok: false; error: RebalanceErrorName; detail: string };

/**
 * What `OptionVault.rebalance(buy, amountIn, minAmountOut, ·)` would do at the snapshot's state (pool reserves,
 * net delta, hedge balance, oracle spot), the state-independent checks (paused, spacing, oracle age) aside.
 * `maxSlippageBps` defaults to the vault's.
 */
export function checkRebalance(
  snapshot: VaultSnapshot,
  buy: boolean,
  amountIn: bigint,
  minAmountOut = 0n,
  maxSlippageBps = BigInt(snapshot.hedge.maxSlippageBps),
): RebalanceCheck {
  const scaleU = tokenScale(snapshot.underlyingDecimals);
  const scaleQ = tokenScale(snapshot.quoteDecimals);
  if (amountIn <= 0n) return { ok: false, error: "ZeroAmount", detail: "amountIn is 0" };
  const hedgeWad = snapshot.hedgeBalance * scaleU;
  if (!buy && amountIn * scaleU > hedgeWad) {
    return { ok: false, error: "InsufficientHedge", detail: `selling ${amountIn} with ${snapshot.hedgeBalance} held` };
  }
  const [reserveIn, reserveOut] = buy
    ? [snapshot.ammReserveQuote, snapshot.ammReserveUnderlying]
    : [snapshot.ammReserveUnderlying, snapshot.ammReserveQuote];
  if (reserveIn <= 0n || reserveOut <= 0n) return { ok: false, error: "InsufficientLiquidity", detail: "empty pool" };
  const amountOut = getAmountOut(amountIn, reserveIn, reserveOut, snapshot.ammFeeBps);
  const minOut = minAmountOut === 0n ? 1n : minAmountOut;
  if (amountOut < minOut) {
    return { ok: false, error: "InsufficientOutput", detail: `output ${amountOut} < minimum ${minOut}` };
  }
  const tradedWad = (buy ? amountOut : amountIn) * scaleU;
  if (tradedWad > snapshot.hedge.maxTradeWad) {
    return { ok: false, error: "TradeTooLarge", detail: `${tradedWad} > maxTradeWad ${snapshot.hedge.maxTradeWad}` };
  }
  const quoteWad = (buy ? amountIn : amountOut) * scaleQ;
  const priceWad = mulDiv(quoteWad, WAD, tradedWad, buy ? "up" : "down");
  const limitWad = slippageLimitWad(snapshot.spotWad, maxSlippageBps, buy);
  if (buy ? priceWad > limitWad : priceWad < limitWad) {
    return { ok: false, error: "SlippageTooHigh", detail: `execution price ${priceWad} vs limit ${limitWad}` };
  }
  const before = snapshot.netDeltaWad;
  const after = buy ? before + tradedWad : before - tradedWad;
  if (absBigint(after) >= absBigint(before)) {
    return { ok: false, error: "DeltaNotReduced", detail: `delta ${before} → ${after}` };
  }
  if (before < 0n !== after < 0n && after !== 0n && absBigint(after) > snapshot.hedge.deltaToleranceWad) {
    return {
      ok: false,
      error: "HedgeOvershoot",
      detail: `delta ${before} → ${after}, tolerance ${snapshot.hedge.deltaToleranceWad}`,
    };
  }
  return { ok: true, amountOut, tradedWad, priceWad, deltaAfterWad: after };
}

/**
 * Sizes the hedge for `decision` (see the module comment):
 *  1. wanted: from the net delta to `decision.targetDelta` — buy underlying if delta < target, else sell;
 *  2. capped by the delta rule (|after| < |before|, and at most `deltaToleranceWad` past zero), `maxTradeWad`,
 *     the hedge balance (sells) and the largest size whose execution price is within
 *     min(vault's, keeper's) `maxSlippageBps` of the oracle, fee included. A cap other than the delta rule makes
 *     the order `partial`: the rest is left to later blocks, which is how a large hedge is split;
 *  3. a buy pays `getAmountIn(wanted)` so the pool delivers at least the wanted amount, reduced by one unit of
 *     input if the pool's rounding would then break the delta rule or `maxTradeWad`;
 *  4. skipped when the cost (slippage against the oracle, fee and impact, plus gas) exceeds the benefit
 *     (`hedgeBenefitQuote`), and for dust (no input or no output).
 */
export function sizeHedge(
  snapshot: VaultSnapshot,
  decision: RebalanceDecision,
  view: MarketView,
  prefs: RiskPreferences,
  opts: SizeOptions,
): Sizing {
  const slippageBps = effectiveSlippageBps(snapshot.hedge.maxSlippageBps, opts);
  const marginBps = checkBps("minOutMarginBps", opts.minOutMarginBps);
  const scaleU = tokenScale(snapshot.underlyingDecimals);
  const reserveU = snapshot.ammReserveUnderlying;
  const reserveQ = snapshot.ammReserveQuote;
  const fee = snapshot.ammFeeBps;

  const before = snapshot.netDeltaWad;
  if (before === 0n) return skip("net delta is already 0");
  if (!Number.isFinite(decision.targetDelta)) return skip(`target delta ${decision.targetDelta} is not a number`);
  const targetWad = numberToWad(decision.targetDelta);
  if (targetWad === before) return skip("net delta is already at the target");
  const buy = before < targetWad;
  if (buy ? before > 0n : before < 0n) {
    return skip(
      `target ${f(decision.targetDelta)} lies away from zero: the trade would not reduce |delta| (DeltaNotReduced)`,
    );
  }
  if (reserveU <= 0n || reserveQ <= 0n) return skip("the AMM pool is empty");

  // 1–2. Wanted size and caps, in underlying token units (what the pool trades).
  const absBefore = absBigint(before);
  const maxByDeltaRuleWad = absBefore + minBigint(snapshot.hedge.deltaToleranceWad, absBefore - 1n);
  const wanted = absBigint(targetWad - before) / scaleU;
  const deltaRuleCap = maxByDeltaRuleWad / scaleU;
  const maxTradeCap = snapshot.hedge.maxTradeWad / scaleU;
  const inventoryCap = buy ? reserveU - 1n : snapshot.hedgeBalance;
  let size = minBigint(wanted, deltaRuleCap);
  let partial = false;
  if (maxTradeCap < size) {
    size = maxTradeCap;
    partial = true;
  }
  if (inventoryCap < size) {
    size = inventoryCap;
    partial = true;
  }
  if (size <= 0n) {
    if (wanted === 0n || deltaRuleCap === 0n) return skip(`dust: the trade is below one unit of the underlying token`);
    if (maxTradeCap === 0n) return skip("maxTradeWad is below one unit of the underlying token (TradeTooLarge)");
    if (!buy) return skip("the vault holds no underlying to sell (InsufficientHedge)");
    return skip("the pool's underlying reserve is too small");
  }

  const swap = (n: bigint): { amountIn: bigint; amountOut: bigint } => {
    if (!buy) return { amountIn: n, amountOut: getAmountOut(n, reserveU, reserveQ, fee) };
    const amountIn = getAmountIn(n, reserveQ, reserveU, fee);
    return { amountIn, amountOut: getAmountOut(amountIn, reserveQ, reserveU, fee) };
  };
  const limitWad = slippageLimitWad(snapshot.spotWad, BigInt(slippageBps), buy);
  const withinSlippage = (n: bigint): boolean => {
    const { amountIn, amountOut } = swap(n);
    if (amountIn === 0n || amountOut === 0n) return false;
    const priceWad = executionPriceWad({
      quoteDecimals: snapshot.quoteDecimals,
      underlyingDecimals: snapshot.underlyingDecimals,
      buyUnderlying: buy,
      amountIn,
      amountOut,
    });
    return buy ? priceWad <= limitWad : priceWad >= limitWad;
  };
  const sized = largestPassing(size, withinSlippage);
  if (sized === 0n) {
    return skip(
      `no size is within ${slippageBps} bps of the oracle (pool fee ${fee} bps, ${buy ? "buying" : "selling"}; ` +
        `pool or oracle off, or the trade is dust) (SlippageTooHigh)`,
    );
  }
  if (sized < size) partial = true;

  // 3. The exact swap; a buy may receive more than asked: keep the output within the delta rule and max trade.
  let { amountIn, amountOut } = swap(sized);
  if (buy) {
    const outCap = minBigint(deltaRuleCap, maxTradeCap);
    if (amountOut > outCap) {
      // getAmountIn(outCap + 1) is the least input buying more than outCap, so one unit less buys at most outCap
      // (outCap < amountOut < reserveU, so the quote exists).
      amountIn = getAmountIn(outCap + 1n, reserveQ, reserveU, fee) - 1n;
      amountOut = getAmountOut(amountIn, reserveQ, reserveU, fee);
    }
  }
  if (amountIn === 0n || amountOut === 0n) return skip("dust: the order moves nothing (zero input or output)");

  const minAmountOut = (amountOut * (BPS - BigInt(marginBps))) / BPS;
  const check = checkRebalance(snapshot, buy, amountIn, minAmountOut, BigInt(slippageBps));
  if (!check.ok) {
    return skip(`pool rounding leaves no valid order: the vault would revert with ${check.error} (${check.detail})`);
  }

  // 4. Cost against benefit, in quote units. Slippage = what the trade pays beyond the oracle value (fee and
  // impact): paid − value when buying, value − received when selling. A pool off the oracle in the vault's
  // favour costs nothing, but is not counted as a gain either: the gap may be the oracle lagging, and the
  // keeper does not trade on oracle/pool gaps — it only does not let one block a hedge that is due.
  const scaleQ = tokenScale(snapshot.quoteDecimals);
  const quoteWad = (buy ? amountIn : amountOut) * scaleQ;
  const oracleValue36 = check.tradedWad * snapshot.spotWad; // quote, 1e36 fixed point
  const againstVault36 = buy ? quoteWad * WAD - oracleValue36 : oracleValue36 - quoteWad * WAD;
  const slippageCostQuote = againstVault36 > 0n ? wadToNumber(againstVault36 / WAD) : 0;
  const totalCostQuote = slippageCostQuote + view.costs.gasCostQuote;
  const benefitQuote = hedgeBenefitQuote(view, wadToNumber(before), wadToNumber(check.deltaAfterWad), prefs);
  if (!(totalCostQuote <= benefitQuote)) {
    return skip(
      `cost ${f(totalCostQuote)} (slippage ${f(slippageCostQuote)} + gas ${f(view.costs.gasCostQuote)}) > ` +
        `benefit ${f(benefitQuote)} quote`,
    );
  }

  const order: HedgeOrder = {
    buyUnderlying: buy,
    amountIn,
    expectedOut: amountOut,
    minAmountOut,
    tradeWad: check.tradedWad,
    deltaAfterWad: check.deltaAfterWad,
    slippageBps: bpsAgainstVault(check.priceWad, snapshot.spotWad, buy),
    slippageCostQuote,
    totalCostQuote,
    benefitQuote,
    partial,
  };
  return { kind: "order", order };
}

/**
 * The largest n ≤ hi with `passes(n)`, assuming the passing sizes form an interval that starts well below hi
 * (true of the slippage bound: rounding spoils only dust-sized trades, impact only large ones): halve from hi
 * until a size passes, then bisect between it and the last failing one. 0 when nothing found passes.
 */
export function largestPassing(hi: bigint, passes: (n: bigint) => boolean): bigint {
  if (hi <= 0n) return 0n;
  if (passes(hi)) return hi;
  let failing = hi;
  let lo = hi / 2n;
  while (lo > 0n && !passes(lo)) {
    failing = lo;
    lo /= 2n;
  }
  if (lo === 0n) return 0n;
  while (failing - lo > 1n) {
    const mid = (lo + failing) / 2n;
    if (passes(mid)) lo = mid;
    else failing = mid;
  }
  return lo;
}

/** Execution price vs oracle in basis points, positive when against the vault (paid above / received below). */
function bpsAgainstVault(priceWad: bigint, spotWad: bigint, buy: boolean): number {
  if (spotWad === 0n) return Number.POSITIVE_INFINITY;
  const diff = buy ? priceWad - spotWad : spotWad - priceWad;
  // Four decimals of a basis point.
  return Number((diff * BPS * 10_000n) / spotWad) / 10_000;
}

function effectiveSlippageBps(vaultBps: number, opts: SizeOptions): number {
  const vault = checkBps("vault maxSlippageBps", vaultBps);
  if (opts.maxSlippageBps === undefined) return vault;
  return Math.min(vault, checkBps("maxSlippageBps", opts.maxSlippageBps));
}

function checkBps(name: string, bps: number): number {
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
    throw new RangeError(`${name} must be an integer number of basis points in [0, 10000], got ${bps}`);
  }
  return bps;
}

function skip(reason: string): Sizing {
  return { kind: "skip", reason };
}
