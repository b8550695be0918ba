/**
 * `npm run simulate`'s pipeline: options → scenario and paths → the model sweep and/or fork runs → summaries →
 * report. Thin: the engines are `model.ts` and `fork.ts`, the analysis `stats.ts` and `report.ts`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { readDeployment, type Deployment } from "../harness/deploy.ts";
import { loadGasModel } from "./gas.ts";
import { MAINNET_2021_PROCESS, OP_BEDROCK_PROFILE, type GasSource } from "./gasPrice.ts";
import { runModel } from "./model.ts";
import { csvWindows, generatePaths, readPriceCsv, realizedVol, regimeVol, type PathSource } from "./paths.ts";
import type { Progress } from "./progress.ts";
import { writeReport, type AgreementRow } from "./report.ts";
import { checkScenario, DEFAULT_PERP_SCENARIO, DEFAULT_SCENARIO, defaultPoints, minVaultDeposit, type GasScenario, type Scenario } from "./scenario.ts";
import { summarize } from "./stats.ts";
import { sweepModel } from "./sweep.ts";
import { DEFAULT_SIM_OPTIONS, type SimOptions } from "./cli.ts";
import type { PointSummary, PolicyFamily, PolicyPoint, RunMetrics } from "./types.ts";

export interface SimulationResult {
  scenario: Scenario;
  points: PolicyPoint[];
  summaries: PointSummary[];
  agreement: AgreementRow[];
  files: string[];
  /** Model runs per minute (path × point runs of `scenario.steps` blocks), when the model ran. */
  modelRunsPerMinute?: number;
  /** Fork blocks per second (with hedging), when the fork ran. */
  forkBlocksPerSecond?: number;
  seconds: number;
}

/** The scenario and paths the options describe. */
export function buildInputs(o: SimOptions): { scenario: Scenario; paths: Float64Array[]; source: string; notes: string[] } {
  const notes: string[] = [];
  let source: PathSource;
  let blockSeconds = o.blockSeconds ?? 12;
  let steps = o.steps ?? DEFAULT_SCENARIO.steps;
  let vaultVol = o.vaultVol ?? o.vol;
  let paths: Float64Array[] | undefined;
  let sourceText: string;
  if (o.source === "csv") {
    const series = readPriceCsv(o.csv);
    blockSeconds = o.blockSeconds ?? series.intervalSeconds;
    steps = o.steps ?? Math.min(168, series.prices.length - 1);
    const realized = realizedVol(series.prices, series.intervalSeconds);
    vaultVol = o.vaultVol ?? Number(realized.toFixed(2));
    const windows = csvWindows(series, { count: o.paths, steps, spot: DEFAULT_SCENARIO.spot });
    paths = windows.paths;
    sourceText = `${o.csv}: ${series.prices.length} rows every ${series.intervalSeconds} s, realised vol ${(realized * 100).toFixed(1)}%`;
    if (windows.distinct < o.paths) {
      notes.push(`The CSV holds ${windows.distinct} non-overlapping windows of ${steps} rows; the ${o.paths} paths overlap (P&L across them is correlated).`);
    }
    if (o.blockSeconds !== undefined && o.blockSeconds !== series.intervalSeconds) {
      notes.push(`Each CSV row is replayed as one ${blockSeconds} s block although the rows are ${series.intervalSeconds} s apart: time is compressed.`);
    }
    source = { kind: "csv", file: o.csv };
  } else {
    if (o.source === "regime") {
      const vol = Number(regimeVol(o.regimeVols, o.regimeBlocks).toFixed(4));
      vaultVol = o.vaultVol ?? vol;
      source = { kind: "regime", drift: o.drift, vol, vols: o.regimeVols, meanBlocks: o.regimeBlocks };
      sourceText = `regime-switching GBM σ ${o.regimeVols.join(" / ")} (mean ${o.regimeBlocks.join(" / ")} blocks; stationary σ ${vol}), μ ${o.drift}, seed ${o.seed}`;
    } else {
      source =
        o.source === "gbm"
          ? { kind: "gbm", drift: o.drift, vol: o.vol }
          : { kind: "jump", drift: o.drift, vol: o.vol, jumpsPerYear: o.jumpsPerYear, jumpMean: o.jumpMean, jumpStd: o.jumpStd };
      sourceText =
        o.source === "gbm"
          ? `GBM σ ${o.vol}, μ ${o.drift}, seed ${o.seed}`
          : `GBM σ ${o.vol}, μ ${o.drift} with jumps λ ${o.jumpsPerYear}/y, log size N(${o.jumpMean}, ${o.jumpStd}²), seed ${o.seed}`;
    }
  }
  const book =
    o.book === "calls"
      ? [{ isCall: true, moneyness: 1, expiryDays: o.expiryDays, size: o.optionsSold }]
      : o.book === "puts"
        ? [{ isCall: false, moneyness: 1, expiryDays: o.expiryDays, size: o.optionsSold }]
        : [
            { isCall: true, moneyness: 1, expiryDays: o.expiryDays, size: o.optionsSold / 2 },
            { isCall: false, moneyness: 1, expiryDays: o.expiryDays, size: o.optionsSold / 2 },
          ];
  const scenario: Scenario = {
    ...DEFAULT_SCENARIO,
    // A book with puts needs the perp to go short; it starts unhedged (the opening hedge is part of every run).
    ...(o.book === "calls" ? {} : { perp: DEFAULT_PERP_SCENARIO, startHedged: false }),
    blockSeconds,
    steps,
    vol: vaultVol,
    book,
    // The default capital, or — for a book too large for it under the vault's collateral rule — what the book
    // needs with a quarter to spare (premiums and the hedge's cash come on top).
    // With a flow of sales, the book it may grow to: all of the flow on any one series.
    vaultDeposit: Math.max(
      DEFAULT_SCENARIO.vaultDeposit,
      ...book.map((_, k) =>
        Math.ceil(1.25 * minVaultDeposit({ ...DEFAULT_SCENARIO, book: book.map((b, j) => (j === k ? { ...b, size: b.size + (o.flow?.[2] ?? 0) } : b)) })),
      ),
    ),
    ammDepth: o.depth,
    ammFeeBps: o.feeBps,
    gasPriceGwei: o.gasGwei,
    ...(o.gas === "constant" ? {} : { gas: gasScenarioOf(o) }),
    ...(o.flow === undefined ? {} : { flow: { seed: o.seed, perBlock: o.flow[0], meanSize: o.flow[1], maxTotal: o.flow[2] } }),
    riskAversion: o.riskAversion,
    hedge: {
      ...DEFAULT_SCENARIO.hedge,
      // A hedge lands one block after the price it was sized on: the oracle must stay fresh that long.
      maxOracleAge: Math.max(DEFAULT_SCENARIO.hedge.maxOracleAge, 2 * blockSeconds),
      budgetWindowSeconds: o.budgetWindowSeconds,
      notionalBudget: o.notionalBudget,
      slippageBudget: o.slippageBudget,
    },
  };
  checkScenario(scenario);
  paths ??= generatePaths(source, { count: o.paths, steps, spot: scenario.spot, blockSeconds, seed: o.seed });
  return { scenario, paths, source: sourceText, notes };
}

/** The point of each family the fork replays in mode both: the middle of its sweep. */
export function representativePoints(points: readonly PolicyPoint[]): PolicyPoint[] {
  const byFamily = new Map<PolicyFamily, PolicyPoint[]>();
  for (const p of points) byFamily.set(p.family, [...(byFamily.get(p.family) ?? []), p]);
  return [...byFamily.values()].map((ps) => ps[Math.floor((ps.length - 1) / 2)]!);
}

/** Relative difference |a − b| / max(|a|, |b|) (0 when both are 0). */
export function relDiff(a: number, b: number, scale = Math.max(Math.abs(a), Math.abs(b))): number {
  return scale === 0 ? 0 : Math.abs(a - b) / scale;
}

/** The rows comparing one fork run with the model run on the same path and point. */
export function agreementRows(label: string, fork: RunMetrics, model: RunMetrics): AgreementRow[] {
  const row = (field: string, f: number, m: number, scale?: number): AgreementRow => ({ label, field, fork: f, model: m, relDiff: relDiff(f, m, scale) });
  return [
    row("total cost", fork.totalCost, model.totalCost),
    row("tracking error", fork.trackingError, model.trackingError),
    // P&L can sit near 0 on one path: measured against the path's tracking error instead.
    row("P&L (÷ tracking error)", fork.pnl, model.pnl, Math.max(fork.trackingError, model.trackingError)),
    row("gas used", fork.gasUsed, model.gasUsed),
    row("slippage + fees", fork.slippageCost, model.slippageCost),
    row("hedges", fork.hedges, model.hedges),
    row("budget used (peak)", fork.budgetUse, model.budgetUse),
  ];
}

export async function runSimulation(o: SimOptions, io: { log: (line: string) => void; progress: Progress }): Promise<SimulationResult> {
  const started = performance.now();
  const { scenario, paths, source, notes } = buildInputs(o);
  const points = defaultPoints(scenario).filter((p) => o.families.includes(p.family));
  const gas = loadGasModel();
  io.log(
    `simulate: ${o.mode} mode, ${points.length} policy points × ${paths.length} paths × ${scenario.steps} blocks ` +
      `(${scenario.blockSeconds} s), ${source}; vault short ${o.optionsSold} ATM ${o.book === "mixed" ? "calls and puts (half each)" : o.book}${o.book === "calls" ? "" : ", a perp market beside the AMM"}, ${o.expiryDays} d, vol ${scenario.vol}; ` +
      `AMM ${scenario.ammDepth} deep, ${scenario.ammFeeBps} bps; gas ${scenario.gas === undefined ? `${scenario.gasPriceGwei} gwei` : `${o.gas === "replay" ? "mainnet base fees replayed" : "EIP-1559 process"}, fee cap ${scenario.gas.maxFeeGwei} gwei`}`,
  );

  let summaries: PointSummary[] = [];
  let modelRunsPerMinute: number | undefined;
  let forkBlocksPerSecond: number | undefined;
  const agreement: AgreementRow[] = [];

  // A shard runs paths j with j mod n = i − 1 (each keeps its index: its random streams, its place when merged).
  const shardIndices = o.shard === undefined ? undefined : paths.map((_, j) => j).filter((j) => j % o.shard!.count === o.shard!.index - 1);
  if (o.mode !== "fork") {
    const t0 = performance.now();
    const byPoint = await sweepModel({
      scenario,
      points,
      paths: shardIndices === undefined ? paths : shardIndices.map((j) => paths[j]!),
      ...(shardIndices === undefined ? {} : { pathIndices: shardIndices }),
      gas,
      ...(o.workers === undefined ? {} : { workers: o.workers }),
      onProgress: (done, total) => io.progress.update(done, total, "model runs"),
    });
    io.progress.done();
    const seconds = (performance.now() - t0) / 1000;
    const runs = points.length * (shardIndices?.length ?? paths.length);
    modelRunsPerMinute = (runs / seconds) * 60 * (scenario.steps / 1000);
    io.log(`model: ${runs} runs in ${seconds.toFixed(1)} s (${Math.round(modelRunsPerMinute)} runs of 1,000 blocks per minute)`);
    if (o.shard !== undefined) {
      const file = writeShard(o, points, byPoint, seconds);
      return { scenario, points, summaries: [], agreement: [], files: [file], modelRunsPerMinute, seconds: (performance.now() - started) / 1000 };
    }
    summaries = points.map((p, k) => summarize(p, byPoint[k]!));
  }

  if (o.mode === "fork" || (o.mode === "both" && o.forkPaths > 0)) {
    const { openFork, runFork } = await import("./fork.ts");
    let deployment: Partial<Deployment> | undefined;
    if (o.deployment !== undefined) {
      deployment = await readDeployment(o.deployment);
      if (deployment === undefined) throw new Error(`--deployment: ${o.deployment} does not exist`);
    }
    const session = await openFork(scenario, { forkUrl: o.forkUrl, deployment });
    try {
      io.log(`fork: chain ${session.chainId} forked from ${session.origin}; vault ${session.vault.address}`);
      const forkPoints = o.mode === "fork" ? points : representativePoints(points);
      const forkPaths = o.mode === "fork" ? paths : paths.slice(0, Math.min(o.forkPaths, paths.length));
      const total = forkPoints.length * forkPaths.length;
      const byPoint: RunMetrics[][] = forkPoints.map(() => []);
      let blocks = 0;
      let wall = 0;
      let done = 0;
      for (let k = 0; k < forkPoints.length; k++) {
        for (let j = 0; j < forkPaths.length; j++) {
          const point = forkPoints[k]!;
          const fork = await runFork(session, { path: forkPaths[j]!, pathIndex: j, point, scenario });
          blocks += fork.blocks;
          wall += fork.wallSeconds;
          byPoint[k]!.push(fork);
          if (o.mode === "both") {
            const model = runModel({ path: forkPaths[j]!, pathIndex: j, point, scenario, gas, start: session.start, startBudget: session.startBudget });
            agreement.push(...agreementRows(`${point.label}, path ${j}`, fork, model));
          }
          io.progress.update(++done, total, "fork runs");
        }
      }
      io.progress.done();
      forkBlocksPerSecond = blocks / wall;
      io.log(`fork: ${total} runs, ${blocks} blocks in ${wall.toFixed(1)} s (${Math.round(forkBlocksPerSecond)} blocks/s)`);
      if (o.mode === "fork") summaries = forkPoints.map((p, k) => summarize(p, byPoint[k]!));
    } finally {
      await session.close();
    }
  }

  const meta = reportMeta(o, scenario, source, paths.length);
  if (modelRunsPerMinute !== undefined) meta["model runs of 1,000 blocks per minute"] = Math.round(modelRunsPerMinute);
  if (forkBlocksPerSecond !== undefined) meta["fork blocks per second"] = Math.round(forkBlocksPerSecond);
  const { files } = writeReport(o.out, {
    title: REPORT_TITLE,
    meta,
    summaries,
    riskAversion: scenario.riskAversion,
    ...(agreement.length > 0 ? { agreement } : {}),
    notes: [...notes, ...REPORT_NOTES],
  });
  return {
    scenario,
    points,
    summaries,
    agreement,
    files,
    ...(modelRunsPerMinute === undefined ? {} : { modelRunsPerMinute }),
    ...(forkBlocksPerSecond === undefined ? {} : { forkBlocksPerSecond }),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The moving gas the options ask for (`--gas process|replay`), with the keeper's caps. */
function gasScenarioOf(o: SimOptions): GasScenario {
  const replay = { kind: "replay", file: new URL("../data/base-fee.csv", import.meta.url).pathname, tipGwei: o.tipGwei } as const;
  const source: GasSource =
    o.gas === "replay"
      ? replay
      : o.gas === "l2"
        ? { kind: "l2", l2: { ...OP_BEDROCK_PROFILE, executionGwei: o.l2Gwei, l1FeeScalar: o.l1FeeScalar }, l1: replay }
        : { kind: "eip1559", tipGwei: o.tipGwei, ...MAINNET_2021_PROCESS };
  return { source, seed: o.seed, maxFeeGwei: o.maxFeeGwei, maxPriorityFeeGwei: o.maxPriorityFeeGwei };
}

const REPORT_TITLE = "Gas versus precision: hedging policies on the frontier";
const REPORT_NOTES = [
  "Hedge error: the standard deviation across paths of the hedged P&L before costs (option book marked to Black–Scholes, hedge to the oracle). Total cost: gas at the stated price plus AMM fee and price impact, averaged over paths.",
  "Policies without a risk aversion of their own run with γ = 1000 in sizing's cost/benefit gate, so they follow their own rule; Whalley–Wilmott and gas-aware sweep γ.",
  "The vault refuses any rebalance that starts with |net delta| within its tolerance (DeltaWithinTolerance): minimum trades are never set below it, and every policy's hedges start outside it. Hedges also fit the vault's hedging budget (notional and slippage per window); 'budget used (peak)' says how close each point came to it.",
];

/** The report's settings table (throughput rows are added by whoever measured them). */
function reportMeta(o: SimOptions, scenario: Scenario, source: string, pathCount: number): Record<string, string | number | boolean> {
  const gas = scenario.gas;
  return {
    mode: o.mode,
    source,
    seed: o.seed,
    paths: pathCount,
    "blocks per path": scenario.steps,
    "block seconds": scenario.blockSeconds,
    book: `short ${o.optionsSold} ATM calls, ${o.expiryDays} days, vault vol ${scenario.vol}`,
    AMM: `${scenario.ammDepth} underlying deep, fee ${scenario.ammFeeBps} bps`,
    ...(gas === undefined
      ? { "gas price (gwei)": scenario.gasPriceGwei }
      : {
          gas: `${gasDescription(gas.source)}; keeper caps ${gas.maxFeeGwei} / ${gas.maxPriorityFeeGwei} gwei`,
        }),
    ...(scenario.flow === undefined
      ? {}
      : { "option buyers": `a sale in a block with probability ${scenario.flow.perBlock}, mean ${scenario.flow.meanSize} options, at most ${scenario.flow.maxTotal} a path` }),
    "risk aversion γ": scenario.riskAversion,
    "vault delta tolerance": Number(scenario.hedge.deltaToleranceWad) / 1e18,
    "hedging budget": `${scenario.hedge.notionalBudget.toLocaleString("en-US")} notional and ${scenario.hedge.slippageBudget.toLocaleString("en-US")} slippage per ${scenario.hedge.budgetWindowSeconds / 3600} h`,
  };
}

function gasDescription(source: GasSource): string {
  switch (source.kind) {
    case "replay":
      return `mainnet base fees replayed (data/base-fee.csv), tip ~${source.tipGwei} gwei`;
    case "eip1559":
      return `EIP-1559 process calibrated to mainnet, tip ~${source.tipGwei} gwei`;
    case "constant":
      return `${source.gwei} gwei, tip ${source.tipGwei} gwei`;
    case "l2":
      return (
        `rollup: L2 base fee ~${source.l2.executionGwei} gwei (floor ${source.l2.minBaseFeeGwei}), tip ~${source.l2.tipGwei} gwei, ` +
        `plus an L1 data fee of ${source.l2.l1DataGas} L1 gas × scalar ${source.l2.l1FeeScalar} a transaction at the L1 base fee (${gasDescription(source.l1).split(",")[0]})`
      );
  }
}

/** What a shard file holds: the sweep's options (everything that decides its runs) and this slice's runs. */
interface ShardFile {
  kind: "delta-keeper simulate shard";
  version: 1;
  options: Omit<SimOptions, "shard" | "out" | "workers" | "progress">;
  shard: { index: number; count: number };
  points: string[];
  /** Per point (in `points` order): this shard's runs, by path index. */
  runs: RunMetrics[][];
  seconds: number;
}

/** The options that decide a sweep's runs: a shard's identity, which `merge` requires all shards to share. */
function sweepOptions(o: SimOptions): ShardFile["options"] {
  const { shard: _s, out: _o, workers: _w, progress: _p, ...rest } = o;
  return rest;
}

function writeShard(o: SimOptions, points: readonly PolicyPoint[], byPoint: RunMetrics[][], seconds: number): string {
  const shard = o.shard!;
  const body: ShardFile = {
    kind: "delta-keeper simulate shard",
    version: 1,
    options: sweepOptions(o),
    shard,
    points: points.map((p) => p.label),
    runs: byPoint,
    seconds,
  };
  mkdirSync(o.out, { recursive: true });
  const file = join(o.out, `shard-${shard.index}-of-${shard.count}.json`);
  writeFileSync(file, `${JSON.stringify(body)}\n`);
  return file;
}

/**
 * `simulate merge <shard files…> [--out DIR]`: joins the shards of one sweep into the report a single run of it
 * writes (the same points, paths, summaries, frontier; the throughput rows, which no single process measured, are
 * left out). Every shard must come from the same options and each of 1…n must be there once.
 */
export function mergeShards(files: readonly string[], out: string): { files: string[]; shards: number; runs: number } {
  if (files.length === 0) throw new Error("merge: no shard files given");
  const shards = files.map((file) => {
    let body: ShardFile;
    try {
      body = JSON.parse(readFileSync(file, "utf8")) as ShardFile;
    } catch (err) {
      throw new Error(`merge: ${file}: not readable JSON (${(err as Error).message})`);
    }
    if (body.kind !== "delta-keeper simulate shard" || body.version !== 1) throw new Error(`merge: ${file}: not a simulate shard (version 1)`);
    return { file, body };
  });
  const first = shards[0]!.body;
  const fingerprint = JSON.stringify(first.options);
  const count = first.shard.count;
  const seen = new Set<number>();
  for (const { file, body } of shards) {
    if (JSON.stringify(body.options) !== fingerprint) throw new Error(`merge: ${file}: its sweep options differ from ${shards[0]!.file}'s`);
    if (body.shard.count !== count) throw new Error(`merge: ${file}: shard ${body.shard.index}/${body.shard.count}, the others are of ${count}`);
    if (seen.has(body.shard.index)) throw new Error(`merge: shard ${body.shard.index}/${count} given twice`);
    seen.add(body.shard.index);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new Error(`merge: missing shard(s) ${missing.map((i) => `${i}/${count}`).join(", ")}`);

  const o: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...first.options, out, shard: undefined };
  const { scenario, paths, source, notes } = buildInputs(o);
  const points = defaultPoints(scenario).filter((p) => o.families.includes(p.family));
  if (JSON.stringify(points.map((p) => p.label)) !== JSON.stringify(first.points)) {
    throw new Error("merge: the shards' policy points are not the ones these options give (written by another version?)");
  }
  const byPoint = points.map((_, k) => shards.flatMap(({ body }) => body.runs[k]!).sort((a, b) => a.pathIndex - b.pathIndex));
  for (const [k, runs] of byPoint.entries()) {
    if (runs.length !== paths.length || runs.some((r, j) => r.pathIndex !== j)) {
      throw new Error(`merge: point ${points[k]!.label}: expected one run for each of paths 0…${paths.length - 1}, got ${runs.length}`);
    }
  }
  const summaries = points.map((p, k) => summarize(p, byPoint[k]!));
  const { files: written } = writeReport(out, {
    title: REPORT_TITLE,
    meta: reportMeta(o, scenario, source, paths.length),
    summaries,
    riskAversion: scenario.riskAversion,
    notes: [...notes, ...REPORT_NOTES],
  });
  return { files: written, shards: count, runs: points.length * paths.length };
}
