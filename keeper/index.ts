#!/usr/bin/env node
/**
 * The composition root and CLI: `npm run keeper -- <command> [flags]`. The only module that reads
 * `process.env`, the clock and the process's signals; everything else receives what it needs.
 *
 * Exit codes: 0 done, 1 runtime failure (e.g. the RPC is unreachable at startup), 2 bad command line or
 * configuration — with one line per problem, never a bare stack trace.
 */
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { Address } from "viem";
import { createChainClients, createWsClient, signerFromPrivateKey, type ChainClients } from "./chain/clients.ts";
import { errorMessage } from "./chain/errors.ts";
import type { ReadResult } from "./chain/readVaults.ts";
import { CliError, helpText, parseCli, type CliCommand } from "./cli.ts";
import { ConfigError, describeConfig, loadEnvFile, parseConfig, type Config } from "./config/index.ts";
import { Journal } from "./execution/journal.ts";
import { Keeper, type SendStep, type TickReport } from "./keeper.ts";
import { keeperOptionsFromConfig } from "./options.ts";
import { tokenToNumber, wadToNumber } from "./pricing/wad.ts";
import { marginRatioBps } from "./sizing/perpSize.ts";
import { assessHealth } from "./telemetry/health.ts";
import { limitStatus } from "./telemetry/holds.ts";
import { round } from "./telemetry/format.ts";
import { createLogger, type Logger } from "./telemetry/logger.ts";
import { KeeperMetrics } from "./telemetry/metrics.ts";
import { redactUrl } from "./telemetry/redact.ts";
import { startTelemetryServer } from "./telemetry/server.ts";
import { StatusBoard } from "./telemetry/status.ts";
import type { VaultPlan } from "./tick.ts";
import type { VaultSnapshot } from "./types.ts";

const nowMs = () => performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function main(argv: readonly string[]): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCli(argv);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\nRun \`npm run keeper -- --help\` for usage.\n`);
      return 2;
    }
    throw error;
  }
  if (command.command === "help") {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }

  let config: Config;
  try {
    const env = { ...loadEnvFile(command.envFile), ...process.env };
    config = parseConfig(env, command.overrides, { readFile: (path) => readFileSync(path, "utf8") });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`configuration error (see .env.example):\n${error.message.replace(/^/gm, "  ")}\n`);
      return 2;
    }
    throw error;
  }

  const logger = createLogger(config.log);
  const metrics = config.telemetry.metricsPort !== undefined ? new KeeperMetrics({ redactUrl }) : undefined;
  const clients = createChainClients({
    rpcUrl: config.rpc.url,
    fallbackUrls: config.rpc.fallbackUrls,
    wsUrl: config.rpc.wsUrl,
    ...(metrics
      ? {
          endpointObserver: {
            onRequest: (method: string, url: string) => metrics.rpcRequest(method, url),
            onError: (method: string, url: string) => metrics.rpcError(method, url),
            onFailover: (from: string, to: string, reason: string) => logger.warn({ from, to, reason }, "RPC failover"),
          },
        }
      : {}),
  });
  const account = config.privateKey ? signerFromPrivateKey(config.privateKey) : undefined;
  const failpoint = parseFailpoint(process.env.KEEPER_FAILPOINT);
  const deps = {
    client: clients.publicClient,
    ...(account ? { account } : {}),
    logger,
    nowMs,
    ...failpoint,
    ...(metrics ? { metrics, wallClockSec: () => Date.now() / 1000 } : {}),
  };
  const keeperOptions = keeperOptionsFromConfig(config);
  const rules = {
    maxHeadAgeMs: config.telemetry.maxHeadAgeMs,
    maxPendingBlocks: config.telemetry.maxPendingBlocks,
    maxOutOfBandBlocks: config.telemetry.maxOutOfBandBlocks,
    minSignerBalanceWei: config.telemetry.minSignerBalanceWei,
  };
  // The status page (served with the metrics): fed each block from the tick's own report, no extra RPC.
  const board =
    config.telemetry.metricsPort !== undefined && command.command === "run"
      ? new StatusBoard({
          historyBlocks: config.telemetry.statusHistoryBlocks,
          policy: keeperOptions.policy,
          mode: keeperOptions.shadow ? "shadow" : keeperOptions.dryRun || !account ? "dry-run" : "live",
        })
      : undefined;
  let keeperRef: Keeper | undefined;
  const onTick = (report: TickReport) => {
    if (board === undefined || keeperRef === undefined) return;
    try {
      board.observe({ ...report, pending: keeperRef.pending.list(), health: assessHealth(keeperRef.healthState(nowMs()), rules) });
    } catch (error) {
      logger.warn({ error: errorMessage(error) }, "status page: could not record this block");
    }
  };
  const keeper = new Keeper(keeperOptions, { ...deps, onTick });
  keeperRef = keeper;

  // Startup: one read proves the RPC, the lens and the vaults, and gives the chain id to check.
  let first: ReadResult;
  try {
    first = await keeper.read();
  } catch (error) {
    logger.fatal({ rpc: redactUrl(config.rpc.url), lens: config.lens, error: errorMessage(error) }, "cannot read the vaults through the lens at startup");
    await flush(logger);
    return 1;
  }
  if (config.expectedChainId !== undefined && BigInt(config.expectedChainId) !== first.chain.chainId) {
    logger.fatal({ expected: config.expectedChainId, actual: Number(first.chain.chainId) }, "the RPC serves another chain than CHAIN_ID / the deployments file");
    await flush(logger);
    return 1;
  }

  // The journal is per chain and signer. Only a run that may send needs it.
  if (account && !config.dryRun && command.command !== "status") {
    const journal = new Journal(join(config.journalDir, `journal-${first.chain.chainId}-${account.address.toLowerCase()}.jsonl`));
    keeper.attachJournal(journal);
    try {
      await keeper.recover();
    } catch (error) {
      logger.fatal({ journal: journal.path, error: errorMessage(error) }, "cannot reconcile the journal with the chain at startup");
      await flush(logger);
      return 1;
    }
  }

  switch (command.command) {
    case "status":
      {
        const priced = await keeper.price(first);
        printStatus(priced, keeper.plan(priced, config.sending.maxPriorityFeePerGasWei), command.json, keeper.chainType);
      }
      return 0;
    case "once": {
      const report = await keeper.tick({ read: first, seenAtMs: nowMs() });
      printOnce(report?.plans ?? [], command.json);
      await flush(logger);
      return 0;
    }
    case "run": {
      logger.info({ config: describeConfig(config), signer: account?.address, mode: config.rpc.wsUrl ? "websocket" : "polling" }, "keeper starting");
      const telemetry =
        metrics && config.telemetry.metricsPort !== undefined
          ? await startTelemetryServer({
              port: config.telemetry.metricsPort,
              metrics,
              health: () => assessHealth(keeper.healthState(nowMs()), rules),
              ...(board ? { status: board } : {}),
            })
          : undefined;
      if (telemetry) logger.info({ url: telemetry.url, statusPage: `${telemetry.url}/` }, "serving /metrics, /healthz, /readyz");
      await run(keeper, clients, config, logger, first);
      await telemetry?.close();
      await flush(logger);
      return 0;
    }
  }
}

/** Watches blocks until SIGINT/SIGTERM; then lets an in-flight tick finish (bounded) and returns. */
async function run(keeper: Keeper, clients: ChainClients, config: Config, logger: Logger, first: ReadResult): Promise<void> {
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping: no new blocks taken");
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });

  const onTickError = (error: unknown) => logger.error({ error: errorMessage(error) }, "tick failed: RPC read or send error; retrying on the next block");
  await keeper.tick({ read: first, seenAtMs: nowMs() }).catch(onTickError);

  if (clients.wsClient && config.rpc.wsUrl) {
    // Blocks from a newHeads subscription. A lost subscription is logged once and re-established with
    // exponential backoff (1 s … 30 s); meanwhile — and against sockets that die silently — a slow poll keeps
    // ticks coming (a block already handled is skipped, so it costs one request per few blocks).
    const wsUrl = config.rpc.wsUrl;
    let unwatch: () => void = () => undefined;
    let failures = 0;
    let retry: NodeJS.Timeout | undefined;
    const subscribe = (client = createWsClient(wsUrl)) => {
      unwatch = client.watchBlockNumber({
        emitOnBegin: false,
        onBlockNumber: (blockNumber) => {
          failures = 0;
          if (stopping) return;
          keeper.tick({ blockNumber, seenAtMs: nowMs() }).catch(onTickError);
        },
        onError: (error) => {
          unwatch();
          if (stopping) return;
          const waitMs = Math.min(30_000, 1_000 * 2 ** Math.min(failures++, 5));
          logger.warn({ error: errorMessage(error), retryInMs: waitMs }, "block subscription lost: polling meanwhile, re-subscribing");
          clearTimeout(retry);
          retry = setTimeout(() => {
            if (!stopping) subscribe();
          }, waitMs);
        },
      });
    };
    subscribe(clients.wsClient);
    const net = setInterval(() => {
      if (!stopping && !keeper.busy) keeper.poll().catch(onTickError);
    }, Math.max(config.rpc.pollIntervalMs * 5, 5_000));
    await stopped;
    clearInterval(net);
    clearTimeout(retry);
    unwatch();
  } else {
    // Polling: one lens read per interval (see Keeper.poll).
    const loop = (async () => {
      while (!stopping) {
        const started = nowMs();
        try {
          await keeper.poll();
        } catch (error) {
          onTickError(error);
        }
        const wait = config.rpc.pollIntervalMs - (nowMs() - started);
        if (!stopping && wait > 0) await Promise.race([sleep(wait), stopped]);
      }
    })();
    await stopped;
    await Promise.race([loop, sleep(10_000)]);
  }
  for (let waited = 0; keeper.busy && waited < 10_000; waited += 100) await sleep(100);
  if (keeper.pending.size > 0) {
    logger.warn({ pending: keeper.pending.hashes() }, "exiting with hedges still pending: they stay valid on-chain");
  }
}

function printStatus(read: ReadResult, plans: VaultPlan[], json: boolean, chainType: string): void {
  if (json) {
    const costs = plans.map((p) => ({ vault: p.vault, hedgeCostQuote: p.view.costs.gasCostQuote, l1DataFeeQuote: p.view.costs.l1DataFeeQuote ?? 0 }));
    process.stdout.write(`${JSON.stringify({ block: read.chain.blockNumber, chainType, vaults: plans.map(planSummary), hedgeCosts: costs, failures: read.failures }, bigintJson, 2)}\n`);
    return;
  }
  const rows = plans.map((p) => {
    const s = p.snapshot;
    return {
      vault: shortAddress(p.vault),
      "net delta": fmt(wadToNumber(s.netDeltaWad)),
      band: p.decision.band === undefined ? fmt(wadToNumber(s.hedge.bandWad)) : fmt(p.decision.band),
      limit: limitCell(p),
      "hedge bal": fmt(Number(s.hedgeBalance) / 10 ** s.underlyingDecimals),
      perp: perpCell(s),
      spot: fmt(wadToNumber(s.spotWad), 2),
      "oracle age": `${s.oracleAgeSeconds}s${s.oracleStatus === "Usable" ? "" : ` ${s.oracleStatus.toUpperCase()}`}`,
      "last rebalance": s.lastRebalanceBlock === 0n ? "never" : `#${s.lastRebalanceBlock}`,
      series: s.book.length,
      state: s.paused ? "PAUSED" : "active",
      "hedge cost": p.view.costs.l1DataFeeQuote === undefined ? fmt(p.view.costs.gasCostQuote) : `${fmt(p.view.costs.gasCostQuote)} (L1 ${fmt(p.view.costs.l1DataFeeQuote)})`,
    };
  });
  process.stdout.write(`block #${read.chain.blockNumber} (${chainType}${chainType === "l1" ? "" : `: a hedge's L1 data fee ${read.chain.l1DataFeeWei ?? "unknown"} wei`})\n${table(rows)}\n`);
  for (const p of plans) {
    const limit = limitStatus(p);
    if (limit.kind === "blocked") {
      process.stdout.write(`${p.vault}: outside its hard delta limit ${fmt(p.maxAbsDelta)}, not being brought back (${limit.by}): ${limit.reason}\n`);
    }
  }
  for (const f of read.failures) process.stdout.write(`${f.vault}: unreadable (${f.reason})\n`);
}

/** The perp position and its margin as a share of its notional: `-18.19 (margin 38%)`; `-` without a perp market. */
function perpCell(s: VaultSnapshot): string {
  const p = s.perp;
  if (p === undefined) return "-";
  if (!p.priced) return `${fmt(wadToNumber(p.sizeWad))} (UNPRICED)`;
  if (p.sizeWad === 0n) return `0 (margin ${fmt(tokenToNumber(p.margin, s.quoteDecimals), 0)})`;
  const ratio = marginRatioBps(s) / 100;
  return `${fmt(wadToNumber(p.sizeWad))} (margin ${ratio.toFixed(0)}%${p.liquidatable ? " LIQUIDATABLE" : ratio * 100 < p.minMarginBps ? " LOW" : ""})`;
}

/** The hard delta limit and where the vault stands against it: `0.5`, `0.5 OUTSIDE (returning)`, `0.5 OUTSIDE: budget`. */
function limitCell(p: VaultPlan): string {
  const limit = limitStatus(p);
  if (limit.kind === "none") return "none";
  const value = fmt(p.maxAbsDelta);
  if (limit.kind === "inside") return value;
  return limit.kind === "returning" ? `${value} OUTSIDE (returning)` : `${value} OUTSIDE: ${limit.by}`;
}

function printOnce(plans: VaultPlan[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(plans.map(planSummary), bigintJson, 2)}\n`);
    return;
  }
  const rows = plans.map((p) => ({
    vault: shortAddress(p.vault),
    "net delta": fmt(p.view.delta),
    decision: p.decision.kind,
    reason: p.decision.reason,
    order:
      p.sizing === undefined
        ? "-"
        : p.sizing.kind === "skip"
          ? `skip: ${p.sizing.reason}`
          : p.sizing.order.margin !== undefined
            ? `${p.sizing.order.margin.direction} margin ${fmt(tokenToNumber(p.sizing.order.margin.amount, p.snapshot.quoteDecimals))}: ${p.sizing.order.margin.reason}`
            : `${p.sizing.order.perp !== undefined ? "perp " : ""}${p.sizing.order.buyUnderlying ? "buy" : "sell"} ${fmt(wadToNumber(p.sizing.order.tradeWad))} → delta ${fmt(wadToNumber(p.sizing.order.deltaAfterWad))}`,
  }));
  process.stdout.write(`${table(rows)}\n`);
}

function planSummary(p: VaultPlan) {
  return {
    vault: p.vault,
    block: p.snapshot.blockNumber,
    netDelta: p.view.delta,
    gamma: p.view.gamma,
    spot: p.view.spot,
    hedgeBalance: p.snapshot.hedgeBalance,
    lastRebalanceBlock: p.snapshot.lastRebalanceBlock,
    decision: p.decision,
    // JSON has no Infinity: no hard limit is null.
    maxAbsDelta: Number.isFinite(p.maxAbsDelta) ? p.maxAbsDelta : null,
    limit: limitStatus(p),
    sizing: p.sizing,
    greeksCrossCheck: p.greeks,
  };
}

function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return "(no vaults)";
  const keys = Object.keys(rows[0]!);
  const widths = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(keys), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(keys.map((k) => String(r[k]))))].join("\n");
}

const FAILPOINTS: readonly SendStep[] = ["before-sign", "after-journal", "after-broadcast", "after-mined"];

/**
 * KEEPER_FAILPOINT=<step> kills the process (SIGKILL, no cleanup) when a send reaches that step: how the crash
 * tests prove a restart neither loses nor repeats a hedge. Test-only; unset in production.
 */
function parseFailpoint(value: string | undefined): { failpoint?: (step: SendStep) => void } {
  if (!value) return {};
  if (!FAILPOINTS.includes(value as SendStep)) {
    process.stderr.write(`KEEPER_FAILPOINT: must be one of ${FAILPOINTS.join(", ")} (got "${value}"); ignored\n`);
    return {};
  }
  return {
    failpoint: (step) => {
      if (step === value) process.kill(process.pid, "SIGKILL");
    },
  };
}

const fmt = (x: number, digits = 4) => String(round(x, digits));
const shortAddress = (a: Address) => `${a.slice(0, 6)}…${a.slice(-4)}`;
const bigintJson = (_key: string, value: unknown) => (typeof value === "bigint" ? value.toString() : value);

/** pino writes asynchronously; give it a moment before the process exits. */
function flush(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}

/**
 * Exits once stdout and stderr have drained: writes to a pipe are asynchronous, and a bare `process.exit` would
 * cut off a table or JSON being read by another program.
 */
function exitAfterFlush(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

/**
 * Whether this module is the process's entry point — `node keeper/index.ts`, the built `dist/keeper/index.js`, or
 * the `delta-keeper` command, a symlink to it in `node_modules/.bin` (hence the realpath). Tests and the
 * benchmark import `main` instead.
 */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(exitAfterFlush, (error: unknown) => {
    process.stderr.write(`fatal: ${errorMessage(error)}\n`);
    exitAfterFlush(1);
  });
}
