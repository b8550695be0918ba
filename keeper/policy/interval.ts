import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

export type IntervalPolicy = Extract<PolicyConfig, { name: "interval" }>;

/** Hedge to zero once `intervalBlocks` blocks have passed since the last hedge, if |δ| exceeds `minTrade`. */
export function interval(view: MarketView, policy: IntervalPolicy): Decision {
  const absDelta = Math.abs(view.delta);
  if (view.blocksSinceHedge < policy.intervalBlocks) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `interval: ${view.blocksSinceHedge} of ${policy.intervalBlocks} blocks since the last hedge`,
    };
  }
  if (absDelta <= policy.minTrade) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `interval: |delta| ${f(absDelta)} ≤ minTrade ${f(policy.minTrade)}`,
    };
  }
  const since = Number.isFinite(view.blocksSinceHedge)
    ? `${view.blocksSinceHedge} blocks since the last hedge`
    : "never hedged";
  return {
    kind: "rebalance",
    targetDelta: 0,
    target: "zero",
    reason:
      `interval: ${since} (≥ ${policy.intervalBlocks}) and |delta| ${f(absDelta)} > ` +
      `minTrade ${f(policy.minTrade)}, hedge to zero`,
  };
}
