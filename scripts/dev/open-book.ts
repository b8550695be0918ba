/**
 * Gives a freshly deployed vault (from `npm run deploy`) something to hedge, on a local node: the deployer
 * deposits capital, lists a 30-day ATM call and an OTM call, and account #2 buys some of each. Reads
 * `deployments/<chainId>.json`. Running it again adds another round of buying.
 *
 *   npx hardhat run --network localhost scripts/dev/open-book.ts
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
const now = (await publicClient.getBlock()).timestamp;
const expiry = now - (now % 86_400n) + 30n * 86_400n;
const ids: `0x${string}`[] = [];
const [live] = await vault.read.book();
for (const strike of [3000n, 3300n]) {
  const strikeWad = strike * 10n ** 18n;
  const id = await vault.read.seriesId([true, strikeWad, expiry]);
  if (!live.includes(id)) await wait(await vault.write.listSeries([true, strikeWad, expiry]));
  ids.push(id);
}

// A buyer takes 20 ATM and 10 OTM calls.
for (const [id, size] of [[ids[0]!, 20n], [ids[1]!, 10n]] as const) {
  const sizeWad = size * 10n ** 18n;
  const premium = await vault.read.quoteOpen([id, sizeWad]);
  await wait(await quote.write.mint([buyer!.account.address, premium]));
  await wait(await quote.write.approve([vault.address, premium], { account: buyer!.account }));
  await wait(await vault.write.openPosition([id, sizeWad, premium, buyer!.account.address], { account: buyer!.account }));
}
const [series] = await vault.read.book();
const netDeltaWad = await vault.read.netDeltaWad();
console.log(`vault ${vault.address}: ${series.length} series, net delta ${Number(netDeltaWad) / 1e18}`);
