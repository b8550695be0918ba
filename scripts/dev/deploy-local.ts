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
import { deployLocalBook, localDeployment } from "../../harness/localBook.ts";

const { viem } = await hre.network.getOrCreate();
const sys = await deployLocalBook(viem);
const chainId = await sys.publicClient.getChainId();
const deployment = localDeployment(sys, chainId);
await mkdir(new URL("../../deployments/", import.meta.url), { recursive: true });
const file = new URL(`../../deployments/${chainId}.json`, import.meta.url);
await writeFile(file, `${JSON.stringify(deployment, null, 2)}\n`);

const netDeltaWad = await sys.vault.read.netDeltaWad();
console.log(`deployed to chain ${chainId}: vault ${sys.vault.address}, lens ${sys.lens.address}`);
console.log(`net delta ${Number(netDeltaWad) / 1e18} WETH; keeper role: ${sys.keeper.account.address}`);
console.log(`wrote ${file.pathname}`);
