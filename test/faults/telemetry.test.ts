/**
 * The keeper process's telemetry on a live chain: /metrics scraped and parsed; /readyz ready while blocks flow
 * and unready when they stop; a stale oracle stops hedging with a warning and a metric, and hedging resumes by
 * itself when the oracle updates.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arbitrageTo } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, priceE8, type HardhatViem, type System } from "../../scripts/lib/system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat's public account #1
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const METRICS_PORT = 19_464;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("keeper telemetry and a stale oracle", () => {
  let server: Awaited<ReturnType<typeof hre.network.createServer>>;
  let sys: System;
  let viem: HardhatViem;
  const viemOf = () => viem;
  let keeper: ChildProcess;
  const lines: Record<string, unknown>[] = [];
  const base = `http://127.0.0.1:${METRICS_PORT}`;

  beforeAll(async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    const url = `http://127.0.0.1:${(await server.listen()).port}`;
    viem = (await hre.network.create({ network: "localhost", override: { url } })).viem;
    sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, 20);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [500] as never } as never);
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
        POLL_INTERVAL_MS: "200",
        METRICS_PORT: String(METRICS_PORT),
        READY_MAX_HEAD_AGE_SECONDS: "2",
        READY_MAX_OUT_OF_BAND_BLOCKS: "3",
        READY_MAX_PENDING_BLOCKS: "3",
        REPLACE_AFTER_BLOCKS: "1000",
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
  });

  afterAll(async () => {
    keeper?.kill("SIGTERM");
    await Promise.race([server?.close(), sleep(3000)]);
  });

  it("/metrics is served and parses, with blocks, vault Greeks, hedges and RPC counts", async () => {
    // The vault starts unhedged: the keeper hedges it, and the metrics say so.
    const metrics = await until("a mined hedge in /metrics", async () => {
      const m = parseMetrics(await (await fetch(`${base}/metrics`)).text());
      return m.get("keeper_hedges_total")?.some((s) => s.labels.includes('result="mined"') && s.value >= 1) ? m : undefined;
    });
    expect(metrics.get("keeper_blocks_seen_total")![0]!.value).toBeGreaterThan(0);
    const vault = sys.vault.address.toLowerCase();
    expect(metrics.get("keeper_vault_delta")!.some((s) => s.labels.toLowerCase().includes(vault))).toBe(true);
    expect(metrics.get("keeper_rpc_requests_total")!.some((s) => s.labels.includes('method="eth_call"'))).toBe(true);
    expect(metrics.get("keeper_gas_used_total")!.some((s) => s.value > 100_000)).toBe(true);
    expect(metrics.has("keeper_block_to_broadcast_seconds_bucket")).toBe(true);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("a stale oracle: no hedge, a warning and a metric; hedging resumes by itself when the oracle updates", async () => {
    // Stale: an hour passes without an oracle update (the vault's maxOracleAge is 3600 s).
    await sys.publicClient.request({ method: "evm_increaseTime" as never, params: [3601] as never } as never);
    await until("the stale-oracle warning", async () => lines.find((l) => l.msg === "oracle stale: no hedge for this vault until it updates"));
    const m = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(m.get("keeper_oracle_stale")!.find((s) => s.labels.toLowerCase().includes(sys.vault.address.toLowerCase()))!.value).toBe(1);
    const sentBefore = lines.filter((l) => l.msg === "hedge sent").length;
    await sleep(1500);
    expect(lines.filter((l) => l.msg === "hedge sent").length).toBe(sentBefore);

    // Fresh again, at a price that needs a hedge: the keeper resumes on its own.
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    await until("hedging to resume", async () => lines.find((l) => l.msg === "oracle fresh again: hedging resumes"));
  });

  async function readyz(): Promise<{ status: number; body: string }> {
    const r = await fetch(`${base}/readyz`);
    return { status: r.status, body: await r.text() };
  }

  async function moveTo(price: number) {
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
    await arbitrageTo(viemOf(), { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
  }

  it("/readyz turns unready when a vault stays out of band with nobody hedging it, and ready again after", async () => {
    await until("ready", async () => ((await readyz()).status === 200 ? true : undefined));
    // The guardian pauses the vault: nobody can hedge it; a move leaves it out of band.
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.vault.write.pause());
    await moveTo(3300);
    const unready = await until("/readyz to fail on the vault", async () => {
      const r = await readyz();
      return r.status === 503 ? r.body : undefined;
    });
    expect(unready).toMatch(/out of band/i);
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [true] as never } as never);
    await sys.wait(await sys.vault.write.unpause());
    await sys.publicClient.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await until("ready again once hedged", async () => ((await readyz()).status === 200 ? true : undefined), 30_000);
  });

  it("/readyz turns unready when a hedge is stuck", async () => {
    // Slower blocks (still under the 2 s head-age rule) leave time to drop the hedge before it is mined.
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [1500] as never } as never);
    let dropped = false;
    for (let attempt = 0; attempt < 6 && !dropped; attempt++) {
      const before = lines.filter((l) => l.msg === "hedge sent").length;
      await moveTo(attempt % 2 === 0 ? 3000 : 3300);
      const sent = await until("a hedge", async () => {
        const all = lines.filter((l) => l.msg === "hedge sent");
        return all.length > before ? all[all.length - 1] : undefined;
      });
      dropped = await sys.publicClient
        .request({ method: "hardhat_dropTransaction" as never, params: [sent.hash] as never } as never)
        .then((r) => r === true)
        .catch(() => false); // already mined: try again with the next move
    }
    expect(dropped, "a hedge dropped from the mempool before being mined").toBe(true);
    const body = await until("/readyz to fail on the stuck hedge", async () => {
      const r = await readyz();
      return r.status === 503 && /pending/i.test(r.body) ? r.body : undefined;
    });
    expect(body).toMatch(/pending/i);
  });

  it("/readyz turns unready with a reason when blocks stop", async () => {
    await sys.publicClient.request({ method: "evm_setIntervalMining" as never, params: [0] as never } as never);
    const body = await until("/readyz to fail", async () => {
      const r = await fetch(`${base}/readyz`);
      return r.status === 503 ? await r.text() : undefined;
    });
    expect(body).toMatch(/block|head/i);
  });
});
