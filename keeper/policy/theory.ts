/**
 * Closed forms behind the policies, each derived here and tested numerically in test/keeper/policy.test.ts.
 *
 * Setting shared by all of them (units: underlying, quote, years). The vault's net delta y drifts as the price
 * moves: dy = Γ·dS with dS = σ·S·dW, so y diffuses with variance rate a = Γ²σ²S² (underlying² per year).
 * Carrying y costs, in certainty-equivalent terms for a CARA investor with absolute risk aversion γ (per quote
 * unit), (γ/2)·Var(P&L) = (γ/2)·σ²S²·y² per year. Trading pays proportional costs (λ per unit of value, e.g.
 * the AMM fee), a fixed cost per transaction (gas) and, on an AMM, price impact growing with size.
 *
 * Stationary argument (the heuristic behind Whalley & Wilmott 1997's asymptotics): for small costs the band is
 * narrow, so inside it Γ, σ, S are frozen and y is a driftless Brownian motion with variance rate a. A band
 * policy is then judged by its long-run cost rate plus risk rate.
 */

/**
 * Below this (underlying units) a delta or a trade is numerical noise, far under any token's smallest unit: a
 * zero-width band still holds, and an optimal trade this small is not worth a decision.
 */
export const MIN_HEDGE_DELTA = 1e-9;

// ───────────────────────────── Whalley–Wilmott: proportional costs, trade to the edge ─────────────────────────────

/** Inputs of the Whalley–Wilmott half-width (natural units; `gamma`'s sign is ignored). */
export interface WhalleyWilmottParams {
  spot: number;
  /** Γ, underlying per quote unit of price; |Γ| is used. */
  gamma: number;
  /** λ, proportional cost per unit of value traded (0.003 for a 30 bps fee). */
  costRate: number;
  /** γ, absolute risk aversion per quote unit. */
  riskAversion: number;
  /** Continuously compounded rate, and T − t in years: e^{−r(T−t)} converts costs paid now to wealth at T. */
  rate: number;
  timeToExpiry: number;
}

/**
 * Whalley & Wilmott (1997), "An asymptotic analysis of an optimal hedging model for option pricing with
 * transaction costs", Math. Finance 7(3): the Hodges–Neuberger no-trade band around the Black–Scholes delta has
 * half-width
 *     H = (3/2 · e^{−r(T−t)} · λ · S · Γ² / γ)^{1/3},
 * and the optimal trade stops at the band's edge.
 *
 * Derivation (stationary argument above). With trades only at ±H, y is Brownian motion reflected at ±H: its
 * stationary law is uniform, so E[y²] = H²/3; and Itô on y² (d(y²) = 2y·dy + a·dt, the reflection at each edge
 * removing 2H per unit pushed) gives the traded volume rate a/(2H). Cost rate plus risk rate:
 *     f(H) = λ·S · a/(2H) + (γ/2)·σ²S² · H²/3 = λ·S³·Γ²σ²/(2H) + γ·σ²S²·H²/6,
 *     f'(H) = 0  ⇔  H³ = 3·λ·S·Γ²/(2γ).
 * σ cancels. WW's γ applies to wealth at expiry T; a cost paid at t weighs e^{r(T−t)} more there, which is the
 * same as risk aversion γ·e^{r(T−t)} at t, hence the factor e^{−r(T−t)}.
 *
 * Γ = 0 ⇒ 0 (nothing drifts, any delta is worth removing); γ = 0 (risk-neutral) ⇒ +∞ (never hedge).
 */
export function whalleyWilmottHalfWidth(p: WhalleyWilmottParams): number {
  const g = Math.abs(p.gamma);
  checkNonNegative({ spot: p.spot, costRate: p.costRate, riskAversion: p.riskAversion });
  if (g === 0) return 0;
  if (p.riskAversion === 0) return Number.POSITIVE_INFINITY;
  const discount = Math.exp(-p.rate * Math.max(p.timeToExpiry, 0));
  return Math.cbrt((1.5 * discount * p.costRate * p.spot * g * g) / p.riskAversion);
}

// ───────────────────────────── Fixed cost per trade, trade back to the centre ─────────────────────────────

/** Inputs of the fixed-cost band (natural units). */
export interface FixedCostBandParams {
  /** Γ, underlying per quote unit of price; |Γ| is used. */
  gamma: number;
  /** ε, cost of one transaction, quote units (gas). */
  fixedCost: number;
  /** γ, absolute risk aversion per quote unit. */
  riskAversion: number;
  /** As in Whalley–Wilmott; both default to 0 (no discounting). */
  rate?: number;
  timeToExpiry?: number;
}

/** The constant C in H = (C·ε·Γ²/γ)^{1/4}, derived below. */
export const FIXED_COST_BAND_CONSTANT = 12;

/**
 * With a fixed cost ε per transaction and no proportional cost, the optimal policy waits until |y| reaches H and
 * then trades back to 0 (a trade's cost does not depend on its size, so it should remove all of the risk). The
 * band scales as (ε·Γ²/γ)^{1/4}: the fourth-root law of fixed costs (Korn 1998 for portfolios; Zakamouline 2006,
 * "European option pricing and hedging with both fixed and proportional transaction costs", J. Econ. Dyn.
 * Control 30(1), for options, where the fixed-cost part of the band is computed numerically). The constant is
 * derived here:
 *
 * Each cycle is Brownian motion from 0 until it exits (−H, H). The exit time has mean H²/a, so trades happen at
 * rate a/H². The occupation density of a cycle is G(y) = (H − |y|)/a (the Green's function of (a/2)·d²/dy² on
 * (−H, H) from 0), so E∫y²dt = ∫ y²·G(y) dy = H⁴/(6a), and the time-average of y² is H²/6. Cost rate plus risk
 * rate:
 *     g(H) = ε·a/H² + (γ/2)·σ²S²·H²/6 = ε·Γ²σ²S²/H² + γ·σ²S²·H²/12,
 *     g'(H) = 0  ⇔  H⁴ = 12·ε·Γ²/γ.
 * σ and S cancel. Discounting as in Whalley–Wilmott multiplies ε by e^{−r(T−t)}.
 */
export function fixedCostBandHalfWidth(p: FixedCostBandParams): number {
  const g = Math.abs(p.gamma);
  checkNonNegative({ fixedCost: p.fixedCost, riskAversion: p.riskAversion });
  if (g === 0) return 0;
  if (p.riskAversion === 0) return Number.POSITIVE_INFINITY;
  const discount = Math.exp(-(p.rate ?? 0) * Math.max(p.timeToExpiry ?? 0, 0));
  return Math.pow((FIXED_COST_BAND_CONSTANT * discount * p.fixedCost * g * g) / p.riskAversion, 0.25);
}

// ───────────────────────────── Constant-product price impact ─────────────────────────────

/**
 * Price impact, in quote units and fee excluded, of trading `x` underlying on a constant-product pool holding
 * `reserveUnderlying` (R) whose marginal price is `spot` (S), i.e. quote reserve Q = S·R and k = R·Q:
 *   buy x > 0 (take x out):  pay Q·x/(R − x),    impact = S·x²/(R − x)   (+∞ when x ≥ R);
 *   sell −x (put |x| in):    get Q·|x|/(R + |x|), impact = S·x²/(R + |x|).
 * Both are η·x² + O(x³/R²) with η = S/R: `CostModel.eta`.
 */
export function cpmmSlippage(x: number, reserveUnderlying: number, spot: number): number {
  checkNonNegative({ reserveUnderlying, spot });
  if (x === 0) return 0;
  if (x > 0) return x >= reserveUnderlying ? Number.POSITIVE_INFINITY : (spot * x * x) / (reserveUnderlying - x);
  return (spot * x * x) / (reserveUnderlying - x);
}

/**
 * Size of each chunk when a total X is split into n = X/x equal trades (one per block), each paying a fixed gas
 * cost G and impact η·x²: total = n·G + n·η·x² = X·(G/x + η·x), minimised at x* = √(G/η), where the gas per unit
 * (G/x) equals the impact per unit (η·x). The total is then 2·X·√(G·η). η = 0 ⇒ +∞ (one trade).
 */
export function cheapestSplitChunk(gasCostQuote: number, eta: number): number {
  checkNonNegative({ gasCostQuote, eta });
  if (eta === 0) return Number.POSITIVE_INFINITY;
  return Math.sqrt(gasCostQuote / eta);
}

// ───────────────────────────── Gas-aware: one trade's net value ─────────────────────────────

/**
 * k = (γ/2)·σ²·S²·h, quote per underlying²: the value of removing one unit of squared delta for a horizon of h
 * years (the risk rate above, integrated over the horizon). Shared by the gas-aware policy and sizing's
 * cost/benefit rule, so the two always agree on what a hedge is worth.
 */
export function riskCoefficient(p: { riskAversion: number; vol: number; spot: number; horizonYears: number }): number {
  return 0.5 * p.riskAversion * p.vol * p.vol * p.spot * p.spot * p.horizonYears;
}

/** One trade's economics: delta now, k from `riskCoefficient`, and the cost model (all natural units). */
export interface GasAwareParams {
  delta: number;
  riskCoefficient: number;
  /** Proportional cost per unit traded, quote per underlying: fee rate × spot. */
  feePerUnit: number;
  /** Impact coefficient η, quote per underlying². */
  eta: number;
  /** Fixed cost of the transaction, quote. */
  gasCost: number;
}

export interface GasAwareTrade {
  /** x*, the size to trade towards zero (underlying, ≥ 0); 0 means do not trade. */
  size: number;
  /** B(x*) − C(x*), quote; only a positive value justifies the trade. */
  netValue: number;
  /** |δ| above which a trade pays for itself: the policy's implied band (+∞ when k = 0). */
  threshold: number;
}

/**
 * Net value B(u) − C(u) of trading u ∈ [0, |δ|] towards zero (u = 0 costs and earns nothing):
 *   B(u) = k·(δ² − (|δ| − u)²) = k·(2|δ|u − u²),   C(u) = G + fS·u + η·u²   (u > 0).
 */
export function gasAwareNetValue(p: GasAwareParams, size: number): number {
  if (size <= 0) return 0;
  const d = Math.abs(p.delta);
  const benefit = p.riskCoefficient * (2 * d * size - size * size);
  return benefit - (p.gasCost + p.feePerUnit * size + p.eta * size * size);
}

/**
 * The best single trade. For u > 0, N(u) = B(u) − C(u) = (2k|δ| − fS)·u − (k + η)·u² − G is a concave parabola:
 *   N'(u) = 0  ⇔  u* = (2k|δ| − fS) / (2(k + η)),
 *   N(u*) = (2k|δ| − fS)² / (4(k + η)) − G.
 * Clipping to [0, |δ|]: u* ≤ |δ| always holds (⇔ −fS ≤ 2η|δ|), so only the lower clip can bind; u* ≤ 0 means even
 * the first unit costs more in fees than it removes in risk. Trade iff u* > 0 and N(u*) > 0, i.e. iff
 *   |δ| > (fS + 2·√((k + η)·G)) / (2k)   (the threshold).
 * Without impact (η = 0) the trade goes to |δ| − fS/(2k) (almost all the way to zero); with impact it stops
 * short by the fraction η/(k + η), and the rest is left to later blocks.
 */
export function gasAwareOptimalTrade(p: GasAwareParams): GasAwareTrade {
  const k = p.riskCoefficient;
  checkNonNegative({ riskCoefficient: k, feePerUnit: p.feePerUnit, eta: p.eta, gasCost: p.gasCost });
  const d = Math.abs(p.delta);
  const threshold =
    k > 0 ? (p.feePerUnit + 2 * Math.sqrt((k + p.eta) * p.gasCost)) / (2 * k) : Number.POSITIVE_INFINITY;
  const slope = 2 * k * d - p.feePerUnit;
  if (!(slope > 0) || !Number.isFinite(k + p.eta)) return { size: 0, netValue: 0, threshold };
  const size = Math.min(slope / (2 * (k + p.eta)), d);
  return { size, netValue: gasAwareNetValue(p, size), threshold };
}

function checkNonNegative(values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!(value >= 0)) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  }
}
