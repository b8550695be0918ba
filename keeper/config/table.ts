/**
 * Every environment variable the keeper reads, stated once: name, rule, default, unit and a one-line summary.
 * This table drives `parseConfig` (the rule and the default), `--help` (one line per row, in this order) and the
 * test that `.env.example` documents exactly these variables with these defaults. A default lives here and
 * nowhere else: code that needs one imports `CONFIG_DEFAULTS`.
 *
 * Pure data: it imports only the policy names and chain types, so the pure core (tick, simulator) may import the defaults without
 * pulling in the parser, the keystore or dotenv.
 */
import { CHAIN_TYPES } from "../chain/chainType.ts";
import { POLICY_NAMES } from "../policy/index.ts";
import type { HedgeTarget } from "../types.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const HEDGE_TARGETS = ["zero", "edge"] as const satisfies readonly HedgeTarget[];

/** A number in decimal notation, within bounds. */
export interface NumberRule {
  readonly kind: "number";
  readonly integer?: boolean;
  readonly min?: number;
  /** `min` itself is out of range. */
  readonly minExclusive?: boolean;
  readonly max?: number;
}

/** What a variable's value must be; each kind has one reader in `./read.ts`, which words its errors. */
export type Rule =
  | NumberRule
  | { readonly kind: "boolean" }
  | { readonly kind: "choice"; readonly allowed: readonly string[] }
  /** Gwei in decimal notation, at most 9 decimals; `positive`: 0 is refused. */
  | { readonly kind: "gwei"; readonly positive: boolean }
  | { readonly kind: "url"; readonly protocols: "http" | "ws" }
  /** Comma-separated URLs. */
  | { readonly kind: "urls"; readonly protocols: "http" | "ws" }
  | { readonly kind: "private-key" }
  | { readonly kind: "address" }
  /** Comma-separated addresses. */
  | { readonly kind: "addresses" }
  /** A file or directory path, as given. */
  | { readonly kind: "path" }
  /** Taken verbatim and never echoed. */
  | { readonly kind: "secret" };

/** One row of the table. */
export interface EnvVar {
  readonly name: string;
  /** One line for `--help`: what it is, without unit, default or range (those are rendered from the row). */
  readonly summary: string;
  readonly rule: Rule;
  /** Unit of the value as written, e.g. `ms`, `bps`, `gwei`, `underlying units`. */
  readonly unit?: string;
  /** The value when unset, in the variable's own unit; `.env.example` shows it as `# NAME=<default>`. */
  readonly default?: number | string | boolean;
  /** What unset means when no value can say it (no default, or an unwritable one such as +Infinity). */
  readonly unset?: string;
  /** Parsing fails when unset (alone or, see the summary, together with another variable). */
  readonly required?: boolean;
}

const integer = (min: number, max?: number): NumberRule =>
  max === undefined ? { kind: "number", integer: true, min } : { kind: "number", integer: true, min, max };
const positive = (max?: number): NumberRule =>
  max === undefined ? { kind: "number", min: 0, minExclusive: true } : { kind: "number", min: 0, minExclusive: true, max };
const boolean = { kind: "boolean" } as const;

/** The table, in `.env.example`'s order (which is also the order of `--help` and of reported issues). */
export const ENV_VARS = [
  // ── Chain
  { name: "RPC_URL", summary: "JSON-RPC endpoint, http(s)", rule: { kind: "url", protocols: "http" }, required: true },
  {
    name: "RPC_URLS",
    summary: "extra http(s) endpoints for failover, comma-separated",
    rule: { kind: "urls", protocols: "http" },
    unset: "none",
  },
  {
    name: "WS_URL",
    summary: "ws(s) endpoint: blocks from a newHeads subscription instead of polling",
    rule: { kind: "url", protocols: "ws" },
    unset: "poll RPC_URL",
  },
  { name: "POLL_INTERVAL_MS", summary: "block polling interval", unit: "ms", rule: integer(100, 60_000), default: 1000 },
  {
    name: "LENS_CALL_GAS_BUDGET",
    summary: "gas per lens eth_call: the vaults are read in chunks that fit it",
    unit: "gas",
    rule: integer(1_000_000, 1_000_000_000),
    default: 16_000_000,
  },
  { name: "CHAIN_ID", summary: "expected chain id, checked at startup", rule: integer(1), unset: "the deployments file's" },
  {
    name: "CHAIN_TYPE",
    summary: "fee rules and the L1 data fee's source: l1, op (OP stack: GasPriceOracle), arbitrum (NodeInterface)",
    rule: { kind: "choice", allowed: CHAIN_TYPES },
    unset: "from the chain id (OP Mainnet, Base, … op; Arbitrum One, Nova, Sepolia arbitrum; any other l1)",
  },
  // ── Signer
  {
    name: "PRIVATE_KEY",
    summary: "keeper's signing key, 0x + 64 hex (this or KEYSTORE_PATH, unless dry run)",
    rule: { kind: "private-key" },
  },
  {
    name: "KEYSTORE_PATH",
    summary: "... or an encrypted JSON keystore file (Web3 Secret Storage v3) holding it",
    rule: { kind: "path" },
  },
  {
    name: "KEYSTORE_PASSWORD_FILE",
    summary: "file holding the keystore's password (with KEYSTORE_PATH)",
    rule: { kind: "path" },
  },
  {
    name: "KEYSTORE_PASSWORD",
    summary: "the keystore's password itself (discouraged: use KEYSTORE_PASSWORD_FILE)",
    rule: { kind: "secret" },
  },
  // ── Vaults
  { name: "VAULTS", summary: "vault addresses, comma-separated (with LENS_ADDRESS) ...", rule: { kind: "addresses" } },
  { name: "LENS_ADDRESS", summary: "VaultLens address (with VAULTS)", rule: { kind: "address" } },
  { name: "QUOTE_DECIMALS", summary: "quote token decimals for VAULTS", rule: integer(0, 36), default: 6 },
  { name: "UNDERLYING_DECIMALS", summary: "underlying token decimals for VAULTS", rule: integer(0, 36), default: 18 },
  {
    name: "DEPLOYMENTS_FILE",
    summary: "... or a deployments/<chainId>.json file (lens, vaults, decimals)",
    rule: { kind: "path" },
  },
  // ── Policy
  { name: "KEEPER_POLICY", summary: "when to hedge", rule: { kind: "choice", allowed: POLICY_NAMES }, default: "gas-aware" },
  {
    name: "POLICY_MIN_TRADE",
    summary: "every-block, interval, delay-cap, time-or-move: smallest |delta| hedged",
    unit: "underlying units",
    rule: { kind: "number", min: 0 },
    default: 0.01,
  },
  {
    name: "POLICY_INTERVAL_BLOCKS",
    summary: "interval: blocks between hedges",
    unit: "blocks",
    rule: integer(1, 1_000_000),
    default: 10,
  },
  { name: "POLICY_BAND", summary: "band: half-width", unit: "underlying units", rule: positive(), default: 0.5 },
  { name: "POLICY_TARGET", summary: "band: where a hedge aims", rule: { kind: "choice", allowed: HEDGE_TARGETS }, default: "zero" },
  {
    name: "POLICY_COST_RATE",
    summary: "whalley-wilmott: cost rate lambda",
    rule: { kind: "number", min: 0, max: 0.1 },
    unset: "the AMM fee",
  },
  {
    name: "POLICY_MIN_DELAY_BLOCKS",
    summary: "delay-cap: blocks from one hedge to the next, at least",
    unit: "blocks",
    rule: integer(1, 1_000_000),
    default: 10,
  },
  {
    name: "POLICY_MAX_HEDGE",
    summary: "delay-cap: most |delta| one hedge removes",
    unit: "underlying units",
    rule: positive(),
    // Decimal notation cannot say +Infinity, so `.env.example` shows no default line for it.
    default: Number.POSITIVE_INFINITY,
    unset: "no cap",
  },
  {
    name: "POLICY_TIME_BLOCKS",
    summary: "time-or-move: hedge after this many blocks",
    unit: "blocks",
    rule: integer(1, 1_000_000),
    default: 300,
  },
  {
    name: "POLICY_MOVE_BPS",
    summary: "time-or-move: ... or after a spot move of this much",
    unit: "bps",
    rule: positive(10_000),
    default: 100,
  },
  {
    name: "MAX_ABS_DELTA",
    summary: "hard limit on |delta|: above it the keeper always trades back, whatever the cost (any policy)",
    unit: "underlying units",
    rule: positive(),
    // Per policy, so no single value: keeper/policy/hardLimit.ts `defaultMaxAbsDelta`.
    unset: "band: POLICY_BAND; other policies: none",
  },
  { name: "RISK_AVERSION", summary: "gamma", unit: "per quote unit", rule: positive(), default: 0.0001 },
  { name: "RISK_HORIZON_SECONDS", summary: "how long unhedged delta is carried", unit: "s", rule: positive(), default: 3600 },
  // ── Sending
  { name: "MAX_FEE_GWEI", summary: "max fee per gas", unit: "gwei", rule: { kind: "gwei", positive: true }, default: "100" },
  {
    name: "MAX_PRIORITY_FEE_GWEI",
    summary: "max priority fee per gas",
    unit: "gwei",
    rule: { kind: "gwei", positive: false },
    default: "2",
  },
  { name: "GAS_LIMIT_PER_HEDGE", summary: "gas limit per hedge", rule: integer(21_000, 30_000_000), default: 600_000 },
  { name: "MAX_SLIPPAGE_BPS", summary: "keeper's slippage bound", unit: "bps", rule: integer(1, 1000), default: 100 },
  {
    name: "MIN_OUT_MARGIN_BPS",
    summary: "minAmountOut margin below the quote",
    unit: "bps",
    rule: integer(0, 1000),
    default: 10,
  },
  {
    name: "SWAP_DEADLINE_SECONDS",
    summary: "swap deadline of a hedge, after its block's timestamp",
    unit: "s",
    // At least a few L1 blocks (and REPLACE_AFTER_BLOCKS' default of 3), so a hedge is not dead on arrival; at
    // most an hour, so a stuck one cannot trade long after the state it was sized on.
    rule: integer(30, 3600),
    default: 300,
  },
  { name: "CONFIRMATIONS", summary: "confirmations awaited per hedge", rule: integer(1, 64), default: 1 },
  {
    name: "GAS_PRICE_TOKEN_IN_QUOTE",
    summary: "gas token price",
    unit: "quote units",
    rule: positive(),
    unset: "oracle spot",
  },
  {
    name: "GREEKS_TOLERANCE",
    summary: "on-chain vs off-chain Greeks relative tolerance",
    rule: positive(1),
    default: 1e-6,
  },
  { name: "JOURNAL_DIR", summary: "directory of the exactly-once hedge journal", rule: { kind: "path" }, default: ".keeper" },
  // ── Resilience
  { name: "SHADOW", summary: "decide and log beside on-chain reality, never sign or send", rule: boolean, default: false },
  {
    name: "REPLACE_AFTER_BLOCKS",
    summary: "re-check a hedge not mined after this many blocks",
    unit: "blocks",
    rule: integer(1, 1000),
    default: 3,
  },
  {
    name: "FEE_BUMP_PERCENT",
    summary: "fee increase of a replacement (both fee fields)",
    unit: "%",
    rule: { kind: "number", min: 10.5, max: 100 },
    default: 12.5,
  },
  {
    name: "RETRY_BACKOFF_BLOCKS",
    summary: "blocks to wait after a failed hedge, doubling",
    unit: "blocks",
    rule: integer(1, 1000),
    default: 2,
  },
  {
    name: "GAS_BUDGET_PER_HOUR",
    summary: "per-vault gas spending cap per rolling hour",
    unit: "native units",
    rule: positive(),
    unset: "none",
  },
  {
    name: "GAS_BUDGET_PER_DAY",
    summary: "per-vault gas spending cap per rolling day",
    unit: "native units",
    rule: positive(),
    unset: "none",
  },
  {
    name: "MAX_ORACLE_DEVIATION_BPS",
    summary: "largest oracle vs pool price gap to hedge at (beyond it the oracle is wild)",
    unit: "bps",
    rule: integer(1, 10_000),
    default: 1000,
  },
  {
    name: "KEEPER_PEERS",
    summary: "every keeper sharing these vaults (this one included), comma-separated: they take turns to hedge",
    rule: { kind: "addresses" },
    unset: "solo, always this keeper's turn",
  },
  {
    name: "TURN_TAKEOVER_BLOCKS",
    summary: "with KEEPER_PEERS: blocks a vault waits on each peer ahead in the turn order before the next takes over",
    unit: "blocks",
    rule: integer(1, 1000),
    default: 2,
  },
  // ── Telemetry
  {
    name: "METRICS_PORT",
    summary: "serve /metrics, /healthz, /readyz and the status page (/) on 127.0.0.1:<port>; 0 lets the OS pick one, logged at start",
    rule: integer(0, 65_535),
    unset: "off",
  },
  {
    name: "STATUS_HISTORY_BLOCKS",
    summary: "blocks of price, delta and band the status page keeps per vault, in memory (~20 bytes a block)",
    unit: "blocks",
    rule: integer(10, 1_000_000),
    default: 3600,
  },
  {
    name: "READY_MAX_HEAD_AGE_SECONDS",
    summary: "unready when no new block for this long",
    unit: "s",
    rule: { kind: "number", min: 1, max: 86_400 },
    default: 60,
  },
  {
    name: "READY_MAX_PENDING_BLOCKS",
    summary: "unready when a hedge is pending longer",
    unit: "blocks",
    rule: integer(1, 100_000),
    default: 10,
  },
  {
    name: "READY_MAX_OUT_OF_BAND_BLOCKS",
    summary: "unready when a vault stays out of band unhedged",
    unit: "blocks",
    rule: integer(1, 100_000),
    default: 20,
  },
  {
    name: "READY_MIN_SIGNER_BALANCE",
    summary: "unready below this signer balance",
    unit: "native units",
    rule: { kind: "number", min: 0 },
    default: 0.01,
  },
  // ── Operation
  { name: "DRY_RUN", summary: "decide and simulate, never send", rule: boolean, default: false },
  { name: "LOG_LEVEL", summary: "log level", rule: { kind: "choice", allowed: LOG_LEVELS }, default: "info" },
  { name: "LOG_PRETTY", summary: "human-readable logs", rule: boolean, default: false },
] as const satisfies readonly EnvVar[];

type Row = (typeof ENV_VARS)[number];
/** The name of a variable in the table. */
export type EnvName = Row["name"];
/** The row of variable `N`, with its literal types. */
export type EnvRow<N extends EnvName> = Extract<Row, { name: N }>;

type Widen<T> = T extends number ? number : T extends boolean ? boolean : T;
/** Every default, keyed by variable name, in the variable's own unit (gwei as a decimal string). */
export type ConfigDefaults = {
  readonly [R in Row as R extends { default: unknown } ? R["name"] : never]: R extends { default: infer D } ? Widen<D> : never;
};

/**
 * The value each variable takes when unset, keyed by name, in the variable's own unit: the one home of every
 * configuration default (the keeper's options, the tick and the simulator import from here).
 */
export const CONFIG_DEFAULTS: ConfigDefaults = Object.freeze(
  Object.fromEntries(ENV_VARS.flatMap((row) => ("default" in row ? [[row.name, row.default]] : []))),
) as ConfigDefaults;

/** The row of `name`. */
export function envVar<N extends EnvName>(name: N): EnvRow<N> {
  return ENV_VARS.find((row) => row.name === name) as EnvRow<N>;
}

/**
 * A row as one line of `--help`: summary, unit, allowed values, default (or what unset means) and range, e.g.
 * `block polling interval, ms (default 1000, 100-60000)`.
 *
 * @param row - Any row of `ENV_VARS`.
 */
export function describeEnvVar(row: EnvVar): string {
  const { rule } = row;
  // "blocks between hedges, blocks" says it twice: a unit the summary already names is not repeated.
  const named = row.unit !== undefined && ` ${row.summary} `.includes(` ${row.unit} `);
  let text = row.unit === undefined || named ? row.summary : `${row.summary}, ${row.unit}`;
  if (rule.kind === "choice") text += `: ${rule.allowed.join(" | ")}`;
  if (rule.kind === "boolean") text += ": true | false";
  const notes: string[] = [];
  if (row.required) notes.push("required");
  else if (row.unset !== undefined) notes.push(`default: ${row.unset}`);
  else if (row.default !== undefined) notes.push(`default ${formatDefault(row.default)}`);
  if (rule.kind === "number") notes.push(...describeRange(rule));
  return notes.length === 0 ? text : `${text} (${notes.join(", ")})`;
}

/** As `.env.example` writes it: `1e-6`, not `0.000001`. */
function formatDefault(value: number | string | boolean): string {
  return typeof value === "number" && value !== 0 && Math.abs(value) < 1e-4 ? value.toExponential() : String(value);
}

/** A number rule's bounds in a few characters: `1-64`, `> 0`, `>= 0`, `> 0, <= 1`. */
function describeRange(rule: NumberRule): string[] {
  const { min, max, minExclusive } = rule;
  if (min !== undefined && max !== undefined && !minExclusive) return [`${min}-${max}`];
  const bounds: string[] = [];
  if (min !== undefined) bounds.push(minExclusive ? `> ${min}` : `>= ${min}`);
  if (max !== undefined) bounds.push(`<= ${max}`);
  return bounds;
}
