/**
 * What a `Keeper` is told: the vaults, the policy and the sending limits, fully resolved. There is one way to build
 * it, `keeperOptions`, which fills every tunable the caller leaves out from the configuration table's defaults
 * (`CONFIG_DEFAULTS`), so the entry point, the demo, the soak and the benchmarks cannot drift apart;
 * `keeperOptionsFromConfig` is the entry point's shorthand for a parsed `Config`.
 */
import { parseGwei, type Address } from "viem";
import type { VaultRef } from "./chain/readVaults.ts";
import type { Config } from "./config/index.ts";
import { CONFIG_DEFAULTS } from "./config/table.ts";
import type { FeeCaps } from "./execution/fees.ts";
import type { TurnConfig } from "./execution/turns.ts";
import type { PolicyConfig, RiskPreferences } from "./types.ts";

export interface KeeperOptions {
  lens: Address;
  vaults: readonly VaultRef[];
  policy: PolicyConfig;
  /**
   * Hard limit on each vault's |net delta|, underlying units (`MAX_ABS_DELTA`); `undefined`: the policy's default
   * (a band policy's band, none otherwise), resolved by the pure core (`planBlock`).
   */
  maxAbsDelta: number | undefined;
  prefs: RiskPreferences;
  maxSlippageBps: number;
  minOutMarginBps: number;
  caps: FeeCaps;
  gasLimitPerHedge: bigint;
  confirmations: number;
  /** Price of the native gas token in quote units; `undefined`: the vault's oracle spot. */
  nativePriceQuote: number | undefined;
  greeksTolerance: number;
  dryRun: boolean;
  /** Seconds added to the block timestamp for a hedge's swap deadline (`SWAP_DEADLINE_SECONDS`). */
  deadlineSeconds: number;
  /** Stuck-transaction replacement, retry backoff, gas budgets and the oracle sanity bound. */
  resilience: Resilience;
  /** Shadow mode: decide, sign nothing, and log each decision beside what happened on-chain. */
  shadow: boolean;
  /** Keepers sharing the vaults and the takeover delay (`KEEPER_PEERS`, `TURN_TAKEOVER_BLOCKS`); no peers: solo. */
  turns: TurnConfig;
  /** Gas per lens `eth_call`: the vaults are read in chunks that fit it (`LENS_CALL_GAS_BUDGET`). */
  lensCallGasBudget: number;
}

export interface Resilience {
  replaceAfterBlocks: number;
  feeBumpPercent: number;
  retryBackoffBlocks: number;
  gasBudgetPerHourWei: bigint | undefined;
  gasBudgetPerDayWei: bigint | undefined;
  maxOracleDeviationBps: number;
}

/**
 * What `keeperOptions` needs: the lens and the vaults; every other field, and each field of `resilience`, may be
 * left out to take its default.
 */
export type KeeperOptionsInput = Pick<KeeperOptions, "lens" | "vaults"> &
  Partial<Omit<KeeperOptions, "lens" | "vaults" | "resilience">> & { resilience?: Partial<Resilience> };

/**
 * The complete options of a `Keeper`: `input`'s values, and for each tunable it leaves out (or sets to
 * `undefined`) the default of the matching environment variable.
 *
 * @param input - The lens and the vaults, plus any tunables to set.
 * @returns Fully resolved options; nothing left for the keeper to default.
 */
export function keeperOptions(input: KeeperOptionsInput): KeeperOptions {
  const d = CONFIG_DEFAULTS;
  const r = input.resilience ?? {};
  return {
    lens: input.lens,
    vaults: input.vaults,
    // Only the gas-aware policy needs no parameters of its own; any other is named with its parameters.
    policy: input.policy ?? { name: d.KEEPER_POLICY },
    // No table default: it depends on the policy (keeper/policy/hardLimit.ts).
    maxAbsDelta: input.maxAbsDelta,
    prefs: input.prefs ?? { riskAversion: d.RISK_AVERSION, horizonSeconds: d.RISK_HORIZON_SECONDS },
    maxSlippageBps: input.maxSlippageBps ?? d.MAX_SLIPPAGE_BPS,
    minOutMarginBps: input.minOutMarginBps ?? d.MIN_OUT_MARGIN_BPS,
    caps: input.caps ?? {
      maxFeePerGasWei: parseGwei(d.MAX_FEE_GWEI),
      maxPriorityFeePerGasWei: parseGwei(d.MAX_PRIORITY_FEE_GWEI),
    },
    gasLimitPerHedge: input.gasLimitPerHedge ?? BigInt(d.GAS_LIMIT_PER_HEDGE),
    confirmations: input.confirmations ?? d.CONFIRMATIONS,
    nativePriceQuote: input.nativePriceQuote,
    greeksTolerance: input.greeksTolerance ?? d.GREEKS_TOLERANCE,
    dryRun: input.dryRun ?? d.DRY_RUN,
    deadlineSeconds: input.deadlineSeconds ?? d.SWAP_DEADLINE_SECONDS,
    resilience: {
      replaceAfterBlocks: r.replaceAfterBlocks ?? d.REPLACE_AFTER_BLOCKS,
      feeBumpPercent: r.feeBumpPercent ?? d.FEE_BUMP_PERCENT,
      retryBackoffBlocks: r.retryBackoffBlocks ?? d.RETRY_BACKOFF_BLOCKS,
      // No default: unset means no budget.
      gasBudgetPerHourWei: r.gasBudgetPerHourWei,
      gasBudgetPerDayWei: r.gasBudgetPerDayWei,
      maxOracleDeviationBps: r.maxOracleDeviationBps ?? d.MAX_ORACLE_DEVIATION_BPS,
    },
    shadow: input.shadow ?? d.SHADOW,
    turns: input.turns ?? { peers: [], takeoverBlocks: d.TURN_TAKEOVER_BLOCKS },
    lensCallGasBudget: input.lensCallGasBudget ?? d.LENS_CALL_GAS_BUDGET,
  };
}

/**
 * The options the entry point runs with: every value from the parsed configuration (which has already applied the
 * table's defaults).
 *
 * @param config - A `parseConfig` result.
 */
export function keeperOptionsFromConfig(config: Config): KeeperOptions {
  return keeperOptions({
    lens: config.lens,
    vaults: config.vaults,
    policy: config.policy,
    maxAbsDelta: config.maxAbsDelta,
    prefs: config.risk,
    maxSlippageBps: config.sending.maxSlippageBps,
    minOutMarginBps: config.sending.minOutMarginBps,
    caps: {
      maxFeePerGasWei: config.sending.maxFeePerGasWei,
      maxPriorityFeePerGasWei: config.sending.maxPriorityFeePerGasWei,
      ...(config.chainType === undefined ? {} : { chainType: config.chainType }),
    },
    gasLimitPerHedge: config.sending.gasLimitPerHedge,
    confirmations: config.sending.confirmations,
    nativePriceQuote: config.sending.gasTokenPriceQuote,
    greeksTolerance: config.greeksTolerance,
    dryRun: config.dryRun,
    deadlineSeconds: config.sending.deadlineSeconds,
    resilience: config.resilience,
    shadow: config.shadow,
    turns: config.turns,
    lensCallGasBudget: config.rpc.lensCallGasBudget,
  });
}
