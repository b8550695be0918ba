/**
 * At most one pending hedge per vault. Each block, every pending hedge costs one `eth_getTransactionReceipt`;
 * once mined with enough confirmations it settles with its outcome (gas, decoded deltas, or the decoded revert).
 * A hedge whose nonce the chain spent on a transaction that is none of its versions (another sender on the same
 * key) can never get a receipt: `superseded` finds it by the signer's mined nonce count and forgets it.
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
  | { kind: "reverted"; sent: SentHedge; receipt: TransactionReceipt }
  /** The nonce went to our cancel (a 0-value self-transfer): the hedge is not done, on purpose. */
  | { kind: "cancelled"; sent: SentHedge; receipt: TransactionReceipt };

/** One signed version at a pending nonce: the original hedge, a fee bump, or a cancel. */
export interface PendingVersion {
  hash: Hash;
  kind: "hedge" | "cancel";
}

/**
 * `minedInBlock`: the block of the receipt found at the last poll while the hedge waits for its confirmations
 * (unset when not mined, or when a reorg took the receipt away). A mined hedge is never stuck: its nonce is spent.
 */
type Entry = SentHedge & { sentAtMs: number; versions: PendingVersion[]; minedInBlock?: bigint };

export class PendingHedges {
  #byVault = new Map<Address, Entry>();
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

  list(): readonly Entry[] {
    return [...this.#byVault.values()];
  }

  add(sent: SentHedge, sentAtMs: number): void {
    if (this.#byVault.has(sent.vault)) throw new Error(`a hedge for ${sent.vault} is already pending`);
    this.#byVault.set(sent.vault, { ...sent, sentAtMs, versions: [{ hash: sent.hash, kind: "hedge" }] });
  }

  /**
   * A replacement at the same nonce (a fee bump or a cancel): it becomes the version tracked and re-sent, while
   * every earlier version is still checked — whichever the chain mined settles the nonce.
   */
  replace(vault: Address, replacement: SentHedge, kind: "hedge" | "cancel"): void {
    const entry = this.#byVault.get(vault);
    if (!entry) throw new Error(`no pending hedge for ${vault} to replace`);
    if (replacement.nonce !== entry.nonce) throw new Error(`a replacement must reuse nonce ${entry.nonce}`);
    this.#byVault.set(vault, { ...entry, ...replacement, sentAtMs: entry.sentAtMs, versions: [...entry.versions, { hash: replacement.hash, kind }] });
  }

  /** Checks every pending hedge against the chain at `head`; returns those that settled (and forgets them). */
  async poll(head: bigint): Promise<HedgeOutcome[]> {
    const settled: HedgeOutcome[] = [];
    for (const [vault, entry] of this.#byVault) {
      // Newest version first: usually the one mined, so one request per block in the common case.
      let found: { receipt: TransactionReceipt; version: PendingVersion } | undefined;
      for (const version of [...entry.versions].reverse()) {
        try {
          found = { receipt: await this.#client.getTransactionReceipt({ hash: version.hash }), version };
          break;
        } catch (error) {
          if (!(error instanceof TransactionReceiptNotFoundError)) throw error; // not mined (yet)
        }
      }
      if (!found) {
        // Not mined — or mined once and reorged out: in the pool again, so it may be stuck again.
        if (entry.minedInBlock !== undefined) this.#byVault.set(vault, { ...entry, minedInBlock: undefined });
        continue;
      }
      if (found.receipt.blockNumber + BigInt(this.#confirmations) - 1n > head) {
        this.#byVault.set(vault, { ...entry, minedInBlock: found.receipt.blockNumber });
        continue;
      }
      this.#byVault.delete(vault);
      const sent = { ...entry, hash: found.version.hash };
      settled.push(found.version.kind === "cancel" ? { kind: "cancelled", sent, receipt: found.receipt } : outcomeOf(sent, found.receipt));
    }
    return settled;
  }

  /**
   * The hedges whose nonce was spent by something else: the signer's mined nonce count, `CONFIRMATIONS` deep at
   * `head`, is past the hedge's nonce, yet none of its versions had a receipt at the last `poll`. Their nonce is
   * gone — another sender on this key took it — so no receipt will ever come: they are returned and forgotten.
   *
   * Call right after `poll(head)`. The count is read at a block at or below `head`, which existed before that poll
   * asked for the receipts: had one of our versions taken the nonce, the poll would have found its receipt. Costs
   * one request (`eth_getTransactionCount`), and only when some pending hedge has no receipt.
   * @param head the block just polled
   * @param signer the address every pending hedge was signed by
   */
  async superseded(head: bigint, signer: Address): Promise<SentHedge[]> {
    const unmined = [...this.#byVault.values()].filter((e) => e.minedInBlock === undefined);
    if (unmined.length === 0) return [];
    const deep = head - BigInt(this.#confirmations) + 1n;
    const minedCount = await this.#client.getTransactionCount({ address: signer, blockNumber: deep < 0n ? 0n : deep });
    const gone: SentHedge[] = [];
    for (const entry of unmined) {
      if (entry.nonce >= minedCount) continue;
      this.#byVault.delete(entry.vault);
      const { sentAtMs: _sentAtMs, versions: _versions, minedInBlock: _minedInBlock, ...sent } = entry;
      gone.push(sent);
    }
    return gone;
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
      if (ev.eventName === "PerpHedged") {
        const size = ev.args.sizeDeltaWad;
        return { kind: "mined", sent, receipt, deltaBeforeWad: ev.args.deltaBeforeWad, deltaAfterWad: ev.args.deltaAfterWad, amountOut: size < 0n ? -size : size };
      }
    } catch {
      // another event of the vault (e.g. an ERC-20 Transfer of its shares): not ours to decode
    }
  }
  return { kind: "mined", sent, receipt };
}
