import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

export type EveryBlockPolicy = Extract<PolicyConfig, { name: "every-block" }>;

/** Hedge to zero in every block where |δ| exceeds `minTrade`: the frictionless ideal, discretised per block. */
export function everyBlock(view: MarketView, policy: EveryBlockPolicy): Decision {
  const absDelta = Math.abs(view.delta);
  if (absDelta > policy.minTrade) {
    return {
      kind: "rebalance",
      targetDelta: 0,
      target: "zero",
      reason: `every-block: |delta| ${f(absDelta)} > minTrade ${f(policy.minTrade)}, hedge to zero`,
    };
  }
  return {
    kind: "hold",
    cause: "policy",
    reason: `every-block: |delta| ${f(absDelta)} ≤ minTrade ${f(policy.minTrade)}`,
  };
}
