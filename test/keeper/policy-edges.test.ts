/**
 * The policies and their closed forms at their edges (keeper/policy/), complementing policy.test.ts's properties:
 * exact boundaries (a net value of exactly 0, a trade of exactly MIN_HEDGE_DELTA, exactly intervalBlocks blocks),
 * the degenerate inputs each closed form documents (Γ = 0, γ = 0, η = 0, k = 0, x = 0, x ≥ reserve), discounting
 * against the documented formula, argument checks, and the numbers each reason must show an operator. The cases
 * are chosen so the arithmetic is exact in float64, so a boundary is hit exactly rather than a rounding error away.
 */
import { describe, expect, it } from "vitest";
import { formatAmount } from "../../keeper/policy/format.ts";
import { decide } from "../../keeper/policy/index.ts";
import {
  cheapestSplitChunk,
  cpmmSlippage,
  fixedCostBandHalfWidth,
  gasAwareNetValue,
  gasAwareOptimalTrade,
  MIN_HEDGE_DELTA,
  whalleyWilmottHalfWidth,
  type GasAwareParams,
} from "../../keeper/policy/theory.ts";
import { SECONDS_PER_YEAR } from "../../keeper/pricing/blackScholes.ts";
import type { Decision, MarketView, PolicyConfig, RiskPreferences } from "../../keeper/types.ts";
import { marketView, TEST_PREFS } from "../helpers/snapshot.ts";

const PREFS = TEST_PREFS;

/**
 * Asserts that a reason shows each number as the logs print it, as a whole token: "1" is not found inside "0.15"
 * or "-1", so a reason that lost the number (or printed another one) fails.
 */
function expectMentions(reason: string, ...numbers: number[]): void {
  for (const x of numbers) {
    const token = formatAmount(x).replace(/[.+]/g, "\\$&");
    expect(reason, `reason should show ${formatAmount(x)}`).toMatch(new RegExp(`(?<![\\w.+-])${token}(?![\\w.])`));
  }
}

// ─── the closed forms ───

/** Valid inputs, each broken one at a time below. */
const WW = { spot: 3_000, gamma: 0.002, costRate: 0.003, riskAversion: 1e-3, rate: 0, timeToExpiry: 0 };
const FIXED = { gamma: 0.01, fixedCost: 5, riskAversion: 1e-3 };
const TRADE: GasAwareParams = { delta: -4, riskCoefficient: 1, feePerUnit: 0.5, eta: 1, gasCost: 0.25 };

/** |a/b − 1|: the tests compare against formulas evaluated independently, so to rounding, not bit for bit. */
const relErr = (a: number, b: number) => Math.abs(a / b - 1);

describe("argument checks of the closed forms", () => {
  // Each named input that must be ≥ 0, with a valid call to break one argument at a time.
  const cases: { name: string; call: (bad: number) => unknown }[] = [
    { name: "spot", call: (v) => whalleyWilmottHalfWidth({ ...WW, spot: v }) },
    { name: "costRate", call: (v) => whalleyWilmottHalfWidth({ ...WW, costRate: v }) },
    { name: "riskAversion", call: (v) => whalleyWilmottHalfWidth({ ...WW, riskAversion: v }) },
    { name: "fixedCost", call: (v) => fixedCostBandHalfWidth({ ...FIXED, fixedCost: v }) },
    { name: "riskAversion", call: (v) => fixedCostBandHalfWidth({ ...FIXED, riskAversion: v }) },
    { name: "reserveUnderlying", call: (v) => cpmmSlippage(1, v, 3_000) },
    { name: "spot", call: (v) => cpmmSlippage(1, 1_000, v) },
    { name: "gasCostQuote", call: (v) => cheapestSplitChunk(v, 3) },
    { name: "eta", call: (v) => cheapestSplitChunk(2, v) },
    { name: "riskCoefficient", call: (v) => gasAwareOptimalTrade({ ...TRADE, riskCoefficient: v }) },
    { name: "feePerUnit", call: (v) => gasAwareOptimalTrade({ ...TRADE, feePerUnit: v }) },
    { name: "eta", call: (v) => gasAwareOptimalTrade({ ...TRADE, eta: v }) },
    { name: "gasCost", call: (v) => gasAwareOptimalTrade({ ...TRADE, gasCost: v }) },
  ];

  it("accept the valid base inputs used below", () => {
    for (const c of cases) expect(() => c.call(1)).not.toThrow();
  });

  it("reject a negative or NaN input with a RangeError naming it and its value", () => {
    for (const c of cases) {
      for (const bad of [-1, -1e-300, Number.NaN, Number.NEGATIVE_INFINITY]) {
        expect(() => c.call(bad), `${c.name} = ${bad}`).toThrow(RangeError);
        expect(() => c.call(bad), `${c.name} = ${bad}`).toThrow(new RegExp(`^${c.name} .*non-negative.*${String(bad)}$`));
      }
    }
  });

  it("ignore gamma's sign, delta's sign and accept a negative rate (not a cost)", () => {
    expect(whalleyWilmottHalfWidth({ ...WW, gamma: -WW.gamma })).toBe(whalleyWilmottHalfWidth(WW));
    expect(fixedCostBandHalfWidth({ ...FIXED, gamma: -FIXED.gamma })).toBe(fixedCostBandHalfWidth(FIXED));
    expect(gasAwareOptimalTrade({ ...TRADE, delta: -TRADE.delta })).toEqual(gasAwareOptimalTrade(TRADE));
    expect(whalleyWilmottHalfWidth({ ...WW, rate: -0.01, timeToExpiry: 1 })).toBeGreaterThan(
      whalleyWilmottHalfWidth({ ...WW, rate: 0 }),
    );
  });
});

describe("Whalley–Wilmott half-width at its edges", () => {
  it("discounts the cost by e^{−r(T−t)}: rate 5% over a year narrows H by exactly e^{−0.05/3}", () => {
    const h0 = whalleyWilmottHalfWidth(WW);
    expect(relErr(h0, Math.pow((1.5 * 0.003 * 3_000 * 0.002 ** 2) / 1e-3, 1 / 3))).toBeLessThan(1e-14);
    const h = whalleyWilmottHalfWidth({ ...WW, rate: 0.05, timeToExpiry: 1 });
    expect(relErr(h / h0, Math.exp(-0.05) ** (1 / 3))).toBeLessThan(1e-14);
    // Only r·(T − t) matters.
    expect(relErr(whalleyWilmottHalfWidth({ ...WW, rate: 0.1, timeToExpiry: 0.5 }), h)).toBeLessThan(1e-14);
  });

  it("does not discount a book past expiry (T − t < 0 counts as 0)", () => {
    expect(whalleyWilmottHalfWidth({ ...WW, rate: 0.05, timeToExpiry: -1 })).toBe(whalleyWilmottHalfWidth(WW));
  });

  it("is 0 without gamma, whatever the other inputs (the documented Γ = 0 ⇒ 0, even when γ = 0)", () => {
    expect(whalleyWilmottHalfWidth({ ...WW, gamma: 0 })).toBe(0);
    expect(whalleyWilmottHalfWidth({ ...WW, gamma: 0, riskAversion: 0 })).toBe(0);
  });

  it("is +∞ without risk aversion even when trading is free (never NaN from 0/0)", () => {
    expect(whalleyWilmottHalfWidth({ ...WW, riskAversion: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(whalleyWilmottHalfWidth({ ...WW, riskAversion: 0, costRate: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(whalleyWilmottHalfWidth({ ...WW, riskAversion: 0, spot: 0 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("fixed-cost band half-width at its edges", () => {
  it("is (12·ε·Γ²/γ)^{1/4} and discounts ε by e^{−r(T−t)}: rate 5% over a year narrows H by exactly e^{−0.05/4}", () => {
    const h0 = fixedCostBandHalfWidth(FIXED);
    expect(relErr(h0, Math.sqrt(Math.sqrt((12 * 5 * 0.01 ** 2) / 1e-3)))).toBeLessThan(1e-14);
    const h = fixedCostBandHalfWidth({ ...FIXED, rate: 0.05, timeToExpiry: 1 });
    expect(relErr(h / h0, Math.exp(-0.05) ** (1 / 4))).toBeLessThan(1e-14);
    expect(relErr(fixedCostBandHalfWidth({ ...FIXED, rate: 0.025, timeToExpiry: 2 }), h)).toBeLessThan(1e-14);
  });

  it("does not discount without a rate or time to expiry, nor a book past expiry", () => {
    const h0 = fixedCostBandHalfWidth(FIXED);
    expect(fixedCostBandHalfWidth({ ...FIXED, rate: 0, timeToExpiry: 0 })).toBe(h0);
    expect(fixedCostBandHalfWidth({ ...FIXED, rate: 0.05 })).toBe(h0);
    expect(fixedCostBandHalfWidth({ ...FIXED, timeToExpiry: 1 })).toBe(h0);
    expect(fixedCostBandHalfWidth({ ...FIXED, rate: 0.05, timeToExpiry: -1 })).toBe(h0);
  });

  it("is 0 without gamma (even when γ = 0) and +∞ without risk aversion (even when gas is free)", () => {
    expect(fixedCostBandHalfWidth({ ...FIXED, gamma: 0 })).toBe(0);
    expect(fixedCostBandHalfWidth({ ...FIXED, gamma: 0, riskAversion: 0 })).toBe(0);
    expect(fixedCostBandHalfWidth({ ...FIXED, riskAversion: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(fixedCostBandHalfWidth({ ...FIXED, riskAversion: 0, fixedCost: 0 })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("cpmmSlippage at its edges", () => {
  // Reserve 100, spot 2: buy x costs S·x²/(R − x), sell |x| costs S·x²/(R + |x|).
  it("prices buys and sells, including a sell larger than the whole reserve", () => {
    expect(cpmmSlippage(50, 100, 2)).toBe((2 * 50 * 50) / 50);
    expect(cpmmSlippage(-100, 100, 2)).toBe((2 * 100 * 100) / 200);
    expect(cpmmSlippage(-1_000, 100, 2)).toBe((2 * 1_000 * 1_000) / 1_100);
    // Selling moves the price less than buying the same amount.
    expect(cpmmSlippage(-50, 100, 2)).toBeLessThan(cpmmSlippage(50, 100, 2));
  });

  it("is +∞ for buying the whole reserve or more (the pool cannot give it), finite just below", () => {
    expect(cpmmSlippage(99.999, 100, 2)).toBeLessThan(Number.POSITIVE_INFINITY);
    for (const x of [100, 100.001, 150, 1e6]) expect(cpmmSlippage(x, 100, 2), `x = ${x}`).toBe(Number.POSITIVE_INFINITY);
    expect(cpmmSlippage(1, 0, 2)).toBe(Number.POSITIVE_INFINITY);
  });

  it("is 0 for no trade, even on an empty pool", () => {
    expect(cpmmSlippage(0, 100, 2)).toBe(0);
    expect(cpmmSlippage(0, 0, 2)).toBe(0);
  });
});

describe("cheapestSplitChunk at its edges", () => {
  it("is √(G/η), and +∞ (one trade) without impact, even when gas is free", () => {
    expect(cheapestSplitChunk(9, 4)).toBe(1.5);
    expect(cheapestSplitChunk(0, 4)).toBe(0);
    expect(cheapestSplitChunk(9, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(cheapestSplitChunk(0, 0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("gas-aware closed form at its edges", () => {
  it("values not trading at 0: no benefit and no gas", () => {
    expect(gasAwareNetValue(TRADE, 0)).toBe(0);
    expect(gasAwareNetValue(TRADE, -1)).toBe(0);
    // Any real trade pays the gas: the smallest one is worth about −G.
    expect(gasAwareNetValue(TRADE, 1e-12)).toBeCloseTo(-TRADE.gasCost, 9);
  });

  it("never trades without risk to remove (k = 0), even when trading is free: threshold +∞", () => {
    for (const costs of [
      { feePerUnit: 0, eta: 0, gasCost: 0 },
      { feePerUnit: 0, eta: 1, gasCost: 0 },
      { feePerUnit: 0.5, eta: 0, gasCost: 1 },
    ]) {
      expect(gasAwareOptimalTrade({ delta: -4, riskCoefficient: 0, ...costs })).toEqual({
        size: 0,
        netValue: 0,
        threshold: Number.POSITIVE_INFINITY,
      });
    }
  });

  it("trades (2k|δ| − fS)/(2(k + η)) with net value and threshold as documented", () => {
    // k = 1, fS = 0.5, η = 1, G = 0.25, |δ| = 4: u* = 7.5/4, N(u*) = 7.5²/8 − 0.25, threshold (0.5 + 2√0.5)/2.
    const t = gasAwareOptimalTrade(TRADE);
    expect(t.size).toBe(1.875);
    expect(relErr(t.netValue, 7.5 ** 2 / 8 - 0.25)).toBeLessThan(1e-14);
    expect(relErr(t.threshold, (0.5 + 2 * Math.sqrt(0.5)) / 2)).toBeLessThan(1e-14);
    // Fees alone outweigh the first unit's risk reduction (2k|δ| ≤ fS): no trade, and exactly at the boundary too.
    expect(gasAwareOptimalTrade({ ...TRADE, delta: 0.25 })).toMatchObject({ size: 0, netValue: 0 });
    expect(gasAwareOptimalTrade({ ...TRADE, delta: 0.2 })).toMatchObject({ size: 0, netValue: 0 });
  });
});

// ─── the policies, through decide ───

/** k = (γ/2)·σ²·S²·h = 1 exactly: γ = 0.5, σ = 1, S = 2, h = one year. */
const UNIT_K_PREFS: RiskPreferences = { riskAversion: 0.5, horizonSeconds: SECONDS_PER_YEAR };
const unitK = (delta: number, costs: MarketView["costs"]) => marketView({ delta, vol: 1, spot: 2, costs });

describe("gas-aware policy at its boundaries", () => {
  it("holds when the best trade's net value is exactly 0, saying |delta|, the threshold and the gas", () => {
    // k = 1, no fee or impact: the best trade is all of |δ| = 3, worth k·δ² − G = 9 − 9 = 0.
    const d = decide(unitK(3, { gasCostQuote: 9, feeRate: 0, eta: 0 }), { name: "gas-aware" }, UNIT_K_PREFS);
    expect(d).toMatchObject({ kind: "hold", band: 3 });
    expect(d.reason).toMatch(/^gas-aware: /);
    expectMentions(d.reason, 3, 9);
    // A little less gas and the same trade pays.
    const pays = decide(unitK(-3, { gasCostQuote: 8.99, feeRate: 0, eta: 0 }), { name: "gas-aware" }, UNIT_K_PREFS);
    expect(pays).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
  });

  it("holds when the best trade is exactly MIN_HEDGE_DELTA (noise), saying its size; trades just above it", () => {
    const free = { gasCostQuote: 0, feeRate: 0, eta: 0 };
    const noise = decide(unitK(MIN_HEDGE_DELTA, free), { name: "gas-aware" }, UNIT_K_PREFS);
    expect(noise).toMatchObject({ kind: "hold", band: 0 });
    expect(noise.reason).toMatch(/^gas-aware: .*noise/);
    expectMentions(noise.reason, MIN_HEDGE_DELTA);
    const trades = decide(unitK(-2 * MIN_HEDGE_DELTA, free), { name: "gas-aware" }, UNIT_K_PREFS);
    expect(trades).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero", band: 0 });
  });

  it("stops at the edge with impact, saying |delta|, the threshold, the size, the net value and the gas", () => {
    // k = 1, η = 1, G = 0.25, no fee, δ = −4: x* = 8/4 = 2, net 1·(16 − 4) − (0.25 + 1·4) = 7.75, threshold √0.5.
    const d = decide(unitK(-4, { gasCostQuote: 0.25, feeRate: 0, eta: 1 }), { name: "gas-aware" }, UNIT_K_PREFS);
    expect(d).toMatchObject({ kind: "rebalance", targetDelta: -2, target: "edge" });
    expect(relErr(d.band ?? Number.NaN, Math.SQRT1_2)).toBeLessThan(1e-14);
    expect(d.reason).toMatch(/^gas-aware: /);
    expectMentions(d.reason, 4, Math.SQRT1_2, 2, 7.75, 0.25);
  });
});

describe("interval policy at its boundaries", () => {
  const policy = { name: "interval", intervalBlocks: 10, minTrade: 0.1 } as const;

  it("may rebalance once exactly intervalBlocks blocks have passed, not one block before", () => {
    expect(decide(marketView({ blocksSinceHedge: 10 }), policy, PREFS)).toMatchObject({
      kind: "rebalance",
      targetDelta: 0,
      target: "zero",
    });
    const early = decide(marketView({ blocksSinceHedge: 9 }), policy, PREFS);
    expect(early.kind).toBe("hold");
    expect(early.reason).toMatch(/^interval: /);
    expectMentions(early.reason, 9, 10);
  });

  it("holds at |delta| = minTrade, saying both", () => {
    const d = decide(marketView({ delta: -0.1, blocksSinceHedge: 12 }), policy, PREFS);
    expect(d.kind).toBe("hold");
    expect(d.reason).toMatch(/^interval: /);
    expectMentions(d.reason, 0.1);
    const d2 = decide(marketView({ delta: -0.05, blocksSinceHedge: 12 }), policy, PREFS);
    expectMentions(d2.reason, 0.05, 0.1);
  });

  it("says how many blocks have passed, the interval, |delta| and minTrade when it rebalances", () => {
    const d = decide(marketView({ delta: -2, blocksSinceHedge: 12 }), policy, PREFS);
    expect(d).toMatchObject({ kind: "rebalance", target: "zero" });
    expect(d.reason).toMatch(/^interval: /);
    expectMentions(d.reason, 12, 10, 2, 0.1);
  });
});

describe("whalley-wilmott policy at its boundaries", () => {
  // H = (1.5·e^{−0.05·0.1}·0.003·3000·0.002²/0.001)^{1/3} ≈ 0.378, computed independently.
  const H = Math.pow((1.5 * Math.exp(-0.05 * 0.1) * 0.003 * 3_000 * 0.002 ** 2) / 1e-3, 1 / 3);
  const policy: PolicyConfig = { name: "whalley-wilmott", costRate: 0.003 };

  it("trades to the edge (target 'edge') outside a non-empty band, on either side, saying H, λ, Γ, γ and the target", () => {
    for (const sign of [1, -1]) {
      const d = decide(marketView({ delta: 2 * sign }), policy, PREFS);
      expect(d).toMatchObject({ kind: "rebalance", target: "edge" });
      if (d.kind !== "rebalance") continue;
      expect(relErr(d.targetDelta, sign * H)).toBeLessThan(1e-12);
      expect(d.reason).toMatch(/^whalley-wilmott: /);
      expectMentions(d.reason, 2, H, 0.003, 0.002, 1e-3, sign * H);
    }
  });

  it("holds inside the band, saying |delta|, H, λ, Γ and γ", () => {
    const d = decide(marketView({ delta: -0.25 }), policy, PREFS);
    expect(d.kind).toBe("hold");
    expect(relErr(d.band ?? Number.NaN, H)).toBeLessThan(1e-12);
    expect(d.reason).toMatch(/^whalley-wilmott: /);
    expectMentions(d.reason, 0.25, H, 0.003, 0.002, 1e-3);
  });
});

describe("time-or-move policy with the spot at the last hedge unknown or 0", () => {
  const policy = { name: "time-or-move", maxBlocks: 100, moveBps: 100, minTrade: 0.1 } as const;

  it("treats a last-hedge spot of 0 as unknown: only the time rule applies, and no infinite move is reported", () => {
    for (const lastHedgeSpot of [0, undefined]) {
      const early = decide(marketView({ lastHedgeSpot, blocksSinceHedge: 10 }), policy, PREFS);
      expect(early.kind).toBe("hold");
      expect(early.reason).toMatch(/^time-or-move: .*spot at the last hedge unknown$/);
      expectMentions(early.reason, 10, 100);
      const due = decide(marketView({ lastHedgeSpot, blocksSinceHedge: 100 }), policy, PREFS);
      expect(due).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
      expect(due.reason).not.toMatch(/moved|Infinity|NaN/);
    }
  });
});

describe("decide when the vault cannot trade", () => {
  const band = { name: "band", band: 0.5, target: "zero" } as const;

  it("prefixes 'would rebalance: ' to a rebalance verdict's reason, and keeps it whole", () => {
    const verdict = decide(marketView({ delta: -3 }), band, PREFS);
    expect(verdict.kind).toBe("rebalance");
    const d = decide(marketView({ delta: -3, canTrade: false }), band, PREFS);
    expect(d).toStrictEqual({ kind: "hold", cause: "cannot-trade", reason: expect.stringMatching(/cannot trade/), band: 0.5 });
    expect(d.reason.endsWith(`; would rebalance: ${verdict.reason}`)).toBe(true);
  });

  it("passes a hold verdict's reason on without 'would rebalance'", () => {
    const verdict = decide(marketView({ delta: -0.25 }), band, PREFS);
    expect(verdict.kind).toBe("hold");
    const d = decide(marketView({ delta: -0.25, canTrade: false }), band, PREFS);
    expect(d.reason).toMatch(/cannot trade/);
    expect(d.reason).not.toMatch(/would rebalance/);
    expect(d.reason.endsWith(`; ${verdict.reason}`)).toBe(true);
    expect(d.band).toBe(0.5);
  });

  it("carries a band only when the policy's verdict has one", () => {
    const interval = { name: "interval", intervalBlocks: 1, minTrade: 0 } as const;
    const d: Decision = decide(marketView({ canTrade: false }), interval, PREFS);
    expect(d).toStrictEqual({ kind: "hold", cause: "cannot-trade", reason: expect.stringMatching(/would rebalance: interval: /) });
    expect("band" in d).toBe(false);
  });
});

describe("decide with a policy it does not know", () => {
  it("throws a TypeError naming the policy (a config that bypassed the schema)", () => {
    const bogus = { name: "martingale", doubling: true } as unknown as PolicyConfig;
    expect(() => decide(marketView(), bogus, PREFS)).toThrow(TypeError);
    expect(() => decide(marketView(), bogus, PREFS)).toThrow(/unknown policy .*martingale/);
  });
});

describe("formatAmount", () => {
  it("prints five significant digits, and non-finite numbers by name", () => {
    expect(formatAmount(0.37803612)).toBe("0.37804");
    expect(formatAmount(-123_456_789)).toBe("-123460000");
    expect(formatAmount(1e-9)).toBe("1e-9");
    expect(formatAmount(2)).toBe("2");
    expect(formatAmount(Number.POSITIVE_INFINITY)).toBe("Infinity");
    expect(formatAmount(Number.NEGATIVE_INFINITY)).toBe("-Infinity");
    expect(formatAmount(Number.NaN)).toBe("NaN");
  });
});
