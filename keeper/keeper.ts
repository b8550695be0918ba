/**
 * The live keeper: on each new block, one read of every vault (through the lens), the pure plan
 * (`planBlock`), logs, and the sends. A tick never overlaps the previous one: a block that arrives while a tick
 * runs is skipped and counted, and the next tick reads the latest state anyway.
 *
 * `Keeper` orchestrates the tick — settle, plan, observe, replace, decide, send — and holds only what the tick
 * itself carries across blocks (the last block, the hedges pending, hedge anchors, what `/healthz` reads). Each
 * other concern has its module, built once in the constructor from the options and deps: the journaled send with
 * the signer's nonces (`execution/journaledSend.ts`), stuck-transaction replacement and the nonce gap
 * (`execution/replace.ts`), retry back-off and gas budgets (`execution/throttle.ts`), and the decision/outcome log
 * with its metrics and shadow mode (`telemetry/decisionLog.ts`).
 */
import type { Account, Address, PublicClient } from "viem";
import { readVaults, type BookCache, type ReadResult } from "./chain/readVaults.ts";
import { errorMessage } from "./chain/errors.ts";
import { chainTypeFor, l1DataFee, type ChainType } from "./chain/l1Fee.ts";
import { FeeOracle, type FeeCaps } from "./execution/fees.ts";
import { JournaledSend, type SendStep } from "./execution/journaledSend.ts";
import type { Journal } from "./execution/journal.ts";
import { PendingHedges, type HedgeOutcome } from "./execution/pending.ts";
import { StuckReplacer } from "./execution/replace.ts";
import { hedgeCalldata, LANDING_OFFSET_BLOCKS, landingBlockFor, type SentHedge } from "./execution/sendHedge.ts";
import { Throttle } from "./execution/throttle.ts";
import { PeerTurns } from "./execution/turns.ts";
import { DecisionLog, orderFields } from "./telemetry/decisionLog.ts";
import type { HealthState } from "./telemetry/health.ts";
import type { KeeperMetrics } from "./telemetry/metrics.ts";
import type { Logger } from "./telemetry/logger.ts";
import { planBlock, updateHedgeAnchors, type HedgeAnchor, type PlanOptions, type VaultPlan } from "./tick.ts";
import type { KeeperOptions } from "./options.ts";
import type { HedgeOrder } from "./types.ts";

export type { SendStep } from "./execution/journaledSend.ts";

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
  /** Fault injection for the crash tests, at each `SendStep`: the entry point kills the process there when KEEPER_FAILPOINT names it. */
  failpoint?: (step: SendStep) => void;
  /** Called with each processed block's report, after its sends (the status page's feed). Must not throw. */
  onTick?: (report: TickReport) => void;
}

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
  skippedTicks = 0;
  readonly #fees: FeeOracle;
  #busy = false;
  #lastBlock = -1n;
  /** Per vault: its live series (to size the read's chunks) and its book as last read in full (reads are light). */
  readonly #seriesCounts = new Map<Address, number>();
  readonly #perpVaults = new Set<Address>();
  readonly #books: BookCache = new Map();
  #chainId: number | undefined;
  #startedAtMs: number | undefined;
  #lastBlockProcessedAtMs: number | undefined;
  #signerBalanceWei: bigint | undefined;
  /** Per vault: the spot at its last rebalance as first seen (`updateHedgeAnchors`), for the policy's view. */
  #hedgeAnchors = new Map<Address, HedgeAnchor>();
  /** The turn among peer keepers (`KEEPER_PEERS`) per vault. */
  readonly #turns: PeerTurns;
  readonly #throttle: Throttle;
  readonly #sends: JournaledSend;
  readonly #replacer: StuckReplacer;
  readonly #log: DecisionLog;
  readonly #caps: FeeCaps;
  /** The last L1 data fee read for a hedge (rollups), wei: reused, with a warning, when a block's read fails. */
  #l1DataFeeWei: bigint | undefined;
  private readonly options: KeeperOptions;
  private readonly deps: KeeperDeps;

  constructor(options: KeeperOptions, deps: KeeperDeps) {
    const { client, account, journal, failpoint, nowMs, metrics, wallClockSec } = deps;
    const { gasLimitPerHedge } = options;
    // The keeper's own copy: its chain type (the fee rules) is settled at the first block when not configured.
    const caps: FeeCaps = { ...options.caps };
    this.#caps = caps;
    this.options = options;
    this.deps = deps;
    this.#turns = new PeerTurns(options.turns, account?.address);
    this.#startedAtMs = nowMs();
    this.pending = new PendingHedges(client, options.confirmations);
    this.#fees = new FeeOracle(client, caps.maxPriorityFeePerGasWei);
    this.#throttle = new Throttle(options.resilience, nowMs);
    this.#sends = new JournaledSend({ client, account, journal, failpoint, nowMs, pending: this.pending, fees: this.#fees, caps, gasLimitPerHedge });
    // A stuck hedge's fresh plan is priced like the block's own: with the last L1 data fee read (no new request).
    const replan = (read: ReadResult, tipWei: bigint) => this.plan(this.#withLastL1DataFee(read), tipWei, true);
    this.#replacer = new StuckReplacer({ pending: this.pending, fees: this.#fees, caps, limits: options.resilience, deadlineSeconds: options.deadlineSeconds, sends: this.#sends, metrics, replan });
    this.#log = new DecisionLog({ metrics, wallClockSec, nowMs, throttle: this.#throttle });
  }

  get busy(): boolean {
    return this.#busy;
  }

  get lastBlock(): bigint {
    return this.#lastBlock;
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
      nonceGap: this.#replacer.nonceGap,
      signerBalanceWei: this.#signerBalanceWei,
      vaults: [...this.#log.lastRebalanceBlocks].map(([vault, lastRebalanceBlock]) => {
        const perp = this.#log.perpHealthOf(vault);
        return {
          vault,
          outOfBandBlocks: this.deps.metrics?.outOfBandBlocks(vault) ?? 0,
          lastRebalanceBlock,
          ...(perp === undefined ? {} : { perp }),
        };
      }),
    };
  }

  /** Starts journaling sends (the journal's location depends on the chain id, known after the first read). */
  attachJournal(journal: Journal): void {
    this.#sends.attach(journal);
  }

  /**
   * Settles the journal against the chain (see `reconcile`) and resumes tracking what is still in flight.
   * Call once before the first tick.
   */
  async recover(): Promise<void> {
    // An expired hedge is re-planned at the first stuck check rather than after REPLACE_AFTER_BLOCKS more.
    await this.#sends.recover(this.deps.logger, (vault) => this.#replacer.expire(vault));
  }

  /** Reads every vault once, at `blockNumber` or the latest block (light; in full where a book changed). */
  read(blockNumber?: bigint): Promise<ReadResult> {
    return readVaults(this.deps.client, {
      lens: this.options.lens,
      vaults: this.options.vaults,
      account: this.deps.account?.address ?? "0x0000000000000000000000000000000000000000",
      books: this.#books,
      callGasBudget: this.options.lensCallGasBudget,
      seriesCounts: this.#seriesCounts,
      perpVaults: this.#perpVaults,
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
      maxOracleDeviationBps: this.options.resilience.maxOracleDeviationBps,
      maxAbsDelta: this.options.maxAbsDelta,
      hedgeAnchors: this.#hedgeAnchors,
      // Spacing judged in the block the hedge lands in, so minRebalanceInterval 1 can hedge every block.
      landingOffsetBlocks: LANDING_OFFSET_BLOCKS,
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
      this.#caps.chainType ??= chainTypeFor(this.#chainId);
      const report = await this.#process(read, p.seenAtMs);
      this.deps.onTick?.(report);
      return report;
    } finally {
      this.#busy = false;
    }
  }

  /** Settle, plan, log, check stuck hedges, send: one block's pass, in that order. */
  async #process(read: ReadResult, seenAtMs: number): Promise<TickReport> {
    const block = read.chain.blockNumber;
    this.#lastBlockProcessedAtMs = this.deps.nowMs();
    this.#signerBalanceWei = this.deps.account ? read.chain.accountBalance : undefined;
    const log = this.deps.logger.child({ block: Number(block) });
    const report: TickReport = { blockNumber: block, plans: [], sent: [], settled: [], broadcastLatencyMs: [], decisionMs: 0 };

    if (this.pending.size > 0) report.settled = await this.#settle(log, read);
    for (const failure of read.failures) log.warn({ vault: failure.vault, reason: failure.reason }, "vault unreadable: skipped this block");
    this.#updateHedgeAnchors(read);

    const started = this.deps.nowMs();
    // Gas is priced for the decision without a request: the last fee quote fetched to send, or the cap's tip.
    const priced = await this.#withL1DataFee(log, this.#withKnownBaseFee(read));
    const plans = this.plan(priced, this.#fees.last?.tipWei ?? this.options.caps.maxPriorityFeePerGasWei);
    report.decisionMs = this.deps.nowMs() - started;
    report.plans = plans;
    this.#log.observe(log, read, plans, report.decisionMs, { signerBalanceWei: this.#signerBalanceWei, pending: this.pending.list() });
    for (const plan of plans) this.deps.metrics?.gasBudgetUse(plan.vault, this.#throttle.budgetUse(plan.vault));

    if (this.options.shadow) this.#log.shadow(log, plans);
    await this.#replacer.checkNonceGap(log);
    if (this.pending.size > 0 && this.deps.account && !this.options.dryRun) await this.#replacer.check(log, read, () => this.#sends.context(this.#chainId!));

    // Our own pending hedge keeps the streak: the need is being met, and the takeover clock must not restart.
    this.#turns.observe(plans.map((p) => ({ vault: p.vault, episode: p.snapshot.lastRebalanceBlock, needed: p.pending || p.sizing?.kind === "order" })), block);
    const toSend: { vault: Address; order: HedgeOrder; plan: VaultPlan; landingBlock: bigint | undefined }[] = [];
    for (const plan of plans) {
      this.#log.decision(log, plan);
      if (plan.sizing?.kind !== "order") continue;
      const { order } = plan.sizing;
      const held = this.#throttle.heldBack(plan.vault, block);
      if (held) log.info({ vault: plan.vault, reason: held }, "hedge held back");
      else if (this.options.shadow) log.info({ vault: plan.vault, ...orderFields(order, plan.snapshot) }, "shadow: would hedge");
      else if (this.options.dryRun || !this.deps.account) log.info({ vault: plan.vault, ...orderFields(order, plan.snapshot) }, "dry run: hedge not sent");
      else if (this.#myTurn(log, plan.vault, block)) toSend.push({ vault: plan.vault, order, plan, landingBlock: landingBlockFor(block, plan.snapshot.nextRebalanceBlock) });
    }
    if (toSend.length === 0) return report;
    const deadline = read.chain.timestamp + BigInt(this.options.deadlineSeconds);
    await this.#sends.sendAll(this.#sends.context(this.#chainId!), toSend, deadline, block, read.chain.timestamp, {
      failed: ({ vault }, error) => this.#log.sendFailure(log, vault, error, this.#lastBlock),
      sent: ({ plan, order }, sent) => {
        report.broadcastLatencyMs.push(this.#log.sent(log, plan, order, sent, seenAtMs));
        report.sent.push(sent);
      },
    });
    return report;
  }

  /** Polls the pending hedges; each settled one is journaled, logged, metered and counted against its budgets. */
  async #settle(log: Logger, read: ReadResult): Promise<HedgeOutcome[]> {
    const block = read.chain.blockNumber;
    const settled = await this.pending.poll(block);
    for (const outcome of settled) {
      this.#sends.settled(outcome);
      const lostRace = this.#log.settled(log, outcome, read.vaults);
      this.#throttle.settled(outcome, block, lostRace);
    }
    // A nonce another sender on this key took: settled now (no receipt will ever come), so this tick re-plans it.
    await this.#replacer.settleSuperseded(log, block);
    return settled;
  }

  /** Whether this keeper has the turn to hedge `vault` at `block` among its peers; a peer's turn is logged. */
  #myTurn(log: Logger, vault: Address, block: bigint): boolean {
    const turn = this.#turns.turn(vault, block);
    if (!turn.mine) log.debug(turn.fields, turn.msg);
    return turn.mine;
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

  /**
   * `read` with what a hedge's L1 data fee is at its block on a rollup (nothing on an L1), the chain type settled
   * from its chain id when not configured: for a one-off plan (the `status` command).
   */
  price(read: ReadResult): Promise<ReadResult> {
    this.#caps.chainType ??= chainTypeFor(Number(read.chain.chainId));
    return this.#withL1DataFee(this.deps.logger, read);
  }

  /** The chain's type (`CHAIN_TYPE`, else from its id at the first block; `l1` until then). */
  get chainType(): ChainType {
    return this.#caps.chainType ?? "l1";
  }

  /**
   * On a rollup, the L1 data fee a hedge would pay at this block (one eth_call to the chain's oracle, for a
   * `rebalance` of the first vault as it would be signed), put on the read for the cost model. A failed read reuses
   * the last fee, saying so; with none yet, the block is priced without it, saying that too.
   */
  async #withL1DataFee(log: Logger, read: ReadResult): Promise<ReadResult> {
    const chainType = this.chainType;
    const vault = this.options.vaults[0];
    if (chainType === "l1" || vault === undefined) return read;
    try {
      this.#l1DataFeeWei = await l1DataFee(this.deps.client, chainType, {
        chainId: this.#chainId ?? Number(read.chain.chainId),
        to: vault.address,
        data: hedgeCalldata({ functionName: "rebalance", args: [true, 12_345_678_901n, 4_000_000_000_000_000_000n, read.chain.timestamp + 300n] }),
        nonce: 1_000,
        gas: this.options.gasLimitPerHedge,
        maxFeePerGas: this.#caps.maxFeePerGasWei,
        maxPriorityFeePerGas: chainType === "arbitrum" ? 0n : this.#caps.maxPriorityFeePerGasWei,
      });
    } catch (error) {
      if (this.#l1DataFeeWei === undefined) {
        log.warn({ chainType, error: errorMessage(error) }, "L1 data fee unreadable and none known yet: this block's hedges are priced on execution gas alone");
        return read;
      }
      log.warn({ chainType, error: errorMessage(error), usingWei: this.#l1DataFeeWei.toString() }, "L1 data fee unreadable: using the last one read");
    }
    return { ...read, chain: { ...read.chain, l1DataFeeWei: this.#l1DataFeeWei } };
  }

  /** `read` with the last L1 data fee this keeper read (rollups; unchanged on an L1 or before the first read). */
  #withLastL1DataFee(read: ReadResult): ReadResult {
    if (this.chainType === "l1" || this.#l1DataFeeWei === undefined || read.chain.l1DataFeeWei !== undefined) return read;
    return { ...read, chain: { ...read.chain, l1DataFeeWei: this.#l1DataFeeWei } };
  }

  /** `block.basefee` seen by an eth_call can be 0 or stale: never price gas below the last fee-history base fee. */
  #withKnownBaseFee(read: ReadResult): ReadResult {
    const known = this.#fees.last?.nextBaseFeeWei ?? 0n;
    if (read.chain.baseFeePerGas >= known) return read;
    return { ...read, chain: { ...read.chain, baseFeePerGas: known } };
  }
}
