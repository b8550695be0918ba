/**
 * The failover transport against real faults: two fault proxies (A, B) in front of one Hardhat node, a viem public
 * client over `failoverTransport([A, B])`, requests counted at each proxy. The URLs carry credentials and an API
 * key in the path (the proxy ignores both) so every error can be checked for leaks. Backoff sleeps and the
 * demotion clock are injected: no test waits on them.
 */
import hre from "hardhat";
import {
  BaseError,
  ContractFunctionRevertedError,
  HttpRequestError,
  InternalRpcError,
  InvalidParamsRpcError,
  RpcRequestError,
  TimeoutError,
  createPublicClient,
  encodeFunctionData,
  keccak256,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { classifyRpcError, redactRpcError, RpcUnavailableError, type RpcErrorInfo } from "../../keeper/chain/errors.ts";
import { describeUrl, failoverTransport, type FailoverOptions } from "../../keeper/chain/failover.ts";
import { startFaultProxy, type FaultPlan, type FaultProxy } from "../../harness/faultProxy.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";
import { until as untilShared } from "../../harness/until.ts";

type Connection = Awaited<ReturnType<typeof hre.network.create>>;

// Hardhat's public test account #3 (the mnemonic every Hardhat and anvil node uses): never use it anywhere else.
const SENDER = privateKeyToAccount("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6");
const CHAIN_ID = 31337;
const SECRETS = ["secret", "user:", "/key"];

let server: LocalNode;
let connection: Connection;
let node: PublicClient;
let A: FaultProxy;
let B: FaultProxy;
let token: Address;
let tokenAbi: Awaited<ReturnType<typeof hre.artifacts.readArtifact>>["abi"];

/** The proxy's URL as a provider would hand it out: user info and an API key in the path. */
const withSecrets = (proxy: FaultProxy) => `${proxy.url.replace("http://", "http://user:secret@")}/key`;
const calls = (proxy: FaultProxy, method: string) => proxy.stats().methods[method] ?? 0;

beforeAll(async () => {
  server = await startLocalNode();
  const nodeUrl = server.url;
  connection = await server.connect();
  node = (await connection.viem.getPublicClient()) as unknown as PublicClient;
  const [deployer] = await connection.viem.getWalletClients();
  const erc20 = await connection.viem.deployContract("MockERC20", ["X", "X", 6, deployer!.account.address]);
  token = erc20.address;
  tokenAbi = (await hre.artifacts.readArtifact("MockERC20")).abi;
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

/** A client over a fresh failover transport (fresh health state), with its observer's events and a fake clock. */
function setup(overrides: Partial<FailoverOptions> = {}) {
  const failovers: [string, string, string][] = [];
  const errors: [string, string, RpcErrorInfo][] = [];
  const sleeps: number[] = [];
  let clockMs = 0;
  const transport = failoverTransport([withSecrets(A), withSecrets(B)], {
    // Generous: a healthy answer slowed by a busy machine must never count as a time-out (a spurious failover).
    // Only the blackhole case waits on it, with its own shorter value.
    timeoutMs: 10_000,
    retries: 2,
    baseBackoffMs: 100,
    maxBackoffMs: 150,
    demoteMs: 1_000,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => clockMs,
    observer: {
      onFailover: (from, to, reason) => failovers.push([from, to, reason]),
      onError: (method, url, error) => errors.push([method, url, error]),
    },
    ...overrides,
  });
  const client = createPublicClient({ transport });
  const blockNumber = () => client.request({ method: "eth_blockNumber" });
  return { client, blockNumber, failovers, errors, sleeps, advance: (ms: number) => (clockMs += ms) };
}

/** Every message-like field of an error and its causes: none may hold the URL's secrets. */
function expectNoSecrets(error: unknown): void {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 16; depth++) {
    const record = current as Record<string, unknown>;
    const text = [record.message, record.shortMessage, record.details, record.stack, record.url, ...((record.metaMessages as unknown[]) ?? [])]
      .filter((v) => typeof v === "string")
      .join("\n");
    for (const secret of SECRETS) expect(text).not.toContain(secret);
    current = record.cause;
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function signTransfer(p: { nonce: number; valueWei?: bigint; maxFeePerGas?: bigint }): Promise<Hex> {
  return SENDER.signTransaction({
    chainId: CHAIN_ID,
    type: "eip1559",
    to: SENDER.address,
    value: p.valueWei ?? 1n,
    gas: 21_000n,
    nonce: p.nonce,
    maxFeePerGas: p.maxFeePerGas ?? 100_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });
}

const nonceOf = async () => node.getTransactionCount({ address: SENDER.address, blockTag: "pending" });

const until = (what: string, done: () => boolean) => untilShared(what, done, { intervalMs: 5 });

async function seen(proxy: FaultProxy, method: string, n: number): Promise<number> {
  await until(`${n} ${method} at ${proxy.url}`, () => calls(proxy, method) >= n);
  return calls(proxy, method);
}

describe("failoverTransport: reads", () => {
  it("reads go to the first URL while it is healthy", async () => {
    const { blockNumber } = setup();
    for (let i = 0; i < 3; i++) await blockNumber();
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([3, 0]);
  });

  const faults: [string, FaultPlan, RegExp][] = [
    ["drops the connection", { drop: 1, seed: 1 }, /fetch failed|other side closed/i],
    ["answers HTTP 502", { http5xx: 1, seed: 1 }, /HTTP 502/],
    ["answers malformed JSON", { malformed: 1, seed: 1 }, /JSON|Unexpected|Unterminated|HTTP request failed/i],
    ["never answers (time-out)", { blackhole: true }, /took too long|timed out/i],
  ];

  it.each(faults)("while A %s, reads go through B; A is demoted, then used again once healthy", async (_, plan, reason) => {
    const { blockNumber, client, failovers, advance } = setup(plan.blackhole ? { timeoutMs: 2_000 } : {});
    A.setFaults(plan);
    expect(await blockNumber()).toMatch(/^0x/);
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([1, 1]);
    expect(failovers).toHaveLength(1);
    expect(failovers[0]!.slice(0, 2)).toEqual([describeUrl(A.url), describeUrl(B.url)]);
    expect(failovers[0]![2]).toMatch(reason);
    for (const secret of SECRETS) expect(failovers[0]![2]).not.toContain(secret);

    // Demoted: not asked again while the demotion lasts.
    await blockNumber();
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([1, 2]);
    expect(client.transport.endpoints().map((e: { demoted: boolean }) => e.demoted)).toEqual([true, false]);

    // Healthy again and the demotion over: back to A.
    A.setFaults({});
    advance(1_001);
    await blockNumber();
    await blockNumber();
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([3, 2]);
    expect(client.transport.endpoints().map((e: { demoted: boolean }) => e.demoted)).toEqual([false, false]);
  });

  it("an endpoint that keeps failing is demoted twice as long each time", async () => {
    const { blockNumber, advance } = setup();
    A.setFaults({ down: true });
    await blockNumber(); // A fails (1st): demoted 1 s
    advance(1_001);
    await blockNumber(); // A probed, fails (2nd): demoted 2 s
    advance(1_001);
    await blockNumber(); // still demoted: B only
    expect(calls(A, "eth_blockNumber")).toBe(2);
    A.setFaults({});
    advance(1_000);
    await blockNumber();
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([3, 3]);
  });

  it("high-level actions work through failover (getBalance, readContract)", async () => {
    const { client } = setup();
    A.setFaults({ http5xx: 1, seed: 3 });
    expect(await client.getBalance({ address: SENDER.address })).toBe(await node.getBalance({ address: SENDER.address }));
    expect(await client.readContract({ address: token, abi: tokenAbi, functionName: "decimals" })).toBe(6);
    expect(calls(B, "eth_getBalance") + calls(B, "eth_call")).toBe(2);
  });

  it("a revert is returned at once: not retried, not failed over, and still decoded", async () => {
    const { client, failovers } = setup();
    const error = await rejection(
      client.readContract({
        address: token,
        abi: tokenAbi,
        functionName: "transferFrom",
        args: [SENDER.address, token, 5n],
        account: SENDER.address,
      }),
    );
    expect([calls(A, "eth_call"), calls(B, "eth_call")]).toEqual([1, 0]);
    expect(failovers).toEqual([]);
    expect(classifyRpcError(error).kind).toBe("revert");
    const revert = (error as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
    expect((revert as ContractFunctionRevertedError).data?.errorName).toBe("ERC20InsufficientAllowance");
    expectNoSecrets(error);

    // The same through a raw eth_call.
    const raw = await rejection(
      client.request({
        method: "eth_call",
        params: [
          {
            from: SENDER.address,
            to: token,
            data: encodeFunctionData({ abi: tokenAbi, functionName: "transferFrom", args: [SENDER.address, token, 5n] }),
          },
          "latest",
        ],
      }),
    );
    expect(classifyRpcError(raw).kind).toBe("revert");
    expect([calls(A, "eth_call"), calls(B, "eth_call")]).toEqual([2, 0]);
    expectNoSecrets(raw);
  });

  it("a permanent error (invalid params, unsupported method) is returned at once", async () => {
    const { client, failovers } = setup();
    const invalid = await rejection(client.request({ method: "eth_getBalance", params: ["0xzz" as Address, "latest"] }));
    expect(invalid).toBeInstanceOf(InvalidParamsRpcError);
    expect(classifyRpcError(invalid).kind).toBe("permanent");
    const unsupported = await rejection(client.request({ method: "eth_notAMethod" } as never));
    expect(classifyRpcError(unsupported).kind).toBe("permanent");
    expect([calls(A, "eth_getBalance"), calls(B, "eth_getBalance")]).toEqual([1, 0]);
    expect([calls(A, "eth_notAMethod"), calls(B, "eth_notAMethod")]).toEqual([1, 0]);
    expect(failovers).toEqual([]);
    expectNoSecrets(invalid);
    expectNoSecrets(unsupported);
  });

  it("with every URL down: bounded rounds with jittered backoff, then a clear RpcUnavailableError", async () => {
    const { blockNumber, sleeps, errors } = setup();
    A.setFaults({ down: true });
    B.setFaults({ drop: 1, seed: 9 });
    const error = await rejection(blockNumber());
    expect(error).toBeInstanceOf(RpcUnavailableError);
    const unavailable = error as RpcUnavailableError;
    expect(unavailable.shortMessage).toMatch(/^eth_blockNumber failed on all 2 RPC endpoint\(s\) after 3 round\(s\); last: /);
    expect(unavailable.attempts).toHaveLength(6);
    expect(unavailable.attempts.map((a) => a.endpoint)).toEqual(Array(3).fill([describeUrl(A.url), describeUrl(B.url)]).flat());
    // retries = 2: three rounds, one attempt per URL each, and a full-jitter backoff (random 0.5) between rounds.
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([3, 3]);
    expect(sleeps).toEqual([0.5 * 100, 0.5 * 150]);
    expect(errors.map(([, , e]) => e.kind)).toEqual(Array(6).fill("transient"));
    expect(classifyRpcError(error)).toEqual({ kind: "transient", message: unavailable.shortMessage });
    expect(unavailable.shortMessage).toContain(`last: ${describeUrl(B.url)}: HTTP request failed`);
    expectNoSecrets(error);
  });

  it("retries 0 means one attempt per URL and no sleep", async () => {
    const { blockNumber, sleeps } = setup({ retries: 0 });
    A.setFaults({ down: true });
    B.setFaults({ down: true });
    await expect(blockNumber()).rejects.toBeInstanceOf(RpcUnavailableError);
    expect([calls(A, "eth_blockNumber"), calls(B, "eth_blockNumber")]).toEqual([1, 1]);
    expect(sleeps).toEqual([]);
  });
});

describe("failoverTransport: eth_sendRawTransaction", () => {
  it("broadcasts the same bytes to every URL and returns the hash", async () => {
    const { client } = setup();
    const raw = await signTransfer({ nonce: await nonceOf() });
    const hash = await client.sendRawTransaction({ serializedTransaction: raw });
    expect(hash).toBe(keccak256(raw));
    expect([await seen(A, "eth_sendRawTransaction", 1), await seen(B, "eth_sendRawTransaction", 1)]).toEqual([1, 1]);
    expect((await node.getTransactionReceipt({ hash })).status).toBe("success");
  });

  it("succeeds when only one URL accepts", async () => {
    const { client } = setup();
    A.setFaults({ down: true });
    const raw = await signTransfer({ nonce: await nonceOf() });
    const hash = await client.sendRawTransaction({ serializedTransaction: raw });
    expect(hash).toBe(keccak256(raw));
    expect([await seen(A, "eth_sendRawTransaction", 1), calls(B, "eth_sendRawTransaction")]).toEqual([1, 1]);
    expect((await node.getTransactionReceipt({ hash })).status).toBe("success");
  });

  it("the same bytes sent again (already mined: nonce too low everywhere) return the same hash, no error", async () => {
    const { client, errors } = setup();
    const nonce = await nonceOf();
    const raw = await signTransfer({ nonce });
    const first = await client.sendRawTransaction({ serializedTransaction: raw });
    await until("the other node's answer to the first broadcast", () => errors.length === 1);
    errors.length = 0;
    const second = await client.sendRawTransaction({ serializedTransaction: raw });
    expect(second).toBe(first);
    expect(errors.map(([, , e]) => e.kind)).toEqual(["nonce-too-low", "nonce-too-low"]);
    expect(await nonceOf()).toBe(nonce + 1);
  });

  it("bytes already in the mempool ('already known' everywhere) return the same hash; an underpriced replacement throws", async () => {
    const { client, errors } = setup();
    await node.request({ method: "evm_setAutomine", params: [false] } as never);
    try {
      const nonce = await nonceOf();
      const raw = await signTransfer({ nonce });
      const hash = await client.sendRawTransaction({ serializedTransaction: raw });
      await until("the other node's 'already known' to the first broadcast", () => errors.length === 1);
      errors.length = 0;
      expect(await client.sendRawTransaction({ serializedTransaction: raw })).toBe(hash);
      await until("both nodes' 'already known' to the second broadcast", () => errors.length === 2);
      expect(errors.map(([, , e]) => e.kind)).toEqual(["tx-known", "tx-known"]);

      // Same nonce, lower fee: every node refuses it as underpriced; nothing to resolve by receipt.
      const replacement = await signTransfer({ nonce, valueWei: 2n, maxFeePerGas: 50_000_000_000n });
      const error = await rejection(client.sendRawTransaction({ serializedTransaction: replacement }));
      expect(classifyRpcError(error).kind).toBe("underpriced");
      expectNoSecrets(error);

      await node.request({ method: "evm_mine" } as never);
      expect((await node.getTransactionReceipt({ hash })).status).toBe("success");
    } finally {
      await node.request({ method: "evm_setAutomine", params: [true] } as never);
    }
  });

  it("every URL failing transiently: the same bytes again each round, then RpcUnavailableError", async () => {
    const { client, sleeps } = setup({ retries: 1 });
    A.setFaults({ down: true });
    B.setFaults({ http5xx: 1, seed: 2 });
    const raw = await signTransfer({ nonce: await nonceOf() });
    const error = await rejection(client.sendRawTransaction({ serializedTransaction: raw }));
    expect(error).toBeInstanceOf(RpcUnavailableError);
    expect([calls(A, "eth_sendRawTransaction"), calls(B, "eth_sendRawTransaction")]).toEqual([2, 2]);
    expect(sleeps).toEqual([50]);
    expectNoSecrets(error);
  });
});

describe("classifyRpcError", () => {
  const url = "http://user:secret@127.0.0.1:8545/key";
  const body = { method: "eth_blockNumber", params: [] };
  const rpcError = (code: number, message: string, data?: unknown) =>
    new RpcRequestError({ body, url, error: { code, message, ...(data === undefined ? {} : { data }) } });
  const kind = (error: unknown) => classifyRpcError(error).kind;

  it("transient: time-outs, refused/reset connections, HTTP 5xx/429, bodies that are not JSON", () => {
    expect(kind(new TimeoutError({ body, url }))).toBe("transient");
    for (const status of [500, 502, 503, 504, 429]) {
      expect(kind(new HttpRequestError({ body, url, status, details: "nope" }))).toBe("transient");
    }
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" });
    expect(kind(new HttpRequestError({ body, url, cause: new TypeError("fetch failed", { cause: refused }) }))).toBe("transient");
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(kind(new HttpRequestError({ body, url, cause: new TypeError("fetch failed", { cause: reset }) }))).toBe("transient");
    expect(kind(new HttpRequestError({ body, url, cause: new SyntaxError("Unexpected token '<'") }))).toBe("transient");
  });

  it("transient: internal errors, rate limits and a node behind the tip", () => {
    expect(kind(new InternalRpcError(rpcError(-32603, "internal error")))).toBe("transient");
    expect(kind(rpcError(-32005, "limit exceeded"))).toBe("transient");
    expect(kind(rpcError(-32000, "header not found"))).toBe("transient");
    expect(kind(rpcError(-32000, "missing trie node 0xabc (path )"))).toBe("transient");
    expect(kind(rpcError(-32000, "Received invalid block tag 629145. Latest block number is 1"))).toBe("transient");
    expect(kind(new RpcUnavailableError({ method: "eth_call", rounds: 1, attempts: [] }))).toBe("transient");
  });

  it("tx-known, nonce-too-low and underpriced, in every client's words", () => {
    for (const m of ["already known", "Known transaction: 0xabc", "transaction already imported"]) {
      expect(kind(rpcError(-32000, m))).toBe("tx-known");
    }
    for (const m of ["nonce too low", "Nonce too low. Expected nonce to be 3 but got 2.", "nonce has already been used"]) {
      expect(kind(rpcError(-32000, m))).toBe("nonce-too-low");
    }
    for (const m of [
      "replacement transaction underpriced",
      "transaction underpriced",
      "max fee per gas less than block base fee: address 0x0, maxFeePerGas: 1 baseFee: 7",
      "Transaction maxFeePerGas (1) is too low for the next block, which has a baseFeePerGas of 7",
    ]) {
      expect(kind(rpcError(-32000, m))).toBe("underpriced");
    }
  });

  it("revert: code 3, revert data on an internal error, or the node saying so", () => {
    const data = "0xfb8f41b2000000000000000000000000000000000000000000000000000000000000000a";
    expect(kind(rpcError(3, "execution reverted", data))).toBe("revert");
    expect(kind(new InternalRpcError(rpcError(-32603, "Error: VM Exception while processing transaction: reverted", data)))).toBe("revert");
    expect(kind(rpcError(-32000, "execution reverted"))).toBe("revert");
  });

  it("permanent: invalid params, method not found, HTTP 4xx, anything unknown", () => {
    expect(kind(new InvalidParamsRpcError(rpcError(-32602, "invalid argument 0: hex string without 0x prefix")))).toBe("permanent");
    expect(kind(rpcError(-32601, "the method eth_foo does not exist/is not available"))).toBe("permanent");
    expect(kind(new HttpRequestError({ body, url, status: 401, details: "unauthorized" }))).toBe("permanent");
    expect(kind(rpcError(-32000, "insufficient funds for gas * price + value"))).toBe("permanent");
    expect(kind(new Error("something else"))).toBe("permanent");
    expect(kind("a string")).toBe("permanent");
    expect(kind(undefined)).toBe("permanent");
  });

  it("messages keep scheme and host only: never credentials, path or key", () => {
    const errors = [
      new TimeoutError({ body, url }),
      new HttpRequestError({ body, url, status: 503, details: "Service Unavailable" }),
      new HttpRequestError({ body, url, cause: new TypeError(`Failed to fetch ${url}`) }),
      rpcError(-32000, `nonce too low (from ${url})`),
    ];
    for (const error of errors) {
      const { message } = classifyRpcError(error);
      for (const secret of SECRETS) expect(message).not.toContain(secret);
      expect(message).not.toMatch(/\n/);
    }
    expect(classifyRpcError(errors[1]).message).toBe("HTTP request failed (HTTP 503): Service Unavailable");
  });

  it("redactRpcError strips the URL from a whole viem error chain in place, keeping code and data", () => {
    const error = new InternalRpcError(rpcError(-32603, "internal error", "0x1234"));
    expect(error.message).toContain("URL: http://127.0.0.1:8545/key");
    redactRpcError(error, [url]);
    expectNoSecrets(error);
    expect(error.code).toBe(-32603);
    expect((error.cause as RpcRequestError).data).toBe("0x1234");
    expect((error.cause as RpcRequestError).url).toBe("http://127.0.0.1:8545");
  });
});

describe("describeUrl", () => {
  it("keeps scheme, host and port; drops user info, path and query; never echoes garbage", () => {
    expect(describeUrl("https://user:pw@eth.example.com/v2/KEY?x=1")).toBe("https://eth.example.com");
    expect(describeUrl("http://127.0.0.1:8545/key")).toBe("http://127.0.0.1:8545");
    expect(describeUrl("not a url with secret")).toBe("<invalid url>");
  });
});
