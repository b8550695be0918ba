/**
 * What a soak run reports, counted from the chain (see `run.ts`), and how it reads: the summary table `npm run soak`
 * prints, and the guarantees that fail the run (duplicates, funds lost), each of which must be 0.
 */

export interface SoakReport {
  seed: number;
  blocks: number;
  drainBlocks: number;
  firstBlock: number;
  lastBlock: number;
  runtimeSeconds: number;
  hedges: {
    sentByKeeper: number;
    intentsJournaled: number;
    intentsSigned: number;
    intentsAbandoned: number;
    settledInJournal: Record<string, number>;
    mined: number;
    reverted: number;
    revertReasons: Record<string, number>;
    replacementsSent: number;
    cancelsSent: number;
    cancelsMined: number;
    signerTransactions: number;
    /** Blocks from a mined transaction's decision (journal) to its inclusion (chain). */
    decisionToMinedBlocks: { median: number; p99: number; max: number };
  };
  duplicates: {
    total: number;
    /** Intents with more than one mined hedge transaction. */
    sameIntent: number;
    /** `Rebalanced` by the signer in a transaction the journal never signed. */
    unjournaled: number;
    /** Mined hedges decided on a block before the previous hedge was mined (blind to it). */
    blindToPrevious: number;
    /** Diagnostics: intent ids journaled twice (a restart re-deciding on the block it crashed on). */
    journalIdReuse: number;
  };
  fundsLost: {
    /** `Rebalanced` with |deltaAfter| >= |deltaBefore|. */
    deltaNotReduced: number;
    /** Signer balance drop minus the gas of its mined transactions, wei. */
    ethBeyondGasWei: string;
    /** Quote units (decimal) the vault paid beyond the slippage bound, over all hedges. */
    valueBeyondSlippageQuote: number;
    hedgesBeyondSlippage: number;
    /** Event amounts that disagree with the vault's token transfers, or an event spot matching no oracle round. */
    accountingMismatches: number;
  };
  faults: {
    planSwitches: Record<string, number>;
    bothDegraded: number;
    injectedA: Record<string, number>;
    injectedB: Record<string, number>;
    requestsA: number;
    requestsB: number;
    mempoolDrops: number;
    crashes: Record<string, number>;
    failpointsArmedNotHit: number;
    staleStretches: number;
    staleBlocks: number;
    priceJumps: number;
    jumpsAheadOfPendingHedge: number;
    arbitrageSkipped: number;
  };
  keeper: {
    tickErrors: number;
    tickErrorsByMessage: Record<string, number>;
    restarts: number;
    recoverFailures: number;
    /** Restarts by the runbook rule (a hedge pending > STUCK_RESTART_BLOCKS): stalls the keeper did not clear. */
    stuckHedgeRestarts: number;
    stuckHedgeRestartBlocks: number[];
    blocksWithoutKeeper: number;
    skippedTicks: number;
    maxTickMs: number;
  };
  delta: {
    band: number;
    blocksOutOfBand: number;
    maxConsecutiveOutOfBand: number;
    maxConsecutiveOutOfBandEndBlock: number;
    maxConsecutiveOutOfBandFreshOracle: number;
    farOutOfBand: number;
    blocksFarOutOfBand: number;
    maxConsecutiveFarOutOfBand: number;
    maxAbsDelta: number;
    finalAbsDelta: number;
  };
  costs: {
    gasSpentWei: string;
    hedgeCostQuote: number;
    worstSlippageBps: number;
  };
  price: { start: number; end: number; min: number; max: number };
}

/** Adds `n` to `m[key]`. */
export const count = (m: Record<string, number>, key: string, n = 1) => {
  m[key] = (m[key] ?? 0) + n;
};

/** The soak's guarantees that `r` breaks, one phrase each; empty when it passed. */
export function soakFailures(r: SoakReport): string[] {
  return [
    r.duplicates.total > 0 && `${r.duplicates.total} duplicate hedge(s)`,
    r.fundsLost.deltaNotReduced > 0 && `${r.fundsLost.deltaNotReduced} hedge(s) that did not reduce |delta|`,
    r.fundsLost.ethBeyondGasWei !== "0" && `${r.fundsLost.ethBeyondGasWei} wei of ETH lost beyond gas`,
    r.fundsLost.hedgesBeyondSlippage > 0 && `${r.fundsLost.valueBeyondSlippageQuote} quote lost beyond the slippage bound`,
    r.fundsLost.accountingMismatches > 0 && `${r.fundsLost.accountingMismatches} accounting mismatch(es)`,
  ].filter((x): x is string => typeof x === "string");
}

/** The summary table, one line each (the first empty). */
export function formatSoakReport(r: SoakReport): string[] {
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
  const out = ["", ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)];
  if (r.keeper.tickErrors > 0) {
    out.push("", "keeper tick errors by message:");
    for (const [m, n] of Object.entries(r.keeper.tickErrorsByMessage).sort((a, b) => b[1] - a[1])) out.push(`  ${String(n).padStart(5)}  ${m}`);
  }
  return out;
}
