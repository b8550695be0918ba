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
  getContractError,
  hexToBigInt,
  InvalidParamsRpcError,
  numberToHex,
  type Account,
  keccak256,
  type Address,
  type Hash,
  type Hex,
  type PublicClient,
} from "viem";
import { mockAmmAbi, mockPerpMarketAbi, optionVaultAbi } from "../abi.ts";
import { wadToNumber } from "../pricing/wad.ts";
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
  /** The signed bytes, kept to re-broadcast them unchanged if the transaction goes missing. */
  raw?: Hex;
  /** The journal intent this transaction carries out. */
  intentId?: string;
}

/**
 * The vault's ABI plus the AMM's errors: a swap failure inside `rebalance` (e.g. `InsufficientOutput` when the
 * pool moved since the snapshot) bubbles up with the AMM's error, which the keeper must decode too.
 */
export const hedgeAbi = [...optionVaultAbi, ...mockAmmAbi.filter((item) => item.type === "error"), ...mockPerpMarketAbi.filter((item) => item.type === "error")] as const;

/** The vault call an order is sent as: a hedge on the AMM or the perp, or a perp margin move. */
export type HedgeCall =
  | { functionName: "rebalance"; args: readonly [boolean, bigint, bigint, bigint] }
  | { functionName: "hedgePerp"; args: readonly [bigint, bigint, bigint] }
  | { functionName: "postPerpMargin" | "withdrawPerpMargin"; args: readonly [bigint] };

/** The call for `order` with the trade's `deadline` (a margin move has none). */
export function hedgeCallOf(order: HedgeOrder, deadline: bigint): HedgeCall {
  if (order.margin !== undefined) {
    return { functionName: order.margin.direction === "post" ? "postPerpMargin" : "withdrawPerpMargin", args: [order.margin.amount] };
  }
  if (order.perp !== undefined) return { functionName: "hedgePerp", args: [order.perp.sizeDeltaWad, order.perp.acceptablePriceWad, deadline] };
  return { functionName: "rebalance", args: [order.buyUnderlying, order.amountIn, order.minAmountOut, deadline] };
}

/** An order in a few words, for the journal and the status table: "perp sell 12.5", "buy 3", "post margin 20000". */
export function describeOrder(order: HedgeOrder): string {
  if (order.margin !== undefined) return `${order.margin.direction} margin ${order.margin.amount}`;
  return `${order.perp !== undefined ? "perp " : ""}${order.buyUnderlying ? "buy" : "sell"} ${wadToNumber(order.tradeWad)}`;
}

/** The calldata of a call. */
export function hedgeCalldata(call: HedgeCall): Hex {
  return encodeFunctionData({ abi: optionVaultAbi, ...call } as Parameters<typeof encodeFunctionData>[0]);
}

/** The deadline inside a call (unix seconds), when it has one. */
export function deadlineOf(call: HedgeCall): bigint | undefined {
  if (call.functionName === "rebalance") return call.args[3];
  if (call.functionName === "hedgePerp") return call.args[2];
  return undefined;
}

/** Decodes a viem error into the contract's custom error name and arguments, when it is one. */
export function decodeRevert(error: unknown): { errorName: string; args: readonly unknown[] } | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (revert instanceof ContractFunctionRevertedError && revert.data?.errorName) {
    return { errorName: revert.data.errorName, args: revert.data.args ?? [] };
  }
  return undefined;
}

/**
 * Blocks between the block a live keeper reads and the earliest one its transaction can land in: it is sent after
 * block n is known, so it is mined in n + 1 at the earliest. Decisions judge the vault's spacing there
 * (`PlanOptions.landingOffsetBlocks`), and simulations run there when the spacing needs it (`landingBlockFor`).
 */
export const LANDING_OFFSET_BLOCKS = 1;

/**
 * The block number a hedge decided on `readBlock` must be simulated in, when it is not `readBlock`'s own: the
 * vault's spacing (`nextRebalanceBlock`) refuses it in the block read but lets it through in the block it lands in
 * (`readBlock + landingOffsetBlocks`) — the hedge right after one's own, with `minRebalanceInterval` 1. Spacing is
 * the only rule of `rebalance` that reads `block.number`, so otherwise the block read is simulated as it is.
 * @returns the landing block, or undefined when the block read is the one to simulate in
 */
export function landingBlockFor(readBlock: bigint, nextRebalanceBlock: bigint, landingOffsetBlocks = LANDING_OFFSET_BLOCKS): bigint | undefined {
  const landing = readBlock + BigInt(landingOffsetBlocks);
  return readBlock < nextRebalanceBlock && nextRebalanceBlock <= landing ? landing : undefined;
}

export interface SimulatedHedge {
  vault: Address;
  call: HedgeCall;
  gasLimit: bigint;
  blockNumber: bigint;
}

/**
 * Simulates a hedge with `eth_estimateGas` (which executes it) and sizes its gas limit: 20% over the estimate,
 * never above GAS_LIMIT_PER_HEDGE. Throws `HedgeSimulationError` with the decoded revert, or
 * `GasCapExceededError`. One request; independent hedges can be simulated concurrently.
 *
 * `landingBlock` (from `landingBlockFor`): simulate in that block rather than `blockNumber`'s, for a hedge the
 * vault's spacing accepts only there (see `estimateInLandingBlock`).
 */
export async function simulateHedge(
  ctx: Pick<SendContext, "client" | "account" | "gasLimitPerHedge">,
  p: { vault: Address; order: HedgeOrder; deadline: bigint; blockNumber: bigint; landingBlock?: bigint | undefined },
): Promise<SimulatedHedge> {
  const call = hedgeCallOf(p.order, p.deadline);
  let estimatedGas: bigint;
  try {
    estimatedGas =
      p.landingBlock !== undefined && p.landingBlock > p.blockNumber
        ? await estimateInLandingBlock(ctx, { vault: p.vault, call, blockNumber: p.blockNumber, landingBlock: p.landingBlock })
        : await ctx.client.estimateContractGas({
            address: p.vault,
            abi: hedgeAbi,
            ...(call as { functionName: "rebalance"; args: readonly [boolean, bigint, bigint, bigint] }),
            // The address, not the local account: with a local account viem would first prepare a whole transaction
            // (nonce, chain id, block, priority fee: four more requests). The estimate only needs `from`.
            account: ctx.account.address,
            // Against the decision block, like every read behind the decision: without it the node estimates against
            // "pending" (Hardhat does), where other pool transactions can make a sound hedge look reverted, or the reverse.
            blockNumber: p.blockNumber,
          });
  } catch (error) {
    const decoded = decodeRevert(error);
    if (decoded) throw new HedgeSimulationError(decoded.errorName, decoded.args, error);
    throw error;
  }
  if (estimatedGas > ctx.gasLimitPerHedge) throw new GasCapExceededError(estimatedGas, ctx.gasLimitPerHedge);
  // 20% headroom over the estimate (state can move between simulation and inclusion), within the cap.
  const padded = (estimatedGas * 12n) / 10n;
  return { vault: p.vault, call, gasLimit: padded < ctx.gasLimitPerHedge ? padded : ctx.gasLimitPerHedge, blockNumber: p.blockNumber };
}

/** Clients whose node has refused or ignored a block override once: their landing-block estimates go to "pending". */
const noBlockOverrides = new WeakSet<object>();

/**
 * `eth_estimateGas` of `rebalance(args)` in block `landingBlock`: the state of `blockNumber` (the one decided on,
 * like every other read) under a header whose number is overridden to `landingBlock` (the 4th parameter, block
 * overrides: geth 1.15+, reth, erigon, anvil). The timestamp is left as read, as in every other hedge's simulation
 * (the landing block's is later: only the swap deadline and the oracle's age read it).
 *
 * A node without block overrides refuses the parameter (Hardhat, Nethermind: invalid params) or ignores it (the
 * vault then reverts `RebalanceTooSoon`, which the landing block cannot: `landingBlockFor` picks it past the
 * spacing). It is then asked at "pending" — the next block on top of the latest, the pool's transactions
 * included — for this hedge and every later one through this client. Throws like `estimateContractGas`.
 */
async function estimateInLandingBlock(
  ctx: Pick<SendContext, "client" | "account">,
  p: { vault: Address; call: HedgeCall; blockNumber: bigint; landingBlock: bigint },
): Promise<bigint> {
  const from = ctx.account.address;
  const call = { abi: hedgeAbi, ...(p.call as { functionName: "rebalance"; args: readonly [boolean, bigint, bigint, bigint] }), address: p.vault } as const;
  if (!noBlockOverrides.has(ctx.client)) {
    try {
      const tx = { from, to: p.vault, data: encodeFunctionData(call) };
      const gas = await ctx.client.request({
        method: "eth_estimateGas",
        params: [tx, numberToHex(p.blockNumber), {}, { number: numberToHex(p.landingBlock) }],
      } as never);
      return hexToBigInt(gas as Hex);
    } catch (error) {
      const contractError = getContractError(error as BaseError, { ...call, sender: from });
      const decoded = decodeRevert(contractError);
      const refused =
        error instanceof BaseError &&
        error.walk((e) => e instanceof InvalidParamsRpcError || (e as { code?: unknown }).code === InvalidParamsRpcError.code) !== null;
      if (decoded ? decoded.errorName !== "RebalanceTooSoon" : !refused) throw decoded ? contractError : error;
      noBlockOverrides.add(ctx.client);
    }
  }
  return ctx.client.estimateContractGas({ ...call, account: from, blockTag: "pending" });
}

/** A hedge signed and ready to broadcast: the bytes are final (a retry re-sends them, never re-signs). */
export interface SignedHedge {
  sim: SimulatedHedge;
  nonce: number;
  raw: Hex;
  hash: Hash;
  fees: Fees;
}

/** Prices (fee history, cached per block) and signs a simulated hedge with the next nonce. No broadcast. */
export async function signHedge(ctx: SendContext, sim: SimulatedHedge): Promise<SignedHedge> {
  const quote = await ctx.fees.quote(sim.blockNumber);
  const fees = computeFees(quote.nextBaseFeeWei, quote.tipWei, ctx.caps);
  const nonce = await ctx.nonces.next();
  try {
    return await signHedgeAt(ctx, sim, nonce, fees);
  } catch (error) {
    ctx.nonces.release(nonce);
    throw error;
  }
}

/** Signs a simulated hedge at a given nonce and fees: a replacement of a stuck transaction. */
export async function signHedgeAt(ctx: Pick<SendContext, "account" | "chainId">, sim: SimulatedHedge, nonce: number, fees: Fees): Promise<SignedHedge> {
  const raw = await ctx.account.signTransaction!({
    chainId: ctx.chainId,
    type: "eip1559",
    to: sim.vault,
    data: hedgeCalldata(sim.call),
    gas: sim.gasLimit,
    nonce,
    value: 0n,
    ...fees,
  });
  return { sim, nonce, raw, hash: keccak256(raw), fees };
}

/** The cheapest transaction that takes a nonce: a 0-value transfer to ourselves (21,000 gas). */
export async function signCancel(ctx: Pick<SendContext, "account" | "chainId">, nonce: number, fees: Fees): Promise<{ raw: Hex; hash: Hash }> {
  const raw = await ctx.account.signTransaction!({
    chainId: ctx.chainId,
    type: "eip1559",
    to: ctx.account.address,
    gas: 21_000n,
    nonce,
    value: 0n,
    ...fees,
  });
  return { raw, hash: keccak256(raw) };
}

/** Broadcasts signed bytes. A node that already has them ("already known") counts as a success. */
export async function broadcastSigned(ctx: Pick<SendContext, "client">, signed: { raw: Hex; hash: Hash }): Promise<Hash> {
  try {
    return await ctx.client.sendRawTransaction({ serializedTransaction: signed.raw });
  } catch (error) {
    if (/already known|known transaction|already imported/i.test(errorText(error))) return signed.hash;
    throw error;
  }
}

/** Signs and broadcasts; on a failed broadcast the nonce is re-read before the next send. */
export async function broadcastHedge(ctx: SendContext, sim: SimulatedHedge): Promise<SentHedge> {
  const signed = await signHedge(ctx, sim);
  try {
    await broadcastSigned(ctx, signed);
  } catch (error) {
    ctx.nonces.release(signed.nonce);
    await ctx.nonces.resync().catch(() => undefined);
    throw error;
  }
  return sentFrom(signed);
}

export function sentFrom(signed: SignedHedge): SentHedge {
  return {
    vault: signed.sim.vault,
    hash: signed.hash,
    nonce: signed.nonce,
    gasLimit: signed.sim.gasLimit,
    fees: signed.fees,
    decidedAtBlock: signed.sim.blockNumber,
    raw: signed.raw,
  };
}

function errorText(error: unknown): string {
  if (error instanceof BaseError) return `${error.shortMessage} ${error.details ?? ""}`;
  return error instanceof Error ? error.message : String(error);
}

/** `simulateHedge` then `broadcastHedge`. */
export async function sendHedge(
  ctx: SendContext,
  p: { vault: Address; order: HedgeOrder; deadline: bigint; blockNumber: bigint },
): Promise<SentHedge> {
  return broadcastHedge(ctx, await simulateHedge(ctx, p));
}
