/**
 * The keeper as its own process against a forked chain — the closest this machine has to a public testnet. The
 * system is deployed to an upstream node; a second node forks it and mines only when the test says; the keeper
 * (`node keeper/index.ts run`) watches the fork over HTTP. After a price move the keeper's hedge lands in the next
 * block with the vault's delta back inside the band; with --dry-run it decides the same every block and sends
 * nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { arbitrageTo, priceE8 } from "../../harness/market.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem } from "../../harness/system.ts";
import { startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";

const BAND = 0.5;

describe("keeper process on a forked chain", () => {
  let upstream: LocalNode;
  let fork: LocalNode;
  let forkUrl: string;
  let viem: HardhatViem;
  let keeper: KeeperProcess | undefined;
  let addresses: { vault: Address; lens: Address; oracle: Address; amm: Address; quote: Address; underlying: Address };

  beforeAll(async () => {
    upstream = await startLocalNode();
    const upstreamUrl = upstream.url;
    const conn = await upstream.connect();
    const sys = await deploySystem(conn.viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await conn.viem.getWalletClients())[2]!.account.address;
    const call = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, buyer, call.id, 20);
    // Start hedged: the keeper's job in the test is the move that follows.
    const netDeltaWad = await sys.vault.read.netDeltaWad();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, -netDeltaWad]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
    addresses = {
      vault: sys.vault.address,
      lens: sys.lens.address,
      oracle: sys.oracle.address,
      amm: sys.amm.address,
      quote: sys.quote.address,
      underlying: sys.underlying.address,
    };

    // No automine, no interval: blocks come only from `mine`, so what the keeper sees before a block is fixed.
    fork = await startLocalNode({ network: "fork", override: { forking: { url: upstreamUrl }, mining: { auto: false, interval: 0 } } });
    forkUrl = fork.url;
    viem = (await fork.connect()).viem;
  });

  afterEach(async () => {
    await keeper?.stop();
    keeper = undefined;
  });

  afterAll(async () => {
    await fork?.close();
    await upstream?.close();
  });

  const startKeeper = (args: string[]) =>
    (keeper = startKeeperProcess(
      {
        RPC_URL: forkUrl,
        LENS_ADDRESS: addresses.lens,
        VAULTS: addresses.vault,
        PRIVATE_KEY: TEST_KEYS.keeper,
        POLICY_BAND: String(BAND),
        POLICY_TARGET: "zero",
        LOG_LEVEL: "debug",
      },
      args,
    ));

  const rpc = async (method: string, params: unknown[] = []) =>
    (await viem.getPublicClient()).request({ method: method as never, params: params as never } as never) as Promise<unknown>;

  async function mine(): Promise<bigint> {
    await rpc("evm_mine");
    return (await viem.getPublicClient()).getBlockNumber();
  }

  async function pool(): Promise<string[]> {
    return ((await rpc("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] }).transactions;
  }

  /** The vault as the keeper reads it (`VaultLens.stateOf`), at `blockNumber` or now. */
  async function vaultState(blockNumber?: bigint) {
    const lens = await viem.getContractAt("VaultLens", addresses.lens);
    const [st] = await lens.read.stateOf([addresses.vault, true], blockNumber === undefined ? {} : { blockNumber });
    return st;
  }

  /**
   * The pool arbitraged to `price` (automine on, a few blocks, as an arbitrageur would), then the oracle update in a
   * block the test mines, with automine off again: the keeper never meets the new price against the old pool, and
   * nothing it sends can be mined before the test says. Returns the oracle update's block.
   */
  async function movePrice(price: number): Promise<bigint> {
    await rpc("evm_setAutomine", [true]);
    try {
      await arbitrageTo(viem, addresses, price);
    } finally {
      await rpc("evm_setAutomine", [false]);
    }
    const oracle = await viem.getContractAt("MockOracle", addresses.oracle);
    const hash = await oracle.write.setPrice([priceE8(price)]);
    expect(await pool()).toEqual([hash]);
    const block = await mine();
    expect((await (await viem.getPublicClient()).getTransactionReceipt({ hash })).blockNumber).toBe(block);
    return block;
  }

  it("with --dry-run, decides to hedge every block but sends nothing", async () => {
    const k = startKeeper(["run", "--dry-run"]);
    const publicClient = await viem.getPublicClient();
    try {
      const nonceBefore = await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
      const before = await vaultState();
      await k.waitForBlock(await publicClient.getBlockNumber());
      const moved = await movePrice(3300);
      expect(Math.abs(Number((await vaultState(moved)).netDeltaWad) / 1e18)).toBeGreaterThan(BAND);
      // The move's block and the two after it: the same dry-run decision each time, and the pool stays empty.
      for (const block of [moved, moved + 1n, moved + 2n]) {
        if (block > moved) expect(await mine()).toBe(block);
        await k.waitFor(`a dry-run hedge decision at block ${block}`, (l) => l.msg === "dry run: hedge not sent" && l.block === Number(block));
        expect(await pool()).toEqual([]);
      }
      expect(await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore);
      expect((await vaultState()).lastRebalanceBlock).toBe(before.lastRebalanceBlock);
      expect(k.logged("hedge sent")).toHaveLength(0);
    } finally {
      await k.stop();
      await movePrice(3000); // back where the vault is hedged, for the next test
    }
  });

  it("after a price move, hedges in the next block and brings delta back inside the band", async () => {
    const k = startKeeper(["run"]);
    const publicClient = await viem.getPublicClient();
    const nonceBefore = await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    await k.waitForBlock(await publicClient.getBlockNumber());
    expect(k.logged("hedge sent"), "hedged before the move").toHaveLength(0);

    const moved = await movePrice(3300);
    expect(Math.abs(Number((await vaultState(moved)).netDeltaWad) / 1e18)).toBeGreaterThan(BAND);
    // The keeper answers the move's block with one hedge, which the next block mines.
    const sent = await k.waitFor("the hedge", (l) => l.msg === "hedge sent");
    expect(sent.block).toBe(Number(moved));
    expect(await pool()).toEqual([sent.hash]);
    const next = await mine();
    const mined = await k.waitFor("the hedge mined", (l) => l.msg === "hedge mined");
    expect({ hash: mined.hash, minedInBlock: mined.minedInBlock }).toEqual({ hash: sent.hash, minedInBlock: Number(next) });
    const after = await vaultState(next);
    expect(Math.abs(Number(after.netDeltaWad) / 1e18)).toBeLessThanOrEqual(BAND);
    expect(after.lastRebalanceBlock).toBe(next);

    // Two more blocks: the vault is in its band, nothing more is sent.
    await mine();
    await k.waitForBlock(await mine());
    expect(k.logged("hedge sent")).toHaveLength(1);
    expect(await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
  });
});
