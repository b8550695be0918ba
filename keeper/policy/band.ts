import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

export type BandPolicy = Extract<PolicyConfig, { name: "band" }>;

/**
 * Hedge when |δ| exceeds a fixed `band`, either to zero or to the band's edge on the current side
 * (target = sign(δ)·band: the smallest trade that brings δ back inside).
 */
export function band(view: MarketView, policy: BandPolicy): Decision {
  const absDelta = Math.abs(view.delta);
  if (!(absDelta > policy.band)) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `band: |delta| ${f(absDelta)} ≤ band ${f(policy.band)}`,
      band: policy.band,
    };
  }
  const targetDelta = policy.target === "zero" ? 0 : Math.sign(view.delta) * policy.band;
  return {
    kind: "rebalance",
    targetDelta,
    target: policy.target,
    reason: `band: |delta| ${f(absDelta)} > band ${f(policy.band)}, hedge to ${
      policy.target === "zero" ? "zero" : `the edge ${f(targetDelta)}`
    }`,
    band: policy.band,
  };
}
