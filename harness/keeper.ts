/**
 * The keeper in this process against a local system (the demo, the soak, the bench): one set of options, built
 * through the keeper's own `keeperOptions` so that whatever a harness does not state takes the configuration
 * table's default, as the deployed keeper's would.
 */
import { parseGwei } from "viem";
import { keeperOptions, type KeeperOptions, type KeeperOptionsInput } from "../keeper/options.ts";
import { QUOTE_DECIMALS, UNDERLYING_DECIMALS, type System } from "./system.ts";
import { TEST_KEYS } from "./keeperProcess.ts";

/** The keeper's key on a local chain: Hardhat's public account #1, which `deploySystem` makes the keeper. */
export const LOCAL_KEEPER_KEY = TEST_KEYS.keeper;

/**
 * The harness's keeper, where it departs from (or pins) the table's defaults: a 0.5 band hedged to zero, a gas
 * limit with room for a large book, a cheap risk aversion so the local book hedges often, the fee caps of a busy
 * local chain.
 */
const HARNESS_TUNABLES = {
  policy: { name: "band", band: 0.5, target: "zero" },
  prefs: { riskAversion: 0.01, horizonSeconds: 3600 },
  maxSlippageBps: 100,
  minOutMarginBps: 10,
  caps: { maxFeePerGasWei: parseGwei("100"), maxPriorityFeePerGasWei: parseGwei("2") },
  gasLimitPerHedge: 1_000_000n,
  confirmations: 1,
  greeksTolerance: 1e-6,
  dryRun: false,
} as const satisfies Partial<KeeperOptionsInput>;

/**
 * Options for a keeper hedging `vaults` (default: the system's own vault) through `sys`'s lens.
 *
 * @param overrides - What this harness changes (the demo's policy and risk aversion, the soak's replacement…).
 */
export function localKeeperOptions(
  sys: Pick<System, "lens" | "vault">,
  overrides: Partial<KeeperOptionsInput> = {},
): KeeperOptions {
  return keeperOptions({
    lens: sys.lens.address,
    vaults: [{ address: sys.vault.address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }],
    ...HARNESS_TUNABLES,
    ...overrides,
  });
}
