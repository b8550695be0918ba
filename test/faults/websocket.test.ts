/**
 * Blocks over a WebSocket subscription, a subscription that never delivers, and the per-vault gas budget — each
 * with the keeper as its own process on a node mining a block a second.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { arbitrageTo, priceE8 } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem, type System } from "../../scripts/lib/system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat account #1 (public)
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BAND = 0.5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("keeper blocks over WebSocket, and its gas budget", () => {
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let port: number;
  let viem: HardhatViem;
  let sys: System;
  let child: ChildProcess | undefined;
  let lines: Record<string, unknown>[] = [];
  let price = 3000;

  beforeAll(async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    port = (await server.listen()).port;
    viem = (await hre.network.create({ network: "localhost", override: { url: `http://127.0.0.1:${port}` } })).viem;
    sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    const st = await sys.vault.read.state();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, BigInt(-st.netDeltaWad)]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [1000] as never } as never);
  });

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  });

  afterAll(async () => {
    await Promise.race([server?.close(), sleep(3000)]);
  });

  function start(env: Record<string, string>) {
    lines = [];
    child = spawn(process.execPath, ["keeper/index.ts", "run", "--env-file", "/dev/null"], {
      cwd: ROOT,
      env: {
        ...process.env,
        RPC_URL: `http://127.0.0.1:${port}`,
        LENS_ADDRESS: sys.lens.address,
        VAULTS: sys.vault.address,
        PRIVATE_KEY: KEEPER_KEY,
        KEEPER_POLICY: "band",
        POLICY_BAND: String(BAND),
        RISK_AVERSION: "0.01",
        POLL_INTERVAL_MS: "200",
        JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
  }

  async function move(): Promise<bigint> {
    price = price === 3000 ? 3300 : 3000;
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
    await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    return sys.publicClient.getBlockNumber();
  }

  async function inBandBy(block: bigint, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if ((await sys.publicClient.getBlockNumber()) >= block) break;
      await sleep(200);
    }
    const st = await sys.vault.read.state({ blockNumber: block });
    expect(Math.abs(Number(st.netDeltaWad) / 1e18), JSON.stringify(lines.slice(-6))).toBeLessThanOrEqual(BAND);
  }

  it("takes blocks from a newHeads subscription and hedges within 2 blocks of a move", async () => {
    start({ WS_URL: `ws://127.0.0.1:${port}` });
    await sleep(1500);
    expect(lines.find((l) => l.msg === "keeper starting")?.mode).toBe("websocket");
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
    start({ GAS_BUDGET_PER_HOUR: "0.000000001" });
    await sleep(1000);
    await move();
    const end = Date.now() + 15_000;
    while (Date.now() < end && !lines.some((l) => l.msg === "hedge mined")) await sleep(200);
    expect(lines.some((l) => l.msg === "hedge mined")).toBe(true);
    await move();
    while (Date.now() < end + 10_000 && !lines.some((l) => l.msg === "hedge held back")) await sleep(200);
    const held = lines.find((l) => l.msg === "hedge held back");
    expect(held?.reason).toMatch(/hourly gas budget spent/);
    expect(lines.filter((l) => l.msg === "hedge sent")).toHaveLength(1);
  });
});
