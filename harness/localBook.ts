/**
 * The README's local system: the deploy defaults on a 10,000-deep pool with 5,000,000 in the vault, and a book
 * with a delta to hedge (ATM and OTM calls, a put). `scripts/dev/deploy-local.ts` writes it to a running node for
 * the README's walkthrough; the end-to-end test of that walkthrough builds the very same one.
 */
import { buyOptions, deploySystem, listSeries, QUOTE_DECIMALS, UNDERLYING_DECIMALS, type HardhatViem, type System } from "./system.ts";

/**
 * Deploys the system and opens the book: 20 ATM calls (3000, 30 d), 10 OTM calls (3300, 30 d), 5 puts (2700, 14 d),
 * bought by the node's account #2.
 */
export async function deployLocalBook(viem: HardhatViem): Promise<System> {
  const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  const series = [await listSeries(sys, true, 3000, 30), await listSeries(sys, true, 3300, 30), await listSeries(sys, false, 2700, 14)];
  await buyOptions(sys, buyer, series[0]!.id, 20);
  await buyOptions(sys, buyer, series[1]!.id, 10);
  await buyOptions(sys, buyer, series[2]!.id, 5);
  return sys;
}

/** The deployments file the keeper reads (`DEPLOYMENTS_FILE`) for `sys` on chain `chainId`. */
export function localDeployment(sys: System, chainId: number) {
  return {
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
}
