/**
 * The market's arbitrageur, one copy: `realign` computes the swap that brings a constant-product pool to an oracle
 * answer, in exact bigint, as `contracts/test/MarketDriver.step` does on chain. The simulator's model replays the
 * pool with it (so a model run sees the very reserves a fork does), and every chain-side arbitrageur of the
 * harness sends what it computes — they differ only in how they send: `arbitrageTo` mints, approves, swaps and
 * waits (tests, dev scripts, the bench); the demo and the soak swap from an inventory funded once
 * (`fundArbitrageur`) without waiting, the soak with a chosen priority fee.
 *
 * Pure above the line, chain reads and writes below it; nothing here imports Hardhat, so the simulator's worker
 * threads load it cheaply.
 */
import { maxUint256, type Address, type PublicClient } from "viem";
import { mockAmmAbi } from "../keeper/abi.ts";
import { getAmountIn, getAmountOut } from "../keeper/sizing/amm.ts";
import { ORACLE_DECIMALS, priceE8 as toPriceE8, quoteUnits, underlyingUnits, type HardhatViem, type System } from "./system.ts";

export const priceE8 = toPriceE8;

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
 * with the exact input `quoteExactOut` asks, or sell r* − rU unless that pays out no quote at all. The fee stays
 * in the pool, so a quote-in realignment lands slightly past the answer.
 *
 * @param scale - 10^(underlying decimals − quote decimals + oracle decimals): the pool's price in oracle units is
 *   rQ · scale / rU.
 * @param feeBps - The pool's fee (`MockAmm.feeBps`).
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

/** `realign`'s scale for a pair quoted against an oracle of `ORACLE_DECIMALS`. */
export function marketScale(p: { quoteDecimals: number; underlyingDecimals: number }): bigint {
  return 10n ** BigInt(p.underlyingDecimals - p.quoteDecimals + ORACLE_DECIMALS);
}

// ── on a chain ────────────────────────────────────────────────────────────────────────────────────────────────

/** A pool as the arbitrageur trades it: its addresses, and what does not change (decimals, fee). */
export interface Pool {
  amm: Address;
  quote: Address;
  underlying: Address;
  quoteDecimals: number;
  underlyingDecimals: number;
  feeBps: bigint;
}

/** The public client's one call the arbitrageur needs (a Hardhat or a plain viem client). */
type Reader = Pick<PublicClient, "readContract">;

const decimalsAbi = [
  { type: "function", name: "decimals", stateMutability: "view", inputs: [], outputs: [{ type: "uint8" }] },
] as const;

/** Reads a pool's fee and its tokens' decimals, once. */
export async function readPool(client: Reader, p: { amm: Address; quote: Address; underlying: Address }): Promise<Pool> {
  const [feeBps, quoteDecimals, underlyingDecimals] = await Promise.all([
    client.readContract({ address: p.amm, abi: mockAmmAbi, functionName: "feeBps" }),
    client.readContract({ address: p.quote, abi: decimalsAbi, functionName: "decimals" }),
    client.readContract({ address: p.underlying, abi: decimalsAbi, functionName: "decimals" }),
  ]);
  return { ...p, feeBps, quoteDecimals: Number(quoteDecimals), underlyingDecimals: Number(underlyingDecimals) };
}

/** A swap that realigns a pool: `swapExactIn(tokenIn, amountIn, …)`. */
export interface ArbitrageSwap {
  tokenIn: Address;
  amountIn: bigint;
  /** The pool after the swap, if nothing else trades first. */
  realignment: Realignment;
}

/**
 * The swap that brings `pool` to the oracle answer `answer` (`ORACLE_DECIMALS`), from its reserves now: `realign`
 * on what the chain holds. `undefined` when there is nothing to trade, or when the pool is already within
 * `minDeviationBps` of the answer (a dust trade only costs gas).
 */
export async function arbitrageSwap(client: Reader, pool: Pool, answer: bigint, options: { minDeviationBps?: number } = {}): Promise<ArbitrageSwap | undefined> {
  const [underlying, quote] = await client.readContract({ address: pool.amm, abi: mockAmmAbi, functionName: "getReserves" });
  const scale = marketScale(pool);
  if (options.minDeviationBps !== undefined) {
    // |pool price / answer − 1| in bps, pool price = quote · scale / underlying.
    const deviationBps = Number(((quote * scale - answer * underlying) * 10n ** 8n) / (answer * underlying)) / 1e4;
    if (Math.abs(deviationBps) < options.minDeviationBps) return undefined;
  }
  const realignment = realign({ underlying, quote }, answer, scale, pool.feeBps);
  if (realignment.amountIn === 0n) return undefined;
  return { tokenIn: realignment.quoteIn ? pool.quote : pool.underlying, amountIn: realignment.amountIn, realignment };
}

/** The arbitrageur's inventory (the admin's), minted and approved once, so each realignment costs one swap. */
export async function fundArbitrageur(sys: Pick<System, "admin" | "amm" | "quote" | "underlying" | "wait">): Promise<void> {
  const me = sys.admin.account.address;
  await sys.wait(await sys.quote.write.mint([me, quoteUnits(1_000_000_000)]));
  await sys.wait(await sys.underlying.write.mint([me, underlyingUnits(1_000_000)]));
  await sys.wait(await sys.quote.write.approve([sys.amm.address, maxUint256]));
  await sys.wait(await sys.underlying.write.approve([sys.amm.address, maxUint256]));
}

/**
 * Swaps on the AMM (minting what it needs: the admin holds the mock tokens' minter role) until its price is
 * `price` quote per underlying, as `realign` puts it, and waits for each transaction. Returns the AMM's price
 * afterwards.
 */
export async function arbitrageTo(
  viem: HardhatViem,
  p: { amm: Address; quote: Address; underlying: Address },
  price: number,
): Promise<number> {
  const [admin] = await viem.getWalletClients();
  const me = admin!.account.address;
  const publicClient = await viem.getPublicClient();
  const amm = await viem.getContractAt("MockAmm", p.amm);
  const wait = (hash: `0x${string}`) => publicClient.waitForTransactionReceipt({ hash });
  const pool = await readPool(publicClient, p);
  const swap = await arbitrageSwap(publicClient, pool, priceE8(price));
  if (swap) {
    const token = await viem.getContractAt("MockERC20", swap.tokenIn);
    const deadline = (await publicClient.getBlock()).timestamp + 600n;
    await wait(await token.write.mint([me, swap.amountIn]));
    await wait(await token.write.approve([p.amm, swap.amountIn]));
    await wait(await amm.write.swapExactIn([swap.tokenIn, swap.amountIn, 0n, me, deadline]));
  }
  const [ru, rq] = await amm.read.getReserves();
  return Number(rq) / 10 ** pool.quoteDecimals / (Number(ru) / 10 ** pool.underlyingDecimals);
}
