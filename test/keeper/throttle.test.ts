/**
 * `Throttle` (keeper/execution/throttle.ts): a failed vault backs off 1, 2, 4 … 64 times RETRY_BACKOFF_BLOCKS, a
 * mined hedge forgets the failures, a hedge that lost a race to another keeper costs no back-off, and the gas each
 * vault burns counts against rolling hourly and daily budgets. The clock is the test's.
 */
import type { TransactionReceipt } from "viem";
import { describe, expect, it } from "vitest";
import type { HedgeOutcome } from "../../keeper/execution/pending.ts";
import { Throttle, type ThrottleLimits } from "../../keeper/execution/throttle.ts";

const VAULT = "0x00000000000000000000000000000000000000aa";
const OTHER = "0x00000000000000000000000000000000000000bb";
const HOUR_MS = 3_600_000;
const GWEI = 10n ** 9n;

function throttle(limits: Partial<ThrottleLimits> = {}) {
  const clock = { ms: 1_000_000 };
  const t = new Throttle({ retryBackoffBlocks: 2, gasBudgetPerHourWei: undefined, gasBudgetPerDayWei: undefined, ...limits }, () => clock.ms);
  return { t, clock };
}

function outcome(kind: HedgeOutcome["kind"], gasUsed = 200_000n, effectiveGasPrice = 10n * GWEI): HedgeOutcome {
  const sent = { vault: VAULT, hash: "0x01", nonce: 0, gasLimit: 400_000n, fees: { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, decidedAtBlock: 90n } as const;
  return { kind, sent, receipt: { gasUsed, effectiveGasPrice, blockNumber: 100n } as TransactionReceipt };
}

describe("Throttle: retry back-off", () => {
  it("backOff doubles the wait per consecutive failure, capped at 64 times the base", () => {
    const { t } = throttle();
    const waits = Array.from({ length: 9 }, () => t.backOff(VAULT, 100n) - 100n);
    expect(waits).toEqual([2n, 4n, 8n, 16n, 32n, 64n, 128n, 128n, 128n]);
  });

  it("heldBack names the failures and the block until which the vault waits, and frees it at that block", () => {
    const { t } = throttle();
    t.backOff(VAULT, 100n);
    t.backOff(VAULT, 100n);
    expect(t.heldBack(VAULT, 103n)).toBe("backing off after 2 failure(s) until block 104");
    expect(t.heldBack(VAULT, 104n)).toBeUndefined();
    expect(t.heldBack(OTHER, 101n)).toBeUndefined();
  });

  it("a mined hedge forgets the failures: the next failure waits the base time again", () => {
    const { t } = throttle();
    t.backOff(VAULT, 100n);
    t.backOff(VAULT, 100n);
    t.settled(outcome("mined"), 110n, false);
    expect(t.heldBack(VAULT, 110n)).toBeUndefined();
    expect(t.backOff(VAULT, 120n)).toBe(122n);
  });

  it("a revert backs the vault off, unless it lost the race to another keeper; a cancel neither", () => {
    const reverted = throttle();
    reverted.t.settled(outcome("reverted"), 110n, false);
    expect(reverted.t.heldBack(VAULT, 111n)).toBe("backing off after 1 failure(s) until block 112");

    const lost = throttle();
    lost.t.settled(outcome("reverted"), 110n, true);
    expect(lost.t.heldBack(VAULT, 111n)).toBeUndefined();

    const cancelled = throttle();
    cancelled.t.backOff(VAULT, 100n);
    cancelled.t.settled(outcome("cancelled"), 110n, false);
    expect(cancelled.t.backOff(VAULT, 120n)).toBe(124n); // the earlier failure still counts
  });
});

describe("Throttle: rolling gas budgets", () => {
  it("the hourly budget holds a vault back once its spend reaches it, and lets it go an hour after", () => {
    const { t, clock } = throttle({ gasBudgetPerHourWei: 3_000_000n * GWEI });
    t.settled(outcome("mined", 200_000n, 10n * GWEI), 100n, false); // 2,000,000 gwei
    expect(t.heldBack(VAULT, 101n)).toBeUndefined();
    clock.ms += HOUR_MS / 2;
    t.recordSpend(VAULT, 1_000_000n * GWEI);
    expect(t.heldBack(VAULT, 102n)).toBe(`hourly gas budget spent (${3_000_000n * GWEI} of ${3_000_000n * GWEI} wei)`);
    expect(t.heldBack(OTHER, 102n)).toBeUndefined();
    clock.ms += HOUR_MS / 2 + 1; // the first spend leaves the hour
    expect(t.heldBack(VAULT, 103n)).toBeUndefined();
  });

  it("the daily budget counts a whole day; spends older than a day are forgotten", () => {
    const { t, clock } = throttle({ gasBudgetPerDayWei: 10n * GWEI });
    t.recordSpend(VAULT, 6n * GWEI);
    clock.ms += 12 * HOUR_MS;
    t.recordSpend(VAULT, 4n * GWEI);
    expect(t.heldBack(VAULT, 1n)).toBe(`daily gas budget spent (${10n * GWEI} of ${10n * GWEI} wei)`);
    clock.ms += 12 * HOUR_MS + 1;
    expect(t.heldBack(VAULT, 1n)).toBeUndefined();
  });

  it("a back-off is reported before a spent budget", () => {
    const { t } = throttle({ gasBudgetPerHourWei: 1n });
    t.recordSpend(VAULT, 1n);
    t.backOff(VAULT, 100n);
    expect(t.heldBack(VAULT, 100n)).toMatch(/^backing off/);
    expect(t.heldBack(VAULT, 102n)).toMatch(/^hourly gas budget spent/);
  });

  it("without budgets, no spend holds a vault back", () => {
    const { t } = throttle();
    t.recordSpend(VAULT, 10n ** 30n);
    expect(t.heldBack(VAULT, 1n)).toBeUndefined();
  });
});
