/**
 * Unit tests of the perp market's float reference (`keeper/pricing/perp.ts`), with hand-computed values and
 * properties; its agreement with the contract is tested in `test/perp.test.ts`. No chain.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_PERP_PARAMS, QUOTE_DECIMALS } from "../../harness/system.ts";
import * as model from "../../keeper/pricing/perp.ts";

describe("keeper/pricing/perp", () => {
  const params = model.perpParamsFromChain(DEFAULT_PERP_PARAMS, QUOTE_DECIMALS); // S = 100,000; v_max = 0.03/day/day; 2/10 bps
  const flat: model.PerpMarketState = { skew: 0, lastFundingRate: 0, lastFundingTime: 0, lastFundingPerUnit: 0 };

  it("fills at the oracle price moved by the average premium", () => {
    expect(model.fillPrice({ price: 3000, skew: 0, skewScale: 100_000, sizeDelta: 1000 })).toBeCloseTo(3015, 9);
    expect(model.fillPrice({ price: 3000, skew: 10_000, skewScale: 100_000, sizeDelta: -10_000 })).toBeCloseTo(3150, 9);
    expect(model.fillPrice({ price: 3000, skew: 0, skewScale: 100_000, sizeDelta: 0 })).toBe(3000);
  });

  it("splits a fee into maker and taker parts, including a flip", () => {
    expect(model.splitMakerTaker(0, 5)).toEqual({ maker: 0, taker: 5 });
    expect(model.splitMakerTaker(10, 5)).toEqual({ maker: 0, taker: 5 });
    expect(model.splitMakerTaker(10, -5)).toEqual({ maker: 5, taker: 0 });
    expect(model.splitMakerTaker(-10, 25)).toEqual({ maker: 10, taker: 15 });
    // 10 maker at 2 bps + 15 taker at 10 bps on the fill 3000·(1 + (−0.0001 + 0.00015)/2).
    const fill = 3000 * (1 + (-10 + 15) / 2 / 100_000);
    expect(model.orderFee({ price: 3000, skew: -10, sizeDelta: 25, params })).toBeCloseTo(
      ((10 * 2 + 15 * 10) / 10_000) * fill,
      12,
    );
  });

  it("funding: the rate drifts at the velocity, F integrates it (trapezoid), longs pay a positive rate", () => {
    const state = { ...flat, skew: 50_000 }; // half the skew scale: v = 0.015/day/day
    expect(model.fundingVelocity(state.skew, params)).toBeCloseTo(0.015, 15);
    expect(model.fundingVelocity(1e9, params)).toBe(0.03); // clamped
    expect(model.fundingRate(state, params, 2 * 86_400)).toBeCloseTo(0.03, 15);
    // ∫₀² 0.015·t dt = 0.03 per unit of price; p = 2000.
    expect(model.accruedFundingPerUnit(state, params, 2 * 86_400, 2000)).toBeCloseTo(-60, 9);
    const long = model.positionValue({ size: 1, margin: 1000, entryPrice: 2000, entryFundingPerUnit: 0 }, params, 2000, -60);
    expect(long.funding).toBeCloseTo(-60, 9);
  });

  it("recomputing at the same price changes nothing about later funding (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100_000, max: 100_000, noNaN: true }),
        fc.double({ min: -0.1, max: 0.1, noNaN: true }),
        fc.integer({ min: 0, max: 86_400 * 5 }),
        fc.integer({ min: 0, max: 86_400 * 5 }),
        fc.double({ min: 100, max: 10_000, noNaN: true }),
        (skew, rate, dt1, dt2, price) => {
          const state = { ...flat, skew, lastFundingRate: rate };
          const direct = model.accruedFundingPerUnit(state, params, dt1 + dt2, price);
          const mid = model.recomputeFunding(state, params, dt1, price);
          const twoStep = model.accruedFundingPerUnit(mid, params, dt1 + dt2, price);
          expect(Math.abs(twoStep - direct)).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(direct)));
        },
      ),
      { seed: 14, numRuns: 500 },
    );
  });

  it("a round trip at one skew, price and time costs only the fees (impact settles at the fill)", () => {
    const position = { size: 0, margin: 10_000, entryPrice: 0, entryFundingPerUnit: 0 };
    const market = { ...flat, skew: 2000 };
    const open = model.modifyPosition({ market, position, params, t: 0, price: 3000, sizeDelta: 100 });
    const close = model.modifyPosition({ market: open.market, position: open.position, params, t: 0, price: 3000, sizeDelta: -100 });
    expect(close.position.size).toBe(0);
    expect(close.position.margin).toBeCloseTo(10_000 - open.fee - close.fee, 9);
    expect(close.market.skew).toBe(2000);
  });

  it("margins: maintenance = notional·mm + max(min reward, notional·reward bps) + p·size²/(2S); liquidatable at or below it", () => {
    const mm = model.maintenanceMargin(10, 3000, params);
    expect(mm.liquidationReward).toBe(30);
    expect(mm.liquidationPremium).toBeCloseTo(1.5, 12); // 3,000 · 100 / 200,000
    expect(mm.maintenanceMargin).toBeCloseTo(331.5, 9);
    expect(model.maintenanceMargin(1, 3000, params).liquidationReward).toBe(20);
    expect(model.initialMargin(-10, 3000, params)).toBe(3000);
    const at = (margin: number) =>
      model.positionValue({ size: -10, margin, entryPrice: 3000, entryFundingPerUnit: 0 }, params, 3000, 0);
    expect(at(331.5).liquidatable).toBe(true);
    expect(at(331.500001).liquidatable).toBe(false);
    // A premium credit is not margin: the same position with 10 of credit needs 10 more.
    const credited = (margin: number) =>
      model.positionValue({ size: -10, margin, entryPrice: 3000, entryFundingPerUnit: 0, premiumCredit: 10 }, params, 3000, 0);
    expect(credited(341.5).liquidatable).toBe(true);
    expect(credited(341.500001).liquidatable).toBe(false);
    expect(model.positionValue({ size: 0, margin: 5, entryPrice: 0, entryFundingPerUnit: 0 }, params, 3000, 0).liquidatable).toBe(false);
  });
});
