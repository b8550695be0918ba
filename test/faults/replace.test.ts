/**
 * Stuck transactions, with the keeper as its own process on a node mining a block every 3 seconds. A node that
 * drops the keeper's hedge from its mempool (hardhat_dropTransaction) leaves it stuck; after
 * REPLACE_AFTER_BLOCKS the keeper re-checks it on fresh state: still wanted → replaced with higher fees and mined
 * once; no longer wanted (here: the vault was paused meanwhile) → cancelled, not bumped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { arbitrageTo, priceE8 } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem, type System } from "../../scripts/lib/system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat's public account #1
const KEEPER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, context: () => unknown): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(context()).slice(0, 3000)}`);
}

describe("stuck hedges: replaced when still wanted, cancelled when not", () => {
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let url: string;
  let viem: HardhatViem;
  let sys: System;
  let keeper: ChildProcess | undefined;
  let lines: Record<string, unknown>[] = [];
  let price = 3000;

  beforeAll(async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    url = `http://127.0.0.1:${(await server.listen()).port}`;
    viem = (await hre.network.create({ network: "localhost", override: { url } })).viem;
    sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    const st = await sys.vault.read.state();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, BigInt(-st.netDeltaWad)]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [3000] as never } as never);
  });

  afterEach(async () => {
    if (keeper && keeper.exitCode === null) {
      const exited = new Promise((r) => keeper!.once("exit", r));
      keeper.kill("SIGTERM");
      await exited;
    }
  });

  afterAll(async () => {
    await Promise.race([server?.close(), sleep(3000)]);
  });

  function startKeeper() {
    lines = [];
    keeper = spawn(process.execPath, ["keeper/index.ts", "run", "--env-file", "/dev/null"], {
      cwd: ROOT,
      env: {
        ...process.env,
        RPC_URL: url,
        LENS_ADDRESS: sys.lens.address,
        VAULTS: sys.vault.address,
        PRIVATE_KEY: KEEPER_KEY,
        KEEPER_POLICY: "band",
        RISK_AVERSION: "0.01",
        POLL_INTERVAL_MS: "100",
        REPLACE_AFTER_BLOCKS: "2",
        JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    keeper.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
  }

  /** Moves oracle and AMM (automine on for the move, so it is quick), then back to 3-second blocks. */
  async function moveMarket(): Promise<bigint> {
    price = price === 3000 ? 3300 : 3000;
    const admin = sys.publicClient;
    await admin.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
    await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price);
    await admin.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    return admin.getBlockNumber();
  }

  async function dropFirstHedge(): Promise<string> {
    const sent = await until("the keeper to send a hedge", () => lines.find((l) => l.msg === "hedge sent"), 30_000, () => lines.slice(-10));
    const hash = sent.hash as string;
    const dropped = await sys.publicClient.request({ method: "hardhat_dropTransaction" as never, params: [hash] as never } as never);
    expect(dropped, "the hedge was mined before it could be dropped").toBe(true);
    return hash;
  }

  it("a hedge dropped from the mempool is replaced with higher fees and mined once", async () => {
    startKeeper();
    await until("the keeper's first block", () => lines.find((l) => l.msg === "decision"), 20_000, () => lines.slice(-5));
    const nonceBefore = await sys.publicClient.getTransactionCount({ address: KEEPER_ADDRESS });
    const moved = await moveMarket();
    await dropFirstHedge();
    const replaced = await until("the replacement", () => lines.find((l) => l.msg === "stuck hedge still wanted: replaced with higher fees"), 30_000, () => lines.slice(-10));
    await until("the replacement to be mined", () => lines.find((l) => l.msg === "hedge mined"), 30_000, () => lines.slice(-10));
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events).toHaveLength(1);
    expect(events[0]!.transactionHash).toBe(replaced.hash);
    expect(await sys.publicClient.getTransactionCount({ address: KEEPER_ADDRESS })).toBe(nonceBefore + 1);
  });

  it("a stuck hedge that is no longer wanted is cancelled, not bumped", async () => {
    startKeeper();
    await until("the keeper's first block", () => lines.find((l) => l.msg === "decision"), 20_000, () => lines.slice(-5));
    const nonceBefore = await sys.publicClient.getTransactionCount({ address: KEEPER_ADDRESS });
    const moved = await moveMarket();
    await dropFirstHedge();
    // The guardian pauses the vault: the hedge is no longer possible, hence no longer wanted.
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.vault.write.pause());
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await until("the cancel", () => lines.find((l) => l.msg === "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)"), 30_000, () => lines.slice(-10));
    await until("the cancel to be mined", () => lines.find((l) => l.msg === "cancel mined: the stuck hedge's nonce is settled, no trade"), 30_000, () => lines.slice(-10));
    expect(lines.some((l) => l.msg === "stuck hedge still wanted: replaced with higher fees")).toBe(false);
    const events = await sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: moved + 1n });
    expect(events).toHaveLength(0);
    expect(await sys.publicClient.getTransactionCount({ address: KEEPER_ADDRESS })).toBe(nonceBefore + 1);
  });
});
