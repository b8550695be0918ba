/**
 * How often the keeper may try a vault: after a failed send it backs the vault off (1, 2, 4 … up to 64 times
 * RETRY_BACKOFF_BLOCKS, so a persistent failure never turns into a retry storm), and the gas each vault's hedges
 * burnt counts against rolling hourly and daily budgets (GAS_BUDGET_PER_HOUR_WEI / GAS_BUDGET_PER_DAY_WEI).
 *
 * Plain bookkeeping over two maps; the clock is injected (monotonic milliseconds), so a test drives time itself.
 */
import type { Address } from "viem";
import type { Resilience } from "../options.ts";
import { receiptFees } from "../chain/l1Fee.ts";
import type { HedgeOutcome } from "./pending.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The back-off doubles per consecutive failure up to 2^6 = 64 times the base wait. */
const MAX_DOUBLINGS = 6;

/** The limits a `Throttle` applies: the resilience settings it reads. */
export type ThrottleLimits = Pick<Resilience, "retryBackoffBlocks" | "gasBudgetPerHourWei" | "gasBudgetPerDayWei">;

/** Per vault: retry back-off after failures, and gas spent in the last day. One instance per keeper. */
export class Throttle {
  /** Per vault: no new hedge before `untilBlock`; `failures` doubles the wait (bounded). */
  readonly #backoff = new Map<Address, { untilBlock: bigint; failures: number }>();
  /** Per vault: gas spent (wei) with the monotonic time it was spent, pruned to the last day. */
  readonly #spent = new Map<Address, { atMs: number; wei: bigint }[]>();
  readonly #limits: ThrottleLimits;
  readonly #nowMs: () => number;

  /**
   * @param limits back-off base (blocks) and the optional hourly/daily gas budgets (wei; undefined = no budget)
   * @param nowMs monotonic milliseconds
   */
  constructor(limits: ThrottleLimits, nowMs: () => number) {
    this.#limits = limits;
    this.#nowMs = nowMs;
  }

  /**
   * Records one more failure for `vault` at `block` and backs it off: 1, 2, 4 … up to 64 times
   * `retryBackoffBlocks`. Returns the first block at which the vault may be tried again.
   */
  backOff(vault: Address, block: bigint): bigint {
    const failures = (this.#backoff.get(vault)?.failures ?? 0) + 1;
    const wait = BigInt(this.#limits.retryBackoffBlocks * 2 ** Math.min(failures - 1, MAX_DOUBLINGS));
    const untilBlock = block + wait;
    this.#backoff.set(vault, { untilBlock, failures });
    return untilBlock;
  }

  /**
   * A hedge settled at `block`: the gas it burnt counts against its vault's budgets; mined, the vault's failures
   * are forgotten; reverted, it backs off — unless it lost a race to another keeper (the system working).
   */
  settled(outcome: HedgeOutcome, block: bigint, lostRace: boolean): void {
    const { vault } = outcome.sent;
    // The whole fee: on a rollup its L1 data part too, so a budget is spent as fast as it really is.
    this.recordSpend(vault, receiptFees(outcome.receipt).totalWei);
    if (outcome.kind === "mined") this.#backoff.delete(vault);
    if (outcome.kind === "reverted" && !lostRace) this.backOff(vault, block);
  }

  /** Counts `wei` of gas against `vault`'s budgets, now; entries older than a day are dropped. */
  recordSpend(vault: Address, wei: bigint): void {
    const list = this.#spent.get(vault) ?? [];
    list.push({ atMs: this.#nowMs(), wei });
    const dayAgoMs = this.#nowMs() - DAY_MS;
    this.#spent.set(vault, list.filter((s) => s.atMs >= dayAgoMs));
  }

  /**
   * The share of each configured gas budget `vault` has spent (0–1+, per window; a window without a budget is
   * absent), for the `keeper_gas_budget_used_ratio` metric and its alert.
   */
  budgetUse(vault: Address): { window: "hour" | "day"; ratio: number }[] {
    const now = this.#nowMs();
    const spentSince = (ms: number) => (this.#spent.get(vault) ?? []).filter((s) => s.atMs >= now - ms).reduce((a, s) => a + s.wei, 0n);
    const out: { window: "hour" | "day"; ratio: number }[] = [];
    const { gasBudgetPerHourWei: hour, gasBudgetPerDayWei: day } = this.#limits;
    if (hour !== undefined && hour > 0n) out.push({ window: "hour", ratio: Number(spentSince(HOUR_MS)) / Number(hour) });
    if (day !== undefined && day > 0n) out.push({ window: "day", ratio: Number(spentSince(DAY_MS)) / Number(day) });
    return out;
  }

  /**
   * Why `vault` may not be hedged at `block` — backing off after a failure, or a gas budget spent — as a line for
   * the log; undefined when it may.
   */
  heldBack(vault: Address, block: bigint): string | undefined {
    const backoff = this.#backoff.get(vault);
    if (backoff && block < backoff.untilBlock) {
      return `backing off after ${backoff.failures} failure(s) until block ${backoff.untilBlock}`;
    }
    const now = this.#nowMs();
    const spentSince = (ms: number) => (this.#spent.get(vault) ?? []).filter((s) => s.atMs >= now - ms).reduce((a, s) => a + s.wei, 0n);
    const { gasBudgetPerHourWei: hour, gasBudgetPerDayWei: day } = this.#limits;
    if (hour !== undefined && spentSince(HOUR_MS) >= hour) return `hourly gas budget spent (${spentSince(HOUR_MS)} of ${hour} wei)`;
    if (day !== undefined && spentSince(DAY_MS) >= day) return `daily gas budget spent (${spentSince(DAY_MS)} of ${day} wei)`;
    return undefined;
  }
}
