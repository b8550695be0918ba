/**
 * One block's decisions, as a pure function of what was read: for each vault, the model view, the policy's
 * decision, the sized order (or why not), and the off-chain cross-check of the on-chain Greeks. No client, no
 * clock, no chain type: it takes a `BlockInput` (plain data), which a chain read is and the simulator's model
 * builds, so the live keeper and the simulator call the very same function.
 */
import type { Address } from "viem";
import { decide, resolveMaxAbsDelta } from "./policy/index.ts";
import { bookGreeksOffChain, greeksDisagreement, oracleDeviationBps, poolView, toMarketView } from "./pricing/view.ts";
import { wadToNumber } from "./pricing/wad.ts";
import { gasCostQuote, rebalanceGasUnits } from "./sizing/gasModel.ts";
import { chooseVenue, marginFirst } from "./sizing/choose.ts";
import type { SizeResult } from "./sizing/size.ts";
import type {
  BlockInput,
  CostModel,
  Decision,
  MarketView,
  PolicyConfig,
  RiskPreferences,
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
  /**
   * Whether to recompute the book's Greeks off-chain and compare (default true). Only a caller whose "on-chain"
   * Greeks come from the same float model turns it off: the simulator's model mode, where the check could only
   * agree and would double the cost of a block.
   */
  crossCheckGreeks?: boolean;
  /** Vaults with a hedge still pending: decided on, but never sized (at most one pending hedge per vault). */
  pendingVaults: ReadonlySet<Address>;
  /** An oracle further than this from the pool's price is "wild": hold (cause `wild-oracle`), basis points. */
  maxOracleDeviationBps: number;
  /** Each vault's spot at its last hedge (`updateHedgeAnchors`); a vault without one has `lastHedgeSpot` unknown. */
  hedgeAnchors?: ReadonlyMap<Address, HedgeAnchor>;
  /**
   * The hard limit on each vault's |net delta|, underlying units (`MAX_ABS_DELTA`): above it the keeper trades
   * back whatever the cost/benefit rule says. Undefined: the policy's default (a band policy's band, else none);
   * +Infinity: none. See keeper/policy/hardLimit.ts.
   */
  maxAbsDelta?: number | undefined;
  /**
   * Blocks between the block read and the one a hedge would execute in, where the vault's spacing is judged
   * (`toMarketView`): 1 for the live keeper (sent after the read, mined in the next block at the earliest), 0 (the
   * default) for an engine that executes in the block it decides on.
   */
  landingOffsetBlocks?: number;
}

/**
 * The oracle spot at a vault's last rebalance, as the keeper saw it. The chain records the block of the last
 * rebalance (`lastRebalanceBlock`) but not the price, which the time-or-move policy needs.
 */
export interface HedgeAnchor {
  /** The vault's `lastRebalanceBlock` this anchor belongs to. */
  block: bigint;
  /** Oracle spot, quote per underlying, in the first snapshot that showed that rebalance. */
  spot: number;
}

/**
 * The anchors after this block's snapshots: a pure function of the snapshots seen, in order, so the live keeper
 * and the simulator, fed the same snapshots, compute the same anchors. Per snapshot: never rebalanced
 * (`lastRebalanceBlock` 0) → no anchor; the same rebalance as `prev`'s anchor → kept; a new rebalance → anchored
 * at this snapshot's oracle spot. Vaults not in `snapshots` are dropped.
 *
 * So the anchor is the spot of the first block in which the keeper saw the rebalance, not necessarily the spot it
 * traded at: a hedge mined in block b is seen at the next read, normally b's own snapshot or the one after (the
 * oracle moves little in a block). After a restart the anchor is the spot at the first read, however old the
 * hedge: the conservative choice, measuring moves only from a price the keeper saw rather than guessing the one it
 * traded at (the move counts from the restart; the time trigger is unaffected).
 */
export function updateHedgeAnchors(
  prev: ReadonlyMap<Address, HedgeAnchor>,
  snapshots: readonly VaultSnapshot[],
): Map<Address, HedgeAnchor> {
  const next = new Map<Address, HedgeAnchor>();
  for (const snapshot of snapshots) {
    if (snapshot.lastRebalanceBlock === 0n) continue;
    const kept = prev.get(snapshot.vault);
    next.set(
      snapshot.vault,
      kept !== undefined && kept.block === snapshot.lastRebalanceBlock
        ? kept
        : { block: snapshot.lastRebalanceBlock, spot: wadToNumber(snapshot.spotWad) },
    );
  }
  return next;
}

export interface GreeksCheck {
  /** False when the cross-check was turned off (`crossCheckGreeks: false`); `ok` is then true and the diff 0. */
  checked?: boolean;
  ok: boolean;
  /** Largest relative difference between on-chain and off-chain book delta, gamma and vega. */
  maxRelativeDiff: number;
}

export interface VaultPlan {
  vault: Address;
  snapshot: VaultSnapshot;
  view: MarketView;
  decision: Decision;
  /** The hard limit on |net delta| in force, underlying units (+Infinity: none). */
  maxAbsDelta: number;
  /**
   * Present when the decision is to rebalance and no hedge is pending, or when the vault's perp margin needs a move
   * (a top-up, the margin for a wanted perp trade, excess back to cash: `order.margin`), which goes first.
   */
  sizing?: SizeResult;
  /** The venue the order (or the skip) is on, for a vault with a perp market. */
  venue?: "amm" | "perp";
  pending: boolean;
  greeks: GreeksCheck;
}

/** The cost model of one hedge on `snapshot`'s vault at the block's fees (and, on a rollup, its L1 data fee). */
export function costModelFor(snapshot: VaultSnapshot, baseFeePerGas: bigint, options: PlanOptions, l1DataFeeWei = 0n): CostModel {
  const spot = wadToNumber(snapshot.spotWad);
  const pool = poolView(snapshot);
  const nativePriceQuote = options.nativePriceQuote ?? spot;
  return {
    gasCostQuote: gasCostQuote({
      gasUnits: rebalanceGasUnits(snapshot.book.length),
      baseFeePerGasWei: baseFeePerGas,
      tipWei: options.tipWei,
      nativePriceQuote,
      l1DataFeeWei,
    }),
    ...(l1DataFeeWei > 0n ? { l1DataFeeQuote: (Number(l1DataFeeWei) / 1e18) * nativePriceQuote } : {}),
    feeRate: pool.feeRate,
    eta: pool.reserveUnderlying > 0 ? spot / pool.reserveUnderlying : Number.POSITIVE_INFINITY,
  };
}

/**
 * Each vault's plan for the block: its view at the block's base fee, the decision (a `wild-oracle` hold when the
 * oracle is more than `maxOracleDeviationBps` from the pool's price, else the policy's through `decide`), the order
 * sized when the decision is to rebalance and no hedge is pending, and the Greeks cross-check.
 */
export function planBlock(block: BlockInput, options: PlanOptions): VaultPlan[] {
  const maxAbsDelta = resolveMaxAbsDelta(options.policy, options.maxAbsDelta);
  return block.vaults.map((snapshot) => {
    const anchor = options.hedgeAnchors?.get(snapshot.vault);
    // An anchor from another rebalance (the caller did not update it for this read) is not this hedge's spot.
    const lastHedgeSpot = anchor?.block === snapshot.lastRebalanceBlock ? anchor.spot : undefined;
    const view = toMarketView(snapshot, costModelFor(snapshot, block.chain.baseFeePerGas, options, block.chain.l1DataFeeWei), lastHedgeSpot, options.landingOffsetBlocks);
    const deviation = oracleDeviationBps(snapshot);
    const maxDeviation = options.maxOracleDeviationBps;
    // A wild oracle (far from the pool) is either wrong or ahead of arbitrage: no hedge until they agree.
    const decision: Decision =
      deviation > maxDeviation
        ? {
            kind: "hold",
            cause: "wild-oracle",
            reason: `wild oracle: ${Math.round(deviation)} bps from the pool price (max ${maxDeviation})`,
          }
        : decide(view, options.policy, options.prefs, maxAbsDelta);
    const pending = options.pendingVaults.has(snapshot.vault);
    const plan: VaultPlan = {
      vault: snapshot.vault,
      snapshot,
      view,
      decision,
      maxAbsDelta,
      pending,
      greeks: options.crossCheckGreeks === false ? NOT_CHECKED : crossCheck(snapshot, options.greeksTolerance),
    };
    if (pending) return plan;
    // Per unit of execution gas (a rollup's L1 data fee is per transaction, not per gas).
    const gasPerUnit = (view.costs.gasCostQuote - (view.costs.l1DataFeeQuote ?? 0)) / rebalanceGasUnits(snapshot.book.length);
    let wantedPerp: number | undefined;
    if (decision.kind === "rebalance") {
      const choice = chooseVenue(
        snapshot,
        decision,
        view,
        options.prefs,
        { maxSlippageBps: options.maxSlippageBps, minOutMarginBps: options.minOutMarginBps, maxAbsDelta },
        gasPerUnit,
      );
      plan.sizing = choice.sizing;
      if (snapshot.perp !== undefined) plan.venue = choice.venue;
      // The perp trade the margin must carry: a skip for lack of margin, or an order cut short by it.
      const sizing = choice.sizing;
      const short = sizing.kind === "skip" ? sizing.error === "PerpMarginTooLow" : sizing.order.perp !== undefined && (sizing.order.cappedBy as readonly string[]).includes("perp margin");
      if (choice.venue === "perp" && short) wantedPerp = choice.split?.perp ?? decision.targetDelta - view.delta;
    }
    const margin = marginFirst(snapshot, wantedPerp, gasPerUnit, undefined, plan.sizing?.kind === "order", view.costs.l1DataFeeQuote ?? 0);
    if (margin !== undefined) {
      plan.sizing = margin;
      plan.venue = "perp";
    }
    return plan;
  });
}

const NOT_CHECKED: GreeksCheck = Object.freeze({ checked: false, ok: true, maxRelativeDiff: 0 });

function crossCheck(snapshot: VaultSnapshot, tolerance: number): GreeksCheck {
  if (snapshot.book.length === 0) return { ok: true, maxRelativeDiff: 0 };
  const offChain = bookGreeksOffChain(snapshot);
  const diff = greeksDisagreement(
    { deltaWad: snapshot.bookDeltaWad, gammaWad: snapshot.gammaWad, vegaWad: snapshot.vegaWad },
    offChain,
  );
  return { ok: diff.maxRelative <= tolerance, maxRelativeDiff: diff.maxRelative };
}
