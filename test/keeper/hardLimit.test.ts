/**
 * The hard delta limit (`MAX_ABS_DELTA`, keeper/policy/hardLimit.ts): above it the keeper trades back whatever
 * sizing's cost/benefit rule says, bounded only by the vault's guards and the pool; inside it nothing changes.
 * The first case is issue 13's: a band policy at 0.5 on a 1,000-underlying pool, with risk aversion 0.01, whose
 * second slippage-bounded slice the cost gate vetoed ("cost 207 > benefit 196") and left at 15× the band.
 * Pure: plans come from the real `planBlock`, on the shared test snapshot.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../keeper/config/index.ts";
import { keeperOptions } from "../../keeper/options.ts";
import { applyHardLimit, defaultMaxAbsDelta, NO_HARD_LIMIT, resolveMaxAbsDelta } from "../../keeper/policy/hardLimit.ts";
import { decide, POLICY_NAMES } from "../../keeper/policy/index.ts";
import { numberToWad, wadToNumber } from "../../keeper/pricing/wad.ts";
import { checkRebalance, type SizedOrder } from "../../keeper/sizing/size.ts";
import { planBlock, type PlanOptions, type VaultPlan } from "../../keeper/tick.ts";
import type { MarketView, PolicyConfig, RiskPreferences, VaultSnapshot } from "../../keeper/types.ts";
import { planOptionsFor } from "../../sim/model.ts";
import { DEFAULT_SCENARIO } from "../../sim/scenario.ts";
import { marketView, TEST_PLAN_OPTIONS, TEST_PREFS, vaultSnapshot } from "../helpers/snapshot.ts";

const WAD = 10n ** 18n;
const BAND: PolicyConfig = { name: "band", band: 0.5, target: "zero" };
/** The README's local settings: RISK_AVERSION=0.01, the default horizon. */
const README_PREFS: RiskPreferences = { riskAversion: 0.01, horizonSeconds: 3_600 };

const OPTIONS: PlanOptions = { ...TEST_PLAN_OPTIONS, policy: BAND, prefs: README_PREFS };

/** The vault short `delta` underlying, never hedged, on the 1,000 / 3,000,000 pool at 3,000 (a 1 gwei block). */
function issueSnapshot(delta: number, overrides: Partial<VaultSnapshot> = {}): VaultSnapshot {
  return vaultSnapshot({ netDeltaWad: numberToWad(delta), bookDeltaWad: numberToWad(delta), lastRebalanceBlock: 0n, nextRebalanceBlock: 0n, ...overrides });
}

function planOf(s: VaultSnapshot, options: Partial<PlanOptions> = {}): VaultPlan {
  return planBlock({ chain: { blockNumber: s.blockNumber, timestamp: s.timestamp, baseFeePerGas: 10n ** 9n }, vaults: [s] }, { ...OPTIONS, ...options })[0]!;
}

function orderOf(plan: VaultPlan): SizedOrder {
  if (plan.sizing?.kind !== "order") throw new Error(`expected an order: ${JSON.stringify(plan.sizing ?? plan.decision.reason)}`);
  return plan.sizing.order;
}

/**
 * The vault after `order` lands as `checkRebalance` predicts (balances, delta), one block later, with an
 * arbitrageur having put the pool back on the oracle (the issue's setting): the reserves as before the trade.
 */
function afterTrade(s: VaultSnapshot, order: SizedOrder): VaultSnapshot {
  const check = checkRebalance(s, order.buyUnderlying, order.amountIn, order.minAmountOut);
  if (!check.ok) throw new Error(`the vault would refuse the order: ${check.error}`);
  if (!order.buyUnderlying) throw new Error("these cases only buy");
  const next = s.blockNumber + 1n;
  return {
    ...s,
    blockNumber: next,
    netDeltaWad: check.deltaAfterWad,
    hedgeBalance: s.hedgeBalance + check.amountOut,
    cashBalance: s.cashBalance - order.amountIn,
    lastRebalanceBlock: next,
    nextRebalanceBlock: next,
  };
}

describe("sizing above the hard limit: the cost gate does not veto, the guards still bound", () => {
  it("sends the issue's vetoed slice (7.8 at a 0.5 band): cut by the slippage bound, cost over benefit", () => {
    const s = issueSnapshot(-7.8);
    // Without a hard limit: today's veto, with the issue's numbers.
    const gated = planOf(s, { maxAbsDelta: NO_HARD_LIMIT });
    expect(gated.decision).toMatchObject({ kind: "rebalance", targetDelta: 0 });
    expect(gated.sizing).toStrictEqual({ kind: "skip", reason: expect.stringMatching(/^cost 20\d\.\d+ .*> benefit 19\d\.\d+ quote$/) });
    // The band policy's default limit is its band: the same slice goes out.
    const plan = planOf(s);
    expect(plan.maxAbsDelta).toBe(0.5);
    const order = orderOf(plan);
    expect(order.totalCostQuote).toBeGreaterThan(order.benefitQuote);
    expect(order.outsideLimit).toStrictEqual({ maxAbsDelta: 0.5, costGateWaived: true });
    expect(order.cappedBy).toEqual(["slippage bound"]);
    expect(order.slippageBps).toBeLessThanOrEqual(100);
    expect(checkRebalance(s, true, order.amountIn, order.minAmountOut)).toMatchObject({ ok: true });
    expect(wadToNumber(order.deltaAfterWad)).toBeGreaterThan(-1);
  });

  it("is bounded by maxTradeWad and by the slippage budget like any order", () => {
    const capped = orderOf(planOf(issueSnapshot(-7.8, { hedge: { ...vaultSnapshot().hedge, maxTradeWad: 2n * WAD } })));
    expect(capped.tradeWad).toBeLessThanOrEqual(2n * WAD);
    expect(capped.cappedBy).toContain("maxTradeWad");
    expect(capped.outsideLimit?.maxAbsDelta).toBe(0.5);
    const thrifty = orderOf(planOf(issueSnapshot(-7.8, { slippageLeftWad: WAD })));
    expect(thrifty.cappedBy).toContain("slippage budget");
    expect(thrifty.slippageCostQuote).toBeLessThanOrEqual(1);
    const broke = planOf(issueSnapshot(-7.8, { slippageLeftWad: 0n }));
    expect(broke.sizing).toMatchObject({ kind: "skip", error: "SlippageBudgetExceeded" });
  });

  it("brings the issue's vault from 14.7 back within its band in slices; without the limit it stops at 15× the band", () => {
    const walk = (options: Partial<PlanOptions>) => {
      let s = issueSnapshot(-14.7);
      const deltas = [wadToNumber(s.netDeltaWad)];
      for (let slice = 0; slice < 10; slice++) {
        const plan = planOf(s, options);
        if (plan.sizing?.kind !== "order") break;
        s = afterTrade(s, plan.sizing.order);
        deltas.push(wadToNumber(s.netDeltaWad));
      }
      return deltas;
    };
    const held = walk({});
    expect(held.length).toBeGreaterThan(2); // sliced: no single trade fits the slippage bound
    expect(Math.abs(held.at(-1)!)).toBeLessThanOrEqual(0.5);
    const gated = walk({ maxAbsDelta: NO_HARD_LIMIT });
    expect(gated).toHaveLength(2);
    expect(Math.abs(gated.at(-1)!)).toBeGreaterThan(7);
  });

  it("inside the limit changes nothing: the cost gate still vetoes, and an order that pays is the same order", () => {
    const s = issueSnapshot(-7.8);
    const loose = planOf(s, { maxAbsDelta: 10 });
    expect(loose.sizing).toStrictEqual(planOf(s, { maxAbsDelta: NO_HARD_LIMIT }).sizing);
    expect(loose.sizing?.kind).toBe("skip");
    // An order that is worth its cost: identical with or without a limit it is inside of.
    const worth = issueSnapshot(-7.8, { ammReserveUnderlying: 100_000n * WAD, ammReserveQuote: 300_000_000n * 10n ** 6n });
    const free = planOf(worth, { maxAbsDelta: NO_HARD_LIMIT });
    expect(free.sizing?.kind).toBe("order");
    expect(planOf(worth, { maxAbsDelta: 8 }).sizing).toStrictEqual(free.sizing);
  });
});

describe("the policy under the hard limit", () => {
  const view = marketView;
  const PREFS = TEST_PREFS;

  it("turns a gas-aware hold outside the limit into a trade back to the limit's edge", () => {
    const expensive = view({ costs: { gasCostQuote: 1_000, feeRate: 0.003, eta: 3 } });
    expect(decide(expensive, { name: "gas-aware" }, PREFS)).toMatchObject({ kind: "hold", cause: "policy" });
    const forced = decide(expensive, { name: "gas-aware" }, PREFS, 1.5);
    expect(forced).toMatchObject({ kind: "rebalance", targetDelta: -1.5, target: "edge" });
    expect(forced.reason).toMatch(/^hard limit: \|delta\| 2 > MAX_ABS_DELTA 1\.5: trading back to -1\.5 .*the policy alone would hold: gas-aware/);
  });

  it("moves a target that stays outside the limit to its edge, and keeps one already inside", () => {
    const capped = decide(view({ delta: 5 }), { name: "delay-cap", minDelayBlocks: 1, maxHedge: 1, minTrade: 0.01 }, PREFS, 2);
    expect(capped).toMatchObject({ kind: "rebalance", targetDelta: 2, target: "edge" });
    const toZero = decide(view({ delta: 5 }), { name: "every-block", minTrade: 0.01 }, PREFS, 2);
    expect(toZero).toMatchObject({ kind: "rebalance", targetDelta: 0, target: "zero" });
  });

  it("leaves a vault that cannot trade on hold, naming what the limit would do", () => {
    const d = decide(view({ canTrade: false }), BAND, PREFS, 0.5);
    expect(d).toMatchObject({ kind: "hold", cause: "cannot-trade" });
    expect(d.reason).toMatch(/would rebalance: .*band/);
  });

  it("changes no decision inside the limit, for any policy", () => {
    const policies: PolicyConfig[] = [
      { name: "every-block", minTrade: 0.01 },
      { name: "interval", intervalBlocks: 5, minTrade: 0.01 },
      BAND,
      { name: "band", band: 0.5, target: "edge" },
      { name: "whalley-wilmott" },
      { name: "gas-aware" },
      { name: "delay-cap", minDelayBlocks: 5, maxHedge: 1, minTrade: 0.01 },
      { name: "time-or-move", maxBlocks: 20, moveBps: 100, minTrade: 0.01 },
    ];
    expect(new Set(policies.map((p) => p.name))).toEqual(new Set(POLICY_NAMES));
    fc.assert(
      fc.property(
        fc.constantFrom(...policies),
        fc.double({ min: -20, max: 20, noNaN: true }),
        fc.double({ min: 0.01, max: 30, noNaN: true }),
        fc.integer({ min: 0, max: 50 }),
        (policy, delta, limit, blocksSinceHedge) => {
          fc.pre(Math.abs(delta) <= limit);
          const v = view({ delta, blocksSinceHedge, lastHedgeSpot: 2_950 });
          expect(decide(v, policy, PREFS, limit)).toStrictEqual(decide(v, policy, PREFS));
        },
      ),
      { seed: 0x13_0001, numRuns: 2_000 },
    );
  });

  it("outside the limit, every policy's decision ends inside it or trades towards it", () => {
    fc.assert(
      fc.property(fc.double({ min: -20, max: 20, noNaN: true }), fc.double({ min: 0.01, max: 5, noNaN: true }), (delta, limit) => {
        fc.pre(Math.abs(delta) > limit);
        for (const policy of [{ name: "gas-aware" } as const, { name: "interval", intervalBlocks: 100, minTrade: 0.01 } as const, BAND]) {
          const d = applyHardLimit(decide(view({ delta, blocksSinceHedge: 1 }), policy, PREFS), view({ delta }), limit);
          expect(d.kind).toBe("rebalance");
          if (d.kind === "rebalance") expect(Math.abs(d.targetDelta)).toBeLessThanOrEqual(limit);
        }
      }),
      { seed: 0x13_0002, numRuns: 500 },
    );
  });
});

describe("where the limit comes from", () => {
  it("defaults to the band for a band policy, and to none for every other policy", () => {
    expect(defaultMaxAbsDelta(BAND)).toBe(0.5);
    expect(defaultMaxAbsDelta({ name: "band", band: 2, target: "edge" })).toBe(2);
    for (const name of ["gas-aware", "whalley-wilmott"] as const) expect(defaultMaxAbsDelta({ name })).toBe(NO_HARD_LIMIT);
    expect(defaultMaxAbsDelta({ name: "every-block", minTrade: 0.01 })).toBe(NO_HARD_LIMIT);
    expect(resolveMaxAbsDelta(BAND, 3)).toBe(3);
    expect(resolveMaxAbsDelta({ name: "gas-aware" }, 3)).toBe(3);
    expect(() => resolveMaxAbsDelta(BAND, 0)).toThrow(/MAX_ABS_DELTA must be a positive number/);
    expect(() => resolveMaxAbsDelta(BAND, Number.NaN)).toThrow(RangeError);
  });

  it("reads MAX_ABS_DELTA into the config and the keeper's options; unset leaves it to the policy", () => {
    const base = { RPC_URL: "http://127.0.0.1:8545", DRY_RUN: "true", VAULTS: "0x5FbDB2315678afecb367f032d93F642f64180aa3", LENS_ADDRESS: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0" };
    expect(parseConfig({ ...base, MAX_ABS_DELTA: "2.5" }).maxAbsDelta).toBe(2.5);
    expect(parseConfig(base).maxAbsDelta).toBeUndefined();
    expect(() => parseConfig({ ...base, MAX_ABS_DELTA: "0" })).toThrow(/MAX_ABS_DELTA/);
    const refs = { lens: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0", vaults: [] } as const;
    expect(keeperOptions({ ...refs, maxAbsDelta: 2.5 }).maxAbsDelta).toBe(2.5);
    expect(keeperOptions(refs).maxAbsDelta).toBeUndefined();
  });

  it("the simulator plans with no hard limit, so its figures measure each policy's own trade-off", () => {
    expect(planOptionsFor({ policy: BAND, prefs: README_PREFS } as never, DEFAULT_SCENARIO).maxAbsDelta).toBe(NO_HARD_LIMIT);
  });
});
