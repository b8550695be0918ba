/**
 * keeper/chain at its edges, seen from outside: what `createChainClients` builds is judged by the requests that
 * reach two fault proxies (A, B) in front of one in-process Hardhat node and by its WebSocket endpoint — which
 * endpoint a read goes to, how many attempts a failing endpoint gets, when a silent one is given up, what the
 * observers are told; `readVaults` reads a deployed system through those clients (every vault in order, an
 * unreadable address named with its reason, the chain fields, the book, a read pinned to an older block or to the
 * pending one). The classifier's branches, one by one, are pinned without a chain in vaultErrors.test.ts.
 */
import hre from "hardhat";
import type { Address, PublicClient } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, createWsClient, RequestCounter, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { classifyRpcError, describeUrl, RpcUnavailableError, type RpcErrorInfo } from "../../keeper/chain/errors.ts";
import { LensReadError, readVaults, type BookCache } from "../../keeper/chain/readVaults.ts";
import {
  buyOptions,
  deploySystem,
  listSeries,
  priceE8,
  QUOTE_DECIMALS,
  UNDERLYING_DECIMALS,
  type System,
} from "../../harness/system.ts";
import { startFaultProxy, type FaultProxy } from "../../harness/faultProxy.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

let server: LocalNode;
let connection: Connection;
let port: number;
let A: FaultProxy;
let B: FaultProxy;
let sys: System;
let series: Awaited<ReturnType<typeof listSeries>>;

/** A provider-style URL: credentials and an API key the proxy ignores, so leaks can be looked for. */
const withSecrets = (proxy: FaultProxy) => `${proxy.url.replace("http://", "http://user:secret@")}/key`;
const calls = (proxy: FaultProxy, method: string) => proxy.stats().methods[method] ?? 0;

beforeAll(async () => {
  server = await startLocalNode();
  ({ port } = server);
  const nodeUrl = server.url;
  connection = await server.connect();
  A = await startFaultProxy({ target: nodeUrl });
  B = await startFaultProxy({ target: nodeUrl });
});

afterAll(async () => {
  await A?.close();
  await B?.close();
  await connection?.close();
  await server?.close();
});

afterEach(() => {
  for (const proxy of [A, B]) {
    proxy.setFaults({});
    proxy.resetStats();
  }
});

/** Closes a WebSocket client's socket (viem keeps it open for the next request). */
async function closeWs(client: PublicClient): Promise<void> {
  const transport = client.transport as unknown as { getRpcClient(): Promise<{ close(): void }> };
  (await transport.getRpcClient()).close();
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

// ─────────────────────────────────────────── createChainClients ───────────────────────────────────────────

describe("createChainClients over HTTP", () => {
  it("reads go to the primary URL only, and every request reaches the observer by method", async () => {
    const counter = new RequestCounter();
    const { publicClient, wsClient } = createChainClients({ rpcUrl: withSecrets(A), fallbackUrls: [withSecrets(B)], observer: counter });
    expect(wsClient, "no WebSocket URL, no WebSocket client").toBeUndefined();
    expect(await publicClient.getChainId()).toBe(31337);
    await publicClient.request({ method: "eth_blockNumber" });
    await publicClient.request({ method: "eth_blockNumber" });
    expect([calls(A, "eth_chainId"), calls(A, "eth_blockNumber"), B.stats().requests]).toEqual([1, 2, 0]);
    expect(counter.snapshot()).toEqual({ eth_chainId: 1, eth_blockNumber: 2 });
    expect(counter.total()).toBe(3);
    expect(counter.errors()).toEqual({});
    counter.reset();
    expect([counter.snapshot(), counter.errors(), counter.total()]).toEqual([{}, {}, 0]);
  });

  it("works with no observer and no time-out given (the defaults)", async () => {
    const { publicClient } = createChainClients({ rpcUrl: A.url });
    expect(await publicClient.getChainId()).toBe(31337);
    expect(calls(A, "eth_chainId")).toBe(1);
  });

  it("a primary that is down: the read goes to the fallback, and the endpoint observer names both by scheme and host", async () => {
    A.setFaults({ down: true });
    const failovers: [string, string][] = [];
    const endpointErrors: [string, string, RpcErrorInfo][] = [];
    const counter = new RequestCounter();
    const { publicClient } = createChainClients({
      rpcUrl: withSecrets(A),
      fallbackUrls: [withSecrets(B)],
      observer: counter,
      endpointObserver: {
        onFailover: (from, to) => failovers.push([from, to]),
        onError: (method, url, info) => endpointErrors.push([method, url, info]),
      },
    });
    expect(await publicClient.getChainId()).toBe(31337);
    expect([calls(A, "eth_chainId"), calls(B, "eth_chainId")]).toEqual([1, 1]);
    expect(failovers).toEqual([[describeUrl(A.url), describeUrl(B.url)]]);
    expect(endpointErrors.map(([m, url, info]) => [m, url, info.kind])).toEqual([["eth_chainId", describeUrl(A.url), "transient"]]);
    expect(counter.errors(), "the request succeeded: no error for the keeper's count").toEqual({});
  });

  it("every endpoint down: three attempts at each (two retries), then RpcUnavailableError, counted once as a request and once as an error", async () => {
    A.setFaults({ down: true });
    B.setFaults({ down: true });
    const counter = new RequestCounter();
    const seen: [string, unknown][] = [];
    const { publicClient } = createChainClients({
      rpcUrl: withSecrets(A),
      fallbackUrls: [withSecrets(B)],
      observer: {
        onRequest: (m) => counter.onRequest(m),
        onError: (m, e) => {
          counter.onError(m);
          seen.push([m, e]);
        },
      },
    });
    const error = await rejection(publicClient.request({ method: "eth_blockNumber" }));
    expect(error).toBeInstanceOf(RpcUnavailableError);
    expect((error as RpcUnavailableError).rounds).toBe(3);
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([3, 3]);
    expect(counter.snapshot()).toEqual({ eth_blockNumber: 1 });
    expect(counter.errors()).toEqual({ eth_blockNumber: 1 });
    counter.reset();
    expect([counter.snapshot(), counter.errors()], "reset clears the errors too").toEqual([{}, {}]);
    expect(seen).toEqual([["eth_blockNumber", error]]);
    for (const text of [String((error as Error).message), JSON.stringify(seen)]) expect(text).not.toMatch(/secret|\/key/);
  });

  it("an endpoint that never answers is given up after timeoutMs per attempt, not viem's default", async () => {
    A.setFaults({ blackhole: true });
    const { publicClient } = createChainClients({ rpcUrl: A.url, timeoutMs: 300 });
    // Three attempts of 300 ms and two backoffs of at most 200 and 400 ms: ~1.5 s. A 10 s time-out per attempt
    // would take over 30 s; 20 s is far beyond the first even on a loaded machine.
    const error = await Promise.race([
      rejection(publicClient.request({ method: "eth_blockNumber" })),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 20_000)),
    ]);
    expect(error).toBeInstanceOf(RpcUnavailableError);
    expect(classifyRpcError(error).kind).toBe("transient");
    expect(calls(A, "eth_blockNumber")).toBe(3);
  });
});

describe("createWsClient / createChainClients with a WebSocket URL", () => {
  it("the WebSocket client talks to the WebSocket endpoint, through the observer; the HTTP client stays on HTTP", async () => {
    const counter = new RequestCounter();
    const { publicClient, wsClient } = createChainClients({ rpcUrl: A.url, wsUrl: `ws://127.0.0.1:${port}`, observer: counter });
    expect(wsClient).toBeDefined();
    expect(await wsClient!.getChainId()).toBe(31337);
    expect(A.stats().requests, "the WebSocket request did not go over HTTP").toBe(0);
    expect(counter.snapshot()).toEqual({ eth_chainId: 1 });
    expect(await publicClient.getChainId()).toBe(31337);
    expect(calls(A, "eth_chainId")).toBe(1);
    await closeWs(wsClient!);
  });

  it("a block subscription delivers the next mined block", async () => {
    const ws = createWsClient(`ws://127.0.0.1:${port}`);
    const start = await ws.getBlockNumber({ cacheTime: 0 });
    const got = new Promise<bigint>((resolve, reject) => {
      // Over a WebSocket transport viem subscribes (eth_subscribe newHeads) rather than polls.
      const unwatch = ws.watchBlockNumber({
        onBlockNumber: (n) => {
          if (n > start) {
            unwatch();
            resolve(n);
          }
        },
        onError: reject,
      });
    });
    // The subscription is set up asynchronously: mine until it reports (each mined block is a chance).
    let mined = false;
    const miner = (async () => {
      while (!mined) {
        await connection.provider.request({ method: "evm_mine" });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const n = await Promise.race([got, new Promise<bigint>((_, reject) => setTimeout(() => reject(new Error("no block in 30 s")), 30_000))]);
    mined = true;
    await miner;
    expect(n).toBeGreaterThan(start);
    await closeWs(ws);
  });
});

describe("signerFromPrivateKey", () => {
  it("gives the key's address and signs with it", async () => {
    // Hardhat's public test account #3: a well-known key, never used for anything real.
    const account = signerFromPrivateKey("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
    expect(account.address).toBe("0x90F79bf6EB2c4f870365E785982E1f101E93b906");
    expect(account.type).toBe("local");
  });
});

// ─────────────────────────────────────────── readVaults on a deployed system ───────────────────────────────────────────

describe("readVaults through the keeper's clients", () => {
  // Only these tests need the system: the client tests above stay cheap to rerun (Stryker reruns them per mutant).
  beforeAll(async () => {
    sys = await deploySystem(connection.viem);
    series = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, (await connection.viem.getWalletClients())[2]!.account.address, series.id, 5);
  });

  const ref = () => ({ address: sys.vault.address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS });
  /** An address with no code: the lens reports it, the read does not fail. */
  const EMPTY = "0x00000000000000000000000000000000000000e1" as Address;

  it("one request gives the chain, the signer's balance and every vault in order; an address with no code is named with its reason", async () => {
    const counter = new RequestCounter();
    const { publicClient } = createChainClients({ rpcUrl: A.url, observer: counter });
    const keeper = sys.keeper.account.address;
    const read = await readVaults(publicClient, { lens: sys.lens.address, vaults: [ref(), { ...ref(), address: EMPTY }], account: keeper });
    expect(counter.snapshot()).toEqual({ eth_call: 1 });
    const block = await sys.publicClient.getBlock();
    expect(read.chain).toEqual({
      blockNumber: block.number,
      timestamp: block.timestamp,
      // `block.basefee` inside an eth_call with no fee fields is 0 on Hardhat and geth (the keeper floors it with
      // the fee history: Keeper.#withKnownBaseFee); it is carried as the lens saw it.
      baseFeePerGas: expect.any(BigInt),
      chainId: 31337n,
      accountBalance: await sys.publicClient.getBalance({ address: keeper }),
    });
    expect(read.chain.baseFeePerGas).toBeLessThanOrEqual(block.baseFeePerGas!);
    expect(read.failures).toEqual([{ vault: EMPTY, reason: expect.stringMatching(/no code at this address/) }]);
    expect(read.vaults.map((v) => v.vault)).toEqual([sys.vault.address]);
    const v = read.vaults[0]!;
    expect(v).toMatchObject({ blockNumber: block.number, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS });
    expect(v.spotWad).toBe(3000n * 10n ** 18n);
    expect(v.hedge).toEqual(sys.hedge);
    expect(v.risk).toEqual(sys.risk);
    // The book: the one series sold, as the vault itself describes it.
    // The book: the one series sold (the vault's size is signed: it is short 5), as the vault itself describes it.
    expect(v.book.map((s) => s.id)).toEqual([series.id]);
    expect(v.book[0]).toMatchObject({ isCall: true, strikeWad: series.strikeWad, expiry: series.expiry, sizeWad: -5n * 10n ** 18n });
    // One series: its delta is the book's, and short calls are short delta.
    expect(v.book[0]!.deltaWad).toBe(v.bookDeltaWad);
    expect(v.bookDeltaWad).toBeLessThan(0n);
    expect(v.book[0]!.markWad).toBeGreaterThan(0n);
  });

  it("light with a book cache: the same vault, its book kept from the first (full) read; without a blockTag it reads the latest block", async () => {
    const { publicClient } = createChainClients({ rpcUrl: A.url });
    const params = { lens: sys.lens.address, vaults: [ref()], account: sys.keeper.account.address };
    const full = await readVaults(publicClient, params);
    const books: BookCache = new Map();
    await readVaults(publicClient, { ...params, books });
    const light = await readVaults(publicClient, { ...params, books });
    expect(light.vaults[0]!.book.map((s) => s.id)).toEqual(full.vaults[0]!.book.map((s) => s.id));
    expect(light.vaults[0]!.netDeltaWad).toBe(full.vaults[0]!.netDeltaWad);
    expect(books.get(ref().address)!.series).toHaveLength(full.vaults[0]!.book.length);
    expect(light.chain.blockNumber).toBe(await sys.publicClient.getBlockNumber({ cacheTime: 0 }));
  });

  it("a read pinned to a block sees that block's state, after the oracle moved", async () => {
    const { publicClient } = createChainClients({ rpcUrl: A.url });
    const params = { lens: sys.lens.address, vaults: [ref()], account: sys.keeper.account.address };
    const before = await sys.publicClient.getBlockNumber({ cacheTime: 0 });
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3100)]));
    try {
      const pinned = await readVaults(publicClient, { ...params, blockNumber: before });
      const latest = await readVaults(publicClient, params);
      expect(pinned.chain.blockNumber).toBe(before);
      expect(pinned.vaults[0]!.spotWad).toBe(3000n * 10n ** 18n);
      expect(latest.chain.blockNumber).toBeGreaterThan(before);
      expect(latest.vaults[0]!.spotWad).toBe(3100n * 10n ** 18n);
    } finally {
      await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    }
  });

  it("a read with blockTag 'pending' sees a transaction not mined yet; 'latest' does not", async () => {
    const { publicClient } = createChainClients({ rpcUrl: A.url });
    const params = { lens: sys.lens.address, vaults: [ref()], account: sys.keeper.account.address };
    await connection.provider.request({ method: "evm_setAutomine", params: [false] });
    try {
      await sys.oracle.write.setPrice([priceE8(2900)]);
      const pending = await readVaults(publicClient, { ...params, blockTag: "pending" });
      const latest = await readVaults(publicClient, { ...params, blockTag: "latest" });
      expect(pending.vaults[0]!.spotWad).toBe(2900n * 10n ** 18n);
      expect(latest.vaults[0]!.spotWad).toBe(3000n * 10n ** 18n);
    } finally {
      await connection.provider.request({ method: "evm_mine" });
      await connection.provider.request({ method: "evm_setAutomine", params: [true] });
      await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    }
  });

  it("a lens answer with the wrong number of vaults is refused, naming both counts", async () => {
    // A lens that lost a vault (the wrong address configured as the lens, or a node answering for another call).
    const client = { readContract: async () => [{}, []] } as unknown as PublicClient;
    const error = await rejection(readVaults(client, { lens: sys.lens.address, vaults: [ref()], account: sys.keeper.account.address }));
    expect(error).toBeInstanceOf(LensReadError);
    expect(error).toMatchObject({ name: "LensReadError", message: "lens returned 0 snapshots for 1 vaults" });
  });
});
