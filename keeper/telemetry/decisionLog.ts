/**
 * What the keeper says about each block: one line per decision (info when it changes or acts, debug while it
 * repeats), the holds that start or end, each hedge sent, mined, reverted or cancelled, each failed send with what
 * to do about it, shadow mode's view of hedges made by others, and the per-block metrics.
 *
 * Log-once state lives here (the last decision per vault, the holds, the last rebalance seen); the keeper passes
 * its tick's child logger to every call, so each line carries the block.
 */
import type { Address } from "viem";
import { classifyVaultError, errorMessage } from "../chain/errors.ts";
import { receiptFees } from "../chain/l1Fee.ts";
import type { ReadResult } from "../chain/readVaults.ts";
import { FeeCapExceededError } from "../execution/fees.ts";
import type { HedgeOutcome } from "../execution/pending.ts";
import { GasCapExceededError, HedgeSimulationError, type SentHedge } from "../execution/sendHedge.ts";
import type { Throttle } from "../execution/throttle.ts";
import { tokenToNumber, wadToNumber } from "../pricing/wad.ts";
import { marginRatioBps } from "../sizing/perpSize.ts";
import type { VaultPlan } from "../tick.ts";
import type { HedgeOrder } from "../types.ts";
import { round } from "./format.ts";
import { VaultHolds } from "./holds.ts";
import type { Logger } from "./logger.ts";
import type { KeeperMetrics } from "./metrics.ts";

/** What a `DecisionLog` needs from the keeper. */
export interface DecisionLogDeps {
  /** Prometheus metrics (optional: tests and the benchmark run without). */
  metrics?: KeeperMetrics | undefined;
  /** Wall-clock seconds, for the head's lag behind real time (the block's own timestamp without it). */
  wallClockSec?: (() => number) | undefined;
  /** Monotonic milliseconds, for the block-to-broadcast latency. */
  nowMs: () => number;
  /** A failed send backs its vault off here (see `sendFailure`). */
  throttle: Pick<Throttle, "backOff">;
}

/** The keeper's state that the per-block metrics show beside the plans. */
export interface ObservedState {
  signerBalanceWei: bigint | undefined;
  pending: readonly { decidedAtBlock: bigint }[];
}

/** The keeper's log and metrics of decisions and outcomes. One instance per keeper. */
export class DecisionLog {
  /** Per vault: the last decision's key, so a decision repeated every block is logged at debug. */
  readonly #lastDecision = new Map<Address, string>();
  /** What keeps each vault from being hedged (oracle, pause, sizing's holds): logged when it changes. */
  readonly #holds = new VaultHolds();
  /** Shadow mode: the last rebalance block seen per vault, to report hedges that happened on-chain. */
  readonly #shadowSeen = new Map<Address, bigint>();
  /** Vaults outside their hard delta limit in their latest plan: a failed send then says it leaves them there. */
  readonly #outsideLimit = new Set<Address>();
  /** Per vault: the last rebalance block of its latest plan, for `/healthz`. */
  readonly #lastRebalanceBlocks = new Map<Address, bigint>();
  /** Each perp vault's position and accrued funding at its last observation, and whether its margin was low. */
  readonly #perpSeen = new Map<Address, { size: bigint; funding: bigint; health: PerpHealth }>();

  /** A perp vault's margin health at its last observation (for readiness); undefined for a vault without a market. */
  perpHealthOf(vault: Address): PerpHealth | undefined {
    return this.#perpSeen.get(vault)?.health;
  }

  /**
   * A perp vault's funding and margin health, once per observation: the funding a trade (or a liquidation) settled
   * — the accrual last seen before the position changed, within a block of it — logged and counted as paid or
   * received; a warning when the margin falls below the vault's minimum or the position is liquidatable, once per
   * episode, and a line when it is back.
   */
  #perp(log: Logger, plan: VaultPlan): void {
    const p = plan.snapshot.perp;
    if (p === undefined || !p.priced) return;
    const q = plan.snapshot.quoteDecimals;
    const prev = this.#perpSeen.get(plan.vault);
    if (prev !== undefined && prev.size !== p.sizeWad && prev.funding !== 0n) {
      const amount = tokenToNumber(prev.funding, q);
      log.info({ vault: plan.vault, funding: round(amount, 6), direction: amount > 0 ? "received" : "paid" }, "perp funding settled");
      this.#deps.metrics?.perpFundingSettled(plan.vault, amount);
    }
    const ratio = marginRatioBps(plan.snapshot);
    const health: PerpHealth = { marginRatioBps: ratio, minMarginBps: p.minMarginBps, liquidatable: p.liquidatable, low: p.sizeWad !== 0n && (p.liquidatable || ratio < p.minMarginBps) };
    const fields = { vault: plan.vault, marginRatioBps: Math.round(ratio), minMarginBps: p.minMarginBps, liquidatable: p.liquidatable || undefined };
    if (health.low && !prev?.health.low) log.warn(fields, "perp margin below the vault's minimum: a top-up is due");
    else if (!health.low && prev?.health.low) log.info(fields, "perp margin back above the vault's minimum");
    this.#perpSeen.set(plan.vault, { size: p.sizeWad, funding: p.funding, health });
  }
  readonly #deps: DecisionLogDeps;

  constructor(deps: DecisionLogDeps) {
    this.#deps = deps;
  }

  /** Per vault: the block of its last rebalance as of the latest observed block. */
  get lastRebalanceBlocks(): ReadonlyMap<Address, bigint> {
    return this.#lastRebalanceBlocks;
  }

  /**
   * One vault's decision: the holds that start or end, a Greeks disagreement, and the decision line — info when
   * it changed since the last block, or when it rebalances and sizing does not hold it back; debug otherwise.
   */
  decision(log: Logger, plan: VaultPlan): void {
    const { decision, view } = plan;
    if (Math.abs(view.delta) > plan.maxAbsDelta) this.#outsideLimit.add(plan.vault);
    else this.#outsideLimit.delete(plan.vault);
    // Conditions that stop hedging for a while (oracle, pause, a spent budget…): one line when each starts or ends.
    for (const line of this.#holds.observe(plan)) log[line.level](line.fields, line.msg);
    const fields = {
      vault: plan.vault,
      decision: decision.kind,
      reason: decision.reason,
      delta: round(view.delta, 6),
      band: decision.band === undefined ? undefined : round(decision.band, 6),
      limit: Number.isFinite(plan.maxAbsDelta) ? round(plan.maxAbsDelta, 6) : undefined,
      outsideLimit: Math.abs(view.delta) > plan.maxAbsDelta || undefined,
      spot: round(view.spot, 4),
      pending: plan.pending || undefined,
    };
    if (!plan.greeks.ok) {
      log.warn({ vault: plan.vault, maxRelativeDiff: plan.greeks.maxRelativeDiff }, "on-chain and off-chain Greeks disagree beyond GREEKS_TOLERANCE");
    }
    const skipError = plan.sizing?.kind === "skip" ? (plan.sizing.error ?? "") : "";
    const key = `${decision.kind}:${plan.sizing?.kind ?? ""}:${skipError}`;
    const changed = this.#lastDecision.get(plan.vault) !== key;
    this.#lastDecision.set(plan.vault, key);
    // A decision that repeats every block goes to debug; every change, and every rebalance that is not held back
    // by sizing for the same reason as in the last block, to info.
    if ((decision.kind === "rebalance" && plan.sizing?.kind !== "skip") || changed) log.info(fields, "decision");
    else log.debug(fields, "decision");
  }

  /**
   * A hedge broadcast (and journaled): its line (transaction, fees, order), then its metrics.
   * @param seenAtMs when the block decided on became known (monotonic ms)
   * @returns the block-to-broadcast latency, ms
   */
  sent(log: Logger, plan: VaultPlan, order: HedgeOrder, sent: SentHedge, seenAtMs: number): number {
    log.info(
      {
        vault: plan.vault,
        hash: sent.hash,
        nonce: sent.nonce,
        gasLimit: Number(sent.gasLimit),
        maxFeeGwei: Number(sent.fees.maxFeePerGas) / 1e9,
        ...orderFields(order, plan.snapshot),
      },
      "hedge sent",
    );
    const latencyMs = this.#deps.nowMs() - seenAtMs;
    this.#deps.metrics?.hedge(sent.vault, "sent");
    this.#deps.metrics?.observeBroadcastLatencySeconds(latencyMs / 1000);
    return latencyMs;
  }

  /**
   * One line per failed send, and a back-off (no retry per block) unless the vault simply no longer needs the
   * hedge. A simulation's revert is classified by `classifyVaultError`: the state moved since the read, and the
   * table says whether to stand down, wait (oracle, pause, budget window, payouts) or re-size.
   * @param block the block the back-off counts from (the keeper's last block)
   */
  sendFailure(log: Logger, vault: Address, error: unknown, block: bigint): void {
    this.#deps.metrics?.hedge(vault, error instanceof HedgeSimulationError ? "simulation_failed" : "skipped");
    if (error instanceof HedgeSimulationError) {
      const { action, meaning } = classifyVaultError(error.errorName);
      if (action === "stand-down") {
        // Two keepers on one vault: the contract's spacing let the other one through, or its trade (or the
        // market) brought the delta within the tolerance. Nothing is wrong, and nothing to retry.
        const msg =
          error.errorName === "DeltaWithinTolerance"
            ? "vault already within its delta tolerance: standing down"
            : "another keeper hedged this vault first: standing down";
        log.info({ vault, error: error.errorName }, msg);
        return;
      }
      const backoffUntilBlock = this.#deps.throttle.backOff(vault, block);
      const fields = { vault, error: error.errorName, args: error.errorArgs.map(String), action, backoffUntilBlock: Number(backoffUntilBlock) };
      if (action === "operator") log.error(fields, `hedge not sent: ${meaning}`);
      else log.warn(fields, `hedge not sent: ${meaning}`);
      return;
    }
    this.#deps.throttle.backOff(vault, block);
    if (error instanceof FeeCapExceededError || error instanceof GasCapExceededError) {
      if (this.#outsideLimit.has(vault)) {
        const blockedBy = error instanceof FeeCapExceededError ? "fee cap" : "gas cap";
        log.warn({ vault, outsideLimit: true, blockedBy }, `hedge not sent: ${error.message}; the vault stays outside its hard delta limit (${blockedBy})`);
      } else {
        log.warn({ vault }, `hedge not sent: ${error.message}`);
      }
    } else {
      log.error({ vault, error: errorMessage(error) }, "hedge not sent: RPC or signing failure");
    }
  }

  /**
   * A hedge settled: its line (mined with the vault's delta before and after, reverted, or its nonce taken by our
   * cancel) and its metrics. Returns true when it reverted because another keeper won the race — the system
   * working, not a fault: no back-off.
   * @param vaults this block's read of the vaults (their last rebalance block)
   */
  settled(log: Logger, outcome: HedgeOutcome, vaults: ReadResult["vaults"]): boolean {
    // Our hedge reverted in a block where someone else rebalanced the vault: two keepers raced and the other
    // won (the contract's spacing let only one through).
    // (At or after: the winner may have hedged again since. We have one hedge in flight per vault, and it
    // reverted, so any rebalance from that block on was someone else's.)
    const lastRebalance = vaults.find((v) => v.vault === outcome.sent.vault)?.lastRebalanceBlock ?? 0n;
    const lostRace = outcome.kind === "reverted" && lastRebalance >= outcome.receipt.blockNumber;
    if (lostRace) {
      log.info({ vault: outcome.sent.vault, hash: outcome.sent.hash, block: Number(outcome.receipt.blockNumber) }, "another keeper hedged this vault first: standing down");
    } else {
      this.#outcome(log, outcome);
    }
    this.#deps.metrics?.hedge(outcome.sent.vault, outcome.kind);
    this.#deps.metrics?.gasSpent(outcome.sent.vault, outcome.receipt.gasUsed, receiptFees(outcome.receipt));
    return lostRace;
  }

  #outcome(log: Logger, outcome: HedgeOutcome): void {
    const { sent, receipt } = outcome;
    const base = {
      vault: sent.vault,
      hash: sent.hash,
      minedInBlock: Number(receipt.blockNumber),
      blocksAfterDecision: Number(receipt.blockNumber - sent.decidedAtBlock),
      gasUsed: Number(receipt.gasUsed),
      effectiveGasPriceGwei: Number(receipt.effectiveGasPrice) / 1e9,
      ...feeFields(receipt),
    };
    if (outcome.kind === "reverted") {
      log.error(base, "hedge reverted on-chain (state moved between simulation and inclusion): backing off");
      return;
    }
    if (outcome.kind === "cancelled") {
      log.info(base, "cancel mined: the stuck hedge's nonce is settled, no trade");
      return;
    }
    log.info(
      {
        ...base,
        deltaBefore: outcome.deltaBeforeWad === undefined ? undefined : round(wadToNumber(outcome.deltaBeforeWad), 6),
        deltaAfter: outcome.deltaAfterWad === undefined ? undefined : round(wadToNumber(outcome.deltaAfterWad), 6),
      },
      "hedge mined",
    );
  }

  /** Shadow mode: what happened on-chain since the last block, beside what this keeper decided. */
  shadow(log: Logger, plans: readonly VaultPlan[]): void {
    for (const plan of plans) {
      const last = plan.snapshot.lastRebalanceBlock;
      const seen = this.#shadowSeen.get(plan.vault);
      this.#shadowSeen.set(plan.vault, last);
      if (seen !== undefined && last > seen) {
        log.info(
          { vault: plan.vault, rebalancedInBlock: Number(last), deltaNow: round(plan.view.delta, 6), ourDecision: plan.decision.kind, reason: plan.decision.reason },
          "shadow: the vault was rebalanced on-chain (by another keeper)",
        );
      }
    }
  }

  /**
   * A planned block: the per-block metrics (head, every vault's Greeks and band, oracle freshness, signer balance,
   * pending) and its debug line.
   */
  observe(log: Logger, read: ReadResult, plans: readonly VaultPlan[], decisionMs: number, state: ObservedState): void {
    this.#metrics(read, plans, decisionMs, state);
    for (const plan of plans) this.#perp(log, plan);
    log.debug(
      { vaults: plans.length, pending: state.pending.length, baseFeeGwei: Number(read.chain.baseFeePerGas) / 1e9, decisionMs: round(decisionMs, 3) },
      "block",
    );
  }

  #metrics(read: ReadResult, plans: readonly VaultPlan[], decisionMs: number, state: ObservedState): void {
    for (const plan of plans) this.#lastRebalanceBlocks.set(plan.vault, plan.snapshot.lastRebalanceBlock);
    const { metrics, wallClockSec } = this.#deps;
    if (!metrics) return;
    metrics.blockSeen(read.chain.blockNumber, read.chain.timestamp, wallClockSec?.() ?? Number(read.chain.timestamp));
    metrics.observeDecisionSeconds(decisionMs / 1000);
    if (state.signerBalanceWei !== undefined) metrics.signerBalance(state.signerBalanceWei);
    for (const plan of plans) {
      const band = plan.decision.band ?? plan.view.onChainBand;
      metrics.vaultObserved({
        vault: plan.vault,
        blockNumber: read.chain.blockNumber,
        delta: plan.view.delta,
        gamma: plan.view.gamma,
        band,
        outOfBand: Math.abs(plan.view.delta) > band,
        hardLimit: Number.isFinite(plan.maxAbsDelta) ? plan.maxAbsDelta : undefined,
        oracleAgeSeconds: Number(plan.snapshot.oracleAgeSeconds),
        oracleFresh: plan.snapshot.oracleFresh,
        ...(plan.snapshot.perp === undefined ? {} : { perp: perpObservation(plan.snapshot) }),
      });
      if (plan.sizing?.kind === "skip") metrics.hedge(plan.vault, "skipped");
    }
    const pending = state.pending;
    const oldest = pending.reduce((m, p) => (read.chain.blockNumber - p.decidedAtBlock > m ? read.chain.blockNumber - p.decidedAtBlock : m), 0n);
    metrics.pendingTransactions(pending.length, Number(oldest));
  }
}

/** A receipt's cost in the native token, and on a rollup its L1 data part (absent on an L1). */
function feeFields(receipt: HedgeOutcome["receipt"]): { feeNative: number; l1DataFeeNative?: number } {
  const fees = receiptFees(receipt);
  return { feeNative: round(Number(fees.totalWei) / 1e18, 12), ...(fees.l1DataWei > 0n ? { l1DataFeeNative: round(Number(fees.l1DataWei) / 1e18, 12) } : {}) };
}

/** A vault's perp margin health, as the readiness rule reads it. */
export interface PerpHealth {
  marginRatioBps: number;
  minMarginBps: number;
  liquidatable: boolean;
  /** Below the vault's minimum with a position open, or liquidatable. */
  low: boolean;
}

/** The metrics' view of a vault's perp position. */
function perpObservation(snapshot: VaultPlan["snapshot"]) {
  const p = snapshot.perp!;
  const notional = Math.abs(wadToNumber(p.sizeWad)) * wadToNumber(snapshot.spotWad);
  const maintenanceMarginBps = notional > 0 ? (tokenToNumber(p.maintenanceMargin, snapshot.quoteDecimals) / notional) * 10_000 : Number.POSITIVE_INFINITY;
  return { position: wadToNumber(p.sizeWad), marginRatioBps: marginRatioBps(snapshot), fundingAccrued: tokenToNumber(p.funding, snapshot.quoteDecimals), maintenanceMarginBps };
}

/** An order's log fields: side, size, the vault's delta before and after, amounts, slippage, cost and benefit. */
export function orderFields(
  order: HedgeOrder & { cappedBy?: readonly string[]; outsideLimit?: { maxAbsDelta: number; costGateWaived: boolean } },
  snapshot: { netDeltaWad: bigint },
) {
  if (order.margin !== undefined) {
    return { margin: order.margin.direction, amount: order.margin.amount.toString(), reason: order.margin.reason, costQuote: round(order.totalCostQuote, 4) };
  }
  return {
    venue: order.perp !== undefined ? "perp" : undefined,
    side: order.buyUnderlying ? "buy" : "sell",
    size: round(wadToNumber(order.tradeWad), 6),
    deltaBefore: round(wadToNumber(snapshot.netDeltaWad), 6),
    deltaAfter: round(wadToNumber(order.deltaAfterWad), 6),
    amountIn: order.perp === undefined ? order.amountIn.toString() : undefined,
    minAmountOut: order.perp === undefined ? order.minAmountOut.toString() : undefined,
    fillPrice: order.perp === undefined ? undefined : round(wadToNumber(order.perp.fillPriceWad), 6),
    perpFee: order.perp?.fee.toString(),
    slippageBps: round(order.slippageBps, 2),
    costQuote: round(order.totalCostQuote, 4),
    benefitQuote: round(order.benefitQuote, 4),
    partial: order.partial || undefined,
    cappedBy: order.cappedBy?.length ? order.cappedBy.join(", ") : undefined,
    // Outside the hard limit the order goes whatever its cost: say when the cost/benefit rule alone would have held.
    outsideLimit: order.outsideLimit === undefined ? undefined : true,
    costGateWaived: order.outsideLimit?.costGateWaived || undefined,
  };
}
