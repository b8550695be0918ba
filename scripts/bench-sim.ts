/**
 * `npm run bench:sim` (also the second half of `npm run bench`): the simulator's throughput on this machine, model
 * and fork mode, against the targets (see `sim/bench.ts`). Results: `bench/simulator.json`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { benchSimulator } from "../sim/bench.ts";

const result = await benchSimulator((text) => process.stdout.write(text));
const out = new URL("../bench/simulator.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...result }, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
