/**
 * Blocks over a WebSocket subscription, a subscription that never delivers, and the per-vault gas budget — each
 * with the keeper as its own process on a node mining a block a second.
 */
import { createServer } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sleep, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

const BAND = 0.5;

/** A free loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("keeper blocks over WebSocket, and its gas budget", () => {
  let chain: LocalChain;
  let keeper: KeeperProcess | undefined;
  let price = 3000;

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 1000, hedged: true });
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

  async function move(): Promise<bigint> {
    price = price === 3000 ? 3300 : 3000;
    return (await chain.moveTo(price)).moved;
  }

  async function inBandBy(block: bigint, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end && (await chain.sys.publicClient.getBlockNumber()) < block) await sleep(200);
    expect(Math.abs(await chain.netDelta(block)), JSON.stringify(keeper?.lines.slice(-6))).toBeLessThanOrEqual(BAND);
  }

  it("takes blocks from a newHeads subscription and hedges within 2 blocks of a move", async () => {
    const k = start({ WS_URL: `ws://127.0.0.1:${chain.port}` });
    const starting = await k.waitFor("startup", (l) => l.msg === "keeper starting");
    expect(starting.mode).toBe("websocket");
    await sleep(500);
    const moved = await move();
    await inBandBy(moved + 2n, 15_000);
  });

  it("still hedges when the WebSocket never delivers a block: the safety-net poll keeps ticking", async () => {
    start({ WS_URL: `ws://127.0.0.1:${await deadPort()}`, POLL_INTERVAL_MS: "500" });
    await sleep(1000);
    const moved = await move();
    // The safety net polls every max(5 × POLL_INTERVAL_MS, 5 s): allow two of its periods.
    await inBandBy(moved + 12n, 20_000);
  });

  it("holds a vault back once its hourly gas budget is spent", async () => {
    // 1e-9 ETH an hour: the first hedge spends it all.
    const k = start({ GAS_BUDGET_PER_HOUR: "0.000000001" });
    await sleep(1000);
    await move();
    await k.waitFor("the first hedge", (l) => l.msg === "hedge mined", 15_000);
    await move();
    const held = await k.waitFor("the budget to hold the next hedge back", (l) => l.msg === "hedge held back", 15_000);
    expect(held.reason).toMatch(/hourly gas budget spent/);
    expect(k.logged("hedge sent")).toHaveLength(1);
  });
});
