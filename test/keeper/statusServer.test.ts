/**
 * The status page's routes on the telemetry server, without a browser: the page and its script with a policy that
 * allows only their own origin, the JSON of every vault and of one, the event stream (one event per observed block,
 * at most MAX_EVENT_STREAMS open), read-only, bound to localhost, and nothing in any answer that is not the board's.
 * And the board's own bounds: history capped at STATUS_HISTORY_BLOCKS, hedges marked with gas and slippage.
 */
import { request } from "node:http";
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syntheticVaults } from "../../harness/statusFixtures.ts";
import { KeeperMetrics } from "../../keeper/telemetry/metrics.ts";
import { MAX_EVENT_STREAMS, startTelemetryServer, type TelemetryServer } from "../../keeper/telemetry/server.ts";
import { StatusBoard } from "../../keeper/telemetry/status.ts";

const vaults = Array.from({ length: 3 }, (_, i) => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`));
const { planOf, hedgeOf } = syntheticVaults(3, 1);
const health = { live: true, ready: false, reasons: [`stuck transaction: hedge for vault ${vaults[1]!.toLowerCase()} (nonce 4) pending for 12 blocks since block 88 (max 10)`] };

describe("status board and its routes", () => {
  let server: TelemetryServer;
  let board: StatusBoard;
  let block = 0;
  const tick = () => {
    block++;
    board.observe({
      blockNumber: BigInt(block),
      plans: vaults.map((v, k) => planOf(v, k, block)),
      settled: block % 50 === 0 ? [hedgeOf(vaults[0]!, block)] : [],
      sent: [],
      pending: [],
      health,
    });
  };

  beforeAll(async () => {
    board = new StatusBoard({ policy: { name: "band", band: 0.5, target: "zero" }, mode: "shadow", historyBlocks: 100 });
    for (let i = 0; i < 250; i++) tick();
    server = await startTelemetryServer({ port: 0, metrics: new KeeperMetrics({ redactUrl: (u) => u }), health: () => health, status: board });
  });

  afterAll(async () => {
    await server?.close();
  });

  it("binds to 127.0.0.1 and serves the page with a policy allowing only its own script and connections", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-eval");
    expect(await page.text()).toContain('<script src="/status.js"></script>');
    const js = await fetch(`${server.url}/status.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    // Text from the keeper is set as text, never parsed as HTML.
    expect(await js.text()).not.toMatch(/innerHTML|insertAdjacentHTML|eval\(|new Function/);
  });

  it("/api/status: every vault's summary, readiness naming the keeper's reason about it, and nothing else", async () => {
    const status = (await (await fetch(`${server.url}/api/status`)).json()) as ReturnType<StatusBoard["status"]>;
    expect(status.head).toBe(250);
    expect(status.mode).toBe("shadow");
    expect(status.vaults.map((v) => v.vault)).toEqual(vaults);
    expect(status.vaults[1]!.readiness.ready).toBe(false);
    expect(status.vaults[1]!.readiness.reasons[0]).toMatch(/^stuck transaction/);
    expect(status.vaults[0]!.readiness).toEqual({ ready: true, reasons: [] });
    expect(status.vaults[0]!.hedges).toBe(5);
    expect(status.vaults[0]!.gasQuote).toBeGreaterThan(0);
    expect(status.vaults[0]!.spark).toHaveLength(60);
    expect(Object.keys(status).sort()).toEqual(["head", "historyBlocks", "live", "mode", "policy", "ready", "reasons", "vaults"]);
  });

  it("/api/vault/<address>: the history, capped at the board's 100 blocks, and the hedges inside it; 404 for an unknown or malformed address", async () => {
    const detail = (await (await fetch(`${server.url}/api/vault/${vaults[0]!.toLowerCase()}`)).json()) as NonNullable<ReturnType<StatusBoard["detail"]>>;
    expect(detail.history.block).toHaveLength(100);
    expect(detail.history.block[0]).toBe(151);
    expect(detail.history.block.at(-1)).toBe(250);
    expect(detail.hedgeMarks.map((m) => m.block)).toEqual([200, 250]);
    expect(detail.hedgeMarks[0]).toMatchObject({ result: "mined", gasUsed: 145_000 });
    // shadow mode: the rebalances seen on-chain (the fixture's vaults rebalance every 50 blocks), by block
    expect(detail.shadow.filter((e) => e.kind === "on-chain").map((e) => e.block)).toEqual([50, 100, 150, 200, 250]);
    expect((await fetch(`${server.url}/api/vault/0x${"ab".repeat(20)}`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/vault/not-an-address`)).status).toBe(404);
  });

  it("DNS rebinding: a request naming another host (a page that pointed its own name at 127.0.0.1) is refused", async () => {
    const port = new URL(server.url).port;
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const r = request({ host: "127.0.0.1", port, path: "/api/status", headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on("error", reject);
        r.end();
      });
    expect(await get("evil.example:80")).toBe(421);
    expect(await get(`attacker.example:${port}`)).toBe(421);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
  });

  it("read-only: POST, PUT and DELETE are refused with 405", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      for (const path of ["/", "/api/status", "/api/events"]) {
        const res = await fetch(`${server.url}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get("allow")).toBe("GET, HEAD");
      }
    }
  });

  it("/api/events: one `block` event per observed block, without the sparkline; beyond MAX_EVENT_STREAMS a 503", async () => {
    const events: string[] = [];
    const req = request(`${server.url}/api/events`);
    const opened = new Promise<void>((resolve) => {
      req.on("response", (res) => {
        expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => events.push(chunk));
        resolve();
      });
    });
    req.end();
    await opened;
    tick();
    tick();
    await new Promise((r) => setTimeout(r, 100));
    const blocks = events.join("").split("\n\n").filter((e) => e.startsWith("event: block"));
    expect(blocks).toHaveLength(2);
    const update = JSON.parse(blocks[1]!.split("\ndata: ")[1]!) as { head: number; vaults: Record<string, unknown>[] };
    expect(update.head).toBe(252);
    expect(update.vaults).toHaveLength(3);
    expect(update.vaults[0]).not.toHaveProperty("spark");
    expect(update.vaults[0]).toHaveProperty("point");
    // Fill the cap (one stream is open), then one more is refused.
    const extra = await Promise.all(
      Array.from({ length: MAX_EVENT_STREAMS - 1 }, () => new Promise<() => void>((resolve) => {
        const r = request(`${server.url}/api/events`);
        r.on("response", (res) => {
          expect(res.statusCode).toBe(200);
          resolve(() => r.destroy());
        });
        r.end();
      })),
    );
    const refused = await fetch(`${server.url}/api/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("30");
    for (const close of extra) close();
    req.destroy();
    // Closed streams free their places and listeners.
    await new Promise((r) => setTimeout(r, 100));
    expect(board.subscribers).toBe(0);
  });

  it("without a board the page routes are 404 (the keeper's `once` and `status` commands serve none)", async () => {
    const bare = await startTelemetryServer({ port: 0, metrics: new KeeperMetrics({ redactUrl: (u) => u }), health: () => health });
    try {
      for (const path of ["/", "/status.js", "/api/status", "/api/events"]) expect((await fetch(`${bare.url}${path}`)).status, path).toBe(404);
      expect((await fetch(`${bare.url}/metrics`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it("rejects a history too small to draw", () => {
    expect(() => new StatusBoard({ policy: { name: "gas-aware" }, mode: "live", historyBlocks: 5 })).toThrow(/≥ 10, got 5/);
  });
});
