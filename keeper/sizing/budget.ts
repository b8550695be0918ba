/**
 * The vault's hedging budget, mirrored exactly in bigint (`OptionVault._chargeBudget`, `OptionVaultExtension
 * .hedgeStatus`): in any stretch of `budgetWindowSeconds`, the notional traded (valued at the oracle) stays within
 * `notionalBudget` and the slippage paid against the oracle (fee and impact) within `slippageBudget`.
 *
 * The vault records usage per window (`window` = timestamp / budgetWindowSeconds, kept mod 2^24) for the current
 * and the previous window, in units of `BUDGET_UNIT_WAD` (1e-4 quote) rounded up, and refuses a trade when previous
 * + current usage would exceed the budget: any stretch of one window's length lies within two consecutive windows.
 * Pure functions: the keeper sizes against the left-over budget the lens reports, the simulator's model engine keeps
 * its own `BudgetLedger` with them.
 */
import type { HedgeBounds } from "../types.ts";

/** 1e-4 quote units, in quote wad: the unit budget usage is recorded in. */
export const BUDGET_UNIT_WAD = 10n ** 14n;
const WAD = 10n ** 18n;
const UNITS_PER_QUOTE = WAD / BUDGET_UNIT_WAD;
const WINDOW_MASK = (1n << 24n) - 1n;

/** The vault's ledger (`OptionVaultBase.Ledger` without the block): usage in `BUDGET_UNIT_WAD` units. */
export interface BudgetLedger {
  /** timestamp / budgetWindowSeconds, mod 2^24. */
  window: bigint;
  notionalPrev: bigint;
  notionalCur: bigint;
  slippagePrev: bigint;
  slippageCur: bigint;
}

/** A vault that never traded: no usage. */
export const EMPTY_LEDGER: Readonly<BudgetLedger> = Object.freeze({
  window: 0n,
  notionalPrev: 0n,
  notionalCur: 0n,
  slippagePrev: 0n,
  slippageCur: 0n,
});

/** What a trade costs the budget, quote wad (the vault's rounding: against the keeper). */
export interface TradeCost {
  notionalWad: bigint;
  slippageWad: bigint;
}

/**
 * The notional (oracle value, rounded up) and slippage (quote paid beyond the oracle value rounded down when buying;
 * the oracle value rounded up beyond the quote received when selling; never negative) of a trade of `tradedWad`
 * underlying for `quoteWad` quote at `spotWad`.
 */
export function tradeCostWad(p: { buy: boolean; tradedWad: bigint; quoteWad: bigint; spotWad: bigint }): TradeCost {
  const notionalWad = (p.tradedWad * p.spotWad + WAD - 1n) / WAD;
  const fairWad = p.buy ? (p.tradedWad * p.spotWad) / WAD : notionalWad;
  const slippageWad = p.buy ? (p.quoteWad > fairWad ? p.quoteWad - fairWad : 0n) : fairWad > p.quoteWad ? fairWad - p.quoteWad : 0n;
  return { notionalWad, slippageWad };
}

/** The ledger as of `timestamp`: unchanged in the same window, shifted (current → previous) in the next, cleared after. */
export function rolledLedger(ledger: BudgetLedger, budgetWindowSeconds: number, timestamp: bigint): BudgetLedger {
  const window = timestamp / BigInt(budgetWindowSeconds);
  if ((window & WINDOW_MASK) === ledger.window) return { ...ledger, window: window & WINDOW_MASK };
  if (((window - 1n) & WINDOW_MASK) === ledger.window) {
    return { window: window & WINDOW_MASK, notionalPrev: ledger.notionalCur, notionalCur: 0n, slippagePrev: ledger.slippageCur, slippageCur: 0n };
  }
  return { ...EMPTY_LEDGER, window: window & WINDOW_MASK };
}

/** The budget left at `timestamp` (quote wad), as `hedgeStatus()` reports it. */
export function budgetLeftWad(ledger: BudgetLedger, hedge: HedgeBounds, timestamp: bigint): { notionalLeftWad: bigint; slippageLeftWad: bigint } {
  const r = rolledLedger(ledger, hedge.budgetWindowSeconds, timestamp);
  const left = (budget: number, used: bigint) => {
    const units = BigInt(budget) * UNITS_PER_QUOTE;
    return units > used ? (units - used) * BUDGET_UNIT_WAD : 0n;
  };
  return {
    notionalLeftWad: left(hedge.notionalBudget, r.notionalPrev + r.notionalCur),
    slippageLeftWad: left(hedge.slippageBudget, r.slippagePrev + r.slippageCur),
  };
}

const unitsUp = (wad: bigint) => (wad + BUDGET_UNIT_WAD - 1n) / BUDGET_UNIT_WAD;

export type BudgetCharge =
  | { ok: true; ledger: BudgetLedger }
  | { ok: false; error: "NotionalBudgetExceeded" | "SlippageBudgetExceeded"; usedWad: bigint; budgetWad: bigint };

/** Charges `cost` at `timestamp`: the new ledger, or the vault's error when the budget would be exceeded. */
export function chargeBudget(ledger: BudgetLedger, hedge: HedgeBounds, timestamp: bigint, cost: TradeCost): BudgetCharge {
  const r = rolledLedger(ledger, hedge.budgetWindowSeconds, timestamp);
  const notionalCur = r.notionalCur + unitsUp(cost.notionalWad);
  const slippageCur = r.slippageCur + unitsUp(cost.slippageWad);
  const notionalUsed = r.notionalPrev + notionalCur;
  if (notionalUsed > BigInt(hedge.notionalBudget) * UNITS_PER_QUOTE) {
    return { ok: false, error: "NotionalBudgetExceeded", usedWad: notionalUsed * BUDGET_UNIT_WAD, budgetWad: BigInt(hedge.notionalBudget) * WAD };
  }
  const slippageUsed = r.slippagePrev + slippageCur;
  if (slippageUsed > BigInt(hedge.slippageBudget) * UNITS_PER_QUOTE) {
    return { ok: false, error: "SlippageBudgetExceeded", usedWad: slippageUsed * BUDGET_UNIT_WAD, budgetWad: BigInt(hedge.slippageBudget) * WAD };
  }
  return { ok: true, ledger: { ...r, notionalCur, slippageCur } };
}

/**
 * Whether a trade costing `cost` fits the budget left a snapshot reports (`notionalLeftWad`, `slippageLeftWad`):
 * usage rounds up to whole units, so a cost fits when its rounded-up units do.
 */
export function fitsBudget(cost: TradeCost, left: { notionalLeftWad: bigint; slippageLeftWad: bigint }): boolean {
  return unitsUp(cost.notionalWad) * BUDGET_UNIT_WAD <= left.notionalLeftWad && unitsUp(cost.slippageWad) * BUDGET_UNIT_WAD <= left.slippageLeftWad;
}
