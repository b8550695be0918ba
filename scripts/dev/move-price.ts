/**
 * Moves the market on a local node: sets the oracle to PRICE and arbitrages the AMM to it, as a real
 * arbitrageur would. Reads `deployments/<chainId>.json`.
 *
 *   PRICE=3300 npx hardhat run --network localhost scripts/dev/move-price.ts
 */
import { readFile } from "node:fs/promises";
import hre from "hardhat";
import { arbitrageTo, priceE8 } from "../../harness/market.ts";

const price = Number(process.env.PRICE);
if (!Number.isFinite(price) || price <= 0) {
  console.error("PRICE must be a positive number, e.g. PRICE=3300");
  process.exit(2);
}
const { viem } = await hre.network.getOrCreate();
const publicClient = await viem.getPublicClient();
const chainId = await publicClient.getChainId();
const deployment = JSON.parse(
  await readFile(new URL(`../../deployments/${chainId}.json`, import.meta.url), "utf8"),
) as { vaults: { oracle: `0x${string}`; amm: `0x${string}`; quote: `0x${string}`; underlying: `0x${string}` }[] };
const v = deployment.vaults[0]!;
const oracle = await viem.getContractAt("MockOracle", v.oracle);
await publicClient.waitForTransactionReceipt({ hash: await oracle.write.setPrice([priceE8(price)]) });
const ammPrice = await arbitrageTo(viem, { amm: v.amm, quote: v.quote, underlying: v.underlying }, price);
console.log(`oracle set to ${price}; AMM now at ${ammPrice.toFixed(2)}`);
