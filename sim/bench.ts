/**
 * The simulator's throughput on this machine, against the issue's targets (`scripts/bench-sim.ts` is its CLI):
 *
 * - model mode: path × policy runs of 1,000 blocks per minute, the default sweep's points (47) over 40 paths on
 *   every core (target ≥ 10,000); and the same with moving gas, the EIP-1559 process behind the keeper's fee cap
 *   (issue 15's target: ≥ 15,000);
 * - fork mode: simulated blocks per second with hedging (real `rebalance` transactions), one path of 2,000 blocks
 *   under a policy that hedges about every other block, and one under the default gas-aware point (target ≥ 200).
 */
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { openFork, runFork } from "./fork.ts";
import { loadGasModel } from "./gas.ts";
import { generatePaths } from "./paths.ts";
import { MAINNET_2021_PROCESS } from "./gasPrice.ts";
import { DEFAULT_SCENARIO, defaultPoints, type Scenario } from "./scenario.ts";
import { sweepModel } from "./sweep.ts";

const MODEL_PATHS = 40;
const FORK_STEPS = 2000;
const SEED = 7;

export interface SimulatorBench {
  cores: number;
  model: ModelBench;
  modelMovingGas: ModelBench;
  fork: { rows: { point: string; blocks: number; hedges: number; seconds: number; blocksPerSecond: number }[]; target: number };
}

interface ModelBench {
  points: number;
  paths: number;
  steps: number;
  runs: number;
  seconds: number;
  runsOf1000BlocksPerMinute: number;
  target: number;
}

/** The default sweep on the model over MODEL_PATHS paths of `scenario`. */
async function benchModel(scenario: Scenario, label: string, target: number, write: (text: string) => void): Promise<ModelBench> {
  const gas = loadGasModel();
  const points = defaultPoints(scenario);
  const source = { kind: "gbm", drift: 0, vol: scenario.vol } as const;
  write(`model${label}: ${points.length} points × ${MODEL_PATHS} paths × ${scenario.steps} blocks on ${availableParallelism()} cores… `);
  const paths = generatePaths(source, { count: MODEL_PATHS, steps: scenario.steps, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: SEED });
  const t0 = performance.now();
  const byPoint = await sweepModel({ scenario, points, paths, gas });
  const seconds = (performance.now() - t0) / 1000;
  const runs = byPoint.reduce((n, r) => n + r.length, 0);
  const runsPerMinute = (runs / seconds) * 60 * (scenario.steps / 1000);
  write(`${runs} runs in ${seconds.toFixed(1)} s: ${Math.round(runsPerMinute)} runs of 1,000 blocks per minute (target ${target.toLocaleString("en-US")})\n`);
  return { points: points.length, paths: paths.length, steps: scenario.steps, runs, seconds, runsOf1000BlocksPerMinute: runsPerMinute, target };
}

/**
 * Runs the measurements on the default scenario.
 *
 * @param write - Receives progress text as it comes (no newline added).
 */
export async function benchSimulator(write: (text: string) => void): Promise<SimulatorBench> {
  const scenario = DEFAULT_SCENARIO;
  const source = { kind: "gbm", drift: 0, vol: scenario.vol } as const;
  const model = await benchModel(scenario, "", 10_000, write);
  const moving: Scenario = {
    ...scenario,
    gas: { source: { kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, seed: SEED, maxFeeGwei: 100, maxPriorityFeeGwei: 2 },
  };
  const modelMovingGas = await benchModel(moving, " with moving gas", 15_000, write);

  const forkScenario = { ...scenario, steps: FORK_STEPS };
  const [forkPath] = generatePaths(source, { count: 1, steps: FORK_STEPS, spot: scenario.spot, blockSeconds: scenario.blockSeconds, seed: SEED });
  const session = await openFork(forkScenario);
  const rows: SimulatorBench["fork"]["rows"] = [];
  try {
    const busy = defaultPoints(forkScenario).find((p) => p.family === "every-block")!;
    const gasAware = defaultPoints(forkScenario).find((p) => p.family === "gas-aware" && p.param === scenario.riskAversion)!;
    for (const point of [busy, gasAware]) {
      write(`fork: ${FORK_STEPS} blocks, ${point.label}… `);
      const r = await runFork(session, { path: forkPath!, pathIndex: 0, point, scenario: forkScenario });
      const row = { point: point.label, blocks: r.blocks, hedges: r.hedges, seconds: r.wallSeconds, blocksPerSecond: r.blocks / r.wallSeconds };
      rows.push(row);
      write(`${r.hedges} hedges, ${row.blocksPerSecond.toFixed(0)} blocks/s\n`);
    }
  } finally {
    await session.close();
  }
  return {
    cores: availableParallelism(),
    model,
    modelMovingGas,
    fork: { rows, target: 200 },
  };
}
