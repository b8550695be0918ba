/**
 * When to hedge: `decide` maps one vault's `MarketView` to a `Decision` under the configured policy. Pure: no
 * client, no clock. How much to trade against the pool, and whether that particular order is worth its cost,
 * is sizing's job (keeper/sizing/size.ts), which applies the same cost/benefit rule to every policy.
 */
import type { Decision, MarketView, PolicyConfig, RiskPreferences } from "../types.ts";
import { band } from "./band.ts";
import { delayCap } from "./delayCap.ts";
import { everyBlock } from "./everyBlock.ts";
import { gasAware } from "./gasAware.ts";
import { interval } from "./interval.ts";
import { timeOrMove } from "./timeOrMove.ts";
import { whalleyWilmott } from "./whalleyWilmott.ts";

export { hedgeBenefitQuote } from "./benefit.ts";

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
 * The policy's verdict (a hold's cause `policy`), or a hold with cause `cannot-trade` when the vault would refuse a
 * rebalance in this block (paused, oracle unusable — stale, invalid, L2 sequencer down or in its grace period — or
 * within `minRebalanceInterval`); that hold says what the policy would have done and keeps its band.
 */
export function decide(view: MarketView, policy: PolicyConfig, prefs: RiskPreferences): Decision {
  const verdict = evaluate(view, policy, prefs);
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
