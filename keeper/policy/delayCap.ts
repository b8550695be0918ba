import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

export type DelayCapPolicy = Extract<PolicyConfig, { name: "delay-cap" }>;

/**
 * Hedge towards zero once `minDelayBlocks` blocks have passed since the last hedge, if |δ| exceeds `minTrade`,
 * moving δ by at most `maxHedge` per hedge: target = δ − sign(δ)·min(|δ|, maxHedge). A named baseline, the rule
 * of Lyra's GMX futures pool hedger (an interaction delay between hedges, and a cap on each hedge's size).
 *
 * The target is `"zero"` when the cap does not bind. When it does, the target is `"edge"`, which here means the
 * hedge stops short at the cap (there is no band: the rest of δ waits for the next delay), not a band's edge.
 * `maxHedge = +Infinity` never binds.
 */
export function delayCap(view: MarketView, policy: DelayCapPolicy): Decision {
  const absDelta = Math.abs(view.delta);
  if (view.blocksSinceHedge < policy.minDelayBlocks) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `delay-cap: ${view.blocksSinceHedge} of ${policy.minDelayBlocks} blocks since the last hedge`,
    };
  }
  if (absDelta <= policy.minTrade) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `delay-cap: |delta| ${f(absDelta)} ≤ minTrade ${f(policy.minTrade)}`,
    };
  }
  const since = Number.isFinite(view.blocksSinceHedge)
    ? `${view.blocksSinceHedge} blocks since the last hedge`
    : "never hedged";
  const due = `delay-cap: ${since} (≥ ${policy.minDelayBlocks}) and |delta| ${f(absDelta)} > minTrade ${f(policy.minTrade)}`;
  if (!(absDelta > policy.maxHedge)) {
    return { kind: "rebalance", targetDelta: 0, target: "zero", reason: `${due}, hedge to zero` };
  }
  const targetDelta = view.delta - Math.sign(view.delta) * policy.maxHedge;
  return {
    kind: "rebalance",
    targetDelta,
    target: "edge",
    reason: `${due}, hedge ${f(policy.maxHedge)} (the cap), stopping short at ${f(targetDelta)}`,
  };
}
