/**
 * A nonce taken elsewhere, at run time: another sender on the keeper's key mines a transaction at a pending hedge's
 * nonce, so no version of the hedge can ever be mined. The running keeper must notice from the signer's mined nonce
 * count, settle the hedge as superseded (journaled, counted, one warning naming the likely cause), re-sync its
 * nonce and hedge the vault again — without a restart, without bumping the dead nonce, and without a second hedge.
 *
 * End to end with the keeper as its own process on a node that mines only when the test says (so the taking
 * transaction replaces the hedge in the pool before any block), then in process for the rule itself: which pending
 * hedges `PendingHedges.superseded` settles, at which block it reads the nonce, and what it costs.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, custom, type Address, type Hash } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { foldJournal, parseJournal } from "../../keeper/execution/journal.ts";
import { PendingHedges } from "../../keeper/execution/pending.ts";
import { SUPERSEDED } from "../../keeper/execution/replace.ts";
import { SUPERSEDED_AT_RESTART } from "../../keeper/execution/journaledSend.ts";
import type { SentHedge } from "../../keeper/execution/sendHedge.ts";
import { moveMarketOnDemand, localKeeperEnv, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const BAND = 0.5;
const REPLACED = "stuck hedge still wanted: replaced with higher fees";
const CANCELLED = "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)";
const RECONCILED = "journal reconciled with the chain after a restart";

describe("a pending hedge's nonce taken by another sender on the keeper's key", () => {
  let chain: LocalChain;
  const keepers: KeeperProcess[] = [];

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.stop();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start(journalDir: string): KeeperProcess {
    const k = startKeeperProcess({
      JOURNAL_DIR: journalDir,
      ...localKeeperEnv(chain),
      POLICY_BAND: String(BAND),
      REPLACE_AFTER_BLOCKS: "2",
      METRICS_PORT: "0",
      LOG_LEVEL: "debug",
    });
    keepers.push(k);
    return k;
  }

  it("is settled as superseded within 2 blocks with one warning, and the next hedge is mined: no restart, no duplicate", async () => {
    const { sys } = chain;
    const pc = sys.publicClient;
    const journalDir = mkdtempSync(join(tmpdir(), "keeper-journal-"));
    const k = start(journalDir);
    const metricsUrl = (await k.waitFor("the telemetry server", (l) => l.msg === "serving /metrics, /healthz, /readyz", 60_000)).url as string;
    await k.waitForBlock(await pc.getBlockNumber());
    const nonce = await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress });

    // The keeper hedges a price move; the hedge waits in the pool.
    const moved = await moveMarketOnDemand(chain, 3300);
    const sent = await k.waitFor("the keeper's hedge", (l) => l.msg === "hedge sent");
    expect({ block: sent.block, nonce: sent.nonce }).toEqual({ block: Number(moved), nonce });
    expect(await chain.pending()).toEqual([sent.hash]);

    // Another sender on the same key takes that nonce: a 0-value self-transfer, fees doubled, replaces the hedge
    // in the pool and is mined in the next block.
    const hedgeTx = await pc.getTransaction({ hash: sent.hash as Hash });
    const raw = await privateKeyToAccount(TEST_KEYS.keeper).signTransaction({
      chainId: await pc.getChainId(),
      type: "eip1559",
      to: TEST_KEYS.keeperAddress,
      value: 0n,
      gas: 21_000n,
      nonce,
      maxFeePerGas: hedgeTx.maxFeePerGas! * 2n,
      maxPriorityFeePerGas: hedgeTx.maxPriorityFeePerGas! * 2n,
    });
    const taker = await pc.sendRawTransaction({ serializedTransaction: raw });
    expect(await chain.pending(), "the other sender's transaction replaced the hedge in the pool").toEqual([taker]);
    const taken = await chain.mine();
    expect((await pc.getTransactionReceipt({ hash: taker })).blockNumber).toBe(taken);

    // Within 2 blocks of the taking: superseded, named, journaled; then a fresh hedge at the next nonce.
    const warned = await k.waitFor("the superseded warning", (l) => l.msg === SUPERSEDED);
    expect(warned.level).toBe(40); // pino's warn
    expect({ ...warned, vault: String(warned.vault).toLowerCase() }).toMatchObject({ vault: sys.vault.address.toLowerCase(), hash: sent.hash, nonce, decidedAtBlock: Number(moved) });
    expect(warned.block as number).toBeLessThanOrEqual(Number(taken) + 1);
    const next = await k.waitFor("the next hedge", (l) => l.msg === "hedge sent" && l.hash !== sent.hash);
    expect(next.nonce, "the nonce tracker re-synced past the taken nonce").toBe(nonce + 1);
    expect(await chain.pending()).toEqual([next.hash]);

    const minedIn = await chain.mine();
    const mined = await k.waitFor("the next hedge mined", (l) => l.msg === "hedge mined");
    expect(mined.hash).toBe(next.hash);
    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved });
    expect(events.map((e) => [e.transactionHash, e.blockNumber]), "one hedge for the move: no duplicate").toEqual([[next.hash, minedIn]]);
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);

    // A few quiet blocks: the warning is not repeated and the dead nonce is never replaced or cancelled.
    const quiet = await chain.mine(3);
    await k.waitForBlock(quiet);
    expect(k.lines.filter((l) => (l.level as number) >= 40), "one warning, and no other").toEqual([warned]);
    expect([...k.logged(REPLACED), ...k.logged(CANCELLED)]).toEqual([]);
    expect(k.logged("hedge sent")).toHaveLength(2);
    expect(k.child.exitCode, "the same process all along: no restart").toBeNull();
    expect(k.logged(RECONCILED)).toEqual([]);
    const metrics = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/keeper_hedges_total\{vault="[^"]+",result="superseded"\} 1\n/i);

    // The journal closed the intent as superseded: a restart has nothing to reconcile, warns nothing, sends nothing.
    const file = join(journalDir, `journal-31337-${TEST_KEYS.keeperAddress.toLowerCase()}.jsonl`);
    const records = parseJournal(readFileSync(file, "utf8"));
    expect(records.filter((r) => r.type === "settled").map((r) => r.type === "settled" && r.outcome)).toEqual(["superseded", "mined"]);
    expect([...foldJournal(records).values()].filter((s) => !s.closed)).toEqual([]);
    await k.stop();
    const again = start(journalDir);
    await again.waitForBlock(await chain.mine());
    expect([...again.logged(RECONCILED), ...again.logged(SUPERSEDED_AT_RESTART), ...again.logged("hedge sent")]).toEqual([]);
  });
});

describe("PendingHedges.superseded: the nonce mined by something else", () => {
  const VAULT_A: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const VAULT_B: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
  const SIGNER: Address = TEST_KEYS.keeperAddress;
  const h = (byte: string): Hash => `0x${byte.repeat(32)}`;
  const sent = (vault: Address, nonce: number, hash: Hash): SentHedge => ({
    vault,
    hash,
    nonce,
    gasLimit: 300_000n,
    fees: { maxFeePerGas: 10n, maxPriorityFeePerGas: 1n },
    decidedAtBlock: 100n,
    raw: "0x00",
  });

  /** A node whose signer has mined `minedCount` transactions and which knows the receipts `mined` (hash → block). */
  function node(minedCount: number, mined: Record<Hash, bigint> = {}) {
    const asked: { method: string; params: unknown[] }[] = [];
    const client = createPublicClient({
      transport: custom({
        async request({ method, params }: { method: string; params: unknown[] }) {
          asked.push({ method, params });
          if (method === "eth_getTransactionCount") return `0x${minedCount.toString(16)}`;
          if (method === "eth_getTransactionReceipt") {
            const block = mined[params[0] as Hash];
            if (block === undefined) return null;
            return {
              transactionHash: params[0],
              blockNumber: `0x${block.toString(16)}`,
              blockHash: h("bb"),
              status: "0x1",
              logs: [],
              gasUsed: "0x5208",
              effectiveGasPrice: "0x1",
              cumulativeGasUsed: "0x5208",
              from: SIGNER,
              to: SIGNER,
              transactionIndex: "0x0",
              type: "0x2",
              logsBloom: `0x${"0".repeat(512)}`,
              contractAddress: null,
            };
          }
          throw new Error(`unexpected ${method}`);
        },
      }),
    });
    return { client, asked };
  }

  it("settles only the hedges without a receipt whose nonce the mined count has passed, and forgets them", async () => {
    const { client } = node(6, { [h("b1")]: 100n });
    const pending = new PendingHedges(client, 1);
    pending.add(sent(VAULT_A, 5, h("a1")), 0); // nonce 5, count 6, no receipt: taken by something else
    pending.add(sent(VAULT_B, 6, h("b1")), 0); // mined: a receipt settles it as usual
    const outcomes = await pending.poll(101n);
    expect(outcomes.map((o) => o.sent.hash)).toEqual([h("b1")]);
    const gone = await pending.superseded(101n, SIGNER);
    expect(gone).toEqual([sent(VAULT_A, 5, h("a1"))]);
    expect(pending.size).toBe(0);
  });

  it("keeps a hedge whose nonce is still free, and one mined but short of its confirmations", async () => {
    const { client } = node(5, { [h("b1")]: 101n });
    const pending = new PendingHedges(client, 2);
    pending.add(sent(VAULT_A, 5, h("a1")), 0); // count 5: nonce 5 still free
    pending.add(sent(VAULT_B, 4, h("b1")), 0); // our own version mined at 101, one confirmation of two
    expect(await pending.poll(101n)).toEqual([]);
    expect(await pending.superseded(101n, SIGNER)).toEqual([]);
    expect(pending.size).toBe(2);
  });

  it("reads the nonce CONFIRMATIONS deep, and asks nothing when every pending hedge has a receipt", async () => {
    const deep = node(3);
    const pending = new PendingHedges(deep.client, 3);
    pending.add(sent(VAULT_A, 5, h("a1")), 0);
    await pending.poll(110n);
    expect(await pending.superseded(110n, SIGNER)).toEqual([]);
    expect(deep.asked.filter((c) => c.method === "eth_getTransactionCount").map((c) => c.params)).toEqual([[SIGNER, "0x6c"]]); // 110 − 3 + 1

    const mined = node(9, { [h("a1")]: 109n });
    const waiting = new PendingHedges(mined.client, 3);
    waiting.add(sent(VAULT_A, 5, h("a1")), 0);
    expect(await waiting.poll(110n)).toEqual([]); // mined, two confirmations of three
    expect(await waiting.superseded(110n, SIGNER)).toEqual([]);
    expect(mined.asked.map((c) => c.method)).toEqual(["eth_getTransactionReceipt"]);
  });

  it("checks every version: a fee bump that was mined is no superseded hedge", async () => {
    const { client } = node(6, { [h("a1")]: 100n });
    const pending = new PendingHedges(client, 1);
    pending.add(sent(VAULT_A, 5, h("a1")), 0);
    pending.replace(VAULT_A, sent(VAULT_A, 5, h("a2")), "hedge");
    expect((await pending.poll(101n)).map((o) => o.kind)).toEqual(["mined"]);
    expect(await pending.superseded(101n, SIGNER)).toEqual([]);
  });
});
