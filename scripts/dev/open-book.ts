/**
 * Gives a freshly deployed vault (from `npm run deploy`) something to hedge, on a local node: the deployer
 * deposits capital, lists 30-day series, and account #2 buys some of each. Reads `deployments/<chainId>.json`.
 * Running it again adds another round of buying.
 *
 *   npx hardhat run --network localhost scripts/dev/open-book.ts             # BOOK=calls: 20 ATM + 10 OTM calls
 *   BOOK=puts npx hardhat run --network localhost scripts/dev/open-book.ts   # 40 ATM puts: a long delta, hedged short on the perp
 *   BOOK=mixed npx hardhat run --network localhost scripts/dev/open-book.ts  # 20 ATM calls + 30 ATM puts: delta crosses zero
 */
import { readFile } from "node:fs/promises";
import hre from "hardhat";
import { parseUnits } from "viem";

const { viem } = await hre.network.getOrCreate();
const publicClient = await viem.getPublicClient();
const [deployer, , buyer] = await viem.getWalletClients();
const chainId = await publicClient.getChainId();
const deployment = JSON.parse(await readFile(new URL(`../../deployments/${chainId}.json`, import.meta.url), "utf8")) as {
  vaults: { address: `0x${string}`; quote: `0x${string}` }[];
};
const v = deployment.vaults[0];
if (!v) throw new Error(`deployments/${chainId}.json has no vault yet: run npm run deploy first`);
const vault = await viem.getContractAt("IOptionVault", v.address);
const quote = await viem.getContractAt("MockERC20", v.quote);
const wait = async (hash: `0x${string}`) => {
  const r = await publicClient.waitForTransactionReceipt({ hash });
  if (r.status !== "success") throw new Error(`transaction ${hash} reverted`);
};

// Capital: 2,000,000 quote units.
const capital = parseUnits("2000000", 6);
await wait(await quote.write.mint([deployer!.account.address, capital]));
await wait(await quote.write.approve([vault.address, capital]));
await wait(await vault.write.deposit([capital, deployer!.account.address]));

// Series: list them unless already there.
const BOOKS = {
  calls: [[true, 3000n, 20n], [true, 3300n, 10n]],
  puts: [[false, 3000n, 40n]],
  mixed: [[true, 3000n, 20n], [false, 3000n, 30n]],
} as const satisfies Record<string, readonly (readonly [isCall: boolean, strike: bigint, size: bigint])[]>;
const bookName = (process.env.BOOK?.trim() || "calls") as keyof typeof BOOKS;
if (!(bookName in BOOKS)) throw new Error(`BOOK must be one of ${Object.keys(BOOKS).join(", ")}, got ${process.env.BOOK}`);
const now = (await publicClient.getBlock()).timestamp;
const expiry = now - (now % 86_400n) + 30n * 86_400n;
const orders: [`0x${string}`, bigint][] = [];
const [live] = await vault.read.book();
for (const [isCall, strike, size] of BOOKS[bookName]) {
  const strikeWad = strike * 10n ** 18n;
  const id = await vault.read.seriesId([isCall, strikeWad, expiry]);
  if (!live.includes(id)) await wait(await vault.write.listSeries([isCall, strikeWad, expiry]));
  orders.push([id, size]);
}

// A buyer takes them.
for (const [id, size] of orders) {
  const sizeWad = size * 10n ** 18n;
  const premium = await vault.read.quoteOpen([id, sizeWad]);
  await wait(await quote.write.mint([buyer!.account.address, premium]));
  await wait(await quote.write.approve([vault.address, premium], { account: buyer!.account }));
  await wait(await vault.write.openPosition([id, sizeWad, premium, buyer!.account.address], { account: buyer!.account }));
}
const [series] = await vault.read.book();
const netDeltaWad = await vault.read.netDeltaWad();
console.log(`vault ${vault.address}: ${series.length} series, net delta ${Number(netDeltaWad) / 1e18}`);
