/**
 * The project's seeded randomness: mulberry32 (one small stream: the demo's price path, the fault proxy, the soak
 * run), Philox4x32-10 (the simulator's many independent per-path streams), normal draws (Box–Muller) and the
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
 * The high word of the 64-bit product of two unsigned 32-bit integers (the low word is `Math.imul(a, b) >>> 0`).
 * The four 16-bit partial products stay below 2^32 and their sums below 2^53, so float arithmetic is exact.
 */
function mulHi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + Math.floor(lh / 65536) + Math.floor(hl / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/**
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
 * counter-based generator of Random123 and of `std::philox4x32`: a keyed bijection of a 128-bit counter to 128
 * random bits. Distinct counters under one key never give the same block, and the keys are independent streams
 * by design (the generator passes BigCrush for any key and counter pattern), so a stream is a key and its n-th
 * draw is counter n: no stream overlaps another, and any draw is computed directly, without stepping through the
 * ones before it. Checked against Random123's known-answer vectors (`test/sim/random.test.ts`).
 *
 * @param counter - Four 32-bit words.
 * @param key - Two 32-bit words.
 * @param out - Receives the four output words.
 */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out: Uint32Array): Uint32Array {
  let c0 = counter[0]! >>> 0;
  let c1 = counter[1]! >>> 0;
  let c2 = counter[2]! >>> 0;
  let c3 = counter[3]! >>> 0;
  let k0 = key[0]! >>> 0;
  let k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const hi0 = mulHi32(0xd2511f53, c0);
    const lo0 = Math.imul(0xd2511f53, c0) >>> 0;
    const hi1 = mulHi32(0xcd9e8d57, c2);
    const lo1 = Math.imul(0xcd9e8d57, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/**
 * Uniform draws in [0, 1) with 53 random bits each, from the Philox stream keyed by (`seed`, `stream`), lane
 * `lane` (independent draws for a second purpose in the same stream, e.g. jump arrivals beside the diffusion).
 * Draw 2n and 2n + 1 come from counter (n, lane): the n-th draw is the same however the stream is consumed.
 */
export function philoxUniform(seed: number, stream: number, lane = 0): () => number {
  const key = [seed >>> 0, stream >>> 0];
  const counter = [0, 0, lane >>> 0, 0];
  const block = new Uint32Array(4);
  let next = 4; // words of `block` used
  return () => {
    if (next === 4) {
      philox4x32(counter, key, block);
      counter[0] = (counter[0]! + 1) >>> 0;
      if (counter[0] === 0) counter[1] = (counter[1]! + 1) >>> 0;
      next = 0;
    }
    const high = block[next]! >>> 5; // 27 bits
    const low = block[next + 1]! >>> 6; // 26 bits
    next += 2;
    return (high * 67108864 + low) / 9007199254740992;
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
