/**
 * Hedge sizing at its edges, for token pairs other than WETH/USDC: an 8-decimal underlying (WBTC-like) against a
 * 6-decimal quote, an 18/18 pair, a 6/6 pair whose underlying is cheap (one quote unit buys several underlying
 * units) — so every conversion between token units and wad is exercised where getting it wrong shows.
 *
 * - The AMM math refuses bad arguments with errors naming the argument and its value; the pool price of an empty
 *   pool is 0.
 * - `checkRebalance` gives the vault's verdict (re-stated below from `OptionVault.rebalance`, with MockAmm's
 *   formula) on random trades for every pair, and at each exact edge — the overshoot rule at the tolerance and one
 *   wei past it, the payouts owed to the unit, the slippage limit met exactly on both sides — and its `detail`
 *   carries the numbers a user needs.
 * - `sizeHedge` trades the right amount in token units for each pair, names its caps, and each skip names the
 *   vault's error (when the vault would refuse) and the amounts behind it.
 * - The gas model stays within 5% of the committed gas snapshot.
 * Pure: no chain.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toMarketView } from "../../keeper/pricing/view.ts";
import { numberToWad, wadToNumber } from "../../keeper/pricing/wad.ts";
import {
  executionPriceWad,
  getAmountIn,
  getAmountOut,
  InsufficientLiquidityError,
  poolPriceWad,
  slippageLimitWad,
} from "../../keeper/sizing/amm.ts";
import { gasCostQuote, rebalanceGasUnits } from "../../keeper/sizing/gasModel.ts";
import { checkRebalance, sizeHedge, type RebalanceDecision, type SizeOptions, type SizeResult } from "../../keeper/sizing/size.ts";
import type { RiskPreferences, VaultSnapshot } from "../../keeper/types.ts";
import { TEST_HEDGE_PARAMS } from "../helpers/snapshot.ts";

const SEED = 0x5eed_ed9e;
const WAD = 10n ** 18n;
const BPS = 10_000n;
const UNIT = 10n ** 14n; // the vault's budget unit, quote wad

// ─── independent references: MockAmm and OptionVault.rebalance, re-stated ───

const abs = (x: bigint) => (x < 0n ? -x : x);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
const scaleOf = (decimals: number) => 10n ** BigInt(18 - decimals);

/** MockAmm._getAmountOut. */
function refOut(amountIn: bigint, rIn: bigint, rOut: bigint, fee: bigint): bigint {
  const inWithFee = amountIn * (BPS - fee);
  return (inWithFee * rOut) / (rIn * BPS + inWithFee);
}

type Verdict =
  | { ok: true; amountOut: bigint; tradedWad: bigint; priceWad: bigint; afterWad: bigint }
  | { ok: false; error: string };

/** `OptionVault.rebalance` at the snapshot's state (the budget against what the lens reports left), in its order. */
function vault(s: VaultSnapshot, buy: boolean, amountIn: bigint, minAmountOut = 0n, bps = BigInt(s.hedge.maxSlippageBps)): Verdict {
  const u = scaleOf(s.underlyingDecimals);
  const q = scaleOf(s.quoteDecimals);
  if (amountIn === 0n) return { ok: false, error: "ZeroAmount" };
  if (abs(s.netDeltaWad) <= s.hedge.deltaToleranceWad) return { ok: false, error: "DeltaWithinTolerance" };
  if (!buy && amountIn * u > s.hedgeBalance * u) return { ok: false, error: "InsufficientHedge" };
  const [rIn, rOut] = buy ? [s.ammReserveQuote, s.ammReserveUnderlying] : [s.ammReserveUnderlying, s.ammReserveQuote];
  if (rIn === 0n || rOut === 0n) return { ok: false, error: "InsufficientLiquidity" };
  const amountOut = refOut(amountIn, rIn, rOut, s.ammFeeBps);
  if (amountOut < (minAmountOut === 0n ? 1n : minAmountOut)) return { ok: false, error: "InsufficientOutput" };
  if (buy && amountIn > s.cashBalance) return { ok: false, error: "ERC20InsufficientBalance" };
  const tradedWad = (buy ? amountOut : amountIn) * u;
  if (tradedWad > s.hedge.maxTradeWad) return { ok: false, error: "TradeTooLarge" };
  const quoteWad = (buy ? amountIn : amountOut) * q;
  const notionalWad = ceilDiv(tradedWad * s.spotWad, WAD);
  const priceWad = buy ? ceilDiv(quoteWad * WAD, tradedWad) : (quoteWad * WAD) / tradedWad;
  const limitWad = (s.spotWad * (buy ? BPS + bps : BPS - bps)) / BPS;
  if (buy ? priceWad > limitWad : priceWad < limitWad) return { ok: false, error: "SlippageTooHigh" };
  const afterWad = buy ? s.netDeltaWad + tradedWad : s.netDeltaWad - tradedWad;
  const fairWad = buy ? (tradedWad * s.spotWad) / WAD : notionalWad;
  const slippageWad = buy ? (quoteWad > fairWad ? quoteWad - fairWad : 0n) : fairWad > quoteWad ? fairWad - quoteWad : 0n;
  if (abs(afterWad) >= abs(s.netDeltaWad)) return { ok: false, error: "DeltaNotReduced" };
  if (s.netDeltaWad < 0n !== afterWad < 0n && afterWad !== 0n && abs(afterWad) > s.hedge.deltaToleranceWad) {
    return { ok: false, error: "HedgeOvershoot" };
  }
  if (buy && s.pendingPayouts !== 0n && s.cashBalance - amountIn < s.pendingPayouts) return { ok: false, error: "PayoutsNotCovered" };
  if (ceilDiv(notionalWad, UNIT) * UNIT > s.notionalLeftWad) return { ok: false, error: "NotionalBudgetExceeded" };
  if (ceilDiv(slippageWad, UNIT) * UNIT > s.slippageLeftWad) return { ok: false, error: "SlippageBudgetExceeded" };
  return { ok: true, amountOut, tradedWad, priceWad, afterWad };
}

// ─── pairs and fixtures ───

interface Pair {
  name: string;
  underlyingDecimals: number;
  quoteDecimals: number;
  spotWad: bigint;
}

const WBTC_USDC: Pair = { name: "WBTC/USDC (8/6)", underlyingDecimals: 8, quoteDecimals: 6, spotWad: 60_000n * WAD };
const WETH_DAI: Pair = { name: "WETH/DAI (18/18)", underlyingDecimals: 18, quoteDecimals: 18, spotWad: 3_000n * WAD };
const CHEAP_6_6: Pair = { name: "a 0.30 token/USDC (6/6)", underlyingDecimals: 6, quoteDecimals: 6, spotWad: (3n * WAD) / 10n };
const WETH_USDC: Pair = { name: "WETH/USDC (18/6)", underlyingDecimals: 18, quoteDecimals: 6, spotWad: 3_000n * WAD };
const PAIRS = [WBTC_USDC, WETH_DAI, CHEAP_6_6, WETH_USDC];

/** One whole underlying token / quote token in token units. */
const oneU = (p: Pair) => 10n ** BigInt(p.underlyingDecimals);
const oneQ = (p: Pair) => 10n ** BigInt(p.quoteDecimals);
/** `x` quote (a wad) in quote token units, rounded down. */
const quoteUnits = (p: Pair, wad: bigint) => wad / scaleOf(p.quoteDecimals);

/** A vault on `pair`: the pool at the oracle with 1,000 underlying, plenty of cash and budget, 2 underlying short. */
function snap(pair: Pair, overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  const reserveU = 1_000n * oneU(pair);
  return {
    vault: "0x00000000000000000000000000000000000000bb",
    blockNumber: 1_000n,
    timestamp: 1_750_000_000n,
    bookDeltaWad: -2n * WAD,
    netDeltaWad: -2n * WAD,
    gammaWad: 0n,
    vegaWad: 0n,
    hedgeBalance: 0n,
    cashBalance: quoteUnits(pair, 10n * 1_000n * pair.spotWad), // ten times the pool's quote side
    pendingPayouts: 0n,
    spotWad: pair.spotWad,
    oracleUpdatedAt: 1_750_000_000n,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    oracleStatus: "Usable",
    ammReserveUnderlying: reserveU,
    ammReserveQuote: quoteUnits(pair, 1_000n * pair.spotWad),
    ammFeeBps: 30n,
    lastRebalanceBlock: 990n,
    nextRebalanceBlock: 995n,
    notionalLeftWad: 10n ** 30n,
    slippageLeftWad: 10n ** 30n,
    settlementPending: false,
    paused: false,
    hedge: TEST_HEDGE_PARAMS,
    risk: { volWad: (WAD * 8n) / 10n, rateWad: 0n, spreadBps: 0, latencyBps: 0, capitalChargeBps: 0, minPremiumBps: 0 },
    book: [],
    quoteDecimals: pair.quoteDecimals,
    underlyingDecimals: pair.underlyingDecimals,
    ...overrides,
  };
}

const hedgeOf = (pair: Pair, h: Partial<VaultSnapshot["hedge"]>) => ({ ...snap(pair).hedge, ...h });

/** Risk-averse enough that every valid hedge is worth its fee; gas is free unless said. */
const EAGER: RiskPreferences = { riskAversion: 1_000, horizonSeconds: 86_400 };
const OPTS: SizeOptions = { minOutMarginBps: 10 };
const TO = (targetDelta: number): RebalanceDecision => ({ kind: "rebalance", targetDelta, target: "zero", reason: "test" });

function size(s: VaultSnapshot, decision = TO(0), opts = OPTS, gas = 0, prefs = EAGER): SizeResult {
  const reserve = Number(s.ammReserveUnderlying) / 10 ** s.underlyingDecimals;
  const spot = wadToNumber(s.spotWad);
  const view = toMarketView(s, { gasCostQuote: gas, feeRate: Number(s.ammFeeBps) / 1e4, eta: spot / reserve });
  return sizeHedge(s, decision, view, prefs, opts);
}

function orderOf(s: VaultSnapshot, decision = TO(0), opts = OPTS, gas = 0) {
  const r = size(s, decision, opts, gas);
  if (r.kind !== "order") throw new Error(`expected an order, got a skip: ${r.reason}`);
  // Whatever it is, the vault accepts it at the snapshot's state.
  const v = vault(s, r.order.buyUnderlying, r.order.amountIn, r.order.minAmountOut, BigInt(opts.maxSlippageBps ?? s.hedge.maxSlippageBps));
  if (!v.ok) throw new Error(`the vault would refuse the order: ${v.error}`);
  return r.order;
}

function skipOf(s: VaultSnapshot, decision = TO(0), opts = OPTS, gas = 0) {
  const r = size(s, decision, opts, gas);
  if (r.kind !== "skip") throw new Error(`expected a skip, got an order of ${r.order.amountIn}`);
  return r;
}

/** The least input that buys one more unit of underlying than `amountOut`. */
const inputForMore = (s: VaultSnapshot, amountOut: bigint) => getAmountIn(amountOut + 1n, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps);

// ─── AMM ───

describe("AMM math: argument checks and the pool price", () => {
  it("refuses a negative amount, naming the argument and its value", () => {
    expect(() => getAmountOut(-1n, 100n, 100n, 30n)).toThrow(new RangeError("amountIn must be ≥ 0, got -1"));
    expect(() => getAmountIn(-5n, 100n, 100n, 30n)).toThrow(new RangeError("amountOut must be ≥ 0, got -5"));
  });

  it("accepts a fee in [0, 10000) and refuses one outside, naming the fee", () => {
    for (const fn of [getAmountOut, getAmountIn]) {
      expect(() => fn(1n, 1_000n, 1_000n, 0n)).not.toThrow();
      expect(() => fn(1n, 1_000n, 1_000n, 9_999n)).not.toThrow();
      expect(() => fn(1n, 1_000n, 1_000n, 10_000n)).toThrow(/feeBps must be in \[0, 10000\), got 10000/);
      expect(() => fn(1n, 1_000n, 1_000n, -1n)).toThrow(/feeBps must be in \[0, 10000\), got -1/);
    }
  });

  it("refuses to quote against an empty reserve on either side, naming the reserves", () => {
    const emptyOut = () => getAmountOut(10n, 1_000n, 0n, 30n);
    expect(emptyOut).toThrow(InsufficientLiquidityError);
    expect(emptyOut).toThrow("empty pool (reserves 1000, 0)");
    expect(() => getAmountOut(10n, 0n, 1_000n, 30n)).toThrow("empty pool (reserves 0, 1000)");
    const emptyIn = () => getAmountIn(10n, 0n, 1_000n, 30n);
    expect(emptyIn).toThrow(InsufficientLiquidityError);
    expect(emptyIn).toThrow("cannot buy 10 from a reserve of 1000 (input reserve 0)");
    // Its name is what a log line and an error classifier see.
    try {
      emptyIn();
    } catch (e) {
      expect((e as Error).name).toBe("InsufficientLiquidityError");
    }
  });

  it("rounds the input of an exact-output quote up: the pool never delivers less than asked", () => {
    // 1,000/1,000, no fee: buying 1 needs 1,000·1/999 = 1.001 → 2.
    expect(getAmountIn(1n, 1_000n, 1_000n, 0n)).toBe(2n);
  });

  it("refuses the execution price of a swap that moves no underlying", () => {
    const p = { quoteDecimals: 6, underlyingDecimals: 8 };
    expect(() => executionPriceWad({ ...p, buyUnderlying: true, amountIn: 5n, amountOut: 0n })).toThrow(/moves no underlying/);
    expect(() => executionPriceWad({ ...p, buyUnderlying: false, amountIn: 0n, amountOut: 5n })).toThrow(/moves no underlying/);
    // 1 WBTC unit (1e-8) for 600 USDC units (6e-4): 60,000 per WBTC.
    expect(executionPriceWad({ ...p, buyUnderlying: true, amountIn: 600n, amountOut: 1n })).toBe(60_000n * WAD);
  });

  it("accepts a slippage bound in [0, 10000] bps and refuses one outside, naming it", () => {
    const spot = 3_000n * WAD;
    expect(slippageLimitWad(spot, 0n, true)).toBe(spot);
    expect(slippageLimitWad(spot, 10_000n, true)).toBe(2n * spot);
    expect(slippageLimitWad(spot, 10_000n, false)).toBe(0n);
    expect(() => slippageLimitWad(spot, 10_001n, true)).toThrow(/maxSlippageBps must be in \[0, 10000\], got 10001/);
    expect(() => slippageLimitWad(spot, -1n, false)).toThrow(/maxSlippageBps must be in \[0, 10000\], got -1/);
  });

  it("prices the pool in quote wad per underlying for every pair, and an empty pool at 0", () => {
    for (const pair of PAIRS) {
      const s = snap(pair);
      const d = { quoteDecimals: pair.quoteDecimals, underlyingDecimals: pair.underlyingDecimals };
      expect(poolPriceWad(s.ammReserveUnderlying, s.ammReserveQuote, d), pair.name).toBe(pair.spotWad);
      expect(poolPriceWad(0n, s.ammReserveQuote, d), pair.name).toBe(0n);
    }
    // Rounded down: 1 WBTC unit against 1 USDC unit is 1e-6 / 1e-8 = 100 exactly; against 2 units of 3 it is 66.66….
    expect(poolPriceWad(3n, 2n, { quoteDecimals: 6, underlyingDecimals: 8 })).toBe(66_666_666_666_666_666_666n);
  });
});

// ─── checkRebalance ───

describe("checkRebalance on every pair: the vault's verdict, to the wei", () => {
  const pairArb = fc.constantFrom(...PAIRS);

  it("agrees with the vault on random trades around every boundary, for 8-, 6- and 18-decimal tokens", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        pairArb,
        fc.record({
          buy: fc.boolean(),
          deltaE3: fc.integer({ min: -5_000, max: 5_000 }), // ±5 underlying
          toleranceE3: fc.integer({ min: 0, max: 500 }),
          sizeE4: fc.integer({ min: 0, max: 120_000 }), // of |delta|, 0 … 12×
          hedgeE3: fc.integer({ min: 0, max: 8_000 }),
          cashShare: fc.integer({ min: 0, max: 3 }),
          owedShare: fc.integer({ min: 0, max: 3 }),
          maxTradeE3: fc.integer({ min: 0, max: 10_000 }),
          bps: fc.integer({ min: 0, max: 200 }),
          notionalLeft: fc.integer({ min: 0, max: 40_000 }), // quote
          slippageLeftE2: fc.integer({ min: 0, max: 10_000 }), // quote / 100
          minOutShare: fc.integer({ min: 0, max: 3 }),
        }),
        (pair, r) => {
          const u = scaleOf(pair.underlyingDecimals);
          const deltaWad = (BigInt(r.deltaE3) * WAD) / 1_000n;
          const tradeWad = (abs(deltaWad) * BigInt(r.sizeE4)) / 10_000n;
          const quoteForTrade = quoteUnits(pair, (tradeWad * pair.spotWad) / WAD);
          const s = snap(pair, {
            netDeltaWad: deltaWad,
            hedgeBalance: (BigInt(r.hedgeE3) * oneU(pair)) / 1_000n,
            cashBalance: (quoteForTrade * BigInt(r.cashShare + 1)) / 2n,
            pendingPayouts: (quoteForTrade * BigInt(r.owedShare)) / 2n,
            notionalLeftWad: BigInt(r.notionalLeft) * WAD,
            slippageLeftWad: (BigInt(r.slippageLeftE2) * WAD) / 100n,
            hedge: hedgeOf(pair, {
              deltaToleranceWad: (BigInt(r.toleranceE3) * WAD) / 1_000n,
              maxTradeWad: (BigInt(r.maxTradeE3) * WAD) / 1_000n,
              maxSlippageBps: r.bps,
            }),
          });
          const amountIn = r.buy ? quoteForTrade + (quoteForTrade * 31n) / 10_000n : tradeWad / u;
          const expectedOut = amountIn === 0n ? 0n : r.buy ? refOut(amountIn, s.ammReserveQuote, s.ammReserveUnderlying, 30n) : refOut(amountIn, s.ammReserveUnderlying, s.ammReserveQuote, 30n);
          const minOut = (expectedOut * BigInt(r.minOutShare + 1)) / 2n;
          const want = vault(s, r.buy, amountIn, minOut);
          const got = checkRebalance(s, r.buy, amountIn, minOut);
          seen.add(want.ok ? "ok" : want.error);
          if (want.ok) {
            expect(got).toEqual({ ok: true, amountOut: want.amountOut, tradedWad: want.tradedWad, priceWad: want.priceWad, deltaAfterWad: want.afterWad });
          } else {
            expect(got).toMatchObject({ ok: false, error: want.error });
          }
        },
      ),
      { seed: SEED, numRuns: 3_000 },
    );
    // Every outcome a random trade can reach is reached (ZeroAmount past the swap and an empty pool aside).
    for (const o of ["ok", "ZeroAmount", "DeltaWithinTolerance", "InsufficientHedge", "InsufficientOutput", "ERC20InsufficientBalance", "TradeTooLarge", "SlippageTooHigh", "DeltaNotReduced", "HedgeOvershoot", "PayoutsNotCovered", "NotionalBudgetExceeded", "SlippageBudgetExceeded"]) {
      expect(seen, o).toContain(o);
    }
  });

  it("refuses a sale of more underlying than the vault holds, to the token unit, for an 8-decimal underlying", () => {
    const s = snap(WBTC_USDC, { netDeltaWad: 2n * WAD, hedgeBalance: 150_000_000n }); // 1.5 WBTC held
    expect(checkRebalance(s, false, 150_000_000n).ok).toBe(true);
    expect(checkRebalance(s, false, 150_000_001n)).toEqual({ ok: false, error: "InsufficientHedge", detail: "selling 150000001 with 150000000 held" });
  });

  it("refuses any trade on a pool empty on either side (InsufficientLiquidity) instead of throwing", () => {
    for (const empty of [{ ammReserveQuote: 0n }, { ammReserveUnderlying: 0n }]) {
      for (const buy of [true, false]) {
        const s = snap(WBTC_USDC, { netDeltaWad: buy ? -2n * WAD : 2n * WAD, hedgeBalance: 2n * oneU(WBTC_USDC), ...empty });
        expect(checkRebalance(s, buy, 1_000n)).toEqual({ ok: false, error: "InsufficientLiquidity", detail: "empty pool" });
      }
    }
  });

  it("says which amounts failed, in each error's detail", () => {
    const p = WBTC_USDC;
    const s = snap(p, { netDeltaWad: -2n * WAD });
    const buyIn = getAmountIn(oneU(p), s.ammReserveQuote, s.ammReserveUnderlying, 30n); // buys 1 WBTC
    const out = refOut(buyIn, s.ammReserveQuote, s.ammReserveUnderlying, 30n);
    expect(checkRebalance(s, true, 0n)).toEqual({ ok: false, error: "ZeroAmount", detail: "amountIn is 0" });
    expect(checkRebalance({ ...s, hedge: hedgeOf(p, { deltaToleranceWad: 3n * WAD }) }, true, buyIn)).toEqual({
      ok: false,
      error: "DeltaWithinTolerance",
      detail: `|delta| ${2n * WAD} ≤ tolerance ${3n * WAD}`,
    });
    expect(checkRebalance(s, true, buyIn, out + 1n)).toEqual({ ok: false, error: "InsufficientOutput", detail: `output ${out} < minimum ${out + 1n}` });
    expect(checkRebalance({ ...s, cashBalance: buyIn - 1n }, true, buyIn)).toEqual({
      ok: false,
      error: "ERC20InsufficientBalance",
      detail: `paying ${buyIn} with ${buyIn - 1n} held`,
    });
    const traded = out * scaleOf(p.underlyingDecimals);
    expect(checkRebalance({ ...s, hedge: hedgeOf(p, { maxTradeWad: traded - 1n }) }, true, buyIn)).toEqual({
      ok: false,
      error: "TradeTooLarge",
      detail: `${traded} > maxTradeWad ${traded - 1n}`,
    });
    const tight = checkRebalance(s, true, buyIn, 0n, 10n);
    const price = ceilDiv(buyIn * scaleOf(p.quoteDecimals) * WAD, traded);
    expect(tight).toEqual({ ok: false, error: "SlippageTooHigh", detail: `execution price ${price} vs limit ${(p.spotWad * 10_010n) / BPS}` });
    const flat = { ...s, netDeltaWad: -WAD / 2n, hedge: hedgeOf(p, { deltaToleranceWad: 0n }) };
    expect(checkRebalance(flat, true, buyIn * 2n)).toMatchObject({ ok: false, error: "DeltaNotReduced" });
    const notReduced = checkRebalance(flat, true, buyIn * 2n);
    const tradedTwo = refOut(buyIn * 2n, s.ammReserveQuote, s.ammReserveUnderlying, 30n) * scaleOf(p.underlyingDecimals);
    expect(notReduced.ok === false && notReduced.detail).toBe(`delta ${-WAD / 2n} → ${-WAD / 2n + tradedTwo}`);
    const over = { ...s, netDeltaWad: -WAD + WAD / 10n, hedge: hedgeOf(p, { deltaToleranceWad: WAD / 100n }) };
    expect(checkRebalance(over, true, buyIn)).toEqual({
      ok: false,
      error: "HedgeOvershoot",
      detail: `delta ${over.netDeltaWad} → ${over.netDeltaWad + traded}, tolerance ${WAD / 100n}`,
    });
    const owed = { ...s, cashBalance: 100_000n * oneQ(p), pendingPayouts: 100_000n * oneQ(p) - buyIn + 1n };
    expect(checkRebalance(owed, true, buyIn)).toEqual({
      ok: false,
      error: "PayoutsNotCovered",
      detail: `cash after the buy ${100_000n * oneQ(p) - buyIn} < payouts owed ${owed.pendingPayouts}`,
    });
    const notional = ceilDiv(traded * p.spotWad, WAD);
    expect(checkRebalance({ ...s, notionalLeftWad: UNIT }, true, buyIn)).toEqual({
      ok: false,
      error: "NotionalBudgetExceeded",
      detail: `notional ${notional} > ${UNIT} left in the window (quote wad)`,
    });
    const slippage = buyIn * scaleOf(p.quoteDecimals) - (traded * p.spotWad) / WAD;
    expect(checkRebalance({ ...s, slippageLeftWad: 0n }, true, buyIn)).toEqual({
      ok: false,
      error: "SlippageBudgetExceeded",
      detail: `slippage ${slippage} > 0 left in the window (quote wad)`,
    });
  });

  it("allows a sale that overshoots zero by exactly the tolerance, not by one wei more (HedgeOvershoot)", () => {
    const p = WETH_DAI; // 18 decimals: one token unit is one wei of delta
    const tol = WAD / 100n;
    const base = snap(p, { netDeltaWad: WAD, hedgeBalance: 5n * WAD, hedge: hedgeOf(p, { deltaToleranceWad: tol }) });
    const atEdge = checkRebalance(base, false, WAD + tol);
    expect(atEdge).toMatchObject({ ok: true, deltaAfterWad: -tol });
    expect(checkRebalance(base, false, WAD + tol + 1n)).toMatchObject({ ok: false, error: "HedgeOvershoot" });
    // Landing exactly on zero is no overshoot, even with no tolerance.
    const noTol = { ...base, hedge: hedgeOf(p, { deltaToleranceWad: 0n }) };
    expect(checkRebalance(noTol, false, WAD)).toMatchObject({ ok: true, deltaAfterWad: 0n });
    expect(checkRebalance(noTol, false, WAD + 1n)).toMatchObject({ ok: false, error: "HedgeOvershoot" });
    // Selling twice the delta mirrors it: |delta| unchanged is not reduced, whatever the tolerance.
    expect(checkRebalance(base, false, 2n * WAD)).toEqual({ ok: false, error: "DeltaNotReduced", detail: `delta ${WAD} → ${-WAD}` });
  });

  it("refuses a trade the pool pays nothing for, even with no minimum given: the pool's minimum is one unit", () => {
    // 1 wei of WETH is worth 3e-15 USDC: less than one USDC unit.
    const s = snap(WETH_USDC, { netDeltaWad: 2n * WAD, hedgeBalance: 2n * WAD, hedge: hedgeOf(WETH_USDC, { maxSlippageBps: 10_000 }) });
    expect(vault(s, false, 1n)).toEqual({ ok: false, error: "InsufficientOutput" });
    expect(checkRebalance(s, false, 1n)).toEqual({ ok: false, error: "InsufficientOutput", detail: "output 0 < minimum 1" });
  });

  it("passes a trade whose price is exactly at the slippage limit, on both sides, and refuses one a wei past it", () => {
    for (const pair of PAIRS) {
      for (const buy of [true, false]) {
        const s0 = snap(pair, { netDeltaWad: buy ? -2n * WAD : 2n * WAD, hedgeBalance: 2n * oneU(pair) });
        const amountIn = buy ? quoteUnits(pair, pair.spotWad) : oneU(pair); // ~one underlying's worth
        const free = checkRebalance({ ...s0, hedge: hedgeOf(pair, { maxSlippageBps: 10_000 }) }, buy, amountIn);
        if (!free.ok) throw new Error(`${pair.name}: ${free.error}`);
        // An oracle at which the limit (bound 0 bps) is exactly this trade's price, then one wei of price away.
        const atLimit = { ...s0, spotWad: free.priceWad, hedge: hedgeOf(pair, { maxSlippageBps: 0 }) };
        expect(checkRebalance(atLimit, buy, amountIn), `${pair.name} buy=${buy}`).toMatchObject({ ok: true, priceWad: free.priceWad });
        const past = { ...atLimit, spotWad: buy ? free.priceWad - 1n : free.priceWad + 1n };
        expect(checkRebalance(past, buy, amountIn), `${pair.name} buy=${buy}`).toMatchObject({ ok: false, error: "SlippageTooHigh" });
      }
    }
  });

  it("prices a sale rounded down and a buy rounded up, as the vault does", () => {
    // 6/6 at 0.30: selling 7 units for 2 quote units is 0.2857… per unit.
    const p = CHEAP_6_6;
    const s = snap(p, { netDeltaWad: 2n * WAD, hedgeBalance: 2n * oneU(p), hedge: hedgeOf(p, { maxSlippageBps: 10_000 }) });
    const out = refOut(7n, s.ammReserveUnderlying, s.ammReserveQuote, 30n);
    const sale = checkRebalance(s, false, 7n);
    expect(sale).toMatchObject({ ok: true, priceWad: (out * WAD) / 7n });
    expect((out * WAD) % 7n).not.toBe(0n); // the rounding matters here
  });
});

// ─── sizeHedge ───

describe("sizeHedge in token units, for every pair", () => {
  it("buys the whole delta back to zero, in the underlying's own units", () => {
    for (const pair of PAIRS) {
      const s = snap(pair, { netDeltaWad: -2n * WAD, hedge: hedgeOf(pair, { deltaToleranceWad: 0n }) });
      const order = orderOf(s);
      expect(order.buyUnderlying, pair.name).toBe(true);
      expect(order.partial, pair.name).toBe(false);
      expect(order.cappedBy).toEqual([]);
      // At or just short of zero, and one more unit of input would take it past zero (the largest valid order).
      expect(order.deltaAfterWad, pair.name).toBeLessThanOrEqual(0n);
      if (order.deltaAfterWad !== 0n) {
        const more = refOut(order.amountIn + 1n, s.ammReserveQuote, s.ammReserveUnderlying, 30n);
        expect(more * scaleOf(pair.underlyingDecimals), pair.name).toBeGreaterThan(2n * WAD);
      }
      expect(order.expectedOut).toBe(refOut(order.amountIn, s.ammReserveQuote, s.ammReserveUnderlying, 30n));
    }
  });

  it("aims at the target, not at the tolerance past it: a buy to zero ends within one quote unit's worth of zero", () => {
    for (const pair of PAIRS) {
      const s = snap(pair, { netDeltaWad: -2n * WAD }); // tolerance 0.01
      const order = orderOf(s);
      // The pool delivers at least what was asked: at or just past zero, far less than the 0.01 allowed.
      const oneQuoteUnitWorth = (scaleOf(pair.quoteDecimals) * WAD) / pair.spotWad + scaleOf(pair.underlyingDecimals);
      expect(order.deltaAfterWad, pair.name).toBeGreaterThanOrEqual(0n);
      expect(order.deltaAfterWad, pair.name).toBeLessThanOrEqual(oneQuoteUnitWorth);
    }
  });

  it("sells down to the band's edge in the underlying's own units", () => {
    for (const pair of PAIRS) {
      const s = snap(pair, { netDeltaWad: 3n * WAD, hedgeBalance: 5n * oneU(pair) });
      const order = orderOf(s, TO(0.5));
      expect(order.buyUnderlying, pair.name).toBe(false);
      expect(order.amountIn, pair.name).toBe((5n * oneU(pair)) / 2n); // 2.5 underlying
      expect(order.deltaAfterWad, pair.name).toBe(WAD / 2n);
    }
  });

  it("stops a target beyond zero at the tolerance past zero (the delta rule), for an 8-decimal underlying", () => {
    const p = WBTC_USDC;
    const tol = WAD / 100n;
    const s = snap(p, { netDeltaWad: -2n * WAD, hedge: hedgeOf(p, { deltaToleranceWad: tol }) });
    const order = orderOf(s, TO(1));
    expect(order.deltaAfterWad).toBeGreaterThan(0n);
    expect(order.deltaAfterWad).toBeLessThanOrEqual(tol);
    expect(order.deltaAfterWad).toBeGreaterThan(tol - scaleOf(p.underlyingDecimals)); // within one WBTC unit of it
  });

  it("buys the delta rule's last unit on a cheap 6-decimal token: the largest input that stays within it", () => {
    // One quote unit buys ~3.3 underlying units, so the pool often delivers more than asked; the order gives up just
    // enough input that it does not, and no more.
    const p = CHEAP_6_6;
    let cut = 0;
    for (let i = 1; i <= 40; i++) {
      const before = -(2n * WAD + BigInt(i) * 7n * scaleOf(6)); // 2 + 7i units of the underlying
      const s = snap(p, { netDeltaWad: before, hedge: hedgeOf(p, { deltaToleranceWad: 0n }) });
      const naive = getAmountIn(-before / scaleOf(6), s.ammReserveQuote, s.ammReserveUnderlying, 30n);
      if (refOut(naive, s.ammReserveQuote, s.ammReserveUnderlying, 30n) * scaleOf(6) > -before) cut += 1;
      const order = orderOf(s);
      expect(order.deltaAfterWad).toBeLessThanOrEqual(0n);
      expect(refOut(order.amountIn + 1n, s.ammReserveQuote, s.ammReserveUnderlying, 30n) * scaleOf(6)).toBeGreaterThan(-before);
    }
    expect(cut).toBeGreaterThan(5);
  });

  it("names each cap that cut the order: maxTradeWad, the pool reserve, the hedge balance, the slippage bound", () => {
    const p = WBTC_USDC;
    expect(orderOf(snap(p, { hedge: hedgeOf(p, { maxTradeWad: WAD / 2n }) })).cappedBy).toEqual(["maxTradeWad"]);
    const thinPool = snap(p, { netDeltaWad: -2n * WAD, ammReserveUnderlying: oneU(p), ammReserveQuote: quoteUnits(p, p.spotWad) });
    const thin = orderOf(thinPool, TO(0), { ...OPTS }, 0);
    expect(thin.cappedBy[0]).toBe("pool reserve");
    const sell = orderOf(snap(p, { netDeltaWad: 2n * WAD, hedgeBalance: oneU(p) }));
    expect(sell).toMatchObject({ amountIn: oneU(p), cappedBy: ["hedge balance"], partial: true });
    const bounded = orderOf(snap(p, { netDeltaWad: -50n * WAD, hedge: hedgeOf(p, { maxTradeWad: 100n * WAD }) }), TO(0), { ...OPTS, maxSlippageBps: 40 });
    expect(bounded.cappedBy).toEqual(["slippage bound"]);
  });

  it("does not call a cap that fits exactly a cut: maxTradeWad equal to the wanted trade leaves the order whole", () => {
    const p = WETH_DAI;
    const s = snap(p, { netDeltaWad: 2n * WAD, hedgeBalance: 5n * WAD, hedge: hedgeOf(p, { maxTradeWad: 2n * WAD, deltaToleranceWad: 0n }) });
    expect(orderOf(s)).toMatchObject({ amountIn: 2n * WAD, partial: false, cappedBy: [] });
  });

  it("trades the whole wanted size when its price is exactly at the slippage limit, on both sides", () => {
    for (const buy of [true, false]) {
      const p = WETH_DAI;
      const s0 = snap(p, { netDeltaWad: buy ? -2n * WAD : 2n * WAD, hedgeBalance: 5n * WAD, ammFeeBps: 0n, hedge: hedgeOf(p, { deltaToleranceWad: 0n, maxSlippageBps: 10_000 }) });
      const free = orderOf(s0);
      const price = checkRebalance(s0, buy, free.amountIn);
      if (!price.ok) throw new Error(price.error);
      const atLimit = { ...s0, spotWad: price.priceWad, hedge: hedgeOf(p, { deltaToleranceWad: 0n, maxSlippageBps: 0 }) };
      const order = orderOf(atLimit, TO(0), OPTS, 0);
      expect(order, `buy=${buy}`).toMatchObject({ amountIn: free.amountIn, partial: false });
      expect(order.slippageBps).toBe(0);
    }
  });

  it("reports the execution price against the oracle in basis points", () => {
    for (const pair of PAIRS) {
      const s = snap(pair, { netDeltaWad: -20n * WAD, ammFeeBps: 30n });
      const order = orderOf(s);
      const check = checkRebalance(s, true, order.amountIn);
      if (!check.ok) throw new Error(check.error);
      const bps = (wadToNumber(check.priceWad) / wadToNumber(s.spotWad) - 1) * 1e4;
      expect(order.slippageBps, pair.name).toBeGreaterThan(30); // the fee plus impact
      expect(Math.abs(order.slippageBps - bps), pair.name).toBeLessThanOrEqual(1e-3);
    }
  });

  it("trades when the cost equals the benefit exactly, and skips when it exceeds it", () => {
    // The pool below the oracle when buying: no slippage cost, so the cost is the gas alone.
    const p = WBTC_USDC;
    const s = snap(p, { spotWad: 61_000n * WAD, netDeltaWad: -2n * WAD });
    const prefs = { riskAversion: 1e-6, horizonSeconds: 3_600 };
    const first = sizeHedge(s, TO(0), toMarketView(s, { gasCostQuote: 0, feeRate: 0.003, eta: 60 }), prefs, OPTS);
    if (first.kind !== "order") throw new Error(first.reason);
    expect(first.order.slippageCostQuote).toBe(0);
    const benefit = first.order.benefitQuote;
    const atCost = sizeHedge(s, TO(0), toMarketView(s, { gasCostQuote: benefit, feeRate: 0.003, eta: 60 }), prefs, OPTS);
    expect(atCost.kind).toBe("order");
    const above = sizeHedge(s, TO(0), toMarketView(s, { gasCostQuote: benefit * (1 + 1e-12), feeRate: 0.003, eta: 60 }), prefs, OPTS);
    expect(above).toStrictEqual({ kind: "skip", reason: expect.stringMatching(/^cost .* > benefit .* quote$/) });
  });
});

describe("sizeHedge skips: the vault's error and the amounts behind it", () => {
  const p = WBTC_USDC;

  it("a zero net delta says so; a delta within the tolerance names both numbers", () => {
    expect(skipOf(snap(p, { netDeltaWad: 0n }))).toEqual({ kind: "skip", reason: "net delta is already 0 (DeltaWithinTolerance)", error: "DeltaWithinTolerance" });
    const within = skipOf(snap(p, { netDeltaWad: -WAD / 200n }));
    expect(within.reason).toContain("0.005");
    expect(within.reason).toContain("0.01");
  });

  it("a target that is not a number, or already reached, is a skip without a vault error", () => {
    const nan = skipOf(snap(p), TO(Number.NaN));
    expect(nan).toStrictEqual({ kind: "skip", reason: "target delta NaN is not a number" });
    expect(skipOf(snap(p), TO(Number.POSITIVE_INFINITY)).reason).toMatch(/Infinity is not a number/);
    expect(skipOf(snap(p), TO(-2))).toStrictEqual({ kind: "skip", reason: "net delta is already at the target" });
  });

  it("an empty pool on either side names InsufficientLiquidity", () => {
    for (const empty of [{ ammReserveQuote: 0n }, { ammReserveUnderlying: 0n }]) {
      expect(skipOf(snap(p, empty))).toEqual({ kind: "skip", reason: "the AMM pool is empty", error: "InsufficientLiquidity" });
    }
  });

  it("a notional budget below one unit skips naming the budget and its window; exactly one unit does not", () => {
    const spent = skipOf(snap(p, { notionalLeftWad: UNIT - 1n }));
    expect(spent.error).toBe("NotionalBudgetExceeded");
    expect(spent.reason).toContain("3000000 quote per 86400 s");
    // One unit left (1e-4 quote) still buys a trade of an 18-decimal underlying: sizing cuts the order to it.
    const q = WETH_DAI;
    const one = orderOf(snap(q, { notionalLeftWad: UNIT, hedge: hedgeOf(q, { deltaToleranceWad: 0n, maxSlippageBps: 10_000 }) }));
    expect(one.cappedBy).toEqual(["notional budget"]);
    expect(ceilDiv(one.tradeWad * q.spotWad, WAD)).toBeLessThanOrEqual(UNIT);
  });

  it("a notional budget left below the smallest trade names the amount left", () => {
    // One WBTC unit (1e-8) at 60,000 is 6e-4 quote = 6 budget units: 5 units left cannot pay for it.
    const s = skipOf(snap(p, { notionalLeftWad: 5n * UNIT }));
    expect(s.error).toBe("NotionalBudgetExceeded");
    expect(s.reason).toContain("left (0.0005 quote) is below the smallest trade");
  });

  it("a slippage budget that cannot pay the smallest trade's fee names the amount left and when it frees up", () => {
    const s = skipOf(snap(p, { slippageLeftWad: 0n }));
    expect(s.error).toBe("SlippageBudgetExceeded");
    expect(s.reason).toContain("left (0 quote)");
    expect(s.reason).toContain("until the window rolls");
  });

  it("no cash to buy with names ERC20InsufficientBalance; cash all owed names PayoutsNotCovered and both amounts", () => {
    expect(skipOf(snap(p, { cashBalance: 0n }))).toEqual({
      kind: "skip",
      reason: "the vault holds no cash to buy with (ERC20InsufficientBalance)",
      error: "ERC20InsufficientBalance",
    });
    const owed = skipOf(snap(p, { cashBalance: 5_000n * oneQ(p), pendingPayouts: 6_000n * oneQ(p) }));
    expect(owed.error).toBe("PayoutsNotCovered");
    expect(owed.reason).toContain("cash 5000 is owed to settled holders (6000 unclaimed)");
    const exactlyOwed = skipOf(snap(p, { cashBalance: 5_000n * oneQ(p), pendingPayouts: 5_000n * oneQ(p) }));
    expect(exactlyOwed.reason).toContain("(5000 unclaimed)");
  });

  it("spendable cash below the price of one underlying unit names the cash", () => {
    // One WBTC unit costs ~600 USDC units; 100 units (1e-4 USDC) buy nothing.
    const s = skipOf(snap(p, { cashBalance: 100n }));
    expect(s.error).toBe("ERC20InsufficientBalance");
    expect(s.reason).toContain("spendable cash 0.0001 buys less than one unit");
  });

  it("a maxTradeWad below one token unit names TradeTooLarge", () => {
    const s = skipOf(snap(p, { hedge: hedgeOf(p, { maxTradeWad: scaleOf(p.underlyingDecimals) - 1n }) }));
    expect(s).toEqual({ kind: "skip", reason: "maxTradeWad is below one unit of the underlying token (TradeTooLarge)", error: "TradeTooLarge" });
  });

  it("a pool with one unit of underlying left names InsufficientLiquidity; a vault holding nothing to sell, InsufficientHedge", () => {
    const thin = skipOf(snap(p, { ammReserveUnderlying: 1n }));
    expect(thin).toEqual({ kind: "skip", reason: "the pool's underlying reserve is too small", error: "InsufficientLiquidity" });
    const nothing = skipOf(snap(p, { netDeltaWad: 2n * WAD, hedgeBalance: 0n }));
    expect(nothing).toEqual({ kind: "skip", reason: "the vault holds no underlying to sell (InsufficientHedge)", error: "InsufficientHedge" });
  });

  it("dust below one token unit is a skip without a vault error: a target within a unit, a delta within a unit", () => {
    // WBTC's unit is 1e10 wei of delta: a target 5e9 wei away is no trade.
    const nearTarget = skipOf(snap(p, { hedge: hedgeOf(p, { deltaToleranceWad: 0n }) }), TO(-1.999999995));
    expect(nearTarget).toStrictEqual({ kind: "skip", reason: "dust: the trade is below one unit of the underlying token" });
    // Half a unit short, target far past zero: the delta rule allows less than one unit.
    const halfUnit = skipOf(snap(p, { netDeltaWad: -5_000_000_000n, hedge: hedgeOf(p, { deltaToleranceWad: 0n }) }), TO(1));
    expect(halfUnit).toStrictEqual({ kind: "skip", reason: "dust: the trade is below one unit of the underlying token" });
  });

  it("no size within the slippage bound names the bound, the fee and the direction", () => {
    const buy = skipOf(snap(p, { hedge: hedgeOf(p, { maxSlippageBps: 20 }) }));
    expect(buy.error).toBe("SlippageTooHigh");
    expect(buy.reason).toMatch(/^no size is within 20 bps of the oracle \(pool fee 30 bps, buying;/);
    const sell = skipOf(snap(p, { netDeltaWad: 2n * WAD, hedgeBalance: 2n * oneU(p), hedge: hedgeOf(p, { maxSlippageBps: 20 }) }));
    expect(sell.reason).toMatch(/\(pool fee 30 bps, selling;/);
  });

  it("a buy trimmed for the pool's rounding that lands past the slippage limit is skipped, naming the vault's error", () => {
    // 6/6 at 0.30, 10 units short, no tolerance, oracle 0.3082 with a 0 bps bound: 4 quote units buy 13 (price
    // 0.3077, within the limit, but 3 past zero); 3 units buy 9 at 0.3333, past the limit; fewer are no cheaper.
    // No order is valid, so none may be sent.
    const q = CHEAP_6_6;
    const s = snap(q, {
      netDeltaWad: -10n * scaleOf(6),
      spotWad: 3_082n * 10n ** 14n,
      ammReserveUnderlying: 1_000n * oneU(q),
      ammReserveQuote: 300n * oneQ(q),
      hedge: hedgeOf(q, { deltaToleranceWad: 0n, maxSlippageBps: 0 }),
    });
    for (let amountIn = 1n; amountIn <= 4n; amountIn++) expect(vault(s, true, amountIn).ok, `amountIn ${amountIn}`).toBe(false);
    const skip = skipOf(s);
    expect(skip.error).toBe("SlippageTooHigh");
    expect(skip.reason).toBe(
      `pool rounding leaves no valid order: the vault would revert with SlippageTooHigh (execution price 333333333333333334 vs limit ${s.spotWad})`,
    );
  });

  it("a buy the pool can only over-deliver on skips as dust (no unit of input stays within the delta rule)", () => {
    // 18/6 WETH/USDC: one USDC unit buys ~3.3e8 wei; 5 wei of delta cannot be bought without overshooting.
    const q = WETH_USDC;
    const s = snap(q, { netDeltaWad: -5n, hedge: hedgeOf(q, { deltaToleranceWad: 0n, maxSlippageBps: 10_000 }) });
    expect(skipOf(s)).toStrictEqual({ kind: "skip", reason: "dust: the order moves nothing (zero input or output)" });
  });
});

describe("size options: basis points are checked, naming the option", () => {
  const s = snap(WBTC_USDC);
  it("accepts 0 and 10000, refuses negatives, fractions and more than 10000", () => {
    expect(() => size(s, TO(0), { minOutMarginBps: 10_000 })).not.toThrow();
    expect(() => size(s, TO(0), { minOutMarginBps: 0, maxSlippageBps: 10_000 })).not.toThrow();
    for (const bad of [-1, 1.5, 10_001]) {
      expect(() => size(s, TO(0), { minOutMarginBps: bad })).toThrow(new RegExp(`^minOutMarginBps must be an integer number of basis points in \\[0, 10000\\], got ${bad}$`));
      expect(() => size(s, TO(0), { minOutMarginBps: 10, maxSlippageBps: bad })).toThrow(new RegExp(`^maxSlippageBps must be .*got ${bad}$`));
      expect(() => size({ ...s, hedge: hedgeOf(WBTC_USDC, { maxSlippageBps: bad }) })).toThrow(new RegExp(`^vault maxSlippageBps must be .*got ${bad}$`));
    }
  });
});

// ─── gas model ───

describe("gas model", () => {
  it("is within 5% of the committed gas snapshot's steady-state rebalance for 1, 10 and 32 live series", () => {
    const snapshot = JSON.parse(readFileSync(new URL("../../gas-snapshot.json", import.meta.url), "utf8")) as Record<string, number>;
    for (const series of [1, 10, 32]) {
      const measured = snapshot[`OptionVault.rebalance (buy, ${series} live series)`];
      expect(measured, `snapshot row for ${series} series`).toBeGreaterThan(0);
      const modelled = rebalanceGasUnits(series);
      expect(Math.abs(modelled - measured!) / measured!, `${series} series: model ${modelled} vs measured ${measured}`).toBeLessThan(0.05);
    }
  });

  it("prices gas as units × (base fee + tip) × the native token's price", () => {
    // 100,000 gas at 20 + 2 gwei is 0.0022 ETH; at 3,000 quote per ETH, 6.6 quote.
    expect(gasCostQuote({ gasUnits: 100_000, baseFeePerGasWei: 20n * 10n ** 9n, tipWei: 2n * 10n ** 9n, nativePriceQuote: 3_000 })).toBeCloseTo(6.6, 12);
  });
});

// numberToWad is used by sizing to read the policy's target: a sanity check that the dust target above is what it says.
describe("fixtures", () => {
  it("the near-target dust case is within one WBTC unit of the delta", () => {
    expect(abs(numberToWad(-1.999999995) - -2n * WAD)).toBeLessThan(scaleOf(8));
  });
});
