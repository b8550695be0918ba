/**
 * What the status page shows, kept in memory: per vault, a bounded history of price, net delta and band (one
 * point per block, in typed-array rings: ~20 bytes a point), the last hedges with their gas and slippage, the
 * cumulative cost, the policy and its limits, readiness with its reasons, the pending transactions, the perp's
 * margin health, and in shadow mode what the keeper would have done beside what happened on-chain.
 *
 * The board is fed once per tick (`observe`) with what the tick already has — its plans, settled outcomes and
 * sends, and the keeper's health — so it costs no RPC. It holds nothing secret: addresses, block numbers, prices,
 * amounts, reasons; no RPC URL, key or configuration beyond the policy's parameters. Subscribers (the page's
 * server-sent events) get each block's update as it is observed.
 */
import type { Address, Hash } from "viem";
import type { HedgeOutcome } from "../execution/pending.ts";
import type { SentHedge } from "../execution/sendHedge.ts";
import { wadToNumber } from "../pricing/wad.ts";
import { marginRatioBps } from "../sizing/perpSize.ts";
import type { VaultPlan } from "../tick.ts";
import type { PolicyConfig } from "../types.ts";
import { fillOf } from "./fills.ts";
import { round } from "./format.ts";
import type { Health } from "./health.ts";

/** Blocks of history kept per vault by default (~12 h of 12-second blocks). */
export const DEFAULT_STATUS_HISTORY = 3_600;
/** Hedges kept per vault (the chart marks those still inside the history). */
const MAX_HEDGES = 500;
/** Shadow-mode entries kept per vault. */
const MAX_SHADOW = 200;
/** Points in a list row's sparkline. */
const SPARK_POINTS = 60;

export interface HedgeMark {
  block: number;
  hash: Hash;
  result: "mined" | "reverted" | "cancelled";
  venue?: "amm" | "perp";
  side?: "buy" | "sell";
  /** Underlying traded. */
  size?: number;
  /** Perp margin posted (+) or withdrawn (−), quote units. */
  margin?: number;
  gasUsed: number;
  /** Gas paid, quote units (gas used × effective gas price × the oracle price of the native token). */
  gasQuote: number;
  slippageQuote: number;
  slippageBps: number;
}

export interface ShadowEntry {
  block: number;
  /** What the keeper would have sent ("would hedge"), or a rebalance someone else made on-chain. */
  kind: "would-hedge" | "on-chain";
  detail: string;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface VaultSummary {
  vault: Address;
  block: number;
  spot: number;
  delta: number;
  band: number | null;
  hardLimit: number | null;
  decision: { kind: "hold" | "rebalance"; reason: string };
  readiness: Readiness;
  venue: string;
  pending: number;
  hedges: number;
  gasQuote: number;
  slippageQuote: number;
  perp: { size: number; marginRatioBps: number | null; minMarginBps: number; liquidatable: boolean } | null;
  /** The last SPARK_POINTS deltas, oldest first. */
  spark: number[];
}

export interface VaultDetail extends VaultSummary {
  history: { block: number[]; spot: number[]; delta: number[]; band: (number | null)[] };
  hedgeMarks: HedgeMark[];
  pendingTx: { hash: Hash; nonce: number; sentAtBlock: number }[];
  shadow: ShadowEntry[];
}

export interface KeeperStatus {
  head: number | null;
  live: boolean;
  ready: boolean;
  reasons: string[];
  mode: "live" | "shadow" | "dry-run";
  policy: PolicyConfig;
  historyBlocks: number;
  vaults: VaultSummary[];
}

/** One block's update, as the page's event stream carries it. */
export interface StatusUpdate {
  head: number;
  live: boolean;
  ready: boolean;
  reasons: string[];
  /** Each vault's summary without its sparkline (the page extends its own with `point`), and what is new. */
  vaults: (Omit<VaultSummary, "spark"> & { point: { block: number; spot: number; delta: number; band: number | null }; newHedges: HedgeMark[]; newShadow: ShadowEntry[] })[];
}

/** A fixed-capacity ring of points: block (float64, exact to 2^53) and spot, delta, band (float32; band NaN: none). */
class PointRing {
  readonly block: Float64Array;
  readonly spot: Float32Array;
  readonly delta: Float32Array;
  readonly band: Float32Array;
  readonly capacity: number;
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.block = new Float64Array(capacity);
    this.spot = new Float32Array(capacity);
    this.delta = new Float32Array(capacity);
    this.band = new Float32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(block: number, spot: number, delta: number, band: number | null): void {
    const i = (this.#start + this.#size) % this.capacity;
    this.block[i] = block;
    this.spot[i] = spot;
    this.delta[i] = delta;
    this.band[i] = band ?? Number.NaN;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The k-th point, oldest first. */
  index(k: number): number {
    return (this.#start + k) % this.capacity;
  }

  firstBlock(): number | undefined {
    return this.#size === 0 ? undefined : this.block[this.#start];
  }
}

class VaultTrack {
  readonly ring: PointRing;
  hedgeMarks: HedgeMark[] = [];
  shadow: ShadowEntry[] = [];
  hedges = 0;
  gasQuote = 0;
  slippageQuote = 0;
  lastRebalanceBlock: bigint | undefined;
  summary: VaultSummary | undefined;

  constructor(capacity: number) {
    this.ring = new PointRing(capacity);
  }
}

/** An unusable oracle's status in words (`Usable` with `oracleFresh` false: too old for the vault). */
const ORACLE_WORDS: Record<VaultPlan["snapshot"]["oracleStatus"], string> = {
  Usable: "stale",
  Stale: "stale",
  InvalidAnswer: "answer invalid",
  SequencerDown: "unusable: the L2 sequencer is down",
  SequencerGracePeriod: "unusable: the L2 sequencer is in its grace period",
};


export class StatusBoard {
  readonly #tracks = new Map<Address, VaultTrack>();
  readonly #listeners = new Set<(update: StatusUpdate) => void>();
  readonly #history: number;
  readonly #policy: PolicyConfig;
  readonly #mode: KeeperStatus["mode"];
  #head: number | null = null;
  #health: Health = { live: true, ready: false, reasons: ["no block processed yet"] };
  #pendingByVault = new Map<Address, { hash: Hash; nonce: number; sentAtBlock: number }[]>();

  constructor(options: { historyBlocks?: number; policy: PolicyConfig; mode: KeeperStatus["mode"] }) {
    const history = options.historyBlocks ?? DEFAULT_STATUS_HISTORY;
    if (!Number.isInteger(history) || history < 10) throw new RangeError(`status history must be a whole number of blocks ≥ 10, got ${history}`);
    this.#history = history;
    this.#policy = options.policy;
    this.#mode = options.mode;
  }

  get historyBlocks(): number {
    return this.#history;
  }

  /** Calls `listener` with every block's update until the returned function is called. */
  subscribe(listener: (update: StatusUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  /**
   * One tick: its plans (one per vault read), the hedges that settled and were sent in it, the transactions still
   * pending, and the keeper's health at the end of it.
   */
  observe(tick: {
    blockNumber: bigint;
    plans: readonly VaultPlan[];
    settled: readonly HedgeOutcome[];
    sent: readonly SentHedge[];
    pending: readonly SentHedge[];
    health: Health;
  }): StatusUpdate {
    const head = Number(tick.blockNumber);
    this.#head = head;
    this.#health = tick.health;
    this.#pendingByVault = new Map();
    for (const p of tick.pending) {
      const list = this.#pendingByVault.get(p.vault) ?? [];
      list.push({ hash: p.hash, nonce: p.nonce, sentAtBlock: Number(p.decidedAtBlock) });
      this.#pendingByVault.set(p.vault, list);
    }
    const newMarks = new Map<Address, HedgeMark[]>();
    const byVault = new Map(tick.plans.map((p) => [p.vault, p]));
    for (const outcome of tick.settled) {
      const plan = byVault.get(outcome.sent.vault);
      const mark = markOf(outcome, head, plan);
      const track = this.#track(outcome.sent.vault);
      track.hedgeMarks.push(mark);
      if (track.hedgeMarks.length > MAX_HEDGES) track.hedgeMarks.shift();
      if (mark.result === "mined" && mark.margin === undefined) track.hedges++;
      track.gasQuote += mark.gasQuote;
      track.slippageQuote += mark.slippageQuote;
      newMarks.set(outcome.sent.vault, [...(newMarks.get(outcome.sent.vault) ?? []), mark]);
    }
    const update: StatusUpdate = { head, live: tick.health.live, ready: tick.health.ready, reasons: tick.health.reasons, vaults: [] };
    for (const plan of tick.plans) {
      const track = this.#track(plan.vault);
      const spot = wadToNumber(plan.snapshot.spotWad);
      const delta = plan.view.delta;
      const band = plan.decision.band ?? (Number.isFinite(plan.view.onChainBand) ? plan.view.onChainBand : null);
      track.ring.push(head, spot, delta, band);
      const newShadow: ShadowEntry[] = [];
      if (this.#mode === "shadow") {
        if (plan.sizing?.kind === "order") {
          const o = plan.sizing.order;
          newShadow.push({ block: head, kind: "would-hedge", detail: `${o.perp ? "perp " : ""}${o.buyUnderlying ? "buy" : "sell"} to delta ${round(plan.decision.kind === "rebalance" ? plan.decision.targetDelta : delta, 4)}` });
        }
        const last = plan.snapshot.lastRebalanceBlock;
        if (track.lastRebalanceBlock !== undefined && last > track.lastRebalanceBlock) {
          newShadow.push({ block: Number(last), kind: "on-chain", detail: `rebalanced on-chain at block ${last} (by another keeper)` });
        }
        track.shadow.push(...newShadow);
        if (track.shadow.length > MAX_SHADOW) track.shadow.splice(0, track.shadow.length - MAX_SHADOW);
      }
      track.lastRebalanceBlock = plan.snapshot.lastRebalanceBlock;
      track.summary = this.#summaryOf(plan, track, head, spot, delta, band);
      const { spark: _spark, ...summary } = track.summary;
      update.vaults.push({ ...summary, point: { block: head, spot: round(spot, 6), delta: round(delta, 6), band: band === null ? null : round(band, 6) }, newHedges: newMarks.get(plan.vault) ?? [], newShadow });
    }
    for (const listener of this.#listeners) listener(update);
    return update;
  }

  /** The keeper and every vault's summary (the page's list view). */
  status(): KeeperStatus {
    return {
      head: this.#head,
      live: this.#health.live,
      ready: this.#health.ready,
      reasons: this.#health.reasons,
      mode: this.#mode,
      policy: this.#policy,
      historyBlocks: this.#history,
      vaults: [...this.#tracks.values()].flatMap((t) => (t.summary ? [t.summary] : [])),
    };
  }

  /** One vault's whole view (the page's detail view); undefined for a vault never seen. */
  detail(vault: string): VaultDetail | undefined {
    const key = [...this.#tracks.keys()].find((v) => v.toLowerCase() === vault.toLowerCase());
    const track = key === undefined ? undefined : this.#tracks.get(key);
    if (track?.summary === undefined) return undefined;
    const { ring } = track;
    const history: VaultDetail["history"] = { block: [], spot: [], delta: [], band: [] };
    for (let k = 0; k < ring.size; k++) {
      const i = ring.index(k);
      history.block.push(ring.block[i]!);
      history.spot.push(round(ring.spot[i]!, 4));
      history.delta.push(round(ring.delta[i]!, 5));
      const b = ring.band[i]!;
      history.band.push(Number.isNaN(b) ? null : round(b, 5));
    }
    const first = ring.firstBlock() ?? 0;
    return {
      ...track.summary,
      history,
      hedgeMarks: track.hedgeMarks.filter((m) => m.block >= first),
      pendingTx: this.#pendingByVault.get(track.summary.vault) ?? [],
      shadow: track.shadow,
    };
  }

  #track(vault: Address): VaultTrack {
    let track = this.#tracks.get(vault);
    if (track === undefined) {
      track = new VaultTrack(this.#history);
      this.#tracks.set(vault, track);
    }
    return track;
  }

  #summaryOf(plan: VaultPlan, track: VaultTrack, head: number, spot: number, delta: number, band: number | null): VaultSummary {
    const s = plan.snapshot;
    const reasons: string[] = [];
    if (!s.oracleFresh) reasons.push(`oracle ${ORACLE_WORDS[s.oracleStatus]}: updated ${s.oracleAgeSeconds} s ago`);
    if (s.paused) reasons.push("vault paused");
    if (plan.decision.kind === "hold" && plan.decision.cause !== "policy") reasons.push(plan.decision.reason);
    if (plan.sizing?.kind === "skip" && plan.decision.kind === "rebalance") reasons.push(`cannot hedge: ${plan.sizing.reason}`);
    if (Number.isFinite(plan.maxAbsDelta) && Math.abs(delta) > plan.maxAbsDelta) reasons.push(`|delta| ${round(Math.abs(delta), 4)} beyond the hard limit ${plan.maxAbsDelta}`);
    const perpSnap = s.perp;
    let perp: VaultSummary["perp"] = null;
    if (perpSnap !== undefined) {
      const ratio = marginRatioBps(s);
      perp = { size: round(wadToNumber(perpSnap.sizeWad), 6), marginRatioBps: Number.isFinite(ratio) ? round(ratio, 1) : null, minMarginBps: perpSnap.minMarginBps, liquidatable: perpSnap.liquidatable };
      if (perpSnap.liquidatable) reasons.push("perp position liquidatable");
      else if (perpSnap.sizeWad !== 0n && ratio < perpSnap.minMarginBps) reasons.push(`perp margin ${round(ratio, 0)} bps below the vault's minimum ${perpSnap.minMarginBps}`);
    }
    // The keeper's own reasons that name this vault (stuck hedge, out of band with nobody hedging it).
    for (const r of this.#health.reasons) if (r.toLowerCase().includes(plan.vault.toLowerCase())) reasons.push(r);
    const spark: number[] = [];
    const { ring } = track;
    const from = Math.max(0, ring.size - SPARK_POINTS);
    for (let k = from; k < ring.size; k++) spark.push(round(ring.delta[ring.index(k)]!, 4));
    return {
      vault: plan.vault,
      block: head,
      spot: round(spot, 6),
      delta: round(delta, 6),
      band: band === null ? null : round(band, 6),
      hardLimit: Number.isFinite(plan.maxAbsDelta) ? plan.maxAbsDelta : null,
      decision: { kind: plan.decision.kind, reason: plan.decision.kind === "rebalance" && plan.sizing?.kind === "skip" ? `${plan.decision.reason}; ${plan.sizing.reason}` : plan.decision.reason },
      readiness: { ready: reasons.length === 0, reasons },
      venue: plan.venue ?? "amm",
      pending: this.#pendingByVault.get(plan.vault)?.length ?? 0,
      hedges: track.hedges,
      gasQuote: round(track.gasQuote, 6),
      slippageQuote: round(track.slippageQuote, 6),
      perp,
      spark,
    };
  }
}

/** A settled hedge as the chart marks it: from its receipt's vault event, priced at the plan's oracle. */
function markOf(outcome: HedgeOutcome, head: number, plan: VaultPlan | undefined): HedgeMark {
  const { receipt } = outcome;
  const nativePrice = plan === undefined ? 0 : wadToNumber(plan.snapshot.spotWad);
  const gasQuote = (Number(receipt.gasUsed * receipt.effectiveGasPrice) / 1e18) * nativePrice;
  const base = { block: receipt.blockNumber === undefined ? head : Number(receipt.blockNumber), hash: outcome.sent.hash, gasUsed: Number(receipt.gasUsed), gasQuote: round(gasQuote, 6) };
  if (outcome.kind !== "mined") return { ...base, result: outcome.kind, slippageQuote: 0, slippageBps: 0 };
  const decimals = plan === undefined ? { quote: 6, underlying: 18 } : { quote: plan.snapshot.quoteDecimals, underlying: plan.snapshot.underlyingDecimals };
  const fill = fillOf(receipt, outcome.sent.vault, decimals);
  if (fill === undefined) return { ...base, result: "mined", slippageQuote: 0, slippageBps: 0 };
  if ("margin" in fill) return { ...base, result: "mined", venue: "perp", margin: Number(fill.margin) / 10 ** decimals.quote, slippageQuote: 0, slippageBps: 0 };
  return {
    ...base,
    result: "mined",
    venue: fill.venue,
    side: fill.buyUnderlying ? "buy" : "sell",
    size: round(fill.tradeUnderlying, 6),
    slippageQuote: round(fill.slippageQuote, 6),
    slippageBps: round(fill.slippageBps, 2),
  };
}
