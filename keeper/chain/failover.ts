/**
 * A viem `Transport` over several HTTP JSON-RPC endpoints that survives any one of them failing.
 *
 * Reads (every method but `eth_sendRawTransaction`) go to one endpoint at a time:
 * - each attempt has a time-out (`timeoutMs`); a transient failure (see `classifyRpcError`) fails over to the
 *   next endpoint, and demotes the one that failed for `demoteMs` (doubling while it keeps failing, up to
 *   `maxDemoteMs`). Healthy endpoints are tried in the configured order, so the first URL is the primary and is
 *   tried again once its demotion expires; demoted ones come last, the last one that answered first among them.
 * - a round tries every endpoint once; after a round where all failed, the transport sleeps a full-jitter
 *   exponential backoff (uniform in [0, min(maxBackoffMs, baseBackoffMs · 2^(round-1)))) and starts another,
 *   `retries` more at most, then throws `RpcUnavailableError`. At most (retries + 1) × urls.length attempts and
 *   (retries + 1) × urls.length × timeoutMs + retries × maxBackoffMs of waiting per request: no retry storms.
 * - an answer that is not transient (a revert, invalid params, method not found…) is the answer: returned at
 *   once, never retried and never asked of another endpoint.
 * - answers are never compared or merged across endpoints. In particular the account nonce
 *   (`eth_getTransactionCount`) is read from a single endpoint, the primary when it is healthy: the keeper reads
 *   it through this transport once and then counts locally (`keeper/execution/nonces.ts`).
 *
 * `eth_sendRawTransaction` broadcasts the same signed bytes to every endpoint in parallel (never re-signed):
 * - it succeeds as soon as one endpoint accepts them or says it already has them ("already known"), with the
 *   hash; the other broadcasts finish in the background.
 * - when none accepts but one says "nonce too low", the transaction is settled one way or the other (mined, or
 *   the nonce taken by another transaction): it returns keccak256 of the bytes, and the caller resolves the
 *   outcome by receipt.
 * - otherwise the most actionable refusal is thrown (underpriced, then revert, then permanent), or, when every
 *   endpoint failed transiently, the same bytes are broadcast again in the next round.
 *
 * Errors thrown carry no URL: viem's `URL: …` lines and `url` fields are redacted to scheme and host. Observer
 * callbacks receive `describeUrl(url)` labels, never the URLs.
 */
import { createTransport, http, isHex, keccak256, type EIP1193RequestFn, type Hash, type Hex, type Transport } from "viem";
import {
  classifyRpcError,
  describeUrl,
  redactRpcError,
  RpcUnavailableError,
  type RpcAttempt,
  type RpcErrorInfo,
  type RpcErrorKind,
} from "./errors.ts";

export { describeUrl } from "./errors.ts";

/** Called with endpoint labels (`describeUrl`: scheme and host), never with the URLs. */
export interface FailoverObserver {
  /** Before every attempt at one endpoint (so a request that fails over is counted once per endpoint). */
  onRequest?(method: string, url: string): void;
  /** After every failed attempt, classified. */
  onError?(method: string, url: string, error: RpcErrorInfo): void;
  /** When a read moves on to another endpoint after a transient failure. */
  onFailover?(fromUrl: string, toUrl: string, reason: string): void;
}

export interface FailoverOptions {
  /** Time-out of one attempt at one endpoint, ms. */
  timeoutMs: number;
  /** Extra rounds after the first (a round tries every endpoint once). 0: each endpoint once. */
  retries: number;
  /** Backoff before the second round, ms; doubles each round, jittered uniformly down to zero. */
  baseBackoffMs: number;
  /** Cap on one backoff, ms. */
  maxBackoffMs: number;
  /** How long an endpoint that failed transiently goes to the back of the order, ms. Default 5,000. */
  demoteMs?: number;
  /** Cap on the demotion, which doubles with each consecutive failure, ms. Default 60,000. */
  maxDemoteMs?: number;
  /** Uniform in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Monotonic clock for demotions, ms. Default `performance.now`. */
  now?: () => number;
  observer?: FailoverObserver;
}

/** What `transport.value.endpoints()` reports, for health checks and tests. */
export interface EndpointStatus {
  label: string;
  /** Consecutive transient failures. */
  failures: number;
  demoted: boolean;
}

export type FailoverTransport = Transport<"failover", { endpoints(): EndpointStatus[] }>;

/** Sanity bounds: a configuration beyond them is a mistake, and would make one request take minutes. */
const MAX_RETRIES = 10;
const MAX_URLS = 16;

type RequestArgs = { method: string; params?: unknown };
type RequestOptions = { signal?: AbortSignal | undefined } | undefined;
type RawRequest = (args: RequestArgs, options?: RequestOptions) => Promise<unknown>;

type Outcome =
  | { index: number; ok: true; result: unknown }
  | { index: number; ok: false; error: unknown; info: RpcErrorInfo };

export function failoverTransport(urls: readonly string[], options: FailoverOptions): FailoverTransport {
  validate(urls, options);
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? (() => performance.now());
  const observer = options.observer ?? {};
  const labels = uniqueLabels(urls);
  const health = new EndpointHealth(urls.length, options.demoteMs ?? 5_000, options.maxDemoteMs ?? 60_000);
  // retryCount 0: the rounds below are the only retries. The inner transports are built once and shared by every
  // client made from this transport, and so is the health state.
  const inner: RawRequest[] = urls.map(
    (url) => http(url, { timeout: options.timeoutMs, retryCount: 0 })({ retryCount: 0, timeout: options.timeoutMs }).request as RawRequest,
  );

  const notify = (fn: () => void) => {
    try {
      fn();
    } catch {
      // an observer's bug must not fail the request it observes
    }
  };

  /** One attempt at one endpoint; never rejects. */
  const attempt = async (index: number, args: RequestArgs, requestOptions: RequestOptions): Promise<Outcome> => {
    notify(() => observer.onRequest?.(args.method, labels[index]!));
    try {
      const result = await inner[index]!(args, requestOptions);
      health.succeeded(index);
      return { index, ok: true, result };
    } catch (raw) {
      const error = redactRpcError(raw, urls);
      const info = classifyRpcError(error);
      notify(() => observer.onError?.(args.method, labels[index]!, info));
      if (info.kind === "transient") health.failed(index, now());
      else health.succeeded(index); // it answered: the endpoint is fine, the request is not
      return { index, ok: false, error, info };
    }
  };

  const pause = async (round: number, signal: AbortSignal | undefined) => {
    const ceiling = Math.min(options.maxBackoffMs, options.baseBackoffMs * 2 ** (round - 1));
    await sleep(Math.floor(random() * ceiling));
    throwIfAborted(signal);
  };

  const read = async (args: RequestArgs, requestOptions: RequestOptions): Promise<unknown> => {
    const signal = requestOptions?.signal;
    const attempts: RpcAttempt[] = [];
    let lastError: unknown;
    let previous: number | undefined;
    for (let round = 0; round <= options.retries; round++) {
      if (round > 0) await pause(round, signal);
      for (const index of health.order(now())) {
        throwIfAborted(signal);
        if (previous !== undefined && previous !== index) {
          const reason = attempts.at(-1)?.message ?? "";
          notify(() => observer.onFailover?.(labels[previous!]!, labels[index]!, reason));
        }
        const outcome = await attempt(index, args, requestOptions);
        if (outcome.ok) return outcome.result;
        throwIfAborted(signal);
        if (outcome.info.kind !== "transient") throw outcome.error;
        attempts.push({ endpoint: labels[index]!, round, kind: outcome.info.kind, message: outcome.info.message });
        lastError = outcome.error;
        previous = index;
      }
    }
    throw new RpcUnavailableError({ method: args.method, rounds: options.retries + 1, attempts, cause: asError(lastError) });
  };

  const broadcast = async (raw: Hex, args: RequestArgs, requestOptions: RequestOptions): Promise<unknown> => {
    const signal = requestOptions?.signal;
    const attempts: RpcAttempt[] = [];
    let lastError: unknown;
    for (let round = 0; round <= options.retries; round++) {
      if (round > 0) await pause(round, signal);
      const { accepted, outcomes } = await firstAccepted(
        health.order(now()).map((index) => attempt(index, args, requestOptions)),
      );
      if (accepted) return accepted.ok ? accepted.result : hashOf(raw);
      throwIfAborted(signal);
      const failures = outcomes.filter((o): o is Extract<Outcome, { ok: false }> => !o.ok);
      if (failures.some((o) => o.info.kind === "nonce-too-low")) return hashOf(raw);
      for (const kind of ["underpriced", "revert", "permanent"] as const satisfies readonly RpcErrorKind[]) {
        const refusal = failures.find((o) => o.info.kind === kind);
        if (refusal) throw refusal.error;
      }
      for (const o of failures) {
        attempts.push({ endpoint: labels[o.index]!, round, kind: o.info.kind, message: o.info.message });
        lastError = o.error;
      }
    }
    throw new RpcUnavailableError({ method: args.method, rounds: options.retries + 1, attempts, cause: asError(lastError) });
  };

  const request = async (args: RequestArgs, requestOptions?: RequestOptions): Promise<unknown> => {
    throwIfAborted(requestOptions?.signal);
    const raw = Array.isArray(args.params) ? args.params[0] : undefined;
    if (args.method === "eth_sendRawTransaction" && typeof raw === "string" && isHex(raw)) {
      return broadcast(raw, args, requestOptions);
    }
    return read(args, requestOptions);
  };

  return () =>
    createTransport(
      {
        key: "failover",
        name: "Failover JSON-RPC",
        type: "failover",
        request: request as unknown as EIP1193RequestFn,
        retryCount: 0,
        timeout: options.timeoutMs,
      },
      { endpoints: () => labels.map((label, i) => ({ label, ...health.status(i, now()) })) },
    );
}

/**
 * Consecutive transient failures and demotions per endpoint. An endpoint that answers (even with a refusal) is
 * healthy again at once.
 */
class EndpointHealth {
  readonly #failures: number[];
  readonly #demotedUntil: number[];
  readonly #demoteMs: number;
  readonly #maxDemoteMs: number;
  #lastHealthy = 0;

  constructor(count: number, demoteMs: number, maxDemoteMs: number) {
    this.#failures = new Array<number>(count).fill(0);
    this.#demotedUntil = new Array<number>(count).fill(Number.NEGATIVE_INFINITY);
    this.#demoteMs = demoteMs;
    this.#maxDemoteMs = maxDemoteMs;
  }

  /** Healthy endpoints in configured order, then demoted ones: the last that answered first, then by expiry. */
  order(nowMs: number): number[] {
    const all = this.#failures.map((_, i) => i);
    const healthy = all.filter((i) => this.#demotedUntil[i]! <= nowMs);
    const demoted = all
      .filter((i) => this.#demotedUntil[i]! > nowMs)
      .sort((a, b) => {
        if (a === this.#lastHealthy) return -1;
        if (b === this.#lastHealthy) return 1;
        return this.#demotedUntil[a]! - this.#demotedUntil[b]!;
      });
    return [...healthy, ...demoted];
  }

  succeeded(index: number): void {
    this.#failures[index] = 0;
    this.#demotedUntil[index] = Number.NEGATIVE_INFINITY;
    this.#lastHealthy = index;
  }

  failed(index: number, nowMs: number): void {
    const failures = (this.#failures[index] ?? 0) + 1;
    this.#failures[index] = failures;
    // 2^(failures-1) saturates long before it matters: the cap applies from the first few failures.
    this.#demotedUntil[index] = nowMs + Math.min(this.#demoteMs * 2 ** Math.min(failures - 1, 30), this.#maxDemoteMs);
  }

  status(index: number, nowMs: number): { failures: number; demoted: boolean } {
    return { failures: this.#failures[index] ?? 0, demoted: this.#demotedUntil[index]! > nowMs };
  }
}

/**
 * Resolves with the first outcome that settles a broadcast (accepted, or "already known") as soon as it comes,
 * or with every outcome once all are in. The attempts never reject.
 */
function firstAccepted(attempts: Promise<Outcome>[]): Promise<{ accepted?: Outcome; outcomes: Outcome[] }> {
  return new Promise((resolve) => {
    const outcomes: Outcome[] = [];
    for (const p of attempts) {
      void p.then((o) => {
        outcomes.push(o);
        if (o.ok || o.info.kind === "tx-known") resolve({ accepted: o, outcomes });
        else if (outcomes.length === attempts.length) resolve({ outcomes });
      });
    }
  });
}

/** The transaction hash is keccak256 of the signed, serialized transaction (any type: legacy or typed envelope). */
function hashOf(raw: Hex): Hash {
  return keccak256(raw);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function asError(error: unknown): Error | undefined {
  return error instanceof Error ? error : undefined;
}

/** `describeUrl` labels, made distinct (`#2`…) when two URLs differ only past the host (e.g. by API key). */
function uniqueLabels(urls: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return urls.map((url) => {
    const label = describeUrl(url);
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label}#${n}`;
  });
}

function validate(urls: readonly string[], options: FailoverOptions): void {
  if (urls.length === 0 || urls.length > MAX_URLS) throw new RangeError(`failoverTransport needs 1 to ${MAX_URLS} URLs, got ${urls.length}`);
  urls.forEach((url, i) => {
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new RangeError(`failoverTransport: URL #${i + 1} is not a valid URL`);
    }
    if (protocol !== "http:" && protocol !== "https:") {
      throw new RangeError(`failoverTransport: URL #${i + 1} (${describeUrl(url)}) is not http(s)`);
    }
  });
  const positive = (name: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`failoverTransport: ${name} must be > 0, got ${value}`);
  };
  positive("timeoutMs", options.timeoutMs);
  if (!Number.isInteger(options.retries) || options.retries < 0 || options.retries > MAX_RETRIES) {
    throw new RangeError(`failoverTransport: retries must be an integer in [0, ${MAX_RETRIES}], got ${options.retries}`);
  }
  if (!Number.isFinite(options.baseBackoffMs) || options.baseBackoffMs < 0) {
    throw new RangeError(`failoverTransport: baseBackoffMs must be >= 0, got ${options.baseBackoffMs}`);
  }
  if (!Number.isFinite(options.maxBackoffMs) || options.maxBackoffMs < 0) {
    throw new RangeError(`failoverTransport: maxBackoffMs must be >= 0, got ${options.maxBackoffMs}`);
  }
  if (options.demoteMs !== undefined) positive("demoteMs", options.demoteMs);
  if (options.maxDemoteMs !== undefined) positive("maxDemoteMs", options.maxDemoteMs);
}
