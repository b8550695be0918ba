/**
 * Stuck transactions, with the keeper as its own process on a node mining a block every 3 seconds. A node that
 * drops the keeper's hedge from its mempool (hardhat_dropTransaction) leaves it stuck; after
 * REPLACE_AFTER_BLOCKS the keeper re-checks it on fresh state: still wanted → replaced with higher fees and mined
 * once; no longer wanted (here: the vault was paused meanwhile) → cancelled, not bumped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

const REPLACED = "stuck hedge still wanted: replaced with higher fees";
const CANCELLED = "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)";

describe("stuck hedges: replaced when still wanted, cancelled when not", () => {
  let chain: LocalChain;
  let keeper: KeeperProcess | undefined;
  let price = 3000;

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 3000, hedged: true });
  });
  afterEach(async () => {
    await keeper?.stop();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start() {
    const { sys, url } = chain;
    keeper = startKeeperProcess({
      RPC_URL: url,
      LENS_ADDRESS: sys.lens.address,
      VAULTS: sys.vault.address,
      PRIVATE_KEY: TEST_KEYS.keeper,
      POLL_INTERVAL_MS: "100",
      REPLACE_AFTER_BLOCKS: "2",
    });
    return keeper;
  }

  async function moveMarket(): Promise<bigint> {
    price = price === 3000 ? 3300 : 3000;
    return (await chain.moveTo(price)).moved;
  }

  async function dropFirstHedge(k: KeeperProcess): Promise<void> {
    const sent = await k.waitFor("the keeper to send a hedge", (l) => l.msg === "hedge sent");
    const dropped = await chain.sys.publicClient.request({ method: "hardhat_dropTransaction" as never, params: [sent.hash] as never } as never);
    expect(dropped, "the hedge was mined before it could be dropped").toBe(true);
  }

  it("a hedge dropped from the mempool is replaced with higher fees and mined once", async () => {
    const k = start();
    const { sys } = chain;
    await k.waitFor("the keeper's first block", (l) => l.msg === "decision", 20_000);
    const nonceBefore = await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    const moved = await moveMarket();
    await dropFirstHedge(k);
    const replaced = await k.waitFor("the replacement", (l) => l.msg === REPLACED);
    await k.waitFor("the replacement to be mined", (l) => l.msg === "hedge mined");
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events).toHaveLength(1);
    expect(events[0]!.transactionHash).toBe(replaced.hash);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
  });

  it("a stuck hedge that is no longer wanted is cancelled, not bumped", async () => {
    const k = start();
    const { sys } = chain;
    await k.waitFor("the keeper's first block", (l) => l.msg === "decision", 20_000);
    const nonceBefore = await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    const moved = await moveMarket();
    await dropFirstHedge(k);
    // The guardian pauses the vault: the hedge is no longer possible, hence no longer wanted.
    await chain.instant(async () => sys.wait(await sys.vault.write.pause()));
    await k.waitFor("the cancel", (l) => l.msg === CANCELLED);
    await k.waitFor("the cancel to be mined", (l) => l.msg === "cancel mined: the stuck hedge's nonce is settled, no trade");
    expect(k.logged(REPLACED)).toHaveLength(0);
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events).toHaveLength(0);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
  });
});
