/**
 * What a hedge is worth, in quote units: the one yardstick sizing's cost/benefit rule applies to every policy's
 * order, and the gas-aware policy maximises against.
 */
import { SECONDS_PER_YEAR } from "../pricing/blackScholes.ts";
import type { MarketView, RiskPreferences } from "../types.ts";
import { riskCoefficient } from "./theory.ts";

/**
 * Risk-reduction value of moving the net delta from `deltaBefore` to `deltaAfter` (underlying units):
 *     (γ/2)·σ²·S²·(δ_before² − δ_after²)·h,   h = horizonSeconds / year,
 * the drop in the CARA certainty-equivalent cost of carrying the delta for h (see theory.ts). Negative when the
 * trade adds risk.
 */
export function hedgeBenefitQuote(
  view: MarketView,
  deltaBefore: number,
  deltaAfter: number,
  prefs: RiskPreferences,
): number {
  const k = riskCoefficientOf(view, prefs);
  return k * (deltaBefore * deltaBefore - deltaAfter * deltaAfter);
}

/** k = (γ/2)·σ²·S²·h for this view and these preferences, quote per underlying². */
export function riskCoefficientOf(view: MarketView, prefs: RiskPreferences): number {
  return riskCoefficient({
    riskAversion: prefs.riskAversion,
    vol: view.vol,
    spot: view.spot,
    horizonYears: prefs.horizonSeconds / SECONDS_PER_YEAR,
  });
}
