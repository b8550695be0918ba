/**
 * One block's decisions, as a pure function of what was read: for each vault, the model view, the policy's
 * decision, the sized order (or why not), and the off-chain cross-check of the on-chain Greeks. No client, no
 * clock: the live keeper and the simulator call the very same function.
 */
import type { Address } from "viem";
import type { ReadResult } from "./chain/readVaults.ts";
import { decide } from "./policy/index.ts";
import { bookGreeksOffChain, greeksDisagreement, toMarketView } from "./pricing/view.ts";
import { wadToNumber } from "./pricing/wad.ts";
import { gasCostQuote, rebalanceGasUnits } from "./sizing/gasModel.ts";
import { sizeHedge } from "./sizing/size.ts";
import type {
  CostModel,
  Decision,
  MarketView,
  PolicyConfig,
  RiskPreferences,
  Sizing,
  VaultSnapshot,
} from "./types.ts";

export interface PlanOptions {
  policy: PolicyConfig;
  prefs: RiskPreferences;
  /** The keeper's own slippage bound (the vault's applies too). */
  maxSlippageBps: number;
  minOutMarginBps: number;
  /** Priority fee expected on top of the base fee, wei. */
  tipWei: bigint;
  /** Price of the native gas token in quote units; the vault's spot when undefined (gas paid in the underlying). */
  nativePriceQuote?: number | undefined;
  /** Relative tolerance of the on-chain vs off-chain Greeks cross-check. */
  greeksTolerance: number;
  /** Vaults with a hedge still pending: decided on, but never sized (at most one pending hedge per vault). */
  pendingVaults: ReadonlySet<Address>;
  /** An oracle further than this from the pool's price is "wild": hold (default 1000 bps). */
  maxOracleDeviationBps?: number;
}

export interface GreeksCheck {
  ok: boolean;
  /** Largest relative difference between on-chain and off-chain book delta, gamma and vega. */
  maxRelativeDiff: number;
}

export interface VaultPlan {
  vault: Address;
  snapshot: VaultSnapshot;
  view: MarketView;
  decision: Decision;
  /** Present when the decision is to rebalance and no hedge is pending. */
  sizing?: Sizing;
  pending: boolean;
  greeks: GreeksCheck;
}

/** The cost model of one hedge on `snapshot`'s vault at the block's fees. */
export function costModelFor(snapshot: VaultSnapshot, baseFeePerGas: bigint, options: PlanOptions): CostModel {
  const spot = wadToNumber(snapshot.spotWad);
  const reserveUnderlying = Number(snapshot.ammReserveUnderlying) / 10 ** snapshot.underlyingDecimals;
  return {
    gasCostQuote: gasCostQuote({
      gasUnits: rebalanceGasUnits(snapshot.book.length),
      baseFeePerGasWei: baseFeePerGas,
      tipWei: options.tipWei,
      nativePriceQuote: options.nativePriceQuote ?? spot,
    }),
    feeRate: Number(snapshot.ammFeeBps) / 10_000,
    eta: reserveUnderlying > 0 ? spot / reserveUnderlying : Number.POSITIVE_INFINITY,
  };
}

/** How far the oracle is from the pool's own price, in basis points of the pool price (Infinity for an empty pool). */
export function oracleDeviationBps(snapshot: VaultSnapshot): number {
  if (snapshot.ammReserveUnderlying === 0n || snapshot.ammReserveQuote === 0n) return Number.POSITIVE_INFINITY;
  const pool =
    Number(snapshot.ammReserveQuote) / 10 ** snapshot.quoteDecimals / (Number(snapshot.ammReserveUnderlying) / 10 ** snapshot.underlyingDecimals);
  return (Math.abs(wadToNumber(snapshot.spotWad) - pool) / pool) * 10_000;
}

export function planBlock(read: ReadResult, options: PlanOptions): VaultPlan[] {
  return read.vaults.map((snapshot) => {
    const view = toMarketView(snapshot, costModelFor(snapshot, read.chain.baseFeePerGas, options));
    const deviation = oracleDeviationBps(snapshot);
    const maxDeviation = options.maxOracleDeviationBps ?? 1000;
    // A wild oracle (far from the pool) is either wrong or ahead of arbitrage: no hedge until they agree.
    const decision: Decision =
      deviation > maxDeviation
        ? { kind: "hold", reason: `wild oracle: ${Math.round(deviation)} bps from the pool price (max ${maxDeviation})` }
        : decide(view, options.policy, options.prefs);
    const pending = options.pendingVaults.has(snapshot.vault);
    const plan: VaultPlan = {
      vault: snapshot.vault,
      snapshot,
      view,
      decision,
      pending,
      greeks: crossCheck(snapshot, options.greeksTolerance),
    };
    if (decision.kind === "rebalance" && !pending) {
      plan.sizing = sizeHedge(snapshot, decision, view, options.prefs, {
        maxSlippageBps: options.maxSlippageBps,
        minOutMarginBps: options.minOutMarginBps,
      });
    }
    return plan;
  });
}

function crossCheck(snapshot: VaultSnapshot, tolerance: number): GreeksCheck {
  if (snapshot.book.length === 0) return { ok: true, maxRelativeDiff: 0 };
  const offChain = bookGreeksOffChain(snapshot);
  const diff = greeksDisagreement(
    { deltaWad: snapshot.bookDeltaWad, gammaWad: snapshot.gammaWad, vegaWad: snapshot.vegaWad },
    offChain,
  );
  return { ok: diff.maxRelative <= tolerance, maxRelativeDiff: diff.maxRelative };
}
