/**
 * How much to trade: turns a policy's `rebalance` decision into a `rebalance(buyUnderlying, amountIn,
 * minAmountOut, deadline)` order the vault will accept at the snapshot's state, or a reason to skip.
 *
 * Everything on-chain is exact bigint, mirroring `OptionVault.rebalance` (`_beforeTrade`, `_afterTrade`,
 * `_chargeBudget`) and `MockAmm`; the model numbers (`MarketView`) only enter the cost/benefit rule. The order is
 * re-checked against the vault's rules (`checkRebalance`) before it is returned, so sizing never produces an
 * order that would revert at the snapshot's state with any error `RebalanceErrorName` lists: within the
 * tolerance, past the hedge balance or the cash the vault may spend, too large, too far from the oracle, not
 * reducing |delta|, overshooting, or over the hedging budget left in the window.
 * (A later block can still differ: price, time and other trades move the pool, the delta and the budget.)
 */
import { hedgeBenefitQuote } from "../policy/benefit.ts";
import { formatAmount as f } from "../policy/format.ts";
import { isOutsideLimit, NO_HARD_LIMIT } from "../policy/hardLimit.ts";
import { absBigint, BPS, minBigint, mulDiv, numberToWad, tokenScale, WAD, wadToNumber } from "../pricing/wad.ts";
import type { PerpHedgeErrorName } from "./perpSize.ts";
import type { Decision, HedgeOrder, MarketView, RiskPreferences, VaultSnapshot } from "../types.ts";
import { executionPriceWad, getAmountIn, getAmountOut, slippageLimitWad } from "./amm.ts";
import { BUDGET_UNIT_WAD, fitsBudget, tradeCostWad } from "./budget.ts";

export type RebalanceDecision = Extract<Decision, { kind: "rebalance" }>;

export interface SizeOptions {
  /** The keeper's own bound on execution price vs oracle, fee included; the vault's applies when tighter. */
  maxSlippageBps?: number;
  /** `minAmountOut` = expected output less this margin, basis points. */
  minOutMarginBps: number;
  /**
   * The hard limit on |net delta|, underlying units (`MAX_ABS_DELTA`, keeper/policy/hardLimit.ts; default none):
   * above it the cost/benefit rule does not veto, and the order is bounded only by the vault's rules and the pool.
   */
  maxAbsDelta?: number;
}

/**
 * The errors a `rebalance` can revert with at a given state, by name: the vault's, the pool's, and the quote
 * token's when the vault's cash cannot pay a buy. (Paused, spacing and oracle errors depend on the block, not on
 * the order: `decide` holds on them through `MarketView.canTrade`.)
 */
/** Every error `rebalance` can revert with that the mirror (`checkRebalance`) predicts; the type is derived from it. */
export const REBALANCE_ERROR_NAMES = [
  "ZeroAmount",
  "DeltaWithinTolerance",
  "InsufficientHedge",
  "InsufficientLiquidity",
  "InsufficientOutput",
  "ERC20InsufficientBalance",
  "TradeTooLarge",
  "SlippageTooHigh",
  "DeltaNotReduced",
  "HedgeOvershoot",
  "PayoutsNotCovered",
  "NotionalBudgetExceeded",
  "SlippageBudgetExceeded",
] as const;
export type RebalanceErrorName = (typeof REBALANCE_ERROR_NAMES)[number];

export type RebalanceCheck =
  | { ok: true; amountOut: bigint; tradedWad: bigint; priceWad: bigint; deltaAfterWad: bigint }
  | { ok: false; error: RebalanceErrorName; detail: string };

/**
 * What `OptionVault.rebalance(buy, amountIn, minAmountOut, ·)` would do at the snapshot's state (pool reserves,
 * net delta, hedge and cash balances, payouts owed, oracle spot, budget left), in the vault's order of checks
 * and with its rounding; the state-independent checks (paused, spacing, oracle usability and domain) aside.
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
  // _beforeTrade: nothing may start inside the tolerance, nor sell more than is held.
  const before = snapshot.netDeltaWad;
  const toleranceWad = snapshot.hedge.deltaToleranceWad;
  if (absBigint(before) <= toleranceWad) {
    return { ok: false, error: "DeltaWithinTolerance", detail: `|delta| ${absBigint(before)} ≤ tolerance ${toleranceWad}` };
  }
  const hedgeWad = snapshot.hedgeBalance * scaleU;
  if (!buy && amountIn * scaleU > hedgeWad) {
    return { ok: false, error: "InsufficientHedge", detail: `selling ${amountIn} with ${snapshot.hedgeBalance} held` };
  }
  // The swap: the pool's checks, then it pulls the input from the vault.
  const [reserveIn, reserveOut] = buy
    ? [snapshot.ammReserveQuote, snapshot.ammReserveUnderlying]
    : [snapshot.ammReserveUnderlying, snapshot.ammReserveQuote];
  if (reserveIn <= 0n || reserveOut <= 0n) return { ok: false, error: "InsufficientLiquidity", detail: "empty pool" };
  const amountOut = getAmountOut(amountIn, reserveIn, reserveOut, snapshot.ammFeeBps);
  const minOut = minAmountOut === 0n ? 1n : minAmountOut;
  if (amountOut < minOut) {
    return { ok: false, error: "InsufficientOutput", detail: `output ${amountOut} < minimum ${minOut}` };
  }
  if (buy && amountIn > snapshot.cashBalance) {
    return { ok: false, error: "ERC20InsufficientBalance", detail: `paying ${amountIn} with ${snapshot.cashBalance} held` };
  }
  // _afterTrade. (Its ZeroAmount cannot fire after amountIn > 0 and the pool's output ≥ 1; kept in its place.)
  const tradedWad = (buy ? amountOut : amountIn) * scaleU;
  if (tradedWad === 0n) return { ok: false, error: "ZeroAmount", detail: "the trade moves no underlying" };
  if (tradedWad > snapshot.hedge.maxTradeWad) {
    return { ok: false, error: "TradeTooLarge", detail: `${tradedWad} > maxTradeWad ${snapshot.hedge.maxTradeWad}` };
  }
  const quoteWad = (buy ? amountIn : amountOut) * scaleQ;
  const priceWad = mulDiv(quoteWad, WAD, tradedWad, buy ? "up" : "down");
  const limitWad = slippageLimitWad(snapshot.spotWad, maxSlippageBps, buy);
  if (buy ? priceWad > limitWad : priceWad < limitWad) {
    return { ok: false, error: "SlippageTooHigh", detail: `execution price ${priceWad} vs limit ${limitWad}` };
  }
  const after = buy ? before + tradedWad : before - tradedWad;
  if (absBigint(after) >= absBigint(before)) {
    return { ok: false, error: "DeltaNotReduced", detail: `delta ${before} → ${after}` };
  }
  if (before < 0n !== after < 0n && after !== 0n && absBigint(after) > toleranceWad) {
    return { ok: false, error: "HedgeOvershoot", detail: `delta ${before} → ${after}, tolerance ${toleranceWad}` };
  }
  // A buy spends cash: never the cash owed to settled holders (the balance after paying amountIn).
  if (buy && snapshot.pendingPayouts !== 0n && snapshot.cashBalance - amountIn < snapshot.pendingPayouts) {
    return {
      ok: false,
      error: "PayoutsNotCovered",
      detail: `cash after the buy ${snapshot.cashBalance - amountIn} < payouts owed ${snapshot.pendingPayouts}`,
    };
  }
  // _chargeBudget: notional first, then slippage, each rounded up to whole budget units.
  const cost = tradeCostWad({ buy, tradedWad, quoteWad, spotWad: snapshot.spotWad });
  if (!fitsBudget({ notionalWad: cost.notionalWad, slippageWad: 0n }, snapshot)) {
    return {
      ok: false,
      error: "NotionalBudgetExceeded",
      detail: `notional ${cost.notionalWad} > ${snapshot.notionalLeftWad} left in the window (quote wad)`,
    };
  }
  if (!fitsBudget({ notionalWad: 0n, slippageWad: cost.slippageWad }, snapshot)) {
    return {
      ok: false,
      error: "SlippageBudgetExceeded",
      detail: `slippage ${cost.slippageWad} > ${snapshot.slippageLeftWad} left in the window (quote wad)`,
    };
  }
  return { ok: true, amountOut, tradedWad, priceWad, deltaAfterWad: after };
}

/** What cut an order short of the policy's target (the delta rule aside, which only keeps it valid). */
export type HedgeCap =
  | "maxTradeWad"
  | "hedge balance"
  | "pool reserve"
  | "cash"
  | "cash owed to settled holders"
  | "notional budget"
  | "slippage budget"
  | "slippage bound";

/** An order with the caps that cut it (empty unless `partial`), for the log line that sends it. */
export interface SizedOrder extends HedgeOrder {
  cappedBy: readonly HedgeCap[];
  /**
   * Present when the vault was outside its hard limit (`SizeOptions.maxAbsDelta`): the order is sent whatever
   * the cost/benefit rule says, and `costGateWaived` says whether that rule alone would have skipped it.
   */
  outsideLimit?: { maxAbsDelta: number; costGateWaived: boolean };
}

/** `Sizing` (types.ts), with the caps on an order and, on a skip the vault would otherwise refuse, the vault's error. */
export type SizeResult =
  | { kind: "order"; order: SizedOrder }
  | { kind: "skip"; reason: string; error?: RebalanceErrorName | PerpHedgeErrorName };

/**
 * Sizes the hedge for `decision` (see the module comment):
 *  1. skipped when |net delta| is within the vault's tolerance (DeltaWithinTolerance: the vault is hedged) or the
 *     window's notional budget is spent; wanted: from the net delta to `decision.targetDelta` — buy underlying if
 *     delta < target, else sell;
 *  2. capped by the delta rule (|after| < |before|, and at most `deltaToleranceWad` past zero), `maxTradeWad`,
 *     the hedge balance (sells), the cash the vault may spend (buys: its cash less the payouts owed to settled
 *     holders), the notional and slippage budgets left in the window, and the largest size whose execution price
 *     is within min(vault's, keeper's) `maxSlippageBps` of the oracle, fee included. Each cap is the largest
 *     size that fits it (`largestPassing`: what a trade spends, its notional and its slippage all grow with its
 *     size). A cap other than the delta rule makes the order `partial` and is named in `cappedBy`: the rest is
 *     left to later blocks (or windows), which is how a large hedge is split;
 *  3. a buy pays `getAmountIn(wanted)` so the pool delivers at least the wanted amount, reduced by one unit of
 *     input if the pool's rounding would then break the delta rule or `maxTradeWad`;
 *  4. skipped when the cost (slippage against the oracle, fee and impact, plus gas) exceeds the benefit
 *     (`hedgeBenefitQuote`) — unless |net delta| is above the hard limit `opts.maxAbsDelta`, where the order goes
 *     out whatever its cost (`outsideLimit`), bounded only by the caps above — and for dust (no input or no output).
 * A skip the vault would otherwise refuse names its error, in the reason and in `error`.
 */
export function sizeHedge(
  snapshot: VaultSnapshot,
  decision: RebalanceDecision,
  view: MarketView,
  prefs: RiskPreferences,
  opts: SizeOptions,
): SizeResult {
  const slippageBps = effectiveSlippageBps(snapshot.hedge.maxSlippageBps, opts);
  const marginBps = checkBps("minOutMarginBps", opts.minOutMarginBps);
  const scaleU = tokenScale(snapshot.underlyingDecimals);
  const scaleQ = tokenScale(snapshot.quoteDecimals);
  const reserveU = snapshot.ammReserveUnderlying;
  const reserveQ = snapshot.ammReserveQuote;
  const fee = snapshot.ammFeeBps;
  const quoteToNumber = (amount: bigint) => wadToNumber(amount * scaleQ);

  const before = snapshot.netDeltaWad;
  const toleranceWad = snapshot.hedge.deltaToleranceWad;
  if (absBigint(before) <= toleranceWad) {
    return skip(
      before === 0n
        ? "net delta is already 0 (DeltaWithinTolerance)"
        : `|net delta| ${f(wadToNumber(absBigint(before)))} is within the vault's tolerance ` +
            `${f(wadToNumber(toleranceWad))}: the vault is hedged (DeltaWithinTolerance)`,
      "DeltaWithinTolerance",
    );
  }
  if (!Number.isFinite(decision.targetDelta)) return skip(`target delta ${decision.targetDelta} is not a number`);
  const targetWad = numberToWad(decision.targetDelta);
  if (targetWad === before) return skip("net delta is already at the target");
  const buy = before < targetWad;
  if (buy ? before > 0n : before < 0n) {
    return skip(
      `target ${f(decision.targetDelta)} lies away from zero: the trade would not reduce |delta| (DeltaNotReduced)`,
      "DeltaNotReduced",
    );
  }
  if (reserveU <= 0n || reserveQ <= 0n) return skip("the AMM pool is empty", "InsufficientLiquidity");
  // Every trade moves some underlying, so its notional costs at least one budget unit.
  if (snapshot.notionalLeftWad < BUDGET_UNIT_WAD) {
    return skip(
      `the hedging notional budget (${snapshot.hedge.notionalBudget} quote per ${snapshot.hedge.budgetWindowSeconds} s) ` +
        `is spent: no hedge until the window rolls (NotionalBudgetExceeded)`,
      "NotionalBudgetExceeded",
    );
  }
  // Cash a buy may spend: never what settled holders are owed.
  const owed = snapshot.pendingPayouts;
  const spendable = snapshot.cashBalance > owed ? snapshot.cashBalance - owed : 0n;
  const cashCap: { cap: HedgeCap; error: RebalanceErrorName } =
    owed !== 0n
      ? { cap: "cash owed to settled holders", error: "PayoutsNotCovered" }
      : { cap: "cash", error: "ERC20InsufficientBalance" };
  if (buy && spendable === 0n) {
    return skip(
      owed !== 0n
        ? `the vault's cash ${f(quoteToNumber(snapshot.cashBalance))} is owed to settled holders ` +
            `(${f(quoteToNumber(owed))} unclaimed): no buy until they claim (PayoutsNotCovered)`
        : "the vault holds no cash to buy with (ERC20InsufficientBalance)",
      cashCap.error,
    );
  }

  // 1–2. Wanted size and caps, in underlying token units (what the pool trades).
  const absBefore = absBigint(before);
  const maxByDeltaRuleWad = absBefore + minBigint(toleranceWad, absBefore - 1n);
  const wanted = absBigint(targetWad - before) / scaleU;
  const deltaRuleCap = maxByDeltaRuleWad / scaleU;
  const maxTradeCap = snapshot.hedge.maxTradeWad / scaleU;
  const inventoryCap = buy ? reserveU - 1n : snapshot.hedgeBalance;
  let size = minBigint(wanted, deltaRuleCap);
  const cappedBy: HedgeCap[] = [];
  if (maxTradeCap < size) {
    size = maxTradeCap;
    cappedBy.push("maxTradeWad");
  }
  if (inventoryCap < size) {
    size = inventoryCap;
    cappedBy.push(buy ? "pool reserve" : "hedge balance");
  }
  if (size <= 0n) {
    if (wanted === 0n || deltaRuleCap === 0n) return skip(`dust: the trade is below one unit of the underlying token`);
    if (maxTradeCap === 0n) {
      return skip("maxTradeWad is below one unit of the underlying token (TradeTooLarge)", "TradeTooLarge");
    }
    if (!buy) return skip("the vault holds no underlying to sell (InsufficientHedge)", "InsufficientHedge");
    return skip("the pool's underlying reserve is too small", "InsufficientLiquidity");
  }

  const swap = (n: bigint): { amountIn: bigint; amountOut: bigint } => {
    if (!buy) return { amountIn: n, amountOut: getAmountOut(n, reserveU, reserveQ, fee) };
    const amountIn = getAmountIn(n, reserveQ, reserveU, fee);
    return { amountIn, amountOut: getAmountOut(amountIn, reserveQ, reserveU, fee) };
  };
  /** The budget cost of sizing n (`tradeCostWad`: the vault's notional and slippage, rounded against the keeper). */
  const costOf = (n: bigint) => {
    const { amountIn, amountOut } = swap(n);
    return tradeCostWad({
      buy,
      tradedWad: (buy ? amountOut : amountIn) * scaleU,
      quoteWad: (buy ? amountIn : amountOut) * scaleQ,
      spotWad: snapshot.spotWad,
    });
  };
  // The caps that grow with the size, each cut to the largest size that fits it. A size of 0 skips, naming the
  // vault's error (a notional below one unit was skipped above; here the smallest trade is too large).
  const budgetLeft = (wad: bigint) => f(wadToNumber(wad));
  const limits: { cap: HedgeCap; error: RebalanceErrorName; fits: (n: bigint) => boolean; none: () => string }[] = [
    ...(buy
      ? [
          {
            ...cashCap,
            fits: (n: bigint) => swap(n).amountIn <= spendable,
            none: () => `the vault's spendable cash ${f(quoteToNumber(spendable))} buys less than one unit of the underlying`,
          },
        ]
      : []),
    {
      cap: "notional budget",
      error: "NotionalBudgetExceeded",
      fits: (n) => fitsBudget({ notionalWad: costOf(n).notionalWad, slippageWad: 0n }, snapshot),
      none: () => `the hedging notional budget left (${budgetLeft(snapshot.notionalLeftWad)} quote) is below the smallest trade`,
    },
    {
      cap: "slippage budget",
      error: "SlippageBudgetExceeded",
      fits: (n) => fitsBudget({ notionalWad: 0n, slippageWad: costOf(n).slippageWad }, snapshot),
      none: () =>
        `the hedging slippage budget left (${budgetLeft(snapshot.slippageLeftWad)} quote) does not cover the smallest ` +
        `trade's fee and impact: no hedge until the window rolls`,
    },
  ];
  for (const limit of limits) {
    const fitting = largestPassing(size, limit.fits);
    if (fitting === 0n) return skip(`${limit.none()} (${limit.error})`, limit.error);
    if (fitting < size) {
      size = fitting;
      cappedBy.push(limit.cap);
    }
  }

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
      "SlippageTooHigh",
    );
  }
  if (sized < size) cappedBy.push("slippage bound");

  // 3. The exact swap; a buy may receive more than asked: keep the output within the delta rule and max trade.
  // (Less input spends less cash and buys less notional at less slippage: the caps above still hold.)
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
    return skip(
      `pool rounding leaves no valid order: the vault would revert with ${check.error} (${check.detail})`,
      check.error,
    );
  }

  // 4. Cost against benefit, in quote units. Slippage = what the trade pays beyond the oracle value (fee and
  // impact): paid − value when buying, value − received when selling. A pool off the oracle in the vault's
  // favour costs nothing, but is not counted as a gain either: the gap may be the oracle lagging, and the
  // keeper does not trade on oracle/pool gaps — it only does not let one block a hedge that is due.
  const quoteWad = (buy ? amountIn : amountOut) * scaleQ;
  const oracleValue36 = check.tradedWad * snapshot.spotWad; // quote, 1e36 fixed point
  const againstVault36 = buy ? quoteWad * WAD - oracleValue36 : oracleValue36 - quoteWad * WAD;
  const slippageCostQuote = againstVault36 > 0n ? wadToNumber(againstVault36 / WAD) : 0;
  const totalCostQuote = slippageCostQuote + view.costs.gasCostQuote;
  const benefitQuote = hedgeBenefitQuote(view, wadToNumber(before), wadToNumber(check.deltaAfterWad), prefs);
  const worthIt = totalCostQuote <= benefitQuote;
  // The same comparison as the policy's (`isOutsideLimit` on the view's delta), so the two never disagree.
  const maxAbsDelta = opts.maxAbsDelta ?? NO_HARD_LIMIT;
  const outside = isOutsideLimit(wadToNumber(before), maxAbsDelta);
  if (!worthIt && !outside) {
    return skip(
      `cost ${f(totalCostQuote)} (slippage ${f(slippageCostQuote)} + gas ${f(view.costs.gasCostQuote)}) > ` +
        `benefit ${f(benefitQuote)} quote`,
    );
  }

  const order: SizedOrder = {
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
    partial: cappedBy.length > 0,
    cappedBy,
    ...(outside ? { outsideLimit: { maxAbsDelta, costGateWaived: !worthIt } } : {}),
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

function skip(reason: string, error?: RebalanceErrorName): SizeResult {
  return error === undefined ? { kind: "skip", reason } : { kind: "skip", reason, error };
}
