/**
 * The live keeper: on each new block, one read of every vault (through the lens), the pure plan
 * (`planBlock`), logs, and the sends. State that lives across blocks is here and only here: hedges pending
 * per vault, the nonce, the last block seen, counters. A tick never overlaps the previous one: a block that
 * arrives while a tick runs is skipped and counted, and the next tick reads the latest state anyway.
 */
import type { Account, Address, PublicClient } from "viem";
import { classifyVaultError, errorMessage } from "./chain/errors.ts";
import { readVaults, type ReadResult, type VaultRef } from "./chain/readVaults.ts";
import { bumpFees, computeFees, FeeCapExceededError, FeeOracle, type FeeCaps } from "./execution/fees.ts";
import { NonceTracker } from "./execution/nonces.ts";
import { PendingHedges, type HedgeOutcome } from "./execution/pending.ts";
import { intentId, type Journal } from "./execution/journal.ts";
import { reconcile } from "./execution/reconcile.ts";
import {
  broadcastSigned,
  GasCapExceededError,
  HedgeSimulationError,
  sentFrom,
  signCancel,
  signHedge,
  signHedgeAt,
  simulateHedge,
  type SendContext,
  type SentHedge,
  type SimulatedHedge,
} from "./execution/sendHedge.ts";
import { wadToNumber } from "./pricing/wad.ts";
import type { HealthState } from "./telemetry/health.ts";
import { VaultHolds } from "./telemetry/holds.ts";
import type { KeeperMetrics } from "./telemetry/metrics.ts";
import type { Logger } from "./telemetry/logger.ts";
import { planBlock, updateHedgeAnchors, type HedgeAnchor, type PlanOptions, type VaultPlan } from "./tick.ts";
import { DEFAULT_RESILIENCE, type KeeperOptions, type Resilience } from "./options.ts";
import type { HedgeOrder } from "./types.ts";

export type { KeeperOptions } from "./options.ts";

export interface KeeperDeps {
  client: PublicClient;
  /** Absent in dry-run without a key: the keeper then decides and logs but cannot send. */
  account?: Account;
  logger: Logger;
  /** Monotonic milliseconds (injected so tests and benchmarks control time). */
  nowMs: () => number;
  /** Prometheus metrics, updated every tick (optional: tests and the benchmark run without). */
  metrics?: KeeperMetrics;
  /** Wall-clock seconds, for the head's lag behind real time. */
  wallClockSec?: () => number;
  /** The exactly-once journal; without it a crash mid-send can lose track of a hedge (tests, benchmarks). */
  journal?: Journal;
  /**
   * Fault injection for the crash tests: called at each step of a send ("before-sign", "after-journal",
   * "after-broadcast", "after-mined"); the entry point kills the process there when KEEPER_FAILPOINT names it.
   */
  failpoint?: (step: SendStep) => void;
}

export type SendStep = "before-sign" | "after-journal" | "after-broadcast" | "after-mined";

export interface TickReport {
  blockNumber: bigint;
  plans: VaultPlan[];
  sent: SentHedge[];
  settled: HedgeOutcome[];
  /** Block-to-broadcast latency of each send, ms. */
  broadcastLatencyMs: number[];
  /** Time spent in the pure decision code (plan), ms. */
  decisionMs: number;
}

export class Keeper {
  readonly pending: PendingHedges;
  #nonces?: NonceTracker;
  #fees: FeeOracle;
  #busy = false;
  #lastBlock = -1n;
  #lastDecision = new Map<Address, string>();
  #chainId: number | undefined;
  skippedTicks = 0;
  #startedAtMs: number | undefined;
  #lastBlockProcessedAtMs: number | undefined;
  #signerBalanceWei: bigint | undefined;
  #lastRebalanceBlocks = new Map<Address, bigint>();
  /** What keeps each vault from being hedged (oracle, pause, sizing's holds): logged when it changes. */
  #holds = new VaultHolds();
  #resilience: Resilience;
  /** Per vault: no new hedge before `untilBlock`; `failures` doubles the wait (bounded). */
  #backoff = new Map<Address, { untilBlock: bigint; failures: number }>();
  /** Per vault: gas spent (wei) with the monotonic time it was spent, for the rolling budgets. */
  #spent = new Map<Address, { atMs: number; wei: bigint }[]>();
  /** Per vault: the block of the last replacement, so a stuck hedge is re-checked every N blocks, not every block. */
  #replacedAt = new Map<Address, bigint>();
  /** Shadow mode: the last rebalance block seen per vault, to report hedges that happened on-chain. */
  #shadowSeen = new Map<Address, bigint>();
  /** Per vault: the spot at its last rebalance as first seen (`updateHedgeAnchors`), for the policy's view. */
  #hedgeAnchors = new Map<Address, HedgeAnchor>();
  #nonceGap = 0;
  private readonly options: KeeperOptions;
  private deps: KeeperDeps;

  constructor(options: KeeperOptions, deps: KeeperDeps) {
    this.options = options;
    this.deps = deps;
    this.#startedAtMs = deps.nowMs();
    this.#resilience = { ...DEFAULT_RESILIENCE, ...options.resilience };
    this.pending = new PendingHedges(deps.client, options.confirmations);
    this.#fees = new FeeOracle(deps.client, options.caps.maxPriorityFeePerGasWei);
    if (deps.account) this.#nonces = new NonceTracker(deps.client, deps.account.address);
  }

  get busy(): boolean {
    return this.#busy;
  }

  get lastBlock(): bigint {
    return this.#lastBlock;
  }

  /** Backs a vault off after a failure: 1, 2, 4 … up to 64 times RETRY_BACKOFF_BLOCKS. No retry storm. */
  #backOff(vault: Address, block: bigint): void {
    const failures = (this.#backoff.get(vault)?.failures ?? 0) + 1;
    const wait = BigInt(this.#resilience.retryBackoffBlocks * 2 ** Math.min(failures - 1, 6));
    this.#backoff.set(vault, { untilBlock: block + wait, failures });
  }

  #recordSpend(vault: Address, wei: bigint): void {
    const list = this.#spent.get(vault) ?? [];
    list.push({ atMs: this.deps.nowMs(), wei });
    const dayAgo = this.deps.nowMs() - 86_400_000;
    this.#spent.set(vault, list.filter((s) => s.atMs >= dayAgo));
  }

  /** Why a vault may not be hedged now (backoff after a failure, or its gas budget spent), if so. */
  #heldBack(vault: Address, block: bigint): string | undefined {
    const backoff = this.#backoff.get(vault);
    if (backoff && block < backoff.untilBlock) {
      return `backing off after ${backoff.failures} failure(s) until block ${backoff.untilBlock}`;
    }
    const now = this.deps.nowMs();
    const spentSince = (ms: number) => (this.#spent.get(vault) ?? []).filter((s) => s.atMs >= now - ms).reduce((a, s) => a + s.wei, 0n);
    const { gasBudgetPerHourWei: hour, gasBudgetPerDayWei: day } = this.#resilience;
    if (hour !== undefined && spentSince(3_600_000) >= hour) return `hourly gas budget spent (${spentSince(3_600_000)} of ${hour} wei)`;
    if (day !== undefined && spentSince(86_400_000) >= day) return `daily gas budget spent (${spentSince(86_400_000)} of ${day} wei)`;
    return undefined;
  }

  /**
   * A hedge not mined after REPLACE_AFTER_BLOCKS (no receipt: one mined but short of CONFIRMATIONS is not stuck)
   * is re-checked on fresh state: still wanted (a fresh plan, ignoring the pending one, sizes an order that
   * simulates) → the fresh order at the same nonce with fees up by FEE_BUMP_PERCENT on both fields, within the cap;
   * no longer wanted → a cancel takes the nonce.
   */
  async #checkStuck(log: Logger, read: ReadResult, plans: VaultPlan[]): Promise<void> {
    const block = read.chain.blockNumber;
    const every = BigInt(this.#resilience.replaceAfterBlocks);
    const stuck = this.pending
      .list()
      .filter((p) => {
        // Mined and waiting for its confirmations: its nonce is spent, so a bump or a cancel could only fail (or,
        // after a reorg, race the hedge itself). Re-checked only if a reorg takes the receipt away.
        if (p.minedInBlock !== undefined) return false;
        const since = this.#replacedAt.get(p.vault);
        if (since !== undefined && since < 0n) return true; // expired after a restart: re-plan now
        return block - p.decidedAtBlock >= every && block - (since ?? p.decidedAtBlock) >= every;
      });
    if (stuck.length === 0) return;
    const ctx = this.#sendContext();
    const quote = await this.#fees.quote(block);
    const fresh = computeFees(quote.nextBaseFeeWei, quote.tipWei, this.options.caps);
    const replanned = this.plan(read, quote.tipWei, true);
    for (const p of stuck) {
      this.#replacedAt.set(p.vault, block);
      const fees = bumpFees(p.fees, fresh, this.#resilience.feeBumpPercent, this.options.caps);
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
          deadline: read.chain.timestamp + BigInt(this.options.deadlineSeconds ?? 300),
          blockNumber: block,
        }).catch(() => undefined);
      }
      try {
        if (sim) {
          const signed = await signHedgeAt(ctx, sim, p.nonce, fees);
          this.#journalVersion(p.intentId, signed.nonce, signed.hash, signed.raw, fees, sim.gasLimit, "hedge", sim.args[3]);
          await broadcastSigned(ctx, signed);
          this.pending.replace(p.vault, { ...sentFrom(signed), decidedAtBlock: p.decidedAtBlock, ...(p.intentId ? { intentId: p.intentId } : {}) }, "hedge");
          this.deps.metrics?.replacement(p.vault, "bump");
          log.info({ vault: p.vault, old: p.hash, hash: signed.hash, nonce: p.nonce, maxFeeGwei: Number(fees.maxFeePerGas) / 1e9 }, "stuck hedge still wanted: replaced with higher fees");
        } else {
          const signed = await signCancel(ctx, p.nonce, fees);
          this.#journalVersion(p.intentId, p.nonce, signed.hash, signed.raw, fees, 21_000n, "cancel");
          await broadcastSigned(ctx, signed);
          this.pending.replace(p.vault, { ...p, hash: signed.hash, fees, gasLimit: 21_000n, raw: signed.raw }, "cancel");
          this.deps.metrics?.replacement(p.vault, "cancel");
          log.info({ vault: p.vault, old: p.hash, hash: signed.hash, nonce: p.nonce }, "stuck hedge no longer wanted: cancelled (its nonce taken by a 0-value self-transfer)");
        }
      } catch (error) {
        log.warn({ vault: p.vault, error: errorMessage(error) }, "replacement not sent; the stuck hedge is re-checked later");
      }
    }
  }

  /** A replacement's signed bytes, journaled before broadcast; a hedge's carries its swap deadline, so that a restart past it does not re-send it. */
  #journalVersion(id: string | undefined, nonce: number, hash: `0x${string}`, raw: `0x${string}`, fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }, gasLimit: bigint, kind: "hedge" | "cancel", deadline?: bigint): void {
    if (!id) return;
    this.deps.journal?.recordSigned(id, nonce, {
      hash,
      raw,
      maxFeePerGas: fees.maxFeePerGas.toString(),
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
      gasLimit: gasLimit.toString(),
      ...(deadline !== undefined ? { deadline: deadline.toString() } : {}),
      kind,
    });
  }

  /** Shadow mode: what happened on-chain since the last block, beside what this keeper decided. */
  #shadowReport(log: Logger, plans: VaultPlan[]): void {
    for (const plan of plans) {
      const last = plan.snapshot.lastRebalanceBlock;
      const seen = this.#shadowSeen.get(plan.vault);
      this.#shadowSeen.set(plan.vault, last);
      if (seen !== undefined && last > seen) {
        log.info(
          { vault: plan.vault, rebalancedInBlock: Number(last), deltaNow: round(plan.view.delta, 6), ourDecision: plan.decision.kind, reason: plan.decision.reason },
          "shadow: the vault was rebalanced on-chain (by another keeper)",
        );
      }
    }
  }

  /** Per-block metrics: head, every vault's Greeks and band, oracle freshness, signer balance, pending. */
  #observe(read: ReadResult, plans: VaultPlan[], decisionMs: number): void {
    for (const plan of plans) this.#lastRebalanceBlocks.set(plan.vault, plan.snapshot.lastRebalanceBlock);
    const metrics = this.deps.metrics;
    if (!metrics) return;
    metrics.blockSeen(read.chain.blockNumber, read.chain.timestamp, this.deps.wallClockSec?.() ?? Number(read.chain.timestamp));
    metrics.observeDecisionSeconds(decisionMs / 1000);
    if (this.#signerBalanceWei !== undefined) metrics.signerBalance(this.#signerBalanceWei);
    for (const plan of plans) {
      const band = plan.decision.band ?? plan.view.onChainBand;
      metrics.vaultObserved({
        vault: plan.vault,
        blockNumber: read.chain.blockNumber,
        delta: plan.view.delta,
        gamma: plan.view.gamma,
        band,
        outOfBand: Math.abs(plan.view.delta) > band,
        oracleAgeSeconds: Number(plan.snapshot.oracleAgeSeconds),
        oracleFresh: plan.snapshot.oracleFresh,
      });
      if (plan.sizing?.kind === "skip") metrics.hedge(plan.vault, "skipped");
    }
    const pending = this.pending.list();
    const oldest = pending.reduce((m, p) => (read.chain.blockNumber - p.decidedAtBlock > m ? read.chain.blockNumber - p.decidedAtBlock : m), 0n);
    metrics.pendingTransactions(pending.length, Number(oldest));
  }

  /** What `/healthz` and `/readyz` judge (see `assessHealth`). */
  healthState(nowMs: number): HealthState {
    this.#startedAtMs ??= nowMs;
    return {
      nowMs,
      startedAtMs: this.#startedAtMs,
      lastBlockSeenAtMs: this.#lastBlockProcessedAtMs,
      headBlock: this.#lastBlock >= 0n ? this.#lastBlock : undefined,
      pending: this.pending.list().map((p) => ({ vault: p.vault, sentAtBlock: p.decidedAtBlock, nonce: p.nonce })),
      nonceGap: this.#nonceGap,
      signerBalanceWei: this.#signerBalanceWei,
      vaults: [...this.#lastRebalanceBlocks].map(([vault, lastRebalanceBlock]) => ({
        vault,
        outOfBandBlocks: this.deps.metrics?.outOfBandBlocks(vault) ?? 0,
        lastRebalanceBlock,
      })),
    };
  }

  /** Starts journaling sends (the journal's location depends on the chain id, known after the first read). */
  attachJournal(journal: Journal): void {
    this.deps = { ...this.deps, journal };
  }

  /**
   * Settles the journal against the chain (see `reconcile`) and resumes tracking what is still in flight.
   * Call once before the first tick.
   */
  async recover(): Promise<void> {
    const { journal, account, logger } = this.deps;
    if (!journal || !account) return;
    const result = await reconcile(journal, this.deps.client, account.address);
    for (const sent of result.resumed) {
      this.pending.add(sent, this.deps.nowMs());
      // An expired hedge is re-planned at the first stuck check rather than after REPLACE_AFTER_BLOCKS more.
      if (sent.intentId && result.expired.includes(sent.intentId)) this.#replacedAt.set(sent.vault, -1_000_000n);
    }
    for (const e of result.rebroadcastErrors) logger.warn({ intent: e.id, error: e.error }, "re-broadcast after restart refused; tracking it by receipt");
    if (result.resumed.length + result.settled.length + result.abandoned.length > 0) {
      logger.info(
        { resumed: result.resumed.map((r) => r.intentId), settled: result.settled, abandoned: result.abandoned, journal: journal.path },
        "journal reconciled with the chain after a restart",
      );
    }
    // Chain (pending) and journal together: a journaled hedge not re-sent (past its deadline) keeps its nonce,
    // which the node does not count as pending; the next new hedge must come after it.
    await this.#nonces?.resync();
    for (const sent of result.resumed) this.#nonces?.raiseTo(sent.nonce + 1);
  }

  /** Reads every vault once, at `blockNumber` or the latest block. */
  read(blockNumber?: bigint, withBook = true): Promise<ReadResult> {
    return readVaults(this.deps.client, {
      lens: this.options.lens,
      vaults: this.options.vaults,
      account: this.deps.account?.address ?? "0x0000000000000000000000000000000000000000",
      withBook,
      ...(blockNumber !== undefined ? { blockNumber } : {}),
    });
  }

  /**
   * One poll of the HTTP loop: the lens read *is* the block poll (its answer carries the block number), so an
   * idle poll costs exactly one request; a tick runs only when the block is new.
   */
  async poll(): Promise<TickReport | undefined> {
    if (this.#busy) {
      this.skippedTicks++;
      this.deps.metrics?.tickSkipped();
      return undefined;
    }
    const read = await this.read();
    if (read.chain.blockNumber <= this.#lastBlock) return undefined;
    return this.tick({ read, seenAtMs: this.deps.nowMs() });
  }

  /** The pure plan for an already-read block. */
  plan(read: ReadResult, tipWei: bigint, ignorePending = false): VaultPlan[] {
    const options: PlanOptions = {
      policy: this.options.policy,
      prefs: this.options.prefs,
      maxSlippageBps: this.options.maxSlippageBps,
      minOutMarginBps: this.options.minOutMarginBps,
      tipWei,
      nativePriceQuote: this.options.nativePriceQuote,
      greeksTolerance: this.options.greeksTolerance,
      pendingVaults: ignorePending ? new Set<Address>() : new Set(this.pending.list().map((p) => p.vault)),
      maxOracleDeviationBps: this.#resilience.maxOracleDeviationBps,
      hedgeAnchors: this.#hedgeAnchors,
    };
    return planBlock(read, options);
  }

  /**
   * One tick. `seenAtMs` is when the block became known (head notification or poll answer), the start of the
   * block-to-broadcast latency. Returns undefined when skipped (busy, or no new block).
   */
  async tick(p: { blockNumber?: bigint; seenAtMs: number; read?: ReadResult }): Promise<TickReport | undefined> {
    if (this.#busy) {
      this.skippedTicks++;
      this.deps.metrics?.tickSkipped();
      this.deps.logger.debug({ block: p.blockNumber?.toString(), skipped: this.skippedTicks }, "previous tick still running: block skipped");
      return undefined;
    }
    this.#busy = true;
    try {
      const read = p.read ?? (await this.read(p.blockNumber));
      if (read.chain.blockNumber <= this.#lastBlock) return undefined;
      this.#lastBlock = read.chain.blockNumber;
      this.#chainId ??= Number(read.chain.chainId);
      return await this.#process(read, p.seenAtMs);
    } finally {
      this.#busy = false;
    }
  }

  async #process(read: ReadResult, seenAtMs: number): Promise<TickReport> {
    const block = read.chain.blockNumber;
    this.#lastBlockProcessedAtMs = this.deps.nowMs();
    this.#signerBalanceWei = this.deps.account ? read.chain.accountBalance : undefined;
    const log = this.deps.logger.child({ block: Number(block) });
    const report: TickReport = { blockNumber: block, plans: [], sent: [], settled: [], broadcastLatencyMs: [], decisionMs: 0 };

    if (this.pending.size > 0) {
      report.settled = await this.pending.poll(block);
      for (const outcome of report.settled) {
        this.deps.failpoint?.("after-mined");
        if (outcome.sent.intentId) {
          this.deps.journal?.recordSettled(outcome.sent.intentId, outcome.kind, outcome.sent.hash, outcome.receipt.blockNumber);
        }
        // Our hedge reverted in a block where someone else rebalanced the vault: two keepers raced and the other
        // won (the contract's spacing let only one through). That is the system working, not a fault.
        // (At or after: the winner may have hedged again since. We have one hedge in flight per vault, and it
        // reverted, so any rebalance from that block on was someone else's.)
        const lastRebalance = read.vaults.find((v) => v.vault === outcome.sent.vault)?.lastRebalanceBlock ?? 0n;
        const lostRace = outcome.kind === "reverted" && lastRebalance >= outcome.receipt.blockNumber;
        if (lostRace) {
          log.info({ vault: outcome.sent.vault, hash: outcome.sent.hash, block: Number(outcome.receipt.blockNumber) }, "another keeper hedged this vault first: standing down");
        } else {
          this.#logOutcome(log, outcome);
        }
        this.deps.metrics?.hedge(outcome.sent.vault, outcome.kind);
        this.deps.metrics?.gasSpent(outcome.sent.vault, outcome.receipt.gasUsed, outcome.receipt.effectiveGasPrice);
        this.#recordSpend(outcome.sent.vault, outcome.receipt.gasUsed * outcome.receipt.effectiveGasPrice);
        if (outcome.kind === "mined") this.#backoff.delete(outcome.sent.vault);
        if (outcome.kind === "reverted" && !lostRace) this.#backOff(outcome.sent.vault, block);
      }
    }
    for (const failure of read.failures) log.warn({ vault: failure.vault, reason: failure.reason }, "vault unreadable: skipped this block");
    this.#updateHedgeAnchors(read);

    const started = this.deps.nowMs();
    // Gas is priced for the decision without a request: the last fee quote fetched to send, or the cap's tip.
    const plans = this.plan(this.#withKnownBaseFee(read), this.#fees.last?.tipWei ?? this.options.caps.maxPriorityFeePerGasWei);
    report.decisionMs = this.deps.nowMs() - started;
    report.plans = plans;
    this.#observe(read, plans, report.decisionMs);
    log.debug(
      { vaults: plans.length, pending: this.pending.size, baseFeeGwei: Number(read.chain.baseFeePerGas) / 1e9, decisionMs: round(report.decisionMs, 3) },
      "block",
    );

    if (this.options.shadow) this.#shadowReport(log, plans);
    // A nonce gap can only open while hedges are in flight: check then (one request), never on idle blocks.
    if (this.pending.size > 0 && this.#nonces) {
      this.#nonceGap = await this.#nonces.gap().catch(() => this.#nonceGap);
      this.deps.metrics?.nonceGap(this.#nonceGap);
      if (this.#nonceGap > 0) log.warn({ gap: this.#nonceGap }, "nonce gap: a signed hedge never reached the node; replacement will refill it");
    } else if (this.#nonceGap > 0) {
      this.#nonceGap = 0;
      this.deps.metrics?.nonceGap(0);
    }
    if (this.pending.size > 0 && this.deps.account && !this.options.dryRun) await this.#checkStuck(log, read, plans);

    const toSend: { plan: VaultPlan; order: HedgeOrder }[] = [];
    for (const plan of plans) {
      this.#logDecision(log, plan);
      if (plan.sizing?.kind !== "order") continue;
      const held = this.#heldBack(plan.vault, block);
      if (held) {
        log.info({ vault: plan.vault, reason: held }, "hedge held back");
        continue;
      }
      if (this.options.shadow) {
        log.info({ vault: plan.vault, ...orderFields(plan.sizing.order, plan.snapshot) }, "shadow: would hedge");
        continue;
      }
      if (this.options.dryRun || !this.deps.account) {
        log.info({ vault: plan.vault, ...orderFields(plan.sizing.order, plan.snapshot) }, "dry run: hedge not sent");
        continue;
      }
      toSend.push({ plan, order: plan.sizing.order });
    }
    if (toSend.length > 0) {
      // Simulations are independent: run them together. Broadcasts go one by one, in nonce order.
      const ctx = this.#sendContext();
      const deadline = read.chain.timestamp + BigInt(this.options.deadlineSeconds ?? 300);
      const simulated = await Promise.all(
        toSend.map(({ plan, order }) =>
          simulateHedge(ctx, { vault: plan.vault, order, deadline, blockNumber: block }).catch((error: unknown) => {
            this.#logSendFailure(log, plan.vault, error);
            return undefined;
          }),
        ),
      );
      for (const [i, sim] of simulated.entries()) {
        if (!sim) continue;
        const sent = await this.#broadcast(log, toSend[i]!.plan, toSend[i]!.order, sim, ctx);
        if (sent) {
          report.sent.push(sent);
          const latencyMs = this.deps.nowMs() - seenAtMs;
          report.broadcastLatencyMs.push(latencyMs);
          this.deps.metrics?.hedge(sent.vault, "sent");
          this.deps.metrics?.observeBroadcastLatencySeconds(latencyMs / 1000);
        }
      }
    }
    return report;
  }

  /** Once per processed read, before any plan of it. */
  #updateHedgeAnchors(read: ReadResult): void {
    const next = updateHedgeAnchors(this.#hedgeAnchors, read.vaults);
    // A vault unreadable in this block was not seen, not removed: dropping its anchor would re-anchor it at
    // whatever spot the next successful read shows.
    for (const { vault } of read.failures) {
      const anchor = this.#hedgeAnchors.get(vault);
      if (anchor !== undefined && !next.has(vault)) next.set(vault, anchor);
    }
    this.#hedgeAnchors = next;
  }

  /** `block.basefee` seen by an eth_call can be 0 or stale: never price gas below the last fee-history base fee. */
  #withKnownBaseFee(read: ReadResult): ReadResult {
    const known = this.#fees.last?.nextBaseFeeWei ?? 0n;
    if (read.chain.baseFeePerGas >= known) return read;
    return { ...read, chain: { ...read.chain, baseFeePerGas: known } };
  }

  #sendContext(): SendContext {
    return {
      client: this.deps.client,
      account: this.deps.account!,
      chainId: this.#chainId!,
      nonces: this.#nonces!,
      fees: this.#fees,
      caps: this.options.caps,
      gasLimitPerHedge: this.options.gasLimitPerHedge,
    };
  }

  /**
   * Journal, sign, journal, broadcast, journal — each record fsync'd before the next step, so that a crash
   * anywhere is settled by `recover` without losing or repeating the hedge.
   */
  async #broadcast(log: Logger, plan: VaultPlan, order: HedgeOrder, sim: SimulatedHedge, ctx: SendContext): Promise<SentHedge | undefined> {
    const { journal, failpoint } = this.deps;
    const id = intentId(ctx.chainId, plan.vault, sim.blockNumber);
    try {
      journal?.recordIntent(id, plan.vault, sim.blockNumber, `${order.buyUnderlying ? "buy" : "sell"} ${wadToNumber(order.tradeWad)}`);
      failpoint?.("before-sign");
      const signed = await signHedge(ctx, sim);
      journal?.recordSigned(id, signed.nonce, {
        hash: signed.hash,
        raw: signed.raw,
        maxFeePerGas: signed.fees.maxFeePerGas.toString(),
        maxPriorityFeePerGas: signed.fees.maxPriorityFeePerGas.toString(),
        gasLimit: sim.gasLimit.toString(),
        deadline: sim.args[3].toString(),
        kind: "hedge",
      });
      failpoint?.("after-journal");
      const sent = { ...sentFrom(signed), intentId: id };
      try {
        await broadcastSigned(ctx, signed);
      } catch (error) {
        // Signed and journaled: the bytes are final. Track them anyway — a later block re-checks by receipt, and
        // a restart re-broadcasts them — rather than re-sign a second transaction for the same intent.
        this.pending.add(sent, this.deps.nowMs());
        throw error;
      }
      journal?.recordBroadcast(id, signed.hash);
      failpoint?.("after-broadcast");
      this.pending.add(sent, this.deps.nowMs());
      log.info(
        {
          vault: plan.vault,
          hash: sent.hash,
          nonce: sent.nonce,
          gasLimit: Number(sent.gasLimit),
          maxFeeGwei: Number(sent.fees.maxFeePerGas) / 1e9,
          ...orderFields(order, plan.snapshot),
        },
        "hedge sent",
      );
      return sent;
    } catch (error) {
      if (journal?.get(id) && !journal.get(id)!.versions.length) journal.recordAbandoned(id, `not signed: ${errorMessage(error)}`);
      this.#logSendFailure(log, plan.vault, error);
      return undefined;
    }
  }

  /**
   * One line per failed send, and a back-off (no retry per block) unless the vault simply no longer needs the
   * hedge. A simulation's revert is classified by `classifyVaultError`: the state moved since the read, and the
   * table says whether to stand down, wait (oracle, pause, budget window, payouts) or re-size.
   */
  #logSendFailure(log: Logger, vault: Address, error: unknown): void {
    this.deps.metrics?.hedge(vault, error instanceof HedgeSimulationError ? "simulation_failed" : "skipped");
    if (error instanceof HedgeSimulationError) {
      const { action, meaning } = classifyVaultError(error.errorName);
      if (action === "stand-down") {
        // Two keepers on one vault: the contract's spacing let the other one through, or its trade (or the
        // market) brought the delta within the tolerance. Nothing is wrong, and nothing to retry.
        const msg =
          error.errorName === "DeltaWithinTolerance"
            ? "vault already within its delta tolerance: standing down"
            : "another keeper hedged this vault first: standing down";
        log.info({ vault, error: error.errorName }, msg);
        return;
      }
      this.#backOff(vault, this.#lastBlock);
      const fields = {
        vault,
        error: error.errorName,
        args: error.errorArgs.map(String),
        action,
        backoffUntilBlock: Number(this.#backoff.get(vault)!.untilBlock),
      };
      if (action === "operator") log.error(fields, `hedge not sent: ${meaning}`);
      else log.warn(fields, `hedge not sent: ${meaning}`);
      return;
    }
    this.#backOff(vault, this.#lastBlock);
    if (error instanceof FeeCapExceededError || error instanceof GasCapExceededError) {
      log.warn({ vault }, `hedge not sent: ${error.message}`);
    } else {
      log.error({ vault, error: errorMessage(error) }, "hedge not sent: RPC or signing failure");
    }
  }

  #logDecision(log: Logger, plan: VaultPlan): void {
    const { decision, view } = plan;
    // Conditions that stop hedging for a while (oracle, pause, a spent budget…): one line when each starts or ends.
    for (const line of this.#holds.observe(plan)) log[line.level](line.fields, line.msg);
    const fields = {
      vault: plan.vault,
      decision: decision.kind,
      reason: decision.reason,
      delta: round(view.delta, 6),
      band: decision.band === undefined ? undefined : round(decision.band, 6),
      spot: round(view.spot, 4),
      pending: plan.pending || undefined,
    };
    if (!plan.greeks.ok) {
      log.warn({ vault: plan.vault, maxRelativeDiff: plan.greeks.maxRelativeDiff }, "on-chain and off-chain Greeks disagree beyond GREEKS_TOLERANCE");
    }
    const skipError = plan.sizing?.kind === "skip" ? (plan.sizing.error ?? "") : "";
    const key = `${decision.kind}:${plan.sizing?.kind ?? ""}:${skipError}`;
    const changed = this.#lastDecision.get(plan.vault) !== key;
    this.#lastDecision.set(plan.vault, key);
    // A decision that repeats every block goes to debug; every change, and every rebalance that is not held back
    // by sizing for the same reason as in the last block, to info.
    if ((decision.kind === "rebalance" && plan.sizing?.kind !== "skip") || changed) log.info(fields, "decision");
    else log.debug(fields, "decision");
  }

  #logOutcome(log: Logger, outcome: HedgeOutcome): void {
    const { sent, receipt } = outcome;
    const base = {
      vault: sent.vault,
      hash: sent.hash,
      minedInBlock: Number(receipt.blockNumber),
      blocksAfterDecision: Number(receipt.blockNumber - sent.decidedAtBlock),
      gasUsed: Number(receipt.gasUsed),
      effectiveGasPriceGwei: Number(receipt.effectiveGasPrice) / 1e9,
    };
    if (outcome.kind === "reverted") {
      log.error(base, "hedge reverted on-chain (state moved between simulation and inclusion): backing off");
      return;
    }
    if (outcome.kind === "cancelled") {
      log.info(base, "cancel mined: the stuck hedge's nonce is settled, no trade");
      return;
    }
    log.info(
      {
        ...base,
        deltaBefore: outcome.deltaBeforeWad === undefined ? undefined : round(wadToNumber(outcome.deltaBeforeWad), 6),
        deltaAfter: outcome.deltaAfterWad === undefined ? undefined : round(wadToNumber(outcome.deltaAfterWad), 6),
      },
      "hedge mined",
    );
  }
}

function orderFields(order: HedgeOrder & { cappedBy?: readonly string[] }, snapshot: { netDeltaWad: bigint }) {
  return {
    side: order.buyUnderlying ? "buy" : "sell",
    size: round(wadToNumber(order.tradeWad), 6),
    deltaBefore: round(wadToNumber(snapshot.netDeltaWad), 6),
    deltaAfter: round(wadToNumber(order.deltaAfterWad), 6),
    amountIn: order.amountIn.toString(),
    minAmountOut: order.minAmountOut.toString(),
    slippageBps: round(order.slippageBps, 2),
    costQuote: round(order.totalCostQuote, 4),
    benefitQuote: round(order.benefitQuote, 4),
    partial: order.partial || undefined,
    cappedBy: order.cappedBy?.length ? order.cappedBy.join(", ") : undefined,
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
