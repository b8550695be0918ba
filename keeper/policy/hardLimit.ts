/**
 * The hard limit on a vault's |net delta| (`MAX_ABS_DELTA`): a promise, not a preference. Inside it the policy
 * decides and sizing's cost/benefit rule may veto a trade that is not worth its cost; above it the keeper always
 * trades back towards it, limited only by what it cannot change — the vault's guards (slippage bound, maxTradeWad,
 * budgets), the pool's depth, and at send time the fee cap and the gas budget.
 *
 * A policy with a band of its own (`band`) holds that band this way by default: a user who chooses a band expects
 * the band. The others have no default limit. `whalley-wilmott`'s and `gas-aware`'s bands are the cost/benefit
 * trade-off itself (they move with gamma, fees and gas), and `every-block`, `interval`, `delay-cap` and
 * `time-or-move` are named rules whose timing is the point; a fixed number of underlying units cannot be a
 * sensible default for every vault size either. Any of them takes an explicit `MAX_ABS_DELTA`, and then keeps its
 * own behaviour (the gas-aware economics, a delay-cap's delay) inside it.
 *
 * Pure: numbers in, a `Decision` out.
 */
import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

/** No hard limit: |delta| may be anything the policy and the cost/benefit rule accept. */
export const NO_HARD_LIMIT = Number.POSITIVE_INFINITY;

/**
 * The hard limit a policy has when `MAX_ABS_DELTA` is unset: the band of a `band` policy, none otherwise (see the
 * module comment for why).
 */
export function defaultMaxAbsDelta(policy: PolicyConfig): number {
  return policy.name === "band" ? policy.band : NO_HARD_LIMIT;
}

/**
 * The limit in force: `configured` when given (+Infinity: none), else the policy's default.
 * @throws RangeError when `configured` is not a positive number (0 would forbid any delta, NaN compares false).
 */
export function resolveMaxAbsDelta(policy: PolicyConfig, configured: number | undefined): number {
  if (configured === undefined) return defaultMaxAbsDelta(policy);
  if (!(configured > 0)) throw new RangeError(`MAX_ABS_DELTA must be a positive number of underlying units, got ${configured}`);
  return configured;
}

/** Whether `delta` (underlying units) is outside the hard limit. Exactly at the limit is inside. */
export function isOutsideLimit(delta: number, maxAbsDelta: number): boolean {
  return Math.abs(delta) > maxAbsDelta;
}

/**
 * The policy's `verdict` under the hard limit. Inside the limit: unchanged. Outside it:
 *  - a policy hold becomes a rebalance to the limit's edge on the current side (sign(δ)·limit: the smallest
 *    trade that brings δ back), the policy's own reason kept;
 *  - a rebalance whose target is still outside the limit aims at the edge instead (a gas-aware trade that stops
 *    short of it, a delay-cap's capped hedge);
 *  - a rebalance that already aims inside it is kept.
 * Holds the policy does not decide (`cannot-trade`, `wild-oracle`) are left to `decide` and `planBlock`.
 */
export function applyHardLimit(verdict: Decision, view: MarketView, maxAbsDelta: number): Decision {
  if (!isOutsideLimit(view.delta, maxAbsDelta)) return verdict;
  const edge = Math.sign(view.delta) * maxAbsDelta;
  const over = `hard limit: |delta| ${f(Math.abs(view.delta))} > MAX_ABS_DELTA ${f(maxAbsDelta)}`;
  const band = verdict.band === undefined ? {} : { band: verdict.band };
  if (verdict.kind === "hold") {
    if (verdict.cause !== "policy") return verdict;
    return {
      kind: "rebalance",
      targetDelta: edge,
      target: "edge",
      reason: `${over}: trading back to ${f(edge)} whatever the cost (the policy alone would hold: ${verdict.reason})`,
      ...band,
    };
  }
  if (isOutsideLimit(verdict.targetDelta, maxAbsDelta)) {
    return {
      kind: "rebalance",
      targetDelta: edge,
      target: "edge",
      reason: `${over}: trading back to ${f(edge)} whatever the cost (the policy aimed at ${f(verdict.targetDelta)}: ${verdict.reason})`,
      ...band,
    };
  }
  return { ...verdict, reason: `${verdict.reason}; ${over}: traded whatever the cost` };
}
