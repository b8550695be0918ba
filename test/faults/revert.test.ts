/**
 * A hedge that reverts for slippage: front-run in the mempool by a large swap (higher priority fee), the keeper's
 * hedge reverts on-chain. The keeper must not retry in a storm: it backs the vault off, then — once the pool is
 * back at the oracle — hedges once. Sends are counted.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, describe, expect, it } from "vitest";
import { arbitrageTo } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, quoteUnits } from "../../scripts/lib/system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat account #1 (public)
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a hedge reverted for slippage", () => {
  let keeper: ChildProcess | undefined;
  let server: Awaited<ReturnType<typeof hre.network.createServer>> | undefined;

  afterAll(async () => {
    if (keeper?.exitCode === null) keeper.kill("SIGTERM");
    await Promise.race([server?.close(), sleep(3000)]);
  });

  it("is not retried in a storm: one reverted send, then one hedge after the backoff", async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    const url = `http://127.0.0.1:${(await server.listen()).port}`;
    const { viem } = await hre.network.create({ network: "localhost", override: { url } });
    const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    const frontRun = quoteUnits(2_000_000); // ~2M USDC of WETH buying: moves a 10,000 WETH pool ~13%
    await sys.wait(await sys.quote.write.mint([sys.admin.account.address, frontRun * 3n]));
    await sys.wait(await sys.quote.write.approve([sys.amm.address, frontRun * 3n]));
    const pc = sys.publicClient;
    await pc.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await pc.request({ method: "evm_setIntervalMining" as never, params: [2000] as never } as never);

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
        RETRY_BACKOFF_BLOCKS: "3",
        JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: Record<string, unknown>[] = [];
    let buf = "";
    keeper.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const until = async (what: string, fn: () => boolean, ms = 30_000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (fn()) return;
        await sleep(25);
      }
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lines.slice(-8)).slice(0, 2000)}`);
    };

    // The vault starts unhedged: the keeper sends its hedge — and we front-run it in the same block.
    await until("the keeper's hedge", () => lines.some((l) => l.msg === "hedge sent"));
    const deadline = (await pc.getBlock()).timestamp + 600n;
    await sys.amm.write.swapExactIn([sys.quote.address, frontRun, 0n, sys.admin.account.address, deadline], {
      maxPriorityFeePerGas: 50n * 10n ** 9n,
      maxFeePerGas: 200n * 10n ** 9n,
    });
    await until("the revert", () => lines.some((l) => l.msg === "hedge reverted on-chain (state moved between simulation and inclusion): backing off"));
    const reverted = lines.find((l) => l.msg === "hedge reverted on-chain (state moved between simulation and inclusion): backing off")!;
    const revertBlock = BigInt(reverted.minedInBlock as number);

    // The arbitrageur brings the pool back to the oracle; the keeper hedges once, after its backoff.
    await pc.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    const [, answer] = await sys.oracle.read.latestRoundData();
    await sys.wait(await sys.oracle.write.setPrice([answer])); // keep the oracle fresh
    await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, Number(answer) / 1e8);
    await pc.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await until("the retried hedge to be mined", () => lines.some((l) => l.msg === "hedge mined"));
    const mined = lines.find((l) => l.msg === "hedge mined")!;
    await sleep(4000); // a few more blocks: no further sends

    const sends = lines.filter((l) => l.msg === "hedge sent");
    expect(sends, "sends: the reverted one and one retry").toHaveLength(2);
    expect(BigInt(mined.minedInBlock as number) - revertBlock).toBeGreaterThanOrEqual(3n); // waited out the backoff
    expect(Math.abs(Number((await sys.vault.read.state()).netDeltaWad) / 1e18)).toBeLessThanOrEqual(0.5);
  });
});
