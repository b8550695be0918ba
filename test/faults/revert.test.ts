/**
 * A hedge that reverts for slippage: front-run inside the same block by a large swap (higher priority fee) on a
 * chain that mines only when the test says, so the two share a block on every run. The keeper must not retry in a
 * storm: it backs the vault off for RETRY_BACKOFF_BLOCKS, then — the pool back at the oracle — hedges once, at the
 * first block the backoff allows. Sends, nonces and Rebalanced events are counted.
 */
import { afterAll, describe, expect, it } from "vitest";
import { quoteUnits } from "../../harness/system.ts";
import { moveMarketOnDemand, localKeeperEnv, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const REVERTED = "hedge reverted on-chain (state moved between simulation and inclusion): backing off";
const BACKOFF_BLOCKS = 5n;
const BAND = 0.5;

describe("a hedge reverted for slippage", () => {
  let chain: LocalChain | undefined;
  let keeper: KeeperProcess | undefined;

  afterAll(async () => {
    await keeper?.stop();
    await chain?.close();
  });

  it("is not retried in a storm: one reverted send, then one hedge after the backoff", async () => {
    chain = await startLocalChain({ blockIntervalMs: 0 });
    const { sys } = chain;
    const pc = sys.publicClient;
    const frontRun = quoteUnits(2_000_000); // ~2M USDC of WETH buying: moves a 10,000 WETH pool ~13%
    await chain.instant(async () => {
      await sys.wait(await sys.quote.write.mint([sys.admin.account.address, frontRun]));
      await sys.wait(await sys.quote.write.approve([sys.amm.address, frontRun]));
    });
    const nonceBefore = await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    keeper = startKeeperProcess({
      ...localKeeperEnv(chain),
      POLICY_BAND: String(BAND),
      RETRY_BACKOFF_BLOCKS: String(BACKOFF_BLOCKS),
      LOG_LEVEL: "debug",
    });

    // The vault starts unhedged: the keeper sends its hedge — and the front-run joins it in the pool.
    const first = await keeper.waitFor("the keeper's hedge", (l) => l.msg === "hedge sent");
    const deadline = (await pc.getBlock()).timestamp + 600n;
    const frontRunHash = await sys.amm.write.swapExactIn([sys.quote.address, frontRun, 0n, sys.admin.account.address, deadline], {
      maxPriorityFeePerGas: 50n * 10n ** 9n,
      maxFeePerGas: 200n * 10n ** 9n,
    });
    expect(new Set(await chain.pending())).toEqual(new Set([first.hash, frontRunHash]));
    const revertBlock = await chain.mine();
    const [hedgeReceipt, frontRunReceipt] = await Promise.all([
      pc.getTransactionReceipt({ hash: first.hash as `0x${string}` }),
      pc.getTransactionReceipt({ hash: frontRunHash }),
    ]);
    expect(hedgeReceipt.blockNumber).toBe(revertBlock);
    expect(frontRunReceipt.blockNumber).toBe(revertBlock);
    expect(frontRunReceipt.transactionIndex, "the front-run goes first").toBeLessThan(hedgeReceipt.transactionIndex);
    expect(hedgeReceipt.status).toBe("reverted");
    const reverted = await keeper.waitFor("the revert", (l) => l.msg === REVERTED);
    expect(reverted.hash).toBe(first.hash);
    expect(reverted.block).toBe(Number(revertBlock));

    // The arbitrageur brings the pool back to the oracle (refreshing it); the hedge is wanted again at once, but
    // the keeper holds it back until the backoff ends.
    const [, answer] = await sys.oracle.read.latestRoundData();
    const refreshed = await moveMarketOnDemand(chain, Number(answer) / 1e8);
    const lastHeld = revertBlock + BACKOFF_BLOCKS - 1n;
    expect(refreshed).toBeLessThanOrEqual(lastHeld);
    while ((await pc.getBlockNumber()) < lastHeld) await chain.mine();
    const held = await keeper.waitFor("the hedge held back", (l) => l.msg === "hedge held back" && l.block === Number(lastHeld));
    expect(held.reason).toMatch(new RegExp(`until block ${revertBlock + BACKOFF_BLOCKS}$`));
    expect(keeper.logged("hedge sent"), "no send during the backoff").toHaveLength(1);
    expect(await chain.pending()).toEqual([]);

    // The first block the backoff allows: one hedge, mined in the next.
    await chain.mine();
    const retry = await keeper.waitFor("the retried hedge", (l) => l.msg === "hedge sent" && l.hash !== first.hash);
    expect(retry.block).toBe(Number(revertBlock + BACKOFF_BLOCKS));
    expect(retry.nonce).toBe(nonceBefore + 1);
    await chain.mine();
    const mined = await keeper.waitFor("the retried hedge to be mined", (l) => l.msg === "hedge mined");
    expect(mined.hash).toBe(retry.hash);

    // A few more blocks: nothing more to send.
    const head = await chain.mine(3);
    await keeper.waitForBlock(head);
    expect(keeper.logged("hedge sent"), "sends: the reverted one and one retry").toHaveLength(2);
    expect(keeper.logged(REVERTED)).toHaveLength(1);
    expect(await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 2);
    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: 0n });
    expect(events.map((e) => e.transactionHash)).toEqual([retry.hash]);
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
  });
});
