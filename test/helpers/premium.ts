/**
 * The vault's documented prices (IOptionVault, "Prices") in float64, computed with the keeper's Black–Scholes and
 * the vault's risk parameters: the reference the premium and buy-back tests compare the contract against — never
 * the lens's own mark.
 */
import { price as floatPrice, SECONDS_PER_YEAR } from "../../keeper/pricing/blackScholes.ts";
import type { BookLimits, RiskParams } from "../../keeper/types.ts";

export interface Terms {
  isCall: boolean;
  /** Oracle spot, quote per underlying. */
  spot: number;
  /** Strike, quote per underlying. */
  strike: number;
  tauSeconds: number;
}

/** Per-option premium: max(BS(S⁺)·(1 + s) + C, S·minPremium), S⁺ = S moved by ε against the vault, C = L·charge·τ/year. */
export function floatPremium(t: Terms, risk: RiskParams, limits: BookLimits): number {
  const eps = risk.latencyBps / 1e4;
  const shifted = t.isCall ? t.spot * (1 + eps) : t.spot * (1 - eps);
  const fair = floatPrice({ ...t, spot: shifted, vol: Number(risk.volWad) / 1e18, rate: Number(risk.rateWad) / 1e18 });
  // The capital locked per option in the stress scenario: a call's stressed intrinsic value, a put's strike.
  const locked = t.isCall ? Math.max(t.spot, t.strike) * (1 + limits.stressUpBps / 1e4) - t.strike : t.strike;
  const capitalCharge = (locked * (risk.capitalChargeBps / 1e4) * t.tauSeconds) / SECONDS_PER_YEAR;
  return Math.max(fair * (1 + risk.spreadBps / 1e4) + capitalCharge, (t.spot * risk.minPremiumBps) / 1e4);
}

/** Per-option bid (what a buy-back pays): BS(S⁻)·(1 − s), S⁻ = S moved by ε against the seller. */
export function floatBid(t: Terms, risk: RiskParams): number {
  const eps = risk.latencyBps / 1e4;
  const shifted = t.isCall ? t.spot * (1 - eps) : t.spot * (1 + eps);
  const fair = floatPrice({ ...t, spot: shifted, vol: Number(risk.volWad) / 1e18, rate: Number(risk.rateWad) / 1e18 });
  return fair * (1 - risk.spreadBps / 1e4);
}
