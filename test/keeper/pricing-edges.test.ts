/**
 * The pricing boundary at its edges (keeper/pricing/), complementing pricing.test.ts's properties: exact
 * Black–Scholes references computed independently (mpmath, 40 digits), the error each bad argument raises and the
 * value it names, rounding direction at exact boundaries and for every sign, the on-chain pricing domain's
 * inclusive ends, series expiring exactly at the block's timestamp, the gross exposures of a book whose legs
 * offset, and which Greek a disagreement is blamed on.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  delta,
  gamma,
  greeks,
  price,
  PricingDomainError,
  SECONDS_PER_YEAR,
  vega,
  type OptionInput,
} from "../../keeper/pricing/blackScholes.ts";
import { bookGreeksOffChain, greeksDisagreement, toMarketView } from "../../keeper/pricing/view.ts";
import {
  absBigint,
  divRound,
  minBigint,
  mulDiv,
  numberToWad,
  tokenScale,
  tokenToWad,
  wadToNumber,
  wadToToken,
} from "../../keeper/pricing/wad.ts";
import type { CostModel, SeriesSnapshot, VaultSnapshot } from "../../keeper/types.ts";
import { vaultSnapshot } from "../helpers/snapshot.ts";

const SEED = 0x5eed_0011;
const RUNS = 1_000;
const WAD = 10n ** 18n;
const GWEI = 10n ** 9n;

/** x = num / den exactly (den a power of two): the float's exact value, to judge rounding without floats. */
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

/** The neighbouring float of a non-zero finite x, one ulp away from zero (`away`) or towards it. */
function neighbour(x: number, away: boolean): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + (away ? 1n : -1n));
  return view.getFloat64(0);
}

/** True when no float next to v is strictly closer to wei / 1e18 than v is. */
function isNearestFloat(v: number, wei: bigint): boolean {
  const distance = (f: number): { num: bigint; den: bigint } => {
    const { num, den } = floatAsFraction(f);
    const d = num * WAD - wei * den;
    return { num: d < 0n ? -d : d, den };
  };
  const mine = distance(v);
  return [neighbour(v, true), neighbour(v, false)].every((f) => {
    const other = distance(f);
    return mine.num * other.den <= other.num * mine.den;
  });
}

// ─── wad ⇄ number ───

describe("wadToNumber on wads with nine trailing zeros (8-decimal oracle prices, round parameters)", () => {
  it("is correctly rounded beyond 2^53 gwei, where Number(gwei) / 1e9 would round twice", () => {
    // Number(m) / 1e9 rounds m first and the quotient again: ~9% of such inputs land one ulp off.
    fc.assert(
      fc.property(fc.bigInt({ min: 1n << 53n, max: 1n << 120n }), fc.boolean(), (gwei, negative) => {
        const wei = (negative ? -gwei : gwei) * GWEI;
        expect(isNearestFloat(wadToNumber(wei), wei)).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("is exact for gwei-aligned wads up to 2^53 gwei, and symmetric in sign", () => {
    const atLimit = (1n << 53n) * GWEI; // the last gwei count the exact fast path takes
    for (const wei of [GWEI, 3_000n * WAD, 123_456_789n * GWEI, atLimit, atLimit + GWEI]) {
      expect(isNearestFloat(wadToNumber(wei), wei)).toBe(true);
      expect(wadToNumber(-wei)).toBe(-wadToNumber(wei));
    }
    expect(wadToNumber(3_000n * WAD)).toBe(3_000);
    expect(wadToNumber(-(WAD / 20n))).toBe(-0.05);
  });
});

describe("numberToWad", () => {
  it("names the value it refuses", () => {
    expect(() => numberToWad(Number.NaN)).toThrow(/numberToWad: NaN is not a finite number/);
    expect(() => numberToWad(Number.NEGATIVE_INFINITY)).toThrow(/numberToWad: -Infinity is not a finite number/);
  });

  it("maps both zeros to 0 and keeps the sign of tiny and huge values", () => {
    expect(numberToWad(0)).toBe(0n);
    expect(numberToWad(-0)).toBe(0n);
    expect(numberToWad(-1e-18)).toBe(-1n);
    expect(numberToWad(1)).toBe(WAD);
    expect(numberToWad(-1e21)).toBe(-(10n ** 39n));
    // Half a wei rounds away from zero, on both sides.
    expect(numberToWad(1.5e-18)).toBe(2n);
    expect(numberToWad(-1.5e-18)).toBe(-2n);
  });
});

describe("token decimals", () => {
  it("accepts exactly the vault's range [0, 18]: 10^18 per whole token at 0 decimals, 1 at 18", () => {
    expect(tokenScale(0)).toBe(WAD);
    expect(tokenScale(18)).toBe(1n);
    expect(tokenScale(6)).toBe(10n ** 12n);
    expect(tokenToWad(7n, 0)).toBe(7n * WAD);
    expect(wadToToken(7n * WAD + 1n, 0, "down")).toBe(7n);
    expect(wadToToken(7n * WAD + 1n, 0, "up")).toBe(8n);
  });

  it.each([19, -1, 6.5, Number.NaN, Number.POSITIVE_INFINITY])(
    "refuses %s decimals with a RangeError naming the range and the value",
    (decimals) => {
      const message = `token decimals must be an integer in [0, 18], got ${decimals}`;
      expect(() => tokenScale(decimals)).toThrow(RangeError);
      expect(() => tokenScale(decimals)).toThrow(message);
      expect(() => tokenToWad(1n, decimals)).toThrow(message);
      expect(() => wadToToken(1n, decimals, "up")).toThrow(message);
    },
  );
});

// ─── bigint rounding ───

/** Exact check that `down` = ⌊a/b⌋ and `up` = ⌈a/b⌉ for any signs: down ≤ a/b < down + 1 and up − 1 < a/b ≤ up. */
function bracketsQuotient(a: bigint, b: bigint, down: bigint, up: bigint): boolean {
  // Multiply through by b, flipping the inequalities when b < 0.
  const le = (x: bigint, y: bigint) => (b > 0n ? x <= y : x >= y);
  const lt = (x: bigint, y: bigint) => (b > 0n ? x < y : x > y);
  return le(down * b, a) && lt(a, (down + 1n) * b) && lt((up - 1n) * b, a) && le(a, up * b);
}

describe("divRound", () => {
  it("rounds towards −∞ (down) and +∞ (up) for every combination of signs", () => {
    // 7/2 = 3.5, −7/2 = 7/−2 = −3.5, −7/−2 = 3.5
    expect([divRound(7n, 2n, "down"), divRound(7n, 2n, "up")]).toEqual([3n, 4n]);
    expect([divRound(-7n, 2n, "down"), divRound(-7n, 2n, "up")]).toEqual([-4n, -3n]);
    expect([divRound(7n, -2n, "down"), divRound(7n, -2n, "up")]).toEqual([-4n, -3n]);
    expect([divRound(-7n, -2n, "down"), divRound(-7n, -2n, "up")]).toEqual([3n, 4n]);
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }),
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).filter((b) => b !== 0n),
        (a, b) => {
          expect(bracketsQuotient(a, b, divRound(a, b, "down"), divRound(a, b, "up"))).toBe(true);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it("returns the exact quotient in both directions when b divides a, zero included", () => {
    for (const [a, b] of [
      [6n, 3n],
      [-6n, 3n],
      [6n, -3n],
      [-6n, -3n],
      [0n, 5n],
      [0n, -5n],
    ] as const) {
      expect(divRound(a, b, "down")).toBe(a / b);
      expect(divRound(a, b, "up")).toBe(a / b);
    }
  });

  it("refuses a zero divisor with its own message", () => {
    expect(() => divRound(1n, 0n, "down")).toThrow(RangeError);
    expect(() => divRound(1n, 0n, "up")).toThrow(/^division by zero$/);
  });
});

describe("mulDiv", () => {
  it("rounds down by default and up on request, like OpenZeppelin's Math.mulDiv", () => {
    expect(mulDiv(3n, 5n, 2n)).toBe(7n); // 7.5
    expect(mulDiv(3n, 5n, 2n, "up")).toBe(8n);
    expect(mulDiv(1n, 1n, 3n)).toBe(0n);
    expect(mulDiv(1n, 1n, 3n, "up")).toBe(1n);
    expect(mulDiv(4n, 6n, 3n, "up")).toBe(8n); // exact: no rounding either way
  });

  it("keeps the full product: no overflow past 2^256", () => {
    expect(mulDiv(1n << 255n, 1n << 255n, 1n << 254n)).toBe(1n << 256n);
    expect(mulDiv(2n ** 256n - 1n, 2n ** 256n - 1n, 2n ** 256n - 1n, "up")).toBe(2n ** 256n - 1n);
  });

  it("accepts zero factors", () => {
    expect(mulDiv(0n, 5n, 3n, "up")).toBe(0n);
    expect(mulDiv(5n, 0n, 3n, "up")).toBe(0n);
  });

  it.each([
    [-1n, 2n, 3n],
    [2n, -1n, 3n],
    [2n, 3n, 0n],
    [2n, 3n, -1n],
  ])("refuses a = %s, b = %s, c = %s and names all three", (a, b, c) => {
    expect(() => mulDiv(a, b, c)).toThrow(RangeError);
    expect(() => mulDiv(a, b, c)).toThrow(`mulDiv expects a, b ≥ 0 and c > 0 (got ${a}, ${b}, ${c})`);
  });
});

describe("absBigint and minBigint", () => {
  it("absBigint is |x|", () => {
    expect(absBigint(-5n)).toBe(5n);
    expect(absBigint(5n)).toBe(5n);
    expect(absBigint(0n)).toBe(0n);
  });

  it("minBigint is the least of its arguments wherever it stands", () => {
    expect(minBigint(3n, 1n, 2n)).toBe(1n);
    expect(minBigint(1n, 3n, 2n)).toBe(1n);
    expect(minBigint(3n, 2n, 1n)).toBe(1n);
    expect(minBigint(-4n)).toBe(-4n);
    fc.assert(
      fc.property(fc.array(fc.bigInt(), { minLength: 1, maxLength: 8 }), (xs) => {
        const m = minBigint(xs[0]!, ...xs.slice(1));
        expect(xs).toContain(m);
        expect(xs.every((x) => m <= x)).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

// ─── Black–Scholes ───

describe("float64 Black–Scholes against independent references", () => {
  // Hull's example (S 42, K 40, r 10%, σ 20%, τ half a 365-day year). References from mpmath at 40 digits
  // (mp.dps = 40; d1 = (ln(S/K) + rτ)/(σ√τ) + σ√τ/2, ncdf/npdf), rounded to 17 significant digits.
  const hull = { spot: 42, strike: 40, vol: 0.2, tauSeconds: SECONDS_PER_YEAR / 2, rate: 0.1 };
  const REF = {
    call: { price: 4.7594223928715332, delta: 0.77913129094266894 },
    put: { price: 0.80859937290009358, delta: -0.22086870905733106 },
    gamma: 0.049962670405911856,
    vega: 8.8134150596028513,
  };

  it("prices, delta, gamma and vega agree with the references to ~1e-13 relative", () => {
    const call = { ...hull, isCall: true };
    const put = { ...hull, isCall: false };
    const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(2e-13 * Math.abs(want));
    close(price(call), REF.call.price);
    close(price(put), REF.put.price);
    close(delta(call), REF.call.delta);
    close(delta(put), REF.put.delta);
    close(gamma(call), REF.gamma);
    close(gamma(put), REF.gamma);
    close(vega(call), REF.vega);
    close(vega(put), REF.vega);
  });
});

describe("expired options (τ = 0)", () => {
  const at = (isCall: boolean, spot: number) =>
    greeks({ isCall, spot, strike: 100, vol: 0.5, tauSeconds: 0, rate: 0.05 });

  it("at the money: price 0, call delta 0, put delta −1, so call − put delta is still 1", () => {
    expect(at(true, 100)).toEqual({ price: 0, delta: 0, gamma: 0, vega: 0 });
    expect(at(false, 100)).toEqual({ price: 0, delta: -1, gamma: 0, vega: 0 });
  });

  it("on either side of the strike: the payoff and its slope", () => {
    expect(at(true, 100.5)).toEqual({ price: 0.5, delta: 1, gamma: 0, vega: 0 });
    expect(at(true, 99.5)).toEqual({ price: 0, delta: 0, gamma: 0, vega: 0 });
    expect(at(false, 99.5)).toEqual({ price: 0.5, delta: -1, gamma: 0, vega: 0 });
    expect(at(false, 100.5)).toEqual({ price: 0, delta: 0, gamma: 0, vega: 0 });
    for (const spot of [50, 99.5, 100, 100.5, 150]) expect(at(true, spot).delta - at(false, spot).delta).toBe(1);
  });
});

describe("PricingDomainError", () => {
  const ok: OptionInput = { isCall: true, spot: 100, strike: 100, vol: 0.5, tauSeconds: 3_600, rate: 0 };

  it.each<[Partial<OptionInput>, string]>([
    [{ spot: 0 }, "spot must be positive and finite, got 0"],
    [{ spot: Number.POSITIVE_INFINITY }, "spot must be positive and finite, got Infinity"],
    [{ strike: 0 }, "strike must be positive and finite, got 0"],
    [{ strike: Number.NaN }, "strike must be positive and finite, got NaN"],
    [{ vol: -0.1 }, "vol must be positive and finite, got -0.1"],
    [{ tauSeconds: -1 }, "tauSeconds must be non-negative and finite, got -1"],
    [{ tauSeconds: Number.POSITIVE_INFINITY }, "tauSeconds must be non-negative and finite, got Infinity"],
    [{ rate: Number.NEGATIVE_INFINITY }, "rate must be finite, got -Infinity"],
  ])("%o is refused with a message naming the argument and its value", (bad, message) => {
    let caught: unknown;
    try {
      greeks({ ...ok, ...bad });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PricingDomainError);
    expect(caught).toBeInstanceOf(RangeError);
    expect((caught as Error).name).toBe("PricingDomainError");
    expect((caught as Error).message).toBe(message);
  });

  it("accepts the domain's closed ends: τ = 0 and a negative rate", () => {
    expect(() => greeks({ ...ok, tauSeconds: 0 })).not.toThrow();
    expect(() => greeks({ ...ok, rate: -0.02 })).not.toThrow();
  });
});

// ─── snapshot → model ───

const COSTS: CostModel = { gasCostQuote: 1.5, feeRate: 0.003, eta: 3 };
const NOW = 1_750_000_000n;

function series(p: { isCall: boolean; strikeWad: bigint; expiry: bigint; size: number; gamma?: number }): SeriesSnapshot {
  return {
    id: `0x${"00".repeat(32)}`,
    isCall: p.isCall,
    strikeWad: p.strikeWad,
    expiry: p.expiry,
    sizeWad: numberToWad(p.size),
    deltaWad: 0n,
    gammaWad: numberToWad(p.gamma ?? 0),
    vegaWad: 0n,
    markWad: 0n,
  };
}

const days = (n: number): bigint => NOW + BigInt(n * 86_400);

function snapshot(overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return vaultSnapshot({
    bookDeltaWad: 0n,
    netDeltaWad: 0n,
    gammaWad: 0n,
    vegaWad: 0n,
    oracleUpdatedAt: NOW - 10n,
    oracleAgeSeconds: 10n,
    ...overrides,
  });
}

describe("toMarketView", () => {
  it("carries the last hedge spot only when the caller knows it", () => {
    expect(toMarketView(snapshot(), COSTS, 2_950).lastHedgeSpot).toBe(2_950);
    expect("lastHedgeSpot" in toMarketView(snapshot(), COSTS)).toBe(false);
  });

  it("treats a series expiring exactly at the block's timestamp as expired, as the vault does", () => {
    // Every live gamma 0 (deep out of the money), so the |size| weights apply; the one expiring now weighs nothing.
    const book = [
      series({ isCall: true, strikeWad: 30_000n * WAD, expiry: days(36.5), size: -1 }), // 0.1 year
      series({ isCall: true, strikeWad: 30_000n * WAD, expiry: NOW, size: -1 }),
    ];
    expect(toMarketView(snapshot({ book }), COSTS).timeToExpiry).toBeCloseTo(0.1, 12);
    expect(toMarketView(snapshot({ book: [book[1]!] }), COSTS).timeToExpiry).toBe(0);
  });
});

describe("bookGreeksOffChain", () => {
  // Long 3 calls (K 3,200, 30 days), short 2 puts (K 2,800, 90 days) at spot 3,000, vol 0.8, rate 0.05: the
  // gammas and vegas offset, so the gross exposure is far from the net. mpmath (dps 40) of the same formulas:
  //   net   gamma 0.0011030718209524569   vega −77.721700976921151
  //   gross gamma 0.0023374789236483222   vega 2113.7736484666973   (Σ|size·Greek|)
  //   delta (net = gross, both legs positive) 2.0092686365790679
  const book = [
    series({ isCall: true, strikeWad: 3_200n * WAD, expiry: days(30), size: 3 }),
    series({ isCall: false, strikeWad: 2_800n * WAD, expiry: days(90), size: -2 }),
  ];

  it("reports the gross exposure Σ|size·Greek| of offsetting legs, not the net", () => {
    const off = bookGreeksOffChain(snapshot({ book }));
    expect(wadToNumber(off.deltaWad)).toBeCloseTo(2.0092686365790679, 13);
    expect(wadToNumber(off.grossDeltaWad)).toBeCloseTo(2.0092686365790679, 13);
    expect(wadToNumber(off.gammaWad)).toBeCloseTo(0.0011030718209524569, 16);
    expect(wadToNumber(off.grossGammaWad)).toBeCloseTo(0.0023374789236483222, 16);
    expect(wadToNumber(off.vegaWad)).toBeCloseTo(-77.721700976921151, 10);
    expect(wadToNumber(off.grossVegaWad)).toBeCloseTo(2113.7736484666973, 10);
  });

  it("leaves out a series expiring exactly at the block's timestamp, even one deep in the money", () => {
    const expiringNow = series({ isCall: true, strikeWad: 1_000n * WAD, expiry: NOW, size: -7 });
    expect(bookGreeksOffChain(snapshot({ book: [...book, expiringNow] }))).toEqual(bookGreeksOffChain(snapshot({ book })));
    expect(Object.values(bookGreeksOffChain(snapshot({ book: [expiringNow] })))).toEqual([0n, 0n, 0n, 0n, 0n, 0n]);
  });

  // The on-chain pricing domain is [1e12, 1e33] wad, both ends included (VaultLens: spot ≥ MIN && spot ≤ MAX).
  // At each end an at-the-money call, 30 days, vol 0.8, rate 0.05 has delta 0.55274300979012190 (mpmath; the
  // Black–Scholes delta is scale-free), and gamma 1.724202002603940838e6 / 1.724202002603940838e-15 per unit.
  it.each([
    ["the lowest priced spot, 1e12 wad", 10n ** 12n, 1.724202002603940838e6],
    ["the highest priced spot, 1e33 wad", 10n ** 33n, 1.724202002603940838e-15],
  ])("prices the book at %s", (_, spotWad, gammaPerUnit) => {
    const atTheMoney = [series({ isCall: true, strikeWad: spotWad, expiry: days(30), size: -1 })];
    const off = bookGreeksOffChain(snapshot({ book: atTheMoney, spotWad }));
    expect(wadToNumber(off.deltaWad)).toBeCloseTo(-0.5527430097901219, 12);
    expect(off.gammaWad).toBeLessThan(0n);
    expect(Math.abs(wadToNumber(off.gammaWad) + gammaPerUnit)).toBeLessThanOrEqual(1e-9 * gammaPerUnit + 1e-18);
  });

  it.each([
    ["one wei below the lowest", 10n ** 12n - 1n],
    ["one wei above the highest", 10n ** 33n + 1n],
  ])("reports all zero with the spot %s", (_, spotWad) => {
    const atTheMoney = [series({ isCall: true, strikeWad: spotWad, expiry: days(30), size: -1 })];
    expect(Object.values(bookGreeksOffChain(snapshot({ book: atTheMoney, spotWad })))).toEqual([0n, 0n, 0n, 0n, 0n, 0n]);
  });
});

describe("greeksDisagreement", () => {
  const wad = (x: number) => numberToWad(x);
  const greeksWad = (d: number, g: number, v: number) => ({ deltaWad: wad(d), gammaWad: wad(g), vegaWad: wad(v) });
  const onChain = greeksWad(100, 1, 100);

  it.each([
    // relative differences (delta, gamma, vega) → the worst; the runner-up sits in each other position
    ["delta", greeksWad(110, 1.01, 105)], // 0.091, 0.0099, 0.048
    ["delta", greeksWad(110, 1.05, 101)], // 0.091, 0.048, 0.0099
    ["gamma", greeksWad(101, 1.1, 105)], // 0.0099, 0.091, 0.048
    ["gamma", greeksWad(105, 1.1, 101)], // 0.048, 0.091, 0.0099
    ["vega", greeksWad(105, 1.01, 110)], // 0.048, 0.0099, 0.091
    ["vega", greeksWad(101, 1.05, 110)], // 0.0099, 0.048, 0.091
  ] as const)("blames %s when its relative difference is the largest", (worst, offChain) => {
    const d = greeksDisagreement(onChain, offChain);
    expect(d.worst).toBe(worst);
    expect(d.maxRelative).toBe(d[worst].relative);
    expect(d.maxRelative).toBeCloseTo(10 / 110, 12);
  });

  it("breaks ties in the order delta, gamma, vega", () => {
    expect(greeksDisagreement(onChain, onChain).worst).toBe("delta");
    // 25/125 = 0.25/1.25 = 0.2 exactly in float64: a true tie
    expect(greeksDisagreement(onChain, greeksWad(125, 1.25, 100)).worst).toBe("delta");
    expect(greeksDisagreement(onChain, greeksWad(125, 1, 125)).worst).toBe("delta");
    expect(greeksDisagreement(onChain, greeksWad(100, 1.25, 125)).worst).toBe("gamma");
  });

  it("is symmetric: the absolute difference does not depend on which side is larger", () => {
    const a = greeksWad(100, 1, 100);
    const b = greeksWad(99.5, 1.25, 100.75);
    const ab = greeksDisagreement(a, b);
    const ba = greeksDisagreement(b, a);
    expect([ab.delta.absolute, ab.gamma.absolute, ab.vega.absolute]).toEqual([0.5, 0.25, 0.75]);
    expect([ba.delta.absolute, ba.gamma.absolute, ba.vega.absolute]).toEqual([0.5, 0.25, 0.75]);
  });

  it("measures a near-zero gamma against gamma's own noise floor (1e-12)", () => {
    const zero = { deltaWad: 0n, gammaWad: 0n, vegaWad: 0n };
    const d = greeksDisagreement(zero, { ...zero, gammaWad: 100n }); // 1e-16
    expect(d.gamma.relative).toBeCloseTo(1e-4, 15);
    expect(d.worst).toBe("gamma");
    expect(greeksDisagreement(zero, { ...zero, gammaWad: 100n }, { gamma: 1e-15 }).gamma.relative).toBeCloseTo(0.1, 12);
  });

  it("reports 0, not NaN, when both sides are zero and the floors are zero", () => {
    const zero = { deltaWad: 0n, gammaWad: 0n, vegaWad: 0n };
    const d = greeksDisagreement(zero, zero, { delta: 0, gamma: 0, vega: 0 });
    expect([d.delta.relative, d.gamma.relative, d.vega.relative, d.maxRelative]).toEqual([0, 0, 0, 0]);
  });
});
