/**
 * Scenarios the vault could not run are refused before any run, naming the field; the default sweep never asks
 * for a hedge the vault's tolerance forbids.
 */
import { describe, expect, it } from "vitest";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import { checkScenario, DEFAULT_SCENARIO, defaultPoints, initialSnapshot, minVaultDeposit, type Scenario } from "../../sim/scenario.ts";

const WAD = 10n ** 18n;

describe("checkScenario against the vault's rules", () => {
  it("accepts the default", () => {
    expect(() => checkScenario(DEFAULT_SCENARIO)).not.toThrow();
  });

  it("refuses a hedging budget outside the vault's ranges", () => {
    const withHedge = (h: Partial<Scenario["hedge"]>): Scenario => ({ ...DEFAULT_SCENARIO, hedge: { ...DEFAULT_SCENARIO.hedge, ...h } });
    expect(() => checkScenario(withHedge({ budgetWindowSeconds: 599 }))).toThrow(/budgetWindowSeconds/);
    expect(() => checkScenario(withHedge({ slippageBudget: 0 }))).toThrow(/slippageBudget/);
    expect(() => checkScenario(withHedge({ notionalBudget: 2 ** 32 }))).toThrow(/notionalBudget/);
  });

  it("refuses a book the vault would not sell: open interest over its caps, or over what the capital covers", () => {
    const book = (size: number) => [{ isCall: true, moneyness: 1, expiryDays: 7, size }];
    expect(() => checkScenario({ ...DEFAULT_SCENARIO, book: book(10_001) })).toThrow(/maxSeriesOpenInterestWad/);
    expect(() => checkScenario({ ...DEFAULT_SCENARIO, book: book(0.001) })).toThrow(/minPositionWad/);
    // 1,000 calls pay 3,000,000 at the stress price (2 × spot): 3,750,000 of capital at 80% utilisation.
    expect(minVaultDeposit({ ...DEFAULT_SCENARIO, book: book(1000) })).toBeCloseTo(3_750_000, 6);
    expect(() => checkScenario({ ...DEFAULT_SCENARIO, book: book(1000) })).toThrow(/vaultDeposit .* at least 3750000/);
    expect(() => checkScenario({ ...DEFAULT_SCENARIO, book: book(1000), vaultDeposit: 3_750_000 })).not.toThrow();
  });
});

describe("the default sweep and the vault's tolerance", () => {
  it("sets no minimum trade below the tolerance, and runs no point twice", () => {
    const points = defaultPoints(DEFAULT_SCENARIO);
    const tolerance = wadToNumber(DEFAULT_SCENARIO.hedge.deltaToleranceWad);
    for (const p of points) {
      if ("minTrade" in p.policy) expect(p.policy.minTrade, p.label).toBeGreaterThanOrEqual(tolerance);
    }
    expect(new Set(points.map((p) => p.label)).size).toBe(points.length);
    expect(points.filter((p) => p.family === "every-block").map((p) => p.label)).toEqual(["every block, min 0.1", "every block, min 0.355"]);
  });

  it("a vault with a smaller tolerance keeps the finer minimum trades", () => {
    const fine: Scenario = { ...DEFAULT_SCENARIO, hedge: { ...DEFAULT_SCENARIO.hedge, deltaToleranceWad: WAD / 1000n } };
    expect(defaultPoints(fine).filter((p) => p.family === "every-block")).toHaveLength(3);
  });
});

describe("initialSnapshot", () => {
  it("is a vault that never rebalanced: the whole budget left, nothing owed, the oracle usable", () => {
    const s = initialSnapshot(DEFAULT_SCENARIO);
    expect(s.notionalLeftWad).toBe(BigInt(DEFAULT_SCENARIO.hedge.notionalBudget) * WAD);
    expect(s.slippageLeftWad).toBe(BigInt(DEFAULT_SCENARIO.hedge.slippageBudget) * WAD);
    expect(s.pendingPayouts).toBe(0n);
    expect(s.oracleStatus).toBe("Usable");
    expect(s.settlementPending).toBe(false);
    expect(s.risk).toEqual({ ...DEFAULT_SCENARIO.charges, volWad: 8n * 10n ** 17n, rateWad: 0n });
  });
});
