/**
 * `npm run bench:sim` (also the second half of `npm run bench`): the simulator's throughput on this machine,
 * against the targets —
 *
 * - model mode: path × policy runs of 1,000 blocks per minute, the default sweep's points (47) over 40 paths on
 *   every core (target ≥ 10,000);
 * - fork mode: simulated blocks per second with hedging (real `rebalance` transactions), one path of 2,000 blocks
 *   under a policy that hedges about every other block, and one under the default gas-aware point (target ≥ 200).
 *
 * Results: `bench/simulator.json`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { openFork, runFork } from "../sim/fork.ts";
import { loadGasModel } from "../sim/gas.ts";
import { generatePaths } from "../sim/paths.ts";
import { DEFAULT_SCENARIO, defaultPoints } from "../sim/scenario.ts";
import { sweepModel } from "../sim/sweep.ts";

const scenario = DEFAULT_SCENARIO;
const gas = loadGasModel();
const points = defaultPoints(scenario);

process.stdout.write(`model: ${points.length} points × 40 paths × ${scenario.steps} blocks on ${availableParallelism()} cores… `);
const paths = generatePaths({ kind: "gbm", drift: 0, vol: scenario.vol }, { count: 40, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: 7 });
const t0 = performance.now();
const byPoint = await sweepModel({ scenario, points, paths, gas });
const modelSeconds = (performance.now() - t0) / 1000;
const runs = byPoint.reduce((n, r) => n + r.length, 0);
const runsPerMinute = (runs / modelSeconds) * 60 * (scenario.steps / 1000);
console.log(`${runs} runs in ${modelSeconds.toFixed(1)} s: ${Math.round(runsPerMinute)} runs of 1,000 blocks per minute`);

const forkSteps = 2000;
const forkScenario = { ...scenario, steps: forkSteps };
const [forkPath] = generatePaths({ kind: "gbm", drift: 0, vol: scenario.vol }, { count: 1, steps: forkSteps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: 7 });
const session = await openFork(forkScenario);
const fork: { point: string; blocks: number; hedges: number; seconds: number; blocksPerSecond: number }[] = [];
try {
  const busy = defaultPoints(forkScenario).find((p) => p.family === "every-block")!;
  const gasAware = defaultPoints(forkScenario).find((p) => p.family === "gas-aware" && p.param === scenario.riskAversion)!;
  for (const point of [busy, gasAware]) {
    process.stdout.write(`fork: ${forkSteps} blocks, ${point.label}… `);
    const r = await runFork(session, { path: forkPath!, pathIndex: 0, point, scenario: forkScenario });
    const row = { point: point.label, blocks: r.blocks, hedges: r.hedges, seconds: r.wallSeconds, blocksPerSecond: r.blocks / r.wallSeconds };
    fork.push(row);
    console.log(`${r.hedges} hedges, ${row.blocksPerSecond.toFixed(0)} blocks/s`);
  }
} finally {
  await session.close();
}

const out = new URL("../bench/simulator.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cores: availableParallelism(),
      model: { points: points.length, paths: paths.length, steps: scenario.steps, runs, seconds: modelSeconds, runsOf1000BlocksPerMinute: runsPerMinute, target: 10_000 },
      fork: { rows: fork, target: 200 },
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${out.pathname}`);
