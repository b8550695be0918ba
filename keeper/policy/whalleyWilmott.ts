import type { Decision, MarketView, PolicyConfig, RiskPreferences } from "../types.ts";
import { formatAmount as f } from "./format.ts";
import { MIN_HEDGE_DELTA, whalleyWilmottHalfWidth } from "./theory.ts";

export type WhalleyWilmottPolicy = Extract<PolicyConfig, { name: "whalley-wilmott" }>;

/**
 * Whalley–Wilmott (1997): a no-trade band of half-width H = (3/2 · e^{−r(T−t)} · λ · S · Γ² / γ)^{1/3} around
 * zero net delta (theory.ts derives it), with Γ = |net gamma|, λ = `costRate` (default: the AMM fee),
 * γ = risk aversion, T − t the book's gamma-weighted time to expiry. Outside the band, trade to its edge. With
 * Γ = 0 the band is empty (H = 0): any |δ| above `MIN_HEDGE_DELTA` is hedged to zero.
 */
export function whalleyWilmott(view: MarketView, policy: WhalleyWilmottPolicy, prefs: RiskPreferences): Decision {
  const costRate = policy.costRate ?? view.costs.feeRate;
  const halfWidth = whalleyWilmottHalfWidth({
    spot: view.spot,
    gamma: view.gamma,
    costRate,
    riskAversion: prefs.riskAversion,
    rate: view.rate,
    timeToExpiry: view.timeToExpiry,
  });
  const absDelta = Math.abs(view.delta);
  const params = `λ ${f(costRate)}, Γ ${f(Math.abs(view.gamma))}, γ ${f(prefs.riskAversion)}`;
  if (!(absDelta > Math.max(halfWidth, MIN_HEDGE_DELTA))) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `whalley-wilmott: |delta| ${f(absDelta)} ≤ H ${f(halfWidth)} (${params})`,
      band: halfWidth,
    };
  }
  const targetDelta = Math.sign(view.delta) * halfWidth;
  return {
    kind: "rebalance",
    targetDelta,
    target: halfWidth === 0 ? "zero" : "edge",
    reason:
      `whalley-wilmott: |delta| ${f(absDelta)} > H ${f(halfWidth)} (${params}), ` +
      `hedge to the edge ${f(targetDelta)}`,
    band: halfWidth,
  };
}
