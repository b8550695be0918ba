/**
 * A block's hedges simulated together (keeper/execution/simulate.ts, `simulateHedges`) and sent by
 * `JournaledSend.sendAll`: one `eth_simulateV1` request on anvil, calls in send order on sequential state, gas
 * limits sized from the gas used; a revert decoded per call; Hardhat's node (no `eth_simulateV1`) falls back to
 * one `eth_estimateGas` per hedge, remembered; a scripted node for the answers a real one gives rarely (revert
 * data in `error.data`, a failed request that is not a refusal).
 */
import { performance } from "node:perf_hooks";
import {
  createPublicClient,
  custom,
  encodeErrorResult,
  HttpRequestError,
  numberToHex,
  parseGwei,
  TimeoutError,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createChainClients, RequestCounter, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { mockAmmAbi } from "../../keeper/abi.ts";
import { FeeOracle } from "../../keeper/execution/fees.ts";
import { JournaledSend } from "../../keeper/execution/journaledSend.ts";
import { NonceTracker } from "../../keeper/execution/nonces.ts";
import { PendingHedges } from "../../keeper/execution/pending.ts";
import { GasCapExceededError, HedgeSimulationError, hedgeAbi, type SendContext, type SentHedge } from "../../keeper/execution/sendHedge.ts";
import { BatchSimulationError, simulateHedges, type HedgeSimulation, type HedgeToSimulate } from "../../keeper/execution/simulate.ts";
import type { HedgeOrder } from "../../keeper/types.ts";
import { LOCAL_KEEPER_KEY } from "../../harness/keeper.ts";
import { arbitrageTo } from "../../harness/market.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";
import { startLocalNode } from "../../harness/node.ts";
import { buyOptions, deployExtraVault, deploySystem, listSeries, WAD } from "../../harness/system.ts";

const GAS_CAP = 600_000n;
const CAPS = { maxFeePerGasWei: parseGwei("100"), maxPriorityFeePerGasWei: parseGwei("2") };

/** A node with three hedging vaults: A and B on one shallow pool, C on a pool of its own; and an order for each. */
async function hedgingChain(anvil: boolean) {
  const node = await startLocalNode(anvil ? { anvil: {} } : {});
  const connection = await node.connect();
  const { viem } = connection;
  const sys = await deploySystem(viem, { ammDepthUnderlying: 300 });
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  const { id } = await listSeries(sys, true, 3000, 30);
  await buyOptions(sys, buyer, id, 10);
  const b = await deployExtraVault(viem, sys, { optionsSold: 10 });
  const c = await deployExtraVault(viem, sys, { optionsSold: 10, ownAmmDepth: 1000 });
  const vaults = { a: sys.vault.address, b: b.vault.address, c: c.vault.address };
  const counter = new RequestCounter();
  const { publicClient } = createChainClients({ rpcUrl: node.url, observer: counter });
  const account = signerFromPrivateKey(LOCAL_KEEPER_KEY);
  const block = await publicClient.getBlock();
  const read = { chain: { blockNumber: block.number, timestamp: block.timestamp } };
  // Each vault sold 10 thirty-day ATM calls (net delta about -5): buying 1 underlying reduces it, within the
  // vault's 1% slippage bound on a 300-deep pool. Priced at the decision block, 0.5% below the pool's quote.
  const order = async (vault: Address): Promise<HedgeOrder> => {
    const amm = vault === vaults.c ? c.amm : sys.amm;
    const amountIn = await amm.read.quoteExactOut([sys.quote.address, WAD], { blockNumber: block.number });
    return { buyUnderlying: true, amountIn, expectedOut: WAD, minAmountOut: (WAD * 995n) / 1000n, tradeWad: WAD } as HedgeOrder;
  };
  return { node, connection, sys, vaults, counter, client: publicClient, account, read, order };
}

type Chain = Awaited<ReturnType<typeof hedgingChain>>;

function ctxOf(chain: Pick<Chain, "client" | "account">, account = chain.account): SendContext {
  return {
    client: chain.client,
    account,
    chainId: 31337,
    nonces: new NonceTracker(chain.client, account.address),
    fees: new FeeOracle(chain.client, parseGwei("1")),
    caps: CAPS,
    gasLimitPerHedge: GAS_CAP,
  };
}

const simulateOn = (chain: Chain, items: HedgeToSimulate[], ctx = ctxOf(chain)) =>
  simulateHedges(ctx, { items, deadline: chain.read.chain.timestamp + 600n, blockNumber: chain.read.chain.blockNumber, timestamp: chain.read.chain.timestamp });

const errorOf = (r: HedgeSimulation | undefined) => (r && !r.ok ? r.error : undefined);

/** The pool's exact output for `order` at the decision block: a minimum with no slippage tolerance at all. */
async function exactMinimum(chain: Chain, order: HedgeOrder): Promise<bigint> {
  const tokenIn = order.buyUnderlying ? chain.sys.quote.address : chain.sys.underlying.address;
  return chain.sys.amm.read.quoteExactIn([tokenIn, order.amountIn], { blockNumber: chain.read.chain.blockNumber });
}

describe("simulateHedges on anvil (eth_simulateV1)", () => {
  let chain: Chain;
  let snapshot: unknown;
  const rpc = (method: string, params: unknown[] = []) => chain.client.request({ method, params } as never) as Promise<unknown>;

  beforeAll(async () => {
    chain = await hedgingChain(true);
    await rpc("evm_setAutomine", [false]);
    snapshot = await rpc("evm_snapshot");
  });
  afterAll(async () => {
    await chain?.connection.close();
    await chain?.node.close();
  });
  beforeEach(async () => {
    await rpc("evm_revert", [snapshot]);
    snapshot = await rpc("evm_snapshot");
    chain.counter.reset();
  });

  it("sends a batch after one eth_simulateV1 request; each gas limit covers the gas the mined hedge used, within the cap", async () => {
    const send = new JournaledSend({
      client: chain.client,
      account: chain.account,
      fees: new FeeOracle(chain.client, parseGwei("1")),
      caps: CAPS,
      gasLimitPerHedge: GAS_CAP,
      pending: new PendingHedges(chain.client, 1),
      nowMs: () => performance.now(),
    });
    const items = await Promise.all([chain.vaults.a, chain.vaults.c].map(async (vault) => ({ vault, order: await chain.order(vault) })));
    const sent: SentHedge[] = [];
    const failed: unknown[] = [];
    const { blockNumber, timestamp } = chain.read.chain;
    await send.sendAll(send.context(31337), items, timestamp + 600n, blockNumber, timestamp, { sent: (_, s) => sent.push(s), failed: (_, e) => failed.push(e) });
    expect(failed).toEqual([]);
    expect(chain.counter.snapshot().eth_simulateV1).toBe(1);
    expect(chain.counter.snapshot().eth_estimateGas).toBeUndefined();
    // Broadcasts overlap (BROADCAST_WINDOW), so they may return in any order; the nonces follow the items' order.
    const byNonce = [...sent].sort((x, y) => x.nonce - y.nonce);
    expect(byNonce.map((s) => s.vault)).toEqual(items.map((i) => i.vault));
    expect(byNonce[1]!.nonce).toBe(byNonce[0]!.nonce + 1);
    await rpc("evm_mine");
    for (const s of sent) {
      const receipt = await chain.client.getTransactionReceipt({ hash: s.hash });
      expect(receipt.status).toBe("success");
      expect(s.gasLimit).toBeGreaterThanOrEqual(receipt.gasUsed);
      expect(s.gasLimit).toBeLessThanOrEqual(GAS_CAP);
    }
  });

  it("a reverting hedge is reported with its decoded error and the others still simulate", async () => {
    const a = await chain.order(chain.vaults.a);
    const results = await simulateOn(chain, [
      { vault: chain.vaults.a, order: { ...a, minAmountOut: a.minAmountOut * 100n } },
      { vault: chain.vaults.c, order: await chain.order(chain.vaults.c) },
    ]);
    expect(errorOf(results[0])).toBeInstanceOf(HedgeSimulationError);
    expect(errorOf(results[0])).toMatchObject({ errorName: "InsufficientOutput" });
    expect(results[1]!.ok).toBe(true);
    expect(chain.counter.snapshot().eth_simulateV1).toBe(1);

    // A signer without KEEPER_ROLE: every call reverts with the vault's AccessControl error, decoded.
    const stranger = privateKeyToAccount(TEST_KEYS.second);
    const refused = await simulateOn(chain, [{ vault: chain.vaults.c, order: await chain.order(chain.vaults.c) }], ctxOf(chain, stranger));
    expect(errorOf(refused[0])).toMatchObject({ errorName: "AccessControlUnauthorizedAccount" });
  });

  it("runs the calls on sequential state: a second hedge on the same pool fails from the first one's price impact", async () => {
    const a = await chain.order(chain.vaults.a);
    const b = await chain.order(chain.vaults.b);
    const tightB = { ...b, minAmountOut: await exactMinimum(chain, b) };
    // Alone, B at the pool's exact quote goes through...
    const alone = await simulateOn(chain, [{ vault: chain.vaults.b, order: tightB }]);
    expect(alone[0]!.ok).toBe(true);
    // ...after A's trade on the same pool (same side) it cannot get that much out any more.
    expect(a.buyUnderlying).toBe(b.buyUnderlying);
    const both = await simulateOn(chain, [
      { vault: chain.vaults.a, order: a },
      { vault: chain.vaults.b, order: tightB },
    ]);
    expect(both[0]!.ok).toBe(true);
    expect(errorOf(both[1])).toMatchObject({ errorName: "InsufficientOutput" });
  });
});

describe("simulateHedges on Hardhat's node (no eth_simulateV1)", () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = await hedgingChain(false);
  });
  afterAll(async () => {
    await chain?.connection.close();
    await chain?.node.close();
  });

  it("falls back to one eth_estimateGas per hedge, with the same outcomes, and remembers the refusal", async () => {
    const a = await chain.order(chain.vaults.a);
    const items = [
      { vault: chain.vaults.a, order: { ...a, minAmountOut: a.minAmountOut * 100n } },
      { vault: chain.vaults.c, order: await chain.order(chain.vaults.c) },
    ];
    chain.counter.reset();
    const first = await simulateOn(chain, items);
    expect(errorOf(first[0])).toMatchObject({ errorName: "InsufficientOutput" });
    expect(first[1]!.ok).toBe(true);
    const second = await simulateOn(chain, items);
    expect(second.map((r) => r.ok)).toEqual([false, true]);
    // One refused request in all, then estimates only: two per block.
    expect(chain.counter.snapshot().eth_simulateV1).toBe(1);
    expect(chain.counter.snapshot().eth_estimateGas).toBe(4);
    const sim = first[1]!.ok ? first[1]!.sim : undefined;
    expect(sim?.gasLimit).toBeGreaterThan(100_000n);
    expect(sim?.gasLimit).toBeLessThanOrEqual(GAS_CAP);
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// Broadcasts in flight (BROADCAST_WINDOW): a mempool queues a nonce gap; an automining node refuses it once
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The chain's client, except that the first `eth_sendRawTransaction` of each `sendAll` reaches the node 300 ms late:
 * the next hedge's broadcast (nonce n + 1) arrives before it (nonce n) whenever broadcasts overlap.
 */
function lateFirstBroadcast(chain: Chain) {
  let late = true;
  const client = createPublicClient({
    transport: custom(
      {
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          if (method === "eth_sendRawTransaction" && late) {
            late = false;
            await new Promise((r) => setTimeout(r, 300));
          }
          return chain.client.request({ method, params } as never);
        },
      },
      { retryCount: 0 },
    ),
  }) as PublicClient;
  const sendAll = async (vaults: Address[]) => {
    late = true;
    // A sender of its own each time (the last block's hedges are pending in the previous one); the same client.
    const send = new JournaledSend({
      client,
      account: chain.account,
      fees: new FeeOracle(client, parseGwei("1")),
      caps: CAPS,
      gasLimitPerHedge: GAS_CAP,
      pending: new PendingHedges(client, 1),
      nowMs: () => performance.now(),
    });
    const block = await chain.client.getBlock();
    // Buy 1 underlying at the pool's price now (`chain.order` prices at the set-up block).
    const items = await Promise.all(
      vaults.map(async (vault) => {
        const order = await chain.order(vault);
        const amm = await chain.client.readContract({ address: vault, abi: hedgeAbi, functionName: "amm" });
        const amountIn = await chain.client.readContract({ address: amm, abi: mockAmmAbi, functionName: "quoteExactOut", args: [chain.sys.quote.address, WAD], blockNumber: block.number });
        return { vault, order: { ...order, amountIn } };
      }),
    );
    const sent: SentHedge[] = [];
    const failed: unknown[] = [];
    await send.sendAll(send.context(31337), items, block.timestamp + 600n, block.number, block.timestamp, {
      sent: (_, x) => sent.push(x),
      failed: (_, e) => failed.push(e),
    });
    return { sent, failed };
  };
  return { sendAll };
}

describe("sendAll: broadcasts in flight", () => {
  it("on anvil (a mempool) nonce n + 1 may arrive first: it is queued, both are mined, nothing is sent twice", { timeout: 60_000 }, async () => {
    const chain = await hedgingChain(true);
    try {
      await chain.client.request({ method: "evm_setAutomine", params: [false] } as never);
      const { sendAll } = lateFirstBroadcast(chain);
      chain.counter.reset();
      const { sent, failed } = await sendAll([chain.vaults.a, chain.vaults.c]);
      expect(failed).toEqual([]);
      // The second hedge returned first: its broadcast did not wait for the late one.
      expect(sent.map((x) => x.vault)).toEqual([chain.vaults.c, chain.vaults.a]);
      expect(chain.counter.snapshot().eth_sendRawTransaction).toBe(2);
      await chain.client.request({ method: "evm_mine" } as never);
      for (const x of sent) expect((await chain.client.getTransactionReceipt({ hash: x.hash })).status).toBe("success");
    } finally {
      await chain.connection.close();
      await chain.node.close();
    }
  });

  it("on Hardhat's automining node the gap is refused once: the same bytes go again after nonce n, and later broadcasts wait their turn", { timeout: 60_000 }, async () => {
    const chain = await hedgingChain(false);
    try {
      const { sendAll } = lateFirstBroadcast(chain);
      chain.counter.reset();
      const first = await sendAll([chain.vaults.a, chain.vaults.c]);
      expect(first.failed).toEqual([]);
      // Three broadcasts: nonce n + 1 refused ("can't be queued when automining"), nonce n, nonce n + 1 again.
      expect(chain.counter.snapshot().eth_sendRawTransaction).toBe(3);
      expect(chain.counter.errors().eth_sendRawTransaction).toBe(1);
      for (const x of first.sent) expect((await chain.client.getTransactionReceipt({ hash: x.hash })).status).toBe("success");
      // Remembered: with the first broadcast late again, the next one waits for it instead of being refused.
      await chain.client.request({ method: "hardhat_mine", params: ["0x20"] } as never);
      for (const vault of [chain.vaults.a, chain.vaults.c]) {
        const amm = await chain.client.readContract({ address: vault, abi: hedgeAbi, functionName: "amm" });
        await arbitrageTo(chain.connection.viem, { amm, quote: chain.sys.quote.address, underlying: chain.sys.underlying.address }, 3000);
      }
      chain.counter.reset();
      const second = await sendAll([chain.vaults.c, chain.vaults.a]);
      expect(second.failed).toEqual([]);
      expect(second.sent.map((x) => x.vault)).toEqual([chain.vaults.c, chain.vaults.a]);
      expect(chain.counter.snapshot().eth_sendRawTransaction).toBe(2);
      expect(chain.counter.errors().eth_sendRawTransaction).toBeUndefined();
    } finally {
      await chain.connection.close();
      await chain.node.close();
    }
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// A scripted node
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

const KEEPER = privateKeyToAccount(TEST_KEYS.keeper);
const V = (i: number) => `0x${(i + 1).toString(16).padStart(40, "0")}` as Address;
const ORDER = { buyUnderlying: true, amountIn: 10n ** 9n, minAmountOut: 10n ** 17n, tradeWad: 10n ** 17n } as unknown as HedgeOrder;

/** A node answering `eth_simulateV1` (and `eth_estimateGas`) with `answer`: a result, or an error thrown as the node's. */
function scripted(answer: (method: string, params: unknown[]) => unknown) {
  const calls: { method: string; params: unknown[] }[] = [];
  const client = createPublicClient({
    transport: custom(
      {
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          calls.push({ method, params: params ?? [] });
          return answer(method, params ?? []);
        },
      },
      { retryCount: 0 },
    ),
  }) as PublicClient;
  const ctx = { client, account: KEEPER, gasLimitPerHedge: 500_000n };
  const simulate = (n: number) =>
    simulateHedges(ctx, { items: Array.from({ length: n }, (_, i) => ({ vault: V(i), order: ORDER })), deadline: 2_000_000_000n, blockNumber: 77n, timestamp: 1_700_000_000n });
  return { calls, simulate, count: (m: string) => calls.filter((c) => c.method === m).length };
}

describe("simulateHedges against a scripted node", () => {
  it("reads each call's answer: gas used + 35% within the cap, revert data from error.data or returnData, the cap exceeded", async () => {
    const slippage = encodeErrorResult({ abi: hedgeAbi, errorName: "SlippageTooHigh", args: [150n, 100n] });
    const node = scripted(() => [
      {
        calls: [
          { status: "0x1", gasUsed: numberToHex(100_000n), returnData: "0x" },
          { status: "0x0", gasUsed: "0x5208", returnData: slippage, error: { code: 3, message: "execution reverted", data: slippage } },
          { status: "0x0", gasUsed: "0x5208", returnData: slippage, error: { code: -3200, message: "execution failed" } },
          { status: "0x0", gasUsed: "0x5208", returnData: "0xdeadbeef", error: { code: 3, message: "execution reverted" } },
          { status: "0x1", gasUsed: numberToHex(400_000n), returnData: "0x" },
          { status: "0x1", gasUsed: numberToHex(500_001n), returnData: "0x" },
        ],
      },
    ]);
    const results = await node.simulate(6);
    expect(results[0]).toEqual({ ok: true, sim: { vault: V(0), call: { functionName: "rebalance", args: [true, ORDER.amountIn, ORDER.minAmountOut, 2_000_000_000n] }, gasLimit: 135_000n, blockNumber: 77n } });
    expect(errorOf(results[1])).toMatchObject({ name: "HedgeSimulationError", errorName: "SlippageTooHigh", errorArgs: [150n, 100n] });
    expect(errorOf(results[2])).toMatchObject({ errorName: "SlippageTooHigh" });
    expect(errorOf(results[3])).not.toBeInstanceOf(HedgeSimulationError);
    expect((errorOf(results[3]) as Error).message).toMatch(/simulation failed: execution reverted \(undecoded revert data 0xdeadbeef\)/);
    expect(results[4]!.ok && results[4]!.sim.gasLimit).toBe(500_000n); // 1.35 × 400k capped
    expect(errorOf(results[5])).toBeInstanceOf(GasCapExceededError);
    expect(errorOf(results[5])).toMatchObject({ estimatedGas: 500_001n, gasCap: 500_000n });

    // The request: the decision block's state, the landing block's number and time (decision + 1 s), calls in order.
    expect(node.calls).toHaveLength(1);
    const [payload, tag] = node.calls[0]!.params as [{ blockStateCalls: { blockOverrides: Record<string, Hex>; calls: { from: Address; to: Address }[] }[]; validation: boolean }, Hex];
    expect(tag).toBe(numberToHex(77n));
    expect(payload.validation).toBe(false);
    expect(payload.blockStateCalls[0]!.blockOverrides).toMatchObject({ number: numberToHex(78n), time: numberToHex(1_700_000_001n) });
    expect(payload.blockStateCalls[0]!.calls.map((c) => [c.from, c.to])).toEqual(Array.from({ length: 6 }, (_, i) => [KEEPER.address, V(i)]));
  });

  it("more calls than a simulated block holds go to consecutive simulated blocks of one request", async () => {
    const node = scripted((_, params) => {
      const blocks = (params[0] as { blockStateCalls: { calls: unknown[] }[] }).blockStateCalls;
      return blocks.map((b) => ({ calls: b.calls.map(() => ({ status: "0x1", gasUsed: "0x186a0" })) }));
    });
    const results = await node.simulate(150);
    expect(results.every((r) => r.ok)).toBe(true);
    const blocks = (node.calls[0]!.params[0] as { blockStateCalls: { blockOverrides: Record<string, Hex>; calls: unknown[] }[] }).blockStateCalls;
    expect(blocks.map((b) => [b.calls.length, b.blockOverrides.number, b.blockOverrides.time])).toEqual([
      [100, numberToHex(78n), numberToHex(1_700_000_001n)],
      [50, numberToHex(79n), numberToHex(1_700_000_002n)],
    ]);
  });

  it("a failed request that is not a refusal fails every hedge of the batch, and the next block asks again", async () => {
    let failure: () => never = () => {
      throw new HttpRequestError({ url: "http://node.invalid", status: 500, details: "Internal Server Error", body: {} });
    };
    const node = scripted((method) => {
      if (method === "eth_simulateV1") failure();
      return numberToHex(100_000n);
    });
    const results = await node.simulate(3);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    expect(errorOf(results[0])).toBeInstanceOf(BatchSimulationError);
    expect((errorOf(results[0]) as Error).message).toMatch(/^eth_simulateV1 of 3 hedge\(s\) failed: .*Internal Server Error.*; not sent this block$/s);

    failure = () => {
      throw new TimeoutError({ url: "http://node.invalid", body: {} });
    };
    expect((await node.simulate(2)).map((r) => errorOf(r) instanceof BatchSimulationError)).toEqual([true, true]);
    expect(node.count("eth_simulateV1")).toBe(2);
    expect(node.count("eth_estimateGas")).toBe(0);

    // "method not found": a refusal, remembered — estimates from now on, no more eth_simulateV1.
    failure = () => {
      throw { code: -32601, message: "the method eth_simulateV1 does not exist/is not available" };
    };
    expect((await node.simulate(2)).map((r) => r.ok)).toEqual([true, true]);
    expect((await node.simulate(2)).map((r) => r.ok)).toEqual([true, true]);
    expect(node.count("eth_simulateV1")).toBe(3);
    expect(node.count("eth_estimateGas")).toBe(4);
  });
});
