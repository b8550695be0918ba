/**
 * Sends one hedge: simulate (eth_estimateGas executes the call, so a revert is caught and decoded before
 * anything is signed), cap the gas, price it under the fee caps, sign once locally, broadcast. Three RPC
 * requests (estimate, fee history, send); the receipt is collected later by `PendingHedges`, one request per
 * block while pending.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  encodeFunctionData,
  type Account,
  type Address,
  type Hash,
  type PublicClient,
} from "viem";
import { mockAmmAbi, optionVaultAbi } from "../abi.ts";
import type { HedgeOrder } from "../types.ts";
import { computeFees, type FeeCaps, type FeeOracle, type Fees } from "./fees.ts";
import type { NonceTracker } from "./nonces.ts";

/** The contract rejected the hedge in simulation: nothing was signed or sent. */
export class HedgeSimulationError extends Error {
  override name = "HedgeSimulationError";
  readonly errorName: string;
  readonly errorArgs: readonly unknown[];

  constructor(errorName: string, errorArgs: readonly unknown[], cause: unknown) {
    super(`simulation reverted with ${errorName}(${errorArgs.map(String).join(", ")})`, { cause });
    this.errorName = errorName;
    this.errorArgs = errorArgs;
  }
}

/** The hedge needs more gas than GAS_LIMIT_PER_HEDGE allows. */
export class GasCapExceededError extends Error {
  override name = "GasCapExceededError";
  readonly estimatedGas: bigint;
  readonly gasCap: bigint;

  constructor(estimatedGas: bigint, gasCap: bigint) {
    super(`estimated gas ${estimatedGas} exceeds GAS_LIMIT_PER_HEDGE ${gasCap}: not sending`);
    this.estimatedGas = estimatedGas;
    this.gasCap = gasCap;
  }
}

export interface SendContext {
  client: PublicClient;
  account: Account;
  chainId: number;
  nonces: NonceTracker;
  fees: FeeOracle;
  caps: FeeCaps;
  gasLimitPerHedge: bigint;
}

export interface SentHedge {
  vault: Address;
  hash: Hash;
  nonce: number;
  gasLimit: bigint;
  fees: Fees;
  /** Block whose state the decision was made on. */
  decidedAtBlock: bigint;
}

/**
 * The vault's ABI plus the AMM's errors: a swap failure inside `rebalance` (e.g. `InsufficientOutput` when the
 * pool moved since the snapshot) bubbles up with the AMM's error, which the keeper must decode too.
 */
export const hedgeAbi = [...optionVaultAbi, ...mockAmmAbi.filter((item) => item.type === "error")] as const;

/** Decodes a viem error into the contract's custom error name and arguments, when it is one. */
export function decodeRevert(error: unknown): { errorName: string; args: readonly unknown[] } | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) {
    return { errorName: revert.data.errorName, args: revert.data.args ?? [] };
  }
  return undefined;
}

export interface SimulatedHedge {
  vault: Address;
  args: readonly [boolean, bigint, bigint, bigint];
  gasLimit: bigint;
  blockNumber: bigint;
}

/**
 * Simulates a hedge with `eth_estimateGas` (which executes it) and sizes its gas limit: 20% over the estimate,
 * never above GAS_LIMIT_PER_HEDGE. Throws `HedgeSimulationError` with the decoded revert, or
 * `GasCapExceededError`. One request; independent hedges can be simulated concurrently.
 */
export async function simulateHedge(
  ctx: Pick<SendContext, "client" | "account" | "gasLimitPerHedge">,
  p: { vault: Address; order: HedgeOrder; deadline: bigint; blockNumber: bigint },
): Promise<SimulatedHedge> {
  const args = [p.order.buyUnderlying, p.order.amountIn, p.order.minAmountOut, p.deadline] as const;
  let estimatedGas: bigint;
  try {
    estimatedGas = await ctx.client.estimateContractGas({
      address: p.vault,
      abi: hedgeAbi,
      functionName: "rebalance",
      args,
      // The address, not the local account: with a local account viem would first prepare a whole transaction
      // (nonce, chain id, block, priority fee: four more requests). The estimate only needs `from`.
      account: ctx.account.address,
    });
  } catch (error) {
    const decoded = decodeRevert(error);
    if (decoded) throw new HedgeSimulationError(decoded.errorName, decoded.args, error);
    throw error;
  }
  if (estimatedGas > ctx.gasLimitPerHedge) throw new GasCapExceededError(estimatedGas, ctx.gasLimitPerHedge);
  // 20% headroom over the estimate (state can move between simulation and inclusion), within the cap.
  const padded = (estimatedGas * 12n) / 10n;
  return { vault: p.vault, args, gasLimit: padded < ctx.gasLimitPerHedge ? padded : ctx.gasLimitPerHedge, blockNumber: p.blockNumber };
}

/**
 * Prices (fee history, cached per block), signs once with the next nonce, and broadcasts a simulated hedge.
 * Sends must be called in sequence: the nonce order is the call order.
 */
export async function broadcastHedge(ctx: SendContext, sim: SimulatedHedge): Promise<SentHedge> {
  const quote = await ctx.fees.quote(sim.blockNumber);
  const fees = computeFees(quote.nextBaseFeeWei, quote.tipWei, ctx.caps);
  const nonce = await ctx.nonces.next();
  let hash: Hash;
  try {
    const serializedTransaction = await ctx.account.signTransaction!({
      chainId: ctx.chainId,
      type: "eip1559",
      to: sim.vault,
      data: encodeFunctionData({ abi: optionVaultAbi, functionName: "rebalance", args: sim.args }),
      gas: sim.gasLimit,
      nonce,
      value: 0n,
      ...fees,
    });
    hash = await ctx.client.sendRawTransaction({ serializedTransaction });
  } catch (error) {
    // Not broadcast (or rejected by the node): the nonce may be unused, re-read it before the next send.
    ctx.nonces.release(nonce);
    await ctx.nonces.resync().catch(() => undefined);
    throw error;
  }
  return { vault: sim.vault, hash, nonce, gasLimit: sim.gasLimit, fees, decidedAtBlock: sim.blockNumber };
}

/** `simulateHedge` then `broadcastHedge`. */
export async function sendHedge(
  ctx: SendContext,
  p: { vault: Address; order: HedgeOrder; deadline: bigint; blockNumber: bigint },
): Promise<SentHedge> {
  return broadcastHedge(ctx, await simulateHedge(ctx, p));
}
