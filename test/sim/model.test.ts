/**
 * The model engine's rebalance (`executeRebalance`), without a chain: the vault's rules in the model refuse what the
 * vault refuses — a rebalance starting within the tolerance, one over the hedging budget left in the window, one
 * too soon or on a stale oracle — each leaving the budget ledger as it was, and charge the ledger exactly as
 * `_chargeBudget` does when they accept. (test/sim/budget.test.ts holds the same rules against a fork.)
 */
import { describe, expect, it } from "vitest";
import { chargeBudget, EMPTY_LEDGER, tradeCostWad, type BudgetLedger } from "../../keeper/sizing/budget.ts";
import { getAmountIn, getAmountOut } from "../../keeper/sizing/amm.ts";
import type { HedgeOrder } from "../../keeper/types.ts";
import { executeRebalance, type VaultState } from "../../sim/model.ts";
import { DEFAULT_SCENARIO, initialSnapshot, type Scenario } from "../../sim/scenario.ts";

const WAD = 10n ** 18n;
const scenario: Scenario = { ...DEFAULT_SCENARIO, hedge: { ...DEFAULT_SCENARIO.hedge, budgetWindowSeconds: 600, slippageBudget: 5 } };
const start = initialSnapshot(scenario);
const at = { blockNumber: start.blockNumber + 1n, timestamp: start.timestamp + 12n };

/** A buy of `underlying` ETH at the snapshot's pool, as sizing would send it. */
function buy(underlying: bigint): HedgeOrder {
  const amountIn = getAmountIn(underlying, start.ammReserveQuote, start.ammReserveUnderlying, start.ammFeeBps);
  const expectedOut = getAmountOut(amountIn, start.ammReserveQuote, start.ammReserveUnderlying, start.ammFeeBps);
  return {
    buyUnderlying: true,
    amountIn,
    expectedOut,
    minAmountOut: 0n,
    tradeWad: expectedOut,
    deltaAfterWad: 0n,
    slippageBps: 0,
    slippageCostQuote: 0,
    totalCostQuote: 0,
    benefitQuote: 0,
    partial: false,
  };
}

function state(netDeltaWad: bigint, budget: BudgetLedger = EMPTY_LEDGER): VaultState {
  return { last: start, netDeltaWad, oracleUpdatedAt: start.oracleUpdatedAt, budget };
}

describe("executeRebalance: the vault's rules in the model", () => {
  it("accepts a hedge and charges the ledger as _chargeBudget does", () => {
    const order = buy(WAD / 2n); // 0.5 ETH: ~1,500 of notional, ~4.5 of fee
    const done = executeRebalance(state(-WAD / 2n), order, at);
    expect(done.ok).toBe(true);
    if (!done.ok) return;
    const cost = tradeCostWad({ buy: true, tradedWad: done.tradedWad, quoteWad: order.amountIn * 10n ** 12n, spotWad: start.spotWad });
    const expected = chargeBudget(EMPTY_LEDGER, scenario.hedge, at.timestamp, cost);
    if (!expected.ok) throw new Error(expected.error);
    expect(done.budget).toEqual(expected.ledger);
    expect(done.budget.slippageCur).toBeGreaterThan(40_000n); // > 4 quote, in 1e-4 units
  });

  it("refuses to start within the tolerance (DeltaWithinTolerance), the ledger unchanged", () => {
    const s = state(-(WAD / 10n)); // exactly the tolerance: still refused
    expect(executeRebalance(s, buy(WAD / 20n), at)).toEqual({ ok: false, error: "DeltaWithinTolerance" });
    expect(s.budget).toBe(EMPTY_LEDGER);
  });

  it("refuses a hedge over the slippage budget left in the window, then accepts it two windows later", () => {
    const order = buy(WAD / 2n);
    const first = executeRebalance(state(-WAD), order, at);
    if (!first.ok) throw new Error(first.error);
    const spent = first.budget;
    // The same hedge again in the same window: ~9 of slippage against a budget of 5.
    const later = { blockNumber: at.blockNumber + 1n, timestamp: at.timestamp + 12n };
    const again = state(-WAD, spent);
    expect(executeRebalance({ ...again, last: { ...start, lastRebalanceBlock: at.blockNumber } }, order, later)).toEqual({
      ok: false,
      error: "SlippageBudgetExceeded",
    });
    expect(again.budget).toBe(spent);
    // Two windows on, the usage has rolled out of both.
    const rolled = { blockNumber: at.blockNumber + 200n, timestamp: at.timestamp + 1200n };
    const fresh = { ...again, oracleUpdatedAt: rolled.timestamp, last: { ...start, lastRebalanceBlock: at.blockNumber } };
    expect(executeRebalance(fresh, order, rolled).ok).toBe(true);
  });

  it("refuses a hedge too soon after the last one, or on an oracle older than maxOracleAge", () => {
    const s = state(-WAD);
    const sameBlock = { ...s, last: { ...start, lastRebalanceBlock: at.blockNumber } };
    expect(executeRebalance(sameBlock, buy(WAD / 2n), at)).toEqual({ ok: false, error: "RebalanceTooSoon" });
    const stale = { blockNumber: at.blockNumber, timestamp: start.oracleUpdatedAt + BigInt(scenario.hedge.maxOracleAge) + 1n };
    expect(executeRebalance(s, buy(WAD / 2n), stale)).toEqual({ ok: false, error: "StaleOracle" });
  });
});
