/**
 * Price paths: seeded geometric Brownian motion, GBM with Merton jumps, and windows of a real price series from
 * a CSV file. A path is `steps + 1` prices, one per block, starting at the scenario's spot. Path i of a seed is
 * the same whatever the number of paths asked for, so a sweep can be extended or one path replayed alone.
 */
import { readFileSync } from "node:fs";
import { SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";
import { gbmStep, normalSampler, philoxUniform } from "../harness/random.ts";

export type PathSource =
  /** dS/S = μ dt + σ dW. */
  | { kind: "gbm"; drift: number; vol: number }
  /**
   * Merton (1976) jump-diffusion: GBM plus jumps at rate `jumpsPerYear` whose log sizes are N(jumpMean, jumpStd²);
   * the drift is compensated so E[S_t] = S_0·e^{μt} as in GBM.
   */
  | { kind: "jump"; drift: number; vol: number; jumpsPerYear: number; jumpMean: number; jumpStd: number }
  /**
   * Regime switching (a two-state Markov chain on volatility, Hamilton 1989): GBM at `vols[s]` in state s, leaving
   * state s with probability 1 / `meanBlocks[s]` each block (so it lasts `meanBlocks[s]` blocks on average). Each
   * path starts in its chain's stationary distribution. `vol` (for the vault's pricing) is the stationary mean.
   */
  | { kind: "regime"; drift: number; vol: number; vols: readonly [number, number]; meanBlocks: readonly [number, number] }
  /** Consecutive windows of a `timestamp,price` CSV, each rescaled to start at the spot. */
  | { kind: "csv"; file: string };

export interface PathShape {
  /** Number of paths. */
  count: number;
  /** Blocks per path (the path has steps + 1 prices). */
  steps: number;
  spot: number;
  blockSeconds: number;
  seed: number;
}

/**
 * Path `path` (default 0) of `seed`, GBM or jumps, of `steps` blocks. Its draws are the Philox stream keyed by
 * (seed, path) — the diffusion on lane 0, jump arrivals on lane 1 — so paths never share a stretch of draws (as
 * the paths of a small-state generator seeded per path can: each seed is only an offset in one cycle) and path i
 * is the same whatever the number of paths asked for.
 */
export function simulatePath(
  source: Extract<PathSource, { kind: "gbm" | "jump" | "regime" }>,
  p: { steps: number; spot: number; blockSeconds: number; seed: number; path?: number },
): Float64Array {
  checkPositive({ spot: p.spot, blockSeconds: p.blockSeconds });
  if (!(source.vol >= 0)) throw new RangeError(`vol must be ≥ 0, got ${source.vol}`);
  const dt = p.blockSeconds / SECONDS_PER_YEAR;
  if (!Number.isInteger(p.seed) || !Number.isInteger(p.path ?? 0) || (p.path ?? 0) < 0) {
    throw new RangeError(`seed and path must be integers (path ≥ 0), got ${p.seed} and ${p.path}`);
  }
  const normal = normalSampler(philoxUniform(p.seed, p.path ?? 0, 0));
  const uniform = philoxUniform(p.seed, p.path ?? 0, 1);
  const gbm = gbmStep({ drift: source.drift, vol: source.vol, dtYears: dt });
  const diffusion = gbm.diffusion;
  let logDrift = gbm.logDrift;
  let jumpProbability = 0;
  if (source.kind === "jump") {
    if (!(source.jumpsPerYear >= 0) || !(source.jumpStd >= 0)) {
      throw new RangeError("jumpsPerYear and jumpStd must be ≥ 0");
    }
    const meanJump = Math.exp(source.jumpMean + 0.5 * source.jumpStd * source.jumpStd) - 1;
    logDrift -= source.jumpsPerYear * meanJump * dt;
    jumpProbability = source.jumpsPerYear * dt;
  }
  const prices = new Float64Array(p.steps + 1);
  prices[0] = p.spot;
  let logPrice = Math.log(p.spot);
  const regime = source.kind === "regime" ? regimeSteps(source, dt, philoxUniform(p.seed, p.path ?? 0, 5)) : undefined;
  for (let i = 1; i <= p.steps; i++) {
    if (regime !== undefined) {
      const s = regime.next();
      logPrice += regime.logDrift[s]! + regime.diffusion[s]! * normal();
      prices[i] = Math.exp(logPrice);
      continue;
    }
    logPrice += logDrift + diffusion * normal();
    if (jumpProbability > 0) {
      // Poisson(λ·dt) jumps in this block, by inversion (λ·dt is small: almost always 0 or 1 draw).
      let k = 0;
      let term = Math.exp(-jumpProbability);
      let cumulative = term;
      const u = uniform();
      while (u > cumulative && k < 50) {
        k++;
        term *= jumpProbability / k;
        cumulative += term;
      }
      for (let j = 0; j < k; j++) logPrice += source.kind === "jump" ? source.jumpMean + source.jumpStd * normal() : 0;
    }
    prices[i] = Math.exp(logPrice);
  }
  return prices;
}

/** A real price series, as read from CSV. */
export interface PriceSeries {
  file: string;
  timestamps: Float64Array;
  prices: Float64Array;
  /** Median spacing of the rows, seconds. */
  intervalSeconds: number;
}

/** Problems with a price file, naming the file and line. */
export class PriceFileError extends Error {
  override name = "PriceFileError";
}

/**
 * Reads a `timestamp,price` CSV (a header line, then unix seconds and a positive price per line, timestamps
 * strictly increasing). Blank lines and lines starting with `#` are skipped.
 */
export function readPriceCsv(file: string): PriceSeries {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new PriceFileError(`cannot read price file ${file}: ${(err as Error).message}`);
  }
  const timestamps: number[] = [];
  const prices: number[] = [];
  const lines = text.split(/\r?\n/);
  let header = true;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const cells = line.split(",");
    if (header) {
      header = false;
      if (cells[0]?.trim().toLowerCase() !== "timestamp" || cells[1]?.trim().toLowerCase() !== "price") {
        throw new PriceFileError(`${file}:${n + 1}: expected the header "timestamp,price", got "${line}"`);
      }
      continue;
    }
    const t = Number(cells[0]);
    const price = Number(cells[1]);
    // Number("") is 0: an empty cell must not read as the epoch or a zero price.
    const empty = cells.length < 2 || cells[0]!.trim() === "" || cells[1]!.trim() === "";
    if (empty || !Number.isFinite(t) || !Number.isFinite(price) || price <= 0) {
      throw new PriceFileError(`${file}:${n + 1}: expected "unix seconds,positive price", got "${line}"`);
    }
    if (timestamps.length > 0 && t <= timestamps[timestamps.length - 1]!) {
      throw new PriceFileError(`${file}:${n + 1}: timestamp ${t} is not after the previous row's`);
    }
    timestamps.push(t);
    prices.push(price);
  }
  if (prices.length < 2) throw new PriceFileError(`${file}: needs at least two price rows, found ${prices.length}`);
  const gaps = timestamps.slice(1).map((t, i) => t - timestamps[i]!).sort((a, b) => a - b);
  return {
    file,
    timestamps: Float64Array.from(timestamps),
    prices: Float64Array.from(prices),
    intervalSeconds: gaps[gaps.length >> 1]!,
  };
}

/**
 * `count` windows of `steps + 1` consecutive rows, each rescaled so it starts at `spot` (the book's strikes are
 * set against the spot). Windows do not overlap while the series is long enough; beyond that they are spread
 * evenly and overlap, and `distinct` says how many would not.
 */
export function csvWindows(
  series: PriceSeries,
  p: { count: number; steps: number; spot: number },
): { paths: Float64Array[]; distinct: number; starts: number[] } {
  const rows = series.prices.length;
  if (p.steps + 1 > rows) {
    throw new PriceFileError(`${series.file}: ${rows} rows cannot make a path of ${p.steps} steps (needs ${p.steps + 1})`);
  }
  const distinct = Math.floor((rows - 1) / p.steps);
  const lastStart = rows - 1 - p.steps;
  const starts: number[] = [];
  for (let i = 0; i < p.count; i++) {
    starts.push(p.count <= distinct ? i * p.steps : p.count === 1 ? 0 : Math.round((i * lastStart) / (p.count - 1)));
  }
  const paths = starts.map((start) => {
    const scale = p.spot / series.prices[start]!;
    const path = new Float64Array(p.steps + 1);
    for (let j = 0; j <= p.steps; j++) path[j] = series.prices[start + j]! * scale;
    return path;
  });
  return { paths, distinct, starts };
}

/** The paths of a sweep; `blockSeconds` is the CSV's own spacing for a CSV source. */
export function generatePaths(source: PathSource, shape: PathShape): Float64Array[] {
  if (!Number.isInteger(shape.count) || shape.count < 1) throw new RangeError(`count must be a positive integer`);
  if (!Number.isInteger(shape.steps) || shape.steps < 1) throw new RangeError(`steps must be a positive integer`);
  if (source.kind === "csv") return csvWindows(readPriceCsv(source.file), shape).paths;
  return Array.from({ length: shape.count }, (_, i) => simulatePath(source, { ...shape, path: i }));
}

/** A regime source's per-state GBM steps and its state chain (starting in its stationary distribution). */
function regimeSteps(
  source: Extract<PathSource, { kind: "regime" }>,
  dt: number,
  uniform: () => number,
): { logDrift: number[]; diffusion: number[]; next: () => number } {
  for (const v of source.vols) if (!(v >= 0)) throw new RangeError(`regime vols must be ≥ 0, got ${source.vols.join(", ")}`);
  for (const m of source.meanBlocks) if (!(m >= 1)) throw new RangeError(`regime meanBlocks must be ≥ 1, got ${source.meanBlocks.join(", ")}`);
  const steps = source.vols.map((vol) => gbmStep({ drift: source.drift, vol, dtYears: dt }));
  const leave = source.meanBlocks.map((m) => 1 / m);
  let state = uniform() < source.meanBlocks[0] / (source.meanBlocks[0] + source.meanBlocks[1]) ? 0 : 1;
  return {
    logDrift: steps.map((s) => s.logDrift),
    diffusion: steps.map((s) => s.diffusion),
    next: () => {
      const current = state;
      if (uniform() < leave[state]!) state = 1 - state;
      return current;
    },
  };
}

/** The stationary volatility of a regime source: √(Σ share_s · σ_s²). */
export function regimeVol(vols: readonly [number, number], meanBlocks: readonly [number, number]): number {
  const share0 = meanBlocks[0] / (meanBlocks[0] + meanBlocks[1]);
  return Math.sqrt(share0 * vols[0] ** 2 + (1 - share0) * vols[1] ** 2);
}

/** Annualised volatility of a path's log returns (sample std / √dt). */
export function realizedVol(path: ArrayLike<number>, blockSeconds: number): number {
  const n = path.length - 1;
  if (n < 2) return 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 1; i <= n; i++) {
    const r = Math.log(path[i]! / path[i - 1]!);
    sum += r;
    sumSq += r * r;
  }
  const variance = (sumSq - (sum * sum) / n) / (n - 1);
  return Math.sqrt(variance / (blockSeconds / SECONDS_PER_YEAR));
}

function checkPositive(values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
}
