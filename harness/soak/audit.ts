/**
 * The soak's audit: what the chain says happened, not what the keeper reported — `Rebalanced` events, every
 * block's transactions from the signer and their receipts, the signer's balance, the vault's token transfers; the
 * journal file only maps transaction hashes to intents. Duplicates and funds lost are counted here.
 */
import { decodeErrorResult, decodeEventLog, type Address, type Hash, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import { mockAmmAbi, mockERC20Abi, mockOracleAbi, optionVaultAbi } from "../../keeper/abi.ts";
import { errorMessage } from "../../keeper/chain/errors.ts";
import type { JournalRecord } from "../../keeper/execution/journal.ts";
import { hedgeAbi as hedgeErrorsAbi } from "../../keeper/execution/sendHedge.ts";
import { ORACLE_DECIMALS, QUOTE_DECIMALS, WAD } from "../system.ts";
import { count } from "./report.ts";

/** |x| for a bigint. */
export const abs = (x: bigint) => (x < 0n ? -x : x);

export interface AuditInput {
  node: PublicClient;
  vault: Address;
  signer: Address;
  oracle: Address;
  quote: Address;
  underlying: Address;
  firstBlock: bigint;
  lastBlock: bigint;
  balanceBeforeWei: bigint;
  maxSlippageBps: bigint;
  journalRecords: JournalRecord[];
}

/** What the chain says happened in (firstBlock, lastBlock], with the journal only to map hashes to intents. */
export async function auditChain(a: AuditInput) {
  const { node } = a;

  // Every transaction the signer got mined: every block's transactions, not the keeper's reports.
  const signerTxs: { hash: Hash; to: Address | null; value: bigint }[] = [];
  const blocks: bigint[] = [];
  for (let b = a.firstBlock + 1n; b <= a.lastBlock; b++) blocks.push(b);
  for (let i = 0; i < blocks.length; i += 16) {
    const got = await Promise.all(blocks.slice(i, i + 16).map((blockNumber) => node.getBlock({ blockNumber, includeTransactions: true })));
    for (const block of got) {
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() === a.signer.toLowerCase()) signerTxs.push({ hash: tx.hash, to: tx.to, value: tx.value });
      }
    }
  }
  const receipts = new Map<Hash, TransactionReceipt>();
  for (let i = 0; i < signerTxs.length; i += 16) {
    const got = await Promise.all(signerTxs.slice(i, i + 16).map((t) => node.getTransactionReceipt({ hash: t.hash })));
    for (const r of got) receipts.set(r.transactionHash, r);
  }

  // The journal: hash → intent, and what it records.
  const intentOf = new Map<string, string>();
  const decisionBlock = new Map<string, bigint>();
  const closed = new Set<string>();
  const signedIntents = new Set<string>();
  const settledInJournal: Record<string, number> = {};
  let intentsJournaled = 0;
  let intentsAbandoned = 0;
  let replacementsSent = 0;
  let cancelsSent = 0;
  const reusedIds = new Set<string>();
  const versionsSeen = new Map<string, number>();
  for (const r of a.journalRecords) {
    if (r.type === "intent") {
      if (decisionBlock.has(r.id)) reusedIds.add(r.id);
      else intentsJournaled++;
      decisionBlock.set(r.id, BigInt(r.decisionBlock));
    } else if (r.type === "signed") {
      if (closed.has(r.id)) reusedIds.add(r.id);
      intentOf.set(r.version.hash.toLowerCase(), r.id);
      signedIntents.add(r.id);
      const n = (versionsSeen.get(r.id) ?? 0) + 1;
      versionsSeen.set(r.id, n);
      if (r.version.kind === "cancel") cancelsSent++;
      else if (n > 1) replacementsSent++;
    } else if (r.type === "settled") {
      closed.add(r.id);
      count(settledInJournal, r.outcome);
    } else if (r.type === "abandoned") {
      closed.add(r.id);
      intentsAbandoned++;
    }
  }

  // Hedges: the vault's `Rebalanced` events, each matched to the transaction and its intent.
  const events = await node.getContractEvents({ address: a.vault, abi: optionVaultAbi, eventName: "Rebalanced", fromBlock: a.firstBlock + 1n, toBlock: a.lastBlock });
  const minedByIntent = new Map<string, number>();
  let unjournaled = 0;
  let deltaNotReduced = 0;
  let hedgesBeyondSlippage = 0;
  let accountingMismatches = 0;
  let beyondSlippageWad = 0n;
  let hedgeCostWad = 0n;
  let worstSlippageBps = 0;
  const quoteScale = 10n ** BigInt(18 - QUOTE_DECIMALS);
  const oracleScale = 10n ** BigInt(18 - ORACLE_DECIMALS);
  const mined: { block: bigint; intent: string | undefined }[] = [];
  for (const ev of events) {
    const { keeper, buyUnderlying, amountIn, amountOut, spotWad, deltaBeforeWad, deltaAfterWad } = ev.args;
    if (abs(deltaAfterWad!) >= abs(deltaBeforeWad!)) deltaNotReduced++;
    const intent = intentOf.get(ev.transactionHash.toLowerCase());
    if (keeper!.toLowerCase() === a.signer.toLowerCase()) {
      if (intent) minedByIntent.set(intent, (minedByIntent.get(intent) ?? 0) + 1);
      else unjournaled++;
    }
    mined.push({ block: ev.blockNumber, intent });

    // The vault's token flows in that transaction, from the tokens' own Transfer events.
    const receipt = receipts.get(ev.transactionHash) ?? (await node.getTransactionReceipt({ hash: ev.transactionHash }));
    let quoteFlow = 0n;
    let underlyingFlow = 0n;
    for (const log of receipt.logs) {
      const token = log.address.toLowerCase();
      if (token !== a.quote.toLowerCase() && token !== a.underlying.toLowerCase()) continue;
      try {
        const t = decodeEventLog({ abi: mockERC20Abi, data: log.data, topics: log.topics });
        if (t.eventName !== "Transfer") continue;
        const { from, to, value } = t.args as { from: Address; to: Address; value: bigint };
        const signed = (to.toLowerCase() === a.vault.toLowerCase() ? value : 0n) - (from.toLowerCase() === a.vault.toLowerCase() ? value : 0n);
        if (token === a.quote.toLowerCase()) quoteFlow += signed;
        else underlyingFlow += signed;
      } catch {
        // not a Transfer
      }
    }
    const expectQuote = buyUnderlying ? -amountIn! : amountOut!;
    const expectUnderlying = buyUnderlying ? amountOut! : -amountIn!;
    if (quoteFlow !== expectQuote || underlyingFlow !== expectUnderlying) accountingMismatches++;
    // The event's spot must be an oracle answer of that block or the one before (the hedge mines before or
    // after the block's oracle update).
    const answers = await Promise.all(
      [ev.blockNumber - 1n, ev.blockNumber].map((blockNumber) => node.readContract({ address: a.oracle, abi: mockOracleAbi, functionName: "latestRoundData", blockNumber })),
    );
    if (!answers.some((r) => BigInt(r[1]) * oracleScale === spotWad)) accountingMismatches++;

    // Value paid vs the oracle, beyond the vault's slippage bound (rounding: one quote unit of tolerance).
    const underlyingValueWad = (underlyingFlow * spotWad!) / WAD;
    const lossWad = -(quoteFlow * quoteScale + underlyingValueWad);
    const notionalWad = abs(underlyingValueWad);
    const boundWad = (notionalWad * a.maxSlippageBps) / 10_000n;
    hedgeCostWad += lossWad;
    if (notionalWad > 0n) worstSlippageBps = Math.max(worstSlippageBps, Number((lossWad * 1_000_000n) / notionalWad) / 100);
    if (lossWad - boundWad > quoteScale) {
      hedgesBeyondSlippage++;
      beyondSlippageWad += lossWad - boundWad;
    }
  }
  let sameIntent = 0;
  for (const n of minedByIntent.values()) if (n > 1) sameIntent += n - 1;
  // A hedge decided on a block before the previous hedge was mined did not see it.
  let blindToPrevious = 0;
  for (let i = 1; i < mined.length; i++) {
    const d = mined[i]!.intent !== undefined ? decisionBlock.get(mined[i]!.intent!) : undefined;
    if (d !== undefined && mined[i]!.intent !== mined[i - 1]!.intent && d < mined[i - 1]!.block) blindToPrevious++;
  }

  // The signer's ETH: what left its balance beyond the gas of its mined transactions.
  const latencies: number[] = [];
  for (const tx of signerTxs) {
    const id = intentOf.get(tx.hash.toLowerCase());
    const d = id !== undefined ? decisionBlock.get(id) : undefined;
    if (d !== undefined) latencies.push(Number(receipts.get(tx.hash)!.blockNumber - d));
  }
  latencies.sort((x, y) => x - y);
  const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(f * latencies.length) - 1))] ?? 0;

  let gasWei = 0n;
  let valueWei = 0n;
  let reverted = 0;
  let cancelsMined = 0;
  const revertReasons: Record<string, number> = {};
  for (const tx of signerTxs) {
    const r = receipts.get(tx.hash)!;
    gasWei += r.gasUsed * r.effectiveGasPrice;
    if (tx.to?.toLowerCase() !== a.signer.toLowerCase()) valueWei += tx.value; // a self-transfer moves nothing
    if (tx.to?.toLowerCase() === a.signer.toLowerCase()) cancelsMined++;
    else if (r.status !== "success") {
      reverted++;
      count(revertReasons, await revertReason(node, tx.hash));
    }
  }
  const balanceAfterWei = await node.getBalance({ address: a.signer, blockNumber: a.lastBlock });
  const ethBeyondGasWei = a.balanceBeforeWei - balanceAfterWei - gasWei - valueWei;

  return {
    hedges: {
      intentsJournaled,
      intentsSigned: signedIntents.size,
      intentsAbandoned,
      settledInJournal,
      mined: events.filter((e) => e.args.keeper!.toLowerCase() === a.signer.toLowerCase()).length,
      reverted,
      revertReasons,
      replacementsSent,
      cancelsSent,
      cancelsMined,
      signerTransactions: signerTxs.length,
      decisionToMinedBlocks: { median: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0 },
    },
    duplicates: { total: sameIntent + unjournaled + blindToPrevious, sameIntent, unjournaled, blindToPrevious, journalIdReuse: reusedIds.size },
    fundsLost: {
      deltaNotReduced,
      ethBeyondGasWei: ethBeyondGasWei.toString(),
      valueBeyondSlippageQuote: Number(beyondSlippageWad / quoteScale) / 10 ** QUOTE_DECIMALS,
      hedgesBeyondSlippage,
      accountingMismatches,
    },
    costs: {
      gasSpentWei: gasWei.toString(),
      hedgeCostQuote: Math.round(Number(hedgeCostWad / quoteScale) / 10 ** QUOTE_DECIMALS * 100) / 100,
      worstSlippageBps,
    },
  };
}

/**
 * Why a mined transaction reverted: the revert data from `debug_traceTransaction` (Hardhat replays the block),
 * decoded with the vault's and the AMM's errors.
 */
async function revertReason(node: PublicClient, hash: Hash): Promise<string> {
  try {
    const trace = (await node.request({
      method: "debug_traceTransaction" as never,
      params: [hash, { disableStorage: true, disableMemory: true, disableStack: true }] as never,
    } as never)) as { returnValue?: string };
    const data = trace.returnValue ? (`0x${trace.returnValue.replace(/^0x/, "")}` as Hex) : undefined;
    if (!data || data === "0x") return "no revert data";
    for (const abi of [hedgeErrorsAbi, mockAmmAbi] as const) {
      try {
        return decodeErrorResult({ abi, data }).errorName;
      } catch {
        // try the next ABI
      }
    }
    return `undecoded ${data.slice(0, 10)}`;
  } catch (error) {
    return `trace failed: ${errorMessage(error).slice(0, 60)}`;
  }
}
