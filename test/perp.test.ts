/**
 * The perpetual-futures market (`MockPerpMarket`, specification in `IPerpMarket`) against its float reference
 * (`keeper/pricing/perp.ts`); the reference's own unit tests are in `test/keeper/pricing-perp.test.ts`.
 *
 * Chain tests run on one in-process chain (`test/helpers/perpMarket.ts`): the tokens and an 8-decimal oracle at 3,000
 * deployed once, a snapshot, and each test restores it and deploys a fresh market. Reads that depend on time pin the next block's timestamp and
 * read at the "pending" block, so the view sees the time the model is evaluated at.
 */
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { getAddress, parseEventLogs } from "viem";
import {
  WAD,
  priceE8,
  quoteUnits,
  underlyingUnits,
  type PerpMarketParams,
} from "../harness/system.ts";
import { wadToNumber } from "../keeper/pricing/wad.ts";
import * as model from "../keeper/pricing/perp.ts";
import { decodeRevert, expectRevert } from "./helpers/revert.ts";
import { perpTestChain } from "./helpers/perpMarket.ts";

const { networkHelpers, sys, wallets, freshMarket } = await perpTestChain();
const { time } = networkHelpers;
const [owner, , alice, bob, stranger] = wallets;
if (!owner || !alice || !bob || !stranger) throw new Error("the default network must expose at least five accounts");

const PENDING = { blockTag: "pending" } as const;
const QUOTE_UNIT = 1e6; // quote units per quote (6 decimals)
const abs = (x: bigint) => (x < 0n ? -x : x);
const toQuote = (units: bigint) => Number(units) / QUOTE_UNIT;


/** |actual − expected| ≤ rel · |expected| (+ `absTol`). */
function expectClose(actual: number, expected: number, rel: number, absTol = 0, label = "") {
  const tol = rel * Math.abs(expected) + absTol;
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected} (tolerance ${tol})`).toBeLessThanOrEqual(tol);
}


type Wallet = NonNullable<(typeof wallets)[number]>;

// ────────────────────────────────────── fill price and fees ──────────────────────────────────────

describe("fill price and order fee", () => {
  it("equal the float reference within 1e-9 relative: taker, maker and a flip, on both sides of the skew", async () => {
    const m = await freshMarket();
    await m.deposit(alice, quoteUnits(10_000_000));
    await m.deposit(bob, quoteUnits(10_000_000));
    await m.fundPool(quoteUnits(10_000_000));
    const p = 3000;
    // Sizes large enough that one quote unit of fee rounding is below 1e-9 of the fee.
    const cases: [Wallet, number, string][] = [
      [alice, 5000, "taker from zero (long)"],
      [alice, 1000, "taker away from a long skew"],
      [bob, -6000, "maker back to zero"],
      [bob, 5000, "taker from zero again"],
      [bob, -13_000, "flip: maker 5,000 then taker 8,000"],
      [alice, 5000, "maker towards zero from a short skew"],
      [alice, 6000, "flip from short to long"],
    ];
    for (const [who, size, label] of cases) {
      const skew = wadToNumber(await m.perp.read.marketSkew());
      const D = underlyingUnits(size);
      const [fillWad, fee] = await Promise.all([m.perp.read.fillPrice([D]), m.perp.read.orderFee([D])]);
      const fillRef = model.fillPrice({ price: p, skew, skewScale: m.modelParams.skewScale, sizeDelta: size });
      const feeRef = model.orderFee({ price: p, skew, sizeDelta: size, params: m.modelParams });
      expectClose(wadToNumber(fillWad), fillRef, 1e-9, 0, `${label} fill`);
      expectClose(toQuote(fee), feeRef, 1e-9, 0, `${label} fee`);
      // Rounding against the trader: a buyer's fill is never below the exact one, a seller's never above.
      const exact = (priceE8(p) * 10n ** 10n * (2n * m.params.skewScale + 2n * underlyingUnits(skew) + D)) as bigint;
      const denom = 2n * m.params.skewScale;
      if (size > 0) expect(fillWad * denom >= exact).toBe(true);
      else expect(fillWad * denom <= exact).toBe(true);
      // The trade charges exactly the quoted fee at exactly the quoted fill.
      const receipt = await m.trade(who, D);
      const [event] = parseEventLogs({ abi: m.perp.abi, logs: receipt.logs, eventName: "PositionModified" });
      expect(event!.args.fillPriceWad).toBe(fillWad);
      expect(event!.args.fee).toBe(fee);
    }
    const { maker, taker } = model.splitMakerTaker(5000, -13_000);
    expect([maker, taker]).toEqual([5000, 8000]);
    await m.expectBacked();
  });

  it("rounds against the trader, to the wei: a buyer's fill and every fee up, a seller's fill down", async () => {
    const m = await freshMarket();
    await m.deposit(alice, quoteUnits(1_000_000));
    await m.trade(alice, underlyingUnits(123.456789)); // a skew that makes the divisions inexact
    const K = await m.perp.read.marketSkew();
    const pWad = priceE8(3000) * 10n ** 10n;
    const S = m.params.skewScale;
    const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
    for (const D of [7n, -7n, WAD + 1n, -underlyingUnits(200.5) - 3n]) {
      const num = pWad * (2n * S + 2n * K + D);
      const expectedFill = D > 0n ? ceilDiv(num, 2n * S) : num / (2n * S);
      expect(num % (2n * S), "the division must be inexact for this check to mean something").not.toBe(0n);
      const fill = await m.perp.read.fillPrice([D]);
      expect(fill).toBe(expectedFill);
      const maker = K > 0n && D < 0n ? (abs(D) < K ? abs(D) : K) : 0n;
      const weighted = maker * m.params.makerFeeBps + (abs(D) - maker) * m.params.takerFeeBps;
      expect(await m.perp.read.orderFee([D])).toBe(ceilDiv(weighted * fill, 10_000n * WAD * 10n ** 12n));
    }
    // P&L in quote units rounds towards −∞: a loss is never understated.
    await m.setPrice(2999.99);
    const view = await m.perp.read.positionOf([alice.account.address]);
    const exactScaled = view.sizeWad * (priceE8(2999.99) * 10n ** 10n - view.entryPriceWad); // quote wad · 1e18
    const unit = WAD * 10n ** 12n;
    expect(exactScaled < 0n && exactScaled % unit !== 0n).toBe(true);
    expect(view.pnl).toBe(exactScaled / unit - 1n);
  });
});

// ──────────────────────────────────────────── funding ────────────────────────────────────────────

describe("funding", () => {
  it("accrues as the NatSpec formula says: random trades, prices and times agree with the float model (property)", async () => {
    const params: Partial<PerpMarketParams> = {
      skewScale: 2000n * WAD,
      maxFundingVelocity: WAD / 10n,
      maxOracleAge: 86_400n,
    };
    const m = await freshMarket(params);
    const traders = [alice, bob];
    const margin = quoteUnits(100_000_000);
    for (const w of traders) await m.deposit(w, margin);
    await m.fundPool(quoteUnits(1_000_000_000));
    const funded = await networkHelpers.takeSnapshot();
    const step = fc.record({
      dtSeconds: fc.integer({ min: 60, max: 43_200 }),
      who: fc.constantFrom(0, 1),
      sizeMilli: fc.integer({ min: -300_000, max: 300_000 }),
      priceDollars: fc.integer({ min: 1500, max: 6000 }),
    });
    let sequences = 0;
    let trades = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
        await funded.restore();
        sequences++;
        const [rate0, t0, f0] = await m.perp.read.fundingState();
        let market: model.PerpMarketState = {
          skew: 0,
          lastFundingRate: wadToNumber(rate0),
          lastFundingTime: Number(t0),
          lastFundingPerUnit: wadToNumber(f0),
        };
        const positions: model.PerpPosition[] = traders.map(() => ({
          size: 0,
          margin: toQuote(margin),
          entryPrice: 0,
          entryFundingPerUnit: 0,
        }));
        let t = await time.latest();
        let price = 3000;
        let tradeCount = 0;
        let fScale = 0; // Σ|ΔF|: F can cancel to near zero, so its tolerance is relative to what it summed
        for (const s of steps) {
          t += s.dtSeconds;
          await time.setNextBlockTimestamp(t);
          await m.setPrice(s.priceDollars);
          price = s.priceDollars;
          // Keep |K + D| within the skew scale.
          const skewWad = await m.perp.read.marketSkew();
          let D = underlyingUnits(s.sizeMilli / 1000);
          const cap = m.params.skewScale;
          if (skewWad + D > cap) D = cap - skewWad;
          if (skewWad + D < -cap) D = -cap - skewWad;
          if (D !== 0n) {
            t += 1;
            await time.setNextBlockTimestamp(t);
            await m.trade(traders[s.who]!, D);
            const before = market.lastFundingPerUnit;
            const r = model.modifyPosition({
              market,
              position: positions[s.who]!,
              params: m.modelParams,
              t,
              price,
              sizeDelta: wadToNumber(D),
            });
            fScale += Math.abs(r.market.lastFundingPerUnit - before);
            market = r.market;
            positions[s.who] = r.position;
            tradeCount++;
          }
          // Read at the next block, pinned.
          const tRead = t + 1;
          await time.setNextBlockTimestamp(tRead);
          const fModel = model.accruedFundingPerUnit(market, m.modelParams, tRead, price);
          const fChain = wadToNumber(await m.perp.read.accruedFundingPerUnit(PENDING));
          const scale = fScale + Math.abs(fModel - market.lastFundingPerUnit) + Math.abs(fModel);
          expectClose(fChain, fModel, 0, 1e-9 * scale + 1e-15, "F(now)");
          expectClose(
            wadToNumber(await m.perp.read.currentFundingRate(PENDING)),
            model.fundingRate(market, m.modelParams, tRead),
            1e-9,
            1e-15,
            "r(now)",
          );
          for (const [i, w] of traders.entries()) {
            const view = await m.perp.read.positionOf([w.account.address], PENDING);
            const pos = positions[i]!;
            const ref = model.positionValue(pos, m.modelParams, price, fModel);
            expect(wadToNumber(view.sizeWad)).toBeCloseTo(pos.size, 12);
            // One quote unit of flooring, plus float error relative to the index's scale.
            const fundingTol = 1 / QUOTE_UNIT + 1e-9 * Math.abs(pos.size) * scale;
            expectClose(toQuote(view.funding), ref.funding, 0, fundingTol, `funding of trader ${i}`);
            // Settled margin: each trade rounds its fee, P&L and funding by at most one unit each.
            expectClose(toQuote(view.margin), pos.margin, 1e-12, (3 * tradeCount + 1) / QUOTE_UNIT + fundingTol * tradeCount, `margin of trader ${i}`);
          }
        }
        trades += tradeCount;
        await m.expectBacked();
      }),
      { numRuns: 20, seed: 0x9e59 },
    );
    expect(sequences).toBe(20);
    expect(trades).toBeGreaterThan(40);
  });

  it("makes longs pay and shorts receive while the skew is long", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: WAD / 10n, maxOracleAge: 86_400n * 3n });
    await m.deposit(alice, quoteUnits(1_000_000));
    await m.deposit(bob, quoteUnits(1_000_000));
    await m.fundPool(quoteUnits(1_000_000));
    await m.trade(alice, underlyingUnits(300));
    await m.trade(bob, underlyingUnits(-100));
    await time.increase(86_400);
    expect(await m.perp.read.currentFundingRate()).toBeGreaterThan(0n);
    const [a, b] = await Promise.all([
      m.perp.read.positionOf([alice.account.address]),
      m.perp.read.positionOf([bob.account.address]),
    ]);
    expect(a.funding).toBeLessThan(0n);
    expect(b.funding).toBeGreaterThan(0n);
  });
});

// ──────────────────────────────────────────── margin ─────────────────────────────────────────────

describe("margin", () => {
  let m: Awaited<ReturnType<typeof freshMarket>>;
  beforeEach(async () => {
    // No funding drift here: margins are then exact to the unit whatever second a transaction lands in.
    m = await freshMarket({ maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(1_000_000));
    await m.deposit(alice, quoteUnits(10_000));
  });

  it("withdraws no more than the settled margin, and with a position keeps the initial margin", async () => {
    await expectRevert(m.perp.write.withdrawMargin([quoteUnits(10_001)], m.as(alice)), "WithdrawalExceedsMargin", [
      quoteUnits(10_001),
      quoteUnits(10_000),
    ]);
    await expectRevert(m.perp.write.withdrawMargin([0n], m.as(alice)), "ZeroAmount");
    await expectRevert(m.perp.write.depositMargin([0n], m.as(alice)), "ZeroAmount");
    // 30 ETH long at ~3,000: initial margin 9,000.
    await m.trade(alice, underlyingUnits(30));
    const view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.initialMargin).toBe(quoteUnits(9000));
    const excess = view.remainingMargin - view.initialMargin;
    expect(excess).toBeGreaterThan(0n);
    await expectRevert(m.perp.write.withdrawMargin([excess + 1n], m.as(alice)), "InsufficientMargin", [
      BigInt(view.initialMargin) - 1n,
      view.initialMargin,
    ]);
    const before = await m.balance(alice.account.address);
    await sys.wait(await m.perp.write.withdrawMargin([excess], m.as(alice)));
    expect((await m.balance(alice.account.address)) - before).toBe(excess);
    expect((await m.perp.read.positionOf([alice.account.address])).remainingMargin).toBe(view.initialMargin);
    await m.expectBacked();
  });

  it("refuses to open beyond max leverage, and allows exactly up to it", async () => {
    // 10,000 of margin at 10x: 34 ETH (102,000 notional) needs 10,200.
    await expectRevert(m.trade(alice, underlyingUnits(34)), "InsufficientMargin");
    await m.trade(alice, underlyingUnits(32));
    const view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.remainingMargin >= view.initialMargin).toBe(true);
  });

  it("below the initial margin refuses an increase but allows a reduction; a price move makes it liquidatable", async () => {
    await m.trade(alice, underlyingUnits(30));
    await m.setPrice(2950);
    let view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.remainingMargin < view.initialMargin).toBe(true);
    expect(view.liquidatable).toBe(false);
    await expectRevert(m.trade(alice, underlyingUnits(1)), "InsufficientMargin");
    // A small reduction leaves it below the initial margin: allowed, since it only reduces |size|.
    await m.trade(alice, underlyingUnits(-1));
    view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.sizeWad).toBe(underlyingUnits(29));
    expect(view.remainingMargin < view.initialMargin).toBe(true);
    expect(view.liquidatable).toBe(false);
    // A flip is not a reduction, even to a smaller |size|: the new side must hold its initial margin.
    await m.setPrice(2900);
    await expectRevert(m.trade(alice, underlyingUnits(-57)), "InsufficientMargin");
    view = await m.perp.read.positionOf([alice.account.address]);
    // Liquidation price from the model: margin + s·(p − e) = s·p·(mm + reward bps) / 10⁴ (the bps reward binds).
    const s = 29;
    const e = wadToNumber(view.entryPriceWad);
    const k = Number(m.params.maintenanceMarginBps + m.params.liquidationRewardBps) / 10_000;
    const pLiq = (s * e - toQuote(view.margin)) / (s * (1 - k));
    await m.setPrice(Math.ceil(pLiq) + 1);
    expect((await m.perp.read.positionOf([alice.account.address])).liquidatable).toBe(false);
    await m.setPrice(Math.floor(pLiq) - 1);
    view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.liquidatable).toBe(true);
    const ref = model.positionValue(
      { size: s, margin: toQuote(view.margin), entryPrice: e, entryFundingPerUnit: 0 },
      m.modelParams,
      Math.floor(pLiq) - 1,
      0,
    );
    expect(ref.liquidatable).toBe(true);
    // A liquidatable position cannot reduce its way out into a worse state, nor withdraw.
    await expectRevert(m.perp.write.withdrawMargin([1n], m.as(alice)), "WouldBeLiquidatable");
  });

  it("liquidate by a stranger pays the reward, zeroes the position and keeps the rest in the pool", async () => {
    await m.trade(alice, underlyingUnits(30));
    await expectRevert(m.perp.write.liquidate([alice.account.address], m.as(stranger)), "NotLiquidatable");
    await expectRevert(m.perp.write.liquidate([bob.account.address], m.as(stranger)), "NotLiquidatable", [
      getAddress(bob.account.address),
      0n,
      0n,
    ]);
    // remaining ≈ 9,909.99 − 30·305.45 = 746.49 ≤ maintenance 808.50 + 80.85
    await m.setPrice(2695);
    const view = await m.perp.read.positionOf([alice.account.address], PENDING);
    expect(view.liquidatable).toBe(true);
    expect(view.remainingMargin).toBeGreaterThan(0n);
    // reward = max(20, 30 · 2695 · 10 bps = 80.85)
    const reward = quoteUnits(80.85);
    expect(view.remainingMargin).toBeGreaterThan(reward);
    const [poolBefore, balBefore] = [await m.perp.read.pool(), await m.balance(stranger.account.address)];
    await time.setNextBlockTimestamp((await time.latest()) + 1);
    await sys.wait(await m.perp.write.liquidate([alice.account.address], m.as(stranger)));
    expect((await m.balance(stranger.account.address)) - balBefore).toBe(reward);
    const after = await m.perp.read.positionOf([alice.account.address]);
    expect([after.sizeWad, after.margin]).toEqual([0n, 0n]);
    expect(await m.perp.read.marketSkew()).toBe(0n);
    expect((await m.perp.read.pool()) - poolBefore).toBe(view.margin - reward);
    await m.expectBacked();
  });

  it("liquidating an underwater position pays no reward and the pool absorbs the loss", async () => {
    await m.trade(alice, underlyingUnits(30));
    await m.setPrice(2600); // remaining ≈ 10,000 − 90 − 30·400 < 0
    const view = await m.perp.read.positionOf([alice.account.address]);
    expect(view.remainingMargin).toBe(0n);
    const [poolBefore, balBefore] = [await m.perp.read.pool(), await m.balance(stranger.account.address)];
    await sys.wait(await m.perp.write.liquidate([alice.account.address], m.as(stranger)));
    expect(await m.balance(stranger.account.address)).toBe(balBefore);
    expect((await m.perp.read.pool()) - poolBefore).toBe(view.margin);
    await m.expectBacked();
  });
});

// ──────────────────────────────────────────── guards ─────────────────────────────────────────────

describe("guards", () => {
  it("acceptablePrice bounds a buy from above and a sell from below", async () => {
    const m = await freshMarket();
    await m.deposit(alice, quoteUnits(100_000));
    const buy = underlyingUnits(10);
    const buyFill = await m.perp.read.fillPrice([buy]);
    expect(buyFill).toBeGreaterThan(priceE8(3000) * 10n ** 10n);
    await expectRevert(m.perp.write.modifyPosition([buy, buyFill - 1n], m.as(alice)), "PriceOutOfBounds", [
      buyFill,
      buyFill - 1n,
    ]);
    await sys.wait(await m.perp.write.modifyPosition([buy, buyFill], m.as(alice)));
    const sell = underlyingUnits(-20);
    const sellFill = await m.perp.read.fillPrice([sell]);
    await expectRevert(m.perp.write.modifyPosition([sell, sellFill + 1n], m.as(alice)), "PriceOutOfBounds", [
      sellFill,
      sellFill + 1n,
    ]);
    await sys.wait(await m.perp.write.modifyPosition([sell, sellFill], m.as(alice)));
    expect((await m.perp.read.positionOf([alice.account.address])).sizeWad).toBe(underlyingUnits(-10));
  });

  it("a stale oracle halts trading, valuation and liquidation; a fresh answer resumes them", async () => {
    const m = await freshMarket();
    await m.deposit(alice, quoteUnits(100_000));
    await m.trade(alice, underlyingUnits(10));
    const [, , , updatedAt] = await sys.oracle.read.latestRoundData();
    await time.increase(Number(m.params.maxOracleAge) + 1);
    const stale = ["StaleOracle", [priceE8(3000), updatedAt, m.params.maxOracleAge]] as const;
    await expectRevert(m.perp.read.oraclePrice(), ...stale);
    await expectRevert(m.trade(alice, underlyingUnits(1)), ...stale);
    await expectRevert(m.perp.read.positionOf([alice.account.address]), ...stale);
    await expectRevert(m.perp.write.liquidate([alice.account.address], m.as(stranger)), ...stale);
    await expectRevert(m.perp.write.withdrawMargin([1n], m.as(alice)), ...stale);
    // Exactly maxOracleAge old is still fresh; one second more is stale.
    const answeredAt = BigInt(await time.latest()) - 10n;
    await sys.wait(await sys.oracle.write.setPriceAt([priceE8(3000), answeredAt]));
    await time.setNextBlockTimestamp(answeredAt + m.params.maxOracleAge);
    await m.trade(alice, underlyingUnits(1));
    await time.setNextBlockTimestamp(answeredAt + m.params.maxOracleAge + 1n);
    await expectRevert(m.trade(alice, underlyingUnits(1)), "StaleOracle");
  });

  it("refuses a zero size change", async () => {
    const m = await freshMarket();
    await m.deposit(alice, quoteUnits(1000));
    await expectRevert(m.perp.write.modifyPosition([0n, 0n], m.as(alice)), "ZeroSize");
  });

  it("caps |skew| at the skew scale, both sides, and the scale cannot be set below |skew|", async () => {
    const m = await freshMarket({ skewScale: 100n * WAD });
    await m.deposit(alice, quoteUnits(1_000_000));
    await m.deposit(bob, quoteUnits(1_000_000));
    await expectRevert(m.trade(alice, underlyingUnits(101)), "MaxSkewExceeded", [101n * WAD, 100n * WAD]);
    await expectRevert(m.perp.read.fillPrice([-101n * WAD]), "MaxSkewExceeded", [-101n * WAD, 100n * WAD]);
    await m.trade(alice, underlyingUnits(100));
    await expectRevert(m.trade(bob, 1n), "MaxSkewExceeded", [100n * WAD + 1n, 100n * WAD]);
    await m.trade(bob, underlyingUnits(-200)); // through zero to the other cap
    await expectRevert(m.trade(bob, -1n), "MaxSkewExceeded");
    await expectRevert(
      m.perp.write.setParams([{ ...m.params, skewScale: 100n * WAD - 1n }], m.as(owner)),
      "InvalidParam",
      ["skewScale", 100n * WAD - 1n],
    );
  });

  it("a liquidation can leave |skew| above the scale: trades may then only bring it back, at a premium clamped to 100%", async () => {
    const m = await freshMarket({ skewScale: 100n * WAD });
    await m.fundPool(quoteUnits(10_000_000));
    await m.deposit(alice, quoteUnits(1_000_000));
    await m.deposit(stranger, quoteUnits(1_000_000));
    await m.deposit(bob, quoteUnits(60_000)); // its short into the skew credits a premium that is not margin
    await m.trade(alice, underlyingUnits(100)); // K = 100 = S
    await m.trade(bob, underlyingUnits(-50)); // K = 50
    await m.trade(stranger, underlyingUnits(50)); // K = 100
    await m.setPrice(7000); // bob's short is underwater
    expect((await m.perp.read.positionOf([bob.account.address])).liquidatable).toBe(true);
    await sys.wait(await m.perp.write.liquidate([bob.account.address], m.as(owner!)));
    expect(await m.perp.read.marketSkew()).toBe(150n * WAD);
    // Further from zero: refused, even by one wei.
    await expectRevert(m.trade(alice, 1n), "MaxSkewExceeded", [150n * WAD + 1n, 100n * WAD]);
    await expectRevert(m.perp.read.fillPrice([1n]), "MaxSkewExceeded");
    // Back towards zero: allowed, both premiums clamped at +100%, so the seller gets 2p (the formula, clamped).
    const fill = await m.perp.read.fillPrice([-10n * WAD]);
    expect(fill).toBe(14_000n * WAD);
    expect(model.fillPrice({ price: 7000, skew: 150, skewScale: 100, sizeDelta: -10 })).toBe(14_000);
    await m.trade(alice, underlyingUnits(-10));
    expect(await m.perp.read.marketSkew()).toBe(140n * WAD);
    await m.expectBacked();
  });

  it("only the owner sets parameters, within bounds, with an event", async () => {
    const m = await freshMarket();
    await expectRevert(m.perp.write.setParams([m.params], m.as(stranger)), "OwnableUnauthorizedAccount");
    await expectRevert(m.perp.write.setParams([{ ...m.params, takerFeeBps: 101n }], m.as(owner)), "InvalidParam", [
      "takerFeeBps",
      101n,
    ]);
    await expectRevert(m.perp.write.setParams([{ ...m.params, skewScale: 0n }], m.as(owner)), "InvalidParam");
    // 10x with a 10% maintenance margin would open positions already liquidatable.
    await expectRevert(
      m.perp.write.setParams([{ ...m.params, maintenanceMarginBps: 1000n }], m.as(owner)),
      "InvalidParam",
      ["maxLeverage", m.params.maxLeverage],
    );
    const receipt = await sys.wait(await m.perp.write.setParams([{ ...m.params, takerFeeBps: 20n }], m.as(owner)));
    const events = parseEventLogs({ abi: m.perp.abi, logs: receipt.logs, eventName: "ParamsUpdated" });
    expect(events[0]!.args.params.takerFeeBps).toBe(20n);
    expect((await m.perp.read.params()).takerFeeBps).toBe(20n);
  });
});

// ───────────────────────────────────────────── pool ──────────────────────────────────────────────

describe("pool", () => {
  it("pays a trader's profit and receives a trader's loss and every fee", async () => {
    const m = await freshMarket({ maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(100_000));
    await m.deposit(alice, quoteUnits(10_000));
    await m.deposit(bob, quoteUnits(10_000));
    let pool = await m.perp.read.pool();
    const feeOf = async (receipt: Awaited<ReturnType<typeof m.trade>>) => {
      const [e] = parseEventLogs({ abi: m.perp.abi, logs: receipt.logs, eventName: "PositionModified" });
      return e!.args;
    };
    // Opening: only fees move, into the pool.
    const openA = await feeOf(await m.trade(alice, underlyingUnits(10)));
    const openB = await feeOf(await m.trade(bob, underlyingUnits(-10)));
    expect((await m.perp.read.pool()) - pool).toBe(openA.fee + openB.fee);
    pool = await m.perp.read.pool();
    await m.setPrice(3300);
    // Alice (long) closes in profit: the pool pays it, less the fee.
    const closeA = await feeOf(await m.trade(alice, underlyingUnits(-10)));
    expect(closeA.settled).toBeGreaterThan(quoteUnits(2900));
    expect(pool - (await m.perp.read.pool())).toBe(BigInt(closeA.settled) - closeA.fee);
    pool = await m.perp.read.pool();
    // Bob (short) closes at a loss: the pool receives it and the fee.
    const closeB = await feeOf(await m.trade(bob, underlyingUnits(10)));
    expect(closeB.settled).toBeLessThan(-quoteUnits(2900));
    expect((await m.perp.read.pool()) - pool).toBe(-BigInt(closeB.settled) + closeB.fee);
    // Both withdraw everything: alice leaves with her profit.
    const aliceMargin = (await m.perp.read.positionOf([alice.account.address])).margin;
    expect(aliceMargin).toBe(quoteUnits(10_000) + BigInt(closeA.settled) - openA.fee - closeA.fee);
    const before = await m.balance(alice.account.address);
    await sys.wait(await m.perp.write.withdrawMargin([aliceMargin], m.as(alice)));
    expect((await m.balance(alice.account.address)) - before).toBe(aliceMargin);
    await m.expectBacked();
  });

  it("a profit beyond the pool reverts with InsufficientPool; funding the pool lets the trader close", async () => {
    const m = await freshMarket({ maxFundingVelocity: 0n });
    await m.deposit(alice, quoteUnits(10_000));
    await m.trade(alice, underlyingUnits(10));
    await m.setPrice(3300);
    const pool = await m.perp.read.pool(); // only the opening fee
    const closeFee = await m.perp.read.orderFee([underlyingUnits(-10)]);
    await expectRevert(m.trade(alice, underlyingUnits(-10)), "InsufficientPool");
    const error = await m.trade(alice, underlyingUnits(-10)).then(
      () => undefined,
      (e: unknown) => decodeRevert(e),
    );
    const [available, required] = error!.args as [bigint, bigint];
    expect(available).toBe(pool + closeFee);
    expect(required).toBeGreaterThan(available);
    await m.fundPool(quoteUnits(5_000));
    await m.trade(alice, underlyingUnits(-10));
    expect((await m.perp.read.positionOf([alice.account.address])).margin).toBeGreaterThan(quoteUnits(12_900));
    await m.expectBacked();
  });
  it("Warning replayed: a trader who sees the next oracle answer first takes the move from the pool, less fees and premium", async () => {
    const m = await freshMarket({ maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(1_000_000));
    await m.deposit(alice, quoteUnits(100_000));
    const pool = await m.perp.read.pool();
    const start = await m.balance(alice.account.address);
    // The next answer (3,030, +1%) is known; alice buys 100 at the stale 3,000, then sells after it lands.
    const size = underlyingUnits(100);
    const openFill = await m.perp.read.fillPrice([size]);
    const openFee = await m.perp.read.orderFee([size]);
    await m.trade(alice, size);
    await m.setPrice(3030);
    const closeFill = await m.perp.read.fillPrice([-size]);
    const closeFee = await m.perp.read.orderFee([-size]);
    await m.trade(alice, -size);
    expect(await m.perp.read.sizeOf([alice.account.address])).toBe(0n);
    const margin = (await m.perp.read.positionOf([alice.account.address])).margin;
    await sys.wait(await m.perp.write.withdrawMargin([margin], m.as(alice)));
    const profit = (await m.balance(alice.account.address)) - start - quoteUnits(100_000);
    // Her profit is the move at the fills (the premium paid both ways) less both fees; the pool paid it. 1% of
    // 300,000 is 3,000; the taker fee in (10 bps) and the maker fee out (2 bps) leave ~2,640.
    const atFills = (size * (closeFill - openFill)) / 10n ** 18n / 10n ** 12n;
    expect(profit).toBe(margin - quoteUnits(100_000));
    expect(profit).toBeGreaterThan(quoteUnits(2_600));
    expect(profit - (atFills - openFee - closeFee)).toBeLessThanOrEqual(1n);
    expect(profit - (atFills - openFee - closeFee)).toBeGreaterThanOrEqual(-1n);
    expect(pool - (await m.perp.read.pool())).toBe(profit);
    await m.expectBacked();
  });
});
