/**
 * The one boundary between on-chain units (`bigint`: wad, token decimals) and the model's `number`s, plus the
 * bigint fixed-point helpers that mirror the contracts' `Math.mulDiv` (OpenZeppelin) rounding.
 *
 * Conversions say their rounding: `wadToNumber` and `numberToWad` round to nearest (the model has no side to
 * favour); `wadToToken` takes the direction from the caller, who knows which side the error must fall on.
 */

export const WAD = 10n ** 18n;
export const BPS = 10_000n;
/** Largest number of token decimals the vault accepts (its constructor reverts above). */
export const MAX_TOKEN_DECIMALS = 18;

/** Direction of an integer rounding: `down` towards −∞, `up` towards +∞. */
export type Rounding = "down" | "up";

/** 2^53: integers up to here are exact doubles. */
const MAX_EXACT = 2n ** 53n;
const GWEI = 10n ** 9n;

/**
 * A wad as a float64, correctly rounded: the exact decimal `int.fraction` is written out and parsed, and
 * `Number(string)` rounds to nearest. So the only error is float64's own (≤ 2^-53 relative), whereas
 * `Number(x) / 1e18` rounds twice once |x| > 2^53 wei (9e-3 units).
 */
export function wadToNumber(x: bigint): number {
  const negative = x < 0n;
  const abs = negative ? -x : x;
  // Fast paths, each a single IEEE division of two exact doubles, hence correctly rounded: up to 2^53 wei; and
  // wads with nine trailing decimal zeros (prices from 8-decimal oracles, round parameters) up to 2^53 gwei.
  if (abs <= MAX_EXACT) return (negative ? -Number(abs) : Number(abs)) / 1e18;
  if (abs % GWEI === 0n) {
    const m = abs / GWEI;
    if (m <= MAX_EXACT) return (negative ? -Number(m) : Number(m)) / 1e9;
  }
  const integer = abs / WAD;
  const fraction = abs % WAD;
  const value = fraction === 0n ? Number(integer) : Number(`${integer}.${fraction.toString().padStart(18, "0")}`);
  return negative ? -value : value;
}

/**
 * A float64 as a wad: the shortest decimal that reads back as `x` (JavaScript's own `String(x)`, the number as
 * it was written or printed) rounded to 18 decimals, half away from zero. So `numberToWad(0.1) === 10n ** 17n`
 * (not the binary value's 100000000000000005.55… wei), and `numberToWad(n / 10 ** k) === n · 10^(18−k)` for
 * integers |n| < 10^15 (fifteen digits always read back uniquely) and k ≤ 18. Throws `RangeError` on NaN and
 * ±Infinity.
 */
export function numberToWad(x: number): bigint {
  if (!Number.isFinite(x)) throw new RangeError(`numberToWad: ${x} is not a finite number`);
  if (x === 0) return 0n;
  // String(|x|) is "123.456", "1.5e-7" or "1e+21": digits, an optional point, an optional exponent.
  const [mantissa = "", exponent = "0"] = String(Math.abs(x)).split("e");
  const [integerDigits = "", fractionDigits = ""] = mantissa.split(".");
  const digits = BigInt(integerDigits + fractionDigits);
  // |x| = digits · 10^(exponent − fractionDigits.length), so |x| in wad = digits · 10^power.
  const power = Number(exponent) - fractionDigits.length + 18;
  let abs: bigint;
  if (power >= 0) {
    abs = digits * 10n ** BigInt(power);
  } else {
    const divisor = 10n ** BigInt(-power);
    abs = (digits + divisor / 2n) / divisor;
  }
  return x < 0 ? -abs : abs;
}

/**
 * A token amount (its own decimals) as a float64 in whole tokens, `Number(amount) / 10^decimals`: rounded twice
 * (the amount once past 2^53, then the division), so within a few ulps — for the model's view of a pool, never for
 * an amount sent on-chain (`wadToToken` is exact).
 */
export function tokenToNumber(amount: bigint, decimals: number): number {
  return Number(amount) / 10 ** decimals;
}

/** 10^(18 − decimals): token amount × scale = wad. Throws `RangeError` outside the vault's [0, 18]. */
export function tokenScale(decimals: number): bigint {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_TOKEN_DECIMALS) {
    throw new RangeError(`token decimals must be an integer in [0, ${MAX_TOKEN_DECIMALS}], got ${decimals}`);
  }
  return 10n ** BigInt(MAX_TOKEN_DECIMALS - decimals);
}

/** A token amount (its own decimals) as a wad; exact. */
export function tokenToWad(amount: bigint, decimals: number): bigint {
  return amount * tokenScale(decimals);
}

/** A wad as a token amount in `decimals`, rounded `down` (towards −∞) or `up` (towards +∞). */
export function wadToToken(wad: bigint, decimals: number, rounding: Rounding): bigint {
  return divRound(wad, tokenScale(decimals), rounding);
}

/** `a / b` rounded towards −∞ (`down`) or +∞ (`up`), for any signs; b ≠ 0. */
export function divRound(a: bigint, b: bigint, rounding: Rounding): bigint {
  if (b === 0n) throw new RangeError("division by zero");
  const q = a / b; // truncates towards zero
  if (q * b === a) return q;
  const positive = a < 0n === b < 0n;
  if (rounding === "down") return positive ? q : q - 1n;
  return positive ? q + 1n : q;
}

/** `a·b/c` on non-negative integers, rounded like OpenZeppelin's `Math.mulDiv` (`Floor` or `Ceil`). */
export function mulDiv(a: bigint, b: bigint, c: bigint, rounding: Rounding = "down"): bigint {
  if (a < 0n || b < 0n || c <= 0n) throw new RangeError(`mulDiv expects a, b ≥ 0 and c > 0 (got ${a}, ${b}, ${c})`);
  return divRound(a * b, c, rounding);
}

export function absBigint(x: bigint): bigint {
  return x < 0n ? -x : x;
}

export function minBigint(first: bigint, ...rest: bigint[]): bigint {
  let m = first;
  for (const x of rest) if (x < m) m = x;
  return m;
}
