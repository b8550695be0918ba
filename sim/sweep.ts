/**
 * Model-mode sweeps: every (point, path) pair, spread over worker threads (one per core by default), or run in
 * this thread when `workers` is 1. Runs are deterministic: the same inputs give the same metrics whatever the
 * number of workers.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { GasModel } from "./gas.ts";
import { runModel } from "./model.ts";
import type { Scenario } from "./scenario.ts";
import type { PolicyPoint, RunMetrics } from "./types.ts";
import type { WorkerInput, WorkerMessage } from "./worker.ts";

export interface SweepInput {
  scenario: Scenario;
  points: readonly PolicyPoint[];
  paths: readonly Float64Array[];
  /** Each path's index in the whole sweep (its random streams and its place in a merged report); default 0, 1, … */
  pathIndices?: readonly number[];
  gas: GasModel;
  /** Threads; default: the machine's available parallelism. */
  workers?: number;
  /** Called after each batch with runs done and runs in all. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs by point: `result[k]` holds point k's runs, ordered by path. */
export async function sweepModel(input: SweepInput): Promise<RunMetrics[][]> {
  const { points, paths } = input;
  const total = points.length * paths.length;
  const byPoint: RunMetrics[][] = points.map(() => []);
  const workers = Math.max(1, Math.min(input.workers ?? availableParallelism(), total));
  if (total === 0) return byPoint;
  const steps = paths[0]!.length - 1;
  const pathIndices = input.pathIndices ?? paths.map((_, j) => j);
  if (pathIndices.length !== paths.length) throw new RangeError("pathIndices must give one index per path");
  if (paths.some((p) => p.length !== steps + 1)) throw new RangeError("all paths of a sweep must have the same length");

  if (workers === 1) {
    let done = 0;
    for (let k = 0; k < points.length; k++) {
      for (let j = 0; j < paths.length; j++) {
        byPoint[k]!.push(runModel({ path: paths[j]!, pathIndex: pathIndices[j]!, point: points[k]!, scenario: input.scenario, gas: input.gas }));
        if (++done % 25 === 0 || done === total) input.onProgress?.(done, total);
      }
    }
    return byPoint;
  }

  // Jobs interleaved across workers so each gets a fair share of cheap and expensive policies.
  const shared = new Float64Array(new SharedArrayBuffer(paths.length * (steps + 1) * 8));
  paths.forEach((p, j) => shared.set(p, j * (steps + 1)));
  const jobLists: number[][] = Array.from({ length: workers }, () => []);
  let n = 0;
  for (let k = 0; k < points.length; k++) {
    for (let j = 0; j < paths.length; j++) jobLists[n++ % workers]!.push(k, j);
  }
  let done = 0;
  await Promise.all(
    jobLists.map(
      (jobs) =>
        new Promise<void>((resolve, reject) => {
          const workerData: WorkerInput = {
            scenario: input.scenario,
            points: [...points],
            gas: input.gas,
            paths: shared,
            pathIndices: [...pathIndices],
            steps,
            jobs: Int32Array.from(jobs),
          };
          const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData });
          worker.on("message", (msg: WorkerMessage) => {
            if (msg.kind === "error") {
              void worker.terminate();
              reject(new Error(`model worker failed: ${msg.message}`));
              return;
            }
            for (const r of msg.runs) byPoint[r.pointIndex]!.push(r.metrics);
            done += msg.runs.length;
            input.onProgress?.(done, total);
          });
          worker.on("error", reject);
          worker.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`model worker exited with code ${code}`))));
        }),
    ),
  );
  for (const runs of byPoint) runs.sort((a, b) => a.pathIndex - b.pathIndex);
  return byPoint;
}
