/**
 * The hedging budget's TypeScript mirror (keeper/sizing/budget.ts) against the vault's own rules, re-stated here
 * from `OptionVault._chargeBudget`, `OptionVaultBase._rolledLedger` and `OptionVaultExtension._left`: usage in
 * whole 1e-4-quote units rounded up, two windows (current and previous) checked together, the window number kept
 * mod 2^24 (`uint24`), the notional checked before the slippage, each refusal carrying (used, budget) in quote wad.
 * Exact edges (a budget met to the unit, exceeded by one unit; the next window, the one after; the wrap at 2^24)
 * and a random sequence of charges compared with the transcription. Pure: no chain.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  budgetLeftWad,
  BUDGET_UNIT_WAD,
  chargeBudget,
  EMPTY_LEDGER,
  fitsBudget,
  rolledLedger,
  tradeCostWad,
  type BudgetLedger,
} from "../../keeper/sizing/budget.ts";
import type { HedgeBounds } from "../../keeper/types.ts";
import { TEST_HEDGE_PARAMS } from "../helpers/snapshot.ts";

const SEED = 0x5eed_b0d9;
const WAD = 10n ** 18n;
/** The vault's constants (OptionVaultBase): 1e-4 quote per unit, so 1e4 units per whole quote. */
const UNIT = 10n ** 14n;
const UNITS_PER_QUOTE = 10_000n;
const UINT24 = 1n << 24n;
const DAY = 86_400;

/** The pure-core tests' parameters with small budgets (1,000 quote notional, 10 quote slippage a day) to exhaust. */
const HEDGE: HedgeBounds = { ...TEST_HEDGE_PARAMS, budgetWindowSeconds: DAY, notionalBudget: 1_000, slippageBudget: 10 };

// ─── the vault, re-stated ───

const ceilUnits = (wad: bigint) => (wad + UNIT - 1n) / UNIT;

/** `_rolledLedger`: (prev, cur) usage as of `timestamp`; `uint24(x)` is x mod 2^24. */
function refRolled(l: BudgetLedger, windowSeconds: number, timestamp: bigint) {
  const window = timestamp / BigInt(windowSeconds);
  if (window % UINT24 === l.window) return { window, nPrev: l.notionalPrev, nCur: l.notionalCur, sPrev: l.slippagePrev, sCur: l.slippageCur };
  if ((window - 1n) % UINT24 === l.window) return { window, nPrev: l.notionalCur, nCur: 0n, sPrev: l.slippageCur, sCur: 0n };
  return { window, nPrev: 0n, nCur: 0n, sPrev: 0n, sCur: 0n };
}

type RefCharge =
  | { ok: true; ledger: BudgetLedger }
  | { ok: false; error: "NotionalBudgetExceeded" | "SlippageBudgetExceeded"; usedWad: bigint; budgetWad: bigint };

/** `_chargeBudget`: revert with (used·unit, budget·1e18), or the ledger it writes. */
function refCharge(l: BudgetLedger, h: HedgeBounds, timestamp: bigint, notionalWad: bigint, slippageWad: bigint): RefCharge {
  const r = refRolled(l, h.budgetWindowSeconds, timestamp);
  const nCur = r.nCur + ceilUnits(notionalWad);
  const sCur = r.sCur + ceilUnits(slippageWad);
  let used = r.nPrev + nCur;
  if (used > BigInt(h.notionalBudget) * UNITS_PER_QUOTE) {
    return { ok: false, error: "NotionalBudgetExceeded", usedWad: used * UNIT, budgetWad: BigInt(h.notionalBudget) * WAD };
  }
  used = r.sPrev + sCur;
  if (used > BigInt(h.slippageBudget) * UNITS_PER_QUOTE) {
    return { ok: false, error: "SlippageBudgetExceeded", usedWad: used * UNIT, budgetWad: BigInt(h.slippageBudget) * WAD };
  }
  return {
    ok: true,
    ledger: { window: r.window % UINT24, notionalPrev: r.nPrev, notionalCur: nCur, slippagePrev: r.sPrev, slippageCur: sCur },
  };
}

/** `hedgeStatus`'s budget left: (budget·1e4 − used)·unit, or 0 once used up. */
function refLeft(budget: number, used: bigint): bigint {
  const units = BigInt(budget) * UNITS_PER_QUOTE;
  return units > used ? (units - used) * UNIT : 0n;
}

/** A ledger recorded in window `window` (mod 2^24). */
const ledgerAt = (window: bigint, nPrev: bigint, nCur: bigint, sPrev: bigint, sCur: bigint): BudgetLedger => ({
  window: window % UINT24,
  notionalPrev: nPrev,
  notionalCur: nCur,
  slippagePrev: sPrev,
  slippageCur: sCur,
});

/** A timestamp a third into window `w` (not at its first second, so an off-by-one in the division would show). */
const inWindow = (w: bigint, windowSeconds = DAY) => w * BigInt(windowSeconds) + BigInt(windowSeconds) / 3n;

const W = 20_000n; // a window number of today's order (timestamp ~1.7e9 / 86,400)

describe("the budget unit", () => {
  it("is 1e-4 quote, as OptionVaultBase.BUDGET_UNIT_WAD", () => {
    expect(BUDGET_UNIT_WAD).toBe(UNIT);
  });
});

describe("tradeCostWad: notional and slippage as _afterTrade computes them", () => {
  // 1 wei of underlying at 1.5 quote: the oracle value is 1.5 wei of quote, so the rounding side shows.
  const spotWad = (3n * WAD) / 2n;

  it("rounds the notional up; a buy's fair value down, a sale's up (against the keeper both ways)", () => {
    expect(tradeCostWad({ buy: true, tradedWad: 1n, quoteWad: 2n, spotWad })).toEqual({ notionalWad: 2n, slippageWad: 1n });
    expect(tradeCostWad({ buy: false, tradedWad: 1n, quoteWad: 1n, spotWad })).toEqual({ notionalWad: 2n, slippageWad: 1n });
  });

  it("charges no slippage at or better than the oracle value, never a negative one", () => {
    const traded = 2n * WAD; // worth exactly 3 quote
    const fair = 3n * WAD;
    for (const buy of [true, false]) {
      expect(tradeCostWad({ buy, tradedWad: traded, quoteWad: fair, spotWad }).slippageWad).toBe(0n);
    }
    // Buying below the oracle value, selling above it: a gain, charged as 0.
    expect(tradeCostWad({ buy: true, tradedWad: traded, quoteWad: fair - 7n, spotWad }).slippageWad).toBe(0n);
    expect(tradeCostWad({ buy: false, tradedWad: traded, quoteWad: fair + 7n, spotWad }).slippageWad).toBe(0n);
    // Paying 7 wei above it, receiving 7 wei below it: 7 wei of slippage.
    expect(tradeCostWad({ buy: true, tradedWad: traded, quoteWad: fair + 7n, spotWad }).slippageWad).toBe(7n);
    expect(tradeCostWad({ buy: false, tradedWad: traded, quoteWad: fair - 7n, spotWad }).slippageWad).toBe(7n);
  });
});

describe("rolledLedger: the ledger as of a timestamp", () => {
  const l = ledgerAt(W, 11n, 22n, 33n, 44n);

  it("is unchanged within the same window", () => {
    expect(rolledLedger(l, DAY, inWindow(W))).toEqual(l);
    expect(rolledLedger(l, DAY, W * BigInt(DAY))).toEqual(l); // its first second
    expect(rolledLedger(l, DAY, (W + 1n) * BigInt(DAY) - 1n)).toEqual(l); // its last second
  });

  it("carries the current window's usage as the previous one in the next window, and starts the current at 0", () => {
    expect(rolledLedger(l, DAY, inWindow(W + 1n))).toEqual(ledgerAt(W + 1n, 22n, 0n, 44n, 0n));
    expect(rolledLedger(l, DAY, (W + 1n) * BigInt(DAY))).toEqual(ledgerAt(W + 1n, 22n, 0n, 44n, 0n));
  });

  it("clears everything two or more windows later", () => {
    for (const later of [2n, 3n, 1_000n]) expect(rolledLedger(l, DAY, inWindow(W + later))).toEqual(ledgerAt(W + later, 0n, 0n, 0n, 0n));
  });

  it("clears a ledger from a later window (a clock that went back) rather than carrying it", () => {
    expect(rolledLedger(l, DAY, inWindow(W - 1n))).toEqual(ledgerAt(W - 1n, 0n, 0n, 0n, 0n));
  });

  it("counts windows mod 2^24 as the vault's uint24 does: 2^24 − 1 is followed by 0", () => {
    const last = ledgerAt(UINT24 - 1n, 5n, 6n, 7n, 8n);
    // One window after 2^24 − 1 is window 2^24, stored as 0: the usage rolls over, it is not cleared.
    expect(rolledLedger(last, 600, inWindow(UINT24, 600))).toEqual(ledgerAt(0n, 6n, 0n, 8n, 0n));
    // 2^24 windows after window 3 is window 3 again for the vault: the same window.
    const three = ledgerAt(3n, 5n, 6n, 7n, 8n);
    expect(rolledLedger(three, 600, inWindow(UINT24 + 3n, 600))).toEqual(three);
  });
});

describe("budgetLeftWad: what hedgeStatus() reports", () => {
  it("subtracts the previous and the current window's usage from the budget", () => {
    const l = ledgerAt(W, 1_000n, 2_345n, 10n, 20n);
    expect(budgetLeftWad(l, HEDGE, inWindow(W))).toEqual({
      notionalLeftWad: (1_000n * UNITS_PER_QUOTE - 3_345n) * UNIT,
      slippageLeftWad: (10n * UNITS_PER_QUOTE - 30n) * UNIT,
    });
  });

  it("forgets the previous window's usage one window later, and everything two windows later", () => {
    const l = ledgerAt(W, 1_000n, 2_345n, 10n, 20n);
    expect(budgetLeftWad(l, HEDGE, inWindow(W + 1n))).toEqual({
      notionalLeftWad: (1_000n * UNITS_PER_QUOTE - 2_345n) * UNIT,
      slippageLeftWad: (10n * UNITS_PER_QUOTE - 20n) * UNIT,
    });
    expect(budgetLeftWad(l, HEDGE, inWindow(W + 2n))).toEqual({ notionalLeftWad: 1_000n * WAD, slippageLeftWad: 10n * WAD });
  });

  it("is 0, never negative, when the budget is used up exactly or over-used (after the manager lowered it)", () => {
    const spent = ledgerAt(W, 4_000_000n, 6_000_000n, 40_000n, 60_000n); // exactly 1,000 and 10 quote
    expect(budgetLeftWad(spent, HEDGE, inWindow(W))).toEqual({ notionalLeftWad: 0n, slippageLeftWad: 0n });
    const over = ledgerAt(W, 4_000_000n, 6_000_001n, 40_000n, 60_001n);
    expect(budgetLeftWad(over, HEDGE, inWindow(W))).toEqual({ notionalLeftWad: 0n, slippageLeftWad: 0n });
    // One unit short of spent: one unit left.
    const almost = ledgerAt(W, 4_000_000n, 5_999_999n, 40_000n, 59_999n);
    expect(budgetLeftWad(almost, HEDGE, inWindow(W))).toEqual({ notionalLeftWad: UNIT, slippageLeftWad: UNIT });
  });
});

describe("chargeBudget: _chargeBudget's verdict and the ledger it writes", () => {
  it("adds a trade's units (rounded up) to the current window within it", () => {
    const l = ledgerAt(W, 100n, 200n, 1n, 2n);
    const charged = chargeBudget(l, HEDGE, inWindow(W), { notionalWad: 5n * UNIT + 1n, slippageWad: 3n * UNIT });
    expect(charged).toEqual({ ok: true, ledger: ledgerAt(W, 100n, 206n, 1n, 5n) });
  });

  it("carries the current window as the previous one when charging in the next window, and clears both after", () => {
    const l = ledgerAt(W, 100n, 200n, 1n, 2n);
    const cost = { notionalWad: 7n * UNIT, slippageWad: UNIT };
    expect(chargeBudget(l, HEDGE, inWindow(W + 1n), cost)).toEqual({ ok: true, ledger: ledgerAt(W + 1n, 200n, 7n, 2n, 1n) });
    expect(chargeBudget(l, HEDGE, inWindow(W + 2n), cost)).toEqual({ ok: true, ledger: ledgerAt(W + 2n, 0n, 7n, 0n, 1n) });
  });

  it("accepts a trade that uses the notional budget to the unit, and refuses one unit more (NotionalBudgetExceeded)", () => {
    // 1,000 quote = 10,000,000 units: 3,000,000 carried from the previous window, 2,000,000 used in this one.
    const l = ledgerAt(W, 3_000_000n, 2_000_000n, 0n, 0n);
    const fill = { notionalWad: 5_000_000n * UNIT, slippageWad: 0n };
    expect(chargeBudget(l, HEDGE, inWindow(W), fill)).toEqual({ ok: true, ledger: ledgerAt(W, 3_000_000n, 7_000_000n, 0n, 0n) });
    // One wei more is a whole unit more: used 10,000,001 units (1,000.0001 quote) against 1,000.
    expect(chargeBudget(l, HEDGE, inWindow(W), { ...fill, notionalWad: fill.notionalWad + 1n })).toEqual({
      ok: false,
      error: "NotionalBudgetExceeded",
      usedWad: 10_000_001n * UNIT,
      budgetWad: 1_000n * WAD,
    });
  });

  it("accepts a trade that uses the slippage budget to the unit, and refuses one unit more (SlippageBudgetExceeded)", () => {
    const l = ledgerAt(W, 0n, 0n, 40_000n, 50_000n); // 9 of the 10 quote used
    const fill = { notionalWad: WAD, slippageWad: 10_000n * UNIT };
    expect(chargeBudget(l, HEDGE, inWindow(W), fill)).toEqual({ ok: true, ledger: ledgerAt(W, 0n, 10_000n, 40_000n, 60_000n) });
    expect(chargeBudget(l, HEDGE, inWindow(W), { ...fill, slippageWad: fill.slippageWad + 1n })).toEqual({
      ok: false,
      error: "SlippageBudgetExceeded",
      usedWad: 100_001n * UNIT,
      budgetWad: 10n * WAD,
    });
  });

  it("checks the notional before the slippage, as the vault does", () => {
    const l = ledgerAt(W, 0n, 0n, 0n, 0n);
    const both = chargeBudget(l, HEDGE, inWindow(W), { notionalWad: 2_000n * WAD, slippageWad: 20n * WAD });
    expect(both).toMatchObject({ ok: false, error: "NotionalBudgetExceeded" });
  });

  it("counts the previous window's usage against the budget: a full previous window leaves nothing", () => {
    const full = ledgerAt(W, 0n, 10_000_000n, 0n, 0n);
    expect(chargeBudget(full, HEDGE, inWindow(W + 1n), { notionalWad: 1n, slippageWad: 0n })).toMatchObject({
      ok: false,
      error: "NotionalBudgetExceeded",
      usedWad: 10_000_001n * UNIT,
    });
    expect(chargeBudget(full, HEDGE, inWindow(W + 2n), { notionalWad: 1n, slippageWad: 0n }).ok).toBe(true);
  });

  it("agrees with the vault's rules on random sequences of charges, and with hedgeStatus()'s budget left between them", () => {
    const step = fc.record({
      // Seconds since the previous charge: mostly within a window, some crossing one or several.
      gap: fc.oneof(fc.integer({ min: 0, max: 3_600 }), fc.integer({ min: 0, max: 3 * DAY })),
      notionalWad: fc.bigInt({ min: 0n, max: 400n * WAD }),
      slippageWad: fc.bigInt({ min: 0n, max: 4n * WAD }),
    });
    let refused = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fc.bigInt({ min: 1_600_000_000n, max: 1_900_000_000n }), fc.array(step, { minLength: 1, maxLength: 30 }), (start, steps) => {
        let ledger: BudgetLedger = { ...EMPTY_LEDGER, window: start / BigInt(DAY) };
        let timestamp = start;
        for (const s of steps) {
          timestamp += BigInt(s.gap);
          const r = refRolled(ledger, DAY, timestamp);
          const left = budgetLeftWad(ledger, HEDGE, timestamp);
          expect(left).toEqual({
            notionalLeftWad: refLeft(HEDGE.notionalBudget, r.nPrev + r.nCur),
            slippageLeftWad: refLeft(HEDGE.slippageBudget, r.sPrev + r.sCur),
          });
          const cost = { notionalWad: s.notionalWad, slippageWad: s.slippageWad };
          const got = chargeBudget(ledger, HEDGE, timestamp, cost);
          const want = refCharge(ledger, HEDGE, timestamp, s.notionalWad, s.slippageWad);
          expect(got).toEqual(want);
          // The keeper's pre-check from the budget left says the same as the vault's charge.
          expect(fitsBudget(cost, left)).toBe(want.ok);
          if (got.ok) {
            accepted += 1;
            ledger = got.ledger;
          } else {
            refused += 1;
          }
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Both outcomes occur often enough for the comparison to mean something.
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(100);
  });
});
