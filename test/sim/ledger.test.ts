/**
 * The run's books: P&L and tracking error by the module comment's formula on hand-computed blocks (with and
 * without discounting), the costs of a fill or a revert, the in-band count, and the book's Black–Scholes value.
 */
import { describe, expect, it } from "vitest";
import { price, SECONDS_PER_YEAR } from "../../keeper/pricing/blackScholes.ts";
import { numberToWad, WAD } from "../../keeper/pricing/wad.ts";
import type { SeriesSnapshot, VaultSnapshot } from "../../keeper/types.ts";
import { bookValue, Ledger, type LedgerOptions } from "../../sim/ledger.ts";
import { DEFAULT_SCENARIO, initialSnapshot } from "../../sim/scenario.ts";

const base = initialSnapshot(DEFAULT_SCENARIO);
const T0 = base.timestamp;
const OPTIONS: LedgerOptions = {
  pathIndex: 7,
  gasPriceWei: 20n * 10n ** 9n,
  quoteDecimals: 6,
  underlyingDecimals: 18,
  ammFeeBps: 30,
};

/** The scenario's first snapshot at another time, spot, hedge (underlying units), net delta or rate. */
function snap(p: { dt?: number; spot?: number; hedge?: number; netDeltaWad?: bigint; rate?: number }): VaultSnapshot {
  return {
    ...base,
    timestamp: T0 + BigInt(p.dt ?? 0),
    spotWad: numberToWad(p.spot ?? 3000),
    hedgeBalance: numberToWad(p.hedge ?? 0),
    netDeltaWad: p.netDeltaWad ?? 0n,
    risk: { ...base.risk, rateWad: numberToWad(p.rate ?? 0) },
  };
}

const usdc = (x: number) => BigInt(Math.round(x * 1e6));
const weth = (x: number) => numberToWad(x);

describe("Ledger P&L", () => {
  // Three blocks: spot 3000 → 3010 → 2990, book −10000 → −10050 → −9980, hedge held 2 then 3.
  const blocks = [
    { dt: 0, spot: 3000, book: -10_000, hedge: 1 },
    { dt: 12, spot: 3010, book: -10_050, hedge: 2 },
    { dt: 24, spot: 2990, book: -9_980, hedge: 3 },
  ];

  it("at rate 0: ΔV = h·ΔS + ΔB per block; pnl is their sum, trackingError √ΣΔV²", () => {
    const ledger = new Ledger(OPTIONS);
    for (const b of blocks) ledger.observe(snap(b), b.book);
    // Block 1: 2·(3010 − 3000) + (−10050 + 10000) = −30. Block 2: 3·(2990 − 3010) + (−9980 + 10050) = 10.
    const m = ledger.result();
    expect(m.pnl).toBeCloseTo(-20, 9);
    expect(m.trackingError).toBeCloseTo(Math.sqrt(30 * 30 + 10 * 10), 9);
    expect(m.blocks).toBe(3);
    expect(m.pathIndex).toBe(7);
  });

  it("the first block only sets the reference: its hedge and values earn nothing", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.observe(snap({ spot: 3000, hedge: 50 }), -10_000);
    const m = ledger.result();
    expect(m.pnl).toBe(0);
    expect(m.trackingError).toBe(0);
    expect(m.blocks).toBe(1);
  });

  it("at rate r > 0: spot and book are discounted to the run's start by e^{−r·t}", () => {
    const rate = 0.05;
    const times = [0, SECONDS_PER_YEAR / 2, SECONDS_PER_YEAR];
    const ledger = new Ledger(OPTIONS);
    blocks.forEach((b, i) => ledger.observe(snap({ ...b, dt: times[i]!, rate }), b.book));
    const d1 = Math.exp(-rate * 0.5);
    const d2 = Math.exp(-rate * 1);
    const dv1 = 2 * (3010 * d1 - 3000) + (-10_050 * d1 - -10_000);
    const dv2 = 3 * (2990 * d2 - 3010 * d1) + (-9_980 * d2 - -10_050 * d1);
    const m = ledger.result();
    expect(m.pnl).toBeCloseTo(dv1 + dv2, 9);
    expect(m.trackingError).toBeCloseTo(Math.hypot(dv1, dv2), 9);
    // Discounting matters here: the undiscounted P&L would be −20.
    expect(Math.abs(m.pnl - -20)).toBeGreaterThan(100);
  });

  it("values the book with bookValue(snapshot) when none is passed", () => {
    const withDefault = new Ledger(OPTIONS);
    const explicit = new Ledger(OPTIONS);
    for (const b of blocks) {
      const s = snap({ ...b, dt: b.dt * 3600 });
      withDefault.observe(s);
      explicit.observe(s, bookValue(s));
    }
    expect(withDefault.result()).toEqual(explicit.result());
    expect(withDefault.result().pnl).not.toBe(0);
  });

  it("a hedge that offsets the book's delta leaves a small P&L on a small move", () => {
    // Short 100 ATM calls hedged with their delta: a 1 USD move changes the book by about −Δ·100 and the hedge by +Δ·100.
    const s0 = base;
    const s1 = { ...base, timestamp: T0 + 12n, spotWad: numberToWad(3001) };
    const ledger = new Ledger(OPTIONS);
    ledger.observe(s0);
    ledger.observe(s1);
    const bookMove = bookValue(s1) - bookValue(s0);
    expect(Math.abs(bookMove)).toBeGreaterThan(40);
    expect(Math.abs(ledger.result().pnl)).toBeLessThan(1);
  });
});

describe("Ledger costs", () => {
  it("a buy: slippage = quote paid − fair value, fee = fee rate × quote paid, gas priced in the underlying at the oracle", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.hedge({ buyUnderlying: true, amountIn: usdc(3015.5), amountOut: weth(1), spotWad: 3000n * WAD, gasUsed: 150_000 });
    const m = ledger.result();
    expect(m.slippageCost).toBeCloseTo(15.5, 9);
    expect(m.feeCost).toBeCloseTo(0.003 * 3015.5, 9);
    expect(m.volume).toBeCloseTo(1, 12);
    expect(m.hedges).toBe(1);
    expect(m.gasUsed).toBe(150_000);
    // 150,000 gas × 20 gwei = 0.003 ETH, at 3000: 9 USD.
    expect(m.gasCost).toBeCloseTo(9, 9);
    expect(m.totalCost).toBeCloseTo(24.5, 9);
    expect(m.reverts).toBe(0);
  });

  it("a sell: slippage = fair value − quote received, fee = fee rate × value of the underlying sold", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.hedge({ buyUnderlying: false, amountIn: weth(2), amountOut: usdc(5980), spotWad: 3000n * WAD, gasUsed: 100_000 });
    const m = ledger.result();
    expect(m.slippageCost).toBeCloseTo(20, 9);
    expect(m.feeCost).toBeCloseTo(0.003 * 6000, 9);
    expect(m.volume).toBeCloseTo(2, 12);
    expect(m.gasCost).toBeCloseTo((100_000 * 20e9 * 3000) / 1e18, 9);
    expect(m.totalCost).toBeCloseTo(20 + 6, 9);
  });

  it("accumulates hedges: volume is the sum of |trade|, costs add up", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.hedge({ buyUnderlying: true, amountIn: usdc(3015.5), amountOut: weth(1), spotWad: 3000n * WAD, gasUsed: 150_000 });
    ledger.hedge({ buyUnderlying: false, amountIn: weth(2), amountOut: usdc(5980), spotWad: 3000n * WAD, gasUsed: 100_000 });
    const m = ledger.result();
    expect(m.hedges).toBe(2);
    expect(m.volume).toBeCloseTo(3, 12);
    expect(m.gasUsed).toBe(250_000);
    expect(m.slippageCost).toBeCloseTo(35.5, 9);
    expect(m.feeCost).toBeCloseTo(9.0465 + 18, 9);
    expect(m.totalCost).toBeCloseTo(m.gasCost + m.slippageCost, 12);
  });

  it("a fill at the oracle price with no fee costs only gas", () => {
    const ledger = new Ledger({ ...OPTIONS, ammFeeBps: 0 });
    ledger.hedge({ buyUnderlying: true, amountIn: usdc(3000), amountOut: weth(1), spotWad: 3000n * WAD, gasUsed: 0 });
    const m = ledger.result();
    expect(m.slippageCost).toBe(0);
    expect(m.feeCost).toBe(0);
    expect(m.totalCost).toBe(0);
  });

  it("a revert counts its gas and a revert, and no trade", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.revert(80_000, 3000n * WAD);
    const m = ledger.result();
    expect(m.reverts).toBe(1);
    expect(m.hedges).toBe(0);
    expect(m.gasUsed).toBe(80_000);
    expect(m.gasCost).toBeCloseTo((80_000 * 20e9 * 3000) / 1e18, 9);
    expect(m.volume).toBe(0);
    expect(m.slippageCost).toBe(0);
    expect(m.feeCost).toBe(0);
    expect(m.totalCost).toBeCloseTo(m.gasCost, 12);
  });
});

describe("Ledger band count", () => {
  it("blocksInBand counts blocks with |netDelta| ≤ bandWad, either side, edge included", () => {
    const band = base.hedge.bandWad;
    expect(band).toBe(WAD / 2n);
    const ledger = new Ledger(OPTIONS);
    for (const netDeltaWad of [0n, band, -band, band + 1n, -WAD, -band - 1n, 1n]) ledger.observe(snap({ netDeltaWad }), 0);
    const m = ledger.result();
    expect(m.blocks).toBe(7);
    expect(m.blocksInBand).toBe(4);
  });
});

describe("Ledger budget use", () => {
  it("budgetUse is the fullest the hedging budget got, notional or slippage, over the run's blocks", () => {
    const ledger = new Ledger(OPTIONS);
    const wad = (x: number) => BigInt(x) * WAD;
    // The default budget: 3,000,000 of notional, 10,000 of slippage per window.
    expect(base.notionalLeftWad).toBe(wad(3_000_000));
    expect(base.slippageLeftWad).toBe(wad(10_000));
    ledger.observe({ ...base, notionalLeftWad: wad(1_500_000), slippageLeftWad: wad(9_000) }, 0); // 50% / 10%
    ledger.observe({ ...base, notionalLeftWad: wad(2_400_000), slippageLeftWad: wad(2_000) }, 0); // 20% / 80%
    ledger.observe({ ...base }, 0); // the windows rolled: all left
    expect(ledger.result().budgetUse).toBeCloseTo(0.8, 12);
  });

  it("is 0 when nothing was spent", () => {
    const ledger = new Ledger(OPTIONS);
    ledger.observe(base, 0);
    expect(ledger.result().budgetUse).toBe(0);
  });
});

describe("bookValue", () => {
  const call = base.book[0]!;
  const tauSeconds = Number(call.expiry - base.timestamp);

  it("of the short calls is −size × the Black–Scholes price", () => {
    expect(call.sizeWad).toBe(-100n * WAD);
    expect(tauSeconds).toBe(7 * 86_400 + 12);
    const expected = -100 * price({ isCall: true, spot: 3000, strike: 3000, vol: 0.8, tauSeconds, rate: 0 });
    expect(bookValue(base)).toBeCloseTo(expected, 9);
    expect(bookValue(base)).toBeLessThan(-10_000);
  });

  it("at a rate and another spot, with the snapshot's vol", () => {
    const s = { ...base, spotWad: numberToWad(3150), risk: { ...base.risk, volWad: numberToWad(0.5), rateWad: numberToWad(0.04) } };
    const expected = -100 * price({ isCall: true, spot: 3150, strike: 3000, vol: 0.5, tauSeconds, rate: 0.04 });
    expect(bookValue(s)).toBeCloseTo(expected, 9);
  });

  it("is intrinsic at expiry and after it", () => {
    const itm = { ...base, spotWad: numberToWad(3100) };
    expect(bookValue({ ...itm, timestamp: call.expiry })).toBeCloseTo(-10_000, 9);
    expect(bookValue({ ...itm, timestamp: call.expiry + 3600n })).toBeCloseTo(-10_000, 9);
    const otm = { ...base, spotWad: numberToWad(2900), timestamp: call.expiry + 1n };
    expect(Math.abs(bookValue(otm))).toBe(0);
  });

  it("sums every series with its sign and skips empty ones", () => {
    const put: SeriesSnapshot = { ...call, id: `0x${"02".padStart(64, "0")}`, isCall: false, strikeWad: numberToWad(2800), sizeWad: -50n * WAD };
    const long: SeriesSnapshot = { ...call, id: `0x${"03".padStart(64, "0")}`, strikeWad: numberToWad(3300), sizeWad: 10n * WAD };
    // A zero strike would be outside the pricing domain: an empty series must not be priced at all.
    const empty: SeriesSnapshot = { ...call, id: `0x${"04".padStart(64, "0")}`, strikeWad: 0n, sizeWad: 0n };
    const s = { ...base, book: [call, put, long, empty] };
    const p = (isCall: boolean, strike: number) => price({ isCall, spot: 3000, strike, vol: 0.8, tauSeconds, rate: 0 });
    expect(bookValue(s)).toBeCloseTo(-100 * p(true, 3000) - 50 * p(false, 2800) + 10 * p(true, 3300), 8);
  });

  it("is 0 for an empty book", () => {
    expect(bookValue({ ...base, book: [] })).toBe(0);
  });
});
