/**
 * The keeper's configuration: environment variables (and a few command-line overrides) parsed once, at the edge,
 * into a deeply frozen, typed `Config`. Nothing else in the keeper reads `process.env`.
 *
 * Each variable is stated once, in the table of `./table.ts` (name, rule, default, unit, summary), which
 * drives this parser, `--help` and the test that `.env.example` documents the same variables and defaults. The
 * readers (`./read.ts`) word the errors; the signer and the vaults, whose variables depend on each other,
 * are read in `./sources.ts`.
 *
 * `parseConfig` is pure: it reads only the `env` object it is given and the files `DEPLOYMENTS_FILE`, `KEYSTORE_PATH`
 * and `KEYSTORE_PASSWORD_FILE` name, through the injected `readFile`. Every bad variable becomes one `ConfigIssue`;
 * all of them are reported at once in a `ConfigError`. Secrets never appear in a message: not `PRIVATE_KEY`, not the
 * keystore's password or key, and of an RPC URL (which often carries an API key in its path or user info) only the
 * scheme and host.
 */
import { existsSync, readFileSync } from "node:fs";
import dotenv from "dotenv";
import { formatGwei } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Address, Hex } from "viem";
import { POLICY_NAMES, type PolicyName } from "../policy/index.ts";
import { redactUrl } from "../telemetry/redact.ts";
import type { HedgeTarget, PolicyConfig, RiskPreferences } from "../types.ts";
import { ConfigError, type ConfigIssue, must, quote, reader, describeFsError, splitList } from "./read.ts";
import {
  describeSigner,
  readSigner,
  readVaults,
  reconcileChainId,
  type SignerSource,
  type VaultConfig,
  type VaultSourceKind,
} from "./sources.ts";
import { ENV_VARS, LOG_LEVELS, type LogLevel } from "./table.ts";
import { chainTypeFor, type ChainType } from "../chain/chainType.ts";

export { ConfigError, type ConfigIssue } from "./read.ts";
export { deploymentsSchema, type Deployments, type SignerSource, type VaultConfig } from "./sources.ts";
export { CONFIG_DEFAULTS, ENV_VARS, LOG_LEVELS, type EnvVar, type LogLevel } from "./table.ts";

export interface Config {
  readonly rpc: {
    /** Primary JSON-RPC endpoint. May hold an API key: log it only through `redactUrl`. */
    readonly url: string;
    /** Further http(s) endpoints for failover, in order; `url` is not repeated here. */
    readonly fallbackUrls: readonly string[];
    /** When set, new blocks come from an `eth_subscribe("newHeads")` subscription instead of polling. */
    readonly wsUrl: string | undefined;
    readonly pollIntervalMs: number;
    /** Gas one lens `eth_call` may use: the vaults are read in chunks that fit it (`LENS_CALL_GAS_BUDGET`). */
    readonly lensCallGasBudget: number;
  };
  /** The chain id the RPC must report at startup (`CHAIN_ID`, or the deployments file's). */
  readonly expectedChainId: number | undefined;
  /** `CHAIN_TYPE`; undefined: from the chain id (the expected one, else the chain's at the first block). */
  readonly chainType: ChainType | undefined;
  /**
   * The keeper's signing key, from `PRIVATE_KEY` or decrypted from the `KEYSTORE_PATH` keystore at parse time;
   * absent only in a dry run. Never log it (`describeConfig` does not).
   */
  readonly privateKey: Hex | undefined;
  /** Where `privateKey` came from; safe to log. */
  readonly signerSource: SignerSource;
  readonly lens: Address;
  readonly vaults: readonly VaultConfig[];
  /** Where the vaults came from: the `VAULTS` list (or `--vault`) or the deployments file at this path. */
  readonly vaultSource: VaultSourceKind;
  readonly policy: Readonly<PolicyConfig>;
  /**
   * Hard limit on each vault's |net delta|, underlying units (`MAX_ABS_DELTA`); undefined: the policy's default
   * (a band policy's band, none otherwise — keeper/policy/hardLimit.ts).
   */
  readonly maxAbsDelta: number | undefined;
  readonly risk: Readonly<RiskPreferences>;
  readonly sending: {
    readonly maxFeePerGasWei: bigint;
    readonly maxPriorityFeePerGasWei: bigint;
    /** Gas limit of one hedge transaction. */
    readonly gasLimitPerHedge: bigint;
    /** The keeper's own bound on execution price vs oracle, fee included (the vault enforces its own too). */
    readonly maxSlippageBps: number;
    /** `minAmountOut` = expected output less this margin, so a hedge survives small moves between read and send. */
    readonly minOutMarginBps: number;
    /** Seconds after the decided-on block's timestamp that a hedge's swap stays valid (`SWAP_DEADLINE_SECONDS`). */
    readonly deadlineSeconds: number;
    readonly confirmations: number;
    /** Price of the native gas token in quote units; `undefined`: use the vault's oracle spot. */
    readonly gasTokenPriceQuote: number | undefined;
  };
  /** Relative tolerance of the on-chain vs off-chain Greeks cross-check. */
  readonly greeksTolerance: number;
  /** Directory of the exactly-once journal (`journal-<chainId>-<signer>.jsonl`); keep it across restarts. */
  readonly journalDir: string;
  /** Shadow mode: decide, sign nothing, log decisions beside what happens on-chain (implies a dry run). */
  readonly shadow: boolean;
  readonly resilience: {
    /** A hedge not mined after this many blocks is re-checked: replaced with higher fees, or cancelled. */
    readonly replaceAfterBlocks: number;
    /** Fee increase of a replacement, percent, on both fee fields (nodes require more than 10). */
    readonly feeBumpPercent: number;
    /** After a failed hedge, wait this many blocks before trying the vault again (doubling, up to 64x). */
    readonly retryBackoffBlocks: number;
    /** Per-vault gas spending caps over a rolling hour and day, wei; undefined: no cap. */
    readonly gasBudgetPerHourWei: bigint | undefined;
    readonly gasBudgetPerDayWei: bigint | undefined;
    /** Oracle price further than this from the pool price counts as wild: no hedge. */
    readonly maxOracleDeviationBps: number;
  };
  /** Keepers sharing these vaults take turns (`keeper/execution/turns.ts`); no peers: solo. */
  readonly turns: {
    /** Every keeper sharing the vaults, this one included (`KEEPER_PEERS`); empty when unset. */
    readonly peers: readonly Address[];
    /** Blocks of need before the next peer in the turn order takes over (`TURN_TAKEOVER_BLOCKS`). */
    readonly takeoverBlocks: number;
  };
  /** `/metrics`, `/healthz`, `/readyz` on 127.0.0.1:`metricsPort` (off when undefined), and readiness rules. */
  readonly telemetry: {
    readonly metricsPort: number | undefined;
    /** Blocks of history the status page keeps per vault (`STATUS_HISTORY_BLOCKS`). */
    readonly statusHistoryBlocks: number;
    readonly maxHeadAgeMs: number;
    readonly maxPendingBlocks: number;
    readonly maxOutOfBandBlocks: number;
    readonly minSignerBalanceWei: bigint;
  };
  readonly dryRun: boolean;
  readonly log: { readonly level: LogLevel; readonly pretty: boolean };
}

/** What command-line flags may override; a field left `undefined` leaves the environment's value. */
export interface CliOverrides {
  dryRun?: boolean;
  /** `--shadow`: decide and compare with what happens on-chain, never sign or send. */
  shadow?: boolean;
  logLevel?: LogLevel;
  pretty?: boolean;
  policy?: PolicyName;
  /** Vault addresses, in place of `VAULTS`; with `DEPLOYMENTS_FILE`, the subset of its vaults to watch. */
  vaults?: readonly string[];
}

// ── Public API ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Reads a `.env` file into a plain object, without touching `process.env`. With no `path`, a missing `../.env` is
 * an empty environment; a path given explicitly (`--env-file`) must exist. The entry point merges the result
 * under `process.env` (the real environment wins, as with dotenv).
 */
export function loadEnvFile(path?: string): Record<string, string> {
  const file = path ?? ".env";
  if (path === undefined && !existsSync(file)) return {};
  try {
    return { ...dotenv.parse(readFileSync(file, "utf8")) };
  } catch (error) {
    throw new ConfigError([{ variable: "--env-file", problem: `cannot read ${file} (${describeFsError(error)})` }]);
  }
}

/**
 * Validates `env` (plus `overrides`, which win) into a deeply frozen `Config`, or throws a `ConfigError` listing
 * every bad variable. Empty values count as unset, so a copied `.env.example` with blank optional lines is valid.
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: CliOverrides = {},
  deps: { readFile?: (path: string) => string } = {},
): Config {
  const readFile = deps.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const issues: ConfigIssue[] = [];
  const read = reader(env, issues);

  // Operation first: whether a key is required depends on it.
  const shadow = overrides.shadow ?? read.boolean("SHADOW");
  const dryRun = shadow === true ? true : (overrides.dryRun ?? read.boolean("DRY_RUN"));
  const logLevel = overrideChoice("--log-level", overrides.logLevel, LOG_LEVELS, issues) ?? read.choice("LOG_LEVEL");
  const pretty = overrides.pretty ?? read.boolean("LOG_PRETTY");

  const rpcUrl = read.url("RPC_URL");
  if (read.raw("RPC_URL") === undefined) {
    issues.push({
      variable: "RPC_URL",
      problem: "is required: the keeper's JSON-RPC endpoint, e.g. https://eth-sepolia.example.com/…",
    });
  }
  const fallbackUrls = read.urlList("RPC_URLS", rpcUrl);
  const wsUrl = read.url("WS_URL");
  const pollIntervalMs = read.number("POLL_INTERVAL_MS");
  const lensCallGasBudget = read.number("LENS_CALL_GAS_BUDGET");
  const chainId = read.number("CHAIN_ID");

  const signer = readSigner(read, env, dryRun, readFile, issues);

  const vaultSource = readVaults(read, overrides.vaults, readFile, issues);
  const expectedChainId = reconcileChainId(chainId, vaultSource, issues);
  const configuredChainType = read.choice("CHAIN_TYPE");
  const chainType = configuredChainType ?? (expectedChainId === undefined ? undefined : chainTypeFor(expectedChainId));

  const policyName = overrideChoice("--policy", overrides.policy, POLICY_NAMES, issues) ?? read.choice("KEEPER_POLICY");
  const minTrade = read.number("POLICY_MIN_TRADE");
  const intervalBlocks = read.number("POLICY_INTERVAL_BLOCKS");
  const band = read.number("POLICY_BAND");
  const target = read.choice("POLICY_TARGET");
  const costRate = read.number("POLICY_COST_RATE");
  const minDelayBlocks = read.number("POLICY_MIN_DELAY_BLOCKS");
  const maxHedge = read.number("POLICY_MAX_HEDGE");
  const timeBlocks = read.number("POLICY_TIME_BLOCKS");
  const moveBps = read.number("POLICY_MOVE_BPS");
  const maxAbsDelta = read.number("MAX_ABS_DELTA");
  const riskAversion = read.number("RISK_AVERSION");
  const horizonSeconds = read.number("RISK_HORIZON_SECONDS");

  const maxFeePerGasWei = read.gwei("MAX_FEE_GWEI");
  const maxPriorityFeePerGasWei = read.gwei("MAX_PRIORITY_FEE_GWEI");
  if (
    maxFeePerGasWei !== undefined &&
    maxPriorityFeePerGasWei !== undefined &&
    maxPriorityFeePerGasWei > maxFeePerGasWei
  ) {
    const got = formatGwei(maxPriorityFeePerGasWei);
    issues.push({
      variable: "MAX_PRIORITY_FEE_GWEI",
      problem: `must not exceed MAX_FEE_GWEI (${formatGwei(maxFeePerGasWei)}) (got "${got}")`,
    });
  }
  const gasLimitPerHedge = read.number("GAS_LIMIT_PER_HEDGE");
  const maxSlippageBps = read.number("MAX_SLIPPAGE_BPS");
  const minOutMarginBps = read.number("MIN_OUT_MARGIN_BPS");
  const deadlineSeconds = read.number("SWAP_DEADLINE_SECONDS");
  const confirmations = read.number("CONFIRMATIONS");
  const gasTokenPriceQuote = read.number("GAS_PRICE_TOKEN_IN_QUOTE");
  const greeksTolerance = read.number("GREEKS_TOLERANCE");
  const journalDir = read.path("JOURNAL_DIR");
  const metricsPort = read.number("METRICS_PORT");
  const statusHistoryBlocks = read.number("STATUS_HISTORY_BLOCKS");
  const maxHeadAgeSeconds = read.number("READY_MAX_HEAD_AGE_SECONDS");
  const maxPendingBlocks = read.number("READY_MAX_PENDING_BLOCKS");
  const maxOutOfBandBlocks = read.number("READY_MAX_OUT_OF_BAND_BLOCKS");
  const minSignerBalance = read.number("READY_MIN_SIGNER_BALANCE");
  const replaceAfterBlocks = read.number("REPLACE_AFTER_BLOCKS");
  const feeBumpPercent = read.number("FEE_BUMP_PERCENT");
  const retryBackoffBlocks = read.number("RETRY_BACKOFF_BLOCKS");
  const gasBudgetHourly = read.number("GAS_BUDGET_PER_HOUR");
  const gasBudgetDaily = read.number("GAS_BUDGET_PER_DAY");
  const maxOracleDeviationBps = read.number("MAX_ORACLE_DEVIATION_BPS");
  const peersListed = read.raw("KEEPER_PEERS");
  const peers = peersListed === undefined ? [] : read.addresses("KEEPER_PEERS", splitList(peersListed));
  const takeoverBlocks = read.number("TURN_TAKEOVER_BLOCKS");
  // Every peer must rank the same list: a keeper missing from its own would be ranked by no one, and race them all.
  if (peers !== undefined && peers.length > 0 && signer.privateKey !== undefined) {
    const self = privateKeyToAccount(signer.privateKey).address;
    if (!peers.includes(self)) {
      issues.push({ variable: "KEEPER_PEERS", problem: `must include this keeper's own address ${self} (the signer's): every peer lists every keeper` });
    }
  }

  if (issues.length > 0) throw new ConfigError(inDocumentOrder(issues));

  // No issue means every required value parsed; `must` only narrows the types.
  const policy = buildPolicy(must(policyName), {
    minTrade: must(minTrade),
    intervalBlocks: must(intervalBlocks),
    band: must(band),
    target: must(target),
    costRate,
    minDelayBlocks: must(minDelayBlocks),
    maxHedge: must(maxHedge),
    timeBlocks: must(timeBlocks),
    moveBps: must(moveBps),
  });

  return deepFreeze({
    rpc: { url: must(rpcUrl), fallbackUrls: must(fallbackUrls), wsUrl, pollIntervalMs: must(pollIntervalMs), lensCallGasBudget: must(lensCallGasBudget) },
    expectedChainId,
    chainType,
    privateKey: signer.privateKey,
    signerSource: signer.source,
    lens: must(vaultSource).lens,
    vaults: must(vaultSource).vaults,
    vaultSource: must(vaultSource).source,
    policy,
    maxAbsDelta,
    risk: { riskAversion: must(riskAversion), horizonSeconds: must(horizonSeconds) },
    sending: {
      maxFeePerGasWei: must(maxFeePerGasWei),
      maxPriorityFeePerGasWei: must(maxPriorityFeePerGasWei),
      gasLimitPerHedge: BigInt(must(gasLimitPerHedge)),
      maxSlippageBps: must(maxSlippageBps),
      minOutMarginBps: must(minOutMarginBps),
      deadlineSeconds: must(deadlineSeconds),
      confirmations: must(confirmations),
      gasTokenPriceQuote,
    },
    greeksTolerance: must(greeksTolerance),
    journalDir: must(journalDir),
    shadow: must(shadow),
    resilience: {
      replaceAfterBlocks: must(replaceAfterBlocks),
      feeBumpPercent: must(feeBumpPercent),
      retryBackoffBlocks: must(retryBackoffBlocks),
      gasBudgetPerHourWei: gasBudgetHourly === undefined ? undefined : toWei(gasBudgetHourly),
      gasBudgetPerDayWei: gasBudgetDaily === undefined ? undefined : toWei(gasBudgetDaily),
      maxOracleDeviationBps: must(maxOracleDeviationBps),
    },
    turns: { peers: must(peers), takeoverBlocks: must(takeoverBlocks) },
    telemetry: {
      metricsPort,
      statusHistoryBlocks: must(statusHistoryBlocks),
      maxHeadAgeMs: must(maxHeadAgeSeconds) * 1000,
      maxPendingBlocks: must(maxPendingBlocks),
      maxOutOfBandBlocks: must(maxOutOfBandBlocks),
      minSignerBalanceWei: toWei(must(minSignerBalance)),
    },
    dryRun: must(dryRun),
    log: { level: must(logLevel), pretty: must(pretty) },
  });
}

/** The configuration as it may be logged: URLs redacted, the key reduced to where it comes from, gwei as strings. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    rpc: {
      url: redactUrl(config.rpc.url),
      fallbackUrls: config.rpc.fallbackUrls.map(redactUrl),
      wsUrl: config.rpc.wsUrl === undefined ? undefined : redactUrl(config.rpc.wsUrl),
      pollIntervalMs: config.rpc.pollIntervalMs,
      lensCallGasBudget: config.rpc.lensCallGasBudget,
    },
    expectedChainId: config.expectedChainId,
    signer: describeSigner(config.signerSource),
    lens: config.lens,
    vaults: config.vaults,
    vaultSource: config.vaultSource,
    // JSON logs have no Infinity: an uncapped delay-cap hedge would read as `maxHedge: null`.
    policy:
      config.policy.name === "delay-cap" && config.policy.maxHedge === Number.POSITIVE_INFINITY
        ? { ...config.policy, maxHedge: "none" }
        : config.policy,
    maxAbsDelta: config.maxAbsDelta ?? "policy default",
    risk: config.risk,
    sending: {
      maxFeeGwei: formatGwei(config.sending.maxFeePerGasWei),
      maxPriorityFeeGwei: formatGwei(config.sending.maxPriorityFeePerGasWei),
      gasLimitPerHedge: Number(config.sending.gasLimitPerHedge),
      maxSlippageBps: config.sending.maxSlippageBps,
      minOutMarginBps: config.sending.minOutMarginBps,
      deadlineSeconds: config.sending.deadlineSeconds,
      confirmations: config.sending.confirmations,
      gasTokenPriceQuote: config.sending.gasTokenPriceQuote,
    },
    greeksTolerance: config.greeksTolerance,
    turns: config.turns,
    dryRun: config.dryRun,
    log: config.log,
  };
}

function buildPolicy(
  name: PolicyName,
  params: {
    minTrade: number;
    intervalBlocks: number;
    band: number;
    target: HedgeTarget;
    costRate: number | undefined;
    minDelayBlocks: number;
    maxHedge: number;
    timeBlocks: number;
    moveBps: number;
  },
): PolicyConfig {
  switch (name) {
    case "every-block":
      return { name, minTrade: params.minTrade };
    case "interval":
      return { name, intervalBlocks: params.intervalBlocks, minTrade: params.minTrade };
    case "band":
      return { name, band: params.band, target: params.target };
    case "whalley-wilmott":
      return params.costRate === undefined ? { name } : { name, costRate: params.costRate };
    case "gas-aware":
      return { name };
    case "delay-cap":
      return { name, minDelayBlocks: params.minDelayBlocks, maxHedge: params.maxHedge, minTrade: params.minTrade };
    case "time-or-move":
      return { name, maxBlocks: params.timeBlocks, moveBps: params.moveBps, minTrade: params.minTrade };
  }
}

/** Overrides are typed, but may come from untyped callers (scripts); check them like variables. */
function overrideChoice<T extends string>(
  flag: string,
  value: T | undefined,
  allowed: readonly T[],
  issues: ConfigIssue[],
): T | undefined {
  if (value === undefined || allowed.includes(value)) return value;
  issues.push({ variable: flag, problem: `must be one of ${allowed.join(", ")} (got ${quote(value)})` });
  // A bad override is reported; the variable is still read (and checked) so every issue shows at once.
  return undefined;
}

/** Native units (e.g. ETH) to wei, to 1e-9 precision. */
function toWei(units: number): bigint {
  return BigInt(Math.round(units * 1e9)) * 10n ** 9n;
}

/** Issues in `.env.example`'s order (flags first), however the checks happened to run. */
function inDocumentOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const rank = (issue: ConfigIssue) => ENV_VARS.findIndex((variable) => variable.name === issue.variable);
  return [...issues].sort((a, b) => rank(a) - rank(b));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
