/**
 * A local chain for end-to-end tests: an in-process Hardhat node served over JSON-RPC, the system deployed on it
 * with a book of short calls, optionally hedged, then mining a block every `blockIntervalMs` (automine off) —
 * the closest stand-in for a public chain on this machine.
 */
import { arbitrageTo, priceE8 } from "./market.ts";
import { startLocalNode } from "./node.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem, type System } from "./system.ts";

export interface LocalChain {
  url: string;
  port: number;
  viem: HardhatViem;
  sys: System;
  /** Runs `fn` with automine on (quick setup steps), then returns to interval mining. */
  instant<T>(fn: () => Promise<T>): Promise<T>;
  /** The AMM arbitraged to `price`, then the oracle set to it; returns the block of the oracle update (the end). */
  moveTo(price: number): Promise<{ oracleBlock: bigint; moved: bigint }>;
  /** The vault's net delta (underlying units), at `blockNumber` or now. */
  netDelta(blockNumber?: bigint): Promise<number>;
  /** Sets the block interval (0 stops mining: blocks then come only from `mine`). */
  mineEvery(ms: number): Promise<void>;
  /** Mines `blocks` blocks now (default 1), whatever the interval; returns the new head. */
  mine(blocks?: number): Promise<bigint>;
  /** Hashes of the transactions waiting in the node's pool (sent, not yet mined). */
  pending(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * `blockIntervalMs: 0` gives a chain that mines only when the test calls `mine()`: the way to make a race the test
 * is about (a kill before a block, a front-run inside one block) happen the same way on every run.
 */
export async function startLocalChain(options: {
  blockIntervalMs: number;
  calls?: number;
  hedged?: boolean;
  /** A Hardhat network of hardhat.config.ts to simulate (default `default`, an L1; `opSimulated`: an OP-stack chain). */
  network?: string;
  /** Runs on the fresh node before anything is deployed (set a predeploy's storage, a mock's code…). */
  prepare?: (rpc: (method: string, params?: unknown[]) => Promise<unknown>) => Promise<void>;
}): Promise<LocalChain> {
  const node = await startLocalNode(options.network === undefined ? {} : { network: options.network });
  const { url, port } = node;
  const { viem } = await node.connect();
  if (options.prepare) {
    const client = await viem.getPublicClient();
    await options.prepare((method, params = []) => client.request({ method: method as never, params: params as never } as never));
  }
  const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, options.calls ?? 20);
  if (options.hedged) {
    const netDeltaWad = await sys.vault.read.netDeltaWad();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, -netDeltaWad]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
  }
  const rpc = (method: string, params: unknown[] = []) => sys.publicClient.request({ method: method as never, params: params as never } as never);
  let interval = options.blockIntervalMs;
  const mineEvery = async (ms: number) => {
    interval = ms;
    await rpc("evm_setAutomine", [false]);
    await rpc("evm_setIntervalMining", [ms]);
  };
  await mineEvery(interval);

  const instant = async <T>(fn: () => Promise<T>): Promise<T> => {
    await rpc("evm_setAutomine", [true]);
    try {
      return await fn();
    } finally {
      await rpc("evm_setAutomine", [false]);
    }
  };

  return {
    url,
    port,
    viem,
    sys,
    instant,
    mineEvery,
    async mine(blocks = 1) {
      for (let i = 0; i < blocks; i++) await rpc("evm_mine");
      return sys.publicClient.getBlockNumber();
    },
    async pending() {
      const block = (await rpc("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
      return block.transactions;
    },
    // The pool first, the oracle last: each step is its own block, and a keeper watching every block must never
    // see the new oracle price against the old pool (it would size a hedge the arbitrage then makes revert).
    moveTo: (price) =>
      instant(async () => {
        await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price);
        const receipt = await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
        return { oracleBlock: receipt.blockNumber, moved: await sys.publicClient.getBlockNumber() };
      }),
    async netDelta(blockNumber) {
      return Number(await sys.vault.read.netDeltaWad(blockNumber === undefined ? {} : { blockNumber })) / 1e18;
    },
    close: node.close,
  };
}
