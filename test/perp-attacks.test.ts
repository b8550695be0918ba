/**
 * Attacks on the perpetual-futures market (`MockPerpMarket`, specification in `IPerpMarket`): the cheapest trade
 * sequences an adversary with a fork would try against the pool, another position holder, or the liveness of a
 * position. Each test states the defence it checks and what it would show if that defence were removed.
 *
 * A test that FAILS here is a finding (the attack pays, or the NatSpec promise does not hold); a test that PASSES
 * documents an attack the market resists. Numbers in comments are at the oracle's 3,000 unless stated, in quote
 * units of the 6-decimal token (USDC).
 *
 * Small skew scales (100 or 1,000 underlying) make premiums visible with small sizes; every premium effect scales as
 * size / skewScale, so the same sequences work at the 100,000 default with 100x the size.
 */
import { describe, expect, it } from "vitest";
import { parseEventLogs } from "viem";
import { WAD, quoteUnits, underlyingUnits } from "../harness/system.ts";
import { expectRevert } from "./helpers/revert.ts";
import { perpTestChain } from "./helpers/perpMarket.ts";

const { networkHelpers, sys, wallets, freshMarket } = await perpTestChain();
if (wallets.length < 7) throw new Error("the default network must expose at least seven accounts");
const [owner, , alice, bob, stranger, mallory, mallory2] = wallets.slice(0, 7) as [
  Wallet,
  Wallet,
  Wallet,
  Wallet,
  Wallet,
  Wallet,
  Wallet,
];

const abs = (x: bigint) => (x < 0n ? -x : x);


type Wallet = NonNullable<(typeof wallets)[number]>;

type Market = Awaited<ReturnType<typeof freshMarket>>;

/** The profit of `ws` summed (balances less what was minted to them): an attacker's across its accounts. */
async function wealth(m: Market, ws: Wallet[]) {
  let sum = 0n;
  for (const w of ws) sum += await m.net(w);
  return sum;
}

// ─────────────────────────────────── premium valued at the oracle price ───────────────────────────────────

describe("positions valued at p while they can only close at a fill price", () => {
  /**
   * FIXED (was high). A trade into an existing skew fills at a premium (a sell above p): the new position shows a
   * paper profit at p that closing at the same skew pays back. It used to count as margin, so an attacker could sell
   * into a skew, withdraw its whole margin and hold a free option on the pool (+17,431 one way, +139.75 the other,
   * for a 35.25 fee). Now that premium is the position's premium credit and not margin (formula (7)): the trade
   * needs real margin, the margin cannot be withdrawn against the credit, and the attacker's own money is at risk.
   * Removing the credit from the checks brings back the free option (both branches pay).
   */
  it("a premium collected by trading into a skew is not margin: no free option on the pool", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(10_000_000));
    // An honest whale holds a long skew of 200 (20% of the scale).
    await m.deposit(bob, quoteUnits(1_000_000));
    await m.trade(bob, underlyingUnits(200));

    const start = await m.net(mallory);
    // 100 of margin cannot carry a 50-ETH short, whatever premium its fill collects (fill 3,525: 26,250 at p).
    await m.deposit(mallory, quoteUnits(100));
    await expectRevert(m.trade(mallory, underlyingUnits(-50)), "WouldBeLiquidatable");
    await m.deposit(mallory, quoteUnits(15_000));
    await m.trade(mallory, underlyingUnits(-50));
    const opened = await m.position(mallory);
    expect(opened.entryPriceWad).toBe(3525n * WAD);
    expect(opened.premiumCredit).toBe(quoteUnits(26_250));
    // The paper profit cannot be taken out: her settled margin cannot leave either.
    await expectRevert(m.withdraw(mallory, opened.margin), "WouldBeLiquidatable");
    const forked = await networkHelpers.takeSnapshot();

    // Tails: the price rises to 3,500; she is liquidated and her margin goes to the pool.
    await m.setPrice(3500);
    expect((await m.position(mallory)).liquidatable).toBe(true);
    await m.liquidate(mallory, mallory);
    const tailsNet = (await m.net(mallory)) - start;
    await m.expectBacked();

    // Heads: the price falls to 2,700; she closes at a profit.
    await forked.restore();
    await m.setPrice(2700);
    await m.trade(mallory, underlyingUnits(50));
    await m.withdrawAll(mallory);
    const headsNet = (await m.net(mallory)) - start;
    await m.expectBacked();

    expect(headsNet).toBeGreaterThan(0n);
    expect(tailsNet, "the up move must cost her the margin she put up").toBeLessThan(-quoteUnits(14_000));
  });

  /**
   * FIXED (was medium). Two accounts of one attacker open opposite positions through the skew (A buys 200 from
   * K = 0, B sells them back): delta-neutral. Liquidating A at p (no premium) and then closing B through the skew
   * A's removal left (K = −200) collects B's premium, p·d²/(2S), from the pool: it used to net +48,396 against
   * −1,512 for closing both by trades. Now the maintenance margin holds that zero-skew premium and the pool keeps
   * it on liquidation, so when A is liquidated as soon as it can be (the price stepping down 0.5% a block, an honest
   * liquidator in every block), liquidating first nets less than closing both by trades. Without the liquidation
   * premium in the maintenance margin, this test fails. (A gap past the whole margin in one step still leaves bad
   * debt to the pool, as in any perp.)
   */
  it("a hedged pair through the skew gains nothing when one leg is liquidated as soon as it can be", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(10_000_000));
    const attacker = [mallory, mallory2];
    const [A, B] = [mallory, mallory2];
    const start = await wealth(m, attacker);
    await m.deposit(A, quoteUnits(130_000));
    await m.trade(A, underlyingUnits(200)); // K 0 → 200 at 3,300
    await m.deposit(B, quoteUnits(70_000));
    await m.trade(B, underlyingUnits(-200)); // K 200 → 0 at 3,300
    expect(await m.perp.read.marketSkew()).toBe(0n);
    let price = 3000;
    while (!(await m.position(A)).liquidatable) {
      price = Math.round(price * 0.995 * 100) / 100;
      await m.setPrice(price);
    }
    const forked = await networkHelpers.takeSnapshot();

    // Control: close both legs by trades (B first, so that A's sale has the skew to fill against).
    await m.trade(B, underlyingUnits(200));
    await m.trade(A, underlyingUnits(-200));
    await m.withdrawAll(A);
    await m.withdrawAll(B);
    const controlNet = (await wealth(m, attacker)) - start;
    await m.expectBacked();

    // Attack: liquidate A at p (B takes the reward), then B closes against the skew A's removal left.
    await forked.restore();
    await m.liquidate(B, A);
    expect(await m.perp.read.marketSkew()).toBe(underlyingUnits(-200));
    await m.trade(B, underlyingUnits(200));
    await m.withdrawAll(B);
    const attackNet = (await wealth(m, attacker)) - start;
    await m.expectBacked();

    expect(controlNet).toBeLessThan(0n); // the fees
    expect(attackNet, `liquidating first nets ${attackNet}, closing both ${controlNet}`).toBeLessThanOrEqual(controlNet);
  });
});

// ───────────────────────────────────────── rounding and dust ─────────────────────────────────────────

describe("rounding", () => {
  /**
   * RESISTED. Many 1-wei trades on top of a 10-ETH position (each re-marks the whole position at the marginal fill
   * price and floors its P&L) and a dust position. Every trade pays at least one quote unit of fee (rounded up),
   * the position's value at p only goes down, the pool gains at least one unit per trade, and a 1-wei position
   * needs more than the 20-unit minimum liquidation reward of margin. If the fee rounded down (or the fill towards
   * the trader), the 1-wei trades would be free and the per-trade assertions fail; without the minimum reward in
   * the maintenance margin the dust position would open on 2 units.
   */
  it("many 1-wei trades cost at least a unit each and never raise the trader's value; dust needs the minimum reward as margin", async () => {
    const m = await freshMarket({ maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(1_000_000));
    await m.deposit(bob, quoteUnits(100_000));
    await m.trade(bob, underlyingUnits(37.123456789)); // a skew that makes every division inexact
    await m.deposit(mallory, quoteUnits(10_000));
    await m.trade(mallory, underlyingUnits(10));
    const before = await m.position(mallory);
    const value0 = BigInt(before.margin) + before.pnl + before.funding;
    const pool0 = await m.perp.read.pool();
    const N = 20;
    for (let i = 0; i < N; i++) {
      for (const d of [1n, -1n, 3n, -3n]) {
        const receipt = await m.trade(mallory, d);
        const [event] = parseEventLogs({ abi: m.perp.abi, logs: receipt.logs, eventName: "PositionModified" });
        expect(event!.args.fee, "a 1-wei trade must pay at least one unit").toBeGreaterThanOrEqual(1n);
      }
    }
    const after = await m.position(mallory);
    expect(after.sizeWad).toBe(before.sizeWad);
    const value1 = BigInt(after.margin) + after.pnl + after.funding;
    expect(value0 - value1).toBeGreaterThanOrEqual(BigInt(4 * N));
    // The pool pays out the re-marked P&L as it is settled, but net of its liability at p it gains every fee.
    const poolNet0 = pool0 - (before.pnl + before.funding);
    const poolNet1 = (await m.perp.read.pool()) - (after.pnl + after.funding);
    expect(poolNet1 - poolNet0).toBeGreaterThanOrEqual(BigInt(4 * N));
    await m.expectBacked();

    // Dust: a 1-wei position is held to the 20-unit minimum reward (maintenance 20.000002: the reward, one unit of
    // rounded-up maintenance and one of liquidation premium; plus one unit of fee and one of floored P&L):
    // 20.000002 is refused, 21 is enough.
    await m.deposit(stranger, 2n);
    await expectRevert(m.trade(stranger, 1n), "WouldBeLiquidatable", [0n, quoteUnits(20) + 2n]);
    await m.deposit(stranger, quoteUnits(20));
    await expectRevert(m.trade(stranger, 1n), "WouldBeLiquidatable", [quoteUnits(20), quoteUnits(20) + 2n]);
    await m.deposit(stranger, quoteUnits(1));
    await m.trade(stranger, 1n);
    expect((await m.position(stranger)).liquidatable).toBe(false);
  });
});

// ───────────────────────────────────────────── liquidation ─────────────────────────────────────────────

describe("liquidation", () => {
  /**
   * RESISTED. Alice's long is liquidatable; an accomplice front-runs the liquidator by shorting 900 (K 30 → −870),
   * so that closing her 30 would fill at 310.5 instead of 2,700. The liquidation still closes at p: the liquidator
   * gets the full 81 and the pool exactly margin − reward. Were the closure priced at fill(−size), her remaining
   * margin would be deeply negative and the reward 0 — the keeper's incentive gone whenever the holder can skew
   * the market.
   */
  it("a holder who skews the market before its liquidation cannot eat the liquidator's reward", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(10_000_000));
    await m.deposit(alice, quoteUnits(11_000));
    await m.trade(alice, underlyingUnits(30)); // entry 3,045
    await m.setPrice(2700); // remaining 558.65 ≤ maintenance 891
    const view = await m.position(alice);
    expect(view.liquidatable).toBe(true);
    await m.deposit(bob, quoteUnits(10_000_000));
    await m.trade(bob, underlyingUnits(-900));
    expect(await m.perp.read.fillPrice([-underlyingUnits(30)])).toBe(underlyingUnits(310.5));
    const [poolBefore, balBefore] = [await m.perp.read.pool(), await m.balance(stranger.account.address)];
    await m.liquidate(stranger, alice);
    const reward = quoteUnits(81); // max(20, 30 · 2,700 · 10 bps)
    expect((await m.balance(stranger.account.address)) - balBefore).toBe(reward);
    expect((await m.perp.read.pool()) - poolBefore).toBe(view.margin - reward);
    await m.expectBacked();
  });
});

// ──────────────────────────────────────── sandwiches and bounds ────────────────────────────────────────

describe("sandwich of a hedge", () => {
  /**
   * RESISTED when the victim passes a bound. A front-runner buys 100 before a 50-ETH hedge buy and sells after it:
   * with no bound the victim fills 5% higher and the front-runner keeps a·p·v/S ≈ 15,000 less ~380 of fees (the
   * premium is the market's only price impact, so a sandwich always pays for |D| / S above the fees). With the
   * quoted fill as `acceptablePriceWad` the hedge reverts instead. If the bound were ignored, the first
   * expectation fails.
   */
  it("acceptablePrice = the quoted fill makes a front-run hedge revert; without it the sandwich pays", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: 0n });
    await m.fundPool(quoteUnits(10_000_000));
    await m.deposit(alice, quoteUnits(1_000_000)); // the vault's stand-in
    await m.deposit(mallory, quoteUnits(1_000_000));
    const hedge = underlyingUnits(50);
    const quoted = await m.perp.read.fillPrice([hedge]);
    const snap = await networkHelpers.takeSnapshot();

    await m.trade(mallory, underlyingUnits(100));
    await expectRevert(m.perp.write.modifyPosition([hedge, quoted], m.as(alice)), "PriceOutOfBounds");

    await snap.restore();
    const start = await m.balance(mallory.account.address);
    await m.trade(mallory, underlyingUnits(100));
    await m.trade(alice, hedge); // unbounded
    await m.trade(mallory, -underlyingUnits(100));
    await m.withdrawAll(mallory);
    const profit = (await m.balance(mallory.account.address)) - start;
    expect(profit).toBeGreaterThan(quoteUnits(14_000));
    await m.expectBacked();
  });
});

// ──────────────────────────────────────── |skew| above the scale ────────────────────────────────────────

/** K = 150 with S = 100: alice long 100, stranger long 50, bob's short 50 liquidated at 7,000. */
async function skewAboveScale() {
  const m = await freshMarket({ skewScale: 100n * WAD, maxFundingVelocity: 0n });
  await m.fundPool(quoteUnits(10_000_000));
  await m.deposit(alice, quoteUnits(1_000_000));
  await m.deposit(stranger, quoteUnits(1_000_000));
  // Bob's short into the skew credits a premium that does not count as margin (formula (7)): 60,000 carries it.
  await m.deposit(bob, quoteUnits(60_000));
  await m.trade(alice, underlyingUnits(100));
  await m.trade(bob, underlyingUnits(-50));
  await m.trade(stranger, underlyingUnits(50));
  await m.setPrice(7000);
  await m.liquidate(owner, bob);
  expect(await m.perp.read.marketSkew()).toBe(150n * WAD);
  return m;
}

describe("|skew| above the skew scale after a liquidation", () => {
  /**
   * RESISTED. From K = 150 > S = 100, only trades that strictly reduce |K| are accepted: one wei further, and a
   * flip to exactly −150, both revert; every accepted fill stays in [0, 2p]; the positions remain liquidatable
   * (liquidation ignores the cap). Removing the `absAfter >= |K|` half of the check would let the first two trades
   * through.
   */
  it("only trades that strictly reduce |K| are accepted, and fills stay within [0, 2p]", async () => {
    const m = await skewAboveScale();
    await m.deposit(mallory, quoteUnits(5_000_000));
    await expectRevert(m.trade(mallory, 1n), "MaxSkewExceeded", [150n * WAD + 1n, 100n * WAD]);
    await expectRevert(m.trade(mallory, -300n * WAD), "MaxSkewExceeded", [-150n * WAD, 100n * WAD]);
    const p = 7000n * WAD;
    for (const d of [-1n, -50n * WAD, -150n * WAD, -249n * WAD]) {
      const fill = await m.perp.read.fillPrice([d]);
      expect(fill >= 0n && fill <= 2n * p).toBe(true);
    }
    await m.trade(mallory, -10n * WAD);
    expect(await m.perp.read.marketSkew()).toBe(140n * WAD);
    await m.expectBacked();
  });

  /**
   * FIXED (was low). One sell from K = 150 used to carry the skew across zero to −149: a trade, not a liquidation,
   * left |K| > S on the short side, where buys filled at exactly 0 and every long could not reduce. Now a trade that
   * ends beyond the scale on the other side reverts with `MaxSkewExceeded`; one that ends within it is accepted.
   */
  it("a trade from |K| > S cannot carry the skew past the scale on the other side", async () => {
    const m = await skewAboveScale();
    await expectRevert(m.trade(alice, -299n * WAD), "MaxSkewExceeded", [-149n * WAD, 100n * WAD]);
    expect(await m.perp.read.marketSkew()).toBe(150n * WAD);
    await m.trade(alice, -249n * WAD);
    const skew = await m.perp.read.marketSkew();
    expect(skew).toBe(-99n * WAD);
    await m.expectBacked();
    expect(abs(skew), "a trade left |K| above the skew scale").toBeLessThanOrEqual(m.params.skewScale);
  });

  /**
   * FIXED (was info). While |K| > S the owner could not change any parameter without also raising `skewScale` to
   * ≥ |K|, at the moment (a liquidation cascade) an emergency change is most likely. Now an unchanged skew scale
   * passes; a changed one must still be ≥ |K|.
   */
  it("setParams keeps an unchanged skewScale while |K| > S, and refuses a new one below |K|", async () => {
    const m = await skewAboveScale();
    await sys.wait(await m.perp.write.setParams([{ ...m.params, maxLeverage: 5n * WAD }], m.as(owner)));
    expect((await m.perp.read.params()).maxLeverage).toBe(5n * WAD);
    await expectRevert(
      m.perp.write.setParams([{ ...m.params, maxLeverage: 5n * WAD, skewScale: 120n * WAD }], m.as(owner)),
      "InvalidParam",
      ["skewScale", 120n * WAD],
    );
    await sys.wait(
      await m.perp.write.setParams([{ ...m.params, maxLeverage: 5n * WAD, skewScale: 150n * WAD }], m.as(owner)),
    );
  });
});

// ──────────────────────────────────────────────── funding ────────────────────────────────────────────────

describe("funding index", () => {
  /**
   * INFO (passes; the behaviour formula (5) specifies, measured). Funding accrued since the last recomputation is
   * converted to quote at the oracle price of the recomputation, and anyone can force one with a 1-wei trade (one
   * unit of fee). A receiver who recomputes at a high print — or a payer at a low one — moves the whole interval's
   * funding by accrued · Δp / p: here a day of 2%-average funding on a 100-ETH short gains 1,200 (20% of the
   * accrual) from a 20% print that reverts. The lever is bounded by the funding accrued between recomputations, so
   * it stays small while the market trades often. If F were priced per second (or at a time-weighted price), the
   * two branches would agree and the last expectation fails.
   */
  it("a 1-wei trade at a chosen print prices the funding accrued since the last recomputation at that print", async () => {
    const m = await freshMarket({ skewScale: 1000n * WAD, maxFundingVelocity: WAD / 10n, maxOracleAge: 3n * 86_400n });
    await m.fundPool(quoteUnits(10_000_000));
    await m.deposit(bob, quoteUnits(10_000_000));
    await m.deposit(alice, quoteUnits(1_000_000));
    await m.deposit(mallory, quoteUnits(1_000));
    await m.trade(bob, underlyingUnits(500));
    await m.trade(alice, underlyingUnits(-100)); // K = 400: v = 4%/day², r from 0
    const t0 = await networkHelpers.time.latest();
    const snap = await networkHelpers.takeSnapshot();
    const fundingAt = async (t: number) => {
      await networkHelpers.time.setNextBlockTimestamp(t);
      await m.setPrice(3000); // the print reverts; read in this block
      return (await m.position(alice)).funding;
    };

    await networkHelpers.time.setNextBlockTimestamp(t0 + 86_400);
    await m.setPrice(3000);
    const quiet = await fundingAt(t0 + 86_402);

    await snap.restore();
    await networkHelpers.time.setNextBlockTimestamp(t0 + 86_400);
    await m.setPrice(3600);
    await m.trade(mallory, 1n); // recomputes at 3,600: the whole day's funding priced at the spike
    const forced = await fundingAt(t0 + 86_402);

    console.info(`alice's funding after a day: ${Number(quiet) / 1e6} if nobody trades, ${Number(forced) / 1e6} with a 1-wei trade at the 3,600 print`);
    expect(quiet).toBeGreaterThan(quoteUnits(5_900)); // 100 · 2% · 3,000 (plus two seconds)
    const gain = forced - quiet;
    expect(gain).toBeGreaterThan(quoteUnits(1_190));
    expect(gain).toBeLessThan(quoteUnits(1_210));
  });
});
