/**
 * A reorg shallower than CONFIRMATIONS: the block holding the keeper's hedge is replaced (evm_snapshot taken
 * while the hedge sat in the mempool, evm_revert after it was mined with one confirmation). The keeper must not
 * count the hedge as done until it has its confirmations on the surviving chain, and must not hedge twice.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, describe, expect, it } from "vitest";
import { buyOptions, deploySystem, listSeries } from "../../scripts/lib/system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat account #1 (public)
const KEEPER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a reorg before the hedge has its confirmations", () => {
  let child: ChildProcess | undefined;
  let server: Awaited<ReturnType<typeof hre.network.createServer>> | undefined;

  afterAll(async () => {
    if (child?.exitCode === null) child.kill("SIGTERM");
    await Promise.race([server?.close(), sleep(3000)]);
  });

  it("is settled only on the surviving chain, once", async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    const url = `http://127.0.0.1:${(await server.listen()).port}`;
    const { viem } = await hre.network.create({ network: "localhost", override: { url } });
    const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    const pc = sys.publicClient;
    await pc.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await pc.request({ method: "evm_setIntervalMining" as never, params: [2000] as never } as never);
    const nonceBefore = await pc.getTransactionCount({ address: KEEPER_ADDRESS });

    child = spawn(process.execPath, ["keeper/index.ts", "run", "--env-file", "/dev/null"], {
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
        CONFIRMATIONS: "3",
        JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: Record<string, unknown>[] = [];
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const parts = buf.split("\n");
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const until = async (what: string, fn: () => boolean | Promise<boolean>, ms = 30_000) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (await fn()) return;
        await sleep(25);
      }
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lines.slice(-8)).slice(0, 2000)}`);
    };

    // The vault starts unhedged: snapshot while the keeper's hedge waits in the mempool.
    await until("the keeper's hedge", () => lines.some((l) => l.msg === "hedge sent"));
    const snapshot = (await pc.request({ method: "evm_snapshot" as never } as never)) as string;
    const hash = lines.find((l) => l.msg === "hedge sent")!.hash as `0x${string}`;
    await until("the hedge mined with one confirmation", async () => {
      const r = await pc.getTransactionReceipt({ hash }).catch(() => undefined);
      return r !== undefined;
    });
    expect(lines.some((l) => l.msg === "hedge mined"), "settled before its confirmations").toBe(false);

    // The reorg: back to the snapshot (the hedge back in the mempool), then blocks on the new branch.
    expect(await pc.request({ method: "evm_revert" as never, params: [snapshot] as never } as never)).toBe(true);
    await until("the hedge mined with 3 confirmations on the new branch", () => lines.some((l) => l.msg === "hedge mined"), 40_000);

    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: 0n });
    expect(events).toHaveLength(1);
    expect(lines.filter((l) => l.msg === "hedge sent")).toHaveLength(1);
    expect(await pc.getTransactionCount({ address: KEEPER_ADDRESS })).toBe(nonceBefore + 1);
  });
});
