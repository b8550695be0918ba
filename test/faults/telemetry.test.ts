/**
 * The keeper process's telemetry on a chain that mines only when the test says: /metrics scraped and parsed, with
 * the exact counts of one mined hedge; a stale oracle holds hedging back (warning, metric, no transaction) and a
 * fresh answer brings a mined hedge; /readyz turns unready, naming the vault, the stuck hedge or the stale head,
 * and ready again when the cause goes.
 */
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arbitrageTo, priceE8 } from "../../harness/market.ts";
import { sleep, startKeeperProcess, TEST_KEYS, until as untilShared, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const BAND = 0.5;
const MAX_PENDING_BLOCKS = 3;
const MAX_OUT_OF_BAND_BLOCKS = 3;

/** `name{labels} value` lines of the Prometheus text format, as [labels, value] pairs per metric name. */
function parseMetrics(text: string): Map<string, { labels: string; value: number }[]> {
  const out = new Map<string, { labels: string; value: number }[]>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${line}`);
    const list = out.get(m[1]!) ?? [];
    list.push({ labels: m[2] ?? "", value: Number(m[3]) });
    out.set(m[1]!, list);
  }
  return out;
}

/** Polls `fn` until it gives a value; the telemetry server may not answer yet, so a failed poll is "not yet". */
const until = <T>(what: string, fn: () => Promise<T | undefined>) => untilShared(what, fn, { timeoutMs: 60_000, intervalMs: 100, retryErrors: true });

describe("keeper telemetry and a stale oracle", () => {
  let chain: LocalChain;
  let keeper: KeeperProcess;
  let base: string;

  const vaultLabel = () => chain.sys.vault.address.toLowerCase();
  const metrics = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text());
  /** The value of `name` on the series whose labels include every one of `labels` (case-insensitive). */
  const metric = async (name: string, ...labels: string[]) =>
    (await metrics()).get(name)?.find((s) => labels.every((l) => s.labels.toLowerCase().includes(l.toLowerCase())))?.value;
  const readyz = async () => {
    const r = await fetch(`${base}/readyz`);
    return { status: r.status, body: await r.text() };
  };
  const sent = () => keeper.logged("hedge sent");
  const head = () => chain.sys.publicClient.getBlockNumber();

  /** Waits until the keeper has processed the chain's head (its keeper_head_block gauge), and returns it. */
  async function processedHead(): Promise<bigint> {
    const target = await head();
    await until(`the keeper to process block ${target}`, async () => ((await metric("keeper_head_block")) === Number(target) ? true : undefined));
    return target;
  }

  /**
   * Mines one block and waits until the keeper has processed it. Ticks never overlap, so once block n + 1 is
   * processed, everything the keeper did for block n (a send included) is done.
   */
  async function mineProcessed(): Promise<bigint> {
    await chain.mine();
    return processedHead();
  }

  /** Waits for the `n`-th "hedge sent" line, checks the transaction sits unmined in the node's pool, and returns it. */
  async function hedgeInPool(n: number): Promise<{ hash: `0x${string}`; nonce: number; block: number }> {
    await keeper.waitFor(`hedge #${n} sent`, () => sent().length >= n, 60_000);
    const line = sent()[n - 1]! as { hash: `0x${string}`; nonce: number; block: number };
    expect(await chain.pending()).toEqual([line.hash]);
    return line;
  }

  beforeAll(async () => {
    // Unhedged, and no block unless the test mines one.
    chain = await startLocalChain({ blockIntervalMs: 0 });
    const { sys, url } = chain;
    keeper = startKeeperProcess({
      RPC_URL: url,
      LENS_ADDRESS: sys.lens.address,
      VAULTS: sys.vault.address,
      PRIVATE_KEY: TEST_KEYS.keeper,
      POLICY_BAND: String(BAND),
      // The OS picks the port (no race with another test for a fixed one); the URL is the one the keeper logs.
      METRICS_PORT: "0",
      // Blocks come only when the test mines: the head-age rule has its own test (its own keeper) below.
      READY_MAX_HEAD_AGE_SECONDS: "3600",
      READY_MAX_OUT_OF_BAND_BLOCKS: String(MAX_OUT_OF_BAND_BLOCKS),
      READY_MAX_PENDING_BLOCKS: String(MAX_PENDING_BLOCKS),
      REPLACE_AFTER_BLOCKS: "1000",
    });
    base = (await keeper.waitFor("the telemetry server", (l) => l.msg === "serving /metrics, /healthz, /readyz", 60_000)).url as string;
  });

  afterAll(async () => {
    await keeper?.stop();
    await chain?.close();
  });

  it("/metrics is served and parses, with the exact counts of one mined hedge", async () => {
    // The vault starts unhedged: the keeper's first block sends one hedge, which waits in the pool until mined.
    const hedge = await hedgeInPool(1);
    const minedIn = await mineProcessed();
    const receipt = await chain.sys.publicClient.getTransactionReceipt({ hash: hedge.hash });
    expect(receipt.status).toBe("success");
    expect(receipt.blockNumber).toBe(minedIn);
    await keeper.waitFor("the hedge mined", (l) => l.msg === "hedge mined" && l.hash === hedge.hash);

    const m = await metrics();
    const vault = vaultLabel();
    const series = (name: string, ...labels: string[]) =>
      m.get(name)?.find((s) => labels.every((l) => s.labels.toLowerCase().includes(l)))?.value;
    expect(series("keeper_hedges_total", vault, 'result="sent"')).toBe(1);
    expect(series("keeper_hedges_total", vault, 'result="mined"')).toBe(1);
    expect(series("keeper_gas_used_total", vault)).toBe(Number(receipt.gasUsed));
    expect(series("keeper_head_block")).toBe(Number(minedIn));
    expect(series("keeper_pending_transactions")).toBe(0);
    expect(series("keeper_oracle_stale", vault)).toBe(0);
    // The delta the keeper reports is the vault's own at that block, now inside the band.
    const delta = await chain.netDelta(minedIn);
    expect(Math.abs(delta)).toBeLessThanOrEqual(BAND);
    expect(series("keeper_vault_delta", vault)).toBeCloseTo(delta, 6);
    // Exactly one raw transaction left the keeper; reads went out as eth_call.
    expect(series("keeper_rpc_requests_total", 'method="eth_sendrawtransaction"')).toBe(1);
    expect(series("keeper_rpc_requests_total", 'method="eth_call"')).toBeGreaterThan(0);
    expect(m.get("keeper_block_to_broadcast_seconds_count")?.[0]?.value).toBe(1);
    expect(await readyz()).toEqual({ status: 200, body: "ok\n" });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("a stale oracle: a warning, the metric at 1 and no hedge; a fresh answer brings a mined hedge", async () => {
    const { sys } = chain;
    const [, , , lastUpdatedAt] = await sys.oracle.read.latestRoundData();
    // Stale: an hour passes without an oracle update (the vault's maxOracleAge is 3600 s).
    await sys.publicClient.request({ method: "evm_increaseTime" as never, params: [3601] as never } as never);
    await mineProcessed();
    await keeper.waitFor("the stale-oracle warning", (l) => l.msg === "oracle stale: no hedge for this vault until it updates");
    expect(await metric("keeper_oracle_stale", vaultLabel())).toBe(1);

    // The market moves 10% while the feed stays stale: the pool, then a new round dated at the old time (still
    // stale). A fresh feed at this price would call for a hedge; a stale one must not.
    await chain.instant(async () => {
      await arbitrageTo(chain.viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, 3300);
      await sys.wait(await sys.oracle.write.setPriceAt([priceE8(3300), lastUpdatedAt]));
    });
    for (let i = 0; i < 3; i++) await mineProcessed();
    expect(sent()).toHaveLength(1);
    expect(await chain.pending()).toEqual([]);
    expect(await metric("keeper_oracle_stale", vaultLabel())).toBe(1);
    expect(Math.abs(await chain.netDelta())).toBeGreaterThan(BAND);

    // Fresh again at that price: the keeper resumes on its own, and the hedge it sends is mined and in band.
    await chain.instant(async () => sys.wait(await sys.oracle.write.setPrice([priceE8(3300)])));
    await keeper.waitFor("hedging to resume", (l) => l.msg === "oracle fresh again: hedging resumes", 60_000);
    const hedge = await hedgeInPool(2);
    const minedIn = await mineProcessed();
    const receipt = await sys.publicClient.getTransactionReceipt({ hash: hedge.hash });
    expect(receipt.status).toBe("success");
    expect(receipt.blockNumber).toBe(minedIn);
    expect(Math.abs(await chain.netDelta(minedIn))).toBeLessThanOrEqual(BAND);
    expect(await metric("keeper_oracle_stale", vaultLabel())).toBe(0);
  });

  it("/readyz turns unready when a vault stays out of band with nobody hedging it, and ready again after", async () => {
    const { sys } = chain;
    await mineProcessed();
    expect((await readyz()).status).toBe(200);
    const { lastRebalanceBlock } = await sys.vault.read.hedgeStatus();
    // The guardian pauses the vault: nobody can hedge it; a move leaves it out of band.
    await chain.instant(async () => sys.wait(await sys.vault.write.pause()));
    await chain.moveTo(3000);
    expect(Math.abs(await chain.netDelta())).toBeGreaterThan(BAND);
    // Block by block until the out-of-band count passes its limit (a few blocks; bounded by `until`).
    const body = await until("/readyz to fail on the vault", async () => {
      await mineProcessed();
      const r = await readyz();
      return r.status === 503 ? r.body : undefined;
    });
    const { ready, reasons } = JSON.parse(body) as { ready: boolean; reasons: string[] };
    expect(ready).toBe(false);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(
      new RegExp(
        `^vault ${sys.vault.address} out of band for \\d+ blocks \\(max ${MAX_OUT_OF_BAND_BLOCKS}\\) and nobody is hedging it \\(last rebalanced at block ${lastRebalanceBlock}, \\d+ blocks ago\\)$`,
        "i",
      ),
    );
    expect(sent()).toHaveLength(2);

    // Unpaused: the keeper hedges, the hedge is mined, and the keeper is ready again.
    await chain.instant(async () => sys.wait(await sys.vault.write.unpause()));
    const hedge = await hedgeInPool(3);
    const minedIn = await mineProcessed();
    expect((await sys.publicClient.getTransactionReceipt({ hash: hedge.hash })).status).toBe("success");
    expect(Math.abs(await chain.netDelta(minedIn))).toBeLessThanOrEqual(BAND);
    expect(await readyz()).toEqual({ status: 200, body: "ok\n" });
  });

  it("/readyz turns unready when a hedge is stuck, naming its nonce and the block it was sent in", async () => {
    // A move, the hedge sent, and dropped from the pool before any block: nothing mines behind the test's back.
    await chain.moveTo(3300);
    const hedge = await hedgeInPool(4);
    const dropped = await chain.sys.publicClient.request({ method: "hardhat_dropTransaction" as never, params: [hedge.hash] as never } as never);
    expect(dropped).toBe(true);
    expect(await chain.pending()).toEqual([]);
    for (let i = 0; i <= MAX_PENDING_BLOCKS; i++) await mineProcessed();
    const r = await readyz();
    expect(r.status).toBe(503);
    const { reasons } = JSON.parse(r.body) as { reasons: string[] };
    const stuck = reasons.filter((reason) => reason.startsWith("stuck transaction"));
    expect(stuck).toEqual([
      `stuck transaction: hedge for vault ${getAddress(chain.sys.vault.address)} (nonce ${hedge.nonce}) pending for ${MAX_PENDING_BLOCKS + 1} blocks since block ${hedge.block} (max ${MAX_PENDING_BLOCKS})`,
    ]);
  });

  it("/readyz: ready after a block, unready naming the last block when blocks stop, ready again when one comes", async () => {
    // Its own keeper (dry run: it sends nothing), with a head-age rule of 1 s; the first one is stopped.
    await keeper.stop();
    const { sys, url } = chain;
    const watcher = startKeeperProcess({
      RPC_URL: url,
      LENS_ADDRESS: sys.lens.address,
      VAULTS: sys.vault.address,
      DRY_RUN: "true",
      METRICS_PORT: "0",
      READY_MAX_HEAD_AGE_SECONDS: "1",
    });
    try {
      const watcherBase = (await watcher.waitFor("the telemetry server", (l) => l.msg === "serving /metrics, /healthz, /readyz", 60_000)).url as string;
      const probe = async () => {
        const response = await fetch(`${watcherBase}/readyz`);
        return { status: response.status, body: await response.text() };
      };
      const headMetric = async () =>
        parseMetrics(await (await fetch(`${watcherBase}/metrics`)).text()).get("keeper_head_block")?.[0]?.value;
      // Ready right after a processed block. A block is mined each round, so a machine too busy to probe within
      // the 1 s rule just tries again.
      await until("/readyz ready after a fresh block", async () => {
        await chain.mine();
        const target = Number(await head());
        await until(`block ${target} processed`, async () => ((await headMetric()) === target ? true : undefined));
        return (await probe()).status === 200 ? true : undefined;
      });
      // No more blocks: unready, naming the last block processed — the chain's head.
      const last = await head();
      const body = await until("/readyz to fail on a stale head", async () => {
        const r = await probe();
        return r.status === 503 ? r.body : undefined;
      });
      const { ready, reasons } = JSON.parse(body) as { ready: boolean; reasons: string[] };
      expect(ready).toBe(false);
      // (After 5 s without a block the liveness rule adds "loop stalled": a slow probe may see that one too.)
      const stale = reasons.filter((reason) => reason.startsWith("stale head"));
      expect(stale).toHaveLength(1);
      expect(stale[0]).toMatch(new RegExp(`^stale head: last block ${last} processed \\d+\\.\\d s ago \\(max 1\\.0 s\\)$`));
      expect(reasons.filter((reason) => !reason.startsWith("stale head") && !reason.startsWith("loop stalled"))).toEqual([]);

      // A block again: ready again.
      await until("/readyz ready again after a new block", async () => {
        await chain.mine();
        const target = Number(await head());
        await until(`block ${target} processed`, async () => ((await headMetric()) === target ? true : undefined));
        return (await probe()).status === 200 ? true : undefined;
      });
    } finally {
      await watcher.stop();
    }
  });
});
