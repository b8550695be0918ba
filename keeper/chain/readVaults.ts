/**
 * One RPC request per block: `VaultLens.read` returns the block's number, time, base fee and chain id, the
 * signer's balance, and every vault's state (and book) in a single `eth_call`, converted here into
 * `VaultSnapshot`s. Reads are pinned to one block: all vaults are seen at the same state. The result is the pure
 * core's `BlockInput` as it stands (plus what only the keeper's side uses), so it goes to `planBlock` unconverted.
 */
import { decodeErrorResult, type Address, type BlockTag, type Hex, type PublicClient } from "viem";
import { mockAmmAbi, optionVaultAbi, vaultLensAbi } from "../abi.ts";
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
}

/** Error for an RPC answer that is not what the lens returns: the node or the lens address is wrong. */
export class LensReadError extends Error {
  override name = "LensReadError";
}

export async function readVaults(client: PublicClient, params: ReadParams): Promise<ReadResult> {
  const addresses = params.vaults.map((v) => v.address);
  const [chain, snaps] = await client.readContract({
    address: params.lens,
    abi: vaultLensAbi,
    functionName: "read",
    args: [addresses, params.withBook, params.account],
    ...(params.blockNumber !== undefined ? { blockNumber: params.blockNumber } : { blockTag: params.blockTag ?? "latest" }),
  });
  if (snaps.length !== params.vaults.length) {
    throw new LensReadError(`lens returned ${snaps.length} snapshots for ${params.vaults.length} vaults`);
  }
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
  snaps.forEach((snap, i) => {
    const ref = params.vaults[i]!;
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
  });
  return result;
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
