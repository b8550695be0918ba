/**
 * Reverts in tests: the custom error of a failed call, transaction or deployment, decoded against every error the
 * project's contracts declare (the vault, its extension, the upkeep and the mocks), and an assertion on it.
 */
import hre from "hardhat";
import { decodeErrorResult, type Abi, type Hex } from "viem";
import { expect } from "vitest";

const CONTRACTS = ["OptionVault", "OptionVaultExtension", "BandUpkeep", "MockAmm", "MockOracle", "MockERC20", "MockPerpMarket"];

/** Every custom error of the contracts above (one ABI: a selector several declare decodes the same way). */
export const CONTRACT_ERRORS = (await Promise.all(CONTRACTS.map((name) => hre.artifacts.readArtifact(name))))
  .flatMap((artifact) => artifact.abi)
  .filter((item) => item.type === "error") as Abi;

/** The custom error in a failed call, transaction or deployment (the first revert data found down the cause chain). */
export function decodeRevert(error: unknown): { errorName: string; args: readonly unknown[] } | undefined {
  for (let cause: unknown = error; typeof cause === "object" && cause !== null; ) {
    const { raw, data } = cause as { raw?: unknown; data?: unknown };
    for (const hex of [raw, data]) {
      if (typeof hex !== "string" || !/^0x[0-9a-fA-F]{8}/.test(hex)) continue;
      try {
        const decoded = decodeErrorResult({ abi: CONTRACT_ERRORS, data: hex as Hex });
        return { errorName: decoded.errorName, args: decoded.args ?? [] };
      } catch {
        // Not one of ours: keep walking.
      }
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Asserts that `action` reverts with `errorName` (and `args`, when given); returns the decoded arguments. */
export async function expectRevert(action: Promise<unknown>, errorName: string, args?: readonly unknown[]) {
  const error = await action.then(
    () => undefined,
    (reason: unknown) => reason ?? new Error("rejected without a reason"),
  );
  expect(error, `expected a revert with ${errorName}, but the call succeeded`).toBeDefined();
  const decoded = decodeRevert(error);
  expect(decoded?.errorName, String(error)).toBe(errorName);
  if (args !== undefined) expect(decoded?.args).toEqual(args);
  return decoded?.args ?? [];
}
