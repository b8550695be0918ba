/**
 * Errors classified by what the caller should do, not by where they came from: JSON-RPC errors
 * (`classifyRpcError`, below) and, once a revert is decoded, the vault's own (`classifyVaultError`, whose table
 * is at `VaultErrorAction`). JSON-RPC errors:
 *
 * | kind            | meaning                                                    | the caller should            |
 * | --------------- | ---------------------------------------------------------- | ---------------------------- |
 * | `transient`     | timeout, refused/reset connection, HTTP 5xx/429/408, a     | try another node, or later   |
 * |                 | body that is not JSON, internal error, node behind the tip |                              |
 * | `tx-known`      | "already known": the node has these very bytes             | wait for the receipt         |
 * | `nonce-too-low` | the nonce is used (by these bytes or by another tx)        | resolve by receipt / resync  |
 * | `underpriced`   | fee below the base fee or below a replacement's bump       | re-price (a new signature)   |
 * | `revert`        | the EVM reverted (eth_call / eth_estimateGas): never       | decode: `classifyVaultError` |
 * |                 | retried as is                                              |                              |
 * | `permanent`     | anything else: invalid params, method not found, 4xx…      | stop; retrying changes nothing |
 *
 * Classification walks the whole `cause` chain (viem's `BaseError.walk`), reading codes, HTTP statuses and the
 * node's own words (`details`), because viem wraps one node answer in up to four errors.
 *
 * RPC URLs often carry an API key (in the path, the query or the user info), and viem puts them in its errors
 * (`URL: …` lines, the `url` field). Nothing this module returns contains one: `classifyRpcError` messages and
 * `redactRpcError` keep at most the scheme and host (`describeUrl`).
 */
import { BaseError } from "viem";
import { describeUrl } from "../telemetry/redact.ts";

export { describeUrl };

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// Vault reverts: what a decoded `rebalance` error asks of the keeper
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * What the keeper should do about a vault error, whether sizing foresaw it at the snapshot (a skip naming it) or
 * the simulation met it (the state moved between the read and the `eth_estimateGas`):
 *
 * | action         | errors                                             | the keeper should                                  |
 * | -------------- | -------------------------------------------------- | -------------------------------------------------- |
 * | `stand-down`   | DeltaWithinTolerance, RebalanceTooSoon,            | nothing: the vault no longer needs this hedge      |
 * |                | DeltaNotReduced                                    | (another keeper or the market moved it). No        |
 * |                |                                                    | failure, no back-off; the next block re-decides    |
 * | `wait-vault`   | VaultPaused, StaleOracle, InvalidOraclePrice,      | wait: the snapshot shows it (`paused`,             |
 * |                | SequencerDown, SequencerGracePeriod                | `oracleStatus`) and planning holds until it        |
 * |                |                                                    | clears; back off so a vault/lens disagreement      |
 * |                |                                                    | cannot become a retry per block                    |
 * | `wait-budget`  | NotionalBudgetExceeded, SlippageBudgetExceeded     | back off: the budget frees up only as the window   |
 * |                |                                                    | rolls; sizing fits each order to what the snapshot |
 * |                |                                                    | reports left, and skips while nothing is           |
 * | `wait-payouts` | PayoutsNotCovered                                  | back off: buys wait until settled holders claim    |
 * |                |                                                    | (or a sale of the hedge raises cash)               |
 * | `resize`       | SlippageTooHigh, HedgeOvershoot, TradeTooLarge,    | back off, then size again on fresh state: the pool |
 * |                | InsufficientHedge, ZeroAmount, InsufficientOutput, | or the delta moved after the read                  |
 * |                | InsufficientLiquidity, DeadlineExpired,            |                                                    |
 * |                | ERC20InsufficientBalance                           |                                                    |
 * | `operator`     | AccessControlUnauthorizedAccount, *OutOfDomain,    | back off and log an error: only a person can fix   |
 * |                | SafeCast*, UnknownToken, anything not listed       | it (the signer lacks KEEPER_ROLE, an absurd oracle |
 * |                |                                                    | price, a vault newer than this keeper)             |
 *
 * Only `rebalance`'s errors are listed: the keeper calls nothing else. `SettlementPending` (deposits and
 * withdrawals wait for an expired series to be settled), `WithdrawalExceedsFreeCash`, `LiabilitiesExceedAssets`
 * and the book's errors cannot come out of `rebalance` — an expired series only stops counting in the delta — so
 * meeting one there would mean a vault this keeper does not know: `operator`.
 */
export type VaultErrorAction = "stand-down" | "wait-vault" | "wait-budget" | "wait-payouts" | "resize" | "operator";

export interface VaultErrorInfo {
  action: VaultErrorAction;
  /** What it means for hedging, for one log line (the error's name and arguments go beside it). */
  meaning: string;
}

const VAULT_ERRORS: Readonly<Record<string, VaultErrorInfo>> = Object.freeze({
  DeltaWithinTolerance: { action: "stand-down", meaning: "net delta is within the vault's tolerance: nothing to hedge" },
  RebalanceTooSoon: { action: "stand-down", meaning: "the vault was rebalanced within minRebalanceInterval (by another keeper)" },
  DeltaNotReduced: { action: "stand-down", meaning: "the trade would not reduce |net delta| any more (another keeper hedged)" },
  VaultPaused: { action: "wait-vault", meaning: "the vault is paused: no hedge until it is unpaused" },
  StaleOracle: { action: "wait-vault", meaning: "the oracle answer is older than maxOracleAge: no hedge until it updates" },
  InvalidOraclePrice: { action: "wait-vault", meaning: "the oracle answer is not positive: no hedge until it is" },
  SequencerDown: { action: "wait-vault", meaning: "the L2 sequencer is down: no hedge until it is back and past its grace period" },
  SequencerGracePeriod: { action: "wait-vault", meaning: "the L2 sequencer is back but within its grace period: no hedge until it ends" },
  NotionalBudgetExceeded: {
    action: "wait-budget",
    meaning: "the hedging notional budget for the window is spent: no more hedging until the window rolls",
  },
  SlippageBudgetExceeded: {
    action: "wait-budget",
    meaning: "the hedging slippage budget for the window is spent: no more hedging until the window rolls",
  },
  PayoutsNotCovered: {
    action: "wait-payouts",
    meaning: "the vault's cash is owed to settled holders: no buy until they claim (sales still go)",
  },
  SlippageTooHigh: { action: "resize", meaning: "the execution price is beyond maxSlippageBps of the oracle (the pool moved)" },
  HedgeOvershoot: { action: "resize", meaning: "the trade would cross zero delta by more than the tolerance (the delta moved)" },
  TradeTooLarge: { action: "resize", meaning: "the trade is larger than maxTradeWad" },
  InsufficientHedge: { action: "resize", meaning: "the vault holds less underlying than the sale" },
  ZeroAmount: { action: "resize", meaning: "the order trades nothing" },
  InsufficientOutput: { action: "resize", meaning: "the pool pays less than minAmountOut (the pool moved)" },
  InsufficientLiquidity: { action: "resize", meaning: "the pool cannot serve the trade" },
  DeadlineExpired: { action: "resize", meaning: "the swap's deadline passed before it executed" },
  ERC20InsufficientBalance: { action: "resize", meaning: "the vault holds less of the input token than the order pays" },
  AccessControlUnauthorizedAccount: {
    action: "operator",
    meaning: "the signer lacks KEEPER_ROLE on this vault: grant it, or remove the vault from VAULTS",
  },
  SpotOutOfDomain: { action: "operator", meaning: "the oracle price is outside the vault's pricing domain" },
});

/**
 * What to do about a vault (or pool, or token) error named `errorName` (see the table above); `operator` for a
 * name the table does not know.
 */
export function classifyVaultError(errorName: string): VaultErrorInfo {
  return (
    VAULT_ERRORS[errorName] ?? {
      action: "operator",
      meaning: "an error this keeper does not expect from rebalance: check the vault and the keeper's version",
    }
  );
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// RPC errors
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

export type RpcErrorKind = "transient" | "permanent" | "tx-known" | "nonce-too-low" | "underpriced" | "revert";

export interface RpcErrorInfo {
  kind: RpcErrorKind;
  /** One line for logs: what failed and the node's words, with no URL beyond scheme and host. */
  message: string;
}

/** One failed attempt at one endpoint, as kept by `RpcUnavailableError`. */
export interface RpcAttempt {
  /** `describeUrl` of the endpoint: scheme and host only. */
  endpoint: string;
  round: number;
  kind: RpcErrorKind;
  message: string;
}

/**
 * Every endpoint failed transiently, in every allowed round. Retrying later (next block) is reasonable; retrying
 * now is what the rounds already did. Extends viem's `BaseError` so viem passes it through unwrapped.
 */
export class RpcUnavailableError extends BaseError {
  override name = "RpcUnavailableError";
  readonly method: string;
  readonly rounds: number;
  readonly attempts: readonly RpcAttempt[];

  constructor(params: { method: string; rounds: number; attempts: readonly RpcAttempt[]; cause?: Error }) {
    const last = params.attempts.at(-1);
    const endpoints = new Set(params.attempts.map((a) => a.endpoint)).size;
    super(
      `${params.method} failed on all ${endpoints} RPC endpoint(s) after ${params.rounds} round(s)` +
        (last ? `; last: ${last.endpoint}: ${last.message}` : ""),
      { cause: params.cause, name: "RpcUnavailableError" },
    );
    this.method = params.method;
    this.rounds = params.rounds;
    this.attempts = params.attempts;
  }
}

// The node's words, matched case-insensitively. Geth, Erigon, Nethermind, Besu, reth, anvil and Hardhat (EDR)
// phrasings; viem's own `nodeMessage` patterns are a subset.
const TX_KNOWN = /already known|known transaction|transaction already imported|already imported|alreadyknown/i;
const NONCE_TOO_LOW = /nonce too low|nonce has already been used|nonce is too low|oldnonce|nonce.{0,40}already.{0,10}used/i;
const UNDERPRICED =
  /underpriced|max fee per gas less than block base fee|fee cap less than block base fee|is too low for the next block|feecap too low|fee too low/i;
const REVERT = /execution reverted|\breverted\b|\brevert\b|vm exception while processing|gas required exceeds allowance/i;
/** The node is behind, pruned or has not seen the block yet: another node (or a later try) may have it. */
const LAGGING =
  /header not found|unknown block|block not found|missing trie node|invalid block tag|block .{0,30}not (?:found|available)|not yet (?:available|synced)|is syncing/i;
/** A node's own words for "not now": an execution time-out, a rate limit, an overload. */
const NODE_BUSY = /timeout|timed out|rate limit|too many requests|try again later|overloaded|exceeded .{0,20}capacity/i;
const NETWORK =
  /timed? ?out|econnrefused|econnreset|etimedout|epipe|ehostunreach|enetunreach|enotfound|eai_again|socket hang up|other side closed|fetch failed|network error|connection (?:refused|reset|closed)|terminated|too many requests|rate limit/i;
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);
/** JSON-RPC codes that say "not now" rather than "not this": internal error, limit exceeded, unavailable. */
const TRANSIENT_RPC_CODES = new Set([-32603, -32005, -32002, -32007, 429]);
const REVERT_NAMES = new Set(["ContractFunctionRevertedError", "ExecutionRevertedError", "RawContractError"]);
const MAX_CHAIN = 16;
const MAX_MESSAGE = 300;

/** Classifies any error thrown by a viem client or transport (or anything else) by what the caller should do. */
export function classifyRpcError(error: unknown): RpcErrorInfo {
  const chain = causeChain(error);
  const texts = chain.map(nodeWords).join("\n");
  const codes = chain.map((e) => field(e, "code"));
  const numericCodes = codes.filter((c): c is number => typeof c === "number");
  const statuses = chain.map((e) => field(e, "status")).filter((s): s is number => typeof s === "number");
  const names = new Set(chain.map((e) => field(e, "name")).filter((n): n is string => typeof n === "string"));
  const kind = ((): RpcErrorKind => {
    if (names.has("RpcUnavailableError")) return "transient";
    if (names.has("AbortError")) return "permanent"; // the caller gave up: do not try again on its behalf
    if (TX_KNOWN.test(texts)) return "tx-known";
    if (NONCE_TOO_LOW.test(texts)) return "nonce-too-low";
    if (UNDERPRICED.test(texts) || names.has("FeeCapTooLowError")) return "underpriced";
    // Before the transient codes: some nodes answer a revert with -32603 or -32000 plus the revert data.
    if ([...names].some((n) => REVERT_NAMES.has(n)) || numericCodes.includes(3) || hasRevertData(chain) || REVERT.test(texts)) {
      return "revert";
    }
    if (names.has("TimeoutError")) return "transient";
    if (LAGGING.test(texts)) return "transient";
    const throttled = statuses.some((s) => s === 429 || s === 503);
    // A JSON-RPC error (-1 is viem's "unknown", not a node's) means the node read the request and refused it:
    // its code decides, whatever the HTTP status it came with (some providers send 400 or 500 with it).
    if (numericCodes.some((c) => c !== -1)) {
      const busy = numericCodes.some((c) => TRANSIENT_RPC_CODES.has(c)) || throttled || NODE_BUSY.test(texts);
      return busy ? "transient" : "permanent";
    }
    if (statuses.some((s) => s >= 500 || s === 429 || s === 408)) return "transient";
    if (codes.some((c) => typeof c === "string" && NETWORK_CODES.has(c))) return "transient";
    if (chain.some((e) => e instanceof SyntaxError)) return "transient"; // a body that is not (complete) JSON
    if (NETWORK.test(texts)) return "transient";
    // viem's HTTP error without a status is a failure below HTTP (socket, DNS, TLS): the endpoint, not the request.
    if (statuses.length === 0 && names.has("HttpRequestError")) return "transient";
    return "permanent";
  })();
  return { kind, message: summarize(chain) };
}

/** True for the kinds that another endpoint, or the same one later, may answer differently. */
export function isTransient(info: RpcErrorInfo): boolean {
  return info.kind === "transient";
}

/**
 * Removes RPC URLs from an error and its whole `cause` chain, in place (viem builds a fresh chain per request, so
 * nothing shared is touched), and returns it: `URL: …` lines are dropped, each of `urls` (in every spelling viem
 * prints) becomes its scheme and host, user info in any other URL is removed, and `url` fields become
 * `describeUrl(url)`. `code`, `data`, `status` and the classes stay, so viem still decodes reverts.
 */
export function redactRpcError<T>(error: T, urls: readonly string[] = []): T {
  const replacements = urlSpellings(urls);
  for (const e of causeChain(error)) {
    if (typeof e !== "object" || e === null) continue;
    const record = e as Record<string, unknown>;
    for (const key of ["message", "shortMessage", "details", "stack"] as const) {
      const value = record[key];
      if (typeof value === "string") trySet(record, key, redactText(value, replacements));
    }
    if (Array.isArray(record.metaMessages)) {
      trySet(
        record,
        "metaMessages",
        record.metaMessages
          .filter((line) => typeof line !== "string" || !URL_LINE_START.test(line))
          .map((line) => (typeof line === "string" ? redactText(line, replacements) : line)),
      );
    }
    if (typeof record.url === "string") trySet(record, "url", describeUrl(record.url));
  }
  return error;
}

const URL_LINE = /^[ \t]*URL: .*(?:\r?\n|$)/gm;
const URL_LINE_START = /^\s*URL: /;
const USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]*@/gi;
/** A URL in prose: not ending in the punctuation around it ("…at http://host:1: refused"). */
const ANY_URL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]*[^\s"'<>().,;:]/gi;

function redactText(text: string, replacements: readonly (readonly [string, string])[]): string {
  let out = text.replace(URL_LINE, "");
  for (const [from, to] of replacements) out = out.split(from).join(to);
  return out.replace(USER_INFO, "$1");
}

/** Every way viem may print `url` (as given, normalized, without user info, without the trailing slash), longest first. */
function urlSpellings(urls: readonly string[]): [string, string][] {
  const pairs = new Map<string, string>();
  for (const url of urls) {
    const label = describeUrl(url);
    const forms = [url];
    try {
      const parsed = new URL(url);
      forms.push(parsed.toString());
      parsed.username = "";
      parsed.password = "";
      forms.push(parsed.toString());
    } catch {
      // not a URL: only the string as given can appear
    }
    for (const form of forms) {
      for (const f of [form, form.replace(/\/$/, "")]) if (f.length > label.length) pairs.set(f, label);
    }
  }
  return [...pairs].sort((a, b) => b[0].length - a[0].length);
}

/** The error and its causes, outermost first (bounded: a cyclic or absurd chain stops at 16). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < MAX_CHAIN && !chain.includes(current)) {
    chain.push(current);
    current = typeof current === "object" ? (current as { cause?: unknown }).cause : undefined;
  }
  return chain;
}

function field(e: unknown, key: string): unknown {
  return typeof e === "object" && e !== null ? (e as Record<string, unknown>)[key] : undefined;
}

/**
 * The words of one link, without viem's meta lines (request bodies hold calldata, URLs hold keys): a viem
 * error's short message and details, a plain error's message, a raw JSON-RPC error's message and data.message.
 */
function nodeWords(e: unknown): string {
  if (e instanceof BaseError) return `${e.shortMessage}\n${e.details ?? ""}`;
  const parts: string[] = [];
  const message = field(e, "message");
  if (typeof message === "string") parts.push(message);
  const data = field(e, "data");
  const dataMessage = field(data, "message");
  if (typeof dataMessage === "string") parts.push(dataMessage);
  if (typeof e === "string") parts.push(e);
  return parts.join("\n");
}

/** Revert data on a JSON-RPC error: at least a 4-byte selector, as Hardhat, anvil and geth attach it. */
function hasRevertData(chain: readonly unknown[]): boolean {
  return chain.some((e) => {
    const data = field(e, "data");
    const hex = typeof data === "string" ? data : field(data, "data");
    return typeof hex === "string" && /^0x[0-9a-f]{8}/i.test(hex) && typeof field(e, "code") === "number";
  });
}

/** "HTTP request failed (HTTP 503): Service Unavailable" — the outermost summary and the innermost words. */
function summarize(chain: readonly unknown[]): string {
  const top = chain[0];
  let head: string;
  let details: string | undefined;
  if (top instanceof BaseError) {
    head = top.shortMessage;
    details = top.details;
  } else if (top instanceof Error) {
    head = top.message;
    const cause = chain[1];
    const causeMessage = field(cause, "message");
    details = typeof causeMessage === "string" ? causeMessage : undefined;
  } else {
    head = typeof top === "string" ? top : safeString(top);
  }
  const firstLine = (s: string) => s.split("\n").find((l) => l.trim() !== "" && !URL_LINE_START.test(l))?.trim() ?? "";
  let message = firstLine(head).replace(/\.$/, "") || "RPC request failed";
  // RpcUnavailableError already summarizes its attempts; anything else gets its status and the node's words.
  if (field(top, "name") !== "RpcUnavailableError") {
    const status = chain.map((e) => field(e, "status")).find((s): s is number => typeof s === "number");
    if (status !== undefined) message += ` (HTTP ${status})`;
    const detail = details === undefined ? "" : firstLine(details);
    if (detail && !message.includes(detail)) message += `: ${detail}`;
  }
  // Any URL left (a fetch error quoting one, a node echoing one) is cut to scheme and host.
  message = message.replace(USER_INFO, "$1").replace(ANY_URL, (url) => describeUrl(url));
  return message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
}

function safeString(value: unknown): string {
  try {
    return typeof value === "object" ? JSON.stringify(value) ?? String(value) : String(value);
  } catch {
    return String(value);
  }
}

function trySet(record: Record<string, unknown>, key: string, value: unknown): void {
  try {
    record[key] = value;
  } catch {
    // a frozen or getter-only field: leave it (classification never reads `stack` or `url`)
  }
}

/**
 * A one-line description of an error: viem's short message plus the node's own words (`details`). viem's long
 * message is avoided: it can embed the request URL, which may hold an API key.
 */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) {
    // Not an Error: e.g. a WebSocket ErrorEvent, which prints as "[object ErrorEvent]".
    const e = error as { message?: unknown; type?: unknown } | null;
    if (e && typeof e.message === "string" && e.message) return e.message;
    if (e && typeof e.type === "string") return `${e.constructor?.name ?? "event"} (${e.type}): connection failed or closed`;
    return String(error);
  }
  const e = error as Error & { shortMessage?: string; details?: string };
  const short = e.shortMessage ?? e.message.split("\n")[0]!;
  return e.details && !short.includes(e.details) ? `${short} (${e.details})` : short;
}
