/**
 * The lens-read gas model (keeper/chain/lensChunks.ts) against measured reads: its constants are hand-copied from
 * `eth_estimateGas`, and a chunk the model underestimates fails on a node's call-gas cap (and is retried split).
 * One vault per read, its storage cold: the most a vault can cost (a repeated vault is warm and cheaper).
 */
import hre from "hardhat";
import { encodeFunctionData } from "viem";
import { describe, expect, it } from "vitest";
import { rebalanceGasWithSeries } from "../../harness/gas.ts";
import { LENS_CALL_BASE_GAS, lensCallGas, vaultReadGas } from "../../keeper/chain/lensChunks.ts";

const { viem } = await hre.network.create();
const buyer = (await viem.getWalletClients())[2]!.account.address;

describe("lens-read gas model against measured reads", () => {
  for (const venue of ["amm", "perp"] as const) {
    it(`estimates a ${venue === "perp" ? "perp vault (position open)" : "spot-only vault"} at 1, 10 and 32 series within [measured, 1.25 × measured], light and full`, async () => {
      for (const series of [1, 10, 32]) {
        const { sys } = await rebalanceGasWithSeries(viem, series, buyer, venue);
        for (const full of [false, true]) {
          const data = encodeFunctionData({ abi: sys.lens.abi, functionName: "read", args: [[sys.vault.address], full, sys.keeper.account.address] });
          const measured = Number(await sys.publicClient.estimateGas({ to: sys.lens.address, data }));
          const perpExtra = venue === "perp" ? vaultReadGas(series, full, true) - vaultReadGas(series, full) : 0;
          const estimate = lensCallGas([series], full) + perpExtra;
          const label = `${venue}, ${series} series, ${full ? "full" : "light"}: estimate ${estimate}, measured ${measured}`;
          expect(estimate, label).toBeGreaterThanOrEqual(measured);
          expect(estimate, label).toBeLessThanOrEqual(1.25 * measured);
          expect(measured, label).toBeGreaterThan(LENS_CALL_BASE_GAS);
        }
      }
    });
  }
});
