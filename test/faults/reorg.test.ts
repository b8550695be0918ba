/**
 * A reorg shallower than CONFIRMATIONS, on a chain that mines only when the test says: the keeper's hedge waits in
 * the pool when the chain is snapshotted, is mined and confirmed twice, then the chain reverts to the snapshot (the
 * hedge back in the pool) and a new branch takes it one block later. The keeper must not count the hedge as done
 * before its third confirmation on the branch that survives, must not hedge twice, and — REPLACE_AFTER_BLOCKS equal
 * to CONFIRMATIONS — must not take a hedge mined but short of its confirmations for a stuck one.
 */
import { keccak256, serializeTransaction, type Hash, type PublicClient } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { localKeeperEnv, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const BAND = 0.5;

describe("a reorg before the hedge has its confirmations", () => {
  let chain: LocalChain | undefined;
  let keeper: KeeperProcess | undefined;

  afterAll(async () => {
    await keeper?.stop();
    await chain?.close();
  });

  it("is settled only on the surviving chain, once", async () => {
    chain = await startLocalChain({ blockIntervalMs: 0 });
    const { sys } = chain;
    const pc = sys.publicClient;
    const rpc = (method: string, params: unknown[] = []) => pc.request({ method: method as never, params: params as never } as never);
    const nonceBefore = await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    const head = await pc.getBlockNumber();
    keeper = startKeeperProcess({
      ...localKeeperEnv(chain),
      POLICY_BAND: String(BAND),
      CONFIRMATIONS: "3",
      // As many blocks as confirmations: at head+3 the hedge is three blocks past its decision, so it would count as
      // stuck — but it is mined (two confirmations on the new branch), and a mined hedge is never bumped or cancelled.
      REPLACE_AFTER_BLOCKS: "3",
      LOG_LEVEL: "debug",
    });

    // The vault starts unhedged: the keeper hedges on its first block. Nothing mines until the test says, so the
    // hedge is certainly still in the pool when the snapshot is taken.
    const sent = await keeper.waitFor("the keeper's hedge", (l) => l.msg === "hedge sent");
    const hash = sent.hash as `0x${string}`;
    expect(sent.block).toBe(Number(head));
    expect(await chain.pending(), "the hedge waits in the pool at the snapshot").toEqual([hash]);
    const raw = await signedBytes(pc, hash);
    const snapshot = (await rpc("evm_snapshot")) as string;

    // Mined, then confirmed by a second block: two confirmations of three, and the keeper has seen both blocks.
    await chain.mine();
    const first = await pc.getTransactionReceipt({ hash });
    expect(first.blockNumber).toBe(head + 1n);
    expect(first.status).toBe("success");
    await chain.mine();
    await keeper.waitForBlock(head + 2n);
    expect(keeper.logged("hedge mined"), "settled before its confirmations").toHaveLength(0);

    // The reorg: back to the snapshot — the hedge back in the pool, its receipt gone. The new branch takes it one
    // block later (an empty block first, then the same signed bytes again), so on the surviving chain it sits at a
    // height where the old branch had no hedge, and has fewer confirmations than it had there.
    expect(await rpc("evm_revert", [snapshot])).toBe(true);
    expect(await pc.getBlockNumber()).toBe(head);
    expect(await chain.pending(), "the hedge is back in the pool after the reorg").toEqual([hash]);
    expect(await rpc("hardhat_dropTransaction", [hash])).toBe(true);
    await chain.mine();
    expect(await rpc("eth_sendRawTransaction", [raw])).toBe(hash);
    await chain.mine();
    const survivor = await pc.getTransactionReceipt({ hash });
    expect(survivor.blockNumber).toBe(head + 2n);

    // The keeper's first block past the old head: the hedge has two confirmations on this branch, not three.
    await chain.mine();
    await keeper.waitForBlock(head + 3n);
    expect(keeper.logged("hedge mined"), "settled on the old branch's confirmations").toHaveLength(0);
    await chain.mine();
    const mined = await keeper.waitFor("the hedge mined with 3 confirmations on the new branch", (l) => l.msg === "hedge mined");
    expect(mined.hash).toBe(hash);
    expect(mined.minedInBlock).toBe(Number(survivor.blockNumber));
    expect(mined.block, "settled at its third confirmation on the surviving branch").toBe(Number(head + 4n));

    // Once: one hedge on the surviving chain, one send, one nonce used — and it did its job.
    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: 0n });
    expect(events.map((e) => e.transactionHash)).toEqual([hash]);
    expect(keeper.logged("hedge sent")).toHaveLength(1);
    expect(keeper.lines.filter((l) => /stuck/.test(String(l.msg))), "a mined hedge is never replaced or cancelled").toEqual([]);
    expect(await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
    expect(keeper.lines.filter((l) => (l.level as number) >= 40), "no warning or error through the reorg").toEqual([]);
  });
});

/** The signed bytes of a transaction the node knows, rebuilt from its fields (the node has no raw-transaction call). */
async function signedBytes(client: PublicClient, hash: Hash): Promise<`0x${string}`> {
  const tx = await client.getTransaction({ hash });
  if (tx.type !== "eip1559") throw new Error(`expected an EIP-1559 hedge, got ${tx.type}`);
  const raw = serializeTransaction(
    {
      type: "eip1559",
      chainId: tx.chainId,
      nonce: tx.nonce,
      to: tx.to,
      value: tx.value,
      data: tx.input,
      gas: tx.gas,
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
      accessList: tx.accessList,
    },
    { r: tx.r, s: tx.s, yParity: tx.yParity },
  );
  if (keccak256(raw) !== hash) throw new Error("rebuilt bytes do not hash to the transaction");
  return raw;
}
