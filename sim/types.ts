/**
 * The simulator's shared shapes. A *point* is one policy at one parameter value; a *run* is one point over one
 * price path; a *summary* aggregates a point's runs. Model mode and fork mode both produce `RunMetrics`, so the
 * report and the agreement test compare them field by field.
 *
 * Units: quote (USD) for money, underlying (ETH) for deltas and trades, gas units for gas.
 */
import type { PolicyConfig, RiskPreferences } from "../keeper/types.ts";

/** The policy families the report draws one curve for. `band-zero`/`band-edge` are the band policy's two targets. */
export const POLICY_FAMILIES = [
  "every-block",
  "interval",
  "band-zero",
  "band-edge",
  "whalley-wilmott",
  "gas-aware",
  "delay-cap",
  "time-or-move",
] as const;
export type PolicyFamily = (typeof POLICY_FAMILIES)[number];

/** One policy at one value of its swept parameter. */
export interface PolicyPoint {
  family: PolicyFamily;
  /** Short human label, e.g. "band ±0.5 → zero". */
  label: string;
  /** Name and value of the swept parameter, e.g. "band", 0.5 (units in `paramUnit`). */
  paramName: string;
  param: number;
  paramUnit: string;
  policy: PolicyConfig;
  /** γ and horizon for the policy (γ-based policies sweep γ) and for sizing's cost/benefit gate. */
  prefs: RiskPreferences;
}

/** One run: one point over one path. */
export interface RunMetrics {
  pathIndex: number;
  /**
   * Hedged P&L of the short book before trading costs, quote: option liability marked to Black–Scholes plus the
   * hedge marked to the oracle, trades valued at the oracle (what they cost beyond that is in `slippageCost`).
   * Its spread across paths is the hedge error.
   */
  pnl: number;
  /** sqrt(Σ ΔV²) of the per-block changes of that P&L: one path's hedge error, quote. */
  trackingError: number;
  /** Gas used by rebalance transactions (reverted ones included), gas units. */
  gasUsed: number;
  /** `gasUsed` priced at the scenario's gas price and the native token at the oracle price, quote. */
  gasCost: number;
  /** The part of gasCost that is rollup L1 data fees, quote (0 on an L1). */
  l1DataCost: number;
  /** Execution vs oracle on every hedge (AMM fee + price impact), quote. */
  slippageCost: number;
  /** The fee part of `slippageCost` (the AMM's, the perp's order fees), quote. */
  feeCost: number;
  /** Funding the perp position paid (received: negative), quote; 0 without a perp market. */
  fundingCost: number;
  /** gasCost + slippageCost + fundingCost, quote. */
  totalCost: number;
  hedges: number;
  /** Hedges that reverted on chain (fork) or would have (model). */
  reverts: number;
  /** Hedges the keeper held back because the base fee was above its fee cap (moving gas only). */
  feeCapHolds: number;
  /** Blocks a sent hedge waited because a full block took higher tips (moving gas only). */
  delayedBlocks: number;
  /** Waiting hedges the keeper cancelled at a replacement because a fresh plan no longer wanted them. */
  cancels: number;
  blocks: number;
  /** Blocks whose |net delta| was within the vault's on-chain band. */
  blocksInBand: number;
  /** Underlying traded in total (sum of |trade|). */
  volume: number;
  /**
   * The fullest the vault's hedging budget got: the largest share, over the run's blocks, of the notional or the
   * slippage budget in use (0–1, from the snapshots' `notionalLeftWad` / `slippageLeftWad`). Near 1, the budget
   * bound: hedges were shrunk or refused for it.
   */
  budgetUse: number;
}

/** A point's runs, aggregated. */
export interface PointSummary {
  point: PolicyPoint;
  runs: number;
  pnlMean: number;
  /** Standard deviation of `pnl` across runs: the hedge error. */
  pnlStd: number;
  /** 1% and 99% quantiles of `pnl`. */
  pnlQ01: number;
  pnlQ99: number;
  /** Mean over runs of each cost field, quote (gas in gas units). */
  meanTotalCost: number;
  meanGasCost: number;
  meanGasUsed: number;
  meanSlippageCost: number;
  meanFeeCost: number;
  meanFundingCost: number;
  meanHedges: number;
  meanReverts: number;
  /** Hedges held back per path because the base fee was above the keeper's fee cap (moving gas only). */
  meanFeeCapHolds: number;
  meanDelayedBlocks: number;
  meanL1DataCost: number;
  meanVolume: number;
  meanTrackingError: number;
  /** Σ blocksInBand / Σ blocks. */
  shareInBand: number;
  /** The largest `budgetUse` of any run: near 1, the hedging budget bound on some path. */
  maxBudgetUse: number;
  /** Standard deviation of pnl − totalCost (risk after costs), quote. */
  netPnlStd: number;
}
