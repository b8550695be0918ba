/**
 * Rollups: what a hedge pays beyond its L2 execution gas — the L1 data fee for posting its bytes to L1 — read from
 * the chain's own source of truth, and the chain's type (which also sets its fee rules, `computeFees`).
 *
 * - OP stack: the `GasPriceOracle` predeploy's `getL1Fee(bytes)` on the transaction's unsigned serialisation (the
 *   oracle adds the signature's bytes itself, as viem's OP-stack `estimateL1Fee` relies on). Receipts carry the fee
 *   charged (`l1Fee`).
 * - Arbitrum: `NodeInterface.gasEstimateL1Component(to, false, data)` (a virtual contract, answered by the node to
 *   `eth_call`): the L1 component in L2 gas units, at the L2 base fee it returns. Receipts fold it into `gasUsed`
 *   (`gasUsedForL1`).
 * - A plain L1 has none.
 */
import { serializeTransaction, type Address, type Hex, type PublicClient } from "viem";
import type { ChainType } from "./chainType.ts";

export { ARBITRUM_CHAIN_IDS, CHAIN_TYPES, chainTypeFor, OP_STACK_CHAIN_IDS, type ChainType } from "./chainType.ts";

export const GAS_PRICE_ORACLE: Address = "0x420000000000000000000000000000000000000F";
export const NODE_INTERFACE: Address = "0x00000000000000000000000000000000000000C8";

/** The minimum tip op-geth suggests (`--gpo.minsuggestedpriorityfee`, 0.001 gwei): OP-stack sequencers order by tip. */
export const OP_MIN_TIP_WEI = 1_000_000n;

export const gasPriceOracleAbi = [
  { type: "function", name: "getL1Fee", stateMutability: "view", inputs: [{ name: "_data", type: "bytes" }], outputs: [{ type: "uint256" }] },
] as const;

/** `NodeInterface.gasEstimateL1Component`, as Arbitrum's nitro-contracts declare it. */
export const nodeInterfaceAbi = [
  {
    type: "function",
    name: "gasEstimateL1Component",
    stateMutability: "payable",
    inputs: [
      { name: "to", type: "address" },
      { name: "contractCreation", type: "bool" },
      { name: "data", type: "bytes" },
    ],
    outputs: [
      { name: "gasEstimateForL1", type: "uint64" },
      { name: "baseFee", type: "uint256" },
      { name: "l1BaseFeeEstimate", type: "uint256" },
    ],
  },
] as const;

/** The transaction whose L1 fee is asked: the hedge as it would be signed (fees and gas only size its bytes). */
export interface FeeTx {
  chainId: number;
  to: Address;
  data: Hex;
  nonce: number;
  gas: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** The L1 data fee of `tx` on a chain of `chainType`, wei (0 on an L1). One `eth_call` on a rollup. */
export async function l1DataFee(client: Pick<PublicClient, "readContract" | "simulateContract">, chainType: ChainType, tx: FeeTx): Promise<bigint> {
  if (chainType === "l1") return 0n;
  if (chainType === "op") {
    const unsigned = serializeTransaction({ type: "eip1559", ...tx });
    return client.readContract({ address: GAS_PRICE_ORACLE, abi: gasPriceOracleAbi, functionName: "getL1Fee", args: [unsigned] });
  }
  const { result } = await client.simulateContract({ address: NODE_INTERFACE, abi: nodeInterfaceAbi, functionName: "gasEstimateL1Component", args: [tx.to, false, tx.data] });
  const [gasForL1, baseFee] = result;
  return gasForL1 * baseFee;
}

/**
 * What a mined transaction paid, wei, split into L2 execution and L1 data. OP-stack receipts carry the L1 fee
 * (`l1Fee`) on top of gasUsed × effectiveGasPrice; Arbitrum's fold it into `gasUsed` and report the L1 part as
 * `gasUsedForL1` (at the same price). A plain L1's receipt has neither: all execution. Extra receipt fields reach
 * the keeper as viem passes them through (hex strings) or formats them (bigints); both are read.
 */
export function receiptFees(receipt: { gasUsed: bigint; effectiveGasPrice: bigint }): { executionWei: bigint; l1DataWei: bigint; totalWei: bigint } {
  const extra = receipt as unknown as Record<string, unknown>;
  const asBig = (v: unknown) => (typeof v === "bigint" ? v : typeof v === "string" && /^(0x[0-9a-fA-F]+|\d+)$/.test(v) ? BigInt(v) : undefined);
  const gasWei = receipt.gasUsed * receipt.effectiveGasPrice;
  const opFee = asBig(extra.l1Fee);
  if (opFee !== undefined) return { executionWei: gasWei, l1DataWei: opFee, totalWei: gasWei + opFee };
  const forL1 = asBig(extra.gasUsedForL1);
  if (forL1 !== undefined && forL1 <= receipt.gasUsed) {
    const l1DataWei = forL1 * receipt.effectiveGasPrice;
    return { executionWei: gasWei - l1DataWei, l1DataWei, totalWei: gasWei };
  }
  return { executionWei: gasWei, l1DataWei: 0n, totalWei: gasWei };
}
