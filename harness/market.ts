/** Market moves for local chains: an arbitrageur that brings the AMM to a target price. */
import type { Address } from "viem";
import { priceE8 as toPriceE8, type HardhatViem } from "./system.ts";

export const priceE8 = toPriceE8;

/**
 * Swaps on the AMM (minting what it needs: the admin holds the mock tokens' minter role) until its price is
 * `price` quote per underlying, up to rounding. Returns the AMM's price afterwards.
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
  const quote = await viem.getContractAt("MockERC20", p.quote);
  const underlying = await viem.getContractAt("MockERC20", p.underlying);
  const wait = (hash: `0x${string}`) => publicClient.waitForTransactionReceipt({ hash });
  const [quoteDecimals, underlyingDecimals] = [Number(await quote.read.decimals()), Number(await underlying.read.decimals())];
  const [ru, rq] = await amm.read.getReserves();
  const scale = 10 ** (underlyingDecimals - quoteDecimals);
  // x·y = k with price = (rq/10^qd)/(ru/10^ud): the target underlying reserve is sqrt(k·scale/price).
  const ruTarget = BigInt(Math.floor(Math.sqrt((Number(ru) * Number(rq) * scale) / price)));
  const deadline = (await publicClient.getBlock()).timestamp + 600n;
  if (ruTarget < ru) {
    const amountIn = await amm.read.quoteExactOut([p.quote, ru - ruTarget]);
    await wait(await quote.write.mint([me, amountIn]));
    await wait(await quote.write.approve([p.amm, amountIn]));
    await wait(await amm.write.swapExactIn([p.quote, amountIn, 0n, me, deadline]));
  } else if (ruTarget > ru) {
    const amountIn = ruTarget - ru;
    await wait(await underlying.write.mint([me, amountIn]));
    await wait(await underlying.write.approve([p.amm, amountIn]));
    await wait(await amm.write.swapExactIn([p.underlying, amountIn, 0n, me, deadline]));
  }
  const [ru2, rq2] = await amm.read.getReserves();
  return (Number(rq2) / 10 ** quoteDecimals) / (Number(ru2) / 10 ** underlyingDecimals);
}
