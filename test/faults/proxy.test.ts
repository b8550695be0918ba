/**
 * The fault proxy itself: every fault kind, seen by a bare fetch JSON-RPC client, against a Hardhat node served
 * on loopback. The failover tests rely on these behaviours.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultPlan, type FaultProxy } from "../../harness/faultProxy.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";
import { until as untilShared } from "../../harness/until.ts";

let server: LocalNode;
let nodeUrl: string;
let proxy: FaultProxy;

beforeAll(async () => {
  server = await startLocalNode();
  nodeUrl = server.url;
  proxy = await startFaultProxy({ target: nodeUrl });
});

afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

afterEach(() => {
  proxy.setFaults({});
  proxy.resetStats();
});

/** One JSON-RPC call (or a batch); resolves with the raw HTTP status and body text. */
async function post(body: unknown, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  const response = await fetch(proxy.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, text: await response.text() };
}

const call = (method: string, params: unknown[] = [], id = 1) => ({ jsonrpc: "2.0", id, method, params });

const until = (what: string, done: () => boolean) => untilShared(what, done, { intervalMs: 10 });

/** The node's head, asked directly (not through the proxy): shows whether a request reached it. */
async function nodeBlockNumber(): Promise<number> {
  const response = await fetch(nodeUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(call("eth_blockNumber")),
    signal: AbortSignal.timeout(30_000),
  });
  return Number(((await response.json()) as { result: string }).result);
}

/** What a client sees for one request, as a word. */
async function outcome(method = "eth_chainId"): Promise<string> {
  try {
    const { status, text } = await post(call(method));
    if (status !== 200) return `http${status}`;
    try {
      JSON.parse(text);
      return "ok";
    } catch {
      return "malformed";
    }
  } catch {
    return "dropped";
  }
}

describe("fault proxy", () => {
  it("forwards single and batch JSON-RPC unchanged when no fault is planned", async () => {
    const single = await post(call("eth_chainId"));
    expect(single.status).toBe(200);
    expect(JSON.parse(single.text)).toEqual({ jsonrpc: "2.0", id: 1, result: "0x7a69" });

    const batch = await post([call("eth_chainId", [], 1), call("eth_blockNumber", [], 2)]);
    const answers = JSON.parse(batch.text) as { id: number; result: string }[];
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2]);
    expect(proxy.stats()).toEqual({ requests: 3, methods: { eth_chainId: 2, eth_blockNumber: 1 }, injected: {} });
  });

  it("drop closes the socket without an answer and never reaches the node", async () => {
    proxy.setFaults({ drop: 1, seed: 1 });
    const blockBefore = await nodeBlockNumber();
    await expect(post(call("evm_mine"))).rejects.toThrow(/fetch failed/);
    expect(proxy.stats().injected).toEqual({ drop: 1 });
    // The dropped evm_mine never reached the node: no block was mined.
    expect(await nodeBlockNumber()).toBe(blockBefore);
  });

  it("http5xx answers 502 with a body that is not JSON-RPC", async () => {
    proxy.setFaults({ http5xx: 1, seed: 1 });
    const blockBefore = await nodeBlockNumber();
    const { status, text } = await post(call("evm_mine"));
    expect(status).toBe(502);
    expect(text).toBe("fault proxy: injected 502 Bad Gateway");
    expect(proxy.stats().injected).toEqual({ http5xx: 1 });
    expect(await nodeBlockNumber()).toBe(blockBefore);
  });

  it("malformed answers 200 with truncated JSON or an HTML page, never valid JSON", async () => {
    proxy.setFaults({ malformed: 1, seed: 7 });
    const shapes = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const { status, text } = await post(call("eth_chainId"));
      expect(status).toBe(200);
      expect(() => JSON.parse(text)).toThrow();
      shapes.add(text.startsWith("<html") ? "html" : "truncated");
    }
    expect(shapes).toEqual(new Set(["html", "truncated"]));
    // The node did act on it: an evm_mine answered with garbage still mined its block.
    const blockBefore = await nodeBlockNumber();
    expect((await post(call("evm_mine"))).status).toBe(200);
    expect(await nodeBlockNumber()).toBe(blockBefore + 1);
    expect(proxy.stats().injected).toEqual({ malformed: 9 });
  });

  it("delay holds the answer: a client that gives up first sees a time-out, a patient one the real answer", async () => {
    proxy.setFaults({ delay: { p: 1, ms: 400 }, seed: 1 });
    await expect(post(call("eth_chainId"), 50)).rejects.toThrow(/timeout|aborted/i);
    const started = performance.now();
    const { status, text } = await post(call("eth_chainId"));
    // A lower bound only (the proxy held it at least `ms`): how much longer a busy machine takes is not asserted.
    expect(performance.now() - started).toBeGreaterThanOrEqual(399);
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ jsonrpc: "2.0", id: 1, result: "0x7a69" });
    expect(proxy.stats().injected).toEqual({ delay: 2 });
  });

  it("methods restricts the faults to the methods named", async () => {
    proxy.setFaults({ http5xx: 1, methods: ["eth_blockNumber"], seed: 1 });
    expect(await outcome("eth_chainId")).toBe("ok");
    expect(await outcome("eth_blockNumber")).toBe("http502");
    expect(proxy.stats().injected).toEqual({ http5xx: 1 });
  });

  it("a seed gives the same fault sequence every time, and is returned", async () => {
    const plan: FaultPlan = { drop: 0.25, http5xx: 0.25, malformed: 0.25, seed: 0xdecaf };
    const run = async () => {
      proxy.setFaults(plan);
      const seen: string[] = [];
      for (let i = 0; i < 16; i++) seen.push(await outcome());
      return seen;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    expect(new Set(first)).toEqual(new Set(["ok", "dropped", "http502", "malformed"]));
    expect(proxy.seed()).toBe(0xdecaf);
  });

  it("a plan without a seed gets a random one, printed and returned", async () => {
    const lines: string[] = [];
    const own = await startFaultProxy({ target: nodeUrl, faults: { drop: 0.5 }, log: (line) => lines.push(line) });
    try {
      expect(lines).toEqual([`fault proxy ${own.url}: seed ${own.seed()}`]);
    } finally {
      await own.close();
    }
  });

  it("blackhole accepts and never answers (the client times out) until lifted", async () => {
    proxy.setFaults({ blackhole: true });
    await expect(post(call("eth_chainId"), 200)).rejects.toThrow(/timeout|aborted/i);
    expect(proxy.stats().injected).toEqual({ blackhole: 1 });
    proxy.setFaults({});
    expect(await outcome()).toBe("ok");
  });

  it("down answers 503 to everything", async () => {
    proxy.setFaults({ down: true });
    const blockBefore = await nodeBlockNumber();
    expect(await outcome("eth_chainId")).toBe("http503");
    expect(await outcome("evm_mine")).toBe("http503");
    expect(await nodeBlockNumber()).toBe(blockBefore);
    expect(proxy.stats().injected).toEqual({ down: 2 });
  });

  it("refuses a body over the limit with 413", async () => {
    const own = await startFaultProxy({ target: nodeUrl, maxRequestBytes: 256 });
    try {
      const response = await fetch(own.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(call("eth_call", [{ data: `0x${"00".repeat(512)}` }, "latest"])),
        signal: AbortSignal.timeout(5_000),
      });
      expect(response.status).toBe(413);
    } finally {
      await own.close();
    }
  });

  it("close() ends held requests at once and stops listening", async () => {
    const own = await startFaultProxy({ target: nodeUrl, faults: { blackhole: true } });
    const held = fetch(own.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(call("eth_chainId")),
      signal: AbortSignal.timeout(10_000),
    });
    // Wait until the proxy holds it, so close() has a socket to end.
    await until("the proxy to hold the request", () => own.stats().injected.blackhole === 1);
    expect(own.stats()).toEqual({ requests: 1, methods: { eth_chainId: 1 }, injected: { blackhole: 1 } });
    await own.close();
    await expect(held).rejects.toThrow(/fetch failed/);
    await expect(fetch(own.url, { method: "POST", body: "{}", signal: AbortSignal.timeout(5_000) })).rejects.toThrow(/fetch failed/);
  });

  it("refuses a target that is not on loopback", async () => {
    await expect(startFaultProxy({ target: "http://10.0.0.1:8545" })).rejects.toThrow(/loopback/);
  });
});
