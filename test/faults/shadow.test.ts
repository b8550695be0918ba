/**
 * Shadow mode: a keeper started with --shadow beside a live one decides every block, signs and sends nothing,
 * and logs what it would have done beside what happened on-chain (the live keeper's rebalance).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, describe, expect, it } from "vitest";
import { arbitrageTo, priceE8 } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, ROLES } from "../../scripts/lib/system.ts";

const LIVE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat account #1 (public)
const SHADOW_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"; // Hardhat account #3 (public)
const SHADOW_ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("shadow mode", () => {
  const children: ChildProcess[] = [];
  let server: Awaited<ReturnType<typeof hre.network.createServer>> | undefined;

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.race([server?.close(), sleep(3000)]);
  });

  it("logs each decision beside the on-chain rebalance of another keeper, and signs nothing", async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    const url = `http://127.0.0.1:${(await server.listen()).port}`;
    const { viem } = await hre.network.create({ network: "localhost", override: { url } });
    const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    await sys.wait(await sys.vault.write.grantRole([ROLES.keeper, SHADOW_ADDRESS]));
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [1000] as never } as never);

    const start = (key: string, args: string[]) => {
      const child = spawn(process.execPath, ["keeper/index.ts", "run", ...args, "--env-file", "/dev/null"], {
        cwd: ROOT,
        env: {
          ...process.env,
          RPC_URL: url,
          LENS_ADDRESS: sys.lens.address,
          VAULTS: sys.vault.address,
          PRIVATE_KEY: key,
          KEEPER_POLICY: "band",
          RISK_AVERSION: "0.01",
          POLL_INTERVAL_MS: "200",
          JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      const lines: Record<string, unknown>[] = [];
      let buf = "";
      child.stdout!.on("data", (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
      });
      return lines;
    };

    const shadow = start(SHADOW_KEY, ["--shadow"]);
    await sleep(2500);
    const live = start(LIVE_KEY, []);

    // The vault starts unhedged; then a price move. Both make the shadow want to hedge; the live keeper does.
    const end = Date.now() + 30_000;
    while (Date.now() < end && !live.some((l) => l.msg === "hedge mined")) await sleep(200);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3300)]));
    await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, 3300);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    while (Date.now() < end && shadow.filter((l) => l.msg === "shadow: the vault was rebalanced on-chain (by another keeper)").length < 2) {
      await sleep(200);
    }

    expect(shadow.some((l) => l.msg === "shadow: would hedge")).toBe(true);
    expect(shadow.filter((l) => l.msg === "shadow: the vault was rebalanced on-chain (by another keeper)").length).toBeGreaterThanOrEqual(2);
    expect(shadow.some((l) => l.msg === "hedge sent")).toBe(false);
    expect(await sys.publicClient.getTransactionCount({ address: SHADOW_ADDRESS })).toBe(0);
  });
});
