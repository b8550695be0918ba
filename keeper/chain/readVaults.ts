/**
 * One block's read: `VaultLens.read` returns the block's number, time, base fee and chain id, the signer's
 * balance, and each vault's state (and book), converted here into `VaultSnapshot`s.
 *
 * With a `BookCache` (the keeper keeps one) the read is light: every vault's state with its net delta as the
 * vault itself computes it (`netDeltaWad`, what `rebalance` checks) and a hash of its book, without pricing the
 * book in the node; only the vaults whose book hash is not the cached one (new to the keeper, or a trade, listing
 * or settlement since) are read again in full at the same block, and their series kept. A light snapshot's
 * book, gamma and vega are then priced off-chain from the kept series (`priceBookOffChain`); its book and net
 * delta are the chain's. Without a cache every vault is read in full (the simulator, cross-checks).
 *
 * The vaults are split into
 * chunks that fit a gas budget per `eth_call` (`lensChunks.ts`; one chunk, so one request, up to a few dozen
 * vaults with full books), issued concurrently a few at a time and merged in order. Reads are pinned to one block:
 * all vaults are seen at the same state (a chunk answered from an older block than the others is read again at
 * the newest). A chunk whose call fails (a node's gas cap, a timeout) is split in two and each half retried once;
 * the vaults of a half that fails again are reported as failures, so one bad chunk cannot cost the whole block —
 * only a read where every chunk failed throws. The result is the pure core's `BlockInput` as it stands (plus what
 * only the keeper's side uses), so it goes to `planBlock` unconverted.
 */
import { decodeErrorResult, zeroAddress, type Address, type BlockTag, type ContractFunctionReturnType, type Hex, type PublicClient } from "viem";
import { mockAmmAbi, optionVaultAbi, vaultLensAbi } from "../abi.ts";
import { priceBookOffChain, type SeriesTerms } from "../pricing/view.ts";
import { errorMessage } from "./errors.ts";
import { DEFAULT_LENS_CALL_GAS_BUDGET, halves, planLensChunks } from "./lensChunks.ts";
import { ORACLE_STATUSES, type BlockInput, type ChainSnapshot, type OracleStatus, type PerpSnapshot, type SeriesSnapshot, type VaultSnapshot } from "../types.ts";

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

/** A vault's book as last read in full: its `VaultState.bookHash` and its series' terms. */
export interface CachedBook {
  hash: Hex;
  series: readonly SeriesTerms[];
}

/** Each vault's book as last read in full, kept across blocks by the caller of light reads. */
export type BookCache = Map<Address, CachedBook>;

export interface ReadParams {
  lens: Address;
  vaults: readonly VaultRef[];
  /** The signer whose native balance to report (zero address to skip). */
  account: Address;
  /**
   * Read light, and in full only the vaults whose book is not (or no longer) the one kept here; updated in place
   * with every book read in full. Absent: every vault in full.
   */
  books?: BookCache;
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
  /** The vaults seen with a perp market (updated here), whose reads cost more (`LENS_PERP_LIGHT_GAS`). */
  perpVaults?: Set<Address>;
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
 * Reads every vault of `params.vaults` at one block, in as many `eth_call`s as the gas budget needs: light, then in
 * full for the vaults whose book changed, when `params.books` is given; all in full otherwise.
 *
 * @throws LensReadError when the lens answers something that is not its `read`; the RPC's error when every chunk failed.
 */
export async function readVaults(client: PublicClient, params: ReadParams): Promise<ReadResult> {
  const at = params.blockNumber !== undefined ? { blockNumber: params.blockNumber } : { blockTag: params.blockTag ?? "latest" };
  const light = params.books !== undefined;
  const first = await readPinned(client, params, params.vaults, !light, at);
  const rows = first.rows;
  if (params.books) {
    const books = params.books;
    // A book not seen yet, or changed since it was kept: read that vault again in full, at the same block.
    const stale = rows.filter((r) => "snap" in r && r.snap.ok && books.get(r.ref.address)?.hash !== r.snap.state.bookHash);
    if (stale.length > 0) {
      const refs = stale.map((r) => r.ref);
      const again = await readPinned(client, params, refs, true, { blockNumber: first.chain.blockNumber }).catch((error: unknown) => ({
        rows: refs.map((ref): Row => ({ ref, error: `full read of a changed book failed: ${errorMessage(error)}` })),
      }));
      const byVault = new Map(again.rows.map((r) => [r.ref, r]));
      rows.forEach((r, i) => (rows[i] = byVault.get(r.ref) ?? r));
    }
  }
  const chain = first.chain;
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
  for (const row of rows) {
    if ("error" in row) result.failures.push({ vault: row.ref.address, reason: row.error });
    else toSnapshot(result, row.ref, row.snap, params.books);
  }
  return result;
}

/** One vault's answer in a read: its lens snapshot, or why its chunk could not be read. */
type Row = { ref: VaultRef; snap: LensSnapshot } | { ref: VaultRef; error: string };

/**
 * `vaults` read (`full` or light) in chunks, every chunk at the same block: chunks answered from different blocks
 * (one was mined meanwhile) are read again at the newest. Rows in the order of `vaults`.
 */
async function readPinned(
  client: PublicClient,
  params: ReadParams,
  vaults: readonly VaultRef[],
  full: boolean,
  at: { blockNumber: bigint } | { blockTag: BlockTag },
): Promise<{ chain: LensAnswer[0]; rows: Row[] }> {
  const chunks = planLensChunks(vaults, params.callGasBudget ?? DEFAULT_LENS_CALL_GAS_BUDGET, params.seriesCounts, full, params.perpVaults);
  let outcomes = await readChunks(client, params, chunks, full, at);
  const answered = outcomes.flatMap((o) => ("answer" in o ? [o.answer[0].blockNumber] : []));
  if (answered.length === 0) throw (outcomes[0] as { error: unknown } | undefined)?.error ?? new LensReadError("no vaults to read");
  const newest = answered.reduce((a, b) => (b > a ? b : a));
  if (answered.some((b) => b !== newest)) {
    const stale = outcomes.filter((o) => "answer" in o && o.answer[0].blockNumber !== newest);
    const again = await readChunks(client, params, stale.map((o) => o.vaults), full, { blockNumber: newest });
    outcomes = outcomes.map((o) => (stale.includes(o) ? again[stale.indexOf(o)]! : o));
  }
  const chain = outcomes.find((o): o is { vaults: VaultRef[]; answer: LensAnswer } => "answer" in o)!.answer[0];
  const rows: Row[] = [];
  for (const outcome of outcomes) {
    if ("error" in outcome) {
      const error = `lens read failed for this chunk of ${outcome.vaults.length} vault(s): ${errorMessage(outcome.error)}`;
      for (const ref of outcome.vaults) rows.push({ ref, error });
      continue;
    }
    const snaps = outcome.answer[1];
    if (snaps.length !== outcome.vaults.length) {
      throw new LensReadError(`lens returned ${snaps.length} snapshots for ${outcome.vaults.length} vaults`);
    }
    snaps.forEach((snap, i) => {
      const ref = outcome.vaults[i]!;
      if (snap.ok) params.seriesCounts?.set(ref.address, Number(snap.state.liveSeries));
      if (snap.ok && snap.state.perp !== undefined && snap.state.perp.market !== zeroAddress) params.perpVaults?.add(ref.address);
      rows.push({ ref, snap });
    });
  }
  return { chain, rows };
}

/**
 * The chunks' calls, `concurrency` at a time, in order; a failed chunk is split in two and each half tried once
 * more (a single vault: tried once more as it is).
 */
async function readChunks<T extends VaultRef>(
  client: PublicClient,
  params: ReadParams,
  chunks: readonly T[][],
  full: boolean,
  at: { blockNumber: bigint } | { blockTag: BlockTag },
): Promise<ChunkOutcome<T>[]> {
  const call = (vaults: T[]) =>
    client.readContract({
      address: params.lens,
      abi: vaultLensAbi,
      functionName: "read",
      args: [vaults.map((v) => v.address), full, params.account],
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

/**
 * One lens snapshot into `result`: a `VaultSnapshot`, or a failure naming why it cannot be used. A full snapshot's
 * book is kept in `books`; a light one's is priced off-chain from the book kept there.
 */
function toSnapshot(result: ReadResult, ref: VaultRef, snap: LensSnapshot, books: BookCache | undefined): void {
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
  let book: SeriesSnapshot[];
  let gammaWad = st.gammaWad;
  let vegaWad = st.vegaWad;
  if (st.full) {
    book = snap.book.map((s) => ({
      id: s.id,
      isCall: s.isCall,
      strikeWad: s.strikeWad,
      expiry: s.expiry,
      sizeWad: s.sizeWad,
      deltaWad: s.deltaWad,
      gammaWad: s.gammaWad,
      vegaWad: s.vegaWad,
      markWad: s.markWad,
    }));
    books?.set(ref.address, { hash: st.bookHash, series: book.map(({ id, isCall, strikeWad, expiry, sizeWad }) => ({ id, isCall, strikeWad, expiry, sizeWad })) });
  } else {
    const kept = books?.get(ref.address);
    if (kept?.hash !== st.bookHash) {
      // readVaults reads such a vault in full; a light answer without its book cannot be priced.
      result.failures.push({ vault: ref.address, reason: "light read without the book it needs (the vault's book changed and was not read in full)" });
      return;
    }
    try {
      ({ book, gammaWad, vegaWad } = priceBookOffChain(kept.series, { spotWad: st.spotWad, volWad: st.risk.volWad, rateWad: st.risk.rateWad, timestamp: st.timestamp }));
    } catch (error) {
      result.failures.push({ vault: ref.address, reason: `cannot price its book off-chain: ${errorMessage(error)}` });
      return;
    }
  }
  result.vaults.push({
    vault: ref.address,
    blockNumber: st.blockNumber,
    timestamp: st.timestamp,
    bookDeltaWad: st.bookDeltaWad,
    netDeltaWad: st.netDeltaWad,
    gammaWad,
    vegaWad,
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
    book,
    quoteDecimals: ref.quoteDecimals,
    underlyingDecimals: ref.underlyingDecimals,
    // A lens without a perp field (an older deployment's answer, or a stub) reads as no perp market.
    ...(st.perp === undefined || st.perp.market === zeroAddress ? {} : { perp: perpSnapshotOf(st.perp) }),
  });
}

/** The lens's `PerpState` as a `PerpSnapshot` (bps as numbers). */
function perpSnapshotOf(ps: LensSnapshot["state"]["perp"]): PerpSnapshot {
  const p = ps.position;
  return {
    market: ps.market,
    priced: ps.priced,
    sizeWad: p.sizeWad,
    margin: p.margin,
    pnl: p.pnl,
    funding: p.funding,
    remainingMargin: p.remainingMargin,
    maintenanceMargin: p.maintenanceMargin,
    premiumCredit: p.premiumCredit,
    liquidatable: p.liquidatable,
    params: { ...ps.params },
    skewWad: ps.skewWad,
    fundingRateWad: ps.fundingRateWad,
    pool: ps.pool,
    minMarginBps: Number(ps.minMarginBps),
    maxMarginBps: Number(ps.maxMarginBps),
  };
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
