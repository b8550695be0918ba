/**
 * A model-mode worker thread: runs the (point, path) jobs it is given and posts each run's metrics back. The
 * paths arrive once, as one shared buffer; results go back in batches so the message traffic stays small.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { GasModel } from "./gas.ts";
import { runModel } from "./model.ts";
import type { Scenario } from "./scenario.ts";
import type { PolicyPoint, RunMetrics } from "./types.ts";

export interface WorkerInput {
  scenario: Scenario;
  points: PolicyPoint[];
  gas: GasModel;
  /** All paths, concatenated: path j is [j·(steps+1), (j+1)·(steps+1)). */
  paths: Float64Array;
  /** Path j's index in the whole sweep. */
  pathIndices: number[];
  steps: number;
  /** Jobs as [pointIndex, pathIndex] pairs, flattened. */
  jobs: Int32Array;
}

export type WorkerMessage =
  | { kind: "runs"; runs: { pointIndex: number; metrics: RunMetrics }[] }
  | { kind: "error"; message: string };

const BATCH = 25;

if (parentPort) {
  const input = workerData as WorkerInput;
  const port = parentPort;
  try {
    let batch: { pointIndex: number; metrics: RunMetrics }[] = [];
    const width = input.steps + 1;
    for (let j = 0; j < input.jobs.length; j += 2) {
      const pointIndex = input.jobs[j]!;
      const local = input.jobs[j + 1]!;
      const metrics = runModel({
        path: input.paths.subarray(local * width, (local + 1) * width),
        pathIndex: input.pathIndices[local]!,
        point: input.points[pointIndex]!,
        scenario: input.scenario,
        gas: input.gas,
      });
      batch.push({ pointIndex, metrics });
      if (batch.length >= BATCH) {
        port.postMessage({ kind: "runs", runs: batch } satisfies WorkerMessage);
        batch = [];
      }
    }
    if (batch.length > 0) port.postMessage({ kind: "runs", runs: batch } satisfies WorkerMessage);
  } catch (err) {
    port.postMessage({ kind: "error", message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) } satisfies WorkerMessage);
  }
}
