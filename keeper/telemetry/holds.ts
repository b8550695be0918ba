/**
 * Why a vault is not being hedged, said once when it starts and once when it ends — never once per block. A
 * condition the snapshot shows (the oracle unusable, the vault paused, a series awaiting settlement, an oracle far
 * from the pool) or the one sizing names (a spent budget, cash owed to settled holders, a vault already within its
 * tolerance) can last hours; the keeper re-decides every block, and this turns those decisions into log lines a
 * person reads: one line at each change, `debug` while nothing changes.
 *
 * The same for the hard delta limit (`MAX_ABS_DELTA`): a vault outside it is said once when the episode starts
 * (info while the keeper is trading it back, warn when something stops it — a vault guard, the pool's liquidity, the
 * hedging budget, the oracle), again only when that reason changes, and once when the vault is back inside.
 * `limitStatus` is the one classification, which `status` shows as well.
 *
 * Pure bookkeeping: `observe` takes one vault's plan and returns the lines to log; the keeper logs them.
 */
import type { Address } from "viem";
import { classifyVaultError, type VaultErrorAction } from "../chain/errors.ts";
import type { VaultPlan } from "../tick.ts";
import { round } from "./format.ts";
import type { OracleStatus } from "../types.ts";
import type { RebalanceErrorName } from "../sizing/size.ts";

export type HoldLogLevel = "debug" | "info" | "warn" | "error";

/** One line to log. */
export interface HoldLogLine {
  level: HoldLogLevel;
  fields: Record<string, unknown>;
  msg: string;
}

/** While the oracle is unusable the vault refuses every rebalance (its error of the same name): one line each. */
const ORACLE_HOLDS: Readonly<Record<Exclude<OracleStatus, "Usable">, string>> = Object.freeze({
  Stale: "oracle stale: no hedge for this vault until it updates",
  InvalidAnswer: "oracle answer not positive (InvalidOraclePrice): no hedge for this vault until it is",
  SequencerDown: "L2 sequencer down (SequencerDown): no hedge for this vault until it is back and past its grace period",
  SequencerGracePeriod: "L2 sequencer back within its grace period (SequencerGracePeriod): no hedge for this vault until it ends",
});

/** How loud a sizing skip naming a vault error is, by what the keeper should do about it. */
const SKIP_LEVEL: Readonly<Record<VaultErrorAction, HoldLogLevel>> = Object.freeze({
  "stand-down": "info",
  "wait-vault": "warn",
  "wait-budget": "warn",
  "wait-payouts": "warn",
  resize: "info",
  operator: "error",
});

/** Sizing holds whose end is news: hedging resumes after a wait the operator was warned about. */
const WAITS: ReadonlySet<VaultErrorAction> = new Set(["wait-budget", "wait-payouts", "wait-vault"]);

/** What keeps a vault outside its hard limit: the words `status` and the logs use. */
export type LimitBlocker = "guard" | "liquidity" | "budget" | "oracle" | "sizing" | "policy";

/** Where a vault stands against its hard delta limit in one plan. */
export type LimitStatus =
  | { kind: "none" }
  | { kind: "inside" }
  /** Outside, and on its way back: an order this block, a hedge pending, or the vault's rebalance spacing. */
  | { kind: "returning"; how: string }
  /** Outside, and nothing this block brings it back. */
  | { kind: "blocked"; by: LimitBlocker; reason: string };

/** The sizing skips that are the pool's doing, and those that are the budget's; every other vault error is a guard. */
const LIQUIDITY_ERRORS: ReadonlySet<string> = new Set(["InsufficientLiquidity", "SlippageTooHigh", "InsufficientOutput", "MaxSkewExceeded"]);
const BUDGET_ERRORS: ReadonlySet<string> = new Set(["NotionalBudgetExceeded", "SlippageBudgetExceeded"]);

/**
 * Where `plan`'s vault stands against its hard limit (`plan.maxAbsDelta`). Outside it, the plan either brings the
 * vault back (an order; a pending hedge; only the rebalance spacing in the way) or says what stops it: the vault's
 * guards (paused, cash, hedge balance, maxTradeWad…), the pool (`liquidity`: the slippage bound or depth), the
 * hedging budget, the oracle (unusable or far from the pool), or a sizing skip that names no vault error (dust).
 * The fee cap and the gas budget stop a hedge later, at send time: the send's own log line says so.
 */
export function limitStatus(plan: VaultPlan): LimitStatus {
  if (!Number.isFinite(plan.maxAbsDelta)) return { kind: "none" };
  if (!(Math.abs(plan.view.delta) > plan.maxAbsDelta)) return { kind: "inside" };
  if (plan.pending) return { kind: "returning", how: "a hedge is pending" };
  const { decision, snapshot } = plan;
  if (decision.kind === "hold") {
    if (decision.cause === "wild-oracle") return { kind: "blocked", by: "oracle", reason: decision.reason };
    if (decision.cause === "policy") return { kind: "blocked", by: "policy", reason: decision.reason };
    if (snapshot.paused) return { kind: "blocked", by: "guard", reason: "the vault is paused (VaultPaused)" };
    if (snapshot.oracleStatus !== "Usable") return { kind: "blocked", by: "oracle", reason: `oracle ${snapshot.oracleStatus}` };
    return { kind: "returning", how: `waiting for the rebalance spacing (next at block ${snapshot.nextRebalanceBlock})` };
  }
  const sizing = plan.sizing;
  if (sizing === undefined || sizing.kind === "order") {
    const caps = sizing?.order.cappedBy ?? [];
    return { kind: "returning", how: caps.length === 0 ? "trading back" : `trading back in slices (capped by ${caps.join(", ")})` };
  }
  const by: LimitBlocker =
    sizing.error === undefined
      ? "sizing"
      : LIQUIDITY_ERRORS.has(sizing.error)
        ? "liquidity"
        : BUDGET_ERRORS.has(sizing.error)
          ? "budget"
          : "guard";
  return { kind: "blocked", by, reason: sizing.reason };
}

interface VaultState {
  oracle: OracleStatus;
  paused: boolean;
  settlementPending: boolean;
  wild: boolean;
  /** The vault error the last sizing skip named ("" for a skip that names none); undefined when not skipping. */
  skip: string | undefined;
  /** Outside the hard limit: "returning" or the blocker; undefined inside it (or without one). */
  limit: string | undefined;
  /** Whether this episode outside the limit has been warned about (once per episode). */
  limitWarned: boolean;
  /** The block the episode started in. */
  limitSince: bigint;
}

const INITIAL: Readonly<VaultState> = Object.freeze({
  oracle: "Usable",
  paused: false,
  settlementPending: false,
  wild: false,
  skip: undefined,
  limit: undefined,
  limitWarned: false,
  limitSince: 0n,
});

export class VaultHolds {
  #state = new Map<Address, VaultState>();

  /** The lines this plan calls for, given what was logged for the vault so far. */
  observe(plan: VaultPlan): HoldLogLine[] {
    const vault = plan.vault;
    const s = plan.snapshot;
    const prev = this.#state.get(vault) ?? INITIAL;
    const lines: HoldLogLine[] = [];
    const next: VaultState = { ...prev };

    if (s.oracleStatus !== prev.oracle) {
      next.oracle = s.oracleStatus;
      if (s.oracleStatus === "Usable") {
        lines.push({ level: "info", fields: { vault }, msg: "oracle fresh again: hedging resumes" });
      } else {
        lines.push({
          level: "warn",
          fields: { vault, oracleStatus: s.oracleStatus, oracleAgeSeconds: Number(s.oracleAgeSeconds), maxOracleAge: s.hedge.maxOracleAge },
          msg: ORACLE_HOLDS[s.oracleStatus],
        });
      }
    }

    if (s.paused !== prev.paused) {
      next.paused = s.paused;
      lines.push(
        s.paused
          ? { level: "warn", fields: { vault }, msg: "vault paused (VaultPaused): no hedge until it is unpaused" }
          : { level: "info", fields: { vault }, msg: "vault unpaused: hedging resumes" },
      );
    }

    if (s.settlementPending !== prev.settlementPending) {
      next.settlementPending = s.settlementPending;
      lines.push(
        s.settlementPending
          ? {
              level: "info",
              fields: { vault },
              msg: "a series expired and awaits settleSeries: the vault's deposits and withdrawals wait for it (hedging goes on)",
            }
          : { level: "info", fields: { vault }, msg: "no series awaits settlement any more" },
      );
    }

    const wild = plan.decision.kind === "hold" && plan.decision.cause === "wild-oracle";
    if (wild !== prev.wild) {
      next.wild = wild;
      lines.push(
        wild
          ? { level: "warn", fields: { vault, reason: plan.decision.reason }, msg: "oracle far from the pool price: no hedge until they agree" }
          : { level: "info", fields: { vault }, msg: "oracle and pool agree again: hedging resumes" },
      );
    }

    // A sizing hold lasts until sizing produces an order or skips for another reason: a decision to hold in
    // between (the delta back in band for a while) neither ends nor repeats it.
    const sizing = plan.sizing;
    if (sizing?.kind === "skip") {
      const key = sizing.error ?? "";
      const info = sizing.error === undefined ? undefined : classifyVaultError(sizing.error);
      const fields = { vault, reason: sizing.reason, ...(sizing.error === undefined ? {} : { error: sizing.error }) };
      const level = key === prev.skip ? "debug" : info === undefined ? "info" : SKIP_LEVEL[info.action];
      lines.push({ level, fields, msg: "hedge skipped by sizing" });
      next.skip = key;
    } else if (sizing?.kind === "order" && prev.skip !== undefined) {
      if (prev.skip !== "" && WAITS.has(classifyVaultError(prev.skip).action)) {
        lines.push({ level: "info", fields: { vault, after: prev.skip }, msg: "sizing no longer held back: hedging resumes" });
      }
      next.skip = undefined;
    }

    lines.push(...limitLines(plan, prev, next));
    this.#state.set(vault, next);
    return lines;
  }
}

/** The hard-limit lines for `plan` (see the module comment), updating `next`'s episode state. */
function limitLines(plan: VaultPlan, prev: VaultState, next: VaultState): HoldLogLine[] {
  const status = limitStatus(plan);
  const vault = plan.vault;
  const block = plan.snapshot.blockNumber;
  const fields = { vault, delta: round(plan.view.delta, 6), maxAbsDelta: plan.maxAbsDelta };
  if (status.kind === "none" || status.kind === "inside") {
    next.limit = undefined;
    next.limitWarned = false;
    if (prev.limit === undefined) return [];
    return [{ level: "info", fields: { ...fields, blocksOutside: Number(block - prev.limitSince) }, msg: "vault back within its hard delta limit" }];
  }
  const key = status.kind === "returning" ? "returning" : status.by;
  if (key === prev.limit) return [];
  next.limit = key;
  if (prev.limit === undefined) next.limitSince = block;
  if (status.kind === "returning") {
    return [{ level: "info", fields: { ...fields, how: status.how }, msg: "vault outside its hard delta limit: trading back to it whatever the cost" }];
  }
  // One warning per episode; a later change of reason is news, not a new alarm.
  const level = prev.limitWarned ? "info" : "warn";
  next.limitWarned = true;
  return [
    {
      level,
      fields: { ...fields, blockedBy: status.by, reason: status.reason },
      msg: `vault outside its hard delta limit and not being brought back (${status.by})`,
    },
  ];
}
