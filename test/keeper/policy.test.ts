/**
 * The hedging policies and the closed forms behind them (keeper/policy/). Pure: no chain. Each closed form is
 * checked against an independent evaluation, its scaling law, the optimisation it claims to solve, and (for the
 * band formulas) a seeded simulation of the stationary argument they are derived from.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hedgeBenefitQuote } from "../../keeper/policy/benefit.ts";
import type { DelayCapPolicy } from "../../keeper/policy/delayCap.ts";
import { gasAwareParams } from "../../keeper/policy/gasAware.ts";
import { decide } from "../../keeper/policy/index.ts";
import {
  cheapestSplitChunk,
  cpmmSlippage,
  FIXED_COST_BAND_CONSTANT,
  fixedCostBandHalfWidth,
  gasAwareNetValue,
  gasAwareOptimalTrade,
  MIN_HEDGE_DELTA,
  whalleyWilmottHalfWidth,
  type GasAwareParams,
} from "../../keeper/policy/theory.ts";
import type { TimeOrMovePolicy } from "../../keeper/policy/timeOrMove.ts";
import { getAmountIn, getAmountOut } from "../../keeper/sizing/amm.ts";
import type { MarketView, PolicyConfig, RiskPreferences } from "../../keeper/types.ts";
import { marketView, TEST_PREFS } from "../helpers/snapshot.ts";

const SEED = 0x5eed_0002;
const RUNS = 1_000;
const YEAR = 31_536_000;

const PREFS = TEST_PREFS;

// ─── generators that put the delta where the decisions are made ───
// fc.double is uniform over bit patterns, so it crowds near 0: the old delta generator (|d| < 1e-12 → 0) gave
// delta = 0 in 89% of samples, and a band policy with its band halved passed every property. The deltas below
// sit just inside, exactly at and just outside each threshold, on both sides, plus wide values.

/** A double uniform in value on [min, max]. */
const uniform = (min: number, max: number): fc.Arbitrary<number> =>
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((i) => min + ((max - min) * i) / (2 ** 31 - 1));
/** A double log-uniform on [min, max] (0 < min < max). */
const logUniform = (min: number, max: number): fc.Arbitrary<number> =>
  uniform(Math.log(min), Math.log(max)).map((x) => Math.min(max, Math.max(min, Math.exp(x))));

/** The adjacent float64 towards +∞ (`up`) or −∞, for "one ulp inside / outside" a threshold. */
function nextFloat(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 === up ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/**
 * Where |delta| sits relative to a threshold t ≥ 0: `inside` is t·(1 − gap) or one ulp below t, `edge` is t
 * exactly, `outside` t·(1 + gap) or one ulp above (gap when t = 0); `wide` anywhere in [−50, 50]; `zero` 0.
 * Relative gaps are log-uniform on [1e-12, 1], so most land within a factor 2 of t (what a halved or doubled
 * threshold would get wrong) and some within rounding distance of it.
 */
type DeltaPlacement =
  | { where: "inside" | "outside"; gap: number | "ulp"; sign: 1 | -1 }
  | { where: "edge"; sign: 1 | -1 }
  | { where: "wide"; value: number }
  | { where: "zero" };

const signArb = fc.constantFrom(1 as const, -1 as const);
const gapArb = fc.oneof({ arbitrary: logUniform(1e-12, 1), weight: 4 }, { arbitrary: fc.constant("ulp" as const), weight: 1 });
const placementArb: fc.Arbitrary<DeltaPlacement> = fc.oneof(
  { arbitrary: fc.record({ where: fc.constant("inside" as const), gap: gapArb, sign: signArb }), weight: 3 },
  { arbitrary: fc.record({ where: fc.constant("edge" as const), sign: signArb }), weight: 1 },
  { arbitrary: fc.record({ where: fc.constant("outside" as const), gap: gapArb, sign: signArb }), weight: 3 },
  { arbitrary: fc.record({ where: fc.constant("wide" as const), value: uniform(-50, 50) }), weight: 2 },
  { arbitrary: fc.constant({ where: "zero" as const }), weight: 1 },
);

/** A delta placed by `p` around the threshold t ≥ 0. */
function placeDelta(p: DeltaPlacement, t: number): number {
  switch (p.where) {
    case "zero":
      return 0;
    case "wide":
      return p.value;
    case "edge":
      return p.sign * t;
    case "inside":
      if (t === 0) return 0;
      return p.sign * (p.gap === "ulp" ? nextFloat(t, false) : t * (1 - p.gap));
    case "outside":
      if (t === 0) return p.sign * (p.gap === "ulp" ? Number.MIN_VALUE : p.gap);
      return p.sign * (p.gap === "ulp" ? nextFloat(t, true) : t * (1 + p.gap));
  }
}

/** A policy threshold (band, minTrade): 0, anywhere in [0, 20], or log-uniform over 1e-9..20. */
const thresholdArb: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: uniform(0, 20), weight: 3 },
  { arbitrary: logUniform(1e-9, 20), weight: 3 },
);

/** The view's delta: around the vault's delta tolerance or its on-chain band (`marketView`'s 0.01 and 0.1), or wide. */
const viewDeltaArb: fc.Arbitrary<number> = fc
  .tuple(placementArb, fc.constantFrom(0.01, 0.1))
  .map(([p, t]) => placeDelta(p, t));

const viewArb: fc.Arbitrary<MarketView> = fc
  .record({
    delta: viewDeltaArb,
    gamma: fc.double({ min: -0.05, max: 0.05, noNaN: true }),
    spot: fc.double({ min: 1, max: 100_000, noNaN: true }),
    vol: fc.double({ min: 0.05, max: 3, noNaN: true }),
    rate: fc.double({ min: 0, max: 0.2, noNaN: true }),
    timeToExpiry: fc.double({ min: 0, max: 2, noNaN: true }),
    blocksSinceHedge: fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.constant(Number.POSITIVE_INFINITY)),
    gasCostQuote: fc.double({ min: 0, max: 100, noNaN: true }),
    feeRate: fc.double({ min: 0, max: 0.01, noNaN: true }),
    eta: fc.double({ min: 0, max: 100, noNaN: true }),
  })
  .map(({ gasCostQuote, feeRate, eta, ...rest }) => marketView({ ...rest, costs: { gasCostQuote, feeRate, eta } }));

const prefsArb: fc.Arbitrary<RiskPreferences> = fc.record({
  riskAversion: fc.double({ min: 1e-7, max: 1e-1, noNaN: true }),
  horizonSeconds: fc.integer({ min: 12, max: 86_400 }),
});

describe("decide", () => {
  it("holds when the vault cannot trade, saying why and what the policy would have done", () => {
    const policy: PolicyConfig = { name: "band", band: 0.5, target: "zero" };
    const decision = decide(marketView({ canTrade: false, delta: -3 }), policy, PREFS);
    expect(decision.kind).toBe("hold");
    expect(decision.reason).toMatch(/cannot trade/);
    expect(decision.reason).toMatch(/would rebalance/);
    expect(decision.band).toBe(0.5);
  });

  it("holds under every policy when the vault cannot trade (cause cannot-trade); the policy's own holds have cause policy", () => {
    const policies: PolicyConfig[] = [
      { name: "every-block", minTrade: 0 },
      { name: "interval", intervalBlocks: 1, minTrade: 0 },
      { name: "band", band: 0, target: "edge" },
      { name: "whalley-wilmott" },
      { name: "gas-aware" },
      { name: "delay-cap", minDelayBlocks: 1, maxHedge: 1, minTrade: 0 },
      { name: "time-or-move", maxBlocks: 1, moveBps: 1, minTrade: 0 },
    ];
    fc.assert(
      fc.property(viewArb, prefsArb, fc.constantFrom(...policies), (view, prefs, policy) => {
        expect(decide({ ...view, canTrade: false }, policy, prefs)).toMatchObject({ kind: "hold", cause: "cannot-trade" });
        const verdict = decide({ ...view, canTrade: true }, policy, prefs);
        if (verdict.kind === "hold") expect(verdict.cause).toBe("policy");
        // No delta at all: every policy holds of its own accord.
        expect(decide({ ...view, delta: 0, canTrade: true }, policy, prefs)).toMatchObject({ kind: "hold", cause: "policy" });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("every-block policy", () => {
  it("rebalances to zero exactly when |delta| > minTrade", () => {
    fc.assert(
      fc.property(viewArb, thresholdArb, placementArb, (base, minTrade, placement) => {
        const view = { ...base, delta: placeDelta(placement, minTrade) };
        const d = decide(view, { name: "every-block", minTrade }, PREFS);
        expect(d.kind).toBe(Math.abs(view.delta) > minTrade ? "rebalance" : "hold");
        if (d.kind === "rebalance") {
          expect(d.targetDelta).toBe(0);
          expect(d.target).toBe("zero");
        }
        expect(d.reason).toMatch(/^every-block: /);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("interval policy", () => {
  it("rebalances to zero exactly when intervalBlocks have passed and |delta| > minTrade", () => {
    fc.assert(
      fc.property(
        viewArb,
        fc.integer({ min: 1, max: 500 }),
        thresholdArb,
        placementArb,
        (base, intervalBlocks, minTrade, placement) => {
          const view = { ...base, delta: placeDelta(placement, minTrade) };
          const d = decide(view, { name: "interval", intervalBlocks, minTrade }, PREFS);
          const due = view.blocksSinceHedge >= intervalBlocks && Math.abs(view.delta) > minTrade;
          expect(d.kind).toBe(due ? "rebalance" : "hold");
          if (d.kind === "rebalance") expect(d.targetDelta).toBe(0);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("treats a vault that was never hedged as due", () => {
    const view = marketView({ blocksSinceHedge: Number.POSITIVE_INFINITY });
    const d = decide(view, { name: "interval", intervalBlocks: 1_000_000, minTrade: 0.1 }, PREFS);
    expect(d.kind).toBe("rebalance");
    expect(d.reason).toMatch(/never hedged/);
  });
});

describe("band policy", () => {
  it("is tested with deltas around the band: inside within a factor 2, exactly at, and outside within a factor 2", () => {
    // The generator's coverage, so that a change to it cannot quietly go back to sampling delta = 0.
    const samples = fc.sample(fc.tuple(thresholdArb, placementArb), { seed: SEED, numRuns: RUNS });
    const count = { zero: 0, insideHalf: 0, edge: 0, outsideDouble: 0, positive: 0, negative: 0 };
    for (const [band, placement] of samples) {
      const a = Math.abs(placeDelta(placement, band));
      if (a === 0) count.zero++;
      if (a > band / 2 && a < band) count.insideHalf++;
      if (a === band && band > 0) count.edge++;
      if (a > band && a <= 2 * band) count.outsideDouble++;
      if (placeDelta(placement, band) > 0) count.positive++;
      if (placeDelta(placement, band) < 0) count.negative++;
    }
    console.log(`band policy generator over ${RUNS} samples: ${JSON.stringify(count)}`);
    expect(count.zero).toBeLessThan(RUNS * 0.2);
    expect(count.insideHalf).toBeGreaterThan(RUNS * 0.2);
    expect(count.edge).toBeGreaterThan(RUNS * 0.05);
    expect(count.outsideDouble).toBeGreaterThan(RUNS * 0.2);
    expect(Math.min(count.positive, count.negative)).toBeGreaterThan(RUNS * 0.3);
  });

  it("says why, in words an operator reads in the log: the delta, the band and the target", () => {
    expect(decide(marketView({ delta: 0.4 }), { name: "band", band: 0.5, target: "zero" }, PREFS)).toMatchObject({
      kind: "hold",
      reason: "band: |delta| 0.4 ≤ band 0.5",
    });
    expect(decide(marketView({ delta: -0.75 }), { name: "band", band: 0.5, target: "zero" }, PREFS)).toMatchObject({
      kind: "rebalance",
      targetDelta: 0,
      target: "zero",
      reason: "band: |delta| 0.75 > band 0.5, hedge to zero",
    });
    expect(decide(marketView({ delta: -0.75 }), { name: "band", band: 0.5, target: "edge" }, PREFS)).toMatchObject({
      kind: "rebalance",
      targetDelta: -0.5,
      target: "edge",
      reason: "band: |delta| 0.75 > band 0.5, hedge to the edge -0.5",
    });
  });

  it("rebalances exactly when |delta| > band, to zero or to the edge on the same side", () => {
    fc.assert(
      fc.property(
        viewArb,
        thresholdArb,
        fc.constantFrom("zero" as const, "edge" as const),
        placementArb,
        (base, band, target, placement) => {
          const view = { ...base, delta: placeDelta(placement, band) };
          const d = decide(view, { name: "band", band, target }, PREFS);
          expect(d.band).toBe(band);
          expect(d.kind).toBe(Math.abs(view.delta) > band ? "rebalance" : "hold");
          if (d.kind !== "rebalance") return;
          expect(d.target).toBe(target);
          if (target === "zero") expect(d.targetDelta).toBe(0);
          else expect(d.targetDelta).toBe(Math.sign(view.delta) * band);
          expect(Math.abs(d.targetDelta)).toBeLessThan(Math.abs(view.delta));
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

// ─── Whalley–Wilmott ───

/** H evaluated independently of the implementation (pow instead of cbrt, parameters spelled out). */
function wwReference(view: MarketView, lambda: number, riskAversion: number): number {
  const g = Math.abs(view.gamma);
  const discount = Math.exp(-view.rate * view.timeToExpiry);
  return Math.pow(((3 / 2) * discount * lambda * view.spot * g * g) / riskAversion, 1 / 3);
}

describe("whalley-wilmott policy", () => {
  it("uses the band H = (3/2 · e^{−r(T−t)} · λ · S · Γ² / γ)^{1/3} and trades to its edge when |delta| > H", () => {
    fc.assert(
      fc.property(
        viewArb,
        prefsArb,
        fc.option(fc.double({ min: 0, max: 0.05, noNaN: true }), { nil: undefined }),
        placementArb,
        (base, prefs, costRate, placement) => {
          const policy: PolicyConfig =
            costRate === undefined ? { name: "whalley-wilmott" } : { name: "whalley-wilmott", costRate };
          // H does not depend on delta: place the delta around the band the policy will use.
          const band = decide(base, policy, prefs).band ?? Number.NaN;
          const view = { ...base, delta: placeDelta(placement, Math.max(band, MIN_HEDGE_DELTA)) };
          const d = decide(view, policy, prefs);
          const h = wwReference(view, costRate ?? view.costs.feeRate, prefs.riskAversion);
          expect(d.band).toBeDefined();
          expect(Math.abs((d.band ?? Number.NaN) - h)).toBeLessThanOrEqual(1e-12 * h);
          const trades = Math.abs(view.delta) > Math.max(d.band ?? 0, MIN_HEDGE_DELTA);
          expect(d.kind).toBe(trades ? "rebalance" : "hold");
          if (d.kind === "rebalance") {
            expect(d.targetDelta).toBe(Math.sign(view.delta) * (d.band ?? Number.NaN));
            expect(Math.abs(d.targetDelta)).toBeLessThan(Math.abs(view.delta));
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("takes λ from the AMM fee when costRate is not set", () => {
    const view = marketView({ costs: { gasCostQuote: 0, feeRate: 0.0025, eta: 0 } });
    const d = decide(view, { name: "whalley-wilmott" }, PREFS);
    expect(d.band).toBeCloseTo(wwReference(view, 0.0025, PREFS.riskAversion), 12);
  });

  it("hedges any delta above 1e-9 to zero when gamma is 0 (H = 0)", () => {
    const hedges = decide(marketView({ gamma: 0, delta: 1e-6 }), { name: "whalley-wilmott" }, PREFS);
    expect(hedges).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero", band: 0 });
    const holds = decide(marketView({ gamma: 0, delta: 5e-10 }), { name: "whalley-wilmott" }, PREFS);
    expect(holds.kind).toBe("hold");
  });
});

// ─── the closed forms ───

const wwArb = fc.record({
  spot: fc.double({ min: 1, max: 1e5, noNaN: true }),
  gamma: fc.double({ min: 1e-6, max: 1, noNaN: true }),
  costRate: fc.double({ min: 1e-5, max: 0.05, noNaN: true }),
  riskAversion: fc.double({ min: 1e-6, max: 1, noNaN: true }),
  rate: fc.double({ min: 0, max: 0.2, noNaN: true }),
  timeToExpiry: fc.double({ min: 0, max: 2, noNaN: true }),
});

describe("Whalley–Wilmott half-width", () => {
  it("scales as λ^{1/3}, Γ^{2/3}, S^{1/3} and γ^{−1/3}", () => {
    fc.assert(
      fc.property(wwArb, fc.double({ min: 0.1, max: 10, noNaN: true }), (p, c) => {
        const h = whalleyWilmottHalfWidth(p);
        const rel = (x: number, y: number) => Math.abs(x - y) / y;
        expect(rel(whalleyWilmottHalfWidth({ ...p, costRate: p.costRate * c }), h * Math.cbrt(c))).toBeLessThan(1e-12);
        expect(rel(whalleyWilmottHalfWidth({ ...p, gamma: p.gamma * c }), h * Math.pow(c, 2 / 3))).toBeLessThan(1e-12);
        expect(rel(whalleyWilmottHalfWidth({ ...p, spot: p.spot * c }), h * Math.cbrt(c))).toBeLessThan(1e-12);
        expect(rel(whalleyWilmottHalfWidth({ ...p, riskAversion: p.riskAversion * c }), h / Math.cbrt(c))).toBeLessThan(
          1e-12,
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("minimises the stationary cost rate λ·S·a/(2H) + (γ/2)·σ²S²·H²/3 of a reflected band (r = 0)", () => {
    fc.assert(
      fc.property(wwArb, fc.double({ min: 0.1, max: 2, noNaN: true }), (p, sigma) => {
        const a = p.gamma ** 2 * sigma ** 2 * p.spot ** 2;
        const costRate = (h: number) =>
          (p.costRate * p.spot * a) / (2 * h) + (p.riskAversion / 2) * sigma ** 2 * p.spot ** 2 * (h * h) / 3;
        const h = whalleyWilmottHalfWidth({ ...p, rate: 0 });
        for (const factor of [0.9, 0.99, 1.01, 1.1]) {
          expect(costRate(h)).toBeLessThanOrEqual(costRate(h * factor) * (1 + 1e-12));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("is 0 without gamma and infinite without risk aversion", () => {
    const p = { spot: 3_000, gamma: 0, costRate: 0.003, riskAversion: 1e-3, rate: 0, timeToExpiry: 0.1 };
    expect(whalleyWilmottHalfWidth(p)).toBe(0);
    expect(whalleyWilmottHalfWidth({ ...p, gamma: 0.01, riskAversion: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(() => whalleyWilmottHalfWidth({ ...p, riskAversion: -1 })).toThrow(RangeError);
  });
});

describe("fixed-cost band half-width", () => {
  const fixedArb = fc.record({
    gamma: fc.double({ min: 1e-6, max: 1, noNaN: true }),
    fixedCost: fc.double({ min: 1e-3, max: 100, noNaN: true }),
    riskAversion: fc.double({ min: 1e-6, max: 1, noNaN: true }),
  });

  it("scales as ε^{1/4}, Γ^{1/2} and γ^{−1/4} (the fourth-root law of fixed costs)", () => {
    fc.assert(
      fc.property(fixedArb, fc.double({ min: 0.1, max: 10, noNaN: true }), (p, c) => {
        const h = fixedCostBandHalfWidth(p);
        const rel = (x: number, y: number) => Math.abs(x - y) / y;
        expect(rel(fixedCostBandHalfWidth({ ...p, fixedCost: p.fixedCost * c }), h * c ** 0.25)).toBeLessThan(1e-12);
        expect(rel(fixedCostBandHalfWidth({ ...p, gamma: p.gamma * c }), h * c ** 0.5)).toBeLessThan(1e-12);
        expect(rel(fixedCostBandHalfWidth({ ...p, riskAversion: p.riskAversion * c }), h / c ** 0.25)).toBeLessThan(
          1e-12,
        );
        expect(rel(fixedCostBandHalfWidth({ ...p, fixedCost: p.fixedCost * 16 }), 2 * h)).toBeLessThan(1e-12);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("minimises the stationary cost rate ε·a/H² + (γ/2)·σ²S²·H²/6 of trading back to zero", () => {
    fc.assert(
      fc.property(
        fixedArb,
        fc.double({ min: 0.1, max: 2, noNaN: true }),
        fc.double({ min: 1, max: 1e5, noNaN: true }),
        (p, sigma, spot) => {
          const a = p.gamma ** 2 * sigma ** 2 * spot ** 2;
          const costRate = (h: number) =>
            (p.fixedCost * a) / (h * h) + (p.riskAversion / 2) * sigma ** 2 * spot ** 2 * (h * h) / 6;
          const h = fixedCostBandHalfWidth(p);
          expect(FIXED_COST_BAND_CONSTANT).toBe(12);
          expect(h).toBeCloseTo(Math.pow((12 * p.fixedCost * p.gamma ** 2) / p.riskAversion, 0.25), 12);
          for (const factor of [0.9, 0.99, 1.01, 1.1]) {
            expect(costRate(h)).toBeLessThanOrEqual(costRate(h * factor) * (1 + 1e-12));
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

/** xorshift32: a seeded, reproducible ±1 source for the random walks below. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

describe("the stationary argument behind both bands (seeded simple random walk, step 1, a = 1 per step)", () => {
  const H = 40;
  const STEPS = 4_000_000;
  /** The lattice biases E[y²] by about 1/H (2.5%: uniform on {−H..H} has H(H+1)/3); the rest is sampling noise. */
  const TOLERANCE = 0.06;
  const expectRatioNearOne = (ratio: number) => expect(Math.abs(ratio - 1)).toBeLessThan(TOLERANCE);

  it("a walk reflected at ±H has E[y²] ≈ H²/3 and trades volume ≈ a/(2H) per step (Whalley–Wilmott)", () => {
    const next = xorshift32(SEED);
    let y = 0;
    let volume = 0;
    let sumSquares = 0;
    for (let i = 0; i < STEPS; i++) {
      y += next() & 1 ? 1 : -1;
      if (y > H) {
        volume += y - H;
        y = H;
      } else if (y < -H) {
        volume += -H - y;
        y = -H;
      }
      sumSquares += y * y;
    }
    expectRatioNearOne(sumSquares / STEPS / ((H * H) / 3));
    expectRatioNearOne(volume / STEPS / (1 / (2 * H)));
  });

  it("a walk reset to 0 at ±H has E[y²] ≈ H²/6 and trades ≈ a/H² times per step (fixed cost)", () => {
    const next = xorshift32(SEED + 1);
    let y = 0;
    let trades = 0;
    let sumSquares = 0;
    for (let i = 0; i < STEPS; i++) {
      y += next() & 1 ? 1 : -1;
      if (Math.abs(y) >= H) {
        trades += 1;
        y = 0;
      }
      sumSquares += y * y;
    }
    expectRatioNearOne(sumSquares / STEPS / ((H * H) / 6));
    expectRatioNearOne(trades / STEPS / (1 / (H * H)));
  });
});

describe("cpmmSlippage", () => {
  it("equals the exact constant-product cost beyond the oracle value (zero fee) for buys and sells", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 1_000_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: -0.5, max: 0.5, noNaN: true }),
        (reserveUnits, spot, fraction) => {
          const x = reserveUnits * fraction;
          if (Math.abs(x) < 1e-3) return;
          // Exact pool in 18-decimal units on both sides, marginal price = spot.
          const e18 = 10n ** 18n;
          const reserveU = BigInt(reserveUnits) * e18;
          const reserveQ = BigInt(reserveUnits) * BigInt(spot) * e18;
          const size = BigInt(Math.round(Math.abs(x) * 1e6)) * 10n ** 12n;
          const xExact = Number(size) / 1e18;
          const quote =
            x > 0
              ? Number(getAmountIn(size, reserveQ, reserveU, 0n)) / 1e18
              : Number(getAmountOut(size, reserveU, reserveQ, 0n)) / 1e18;
          const exact = x > 0 ? quote - spot * xExact : spot * xExact - quote;
          const model = cpmmSlippage(x > 0 ? xExact : -xExact, reserveUnits, spot);
          expect(Math.abs(model - exact)).toBeLessThanOrEqual(1e-9 * model + 1e-9);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("is η·x² with η = spot / reserve to leading order", () => {
    const reserve = 1_000;
    const spot = 3_000;
    for (const x of [0.001, 0.01, 0.1, -0.1]) {
      const eta = spot / reserve;
      expect(cpmmSlippage(x, reserve, spot) / (eta * x * x)).toBeCloseTo(1, 3);
    }
    expect(cpmmSlippage(reserve, reserve, spot)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("cheapestSplitChunk", () => {
  it("minimises the total cost n·gas + n·η·x² of splitting X into n = X/x chunks", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        fc.double({ min: 1e-4, max: 100, noNaN: true }),
        fc.double({ min: 0.1, max: 1_000, noNaN: true }),
        fc.double({ min: 0.01, max: 100, noNaN: true }),
        (gas, eta, total, factor) => {
          const cost = (x: number) => (total / x) * gas + (total / x) * eta * x * x;
          const best = cheapestSplitChunk(gas, eta);
          expect(cost(best)).toBeLessThanOrEqual(cost(best * factor) * (1 + 1e-12));
          expect(cost(best)).toBeCloseTo(2 * total * Math.sqrt(gas * eta), 6);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    expect(cheapestSplitChunk(4, 1)).toBe(2);
    expect(cheapestSplitChunk(4, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

// ─── gas-aware ───

describe("gas-aware policy", () => {
  it("trades x* with B(x*) − C(x*) at least as large as at any other size in (0, |delta|]", () => {
    const fractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8 });
    fc.assert(
      fc.property(viewArb, prefsArb, fractions, (view, prefs, us) => {
        const params = gasAwareParams(view, prefs);
        const best = gasAwareOptimalTrade(params);
        expect(best.size).toBeGreaterThanOrEqual(0);
        expect(best.size).toBeLessThanOrEqual(Math.abs(view.delta));
        // x* = 0 means every trade loses at least the gas: the supremum over u > 0 is −gas, at u → 0.
        const bestValue = best.size > 0 ? gasAwareNetValue(params, best.size) : -params.gasCost;
        const slack = 1e-9 * (Math.abs(bestValue) + params.gasCost + 1e-12);
        for (const u of [...us, 1]) {
          const size = u * Math.abs(view.delta);
          if (size > 0) expect(gasAwareNetValue(params, size)).toBeLessThanOrEqual(bestValue + slack);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("rebalances iff the best trade's net value is positive, towards zero by x*, and reports the threshold", () => {
    fc.assert(
      fc.property(viewArb, prefsArb, (view, prefs) => {
        const d = decide(view, { name: "gas-aware" }, prefs);
        const best = gasAwareOptimalTrade(gasAwareParams(view, prefs));
        // Independent net value: B = (γ/2)σ²S²h·(δ² − (δ − x)²), C = gas + fee·S·x + η·x².
        const k = 0.5 * prefs.riskAversion * view.vol ** 2 * view.spot ** 2 * (prefs.horizonSeconds / YEAR);
        const x = best.size;
        const net =
          x > 0
            ? k * (view.delta ** 2 - (Math.abs(view.delta) - x) ** 2) -
              (view.costs.gasCostQuote + view.costs.feeRate * view.spot * x + view.costs.eta * x * x)
            : 0;
        expect(d.kind).toBe(x > MIN_HEDGE_DELTA && best.netValue > 0 ? "rebalance" : "hold");
        expect(Math.abs(best.netValue - net)).toBeLessThanOrEqual(1e-9 * (Math.abs(net) + view.costs.gasCostQuote + 1));
        expect(d.band).toBe(best.threshold);
        if (d.kind === "rebalance") {
          expect(d.targetDelta).toBeCloseTo(view.delta - Math.sign(view.delta) * x, 12);
          expect(Math.abs(d.targetDelta)).toBeLessThan(Math.abs(view.delta));
          expect(Math.abs(view.delta)).toBeGreaterThan(best.threshold * (1 - 1e-9));
        } else if (Number.isFinite(best.threshold) && x > MIN_HEDGE_DELTA) {
          expect(Math.abs(view.delta)).toBeLessThanOrEqual(best.threshold * (1 + 1e-9));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("stops short of zero by the fraction η/(k + η) with impact, and hedges fully without any cost", () => {
    const base: GasAwareParams = { delta: -10, riskCoefficient: 2, feePerUnit: 0, eta: 0, gasCost: 0 };
    expect(gasAwareOptimalTrade(base).size).toBe(10);
    expect(gasAwareOptimalTrade({ ...base, eta: 2 }).size).toBe(5);
    const free = decide(
      marketView({ delta: -3, costs: { gasCostQuote: 0, feeRate: 0, eta: 0 } }),
      { name: "gas-aware" },
      PREFS,
    );
    expect(free).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
  });

  it("holds when the gas alone is worth more than removing the whole delta", () => {
    const view = marketView({ delta: 0.01, costs: { gasCostQuote: 1_000, feeRate: 0.003, eta: 3 } });
    const d = decide(view, { name: "gas-aware" }, PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toMatch(/^gas-aware: /);
  });
});

// ─── named baselines: delay-cap (Lyra's GMX hedger), time-or-move (Opyn's Crab) ───

describe("delay-cap policy", () => {
  const policy = (overrides: Partial<DelayCapPolicy> = {}): DelayCapPolicy => ({
    name: "delay-cap",
    minDelayBlocks: 10,
    maxHedge: Number.POSITIVE_INFINITY,
    minTrade: 0.1,
    ...overrides,
  });

  it("holds while fewer than minDelayBlocks blocks have passed since the last hedge", () => {
    const d = decide(marketView({ delta: -8, blocksSinceHedge: 9 }), policy(), PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toBe("delay-cap: 9 of 10 blocks since the last hedge");
  });

  it("hedges to zero once minDelayBlocks blocks have passed, when the cap does not bind", () => {
    for (const maxHedge of [Number.POSITIVE_INFINITY, 8, 100]) {
      const d = decide(marketView({ delta: -8, blocksSinceHedge: 10 }), policy({ maxHedge }), PREFS);
      expect(d).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
      expect(d.reason).toMatch(/^delay-cap: 10 blocks since the last hedge \(≥ 10\) .*hedge to zero$/);
    }
  });

  it("stops short at the cap when |delta| exceeds maxHedge, on either side (target 'edge')", () => {
    const short = decide(marketView({ delta: -8, blocksSinceHedge: 10 }), policy({ maxHedge: 3 }), PREFS);
    expect(short).toMatchObject({ kind: "rebalance", targetDelta: -5, target: "edge" });
    expect(short.reason).toMatch(/hedge 3 \(the cap\), stopping short at -5$/);
    const long = decide(marketView({ delta: 8, blocksSinceHedge: 10 }), policy({ maxHedge: 3 }), PREFS);
    expect(long).toMatchObject({ kind: "rebalance", targetDelta: 5, target: "edge" });
  });

  it("holds while |delta| ≤ minTrade, even after the delay", () => {
    for (const delta of [0.1, -0.05, 0]) {
      const d = decide(marketView({ delta, blocksSinceHedge: 1_000 }), policy(), PREFS);
      expect(d.kind).toBe("hold");
      expect(d.reason).toMatch(/^delay-cap: \|delta\| .* ≤ minTrade 0\.1$/);
    }
  });

  it("treats a vault that was never hedged as past the delay", () => {
    const view = marketView({ delta: -2, blocksSinceHedge: Number.POSITIVE_INFINITY });
    const d = decide(view, policy({ minDelayBlocks: 1_000_000 }), PREFS);
    expect(d).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
    expect(d.reason).toMatch(/never hedged/);
  });

  it("rebalances exactly when the delay has passed and |delta| > minTrade, by min(|delta|, cap) towards zero", () => {
    fc.assert(
      fc.property(
        viewArb,
        fc.integer({ min: 1, max: 500 }),
        fc.oneof(logUniform(0.01, 20), fc.constant(Number.POSITIVE_INFINITY)),
        thresholdArb,
        placementArb,
        fc.boolean(),
        (base, minDelayBlocks, maxHedge, minTrade, placement, aroundCap) => {
          // Around minTrade (trade or not) or around the cap (full hedge or stop short).
          const t = aroundCap && Number.isFinite(maxHedge) ? maxHedge : minTrade;
          const view = { ...base, delta: placeDelta(placement, t) };
          const d = decide(view, { name: "delay-cap", minDelayBlocks, maxHedge, minTrade }, PREFS);
          const due = view.blocksSinceHedge >= minDelayBlocks && Math.abs(view.delta) > minTrade;
          expect(d.kind).toBe(due ? "rebalance" : "hold");
          expect(d.reason).toMatch(/^delay-cap: /);
          if (d.kind === "rebalance") {
            const step = Math.min(Math.abs(view.delta), maxHedge);
            expect(d.targetDelta).toBeCloseTo(view.delta - Math.sign(view.delta) * step, 12);
            expect(d.target).toBe(Math.abs(view.delta) > maxHedge ? "edge" : "zero");
            // Never past zero: the remainder keeps the sign of the delta.
            expect(d.targetDelta * view.delta).toBeGreaterThanOrEqual(0);
          }
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("holds, through decide, when the vault cannot trade", () => {
    const d = decide(marketView({ delta: -8, blocksSinceHedge: 100, canTrade: false }), policy({ maxHedge: 3 }), PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toMatch(/cannot trade.*would rebalance: delay-cap: /);
  });
});

describe("time-or-move policy", () => {
  const policy = (overrides: Partial<TimeOrMovePolicy> = {}): TimeOrMovePolicy => ({
    name: "time-or-move",
    maxBlocks: 100,
    moveBps: 100,
    minTrade: 0.1,
    ...overrides,
  });
  const view = (overrides: Partial<MarketView>) =>
    marketView({ delta: -2, spot: 3_000, lastHedgeSpot: 3_000, blocksSinceHedge: 10, ...overrides });

  it("holds before maxBlocks while the spot has moved less than moveBps, saying how far each has got", () => {
    const d = decide(view({ spot: 3_010 }), policy(), PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toBe("time-or-move: 10 blocks since the last hedge (< 100) and spot moved 33.333 bps (< 100)");
  });

  it("hedges to zero once maxBlocks blocks have passed (the time trigger), whatever the spot", () => {
    const d = decide(view({ blocksSinceHedge: 100 }), policy(), PREFS);
    expect(d).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
    expect(d.reason).toBe(
      "time-or-move: 100 blocks since the last hedge (≥ 100); |delta| 2 > minTrade 0.1, hedge to zero",
    );
  });

  it("hedges to zero on a spot move up of moveBps since the last hedge, exactly at the threshold included", () => {
    const d = decide(view({ spot: 3_030 }), policy(), PREFS);
    expect(d).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
    expect(d.reason).toBe(
      "time-or-move: spot moved 100 bps since the last hedge (≥ 100); |delta| 2 > minTrade 0.1, hedge to zero",
    );
    expect(decide(view({ spot: 3_029.99 }), policy(), PREFS).kind).toBe("hold");
  });

  it("hedges to zero on a spot move down of moveBps, exactly at the threshold included", () => {
    expect(decide(view({ spot: 2_970 }), policy(), PREFS).kind).toBe("rebalance");
    expect(decide(view({ spot: 2_970.01 }), policy(), PREFS).kind).toBe("hold");
    // 100 → 90 is 999.9999999999998 bps as a ratio in float64: the threshold must still count.
    const d = decide(view({ spot: 90, lastHedgeSpot: 100 }), policy({ moveBps: 1_000 }), PREFS);
    expect(d.kind).toBe("rebalance");
    expect(d.reason).toMatch(/spot moved 1000 bps since the last hedge \(≥ 1000\)/);
  });

  it("names both triggers when time and move fire together", () => {
    const d = decide(view({ blocksSinceHedge: 200, spot: 3_300 }), policy(), PREFS);
    expect(d.kind).toBe("rebalance");
    expect(d.reason).toMatch(/^time-or-move: 200 blocks since the last hedge \(≥ 100\) and spot moved 1000 bps/);
  });

  it("uses only the time rule when the spot at the last hedge is unknown", () => {
    const unknown = { lastHedgeSpot: undefined, spot: 6_000 };
    const before = decide(view(unknown), policy(), PREFS);
    expect(before.kind).toBe("hold");
    expect(before.reason).toBe(
      "time-or-move: 10 blocks since the last hedge (< 100) and spot at the last hedge unknown",
    );
    expect(decide(view({ ...unknown, blocksSinceHedge: 100 }), policy(), PREFS).kind).toBe("rebalance");
  });

  it("treats a vault that was never hedged as due by the time rule", () => {
    const d = decide(
      view({ blocksSinceHedge: Number.POSITIVE_INFINITY, lastHedgeSpot: undefined }),
      policy({ maxBlocks: 1_000_000 }),
      PREFS,
    );
    expect(d).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
    expect(d.reason).toMatch(/^time-or-move: never hedged \(≥ 1000000\)/);
  });

  it("holds while |delta| ≤ minTrade, even when a trigger fired", () => {
    const d = decide(view({ delta: 0.1, blocksSinceHedge: 100, spot: 3_300 }), policy(), PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toMatch(/, but \|delta\| 0\.1 ≤ minTrade 0\.1$/);
  });

  it("rebalances to zero exactly when |delta| > minTrade and maxBlocks have passed or the spot moved moveBps", () => {
    fc.assert(
      fc.property(
        viewArb,
        // The spot at the last hedge, relative to today's (undefined: unknown).
        fc.option(fc.double({ min: -0.05, max: 0.05, noNaN: true }), { nil: undefined }),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 1, max: 1_000, noNaN: true }),
        thresholdArb,
        placementArb,
        (view, offset, maxBlocks, moveBps, minTrade, placement) => {
          const base = { ...view, delta: placeDelta(placement, minTrade) };
          const v = offset === undefined ? base : { ...base, lastHedgeSpot: base.spot * (1 + offset) };
          const d = decide(v, { name: "time-or-move", maxBlocks, moveBps, minTrade }, PREFS);
          const movedBps =
            v.lastHedgeSpot === undefined ? undefined : Math.abs(v.spot / v.lastHedgeSpot - 1) * 10_000;
          // Away from the threshold's rounding: the ratio and the policy's cross-multiplied test agree there.
          fc.pre(movedBps === undefined || Math.abs(movedBps - moveBps) > 1e-6 * moveBps);
          const triggered = v.blocksSinceHedge >= maxBlocks || (movedBps !== undefined && movedBps >= moveBps);
          expect(d.kind).toBe(triggered && Math.abs(v.delta) > minTrade ? "rebalance" : "hold");
          expect(d.reason).toMatch(/^time-or-move: /);
          if (d.kind === "rebalance") expect(d).toMatchObject({ targetDelta: 0, target: "zero" });
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("holds, through decide, when the vault cannot trade", () => {
    const d = decide(view({ blocksSinceHedge: 500, spot: 3_300, canTrade: false }), policy(), PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toMatch(/cannot trade.*would rebalance: time-or-move: /);
  });
});

describe("hedgeBenefitQuote", () => {
  it("is (γ/2)·σ²·S²·(δ_before² − δ_after²)·h with h in years", () => {
    const view = marketView({ vol: 0.5, spot: 2_000 });
    const prefs = { riskAversion: 2e-4, horizonSeconds: YEAR / 365 };
    const expected = (2e-4 / 2) * 0.25 * 4e6 * (9 - 1) * (1 / 365);
    expect(hedgeBenefitQuote(view, -3, -1, prefs)).toBeCloseTo(expected, 12);
    expect(hedgeBenefitQuote(view, -1, -3, prefs)).toBeCloseTo(-expected, 12);
  });
});
