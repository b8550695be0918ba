/**
 * A reorg shallower than CONFIRMATIONS: the block holding the keeper's hedge is replaced (evm_snapshot taken
 * while the hedge sat in the mempool, evm_revert after it was mined with one confirmation). The keeper must not
 * count the hedge as done until it has its confirmations on the surviving chain, and must not hedge twice.
 */
import { afterAll, describe, expect, it } from "vitest";
import { startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

describe("a reorg before the hedge has its confirmations", () => {
  let chain: LocalChain | undefined;
  let keeper: KeeperProcess | undefined;

  afterAll(async () => {
    await keeper?.stop();
    await chain?.close();
  });

  it("is settled only on the surviving chain, once", async () => {
    chain = await startLocalChain({ blockIntervalMs: 2000 });
    const { sys, url } = chain;
    const pc = sys.publicClient;
    const nonceBefore = await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    keeper = startKeeperProcess({
      RPC_URL: url,
      LENS_ADDRESS: sys.lens.address,
      VAULTS: sys.vault.address,
      PRIVATE_KEY: TEST_KEYS.keeper,
      POLL_INTERVAL_MS: "100",
      CONFIRMATIONS: "3",
    });

    // The vault starts unhedged: snapshot while the keeper's hedge waits in the mempool.
    const sent = await keeper.waitFor("the keeper's hedge", (l) => l.msg === "hedge sent");
    const snapshot = (await pc.request({ method: "evm_snapshot" as never } as never)) as string;
    const hash = sent.hash as `0x${string}`;
    const end = Date.now() + 30_000;
    while (Date.now() < end && !(await pc.getTransactionReceipt({ hash }).catch(() => undefined))) await new Promise((r) => setTimeout(r, 25));
    expect(keeper.logged("hedge mined"), "settled before its confirmations").toHaveLength(0);

    // The reorg: back to the snapshot (the hedge back in the mempool), then blocks on the new branch.
    expect(await pc.request({ method: "evm_revert" as never, params: [snapshot] as never } as never)).toBe(true);
    await keeper.waitFor("the hedge mined with 3 confirmations on the new branch", (l) => l.msg === "hedge mined", 40_000);

    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: 0n });
    expect(events).toHaveLength(1);
    expect(keeper.logged("hedge sent")).toHaveLength(1);
    expect(await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
  });
});
