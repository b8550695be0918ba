/**
 * `npm run soak`: the keeper for thousands of blocks of a random market under random faults — RPC faults through
 * two proxies, its pending hedge dropped from the mempool, crashes and restarts on the same journal, stale-oracle
 * stretches, price jumps — then what the chain says: hedges sent, mined, reverted, replaced, cancelled;
 * duplicates; funds lost (each must be 0); time out of band. See `harness/soak/`.
 *
 *   SOAK_BLOCKS (default 2000), SOAK_SEED (default 1), SOAK_LOG (keeper logs to this file; none by default).
 *
 * Results: `bench/soak.json`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { formatSoakReport, soakFailures } from "../harness/soak/report.ts";
import { soak } from "../harness/soak/run.ts";

const blocks = Number(process.env.SOAK_BLOCKS ?? 2000);
const seed = Number(process.env.SOAK_SEED ?? 1);
if (!Number.isInteger(blocks) || blocks < 1) throw new Error(`SOAK_BLOCKS must be a positive integer, got ${process.env.SOAK_BLOCKS}`);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`SOAK_SEED must be an integer in [0, 2^32), got ${process.env.SOAK_SEED}`);

console.log(`soak seed ${seed} (SOAK_SEED=${seed} SOAK_BLOCKS=${blocks} npm run soak)`);
const report = await soak({ blocks, seed, ...(process.env.SOAK_LOG ? { log: process.env.SOAK_LOG } : {}), progress: (line) => console.log(`  ${line}`) });
for (const line of formatSoakReport(report)) console.log(line);

const out = new URL("../bench/soak.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2)}\n`);
console.log(`\nwrote ${out.pathname}`);
const failures = soakFailures(report);
if (failures.length > 0) {
  console.log(`\nFAILED: ${failures.join("; ")}`);
  process.exitCode = 1;
}
