/**
 * Hedging in consecutive blocks: a live keeper's transaction lands in the block after the one it read, so the
 * vault's spacing (`nextRebalanceBlock`) is judged there (`landingOffsetBlocks`), and the hedge is simulated there
 * (`landingBlockFor`, `simulateHedge`'s `landingBlock`): with `minRebalanceInterval` 1 the keeper can hedge every
 * block. Pure rules first, then the simulation's requests against a scripted node (a block override where the node
 * has them, "pending" where it refuses or ignores them), then the keeper in process on two local chains, Hardhat
 * (no block overrides: the "pending" path) and anvil (block overrides), with a price move in every block.
 */
import { pino } from "pino";
import {
  createPublicClient,
  custom,
  encodeErrorResult,
  numberToHex,
  parseGwei,
  type Hash,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { HedgeSimulationError, hedgeAbi, landingBlockFor, simulateHedge } from "../../keeper/execution/sendHedge.ts";
import { Keeper } from "../../keeper/keeper.ts";
import { toMarketView } from "../../keeper/pricing/view.ts";
import { planBlock, type PlanOptions } from "../../keeper/tick.ts";
import type { CostModel } from "../../keeper/types.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "../../harness/keeper.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";
import { arbitrageSwap, fundArbitrageur, priceE8, readPool } from "../../harness/market.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";
import { buyOptions, deploySystem, listSeries, type System } from "../../harness/system.ts";
import { vaultSnapshot as snapshot } from "../helpers/snapshot.ts";

const COSTS: CostModel = { gasCostQuote: 0, feeRate: 0.003, eta: 0 };

describe("spacing is judged in the block the hedge lands in", () => {
  it("toMarketView: offset 0 judges the block read, offset 1 the next", () => {
    const s = snapshot({ blockNumber: 1_000n, nextRebalanceBlock: 1_001n });
    expect(toMarketView(s, COSTS).canTrade).toBe(false);
    expect(toMarketView(s, COSTS, undefined, 0).canTrade).toBe(false);
    expect(toMarketView(s, COSTS, undefined, 1).canTrade).toBe(true);
    expect(toMarketView(snapshot({ blockNumber: 1_000n, nextRebalanceBlock: 1_002n }), COSTS, undefined, 1).canTrade).toBe(false);
    // Spacing is one of three conditions: the offset never lifts a pause or a stale oracle.
    expect(toMarketView({ ...s, paused: true }, COSTS, undefined, 1).canTrade).toBe(false);
    expect(toMarketView({ ...s, oracleFresh: false }, COSTS, undefined, 1).canTrade).toBe(false);
  });

  it("planBlock carries PlanOptions.landingOffsetBlocks to the view (default 0: the simulator's model)", () => {
    const s = snapshot({ blockNumber: 1_000n, lastRebalanceBlock: 1_000n, nextRebalanceBlock: 1_001n });
    const options: PlanOptions = {
      policy: { name: "band", band: 0.5, target: "zero" },
      prefs: { riskAversion: 0.01, horizonSeconds: 3600 },
      maxSlippageBps: 100,
      minOutMarginBps: 10,
      tipWei: 0n,
      greeksTolerance: 1e-6,
      pendingVaults: new Set(),
      maxOracleDeviationBps: 10_000,
    };
    const block = { chain: { blockNumber: 1_000n, timestamp: s.timestamp, baseFeePerGas: 0n }, vaults: [s] };
    expect(planBlock(block, options)[0]!.view.canTrade).toBe(false);
    expect(planBlock(block, { ...options, landingOffsetBlocks: 0 })[0]!.view.canTrade).toBe(false);
    expect(planBlock(block, { ...options, landingOffsetBlocks: 1 })[0]!.view.canTrade).toBe(true);
  });

  it("landingBlockFor: the landing block only when the spacing refuses the block read and accepts the landing one", () => {
    expect(landingBlockFor(100n, 101n)).toBe(101n); // the hedge right after our own, interval 1
    expect(landingBlockFor(100n, 100n)).toBeUndefined(); // the block read already passes: simulate it as it is
    expect(landingBlockFor(100n, 50n)).toBeUndefined();
    expect(landingBlockFor(100n, 102n)).toBeUndefined(); // not even the landing block passes (no trade is decided)
    expect(landingBlockFor(100n, 102n, 2)).toBe(102n);
  });
});

describe("simulateHedge in the landing block", () => {
  const KEEPER = privateKeyToAccount(TEST_KEYS.keeper);
  const VAULT = "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const;
  const reverting = (errorName: string, args: readonly unknown[]) => ({
    code: 3,
    message: "execution reverted",
    data: encodeErrorResult({ abi: hedgeAbi, errorName, args } as never),
  });

  /** A node answering `eth_estimateGas` by `answer(params)`: a gas amount, or an error thrown as the node's. */
  function node(answer: (params: unknown[]) => bigint | object) {
    const calls: unknown[][] = [];
    const client = createPublicClient({
      transport: custom(
        {
          async request({ method, params }: { method: string; params?: unknown[] }) {
            if (method !== "eth_estimateGas") throw new Error(`unexpected ${method}`);
            calls.push(params ?? []);
            const a = answer(params ?? []);
            if (typeof a === "bigint") return numberToHex(a);
            throw a;
          },
        },
        { retryCount: 0 },
      ),
    }) as PublicClient;
    return { client, calls };
  }
  const simulate = (client: PublicClient, landingBlock?: bigint) =>
    simulateHedge(
      { client, account: KEEPER, gasLimitPerHedge: 500_000n },
      { vault: VAULT, order: { buyUnderlying: true, amountIn: 10n ** 18n, minAmountOut: 1n } as never, deadline: 2_000_000_000n, blockNumber: 77n, landingBlock },
    );

  it("overrides the block number over the block read's state (one request), and pins the block read without a landing block", async () => {
    const n = node(() => 100_000n);
    expect((await simulate(n.client, 78n)).gasLimit).toBe(120_000n);
    expect(n.calls).toHaveLength(1);
    expect(n.calls[0]!.slice(1)).toEqual(["0x4d", {}, { number: "0x4e" }]);
    expect(n.calls[0]![0]).toMatchObject({ from: KEEPER.address, to: VAULT });

    const pinned = node(() => 100_000n);
    const sim = await simulate(pinned.client);
    expect(sim.blockNumber).toBe(77n);
    expect(pinned.calls.map((p) => p.slice(1))).toEqual([["0x4d"]]);
  });

  it("a node that refuses block overrides (invalid params) is asked at 'pending', then straight away for every later hedge", async () => {
    const n = node((params) => (params.length > 2 ? { code: -32602, message: "Invalid params" } : 150_000n));
    expect((await simulate(n.client, 78n)).gasLimit).toBe(180_000n);
    expect(n.calls.map((p) => p.slice(1))).toEqual([["0x4d", {}, { number: "0x4e" }], ["pending"]]);
    await simulate(n.client, 79n);
    expect(n.calls.map((p) => p.slice(1))).toEqual([["0x4d", {}, { number: "0x4e" }], ["pending"], ["pending"]]);
  });

  it("a node that ignores the override (RebalanceTooSoon, impossible in the landing block) is asked at 'pending'", async () => {
    const n = node((params) => (params.length > 2 ? reverting("RebalanceTooSoon", [77n, 78n]) : 150_000n));
    expect((await simulate(n.client, 78n)).gasLimit).toBe(180_000n);
    expect(n.calls.map((p) => p[1])).toEqual(["0x4d", "pending"]);
  });

  it("any other revert in the landing block is the answer: decoded, no second request", async () => {
    const n = node(() => reverting("SlippageTooHigh", [150n, 100n]));
    const error = await simulate(n.client, 78n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HedgeSimulationError);
    expect(error).toMatchObject({ errorName: "SlippageTooHigh", errorArgs: [150n, 100n] });
    expect(n.calls).toHaveLength(1);
  });

  it("an RPC failure is rethrown as it is, not taken for a node without overrides", async () => {
    const n = node(() => ({ code: -32603, message: "upstream connect error" }));
    const error = await simulate(n.client, 78n).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(HedgeSimulationError);
    expect(String(error)).toMatch(/upstream connect error/);
    expect(n.calls).toHaveLength(1);
  });
});

/**
 * The system on a node that mines only when told, with the vault hedged, `minRebalanceInterval` set to 1, and an
 * arbitrageur funded to realign the pool in the same block as each oracle move.
 */
async function onDemandSystem(node: LocalNode): Promise<{ sys: System; mine: () => Promise<bigint> }> {
  const { viem } = await node.connect();
  const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
  await sys.wait(await sys.vault.write.setHedgeParams([{ ...(await sys.vault.read.hedgeParams()), minRebalanceInterval: 1 }]));
  await fundArbitrageur(sys);
  const rpc = (method: string, params: unknown[] = []) => sys.publicClient.request({ method: method as never, params: params as never } as never);
  await rpc("evm_setAutomine", [false]);
  return {
    sys,
    async mine() {
      await rpc("evm_mine");
      return sys.publicClient.getBlockNumber();
    },
  };
}

for (const [name, options] of [
  ["Hardhat (no block overrides: simulated at 'pending')", {}],
  // FIFO: anvil's fee order ranks by max fee, which would put the market's free transactions before the hedge.
  ["anvil (block overrides)", { anvil: { args: ["--order", "fifo"] } }],
] as const) {
  describe(`minRebalanceInterval 1 and a price move every block, on ${name}`, () => {
    let node: LocalNode;
    let chain: Awaited<ReturnType<typeof onDemandSystem>>;

    beforeAll(async () => {
      node = await startLocalNode(options);
      chain = await onDemandSystem(node);
    });
    afterAll(async () => {
      await node?.close();
    });

    it("hedges land in consecutive blocks", async () => {
      const { sys, mine } = chain;
      expect((await sys.vault.read.hedgeParams()).minRebalanceInterval).toBe(1);
      const pool = await readPool(sys.publicClient, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address });
      const keeper = new Keeper(localKeeperOptions(sys), {
        client: createChainClients({ rpcUrl: node.url }).publicClient,
        account: signerFromPrivateKey(LOCAL_KEEPER_KEY),
        logger: pino({ level: "silent" }),
        nowMs: () => performance.now(),
      });
      // The market pays no tip, so each block's hedge (decided on the block before) executes first, on the state
      // it was simulated against; then the pool is realigned and the oracle moves.
      const free = { maxFeePerGas: parseGwei("50"), maxPriorityFeePerGas: 0n };
      const move = async (price: number) => {
        const swap = await arbitrageSwap(sys.publicClient, pool, priceE8(price));
        const deadline = (await sys.publicClient.getBlock()).timestamp + 600n;
        if (swap) await sys.amm.write.swapExactIn([swap.tokenIn, swap.amountIn, 0n, sys.admin.account.address, deadline], free);
        await sys.oracle.write.setPrice([priceE8(price)], free);
        return mine();
      };

      const sent: Hash[] = [];
      for (const price of [3150, 3000, 3150, 3000]) {
        await move(price);
        const report = await keeper.poll();
        expect(report?.sent, `a hedge for the move to ${price}`).toHaveLength(1);
        sent.push(report!.sent[0]!.hash);
      }
      await mine();
      const receipts = await Promise.all(sent.map((hash) => sys.publicClient.getTransactionReceipt({ hash })));
      expect(receipts.map((r) => r.status)).toEqual(["success", "success", "success", "success"]);
      const first = receipts[0]!.blockNumber;
      expect(receipts.map((r) => r.blockNumber - first), "one hedge in every block").toEqual([0n, 1n, 2n, 3n]);
      const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: first });
      expect(events.map((e) => e.transactionHash as Hex)).toEqual(sent);
    });
  });
}
