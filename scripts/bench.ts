/**
 * `npm run bench`: the keeper's cost per block, for 1, 10, 100 and 1,000 vaults (`BENCH_VAULTS=1,10` for fewer),
 * each vault with a 10-series book and a pool of its own, on an anvil process of its own (as a keeper meets its
 * node: in another process; `BENCH_NODE=hardhat` for Hardhat's in-process node, whose EVM shares this process and
 * runs the lens's Black–Scholes several times slower), blocks mined on demand so each one is measured on its own,
 * the set-up batched (`harness/manyVaults.ts`):
 *
 * - JSON-RPC requests per idle block: the lens read's chunks (`eth_call`s sized by LENS_CALL_GAS_BUDGET), nothing
 *   else,
 * - requests per hedged vault to send (target: at most 3) and to collect its receipt,
 * - with every vault hedging in the same block: block → decision (the chunked read and the plan of every vault)
 *   and block → broadcast (to each `eth_sendRawTransaction` returning), median and p99, both from the moment the
 *   block is known, as a newHeads subscription would deliver it,
 * - the pure decision code (`planBlock`) alone, median and p99, and the process's memory at the end.
 *
 * Targets (issue 13): at 1,000 vaults block → decision p99 ≤ 250 ms and block → broadcast p99 ≤ 1 s; at 100
 * vaults block → broadcast p99 ≤ 250 ms. The keeper runs in this process with the same code as
 * `npm run keeper -- run` (`Keeper.read`, `Keeper.tick`, `Keeper.poll`), counting every request through its
 * instrumented transport. Results: `bench/results.json`.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { benchmark, type Row } from "../harness/bench.ts";

const COUNTS = (process.env.BENCH_VAULTS ?? "1,10,100,1000").split(",").map(Number);

const rows: Row[] = [];
for (const n of COUNTS) {
  process.stdout.write(`benchmarking ${n} vault(s)… `);
  const t0 = performance.now();
  rows.push(await benchmark(n, { ...(process.env.BENCH_LOG ? { logFile: process.env.BENCH_LOG } : {}), node: process.env.BENCH_NODE === "hardhat" ? "hardhat" : "anvil" }));
  process.stdout.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

console.log("\nvaults  calls/idle block  req/hedge (send / receipt)  block→decision ms p50 / p99  block→broadcast ms p50 / p99  plan ms p50 / p99  rss MB");
for (const r of rows) {
  console.log(
    [
      String(r.vaults).padStart(6),
      `${r.requestsPerIdleBlock.min}–${r.requestsPerIdleBlock.max}`.padStart(16),
      `${r.sendRequestsPerHedgedVault} / ${r.receiptRequestsPerHedgedVault}`.padStart(26),
      `${r.blockToDecisionMs.median} / ${r.blockToDecisionMs.p99}`.padStart(27),
      `${r.blockToBroadcastMs.median} / ${r.blockToBroadcastMs.p99}`.padStart(28),
      `${r.decisionMs.median} / ${r.decisionMs.p99}`.padStart(17),
      String(r.memoryMb.rss).padStart(6),
    ].join("  "),
  );
}
const out = new URL("../bench/results.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
// A run of some vault counts replaces those rows and keeps the others (a 1,000-vault run alone takes minutes).
const kept = await readFile(out, "utf8")
  .then((text) => (JSON.parse(text) as { rows: (Row & { date?: string })[] }).rows.filter((r) => !COUNTS.includes(r.vaults) && "blockToDecisionMs" in r))
  .catch(() => []);
const date = new Date().toISOString();
const merged = [...kept, ...rows.map((r) => ({ ...r, date }))].sort((a, b) => a.vaults - b.vaults);
await writeFile(out, `${JSON.stringify({ date, node: process.version, cores: availableParallelism(), rows: merged }, null, 2)}\n`);
console.log(`\nwrote ${out.pathname}`);
