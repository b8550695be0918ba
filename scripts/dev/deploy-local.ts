/**
 * Deploys a complete local system to a running node and writes `deployments/<chainId>.json` for the keeper:
 *
 *   npx hardhat node                        # or: npx anvil
 *   npx hardhat run --network localhost scripts/dev/deploy-local.ts
 *
 * Uses the node's unlocked default accounts: #0 admin/manager/LP, #1 keeper, #2 option buyer. It opens a book
 * (ATM and OTM calls, a put) so the vault has a delta to hedge. For public networks see the deploy issue.
 */
import { mkdir, writeFile } from "node:fs/promises";
import hre from "hardhat";
import { buyOptions, deploySystem, listSeries, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "../../harness/system.ts";

const { viem } = await hre.network.getOrCreate();
const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
const buyer = (await viem.getWalletClients())[2]!.account.address;
const chainId = await sys.publicClient.getChainId();

const series = [
  await listSeries(sys, true, 3000, 30),
  await listSeries(sys, true, 3300, 30),
  await listSeries(sys, false, 2700, 14),
];
await buyOptions(sys, buyer, series[0]!.id, 20);
await buyOptions(sys, buyer, series[1]!.id, 10);
await buyOptions(sys, buyer, series[2]!.id, 5);

const deployment = {
  chainId,
  lens: sys.lens.address,
  vaults: [
    {
      address: sys.vault.address,
      quoteDecimals: QUOTE_DECIMALS,
      underlyingDecimals: UNDERLYING_DECIMALS,
      quote: sys.quote.address,
      underlying: sys.underlying.address,
      oracle: sys.oracle.address,
      amm: sys.amm.address,
      upkeep: sys.upkeep.address,
    },
  ],
  keeper: sys.keeper.account.address,
};
await mkdir(new URL("../../deployments/", import.meta.url), { recursive: true });
const file = new URL(`../../deployments/${chainId}.json`, import.meta.url);
await writeFile(file, `${JSON.stringify(deployment, null, 2)}\n`);

const netDeltaWad = await sys.vault.read.netDeltaWad();
console.log(`deployed to chain ${chainId}: vault ${sys.vault.address}, lens ${sys.lens.address}`);
console.log(`net delta ${Number(netDeltaWad) / 1e18} WETH; keeper role: ${sys.keeper.account.address}`);
console.log(`wrote ${file.pathname}`);
