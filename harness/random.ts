/**
 * The project's one seeded randomness, shared by the demo's price path, the simulator's paths, the fault proxy and
 * the soak run, so that "seed N" means the same stream everywhere: the PRNG, its normal draws (Box–Muller) and the
 * geometric-Brownian-motion step every price path is built from.
 */

/** mulberry32 (Tommy Ettinger): a small, fast 32-bit-state PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Box–Muller: two independent standard normal draws from two uniforms in [0, 1). `1 − u1` keeps the log finite
 * (u1 may be 0, never 1).
 *
 * @returns `[r·cos θ, r·sin θ]` with r = √(−2·ln(1 − u1)), θ = 2π·u2.
 */
export function boxMuller(u1: number, u2: number): [number, number] {
  const r = Math.sqrt(-2 * Math.log(1 - u1));
  const theta = 2 * Math.PI * u2;
  return [r * Math.cos(theta), r * Math.sin(theta)];
}

/** Standard normal draws from a uniform source: Box–Muller, both values used (the sine one on the next call). */
export function normalSampler(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const u1 = uniform();
    const [z, next] = boxMuller(u1, uniform());
    spare = next;
    return z;
  };
}

/** One step of geometric Brownian motion, dS/S = μ dt + σ dW, as its log return: `logDrift + diffusion · z`. */
export interface GbmStep {
  /** (μ − σ²/2)·dt: Itô's correction makes E[S_t] = S_0·e^{μt}. */
  logDrift: number;
  /** σ·√dt. */
  diffusion: number;
}

/**
 * The GBM step over `dtYears` for an annual `drift` and `vol`. Callers add `logDrift + diffusion · z` to a log
 * price (or multiply a price by its exponential), z a standard normal draw.
 */
export function gbmStep(p: { drift: number; vol: number; dtYears: number }): GbmStep {
  return { logDrift: (p.drift - 0.5 * p.vol * p.vol) * p.dtYears, diffusion: p.vol * Math.sqrt(p.dtYears) };
}
