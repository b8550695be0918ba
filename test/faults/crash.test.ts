/**
 * Killed (SIGKILL) at each step of a send and restarted: the hedge lands exactly once, at the right nonce, and it
 * is the transaction the journal says. The node mines only when the test says, so each kill happens at a known
 * point, and before each restart the test changes what a fresh decision would produce (a block passes: a new
 * intent id and a new swap deadline, hence other bytes). A restart that re-sends the journaled bytes and one that
 * re-decides from fresh state are then told apart by the hash that lands.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hash } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { foldJournal, intentId, parseJournal, type JournalRecord } from "../../keeper/execution/journal.ts";
import { startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const BAND = 0.5;
const WAIT_MS = 60_000;
const RECONCILED = "journal reconciled with the chain after a restart";

type Signed = Extract<JournalRecord, { type: "signed" }>;

describe("keeper killed at each step of a send, then restarted", () => {
  let chain: LocalChain;
  let chainId: number;

  // Hedged to start with; no block unless the test mines one.
  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
    chainId = await chain.sys.publicClient.getChainId();
  });

  // A failed test must not leave a keeper running or a transaction in the pool for the next one to trip on.
  const running: KeeperProcess[] = [];
  const start = (env: Record<string, string>) => {
    const keeper = startKeeperProcess(env);
    running.push(keeper);
    return keeper;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((k) => k.stop()));
    if ((await chain.pending()).length > 0) await chain.mine();
  });

  afterAll(async () => {
    await chain?.close();
  });

  let price = 3000;

  /** Moves the market out of band; returns the block the keeper will decide on, the nonce it will use, its env. */
  async function outOfBand() {
    price = price === 3000 ? 3300 : 3000;
    let { moved } = await chain.moveTo(price);
    // After a failed test the vault may still be hedged for the other price: then move back to it.
    if (Math.abs(await chain.netDelta()) <= BAND) {
      price = price === 3000 ? 3300 : 3000;
      ({ moved } = await chain.moveTo(price));
    }
    expect(Math.abs(await chain.netDelta())).toBeGreaterThan(BAND);
    const nonce = await chain.sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    const journalDir = mkdtempSync(join(tmpdir(), "keeper-journal-"));
    const env = {
      RPC_URL: chain.url,
      LENS_ADDRESS: chain.sys.lens.address,
      VAULTS: chain.sys.vault.address,
      PRIVATE_KEY: TEST_KEYS.keeper,
      POLICY_BAND: String(BAND),
      POLL_INTERVAL_MS: "100",
      JOURNAL_DIR: journalDir,
      // One "block" line per processed block: how the test knows a tick is done without sleeping.
      LOG_LEVEL: "debug",
    };
    const journal = () => parseJournal(readFileSync(join(journalDir, `journal-${chainId}-${TEST_KEYS.keeperAddress.toLowerCase()}.jsonl`), "utf8"));
    return { moved, nonce, env, journal, id: (block: bigint) => intentId(chainId, chain.sys.vault.address, block) };
  }

  async function killed(keeper: KeeperProcess): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the keeper did not reach its failpoint: ${JSON.stringify(keeper.lines.slice(-5))}`)), WAIT_MS);
    });
    try {
      const { signal } = await Promise.race([keeper.exited, deadline]);
      expect(signal, JSON.stringify(keeper.lines.slice(-5))).toBe("SIGKILL");
    } finally {
      clearTimeout(timer);
      await keeper.stop();
    }
  }

  /** A block with nothing in it: whatever a restarted keeper decides from now on differs from what was signed. */
  async function emptyBlock(): Promise<bigint> {
    expect(await chain.pending()).toEqual([]);
    return chain.mine();
  }

  /** Mines the keeper's hedge once the keeper has finished its tick of the head, and waits until it saw it mined. */
  async function mineAndSettle(keeper: KeeperProcess): Promise<void> {
    await keeper.waitForBlock(await chain.sys.publicClient.getBlockNumber(), WAIT_MS);
    await chain.mine();
    await keeper.waitFor("the hedge mined", (l) => l.msg === "hedge mined", WAIT_MS);
  }

  async function stopCleanly(keeper: KeeperProcess): Promise<void> {
    const { code } = await keeper.stop();
    expect(code, JSON.stringify(keeper.lines.slice(-5))).toBe(0);
  }

  /** Exactly one hedge since the move, by `hash` at `nonce`; nothing else in flight; the delta back in band. */
  async function expectLandedOnce(p: { hash: Hash; nonce: number; moved: bigint }): Promise<void> {
    const { sys } = chain;
    const hedges = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: p.moved + 1n });
    expect(hedges.map((e) => e.transactionHash)).toEqual([p.hash]);
    expect((await sys.publicClient.getTransaction({ hash: p.hash })).nonce).toBe(p.nonce);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(p.nonce + 1);
    expect(await chain.pending()).toEqual([]);
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
  }

  /** The one transaction the killed keeper signed for the move: its hash (the journal holds its bytes). */
  function onlySigned(s: Awaited<ReturnType<typeof outOfBand>>): Hash {
    const signed = s.journal().filter((r): r is Signed => r.type === "signed");
    expect(signed).toMatchObject([{ id: s.id(s.moved), nonce: s.nonce }]);
    return signed[0]!.version.hash;
  }

  /**
   * Restarts the keeper and expects reconciliation to put exactly the journaled `hash` in the pool, the hedge to land
   * once at its nonce, and the journal to settle it without ever signing a second transaction.
   */
  async function restartResends(s: Awaited<ReturnType<typeof outOfBand>>, hash: Hash): Promise<void> {
    const second = start(s.env);
    await second.waitFor("reconciliation", (l) => l.msg === RECONCILED, WAIT_MS);
    expect(await chain.pending()).toEqual([hash]);
    await mineAndSettle(second);
    await stopCleanly(second);

    await expectLandedOnce({ hash, nonce: s.nonce, moved: s.moved });
    const records = s.journal();
    expect(records.filter((r) => r.type === "signed")).toHaveLength(1); // never signed a second time
    expect(foldJournal(records).get(s.id(s.moved))?.closed).toEqual({ type: "settled", detail: `mined ${hash}` });
  }

  it("killed before-sign: nothing was signed, so the restart decides afresh at the new block and hedges once", async () => {
    const s = await outOfBand();
    await killed(start({ ...s.env, KEEPER_FAILPOINT: "before-sign" }));
    expect(s.journal().map((r) => r.type)).toEqual(["intent"]);
    const head = await emptyBlock(); // nothing was broadcast either

    const second = start(s.env);
    const sent = await second.waitFor("the fresh hedge", (l) => l.msg === "hedge sent", WAIT_MS);
    await mineAndSettle(second);
    await stopCleanly(second);

    await expectLandedOnce({ hash: sent.hash as Hash, nonce: s.nonce, moved: s.moved });
    const intents = foldJournal(s.journal());
    expect(intents.get(s.id(s.moved))?.closed?.type).toBe("abandoned");
    expect(intents.get(s.id(head))).toMatchObject({
      nonce: s.nonce,
      versions: [{ hash: sent.hash }],
      closed: { type: "settled", detail: `mined ${sent.hash}` },
    });
  });

  it("killed after-journal: signed but never broadcast; the restart broadcasts the journaled bytes, not a new decision", async () => {
    const s = await outOfBand();
    await killed(start({ ...s.env, KEEPER_FAILPOINT: "after-journal" }));
    const hash = onlySigned(s);
    await emptyBlock(); // proves the kill came before the broadcast
    await restartResends(s, hash);
  });

  it("killed after-broadcast, the transaction then dropped by the node: the restart re-sends the journaled bytes", async () => {
    const s = await outOfBand();
    await killed(start({ ...s.env, KEEPER_FAILPOINT: "after-broadcast" }));
    const hash = onlySigned(s);
    expect(s.journal().some((r) => r.type === "broadcast" && r.hash === hash)).toBe(true);
    expect(await chain.pending()).toEqual([hash]);
    // The node forgets it: only the journal still has the bytes.
    const dropped = await chain.sys.publicClient.request({ method: "hardhat_dropTransaction" as never, params: [hash] as never } as never);
    expect(dropped).toBe(true);
    await emptyBlock();
    await restartResends(s, hash);
  });

  it("killed after-mined, before the journal heard of it: the restart settles it from the receipt and sends nothing", async () => {
    const s = await outOfBand();
    const first = start({ ...s.env, KEEPER_FAILPOINT: "after-mined" });
    const sent = await first.waitFor("the hedge", (l) => l.msg === "hedge sent", WAIT_MS);
    const hash = sent.hash as Hash;
    expect(await chain.pending()).toEqual([hash]);
    await chain.mine(); // the keeper's next tick sees it mined and dies there
    await killed(first);
    expect(s.journal().some((r) => r.type === "settled")).toBe(false);

    const second = start(s.env);
    const reconciled = await second.waitFor("reconciliation", (l) => l.msg === RECONCILED, WAIT_MS);
    expect(reconciled).toMatchObject({ resumed: [], settled: [{ id: s.id(s.moved), outcome: "mined", hash }] });
    // Another block, and the keeper's tick of it: still nothing sent.
    await second.waitForBlock(await chain.mine(), WAIT_MS);
    await stopCleanly(second);

    await expectLandedOnce({ hash, nonce: s.nonce, moved: s.moved });
    expect(foldJournal(s.journal()).get(s.id(s.moved))?.closed).toEqual({ type: "settled", detail: `mined ${hash}` });
  });
});
