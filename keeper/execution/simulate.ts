/**
 * Simulates a block's hedges together: one `eth_simulateV1` request runs every `rebalance` call, in send order,
 * in the block they will land in, on the state of the block decided on. One request instead of one
 * `eth_estimateGas` per hedge (which a node answers by executing the call several times, binary-searching the
 * limit): on anvil, 200 hedges simulate in ~50 ms against ~470 ms of concurrent estimates.
 *
 * The calls run one after another, each on the state the previous left, as they will be mined in nonce order: a
 * hedge that only fails because an earlier one of ours moved the same pool is rejected here, before it is signed.
 *
 * A node without the method (Hardhat's EDR, older geth, Nethermind without it, most providers' restricted plans)
 * refuses it once: the client is remembered and every later block falls back to `simulateHedge` per hedge (its
 * behaviour before this module). Any other failure of the whole request (timeout, HTTP 5xx, a node limit) fails
 * this block's hedges only, and the next block asks again.
 */
import { BaseError, decodeErrorResult, encodeFunctionData, hexToBigInt, numberToHex, type Address, type Hex } from "viem";
import { errorMessage } from "../chain/errors.ts";
import type { HedgeOrder } from "../types.ts";
import { GasCapExceededError, hedgeAbi, hedgeCallOf, hedgeCalldata, HedgeSimulationError, LANDING_OFFSET_BLOCKS, simulateHedge, type SendContext, type SimulatedHedge } from "./sendHedge.ts";

/**
 * Gas limit over the simulated gas used, in percent: 135%. `gasUsed` is not the limit a transaction needs.
 * It is net of the refund (EIP-3529 caps a refund at 1/5 of the gas used, so the execution itself may have
 * needed up to 1.25 × `gasUsed` before the refund was paid back), and it does not count the 1/64 of the gas that
 * each call frame must keep back (EIP-150) for the vault → pool → token sub-calls (~1.6% per level, three
 * levels: ~5%). 1.25 × 1.05 ≈ 1.31; the rest is headroom for the state moving between the block read and the
 * one mined, as the 20% over `eth_estimateGas` (which already includes both) is in `simulateHedge`. An unused
 * limit costs nothing (EIP-1559 charges the gas used), only a little block space reserved.
 */
export const SIMULATED_GAS_MARGIN_PERCENT = 135n;

/**
 * Calls per simulated block. 100 hedges of ~180k gas are ~18M gas: within a 30M block (anvil's default, and each
 * simulated block's limit is also raised to fit its calls at the per-hedge cap). More hedges than this could not
 * be mined in one block anyway: the next calls go to the next simulated block (number and time + 1), on the state
 * the previous block left.
 */
export const MAX_CALLS_PER_SIMULATED_BLOCK = 100;

/**
 * Calls per `eth_simulateV1` request. geth and Nethermind charge every call of a request to one gas budget (the
 * RPC gas cap, 50M by default): 200 hedges of ~180k gas fit in it; a larger batch is split into requests of 200,
 * sent concurrently, each on the decision block's state (hedges in different requests do not see each other).
 */
export const MAX_CALLS_PER_REQUEST = 200;

/** One hedge to simulate: the vault and its sized order. */
export interface HedgeToSimulate {
  vault: Address;
  order: HedgeOrder;
  /** For the per-hedge fallback only (`landingBlockFor`): `eth_simulateV1` simulates every hedge in its landing block. */
  landingBlock?: bigint | undefined;
}

/** A hedge's simulation: the hedge ready to sign, or why it must not be sent. */
export type HedgeSimulation = { ok: true; sim: SimulatedHedge } | { ok: false; error: unknown };

/** The whole `eth_simulateV1` request failed (not a refusal of the method): none of its hedges is sent this block. */
export class BatchSimulationError extends Error {
  override name = "BatchSimulationError";
  constructor(hedges: number, cause: unknown) {
    super(`eth_simulateV1 of ${hedges} hedge(s) failed: ${errorMessage(cause)}; not sent this block`, { cause });
  }
}

/** Clients whose node refused `eth_simulateV1` once: their hedges are simulated one by one (`simulateHedge`). */
const noSimulateV1 = new WeakSet<object>();

/**
 * Simulates `items` as the hedges of one block, in send order (see the module's comment). Each result, in the
 * order of `items`, is the hedge ready to sign (its gas limit `SIMULATED_GAS_MARGIN_PERCENT` over the gas used,
 * capped at `gasLimitPerHedge`) or the error: `HedgeSimulationError` with the decoded revert, an error naming the
 * node's message when the revert is not one the keeper knows, `GasCapExceededError`, or `BatchSimulationError`.
 * Never throws, and logs nothing (the caller logs each failure).
 * @param p.blockNumber the block decided on: its state is simulated, its number names the intents
 * @param p.timestamp that block's timestamp: the landing block is simulated one second later (a node's default
 *   would be its own guess: geth's is the parent's + 12 s, past a short swap deadline)
 */
export async function simulateHedges(
  ctx: Pick<SendContext, "client" | "account" | "gasLimitPerHedge">,
  p: { items: readonly HedgeToSimulate[]; deadline: bigint; blockNumber: bigint; timestamp: bigint },
): Promise<HedgeSimulation[]> {
  if (p.items.length === 0) return [];
  if (!noSimulateV1.has(ctx.client)) {
    const requests: (readonly HedgeToSimulate[])[] = chunk(p.items, MAX_CALLS_PER_REQUEST);
    const answers = await Promise.all(requests.map((items) => simulateRequest(ctx, { ...p, items })));
    if (!answers.includes("unsupported")) return answers.flat() as HedgeSimulation[];
    noSimulateV1.add(ctx.client);
  }
  return Promise.all(
    p.items.map((item) =>
      simulateHedge(ctx, { vault: item.vault, order: item.order, deadline: p.deadline, blockNumber: p.blockNumber, landingBlock: item.landingBlock }).then(
        (sim): HedgeSimulation => ({ ok: true, sim }),
        (error: unknown): HedgeSimulation => ({ ok: false, error }),
      ),
    ),
  );
}

/** The per-call answer of `eth_simulateV1` that is read (geth, reth, anvil, Nethermind agree on these fields). */
interface SimulatedCall {
  status: Hex;
  gasUsed: Hex;
  returnData?: Hex;
  error?: { code?: number; message?: string; data?: Hex };
}

/** One request's hedges, or "unsupported" when the node refused the method itself. */
async function simulateRequest(
  ctx: Pick<SendContext, "client" | "account" | "gasLimitPerHedge">,
  p: { items: readonly HedgeToSimulate[]; deadline: bigint; blockNumber: bigint; timestamp: bigint },
): Promise<HedgeSimulation[] | "unsupported"> {
  const from = ctx.account.address;
  const calls = p.items.map((item) => hedgeCallOf(item.order, p.deadline));
  const blocks = chunk(
    p.items.map((item, i) => ({ from, to: item.vault, data: hedgeCalldata(calls[i]!) })),
    MAX_CALLS_PER_SIMULATED_BLOCK,
  );
  const landing = p.blockNumber + BigInt(LANDING_OFFSET_BLOCKS);
  const blockStateCalls = blocks.map((calls, k) => ({
    blockOverrides: {
      number: numberToHex(landing + BigInt(k)),
      time: numberToHex(p.timestamp + 1n + BigInt(k)),
      // Room for every call at the per-hedge cap: the chain's block limit must not fail a hedge the cap allows.
      gasLimit: numberToHex(BigInt(calls.length) * ctx.gasLimitPerHedge),
    },
    calls,
  }));
  let answer: { calls?: SimulatedCall[] }[];
  try {
    answer = (await ctx.client.request({
      method: "eth_simulateV1",
      // validation false: no nonce, balance or base-fee checks — the calls are judged as the vault judges them.
      params: [{ blockStateCalls, validation: false }, numberToHex(p.blockNumber)],
    } as never)) as { calls?: SimulatedCall[] }[];
  } catch (error) {
    if (refusesMethod(error)) return "unsupported";
    return p.items.map(() => ({ ok: false, error: new BatchSimulationError(p.items.length, error) }));
  }
  const results = Array.isArray(answer) ? answer.flatMap((block) => block.calls ?? []) : [];
  if (results.length !== p.items.length) {
    const error = new BatchSimulationError(p.items.length, new Error(`the node answered ${results.length} call result(s) for ${p.items.length} call(s)`));
    return p.items.map(() => ({ ok: false, error }));
  }
  return results.map((result, i) => {
    try {
      return { ok: true, sim: simulatedHedge(ctx.gasLimitPerHedge, { vault: p.items[i]!.vault, call: calls[i]!, blockNumber: p.blockNumber }, result) };
    } catch (error) {
      return { ok: false, error };
    }
  });
}

/** One call's answer as a hedge ready to sign; throws why it must not be sent. */
function simulatedHedge(gasCap: bigint, hedge: Omit<SimulatedHedge, "gasLimit">, call: SimulatedCall): SimulatedHedge {
  const gasUsed = hexToBigInt(call.gasUsed);
  if (hexToBigInt(call.status) !== 1n) {
    // geth puts the revert data in `error.data` and `returnData`; anvil in `returnData` only.
    const data = call.error?.data ?? call.returnData ?? "0x";
    const message = call.error?.message ?? "execution failed";
    const decoded = decodeHedgeError(data);
    if (decoded) throw new HedgeSimulationError(decoded.errorName, decoded.args, new Error(`${message} (${data})`));
    if (gasUsed > gasCap) throw new GasCapExceededError(gasUsed, gasCap);
    throw new Error(`simulation failed: ${message}${data !== "0x" ? ` (undecoded revert data ${data.slice(0, 74)}${data.length > 74 ? "…" : ""})` : ""}`);
  }
  if (gasUsed > gasCap) throw new GasCapExceededError(gasUsed, gasCap);
  const padded = (gasUsed * SIMULATED_GAS_MARGIN_PERCENT) / 100n;
  return { ...hedge, gasLimit: padded < gasCap ? padded : gasCap };
}

/** The vault's or the pool's custom error (or a Solidity `Error`/`Panic`) in revert data, when it is one. */
function decodeHedgeError(data: Hex): { errorName: string; args: readonly unknown[] } | undefined {
  if (data.length < 10) return undefined;
  try {
    const decoded = decodeErrorResult({ abi: hedgeAbi, data });
    return { errorName: decoded.errorName, args: decoded.args ?? [] };
  } catch {
    return undefined;
  }
}

/** JSON-RPC codes that mean "this node does not do `eth_simulateV1` (as asked)": asking again changes nothing. */
const REFUSED_CODES = new Set([
  -32601, // method not found (geth without it, most nodes)
  -32004, // method not supported (Hardhat's EDR)
  -32602, // invalid params: a node with another version of the method
]);
const REFUSED_WORDS = /method.*(not (found|supported|available|allowed|whitelisted)|does not exist|unsupported)|unsupported method|unknown method/i;

/**
 * True when the node refused the method itself. A timeout, an HTTP 5xx or a node limit is not a refusal: the
 * request failed this time, and the next block asks again.
 */
function refusesMethod(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  return (
    error.walk((e) => {
      const code = (e as { code?: unknown }).code;
      if (typeof code === "number" && REFUSED_CODES.has(code)) return true;
      const status = (e as { status?: unknown }).status;
      const words = `${(e as { details?: unknown }).details ?? ""} ${(e as { message?: unknown }).message ?? ""}`;
      return (typeof status !== "number" || (status >= 400 && status < 500)) && REFUSED_WORDS.test(words);
    }) !== null
  );
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
