/**
 * Stuck transactions, with the keeper as its own process on a node that mines only when the test says — so the
 * hedge is certainly still in the pool when the node drops it (hardhat_dropTransaction), and the blocks the keeper
 * waits are counted exactly. After REPLACE_AFTER_BLOCKS the keeper re-checks the stuck hedge on fresh state: still
 * wanted → replaced at the same nonce with higher fees and mined once; no longer wanted (here: the vault was
 * paused meanwhile) → cancelled by a 0-value self-transfer at that nonce, not bumped.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeFunctionData } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { foldJournal, parseJournal } from "../../keeper/execution/journal.ts";
import { moveMarketOnDemand, localKeeperEnv, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const REPLACED = "stuck hedge still wanted: replaced with higher fees";
const CANCELLED = "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)";

const BAND = 0.5;

describe("stuck hedges: replaced when still wanted, cancelled when not", () => {
  let chain: LocalChain;
  let keeper: KeeperProcess | undefined;
  let price = 3000;
  let journalDir = "";

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
  });
  afterEach(async () => {
    await keeper?.stop();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start() {
    journalDir = mkdtempSync(join(tmpdir(), "keeper-journal-"));
    keeper = startKeeperProcess({
      JOURNAL_DIR: journalDir,
      ...localKeeperEnv(chain),
      POLICY_BAND: String(BAND),
      REPLACE_AFTER_BLOCKS: "2",
      LOG_LEVEL: "debug",
    });
    return keeper;
  }

  /**
   * The keeper idle on a hedged vault, then a price move; returns its hedge for the move (sent in the move's block)
   * after the node dropped it, and the keeper's nonce before it.
   */
  async function dropHedgeForMove(k: KeeperProcess) {
    const { sys } = chain;
    await k.waitForBlock(await sys.publicClient.getBlockNumber());
    expect(k.logged("hedge sent"), "the vault starts hedged").toHaveLength(0);
    const nonceBefore = await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    price = price === 3000 ? 3300 : 3000;
    const moved = await moveMarketOnDemand(chain, price);
    const sent = await k.waitFor("the keeper to send a hedge", (l) => l.msg === "hedge sent");
    expect(sent.block).toBe(Number(moved));
    expect(sent.nonce).toBe(nonceBefore);
    expect(await chain.pending(), "the hedge waits in the pool").toEqual([sent.hash]);
    const dropped = await chain.sys.publicClient.request({ method: "hardhat_dropTransaction" as never, params: [sent.hash] as never } as never);
    expect(dropped).toBe(true);
    expect(await chain.pending()).toEqual([]);
    return { moved, sent, nonceBefore };
  }

  it("a hedge dropped from the mempool is replaced with higher fees and mined once", async () => {
    const k = start();
    const { sys } = chain;
    const { moved, sent, nonceBefore } = await dropHedgeForMove(k);

    // One block later the hedge is not yet stuck: nothing is sent.
    await chain.mine();
    await k.waitForBlock(moved + 1n);
    expect(k.logged(REPLACED)).toHaveLength(0);
    expect(await chain.pending()).toEqual([]);

    // REPLACE_AFTER_BLOCKS after its decision: re-checked, still wanted, replaced at the same nonce, fees up.
    await chain.mine();
    const replaced = await k.waitFor("the replacement", (l) => l.msg === REPLACED);
    expect(replaced.block).toBe(Number(moved + 2n));
    expect(replaced.old).toBe(sent.hash);
    expect(replaced.nonce).toBe(nonceBefore);
    expect(replaced.maxFeeGwei as number).toBeGreaterThan(sent.maxFeeGwei as number);
    expect(await chain.pending()).toEqual([replaced.hash]);
    // Journaled before its broadcast, with its swap deadline: a restart past that deadline must not re-send it.
    const journal = foldJournal(parseJournal(readFileSync(join(journalDir, `journal-31337-${TEST_KEYS.keeperAddress.toLowerCase()}.jsonl`), "utf8")));
    const versions = [...journal.values()].flatMap((intent) => intent.versions);
    expect(versions.map((v) => v.hash)).toEqual([sent.hash, replaced.hash]);
    const inPool = await sys.publicClient.getTransaction({ hash: replaced.hash as `0x${string}` });
    const { args } = decodeFunctionData({ abi: sys.vault.abi, data: inPool.input });
    expect(versions[1]!.deadline).toBe(String(args![3]));

    await chain.mine();
    const mined = await k.waitFor("the replacement to be mined", (l) => l.msg === "hedge mined");
    expect(mined.hash).toBe(replaced.hash);
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events.map((e) => e.transactionHash)).toEqual([replaced.hash]);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
    expect(k.logged("hedge sent"), "the replacement is not a second hedge").toHaveLength(1);
    expect(k.logged(CANCELLED)).toHaveLength(0);
  });

  it("a stuck hedge that is no longer wanted is cancelled, not bumped", async () => {
    const k = start();
    const { sys } = chain;
    const { moved, sent, nonceBefore } = await dropHedgeForMove(k);

    // The guardian pauses the vault in the next block: the hedge is no longer possible, hence no longer wanted.
    await sys.vault.write.pause();
    await chain.mine();
    expect(await sys.vault.read.paused()).toBe(true);
    await k.waitForBlock(moved + 1n);
    expect(k.logged(CANCELLED)).toHaveLength(0);

    await chain.mine();
    const cancelled = await k.waitFor("the cancel", (l) => l.msg === CANCELLED);
    expect(cancelled.block).toBe(Number(moved + 2n));
    expect(cancelled.old).toBe(sent.hash);
    expect(cancelled.nonce).toBe(nonceBefore);
    expect(await chain.pending()).toEqual([cancelled.hash]);

    await chain.mine();
    const settled = await k.waitFor("the cancel to be mined", (l) => l.msg === "cancel mined: the stuck hedge's nonce is settled, no trade");
    expect(settled.hash).toBe(cancelled.hash);
    const cancel = await sys.publicClient.getTransaction({ hash: cancelled.hash as `0x${string}` });
    expect({ to: cancel.to?.toLowerCase(), value: cancel.value, nonce: cancel.nonce }).toEqual({
      to: TEST_KEYS.keeperAddress.toLowerCase(),
      value: 0n,
      nonce: nonceBefore,
    });
    expect(k.logged(REPLACED)).toHaveLength(0);
    expect(k.logged("hedge mined")).toHaveLength(0);
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events).toHaveLength(0);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
  });
});
