/**
 * The keeper's Prometheus metrics. `KeeperMetrics` owns its own registry (never prom-client's global one), so
 * tests, the simulator and several keepers in one process never collide, and it exposes one typed method per
 * event the runtime records: callers never touch a prom-client object or spell a metric name.
 *
 * Names follow Prometheus conventions: the `keeper_` prefix, the unit as a suffix (`_seconds`, `_wei`,
 * `_blocks`), `_total` on counters. Labels are bounded: `vault` by the configured vaults, `method` by the
 * JSON-RPC methods viem calls, `url` by the configured endpoints — and `url` only ever holds what the injected
 * redaction function returns (scheme and host), never credentials, a path or a query string.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * What became of one hedge, as counted by `keeper_hedges_total{result}`. `superseded`: its nonce was mined by a
 * transaction that is none of its versions (another sender on the keeper's key), so it never will be.
 */
export type HedgeResult = "sent" | "mined" | "reverted" | "skipped" | "simulation_failed" | "replaced" | "cancelled" | "superseded";

export const HEDGE_RESULTS: readonly HedgeResult[] = [
  "sent",
  "mined",
  "reverted",
  "skipped",
  "simulation_failed",
  "replaced",
  "cancelled",
  "superseded",
];

/** How a pending hedge was replaced: a fee bump of the same transaction, or a cancel (a 0-value self-send). */
export type ReplacementKind = "bump" | "cancel";

export const REPLACEMENT_KINDS: readonly ReplacementKind[] = ["bump", "cancel"];

/** One vault as seen at one block, in the model's units (converted from wad by the caller). */
export interface VaultObservation {
  vault: string;
  /** The block this observation is pinned to: out-of-band streaks are counted in blocks, not calls. */
  blockNumber: bigint;
  /** Net delta, underlying units. */
  delta: number;
  /** Net gamma, underlying units per quote unit of price. */
  gamma: number;
  /** The policy's band half-width, underlying units; undefined when the policy has none (the series is removed). */
  band: number | undefined;
  /** Whether |delta| is beyond the band at this block. */
  outOfBand: boolean;
  /** The hard limit on |delta| in force (`MAX_ABS_DELTA` or the policy's), underlying units; undefined: none. */
  hardLimit?: number | undefined;
  oracleAgeSeconds: number;
  oracleFresh: boolean;
  /** The vault's perp position, when it has a perp market. */
  perp?: PerpObservation;
}

/** A vault's perp position at one block. */
export interface PerpObservation {
  /** Underlying units, long > 0. */
  position: number;
  /** Effective margin as basis points of the position's notional; +Infinity without a position. */
  marginRatioBps: number;
  /** Funding accrued since the position's last trade, quote units; positive = received. */
  fundingAccrued: number;
  /** The maintenance margin in basis points of the position's notional (the liquidation line); +Infinity without a position. */
  maintenanceMarginBps?: number;
}

export interface KeeperMetricsOptions {
  /**
   * Turns an RPC URL into a label value that holds no secret (the keeper passes `redactUrl` from
   * `keeper/telemetry/redact.ts`: scheme and host only). Applied to every `url` label, once per distinct URL.
   */
  redactUrl: (url: string) => string;
  /** Also collect prom-client's process metrics (CPU, memory, event-loop lag) into this registry. Default false. */
  processMetrics?: boolean;
}

/** Decision time: the pure plan takes ~0.03 ms for one vault and ~2 ms for 100 (README, "What a block costs"). */
const DECISION_BUCKETS_SECONDS = [1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25];

/** Block to broadcast: 1 ms (one vault on a local node) to 10 s (a slow RPC), roughly ×2.5 per bucket. */
const BROADCAST_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type VaultLabel = "vault";

export class KeeperMetrics {
  /** This instance's registry; `metrics()` scrapes it. */
  readonly registry: Registry;
  readonly #redactUrl: (url: string) => string;
  /** Redacted label per raw URL: redaction parses the URL, which is not worth doing on every request. */
  readonly #urlLabels = new Map<string, string>();
  /** First block of each vault's current out-of-band streak; absent while the vault is in band. */
  readonly #outOfBandSince = new Map<string, bigint>();
  readonly #outOfBandBlocks = new Map<string, number>();
  /** First block of each vault's current streak beyond its hard limit. */
  readonly #outsideLimitSince = new Map<string, bigint>();
  readonly #knownVaults = new Set<string>();

  readonly #blocksSeen: Counter;
  readonly #headBlock: Gauge;
  readonly #headLag: Gauge;
  readonly #ticksSkipped: Counter;
  readonly #decision: Histogram;
  readonly #blockToBroadcast: Histogram;
  readonly #vaultDelta: Gauge<VaultLabel>;
  readonly #vaultGamma: Gauge<VaultLabel>;
  readonly #vaultBand: Gauge<VaultLabel>;
  readonly #vaultOutOfBand: Gauge<VaultLabel>;
  readonly #vaultHardLimit: Gauge<VaultLabel>;
  readonly #vaultOutsideLimit: Gauge<VaultLabel>;
  readonly #gasBudgetUsed: Gauge<"vault" | "window">;
  readonly #perpMaintenance: Gauge<VaultLabel>;
  readonly #hedges: Counter<"vault" | "result">;
  readonly #replacements: Counter<"vault" | "kind">;
  readonly #gasUsed: Counter<VaultLabel>;
  readonly #gasSpentWei: Counter<"vault" | "part">;
  readonly #rpcRequests: Counter<"method" | "url">;
  readonly #rpcErrors: Counter<"method" | "url">;
  readonly #oracleAge: Gauge<VaultLabel>;
  readonly #oracleStale: Gauge<VaultLabel>;
  readonly #signerBalance: Gauge;
  readonly #pending: Gauge;
  readonly #perpPosition: Gauge<VaultLabel>;
  readonly #perpMarginRatio: Gauge<VaultLabel>;
  readonly #perpFundingAccrued: Gauge<VaultLabel>;
  readonly #perpFunding: Counter<"vault" | "direction">;
  readonly #oldestPending: Gauge;
  readonly #nonceGap: Gauge;

  constructor(options: KeeperMetricsOptions) {
    this.#redactUrl = options.redactUrl;
    const registry = new Registry();
    this.registry = registry;
    if (options.processMetrics) collectDefaultMetrics({ register: registry });
    const registers = [registry];

    this.#blocksSeen = new Counter({ name: "keeper_blocks_seen_total", help: "New blocks the keeper processed.", registers });
    this.#headBlock = new Gauge({ name: "keeper_head_block", help: "Number of the last block processed.", registers });
    this.#headLag = new Gauge({
      name: "keeper_head_lag_seconds",
      help: "Wall clock minus the last processed block's timestamp when it was processed (negative: clock skew).",
      registers,
    });
    this.#ticksSkipped = new Counter({
      name: "keeper_ticks_skipped_total",
      help: "Blocks skipped because the previous tick was still running.",
      registers,
    });
    this.#decision = new Histogram({
      name: "keeper_decision_seconds",
      help: "Time spent in the pure decision code (plan) per block.",
      buckets: DECISION_BUCKETS_SECONDS,
      registers,
    });
    this.#blockToBroadcast = new Histogram({
      name: "keeper_block_to_broadcast_seconds",
      help: "From the block becoming known to the hedge's broadcast, per hedge sent.",
      buckets: BROADCAST_BUCKETS_SECONDS,
      registers,
    });
    this.#vaultDelta = new Gauge({ name: "keeper_vault_delta", help: "Vault net delta, underlying units.", labelNames: ["vault"], registers });
    this.#vaultGamma = new Gauge({
      name: "keeper_vault_gamma",
      help: "Vault net gamma, underlying units per quote unit of price.",
      labelNames: ["vault"],
      registers,
    });
    this.#vaultBand = new Gauge({
      name: "keeper_vault_band",
      help: "The policy's band half-width for the vault, underlying units.",
      labelNames: ["vault"],
      registers,
    });
    this.#vaultOutOfBand = new Gauge({
      name: "keeper_vault_out_of_band_blocks",
      help: "Consecutive blocks the vault's delta has been beyond its band (0 when in band).",
      labelNames: ["vault"],
      registers,
    });
    this.#vaultHardLimit = new Gauge({
      name: "keeper_vault_hard_limit",
      help: "The hard limit on the vault's |net delta| in force (MAX_ABS_DELTA or the policy's), underlying units; absent when none.",
      labelNames: ["vault"],
      registers,
    });
    this.#vaultOutsideLimit = new Gauge({
      name: "keeper_vault_outside_hard_limit_blocks",
      help: "Consecutive blocks the vault's |net delta| has been beyond its hard limit (0 when within).",
      labelNames: ["vault"],
      registers,
    });
    this.#gasBudgetUsed = new Gauge({
      name: "keeper_gas_budget_used_ratio",
      help: "Share of the vault's gas budget spent in the rolling window (GAS_BUDGET_PER_HOUR / _DAY; 1 = spent, hedges held); only configured windows.",
      labelNames: ["vault", "window"],
      registers,
    });
    this.#perpMaintenance = new Gauge({
      name: "keeper_perp_maintenance_margin_bps",
      help: "The perp position's maintenance margin (its liquidation line) in basis points of its notional; +Inf without a position.",
      labelNames: ["vault"],
      registers,
    });
    this.#hedges = new Counter({ name: "keeper_hedges_total", help: "Hedges by outcome.", labelNames: ["vault", "result"], registers });
    this.#replacements = new Counter({
      name: "keeper_replacements_total",
      help: "Pending hedges replaced, by kind (fee bump or cancel).",
      labelNames: ["vault", "kind"],
      registers,
    });
    this.#gasUsed = new Counter({ name: "keeper_gas_used_total", help: "Gas used by mined hedges (receipt gasUsed).", labelNames: ["vault"], registers });
    this.#gasSpentWei = new Counter({
      name: "keeper_gas_spent_wei_total",
      help: "Native token spent on hedge transactions, wei, by part: L2 (or L1) execution, and a rollup's L1 data fee (float, so approximate above 2^53). Sum the parts for the total.",
      labelNames: ["vault", "part"],
      registers,
    });
    this.#rpcRequests = new Counter({
      name: "keeper_rpc_requests_total",
      help: "JSON-RPC requests sent, by method and endpoint (scheme and host only).",
      labelNames: ["method", "url"],
      registers,
    });
    this.#rpcErrors = new Counter({
      name: "keeper_rpc_errors_total",
      help: "JSON-RPC requests that failed, by method and endpoint (scheme and host only).",
      labelNames: ["method", "url"],
      registers,
    });
    this.#oracleAge = new Gauge({
      name: "keeper_oracle_age_seconds",
      help: "Age of the vault's oracle answer at the last block processed.",
      labelNames: ["vault"],
      registers,
    });
    this.#oracleStale = new Gauge({
      name: "keeper_oracle_stale",
      help: "1 when the vault's oracle is older than the vault's maxOracleAge (rebalance would revert), else 0.",
      labelNames: ["vault"],
      registers,
    });
    this.#signerBalance = new Gauge({ name: "keeper_signer_balance_wei", help: "The signer's native balance, wei (float).", registers });
    this.#pending = new Gauge({ name: "keeper_pending_transactions", help: "Hedge transactions sent and not yet settled.", registers });
    this.#oldestPending = new Gauge({
      name: "keeper_oldest_pending_blocks",
      help: "Age in blocks of the oldest pending hedge transaction (0 when none).",
      registers,
    });
    this.#nonceGap = new Gauge({
      name: "keeper_nonce_gap",
      help: "Local next nonce minus the chain's pending nonce (> 0: a sent transaction the node does not know).",
      registers,
    });
    this.#perpPosition = new Gauge({
      name: "keeper_perp_position",
      help: "The vault's perp position, underlying units (long > 0); only vaults with a perp market.",
      labelNames: ["vault"],
      registers,
    });
    this.#perpMarginRatio = new Gauge({
      name: "keeper_perp_margin_ratio_bps",
      help: "The perp position's effective margin (remaining less premium credit) in basis points of its notional; +Inf without a position.",
      labelNames: ["vault"],
      registers,
    });
    this.#perpFundingAccrued = new Gauge({
      name: "keeper_perp_funding_accrued_quote",
      help: "Funding accrued on the perp position since its last trade, quote units (positive = received).",
      labelNames: ["vault"],
      registers,
    });
    this.#perpFunding = new Counter({
      name: "keeper_perp_funding_quote_total",
      help: "Funding settled into the vault's perp margin at its trades, quote units, by direction (paid, received).",
      labelNames: ["vault", "direction"],
      registers,
    });
  }

  /** The Content-Type of `metrics()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text of every metric in this registry. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** A new block was processed (a tick started on it). Call once per block. */
  blockSeen(blockNumber: bigint | number, headTimestampSec: bigint | number, nowSec: number): void {
    this.#blocksSeen.inc();
    this.#headBlock.set(Number(blockNumber));
    this.#headLag.set(nowSec - Number(headTimestampSec));
  }

  /** A block arrived while the previous tick was still running, and was skipped. */
  tickSkipped(): void {
    this.#ticksSkipped.inc();
  }

  observeDecisionSeconds(seconds: number): void {
    this.#decision.observe(seconds);
  }

  observeBroadcastLatencySeconds(seconds: number): void {
    this.#blockToBroadcast.observe(seconds);
  }

  /** One vault's state at one block: Greeks, band, out-of-band streak, oracle. Call once per vault per block. */
  vaultObserved(o: VaultObservation): void {
    const labels = { vault: o.vault };
    this.#ensureVault(o.vault);
    this.#vaultDelta.set(labels, o.delta);
    this.#vaultGamma.set(labels, o.gamma);
    if (o.band === undefined) this.#vaultBand.remove(labels);
    else this.#vaultBand.set(labels, o.band);
    this.#vaultOutOfBand.set(labels, this.#trackOutOfBand(o.vault, o.blockNumber, o.outOfBand));
    const limit = o.hardLimit;
    if (limit === undefined || !Number.isFinite(limit)) this.#vaultHardLimit.remove(labels);
    else this.#vaultHardLimit.set(labels, limit);
    const outside = limit !== undefined && Number.isFinite(limit) && Math.abs(o.delta) > limit;
    this.#vaultOutsideLimit.set(labels, streak(this.#outsideLimitSince, o.vault, o.blockNumber, outside));
    this.#oracleAge.set(labels, o.oracleAgeSeconds);
    this.#oracleStale.set(labels, o.oracleFresh ? 0 : 1);
    if (o.perp !== undefined) {
      this.#perpPosition.set(labels, o.perp.position);
      this.#perpMarginRatio.set(labels, o.perp.marginRatioBps);
      this.#perpFundingAccrued.set(labels, o.perp.fundingAccrued);
      if (o.perp.maintenanceMarginBps !== undefined) this.#perpMaintenance.set(labels, o.perp.maintenanceMarginBps);
    }
  }

  /** The share of each configured gas budget the vault has spent (`Throttle.budgetUse`). */
  gasBudgetUse(vault: string, use: readonly { window: "hour" | "day"; ratio: number }[]): void {
    for (const u of use) this.#gasBudgetUsed.set({ vault, window: u.window }, u.ratio);
  }

  /** Funding the perp settled into the vault's margin at a trade (`amount` > 0 received, < 0 paid), quote units. */
  perpFundingSettled(vault: string, amount: number): void {
    if (amount === 0) return;
    this.#ensureVault(vault);
    this.#perpFunding.inc({ vault, direction: amount > 0 ? "received" : "paid" }, Math.abs(amount));
  }

  /** Consecutive blocks `vault` has been out of band as of its last observation (0 if in band or never seen). */
  outOfBandBlocks(vault: string): number {
    return this.#outOfBandBlocks.get(vault) ?? 0;
  }

  hedge(vault: string, result: HedgeResult): void {
    this.#ensureVault(vault);
    this.#hedges.inc({ vault, result });
  }

  replacement(vault: string, kind: ReplacementKind): void {
    this.#ensureVault(vault);
    this.#replacements.inc({ vault, kind });
  }

  /** A hedge's receipt: gas used and what it cost, execution and (on a rollup) L1 data apart (`receiptFees`). */
  gasSpent(vault: string, gasUsed: bigint, fees: { executionWei: bigint; l1DataWei: bigint }): void {
    this.#ensureVault(vault);
    this.#gasUsed.inc({ vault }, Number(gasUsed));
    this.#gasSpentWei.inc({ vault, part: "execution" }, Number(fees.executionWei));
    this.#gasSpentWei.inc({ vault, part: "l1_data" }, Number(fees.l1DataWei));
  }

  rpcRequest(method: string, url: string): void {
    this.#rpcRequests.inc({ method, url: this.#urlLabel(url) });
  }

  rpcError(method: string, url: string): void {
    this.#rpcErrors.inc({ method, url: this.#urlLabel(url) });
  }

  /**
   * An observer for one endpoint's transport, in the shape of `RpcObserver` (`keeper/chain/clients.ts`), whose
   * hooks know the method but not the URL: `instrument(http(url), metrics.rpcObserver(url))`.
   */
  rpcObserver(url: string): { onRequest(method: string): void; onError(method: string, error: unknown): void } {
    const label = this.#urlLabel(url);
    return {
      onRequest: (method) => this.#rpcRequests.inc({ method, url: label }),
      onError: (method) => this.#rpcErrors.inc({ method, url: label }),
    };
  }

  signerBalance(wei: bigint): void {
    this.#signerBalance.set(Number(wei));
  }

  /** Hedges sent and not yet settled, and the age in blocks of the oldest (0 when none). */
  pendingTransactions(n: number, oldestAgeBlocks: number): void {
    this.#pending.set(n);
    this.#oldestPending.set(n === 0 ? 0 : oldestAgeBlocks);
  }

  /** Local next nonce minus the chain's pending nonce. */
  nonceGap(n: number): void {
    this.#nonceGap.set(n);
  }

  #urlLabel(url: string): string {
    let label = this.#urlLabels.get(url);
    if (label === undefined) {
      label = this.#redactUrl(url);
      this.#urlLabels.set(url, label);
    }
    return label;
  }

  /** Creates a vault's counters at 0 the first time it is seen, so `rate()` and `increase()` see its first event. */
  #ensureVault(vault: string): void {
    if (this.#knownVaults.has(vault)) return;
    this.#knownVaults.add(vault);
    for (const result of HEDGE_RESULTS) this.#hedges.inc({ vault, result }, 0);
    for (const kind of REPLACEMENT_KINDS) this.#replacements.inc({ vault, kind }, 0);
    this.#gasUsed.inc({ vault }, 0);
    this.#gasSpentWei.inc({ vault, part: "execution" }, 0);
    this.#gasSpentWei.inc({ vault, part: "l1_data" }, 0);
  }

  /**
   * Counts the streak by block numbers, not calls: a block the keeper skipped while out of band still counts,
   * and observing the same block twice does not. A block number below the streak's start (a reorg) restarts it.
   */
  #trackOutOfBand(vault: string, blockNumber: bigint, outOfBand: boolean): number {
    const blocks = streak(this.#outOfBandSince, vault, blockNumber, outOfBand);
    this.#outOfBandBlocks.set(vault, blocks);
    return blocks;
  }
}

/**
 * A streak counted by block numbers in `since` (first block of each vault's current streak): 0 when `on` is false
 * (the streak ends), else the blocks since it started, this one included. A block below the start (a reorg)
 * restarts it.
 */
function streak(since: Map<string, bigint>, vault: string, blockNumber: bigint, on: boolean): number {
  if (!on) {
    since.delete(vault);
    return 0;
  }
  let first = since.get(vault);
  if (first === undefined || blockNumber < first) {
    first = blockNumber;
    since.set(vault, first);
  }
  return Number(blockNumber - first) + 1;
}
