/**
 * The simulated market's integer math, shared by both modes: model mode replays `MarketDriver.step` with it, and
 * fork mode sends the same answers to the contract. Exact bigint, so a model run sees the very reserves the fork
 * does.
 */
import { getAmountIn, getAmountOut } from "../keeper/sizing/amm.ts";

/** ⌊√n⌋ for n ≥ 0 (OpenZeppelin's `Math.sqrt` rounds down too). */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError(`isqrt of a negative number ${n}`);
  if (n < 2n) return n;
  // Newton from just above the root (the float estimate, padded past its rounding error): decreases
  // monotonically to ⌊√n⌋, in one or two steps from such a start.
  const estimate = Math.sqrt(Number(n));
  let x = Number.isFinite(estimate) ? BigInt(Math.ceil(estimate * (1 + 1e-12))) + 1n : 1n << BigInt((n.toString(2).length >> 1) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export interface Reserves {
  underlying: bigint;
  quote: bigint;
}

/** What one `MarketDriver.step(answer)` does to the pool: the new reserves and the arbitrage swap. */
export interface Realignment {
  reserves: Reserves;
  quoteIn: boolean;
  amountIn: bigint;
  amountOut: bigint;
}

/**
 * `MarketDriver.step`'s arbitrage: r* = ⌊√(rU · rQ · scale / answer)⌋ (mulDiv rounds down), then buy rU − r*
 * with the exact input `quoteExactOut` asks, or sell r* − rU unless that pays out no quote at all.
 */
export function realign(reserves: Reserves, answer: bigint, scale: bigint, feeBps: bigint): Realignment {
  if (answer <= 0n) throw new RangeError(`oracle answer must be positive, got ${answer}`);
  const { underlying: ru, quote: rq } = reserves;
  const target = isqrt((ru * rq * scale) / answer);
  if (target < ru) {
    const amountIn = getAmountIn(ru - target, rq, ru, feeBps);
    const amountOut = getAmountOut(amountIn, rq, ru, feeBps);
    return { reserves: { underlying: ru - amountOut, quote: rq + amountIn }, quoteIn: true, amountIn, amountOut };
  }
  if (target > ru) {
    const amountIn = target - ru;
    const amountOut = getAmountOut(amountIn, ru, rq, feeBps);
    // A dust sale paying out no quote would revert in the pool (MarketDriver skips it): no trade.
    if (amountOut > 0n) {
      return { reserves: { underlying: ru + amountIn, quote: rq - amountOut }, quoteIn: false, amountIn, amountOut };
    }
  }
  return { reserves, quoteIn: false, amountIn: 0n, amountOut: 0n };
}
