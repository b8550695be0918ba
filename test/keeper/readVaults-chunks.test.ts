/**
 * The lens read in chunks (keeper/chain/readVaults.ts, keeper/chain/lensChunks.ts): chunks sized by the gas
 * budget, issued concurrently and merged in order; a failed chunk split and retried once, its vaults reported as
 * failures when a half fails again; chunks answered from different blocks re-read at the newest. Against a stub
 * (every path, exactly) and against real nodes: a small budget on a normal node gives the single read's very
 * result, and a node whose `eth_call` gas cap is small (Hardhat's EIP-7825 `transactionGasCap`) makes a read
 * planned as one call fail, split, and still return every vault.
 */
import type { NetworkConfigOverride } from "hardhat/types/config";
import type { Address, PublicClient } from "viem";
import { describe, expect, it } from "vitest";
import { createChainClients, RequestCounter } from "../../keeper/chain/clients.ts";
import { halves, lensCallGas, MAX_LIVE_SERIES, planLensChunks, vaultReadGas } from "../../keeper/chain/lensChunks.ts";
import { readVaults, type BookCache, type ReadParams, type VaultRef } from "../../keeper/chain/readVaults.ts";
import { encodeFunctionData } from "viem";
import { optionVaultAbi } from "../../keeper/abi.ts";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import type { VaultSnapshot } from "../../keeper/types.ts";
import { deployVaults, moveMarket, openBooks, RawRpc, sendAndMine } from "../../harness/manyVaults.ts";
import { startLocalNode } from "../../harness/node.ts";
import { deploySystem, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "../../harness/system.ts";

const ZERO = "0x0000000000000000000000000000000000000000" as const;
const addr = (i: number) => `0x${(i + 1).toString(16).padStart(40, "0")}` as Address;
const refs = (n: number): VaultRef[] => Array.from({ length: n }, (_, i) => ({ address: addr(i), quoteDecimals: 6, underlyingDecimals: 18 }));

describe("planLensChunks", () => {
  it("fills each chunk up to the budget, in order, and a vault not seen yet counts as a full book", () => {
    const vaults = refs(100);
    const ten = new Map(vaults.map((v) => [v.address, 10]));
    const budget = 16_000_000;
    const chunks = planLensChunks(vaults, budget, ten);
    expect(chunks.flat()).toEqual(vaults);
    for (const chunk of chunks) expect(lensCallGas(chunk.map(() => 10))).toBeLessThanOrEqual(budget);
    // Full: one more vault would not have fitted.
    for (const chunk of chunks.slice(0, -1)) expect(lensCallGas([...chunk, vaults[0]!].map(() => 10))).toBeGreaterThan(budget);
    expect(planLensChunks(vaults, budget).length).toBeGreaterThan(chunks.length);
    expect(lensCallGas([MAX_LIVE_SERIES])).toBeGreaterThan(vaultReadGas(10));
  });

  it("counts a vault's perp market (+50k light, +66k full, measured +45.7k / +59.9k): fewer perp vaults fit a chunk", () => {
    const vaults = refs(100);
    const ten = new Map(vaults.map((v) => [v.address, 10]));
    const perps = new Set(vaults.map((v) => v.address));
    expect(vaultReadGas(10, false, true) - vaultReadGas(10, false)).toBe(50_000);
    expect(vaultReadGas(10, true, true) - vaultReadGas(10, true)).toBe(66_000);
    for (const full of [false, true]) {
      const plain = planLensChunks(vaults, 4_000_000, ten, full);
      const withPerp = planLensChunks(vaults, 4_000_000, ten, full, perps);
      expect(withPerp.flat()).toEqual(vaults);
      expect(withPerp.length).toBeGreaterThan(plain.length);
      for (const chunk of withPerp) expect(chunk.length * (vaultReadGas(10, full, true)) + 40_000).toBeLessThanOrEqual(4_000_000);
    }
  });

  it("gives a vault too large for the budget a chunk of its own, and an empty list no chunk", () => {
    expect(planLensChunks(refs(3), 1)).toEqual(refs(3).map((v) => [v]));
    expect(planLensChunks([], 16_000_000)).toEqual([]);
    expect(halves([1, 2, 3])).toEqual([[1, 2], [3]]);
  });
});

/** A stub lens: one snapshot per vault (its index in `ammFeeBps`), the block given by `blockOf`, failing as told. */
function stubLens(p: { failIf?: (vaults: readonly Address[]) => boolean; blockOf?: (call: number, pinned?: bigint) => bigint }) {
  const calls: { vaults: Address[]; blockNumber?: bigint }[] = [];
  const client = {
    readContract: async (args: { args: [Address[], boolean, Address]; blockNumber?: bigint }) => {
      const [vaults, full] = args.args;
      calls.push({ vaults, ...(args.blockNumber !== undefined ? { blockNumber: args.blockNumber } : {}) });
      if (p.failIf?.(vaults)) throw new Error("out of gas: gas required exceeds allowance");
      const blockNumber = p.blockOf?.(calls.length, args.blockNumber) ?? args.blockNumber ?? 100n;
      const chain = { blockNumber, timestamp: 1_000n, baseFeePerGas: 1n, chainId: 31337n, accountBalance: 0n };
      return [chain, vaults.map((vault) => ({ vault, ok: true, revertData: "0x", state: stateFor(vault, blockNumber, full), book: [] }))];
    },
  } as unknown as PublicClient;
  return { client, calls };
}

function stateFor(vault: Address, blockNumber: bigint, full: boolean) {
  const zeroHedge = { maxSlippageBps: 0, minRebalanceInterval: 0, maxOracleAge: 0, maxTradeWad: 0n, deltaToleranceWad: 0n, bandWad: 0n, budgetWindowSeconds: 0, notionalBudget: 0, slippageBudget: 0 };
  const zeroRisk = { volWad: 0n, rateWad: 0n, spreadBps: 0, latencyBps: 0, capitalChargeBps: 0, minPremiumBps: 0 };
  return {
    full, bookHash: `0x${"00".repeat(32)}`,
    bookDeltaWad: 0n, netDeltaWad: 0n, gammaWad: 0n, vegaWad: 0n, hedgeBalance: 0n, cashBalance: 0n, pendingPayouts: 0n, totalAssets: 0n,
    spotWad: 0n, oracleRoundId: 0n, oracleUpdatedAt: 0n, oracleAgeSeconds: 0n, oracleFresh: true, oracleStatus: 0,
    ammReserveUnderlying: 0n, ammReserveQuote: 0n, ammFeeBps: BigInt(vault), lastRebalanceBlock: 0n, nextRebalanceBlock: 0n,
    notionalLeftWad: 0n, slippageLeftWad: 0n, liveSeries: 3n, settlementPending: false, paused: false,
    hedge: zeroHedge, risk: zeroRisk, blockNumber, timestamp: 1_000n,
  };
}

const params = (n: number, extra: Partial<ReadParams> = {}): ReadParams => ({ lens: ZERO, vaults: refs(n), account: ZERO, ...extra });

describe("readVaults in chunks (stub lens)", () => {
  it("issues one call per planned chunk, at most `concurrency` at once, and merges the vaults in order", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { client, calls } = stubLens({});
    const slow = {
      readContract: async (args: never) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return (client.readContract as (a: never) => unknown)(args);
      },
    } as unknown as PublicClient;
    const seriesCounts = new Map<Address, number>();
    const read = await readVaults(slow, params(50, { callGasBudget: 2_000_000, concurrency: 3, seriesCounts }));
    expect(calls.length).toBe(planLensChunks(refs(50), 2_000_000).length);
    expect(calls.length).toBeGreaterThan(3);
    expect(maxInFlight).toBe(3);
    expect(read.vaults.map((v) => v.vault)).toEqual(refs(50).map((v) => v.address));
    expect(read.failures).toEqual([]);
    // What it saw sizes the next read.
    expect([...seriesCounts.values()]).toEqual(Array(50).fill(3));
  });

  it("splits a failed chunk and retries each half once; a half that fails again is reported vault by vault", async () => {
    // Calls of more than 12 vaults fail, and so does any call holding vault #0.
    const { client, calls } = stubLens({ failIf: (vs) => vs.length > 12 || vs.includes(addr(0)) });
    const read = await readVaults(client, params(24, { callGasBudget: 1_000_000_000 }));
    expect(calls.map((c) => c.vaults.length)).toEqual([24, 12, 12]); // one chunk, then its halves, once each
    expect(read.vaults.map((v) => v.vault)).toEqual(refs(24).slice(12).map((v) => v.address));
    expect(read.failures.map((f) => f.vault)).toEqual(refs(24).slice(0, 12).map((v) => v.address));
    expect(read.failures[0]!.reason).toMatch(/lens read failed for this chunk of 12 vault\(s\): .*out of gas/);

    const ok = stubLens({ failIf: (vs) => vs.length > 10 });
    const split = await readVaults(ok.client, params(20, { callGasBudget: 1_000_000_000 }));
    expect(ok.calls.map((c) => c.vaults.length)).toEqual([20, 10, 10]);
    expect(split.vaults.map((v) => v.vault)).toEqual(refs(20).map((v) => v.address));
  });

  it("throws when every chunk failed: nothing was read", async () => {
    const { client } = stubLens({ failIf: () => true });
    await expect(readVaults(client, params(4, { callGasBudget: 1_000_000_000 }))).rejects.toThrow(/out of gas/);
  });

  it("reads again, at the newest block, a chunk answered from an older one: every vault seen at one block", async () => {
    // The first call answers from block 100, the others from 101 (a block mined meanwhile); pinned reads answer their pin.
    const { client, calls } = stubLens({ blockOf: (n, pinned) => pinned ?? (n === 1 ? 100n : 101n) });
    const read = await readVaults(client, params(30, { callGasBudget: 3_000_000, concurrency: 1 }));
    expect(read.chain.blockNumber).toBe(101n);
    expect(read.vaults.every((v) => v.blockNumber === 101n)).toBe(true);
    expect(calls.filter((c) => c.blockNumber === 101n)).toHaveLength(1);
    expect(read.vaults.map((v) => v.vault)).toEqual(refs(30).map((v) => v.address));
  });
});

describe("readVaults light (stub lens)", () => {
  it("a vault whose changed book cannot be read in full is reported as a failure; the others are priced from their kept books", async () => {
    const fullCalls: Address[][] = [];
    const client = {
      readContract: async (args: { args: [Address[], boolean, Address] }) => {
        const [vaults, full] = args.args;
        if (full) {
          fullCalls.push(vaults);
          throw new Error("upstream timeout");
        }
        const chain = { blockNumber: 100n, timestamp: 1_000n, baseFeePerGas: 1n, chainId: 31337n, accountBalance: 0n };
        return [chain, vaults.map((vault) => ({ vault, ok: true, revertData: "0x", state: stateFor(vault, 100n, false), book: [] }))];
      },
    } as unknown as PublicClient;
    const books: BookCache = new Map([[addr(1), { hash: `0x${"00".repeat(32)}`, series: [] }]]);
    const read = await readVaults(client, params(2, { books }));
    expect(fullCalls.flat()).toContain(addr(0));
    expect(fullCalls.flat()).not.toContain(addr(1));
    expect(read.vaults.map((v) => v.vault)).toEqual([addr(1)]);
    expect(read.failures).toEqual([{ vault: addr(0), reason: expect.stringMatching(/upstream timeout/) }]);
  });
});

/** A node with `vaults` vaults of `series`-series books; `override` for its config. */
async function nodeWithVaults(vaults: number, series: number, override: { transactionGasCap?: bigint } = {}) {
  const node = await startLocalNode({ override: { blockGasLimit: 10_000_000_000n, ...override } as NetworkConfigOverride });
  const { viem } = await node.connect();
  const sys = await deploySystem(viem, { ammDepthUnderlying: 20_000, vaultDeposit: 2_000_000 });
  const rpc = new RawRpc(node.url);
  await rpc.call("evm_setAutomine", [false]);
  const extra = await deployVaults(rpc, sys, vaults - 1, { ammDepth: 20_000, deposit: 2_000_000, series, optionsPerSeries: 2, spot: 3000, ...(override.transactionGasCap ? { maxTxGas: override.transactionGasCap } : {}) });
  const all = [sys.vault.address, ...extra.map((e) => e.vault)];
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  await openBooks(rpc, sys, all, buyer, { series, optionsPerSeries: 2, spot: 3000 });
  await moveMarket(rpc, sys, [sys.amm.address, ...extra.map((e) => e.amm)], 3100);
  const counter = new RequestCounter();
  const { publicClient } = createChainClients({ rpcUrl: node.url, observer: counter });
  const refsOf = all.map((address) => ({ address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }));
  const read = (extra: Partial<ReadParams> = {}) =>
    readVaults(publicClient, { lens: sys.lens.address, vaults: refsOf, account: sys.keeper.account.address, ...extra });
  return { node, read, all, counter, rpc, buyer };
}

describe("readVaults in chunks (on a node)", () => {
  it("a small budget reads in several chunks and returns exactly the single read's result", { timeout: 120_000 }, async () => {
    const { node, read, all } = await nodeWithVaults(24, 10);
    try {
      const single = await read({ callGasBudget: 16_000_000, seriesCounts: new Map(all.map((a) => [a, 10])) });
      expect(planLensChunks(all.map((address) => ({ address })), 16_000_000, new Map(all.map((a) => [a, 10])))).toHaveLength(1);
      const chunked = await read({ callGasBudget: 1_500_000 });
      expect(planLensChunks(all.map((address) => ({ address })), 1_500_000).length).toBeGreaterThanOrEqual(5);
      expect(single.failures).toEqual([]);
      expect(single.vaults).toHaveLength(24);
      expect(single.vaults[5]!.book).toHaveLength(10);
      expect(chunked).toEqual(single);
    } finally {
      await node.close();
    }
  });

  it("a node whose eth_call gas cap is small: a read planned as one call fails, splits, and returns every vault", { timeout: 120_000 }, async () => {
    // 24 ten-series vaults need about 8M gas in one call; this node allows 6M per call (and per transaction).
    const { node, read, all, counter } = await nodeWithVaults(24, 10, { transactionGasCap: 6_000_000n });
    try {
      // Told the books are empty, the planner puts all 24 in one call; the node runs it out of gas.
      const fooled = new Map(all.map((a) => [a, 0]));
      expect(planLensChunks(all.map((address) => ({ address })), 16_000_000, fooled)).toHaveLength(1);
      const before = counter.snapshot().eth_call ?? 0;
      const split = await read({ callGasBudget: 16_000_000, seriesCounts: fooled });
      // The whole read failed once (the node's cap, not ours), then its two halves fitted.
      expect((counter.snapshot().eth_call ?? 0) - before).toBe(3);
      expect(counter.errors().eth_call).toBe(1);
      expect(split.failures).toEqual([]);
      expect(split.vaults.map((v) => v.vault)).toEqual(all);
      // It learnt the books' sizes: the next read is planned to fit.
      expect([...fooled.values()]).toEqual(Array(24).fill(10));
      // The same as a read in chunks small enough from the start.
      expect(await read({ callGasBudget: 3_000_000 })).toEqual(split);
    } finally {
      await node.close();
    }
  });
});

/** Relative difference of two wad amounts, against the larger (0 when both are 0). */
const relDiff = (a: bigint, b: bigint) => {
  const scale = Math.max(Math.abs(wadToNumber(a)), Math.abs(wadToNumber(b)));
  return scale === 0 ? 0 : Math.abs(wadToNumber(a - b)) / scale;
};

describe("readVaults light, with a book cache (on a node)", () => {
  it("reads a book in full only when it is new or changed; between, the vault's own net delta and the kept book priced off-chain", { timeout: 120_000 }, async () => {
    const { node, read, all, counter, rpc, buyer } = await nodeWithVaults(12, 10);
    try {
      const books: BookCache = new Map();
      const calls = async (f: () => Promise<unknown>) => {
        const before = counter.snapshot().eth_call ?? 0;
        const result = await f();
        return { result, calls: (counter.snapshot().eth_call ?? 0) - before };
      };
      const full = await read();
      // First light read: every book is new, so every vault is read again in full (one light call, one full call).
      const first = await calls(() => read({ books }));
      expect(first.calls).toBe(2);
      expect(first.result).toEqual(full);
      expect(books.size).toBe(12);
      // Second: nothing changed, one light call; the chain's net and book delta exactly, gamma, vega and each
      // series priced off-chain within float precision of the lens's on-chain pricing.
      const second = await calls(() => read({ books }));
      expect(second.calls).toBe(1);
      const light = (second.result as typeof full).vaults;
      expect(light).toHaveLength(12);
      light.forEach((v: VaultSnapshot, i) => {
        const f = full.vaults[i]!;
        const { book, gammaWad, vegaWad, ...rest } = v;
        const { book: fb, gammaWad: fg, vegaWad: fv, ...frest } = f;
        expect(rest).toEqual(frest);
        expect(relDiff(gammaWad, fg)).toBeLessThan(1e-9);
        expect(relDiff(vegaWad, fv)).toBeLessThan(1e-9);
        expect(book.map((s) => [s.id, s.sizeWad])).toEqual(fb.map((s) => [s.id, s.sizeWad]));
        book.forEach((s, k) => {
          expect(relDiff(s.deltaWad, fb[k]!.deltaWad)).toBeLessThan(1e-9);
          expect(relDiff(s.markWad, fb[k]!.markWad)).toBeLessThan(1e-9);
        });
      });
      // A trade on one vault changes its book hash: that vault alone is read again in full, and its new size is seen.
      const vault = all[3]!;
      const series = full.vaults[3]!.book[0]!;
      await sendAndMine(rpc, [{ from: buyer, to: vault, data: encodeFunctionData({ abi: optionVaultAbi, functionName: "openPosition", args: [series.id, 10n ** 18n, 10n ** 12n, buyer] }), gas: 1_500_000n }]);
      const third = await calls(() => read({ books }));
      expect(third.calls).toBe(2);
      const after = (third.result as typeof full).vaults;
      expect(after[3]!.book[0]!.sizeWad).toBe(series.sizeWad - 10n ** 18n);
      expect(books.get(vault)!.series[0]!.sizeWad).toBe(series.sizeWad - 10n ** 18n);
      expect(after[3]).toEqual((await read()).vaults[3]);
    } finally {
      await node.close();
    }
  });
});
