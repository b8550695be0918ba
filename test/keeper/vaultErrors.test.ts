/**
 * keeper/chain/errors.ts without a chain. The vault-error table (`classifyVaultError`): every error `rebalance` can
 * raise has the action a demanding operator expects, each name is one the keeper's ABI decodes, and what sizing can
 * name (`RebalanceErrorName`) is never left to the catch-all. The RPC error classifier (`classifyRpcError`), walked
 * branch by branch with the errors viem, Node and the nodes really throw, each chosen so that the branch it pins,
 * were it missing, would give another answer; the one-line message an operator reads; `redactRpcError` and
 * `errorMessage`, which keep RPC URLs (and their keys) out of logs. (The classifier against live faults is in
 * failover.test.ts and chain-edges.test.ts.)
 */
import {
  ContractFunctionRevertedError,
  ExecutionRevertedError,
  FeeCapTooLowError,
  HttpRequestError,
  RawContractError,
  RpcRequestError,
  TimeoutError,
} from "viem";
import { describe, expect, it } from "vitest";
import {
  classifyRpcError,
  classifyVaultError,
  errorMessage,
  isTransient,
  redactRpcError,
  RpcUnavailableError,
  type VaultErrorAction,
} from "../../keeper/chain/errors.ts";
import { hedgeAbi } from "../../keeper/execution/sendHedge.ts";
import { REBALANCE_ERROR_NAMES } from "../../keeper/sizing/size.ts";

/** Every error `OptionVault.rebalance` (its checks, the pool's swap, the token transfer, the role check) can raise. */
const REBALANCE_ERRORS: Readonly<Record<string, VaultErrorAction>> = {
  // Nothing to do: the vault no longer needs this hedge.
  DeltaWithinTolerance: "stand-down",
  RebalanceTooSoon: "stand-down",
  DeltaNotReduced: "stand-down",
  // The snapshot shows these, and planning holds until they clear.
  VaultPaused: "wait-vault",
  StaleOracle: "wait-vault",
  InvalidOraclePrice: "wait-vault",
  SequencerDown: "wait-vault",
  SequencerGracePeriod: "wait-vault",
  // The window must roll.
  NotionalBudgetExceeded: "wait-budget",
  SlippageBudgetExceeded: "wait-budget",
  // Settled holders must claim first.
  PayoutsNotCovered: "wait-payouts",
  // The pool or the delta moved after the read: size again on fresh state.
  SlippageTooHigh: "resize",
  HedgeOvershoot: "resize",
  TradeTooLarge: "resize",
  InsufficientHedge: "resize",
  ZeroAmount: "resize",
  InsufficientOutput: "resize",
  InsufficientLiquidity: "resize",
  DeadlineExpired: "resize",
  ERC20InsufficientBalance: "resize",
  // Only a person can fix these.
  AccessControlUnauthorizedAccount: "operator",
  SpotOutOfDomain: "operator",
};

describe("classifyVaultError", () => {
  it("gives every error rebalance can raise the action its meaning calls for", () => {
    for (const [name, action] of Object.entries(REBALANCE_ERRORS)) {
      expect(classifyVaultError(name).action, name).toBe(action);
    }
  });

  it("names only errors the keeper's ABI decodes (a typo would never match a revert)", () => {
    const decodable = new Set(hedgeAbi.filter((item) => item.type === "error").map((item) => item.name));
    for (const name of Object.keys(REBALANCE_ERRORS)) expect(decodable, name).toContain(name);
  });

  it("knows every error sizing can name: none falls through to the operator catch-all by accident", () => {
    for (const name of REBALANCE_ERROR_NAMES) {
      expect(classifyVaultError(name).action, name).not.toBe("operator");
      expect(classifyVaultError(name).action, name).toBe(REBALANCE_ERRORS[name]);
    }
  });

  it("says what each error means for hedging in a line an operator can act on", () => {
    expect(classifyVaultError("NotionalBudgetExceeded").meaning).toMatch(/until the window rolls/);
    expect(classifyVaultError("PayoutsNotCovered").meaning).toMatch(/settled holders/);
    expect(classifyVaultError("AccessControlUnauthorizedAccount").meaning).toMatch(/KEEPER_ROLE/);
  });

  it("gives every error a meaning of its own: a line an operator can tell apart from every other", () => {
    const meanings = Object.keys(REBALANCE_ERRORS).map((name) => classifyVaultError(name).meaning);
    for (const [i, meaning] of meanings.entries()) expect(meaning, Object.keys(REBALANCE_ERRORS)[i]).toMatch(/^[a-zA-Z].{15,}/);
    expect(new Set([...meanings, classifyVaultError("SomethingNew").meaning]).size).toBe(meanings.length + 1);
  });

  it("sends an error rebalance cannot raise (SettlementPending) or does not know to the operator", () => {
    expect(classifyVaultError("SettlementPending").action).toBe("operator");
    expect(classifyVaultError("SomethingNew").action).toBe("operator");
    expect(classifyVaultError("SomethingNew").meaning).toMatch(/does not expect/);
  });
});

// ─────────────────────────────────────────── classifyRpcError, branch by branch ───────────────────────────────────────────

describe("classifyRpcError: each signal on its own decides", () => {
  const url = "http://user:secret@127.0.0.1:8545/key";
  const body = { method: "eth_call", params: [] };
  const rpcError = (code: number, message: string, data?: unknown) =>
    new RpcRequestError({ body, url, error: { code, message, ...(data === undefined ? {} : { data }) } });
  const kind = (error: unknown) => classifyRpcError(error).kind;
  /** A plain error with extra fields, as Node, undici or a non-viem client throws them. */
  const plain = (message: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(message), fields);
  const SELECTOR_DATA = "0xfb8f41b2000000000000000000000000000000000000000000000000000000000000000a";

  it("RpcUnavailableError is transient whatever its last attempt said (the rounds already ran)", () => {
    const error = new RpcUnavailableError({
      method: "eth_call",
      rounds: 3,
      attempts: [{ endpoint: "http://a:1", round: 3, kind: "revert", message: "execution reverted" }],
    });
    expect(kind(error)).toBe("transient");
    expect(isTransient(classifyRpcError(error))).toBe(true);
  });

  it("an abort is permanent: the caller gave up, even when the abort's reason reads like a time-out", () => {
    expect(kind(plain("The operation timed out", { name: "AbortError" }))).toBe("permanent");
    expect(isTransient(classifyRpcError(plain("x", { name: "AbortError" })))).toBe(false);
  });

  it("underpriced from viem's FeeCapTooLowError, whose words are not a node's", () => {
    expect(kind(new FeeCapTooLowError({ maxFeePerGas: 1n }))).toBe("underpriced");
  });

  it("tx-known and nonce-too-low in each client's words, from the message, the data's message or a bare string", () => {
    for (const m of ["already imported", "AlreadyKnown", "known transaction"]) expect(kind(plain(m)), m).toBe("tx-known");
    for (const m of ["nonce is too low", "OldNonce", "nonce 7 has already been used", "the nonce of this transaction (4) is already being used"]) {
      expect(kind(plain(m)), m).toBe("nonce-too-low");
    }
    expect(kind({ code: -32000, message: "rejected", data: { message: "nonce too low" } })).toBe("nonce-too-low");
    expect(kind("already known")).toBe("tx-known");
    for (const m of ["fee cap less than block base fee", "feecap too low", "fee too low", "transaction underpriced"]) {
      expect(kind(plain(m)), m).toBe("underpriced");
    }
  });

  it("revert: viem's revert classes by name, code 3, or revert data on a coded error — without the word 'revert'", () => {
    for (const name of ["ContractFunctionRevertedError", "ExecutionRevertedError", "RawContractError"]) {
      // The class as it arrives after a structured clone (a worker): its name, not its prototype or words.
      expect(kind(plain("call exception", { name })), name).toBe("revert");
    }
    expect(kind(new ContractFunctionRevertedError({ abi: [], functionName: "f" }))).toBe("revert");
    expect(kind(new ExecutionRevertedError({}))).toBe("revert");
    expect(kind(new RawContractError({ data: "0x" }))).toBe("revert");
    expect(kind(rpcError(3, "custom error"))).toBe("revert");
    // An internal error (-32603, otherwise transient) carrying a selector is the EVM's answer: a revert.
    expect(kind(rpcError(-32603, "internal error", SELECTOR_DATA))).toBe("revert");
    expect(kind(rpcError(-32603, "internal error", { data: SELECTOR_DATA }))).toBe("revert");
    // Less than a selector, or data with no JSON-RPC code, is not revert data.
    expect(kind(rpcError(-32603, "internal error", "0x1234"))).toBe("transient");
    expect(kind(plain("internal error", { data: SELECTOR_DATA }))).toBe("permanent");
    expect(kind(plain("VM Exception while processing transaction"))).toBe("revert");
    expect(kind(plain("gas required exceeds allowance (30000000)"))).toBe("revert");
  });

  it("a viem error's words are its summary and details: a JSON-RPC error inside an HTTP 4xx counts, the request body does not", () => {
    // Providers answer some refusals with HTTP 400 and a JSON-RPC error body: viem keeps only its text, in details.
    expect(kind(new HttpRequestError({ body, url, status: 400, details: '{"code":-32000,"message":"nonce too low"}' }))).toBe("nonce-too-low");
    // Calldata or a parameter that happens to read like a node's words is the request, not the answer.
    const request = { method: "eth_sendRawTransaction", params: ["already known"] };
    expect(kind(new HttpRequestError({ body: request, url, status: 401, details: "unauthorized" }))).toBe("permanent");
  });

  it("a node behind the tip is transient, in each node's words", () => {
    for (const m of [
      "unknown block",
      "block not found",
      "invalid block tag",
      "block 0x1234 is not available",
      "block #123 not found in the database",
      "state not yet available",
      "node not yet synced",
      "the node is syncing",
    ]) {
      expect(kind(rpcError(-32000, m)), m).toBe("transient");
    }
  });

  it("a JSON-RPC error decides by its code, even with an HTTP status beside it; a busy node by its words", () => {
    for (const code of [-32603, -32005, -32002, -32007, 429]) expect(kind(rpcError(code, "refused")), String(code)).toBe("transient");
    for (const code of [-32000, -32602, -32601, 4001]) expect(kind(rpcError(code, "refused")), String(code)).toBe("permanent");
    // A provider's refusal (code -32000) sent with HTTP 429 or 503 is throttling; with 400 or 500 it is the request.
    const withStatus = (status: number) => plain("refused", { code: -32000, cause: new HttpRequestError({ body, url, status }) });
    expect(kind(withStatus(429))).toBe("transient");
    expect(kind(withStatus(503))).toBe("transient");
    expect(kind(withStatus(400))).toBe("permanent");
    expect(kind(withStatus(500))).toBe("permanent");
    for (const m of [
      "execution timeout",
      "request timed out",
      "rate limit reached",
      "too many requests",
      "please try again later",
      "server overloaded",
      "exceeded the compute capacity",
    ]) {
      expect(kind(rpcError(-32000, m)), m).toBe("transient");
    }
    // Any transient code in the chain decides: a wrapper's own refusal code does not hide its cause's.
    expect(kind(plain("request refused", { code: -32000, cause: rpcError(-32005, "limit exceeded") }))).toBe("transient");
    // viem's "unknown" code (-1) is not a node's: the HTTP status beneath it decides.
    expect(kind(plain("An unknown RPC error occurred", { code: -1, cause: new HttpRequestError({ body, url, status: 500 }) }))).toBe("transient");
    expect(kind(plain("An unknown RPC error occurred", { code: -1, cause: new HttpRequestError({ body, url, status: 400 }) }))).toBe("permanent");
  });

  it("HTTP: 5xx, 429 and 408 are transient; 499 and other 4xx are not", () => {
    const http = (status: number) => new HttpRequestError({ body, url, status });
    expect([408, 429, 500, 599].map((s) => kind(http(s)))).toEqual(["transient", "transient", "transient", "transient"]);
    expect([400, 403, 404, 499].map((s) => kind(http(s)))).toEqual(["permanent", "permanent", "permanent", "permanent"]);
  });

  it("network failures below HTTP: each socket error code, a body that is not JSON, each phrasing, and viem's HTTP error without a status", () => {
    for (const code of [
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
    ]) {
      expect(kind(plain("socket failure", { code })), code).toBe("transient");
    }
    expect(kind(plain("socket failure", { code: "ERR_SOMETHING_ELSE" }))).toBe("permanent");
    expect(kind(new SyntaxError("Unexpected token '<', \"<html>\" is not valid JSON"))).toBe("transient");
    for (const m of [
      "time out",
      "connect ECONNREFUSED",
      "read ECONNRESET",
      "connect ETIMEDOUT",
      "write EPIPE",
      "EHOSTUNREACH",
      "ENETUNREACH",
      "getaddrinfo ENOTFOUND eth.example.com",
      "getaddrinfo EAI_AGAIN",
      "socket hang up",
      "other side closed",
      "fetch failed",
      "network error",
      "connection refused",
      "connection reset by peer",
      "connection closed",
      "terminated",
    ]) {
      expect(kind(plain(m)), m).toBe("transient");
    }
    expect(kind(new HttpRequestError({ body, url, cause: new Error("certificate has expired") }))).toBe("transient");
    expect(kind(new HttpRequestError({ body, url, status: 401, cause: new Error("certificate has expired") }))).toBe("permanent");
    expect(kind(plain("certificate has expired"))).toBe("permanent");
  });

  it("walks the cause chain to the 16th link and no further, and survives a cycle", () => {
    const nested = (depth: number) => {
      let error: Error = plain("nonce too low");
      for (let i = 1; i < depth; i++) error = plain("wrapped", { cause: error });
      return error;
    };
    expect(kind(nested(16))).toBe("nonce-too-low");
    expect(kind(nested(17))).toBe("permanent");
    const cyclic = plain("wrapped");
    (cyclic as { cause?: unknown }).cause = cyclic;
    expect(kind(cyclic)).toBe("permanent");
    expect(kind(plain("nonce too low", { cause: null }))).toBe("nonce-too-low");
  });
});

describe("classifyRpcError: the message an operator reads", () => {
  const url = "https://user:secret@eth.example.com/v2/KEY";
  const body = { method: "eth_call", params: [] };
  const message = (error: unknown) => classifyRpcError(error).message;

  it("viem's summary without its final period, the HTTP status, then the node's first line", () => {
    expect(message(new TimeoutError({ body, url }))).toBe("The request took too long to respond: The request timed out.");
    expect(message(new HttpRequestError({ body, url, status: 502, details: "Bad Gateway\n<html>…</html>" }))).toBe("HTTP request failed (HTTP 502): Bad Gateway");
    expect(message(new RpcRequestError({ body, url, error: { code: -32000, message: "nonce too low" } }))).toBe("RPC Request failed: nonce too low");
  });

  it("a plain error: its first line, then its cause's words unless already there", () => {
    expect(message(withCause("fetch failed", new Error("connect ECONNREFUSED 127.0.0.1:1")))).toBe("fetch failed: connect ECONNREFUSED 127.0.0.1:1");
    expect(message(withCause("send failed: nonce too low\nstack…", new Error("nonce too low")))).toBe("send failed: nonce too low");
    expect(message(new Error("\n\nsecond line first"))).toBe("second line first");
    expect(message(new Error("   \n  indented words  \n"))).toBe("indented words");
    expect(message(withCause("eth_call failed", new HttpRequestError({ body, url, status: 503 })))).toBe("eth_call failed (HTTP 503): HTTP request failed.");
    expect(message(new Error(""))).toBe("RPC request failed");
  });

  it("what is not an error: a string as it is, an object as JSON, nothing as its name", () => {
    expect(message("already known")).toBe("already known");
    expect(message({ code: -32000, message: "x" })).toBe('{"code":-32000,"message":"x"}');
    expect(message(undefined)).toBe("undefined");
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(message(circular)).toBe("[object Object]");
  });

  it("RpcUnavailableError's own summary, with no status or detail added", () => {
    const attempts = [
      { endpoint: "https://a.example.com", round: 1, kind: "transient" as const, message: "HTTP request failed (HTTP 503)" },
      { endpoint: "https://b.example.com", round: 1, kind: "transient" as const, message: "The request took too long to respond" },
      { endpoint: "https://a.example.com", round: 2, kind: "transient" as const, message: "HTTP request failed (HTTP 503)" },
    ];
    const error = new RpcUnavailableError({ method: "eth_call", rounds: 2, attempts, cause: new HttpRequestError({ body, url, status: 503, details: "down" }) });
    expect(error.shortMessage).toBe("eth_call failed on all 2 RPC endpoint(s) after 2 round(s); last: https://a.example.com: HTTP request failed (HTTP 503)");
    expect(error).toMatchObject({ name: "RpcUnavailableError", method: "eth_call", rounds: 2, attempts });
    expect(message(error)).toBe(error.shortMessage);
    expect(new RpcUnavailableError({ method: "eth_blockNumber", rounds: 1, attempts: [] }).shortMessage).toBe(
      "eth_blockNumber failed on all 0 RPC endpoint(s) after 1 round(s)",
    );
  });

  it("any URL left in the words keeps only its scheme and host, even at the end of a clause; long messages are cut", () => {
    expect(message(new Error(`request to ${url}: refused, then https://other.example.com/k2, and ws://u:p@ws.example.com/x.`))).toBe(
      "request to https://eth.example.com: refused, then https://other.example.com, and ws://ws.example.com",
    );
    const long = message(new Error("x".repeat(500)));
    expect(long).toHaveLength(300);
    expect(long.endsWith("x…")).toBe(true);
    expect(message(new Error("y".repeat(300)))).toBe("y".repeat(300));
  });

  function withCause(text: string, cause: Error): Error {
    return new Error(text, { cause });
  }
});

describe("redactRpcError", () => {
  const url = "https://user:secret@eth.example.com/v2/KEY";
  const body = { method: "eth_call", params: [] };
  const texts = (error: unknown) => {
    const out: string[] = [];
    for (let e = error as Record<string, unknown> | undefined; e; e = e.cause as Record<string, unknown> | undefined) {
      for (const key of ["message", "shortMessage", "details", "stack", "url"]) if (typeof e[key] === "string") out.push(e[key] as string);
      if (Array.isArray(e.metaMessages)) out.push(...(e.metaMessages as unknown[]).map(String));
    }
    return out.join("\n");
  };

  it("every spelling of a configured URL becomes its scheme and host; URL lines go; status, code and data stay", () => {
    // Configured with a host in capitals: viem prints it as `new URL` spells it (lower case, no user info).
    // Configured with a trailing slash: a node may echo it without.
    const configured = "https://user:secret@ETH.example.com/v2/KEY/";
    const inner = new RpcRequestError({ body, url: configured, error: { code: -32603, message: `upstream ${configured} and https://eth.example.com/v2/KEY failed`, data: "0x12" } });
    const error = new HttpRequestError({ body, url: configured, status: 502, cause: inner });
    error.details = "proxy for https://eth.example.com/v2/KEY/ said no";
    expect(redactRpcError(error, [configured])).toBe(error);
    const all = texts(error);
    expect(all).not.toMatch(/secret|KEY|user:/);
    expect(all).not.toMatch(/^\s*URL: /m);
    expect(error.details).toBe("proxy for https://eth.example.com said no");
    expect(inner.details).toBe("upstream https://eth.example.com and https://eth.example.com failed");
    expect(error.metaMessages).toEqual(["Status: 502", expect.stringMatching(/^Request body: /)]);
    expect([error.status, inner.code, inner.data, inner.url]).toEqual([502, -32603, "0x12", "https://eth.example.com"]);
  });

  it("a configured URL is also replaced in any other meta line, in its normalized spelling with credentials, and the longest first", () => {
    const primary = "https://user:secret@Rpc.Example.com/v2";
    const fallback = "https://rpc.example.com/v2/KEY2";
    const error = new Error(`echo https://user:secret@rpc.example.com/v2/ and ${fallback}/`);
    Object.assign(error, { metaMessages: ["URL: x", `Details: ${primary} refused`, 42] });
    redactRpcError(error, [primary, fallback]);
    expect(error.message).toBe("echo https://rpc.example.com/ and https://rpc.example.com/");
    expect((error as Error & { metaMessages: unknown[] }).metaMessages).toEqual(["Details: https://rpc.example.com refused", 42]);
    expect(error, "an error that had no url field gets none").not.toHaveProperty("url");
  });

  it("without the URLs it still drops URL lines and user info everywhere; a frozen link and a non-object are left alone", () => {
    const frozen = Object.freeze(Object.assign(new Error("frozen at https://u:p@frozen.example.com/k"), { cause: "a string cause" }));
    const error = new Error("first\n  URL: https://eth.example.com/v2/KEY\nthen ws://u:secret@ws.example.com/x", { cause: frozen });
    expect(() => redactRpcError(error)).not.toThrow();
    expect(error.message).toBe("first\nthen ws://ws.example.com/x");
    expect(frozen.message).toBe("frozen at https://u:p@frozen.example.com/k");
    expect(redactRpcError(undefined)).toBeUndefined();
  });

  it("a URL that does not parse is replaced only as given", () => {
    const weird = "not-a-url-with-secret-token";
    const error = new Error(`failed on ${weird}`);
    redactRpcError(error, [weird]);
    expect(error.message).toBe("failed on <invalid url>");
  });
});

describe("errorMessage", () => {
  it("viem's short message with the node's words, once", () => {
    const e = new HttpRequestError({ body: {}, url: "https://u:p@eth.example.com/KEY", status: 503, details: "Service Unavailable" });
    expect(errorMessage(e)).toBe("HTTP request failed. (Service Unavailable)");
    expect(errorMessage(Object.assign(new Error("x"), { shortMessage: "nonce too low: 3", details: "nonce too low" }))).toBe("nonce too low: 3");
    expect(errorMessage(new Error("first line\nsecond line"))).toBe("first line");
  });

  it("what is not an Error: a message, a WebSocket event by its type, anything else as a string", () => {
    expect(errorMessage({ message: "socket closed" })).toBe("socket closed");
    class ErrorEvent {
      type = "error";
    }
    expect(errorMessage(new ErrorEvent())).toBe("ErrorEvent (error): connection failed or closed");
    expect(errorMessage(Object.assign(Object.create(null) as object, { type: "close" }))).toBe("event (close): connection failed or closed");
    expect(errorMessage({ message: "", type: "error" })).toBe("Object (error): connection failed or closed");
    expect(errorMessage(null)).toBe("null");
    expect(errorMessage(42)).toBe("42");
  });
});
