/**
 * Stuck-transaction replacement. A hedge not mined after REPLACE_AFTER_BLOCKS (no receipt: one mined but short of
 * CONFIRMATIONS is not stuck) is re-checked on fresh state: still wanted (a fresh plan, ignoring the pending one,
 * sizes an order that simulates) → the fresh order at the same nonce with fees up by FEE_BUMP_PERCENT on both
 * fields, within the cap; no longer wanted → a cancel (a 0-value self-transfer) takes the nonce. With no room to
 * bump under the cap the same signed bytes are sent again. A nonce gap (a signed hedge the node never got) is
 * watched here too: replacement is what refills it. So is the opposite fault, a nonce taken elsewhere: another
 * sender on the keeper's key mined a transaction at a pending hedge's nonce, so no version of the hedge can ever be
 * mined; replacing it would only bump a dead nonce forever. It is settled as superseded instead (`settleSuperseded`).
 */
import type { Address } from "viem";
import { errorMessage } from "../chain/errors.ts";
import type { ReadResult } from "../chain/readVaults.ts";
import type { Resilience } from "../options.ts";
import type { KeeperMetrics } from "../telemetry/metrics.ts";
import type { Logger } from "../telemetry/logger.ts";
import type { VaultPlan } from "../tick.ts";
import { bumpFees, computeFees, type FeeCaps, type FeeOracle } from "./fees.ts";
import type { JournaledSend } from "./journaledSend.ts";
import type { PendingHedges } from "./pending.ts";
import { broadcastSigned, deadlineOf, landingBlockFor, sentFrom, signCancel, signHedgeAt, simulateHedge, type SendContext, type SentHedge, type SimulatedHedge } from "./sendHedge.ts";

/** The gas of a cancel: a plain transfer. */
const CANCEL_GAS = 21_000n;
/** The mark of a hedge resumed past its deadline after a restart: stuck at once, whatever its age. */
const EXPIRED = -1_000_000n;

/** The warning for a pending hedge whose nonce another transaction took while the keeper ran. */
export const SUPERSEDED =
  "hedge superseded: its nonce was mined by another transaction (likely another sender on this key); nonce re-synced, the vault is re-planned";

/** What a `StuckReplacer` needs from the keeper. */
export interface StuckReplacerDeps {
  pending: PendingHedges;
  fees: FeeOracle;
  caps: FeeCaps;
  limits: Pick<Resilience, "replaceAfterBlocks" | "feeBumpPercent">;
  /** Seconds added to the block timestamp for a replacement's swap deadline. */
  deadlineSeconds: number;
  sends: JournaledSend;
  metrics?: KeeperMetrics | undefined;
  /** The keeper's plan of `read` at `tipWei`, ignoring pending hedges (is the stuck one still wanted?). */
  replan: (read: ReadResult, tipWei: bigint) => VaultPlan[];
}

/** Finds stuck hedges and replaces them (bump, cancel or re-send). One instance per keeper. */
export class StuckReplacer {
  /** Per vault: the block of the last replacement, so a stuck hedge is re-checked every N blocks, not every block. */
  readonly #replacedAt = new Map<Address, bigint>();
  readonly #deps: StuckReplacerDeps;
  #nonceGap = 0;

  constructor(deps: StuckReplacerDeps) {
    this.#deps = deps;
  }

  /** Nonces signed but unknown to the node, at the last check (0 with nothing pending). */
  get nonceGap(): number {
    return this.#nonceGap;
  }

  /**
   * A nonce gap — a signed hedge that never reached the node — blocks every later nonce until replacement refills
   * it. It can only open while hedges are in flight: checked then (one request), never on idle blocks.
   */
  async checkNonceGap(log: Logger): Promise<void> {
    const { pending, sends, metrics } = this.#deps;
    if (pending.size > 0 && sends.nonces) {
      this.#nonceGap = await sends.nonces.gap().catch(() => this.#nonceGap);
      metrics?.nonceGap(this.#nonceGap);
      if (this.#nonceGap > 0) log.warn({ gap: this.#nonceGap }, "nonce gap: a signed hedge never reached the node; replacement will refill it");
    } else if (this.#nonceGap > 0) {
      this.#nonceGap = 0;
      metrics?.nonceGap(0);
    }
  }

  /**
   * Settles the pending hedges whose nonce another transaction took (`PendingHedges.superseded`): each is journaled
   * as superseded, counted, warned about once and forgotten here; then the nonce tracker is re-read from the node.
   * No longer pending, the vault is re-planned by the same tick. Call right after the block's receipt poll.
   * Costs one request only while a pending hedge has no receipt (the mined nonce count), plus the re-sync when one
   * is found. A failed request is logged, never thrown: the check runs again next block.
   * @param log the tick's logger
   * @param block the block just polled
   * @returns the hedges settled as superseded
   */
  async settleSuperseded(log: Logger, block: bigint): Promise<SentHedge[]> {
    const { pending, sends, metrics } = this.#deps;
    const signer = sends.signer;
    if (!signer || pending.size === 0) return [];
    let gone: SentHedge[];
    try {
      gone = await pending.superseded(block, signer);
    } catch (error) {
      log.warn({ error: errorMessage(error) }, "could not read the signer's mined nonce; a taken nonce is checked again next block");
      return [];
    }
    for (const sent of gone) {
      sends.superseded(sent, block);
      this.#replacedAt.delete(sent.vault);
      metrics?.hedge(sent.vault, "superseded");
      log.warn({ vault: sent.vault, hash: sent.hash, nonce: sent.nonce, decidedAtBlock: Number(sent.decidedAtBlock) }, SUPERSEDED);
    }
    if (gone.length > 0) {
      await sends.nonces?.resync().catch((error: unknown) => {
        log.warn({ error: errorMessage(error) }, "nonce re-sync after a superseded hedge failed: a hedge then refused for its nonce is superseded and re-synced next block");
      });
    }
    return gone;
  }

  /** A hedge resumed after a restart past its deadline: re-planned at the next check, not REPLACE_AFTER_BLOCKS later. */
  expire(vault: Address): void {
    this.#replacedAt.set(vault, EXPIRED);
  }

  /**
   * Checks every pending hedge at `read`'s block and replaces the stuck ones. Costs nothing (no request) when none
   * is stuck; otherwise one fee quote, then per stuck hedge a simulation, a journal record and a broadcast.
   * Failures are logged, never thrown: the hedge is re-checked REPLACE_AFTER_BLOCKS later.
   * @param log the tick's logger
   * @param read this block's read
   * @param sendContext the send context, built only when a hedge is stuck
   */
  async check(log: Logger, read: ReadResult, sendContext: () => SendContext): Promise<void> {
    const { pending, fees: feeOracle, caps, limits, sends, metrics } = this.#deps;
    const block = read.chain.blockNumber;
    const every = BigInt(limits.replaceAfterBlocks);
    const stuck = pending.list().filter((p) => {
      // Mined and waiting for its confirmations: its nonce is spent, so a bump or a cancel could only fail (or,
      // after a reorg, race the hedge itself). Re-checked only if a reorg takes the receipt away.
      if (p.minedInBlock !== undefined) return false;
      const since = this.#replacedAt.get(p.vault);
      if (since !== undefined && since < 0n) return true; // expired after a restart: re-plan now
      return block - p.decidedAtBlock >= every && block - (since ?? p.decidedAtBlock) >= every;
    });
    if (stuck.length === 0) return;
    const ctx = sendContext();
    const quote = await feeOracle.quote(block);
    const fresh = computeFees(quote.nextBaseFeeWei, quote.tipWei, caps);
    const replanned = this.#deps.replan(read, quote.tipWei);
    for (const p of stuck) {
      this.#replacedAt.set(p.vault, block);
      const fees = bumpFees(p.fees, fresh, limits.feeBumpPercent, caps);
      if (!fees) {
        // No room to bump under the cap: send the same signed bytes again. A node that dropped the transaction
        // takes it back; one that still has it answers "already known". Nothing is re-signed.
        if (p.raw) await broadcastSigned(ctx, { raw: p.raw, hash: p.hash }).catch(() => undefined);
        log.warn({ vault: p.vault, hash: p.hash, blocks: Number(block - p.decidedAtBlock) }, "hedge stuck and a fee bump would pass MAX_FEE_GWEI: re-sent as signed");
        continue;
      }
      const plan = replanned.find((x) => x.vault === p.vault);
      let sim: SimulatedHedge | undefined;
      if (plan?.sizing?.kind === "order") {
        sim = await simulateHedge(ctx, {
          vault: p.vault,
          order: plan.sizing.order,
          deadline: read.chain.timestamp + BigInt(this.#deps.deadlineSeconds),
          blockNumber: block,
          landingBlock: landingBlockFor(block, plan.snapshot.nextRebalanceBlock),
        }).catch(() => undefined);
      }
      try {
        if (sim) {
          const signed = await signHedgeAt(ctx, sim, p.nonce, fees);
          await sends.sendVersion(ctx, p.intentId, { nonce: signed.nonce, hash: signed.hash, raw: signed.raw, fees, gasLimit: sim.gasLimit, kind: "hedge", deadline: deadlineOf(sim.call) });
          pending.replace(p.vault, { ...sentFrom(signed), decidedAtBlock: p.decidedAtBlock, ...(p.intentId ? { intentId: p.intentId } : {}) }, "hedge");
          metrics?.replacement(p.vault, "bump");
          log.info({ vault: p.vault, old: p.hash, hash: signed.hash, nonce: p.nonce, maxFeeGwei: Number(fees.maxFeePerGas) / 1e9 }, "stuck hedge still wanted: replaced with higher fees");
        } else {
          const signed = await signCancel(ctx, p.nonce, fees);
          await sends.sendVersion(ctx, p.intentId, { nonce: p.nonce, hash: signed.hash, raw: signed.raw, fees, gasLimit: CANCEL_GAS, kind: "cancel" });
          pending.replace(p.vault, { ...p, hash: signed.hash, fees, gasLimit: CANCEL_GAS, raw: signed.raw }, "cancel");
          metrics?.replacement(p.vault, "cancel");
          log.info({ vault: p.vault, old: p.hash, hash: signed.hash, nonce: p.nonce }, "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)");
        }
      } catch (error) {
        log.warn({ vault: p.vault, error: errorMessage(error) }, "replacement not sent; the stuck hedge is re-checked later");
      }
    }
  }
}
