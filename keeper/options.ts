/**
 * What a `Keeper` is told: the vaults, the policy and the sending limits. Built from the configuration by the
 * entry point and from literals by the demo, the soak and the benchmarks.
 */
import type { Address } from "viem";
import type { VaultRef } from "./chain/readVaults.ts";
import type { FeeCaps } from "./execution/fees.ts";
import type { PolicyConfig, RiskPreferences } from "./types.ts";

export interface KeeperOptions {
  lens: Address;
  vaults: readonly VaultRef[];
  policy: PolicyConfig;
  prefs: RiskPreferences;
  maxSlippageBps: number;
  minOutMarginBps: number;
  caps: FeeCaps;
  gasLimitPerHedge: bigint;
  confirmations: number;
  nativePriceQuote?: number | undefined;
  greeksTolerance: number;
  dryRun: boolean;
  /** Seconds added to the block timestamp for the swap deadline. */
  deadlineSeconds?: number;
  /** Stuck-transaction replacement, retry backoff, gas budgets (defaults as in .env.example). */
  resilience?: Partial<Resilience>;
  /** Shadow mode: decide, sign nothing, and log each decision beside what happened on-chain. */
  shadow?: boolean;
}

export interface Resilience {
  replaceAfterBlocks: number;
  feeBumpPercent: number;
  retryBackoffBlocks: number;
  gasBudgetPerHourWei: bigint | undefined;
  gasBudgetPerDayWei: bigint | undefined;
  maxOracleDeviationBps: number;
}

export const DEFAULT_RESILIENCE: Resilience = {
  maxOracleDeviationBps: 1000,
  replaceAfterBlocks: 3,
  feeBumpPercent: 12.5,
  retryBackoffBlocks: 2,
  gasBudgetPerHourWei: undefined,
  gasBudgetPerDayWei: undefined,
};
