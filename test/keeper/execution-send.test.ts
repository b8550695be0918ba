/**
 * The write path, in process (so mutation testing sees it): which nonce the keeper takes (the pool's count, not
 * the mined one; never one the journal or the pool already holds), how a pending hedge is tracked until it
 * settles (fee bumps and cancels at its nonce, which version the chain mined, the outcome decoded from its
 * receipt, an RPC failure never taken for "not mined"), and what `sendHedge` signs and broadcasts — and, on each
 * node refusal (nonce too low, replacement underpriced, insufficient funds, a timeout after the node took the
 * bytes), the error the operator reads, that exactly one transaction went out, and the nonce the next hedge gets.
 * Real node answers come from an in-process Hardhat (EDR) network; a scripted RPC stands in where the point is
 * an answer a node gives rarely (a decoded revert, a receipt with foreign logs, a failure after a refusal).
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import hre from "hardhat";
import {
  BaseError,
  InternalRpcError,
  TransactionReceiptNotFoundError,
  createPublicClient,
  custom,
  decodeFunctionData,
  encodeAbiParameters,
  encodeErrorResult,
  encodeEventTopics,
  http,
  keccak256,
  numberToHex,
  parseGwei,
  parseTransaction,
  toHex,
  type Address,
  type Hash,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { optionVaultAbi } from "../../keeper/abi.ts";
import { classifyRpcError } from "../../keeper/chain/errors.ts";
import { FeeOracle } from "../../keeper/execution/fees.ts";
import { NonceTracker } from "../../keeper/execution/nonces.ts";
import { PendingHedges } from "../../keeper/execution/pending.ts";
import {
  GasCapExceededError,
  HedgeSimulationError,
  broadcastHedge,
  broadcastSigned,
  decodeRevert,
  hedgeAbi,
  sendHedge,
  signCancel,
  signHedge,
  simulateHedge,
  type SendContext,
  type SentHedge,
  type SimulatedHedge,
} from "../../keeper/execution/sendHedge.ts";
import { errorMessage } from "../../keeper/chain/errors.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";

/** Checksummed, with letters: a log's lower-case address must still be recognised as this vault's. */
const VAULT: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const OTHER: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const KEEPER = privateKeyToAccount(TEST_KEYS.keeper);
/** A key no Hardhat account uses: balance 0 on a fresh node. */
const POOR = privateKeyToAccount(keccak256(toHex("execution-send.test: an unfunded signer")));
const CAPS = { maxFeePerGasWei: parseGwei("50"), maxPriorityFeePerGasWei: parseGwei("2") };
const ARGS = [true, 10n ** 18n, 5n * 10n ** 8n, 2_000_000_000n] as const;
const h = (byte: string): Hash => `0x${byte.repeat(32)}`;

type Provider = { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
type Call = { method: string; params: unknown[] };

/**
 * A client over `provider` that records every request; `intercept` may answer one (or throw, as a node would)
 * instead of the provider. No retries: each request the keeper makes reaches the node exactly once.
 */
function recordingClient(provider: Provider, intercept?: (call: Call) => unknown) {
  const calls: Call[] = [];
  const client = createPublicClient({
    transport: custom(
      {
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          const call = { method, params: params ?? [] };
          calls.push(call);
          const scripted = intercept?.(call);
          if (scripted !== undefined) return scripted;
          return provider.request({ method, params: params ?? [] });
        },
      },
      { retryCount: 0 },
    ),
  }) as PublicClient;
  return { client, calls, count: (method: string) => calls.filter((c) => c.method === method).length };
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// A node of our own: one in-process network, reverted to its first state before each test
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

let provider: Provider;
let snapshot: unknown;
const rpc = (method: string, params: unknown[] = []) => provider.request({ method, params });

beforeAll(async () => {
  ({ provider } = (await hre.network.create()) as unknown as { provider: Provider });
  snapshot = await rpc("evm_snapshot");
});

beforeEach(async () => {
  await rpc("evm_revert", [snapshot]);
  snapshot = await rpc("evm_snapshot");
  await rpc("evm_setAutomine", [true]);
});

/** The keeper's signer spending a nonce from elsewhere (an operator's wallet holding the same key). */
async function sendFromElsewhere(nonce: number, fees = { maxFeePerGas: parseGwei("10"), maxPriorityFeePerGas: parseGwei("1") }): Promise<Hash> {
  const raw = await KEEPER.signTransaction({ chainId: 31337, type: "eip1559", to: KEEPER.address, gas: 21_000n, nonce, value: 0n, ...fees });
  return (await rpc("eth_sendRawTransaction", [raw])) as Hash;
}

const countAt = async (tag: "latest" | "pending", address: Address = KEEPER.address) =>
  Number(BigInt((await rpc("eth_getTransactionCount", [address, tag])) as Hex));

function sendContext(client: PublicClient, account = KEEPER): SendContext {
  return {
    client,
    account,
    chainId: 31337,
    nonces: new NonceTracker(client, account.address),
    fees: new FeeOracle(client, parseGwei("1")),
    caps: CAPS,
    gasLimitPerHedge: 500_000n,
  };
}

async function simulated(): Promise<SimulatedHedge> {
  // To an address without code the rebalance calldata is a plain transfer: the node accepts and mines it.
  return { vault: VAULT, call: { functionName: "rebalance", args: ARGS }, gasLimit: 150_000n, blockNumber: BigInt((await rpc("eth_blockNumber")) as Hex) };
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// NonceTracker
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

describe("NonceTracker on a node", () => {
  it("takes the pool's count, not the mined one, then counts locally without a request", async () => {
    await rpc("evm_setAutomine", [false]);
    const latest = await countAt("latest");
    await sendFromElsewhere(latest); // in the pool, not mined: its nonce is taken all the same
    expect(await countAt("pending")).toBe(latest + 1);

    const rec = recordingClient(provider);
    const nonces = new NonceTracker(rec.client, KEEPER.address);
    expect(nonces.local, "nothing read yet").toBeUndefined();
    expect(await nonces.next()).toBe(latest + 1);
    expect(await nonces.next()).toBe(latest + 2);
    expect(nonces.local).toBe(latest + 3);
    expect(rec.count("eth_getTransactionCount"), "one read, then local").toBe(1);
  });

  it("gap: 0 (and no request) before any nonce is known; nonces taken but never seen by the node; never negative", async () => {
    const rec = recordingClient(provider);
    const nonces = new NonceTracker(rec.client, KEEPER.address);
    expect(await nonces.gap()).toBe(0);
    expect(rec.calls, "nothing to compare yet").toEqual([]);

    await rpc("evm_setAutomine", [false]);
    const first = await nonces.next();
    await nonces.next(); // two nonces taken: signed, say, but lost before reaching the node
    expect(await nonces.gap()).toBe(2);
    await sendFromElsewhere(first); // one of them reaches the pool (unmined): the pool's count is what matters
    expect(await nonces.gap()).toBe(1);
    for (let n = first + 1; n < first + 4; n++) await sendFromElsewhere(n); // the node is now ahead of us
    expect(await nonces.gap()).toBe(0);
  });

  it("raiseTo: never hands out a nonce below what the journal says is ours, and never lowers the count", async () => {
    const rec = recordingClient(provider);
    const nonces = new NonceTracker(rec.client, KEEPER.address);
    nonces.raiseTo(7); // a journaled nonce the node has not seen, before anything was read
    expect(nonces.local).toBe(7);
    expect(await nonces.next()).toBe(7);
    expect(rec.count("eth_getTransactionCount"), "the raised count is used as is").toBe(0);
    nonces.raiseTo(5);
    expect(nonces.local, "a lower journal nonce changes nothing").toBe(8);
    nonces.raiseTo(8);
    expect(nonces.local).toBe(8);
    nonces.raiseTo(12);
    expect(await nonces.next()).toBe(12);
  });

  it("release gives back only the last nonce taken; an earlier one stays taken", async () => {
    const nonces = new NonceTracker(recordingClient(provider).client, KEEPER.address);
    const a = await nonces.next();
    const b = await nonces.next();
    nonces.release(a); // b is out there: handing a out again would leave b's successor unreachable
    expect(nonces.local).toBe(b + 1);
    nonces.release(b);
    expect(await nonces.next(), "b was never broadcast: reused, no gap").toBe(b);
    expect(await nonces.next()).toBe(b + 1);
  });

  it("resync drops a local count the node disagrees with and reads the pool's again", async () => {
    const nonces = new NonceTracker(recordingClient(provider).client, KEEPER.address);
    const start = await nonces.next();
    await nonces.next();
    await nonces.next(); // three taken, none sent
    await nonces.resync();
    expect(nonces.local).toBe(start);
    await sendFromElsewhere(start);
    await nonces.resync();
    expect(await nonces.next()).toBe(start + 1);
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// PendingHedges, against scripted receipts
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

const FEES = { maxFeePerGas: parseGwei("3"), maxPriorityFeePerGas: parseGwei("1") };
const BUMPED = { maxFeePerGas: parseGwei("4"), maxPriorityFeePerGas: parseGwei("2") };
const sentHedge = (extra: Partial<SentHedge> = {}): SentHedge => ({
  vault: VAULT,
  hash: h("a1"),
  nonce: 4,
  gasLimit: 150_000n,
  fees: FEES,
  decidedAtBlock: 9n,
  ...extra,
});

/** A chain whose receipts the test scripts; records which hashes were asked for. */
function receiptChain(mined: Record<Hash, Partial<TransactionReceipt>>) {
  const asked: Hash[] = [];
  let failure: Error | undefined;
  const client = {
    getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
      asked.push(hash);
      if (failure) throw failure;
      const receipt = mined[hash];
      if (!receipt) throw new TransactionReceiptNotFoundError({ hash });
      return { blockNumber: 10n, status: "success", logs: [], transactionHash: hash, gasUsed: 100_000n, ...receipt } as TransactionReceipt;
    },
  } as unknown as PublicClient;
  return { client, asked, failWith: (e: Error | undefined) => (failure = e) };
}

const rebalancedEvent = optionVaultAbi.find((i) => i.type === "event" && i.name === "Rebalanced")!;
function rebalancedLog(address: Address, v: { before: bigint; after: bigint; out: bigint }) {
  const inputs = (rebalancedEvent as { inputs: readonly { indexed?: boolean; type: string; name: string }[] }).inputs.filter((i) => !i.indexed);
  return {
    address,
    topics: encodeEventTopics({ abi: optionVaultAbi, eventName: "Rebalanced", args: { keeper: KEEPER.address } }),
    data: encodeAbiParameters(inputs, [true, 10n ** 18n, v.out, 3000n * 10n ** 18n, v.before, v.after]),
  };
}

describe("PendingHedges bookkeeping", () => {
  it("one pending hedge per vault: a second for the same vault is refused, naming it", () => {
    const pending = new PendingHedges(receiptChain({}).client, 1);
    pending.add(sentHedge(), 1_000);
    expect(pending.has(VAULT)).toBe(true);
    expect(pending.has(OTHER)).toBe(false);
    expect(pending.list()).toMatchObject([{ hash: h("a1"), sentAtMs: 1_000, versions: [{ hash: h("a1"), kind: "hedge" }] }]);
    expect(() => pending.add(sentHedge({ hash: h("a2"), nonce: 5 }), 2_000)).toThrow(`a hedge for ${VAULT} is already pending`);
    expect(pending.hashes(), "the refused one replaced nothing").toEqual([h("a1")]);
    pending.add(sentHedge({ vault: OTHER, hash: h("b1"), nonce: 5 }), 2_000);
    expect(pending.size).toBe(2);
    expect(pending.hashes()).toEqual([h("a1"), h("b1")]);
  });

  it("a fee bump or a cancel reuses the nonce, becomes the version tracked, and keeps the first send time and every version", () => {
    const pending = new PendingHedges(receiptChain({}).client, 1);
    expect(() => pending.replace(VAULT, sentHedge({ hash: h("a2") }), "hedge")).toThrow(`no pending hedge for ${VAULT} to replace`);
    pending.add(sentHedge(), 1_000);
    expect(() => pending.replace(VAULT, sentHedge({ hash: h("a2"), nonce: 5 }), "hedge")).toThrow("a replacement must reuse nonce 4");

    pending.replace(VAULT, sentHedge({ hash: h("a2"), fees: BUMPED }), "hedge");
    expect(pending.hashes()).toEqual([h("a2")]);
    pending.replace(VAULT, sentHedge({ hash: h("c3"), fees: BUMPED, gasLimit: 21_000n }), "cancel");
    expect(pending.list()).toEqual([
      {
        ...sentHedge({ hash: h("c3"), fees: BUMPED, gasLimit: 21_000n }),
        sentAtMs: 1_000, // the stuck clock runs from the first send, not from the last bump
        versions: [
          { hash: h("a1"), kind: "hedge" },
          { hash: h("a2"), kind: "hedge" },
          { hash: h("c3"), kind: "cancel" },
        ],
      },
    ]);
  });
});

describe("PendingHedges.poll: which version the chain mined, and what it did", () => {
  it("asks for the newest version first: one receipt request when the fee bump was the one mined", async () => {
    const chain = receiptChain({ [h("a2")]: {} });
    const pending = new PendingHedges(chain.client, 1);
    pending.add(sentHedge(), 0);
    pending.replace(VAULT, sentHedge({ hash: h("a2"), fees: BUMPED }), "hedge");
    const settled = await pending.poll(10n);
    expect(chain.asked).toEqual([h("a2")]);
    expect(settled).toMatchObject([{ kind: "mined", sent: { hash: h("a2"), nonce: 4, fees: BUMPED } }]);
    expect(pending.has(VAULT)).toBe(false);
  });

  it("settles with the original's hash when the chain mined the original after all", async () => {
    const chain = receiptChain({ [h("a1")]: {} });
    const pending = new PendingHedges(chain.client, 1);
    pending.add(sentHedge(), 0);
    pending.replace(VAULT, sentHedge({ hash: h("a2"), fees: BUMPED }), "hedge");
    expect(await pending.poll(10n)).toMatchObject([{ kind: "mined", sent: { hash: h("a1") } }]);
    expect(chain.asked).toEqual([h("a2"), h("a1")]);
  });

  it("an RPC failure while polling is an error, never 'not mined': the hedge stays pending", async () => {
    const chain = receiptChain({ [h("a1")]: {} });
    const pending = new PendingHedges(chain.client, 1);
    pending.add(sentHedge(), 0);
    chain.failWith(new Error("request timed out"));
    await expect(pending.poll(10n)).rejects.toThrow("request timed out");
    expect(pending.hashes()).toEqual([h("a1")]);
    chain.failWith(undefined);
    expect(await pending.poll(10n)).toMatchObject([{ kind: "mined" }]);
  });

  it("a mined cancel settles as cancelled (the hedge is not done), with the cancel's hash and receipt", async () => {
    const chain = receiptChain({ [h("c2")]: { gasUsed: 21_000n } });
    const pending = new PendingHedges(chain.client, 1);
    pending.add(sentHedge(), 0);
    pending.replace(VAULT, sentHedge({ hash: h("c2"), fees: BUMPED, gasLimit: 21_000n }), "cancel");
    const settled = await pending.poll(10n);
    expect(settled).toMatchObject([{ kind: "cancelled", sent: { hash: h("c2"), nonce: 4 }, receipt: { transactionHash: h("c2"), gasUsed: 21_000n } }]);
  });

  it("a reverted hedge settles as reverted", async () => {
    const pending = new PendingHedges(receiptChain({ [h("a1")]: { status: "reverted" } }).client, 1);
    pending.add(sentHedge(), 0);
    expect(await pending.poll(10n)).toMatchObject([{ kind: "reverted", sent: { hash: h("a1") }, receipt: { status: "reverted" } }]);
  });

  it("reads the deltas from the vault's own Rebalanced event, past other contracts' logs and the vault's other events", async () => {
    const vaultLog = VAULT.toLowerCase() as Address; // nodes return log addresses in lower case
    const logs = [
      rebalancedLog(OTHER, { before: 111n, after: 222n, out: 333n }), // another vault hedged in the same transaction
      {
        address: vaultLog,
        topics: encodeEventTopics({ abi: optionVaultAbi, eventName: "Transfer", args: { from: VAULT, to: KEEPER.address } }),
        data: encodeAbiParameters([{ type: "uint256" }], [7n]),
      },
      { address: vaultLog, topics: [keccak256(toHex("NotInTheVaultAbi(uint256)"))], data: "0x" }, // undecodable: skipped
      rebalancedLog(vaultLog, { before: -5n * 10n ** 18n, after: -(10n ** 17n), out: 4_900n * 10n ** 6n }),
    ];
    const pending = new PendingHedges(receiptChain({ [h("a1")]: { logs } as never }).client, 1);
    pending.add(sentHedge(), 0);
    const [outcome] = await pending.poll(10n);
    expect(outcome).toMatchObject({ kind: "mined", deltaBeforeWad: -5n * 10n ** 18n, deltaAfterWad: -(10n ** 17n), amountOut: 4_900n * 10n ** 6n });
  });

  it("a successful transaction without the vault's event is mined, with no deltas claimed", async () => {
    const logs = [rebalancedLog(OTHER, { before: 1n, after: 2n, out: 3n })];
    const pending = new PendingHedges(receiptChain({ [h("a1")]: { logs } as never }).client, 1);
    pending.add(sentHedge(), 0);
    const [outcome] = await pending.poll(10n);
    expect(outcome?.kind).toBe("mined");
    expect(outcome).not.toHaveProperty("deltaBeforeWad");
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// simulateHedge, against a scripted eth_estimateGas
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/** A node that answers eth_estimateGas with `answer` (a gas amount, or an error to throw) and nothing else. */
function estimator(answer: bigint | object) {
  return recordingClient({ request: async () => Promise.reject(new Error("only eth_estimateGas is scripted")) }, (call) => {
    if (call.method !== "eth_estimateGas") return undefined;
    if (typeof answer === "bigint") return numberToHex(answer);
    throw answer;
  });
}

const simulate = (client: PublicClient, gasLimitPerHedge = 500_000n) =>
  simulateHedge(
    { client, account: KEEPER, gasLimitPerHedge },
    { vault: VAULT, order: { buyUnderlying: true, amountIn: ARGS[1], minAmountOut: ARGS[2] } as never, deadline: ARGS[3], blockNumber: 77n },
  );

const reverting = (data: Hex) => ({ code: 3, message: "execution reverted", data });

describe("simulateHedge", () => {
  it("a revert is decoded into HedgeSimulationError naming the vault's error and its arguments; nothing is sent", async () => {
    const rpc = estimator(reverting(encodeErrorResult({ abi: hedgeAbi, errorName: "SlippageTooHigh", args: [150n, 100n] })));
    const error = await simulate(rpc.client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HedgeSimulationError);
    expect(error).toMatchObject({ name: "HedgeSimulationError", errorName: "SlippageTooHigh", errorArgs: [150n, 100n] });
    expect((error as Error).message).toBe("simulation reverted with SlippageTooHigh(150, 100)");
    expect((error as Error).cause, "the viem error stays reachable").toBeInstanceOf(BaseError);
    expect(rpc.calls.map((c) => c.method)).toEqual(["eth_estimateGas"]);
  });

  it("an error without arguments, and the AMM's own errors, are decoded too", async () => {
    const paused = await simulate(estimator(reverting(encodeErrorResult({ abi: hedgeAbi, errorName: "VaultPaused" }))).client).catch((e: unknown) => e);
    expect(paused).toMatchObject({ errorName: "VaultPaused", errorArgs: [], message: "simulation reverted with VaultPaused()" });
    const amm = await simulate(estimator(reverting(encodeErrorResult({ abi: hedgeAbi, errorName: "InsufficientOutput", args: [1n, 2n] } as never))).client).catch(
      (e: unknown) => e,
    );
    expect(amm).toMatchObject({ errorName: "InsufficientOutput" });
  });

  it("a revert without a reason and an RPC failure are rethrown as they are, not dressed up as a vault error", async () => {
    const bare = await simulate(estimator(reverting("0x")).client).catch((e: unknown) => e);
    expect(bare).toBeInstanceOf(BaseError);
    expect(bare).not.toBeInstanceOf(HedgeSimulationError);
    expect((bare as BaseError).shortMessage).toMatch(/reverted/);

    const down = await simulate(estimator({ code: -32603, message: "upstream connect error" }).client).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(BaseError);
    expect(down).not.toBeInstanceOf(HedgeSimulationError);
    // viem words it as a revert "reason"; what matters here is that the node's own error is still in the chain
    expect((down as BaseError).walk((e) => e instanceof InternalRpcError)).toBeInstanceOf(InternalRpcError);
    expect(errorMessage(down)).toMatch(/upstream connect error/);
  });

  it("decodeRevert leaves anything that is not a viem error alone", () => {
    expect(decodeRevert(new Error("execution reverted"))).toBeUndefined();
    expect(decodeRevert("execution reverted")).toBeUndefined();
  });

  it("gas: 20% over the estimate, capped at GAS_LIMIT_PER_HEDGE; an estimate above the cap is refused", async () => {
    expect((await simulate(estimator(100_000n).client)).gasLimit).toBe(120_000n);
    // 1.2 × 450,000 would exceed the cap: the cap itself, not more
    expect((await simulate(estimator(450_000n).client)).gasLimit).toBe(500_000n);
    // exactly at the cap is allowed
    expect(await simulate(estimator(500_000n).client)).toEqual({ vault: VAULT, call: { functionName: "rebalance", args: ARGS }, gasLimit: 500_000n, blockNumber: 77n });

    const over = await simulate(estimator(500_001n).client).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(GasCapExceededError);
    expect(over).toMatchObject({ name: "GasCapExceededError", estimatedGas: 500_001n, gasCap: 500_000n });
    expect((over as Error).message).toBe("estimated gas 500001 exceeds GAS_LIMIT_PER_HEDGE 500000: not sending");
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────
// Signing and broadcasting, on a node
// ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

describe("sendHedge on a node", () => {
  it("simulates, signs exactly the simulated call at the pool's nonce under the fee caps, and broadcasts it once", async () => {
    const rec = recordingClient(provider);
    const ctx = sendContext(rec.client);
    const nonce = await countAt("pending");
    const blockNumber = BigInt((await rpc("eth_blockNumber")) as Hex);
    const sent = await sendHedge(ctx, { vault: VAULT, order: { buyUnderlying: true, amountIn: ARGS[1], minAmountOut: ARGS[2] } as never, deadline: ARGS[3], blockNumber });

    expect(rec.calls.map((c) => c.method)).toEqual(["eth_estimateGas", "eth_feeHistory", "eth_getTransactionCount", "eth_sendRawTransaction"]);
    expect(rec.calls[2]!.params).toEqual([KEEPER.address, "pending"]);
    const tx = parseTransaction(sent.raw!);
    expect(tx).toMatchObject({ type: "eip1559", chainId: 31337, to: VAULT.toLowerCase(), nonce, gas: sent.gasLimit, ...sent.fees });
    expect(tx.value ?? 0n).toBe(0n);
    expect(decodeFunctionData({ abi: optionVaultAbi, data: tx.data! })).toEqual({ functionName: "rebalance", args: ARGS });
    expect(sent.fees.maxPriorityFeePerGas).toBeLessThanOrEqual(CAPS.maxPriorityFeePerGasWei);
    expect(sent.fees.maxFeePerGas).toBeLessThanOrEqual(CAPS.maxFeePerGasWei);
    expect(sent).toMatchObject({ vault: VAULT, nonce, decidedAtBlock: blockNumber, hash: keccak256(sent.raw!) });

    // The chain has those very bytes, with the gas limit the estimate sized (20% headroom).
    const onChain = (await rpc("eth_getTransactionByHash", [sent.hash])) as { from: string; nonce: Hex; gas: Hex; input: Hex };
    expect(onChain.from.toLowerCase()).toBe(KEEPER.address.toLowerCase());
    expect(Number(BigInt(onChain.nonce))).toBe(nonce);
    const estimate = BigInt((await rpc("eth_estimateGas", [{ from: KEEPER.address, to: VAULT, data: tx.data }])) as Hex);
    expect(BigInt(onChain.gas)).toBe((estimate * 12n) / 10n);

    // The next hedge takes the next nonce, with no new nonce request.
    const second = await broadcastHedge(ctx, await simulated());
    expect(second.nonce).toBe(nonce + 1);
    expect(rec.count("eth_getTransactionCount")).toBe(1);
    expect(rec.count("eth_sendRawTransaction")).toBe(2);
  });

  it("a signer that fails gives its nonce back: nothing sent, the next hedge takes the same nonce", async () => {
    const rec = recordingClient(provider);
    const broken = { ...KEEPER, signTransaction: async () => Promise.reject(new Error("signer unavailable")) } as typeof KEEPER;
    const ctx = { ...sendContext(rec.client), account: broken };
    const nonce = await countAt("pending");
    await expect(signHedge(ctx, await simulated())).rejects.toThrow("signer unavailable");
    expect(ctx.nonces.local).toBe(nonce);
    expect(rec.count("eth_sendRawTransaction")).toBe(0);
    const sent = await broadcastHedge({ ...ctx, account: KEEPER }, await simulated());
    expect(sent.nonce).toBe(nonce);
  });

  it("nonce too low (the key used elsewhere): one send, the node's words in the error, and the next hedge takes the node's nonce", async () => {
    const rec = recordingClient(provider);
    const ctx = sendContext(rec.client);
    await ctx.nonces.resync();
    const stale = ctx.nonces.local!;
    await sendFromElsewhere(stale); // mined: our cached nonce is spent

    const error = await broadcastHedge(ctx, await simulated()).catch((e: unknown) => e);
    expect(errorMessage(error)).toMatch(/nonce too low/i);
    expect(classifyRpcError(error).kind).toBe("nonce-too-low");
    expect(rec.count("eth_sendRawTransaction"), "no second transaction").toBe(1);
    expect(ctx.nonces.local, "re-read from the node").toBe(stale + 1);
    expect((await broadcastHedge(ctx, await simulated())).nonce).toBe(stale + 1);
  });

  it("replacement underpriced (another transaction holds the nonce in the pool): one send, that transaction left in place", async () => {
    await rpc("evm_setAutomine", [false]);
    const rec = recordingClient(provider);
    const ctx = sendContext(rec.client);
    await ctx.nonces.resync();
    const nonce = ctx.nonces.local!;
    const theirs = await sendFromElsewhere(nonce, { maxFeePerGas: parseGwei("40"), maxPriorityFeePerGas: parseGwei("5") });

    const sim = await simulated();
    const error = await broadcastHedge(ctx, sim).catch((e: unknown) => e);
    expect(errorMessage(error)).toMatch(/replacement transaction underpriced/i);
    expect(classifyRpcError(error).kind).toBe("underpriced");
    expect(rec.count("eth_sendRawTransaction")).toBe(1);
    const ours = keccak256(rec.calls.find((c) => c.method === "eth_sendRawTransaction")!.params[0] as Hex);
    expect(await rpc("eth_getTransactionByHash", [ours])).toBeNull();
    expect(ctx.nonces.local, "the pool's count: past the nonce they hold").toBe(nonce + 1);
    await rpc("evm_mine");
    expect(((await rpc("eth_getTransactionReceipt", [theirs])) as { status: Hex }).status).toBe("0x1");
  });

  it("insufficient funds: one send, an error an operator can act on, the nonce not lost", async () => {
    const rec = recordingClient(provider);
    const ctx = sendContext(rec.client, POOR);
    const error = await broadcastHedge(ctx, await simulated()).catch((e: unknown) => e);
    expect(errorMessage(error)).toMatch(/enough funds/i);
    expect(classifyRpcError(error).kind, "retrying changes nothing").toBe("permanent");
    expect(rec.count("eth_sendRawTransaction")).toBe(1);
    expect(ctx.nonces.local).toBe(0);
    expect(await countAt("pending", POOR.address)).toBe(0);
  });

  it("when the nonce cannot be re-read after a refused send, the refused nonce is given back, and the send's error is the one thrown", async () => {
    let reads = 0;
    const rec = recordingClient(provider, (call) => {
      if (call.method === "eth_getTransactionCount" && ++reads > 1) throw { code: -32603, message: "node unreachable" };
      return undefined;
    });
    const ctx = sendContext(rec.client, POOR);
    const error = await broadcastHedge(ctx, await simulated()).catch((e: unknown) => e);
    expect(errorMessage(error)).toMatch(/enough funds/i);
    expect(reads, "the resync was tried").toBe(2);
    expect(ctx.nonces.local).toBe(0);
  });

  it("a broadcast that times out after the node took the bytes: one send, and the next hedge does not reuse its nonce", async () => {
    // A node behind a proxy that passes eth_sendRawTransaction on but never answers it; every later request waits
    // until the node has the bytes, so the outcome does not depend on how fast this machine is.
    let forwarded: Promise<unknown> = Promise.resolve();
    const held: ServerResponse[] = [];
    const sent: Hex[] = [];
    const server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      if (method === "eth_sendRawTransaction") {
        sent.push(params[0] as Hex);
        forwarded = rpc(method, params).catch(() => undefined);
        held.push(res);
        return;
      }
      await forwarded;
      const answer = await rpc(method, params).then(
        (result) => ({ result }),
        (e: { code?: number; message: string }) => ({ error: { code: e.code ?? -32603, message: e.message } }),
      );
      res.setHeader("content-type", "application/json").end(JSON.stringify({ jsonrpc: "2.0", id, ...answer }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const client = createPublicClient({ transport: http(url, { timeout: 2_000, retryCount: 0 }) }) as PublicClient;
      const ctx = sendContext(client);
      const nonce = await countAt("pending");

      const error = await broadcastHedge(ctx, await simulated()).catch((e: unknown) => e);
      expect(errorMessage(error)).toMatch(/took too long/i);
      expect(classifyRpcError(error).kind).toBe("transient");
      expect(sent, "sent once, not retried").toHaveLength(1);
      expect(ctx.nonces.local, "the node has nonce n: the count moved past it").toBe(nonce + 1);

      const next = await broadcastHedge(ctx, await simulated()).catch((e: unknown) => e);
      expect(sent).toHaveLength(2);
      expect(parseTransaction(sent[1]!).nonce).toBe(nonce + 1);
      expect(next).toBeInstanceOf(BaseError); // held too; what matters is that both landed, at two nonces
      await forwarded;
      const first = (await rpc("eth_getTransactionReceipt", [keccak256(sent[0]!)])) as { status: Hex } | null;
      const second = (await rpc("eth_getTransactionReceipt", [keccak256(sent[1]!)])) as { status: Hex } | null;
      expect([first?.status, second?.status]).toEqual(["0x1", "0x1"]);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("cancelling a stuck hedge on a node", () => {
  it("a 0-value self-transfer at the hedge's nonce takes it; re-sending known bytes is no error; the hedge settles as cancelled", async () => {
    await rpc("evm_setAutomine", [false]);
    const rec = recordingClient(provider);
    const ctx = sendContext(rec.client);
    const sent = await broadcastHedge(ctx, await simulated());
    const pending = new PendingHedges(rec.client, 1);
    pending.add(sent, 0);
    expect(await pending.poll(0n), "in the pool, not mined").toEqual([]);

    const bumped = { maxFeePerGas: sent.fees.maxFeePerGas * 2n, maxPriorityFeePerGas: sent.fees.maxPriorityFeePerGas * 2n };
    const cancel = await signCancel(ctx, sent.nonce, bumped);
    expect(cancel.hash).toBe(keccak256(cancel.raw));
    const cancelTx = parseTransaction(cancel.raw);
    expect(cancelTx).toMatchObject({ type: "eip1559", chainId: 31337, to: KEEPER.address.toLowerCase(), nonce: sent.nonce, gas: 21_000n, ...bumped });
    expect([cancelTx.value ?? 0n, cancelTx.data]).toEqual([0n, undefined]);

    expect(await broadcastSigned(ctx, cancel)).toBe(cancel.hash);
    // The same bytes again (a retry after a lost answer): the node knows them, which counts as sent.
    expect(await broadcastSigned(ctx, cancel)).toBe(cancel.hash);
    pending.replace(VAULT, { ...sent, hash: cancel.hash, raw: cancel.raw, fees: bumped, gasLimit: 21_000n }, "cancel");

    await rpc("evm_mine");
    const head = BigInt((await rpc("eth_blockNumber")) as Hex);
    const [outcome] = await pending.poll(head);
    expect(outcome).toMatchObject({ kind: "cancelled", sent: { hash: cancel.hash, nonce: sent.nonce }, receipt: { status: "success", to: KEEPER.address.toLowerCase() } });
    expect(await rpc("eth_getTransactionReceipt", [sent.hash]), "the hedge itself never landed").toBeNull();

    // Its bytes re-sent now would be a stale nonce: an error, not a silent success.
    const stale = await broadcastSigned(ctx, { raw: sent.raw!, hash: sent.hash }).catch((e: unknown) => e);
    expect(classifyRpcError(stale).kind).toBe("nonce-too-low");
  });

  it("'already known' from a client that is not viem's still counts as sent; any other refusal does not", async () => {
    const signed = { raw: "0x02aa" as Hex, hash: h("d1") };
    const known = { sendRawTransaction: async () => Promise.reject(new Error("already known")) } as unknown as PublicClient;
    expect(await broadcastSigned({ client: known }, signed)).toBe(h("d1"));
    const refused = { sendRawTransaction: async () => Promise.reject(new Error("nonce too low")) } as unknown as PublicClient;
    await expect(broadcastSigned({ client: refused }, signed)).rejects.toThrow("nonce too low");
  });
});

afterAll(async () => {
  await rpc("evm_setAutomine", [true]).catch(() => undefined);
});
