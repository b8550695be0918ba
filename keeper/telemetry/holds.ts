/**
 * Why a vault is not being hedged, said once when it starts and once when it ends — never once per block. A
 * condition the snapshot shows (the oracle unusable, the vault paused, a series awaiting settlement, an oracle far
 * from the pool) or the one sizing names (a spent budget, cash owed to settled holders, a vault already within its
 * tolerance) can last hours; the keeper re-decides every block, and this turns those decisions into log lines a
 * person reads: one line at each change, `debug` while nothing changes.
 *
 * Pure bookkeeping: `observe` takes one vault's plan and returns the lines to log; the keeper logs them.
 */
import type { Address } from "viem";
import { classifyVaultError, type VaultErrorAction } from "../chain/errors.ts";
import type { VaultPlan } from "../tick.ts";
import type { OracleStatus } from "../types.ts";

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

interface VaultState {
  oracle: OracleStatus;
  paused: boolean;
  settlementPending: boolean;
  wild: boolean;
  /** The vault error the last sizing skip named ("" for a skip that names none); undefined when not skipping. */
  skip: string | undefined;
}

const INITIAL: Readonly<VaultState> = Object.freeze({
  oracle: "Usable",
  paused: false,
  settlementPending: false,
  wild: false,
  skip: undefined,
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

    this.#state.set(vault, next);
    return lines;
  }
}
