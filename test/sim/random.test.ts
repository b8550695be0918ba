/**
 * The simulator's random streams (harness/random.ts, sim/paths.ts): Philox4x32-10 against Random123's known
 * answers, its uniforms, and the property issue 15 asks for — the paths of one seed never share a stretch of
 * draws. The same check run on the generator it replaced (mulberry32 seeded per path: every seed an offset in one
 * 2^32 cycle) finds the shared stretches, so the check is real.
 */
import { describe, expect, it } from "vitest";
import { mulberry32, normalSampler, philox4x32, philoxUniform } from "../../harness/random.ts";
import { simulatePath } from "../../sim/paths.ts";

const PATHS = 10_000;
const STEPS = 1_000;

/** The per-path seed of the replaced generator (sim/paths.ts before issue 15). */
const oldPathSeed = (seed: number, index: number) =>
  (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;

/** `paths × steps` normal draws, path after path, from one normal sampler per path. */
function draws(samplerOf: (path: number) => () => number): Float64Array {
  const out = new Float64Array(PATHS * STEPS);
  for (let p = 0; p < PATHS; p++) {
    const normal = samplerOf(p);
    for (let i = 0; i < STEPS; i++) out[p * STEPS + i] = normal();
  }
  return out;
}

/**
 * The longest run of equal consecutive values that two different paths share (value for value, at any offset in
 * either), and where: a hash table of every value (open addressing on its bits), then, for each repeated value,
 * the run it starts.
 */
function longestSharedRun(values: Float64Array): { length: number; paths: [number, number] } {
  const bits = new Uint32Array(values.buffer);
  const size = 1 << 25;
  const table = new Int32Array(size).fill(-1);
  let best = { length: 0, paths: [-1, -1] as [number, number] };
  for (let i = 0; i < values.length; i++) {
    let slot = (Math.imul(bits[2 * i]!, 0x9e3779b1) ^ Math.imul(bits[2 * i + 1]!, 0x85ebca6b)) >>> 7;
    for (;;) {
      const j = table[slot]!;
      if (j === -1) {
        table[slot] = i;
        break;
      }
      if (values[j] === values[i] && Math.floor(j / STEPS) !== Math.floor(i / STEPS)) {
        let length = 0;
        while (i + length < values.length && values[j + length] === values[i + length]) length++;
        if (length > best.length) best = { length, paths: [Math.floor(j / STEPS), Math.floor(i / STEPS)] };
      }
      slot = (slot + 1) & (size - 1);
    }
  }
  return best;
}

describe("Philox4x32-10", () => {
  it("gives Random123's known answers (kat_vectors, philox4x32 10)", () => {
    const out = new Uint32Array(4);
    expect([...philox4x32([0, 0, 0, 0], [0, 0], out)]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const ones = 0xffffffff;
    expect([...philox4x32([ones, ones, ones, ones], [ones, ones], out)]).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect([...philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], out)]).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });

  it("draws uniforms in [0, 1) with mean 1/2 and variance 1/12, and a stream replays identically", () => {
    const u = philoxUniform(7, 3);
    let sum = 0;
    let sumSq = 0;
    const n = 200_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = u();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      sumSq += x * x;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sumSq / n - mean * mean - 1 / 12)).toBeLessThan(0.002);
    const again = philoxUniform(7, 3);
    const first = philoxUniform(7, 3);
    for (let i = 0; i < 1_000; i++) expect(again()).toBe(first());
    expect(philoxUniform(7, 4)()).not.toBe(philoxUniform(7, 3)());
    expect(philoxUniform(7, 3, 1)()).not.toBe(philoxUniform(7, 3, 0)());
  });
});

describe("the simulator's paths never share a run of draws", () => {
  it(`${PATHS.toLocaleString("en-US")} paths of one seed, ${STEPS.toLocaleString("en-US")} draws each: no two share even two consecutive draws`, () => {
    const shared = longestSharedRun(draws((p) => normalSampler(philoxUniform(1, p, 0))));
    expect(shared.length, `paths ${shared.paths.join(" and ")}`).toBeLessThan(2);
  });

  it("the check finds the overlap of the generator it replaced (seed 1: paths 70 and 9,870 share hundreds of draws)", () => {
    const shared = longestSharedRun(draws((p) => normalSampler(mulberry32(oldPathSeed(1, p)))));
    expect(shared.length).toBeGreaterThan(100);
    expect(shared.paths).toContain(70);
  });

  it("a path's diffusion is the Philox stream of (seed, path), lane 0: each log step is logDrift + σ√dt · z", () => {
    const spot = 3000;
    const blockSeconds = 12;
    const vol = 0.8;
    const path = simulatePath({ kind: "gbm", drift: 0, vol }, { steps: 50, spot, blockSeconds, seed: 1, path: 70 });
    const normal = normalSampler(philoxUniform(1, 70, 0));
    const dt = blockSeconds / (365 * 86_400);
    let logPrice = Math.log(spot);
    for (let i = 1; i <= 50; i++) {
      logPrice += -0.5 * vol * vol * dt + vol * Math.sqrt(dt) * normal();
      expect(path[i]).toBeCloseTo(Math.exp(logPrice), 9);
    }
  });
});
