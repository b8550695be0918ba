/**
 * EIP-1559 fees: the priority fee from recent fee history (median reward, fetched only to send), the max fee as
 * twice the base fee plus the tip — enough to stay includable through ~6 full blocks of base-fee growth —
 * both capped by configuration. Pure computation separated from the one RPC call.
 */
import type { PublicClient } from "viem";
import { OP_MIN_TIP_WEI, type ChainType } from "../chain/l1Fee.ts";

export interface FeeCaps {
  maxFeePerGasWei: bigint;
  maxPriorityFeePerGasWei: bigint;
  /**
   * The chain's fee rules (default `l1`): on Arbitrum no tip (its sequencer orders first come, first served: a tip
   * buys nothing); on an OP-stack chain at least op-geth's minimum suggested tip (0.001 gwei), under the cap.
   */
  chainType?: ChainType;
}

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** The base fee alone is above the configured cap: sending now would overpay or never be included. */
export class FeeCapExceededError extends Error {
  override name = "FeeCapExceededError";
  readonly baseFeePerGas: bigint;
  readonly maxFeePerGasWei: bigint;

  constructor(baseFeePerGas: bigint, maxFeePerGasWei: bigint) {
    super(`base fee ${baseFeePerGas} wei is above the fee cap ${maxFeePerGasWei} wei (MAX_FEE_GWEI): not sending`);
    this.baseFeePerGas = baseFeePerGas;
    this.maxFeePerGasWei = maxFeePerGasWei;
  }
}

/** Fees for a transaction in a block whose base fee is `baseFeePerGas`. */
export function computeFees(baseFeePerGas: bigint, suggestedTipWei: bigint, caps: FeeCaps): Fees {
  if (baseFeePerGas > caps.maxFeePerGasWei) throw new FeeCapExceededError(baseFeePerGas, caps.maxFeePerGasWei);
  const wantedTip = caps.chainType === "arbitrum" ? 0n : caps.chainType === "op" && suggestedTipWei < OP_MIN_TIP_WEI ? OP_MIN_TIP_WEI : suggestedTipWei;
  const tip = wantedTip < caps.maxPriorityFeePerGasWei ? wantedTip : caps.maxPriorityFeePerGasWei;
  const wanted = baseFeePerGas * 2n + tip;
  const maxFeePerGas = wanted < caps.maxFeePerGasWei ? wanted : caps.maxFeePerGasWei;
  return { maxFeePerGas, maxPriorityFeePerGas: tip < maxFeePerGas ? tip : maxFeePerGas };
}

/** Median of the non-zero values, or `fallback` when there are none. */
export function medianTip(rewards: readonly bigint[], fallback: bigint): bigint {
  const sorted = rewards.filter((r) => r > 0n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (sorted.length === 0) return fallback;
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** What `eth_feeHistory` says about the next block. */
export interface FeeQuote {
  /** Base fee of the next block (the last element of `baseFeePerGas`), wei. */
  nextBaseFeeWei: bigint;
  /** Median priority fee paid over the last blocks, wei (the configured cap when none was paid). */
  tipWei: bigint;
}

/**
 * Fees for the next block from one `eth_feeHistory` call (10 blocks, 50th percentile reward), made only when a
 * hedge is about to be sent — idle blocks cost no request — and reused within the same block. The base fee must
 * come from here, not from `block.basefee` in an `eth_call`: nodes fill that differently (geth reports 0 for a
 * call with no gas price, Hardhat the call's own context), and a stale base fee gets the transaction rejected.
 */
export class FeeOracle {
  #quote: FeeQuote | undefined;
  #atBlock = -1n;
  readonly #client: PublicClient;
  readonly #fallbackTipWei: bigint;

  constructor(client: PublicClient, fallbackTipWei: bigint) {
    this.#client = client;
    this.#fallbackTipWei = fallbackTipWei;
  }

  /** The latest quote fetched, if any: a fair estimate of fees for decisions, without a request. */
  get last(): FeeQuote | undefined {
    return this.#quote;
  }

  async quote(blockNumber: bigint): Promise<FeeQuote> {
    if (this.#quote !== undefined && this.#atBlock === blockNumber) return this.#quote;
    const history = await this.#client.getFeeHistory({ blockCount: 10, rewardPercentiles: [50] });
    const nextBaseFeeWei = history.baseFeePerGas[history.baseFeePerGas.length - 1];
    if (nextBaseFeeWei === undefined) throw new Error("eth_feeHistory returned no base fee");
    // With no tips in recent blocks (a quiet chain), tip half the cap rather than all of it: a stuck transaction
    // then still has room for a fee bump under the cap.
    this.#quote = {
      nextBaseFeeWei,
      tipWei: medianTip((history.reward ?? []).map((r) => r[0] ?? 0n), this.#fallbackTipWei / 2n),
    };
    this.#atBlock = blockNumber;
    return this.#quote;
  }
}

/**
 * Fees for a replacement: at least `bumpPercent` above the old ones on both fields (nodes reject less than a 10%
 * bump as underpriced), and at least what the market asks now. Undefined when that would exceed the cap: the
 * transaction then waits rather than overpay.
 */
export function bumpFees(old: Fees, fresh: Fees, bumpPercent: number, caps: FeeCaps): Fees | undefined {
  const bump = (x: bigint) => (x * BigInt(Math.round((100 + bumpPercent) * 100)) + 9_999n) / 10_000n;
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  const maxPriorityFeePerGas = max(bump(old.maxPriorityFeePerGas), fresh.maxPriorityFeePerGas);
  const maxFeePerGas = max(max(bump(old.maxFeePerGas), fresh.maxFeePerGas), maxPriorityFeePerGas);
  if (maxFeePerGas > caps.maxFeePerGasWei || maxPriorityFeePerGas > caps.maxPriorityFeePerGasWei) return undefined;
  return { maxFeePerGas, maxPriorityFeePerGas };
}
