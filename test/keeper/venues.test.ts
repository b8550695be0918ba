/**
 * Venue sizing (keeper/sizing/venues.ts): a trade's all-in cost on the spot pool (against the exact integer AMM
 * math) and on the perp (against the perp model's formulas), and the cheapest split between them — all on one
 * venue when the other is dearer or cannot take it (a put-selling vault holds no underlying to sell), a split when
 * both curves are comparable, never dearer than either venue alone (property), capped with a reason when the
 * venues together cannot take the whole trade. No chain.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as perpModel from "../../keeper/pricing/perp.ts";
import { getAmountIn, getAmountOut } from "../../keeper/sizing/amm.ts";
import { perpCost, splitTrade, spotCost, type PerpVenue, type SpotVenue } from "../../keeper/sizing/venues.ts";

const P = 3000;
const DAY = 86_400;
/** A pool on the oracle: 1,000 underlying against 3,000,000 quote, 30 bps. */
const POOL: SpotVenue = { reserveUnderlying: 1000, reserveQuote: 3_000_000, feeRate: 0.003, maxSell: 50, gasCost: 0.5 };
/** A flat perp market: S = 100,000, 2/10 bps, funding drifting up to 3%/day per day, no position, 10x room. */
const PERP: PerpVenue = {
  params: { skewScale: 100_000, makerFeeBps: 2, takerFeeBps: 10, maxFundingVelocity: 0.03 },
  skew: 0,
  fundingRate: 0,
  position: 0,
  maxLong: 500,
  maxShort: 500,
  gasCost: 0.7,
};

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-12);

describe("spotCost", () => {
  it("is what the exact pool math charges against the oracle value, split into the fee and the curve", () => {
    const ru = 1000n * 10n ** 18n;
    const rq = 3_000_000n * 10n ** 6n;
    // Buying 10: the pool's exact input (6-decimal quote) minus 10 · p.
    const quoteIn = Number(getAmountIn(10n * 10n ** 18n, rq, ru, 30n)) / 1e6;
    const buy = spotCost(10, P, POOL);
    expect(rel(buy.total - buy.gas, quoteIn - 10 * P)).toBeLessThan(1e-6);
    expect(buy.fee).toBeGreaterThan(0);
    expect(rel(buy.fee, 0.003 * quoteIn)).toBeLessThan(1e-9);
    // Selling 10: 10 · p minus the pool's exact output.
    const quoteOut = Number(getAmountOut(10n * 10n ** 18n, ru, rq, 30n)) / 1e6;
    const sell = spotCost(-10, P, POOL);
    expect(rel(sell.total - sell.gas, 10 * P - quoteOut)).toBeLessThan(1e-6);
    expect(sell.gas).toBe(0.5);
    expect(spotCost(0, P, POOL).total).toBe(0);
  });

  it("refuses a sale beyond the underlying held, and a buy of the whole reserve", () => {
    expect(() => spotCost(-51, P, POOL)).toThrow(/the vault holds 50/);
    expect(() => spotCost(1000, P, POOL)).toThrow(RangeError);
  });
});

describe("perpCost", () => {
  it("charges the skew premium, the order fee and the gas, as the perp's formulas say", () => {
    const c = perpCost(100, P, PERP, 0);
    const fill = perpModel.fillPrice({ price: P, skew: 0, skewScale: 100_000, sizeDelta: 100 });
    expect(c.impact).toBeCloseTo(100 * (fill - P), 9);
    expect(c.fee).toBeCloseTo(perpModel.orderFee({ price: P, skew: 0, sizeDelta: 100, params: PERP.params }), 9);
    expect(c.funding).toBe(0);
    expect(c.total).toBeCloseTo(c.impact + c.fee + 0.7, 9);
  });

  it("prices the funding of the position over the horizon: a short earns a positive rate, a long pays it", () => {
    const longSkew = { ...PERP, skew: 20_000, fundingRate: 0.001 };
    // 1 day, r₀ = 0.1%/day, velocity at the new skew: paid(x) = x · p · (r₀ + v / 2).
    const short = perpCost(-100, P, longSkew, DAY);
    const v = 0.03 * ((20_000 - 100) / 100_000);
    expect(short.funding).toBeCloseTo(-100 * P * (0.001 + v / 2), 6);
    expect(short.funding).toBeLessThan(0);
    expect(perpCost(100, P, longSkew, DAY).funding).toBeGreaterThan(0);
    // Reducing an existing short changes the funding of the position that remains too.
    const held = { ...longSkew, position: -200 };
    const vBefore = 0.03 * 0.2;
    const vAfter = 0.03 * ((20_000 + 50) / 100_000);
    expect(perpCost(50, P, held, DAY).funding).toBeCloseTo(-150 * P * (0.001 + vAfter / 2) + 200 * P * (0.001 + vBefore / 2), 6);
  });

  it("refuses a position beyond the margin's room and a trade beyond the skew cap", () => {
    expect(() => perpCost(501, P, PERP, 0)).toThrow(/margin allows/);
    expect(() => perpCost(-501, P, PERP, 0)).toThrow(/margin allows/);
    expect(() => perpCost(10, P, { ...PERP, skew: 99_995, maxLong: 1e9 }, 0)).toThrow(/beyond its scale/);
  });
});

describe("splitTrade", () => {
  it("a put-selling vault holds no underlying: its sale goes all to the perp", () => {
    const split = splitTrade({ size: -20, price: P, spot: { ...POOL, maxSell: 0 }, perp: PERP, horizonSeconds: DAY });
    expect(split.spot).toBe(0);
    expect(split.perp).toBe(-20);
    expect(split.spotCost.total).toBe(0);
    expect(split.capped).toBeUndefined();
  });

  it("all on the pool when the perp is dearer, all on the perp when the pool is shallow", () => {
    const dearPerp = { ...PERP, params: { ...PERP.params, takerFeeBps: 100 } };
    // Buying 2 on the pool costs at the margin ~0.3% fee + ~0.4% curve, below the perp's 1% taker fee.
    const toPool = splitTrade({ size: 2, price: P, spot: POOL, perp: dearPerp, horizonSeconds: 0 });
    expect([toPool.spot, toPool.perp]).toEqual([2, 0]);
    const shallow = { ...POOL, reserveUnderlying: 20, reserveQuote: 60_000 };
    const toPerp = splitTrade({ size: 5, price: P, spot: shallow, perp: PERP, horizonSeconds: 0 });
    expect([toPerp.spot, toPerp.perp]).toEqual([0, 5]);
  });

  it("splits when both curves are comparable, at a point no small move improves, cheaper than either venue alone", () => {
    // A pool and a perp whose impacts per unit are alike; gas negligible: the optimum uses both.
    const perpLike = { ...PERP, params: { ...PERP.params, skewScale: 2000, makerFeeBps: 30, takerFeeBps: 30 }, maxLong: 1e6, gasCost: 0.01 };
    const pool = { ...POOL, gasCost: 0.01 };
    const input = { size: 40, price: P, spot: pool, perp: perpLike, horizonSeconds: 0 };
    const split = splitTrade(input);
    expect(split.spot).toBeGreaterThan(5);
    expect(split.perp).toBeGreaterThan(5);
    expect(split.spot + split.perp).toBeCloseTo(40, 9);
    const allSpot = spotCost(40, P, pool).total;
    const allPerp = perpCost(40, P, perpLike, 0).total;
    expect(split.total).toBeLessThan(Math.min(allSpot, allPerp));
    for (const eps of [-0.01, 0.01]) {
      const moved = spotCost(split.spot + eps, P, pool).total + perpCost(split.perp - eps, P, perpLike, 0).total;
      expect(moved).toBeGreaterThanOrEqual(split.total - 1e-9);
    }
  });

  it("places what the venues can take and says what stopped the rest", () => {
    const split = splitTrade({ size: -600, price: P, spot: POOL, perp: PERP, horizonSeconds: DAY });
    expect(split.spot).toBe(-50);
    expect(split.perp).toBe(-500);
    expect(split.capped).toEqual({ placed: -550, reason: expect.stringMatching(/underlying held \(50\).*perp margin's room \(500\)/) });
    expect(() => splitTrade({ size: -1, price: P, spot: { ...POOL, maxSell: 0 }, perp: { ...PERP, maxShort: 0 }, horizonSeconds: 0 })).toThrow(
      /neither venue/,
    );
  });

  it("is never dearer than all on one venue, and its legs add up to the trade in its direction (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -200, max: 200, noNaN: true }).filter((x) => Math.abs(x) > 1e-6),
        fc.double({ min: 50, max: 5000, noNaN: true }),
        fc.double({ min: 0, max: 200, noNaN: true }),
        fc.double({ min: 500, max: 200_000, noNaN: true }),
        fc.double({ min: -0.5, max: 0.5, noNaN: true }),
        fc.double({ min: -0.01, max: 0.01, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (size, depth, held, skewScale, skewFraction, rate, gas) => {
          const spot = { ...POOL, reserveUnderlying: depth, reserveQuote: depth * P, maxSell: held, gasCost: gas };
          const perp = { ...PERP, params: { ...PERP.params, skewScale }, skew: skewFraction * skewScale, fundingRate: rate, gasCost: gas };
          const split = splitTrade({ size, price: P, spot, perp, horizonSeconds: DAY });
          const placed = split.capped?.placed ?? size;
          expect(split.spot + split.perp).toBeCloseTo(placed, 6);
          expect(Math.sign(split.spot) * Math.sign(size)).toBeGreaterThanOrEqual(0);
          expect(Math.sign(split.perp) * Math.sign(size)).toBeGreaterThanOrEqual(0);
          const single = [() => spotCost(placed, P, spot).total, () => perpCost(placed, P, perp, DAY).total].flatMap((f) => {
            try {
              return [f()];
            } catch {
              return [];
            }
          });
          for (const cost of single) expect(split.total).toBeLessThanOrEqual(cost + 1e-6 * Math.max(1, Math.abs(cost)));
        },
      ),
      { numRuns: 300, seed: 14 },
    );
  });
});
