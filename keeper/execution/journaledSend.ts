/**
 * The exactly-once send. A hedge goes journal (intent), sign, journal (signed bytes), broadcast, journal
 * (broadcast) — each record fsync'd before the next step — so that a crash anywhere is settled by `recover`
 * (`reconcile`) after a restart without losing the hedge or sending it twice. A replacement's bytes (fee bump or
 * cancel) are journaled before they are broadcast, for the same reason; a settled hedge closes its intent. The
 * signer's side lives here with it: the nonce tracker and the send context.
 *
 * The order of journal writes, broadcasts and failpoints here is the contract the crash tests
 * (test/faults/crash.test.ts, test/keeper/journal.test.ts, the soak) kill the process against: change it only
 * with them. In a batch (`sendAll`) that order holds per hedge; across hedges, the next one's intent and signed
 * bytes may be journaled while the previous broadcast is in flight (a restart re-broadcasts such bytes). Logging is the caller's: a failure goes back to it (after journaling why, if it never got signed).
 */
import { BaseError, type Account, type Address, type Hash, type Hex, type PublicClient } from "viem";
import { errorMessage } from "../chain/errors.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { HedgeOrder } from "../types.ts";
import type { FeeCaps, FeeOracle, Fees } from "./fees.ts";
import { intentId, type Journal } from "./journal.ts";
import { NonceTracker } from "./nonces.ts";
import type { HedgeOutcome, PendingHedges } from "./pending.ts";
import { reconcile } from "./reconcile.ts";
import { broadcastSigned, deadlineOf, describeOrder, sentFrom, signHedge, type SendContext, type SentHedge, type SignedHedge, type SimulatedHedge } from "./sendHedge.ts";
import { simulateHedges } from "./simulate.ts";

/**
 * A step of a send where the crash tests kill the process (KEEPER_FAILPOINT): before signing, after the signed
 * bytes are journaled, after the broadcast, and after a hedge is seen settled (before its journal record).
 */
export type SendStep = "before-sign" | "after-journal" | "after-broadcast" | "after-mined";

/** The warning for a hedge whose nonce was taken while the keeper was down (the running keeper's is in replace.ts). */
export const SUPERSEDED_AT_RESTART =
  "hedge superseded while the keeper was down: its nonce was mined by another transaction (likely another sender on this key); the vault is re-planned";

/** What a `JournaledSend` needs from the keeper. */
export interface JournaledSendDeps {
  client: PublicClient;
  /** Absent in dry-run without a key: then nothing is ever sent or recovered. */
  account?: Account | undefined;
  /** Fee quotes (cached per block) for each signature. */
  fees: FeeOracle;
  caps: FeeCaps;
  gasLimitPerHedge: bigint;
  /** Where a sent hedge is tracked until it settles (also when its broadcast failed: the bytes are final). */
  pending: PendingHedges;
  /** Monotonic milliseconds, stamped on each pending hedge. */
  nowMs: () => number;
  /** Without a journal a crash mid-send can lose track of a hedge (tests, benchmarks): every write is skipped. */
  journal?: Journal | undefined;
  /** Fault injection for the crash tests: called at each `SendStep`. */
  failpoint?: ((step: SendStep) => void) | undefined;
}

/** One order to send: the vault and its sized order. */
export interface OrderToSend {
  vault: Address;
  order: HedgeOrder;
  /**
   * Where the node lacks `eth_simulateV1` (per-hedge `simulateHedge`): simulate in this block rather than the one
   * decided on, when the vault's spacing needs it (`landingBlockFor`). `eth_simulateV1` runs every hedge there.
   */
  landingBlock?: bigint | undefined;
}

/** What the caller does as each order of a batch fails or goes out (logs, metrics, back-off). */
export interface SendHandlers<T extends OrderToSend> {
  /** A simulation or a send failed (the vault's intent, if any, is already journaled as abandoned). */
  failed: (item: T, error: unknown) => void;
  /**
   * A hedge was broadcast and is now pending; called as its broadcast returns, before the next one is broadcast
   * (the next one may already be signed and journaled: signing overlaps the previous broadcast).
   */
  sent: (item: T, sent: SentHedge) => void;
}

/** One signed version of a pending nonce, as the journal keeps it. */
export interface SignedVersionParams {
  nonce: number;
  hash: Hash;
  raw: Hex;
  fees: Fees;
  gasLimit: bigint;
  kind: "hedge" | "cancel";
  /** A hedge's swap deadline (unix seconds): a restart past it does not re-send the bytes. */
  deadline?: bigint;
}

/** Sends hedges and replacements with the journal written ahead of each broadcast. One instance per keeper. */
export class JournaledSend {
  /** The signer's nonces, one tracker for every send and replacement (present with an account). */
  readonly nonces: NonceTracker | undefined;
  readonly #deps: JournaledSendDeps;
  #journal: Journal | undefined;

  constructor(deps: JournaledSendDeps) {
    this.#deps = deps;
    this.#journal = deps.journal;
    this.nonces = deps.account ? new NonceTracker(deps.client, deps.account.address) : undefined;
  }

  /** What sending needs, on the chain `chainId`. Only with an account (the keeper sends nothing without). */
  context(chainId: number): SendContext {
    const { client, account, fees, caps, gasLimitPerHedge } = this.#deps;
    return { client, account: account!, chainId, nonces: this.nonces!, fees, caps, gasLimitPerHedge };
  }

  /** The signer's address (absent without an account). */
  get signer(): Address | undefined {
    return this.#deps.account?.address;
  }

  /** The journal written to, if any. */
  get journal(): Journal | undefined {
    return this.#journal;
  }

  /** Starts journaling (the journal's location depends on the chain id, known after the first read). */
  attach(journal: Journal): void {
    this.#journal = journal;
  }

  /**
   * Settles the journal against the chain (see `reconcile`) and resumes tracking what is still in flight. Call
   * once before the first tick; nothing happens without a journal or a signer.
   * @param logger where the restart's summary goes
   * @param expired called with each resumed hedge's vault whose swap deadline has passed (to re-plan it at once)
   */
  async recover(logger: Logger, expired: (vault: Address) => void): Promise<void> {
    const journal = this.#journal;
    const { account, client, pending, nowMs } = this.#deps;
    if (!journal || !account) return;
    const result = await reconcile(journal, client, account.address);
    for (const sent of result.resumed) {
      pending.add(sent, nowMs());
      if (sent.intentId && result.expired.includes(sent.intentId)) expired(sent.vault);
    }
    for (const e of result.rebroadcastErrors) logger.warn({ intent: e.id, error: e.error }, "re-broadcast after restart refused; tracking it by receipt");
    for (const s of result.settled.filter((x) => x.outcome === "superseded")) logger.warn({ intent: s.id }, SUPERSEDED_AT_RESTART);
    if (result.resumed.length + result.settled.length + result.abandoned.length > 0) {
      logger.info(
        { resumed: result.resumed.map((r) => r.intentId), settled: result.settled, abandoned: result.abandoned, journal: journal.path },
        "journal reconciled with the chain after a restart",
      );
    }
    // Chain (pending) and journal together: a journaled hedge not re-sent (past its deadline) keeps its nonce,
    // which the node does not count as pending; the next new hedge must come after it.
    await this.nonces?.resync();
    for (const sent of result.resumed) this.nonces?.raiseTo(sent.nonce + 1);
  }

  /**
   * Sends a block's orders: simulated together (`simulateHedges`: one `eth_simulateV1` request, in send order, or
   * one `eth_estimateGas` each where the node lacks it), then the ones that simulate are signed in nonce order.
   * Each goes through `send`'s steps in order. Up to `BROADCAST_WINDOW` broadcasts are in flight while the next
   * hedges are signed and journaled, so a node may see nonce n + 1 before n: a mempool queues it (geth, reth,
   * anvil), but an automining node refuses the gap (Hardhat: "Nonce too high … can't be queued when automining").
   * Such a refusal is remembered for the client, the same bytes are broadcast again once every earlier broadcast
   * has returned, and later broadcasts through that client wait for the previous one. A failure of one order never
   * stops the others.
   * @param deadline the swap deadline of every order (unix seconds)
   * @param blockNumber the block decided on: simulated at, and naming each intent
   * @param timestamp that block's timestamp: the landing block is simulated one second after it
   */
  async sendAll<T extends OrderToSend>(
    ctx: SendContext,
    items: readonly T[],
    deadline: bigint,
    blockNumber: bigint,
    timestamp: bigint,
    on: SendHandlers<T>,
  ): Promise<void> {
    const simulated = await simulateHedges(ctx, { items, deadline, blockNumber, timestamp });
    // Broadcasts not yet awaited, oldest first; and every broadcast started so far, settled.
    const inFlight: Promise<void>[] = [];
    let earlier: Promise<unknown> = Promise.resolve();
    for (const [i, result] of simulated.entries()) {
      const item = items[i]!;
      if (!result.ok) {
        on.failed(item, result.error);
        continue;
      }
      const signed = await this.#sign(ctx, item.vault, item.order, result.sim).catch((error: unknown) => {
        on.failed(item, error);
        return undefined;
      });
      if (!signed) continue;
      if (inOrderOnly.has(ctx.client)) await earlier;
      while (inFlight.length >= BROADCAST_WINDOW) await inFlight.shift();
      const done = this.#broadcast(ctx, signed, earlier).then(
        (sent) => on.sent(item, sent),
        (error: unknown) => on.failed(item, error),
      );
      inFlight.push(done);
      earlier = Promise.all([earlier, done]);
    }
    await earlier;
  }

  /**
   * Journal, sign, journal, broadcast, journal. A hedge signed but not broadcast (the node refused it) is still
   * tracked as pending. Throws on any failure, a failpoint's included; an intent that never got signed is first
   * journaled as abandoned.
   * @param ctx the send context (client, signer, nonces, fees, caps)
   * @param vault the vault hedged
   * @param order the sized order (its side and size make the intent's summary)
   * @param sim the simulated hedge: its block is the decision block that names the intent
   * @returns the hedge as sent, now pending
   */
  async send(ctx: SendContext, vault: Address, order: HedgeOrder, sim: SimulatedHedge): Promise<SentHedge> {
    return this.#broadcast(ctx, await this.#sign(ctx, vault, order, sim), Promise.resolve());
  }

  /** `send`'s first half: journal the intent, sign, journal the signed bytes (failpoints "before-sign", "after-journal"). */
  async #sign(ctx: SendContext, vault: Address, order: HedgeOrder, sim: SimulatedHedge): Promise<SignedHedge & { id: string }> {
    const journal = this.#journal;
    const { failpoint } = this.#deps;
    const id = intentId(ctx.chainId, vault, sim.blockNumber);
    try {
      journal?.recordIntent(id, vault, sim.blockNumber, describeOrder(order));
      failpoint?.("before-sign");
      const signed = await signHedge(ctx, sim);
      recordSigned(journal, id, { ...signed, gasLimit: sim.gasLimit, kind: "hedge", deadline: deadlineOf(sim.call) });
      failpoint?.("after-journal");
      return { ...signed, id };
    } catch (error) {
      if (journal?.get(id) && !journal.get(id)!.versions.length) journal.recordAbandoned(id, `not signed: ${errorMessage(error)}`);
      throw error;
    }
  }

  /**
   * `send`'s second half: broadcast, journal the broadcast (failpoint "after-broadcast"), track it as pending. A
   * node that refuses the nonce as a gap (see `sendAll`) gets the same bytes again once `earlier` (every earlier
   * broadcast) has settled, once.
   */
  async #broadcast(ctx: SendContext, signed: SignedHedge & { id: string }, earlier: Promise<unknown>): Promise<SentHedge> {
    const { failpoint, pending, nowMs } = this.#deps;
    const sent = { ...sentFrom(signed), intentId: signed.id };
    try {
      await broadcastSigned(ctx, signed).catch(async (error: unknown) => {
        if (!isNonceGapRefusal(error)) throw error;
        inOrderOnly.add(ctx.client);
        await earlier;
        return broadcastSigned(ctx, signed);
      });
    } catch (error) {
      // Signed and journaled: the bytes are final. Track them anyway — a later block re-checks by receipt, and
      // a restart re-broadcasts them — rather than re-sign a second transaction for the same intent.
      pending.add(sent, nowMs());
      throw error;
    }
    this.#journal?.recordBroadcast(signed.id, signed.hash);
    failpoint?.("after-broadcast");
    pending.add(sent, nowMs());
    return sent;
  }

  /**
   * A replacement at a pending nonce (a fee bump or a cancel): its signed bytes journaled under the intent `id`,
   * then broadcast. Without an intent id (a hedge tracked outside the journal) it is only broadcast.
   */
  async sendVersion(ctx: Pick<SendContext, "client">, id: string | undefined, version: SignedVersionParams): Promise<void> {
    if (id) recordSigned(this.#journal, id, version);
    await broadcastSigned(ctx, version);
  }

  /** A pending hedge settled: the failpoint "after-mined", then its intent closed in the journal. */
  settled(outcome: HedgeOutcome): void {
    this.#deps.failpoint?.("after-mined");
    if (outcome.sent.intentId) {
      this.#journal?.recordSettled(outcome.sent.intentId, outcome.kind, outcome.sent.hash, outcome.receipt.blockNumber);
    }
  }

  /**
   * A pending hedge whose nonce something else took (`PendingHedges.superseded`), seen at `block`: the failpoint
   * "after-mined", then its intent closed as superseded — the record a restart's `reconcile` would have written.
   */
  superseded(sent: SentHedge, block: bigint): void {
    this.#deps.failpoint?.("after-mined");
    if (sent.intentId) this.#journal?.recordSettled(sent.intentId, "superseded", undefined, block);
  }
}

/**
 * Broadcasts in flight at once in `sendAll`: enough to hide the round trip behind the signing of the next hedges,
 * few enough that a node refusing them (a full mempool, a rate limit) sees a handful, not a block's worth.
 */
export const BROADCAST_WINDOW = 16;

/** Clients whose node refused a nonce gap once (an automining node): their broadcasts go one after another. */
const inOrderOnly = new WeakSet<object>();

/** The node refused a transaction because an earlier nonce of the sender has not reached it yet. */
function isNonceGapRefusal(error: unknown): boolean {
  const text = error instanceof BaseError ? `${error.shortMessage} ${error.details ?? ""}` : String((error as Error)?.message ?? error);
  return /nonce too high|can't be queued/i.test(text);
}

/** One signed version's journal record (the amounts as decimal strings, as the journal keeps them). */
function recordSigned(journal: Journal | undefined, id: string, v: SignedVersionParams): void {
  journal?.recordSigned(id, v.nonce, {
    hash: v.hash,
    raw: v.raw,
    maxFeePerGas: v.fees.maxFeePerGas.toString(),
    maxPriorityFeePerGas: v.fees.maxPriorityFeePerGas.toString(),
    gasLimit: v.gasLimit.toString(),
    ...(v.deadline !== undefined ? { deadline: v.deadline.toString() } : {}),
    kind: v.kind,
  });
}
