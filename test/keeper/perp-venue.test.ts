/**
 * The keeper's perp venue (issue 14): the venue choice (keeper/sizing/choose.ts), the perp sizing's mirror of
 * `hedgePerp` (keeper/sizing/perpSize.ts) and the margin moves, first as pure functions on snapshots, then the
 * keeper in process against a local chain: a put-selling vault hedged short, a rally met with margin top-ups (and
 * the same rally without them, which liquidates), and a mixed book hedged through zero both ways.
 */
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { Keeper } from "../../keeper/keeper.ts";
import { toMarketView } from "../../keeper/pricing/view.ts";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import { chooseVenue, marginFirst } from "../../keeper/sizing/choose.ts";
import { checkPerpHedge, effectiveMargin, marginRatioBps, perpFillWad, perpOrderFee } from "../../keeper/sizing/perpSize.ts";
import type { CostModel, PerpSnapshot, VaultSnapshot } from "../../keeper/types.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "../../harness/keeper.ts";
import { arbitrageSwap, fundArbitrageur, readPool } from "../../harness/market.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";
import { DEFAULT_PERP_PARAMS, WAD, buyOptions, deploySystem, listSeries, priceE8, type System } from "../../harness/system.ts";
import { vaultSnapshot } from "../helpers/snapshot.ts";

const PREFS = { riskAversion: 0.01, horizonSeconds: 3600 };
const SIZE_OPTS = { maxSlippageBps: 100, minOutMarginBps: 10 };
const COSTS: CostModel = { gasCostQuote: 0.5, feeRate: 0.003, eta: 3 };

/** A perp venue beside the snapshot's pool: the default market, no skew, the vault flat with 50,000 of margin. */
function perpSnapshot(overrides: Partial<PerpSnapshot> = {}): PerpSnapshot {
  return {
    market: "0x00000000000000000000000000000000000000cc",
    priced: true,
    sizeWad: 0n,
    margin: 50_000n * 10n ** 6n,
    pnl: 0n,
    funding: 0n,
    remainingMargin: 50_000n * 10n ** 6n,
    maintenanceMargin: 0n,
    premiumCredit: 0n,
    liquidatable: false,
    params: { ...DEFAULT_PERP_PARAMS },
    skewWad: 0n,
    fundingRateWad: 0n,
    pool: 1_000_000n * 10n ** 6n,
    minMarginBps: 1_500,
    maxMarginBps: 4_000,
    ...overrides,
  };
}

/** A snapshot whose book holds `openInterest` options (so the margin cap has room), with `perp` beside the pool. */
function withPerp(s: Partial<VaultSnapshot>, perp: Partial<PerpSnapshot> = {}, openInterest = 100n): VaultSnapshot {
  const base = vaultSnapshot(s);
  const book = [{ id: `0x${"11".repeat(32)}` as const, isCall: true, strikeWad: 3000n * WAD, expiry: base.timestamp + 30n * 86_400n, sizeWad: -openInterest * WAD, deltaWad: 0n, gammaWad: 0n, vegaWad: 0n, markWad: 0n }];
  return { ...base, book, perp: perpSnapshot(perp) };
}

const decision = (target: number) => ({ kind: "rebalance" as const, targetDelta: target, target: "zero" as const, reason: "test" });
const choose = (s: VaultSnapshot) => chooseVenue(s, decision(0), toMarketView(s, COSTS), PREFS, SIZE_OPTS, 1e-5);

describe("perp sizing mirrors hedgePerp", () => {
  it("fill and fee follow formulas (3) and (4), rounded against the trader", () => {
    const S = 100_000n * WAD;
    // Selling 10 into a flat market: fill = p · (2S − 10) / 2S, rounded down; taker fee 10 bp on it, rounded up.
    const fill = perpFillWad(3000n * WAD, 0n, -10n * WAD, S);
    expect(fill).toBe((3000n * WAD * (2n * S - 10n * WAD)) / (2n * S));
    const fee = perpOrderFee(perpSnapshot(), -10n * WAD, fill, 6);
    const den = 10_000n * WAD * 10n ** 12n;
    expect(fee).toBe((10n * WAD * 10n * fill + den - 1n) / den);
    // Buying against a short skew is maker up to |K|.
    const makerFee = perpOrderFee(perpSnapshot({ skewWad: -50n * WAD }), 10n * WAD, fill, 6);
    expect(makerFee).toBeLessThan(fee);
  });

  it("checkPerpHedge names the vault's error for each guard", () => {
    const s = withPerp({ netDeltaWad: 40n * WAD });
    expect(checkPerpHedge(s, 10n * WAD)).toMatchObject({ ok: false, error: "DeltaNotReduced" });
    expect(checkPerpHedge(s, -60n * WAD)).toMatchObject({ ok: false, error: "HedgeOvershoot" });
    expect(checkPerpHedge(s, -200n * WAD)).toMatchObject({ ok: false, error: "TradeTooLarge" });
    expect(checkPerpHedge({ ...s, hedge: { ...s.hedge, maxSlippageBps: 5 } }, -10n * WAD)).toMatchObject({ ok: false, error: "SlippageTooHigh" });
    expect(checkPerpHedge({ ...s, notionalLeftWad: 10_000n * WAD }, -10n * WAD)).toMatchObject({ ok: false, error: "NotionalBudgetExceeded" });
    expect(checkPerpHedge({ ...s, slippageLeftWad: 10n * WAD }, -10n * WAD)).toMatchObject({ ok: false, error: "SlippageBudgetExceeded" });
    // 50,000 of margin carries 40 × 3,000 × 15% = 18,000 with room; 48,000 does not carry 100 × 3,000 × 15% =
    // 45,000 with the keeper's 10% of room.
    expect(checkPerpHedge(s, -40n * WAD)).toMatchObject({ ok: true });
    const big = withPerp({ netDeltaWad: 100n * WAD }, { margin: 48_000n * 10n ** 6n }, 200n);
    expect(checkPerpHedge(big, -100n * WAD)).toMatchObject({ ok: false, error: "PerpMarginTooLow" });
    // Exactly the vault's rule (no room) passes: 45,000 + the fee < 48,000.
    expect(checkPerpHedge(big, -100n * WAD, undefined, false)).toMatchObject({ ok: true });
    expect(checkPerpHedge(withPerp({ netDeltaWad: WAD / 1000n }), -WAD / 1000n)).toMatchObject({ ok: false, error: "DeltaWithinTolerance" });
  });
});

describe("the keeper chooses the venue", () => {
  it("a deep pool and an expensive perp: a buy goes to the pool", () => {
    const s = withPerp(
      { netDeltaWad: -20n * WAD, ammReserveUnderlying: 100_000n * WAD, ammReserveQuote: 300_000_000n * 10n ** 6n, ammFeeBps: 5n },
      { params: { ...DEFAULT_PERP_PARAMS, takerFeeBps: 100n, skewScale: 1_000n * WAD } },
    );
    const choice = choose(s);
    expect(choice.venue).toBe("amm");
    expect(choice.sizing.kind).toBe("order");
    if (choice.sizing.kind === "order") expect(choice.sizing.order.perp).toBeUndefined();
  });

  it("a short needed (positive delta, nothing held to sell): the perp", () => {
    const s = withPerp({ netDeltaWad: 20n * WAD, hedgeBalance: 0n });
    const choice = choose(s);
    expect(choice.venue).toBe("perp");
    expect(choice.sizing.kind === "order" && choice.sizing.order.perp?.sizeDeltaWad).toBe(-20n * WAD);
  });

  it("the skew against the market's side (the vault's trade is the maker's): the perp, even beside a good pool", () => {
    // The market is 5,000 short: buying 20 there fills below the oracle and pays the maker fee.
    const s = withPerp({ netDeltaWad: -20n * WAD }, { skewWad: -5_000n * WAD });
    const choice = choose(s);
    expect(choice.venue).toBe("perp");
    expect(choice.split?.perp).toBeGreaterThan(0);
    if (choice.sizing.kind === "order") expect(choice.sizing.order.perp!.fillPriceWad).toBeLessThan(3000n * WAD);
  });

  it("a split when it is cheaper: a shallow pool and a perp with the same fee take parts of a large trade", () => {
    const s = withPerp(
      { netDeltaWad: -80n * WAD, ammReserveUnderlying: 2_000n * WAD, ammReserveQuote: 6_000_000n * 10n ** 6n, ammFeeBps: 10n },
      { params: { ...DEFAULT_PERP_PARAMS, skewScale: 4_000n * WAD } },
      200n,
    );
    const choice = choose(s);
    expect(choice.split!.spot).toBeGreaterThan(5);
    expect(choice.split!.perp).toBeGreaterThan(5);
    expect(choice.sizing.kind).toBe("order");
    // This block sends the larger leg at its split size; the rest waits for the next allowed block.
    const leg = choice.venue === "perp" ? choice.split!.perp : choice.split!.spot;
    if (choice.sizing.kind === "order") expect(wadToNumber(choice.sizing.order.tradeWad)).toBeCloseTo(leg, 1);
  });

  it("a vault whose perp margin bounds are unset hedges on the AMM only, and says why the perp is unused", () => {
    const s = withPerp({ netDeltaWad: 20n * WAD, hedgeBalance: 0n }, { minMarginBps: 0, maxMarginBps: 0 });
    const choice = choose(s);
    expect(choice.venue).toBe("amm");
    expect(choice.sizing).toMatchObject({ kind: "skip", error: "InsufficientHedge" });
    if (choice.sizing.kind === "skip") expect(choice.sizing.reason).toMatch(/perp is unused: the vault's perp margin bounds are not set/);
    expect(marginFirst(s, -20, 1e-5)).toBeUndefined();
  });

  it("margin goes first: for a wanted short with no margin, and for a position whose margin is low", () => {
    const noMargin = withPerp({ netDeltaWad: 20n * WAD }, { margin: 0n, remainingMargin: 0n });
    const choice = choose(noMargin);
    expect(choice.sizing).toMatchObject({ kind: "skip", error: "PerpMarginTooLow" });
    const move = marginFirst(noMargin, -20, 1e-5);
    expect(move?.kind === "order" && move.order.margin).toMatchObject({ direction: "post" });
    // 20 short at 3,000 (60,000 of notional) with 6,000 of margin: 10% < the 2,125 bp top-up → post to 2,750 bp.
    const low = withPerp({ netDeltaWad: 0n }, { sizeWad: -20n * WAD, margin: 6_000n * 10n ** 6n });
    expect(marginRatioBps(low)).toBeCloseTo(1_000, 0);
    const topUp = marginFirst(low, undefined, 1e-5);
    expect(topUp?.kind === "order" && topUp.order.margin).toEqual({ direction: "post", amount: 10_500n * 10n ** 6n, reason: expect.stringContaining("top-up") });
    // Margin stays between hedges (each move costs a transaction); only what the vault's cap — 40% of max(open
    // interest 100, |position| 20) at 3,000 = 120,000 — would no longer allow goes back.
    const kept = withPerp({ netDeltaWad: 0n }, { sizeWad: -20n * WAD, margin: 40_000n * 10n ** 6n });
    expect(marginFirst(kept, undefined, 1e-5)).toBeUndefined();
    const high = withPerp({ netDeltaWad: 0n }, { sizeWad: -20n * WAD, margin: 130_000n * 10n ** 6n });
    const back = marginFirst(high, undefined, 1e-5);
    expect(back?.kind === "order" && back.order.margin).toMatchObject({ direction: "withdraw", amount: 10_000n * 10n ** 6n });
    expect(effectiveMargin(high.perp!)).toBe(130_000n * 10n ** 6n);
    // A withdrawal never displaces a hedge in the same block.
    expect(marginFirst(high, undefined, 1e-5, undefined, true)).toBeUndefined();
    // An empty book and no position: all of it back.
    const done = { ...withPerp({ netDeltaWad: 0n }, { margin: 5_000n * 10n ** 6n }), book: [] };
    const all = marginFirst(done, undefined, 1e-5);
    expect(all?.kind === "order" && all.order.margin).toMatchObject({ direction: "withdraw", amount: 5_000n * 10n ** 6n });
  });
});

// ──────────────────────────────────────── the keeper on a chain ────────────────────────────────────────

describe("the keeper hedges on the perp, on a local chain", () => {
  let node: LocalNode;
  beforeAll(async () => {
    node = await startLocalNode();
  });
  afterAll(async () => {
    await node?.close();
  });

  async function putVault(extraCalls = 0): Promise<{ sys: System; keeper: Keeper }> {
    const { viem } = await node.connect();
    const sys = await deploySystem(viem, { perp: {} });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    await buyOptions(sys, buyer, (await listSeries(sys, false, 3000, 30)).id, 100);
    if (extraCalls > 0) await buyOptions(sys, buyer, (await listSeries(sys, true, 3000, 30)).id, extraCalls);
    await fundArbitrageur(sys);
    const keeper = new Keeper(localKeeperOptions(sys), {
      client: createChainClients({ rpcUrl: node.url }).publicClient,
      account: signerFromPrivateKey(LOCAL_KEEPER_KEY),
      logger: pino({ level: "silent" }),
      nowMs: () => performance.now(),
    });
    return { sys, keeper };
  }

  /** Moves the oracle to `price` and the pool with it (an arbitrageur), as the market would. */
  async function move(sys: System, price: number) {
    const pool = await readPool(sys.publicClient, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address });
    const swap = await arbitrageSwap(sys.publicClient, pool, priceE8(price));
    const deadline = (await sys.publicClient.getBlock()).timestamp + 600n;
    if (swap) await sys.wait(await sys.amm.write.swapExactIn([swap.tokenIn, swap.amountIn, 0n, sys.admin.account.address, deadline]));
    await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
  }

  /** Polls until the keeper has nothing more to send (each poll sends at most one transaction per vault). */
  async function settle(keeper: Keeper, sys: System, rounds = 6) {
    for (let i = 0; i < rounds; i++) {
      const report = await keeper.poll();
      if (process.env.DEBUG_PERP) for (const p of report?.plans ?? []) console.log(p.decision.kind, p.decision.reason, p.sizing?.kind, p.sizing?.kind === "skip" ? p.sizing.reason : JSON.stringify(p.sizing?.order.margin ?? { trade: String(p.sizing?.order.tradeWad), perp: !!p.sizing?.order.perp }, (_k, v) => typeof v === "bigint" ? String(v) : v), JSON.stringify(report?.sent.map((x) => x.hash)));
      await sys.publicClient.request({ method: "evm_mine" as never, params: [] as never });
      if ((report?.sent.length ?? 0) === 0 && keeper.pending.size === 0) return;
    }
  }

  it("a put-selling vault: posts margin, then goes short to within its band", async () => {
    const { sys, keeper } = await putVault();
    const before = wadToNumber(await sys.vault.read.netDeltaWad());
    expect(before).toBeGreaterThan(40);
    await settle(keeper, sys);
    const position = await sys.perp!.read.positionOf([sys.vault.address]);
    expect(wadToNumber(position.sizeWad)).toBeLessThan(-40);
    expect(Math.abs(wadToNumber(await sys.vault.read.netDeltaWad()))).toBeLessThanOrEqual(0.5);
  });

  it("a fast rally: the keeper tops up and the position is never liquidatable; without the keeper it is", async () => {
    for (const withKeeper of [true, false]) {
      const { sys, keeper } = await putVault();
      await settle(keeper, sys);
      let liquidatable = false;
      // A 50% rally in 3% steps: the short loses half its notional, several times the margin first posted.
      for (let price = 3000; price <= 4500; price += 90) {
        await move(sys, price);
        if (withKeeper) await settle(keeper, sys);
        liquidatable ||= (await sys.perp!.read.positionOf([sys.vault.address])).liquidatable;
      }
      expect(liquidatable, withKeeper ? "with the keeper's top-ups" : "with no keeper").toBe(!withKeeper);
    }
  });

  it("a mixed book is hedged through zero, both directions, on a price path", async () => {
    // 100 puts and 100 calls at the money: delta ≈ 0 at 3,000, long below (the puts), short above (the calls).
    const { sys, keeper } = await putVault(100);
    const sides = new Set<string>();
    for (const price of [3000, 2850, 2700, 2850, 3000, 3150, 3300, 3150, 3000]) {
      await move(sys, price);
      const before = wadToNumber(await sys.vault.read.netDeltaWad());
      await settle(keeper, sys);
      const after = wadToNumber(await sys.vault.read.netDeltaWad());
      if (Math.abs(before) > 0.5) sides.add(before > 0 ? "sold" : "bought");
      expect(Math.abs(after), `after the keeper at ${price}`).toBeLessThanOrEqual(Math.max(0.5, Math.abs(before)));
    }
    expect([...sides].sort()).toEqual(["bought", "sold"]);
  });
});
