/**
 * The signer's nonce, read once from the chain (pending count) and then kept locally, so a hedge costs no
 * nonce request. `resync` re-reads it after a failure that may have left the local count wrong.
 */
import type { Address, PublicClient } from "viem";

export class NonceTracker {
  #next: number | undefined;
  readonly #client: PublicClient;
  readonly #address: Address;

  constructor(client: PublicClient, address: Address) {
    this.#client = client;
    this.#address = address;
  }

  async next(): Promise<number> {
    if (this.#next === undefined) await this.resync();
    return this.#next!++;
  }

  /** The next nonce this process will use, if known (no request). */
  get local(): number | undefined {
    return this.#next;
  }

  /**
   * Nonces taken locally that the node has not seen: a hedge signed but lost before reaching the mempool.
   * One request (pending count).
   */
  async gap(): Promise<number> {
    if (this.#next === undefined) return 0;
    const pending = await this.#client.getTransactionCount({ address: this.#address, blockTag: "pending" });
    return Math.max(0, this.#next - pending);
  }

  /** Never hand out a nonce below `n`: one the journal says is ours though the node has not seen it. */
  raiseTo(n: number): void {
    if (this.#next === undefined || this.#next < n) this.#next = n;
  }

  /** Gives back a nonce that was taken but whose transaction was never broadcast. */
  release(nonce: number): void {
    if (this.#next === nonce + 1) this.#next = nonce;
  }

  async resync(): Promise<void> {
    this.#next = await this.#client.getTransactionCount({ address: this.#address, blockTag: "pending" });
  }
}
