/**
 * viem clients for the keeper: one public client for reads and sends (HTTP, with failover across every configured
 * endpoint), an optional WebSocket client used
 * only for the block subscription, and a local signing account. Every JSON-RPC call goes through
 * `instrument`, so the keeper can count requests by method (the benchmark's "requests per block") without
 * wrapping each call site.
 */
import {
  createPublicClient,
  http,
  webSocket,
  type Account,
  type Hex,
  type PublicClient,
  type Transport,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { failoverTransport, type FailoverObserver } from "./failover.ts";

/** Called for every JSON-RPC request, before it is sent, and when it fails. */
export interface RpcObserver {
  onRequest?(method: string): void;
  onError?(method: string, error: unknown): void;
}

/** Wraps a transport so that every request is reported to `observer`. */
export function instrument(transport: Transport, observer: RpcObserver): Transport {
  return (params) => {
    const inner = transport(params);
    const request: typeof inner.request = async (args, options) => {
      observer.onRequest?.(args.method);
      try {
        return await inner.request(args, options);
      } catch (error) {
        observer.onError?.(args.method, error);
        throw error;
      }
    };
    return { ...inner, request };
  };
}

export interface ClientOptions {
  rpcUrl: string;
  /** Further HTTP endpoints, tried in order when the primary fails (and sent every raw transaction too). */
  fallbackUrls?: readonly string[];
  /** Per-endpoint observer (URLs given as scheme + host labels): for metrics by URL. */
  endpointObserver?: FailoverObserver;
  wsUrl?: string | undefined;
  /** Timeout of one HTTP request, ms. */
  timeoutMs?: number;
  observer?: RpcObserver;
}

export interface ChainClients {
  publicClient: PublicClient;
  /** Present when a WebSocket URL is configured: used only for `eth_subscribe("newHeads")`. */
  wsClient?: PublicClient;
}

export function createChainClients(options: ClientOptions): ChainClients {
  const observer = options.observer ?? {};
  // Failover over every HTTP endpoint: a timeout on each call, transient failures tried on the next endpoint
  // with bounded, jittered backoff (no retry storms); reverts and invalid requests answered at once; raw
  // transactions broadcast to every endpoint (the same bytes).
  const httpTransport = instrument(
    failoverTransport([options.rpcUrl, ...(options.fallbackUrls ?? [])], {
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: 2,
      baseBackoffMs: 200,
      maxBackoffMs: 2_000,
      ...(options.endpointObserver ? { observer: options.endpointObserver } : {}),
    }),
    observer,
  );
  const publicClient = createPublicClient({ transport: httpTransport }) as PublicClient;
  if (!options.wsUrl) return { publicClient };
  return { publicClient, wsClient: createWsClient(options.wsUrl, observer) };
}

/**
 * A WebSocket client for the block subscription only. viem's own reconnect is off (it reports failures with a
 * bare console.error): the keeper re-subscribes itself, with backoff, and logs each loss in one line.
 */
export function createWsClient(wsUrl: string, observer: RpcObserver = {}): PublicClient {
  const transport = instrument(webSocket(wsUrl, { retryCount: 0, keepAlive: true, reconnect: false }), observer);
  return createPublicClient({ transport }) as PublicClient;
}

/** The local signer. The key stays in this closure: never logged, never put in an error. */
export function signerFromPrivateKey(privateKey: Hex): Account {
  return privateKeyToAccount(privateKey);
}

/** Counts requests by method; `snapshot()` returns and `reset()` clears the counts. */
export class RequestCounter implements RpcObserver {
  #counts = new Map<string, number>();
  #errors = new Map<string, number>();

  onRequest(method: string): void {
    this.#counts.set(method, (this.#counts.get(method) ?? 0) + 1);
  }

  onError(method: string): void {
    this.#errors.set(method, (this.#errors.get(method) ?? 0) + 1);
  }

  total(): number {
    let n = 0;
    for (const v of this.#counts.values()) n += v;
    return n;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  errors(): Record<string, number> {
    return Object.fromEntries(this.#errors);
  }

  reset(): void {
    this.#counts.clear();
    this.#errors.clear();
  }
}
