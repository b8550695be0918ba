import type { Decision, MarketView, PolicyConfig, RiskPreferences } from "../types.ts";
import { riskCoefficientOf } from "./benefit.ts";
import { formatAmount as f } from "./format.ts";
import { gasAwareOptimalTrade, MIN_HEDGE_DELTA, type GasAwareParams } from "./theory.ts";

export type GasAwarePolicy = Extract<PolicyConfig, { name: "gas-aware" }>;

/**
 * Trade the size x* that maximises risk reduction minus cost, and only when that net value is positive. Gas is a
 * fixed cost per transaction (`costs.gasCostQuote`), slippage grows with size (fee·S·|x| + η·x²), and the
 * benefit is `hedgeBenefitQuote`'s (γ/2)σ²S²h·(δ² − (δ − x)²); the closed form and its derivation are
 * `gasAwareOptimalTrade` in theory.ts. The implied band (the |δ| at which a trade starts to pay) is reported as
 * `band`. The target δ − sign(δ)·x* is usually short of zero: the rest is cheaper in a later block. An optimal
 * trade below `MIN_HEDGE_DELTA` (only possible when trading is nearly free) holds.
 */
export function gasAware(view: MarketView, _policy: GasAwarePolicy, prefs: RiskPreferences): Decision {
  const params = gasAwareParams(view, prefs);
  const trade = gasAwareOptimalTrade(params);
  const absDelta = Math.abs(view.delta);
  if (!(trade.netValue > 0)) {
    return {
      kind: "hold",
      cause: "policy",
      reason:
        `gas-aware: |delta| ${f(absDelta)} ≤ threshold ${f(trade.threshold)}: no trade pays for ` +
        `gas ${f(params.gasCost)} and fee + impact`,
      band: trade.threshold,
    };
  }
  if (!(trade.size > MIN_HEDGE_DELTA)) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `gas-aware: the best trade ${f(trade.size)} is noise`,
      band: trade.threshold,
    };
  }
  const targetDelta = view.delta - Math.sign(view.delta) * trade.size;
  return {
    kind: "rebalance",
    targetDelta,
    target: targetDelta === 0 ? "zero" : "edge",
    reason:
      `gas-aware: |delta| ${f(absDelta)} > threshold ${f(trade.threshold)}; trading ${f(trade.size)} nets ` +
      `${f(trade.netValue)} after gas ${f(params.gasCost)} and fee + impact`,
    band: trade.threshold,
  };
}

/** The gas-aware trade's inputs for this view (exported for tests and the simulator's analytics). */
export function gasAwareParams(view: MarketView, prefs: RiskPreferences): GasAwareParams {
  return {
    delta: view.delta,
    riskCoefficient: riskCoefficientOf(view, prefs),
    feePerUnit: view.costs.feeRate * view.spot,
    eta: view.costs.eta,
    gasCost: view.costs.gasCostQuote,
  };
}
