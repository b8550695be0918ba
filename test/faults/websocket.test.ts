/**
 * Blocks over a WebSocket subscription, a subscription that never delivers, and the per-vault gas budget — each
 * with the keeper as its own process, on a node that mines only when the test says. Every hedge is shown waiting
 * in the pool, then mined in the very next block, in band.
 */
import { getAddress } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sleep, startKeeperProcess, TEST_KEYS, until as untilShared, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";
import { unusedPort } from "../../harness/node.ts";

const BAND = 0.5;

/** Polls `fn` until it gives a value; the telemetry server may not answer yet, so a failed poll is "not yet". */
const until = <T>(what: string, fn: () => Promise<T | undefined>) => untilShared(what, fn, { timeoutMs: 60_000, intervalMs: 100, retryErrors: true });

describe("keeper blocks over WebSocket, and its gas budget", () => {
  let chain: LocalChain;
  let keeper: KeeperProcess | undefined;
  let price = 3000;

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
  });
  afterEach(async () => {
    await keeper?.stop();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start(env: Record<string, string>) {
    const { sys, url } = chain;
    keeper = startKeeperProcess({ RPC_URL: url, LENS_ADDRESS: sys.lens.address, VAULTS: sys.vault.address, PRIVATE_KEY: TEST_KEYS.keeper, POLICY_BAND: String(BAND), ...env });
    return keeper;
  }

  /** Moves the market 10% (pool, then oracle; each its own block) and returns the new head. */
  async function move(): Promise<bigint> {
    price = price === 3000 ? 3300 : 3000;
    const { moved } = await chain.moveTo(price);
    expect(Math.abs(await chain.netDelta(moved)), "the move leaves the vault out of band").toBeGreaterThan(BAND);
    return moved;
  }

  /** The `n`-th hedge sent is waiting in the pool; the next block mines it and puts the vault in band. */
  async function minedNextBlockInBand(k: KeeperProcess, n: number, moved: bigint, timeoutMs = 60_000): Promise<void> {
    await k.waitFor(`hedge #${n} sent`, () => k.logged("hedge sent").length >= n, timeoutMs);
    const { hash } = k.logged("hedge sent")[n - 1] as { hash: `0x${string}` };
    expect(await chain.pending()).toEqual([hash]);
    expect(await chain.sys.publicClient.getBlockNumber(), "no block mined since the move").toBe(moved);
    const block = await chain.mine();
    const receipt = await chain.sys.publicClient.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    expect(receipt.blockNumber).toBe(moved + 1n);
    expect(Math.abs(await chain.netDelta(block))).toBeLessThanOrEqual(BAND);
  }

  it("takes blocks from a newHeads subscription: the hedge for a move is mined in the next block", async () => {
    // The safety-net poll runs every max(5 × 60 s, 5 s) = 5 min: within this test, only the subscription ticks.
    // METRICS_PORT 0: the OS picks the port, and the URL is read from the keeper's log line.
    const k = start({ WS_URL: `ws://127.0.0.1:${chain.port}`, POLL_INTERVAL_MS: "60000", METRICS_PORT: "0" });
    const starting = await k.waitFor("startup", (l) => l.msg === "keeper starting");
    expect(starting.mode).toBe("websocket");
    const base = (await k.waitFor("the telemetry server", (l) => l.msg === "serving /metrics, /healthz, /readyz")).url as string;
    const headProcessed = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(/^keeper_head_block (\d+)$/m.exec(text)?.[1]);
    };
    // The subscription is live once a block mined after startup is processed: mine until one is (a block
    // mined before the subscription exists is never announced, so each round mines a new one).
    await until("a block announced over the subscription", async () => {
      const block = await chain.mine();
      const end = Date.now() + 2_000;
      while (Date.now() < end) {
        if ((await headProcessed()) === Number(block)) return true;
        await sleep(50);
      }
      return undefined;
    });
    await minedNextBlockInBand(k, 1, await move());
  });

  it("still hedges when the WebSocket never delivers a block: the safety-net poll ticks", async () => {
    // The safety net polls every max(5 × 1 s, 5 s) = 5 s.
    const k = start({ WS_URL: `ws://127.0.0.1:${await unusedPort()}`, POLL_INTERVAL_MS: "1000" });
    await k.waitFor("the subscription to fail", (l) => l.msg === "block subscription lost: polling meanwhile, re-subscribing");
    const moved = await move();
    await minedNextBlockInBand(k, 1, moved);
    expect(k.logged("hedge sent")).toHaveLength(1);
  });

  it("holds a vault back once its hourly gas budget is spent", async () => {
    // 1e-9 ETH an hour: the first hedge spends it all.
    const k = start({ GAS_BUDGET_PER_HOUR: "0.000000001" });
    await k.waitFor("startup", (l) => l.msg === "keeper starting");
    await minedNextBlockInBand(k, 1, await move());
    await k.waitFor("the first hedge mined", (l) => l.msg === "hedge mined");
    const moved = await move();
    const held = await k.waitFor("the budget to hold the next hedge back", (l) => l.msg === "hedge held back");
    expect(held.reason).toMatch(/hourly gas budget spent/);
    expect(held.vault).toBe(getAddress(chain.sys.vault.address));
    // Held back, not sent: nothing in the pool, and the vault stays out of band at the next block too.
    await chain.mine();
    await k.waitFor("the next block held back too", (l) => l.msg === "hedge held back" && Number(l.block) === Number(moved) + 1);
    expect(k.logged("hedge sent")).toHaveLength(1);
    expect(await chain.pending()).toEqual([]);
    expect(Math.abs(await chain.netDelta())).toBeGreaterThan(BAND);
  });
});
