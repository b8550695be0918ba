/**
 * The keeper's pricing boundary: wad ⇄ number conversions, the float64 Black–Scholes model, and the snapshot →
 * MarketView conversion with the off-chain cross-check of the book's Greeks. Pure: no chain.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  delta,
  greeks,
  price,
  PricingDomainError,
  SECONDS_PER_YEAR,
  type OptionInput,
} from "../../keeper/pricing/blackScholes.ts";
import {
  bookGreeksOffChain,
  bookGreeksOnChain,
  greeksDisagreement,
  toMarketView,
} from "../../keeper/pricing/view.ts";
import { numberToWad, tokenToWad, wadToNumber, wadToToken } from "../../keeper/pricing/wad.ts";
import type { CostModel, SeriesSnapshot, VaultSnapshot } from "../../keeper/types.ts";
import { vaultSnapshot } from "../helpers/snapshot.ts";

const SEED = 0x5eed_0001;
const RUNS = 1_000;
const WAD = 10n ** 18n;

// ─── exact value of a float64, for checking correct rounding independently of the implementation ───

/** x = num / den exactly, den a power of two. */
function floatAsFraction(x: number): { num: bigint; den: bigint } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n === 1n ? -1n : 1n;
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const exponent = (biased === 0 ? 1 : biased) - 1075;
  if (exponent >= 0) return { num: sign * (mantissa << BigInt(exponent)), den: 1n };
  return { num: sign * mantissa, den: 1n << BigInt(-exponent) };
}

/** The float next to x, towards +∞ (`up`) or −∞. */
function nextFloat(x: number, up: boolean): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const awayFromZero = x > 0 === up || x === 0;
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  view.setBigUint64(0, awayFromZero ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/** |v − wei/1e18| as a fraction with denominator den·1e18 (comparable across v with the same den scale). */
function distanceToWad(v: number, wei: bigint): { num: bigint; den: bigint } {
  const { num, den } = floatAsFraction(v);
  const diff = num * WAD - wei * den;
  return { num: diff < 0n ? -diff : diff, den: den * WAD };
}

function lessOrEqual(a: { num: bigint; den: bigint }, b: { num: bigint; den: bigint }): boolean {
  return a.num * b.den <= b.num * a.den;
}

describe("wad conversions", () => {
  it("wadToNumber is correctly rounded: no float is closer to the wad than the result", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 200n), max: 1n << 200n }), (wei) => {
        const v = wadToNumber(wei);
        const d = distanceToWad(v, wei);
        expect(lessOrEqual(d, distanceToWad(nextFloat(v, true), wei))).toBe(true);
        expect(lessOrEqual(d, distanceToWad(nextFloat(v, false), wei))).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("wadToNumber agrees with one IEEE division below 2^53 wei", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 53n), max: 1n << 53n }), (wei) => {
        expect(wadToNumber(wei)).toBe(Number(wei) / 1e18);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("numberToWad reads decimals exactly: n / 10^k becomes n · 10^(18−k)", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(10 ** 15) + 1, max: 10 ** 15 - 1 }), fc.integer({ min: 0, max: 18 }), (n, k) => {
        expect(numberToWad(n / 10 ** k)).toBe(BigInt(n) * 10n ** BigInt(18 - k));
      }),
      { seed: SEED, numRuns: RUNS },
    );
    expect(numberToWad(0.1)).toBe(10n ** 17n);
    expect(numberToWad(1e-18)).toBe(1n);
    expect(numberToWad(4e-19)).toBe(0n);
    expect(numberToWad(-5e-19)).toBe(-1n);
    expect(numberToWad(1e21)).toBe(10n ** 39n);
    expect(numberToWad(-2.5e-7)).toBe(-250_000_000_000n);
  });

  it("numberToWad round-trips through wadToNumber", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), (x) => {
        const back = wadToNumber(numberToWad(x));
        expect(Math.abs(back - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -52 + 5e-19);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("numberToWad refuses NaN and infinities", () => {
    expect(() => numberToWad(Number.NaN)).toThrow(RangeError);
    expect(() => numberToWad(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it("wadToToken rounds down or up and brackets the wad within one token unit", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: 0, max: 18 }),
        (wad, decimals) => {
          const scale = 10n ** BigInt(18 - decimals);
          const down = wadToToken(wad, decimals, "down");
          const up = wadToToken(wad, decimals, "up");
          expect(tokenToWad(down, decimals)).toBeLessThanOrEqual(wad);
          expect(tokenToWad(up, decimals)).toBeGreaterThanOrEqual(wad);
          expect(tokenToWad(up, decimals) - tokenToWad(down, decimals)).toBe(wad % scale === 0n ? 0n : scale);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
    expect(tokenToWad(1_500_000n, 6)).toBe(1_500_000_000_000_000_000n);
    expect(() => tokenToWad(1n, 19)).toThrow(RangeError);
  });
});

// ─── Black–Scholes ───

const optionArb: fc.Arbitrary<OptionInput> = fc.record({
  isCall: fc.boolean(),
  spot: fc.double({ min: 1, max: 100_000, noNaN: true }),
  strike: fc.double({ min: 1, max: 100_000, noNaN: true }),
  vol: fc.double({ min: 0.05, max: 3, noNaN: true }),
  tauSeconds: fc.integer({ min: 60, max: 3 * SECONDS_PER_YEAR }),
  rate: fc.double({ min: 0, max: 0.2, noNaN: true }),
});

describe("float64 Black–Scholes", () => {
  it("matches Hull's textbook example (S 42, K 40, r 10%, σ 20%, 6 months): call 4.76, put 0.81", () => {
    const base = { spot: 42, strike: 40, vol: 0.2, tauSeconds: SECONDS_PER_YEAR / 2, rate: 0.1 };
    expect(price({ ...base, isCall: true })).toBeCloseTo(4.7594, 4);
    expect(price({ ...base, isCall: false })).toBeCloseTo(0.8086, 4);
    expect(delta({ ...base, isCall: true })).toBeCloseTo(0.7791, 4);
  });

  it("satisfies put–call parity: C − P = S − K·e^{−rτ}", () => {
    fc.assert(
      fc.property(optionArb, (o) => {
        const call = price({ ...o, isCall: true });
        const put = price({ ...o, isCall: false });
        const forward = o.spot - o.strike * Math.exp((-o.rate * o.tauSeconds) / SECONDS_PER_YEAR);
        expect(Math.abs(call - put - forward)).toBeLessThanOrEqual(1e-9 * Math.max(o.spot, o.strike));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("keeps delta in [0, 1] for calls and [−1, 0] for puts, call − put delta = 1, gamma and vega ≥ 0", () => {
    fc.assert(
      fc.property(optionArb, (o) => {
        const call = greeks({ ...o, isCall: true });
        const put = greeks({ ...o, isCall: false });
        expect(call.delta).toBeGreaterThanOrEqual(0);
        expect(call.delta).toBeLessThanOrEqual(1);
        expect(put.delta).toBeGreaterThanOrEqual(-1);
        expect(put.delta).toBeLessThanOrEqual(0);
        expect(Math.abs(call.delta - put.delta - 1)).toBeLessThan(1e-15);
        expect(call.gamma).toBeGreaterThanOrEqual(0);
        expect(call.gamma).toBe(put.gamma);
        expect(call.vega).toBeGreaterThanOrEqual(0);
        expect(call.vega).toBe(put.vega);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("prices within the no-arbitrage bounds: max(S − K·e^{−rτ}, 0) ≤ call ≤ S", () => {
    fc.assert(
      fc.property(optionArb, (o) => {
        const call = price({ ...o, isCall: true });
        const forward = o.spot - o.strike * Math.exp((-o.rate * o.tauSeconds) / SECONDS_PER_YEAR);
        const slack = 1e-12 * Math.max(o.spot, o.strike);
        expect(call).toBeGreaterThanOrEqual(Math.max(forward, 0) - slack);
        expect(call).toBeLessThanOrEqual(o.spot + slack);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("has delta, gamma and vega equal to the finite differences of price and delta", () => {
    const near = fc.record({
      isCall: fc.boolean(),
      spot: fc.double({ min: 50, max: 200, noNaN: true }),
      strike: fc.constant(100),
      vol: fc.double({ min: 0.1, max: 1.5, noNaN: true }),
      tauSeconds: fc.integer({ min: 7 * 86_400, max: 2 * SECONDS_PER_YEAR }),
      rate: fc.double({ min: 0, max: 0.1, noNaN: true }),
    });
    fc.assert(
      fc.property(near, (o) => {
        const g = greeks(o);
        const h = o.spot * 1e-5;
        const dPrice = (price({ ...o, spot: o.spot + h }) - price({ ...o, spot: o.spot - h })) / (2 * h);
        const dDelta = (delta({ ...o, spot: o.spot + h }) - delta({ ...o, spot: o.spot - h })) / (2 * h);
        const dv = 1e-5;
        const dVol = (price({ ...o, vol: o.vol + dv }) - price({ ...o, vol: o.vol - dv })) / (2 * dv);
        expect(Math.abs(dPrice - g.delta)).toBeLessThan(1e-6);
        expect(Math.abs(dDelta - g.gamma)).toBeLessThan(1e-6 + 1e-4 * g.gamma);
        expect(Math.abs(dVol - g.vega)).toBeLessThan(1e-5 * (1 + g.vega));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("values an expired option at its payoff, with no gamma or vega", () => {
    const expired = { spot: 110, strike: 100, vol: 0.5, tauSeconds: 0, rate: 0.05 };
    expect(greeks({ ...expired, isCall: true })).toEqual({ price: 10, delta: 1, gamma: 0, vega: 0 });
    expect(greeks({ ...expired, isCall: false })).toEqual({ price: 0, delta: 0, gamma: 0, vega: 0 });
    expect(greeks({ ...expired, spot: 100, isCall: false }).delta).toBe(-1);
  });

  it("throws PricingDomainError outside the model's domain", () => {
    const ok: OptionInput = { isCall: true, spot: 100, strike: 100, vol: 0.5, tauSeconds: 3600, rate: 0 };
    expect(() => greeks({ ...ok, spot: 0 })).toThrow(PricingDomainError);
    expect(() => greeks({ ...ok, strike: -1 })).toThrow(PricingDomainError);
    expect(() => greeks({ ...ok, vol: 0 })).toThrow(PricingDomainError);
    expect(() => greeks({ ...ok, tauSeconds: -1 })).toThrow(PricingDomainError);
    expect(() => greeks({ ...ok, rate: Number.NaN })).toThrow(PricingDomainError);
  });
});

// ─── MarketView and the off-chain book Greeks ───

const COSTS: CostModel = { gasCostQuote: 1.5, feeRate: 0.003, eta: 3 };
const NOW = 1_750_000_000n;

function series(p: { isCall: boolean; strike: number; days: number; size: number; gamma?: number }): SeriesSnapshot {
  return {
    id: `0x${"00".repeat(32)}`,
    isCall: p.isCall,
    strikeWad: numberToWad(p.strike),
    expiry: NOW + BigInt(Math.round(p.days * 86_400)),
    sizeWad: numberToWad(p.size),
    deltaWad: 0n,
    gammaWad: numberToWad(p.gamma ?? 0),
    vegaWad: 0n,
    markWad: 0n,
  };
}

function snapshot(overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return vaultSnapshot({
    netDeltaWad: -WAD / 2n,
    hedgeBalance: 1_500_000_000_000_000_000n,
    oracleUpdatedAt: NOW - 10n,
    oracleAgeSeconds: 10n,
    ...overrides,
  });
}

describe("toMarketView", () => {
  it("converts the snapshot's wads to natural units and passes the costs through", () => {
    const view = toMarketView(snapshot(), COSTS);
    expect(view.delta).toBe(-0.5);
    expect(view.gamma).toBe(-0.001);
    expect(view.vega).toBe(-300);
    expect(view.spot).toBe(3_000);
    expect(view.vol).toBe(0.8);
    expect(view.rate).toBe(0.05);
    expect(view.blocksSinceHedge).toBe(10);
    expect(view.deltaTolerance).toBe(0.01);
    expect(view.onChainBand).toBe(0.1);
    expect(view.costs).toBe(COSTS);
  });

  it("can trade only when not paused, the oracle is fresh and the rebalance spacing has passed", () => {
    expect(toMarketView(snapshot(), COSTS).canTrade).toBe(true);
    expect(toMarketView(snapshot({ paused: true }), COSTS).canTrade).toBe(false);
    expect(toMarketView(snapshot({ oracleFresh: false }), COSTS).canTrade).toBe(false);
    expect(toMarketView(snapshot({ nextRebalanceBlock: 1_001n }), COSTS).canTrade).toBe(false);
    expect(toMarketView(snapshot({ nextRebalanceBlock: 1_000n }), COSTS).canTrade).toBe(true);
  });

  it("counts blocks since the last hedge as Infinity when the vault was never hedged", () => {
    expect(toMarketView(snapshot({ lastRebalanceBlock: 0n }), COSTS).blocksSinceHedge).toBe(Number.POSITIVE_INFINITY);
  });

  it("weights the book's time to expiry by |gamma| over live series only", () => {
    const book = [
      series({ isCall: true, strike: 3_000, days: 36.5, size: -1, gamma: -1 }), // 0.1 year, weight 1
      series({ isCall: false, strike: 2_500, days: 182.5, size: -2, gamma: -3 }), // 0.5 year, weight 3
      series({ isCall: true, strike: 3_500, days: -1, size: -5, gamma: -100 }), // expired: ignored
      series({ isCall: true, strike: 4_000, days: 365, size: 0, gamma: 0 }), // empty: ignored
    ];
    expect(toMarketView(snapshot({ book }), COSTS).timeToExpiry).toBeCloseTo((0.1 * 1 + 0.5 * 3) / 4, 12);
  });

  it("falls back to |size| weights when every live gamma is 0, and to 0 for an empty book", () => {
    const book = [
      series({ isCall: true, strike: 30_000, days: 36.5, size: -3 }),
      series({ isCall: true, strike: 30_000, days: 365, size: -1 }),
    ];
    expect(toMarketView(snapshot({ book }), COSTS).timeToExpiry).toBeCloseTo((0.1 * 3 + 1 * 1) / 4, 12);
    expect(toMarketView(snapshot(), COSTS).timeToExpiry).toBe(0);
  });
});

describe("bookGreeksOffChain", () => {
  const book = [
    series({ isCall: true, strike: 3_200, days: 30, size: -4 }),
    series({ isCall: false, strike: 2_800, days: 90, size: -2.5 }),
    series({ isCall: true, strike: 3_000, days: -2, size: -7 }), // expired
  ];

  it("sums size × float64 Greeks of the live series at the vault's vol, rate, spot and block time", () => {
    const off = bookGreeksOffChain(snapshot({ book }));
    const at = (isCall: boolean, strike: number, days: number) =>
      greeks({ isCall, spot: 3_000, strike, vol: 0.8, tauSeconds: days * 86_400, rate: 0.05 });
    const a = at(true, 3_200, 30);
    const b = at(false, 2_800, 90);
    expect(wadToNumber(off.deltaWad)).toBeCloseTo(-4 * a.delta - 2.5 * b.delta, 12);
    expect(wadToNumber(off.gammaWad)).toBeCloseTo(-4 * a.gamma - 2.5 * b.gamma, 15);
    expect(wadToNumber(off.vegaWad)).toBeCloseTo(-4 * a.vega - 2.5 * b.vega, 9);
    expect(wadToNumber(off.grossDeltaWad)).toBeCloseTo(4 * Math.abs(a.delta) + 2.5 * Math.abs(b.delta), 12);
  });

  it("reports zero Greeks when the spot is outside the on-chain pricing domain, as the vault does", () => {
    const off = bookGreeksOffChain(snapshot({ book, spotWad: 10n ** 11n }));
    expect([off.deltaWad, off.gammaWad, off.vegaWad]).toEqual([0n, 0n, 0n]);
  });
});

describe("greeksDisagreement", () => {
  const onChain = { deltaWad: -2n * WAD, gammaWad: -(WAD / 1000n), vegaWad: -300n * WAD };

  it("is zero for identical Greeks", () => {
    const d = greeksDisagreement(onChain, onChain);
    expect(d.maxRelative).toBe(0);
    expect(d.delta.absolute).toBe(0);
  });

  it("reports the largest relative difference and which Greek it comes from", () => {
    const d = greeksDisagreement(onChain, { ...onChain, vegaWad: -303n * WAD });
    expect(d.worst).toBe("vega");
    expect(d.vega.absolute).toBe(3);
    expect(d.maxRelative).toBeCloseTo(3 / 303, 12);
    expect(d.delta.relative).toBe(0);
  });

  it("measures a netted-out book against its gross exposure, not its ~0 net", () => {
    const net = { deltaWad: 10n ** 6n, gammaWad: 0n, vegaWad: 0n };
    const off = { deltaWad: 2n * 10n ** 6n, gammaWad: 0n, vegaWad: 0n };
    expect(greeksDisagreement(net, off).delta.relative).toBeCloseTo(0.5, 12);
    const withGross = { ...off, grossDeltaWad: 10n * WAD, grossGammaWad: 0n, grossVegaWad: 0n };
    expect(greeksDisagreement(net, withGross).delta.relative).toBeLessThan(1e-12);
  });

  it("does not flag differences below the noise floor of a Greek", () => {
    const tiny = { deltaWad: 0n, gammaWad: 0n, vegaWad: 0n };
    const d = greeksDisagreement(tiny, { deltaWad: 0n, gammaWad: 100n, vegaWad: 0n });
    expect(d.maxRelative).toBeLessThan(1e-3);
  });

  // The float64 book Greeks against a real vault's (not against themselves): test/greeks.test.ts, "the keeper's
  // off-chain book Greeks vs the vault's own".

  it("reads the vault's book Greeks from the snapshot's book fields, not its net (hedged) delta", () => {
    const snap = snapshot();
    expect(bookGreeksOnChain(snap)).toEqual({ deltaWad: -2n * WAD, gammaWad: -(WAD / 1000n), vegaWad: -300n * WAD });
  });
});
