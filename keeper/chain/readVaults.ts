/**
 * One block's read: `VaultLens.read` returns the block's number, time, base fee and chain id, the signer's
 * balance, and each vault's state (and book), converted here into `VaultSnapshot`s. The vaults are split into
 * chunks that fit a gas budget per `eth_call` (`lensChunks.ts`; one chunk, so one request, up to a few dozen
 * vaults with full books), issued concurrently a few at a time and merged in order. Reads are pinned to one block:
 * all vaults are seen at the same state (a chunk answered from an older block than the others is read again at
 * the newest). A chunk whose call fails (a node's gas cap, a timeout) is split in two and each half retried once;
 * the vaults of a half that fails again are reported as failures, so one bad chunk cannot cost the whole block —
 * only a read where every chunk failed throws. The result is the pure core's `BlockInput` as it stands (plus what
 * only the keeper's side uses), so it goes to `planBlock` unconverted.
 */
import { decodeErrorResult, type Address, type BlockTag, type ContractFunctionReturnType, type Hex, type PublicClient } from "viem";
import { mockAmmAbi, optionVaultAbi, vaultLensAbi } from "../abi.ts";
import { errorMessage } from "./errors.ts";
import { DEFAULT_LENS_CALL_GAS_BUDGET, halves, planLensChunks } from "./lensChunks.ts";
import { ORACLE_STATUSES, type BlockInput, type ChainSnapshot, type OracleStatus, type VaultSnapshot } from "../types.ts";

/** A vault to read, with the token decimals needed to convert its amounts. */
export interface VaultRef {
  address: Address;
  quoteDecimals: number;
  underlyingDecimals: number;
}

/** One block's read: a `BlockInput`, plus the chain id, the signer's balance and the vaults that could not be read. */
export interface ReadResult extends BlockInput {
  chain: ChainSnapshot & { chainId: bigint; accountBalance: bigint };
  vaults: VaultSnapshot[];
  /**
   * Vaults the lens could not read (a view reverted inside `VaultLens.stateOf`, or no code at the address), with
   * the decoded reason; also a vault whose answer this keeper cannot interpret (an oracle status it does not know).
   */
  failures: { vault: Address; reason: string }[];
}

export interface ReadParams {
  lens: Address;
  vaults: readonly VaultRef[];
  /** The signer whose native balance to report (zero address to skip). */
  account: Address;
  withBook: boolean;
  /** Pin the read to this block; the latest block when omitted. */
  blockNumber?: bigint;
  blockTag?: BlockTag;
  /** Gas budget of one `eth_call` (LENS_CALL_GAS_BUDGET); the vaults are read in chunks that fit it. */
  callGasBudget?: number;
  /**
   * Each vault's live series as last seen, to size the chunks (a vault missing counts as a full book). Updated in
   * place with what this read sees, so a caller that keeps the map across blocks sizes the next read to fit.
   */
  seriesCounts?: Map<Address, number>;
  /** At most this many chunk requests in flight at once (default `LENS_READ_CONCURRENCY`). */
  concurrency?: number;
}

/** Chunk requests in flight at once: enough to overlap the node's work with the round trips, few enough not to flood it. */
export const LENS_READ_CONCURRENCY = 4;

/** Error for an RPC answer that is not what the lens returns: the node or the lens address is wrong. */
export class LensReadError extends Error {
  override name = "LensReadError";
}

type LensAnswer = ContractFunctionReturnType<typeof vaultLensAbi, "view", "read">;

/** One chunk's answer, or why it failed after its retry. */
type ChunkOutcome<T> = { vaults: T[]; answer: LensAnswer } | { vaults: T[]; error: unknown };

/**
 * Reads every vault of `params.vaults` at one block, in as many `eth_call`s as the gas budget needs.
 *
 * @throws LensReadError when the lens answers something that is not its `read`; the RPC's error when every chunk failed.
 */
export async function readVaults(client: PublicClient, params: ReadParams): Promise<ReadResult> {
  const chunks = planLensChunks(params.vaults, params.callGasBudget ?? DEFAULT_LENS_CALL_GAS_BUDGET, params.seriesCounts);
  const at = params.blockNumber !== undefined ? { blockNumber: params.blockNumber } : { blockTag: params.blockTag ?? "latest" };
  let outcomes = await readChunks(client, params, chunks, at);
  // Chunks answered from different blocks (one was mined meanwhile): read the older ones again at the newest.
  const answered = outcomes.flatMap((o) => ("answer" in o ? [o.answer[0].blockNumber] : []));
  if (answered.length === 0) throw (outcomes[0] as { error: unknown } | undefined)?.error ?? new LensReadError("no vaults to read");
  const newest = answered.reduce((a, b) => (b > a ? b : a));
  if (answered.some((b) => b !== newest)) {
    const stale = outcomes.filter((o) => "answer" in o && o.answer[0].blockNumber !== newest);
    const again = await readChunks(client, params, stale.map((o) => o.vaults), { blockNumber: newest });
    outcomes = outcomes.map((o) => (stale.includes(o) ? again[stale.indexOf(o)]! : o));
  }
  const first = outcomes.find((o): o is { vaults: VaultRef[]; answer: LensAnswer } => "answer" in o)!;
  const chain = first.answer[0];
  const result: ReadResult = {
    chain: {
      blockNumber: chain.blockNumber,
      timestamp: chain.timestamp,
      baseFeePerGas: chain.baseFeePerGas,
      chainId: chain.chainId,
      accountBalance: chain.accountBalance,
    },
    vaults: [],
    failures: [],
  };
  for (const outcome of outcomes) {
    if ("error" in outcome) {
      const reason = `lens read failed for this chunk of ${outcome.vaults.length} vault(s): ${errorMessage(outcome.error)}`;
      for (const ref of outcome.vaults) result.failures.push({ vault: ref.address, reason });
      continue;
    }
    const snaps = outcome.answer[1];
    if (snaps.length !== outcome.vaults.length) {
      throw new LensReadError(`lens returned ${snaps.length} snapshots for ${outcome.vaults.length} vaults`);
    }
    snaps.forEach((snap, i) => {
      const ref = outcome.vaults[i]!;
      if (snap.ok) params.seriesCounts?.set(ref.address, Number(snap.state.liveSeries));
      toSnapshot(result, ref, snap);
    });
  }
  return result;
}

/**
 * The chunks' calls, `concurrency` at a time, in order; a failed chunk is split in two and each half tried once
 * more (a single vault: tried once more as it is).
 */
async function readChunks<T extends VaultRef>(
  client: PublicClient,
  params: ReadParams,
  chunks: readonly T[][],
  at: { blockNumber: bigint } | { blockTag: BlockTag },
): Promise<ChunkOutcome<T>[]> {
  const call = (vaults: T[]) =>
    client.readContract({
      address: params.lens,
      abi: vaultLensAbi,
      functionName: "read",
      args: [vaults.map((v) => v.address), params.withBook, params.account],
      ...at,
    });
  const once = async (vaults: T[]): Promise<ChunkOutcome<T>> => {
    try {
      return { vaults, answer: await call(vaults) };
    } catch (error) {
      return { vaults, error };
    }
  };
  const withRetry = async (vaults: T[]): Promise<ChunkOutcome<T>[]> => {
    const outcome = await once(vaults);
    if ("answer" in outcome) return [outcome];
    const parts = vaults.length > 1 ? halves(vaults) : [vaults];
    return Promise.all(parts.map(once));
  };
  const results: ChunkOutcome<T>[][] = new Array(chunks.length);
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const i = next++;
      results[i] = await withRetry(chunks[i]!);
    }
  };
  const lanes = Math.max(1, Math.min(params.concurrency ?? LENS_READ_CONCURRENCY, chunks.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  return results.flat();
}

type LensSnapshot = LensAnswer[1][number];

/** One lens snapshot into `result`: a `VaultSnapshot`, or a failure naming why it cannot be used. */
function toSnapshot(result: ReadResult, ref: VaultRef, snap: LensSnapshot): void {
  if (!snap.ok) {
    result.failures.push({ vault: ref.address, reason: describeRevert(snap.revertData) });
    return;
  }
  const st = snap.state;
  const oracleStatus = oracleStatusName(st.oracleStatus);
  if (oracleStatus === undefined) {
    // A newer vault (or lens) than this keeper's ABI: refuse to guess whether its oracle can be traded on.
    result.failures.push({ vault: ref.address, reason: `unknown oracle status ${st.oracleStatus}: update the keeper's ABI` });
    return;
  }
  result.vaults.push({
    vault: ref.address,
    blockNumber: st.blockNumber,
    timestamp: st.timestamp,
    bookDeltaWad: st.bookDeltaWad,
    netDeltaWad: st.netDeltaWad,
    gammaWad: st.gammaWad,
    vegaWad: st.vegaWad,
    hedgeBalance: st.hedgeBalance,
    cashBalance: st.cashBalance,
    pendingPayouts: st.pendingPayouts,
    spotWad: st.spotWad,
    oracleUpdatedAt: st.oracleUpdatedAt,
    oracleAgeSeconds: st.oracleAgeSeconds,
    oracleFresh: st.oracleFresh,
    oracleStatus,
    ammReserveUnderlying: st.ammReserveUnderlying,
    ammReserveQuote: st.ammReserveQuote,
    ammFeeBps: st.ammFeeBps,
    lastRebalanceBlock: st.lastRebalanceBlock,
    nextRebalanceBlock: st.nextRebalanceBlock,
    notionalLeftWad: st.notionalLeftWad,
    slippageLeftWad: st.slippageLeftWad,
    settlementPending: st.settlementPending,
    paused: st.paused,
    hedge: {
      maxSlippageBps: Number(st.hedge.maxSlippageBps),
      minRebalanceInterval: Number(st.hedge.minRebalanceInterval),
      maxOracleAge: Number(st.hedge.maxOracleAge),
      maxTradeWad: st.hedge.maxTradeWad,
      deltaToleranceWad: st.hedge.deltaToleranceWad,
      bandWad: st.hedge.bandWad,
      budgetWindowSeconds: Number(st.hedge.budgetWindowSeconds),
      notionalBudget: Number(st.hedge.notionalBudget),
      slippageBudget: Number(st.hedge.slippageBudget),
    },
    risk: {
      volWad: st.risk.volWad,
      rateWad: st.risk.rateWad,
      spreadBps: Number(st.risk.spreadBps),
      latencyBps: Number(st.risk.latencyBps),
      capitalChargeBps: Number(st.risk.capitalChargeBps),
      minPremiumBps: Number(st.risk.minPremiumBps),
    },
    book: snap.book.map((s) => ({
      id: s.id,
      isCall: s.isCall,
      strikeWad: s.strikeWad,
      expiry: s.expiry,
      sizeWad: s.sizeWad,
      deltaWad: s.deltaWad,
      gammaWad: s.gammaWad,
      vegaWad: s.vegaWad,
      markWad: s.markWad,
    })),
    quoteDecimals: ref.quoteDecimals,
    underlyingDecimals: ref.underlyingDecimals,
  });
}

/** `IOptionVault.OracleStatus` (a uint8 on the wire) by name; undefined for a value this keeper does not know. */
export function oracleStatusName(status: number): OracleStatus | undefined {
  return ORACLE_STATUSES[status];
}

/** A vault's revert data as a readable reason: the decoded custom error, or what is known. */
export function describeRevert(data: Hex): string {
  if (data === "0x") return "no code at this address, or one of its views reverted without data";
  try {
    const decoded = decodeErrorResult({ abi: [...optionVaultAbi, ...mockAmmAbi.filter((i) => i.type === "error")], data });
    return `${decoded.errorName}(${(decoded.args ?? []).map(String).join(", ")})`;
  } catch {
    return `reverted with undecodable data ${data.slice(0, 10)}`;
  }
}
