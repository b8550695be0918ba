/**
 * The keeper as its own process against a forked chain with interval mining — the closest this machine has to a
 * public testnet. The system is deployed to an upstream node; a second node forks it and mines a block every
 * second; the keeper (`node keeper/index.ts run`) watches the fork over HTTP. After a price move the vault must
 * be hedged within 2 blocks with its delta back inside the band; with --dry-run nothing may be sent.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { arbitrageTo, priceE8 } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem } from "../../scripts/lib/system.ts";

// Hardhat's default account #1, which deploySystem grants KEEPER_ROLE. A public test key: never use it elsewhere.
const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BAND = 0.5;

type Server = Awaited<ReturnType<typeof hre.network.createServer>>;

interface KeeperProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stop(): Promise<void>;
}

function startKeeper(env: Record<string, string>, args: string[]): KeeperProcess {
  const child = spawn(process.execPath, ["keeper/index.ts", ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ raw: line });
      }
    }
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.on("exit", (code) => {
    if (code !== 0 && code !== null) lines.push({ exit: code, stderr });
  });
  return {
    child,
    lines,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, diagnostics: () => unknown): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(diagnostics(), (_k, v) => (typeof v === "bigint" ? v.toString() : v)).slice(0, 4000)}`);
}

describe("keeper process on a forked chain with interval mining", () => {
  let upstream: Server;
  let fork: Server;
  let forkUrl: string;
  let viem: HardhatViem;
  let addresses: { vault: Address; lens: Address; oracle: Address; amm: Address; quote: Address; underlying: Address };

  beforeAll(async () => {
    upstream = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    const up = await upstream.listen();
    const upstreamUrl = `http://127.0.0.1:${up.port}`;
    const conn = await hre.network.create({ network: "localhost", override: { url: upstreamUrl } });
    const sys = await deploySystem(conn.viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await conn.viem.getWalletClients())[2]!.account.address;
    const call = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, buyer, call.id, 20);
    // Start hedged: the keeper's job in the test is the move that follows.
    const netDeltaWad = await sys.vault.read.netDeltaWad();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, -netDeltaWad]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
    addresses = {
      vault: sys.vault.address,
      lens: sys.lens.address,
      oracle: sys.oracle.address,
      amm: sys.amm.address,
      quote: sys.quote.address,
      underlying: sys.underlying.address,
    };

    fork = await hre.network.createServer(
      { network: "fork", override: { forking: { url: upstreamUrl }, mining: { auto: false, interval: 1000 } } },
      "127.0.0.1",
      0,
    );
    const f = await fork.listen();
    forkUrl = `http://127.0.0.1:${f.port}`;
    viem = (await hre.network.create({ network: "localhost", override: { url: forkUrl } })).viem;
  });

  afterAll(async () => {
    // close() waits for kept-alive client connections; do not let that hold the suite.
    const bounded = (p: Promise<void> | undefined) => Promise.race([p, new Promise((r) => setTimeout(r, 3000))]);
    await bounded(fork?.close());
    await bounded(upstream?.close());
  });

  const keeperEnv = () => ({
    RPC_URL: forkUrl,
    LENS_ADDRESS: addresses.lens,
    VAULTS: addresses.vault,
    PRIVATE_KEY: KEEPER_KEY,
    KEEPER_POLICY: "band",
    POLICY_BAND: String(BAND),
    POLICY_TARGET: "zero",
    POLL_INTERVAL_MS: "200",
    LOG_LEVEL: "info",
    // Test economics: value the risk high enough that a 3% move's hedge is always worth its gas.
    RISK_AVERSION: "0.01",
  });

  /** The vault as the keeper reads it (`VaultLens.stateOf`), at `blockNumber` or now. */
  async function vaultState(blockNumber?: bigint) {
    const lens = await viem.getContractAt("VaultLens", addresses.lens);
    const [st] = await lens.read.stateOf([addresses.vault], blockNumber === undefined ? {} : { blockNumber });
    return st;
  }

  /**
   * Moves the oracle to `price`, then arbitrages the AMM to it (a few blocks, as it would be on a real chain).
   * Returns the block of the oracle update and the block in which the move completed.
   */
  async function movePrice(price: number): Promise<{ oracleBlock: bigint; moved: bigint }> {
    const publicClient = await viem.getPublicClient();
    const oracle = await viem.getContractAt("MockOracle", addresses.oracle);
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await oracle.write.setPrice([priceE8(price)]) });
    await arbitrageTo(viem, addresses, price);
    return { oracleBlock: receipt.blockNumber, moved: await publicClient.getBlockNumber() };
  }

  it("with --dry-run, decides to hedge but sends nothing", async () => {
    const keeper = startKeeper(keeperEnv(), ["run", "--dry-run", "--env-file", "/dev/null"]);
    try {
      const publicClient = await viem.getPublicClient();
      const keeperAddress = (await viem.getWalletClients())[1]!.account.address;
      const nonceBefore = await publicClient.getTransactionCount({ address: keeperAddress });
      const before = await vaultState();
      await movePrice(3300);
      await waitFor(
        "a dry-run hedge decision",
        async () => keeper.lines.find((l) => l.msg === "dry run: hedge not sent"),
        20_000,
        () => keeper.lines.slice(-20),
      );
      // Two more blocks: still nothing sent.
      const start = await publicClient.getBlockNumber();
      await waitFor("two more blocks", async () => ((await publicClient.getBlockNumber()) >= start + 2n ? true : undefined), 10_000, () => ({}));
      expect(await publicClient.getTransactionCount({ address: keeperAddress })).toBe(nonceBefore);
      expect((await vaultState()).lastRebalanceBlock).toBe(before.lastRebalanceBlock);
      expect(keeper.lines.some((l) => l.msg === "hedge sent")).toBe(false);
    } finally {
      await keeper.stop();
      await movePrice(3000); // back where the vault is hedged, for the next test
    }
  });

  it("after a price move, hedges within 2 blocks and brings delta back inside the band", async () => {
    const keeper = startKeeper(keeperEnv(), ["run", "--env-file", "/dev/null"]);
    try {
      await waitFor("the keeper's first tick", async () => keeper.lines.find((l) => l.msg === "decision"), 20_000, () => keeper.lines.slice(-20));
      const { oracleBlock, moved } = await movePrice(3300);
      // The move took the vault out of its band (read at the oracle update's block: before any reaction).
      const outOfBand = await vaultState(oracleBlock);
      expect(Math.abs(Number(outOfBand.netDeltaWad) / 1e18)).toBeGreaterThan(BAND);

      // Within 2 blocks of the move's end, a hedge is mined (the keeper may start while the AMM catches up)…
      const publicClient = await viem.getPublicClient();
      await waitFor("2 blocks after the move", async () => ((await publicClient.getBlockNumber()) >= moved + 2n ? true : undefined), 20_000, () => ({}));
      const mined = keeper.lines.filter((l) => l.msg === "hedge mined").map((l) => BigInt(l.minedInBlock as number));
      expect(mined.some((b) => b > oracleBlock && b <= moved + 2n), JSON.stringify(keeper.lines.slice(-20))).toBe(true);
      // …and at that block the vault's delta is back inside the band.
      const after = await vaultState(moved + 2n);
      expect(Math.abs(Number(after.netDeltaWad) / 1e18)).toBeLessThanOrEqual(BAND);
      expect(after.lastRebalanceBlock).toBeGreaterThan(oracleBlock);
    } finally {
      await keeper.stop();
    }
  });
});
