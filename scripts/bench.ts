/**
 * `npm run bench`: the keeper's cost per block, for 1, 10 and 100 vaults, on an in-process node served over
 * JSON-RPC (blocks mined on demand, so each one is measured on its own):
 *
 * - JSON-RPC requests per idle block (target: exactly 1, whatever the vault count),
 * - requests per hedged vault to send (target: at most 3) and to collect its receipt,
 * - block-to-broadcast latency (from the block becoming known to `eth_sendRawTransaction` returning), median
 *   and p99 — each vault hedges on a pool of its own (vaults sharing one pool in one block move each other's
 *   price: later hedges then fail their minimum output and wait for the next block, as they should),
 * - the pure decision code (`planBlock`) for the whole block, median and p99 (target: p99 under 5 ms for 100
 *   vaults).
 *
 * The keeper runs in this process with the same code as `npm run keeper -- run` (`Keeper.poll`), counting every
 * request through its instrumented transport. Results: `bench/results.json`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { benchmark, type Row } from "../harness/bench.ts";

const COUNTS = (process.env.BENCH_VAULTS ?? "1,10,100").split(",").map(Number);

const rows: Row[] = [];
for (const n of COUNTS) {
  process.stdout.write(`benchmarking ${n} vault(s)… `);
  const t0 = performance.now();
  rows.push(await benchmark(n, { ...(process.env.BENCH_LOG ? { logFile: process.env.BENCH_LOG } : {}) }));
  process.stdout.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

console.log("\nvaults  req/idle block  req/hedge (send)  req/hedge (receipt)  block→broadcast ms (p50 / p99)  decision ms (p50 / p99)");
for (const r of rows) {
  console.log(
    `${String(r.vaults).padStart(6)}  ${`${r.requestsPerIdleBlock.min}–${r.requestsPerIdleBlock.max}`.padStart(14)}  ${String(r.sendRequestsPerHedgedVault).padStart(16)}  ${String(r.receiptRequestsPerHedgedVault).padStart(19)}  ${`${r.blockToBroadcastMs.median} / ${r.blockToBroadcastMs.p99}`.padStart(30)}  ${`${r.decisionMs.median} / ${r.decisionMs.p99}`.padStart(23)}`,
  );
}
const out = new URL("../bench/results.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`);
console.log(`\nwrote ${out.pathname}`);
