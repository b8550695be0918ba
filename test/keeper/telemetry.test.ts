import { register as globalRegistry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redactUrl } from "../../keeper/telemetry/redact.ts";
import { assessHealth, type Health, type HealthRules, type HealthState } from "../../keeper/telemetry/health.ts";
import { KeeperMetrics, type VaultObservation } from "../../keeper/telemetry/metrics.ts";
import { startTelemetryServer, type TelemetryServer } from "../../keeper/telemetry/server.ts";

const VAULT_A = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const VAULT_B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const SECRET_RPC = "https://alice:hunter2@eth-mainnet.example.com/v2/SECRETAPIKEY?token=zz9secret";

// ── A tiny parser of the Prometheus text exposition format (what a scraper reads) ──────────────────────────

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!match) throw new Error(`unparseable exposition line: ${line}`);
    samples.push({ name: match[1]!, labels: parseLabels(match[2] ?? ""), value: parseValue(match[3]!) });
  }
  return samples;
}

function parseLabels(body: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
  let match: RegExpExecArray | null;
  while ((match = pair.exec(body)) !== null) {
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
  }
  if (pair.lastIndex !== 0 && pair.lastIndex !== body.length) throw new Error(`unparseable labels: {${body}}`);
  return labels;
}

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

/** The value of the one sample with exactly these labels; throws if absent. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
}

function has(samples: Sample[], name: string, labels: Record<string, string> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

async function scrape(metrics: KeeperMetrics): Promise<Sample[]> {
  return parseExposition(await metrics.metrics());
}

function observation(over: Partial<VaultObservation> = {}): VaultObservation {
  return {
    vault: VAULT_A,
    blockNumber: 100n,
    delta: -1.25,
    gamma: 0.004,
    band: 0.5,
    outOfBand: true,
    oracleAgeSeconds: 12,
    oracleFresh: true,
    ...over,
  };
}

// ── Metrics ─────────────────────────────────────────────────────────────────────────────────────────────────

describe("KeeperMetrics", () => {
  it("counts blocks and skipped ticks and tracks the head and its lag", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    metrics.blockSeen(100n, 1_700_000_000n, 1_700_000_001.5);
    metrics.blockSeen(101n, 1_700_000_012n, 1_700_000_014);
    metrics.tickSkipped();
    const s = await scrape(metrics);
    expect(valueOf(s, "keeper_blocks_seen_total")).toBe(2);
    expect(valueOf(s, "keeper_head_block")).toBe(101);
    expect(valueOf(s, "keeper_head_lag_seconds")).toBe(2);
    expect(valueOf(s, "keeper_ticks_skipped_total")).toBe(1);
  });

  it("counts hedges, replacements and gas by vault and label, with every result of a seen vault at 0", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    metrics.hedge(VAULT_A, "sent");
    metrics.hedge(VAULT_A, "sent");
    metrics.hedge(VAULT_A, "mined");
    metrics.hedge(VAULT_B, "simulation_failed");
    metrics.replacement(VAULT_A, "bump");
    metrics.gasSpent(VAULT_A, 100_000n, { executionWei: 100_000n * 2_000_000_000n, l1DataWei: 0n });
    // a rollup's hedge: its L1 data fee counted apart
    metrics.gasSpent(VAULT_A, 50_000n, { executionWei: 50_000n * 4_000_000_000n, l1DataWei: 7_000_000_000n });
    const s = await scrape(metrics);
    expect(valueOf(s, "keeper_hedges_total", { vault: VAULT_A, result: "sent" })).toBe(2);
    expect(valueOf(s, "keeper_hedges_total", { vault: VAULT_A, result: "mined" })).toBe(1);
    expect(valueOf(s, "keeper_hedges_total", { vault: VAULT_A, result: "reverted" })).toBe(0);
    expect(valueOf(s, "keeper_hedges_total", { vault: VAULT_B, result: "simulation_failed" })).toBe(1);
    expect(valueOf(s, "keeper_hedges_total", { vault: VAULT_B, result: "sent" })).toBe(0);
    expect(valueOf(s, "keeper_replacements_total", { vault: VAULT_A, kind: "bump" })).toBe(1);
    expect(valueOf(s, "keeper_replacements_total", { vault: VAULT_A, kind: "cancel" })).toBe(0);
    expect(valueOf(s, "keeper_gas_used_total", { vault: VAULT_A })).toBe(150_000);
    expect(valueOf(s, "keeper_gas_spent_wei_total", { vault: VAULT_A, part: "execution" })).toBe(400_000_000_000_000);
    expect(valueOf(s, "keeper_gas_spent_wei_total", { vault: VAULT_A, part: "l1_data" })).toBe(7_000_000_000);
    expect(valueOf(s, "keeper_gas_used_total", { vault: VAULT_B })).toBe(0);
  });

  it("records decision time and block-to-broadcast latency as histograms", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    metrics.observeDecisionSeconds(0.0002);
    metrics.observeDecisionSeconds(0.003);
    for (const seconds of [0.004, 0.2, 20]) metrics.observeBroadcastLatencySeconds(seconds);
    const s = await scrape(metrics);
    expect(valueOf(s, "keeper_decision_seconds_count")).toBe(2);
    expect(valueOf(s, "keeper_decision_seconds_sum")).toBeCloseTo(0.0032, 12);
    expect(valueOf(s, "keeper_decision_seconds_bucket", { le: "0.00025" })).toBe(1);
    expect(valueOf(s, "keeper_block_to_broadcast_seconds_count")).toBe(3);
    expect(valueOf(s, "keeper_block_to_broadcast_seconds_bucket", { le: "0.001" })).toBe(0);
    expect(valueOf(s, "keeper_block_to_broadcast_seconds_bucket", { le: "0.005" })).toBe(1);
    expect(valueOf(s, "keeper_block_to_broadcast_seconds_bucket", { le: "10" })).toBe(2);
    expect(valueOf(s, "keeper_block_to_broadcast_seconds_bucket", { le: "+Inf" })).toBe(3);
  });

  it("sets a vault's Greeks, band and oracle gauges", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    metrics.vaultObserved(observation());
    metrics.vaultObserved(observation({ vault: VAULT_B, delta: 0.1, band: undefined, outOfBand: false, oracleAgeSeconds: 4000, oracleFresh: false }));
    const s = await scrape(metrics);
    expect(valueOf(s, "keeper_vault_delta", { vault: VAULT_A })).toBe(-1.25);
    expect(valueOf(s, "keeper_vault_gamma", { vault: VAULT_A })).toBe(0.004);
    expect(valueOf(s, "keeper_vault_band", { vault: VAULT_A })).toBe(0.5);
    expect(has(s, "keeper_vault_band", { vault: VAULT_B })).toBe(false);
    expect(valueOf(s, "keeper_oracle_age_seconds", { vault: VAULT_A })).toBe(12);
    expect(valueOf(s, "keeper_oracle_stale", { vault: VAULT_A })).toBe(0);
    expect(valueOf(s, "keeper_oracle_age_seconds", { vault: VAULT_B })).toBe(4000);
    expect(valueOf(s, "keeper_oracle_stale", { vault: VAULT_B })).toBe(1);
  });

  it("counts consecutive out-of-band blocks by block number and resets when back in band", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    const outOfBand = async () => valueOf(await scrape(metrics), "keeper_vault_out_of_band_blocks", { vault: VAULT_A });
    metrics.vaultObserved(observation({ blockNumber: 10n }));
    metrics.vaultObserved(observation({ blockNumber: 11n }));
    metrics.vaultObserved(observation({ blockNumber: 11n })); // the same block twice is one block
    expect(await outOfBand()).toBe(2);
    metrics.vaultObserved(observation({ blockNumber: 13n })); // block 12 skipped by a busy tick still counts
    expect(await outOfBand()).toBe(4);
    expect(metrics.outOfBandBlocks(VAULT_A)).toBe(4);
    metrics.vaultObserved(observation({ blockNumber: 14n, outOfBand: false }));
    expect(await outOfBand()).toBe(0);
    metrics.vaultObserved(observation({ blockNumber: 15n }));
    expect(await outOfBand()).toBe(1);
    expect(metrics.outOfBandBlocks(VAULT_B)).toBe(0);
  });

  it("sets signer balance, pending transactions and nonce gap", async () => {
    const metrics = new KeeperMetrics({ redactUrl });
    metrics.signerBalance(1_500_000_000_000_000_000n);
    metrics.pendingTransactions(2, 7);
    metrics.nonceGap(1);
    let s = await scrape(metrics);
    expect(valueOf(s, "keeper_signer_balance_wei")).toBe(1.5e18);
    expect(valueOf(s, "keeper_pending_transactions")).toBe(2);
    expect(valueOf(s, "keeper_oldest_pending_blocks")).toBe(7);
    expect(valueOf(s, "keeper_nonce_gap")).toBe(1);
    metrics.pendingTransactions(0, 7);
    s = await scrape(metrics);
    expect(valueOf(s, "keeper_oldest_pending_blocks")).toBe(0);
  });

  it("labels RPC requests and errors by method and a redacted url: no credentials, path or query", async () => {
    const redacted: string[] = [];
    const metrics = new KeeperMetrics({
      redactUrl: (url) => {
        redacted.push(url);
        return redactUrl(url);
      },
    });
    metrics.rpcRequest("eth_call", SECRET_RPC);
    metrics.rpcRequest("eth_call", SECRET_RPC);
    metrics.rpcError("eth_call", SECRET_RPC);
    const observer = metrics.rpcObserver(SECRET_RPC);
    observer.onRequest("eth_sendRawTransaction");
    observer.onError("eth_sendRawTransaction", new Error(`request to ${SECRET_RPC} failed`));
    metrics.rpcRequest("eth_blockNumber", "http://127.0.0.1:8545");

    const text = await metrics.metrics();
    for (const secret of ["alice", "hunter2", "SECRETAPIKEY", "/v2", "token=", "zz9secret"]) expect(text).not.toContain(secret);
    const s = parseExposition(text);
    const url = redactUrl(SECRET_RPC);
    expect(url.startsWith("https://eth-mainnet.example.com")).toBe(true);
    expect(valueOf(s, "keeper_rpc_requests_total", { method: "eth_call", url })).toBe(2);
    expect(valueOf(s, "keeper_rpc_errors_total", { method: "eth_call", url })).toBe(1);
    expect(valueOf(s, "keeper_rpc_requests_total", { method: "eth_sendRawTransaction", url })).toBe(1);
    expect(valueOf(s, "keeper_rpc_errors_total", { method: "eth_sendRawTransaction", url })).toBe(1);
    expect(valueOf(s, "keeper_rpc_requests_total", { method: "eth_blockNumber", url: "http://127.0.0.1:8545" })).toBe(1);
    for (const sample of s.filter((x) => x.name.startsWith("keeper_rpc_"))) {
      expect(sample.labels.url).not.toMatch(/[@?#]|\/v2/);
    }
    expect(redacted).toEqual([SECRET_RPC, "http://127.0.0.1:8545"]); // once per distinct URL
  });

  it("keeps each instance's metrics in its own registry, never the global one", async () => {
    const a = new KeeperMetrics({ redactUrl });
    const b = new KeeperMetrics({ redactUrl });
    a.blockSeen(1n, 0n, 0);
    a.blockSeen(2n, 0n, 0);
    b.blockSeen(9n, 0n, 0);
    expect(valueOf(await scrape(a), "keeper_blocks_seen_total")).toBe(2);
    expect(valueOf(await scrape(b), "keeper_blocks_seen_total")).toBe(1);
    expect(globalRegistry.getSingleMetric("keeper_blocks_seen_total")).toBeUndefined();
    expect(a.contentType).toMatch(/^text\/plain/);
  });
});

// ── Health rules ────────────────────────────────────────────────────────────────────────────────────────────

const RULES: HealthRules = {
  maxHeadAgeMs: 60_000,
  maxPendingBlocks: 10,
  minSignerBalanceWei: 10n ** 17n,
  maxOutOfBandBlocks: 20,
};

/** A keeper that is doing its job: a block processed 2 s ago, nothing pending, funded, vaults in band. */
function healthyState(over: Partial<HealthState> = {}): HealthState {
  return {
    nowMs: 1_000_000,
    startedAtMs: 0,
    lastBlockSeenAtMs: 998_000,
    headBlock: 500n,
    pending: [],
    nonceGap: 0,
    signerBalanceWei: 10n ** 18n,
    vaults: [
      { vault: VAULT_A, outOfBandBlocks: 0, lastRebalanceBlock: 400n },
      { vault: VAULT_B, outOfBandBlocks: 3, lastRebalanceBlock: 0n },
    ],
    ...over,
  };
}

function expectUnready(health: Health, reason: RegExp): void {
  expect(health.live).toBe(true);
  expect(health.ready).toBe(false);
  expect(health.reasons).toHaveLength(1);
  expect(health.reasons[0]).toMatch(reason);
}

describe("assessHealth", () => {
  it("is live and ready with no reasons when the keeper makes progress", () => {
    expect(assessHealth(healthyState(), RULES)).toEqual({ live: true, ready: true, reasons: [] });
  });

  it("is not ready while a perp position's margin is below the vault's minimum, or liquidatable (issue 14)", () => {
    const perp = (marginRatioBps: number, liquidatable = false) => ({ marginRatioBps, minMarginBps: 1_500, liquidatable, low: liquidatable || marginRatioBps < 1_500 });
    const withPerp = (p: ReturnType<typeof perp>) => healthyState({ vaults: [{ vault: VAULT_A, outOfBandBlocks: 0, lastRebalanceBlock: 400n, perp: p }] });
    expect(assessHealth(withPerp(perp(2_000)), RULES).ready).toBe(true);
    expectUnready(assessHealth(withPerp(perp(1_200)), RULES), /perp margin 1200 bps of notional, below the vault's minimum 1500 bps/);
    expectUnready(assessHealth(withPerp(perp(90, true)), RULES), /perp position is liquidatable/);
  });

  it("is not ready when the head is stale", () => {
    const health = assessHealth(healthyState({ lastBlockSeenAtMs: 1_000_000 - 61_000 }), RULES);
    expectUnready(health, /^stale head: last block 500 processed 61\.0 s ago \(max 60\.0 s\)/);
  });

  it("is not ready before the first block, and live only until the loop has stalled since start", () => {
    const starting = healthyState({ startedAtMs: 990_000, lastBlockSeenAtMs: undefined, headBlock: undefined });
    expectUnready(assessHealth(starting, RULES), /^no block processed yet$/);
    const neverStarted = assessHealth({ ...starting, startedAtMs: 1_000_000 - 301_000 }, RULES);
    expect(neverStarted.live).toBe(false);
    expect(neverStarted.reasons[0]).toMatch(/^loop stalled: no block processed in 301\.0 s since start/);
  });

  it("is not ready when a pending transaction is older than maxPendingBlocks", () => {
    const atLimit = healthyState({ pending: [{ vault: VAULT_A, sentAtBlock: 490n, nonce: 7 }] });
    expect(assessHealth(atLimit, RULES).ready).toBe(true);
    const stuck = healthyState({ pending: [{ vault: VAULT_A, sentAtBlock: 489n, nonce: 7 }] });
    expectUnready(assessHealth(stuck, RULES), /^stuck transaction: hedge for vault 0x5FbD\w+ \(nonce 7\) pending for 11 blocks since block 489/);
  });

  it("is not ready when the local nonce is ahead of the chain's pending nonce", () => {
    expectUnready(assessHealth(healthyState({ nonceGap: 1 }), RULES), /^nonce gap: local next nonce is 1 ahead/);
  });

  it("stays ready when the local nonce is behind the chain's (the next send resyncs)", () => {
    expect(assessHealth(healthyState({ nonceGap: -2 }), RULES).ready).toBe(true);
  });

  it("is not ready when the signer balance is below the minimum", () => {
    const health = assessHealth(healthyState({ signerBalanceWei: 10n ** 17n - 1n }), RULES);
    expectUnready(health, /^low signer balance: 99999999999999999 wei, below the minimum 100000000000000000 wei$/);
  });

  it("does not apply the balance rule without a signer (dry run)", () => {
    expect(assessHealth(healthyState({ signerBalanceWei: undefined }), RULES).ready).toBe(true);
  });

  it("is not ready when a vault is out of band for more than maxOutOfBandBlocks and nobody hedges it", () => {
    const atLimit = healthyState({ vaults: [{ vault: VAULT_A, outOfBandBlocks: 20, lastRebalanceBlock: 400n }] });
    expect(assessHealth(atLimit, RULES).ready).toBe(true);
    const unhedged = healthyState({ vaults: [{ vault: VAULT_A, outOfBandBlocks: 21, lastRebalanceBlock: 400n }] });
    expectUnready(
      assessHealth(unhedged, RULES),
      /^vault 0x5FbD\w+ out of band for 21 blocks \(max 20\) and nobody is hedging it \(last rebalanced at block 400, 100 blocks ago\)$/,
    );
    const never = healthyState({ headBlock: 15n, vaults: [{ vault: VAULT_B, outOfBandBlocks: 21, lastRebalanceBlock: 0n }] });
    expectUnready(assessHealth(never, RULES), /never rebalanced/);
  });

  it("stays ready when a vault out of band is being hedged by another keeper", () => {
    // Nothing of ours is pending: the vault's lastRebalanceBlock advanced because someone else rebalanced it.
    const hedgedByOther = healthyState({ vaults: [{ vault: VAULT_A, outOfBandBlocks: 40, lastRebalanceBlock: 495n }] });
    expect(assessHealth(hedgedByOther, RULES)).toEqual({ live: true, ready: true, reasons: [] });
  });

  it("is neither live nor ready when the loop is wedged", () => {
    const wedged = assessHealth(healthyState({ lastBlockSeenAtMs: 1_000_000 - 300_001 }), RULES);
    expect(wedged.live).toBe(false);
    expect(wedged.ready).toBe(false);
    expect(wedged.reasons[0]).toMatch(/^loop stalled: no block processed for 300\.0 s \(max 300\.0 s\)$/);
    expect(wedged.reasons[1]).toMatch(/^stale head/);
    const slowButMoving = assessHealth(healthyState({ lastBlockSeenAtMs: 1_000_000 - 300_000 }), RULES);
    expect(slowButMoving.live).toBe(true);
    expect(assessHealth(healthyState({ lastBlockSeenAtMs: 1_000_000 - 100_000 }), { ...RULES, maxLoopStallMs: 90_000 }).live).toBe(false);
  });

  it("reports every failing rule at once", () => {
    const health = assessHealth(
      healthyState({ nonceGap: 2, signerBalanceWei: 0n, pending: [{ vault: VAULT_B, sentAtBlock: 1n }] }),
      RULES,
    );
    expect(health.ready).toBe(false);
    expect(health.reasons.map((r) => r.split(":")[0])).toEqual(["stuck transaction", "nonce gap", "low signer balance"]);
  });
});

// ── Server ──────────────────────────────────────────────────────────────────────────────────────────────────

describe("startTelemetryServer", () => {
  const metrics = new KeeperMetrics({ redactUrl });
  let health: Health = { live: true, ready: true, reasons: [] };
  let server: TelemetryServer;

  beforeAll(async () => {
    metrics.blockSeen(42n, 0n, 1);
    metrics.rpcRequest("eth_call", SECRET_RPC);
    server = await startTelemetryServer({ port: 0, metrics, health: () => health });
  });

  afterAll(async () => {
    await server.close();
  });

  it("binds to 127.0.0.1 on the port it picked", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
  });

  it("serves the Prometheus text on GET /metrics", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.contentType);
    const text = await res.text();
    expect(text).toContain("keeper_blocks_seen_total");
    expect(valueOf(parseExposition(text), "keeper_head_block")).toBe(42);
    expect(text).not.toContain("SECRETAPIKEY");
    expect((await fetch(`${server.url}/metrics?debug=1`)).status).toBe(200);
  });

  it("answers /readyz with 503 and the reasons when unready, 200 when ready", async () => {
    health = { live: true, ready: false, reasons: ["nonce gap: local next nonce is 1 ahead"] };
    const unready = await fetch(`${server.url}/readyz`);
    expect(unready.status).toBe(503);
    expect(unready.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await unready.json()).toEqual({ live: true, ready: false, reasons: ["nonce gap: local next nonce is 1 ahead"] });

    health = { live: true, ready: true, reasons: [] };
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe("ok\n");
  });

  it("answers /healthz by liveness alone: 200 while live but unready, 503 when the loop is wedged", async () => {
    health = { live: true, ready: false, reasons: ["stale head: last block 42 processed 61.0 s ago (max 60.0 s)"] };
    const live = await fetch(`${server.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe("ok\n");

    health = { live: false, ready: false, reasons: ["loop stalled: no block processed for 301.0 s (max 300.0 s)"] };
    const dead = await fetch(`${server.url}/healthz`);
    expect(dead.status).toBe(503);
    expect((await dead.json()) as unknown).toMatchObject({ live: false, reasons: [expect.stringMatching(/^loop stalled/)] });
    health = { live: true, ready: true, reasons: [] };
  });

  it("answers 404 to an unknown path and 405 to a method other than GET or HEAD", async () => {
    expect((await fetch(`${server.url}/`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics/extra`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect((await fetch(`${server.url}/readyz`, { method: "DELETE" })).status).toBe(405);
    const head = await fetch(`${server.url}/readyz`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("answers 500 without details when collecting metrics fails", async () => {
    const broken = new KeeperMetrics({ redactUrl });
    broken.metrics = () => Promise.reject(new Error(`cannot reach ${SECRET_RPC}`));
    const other = await startTelemetryServer({ port: 0, metrics: broken, health: () => health });
    try {
      const res = await fetch(`${other.url}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("internal error\n");
    } finally {
      await other.close();
    }
  });
});
