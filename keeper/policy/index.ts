/**
 * When to hedge: `decide` maps one vault's `MarketView` to a `Decision` under the configured policy. Pure: no
 * client, no clock. How much to trade against the pool, and whether that particular order is worth its cost,
 * is sizing's job (keeper/sizing/size.ts), which applies the same cost/benefit rule to every policy — inside the
 * hard limit on |delta| (`MAX_ABS_DELTA`, ./hardLimit.ts), above which the keeper trades back whatever the cost.
 */
import type { Decision, MarketView, PolicyConfig, RiskPreferences } from "../types.ts";
import { band } from "./band.ts";
import { delayCap } from "./delayCap.ts";
import { everyBlock } from "./everyBlock.ts";
import { gasAware } from "./gasAware.ts";
import { applyHardLimit, NO_HARD_LIMIT } from "./hardLimit.ts";
import { interval } from "./interval.ts";
import { timeOrMove } from "./timeOrMove.ts";
import { whalleyWilmott } from "./whalleyWilmott.ts";

export { hedgeBenefitQuote } from "./benefit.ts";
export { defaultMaxAbsDelta, isOutsideLimit, NO_HARD_LIMIT, resolveMaxAbsDelta } from "./hardLimit.ts";

/** Every policy the keeper knows, by the name configuration and the simulator use. */
export const POLICY_NAMES = [
  "every-block",
  "interval",
  "band",
  "whalley-wilmott",
  "gas-aware",
  "delay-cap",
  "time-or-move",
] as const satisfies readonly PolicyConfig["name"][];
export type PolicyName = (typeof POLICY_NAMES)[number];

/**
 * The policy's verdict (a hold's cause `policy`) under the hard limit `maxAbsDelta` (underlying units, default
 * none: above it a hold becomes a trade back to the limit, see `applyHardLimit`), or a hold with cause
 * `cannot-trade` when the vault would refuse a rebalance in this block (paused, oracle unusable — stale, invalid,
 * L2 sequencer down or in its grace period — or within `minRebalanceInterval`); that hold says what the policy
 * would have done and keeps its band.
 */
export function decide(
  view: MarketView,
  policy: PolicyConfig,
  prefs: RiskPreferences,
  maxAbsDelta: number = NO_HARD_LIMIT,
): Decision {
  const verdict = applyHardLimit(evaluate(view, policy, prefs), view, maxAbsDelta);
  if (view.canTrade) return verdict;
  const would = verdict.kind === "rebalance" ? "would rebalance: " : "";
  return {
    kind: "hold",
    cause: "cannot-trade",
    reason: `vault cannot trade in this block (paused, oracle unusable or rebalance spacing); ${would}${verdict.reason}`,
    ...(verdict.band === undefined ? {} : { band: verdict.band }),
  };
}

function evaluate(view: MarketView, policy: PolicyConfig, prefs: RiskPreferences): Decision {
  switch (policy.name) {
    case "every-block":
      return everyBlock(view, policy);
    case "interval":
      return interval(view, policy);
    case "band":
      return band(view, policy);
    case "whalley-wilmott":
      return whalleyWilmott(view, policy, prefs);
    case "gas-aware":
      return gasAware(view, policy, prefs);
    case "delay-cap":
      return delayCap(view, policy);
    case "time-or-move":
      return timeOrMove(view, policy);
    default:
      return unknownPolicy(policy);
  }
}

function unknownPolicy(policy: never): never {
  throw new TypeError(`unknown policy ${JSON.stringify(policy)}`);
}
