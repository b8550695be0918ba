/**
 * Hedge sizing (keeper/sizing/): the bigint AMM math against MockAmm's formulas, and every sized order against
 * an independent transcription of `OptionVault.rebalance` (`_beforeTrade`, the swap, `_afterTrade`,
 * `_chargeBudget`) run on the exact AMM output. Pure: no chain — the contract rules are re-stated here line by
 * line instead.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { numberToWad, wadToNumber } from "../../keeper/pricing/wad.ts";
import { toMarketView } from "../../keeper/pricing/view.ts";
import { executionPriceWad, getAmountIn, getAmountOut, InsufficientLiquidityError } from "../../keeper/sizing/amm.ts";
import { fitsBudget, tradeCostWad } from "../../keeper/sizing/budget.ts";
import {
  checkRebalance,
  largestPassing,
  sizeHedge,
  type RebalanceDecision,
  type SizedOrder,
  type SizeOptions,
} from "../../keeper/sizing/size.ts";
import type { CostModel, RiskPreferences, VaultSnapshot } from "../../keeper/types.ts";
import { vaultSnapshot } from "../helpers/snapshot.ts";

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

/** One budget unit (1e-4 quote), quote wad: the vault records usage in whole units, rounded up. */
const UNIT = 10n ** 14n;

/**
 * `OptionVault.rebalance(buy, amountIn, minAmountOut, ·)` at the snapshot's state, checks in the vault's order:
 * `_beforeTrade` (tolerance, hedge held), the pool's `swapExactIn` (output, then pulling the input from the
 * vault), then `_afterTrade` with the vault's own `maxSlippageBps`, the payouts owed and `_chargeBudget` against
 * the budget left the lens reports (usage in whole units, rounded up).
 */
function vaultRebalance(s: VaultSnapshot, buy: boolean, amountIn: bigint, minAmountOut: bigint): VaultOutcome {
  const uScale = 10n ** BigInt(18 - s.underlyingDecimals);
  const qScale = 10n ** BigInt(18 - s.quoteDecimals);
  if (amountIn === 0n) return { ok: false, error: "ZeroAmount" };
  const hedgeWad = s.hedgeBalance * uScale;
  const beforeWad = s.netDeltaWad;
  if (abs(beforeWad) <= s.hedge.deltaToleranceWad) return { ok: false, error: "DeltaWithinTolerance" };
  if (!buy && amountIn * uScale > hedgeWad) return { ok: false, error: "InsufficientHedge" };
  const amountOut = buy
    ? refAmountOut(amountIn, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps)
    : refAmountOut(amountIn, s.ammReserveUnderlying, s.ammReserveQuote, s.ammFeeBps);
  if (amountOut < (minAmountOut === 0n ? 1n : minAmountOut)) return { ok: false, error: "InsufficientOutput" };
  if (buy && amountIn > s.cashBalance) return { ok: false, error: "ERC20InsufficientBalance" };
  const tradedWad = (buy ? amountOut : amountIn) * uScale;
  if (tradedWad === 0n) return { ok: false, error: "ZeroAmount" };
  if (tradedWad > s.hedge.maxTradeWad) return { ok: false, error: "TradeTooLarge" };
  const quoteWad = (buy ? amountIn : amountOut) * qScale;
  const bps = BigInt(s.hedge.maxSlippageBps);
  let afterWad: bigint;
  let slippageWad: bigint;
  const notionalWad = ceilDiv(tradedWad * s.spotWad, WAD);
  if (buy) {
    const paidWad = ceilDiv(quoteWad * WAD, tradedWad);
    if (paidWad > (s.spotWad * (BPS + bps)) / BPS) return { ok: false, error: "SlippageTooHigh" };
    afterWad = beforeWad + tradedWad;
    const fairWad = (tradedWad * s.spotWad) / WAD;
    slippageWad = quoteWad > fairWad ? quoteWad - fairWad : 0n;
  } else {
    const receivedWad = (quoteWad * WAD) / tradedWad;
    if (receivedWad < (s.spotWad * (BPS - bps)) / BPS) return { ok: false, error: "SlippageTooHigh" };
    afterWad = beforeWad - tradedWad;
    slippageWad = notionalWad > quoteWad ? notionalWad - quoteWad : 0n;
  }
  if (abs(afterWad) >= abs(beforeWad)) return { ok: false, error: "DeltaNotReduced" };
  if (beforeWad < 0n !== afterWad < 0n && afterWad !== 0n && abs(afterWad) > s.hedge.deltaToleranceWad) {
    return { ok: false, error: "HedgeOvershoot" };
  }
  if (buy && s.pendingPayouts !== 0n && s.cashBalance - amountIn < s.pendingPayouts) {
    return { ok: false, error: "PayoutsNotCovered" };
  }
  if (ceilDiv(notionalWad, UNIT) * UNIT > s.notionalLeftWad) return { ok: false, error: "NotionalBudgetExceeded" };
  if (ceilDiv(slippageWad, UNIT) * UNIT > s.slippageLeftWad) return { ok: false, error: "SlippageBudgetExceeded" };
  return { ok: true, amountOut, tradedWad, quoteWad, afterWad };
}

/** Execution price within `bps` of the oracle by the vault's formulas (rounded against the keeper). */
function withinBps(s: VaultSnapshot, buy: boolean, quoteWad: bigint, tradedWad: bigint, bps: bigint): boolean {
  if (buy) return ceilDiv(quoteWad * WAD, tradedWad) <= (s.spotWad * (BPS + bps)) / BPS;
  return (quoteWad * WAD) / tradedWad >= (s.spotWad * (BPS - bps)) / BPS;
}

// ─── fixtures ───

/** A vault 2 underlying short, the pool at the oracle price, the deploy defaults' whole budget unused. */
const snapshot = vaultSnapshot;

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

function orderOf(s: VaultSnapshot, decision = TO_ZERO, prefs = PREFS, opts = OPTS): SizedOrder {
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
    // Some within the tolerance (≥ 1): the vault refuses any rebalance there.
    toleranceFraction: fc.oneof(fc.constant(0), unit.map((u) => u / 2), unit.map((u) => 0.9 + 0.2 * u)),
    // Of the wanted trade's notional: undefined for plenty, else tight (a share of it).
    cashFraction: fc.oneof(fc.constant(undefined), unit.map((u) => 1.5 * u)),
    // Of the cash: owed to settled holders (undefined: nothing owed).
    payoutsFraction: fc.oneof(fc.constant(undefined), unit.map((u) => 1.2 * u)),
    // Of the wanted trade's notional: the budget left in the window (undefined: the deploy defaults, unused).
    notionalLeftFraction: fc.oneof(fc.constant(undefined), unit.map((u) => 1.2 * u)),
    slippageLeftFraction: fc.oneof(fc.constant(undefined), unit.map((u) => 0.01 * u)),
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
    const wantedNotionalWad = (absDeltaWad * spotWad) / WAD;
    const share = (wad: bigint, x: number) => (wad * BigInt(Math.round(x * 1e6))) / 1_000_000n;
    const cashBalance =
      r.cashFraction === undefined ? (2n * wantedNotionalWad + 10n ** 24n) / qScale : share(wantedNotionalWad, r.cashFraction) / qScale;
    // The lens reports the budget left in whole units (1e-4 quote).
    const left = (x: number | undefined, whole: bigint) => (x === undefined ? whole : (share(wantedNotionalWad, x) / UNIT) * UNIT);
    return {
      snapshot: snapshot({
        cashBalance,
        pendingPayouts: r.payoutsFraction === undefined ? 0n : share(cashBalance, r.payoutsFraction),
        notionalLeftWad: left(r.notionalLeftFraction, 3_000_000n * WAD),
        slippageLeftWad: left(r.slippageLeftFraction, 10_000n * WAD),
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
          budgetWindowSeconds: 86_400,
          notionalBudget: 3_000_000,
          slippageBudget: 10_000,
        },
        risk: { volWad: numberToWad(r.vol), rateWad: 0n, spreadBps: 0, latencyBps: 0, capitalChargeBps: 0, minPremiumBps: 0 },
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
  it("never produces an order the vault would reject (tolerance, payouts and budgets included), or one past the delta tolerance or the slippage bound", () => {
    let orders = 0;
    let partials = 0;
    let buys = 0;
    let budgetCuts = 0;
    let buysWhileOwed = 0;
    const skipErrors = new Set<string>();
    fc.assert(
      fc.property(scenarioArb, ({ snapshot: s, decision, prefs, opts, gas }) => {
        const sizing = size(s, decision, prefs, opts, gas);
        if (sizing.kind === "skip") {
          expect(sizing.reason.length).toBeGreaterThan(0);
          if (sizing.error !== undefined) {
            skipErrors.add(sizing.error);
            expect(sizing.reason).toContain(`(${sizing.error})`);
          }
          // Within the tolerance nothing may start: sizing says so, by the vault's error's name.
          if (abs(s.netDeltaWad) <= s.hedge.deltaToleranceWad) expect(sizing.error).toBe("DeltaWithinTolerance");
          return;
        }
        const order = sizing.order;
        orders += 1;
        if (order.partial) partials += 1;
        if (order.buyUnderlying) buys += 1;
        if (order.cappedBy.some((c) => c.endsWith("budget"))) budgetCuts += 1;
        if (order.buyUnderlying && s.pendingPayouts > 0n) buysWhileOwed += 1;
        expect(order.partial).toBe(order.cappedBy.length > 0);

        // The vault and the pool accept it, at the snapshot's state, minAmountOut included; so does the keeper's
        // own mirror of the vault.
        const outcome = vaultRebalance(s, order.buyUnderlying, order.amountIn, order.minAmountOut);
        if (!outcome.ok) throw new Error(`the vault would revert with ${outcome.error}`);
        const check = checkRebalance(s, order.buyUnderlying, order.amountIn, order.minAmountOut);
        if (!check.ok) throw new Error(`checkRebalance refuses it: ${check.error} (${check.detail})`);
        expect(abs(s.netDeltaWad)).toBeGreaterThan(s.hedge.deltaToleranceWad);
        if (order.buyUnderlying) expect(order.amountIn).toBeLessThanOrEqual(s.cashBalance - s.pendingPayouts);
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
    // The property is not vacuous: a good share of the scenarios trade, in both directions, some of them cut,
    // some by a budget, some buying while payouts are owed; and every new guard is met by some skip.
    expect(orders).toBeGreaterThan(RUNS / 10);
    expect(buys).toBeGreaterThan(orders / 5);
    expect(orders - buys).toBeGreaterThan(orders / 5);
    expect(partials).toBeGreaterThan(0);
    expect(budgetCuts).toBeGreaterThan(0);
    expect(buysWhileOwed).toBeGreaterThan(0);
    for (const error of ["DeltaWithinTolerance", "NotionalBudgetExceeded", "SlippageBudgetExceeded", "PayoutsNotCovered"]) {
      expect(skipErrors, `some skip names ${error}`).toContain(error);
    }
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
    // 6-decimal underlying: 1e-7 is below one token unit (and, with no tolerance, still something to hedge).
    const dust = size(
      snapshot({
        underlyingDecimals: 6,
        ammReserveUnderlying: 1_000n * 10n ** 6n,
        netDeltaWad: 10n ** 11n,
        hedge: { ...snapshot().hedge, deltaToleranceWad: 0n },
      }),
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

// ─── the vault v2 guards: tolerance, payouts owed, hedging budget ───

/** The reference's notional and slippage of a trade (quote wad), as `_afterTrade` computes them. */
function refCost(s: VaultSnapshot, buy: boolean, amountIn: bigint, amountOut: bigint): { notionalWad: bigint; slippageWad: bigint } {
  const tradedWad = (buy ? amountOut : amountIn) * 10n ** BigInt(18 - s.underlyingDecimals);
  const quoteWad = (buy ? amountIn : amountOut) * 10n ** BigInt(18 - s.quoteDecimals);
  const notionalWad = ceilDiv(tradedWad * s.spotWad, WAD);
  const fairWad = buy ? (tradedWad * s.spotWad) / WAD : notionalWad;
  const slippageWad = buy ? (quoteWad > fairWad ? quoteWad - fairWad : 0n) : fairWad > quoteWad ? fairWad - quoteWad : 0n;
  return { notionalWad, slippageWad };
}

/** Budget units a cost takes, rounded up as the vault records it, in quote wad. */
const units = (wad: bigint) => ceilDiv(wad, UNIT) * UNIT;

/** The smallest trade larger than `order`: one more unit sold, or the least input that buys one more unit. */
function nextLarger(s: VaultSnapshot, order: SizedOrder): { amountIn: bigint; amountOut: bigint } {
  if (!order.buyUnderlying) {
    const amountIn = order.amountIn + 1n;
    return { amountIn, amountOut: refAmountOut(amountIn, s.ammReserveUnderlying, s.ammReserveQuote, s.ammFeeBps) };
  }
  const amountIn = getAmountIn(order.expectedOut + 1n, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps);
  return { amountIn, amountOut: refAmountOut(amountIn, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps) };
}

describe("checkRebalance: the vault's new guards, one error each", () => {
  const buyOne = (s: VaultSnapshot) => getAmountIn(WAD, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps);

  it("refuses any rebalance while |net delta| is within the tolerance (DeltaWithinTolerance), and allows one just outside", () => {
    const hedge = { ...snapshot().hedge, deltaToleranceWad: 2n * WAD };
    const at = snapshot({ netDeltaWad: -2n * WAD, hedge });
    const within = checkRebalance(at, true, buyOne(at));
    expect(within).toMatchObject({ ok: false, error: "DeltaWithinTolerance" });
    expect(checkRebalance({ ...at, netDeltaWad: 2n * WAD, hedgeBalance: 5n * WAD }, false, WAD)).toMatchObject({
      ok: false,
      error: "DeltaWithinTolerance",
    });
    expect(checkRebalance({ ...at, netDeltaWad: -2n * WAD - 1n }, true, buyOne(at)).ok).toBe(true);
  });

  it("checks the tolerance before the hedge held, as _beforeTrade does", () => {
    const s = snapshot({ netDeltaWad: WAD / 200n, hedgeBalance: 0n });
    expect(checkRebalance(s, false, 10n ** 15n)).toMatchObject({ ok: false, error: "DeltaWithinTolerance" });
  });

  it("refuses a buy that would leave less cash than the payouts owed (PayoutsNotCovered), to the unit", () => {
    const base = snapshot({ netDeltaWad: -5n * WAD });
    const amountIn = buyOne(base);
    const exact = { ...base, cashBalance: 10_000n * 10n ** 6n, pendingPayouts: 10_000n * 10n ** 6n - amountIn };
    expect(checkRebalance(exact, true, amountIn).ok).toBe(true);
    expect(checkRebalance({ ...exact, pendingPayouts: exact.pendingPayouts + 1n }, true, amountIn)).toMatchObject({
      ok: false,
      error: "PayoutsNotCovered",
    });
  });

  it("lets a sale through whatever the payouts owed: it raises cash", () => {
    const s = snapshot({ netDeltaWad: 5n * WAD, hedgeBalance: 5n * WAD, cashBalance: 0n, pendingPayouts: 10n ** 12n });
    expect(checkRebalance(s, false, WAD).ok).toBe(true);
  });

  it("refuses a buy paying more than the vault's cash (the token's ERC20InsufficientBalance)", () => {
    const base = snapshot({ netDeltaWad: -5n * WAD });
    const amountIn = buyOne(base);
    expect(checkRebalance({ ...base, cashBalance: amountIn }, true, amountIn).ok).toBe(true);
    expect(checkRebalance({ ...base, cashBalance: amountIn - 1n }, true, amountIn)).toMatchObject({
      ok: false,
      error: "ERC20InsufficientBalance",
    });
  });

  it("refuses a trade whose notional, rounded up to whole budget units, exceeds what is left (NotionalBudgetExceeded)", () => {
    const base = snapshot({ netDeltaWad: 5n * WAD, hedgeBalance: 5n * WAD });
    const amountOut = refAmountOut(WAD, base.ammReserveUnderlying, base.ammReserveQuote, base.ammFeeBps);
    const needed = units(refCost(base, false, WAD, amountOut).notionalWad);
    expect(checkRebalance({ ...base, notionalLeftWad: needed }, false, WAD).ok).toBe(true);
    expect(checkRebalance({ ...base, notionalLeftWad: needed - UNIT }, false, WAD)).toMatchObject({
      ok: false,
      error: "NotionalBudgetExceeded",
    });
  });

  it("refuses a trade whose slippage, rounded up to whole budget units, exceeds what is left (SlippageBudgetExceeded)", () => {
    const base = snapshot({ netDeltaWad: -5n * WAD });
    const amountIn = buyOne(base);
    const amountOut = refAmountOut(amountIn, base.ammReserveQuote, base.ammReserveUnderlying, base.ammFeeBps);
    const needed = units(refCost(base, true, amountIn, amountOut).slippageWad);
    expect(needed).toBeGreaterThan(0n);
    expect(checkRebalance({ ...base, slippageLeftWad: needed }, true, amountIn).ok).toBe(true);
    expect(checkRebalance({ ...base, slippageLeftWad: needed - UNIT }, true, amountIn)).toMatchObject({
      ok: false,
      error: "SlippageBudgetExceeded",
    });
  });

  it("checks in the vault's order: payouts before the budget, the notional before the slippage", () => {
    const base = snapshot({ netDeltaWad: -5n * WAD, notionalLeftWad: 0n, slippageLeftWad: 0n });
    const amountIn = buyOne(base);
    expect(checkRebalance(base, true, amountIn)).toMatchObject({ ok: false, error: "NotionalBudgetExceeded" });
    expect(checkRebalance({ ...base, pendingPayouts: base.cashBalance }, true, amountIn)).toMatchObject({
      ok: false,
      error: "PayoutsNotCovered",
    });
  });
});

describe("sizeHedge under the vault's new guards", () => {
  it("skips while |net delta| is within the tolerance, naming DeltaWithinTolerance, and hedges just outside it", () => {
    const hedge = { ...snapshot().hedge, deltaToleranceWad: WAD };
    const within = size(snapshot({ netDeltaWad: -WAD, hedge }));
    expect(within).toMatchObject({ kind: "skip", error: "DeltaWithinTolerance" });
    expect(within.kind === "skip" && within.reason).toMatch(/within the vault's tolerance.*\(DeltaWithinTolerance\)$/);
    expect(size(snapshot({ netDeltaWad: -WAD - 1n, hedge })).kind).toBe("order");
  });

  it("skips while the window's notional budget is spent, naming NotionalBudgetExceeded", () => {
    const sizing = size(snapshot({ netDeltaWad: -2n * WAD, notionalLeftWad: 0n }));
    expect(sizing).toMatchObject({ kind: "skip", error: "NotionalBudgetExceeded" });
    expect(sizing.kind === "skip" && sizing.reason).toMatch(/until the window rolls/);
  });

  it("skips while the slippage budget left cannot pay even the smallest trade's fee, naming SlippageBudgetExceeded", () => {
    const sizing = size(snapshot({ netDeltaWad: -2n * WAD, slippageLeftWad: 0n }));
    expect(sizing).toMatchObject({ kind: "skip", error: "SlippageBudgetExceeded" });
  });

  it("skips a buy when all the cash is owed to settled holders (PayoutsNotCovered), but still sells", () => {
    const owed = { cashBalance: 5_000n * 10n ** 6n, pendingPayouts: 6_000n * 10n ** 6n };
    expect(size(snapshot({ netDeltaWad: -2n * WAD, ...owed }))).toMatchObject({ kind: "skip", error: "PayoutsNotCovered" });
    const sale = orderOf(snapshot({ netDeltaWad: 2n * WAD, hedgeBalance: 2n * WAD, ...owed }));
    expect(sale.buyUnderlying).toBe(false);
    expect(sale.partial).toBe(false);
  });

  it("cuts a sale to the largest whose notional fits the budget left, to the wei", () => {
    // 3,000.5 quote of notional left at 3,000 per WETH: ⌈n·3000 / 1e14⌉ units ≤ 30,005,000 ⇔ n ≤ 3000.5e18 / 3000.
    const s = snapshot({ netDeltaWad: 5n * WAD, hedgeBalance: 5n * WAD, notionalLeftWad: 30_005_000n * UNIT });
    const order = orderOf(s);
    expect(order.buyUnderlying).toBe(false);
    expect(order.amountIn).toBe(3_000_500_000_000_000_000_000n / 3_000n);
    expect(order.cappedBy).toEqual(["notional budget"]);
    expect(order.partial).toBe(true);
    expect(vaultRebalance(s, false, order.amountIn + 1n, 0n)).toMatchObject({ ok: false, error: "NotionalBudgetExceeded" });
  });

  it("cuts a buy to the largest whose slippage fits the budget left: one more unit would not fit", () => {
    const s = snapshot({ netDeltaWad: -5n * WAD, slippageLeftWad: 5n * WAD });
    const order = orderOf(s);
    expect(order.cappedBy).toEqual(["slippage budget"]);
    const cost = refCost(s, true, order.amountIn, order.expectedOut);
    expect(units(cost.slippageWad)).toBeLessThanOrEqual(s.slippageLeftWad);
    const next = nextLarger(s, order);
    expect(units(refCost(s, true, next.amountIn, next.amountOut).slippageWad)).toBeGreaterThan(s.slippageLeftWad);
    expect(order.tradeWad).toBeGreaterThan(WAD / 4n); // ~0.5 WETH: 30 bps fee plus impact on 3,000 each
  });

  it("cuts a buy to the cash not owed to settled holders: the least input buying more would spend what they are owed", () => {
    const s = snapshot({ netDeltaWad: -5n * WAD, cashBalance: 10_000n * 10n ** 6n, pendingPayouts: 7_000n * 10n ** 6n });
    const order = orderOf(s);
    expect(order.cappedBy).toEqual(["cash owed to settled holders"]);
    expect(order.amountIn).toBeLessThanOrEqual(3_000n * 10n ** 6n);
    expect(nextLarger(s, order).amountIn).toBeGreaterThan(3_000n * 10n ** 6n);
    expect(vaultRebalance(s, true, order.amountIn, order.minAmountOut).ok).toBe(true);
  });

  it("cuts a buy to the vault's cash when nothing is owed", () => {
    const s = snapshot({ netDeltaWad: -5n * WAD, cashBalance: 3_000n * 10n ** 6n });
    const order = orderOf(s);
    expect(order.cappedBy).toEqual(["cash"]);
    expect(nextLarger(s, order).amountIn).toBeGreaterThan(s.cashBalance);
  });

  /** One limit binds at a time; everything else is loose, the pool at the oracle, the trade worth its cost. */
  const tightArb = fc
    .record({
      limit: fc.constantFrom("notional budget", "slippage budget", "cash", "cash owed to settled holders"),
      sell: fc.boolean(),
      underlyingDecimals: fc.constantFrom(6, 18),
      quoteDecimals: fc.constantFrom(6, 18),
      spotE4: fc.integer({ min: 10_000, max: 100_000_000 }), // 1 … 10,000 quote per underlying
      reserveUnits: fc.integer({ min: 3_000, max: 6_000 }).map((e) => 10 ** (e / 1_000)), // 1,000 … 1e6
      deltaShare: unit.map((u) => 0.001 + 0.02 * u), // of the pool's underlying: within the 10% slippage bound
      feeBps: fc.integer({ min: 1, max: 100 }),
      fraction: unit.map((u) => 0.05 + 0.9 * u), // of what the whole wanted trade would need
    })
    .map((r) => {
      const buy = r.limit.startsWith("cash") || !r.sell;
      const uScale = 10n ** BigInt(18 - r.underlyingDecimals);
      const qScale = 10n ** BigInt(18 - r.quoteDecimals);
      const spotWad = BigInt(r.spotE4) * 10n ** 14n;
      const reserveUnderlying = (BigInt(Math.round(r.reserveUnits * 1e6)) * 10n ** 12n) / uScale;
      const reserveQuote = (reserveUnderlying * uScale * spotWad) / WAD / qScale + 1n;
      const wanted = BigInt(Math.round(Number(reserveUnderlying) * r.deltaShare));
      const base = snapshot({
        underlyingDecimals: r.underlyingDecimals,
        quoteDecimals: r.quoteDecimals,
        spotWad,
        ammReserveUnderlying: reserveUnderlying,
        ammReserveQuote: reserveQuote,
        ammFeeBps: BigInt(r.feeBps),
        netDeltaWad: (buy ? -wanted : wanted) * uScale,
        hedgeBalance: buy ? 0n : wanted,
        cashBalance: 10n ** 40n,
        notionalLeftWad: 10n ** 60n,
        slippageLeftWad: 10n ** 60n,
        hedge: { ...snapshot().hedge, maxSlippageBps: 1_000, maxTradeWad: 10n ** 30n, deltaToleranceWad: 0n },
      });
      // What the whole wanted trade would need of the limit, then a share of it.
      const whole = buy
        ? { amountIn: getAmountIn(wanted, reserveQuote, reserveUnderlying, base.ammFeeBps) }
        : { amountIn: wanted };
      const out = buy
        ? refAmountOut(whole.amountIn, reserveQuote, reserveUnderlying, base.ammFeeBps)
        : refAmountOut(wanted, reserveUnderlying, reserveQuote, base.ammFeeBps);
      const cost = refCost(base, buy, whole.amountIn, out);
      const share = (x: bigint) => (x * BigInt(Math.round(r.fraction * 1e6))) / 1_000_000n;
      const tight: Partial<VaultSnapshot> =
        r.limit === "notional budget"
          ? { notionalLeftWad: (share(cost.notionalWad) / UNIT) * UNIT }
          : r.limit === "slippage budget"
            ? { slippageLeftWad: (share(cost.slippageWad) / UNIT) * UNIT }
            : r.limit === "cash"
              ? { cashBalance: share(whole.amountIn) }
              : { pendingPayouts: 10n ** 40n - share(whole.amountIn) };
      return { limit: r.limit, snapshot: { ...base, ...tight } };
    });

  it("a budget or cash cap cuts the order to the largest size that fits it, not merely a smaller one", () => {
    // Risk aversion high enough that every cut order is still worth its fee and impact (no cost/benefit skip).
    const RISK_AVERSE = { riskAversion: 1_000, horizonSeconds: 86_400 };
    let cut = 0;
    fc.assert(
      fc.property(tightArb, ({ limit, snapshot: s }) => {
        const sizing = size(s, TO_ZERO, RISK_AVERSE, OPTS, 0);
        // A share too small for a single unit of the token is a skip naming the limit's error; nothing else skips.
        if (sizing.kind === "skip") {
          expect(sizing.error ?? sizing.reason).toMatch(/Budget|Payouts|ERC20/);
          return;
        }
        const order = sizing.order;
        expect(vaultRebalance(s, order.buyUnderlying, order.amountIn, order.minAmountOut).ok).toBe(true);
        expect(order.cappedBy).toEqual([limit]);
        cut += 1;
        const next = nextLarger(s, order);
        const nextCost = refCost(s, order.buyUnderlying, next.amountIn, next.amountOut);
        if (limit === "notional budget") expect(units(nextCost.notionalWad)).toBeGreaterThan(s.notionalLeftWad);
        if (limit === "slippage budget") expect(units(nextCost.slippageWad)).toBeGreaterThan(s.slippageLeftWad);
        if (limit.startsWith("cash")) expect(next.amountIn).toBeGreaterThan(s.cashBalance - s.pendingPayouts);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(cut).toBeGreaterThan(RUNS / 2);
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
      pendingPayouts: 0n,
      spotWad: 3300n * W,
      oracleUpdatedAt: 1_700_000_000n,
      oracleAgeSeconds: 0n,
      oracleFresh: true,
      oracleStatus: "Usable" as const,
      ammReserveUnderlying: 10_000n * W,
      ammReserveQuote: 30_000_000n * 10n ** 6n,
      ammFeeBps: 30n,
      lastRebalanceBlock: 0n,
      nextRebalanceBlock: 0n,
      notionalLeftWad: 3_000_000n * W,
      slippageLeftWad: 10_000n * W,
      settlementPending: false,
      paused: false,
      hedge: {
        maxSlippageBps: 100,
        minRebalanceInterval: 1,
        maxOracleAge: 3600,
        maxTradeWad: 100n * W,
        deltaToleranceWad: W / 10n,
        bandWad: W / 2n,
        budgetWindowSeconds: 86_400,
        notionalBudget: 3_000_000,
        slippageBudget: 10_000,
      },
      risk: { volWad: (8n * W) / 10n, rateWad: 0n, spreadBps: 200, latencyBps: 10, capitalChargeBps: 200, minPremiumBps: 5 },
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
