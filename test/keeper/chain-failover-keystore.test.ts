/**
 * The failover transport's and the keystore's promises, pinned down case by case so a wrong version fails.
 *
 * Failover: several scripted JSON-RPC servers on OS-picked loopback ports answer each request as the test says
 * (a result, a node's error, an HTTP status, or nothing until released); every request that reaches a server is
 * recorded, so each test sees which endpoint served what, in which order, and how often — with an injected clock
 * for demotions and an injected sleep for backoffs. Keystore: each refusal with its exact message, and round trips
 * at small work factors.
 */
import { createCipheriv, pbkdf2Sync } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { classifyRpcError, RpcUnavailableError, type RpcErrorInfo } from "../../keeper/chain/errors.ts";
import { scrypt } from "@noble/hashes/scrypt";
import { decryptKeystore, encryptKeystore, KeystoreError, type KeystoreV3 } from "../../keeper/chain/keystore.ts";
import { failoverTransport, type FailoverOptions } from "../../keeper/chain/failover.ts";
import { until } from "../../harness/until.ts";

// ── A scripted JSON-RPC endpoint ─────────────────────────────────────────────────────────────────────────────

type Answer =
  | { result: unknown }
  | { error: { code: number; message: string; data?: Hex } }
  | { status: number }
  /** Hold the request until `release()` (or the server closes). */
  | "hold";

interface Scripted {
  /** With a path holding a fake API key and user info, as a provider hands it out. */
  url: string;
  /** `http://127.0.0.1:<port>`: what labels and messages may show. */
  label: string;
  /** Methods received, in order. */
  received: string[];
  answer: (method: string) => Answer;
  release(): void;
}

const servers: Server[] = [];
const held: ServerResponse[] = [];

async function scripted(answer: (method: string) => Answer = () => ({ result: "0x1" })): Promise<Scripted> {
  const endpoint: Scripted = {
    url: "",
    label: "",
    received: [],
    answer,
    release: () => {
      for (const res of held.splice(0)) if (!res.writableEnded) res.end(JSON.stringify({ jsonrpc: "2.0", id: 0, result: "0x0" }));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const { id, method } = JSON.parse(body) as { id: number; method: string };
      endpoint.received.push(method);
      const a = endpoint.answer(method);
      if (a === "hold") {
        held.push(res);
        return;
      }
      if ("status" in a) {
        res.writeHead(a.status, { "content-type": "text/plain" }).end("unavailable");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id, ...a }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  endpoint.label = `http://127.0.0.1:${port}`;
  endpoint.url = `http://user:secret@127.0.0.1:${port}/v2/key`;
  return endpoint;
}

afterEach(() => {
  for (const res of held.splice(0)) res.destroy();
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const UP: Answer = { result: "0x1" };
const DOWN: Answer = { status: 503 };
/** What viem (and so the failover events and errors) says of our servers' 503. */
const REASON_503 = 'HTTP request failed (HTTP 503): "unavailable"';
const INVALID: Answer = { error: { code: -32602, message: "invalid argument 0: hex string without 0x prefix" } };

/** A transport over `endpoints` with a fake clock, recorded sleeps and observer events. */
function setup(endpoints: Scripted[], overrides: Partial<FailoverOptions> = {}) {
  let clockMs = 0;
  const sleeps: number[] = [];
  const requests: [string, string][] = [];
  const errors: [string, string, RpcErrorInfo][] = [];
  const failovers: [string, string, string][] = [];
  // `failOne`: a read aborted by its first error, so exactly one endpoint fails (and is demoted) at a chosen time.
  let abortOnError: AbortController | undefined;
  const transport = failoverTransport(
    endpoints.map((e) => e.url),
    {
      timeoutMs: 30_000,
      retries: 0,
      baseBackoffMs: 100,
      maxBackoffMs: 1_000,
      demoteMs: 1_000,
      maxDemoteMs: 60_000,
      random: () => 0.5,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      now: () => clockMs,
      observer: {
        onRequest: (method, url) => requests.push([method, url]),
        onError: (method, url, info) => {
          errors.push([method, url, info]);
          abortOnError?.abort(new Error("stop after one failure"));
          abortOnError = undefined;
        },
        onFailover: (from, to, reason) => failovers.push([from, to, reason]),
      },
      ...overrides,
    },
  )({});
  const request = (method: string, params: unknown[] = [], signal?: AbortSignal) =>
    transport.request({ method, params } as never, signal ? ({ signal } as never) : undefined) as Promise<unknown>;
  return {
    request,
    blockNumber: () => request("eth_blockNumber"),
    failOne: () => {
      abortOnError = new AbortController();
      return rejection(request("eth_blockNumber", [], abortOnError.signal));
    },
    endpoints: () => transport.value!.endpoints(),
    type: transport.config.type,
    sleeps,
    requests,
    errors,
    failovers,
    setClock: (ms: number) => (clockMs = ms),
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** Every text of an error and its causes: no credentials, path or API key of any URL. */
function expectRedacted(error: unknown): void {
  for (let e = error as Record<string, unknown> | undefined, depth = 0; e && depth < 16; e = e.cause as never, depth++) {
    const text = [e.message, e.shortMessage, e.details, e.url, e.stack].filter((v) => typeof v === "string").join("\n");
    expect(text).not.toMatch(/secret|user:|\/v2\/key/);
  }
}

const served = (...endpoints: Scripted[]) => endpoints.map((e) => e.received.length);

// Hardhat's public test account #4: a signed transfer is only bytes here, never broadcast to a chain.
const SENDER = privateKeyToAccount("0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a");
const RAW = await SENDER.signTransaction({
  chainId: 31337,
  type: "eip1559",
  to: SENDER.address,
  value: 1n,
  gas: 21_000n,
  nonce: 0,
  maxFeePerGas: 1_000_000_000n,
  maxPriorityFeePerGas: 1n,
});
const sendRaw = (request: ReturnType<typeof setup>["request"], signal?: AbortSignal) =>
  request("eth_sendRawTransaction", [RAW], signal);

describe("failoverTransport: configuration it refuses, with a message naming the setting", () => {
  const options: FailoverOptions = { timeoutMs: 1_000, retries: 1, baseBackoffMs: 10, maxBackoffMs: 20 };
  const url = "http://127.0.0.1:1";

  it.each<[string, readonly string[], Partial<FailoverOptions>, string]>([
    ["no URL", [], {}, "failoverTransport needs 1 to 16 URLs, got 0"],
    ["17 URLs", Array(17).fill(url), {}, "failoverTransport needs 1 to 16 URLs, got 17"],
    ["a URL that does not parse (never echoed)", [url, "not a url secret"], {}, "failoverTransport: URL #2 is not a valid URL"],
    ["a websocket URL", ["wss://user:pw@eth.example.com/key"], {}, "failoverTransport: URL #1 (wss://eth.example.com) is not http(s)"],
    ["timeoutMs 0", [url], { timeoutMs: 0 }, "failoverTransport: timeoutMs must be > 0, got 0"],
    ["timeoutMs Infinity", [url], { timeoutMs: Infinity }, "failoverTransport: timeoutMs must be > 0, got Infinity"],
    ["retries -1", [url], { retries: -1 }, "failoverTransport: retries must be an integer in [0, 10], got -1"],
    ["retries 1.5", [url], { retries: 1.5 }, "failoverTransport: retries must be an integer in [0, 10], got 1.5"],
    ["retries 11", [url], { retries: 11 }, "failoverTransport: retries must be an integer in [0, 10], got 11"],
    ["baseBackoffMs -1", [url], { baseBackoffMs: -1 }, "failoverTransport: baseBackoffMs must be >= 0, got -1"],
    ["baseBackoffMs NaN", [url], { baseBackoffMs: NaN }, "failoverTransport: baseBackoffMs must be >= 0, got NaN"],
    ["maxBackoffMs -1", [url], { maxBackoffMs: -1 }, "failoverTransport: maxBackoffMs must be >= 0, got -1"],
    ["maxBackoffMs Infinity", [url], { maxBackoffMs: Infinity }, "failoverTransport: maxBackoffMs must be >= 0, got Infinity"],
    ["demoteMs 0", [url], { demoteMs: 0 }, "failoverTransport: demoteMs must be > 0, got 0"],
    ["maxDemoteMs -5", [url], { maxDemoteMs: -5 }, "failoverTransport: maxDemoteMs must be > 0, got -5"],
  ])("%s", (_, urls, override, message) => {
    expect(() => failoverTransport(urls, { ...options, ...override })).toThrow(new RangeError(message));
  });

  it("accepts the bounds themselves: 16 URLs, https, retries 0 and 10, zero backoffs", () => {
    expect(() => failoverTransport(Array(16).fill(url), options)).not.toThrow();
    expect(() => failoverTransport(["https://eth.example.com"], { ...options, retries: 0, baseBackoffMs: 0, maxBackoffMs: 0 })).not.toThrow();
    expect(() => failoverTransport([url], { ...options, retries: 10, demoteMs: 1, maxDemoteMs: 1 })).not.toThrow();
  });
});

describe("failoverTransport: which endpoint serves a read", () => {
  it("the first URL serves every read while it is healthy; labels are scheme and host, made distinct", async () => {
    const a = await scripted();
    const b = await scripted();
    // The same endpoint twice, as two API keys of one provider would be: two labels, never the key.
    const { blockNumber, endpoints, requests, type } = setup([a, b, { ...a, url: `${a.label}/other-key` }]);
    expect(type).toBe("failover");
    for (let i = 0; i < 3; i++) expect(await blockNumber()).toBe("0x1");
    expect(served(a, b)).toEqual([3, 0]);
    expect(requests).toEqual(Array(3).fill(["eth_blockNumber", a.label]));
    expect(endpoints()).toEqual([
      { label: a.label, failures: 0, demoted: false },
      { label: b.label, failures: 0, demoted: false },
      { label: `${a.label}#2`, failures: 0, demoted: false },
    ]);
  });

  it("a failing endpoint is demoted for demoteMs exactly, counted, then tried first again", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const { blockNumber, endpoints, failovers, setClock } = setup([a, b]);
    await blockNumber();
    expect(served(a, b)).toEqual([1, 1]);
    expect(failovers).toEqual([[a.label, b.label, REASON_503]]);
    expect(endpoints().map(({ failures, demoted }) => [failures, demoted])).toEqual([[1, true], [0, false]]);

    setClock(999);
    await blockNumber();
    expect(served(a, b)).toEqual([1, 2]);
    expect(endpoints()[0]).toMatchObject({ failures: 1, demoted: true });

    // At the expiry itself the demotion is over.
    setClock(1_000);
    expect(endpoints()[0]).toMatchObject({ failures: 1, demoted: false });
    a.answer = () => UP;
    await blockNumber();
    expect(served(a, b)).toEqual([2, 2]);
    expect(endpoints()[0]).toEqual({ label: a.label, failures: 0, demoted: false });
  });

  it("consecutive failures double the demotion (1 s, 2 s, 4 s…) up to maxDemoteMs", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const { blockNumber, endpoints, setClock } = setup([a, b], { maxDemoteMs: 3_000 });
    // [failure number, when it happens, how long it demotes]
    const schedule: [number, number, number][] = [
      [1, 0, 1_000],
      [2, 1_000, 2_000],
      [3, 3_000, 3_000], // 4 s, capped at 3 s
      [4, 6_000, 3_000],
    ];
    for (const [failures, at, demoteMs] of schedule) {
      setClock(at);
      await blockNumber();
      expect(a.received).toHaveLength(failures);
      expect(endpoints()[0]).toMatchObject({ failures, demoted: true });
      setClock(at + demoteMs - 1);
      await blockNumber();
      expect(a.received).toHaveLength(failures); // still demoted: not asked
    }
    expect(b.received).toHaveLength(8);
  });

  it("without demoteMs and maxDemoteMs: 5 s, doubling, capped at 60 s", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const { blockNumber, endpoints, setClock } = setup([a, b], { demoteMs: undefined, maxDemoteMs: undefined });
    let at = 0;
    for (const demoteMs of [5_000, 10_000, 20_000, 40_000, 60_000, 60_000]) {
      setClock(at);
      await blockNumber();
      setClock(at + demoteMs - 1);
      expect(endpoints()[0]!.demoted).toBe(true);
      setClock(at + demoteMs);
      expect(endpoints()[0]!.demoted).toBe(false);
      at += demoteMs;
    }
    expect(a.received).toHaveLength(6);
  });

  it("an endpoint that answers a refusal is healthy: its failure count restarts", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const { request, endpoints, setClock } = setup([a, b]);
    await request("eth_blockNumber");
    setClock(1_000);
    a.answer = () => INVALID;
    const error = await rejection(request("eth_getBalance", ["0xzz", "latest"]));
    expect(classifyRpcError(error).kind).toBe("permanent");
    expect(served(a, b)).toEqual([2, 1]); // the refusal is the answer: B is not asked
    expect(endpoints()[0]).toEqual({ label: a.label, failures: 0, demoted: false });
    // A fresh first failure: demoted 1 s again, not 2 s.
    a.answer = () => DOWN;
    await request("eth_blockNumber");
    setClock(2_000);
    expect(endpoints()[0]).toMatchObject({ failures: 1, demoted: false });
  });

  it("with every endpoint demoted, the last one that answered is tried first, then by expiry", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const c = await scripted(() => DOWN);
    // A fails and is demoted; B answers (the last healthy).
    const { blockNumber, errors, setClock } = setup([a, b, c], { maxDemoteMs: 1_000 });
    await blockNumber();
    // Then all fail at once: B, C, then A (still demoted); all demoted until 1 000 (the cap).
    b.answer = () => DOWN;
    await rejection(blockNumber());
    expect(errors.map(([, url]) => url)).toEqual([a.label, b.label, c.label, a.label]);
    errors.length = 0;
    // B answered last: first among equals, ahead of the configured order.
    await rejection(blockNumber());
    expect(errors.map(([, url]) => url)).toEqual([b.label, a.label, c.label]);

    // By expiry: C alone fails again later, so it ends the order (A and B expire sooner).
    errors.length = 0;
    b.answer = () => UP;
    setClock(1_000);
    await blockNumber(); // A (healthy again, fails: until 2 000), B answers
    c.answer = () => DOWN;
    b.answer = () => DOWN;
    setClock(1_500);
    await rejection(blockNumber()); // B (until 2 500), C (until 2 500); A demoted (until 2 000) and fails
    errors.length = 0;
    await rejection(blockNumber());
    expect(errors.map(([, url]) => url)).toEqual([b.label, a.label, c.label]);
  });

  it("the last one that answered goes first among the demoted even when its demotion ends later", async () => {
    const a = await scripted();
    const b = await scripted(() => DOWN);
    const { blockNumber, failOne, errors, setClock } = setup([a, b], { maxDemoteMs: 1_000 });
    await blockNumber(); // A answers
    a.answer = () => DOWN;
    await rejection(blockNumber()); // A and B demoted until 1 000
    setClock(500);
    await failOne(); // A first (it answered last), fails again: until 1 500; B still until 1 000
    errors.length = 0;
    await rejection(blockNumber());
    expect(errors.map(([, url]) => url)).toEqual([a.label, b.label]);
  });

  it("among demoted endpoints that did not answer last, the one whose demotion ends first goes first", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const c = await scripted();
    const { blockNumber, failOne, errors, setClock } = setup([a, b, c]);
    await blockNumber(); // A fails (until 1 000), B answers
    setClock(1_000);
    await blockNumber(); // A fails again (until 3 000), B answers
    b.answer = () => DOWN;
    c.answer = () => DOWN;
    await failOne(); // B alone fails: until 2 000
    await failOne(); // C alone fails: until 2 000
    errors.length = 0;
    await rejection(blockNumber());
    // B answered last; then C (2 000) before A (3 000), against the configured order.
    expect(errors.map(([, url]) => url)).toEqual([b.label, c.label, a.label]);
  });

  it("an endpoint whose demotion ends this instant is tried once per round, not twice", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    const { blockNumber, setClock } = setup([a, b], { maxDemoteMs: 1_000 });
    await rejection(blockNumber());
    setClock(1_000);
    await rejection(blockNumber());
    expect(served(a, b)).toEqual([2, 2]);
  });

  it("a demoted endpoint that answers takes over until the primary is healthy again", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    const { blockNumber, setClock } = setup([a, b]);
    await rejection(blockNumber()); // both demoted
    b.answer = () => UP;
    setClock(500);
    // A was the last healthy one (the initial state), so it goes first; B answers.
    expect(await blockNumber()).toBe("0x1");
    expect(served(a, b)).toEqual([2, 2]);
    // B answered last: first among the demoted now.
    expect(await blockNumber()).toBe("0x1");
    expect(served(a, b)).toEqual([2, 3]);
  });
});

describe("failoverTransport: when every endpoint fails", () => {
  it("bounded rounds with full-jitter exponential backoff, then RpcUnavailableError naming each attempt", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    const { blockNumber, sleeps, failovers, requests } = setup([a, b], {
      retries: 3,
      baseBackoffMs: 100,
      maxBackoffMs: 250,
      random: () => 0.999,
    });
    const error = await rejection(blockNumber());
    expect(error).toBeInstanceOf(RpcUnavailableError);
    const unavailable = error as RpcUnavailableError;
    // (retries + 1) rounds × 2 endpoints: no more.
    expect(served(a, b)).toEqual([4, 4]);
    expect(requests).toHaveLength(8);
    // floor(random · min(max, base · 2^(round-1))): 100, 200, then the 250 cap.
    expect(sleeps).toEqual([99, 199, 249]);
    expect(unavailable.attempts.map((x) => [x.endpoint, x.round, x.kind])).toEqual(
      [0, 1, 2, 3].flatMap((round) => [
        [a.label, round, "transient"],
        [b.label, round, "transient"],
      ]),
    );
    expect(unavailable.shortMessage).toBe(
      `eth_blockNumber failed on all 2 RPC endpoint(s) after 4 round(s); last: ${b.label}: ${REASON_503}`,
    );
    expect(unavailable.cause).toBeInstanceOf(Error);
    expectRedacted(error);
    // Each move to another endpoint reported once, with the reason it moved.
    expect(failovers.map(([from, to]) => [from, to])).toEqual([
      [a.label, b.label],
      [b.label, a.label],
      [a.label, b.label],
      [b.label, a.label],
      [a.label, b.label],
      [b.label, a.label],
      [a.label, b.label],
    ]);
    expect(new Set(failovers.map(([, , reason]) => reason))).toEqual(new Set([REASON_503]));
  });

  it("one endpoint and retries 1: the same endpoint again after the backoff, which is no failover", async () => {
    const a = await scripted(() => DOWN);
    const { blockNumber, sleeps, failovers } = setup([a], { retries: 1 });
    expect(await rejection(blockNumber())).toBeInstanceOf(RpcUnavailableError);
    expect(served(a)).toEqual([2]);
    expect(sleeps).toEqual([50]);
    expect(failovers).toEqual([]);
  });

  it("one endpoint and retries 0: one attempt, no sleep, no failover event", async () => {
    const a = await scripted(() => DOWN);
    const { blockNumber, sleeps, failovers } = setup([a]);
    expect(await rejection(blockNumber())).toBeInstanceOf(RpcUnavailableError);
    expect(served(a)).toEqual([1]);
    expect(sleeps).toEqual([]);
    expect(failovers).toEqual([]);
  });

  it("without injected clock, sleep and randomness: real backoffs, and a demotion that holds", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    // Backoffs of at most 2 ms and 4 ms, slept for real.
    const transport = failoverTransport([a.url, b.url], { timeoutMs: 30_000, retries: 2, baseBackoffMs: 2, maxBackoffMs: 4 })({});
    const read = () => transport.request({ method: "eth_blockNumber" } as never) as Promise<unknown>;
    expect(await rejection(read())).toBeInstanceOf(RpcUnavailableError);
    expect(served(a, b)).toEqual([3, 3]);
    // Default demotion: 5 s at least, far longer than the next read takes.
    b.answer = () => UP;
    expect(await read()).toBe("0x1");
    expect(transport.value!.endpoints().map((e) => e.demoted)).toEqual([true, false]);
    expect(await read()).toBe("0x1");
    expect(served(a, b)).toEqual([4, 5]);
  });

  it("an observer that throws does not change the outcome", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted();
    const boom = () => {
      throw new Error("observer bug");
    };
    const { blockNumber } = setup([a, b], { observer: { onRequest: boom, onError: boom, onFailover: boom } });
    expect(await blockNumber()).toBe("0x1");
    expect(served(a, b)).toEqual([1, 1]);
  });

  it("an aborted request stops: no other endpoint, no further round", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    // Aborted while waiting out the backoff: the next round never starts.
    const { request, requests } = setup([a, b], {
      retries: 2,
      sleep: async () => controller.abort(reason),
    });
    expect(await rejection(request("eth_blockNumber", [], controller.signal))).toBe(reason);
    expect(served(a, b)).toEqual([1, 1]);
    expect(requests).toHaveLength(2); // no attempt is even started after the abort

    // Aborted while A's attempt is in flight: B is never asked.
    a.answer = () => "hold";
    const second = new AbortController();
    const { request: request2 } = setup([a, b], { retries: 2 });
    const pending = rejection(request2("eth_blockNumber", [], second.signal));
    await until("A holding the request", () => a.received.length === 2);
    second.abort(reason);
    expect(await pending).toBe(reason);
    expect(served(a, b)).toEqual([2, 1]);

    // Aborted from A's error report, after A answered 503: neither B nor a second round.
    a.answer = () => DOWN;
    const third = new AbortController();
    const { request: request3 } = setup([a, b], { retries: 2, observer: { onError: () => third.abort(reason) } });
    expect(await rejection(request3("eth_blockNumber", [], third.signal))).toBe(reason);
    expect(served(a, b)).toEqual([3, 1]);

    // Aborted from the failover report, before B is asked: B never sees it.
    const fourth = new AbortController();
    const { request: request4 } = setup([a, b], { retries: 2, observer: { onFailover: () => fourth.abort(reason) } });
    expect(await rejection(request4("eth_blockNumber", [], fourth.signal))).toBe(reason);
    expect(served(a, b)).toEqual([4, 1]);
  });
});

describe("failoverTransport: eth_sendRawTransaction", () => {
  const hash = keccak256(RAW);
  const known: Answer = { error: { code: -32000, message: "already known" } };
  const nonceTooLow: Answer = { error: { code: -32000, message: "nonce too low" } };
  const underpriced: Answer = { error: { code: -32000, message: "replacement transaction underpriced" } };
  const reverted: Answer = { error: { code: 3, message: "execution reverted", data: "0x" } };
  const funds: Answer = { error: { code: -32000, message: "insufficient funds for gas * price + value" } };

  it("the same bytes go to every endpoint, demoted ones too; the node's hash comes back", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted((m) => (m === "eth_sendRawTransaction" ? { result: hash } : UP));
    const c = await scripted((m) => (m === "eth_sendRawTransaction" ? { result: hash } : UP));
    const { request, blockNumber } = setup([a, b, c]);
    await blockNumber(); // A demoted
    expect(await sendRaw(request)).toBe(hash);
    await until("all three broadcasts", () => served(a, b, c).join() === "2,2,1");
    expect([a.received[1], b.received[1], c.received[0]]).toEqual(Array(3).fill("eth_sendRawTransaction"));
  });

  it("the first acceptance settles it, without waiting for an endpoint that has not answered", async () => {
    const a = await scripted(() => "hold");
    const b = await scripted(() => ({ result: hash }));
    // A time-out past the test's own: a transport that waited for A would never return.
    const { request } = setup([a, b], { timeoutMs: 600_000 });
    expect(await sendRaw(request)).toBe(hash);
    expect(served(a, b)).toEqual([1, 1]);
    a.release();
  });

  it.each<[string, Answer]>([
    ["'already known'", known],
    ["'nonce too low' (mined, or the nonce taken: the receipt will tell)", nonceTooLow],
  ])("%s from one endpoint, the others down: the hash of the bytes, no retry", async (_, answer) => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => answer);
    const c = await scripted(() => DOWN);
    const { request, sleeps } = setup([a, b, c], { retries: 2 });
    expect(await sendRaw(request)).toBe(hash);
    await until("all three broadcasts", () => served(a, b, c).join() === "1,1,1");
    expect(sleeps).toEqual([]);
  });

  it("'already known' settles it even while another endpoint has not answered", async () => {
    const a = await scripted(() => "hold");
    const b = await scripted(() => known);
    const { request } = setup([a, b], { timeoutMs: 600_000 });
    expect(await sendRaw(request)).toBe(hash);
    a.release();
  });

  it("refusals: underpriced before revert before permanent, whatever the endpoint order; never retried", async () => {
    const a = await scripted(() => funds);
    const b = await scripted(() => reverted);
    const c = await scripted(() => underpriced);
    const { request, sleeps } = setup([a, b, c], { retries: 2 });
    const error = await rejection(sendRaw(request));
    expect(classifyRpcError(error)).toMatchObject({ kind: "underpriced" });
    expectRedacted(error);
    c.answer = () => DOWN;
    expect(classifyRpcError(await rejection(sendRaw(request))).kind).toBe("revert");
    b.answer = () => DOWN;
    const permanent = await rejection(sendRaw(request));
    expect(classifyRpcError(permanent)).toEqual({ kind: "permanent", message: expect.stringContaining("insufficient funds") });
    expect(served(a, b, c)).toEqual([3, 3, 3]);
    expect(sleeps).toEqual([]);
  });

  it("every endpoint failing transiently: the same bytes every round, then RpcUnavailableError", async () => {
    const a = await scripted(() => DOWN);
    const b = await scripted(() => DOWN);
    const { request, sleeps } = setup([a, b], { retries: 2, baseBackoffMs: 40, maxBackoffMs: 1_000 });
    const error = (await rejection(sendRaw(request))) as RpcUnavailableError;
    expect(error).toBeInstanceOf(RpcUnavailableError);
    expect(served(a, b)).toEqual([3, 3]);
    expect(sleeps).toEqual([20, 40]);
    expect(error.attempts).toHaveLength(6);
    expect(new Set(error.attempts.map((x) => x.endpoint))).toEqual(new Set([a.label, b.label]));
    expect(error.attempts.map((x) => x.round)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(error.shortMessage).toMatch(/^eth_sendRawTransaction failed on all 2 RPC endpoint\(s\) after 3 round\(s\); last: http:\/\/127\.0\.0\.1:\d+: HTTP request failed \(HTTP 503\): "unavailable"$/);
    expect(error.cause).toBeInstanceOf(Error);
    expectRedacted(error);
  });

  it("a broadcast aborted during the backoff does not broadcast again", async () => {
    const a = await scripted(() => DOWN);
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const { request, requests } = setup([a], { retries: 2, sleep: async () => controller.abort(reason) });
    expect(await rejection(sendRaw(request, controller.signal))).toBe(reason);
    expect(served(a)).toEqual([1]);
    expect(requests).toHaveLength(1);
  });

  it("a read whose first parameter is hex (an address) is not a broadcast: one endpoint", async () => {
    const a = await scripted(() => ({ result: "0x5" }));
    const b = await scripted(() => ({ result: "0x6" }));
    const { request } = setup([a, b]);
    expect(await request("eth_getTransactionCount", [SENDER.address, "pending"])).toBe("0x5");
    expect(await request("eth_call", [RAW, "latest"])).toBe("0x5");
    expect(served(a, b)).toEqual([2, 0]);
  });

  it("params that are not signed bytes are an ordinary read: one endpoint, its refusal", async () => {
    const a = await scripted(() => INVALID);
    const b = await scripted(() => INVALID);
    const { request } = setup([a, b]);
    for (const params of [["not hex"], [], [42]]) {
      expect(classifyRpcError(await rejection(request("eth_sendRawTransaction", params))).kind).toBe("permanent");
    }
    expect(served(a, b)).toEqual([3, 0]);
  });
});

// ── Keystore ─────────────────────────────────────────────────────────────────────────────────────────────────

// Hardhat's public test account #1: never funded outside a local chain.
const KEY: Hex = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const PASSWORD = "correct horse battery staple";
const SMALL = encryptKeystore(KEY, PASSWORD, { n: 16 });
const SMALL_PBKDF2 = encryptKeystore(KEY, PASSWORD, { kdf: "pbkdf2", n: 10 });

function refusal(json: string, password = PASSWORD): string {
  try {
    decryptKeystore(json, password);
  } catch (error) {
    expect(error).toBeInstanceOf(KeystoreError);
    expect((error as Error).name).toBe("KeystoreError");
    const { message } = error as Error;
    expect(message).not.toContain(PASSWORD);
    expect(message.toLowerCase()).not.toContain(KEY.slice(2, 18));
    return message;
  }
  throw new Error("expected a KeystoreError, but the keystore decrypted");
}

function edit(json: string, change: (keystore: Record<string, any>) => void): string {
  const copy = JSON.parse(json) as Record<string, any>;
  change(copy);
  return JSON.stringify(copy);
}

describe("encryptKeystore / decryptKeystore at small work factors", () => {
  it("round-trips with scrypt n = 2 and 16, and pbkdf2 c = 1 and 10, writing those parameters", () => {
    for (const n of [2, 16]) {
      const json = encryptKeystore(KEY, PASSWORD, { n });
      expect((JSON.parse(json) as KeystoreV3).crypto).toMatchObject({ kdf: "scrypt", kdfparams: { n, r: 8, p: 1, dklen: 32 } });
      expect(decryptKeystore(json, PASSWORD)).toBe(KEY);
    }
    for (const c of [1, 10]) {
      const json = encryptKeystore(KEY, PASSWORD, { kdf: "pbkdf2", n: c });
      expect((JSON.parse(json) as KeystoreV3).crypto).toMatchObject({ kdf: "pbkdf2", kdfparams: { c, prf: "hmac-sha256", dklen: 32 } });
      expect(decryptKeystore(json, PASSWORD)).toBe(KEY);
    }
  });

  it("the address field is the key's, lowercase, no 0x; the key never appears in the file", () => {
    const keystore = JSON.parse(SMALL) as KeystoreV3;
    expect(keystore.address).toBe(privateKeyToAccount(KEY).address.toLowerCase().slice(2));
    expect(SMALL).not.toContain(KEY.slice(2));
  });

  it("the keys at the edges of the curve order round-trip: 1 and n - 1", () => {
    for (const key of [
      `0x${"0".repeat(63)}1`,
      "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140",
    ] as Hex[]) {
      expect(decryptKeystore(encryptKeystore(key, PASSWORD, { n: 2 }), PASSWORD)).toBe(key);
    }
  });

  it("refuses the curve order itself and any key that is not 0x + 64 hex digits (a trailing newline included)", () => {
    const keys = ["0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", `${KEY}00`, ` ${KEY}`, `${KEY}\n`, `${KEY.slice(0, 65)}g`];
    for (const key of keys) {
      expect(() => encryptKeystore(key as Hex, PASSWORD, { n: 2 })).toThrow(
        new KeystoreError("not a secp256k1 private key: 0x followed by 64 hex digits, below the curve order (value not shown)"),
      );
    }
  });

  it.each<[string, { kdf?: "scrypt" | "pbkdf2"; n?: number }, string]>([
    ["scrypt n 1", { n: 1 }, "scrypt n must be a power of 2, at least 2 (got 1)"],
    ["scrypt n 0", { n: 0 }, "scrypt n must be a power of 2, at least 2 (got 0)"],
    ["scrypt n 2^31", { n: 2 ** 31 }, `scrypt n must be a power of 2, at least 2 (got ${2 ** 31})`],
    ["scrypt n 2.5", { n: 2.5 }, "scrypt n must be a power of 2, at least 2 (got 2.5)"],
    ["scrypt n 6", { n: 6 }, "scrypt n must be a power of 2, at least 2 (got 6)"],
    ["pbkdf2 c 0", { kdf: "pbkdf2", n: 0 }, "pbkdf2 iteration count must be a positive integer (got 0)"],
    ["pbkdf2 c 1.5", { kdf: "pbkdf2", n: 1.5 }, "pbkdf2 iteration count must be a positive integer (got 1.5)"],
    ["pbkdf2 c 2^31", { kdf: "pbkdf2", n: 2 ** 31 }, `pbkdf2 iteration count must be a positive integer (got ${2 ** 31})`],
  ])("refuses a work factor out of range: %s", (_, options, message) => {
    expect(() => encryptKeystore(KEY, PASSWORD, options)).toThrow(new KeystoreError(message));
  });

  it("refuses a keystore whose scrypt needs more than 2 GiB (128 · r · (n + p + 2) bytes), before any work", () => {
    const tooMuch = "crypto.kdfparams.n: scrypt parameters need more than 2 GiB of memory (n · r too large)";
    // 128 · 8 · (2^21 + 3): just over 2 GiB.
    expect(refusal(edit(SMALL, (k) => Object.assign(k.crypto.kdfparams, { n: 2 ** 21 })))).toBe(tooMuch);
    // p counts too: 128 · 16 · (2^19 + 2) is 1 GiB, but with p = 2^19 + 8 it is over 2 GiB.
    expect(refusal(edit(SMALL, (k) => Object.assign(k.crypto.kdfparams, { n: 2 ** 19, r: 16, p: 2 ** 19 + 8 })))).toBe(tooMuch);
  });
});

describe("decryptKeystore: each refusal, with its exact message", () => {
  it("a wrong password, or a changed MAC, salt or work factor: the MAC does not match", () => {
    const mac = "the keystore's MAC does not match: wrong password or corrupted file";
    expect(refusal(SMALL, "correct horse battery stapler")).toBe(mac);
    expect(refusal(SMALL, "")).toBe(mac);
    expect(refusal(SMALL_PBKDF2, "wrong")).toBe(mac);
    expect(refusal(edit(SMALL, (k) => (k.crypto.mac = `${"0".repeat(64)}`)))).toBe(mac);
    expect(refusal(edit(SMALL, (k) => (k.crypto.kdfparams.n = 32)))).toBe(mac);
    expect(refusal(edit(SMALL, (k) => (k.crypto.kdfparams.salt = "00".repeat(32))))).toBe(mac);
    expect(refusal(edit(SMALL_PBKDF2, (k) => (k.crypto.kdfparams.c = 11)))).toBe(mac);
    // The MAC covers the ciphertext too.
    expect(refusal(edit(SMALL, (k) => (k.crypto.ciphertext = `ff${k.crypto.ciphertext.slice(2)}`)))).toBe(mac);
  });

  it.each<[string, (k: Record<string, any>) => void, string]>([
    ["version 2", (k) => (k.version = 2), "not a version 3 keystore (version: 2)"],
    ["version null", (k) => (k.version = null), "not a version 3 keystore (version: not a number)"],
    ["version a long string", (k) => (k.version = "v".repeat(50)), `not a version 3 keystore (version: "${"v".repeat(37)}...")`],
    ["version of 40 characters, shown whole", (k) => (k.version = "w".repeat(40)), `not a version 3 keystore (version: "${"w".repeat(40)}")`],
    ["crypto null", (k) => (k.crypto = null), "crypto must be an object"],
    ["crypto an array", (k) => (k.crypto = []), "crypto must be an object"],
    ["cipher missing", (k) => delete k.crypto.cipher, "crypto.cipher is missing"],
    ["cipher a number", (k) => (k.crypto.cipher = 128), "crypto.cipher must be a string"],
    ["kdf a number", (k) => (k.crypto.kdf = 1), "crypto.kdf must be a string"],
    ["kdf named, cut short", (k) => (k.crypto.kdf = "x".repeat(41)), `unsupported kdf "${"x".repeat(37)}..." (only scrypt and pbkdf2 are)`],
    ["cipherparams an array", (k) => (k.crypto.cipherparams = []), "crypto.cipherparams must be an object"],
    ["iv missing", (k) => delete k.crypto.cipherparams.iv, "crypto.cipherparams.iv is missing"],
    ["iv empty", (k) => (k.crypto.cipherparams.iv = ""), "crypto.cipherparams.iv must be 16 bytes of hex (32 digits)"],
    ["iv 0x only", (k) => (k.crypto.cipherparams.iv = "0x"), "crypto.cipherparams.iv must be 16 bytes of hex (32 digits)"],
    ["ciphertext empty", (k) => (k.crypto.ciphertext = ""), "crypto.ciphertext must be an encrypted 32-byte key (at most 64 hex digits)"],
    ["ciphertext with a non-hex digit", (k) => (k.crypto.ciphertext = `${k.crypto.ciphertext.slice(0, 62)}0g`), "crypto.ciphertext must be hex"],
    ["ciphertext hex then junk", (k) => (k.crypto.ciphertext += " "), "crypto.ciphertext must be hex"],
    ["ciphertext junk then hex", (k) => (k.crypto.ciphertext = ` ${k.crypto.ciphertext}`), "crypto.ciphertext must be hex"],
    ["mac missing", (k) => delete k.crypto.mac, "crypto.mac is missing"],
    ["mac with 0x inside it", (k) => (k.crypto.mac = `${k.crypto.mac.slice(0, 2)}0x${k.crypto.mac.slice(2)}`), "crypto.mac must be 32 bytes of hex (64 digits)"],
    ["mac one byte long", (k) => (k.crypto.mac += "00"), "crypto.mac must be 32 bytes of hex (64 digits)"],
    ["kdfparams null", (k) => (k.crypto.kdfparams = null), "crypto.kdfparams must be an object"],
    ["salt missing", (k) => delete k.crypto.kdfparams.salt, "crypto.kdfparams.salt is missing"],
    ["dklen missing", (k) => delete k.crypto.kdfparams.dklen, "crypto.kdfparams.dklen is missing"],
    ["dklen 1025", (k) => (k.crypto.kdfparams.dklen = 1025), "crypto.kdfparams.dklen must be an integer from 32 to 1024"],
    ["dklen 32.5", (k) => (k.crypto.kdfparams.dklen = 32.5), "crypto.kdfparams.dklen must be an integer from 32 to 1024"],
    ["n missing", (k) => delete k.crypto.kdfparams.n, "crypto.kdfparams.n is missing"],
    ["n 1", (k) => (k.crypto.kdfparams.n = 1), "crypto.kdfparams.n must be an integer from 2 to 1073741824"],
    ["n 2^31", (k) => (k.crypto.kdfparams.n = 2 ** 31), "crypto.kdfparams.n must be an integer from 2 to 1073741824"],
    ["n 24", (k) => (k.crypto.kdfparams.n = 24), "crypto.kdfparams.n must be a power of 2"],
    ["r 0", (k) => (k.crypto.kdfparams.r = 0), "crypto.kdfparams.r must be an integer from 1 to 1048576"],
    ["r 2^20 + 1", (k) => (k.crypto.kdfparams.r = 2 ** 20 + 1), "crypto.kdfparams.r must be an integer from 1 to 1048576"],
    ["p missing", (k) => delete k.crypto.kdfparams.p, "crypto.kdfparams.p is missing"],
    ["p 2^20 + 1", (k) => (k.crypto.kdfparams.p = 2 ** 20 + 1), "crypto.kdfparams.p must be an integer from 1 to 1048576"],
    ["address null", (k) => (k.address = null), "address must be a string"],
    ["address of another key", (k) => (k.address = `0x${"ab".repeat(20)}`), "the keystore's address field does not match its key: corrupted or edited file"],
    ["address with 0x inside it", (k) => (k.address = `${k.address.slice(0, 2)}0x${k.address.slice(2)}`), "the keystore's address field does not match its key: corrupted or edited file"],
  ])("scrypt keystore with %s", (_, change, message) => {
    expect(refusal(edit(SMALL, change))).toBe(message);
  });

  it.each<[string, (k: Record<string, any>) => void, string]>([
    ["prf missing", (k) => delete k.crypto.kdfparams.prf, "crypto.kdfparams.prf is missing"],
    ["prf a number", (k) => (k.crypto.kdfparams.prf = 256), "crypto.kdfparams.prf must be a string"],
    ["c 0", (k) => (k.crypto.kdfparams.c = 0), "crypto.kdfparams.c must be an integer from 1 to 2147483647"],
    ["c 2^31", (k) => (k.crypto.kdfparams.c = 2 ** 31), "crypto.kdfparams.c must be an integer from 1 to 2147483647"],
    ["c a string", (k) => (k.crypto.kdfparams.c = "10"), "crypto.kdfparams.c must be an integer from 1 to 2147483647"],
    ["dklen 31", (k) => (k.crypto.kdfparams.dklen = 31), "crypto.kdfparams.dklen must be an integer from 32 to 1024"],
  ])("pbkdf2 keystore with %s", (_, change, message) => {
    expect(refusal(edit(SMALL_PBKDF2, change))).toBe(message);
  });

  it("accepts what the format allows: a missing address, an uppercase 0X and hex digits, a longer dklen", () => {
    expect(decryptKeystore(edit(SMALL, (k) => delete k.address), PASSWORD)).toBe(KEY);
    const upper = edit(SMALL, (k) => {
      k.crypto.mac = `0X${k.crypto.mac.toUpperCase()}`;
      k.crypto.cipherparams.iv = k.crypto.cipherparams.iv.toUpperCase();
      k.address = `0x${k.address.toUpperCase()}`;
    });
    expect(decryptKeystore(upper, PASSWORD)).toBe(KEY);
    // "Crypto" is used only when "crypto" is absent; with both, "crypto" decides.
    const both = edit(SMALL, (k) => (k.Crypto = { cipher: "none" }));
    expect(decryptKeystore(both, PASSWORD)).toBe(KEY);
    const capital = edit(SMALL, (k) => {
      k.Crypto = k.crypto;
      delete k.crypto;
    });
    expect(decryptKeystore(capital, PASSWORD)).toBe(KEY);
    expect(refusal(edit(capital, (k) => delete k.Crypto.mac))).toBe("Crypto.mac is missing");
    expect(refusal(edit(capital, (k) => delete k.Crypto))).toBe("crypto is missing");
  });

  it("JSON that is not an object: a number, a string", () => {
    expect(refusal("5")).toBe("the keystore is not a JSON object");
    expect(refusal('"{}"')).toBe("the keystore is not a JSON object");
  });

  it.each<[string, Record<string, number>]>([
    ["n = 2^30, r = 1 (the largest n)", { n: 2 ** 30, r: 1 }],
    ["r = 2^20 (the largest r), n = 16", { n: 16, r: 2 ** 20 }],
    ["p = 2^20 (the largest p), n = 16, r = 16", { n: 16, r: 16, p: 2 ** 20 }],
  ])("parameters at their upper bounds pass the field checks and meet the memory bound: %s", (_, params) => {
    expect(refusal(edit(SMALL, (k) => Object.assign(k.crypto.kdfparams, params)))).toBe(
      "crypto.kdfparams.n: scrypt parameters need more than 2 GiB of memory (n · r too large)",
    );
  });

  it("dklen at its bound, 1024: only the first 32 bytes of the derived key are used", () => {
    const json = edit(SMALL_PBKDF2, (k) => (k.crypto.kdfparams.dklen = 1024));
    expect(decryptKeystore(withPlaintext(json, KEY), PASSWORD)).toBe(KEY);
  });

  it("scrypt with n ≥ 2^(16·r), which OpenSSL refuses, still decrypts (n = 2^16, r = 1)", () => {
    const json = edit(SMALL, (k) => Object.assign(k.crypto.kdfparams, { n: 2 ** 16, r: 1, p: 1 }));
    expect(decryptKeystore(withPlaintext(json, KEY), PASSWORD)).toBe(KEY);
  });

  it("encrypting at scrypt n = 2^30 (r = 8) is refused by the memory bound, not run", () => {
    expect(() => encryptKeystore(KEY, PASSWORD, { n: 2 ** 30 })).toThrow(
      new KeystoreError("n: scrypt parameters need more than 2 GiB of memory (n · r too large)"),
    );
  });

  it("a key that decrypts to zero or past the curve order is refused after the MAC, not returned", () => {
    // A ciphertext built (with the file's own derived key) to decrypt to 0, then to n: the MAC matches.
    for (const bad of [`0x${"0".repeat(64)}`, "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"] as Hex[]) {
      const json = withPlaintext(SMALL_PBKDF2, bad);
      expect(refusal(json)).toBe("the keystore decrypts to a value that is not a valid secp256k1 private key");
    }
    // n - 1 is a key; without the address field it is returned.
    const top = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140" as Hex;
    expect(decryptKeystore(edit(withPlaintext(SMALL_PBKDF2, top), (k) => delete k.address), PASSWORD)).toBe(top);
  });
});

/**
 * `json` (a keystore under PASSWORD, with whatever kdf parameters it now has) re-encrypted to hold `plaintext`, with
 * a MAC that matches. scrypt runs on @noble/hashes, as the keeper's does for parameters OpenSSL refuses.
 */
function withPlaintext(json: string, plaintext: Hex): string {
  return edit(json, (k) => {
    const params = k.crypto.kdfparams as { c: number; n: number; r: number; p: number; salt: string; dklen: number };
    const salt = Buffer.from(params.salt, "hex");
    const derived =
      k.crypto.kdf === "pbkdf2"
        ? pbkdf2Sync(PASSWORD, salt, params.c, params.dklen, "sha256")
        : Buffer.from(scrypt(PASSWORD, salt, { N: params.n, r: params.r, p: params.p, dkLen: params.dklen }));
    const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), Buffer.from(k.crypto.cipherparams.iv, "hex"));
    const ciphertext = Buffer.concat([cipher.update(Buffer.from(plaintext.slice(2), "hex")), cipher.final()]);
    k.crypto.ciphertext = ciphertext.toString("hex");
    k.crypto.mac = keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])).slice(2);
  });
}
