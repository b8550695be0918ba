/**
 * The keeper's configuration: environment variables (and a few command-line overrides) parsed once, at the edge,
 * into a deeply frozen, typed `Config`. Nothing else in the keeper reads `process.env`.
 *
 * `parseConfig` is pure: it reads only the `env` object it is given and the files `DEPLOYMENTS_FILE`, `KEYSTORE_PATH`
 * and `KEYSTORE_PASSWORD_FILE` name, through the injected `readFile`. Every bad variable becomes one `ConfigIssue`;
 * all of them are reported at once in a `ConfigError`. Secrets never appear in a message: not `PRIVATE_KEY`, not the
 * keystore's password or key, and of an RPC URL (which often carries an API key in its path or user info) only the
 * scheme and host.
 *
 * Every variable is documented, with its default and unit, in `.env.example`.
 */
import { existsSync, readFileSync } from "node:fs";
import dotenv from "dotenv";
import { formatGwei, getAddress, isAddress, parseGwei } from "viem";
import type { Address, Hex } from "viem";
import { z } from "zod";
import { decryptKeystore, KeystoreError } from "./chain/keystore.ts";
import type { HedgeTarget, PolicyConfig, RiskPreferences } from "./types.ts";

import { POLICY_NAMES, type PolicyName } from "./policy/index.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const HEDGE_TARGETS = ["zero", "edge"] as const satisfies readonly HedgeTarget[];

/** One vault the keeper watches, with its tokens' decimals (needed to convert token amounts to wad). */
export interface VaultConfig {
  readonly address: Address;
  readonly quoteDecimals: number;
  readonly underlyingDecimals: number;
}

export interface Config {
  readonly rpc: {
    /** Primary JSON-RPC endpoint. May hold an API key: log it only through `redactUrl`. */
    readonly url: string;
    /** Further http(s) endpoints for failover, in order; `url` is not repeated here. */
    readonly fallbackUrls: readonly string[];
    /** When set, new blocks come from an `eth_subscribe("newHeads")` subscription instead of polling. */
    readonly wsUrl: string | undefined;
    readonly pollIntervalMs: number;
  };
  /** The chain id the RPC must report at startup (`CHAIN_ID`, or the deployments file's). */
  readonly expectedChainId: number | undefined;
  /**
   * The keeper's signing key, from `PRIVATE_KEY` or decrypted from the `KEYSTORE_PATH` keystore at parse time;
   * absent only in a dry run. Never log it (`describeConfig` does not).
   */
  readonly privateKey: Hex | undefined;
  /** Where `privateKey` came from; safe to log. */
  readonly signerSource:
    | { readonly kind: "none" }
    | { readonly kind: "private-key" }
    | { readonly kind: "keystore"; readonly path: string };
  readonly lens: Address;
  readonly vaults: readonly VaultConfig[];
  /** Where the vaults came from: the `VAULTS` list (or `--vault`) or the deployments file at this path. */
  readonly vaultSource: { readonly kind: "list" } | { readonly kind: "deployments"; readonly path: string };
  readonly policy: Readonly<PolicyConfig>;
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
  /** `/metrics`, `/healthz`, `/readyz` on 127.0.0.1:`metricsPort` (off when undefined), and readiness rules. */
  readonly telemetry: {
    readonly metricsPort: number | undefined;
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

export interface ConfigIssue {
  /** The environment variable (or `--flag`) at fault. */
  variable: string;
  /** What is wrong and what is expected; never a secret's value. */
  problem: string;
}

export class ConfigError extends Error {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map((issue) => `${issue.variable}: ${issue.problem}`).join("\n"));
    this.issues = issues;
  }
}

/** One line per variable, for `--help`; the full documentation (defaults, units) is `.env.example`. */
export const ENV_VARS: readonly { readonly name: string; readonly summary: string }[] = [
  { name: "RPC_URL", summary: "JSON-RPC endpoint, http(s) (required)" },
  { name: "RPC_URLS", summary: "extra http(s) endpoints for failover, comma-separated" },
  { name: "WS_URL", summary: "ws(s) endpoint: blocks from a newHeads subscription instead of polling" },
  { name: "POLL_INTERVAL_MS", summary: "block polling interval, ms (default 1000, 100-60000)" },
  { name: "CHAIN_ID", summary: "expected chain id, checked at startup" },
  { name: "PRIVATE_KEY", summary: "keeper's signing key, 0x + 64 hex (this or KEYSTORE_PATH, unless dry run)" },
  { name: "KEYSTORE_PATH", summary: "... or an encrypted JSON keystore file (Web3 Secret Storage v3) holding it" },
  { name: "KEYSTORE_PASSWORD_FILE", summary: "file holding the keystore's password (with KEYSTORE_PATH)" },
  { name: "KEYSTORE_PASSWORD", summary: "the keystore's password itself (discouraged: use KEYSTORE_PASSWORD_FILE)" },
  { name: "VAULTS", summary: "vault addresses, comma-separated (with LENS_ADDRESS) ..." },
  { name: "LENS_ADDRESS", summary: "VaultLens address (with VAULTS)" },
  { name: "QUOTE_DECIMALS", summary: "quote token decimals for VAULTS (default 6)" },
  { name: "UNDERLYING_DECIMALS", summary: "underlying token decimals for VAULTS (default 18)" },
  { name: "DEPLOYMENTS_FILE", summary: "... or a deployments/<chainId>.json file (lens, vaults, decimals)" },
  { name: "KEEPER_POLICY", summary: `${POLICY_NAMES.join(" | ")} (default gas-aware)` },
  {
    name: "POLICY_MIN_TRADE",
    summary: "every-block, interval, delay-cap, time-or-move: smallest |delta| hedged, underlying (default 0.01)",
  },
  { name: "POLICY_INTERVAL_BLOCKS", summary: "interval: blocks between hedges (default 10)" },
  { name: "POLICY_BAND", summary: "band: half-width, underlying units (default 0.5)" },
  { name: "POLICY_TARGET", summary: "band: zero | edge (default zero)" },
  { name: "POLICY_COST_RATE", summary: "whalley-wilmott: cost rate lambda, 0-0.1 (default: the AMM fee)" },
  { name: "POLICY_MIN_DELAY_BLOCKS", summary: "delay-cap: blocks from one hedge to the next, at least (default 10)" },
  { name: "POLICY_MAX_HEDGE", summary: "delay-cap: most |delta| one hedge removes, underlying (default: no cap)" },
  { name: "POLICY_TIME_BLOCKS", summary: "time-or-move: hedge after this many blocks (default 300)" },
  { name: "POLICY_MOVE_BPS", summary: "time-or-move: ... or after a spot move of this much, bps (default 100)" },
  { name: "RISK_AVERSION", summary: "gamma, per quote unit (default 0.0001)" },
  { name: "RISK_HORIZON_SECONDS", summary: "how long unhedged delta is carried, s (default 3600)" },
  { name: "MAX_FEE_GWEI", summary: "max fee per gas, gwei (default 100)" },
  { name: "MAX_PRIORITY_FEE_GWEI", summary: "max priority fee per gas, gwei (default 2)" },
  { name: "GAS_LIMIT_PER_HEDGE", summary: "gas limit per hedge (default 600000)" },
  { name: "MAX_SLIPPAGE_BPS", summary: "keeper's slippage bound, bps (default 100, 1-1000)" },
  { name: "MIN_OUT_MARGIN_BPS", summary: "minAmountOut margin below the quote, bps (default 10)" },
  { name: "CONFIRMATIONS", summary: "confirmations awaited per hedge (default 1, 1-64)" },
  { name: "GAS_PRICE_TOKEN_IN_QUOTE", summary: "gas token price in quote units (default: oracle spot)" },
  { name: "GREEKS_TOLERANCE", summary: "on-chain vs off-chain Greeks relative tolerance (default 1e-6)" },
  { name: "JOURNAL_DIR", summary: "directory of the exactly-once hedge journal (default .keeper)" },
  { name: "SHADOW", summary: "true | false: decide and log beside on-chain reality, never sign or send (default false)" },
  { name: "REPLACE_AFTER_BLOCKS", summary: "re-check a hedge not mined after this many blocks (default 3)" },
  { name: "FEE_BUMP_PERCENT", summary: "fee increase of a replacement, % of both fee fields (default 12.5, > 10)" },
  { name: "RETRY_BACKOFF_BLOCKS", summary: "blocks to wait after a failed hedge, doubling (default 2)" },
  { name: "GAS_BUDGET_PER_HOUR", summary: "per-vault gas spending cap per rolling hour, native units (default: none)" },
  { name: "GAS_BUDGET_PER_DAY", summary: "per-vault gas spending cap per rolling day, native units (default: none)" },
  { name: "MAX_ORACLE_DEVIATION_BPS", summary: "oracle this far from the pool price is wild: no hedge (default 1000)" },
  { name: "METRICS_PORT", summary: "serve /metrics, /healthz, /readyz on 127.0.0.1:<port>; 0 lets the OS pick one, logged at start (default: off)" },
  { name: "READY_MAX_HEAD_AGE_SECONDS", summary: "unready when no new block for this long, s (default 60)" },
  { name: "READY_MAX_PENDING_BLOCKS", summary: "unready when a hedge is pending longer, blocks (default 10)" },
  { name: "READY_MAX_OUT_OF_BAND_BLOCKS", summary: "unready when a vault stays out of band unhedged, blocks (default 20)" },
  { name: "READY_MIN_SIGNER_BALANCE", summary: "unready below this signer balance, native units (default 0.01)" },
  { name: "DRY_RUN", summary: "true | false: decide and simulate, never send (default false)" },
  { name: "LOG_LEVEL", summary: `${LOG_LEVELS.join(" | ")} (default info)` },
  { name: "LOG_PRETTY", summary: "true | false: human-readable logs (default false)" },
];

// ── Deployments file ──────────────────────────────────────────────────────────────────────────────────────────

const addressSchema = z
  .string()
  .refine((value) => isAddress(value), { message: "not an address (0x + 40 hex digits, checksummed or lowercase)" })
  .transform((value) => getAddress(value));

const decimalsSchema = z.number().int().min(0).max(36);

/**
 * `deployments/<chainId>.json`, as the deploy script writes it. Only these fields are read; others (the AMM, the
 * oracle, the tokens, …) are allowed and ignored.
 */
export const deploymentsSchema = z.object({
  chainId: z.number().int().positive(),
  lens: addressSchema,
  vaults: z
    .array(
      z.object({
        address: addressSchema,
        quoteDecimals: decimalsSchema,
        underlyingDecimals: decimalsSchema,
      }),
    )
    .min(1),
});
export type Deployments = z.output<typeof deploymentsSchema>;

// ── Public API ────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Reads a `.env` file into a plain object, without touching `process.env`. With no `path`, a missing `./.env` is
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
  const shadow = overrides.shadow ?? read.boolean("SHADOW", false);
  const dryRun = shadow === true ? true : (overrides.dryRun ?? read.boolean("DRY_RUN", false));
  const logLevel =
    overrideChoice("--log-level", overrides.logLevel, LOG_LEVELS, issues) ??
    read.choice("LOG_LEVEL", LOG_LEVELS, "info");
  const pretty = overrides.pretty ?? read.boolean("LOG_PRETTY", false);

  const rpcUrl = read.url("RPC_URL", HTTP);
  if (read.raw("RPC_URL") === undefined) {
    issues.push({
      variable: "RPC_URL",
      problem: "is required: the keeper's JSON-RPC endpoint, e.g. https://eth-sepolia.example.com/…",
    });
  }
  const fallbackUrls = read.urlList("RPC_URLS", HTTP, rpcUrl);
  const wsUrl = read.url("WS_URL", WS);
  const pollIntervalMs = read.number("POLL_INTERVAL_MS", { integer: true, min: 100, max: 60_000 }, 1000);
  const chainId = read.number("CHAIN_ID", { integer: true, min: 1 });

  const signer = readSigner(read, env, dryRun, readFile, issues);

  const vaultSource = readVaults(read, overrides.vaults, readFile, issues);
  const expectedChainId = reconcileChainId(chainId, vaultSource, issues);

  const policyName =
    overrideChoice("--policy", overrides.policy, POLICY_NAMES, issues) ??
    read.choice("KEEPER_POLICY", POLICY_NAMES, "gas-aware");
  const minTrade = read.number("POLICY_MIN_TRADE", { min: 0 }, 0.01);
  const intervalBlocks = read.number("POLICY_INTERVAL_BLOCKS", { integer: true, min: 1, max: 1_000_000 }, 10);
  const band = read.number("POLICY_BAND", { min: 0, minExclusive: true }, 0.5);
  const target = read.choice("POLICY_TARGET", HEDGE_TARGETS, "zero");
  const costRate = read.number("POLICY_COST_RATE", { min: 0, max: 0.1 });
  const minDelayBlocks = read.number("POLICY_MIN_DELAY_BLOCKS", { integer: true, min: 1, max: 1_000_000 }, 10);
  // Unset: no cap, +Infinity (a value cannot say it: decimal notation only).
  const maxHedge = read.number("POLICY_MAX_HEDGE", { min: 0, minExclusive: true }, Number.POSITIVE_INFINITY);
  const timeBlocks = read.number("POLICY_TIME_BLOCKS", { integer: true, min: 1, max: 1_000_000 }, 300);
  const moveBps = read.number("POLICY_MOVE_BPS", { min: 0, minExclusive: true, max: 10_000 }, 100);
  const riskAversion = read.number("RISK_AVERSION", { min: 0, minExclusive: true }, 0.0001);
  const horizonSeconds = read.number("RISK_HORIZON_SECONDS", { min: 0, minExclusive: true }, 3600);

  const maxFeePerGasWei = read.gwei("MAX_FEE_GWEI", { positive: true }, "100");
  const maxPriorityFeePerGasWei = read.gwei("MAX_PRIORITY_FEE_GWEI", { positive: false }, "2");
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
  const gasLimitPerHedge = read.number("GAS_LIMIT_PER_HEDGE", { integer: true, min: 21_000, max: 30_000_000 }, 600_000);
  const maxSlippageBps = read.number("MAX_SLIPPAGE_BPS", { integer: true, min: 1, max: 1000 }, 100);
  const minOutMarginBps = read.number("MIN_OUT_MARGIN_BPS", { integer: true, min: 0, max: 1000 }, 10);
  const confirmations = read.number("CONFIRMATIONS", { integer: true, min: 1, max: 64 }, 1);
  const gasTokenPriceQuote = read.number("GAS_PRICE_TOKEN_IN_QUOTE", { min: 0, minExclusive: true });
  const greeksTolerance = read.number("GREEKS_TOLERANCE", { min: 0, minExclusive: true, max: 1 }, 1e-6);
  const journalDir = read.raw("JOURNAL_DIR") ?? ".keeper";
  const metricsPort = read.number("METRICS_PORT", { integer: true, min: 0, max: 65_535 });
  const maxHeadAgeSeconds = read.number("READY_MAX_HEAD_AGE_SECONDS", { min: 1, max: 86_400 }, 60);
  const maxPendingBlocks = read.number("READY_MAX_PENDING_BLOCKS", { integer: true, min: 1, max: 100_000 }, 10);
  const maxOutOfBandBlocks = read.number("READY_MAX_OUT_OF_BAND_BLOCKS", { integer: true, min: 1, max: 100_000 }, 20);
  const minSignerBalance = read.number("READY_MIN_SIGNER_BALANCE", { min: 0 }, 0.01);
  const replaceAfterBlocks = read.number("REPLACE_AFTER_BLOCKS", { integer: true, min: 1, max: 1000 }, 3);
  const feeBumpPercent = read.number("FEE_BUMP_PERCENT", { min: 10.5, max: 100 }, 12.5);
  const retryBackoffBlocks = read.number("RETRY_BACKOFF_BLOCKS", { integer: true, min: 1, max: 1000 }, 2);
  const gasBudgetHourly = read.number("GAS_BUDGET_PER_HOUR", { min: 0, minExclusive: true });
  const gasBudgetDaily = read.number("GAS_BUDGET_PER_DAY", { min: 0, minExclusive: true });
  const maxOracleDeviationBps = read.number("MAX_ORACLE_DEVIATION_BPS", { integer: true, min: 1, max: 10_000 }, 1000);

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
    rpc: { url: must(rpcUrl), fallbackUrls: must(fallbackUrls), wsUrl, pollIntervalMs: must(pollIntervalMs) },
    expectedChainId,
    privateKey: signer.privateKey,
    signerSource: signer.source,
    lens: must(vaultSource).lens,
    vaults: must(vaultSource).vaults,
    vaultSource: must(vaultSource).source,
    policy,
    risk: { riskAversion: must(riskAversion), horizonSeconds: must(horizonSeconds) },
    sending: {
      maxFeePerGasWei: must(maxFeePerGasWei),
      maxPriorityFeePerGasWei: must(maxPriorityFeePerGasWei),
      gasLimitPerHedge: BigInt(must(gasLimitPerHedge)),
      maxSlippageBps: must(maxSlippageBps),
      minOutMarginBps: must(minOutMarginBps),
      confirmations: must(confirmations),
      gasTokenPriceQuote,
    },
    greeksTolerance: must(greeksTolerance),
    journalDir,
    shadow: must(shadow),
    resilience: {
      replaceAfterBlocks: must(replaceAfterBlocks),
      feeBumpPercent: must(feeBumpPercent),
      retryBackoffBlocks: must(retryBackoffBlocks),
      gasBudgetPerHourWei: gasBudgetHourly === undefined ? undefined : toWei(gasBudgetHourly),
      gasBudgetPerDayWei: gasBudgetDaily === undefined ? undefined : toWei(gasBudgetDaily),
      maxOracleDeviationBps: must(maxOracleDeviationBps),
    },
    telemetry: {
      metricsPort,
      maxHeadAgeMs: must(maxHeadAgeSeconds) * 1000,
      maxPendingBlocks: must(maxPendingBlocks),
      maxOutOfBandBlocks: must(maxOutOfBandBlocks),
      minSignerBalanceWei: BigInt(Math.round(must(minSignerBalance) * 1e9)) * 10n ** 9n,
    },
    dryRun: must(dryRun),
    log: { level: must(logLevel), pretty: must(pretty) },
  });
}

/**
 * A URL safe to log: scheme and host only, `…` for anything after (path, query, user info), which is where
 * providers put API keys. A string that is not a URL is not shown at all.
 */
/** Native units (e.g. ETH) to wei, to 1e-9 precision. */
function toWei(units: number): bigint {
  return BigInt(Math.round(units * 1e9)) * 10n ** 9n;
}

export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "<not a URL>";
  }
  const hidden =
    parsed.username !== "" ||
    parsed.password !== "" ||
    parsed.pathname.length > 1 ||
    parsed.search !== "" ||
    parsed.hash !== "";
  return `${parsed.protocol}//${parsed.host}${hidden ? "/…" : ""}`;
}

/** The configuration as it may be logged: URLs redacted, the key reduced to where it comes from, gwei as strings. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    rpc: {
      url: redactUrl(config.rpc.url),
      fallbackUrls: config.rpc.fallbackUrls.map(redactUrl),
      wsUrl: config.rpc.wsUrl === undefined ? undefined : redactUrl(config.rpc.wsUrl),
      pollIntervalMs: config.rpc.pollIntervalMs,
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
    risk: config.risk,
    sending: {
      maxFeeGwei: formatGwei(config.sending.maxFeePerGasWei),
      maxPriorityFeeGwei: formatGwei(config.sending.maxPriorityFeePerGasWei),
      gasLimitPerHedge: Number(config.sending.gasLimitPerHedge),
      maxSlippageBps: config.sending.maxSlippageBps,
      minOutMarginBps: config.sending.minOutMarginBps,
      confirmations: config.sending.confirmations,
      gasTokenPriceQuote: config.sending.gasTokenPriceQuote,
    },
    greeksTolerance: config.greeksTolerance,
    dryRun: config.dryRun,
    log: config.log,
  };
}

// ── Variable readers ──────────────────────────────────────────────────────────────────────────────────────────

const HTTP = { protocols: ["http:", "https:"], label: "an http(s) URL" } as const;
const WS = { protocols: ["ws:", "wss:"], label: "a ws(s) URL" } as const;
type UrlKind = typeof HTTP | typeof WS;

interface NumberRule {
  integer?: boolean;
  min?: number;
  /** `min` itself is out of range. */
  minExclusive?: boolean;
  max?: number;
}

/** Decimal notation only: no hex, no `Infinity`, no thousands separators. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GWEI = /^\d+(\.\d{1,9})?$/;
const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;
/** Order of secp256k1: a private key is in [1, n - 1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Readers that record an issue and return `undefined` on a bad value, and return the default when unset. */
function reader(env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]) {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const fail = (variable: string, problem: string): undefined => {
    issues.push({ variable, problem });
    return undefined;
  };

  return {
    raw,

    number(name: string, rule: NumberRule, fallback?: number): number | undefined {
      const value = raw(name);
      if (value === undefined) return fallback;
      const parsed = DECIMAL.test(value) ? Number(value) : Number.NaN;
      const ok =
        Number.isFinite(parsed) &&
        (!rule.integer || Number.isSafeInteger(parsed)) &&
        (rule.min === undefined || (rule.minExclusive ? parsed > rule.min : parsed >= rule.min)) &&
        (rule.max === undefined || parsed <= rule.max);
      return ok ? parsed : fail(name, `must be ${describeRule(rule)} (got ${quote(value)})`);
    },

    boolean(name: string, fallback: boolean): boolean | undefined {
      const value = raw(name);
      if (value === undefined) return fallback;
      const lower = value.toLowerCase();
      if (lower === "true" || lower === "1") return true;
      if (lower === "false" || lower === "0") return false;
      return fail(name, `must be true, false, 1 or 0 (got ${quote(value)})`);
    },

    choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T | undefined {
      const value = raw(name);
      if (value === undefined) return fallback;
      if ((allowed as readonly string[]).includes(value)) return value as T;
      return fail(name, `must be one of ${allowed.join(", ")} (got ${quote(value)})`);
    },

    url(name: string, kind: UrlKind): string | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const problem = urlProblem(value, kind);
      return problem === undefined ? value : fail(name, problem);
    },

    /** A comma-separated list of URLs, without `exclude` (the primary endpoint) or repeats. */
    urlList(name: string, kind: UrlKind, exclude: string | undefined): string[] | undefined {
      const value = raw(name);
      if (value === undefined) return [];
      const urls: string[] = [];
      let ok = true;
      splitList(value).forEach((entry, index) => {
        const problem = urlProblem(entry, kind);
        if (problem !== undefined) {
          ok = false;
          fail(name, `entry ${index + 1} ${problem}`);
        } else if (entry !== exclude && !urls.includes(entry)) {
          urls.push(entry);
        }
      });
      return ok ? urls : undefined;
    },

    gwei(name: string, rule: { positive: boolean }, fallback: string): bigint | undefined {
      const value = raw(name) ?? fallback;
      const expected = rule.positive
        ? "a number of gwei greater than 0, in decimal notation with at most 9 decimals (1 wei = 1e-9 gwei)"
        : "a number of gwei of at least 0, in decimal notation with at most 9 decimals (1 wei = 1e-9 gwei)";
      if (!GWEI.test(value)) return fail(name, `must be ${expected} (got ${quote(value)})`);
      const wei = parseGwei(value);
      return rule.positive && wei === 0n ? fail(name, `must be ${expected} (got ${quote(value)})`) : wei;
    },

    /** Never echoes the value, not even in part. */
    privateKey(name: string): Hex | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      if (!PRIVATE_KEY.test(value)) {
        const notHex = /^0x/i.test(value) && !/^0x[0-9a-fA-F]*$/.test(value);
        const hint = /^[0-9a-fA-F]{64}$/.test(value)
          ? "it lacks the 0x prefix"
          : `got ${value.length} characters${notHex ? ", not all hex" : ""}`;
        return fail(name, `must be 0x followed by 64 hex digits (${hint}; value not shown)`);
      }
      const scalar = BigInt(value);
      if (scalar === 0n || scalar >= SECP256K1_N) {
        return fail(
          name,
          "is not a valid secp256k1 private key: it must be between 1 and the curve order (value not shown)",
        );
      }
      return value as Hex;
    },

    /** A list of distinct addresses, checksummed; issues name `label` (a variable or a flag). */
    addresses(label: string, entries: readonly string[]): Address[] | undefined {
      if (entries.length === 0) return fail(label, "must list at least one vault address");
      const addresses: Address[] = [];
      let ok = true;
      entries.forEach((entry, index) => {
        const problem = addressProblem(entry);
        if (problem !== undefined) {
          ok = false;
          fail(label, `entry ${index + 1} ${quote(entry)} ${problem}`);
          return;
        }
        const address = getAddress(entry);
        if (addresses.includes(address)) {
          ok = false;
          fail(label, `entry ${index + 1} repeats ${address}`);
        } else {
          addresses.push(address);
        }
      });
      return ok ? addresses : undefined;
    },

    address(name: string): Address | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const problem = addressProblem(value);
      return problem === undefined ? getAddress(value) : fail(name, `${problem} (got ${quote(value)})`);
    },
  };
}
type Reader = ReturnType<typeof reader>;

/**
 * Exactly one of `PRIVATE_KEY` and `KEYSTORE_PATH` (with its password from `KEYSTORE_PASSWORD_FILE` or, discouraged,
 * `KEYSTORE_PASSWORD`); neither only in a dry run. A keystore is decrypted here, once: a second or so for standard
 * scrypt parameters.
 */
function readSigner(
  read: Reader,
  env: Readonly<Record<string, string | undefined>>,
  dryRun: boolean | undefined,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): { privateKey: Hex | undefined; source: Config["signerSource"] } {
  const keyGiven = read.raw("PRIVATE_KEY") !== undefined;
  const privateKey = read.privateKey("PRIVATE_KEY");
  const path = read.raw("KEYSTORE_PATH");
  const passwordFile = read.raw("KEYSTORE_PASSWORD_FILE");
  // Verbatim, not trimmed: spaces may be part of a password. Blank still counts as unset, as for every variable.
  const passwordValue = read.raw("KEYSTORE_PASSWORD") === undefined ? undefined : env.KEYSTORE_PASSWORD;

  // With a malformed DRY_RUN (already an issue) whether a key is required is unknown: don't pile on.
  if (dryRun === false && !keyGiven && path === undefined) {
    issues.push({
      variable: "PRIVATE_KEY",
      problem:
        "PRIVATE_KEY or KEYSTORE_PATH is required unless DRY_RUN=true (or --dry-run): the keeper's signing key, " +
        "raw or in an encrypted JSON keystore",
    });
  }
  if (path === undefined) {
    const unused = { KEYSTORE_PASSWORD_FILE: passwordFile, KEYSTORE_PASSWORD: passwordValue };
    for (const [variable, value] of Object.entries(unused)) {
      if (value !== undefined) issues.push({ variable, problem: "is used only with KEYSTORE_PATH, which is not set" });
    }
    return { privateKey, source: keyGiven ? { kind: "private-key" } : { kind: "none" } };
  }

  const source = { kind: "keystore", path } as const;
  let ok = true;
  if (keyGiven) {
    ok = false;
    issues.push(
      { variable: "PRIVATE_KEY", problem: "cannot be combined with KEYSTORE_PATH: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
      { variable: "KEYSTORE_PATH", problem: "cannot be combined with PRIVATE_KEY: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
    );
  }
  if (passwordFile === undefined && passwordValue === undefined) {
    ok = false;
    issues.push({
      variable: "KEYSTORE_PASSWORD_FILE",
      problem: "is required with KEYSTORE_PATH: a file holding the keystore's password (or, discouraged, set KEYSTORE_PASSWORD)",
    });
  } else if (passwordFile !== undefined && passwordValue !== undefined) {
    ok = false;
    issues.push({
      variable: "KEYSTORE_PASSWORD",
      problem: "cannot be combined with KEYSTORE_PASSWORD_FILE: give one (the file is safer)",
    });
  }
  if (!ok) return { privateKey: undefined, source };

  let password = passwordValue;
  if (passwordFile !== undefined) {
    try {
      // One trailing line ending, as `echo` and editors leave it, is not part of the password.
      password = readFile(passwordFile).replace(/\r?\n$/, "");
    } catch (error) {
      issues.push({ variable: "KEYSTORE_PASSWORD_FILE", problem: `cannot read ${passwordFile} (${describeFsError(error)})` });
    }
  }
  let json: string | undefined;
  try {
    json = readFile(path);
  } catch (error) {
    issues.push({ variable: "KEYSTORE_PATH", problem: `cannot read ${path} (${describeFsError(error)})` });
  }
  if (json === undefined || password === undefined) return { privateKey: undefined, source };
  try {
    return { privateKey: decryptKeystore(json, password), source };
  } catch (error) {
    // A KeystoreError's message names the fault, never the password or key material.
    if (!(error instanceof KeystoreError)) throw error;
    issues.push({ variable: "KEYSTORE_PATH", problem: `${path}: ${error.message}` });
    return { privateKey: undefined, source };
  }
}

function describeSigner(source: Config["signerSource"]): string {
  switch (source.kind) {
    case "none":
      return "none";
    case "private-key":
      return "private key";
    case "keystore":
      return `keystore ${source.path}`;
  }
}

interface VaultSource {
  lens: Address;
  vaults: VaultConfig[];
  source: Config["vaultSource"];
  chainId: number | undefined;
}

/**
 * Exactly one of `VAULTS` (+ `LENS_ADDRESS`) and `DEPLOYMENTS_FILE`; `--vault` replaces `VAULTS` or selects from
 * the file.
 */
function readVaults(
  read: Reader,
  vaultOverride: readonly string[] | undefined,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): VaultSource | undefined {
  const file = read.raw("DEPLOYMENTS_FILE");
  const listed = read.raw("VAULTS");

  if (file !== undefined) {
    let ok = true;
    for (const name of ["VAULTS", "LENS_ADDRESS", "QUOTE_DECIMALS", "UNDERLYING_DECIMALS"]) {
      if (read.raw(name) !== undefined) {
        ok = false;
        issues.push({
          variable: name,
          problem: "cannot be combined with DEPLOYMENTS_FILE: give VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE, not both",
        });
      }
    }
    const deployments = readDeployments(file, readFile, issues);
    if (deployments === undefined || !ok) return undefined;
    let vaults: VaultConfig[] = deployments.vaults;
    if (vaultOverride !== undefined) {
      const selected = read.addresses("--vault", vaultOverride);
      if (selected === undefined) return undefined;
      const missing = selected.filter((address) => !vaults.some((vault) => vault.address === address));
      if (missing.length > 0) {
        issues.push({ variable: "--vault", problem: `not in DEPLOYMENTS_FILE ${file}: ${missing.join(", ")}` });
        return undefined;
      }
      vaults = selected.map((address) => must(vaults.find((vault) => vault.address === address)));
    }
    return {
      lens: deployments.lens,
      vaults,
      source: { kind: "deployments", path: file },
      chainId: deployments.chainId,
    };
  }

  const quoteDecimals = read.number("QUOTE_DECIMALS", { integer: true, min: 0, max: 36 }, 6);
  const underlyingDecimals = read.number("UNDERLYING_DECIMALS", { integer: true, min: 0, max: 36 }, 18);
  const lens = read.address("LENS_ADDRESS");
  const addresses =
    vaultOverride !== undefined
      ? read.addresses("--vault", vaultOverride)
      : listed !== undefined
        ? read.addresses("VAULTS", splitList(listed))
        : undefined;

  if (vaultOverride === undefined && listed === undefined) {
    issues.push({ variable: "VAULTS", problem: "is required: set VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE" });
  } else if (read.raw("LENS_ADDRESS") === undefined) {
    issues.push({ variable: "LENS_ADDRESS", problem: "is required with VAULTS (or set DEPLOYMENTS_FILE instead)" });
  }
  if (lens === undefined || addresses === undefined) return undefined;
  if (quoteDecimals === undefined || underlyingDecimals === undefined) return undefined;
  return {
    lens,
    vaults: addresses.map((address) => ({ address, quoteDecimals, underlyingDecimals })),
    source: { kind: "list" },
    chainId: undefined,
  };
}

function readDeployments(
  path: string,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): Deployments | undefined {
  const fail = (problem: string): undefined => {
    issues.push({ variable: "DEPLOYMENTS_FILE", problem });
    return undefined;
  };
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    return fail(`cannot read ${path} (${describeFsError(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = deploymentsSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      fail(`${path}: ${formatPath(issue.path)}: ${issue.message}`);
    }
    return undefined;
  }
  const seen = new Set<Address>();
  for (const [index, vault] of parsed.data.vaults.entries()) {
    if (seen.has(vault.address)) return fail(`${path}: vaults[${index}].address repeats ${vault.address}`);
    seen.add(vault.address);
  }
  return parsed.data;
}

/** `CHAIN_ID`, else the deployments file's; when both are given they must agree. */
function reconcileChainId(
  chainId: number | undefined,
  source: VaultSource | undefined,
  issues: ConfigIssue[],
): number | undefined {
  const fileChainId = source?.chainId;
  if (chainId !== undefined && fileChainId !== undefined && chainId !== fileChainId) {
    issues.push({
      variable: "CHAIN_ID",
      problem: `is ${chainId} but DEPLOYMENTS_FILE is for chain ${fileChainId}`,
    });
  }
  return chainId ?? fileChainId;
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

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────────────────────

function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? "an integer" : "a number";
  const { min, max } = rule;
  if (min !== undefined && max !== undefined) {
    return rule.minExclusive ? `${kind} greater than ${min} and at most ${max}` : `${kind} from ${min} to ${max}`;
  }
  if (min !== undefined) return rule.minExclusive ? `${kind} greater than ${min}` : `${kind} of at least ${min}`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

/** Why `value` is not a URL of `kind`; it shows at most the scheme and host, never the path or user info. */
function urlProblem(value: string, kind: UrlKind): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    const scheme = kind === HTTP ? "https" : "wss";
    return `must be ${kind.label}, e.g. ${scheme}://host/path (got a value that is not a URL; not shown, as it may hold an API key)`;
  }
  if (!(kind.protocols as readonly string[]).includes(parsed.protocol)) {
    const isWs = parsed.protocol === "ws:" || parsed.protocol === "wss:";
    const hint = kind === HTTP && isWs ? "; WebSocket endpoints go in WS_URL" : "";
    return `must be ${kind.label} (got ${quote(redactUrl(value))}${hint})`;
  }
  if (parsed.hostname === "") return `must be ${kind.label} with a host (got ${quote(redactUrl(value))})`;
  return undefined;
}

function addressProblem(value: string): string | undefined {
  if (isAddress(value)) return undefined;
  if (isAddress(value, { strict: false })) {
    return "has a bad checksum (check for a typo, or give it in lowercase)";
  }
  return "is not an address (0x + 40 hex digits, checksummed or lowercase)";
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** A received value for a message: quoted, and cut if long so one bad variable stays one line. */
function quote(value: string): string {
  const oneLine = value.replace(/\s+/g, " ");
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine);
}

function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  return path.map((key, index) => (typeof key === "number" ? `[${key}]` : index === 0 ? key : `.${key}`)).join("");
}

function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EISDIR") return "it is a directory";
    if (code === "EACCES") return "permission denied";
    return code ?? error.message;
  }
  return String(error);
}

/** Issues in `.env.example`'s order (flags first), however the checks happened to run. */
function inDocumentOrder(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const rank = (issue: ConfigIssue) => ENV_VARS.findIndex((variable) => variable.name === issue.variable);
  return [...issues].sort((a, b) => rank(a) - rank(b));
}

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("unreachable: a config value is missing although no issue was recorded");
  return value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
