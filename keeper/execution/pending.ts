/**
 * At most one pending hedge per vault. Each block, every pending hedge costs one `eth_getTransactionReceipt`;
 * once mined with enough confirmations it settles with its outcome (gas, decoded deltas, or the decoded revert).
 */
import {
  TransactionReceiptNotFoundError,
  decodeEventLog,
  type Address,
  type Hash,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { optionVaultAbi } from "../abi.ts";
import type { SentHedge } from "./sendHedge.ts";

export type HedgeOutcome =
  | {
      kind: "mined";
      sent: SentHedge;
      receipt: TransactionReceipt;
      deltaBeforeWad?: bigint;
      deltaAfterWad?: bigint;
      amountOut?: bigint;
    }
  | { kind: "reverted"; sent: SentHedge; receipt: TransactionReceipt };

export class PendingHedges {
  #byVault = new Map<Address, SentHedge & { sentAtMs: number }>();
  readonly #client: PublicClient;
  readonly #confirmations: number;

  constructor(client: PublicClient, confirmations: number) {
    this.#client = client;
    this.#confirmations = confirmations;
  }

  has(vault: Address): boolean {
    return this.#byVault.has(vault);
  }

  get size(): number {
    return this.#byVault.size;
  }

  list(): readonly (SentHedge & { sentAtMs: number })[] {
    return [...this.#byVault.values()];
  }

  add(sent: SentHedge, sentAtMs: number): void {
    if (this.#byVault.has(sent.vault)) throw new Error(`a hedge for ${sent.vault} is already pending`);
    this.#byVault.set(sent.vault, { ...sent, sentAtMs });
  }

  /** Checks every pending hedge against the chain at `head`; returns those that settled (and forgets them). */
  async poll(head: bigint): Promise<HedgeOutcome[]> {
    const settled: HedgeOutcome[] = [];
    for (const [vault, sent] of this.#byVault) {
      let receipt: TransactionReceipt;
      try {
        receipt = await this.#client.getTransactionReceipt({ hash: sent.hash });
      } catch (error) {
        if (error instanceof TransactionReceiptNotFoundError) continue; // not mined yet
        throw error;
      }
      if (receipt.blockNumber + BigInt(this.#confirmations) - 1n > head) continue;
      this.#byVault.delete(vault);
      settled.push(outcomeOf(sent, receipt));
    }
    return settled;
  }

  hashes(): Hash[] {
    return [...this.#byVault.values()].map((s) => s.hash);
  }
}

function outcomeOf(sent: SentHedge, receipt: TransactionReceipt): HedgeOutcome {
  if (receipt.status !== "success") return { kind: "reverted", sent, receipt };
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== sent.vault.toLowerCase()) continue;
    try {
      const ev = decodeEventLog({ abi: optionVaultAbi, data: log.data, topics: log.topics });
      if (ev.eventName === "Rebalanced") {
        return {
          kind: "mined",
          sent,
          receipt,
          deltaBeforeWad: ev.args.deltaBeforeWad,
          deltaAfterWad: ev.args.deltaAfterWad,
          amountOut: ev.args.amountOut,
        };
      }
    } catch {
      // another event of the vault (e.g. an ERC-20 Transfer of its shares): not ours to decode
    }
  }
  return { kind: "mined", sent, receipt };
}
