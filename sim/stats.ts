/**
 * The simulator's descriptive statistics: float64, pure, no dependencies. Empty input gives NaN (mean, quantile)
 * rather than a made-up number; `summarize` refuses a point with no runs.
 */
import type { PointSummary, PolicyPoint, RunMetrics } from "./types.ts";

/** Arithmetic mean; NaN for no values. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * Sample standard deviation (n − 1 in the denominator, numpy's `ddof=1`); 0 for fewer than two values.
 * Two-pass (deviations from the mean), so a large common offset such as a P&L level does not cancel the spread.
 */
export function std(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/**
 * The q-quantile, q in [0, 1], by linear interpolation between order statistics: Hyndman & Fan type 7, numpy's
 * and R's default (h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋])). Values need not be sorted; NaN for no
 * values.
 */
export function quantile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q must be in [0, 1], got ${q}`);
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const xLo = sorted[lo]!;
  if (lo >= n - 1) return xLo;
  const xHi = sorted[lo + 1]!;
  return xLo + (h - lo) * (xHi - xLo);
}

/**
 * Aggregates one point's runs into the shape the report reads (see `PointSummary` for each field). `shareInBand`
 * pools blocks across runs (Σ blocksInBand / Σ blocks), so it is NaN only when no run had a block.
 */
export function summarize(point: PolicyPoint, runs: readonly RunMetrics[]): PointSummary {
  if (runs.length === 0) throw new RangeError(`summarize: point "${point.label}" has no runs`);
  const pnl = runs.map((r) => r.pnl);
  const field = (get: (r: RunMetrics) => number) => mean(runs.map(get));
  let blocks = 0;
  let blocksInBand = 0;
  for (const r of runs) {
    blocks += r.blocks;
    blocksInBand += r.blocksInBand;
  }
  return {
    point,
    runs: runs.length,
    pnlMean: mean(pnl),
    pnlStd: std(pnl),
    pnlQ01: quantile(pnl, 0.01),
    pnlQ99: quantile(pnl, 0.99),
    meanTotalCost: field((r) => r.totalCost),
    meanGasCost: field((r) => r.gasCost),
    meanGasUsed: field((r) => r.gasUsed),
    meanSlippageCost: field((r) => r.slippageCost),
    meanFeeCost: field((r) => r.feeCost),
    meanFundingCost: field((r) => r.fundingCost),
    meanHedges: field((r) => r.hedges),
    meanReverts: field((r) => r.reverts),
    meanFeeCapHolds: field((r) => r.feeCapHolds),
    meanDelayedBlocks: field((r) => r.delayedBlocks),
    meanL1DataCost: field((r) => r.l1DataCost),
    meanVolume: field((r) => r.volume),
    meanTrackingError: field((r) => r.trackingError),
    shareInBand: blocks > 0 ? blocksInBand / blocks : Number.NaN,
    maxBudgetUse: Math.max(...runs.map((r) => r.budgetUse)),
    netPnlStd: std(runs.map((r) => r.pnl - r.totalCost)),
  };
}

/** The two coordinates the report trades off, both lower-is-better: mean total cost and hedge error. */
type CostRisk = Pick<PointSummary, "meanTotalCost" | "pnlStd">;

/**
 * `a` dominates `b` when it is no worse on both mean total cost and hedge error (σ of P&L) and strictly better on
 * one. A point with a NaN coordinate neither dominates nor is dominated.
 */
export function dominates(a: CostRisk, b: CostRisk): boolean {
  return (
    a.meanTotalCost <= b.meanTotalCost &&
    a.pnlStd <= b.pnlStd &&
    (a.meanTotalCost < b.meanTotalCost || a.pnlStd < b.pnlStd)
  );
}

const comparable = (s: CostRisk) => !Number.isNaN(s.meanTotalCost) && !Number.isNaN(s.pnlStd);

/** True when `s` has both coordinates and no point of `summaries` dominates it (`s` need not be among them). */
export function isOnFrontier(s: CostRisk, summaries: readonly CostRisk[]): boolean {
  return comparable(s) && !summaries.some((o) => o !== s && comparable(o) && dominates(o, s));
}

/**
 * The Pareto frontier on (mean total cost, hedge error): the points no other point dominates, cheapest first
 * (so hedge error strictly falls along it, except between exact duplicates, which are both kept). Points with a NaN
 * coordinate are left out. O(n²), for the few dozen points of a sweep.
 */
export function paretoFrontier<T extends CostRisk>(summaries: readonly T[]): T[] {
  return summaries
    .filter((s) => isOnFrontier(s, summaries))
    .sort((a, b) => compareNumbers(a.meanTotalCost, b.meanTotalCost) || compareNumbers(a.pnlStd, b.pnlStd));
}

/** Ascending order that stays consistent for ±Infinity (where `a − b` would give NaN); NaN sorts last. */
export function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
