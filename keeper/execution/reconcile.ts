/**
 * After a restart, settles the journal against the chain before the first tick, so a crash at any step of a
 * send neither loses a hedge nor sends it twice:
 *
 * | journal says                  | chain says                         | action                                   |
 * | ----------------------------- | ---------------------------------- | ---------------------------------------- |
 * | intent, never signed          | —                                  | abandon: the next tick re-decides        |
 * | signed (maybe broadcast)      | a version of it mined              | settle (mined or reverted)               |
 * | signed                        | its nonce used by something else   | settle as superseded, warn               |
 * | signed                        | nonce still free                   | re-broadcast the same bytes, track it    |
 * | signed, past its swap deadline | nonce still free                  | track it; the stuck check re-plans it    |
 */
import type { Address, Hash, PublicClient } from "viem";
import { TransactionReceiptNotFoundError } from "viem";
import { errorMessage } from "../chain/errors.ts";
import type { IntentId, Journal, SettledOutcome } from "./journal.ts";
import { broadcastSigned, type SentHedge } from "./sendHedge.ts";

export interface ReconcileResult {
  /** Hedges re-broadcast (same bytes) and to be tracked as pending. */
  resumed: (SentHedge & { intentId: IntentId })[];
  settled: { id: IntentId; outcome: SettledOutcome; hash?: Hash }[];
  abandoned: IntentId[];
  /** Re-broadcasts the node refused (the hedge is still tracked; receipts decide). */
  rebroadcastErrors: { id: IntentId; error: string }[];
  /** Signed hedges past their swap deadline: tracked but not re-sent (they would only revert). */
  expired: IntentId[];
}

export async function reconcile(journal: Journal, client: PublicClient, signer: Address): Promise<ReconcileResult> {
  const result: ReconcileResult = { resumed: [], settled: [], abandoned: [], rebroadcastErrors: [], expired: [] };
  const open = journal.open();
  if (open.length === 0) return result;
  const minedNonce = await client.getTransactionCount({ address: signer, blockTag: "latest" });
  const now = (await client.getBlock({ blockTag: "latest" })).timestamp;

  for (const intent of open) {
    if (intent.versions.length === 0 || intent.nonce === undefined) {
      journal.recordAbandoned(intent.id, "never signed before the restart: re-decided from fresh state");
      result.abandoned.push(intent.id);
      continue;
    }
    let found = false;
    for (const version of [...intent.versions].reverse()) {
      try {
        const receipt = await client.getTransactionReceipt({ hash: version.hash });
        const outcome: SettledOutcome = version.kind === "cancel" ? "cancelled" : receipt.status === "success" ? "mined" : "reverted";
        journal.recordSettled(intent.id, outcome, version.hash, receipt.blockNumber);
        result.settled.push({ id: intent.id, outcome, hash: version.hash });
        found = true;
        break;
      } catch (error) {
        if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
      }
    }
    if (found) continue;
    if (minedNonce > intent.nonce) {
      journal.recordSettled(intent.id, "superseded");
      result.settled.push({ id: intent.id, outcome: "superseded" });
      continue;
    }
    const latest = intent.versions[intent.versions.length - 1]!;
    const expired = latest.kind === "hedge" && latest.deadline !== undefined && BigInt(latest.deadline) <= now;
    if (expired) {
      // At or past its swap deadline the hedge can only revert (the AMM refuses block.timestamp > deadline, and
      // the next block's timestamp is above the latest one): do not re-send it. It is tracked (its nonce is still
      // ours) and the stuck-hedge check re-plans it: a fresh hedge at that nonce, or a cancel.
      result.expired.push(intent.id);
    } else {
      try {
        await broadcastSigned({ client }, latest);
      } catch (error) {
        result.rebroadcastErrors.push({ id: intent.id, error: errorMessage(error) });
      }
      journal.recordBroadcast(intent.id, latest.hash);
    }
    result.resumed.push({
      intentId: intent.id,
      vault: intent.vault,
      hash: latest.hash,
      nonce: intent.nonce,
      gasLimit: BigInt(latest.gasLimit),
      fees: { maxFeePerGas: BigInt(latest.maxFeePerGas), maxPriorityFeePerGas: BigInt(latest.maxPriorityFeePerGas) },
      decidedAtBlock: intent.decisionBlock,
      raw: latest.raw,
    });
  }
  return result;
}
