/**
 * `npm run soak`: the keeper for thousands of blocks of a random market under random faults — RPC faults through
 * two proxies, its pending hedge dropped from the mempool, crashes and restarts on the same journal, stale-oracle
 * stretches, price jumps — then what the chain says: hedges sent, mined, reverted, replaced, cancelled;
 * duplicates; funds lost (each must be 0); time out of band. See `harness/soak.ts`.
 *
 *   SOAK_BLOCKS (default 2000), SOAK_SEED (default 1), SOAK_LOG (keeper logs to this file; none by default).
 *
 * Results: `bench/soak.json`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { soak, type SoakReport } from "../harness/soak.ts";

const blocks = Number(process.env.SOAK_BLOCKS ?? 2000);
const seed = Number(process.env.SOAK_SEED ?? 1);
if (!Number.isInteger(blocks) || blocks < 1) throw new Error(`SOAK_BLOCKS must be a positive integer, got ${process.env.SOAK_BLOCKS}`);
if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`SOAK_SEED must be an integer in [0, 2^32), got ${process.env.SOAK_SEED}`);

console.log(`soak seed ${seed} (SOAK_SEED=${seed} SOAK_BLOCKS=${blocks} npm run soak)`);
const report = await soak({ blocks, seed, ...(process.env.SOAK_LOG ? { log: process.env.SOAK_LOG } : {}), progress: (line) => console.log(`  ${line}`) });
printSummary(report);

const out = new URL("../bench/soak.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, ...report }, null, 2)}\n`);
console.log(`\nwrote ${out.pathname}`);
const failures = [
  report.duplicates.total > 0 && `${report.duplicates.total} duplicate hedge(s)`,
  report.fundsLost.deltaNotReduced > 0 && `${report.fundsLost.deltaNotReduced} hedge(s) that did not reduce |delta|`,
  report.fundsLost.ethBeyondGasWei !== "0" && `${report.fundsLost.ethBeyondGasWei} wei of ETH lost beyond gas`,
  report.fundsLost.hedgesBeyondSlippage > 0 && `${report.fundsLost.valueBeyondSlippageQuote} quote lost beyond the slippage bound`,
  report.fundsLost.accountingMismatches > 0 && `${report.fundsLost.accountingMismatches} accounting mismatch(es)`,
].filter((x): x is string => typeof x === "string");
if (failures.length > 0) {
  console.log(`\nFAILED: ${failures.join("; ")}`);
  process.exitCode = 1;
}

function printSummary(r: SoakReport): void {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const rows: [string, string | number][] = [
    ["seed", r.seed],
    ["blocks (+ drain)", `${r.blocks} (+ ${r.drainBlocks}), chain blocks ${r.firstBlock + 1}–${r.lastBlock}`],
    ["runtime", `${r.runtimeSeconds} s`],
    ["hedges sent (keeper reports)", r.hedges.sentByKeeper],
    ["intents journaled / signed / abandoned", `${r.hedges.intentsJournaled} / ${r.hedges.intentsSigned} / ${r.hedges.intentsAbandoned}`],
    ["hedges mined (Rebalanced events)", r.hedges.mined],
    ["keeper transactions reverted", `${r.hedges.reverted}${r.hedges.reverted ? ` (${kv(r.hedges.revertReasons)})` : ""}`],
    ["replacements sent (fee bumps)", r.hedges.replacementsSent],
    ["cancels sent / mined", `${r.hedges.cancelsSent} / ${r.hedges.cancelsMined}`],
    ["journal outcomes", kv(r.hedges.settledInJournal)],
    ["decision → mined, blocks (p50 / p99 / max)", `${r.hedges.decisionToMinedBlocks.median} / ${r.hedges.decisionToMinedBlocks.p99} / ${r.hedges.decisionToMinedBlocks.max}`],
    ["DUPLICATES", `${r.duplicates.total} (same intent ${r.duplicates.sameIntent}, unjournaled ${r.duplicates.unjournaled}, blind to previous ${r.duplicates.blindToPrevious}); journal id reuse ${r.duplicates.journalIdReuse}`],
    ["FUNDS LOST: delta not reduced", r.fundsLost.deltaNotReduced],
    ["FUNDS LOST: signer ETH beyond gas (wei)", r.fundsLost.ethBeyondGasWei],
    ["FUNDS LOST: value beyond slippage bound", `${r.fundsLost.valueBeyondSlippageQuote} quote in ${r.fundsLost.hedgesBeyondSlippage} hedge(s)`],
    ["accounting mismatches", r.fundsLost.accountingMismatches],
    ["proxy fault plans (A)", kv(r.faults.planSwitches)],
    ["… with B degraded too", r.faults.bothDegraded],
    ["faults injected per request A / B", `${kv(r.faults.injectedA)} / ${kv(r.faults.injectedB)}`],
    ["requests through A / B", `${r.faults.requestsA} / ${r.faults.requestsB}`],
    ["mempool drops", r.faults.mempoolDrops],
    ["crashes", `${kv(r.faults.crashes)} (armed, not hit: ${r.faults.failpointsArmedNotHit})`],
    ["stale oracle stretches (blocks)", `${r.faults.staleStretches} (${r.faults.staleBlocks})`],
    ["price jumps (ahead of a pending hedge)", `${r.faults.priceJumps} (${r.faults.jumpsAheadOfPendingHedge})`],
    ["arbitrage skipped", r.faults.arbitrageSkipped],
    ["keeper tick errors", r.keeper.tickErrors],
    ["keeper restarts / recover failures", `${r.keeper.restarts} / ${r.keeper.recoverFailures}`],
    [`STALLS: restarts for a hedge stuck > 30 blocks`, `${r.keeper.stuckHedgeRestarts}${r.keeper.stuckHedgeRestarts ? ` (at blocks ${r.keeper.stuckHedgeRestartBlocks.join(", ")})` : ""}`],
    ["blocks out of band", r.delta.blocksOutOfBand],
    ["max consecutive out of band (fresh oracle)", `${r.delta.maxConsecutiveOutOfBand} (${r.delta.maxConsecutiveOutOfBandFreshOracle})`],
    [`blocks far out of band (|delta| > ${r.delta.farOutOfBand}), max run`, `${r.delta.blocksFarOutOfBand}, ${r.delta.maxConsecutiveFarOutOfBand}`],
    ["max |delta| / final |delta|", `${r.delta.maxAbsDelta} / ${r.delta.finalAbsDelta}`],
    ["gas spent / hedging cost", `${Number(BigInt(r.costs.gasSpentWei)) / 1e18} ETH / ${r.costs.hedgeCostQuote} quote (worst ${r.costs.worstSlippageBps} bps)`],
    ["price start / end (min–max)", `${r.price.start} / ${r.price.end} (${r.price.min}–${r.price.max})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  if (r.keeper.tickErrors > 0) {
    console.log("\nkeeper tick errors by message:");
    for (const [m, n] of Object.entries(r.keeper.tickErrorsByMessage).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(5)}  ${m}`);
  }
}
