/**
 * Acceptance bounds on gas. Gas on the simulated EVM is deterministic, so these are exact measurements of the
 * same scenarios `npm run gas` reports, not timing assertions.
 */
import hre from "hardhat";
import { describe, expect, it } from "vitest";
import { rebalanceGasWithSeries } from "../harness/gas.ts";

const { viem } = await hre.network.create();
const buyer = (await viem.getWalletClients())[2]!.account.address;

describe("rebalance gas", () => {
  it("a rebalance with 10 live series uses at most 150,000 gas (receipt gasUsed)", async () => {
    const { gas, firstGas } = await rebalanceGasWithSeries(viem, 10, buyer);
    console.log(`rebalance, 10 live series: ${gas} gas (vault's first-ever hedge: ${firstGas})`);
    expect(gas).toBeLessThanOrEqual(150_000);
  });

  it("a perp hedge with 10 live series uses at most 150,000 gas too (issue 14)", async () => {
    const { gas, firstGas } = await rebalanceGasWithSeries(viem, 10, buyer, "perp");
    console.log(`hedgePerp, 10 live series: ${gas} gas (vault's first perp hedge: ${firstGas})`);
    expect(gas).toBeLessThanOrEqual(150_000);
  });

  it("a rebalance with the maximum 32 live series still fits comfortably in a block", async () => {
    const { gas, firstGas } = await rebalanceGasWithSeries(viem, 32, buyer);
    console.log(`rebalance, 32 live series: ${gas} gas (vault's first-ever hedge: ${firstGas})`);
    expect(gas).toBeLessThanOrEqual(400_000);
  });
});

describe("code size", () => {
  it("every deployable contract is under the EIP-170 limit of 24,576 bytes, so it deploys on any public chain", async () => {
    for (const name of ["OptionVault", "OptionVaultExtension", "OptionBook", "VaultLens", "BandUpkeep", "MockAmm", "MockPerpMarket", "MockOracle", "MockERC20"] as const) {
      const artifact = await hre.artifacts.readArtifact(name);
      const bytes = (artifact.deployedBytecode.length - 2) / 2;
      console.log(`${name}: ${bytes} bytes`);
      expect(bytes, name).toBeLessThanOrEqual(24_576);
    }
  });

  it("the vault keeps at least 2,048 bytes of headroom under EIP-170, its extension at least 1,024 (issue 14)", async () => {
    const vault = await deployedSize("OptionVault");
    const extension = await deployedSize("OptionVaultExtension");
    console.log(`OptionVault: ${vault} bytes, headroom ${24_576 - vault}; extension: ${extension}, headroom ${24_576 - extension}`);
    expect(24_576 - vault).toBeGreaterThanOrEqual(2_048);
    expect(24_576 - extension).toBeGreaterThanOrEqual(1_024);
  });

  it("the vault's initcode fits EIP-3860's 49,152 bytes (the extension is deployed on its own)", async () => {
    for (const name of ["OptionVault", "OptionVaultExtension"] as const) {
      const artifact = await hre.artifacts.readArtifact(name);
      expect((artifact.bytecode.length - 2) / 2, name).toBeLessThanOrEqual(49_152);
    }
  });
});

async function deployedSize(name: "OptionVault" | "OptionVaultExtension"): Promise<number> {
  const artifact = await hre.artifacts.readArtifact(name);
  return (artifact.deployedBytecode.length - 2) / 2;
}
