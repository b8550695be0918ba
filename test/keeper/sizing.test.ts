/**
 * Hedge sizing (keeper/sizing/): the bigint AMM math against MockAmm's formulas, and every sized order against
 * an independent transcription of `OptionVault._rebalance` / `_checkTrade` run on the exact AMM output. Pure:
 * no chain — the contract rules are re-stated here line by line instead.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { numberToWad, wadToNumber } from "../../keeper/pricing/wad.ts";
import { toMarketView } from "../../keeper/pricing/view.ts";
import { executionPriceWad, getAmountIn, getAmountOut, InsufficientLiquidityError } from "../../keeper/sizing/amm.ts";
import { largestPassing, sizeHedge, type RebalanceDecision, type SizeOptions } from "../../keeper/sizing/size.ts";
import type { CostModel, HedgeOrder, RiskPreferences, VaultSnapshot } from "../../keeper/types.ts";

const SEED = 0x5eed_0003;
const RUNS = 1_000;
const WAD = 10n ** 18n;
const BPS = 10_000n;
const YEAR = 31_536_000;

// ─── independent references: MockAmm and OptionVault, re-stated ───

/** MockAmm._getAmountOut: in·(BPS−fee)·rOut / (rIn·BPS + in·(BPS−fee)), rounded down. */
function refAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint, feeBps: bigint): bigint {
  const inWithFee = amountIn * (BPS - feeBps);
  return (inWithFee * reserveOut) / (reserveIn * BPS + inWithFee);
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

type VaultOutcome =
  | { ok: true; amountOut: bigint; tradedWad: bigint; quoteWad: bigint; afterWad: bigint }
  | { ok: false; error: string };

/**
 * `OptionVault.rebalance(buy, amountIn, minAmountOut, ·)` at the snapshot's state: `_deltaBeforeTrade`, the
 * pool's `swapExactIn`, then `_checkTrade` with the vault's own `maxSlippageBps`.
 */
function vaultRebalance(s: VaultSnapshot, buy: boolean, amountIn: bigint, minAmountOut: bigint): VaultOutcome {
  const uScale = 10n ** BigInt(18 - s.underlyingDecimals);
  const qScale = 10n ** BigInt(18 - s.quoteDecimals);
  if (amountIn === 0n) return { ok: false, error: "ZeroAmount" };
  const hedgeWad = s.hedgeBalance * uScale;
  const beforeWad = s.netDeltaWad;
  if (!buy && amountIn * uScale > hedgeWad) return { ok: false, error: "InsufficientHedge" };
  const amountOut = buy
    ? refAmountOut(amountIn, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps)
    : refAmountOut(amountIn, s.ammReserveUnderlying, s.ammReserveQuote, s.ammFeeBps);
  if (amountOut < (minAmountOut === 0n ? 1n : minAmountOut)) return { ok: false, error: "InsufficientOutput" };
  const tradedWad = (buy ? amountOut : amountIn) * uScale;
  if (tradedWad > s.hedge.maxTradeWad) return { ok: false, error: "TradeTooLarge" };
  const quoteWad = (buy ? amountIn : amountOut) * qScale;
  const bps = BigInt(s.hedge.maxSlippageBps);
  let afterWad: bigint;
  if (buy) {
    const paidWad = ceilDiv(quoteWad * WAD, tradedWad);
    if (paidWad > (s.spotWad * (BPS + bps)) / BPS) return { ok: false, error: "SlippageTooHigh" };
    afterWad = beforeWad + tradedWad;
  } else {
    const receivedWad = (quoteWad * WAD) / tradedWad;
    if (receivedWad < (s.spotWad * (BPS - bps)) / BPS) return { ok: false, error: "SlippageTooHigh" };
    afterWad = beforeWad - tradedWad;
  }
  if (abs(afterWad) >= abs(beforeWad)) return { ok: false, error: "DeltaNotReduced" };
  if (beforeWad < 0n !== afterWad < 0n && afterWad !== 0n && abs(afterWad) > s.hedge.deltaToleranceWad) {
    return { ok: false, error: "HedgeOvershoot" };
  }
  return { ok: true, amountOut, tradedWad, quoteWad, afterWad };
}

/** Execution price within `bps` of the oracle by the vault's formulas (rounded against the keeper). */
function withinBps(s: VaultSnapshot, buy: boolean, quoteWad: bigint, tradedWad: bigint, bps: bigint): boolean {
  if (buy) return ceilDiv(quoteWad * WAD, tradedWad) <= (s.spotWad * (BPS + bps)) / BPS;
  return (quoteWad * WAD) / tradedWad >= (s.spotWad * (BPS - bps)) / BPS;
}

// ─── fixtures ───

function snapshot(overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return {
    vault: "0x00000000000000000000000000000000000000aa",
    blockNumber: 1_000n,
    timestamp: 1_750_000_000n,
    bookDeltaWad: -2n * WAD,
    netDeltaWad: -2n * WAD,
    gammaWad: -(WAD / 1000n),
    vegaWad: -300n * WAD,
    hedgeBalance: 0n,
    cashBalance: 1_000_000n * 10n ** 6n,
    spotWad: 3_000n * WAD,
    oracleUpdatedAt: 1_750_000_000n,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    ammReserveUnderlying: 1_000n * WAD, // 1,000 WETH
    ammReserveQuote: 3_000_000n * 10n ** 6n, // 3,000,000 USDC: the pool at the oracle price
    ammFeeBps: 30n,
    lastRebalanceBlock: 990n,
    nextRebalanceBlock: 995n,
    paused: false,
    hedge: {
      maxSlippageBps: 100,
      minRebalanceInterval: 5,
      maxOracleAge: 3_600,
      maxTradeWad: 100n * WAD,
      deltaToleranceWad: WAD / 100n,
      bandWad: WAD / 10n,
    },
    risk: { volWad: (WAD * 8n) / 10n, rateWad: WAD / 20n, spreadBps: 100, stressUpBps: 5_000 },
    book: [],
    quoteDecimals: 6,
    underlyingDecimals: 18,
    ...overrides,
  };
}

/** A risk-averse keeper with a one-day horizon: hedges of a few WETH are worth their fee. */
const PREFS: RiskPreferences = { riskAversion: 1e-2, horizonSeconds: 86_400 };
const OPTS: SizeOptions = { minOutMarginBps: 10 };
const TO_ZERO: RebalanceDecision = { kind: "rebalance", targetDelta: 0, target: "zero", reason: "test" };

function costsOf(s: VaultSnapshot, gasCostQuote = 1): CostModel {
  const spot = wadToNumber(s.spotWad);
  const reserve = Number(s.ammReserveUnderlying) / 10 ** s.underlyingDecimals;
  return { gasCostQuote, feeRate: Number(s.ammFeeBps) / 1e4, eta: spot / reserve };
}

function size(s: VaultSnapshot, decision = TO_ZERO, prefs = PREFS, opts = OPTS, gas = 1) {
  return sizeHedge(s, decision, toMarketView(s, costsOf(s, gas)), prefs, opts);
}

function orderOf(s: VaultSnapshot, decision = TO_ZERO, prefs = PREFS, opts = OPTS): HedgeOrder {
  const sizing = size(s, decision, prefs, opts);
  if (sizing.kind !== "order") throw new Error(`expected an order, got: ${sizing.reason}`);
  return sizing.order;
}

// ─── AMM ───

describe("AMM math", () => {
  const reserve = fc.bigInt({ min: 1n, max: (1n << 112n) - 1n });
  const fee = fc.bigInt({ min: 0n, max: 1_000n });

  it("getAmountOut is MockAmm's formula rounded down: out·den ≤ num < (out + 1)·den", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 112n }), reserve, reserve, fee, (amountIn, rIn, rOut, f) => {
        const out = getAmountOut(amountIn, rIn, rOut, f);
        expect(out).toBe(refAmountOut(amountIn, rIn, rOut, f));
        const num = amountIn * (BPS - f) * rOut;
        const den = rIn * BPS + amountIn * (BPS - f);
        expect(out * den <= num && num < (out + 1n) * den).toBe(true);
        expect(out).toBeLessThan(rOut);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("getAmountIn is the smallest input whose output reaches the amount asked", () => {
    fc.assert(
      fc.property(reserve, reserve, fee, fc.double({ min: 0, max: 0.999, noNaN: true }), (rIn, rOut, f, fraction) => {
        const out = BigInt(Math.floor(Number(rOut) * fraction)) % rOut;
        const amountIn = getAmountIn(out, rIn, rOut, f);
        expect(amountIn).toBe(ceilDiv(rIn * BPS * out, (rOut - out) * (BPS - f)));
        expect(refAmountOut(amountIn, rIn, rOut, f)).toBeGreaterThanOrEqual(out);
        if (amountIn > 0n) expect(refAmountOut(amountIn - 1n, rIn, rOut, f)).toBeLessThan(out);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("refuses to quote the whole output reserve or an empty pool", () => {
    expect(() => getAmountIn(100n, 1_000n, 100n, 30n)).toThrow(InsufficientLiquidityError);
    expect(() => getAmountOut(1n, 0n, 100n, 30n)).toThrow(InsufficientLiquidityError);
  });

  it("rounds the execution price against the keeper: up when buying, down when selling", () => {
    const decimals = { quoteDecimals: 6, underlyingDecimals: 18 };
    // 10 quote units for 3 underlying: 3.333… per unit.
    const buy = executionPriceWad({ ...decimals, buyUnderlying: true, amountIn: 10_000_000n, amountOut: 3n * WAD });
    const sell = executionPriceWad({ ...decimals, buyUnderlying: false, amountIn: 3n * WAD, amountOut: 10_000_000n });
    expect(buy).toBe(3_333_333_333_333_333_334n);
    expect(sell).toBe(3_333_333_333_333_333_333n);
  });
});

describe("largestPassing", () => {
  it("finds the largest passing size of a threshold predicate, and 0 when nothing passes", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 100n }), fc.bigInt({ min: 0n, max: 1n << 101n }), (hi, limit) => {
        const found = largestPassing(hi, (n) => n <= limit);
        expect(found).toBe(limit < hi ? limit : hi);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

// ─── sizing against the vault's rules ───

interface Scenario {
  snapshot: VaultSnapshot;
  decision: RebalanceDecision;
  prefs: RiskPreferences;
  opts: SizeOptions;
  gas: number;
}

/** Uniform on [0, 1] in steps of 1e-6 (fast-check's doubles crowd at the ends of their range). */
const unit = fc.integer({ min: 0, max: 1_000_000 }).map((n) => n / 1_000_000);

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    underlyingDecimals: fc.constantFrom(6, 18),
    quoteDecimals: fc.constantFrom(6, 18),
    spotE4: fc.integer({ min: 100, max: 1_000_000_000 }), // 0.01 … 100,000 quote per underlying
    reserveUnits: fc.integer({ min: 0, max: 6_000 }).map((e) => 10 ** (e / 1_000)), // 1 … 1e6, log-uniform
    poolOffsetBps: fc.integer({ min: -60, max: 60 }),
    deltaCubeRoot: unit.map((u) => 2 * u - 1),
    target: fc.constantFrom("zero", "edge", "anywhere"),
    targetFraction: unit.map((u) => 2 * u - 0.5),
    hedgeFraction: unit.map((u) => 2 * u),
    feeBps: fc.integer({ min: 0, max: 100 }),
    maxSlippageBps: fc.integer({ min: 1, max: 1_000 }),
    keeperSlippageBps: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
    maxTradeFraction: unit.map((u) => 0.01 + 2 * u),
    toleranceFraction: fc.oneof(fc.constant(0), unit.map((u) => u / 2)),
    minOutMarginBps: fc.integer({ min: 0, max: 100 }),
    riskAversionLog10: unit.map((u) => -6 + 6 * u),
    horizonSeconds: fc.integer({ min: 12, max: 7 * 86_400 }),
    vol: unit.map((u) => 0.1 + 1.9 * u),
    gas: unit.map((u) => 20 * u),
  })
  .map((r): Scenario => {
    const uScale = 10n ** BigInt(18 - r.underlyingDecimals);
    const qScale = 10n ** BigInt(18 - r.quoteDecimals);
    const spotWad = BigInt(r.spotE4) * 10n ** 14n;
    const reserveUnderlyingWad = BigInt(Math.round(r.reserveUnits * 1e6)) * 10n ** 12n;
    const reserveQuoteWad = (((reserveUnderlyingWad * spotWad) / WAD) * (BPS + BigInt(r.poolOffsetBps))) / BPS;
    const delta = r.deltaCubeRoot ** 3 * r.reserveUnits; // many small deltas, some a large share of the pool
    const absDeltaWad = abs(numberToWad(delta));
    const fractionOfDelta = (x: number) => (absDeltaWad * BigInt(Math.round(x * 1e6))) / 1_000_000n;
    const targetDelta =
      r.target === "zero" ? 0 : r.target === "edge" ? delta * Math.abs(r.targetFraction) / 2 : delta * r.targetFraction;
    return {
      snapshot: snapshot({
        underlyingDecimals: r.underlyingDecimals,
        quoteDecimals: r.quoteDecimals,
        spotWad,
        ammReserveUnderlying: reserveUnderlyingWad / uScale,
        ammReserveQuote: reserveQuoteWad / qScale + 1n,
        ammFeeBps: BigInt(r.feeBps),
        netDeltaWad: numberToWad(delta),
        hedgeBalance: fractionOfDelta(r.hedgeFraction) / uScale,
        hedge: {
          maxSlippageBps: r.maxSlippageBps,
          minRebalanceInterval: 5,
          maxOracleAge: 3_600,
          maxTradeWad: fractionOfDelta(r.maxTradeFraction) + 1n,
          deltaToleranceWad: fractionOfDelta(r.toleranceFraction),
          bandWad: 0n,
        },
        risk: { volWad: numberToWad(r.vol), rateWad: 0n, spreadBps: 0, stressUpBps: 5_000 },
      }),
      decision: {
        kind: "rebalance",
        targetDelta,
        target: r.target === "zero" ? "zero" : "edge",
        reason: "property test",
      },
      prefs: { riskAversion: 10 ** r.riskAversionLog10, horizonSeconds: r.horizonSeconds },
      opts: {
        minOutMarginBps: r.minOutMarginBps,
        ...(r.keeperSlippageBps === undefined ? {} : { maxSlippageBps: r.keeperSlippageBps }),
      },
      gas: r.gas,
    };
  });

describe("sizeHedge", () => {
  it("never produces an order the vault would reject, or one past the delta tolerance or the slippage bound", () => {
    let orders = 0;
    let partials = 0;
    let buys = 0;
    fc.assert(
      fc.property(scenarioArb, ({ snapshot: s, decision, prefs, opts, gas }) => {
        const sizing = size(s, decision, prefs, opts, gas);
        if (sizing.kind === "skip") {
          expect(sizing.reason.length).toBeGreaterThan(0);
          return;
        }
        const order = sizing.order;
        orders += 1;
        if (order.partial) partials += 1;
        if (order.buyUnderlying) buys += 1;

        // The vault and the pool accept it, at the snapshot's state, minAmountOut included.
        const outcome = vaultRebalance(s, order.buyUnderlying, order.amountIn, order.minAmountOut);
        if (!outcome.ok) throw new Error(`the vault would revert with ${outcome.error}`);
        expect(order.expectedOut).toBe(outcome.amountOut);
        expect(order.tradeWad).toBe(outcome.tradedWad);
        expect(order.deltaAfterWad).toBe(outcome.afterWad);
        expect(order.minAmountOut).toBe((order.expectedOut * (BPS - BigInt(opts.minOutMarginBps))) / BPS);
        expect(order.amountIn).toBeGreaterThan(0n);
        expect(order.expectedOut).toBeGreaterThan(0n);

        // |delta| only shrinks, and never goes past zero by more than the tolerance.
        const before = s.netDeltaWad;
        expect(abs(outcome.afterWad)).toBeLessThan(abs(before));
        if (before < 0n !== outcome.afterWad < 0n && outcome.afterWad !== 0n) {
          expect(abs(outcome.afterWad)).toBeLessThanOrEqual(s.hedge.deltaToleranceWad);
        }
        // Buying when short, selling when long.
        expect(order.buyUnderlying).toBe(before < 0n);

        // The keeper's own slippage bound holds too, when tighter than the vault's.
        const bound = BigInt(Math.min(s.hedge.maxSlippageBps, opts.maxSlippageBps ?? Number.POSITIVE_INFINITY));
        expect(withinBps(s, order.buyUnderlying, outcome.quoteWad, outcome.tradedWad, bound)).toBe(true);
        expect(order.slippageBps).toBeLessThanOrEqual(Number(bound));

        // Cost/benefit, recomputed: slippage = what the trade pays beyond the oracle value (0 when in the vault's
        // favour).
        const spot = wadToNumber(s.spotWad);
        const traded = wadToNumber(outcome.tradedWad);
        const quote = wadToNumber(outcome.quoteWad);
        const slippage = Math.max(0, order.buyUnderlying ? quote - traded * spot : traded * spot - quote);
        const cost = slippage + gas;
        const vol = wadToNumber(s.risk.volWad);
        const k = (prefs.riskAversion / 2) * vol * vol * spot * spot * (prefs.horizonSeconds / YEAR);
        const benefit = k * (wadToNumber(before) ** 2 - wadToNumber(outcome.afterWad) ** 2);
        const slack = 1e-9 * (Math.abs(benefit) + cost) + 1e-9;
        expect(Math.abs(order.slippageCostQuote - slippage)).toBeLessThanOrEqual(slack);
        expect(Math.abs(order.totalCostQuote - cost)).toBeLessThanOrEqual(slack);
        expect(Math.abs(order.benefitQuote - benefit)).toBeLessThanOrEqual(slack);
        expect(benefit).toBeGreaterThanOrEqual(cost - slack);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    // The property is not vacuous: a good share of the scenarios trade, in both directions, some of them cut.
    expect(orders).toBeGreaterThan(RUNS / 5);
    expect(buys).toBeGreaterThan(orders / 5);
    expect(orders - buys).toBeGreaterThan(orders / 5);
    expect(partials).toBeGreaterThan(0);
  });

  it("skips exactly when no valid order is worth its cost: the reason names both numbers", () => {
    const s = snapshot({ netDeltaWad: -2n * WAD });
    const indifferent = { riskAversion: 1e-7, horizonSeconds: 60 };
    const sizing = size(s, TO_ZERO, indifferent);
    expect(sizing.kind).toBe("skip");
    if (sizing.kind === "skip") expect(sizing.reason).toMatch(/^cost [\d.e+-]+ .*> benefit [\d.e+-]+ quote$/);
  });

  it("buys with getAmountIn(wanted) so the pool delivers the whole hedge", () => {
    const s = snapshot({ netDeltaWad: -2n * WAD, hedge: { ...snapshot().hedge, deltaToleranceWad: WAD } });
    const order = orderOf(s);
    expect(order.buyUnderlying).toBe(true);
    expect(order.amountIn).toBe(getAmountIn(2n * WAD, s.ammReserveQuote, s.ammReserveUnderlying, 30n));
    expect(order.expectedOut).toBeGreaterThanOrEqual(2n * WAD);
    expect(order.partial).toBe(false);
  });

  it("gives up one unit of input when the pool's rounding would overshoot zero with no tolerance", () => {
    // USDC (6 decimals) for WETH (18): one quote unit buys ~3e8 wei, so the pool usually over-delivers.
    const noTolerance = { ...snapshot().hedge, deltaToleranceWad: 0n };
    let overshootingCases = 0;
    for (let i = 0; i < 50; i++) {
      const before = -(2n * WAD + 123_456_789_012_345n * BigInt(i + 1));
      const s = snapshot({ netDeltaWad: before, hedge: noTolerance });
      const naiveIn = getAmountIn(-before, s.ammReserveQuote, s.ammReserveUnderlying, 30n);
      if (getAmountOut(naiveIn, s.ammReserveQuote, s.ammReserveUnderlying, 30n) > -before) overshootingCases += 1;
      const order = orderOf(s);
      expect(order.deltaAfterWad).toBeLessThanOrEqual(0n);
      expect(vaultRebalance(s, true, order.amountIn, order.minAmountOut).ok).toBe(true);
      expect(-order.deltaAfterWad).toBeLessThan(10n ** 9n); // within one quote unit's worth of zero
    }
    expect(overshootingCases).toBeGreaterThan(0);
  });

  it("splits a hedge too large for the slippage bound over several blocks, each partial order valid", () => {
    // 100 WETH short against a 1,000 WETH pool, 50 bps bound with a 30 bps fee: ~1 WETH of impact room per block.
    let s = snapshot({
      netDeltaWad: -100n * WAD,
      hedge: { ...snapshot().hedge, maxSlippageBps: 50, maxTradeWad: 1_000n * WAD },
    });
    const pool = { underlying: s.ammReserveUnderlying, quote: s.ammReserveQuote };
    let blocks = 0;
    for (; blocks < 200; blocks++) {
      const sizing = size(s);
      if (sizing.kind === "skip") break;
      const order = sizing.order;
      const outcome = vaultRebalance(s, true, order.amountIn, order.minAmountOut);
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) break;
      // Arbitrage brings the pool back to the oracle between blocks.
      s = { ...s, netDeltaWad: outcome.afterWad, ammReserveUnderlying: pool.underlying, ammReserveQuote: pool.quote };
      if (!order.partial) break;
    }
    expect(blocks).toBeGreaterThan(10);
    expect(abs(s.netDeltaWad)).toBeLessThanOrEqual(s.hedge.deltaToleranceWad);
  });

  it("caps an order at maxTradeWad and marks it partial", () => {
    const s = snapshot({ netDeltaWad: -5n * WAD, hedge: { ...snapshot().hedge, maxTradeWad: WAD } });
    const order = orderOf(s);
    expect(order.tradeWad).toBeLessThanOrEqual(WAD);
    expect(order.tradeWad).toBeGreaterThan(WAD - 10n ** 9n);
    expect(order.partial).toBe(true);
  });

  it("sells no more than the hedge balance, and skips a sell when the vault holds nothing", () => {
    const long = snapshot({ netDeltaWad: 3n * WAD, hedgeBalance: WAD });
    const order = orderOf(long);
    expect(order.buyUnderlying).toBe(false);
    expect(order.amountIn).toBe(WAD);
    expect(order.partial).toBe(true);
    const sizing = size({ ...long, hedgeBalance: 0n });
    expect(sizing.kind).toBe("skip");
    if (sizing.kind === "skip") expect(sizing.reason).toMatch(/InsufficientHedge/);
  });

  it("keeps within the keeper's own slippage bound when it is tighter than the vault's", () => {
    const s = snapshot({ netDeltaWad: -50n * WAD });
    const loose = orderOf(s);
    const tight = orderOf(s, TO_ZERO, PREFS, { ...OPTS, maxSlippageBps: 40 });
    expect(tight.slippageBps).toBeLessThanOrEqual(40);
    expect(tight.tradeWad).toBeLessThan(loose.tradeWad);
    expect(tight.partial).toBe(true);
  });

  it("skips when the fee alone exceeds the slippage bound", () => {
    const sizing = size(snapshot({ hedge: { ...snapshot().hedge, maxSlippageBps: 20 } }));
    expect(sizing.kind).toBe("skip");
    if (sizing.kind === "skip") expect(sizing.reason).toMatch(/SlippageTooHigh/);
  });

  it("skips a target that lies away from zero, a zero delta and dust", () => {
    const away = size(snapshot({ netDeltaWad: -WAD }), { ...TO_ZERO, targetDelta: -2 });
    expect(away.kind === "skip" && away.reason).toMatch(/DeltaNotReduced/);
    expect(size(snapshot({ netDeltaWad: 0n })).kind).toBe("skip");
    // 6-decimal underlying: 1e-7 is below one token unit.
    const dust = size(
      snapshot({ underlyingDecimals: 6, ammReserveUnderlying: 1_000n * 10n ** 6n, netDeltaWad: 10n ** 11n }),
    );
    expect(dust.kind === "skip" && dust.reason).toMatch(/dust/);
  });

  it("stops at the band's edge when the decision targets it", () => {
    const s = snapshot({ netDeltaWad: -3n * WAD });
    const edge: RebalanceDecision = { kind: "rebalance", targetDelta: -0.5, target: "edge", reason: "test" };
    const order = orderOf(s, edge);
    expect(order.deltaAfterWad).toBeGreaterThanOrEqual(-WAD / 2n);
    expect(order.deltaAfterWad).toBeLessThan(-WAD / 2n + 10n ** 9n);
  });
});

describe("sizing: oracle/pool gaps", () => {
  it("a pool below the oracle when buying (in the vault's favour) adds no slippage cost and does not block a due hedge", async () => {
    const { sizeHedge } = await import("../../keeper/sizing/size.ts");
    const { toMarketView } = await import("../../keeper/pricing/view.ts");
    const W = 10n ** 18n;
    // Oracle at 3300, pool still at 3000 (the arbitrageur has not caught up): buying 5 WETH costs ~3000 each.
    const snapshot = {
      vault: "0x0000000000000000000000000000000000000001" as const,
      blockNumber: 100n,
      timestamp: 1_700_000_000n,
      bookDeltaWad: -5n * W,
      netDeltaWad: -5n * W,
      gammaWad: -(W / 1000n),
      vegaWad: -100n * W,
      hedgeBalance: 0n,
      cashBalance: 10n ** 12n,
      spotWad: 3300n * W,
      oracleUpdatedAt: 1_700_000_000n,
      oracleAgeSeconds: 0n,
      oracleFresh: true,
      ammReserveUnderlying: 10_000n * W,
      ammReserveQuote: 30_000_000n * 10n ** 6n,
      ammFeeBps: 30n,
      lastRebalanceBlock: 0n,
      nextRebalanceBlock: 0n,
      paused: false,
      hedge: { maxSlippageBps: 100, minRebalanceInterval: 1, maxOracleAge: 3600, maxTradeWad: 100n * W, deltaToleranceWad: W / 10n, bandWad: W / 2n },
      risk: { volWad: (8n * W) / 10n, rateWad: 0n, spreadBps: 200, stressUpBps: 10_000 },
      book: [],
      quoteDecimals: 6,
      underlyingDecimals: 18,
    };
    const view = toMarketView(snapshot, { gasCostQuote: 1, feeRate: 0.003, eta: 0.33 });
    const prefs = { riskAversion: 0.001, horizonSeconds: 3600 };
    const sizing = sizeHedge(snapshot, { kind: "rebalance", targetDelta: 0, target: "zero", reason: "test" }, view, prefs, {
      maxSlippageBps: 100,
      minOutMarginBps: 10,
    });
    expect(sizing.kind).toBe("order");
    if (sizing.kind === "order") {
      expect(sizing.order.slippageCostQuote).toBe(0);
      expect(sizing.order.totalCostQuote).toBe(1);
    }
  });
});
