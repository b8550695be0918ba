/**
 * Black–Scholes (1973) / Merton (1973) price, delta, gamma and vega of European calls and puts on a
 * non-dividend-paying underlying, in float64: the model the keeper's policies reason with and the independent
 * cross-check of the on-chain Greeks.
 *
 * Same conventions as `contracts/libraries/BlackScholes.sol`:
 *   spot, strike  quote units per one underlying;
 *   vol           annualised (1.0 = 100%);
 *   tauSeconds    time to expiry; a year is 365 days (`SECONDS_PER_YEAR`);
 *   rate          continuously compounded annual rate (1.0 = 100%).
 * With v = σ√τ, d1 = (ln(S/K) + rτ)/v + v/2, d2 = d1 − v:
 *   call = S·N(d1) − K·e^{−rτ}·N(d2)        delta_call = N(d1)
 *   put  = K·e^{−rτ}·N(−d2) − S·N(−d1)      delta_put  = −N(−d1)
 *   gamma = φ(d1)/(S·v)   per one quote unit of spot
 *   vega  = S·φ(d1)·√τ    per 1.0 (100 vol points) of vol
 * Puts use N(−d) directly rather than 1 − N(d), so deep in- or out-of-the-money values keep their relative
 * precision (the tail comes from @stdlib's erfc).
 *
 * Domain: spot, strike, vol > 0 and finite, rate finite, tauSeconds ≥ 0 (else `PricingDomainError`). Unlike the
 * Solidity library, which reverts at τ = 0, an expired option (τ = 0) is valued at its payoff: intrinsic
 * price, delta the payoff's slope (0 or ±1; at the money the call's delta is 0 and the put's −1, so that
 * call − put delta is 1 everywhere), gamma = vega = 0.
 */
import normalCdf from "@stdlib/stats-base-dists-normal-cdf";

/** Length of the year that annualises vol and rate, seconds (365 days, as on chain). */
export const SECONDS_PER_YEAR = 31_536_000;

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** One option, in the model's natural units (see the module comment). */
export interface OptionInput {
  isCall: boolean;
  spot: number;
  strike: number;
  vol: number;
  tauSeconds: number;
  rate: number;
}

/** Price (quote per one underlying), delta, gamma (per quote unit of price), vega (per 1.0 of vol). */
export interface Greeks {
  price: number;
  delta: number;
  gamma: number;
  vega: number;
}

/** An input outside the model's domain (non-positive spot, strike or vol, negative time, non-finite value). */
export class PricingDomainError extends RangeError {
  override name = "PricingDomainError";
}

/** Standard normal CDF. */
export function normCdf(x: number): number {
  return normalCdf(x, 0, 1);
}

/** Standard normal density. */
export function normPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** Seconds to years, as the contracts annualise (365-day year). */
export function yearsFromSeconds(seconds: number): number {
  return seconds / SECONDS_PER_YEAR;
}

/** Price, delta, gamma and vega in one pass. */
export function greeks(input: OptionInput): Greeks {
  checkDomain(input);
  const { isCall, spot, strike, vol, rate } = input;
  const tau = yearsFromSeconds(input.tauSeconds);
  if (tau === 0) return expired(isCall, spot, strike);

  const sqrtTau = Math.sqrt(tau);
  const v = vol * sqrtTau;
  const d1 = (Math.log(spot / strike) + rate * tau) / v + v / 2;
  const d2 = d1 - v;
  const strikePv = strike * Math.exp(-rate * tau);
  const pdf = normPdf(d1);
  const gamma = pdf / (spot * v);
  const vega = spot * pdf * sqrtTau;
  if (isCall) {
    const price = spot * normCdf(d1) - strikePv * normCdf(d2);
    return { price: Math.max(price, 0), delta: normCdf(d1), gamma, vega };
  }
  const price = strikePv * normCdf(-d2) - spot * normCdf(-d1);
  return { price: Math.max(price, 0), delta: -normCdf(-d1), gamma, vega };
}

export function price(input: OptionInput): number {
  return greeks(input).price;
}

export function delta(input: OptionInput): number {
  return greeks(input).delta;
}

export function gamma(input: OptionInput): number {
  return greeks(input).gamma;
}

export function vega(input: OptionInput): number {
  return greeks(input).vega;
}

function expired(isCall: boolean, spot: number, strike: number): Greeks {
  if (isCall) return { price: Math.max(spot - strike, 0), delta: spot > strike ? 1 : 0, gamma: 0, vega: 0 };
  return { price: Math.max(strike - spot, 0), delta: spot <= strike ? -1 : 0, gamma: 0, vega: 0 };
}

function checkDomain(input: OptionInput): void {
  const { spot, strike, vol, tauSeconds, rate } = input;
  if (!(spot > 0) || !Number.isFinite(spot)) {
    throw new PricingDomainError(`spot must be positive and finite, got ${spot}`);
  }
  if (!(strike > 0) || !Number.isFinite(strike)) {
    throw new PricingDomainError(`strike must be positive and finite, got ${strike}`);
  }
  if (!(vol > 0) || !Number.isFinite(vol)) throw new PricingDomainError(`vol must be positive and finite, got ${vol}`);
  if (!(tauSeconds >= 0) || !Number.isFinite(tauSeconds)) {
    throw new PricingDomainError(`tauSeconds must be non-negative and finite, got ${tauSeconds}`);
  }
  if (!Number.isFinite(rate)) throw new PricingDomainError(`rate must be finite, got ${rate}`);
}
