/**
 * Price paths: the GBM and Merton-jump generators against their distributions (tolerances from the standard
 * error of each statistic, fixed seeds), seeding and replay, realised volatility, and the CSV reader and
 * windowing on the shipped data/eth-usd.csv and on small files written for each error.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SECONDS_PER_YEAR } from "../../keeper/pricing/blackScholes.ts";
import {
  csvWindows,
  generatePaths,
  PriceFileError,
  readPriceCsv,
  realizedVol,
  regimeVol,
  simulatePath,
  type PathSource,
  type PriceSeries,
} from "../../sim/paths.ts";

const ETH_CSV = "data/eth-usd.csv";
const DAY = 86_400;

function logReturns(path: ArrayLike<number>): number[] {
  const r: number[] = [];
  for (let i = 1; i < path.length; i++) r.push(Math.log(path[i]! / path[i - 1]!));
  return r;
}

function moments(xs: readonly number[]) {
  const n = xs.length;
  const mean = xs.reduce((a, x) => a + x, 0) / n;
  let m2 = 0;
  let m4 = 0;
  for (const x of xs) {
    const d = x - mean;
    m2 += d * d;
    m4 += d ** 4;
  }
  m2 /= n;
  m4 /= n;
  return { n, mean, std: Math.sqrt((m2 * n) / (n - 1)), excessKurtosis: m4 / (m2 * m2) - 3 };
}

describe("GBM paths", () => {
  it("log-returns have mean (μ − σ²/2)·dt and std σ·√dt within 4 standard errors", () => {
    const drift = 0.5;
    const vol = 0.3;
    const steps = 100_000;
    const dt = DAY / SECONDS_PER_YEAR;
    const path = simulatePath({ kind: "gbm", drift, vol }, { steps, spot: 3000, blockSeconds: DAY, seed: 7 });
    const m = moments(logReturns(path));
    const sigmaStep = vol * Math.sqrt(dt);
    const meanSe = sigmaStep / Math.sqrt(steps);
    const stdSe = sigmaStep / Math.sqrt(2 * (steps - 1));
    const expectedMean = (drift - 0.5 * vol * vol) * dt;
    // The drift is ~35 standard errors from zero here, so the mean check has power.
    expect(expectedMean / meanSe).toBeGreaterThan(20);
    expect(Math.abs(m.mean - expectedMean)).toBeLessThan(4 * meanSe);
    expect(Math.abs(m.std - sigmaStep)).toBeLessThan(4 * stdSe);
  });

  it("log-returns have no excess kurtosis (within 4 standard errors)", () => {
    const steps = 100_000;
    const path = simulatePath({ kind: "gbm", drift: 0, vol: 0.8 }, { steps, spot: 3000, blockSeconds: 3600, seed: 11 });
    expect(Math.abs(moments(logReturns(path)).excessKurtosis)).toBeLessThan(4 * Math.sqrt(24 / steps));
  });

  it("a path has steps + 1 positive prices and starts at the spot", () => {
    const path = simulatePath({ kind: "gbm", drift: 0.1, vol: 0.8 }, { steps: 500, spot: 1234.5, blockSeconds: 12, seed: 3 });
    expect(path.length).toBe(501);
    expect(path[0]).toBe(1234.5);
    expect(path.every((p) => p > 0 && Number.isFinite(p))).toBe(true);
  });

  it("zero volatility and zero drift keep the price at the spot", () => {
    const path = simulatePath({ kind: "gbm", drift: 0, vol: 0 }, { steps: 100, spot: 3000, blockSeconds: 12, seed: 1 });
    for (const p of path) expect(p).toBeCloseTo(3000, 9);
  });

  it("rejects a negative volatility, a non-positive spot and a non-positive block time", () => {
    const shape = { steps: 10, spot: 3000, blockSeconds: 12, seed: 1 };
    expect(() => simulatePath({ kind: "gbm", drift: 0, vol: -0.1 }, shape)).toThrow(RangeError);
    expect(() => simulatePath({ kind: "gbm", drift: 0, vol: 0.8 }, { ...shape, spot: 0 })).toThrow(/spot/);
    expect(() => simulatePath({ kind: "gbm", drift: 0, vol: 0.8 }, { ...shape, blockSeconds: -1 })).toThrow(/blockSeconds/);
  });
});

describe("seeding and replay", () => {
  const source: PathSource = { kind: "gbm", drift: 0, vol: 0.8 };
  const shape = { count: 3, steps: 200, spot: 3000, blockSeconds: 12, seed: 42 };

  it("the same seed gives the same paths", () => {
    expect(generatePaths(source, shape)).toEqual(generatePaths(source, shape));
  });

  it("a different seed gives different paths", () => {
    const a = generatePaths(source, shape);
    const b = generatePaths(source, { ...shape, seed: 43 });
    for (let i = 0; i < a.length; i++) expect(a[i]).not.toEqual(b[i]);
  });

  it("path i is the same whatever the number of paths asked for", () => {
    const few = generatePaths(source, shape);
    const many = generatePaths(source, { ...shape, count: 10 });
    for (let i = 0; i < few.length; i++) expect(many[i]).toEqual(few[i]);
  });

  it("path i can be replayed alone from (seed, i)", () => {
    const paths = generatePaths(source, { ...shape, count: 5 });
    const alone = simulatePath({ kind: "gbm", drift: 0, vol: 0.8 }, { steps: 200, spot: 3000, blockSeconds: 12, seed: 42, path: 4 });
    expect(alone).toEqual(paths[4]);
  });

  it("the paths of one seed are distinct", () => {
    const paths = generatePaths(source, { ...shape, count: 5 });
    const last = new Set(paths.map((p) => p[p.length - 1]));
    expect(last.size).toBe(5);
  });

  it("rejects a non-integer or non-positive count or step number", () => {
    expect(() => generatePaths(source, { ...shape, count: 0 })).toThrow(/count/);
    expect(() => generatePaths(source, { ...shape, count: 1.5 })).toThrow(/count/);
    expect(() => generatePaths(source, { ...shape, steps: 0 })).toThrow(/steps/);
  });
});

describe("jump paths (Merton)", () => {
  it("with no jumps, a jump path is the GBM path of the same seed", () => {
    const shape = { steps: 300, spot: 3000, blockSeconds: 12, seed: 5 };
    const gbm = simulatePath({ kind: "gbm", drift: 0.1, vol: 0.8 }, shape);
    const jump = simulatePath({ kind: "jump", drift: 0.1, vol: 0.8, jumpsPerYear: 0, jumpMean: -0.05, jumpStd: 0.1 }, shape);
    expect(jump).toEqual(gbm);
  });

  it("the compensated drift keeps E[S_T]/S_0 at e^{μT} (within 4 standard errors over 4,000 paths)", () => {
    const drift = 0.2;
    const jumpsPerYear = 20;
    const jumpMean = -0.1;
    const jumpStd = 0.1;
    const steps = 91;
    const count = 4000;
    const T = (steps * DAY) / SECONDS_PER_YEAR;
    const paths = generatePaths(
      { kind: "jump", drift, vol: 0.3, jumpsPerYear, jumpMean, jumpStd },
      { count, steps, spot: 3000, blockSeconds: DAY, seed: 2024 },
    );
    const growth = paths.map((p) => p[steps]! / p[0]!);
    const { mean, std } = moments(growth);
    const se = std / Math.sqrt(count);
    expect(Math.abs(mean - Math.exp(drift * T))).toBeLessThan(4 * se);
    // Without the compensation the mean would be e^{(μ + λk)T}, k = E[e^Y] − 1: far outside the tolerance.
    const k = Math.exp(jumpMean + 0.5 * jumpStd * jumpStd) - 1;
    expect(Math.abs(Math.exp((drift + jumpsPerYear * k) * T) - Math.exp(drift * T))).toBeGreaterThan(20 * se);
  });

  it("jump log-returns have fat tails: excess kurtosis clearly above GBM's zero", () => {
    const steps = 100_000;
    const shape = { steps, spot: 3000, blockSeconds: 3600, seed: 9 };
    const jump = simulatePath({ kind: "jump", drift: 0, vol: 0.8, jumpsPerYear: 50, jumpMean: -0.01, jumpStd: 0.03 }, shape);
    const gbm = simulatePath({ kind: "gbm", drift: 0, vol: 0.8 }, shape);
    const se = Math.sqrt(24 / steps);
    const jumpKurtosis = moments(logReturns(jump)).excessKurtosis;
    const gbmKurtosis = moments(logReturns(gbm)).excessKurtosis;
    // Theory (cumulants of a compound Poisson plus normal step): κ4/κ2² ≈ 2.7 for these parameters.
    expect(jumpKurtosis).toBeGreaterThan(1);
    expect(jumpKurtosis - gbmKurtosis).toBeGreaterThan(20 * se);
  });

  it("rejects a negative jump rate or jump std", () => {
    const shape = { steps: 10, spot: 3000, blockSeconds: 12, seed: 1 };
    expect(() => simulatePath({ kind: "jump", drift: 0, vol: 0.8, jumpsPerYear: -1, jumpMean: 0, jumpStd: 0.1 }, shape)).toThrow(RangeError);
    expect(() => simulatePath({ kind: "jump", drift: 0, vol: 0.8, jumpsPerYear: 1, jumpMean: 0, jumpStd: -0.1 }, shape)).toThrow(RangeError);
  });
});

describe("realizedVol", () => {
  it("recovers σ of a GBM path within 4 standard errors", () => {
    const steps = 20_000;
    const vol = 0.6;
    const path = simulatePath({ kind: "gbm", drift: 0.3, vol }, { steps, spot: 3000, blockSeconds: 12, seed: 17 });
    expect(Math.abs(realizedVol(path, 12) - vol)).toBeLessThan(4 * (vol / Math.sqrt(2 * steps)));
  });

  it("is the README's 185.6% for the hourly ETH series", () => {
    const series = readPriceCsv(ETH_CSV);
    expect(realizedVol(series.prices, series.intervalSeconds)).toBeCloseTo(1.856, 3);
  });

  it("is 0 for a path too short to estimate", () => {
    expect(realizedVol([3000, 3010], 12)).toBe(0);
    expect(realizedVol([3000], 12)).toBe(0);
  });
});

describe("readPriceCsv on data/eth-usd.csv", () => {
  const series = readPriceCsv(ETH_CSV);

  it("reads 793 hourly rows", () => {
    expect(series.prices.length).toBe(793);
    expect(series.timestamps.length).toBe(793);
    expect(series.intervalSeconds).toBe(3600);
  });

  it("has strictly increasing timestamps, 3600 s apart, from 2021-05-08 to 2021-06-10", () => {
    expect(series.timestamps[0]).toBe(1620432000);
    expect(series.timestamps[792]).toBe(1623283200);
    for (let i = 1; i < series.timestamps.length; i++) {
      expect(series.timestamps[i]! - series.timestamps[i - 1]!).toBe(3600);
    }
  });

  it("has prices between 1800 and 4400 (README: 1848.11 to 4332.81)", () => {
    expect(Math.min(...series.prices)).toBe(1848.11);
    expect(Math.max(...series.prices)).toBe(4332.81);
    expect(series.prices.every((p) => p > 1800 && p < 4400)).toBe(true);
  });
});

describe("readPriceCsv errors name the file and line", () => {
  const dir = mkdtempSync(join(tmpdir(), "delta-keeper-prices-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const write = (text: string) => {
    const file = join(dir, `prices-${n++}.csv`);
    writeFileSync(file, text);
    return file;
  };
  const errorOf = (file: string): PriceFileError => {
    try {
      readPriceCsv(file);
    } catch (err) {
      expect(err).toBeInstanceOf(PriceFileError);
      return err as PriceFileError;
    }
    throw new Error(`readPriceCsv(${file}) did not throw`);
  };

  it("a missing header", () => {
    const file = write("1620432000,3523.02\n1620435600,3528.17\n");
    const err = errorOf(file);
    expect(err.message).toContain(`${file}:1:`);
    expect(err.message).toMatch(/header/);
  });

  it("a non-numeric price", () => {
    const file = write("timestamp,price\n1,100\n2,abc\n3,101\n");
    expect(errorOf(file).message).toContain(`${file}:3:`);
  });

  it("a negative price, and a zero price", () => {
    const negative = write("timestamp,price\n1,100\n2,101\n3,-5\n");
    expect(errorOf(negative).message).toContain(`${negative}:4:`);
    const zero = write("timestamp,price\n1,0\n2,101\n");
    expect(errorOf(zero).message).toContain(`${zero}:2:`);
  });

  it("a row without a price", () => {
    const file = write("timestamp,price\n1,100\n2\n");
    expect(errorOf(file).message).toContain(`${file}:3:`);
  });

  it("a timestamp equal to the previous row's, and one before it", () => {
    const equal = write("timestamp,price\n1,100\n2,101\n2,102\n");
    const err = errorOf(equal);
    expect(err.message).toContain(`${equal}:4:`);
    expect(err.message).toMatch(/not after/);
    const earlier = write("timestamp,price\n10,100\n5,101\n");
    expect(errorOf(earlier).message).toContain(`${earlier}:3:`);
  });

  it("a row with an empty timestamp", () => {
    // An empty cell is not unix seconds (Number("") is 0, which must not be read as 1970-01-01).
    const file = write("timestamp,price\n,100\n1,101\n2,102\n");
    expect(errorOf(file).message).toContain(`${file}:2:`);
  });

  it("counts skipped comment and blank lines in the line number", () => {
    const file = write("# a comment\n\ntimestamp,price\n# another\n1,100\n\n2,x\n");
    expect(errorOf(file).message).toContain(`${file}:7:`);
  });

  it("fewer than two rows (the file is named)", () => {
    const one = write("timestamp,price\n1,100\n");
    expect(errorOf(one).message).toContain(one);
    expect(errorOf(one).message).toMatch(/at least two/);
    const none = write("timestamp,price\n");
    expect(errorOf(none).message).toContain(none);
  });

  it("a missing file", () => {
    const file = join(dir, "does-not-exist.csv");
    expect(errorOf(file).message).toContain(file);
  });

  it("accepts CRLF line ends, comments, blank lines and a header in any case", () => {
    const file = write("# source: test\r\nTimestamp, Price\r\n\r\n1,100\r\n2,101.5\r\n# end\r\n");
    const s = readPriceCsv(file);
    expect(Array.from(s.timestamps)).toEqual([1, 2]);
    expect(Array.from(s.prices)).toEqual([100, 101.5]);
    expect(s.intervalSeconds).toBe(1);
  });
});

describe("csvWindows", () => {
  const series = readPriceCsv(ETH_CSV);
  const steps = 168;
  const spot = 3000;

  const expectRescaledCopy = (path: Float64Array, start: number) => {
    expect(path.length).toBe(steps + 1);
    expect(path[0]).toBeCloseTo(spot, 9);
    const base = series.prices[start]!;
    for (let j = 0; j <= steps; j++) {
      expect(Math.abs(path[j]! / path[0]! - series.prices[start + j]! / base)).toBeLessThan(1e-12);
    }
  };

  it("while the series is long enough, windows follow each other without overlap, each rescaled to start at the spot", () => {
    const { paths, distinct, starts } = csvWindows(series, { count: 4, steps, spot });
    expect(distinct).toBe(Math.floor(792 / steps));
    expect(starts).toEqual([0, 168, 336, 504]);
    paths.forEach((path, i) => expectRescaledCopy(path, starts[i]!));
  });

  it("when count exceeds distinct, windows are spread evenly over the whole series and overlap", () => {
    const count = 10;
    const { paths, distinct, starts } = csvWindows(series, { count, steps, spot });
    expect(distinct).toBe(4);
    expect(starts[0]).toBe(0);
    expect(starts[count - 1]).toBe(792 - steps);
    for (let i = 1; i < count; i++) {
      const gap = starts[i]! - starts[i - 1]!;
      expect(gap).toBeGreaterThan(0);
      expect(gap).toBeLessThan(steps);
      expect(Math.abs(gap - (792 - steps) / (count - 1))).toBeLessThanOrEqual(1);
    }
    paths.forEach((path, i) => expectRescaledCopy(path, starts[i]!));
  });

  it("a hand-sized series: windows of 2 steps rescale exactly", () => {
    const small: PriceSeries = {
      file: "small.csv",
      timestamps: Float64Array.from([0, 1, 2, 3, 4]),
      prices: Float64Array.from([100, 110, 121, 200, 100]),
      intervalSeconds: 1,
    };
    const { paths, distinct, starts } = csvWindows(small, { count: 2, steps: 2, spot: 50 });
    expect(distinct).toBe(2);
    expect(starts).toEqual([0, 2]);
    expect(Array.from(paths[0]!)).toEqual([50, 55, 60.5]);
    expect(Array.from(paths[1]!).map((x) => Number(x.toFixed(9)))).toEqual([50, 82.644628099, 41.32231405]);
  });

  it("one window can use every row, and one row more is a PriceFileError naming the file", () => {
    expect(csvWindows(series, { count: 1, steps: 792, spot }).paths[0]!.length).toBe(793);
    expect(() => csvWindows(series, { count: 1, steps: 793, spot })).toThrow(PriceFileError);
    expect(() => csvWindows(series, { count: 1, steps: 793, spot })).toThrow(ETH_CSV);
  });

  it("generatePaths reads a CSV source into the same windows", () => {
    const paths = generatePaths({ kind: "csv", file: ETH_CSV }, { count: 3, steps, spot, blockSeconds: 3600, seed: 1 });
    expect(paths).toEqual(csvWindows(series, { count: 3, steps, spot }).paths);
  });
});

describe("regime-switching paths", () => {
  const source = { kind: "regime" as const, drift: 0, vol: 0, vols: [0.4, 1.6] as const, meanBlocks: [3_000, 1_000] as const };
  it("realise the stationary volatility over a long path, and each regime's own volatility within it", () => {
    // Short regimes (~1,000 switches) for the long-run share of each; √(0.75 · 0.16 + 0.25 · 2.56) = √0.76.
    const quick = simulatePath({ ...source, meanBlocks: [300, 100] }, { steps: 400_000, spot: 3000, blockSeconds: 12, seed: 3 });
    expect(realizedVol(quick, 12)).toBeGreaterThan(0.95 * Math.sqrt(0.76));
    expect(realizedVol(quick, 12)).toBeLessThan(1.05 * Math.sqrt(0.76));
    expect(regimeVol([0.4, 1.6], [300, 100])).toBeCloseTo(Math.sqrt(0.76), 12);
    const path = simulatePath(source, { steps: 400_000, spot: 3000, blockSeconds: 12, seed: 3 });
    // 200-block windows: most sit near one regime's volatility or the other (a bimodal spread), few in between.
    const windows: number[] = [];
    for (let i = 0; i + 200 < path.length; i += 200) windows.push(realizedVol(path.subarray(i, i + 201), 12));
    const calm = windows.filter((v) => v < 0.55).length / windows.length;
    const stressed = windows.filter((v) => v > 1.3).length / windows.length;
    expect(calm).toBeGreaterThan(0.6);
    expect(stressed).toBeGreaterThan(0.15);
  });

  it("rejects a regime that cannot run, naming the field", () => {
    const shape = { steps: 10, spot: 3000, blockSeconds: 12, seed: 1 };
    expect(() => simulatePath({ ...source, meanBlocks: [0, 10] }, shape)).toThrow(/meanBlocks/);
    expect(() => simulatePath({ ...source, vols: [-0.1, 1] }, shape)).toThrow(/vols/);
  });
});

