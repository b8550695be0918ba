/**
 * The vault's second hedge venue (issue 14): `hedgePerp` on a `MockPerpMarket` beside the AMM, and the perp margin
 * the keeper moves. A put-selling vault (positive delta, which the AMM cannot short) is hedged by going short; every
 * guard of `rebalance` is replayed on the perp venue (each with the trade that breaks it); the margin bounds, the NAV
 * with a perp position, and the two failures a keeper can cause (no top-up: liquidation; margin locked up: bounded).
 *
 * Reverts are asserted by their decoded custom error.
 */
import hre from "hardhat";
import { describe, expect, it } from "vitest";
import { getAddress, parseEventLogs, zeroAddress } from "viem";
import {
  DEFAULT_HEDGE_PARAMS,
  DEFAULT_PERP_MARGIN_BOUNDS,
  DEFAULT_PERP_PARAMS,
  ROLES,
  WAD,
  buyOptions,
  deployPerp,
  deploySystem,
  listSeries,
  priceE8,
  quoteUnits,
  type System,
} from "../harness/system.ts";
import { expectRevert } from "./helpers/revert.ts";

const { viem, networkHelpers } = await hre.network.create();
const { time } = networkHelpers;
const wallets = await viem.getWalletClients();
const buyer = wallets[2]!;
const stranger = wallets[3]!;

const BPS = 10_000n;
const abs = (x: bigint) => (x < 0n ? -x : x);

type PerpSystem = System & { perp: NonNullable<System["perp"]> };

/** A vault with a perp market that has sold 100 ATM 30-day puts: net delta ≈ +47 (long), nothing hedged yet. */
async function putBookSystem(): Promise<PerpSystem> {
  const sys = await deploySystem(viem, { perp: {} });
  const { id } = await listSeries(sys, false, 3000, 30);
  await buyOptions(sys, buyer.account.address, id, 100);
  return sys as PerpSystem;
}

const asKeeper = (sys: System) => ({ account: sys.keeper.account });
const deadline = async (sys: System) => (await sys.publicClient.getBlock()).timestamp + 600n;

/** Posts `bps` of the notional of |net delta| as margin (keeper). */
async function postMargin(sys: PerpSystem, bps: bigint) {
  const delta = abs(await sys.vault.read.netDeltaWad());
  const amount = (delta * 3000n * bps) / BPS / 10n ** 12n; // quote units at ~3,000
  await sys.wait(await sys.vault.write.postPerpMargin([amount], asKeeper(sys)));
  return amount;
}

/** `hedgePerp(size)` with the widest keeper bound (the vault's own bound still applies). */
async function hedge(sys: PerpSystem, sizeWad: bigint, account = sys.keeper.account) {
  return sys.vault.write.hedgePerp([sizeWad, sizeWad > 0n ? 2n ** 255n : 0n, await deadline(sys)], { account });
}

function perpHedgedOf(sys: System, receipt: { logs: Parameters<typeof parseEventLogs>[0]["logs"] }) {
  const [ev] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "PerpHedged" });
  return ev!.args;
}

/** A put book hedged short on the perp to (nearly) zero delta, margin at 25% of the notional. */
async function hedgedPutBook(): Promise<PerpSystem> {
  const sys = await putBookSystem();
  await postMargin(sys, 2_500n);
  const delta = await sys.vault.read.netDeltaWad();
  await sys.wait(await hedge(sys, -delta));
  return sys;
}

describe("OptionVault perp venue: a put-selling vault hedges short", () => {
  it("goes short on the perp to within its band; net delta, NAV and the event count the position", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    const before = await sys.vault.read.netDeltaWad();
    expect(before).toBeGreaterThan(40n * WAD); // short puts: long delta, which the AMM cannot short
    await expectRevert(
      sys.vault.write.rebalance([false, 10n ** 18n, 0n, await deadline(sys)], asKeeper(sys)),
      "InsufficientHedge",
    );

    const navBefore = await sys.vault.read.totalAssets();
    const margin = await postMargin(sys, 2_500n);
    // Posting moves cash into margin: the NAV counts it (it only earns the second of margin that passed).
    const navPosted = await sys.vault.read.totalAssets();
    expect(navPosted).toBeGreaterThanOrEqual(navBefore);
    expect(navPosted - navBefore).toBeLessThan(quoteUnits(1));
    expect((await sys.perp.read.positionOf([sys.vault.address])).margin).toBe(margin);

    const receipt = await sys.wait(await hedge(sys, -before));
    const ev = perpHedgedOf(sys, receipt);
    expect(ev.sizeDeltaWad).toBe(-before);
    expect(abs(ev.deltaBeforeWad - before)).toBeLessThan(WAD / 1000n); // one block of theta later
    expect(abs(ev.deltaAfterWad)).toBeLessThan(WAD / 1000n);
    expect(await sys.perp.read.sizeOf([sys.vault.address])).toBe(-before);
    expect(abs(await sys.vault.read.netDeltaWad())).toBeLessThan(DEFAULT_HEDGE_PARAMS.bandWad);
    console.log(`perp hedge of ${Number(before) / 1e18} ETH at 1 live series: ${receipt.gasUsed} gas`);

    // The NAV loses the fee and the premium the short paid into the skew, no more.
    const navAfter = await sys.vault.read.totalAssets();
    const notional = (before * 3000n) / WAD; // quote units ×1e6 below
    const feeAndImpact = navBefore - navAfter;
    expect(feeAndImpact).toBeGreaterThan(0n);
    expect(feeAndImpact).toBeLessThan((notional * 10n ** 6n * 15n) / BPS); // fee 10 bp + impact 2.4 bp < 15 bp
  });

  it("the hedge holds the NAV through a price move: book and perp P&L offset", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    const nav0 = await sys.vault.read.totalAssets();
    await sys.wait(await sys.oracle.write.setPrice([priceE8(2940)])); // −2%
    const nav1 = await sys.vault.read.totalAssets();
    // Unhedged, 47 ETH of delta would lose ~2,800; hedged, what is left is gamma (short puts lose a little both ways).
    expect(abs(nav1 - nav0)).toBeLessThan(quoteUnits(300));
  });
});

describe("OptionVault perp venue: the guards of rebalance, on the perp", () => {
  it("rejects a trade that increases |delta| (DeltaNotReduced) and one that overshoots past the tolerance", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 4_000n);
    const delta = await sys.vault.read.netDeltaWad();
    await expectRevert(hedge(sys, WAD), "DeltaNotReduced");
    await expectRevert(hedge(sys, -2n * delta), "HedgeOvershoot");
    // Within the tolerance past zero is allowed.
    await sys.wait(await hedge(sys, -(delta + DEFAULT_HEDGE_PARAMS.deltaToleranceWad / 2n)));
  });

  it("rejects from within the tolerance (DeltaWithinTolerance)", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    await expectRevert(hedge(sys, -WAD / 100n), "DeltaWithinTolerance");
  });

  it("rejects an all-in price (fill and fee) beyond maxSlippageBps of the oracle (SlippageTooHigh)", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 2_500n);
    // The taker fee alone is 10 bp: a 5 bp bound cannot pass.
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, maxSlippageBps: 5 }]));
    const [received, limit] = (await expectRevert(hedge(sys, -10n * WAD), "SlippageTooHigh")) as [bigint, bigint];
    expect(limit).toBe((3000n * WAD * (BPS - 5n)) / BPS);
    expect(received).toBeLessThan(limit);
    // At 15 bp it passes: fee 10 bp, impact 0.5 bp.
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, maxSlippageBps: 15 }]));
    await sys.wait(await hedge(sys, -10n * WAD));
  });

  it("passes the keeper's own acceptable price to the market (PriceOutOfBounds)", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 2_500n);
    const fill = await sys.perp.read.fillPrice([-10n * WAD]);
    await expectRevert(
      sys.vault.write.hedgePerp([-10n * WAD, fill + 1n, await deadline(sys)], asKeeper(sys)),
      "PriceOutOfBounds",
    );
    await sys.wait(await sys.vault.write.hedgePerp([-10n * WAD, fill, await deadline(sys)], asKeeper(sys)));
  });

  it("charges the perp's notional and slippage to the same budget as the AMM (NotionalBudgetExceeded, SlippageBudgetExceeded)", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 2_500n);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, notionalBudget: 40_000 }]));
    await sys.wait(await hedge(sys, -10n * WAD)); // 30,000 of notional
    await expectRevert(hedge(sys, -5n * WAD), "NotionalBudgetExceeded");
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, slippageBudget: 50 }]));
    // 20 ETH at 3,000 pays a 10 bp fee = 60 > 50, whatever the budget carried.
    await expectRevert(hedge(sys, -20n * WAD), "SlippageBudgetExceeded");
  });

  it("shares the spacing with the AMM, and stops when paused, too large, late, or not the keeper", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 2_500n);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, minRebalanceInterval: 5, maxTradeWad: 20n * WAD }]));
    await expectRevert(hedge(sys, -30n * WAD), "TradeTooLarge", [30n * WAD, 20n * WAD]);
    await expectRevert(hedge(sys, -WAD, stranger.account), "AccessControlUnauthorizedAccount", [
      getAddress(stranger.account.address),
      ROLES.keeper,
    ]);
    await expectRevert(
      sys.vault.write.hedgePerp([-WAD, 0n, (await sys.publicClient.getBlock()).timestamp], asKeeper(sys)),
      "HedgeExpired",
    );
    await sys.wait(await hedge(sys, -10n * WAD));
    await expectRevert(hedge(sys, -10n * WAD), "RebalanceTooSoon");
    // A spot trade right after a perp trade waits too: one spacing for both venues.
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    await expectRevert(
      sys.vault.write.rebalance([false, 10n ** 17n, 0n, await deadline(sys)], asKeeper(sys)),
      "RebalanceTooSoon",
    );
    await networkHelpers.mine(5);
    await sys.wait(await sys.vault.write.pause());
    await expectRevert(hedge(sys, -10n * WAD), "VaultPaused");
    await sys.wait(await sys.vault.write.unpause());
    await sys.wait(await hedge(sys, -10n * WAD));
  });

  it("needs a usable oracle, and reverts NoPerpVenue on a vault deployed without a market", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    await postMargin(sys, 2_500n);
    await time.increase(DEFAULT_HEDGE_PARAMS.maxOracleAge + 1);
    await expectRevert(hedge(sys, -10n * WAD), "StaleOracle");
    const plain = await deploySystem(viem);
    expect(await plain.vault.read.perp()).toBe(zeroAddress);
    await expectRevert(plain.vault.write.hedgePerp([-WAD, 0n, 2n ** 40n], asKeeper(plain)), "NoPerpVenue");
    await expectRevert(plain.vault.write.postPerpMargin([1n], asKeeper(plain)), "NoPerpVenue");
  });

  it("refuses a position whose margin would sit below minMarginBps of its notional, but lets it be reduced", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    // 12% of the notional: above the market's 10% initial margin, below the vault's 15% minimum.
    await postMargin(sys, 1_200n);
    const delta = await sys.vault.read.netDeltaWad();
    const [effective, required] = (await expectRevert(hedge(sys, -delta), "PerpMarginTooLow")) as [bigint, bigint];
    expect(effective).toBeLessThan(required);
    // With 20% it is allowed.
    await postMargin(sys, 800n);
    await sys.wait(await hedge(sys, -delta));
    // A 10% rally eats the short's margin below 15% of its notional, and the puts' delta falls: over-hedged.
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3300)]));
    const p = await sys.perp.read.positionOf([sys.vault.address]);
    const ratioBps = ((p.margin + BigInt(p.pnl) + BigInt(p.funding) - p.premiumCredit) * 10n ** 12n * BPS) / ((abs(p.sizeWad) * 3300n));
    expect(ratioBps).toBeLessThan(1_500n);
    const net = await sys.vault.read.netDeltaWad();
    expect(net).toBeLessThan(-WAD);
    // Buying back part of the short only reduces the position: allowed below the minimum.
    await sys.wait(await hedge(sys, -net / 2n));
  });
});

describe("OptionVault perp venue: margin", () => {
  it("posts only from cash beyond the collateral and up to maxMarginBps of the open interest's notional", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    // Cap: 40% of max(open interest 100, |position| 0) × 3,000 = 120,000.
    const cap = quoteUnits(120_000);
    await expectRevert(sys.vault.write.postPerpMargin([cap + 1n], asKeeper(sys)), "PerpMarginAboveCap", [cap + 1n, cap]);
    await sys.wait(await sys.vault.write.postPerpMargin([cap], asKeeper(sys)));
    await expectRevert(sys.vault.write.postPerpMargin([1n], asKeeper(sys)), "PerpMarginAboveCap");
    await expectRevert(sys.vault.write.postPerpMargin([0n], asKeeper(sys)), "ZeroAmount");
    await expectRevert(sys.vault.write.postPerpMargin([1n], { account: stranger.account }), "AccessControlUnauthorizedAccount");
  });

  it("posts only from the cash the book does not require (InsufficientCollateral)", async () => {
    // 380,000 deposited + ~20,000 of premium, 300,000 required by 100 puts at 3,000: ~100,000 free, under the
    // 120,000 cap.
    const sys = (await deploySystem(viem, { perp: {}, vaultDeposit: 380_000 })) as PerpSystem;
    const { id } = await listSeries(sys, false, 3000, 30);
    await buyOptions(sys, buyer.account.address, id, 100);
    const free = (await sys.quote.read.balanceOf([sys.vault.address])) - quoteUnits(300_000);
    expect(free).toBeGreaterThan(quoteUnits(10_000));
    await expectRevert(sys.vault.write.postPerpMargin([free + 1n], asKeeper(sys)), "InsufficientCollateral");
    await sys.wait(await sys.vault.write.postPerpMargin([free], asKeeper(sys)));
  });

  it("withdraws margin down to minMarginBps with a position, all of it without", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    const p = await sys.perp.read.positionOf([sys.vault.address]);
    // 25% posted, 15% must stay: 10% of the notional can come back, not 11%.
    const notional = (abs(p.sizeWad) * 3000n) / WAD; // whole quote
    await expectRevert(sys.vault.write.withdrawPerpMargin([quoteUnits(Number((notional * 11n) / 100n))], asKeeper(sys)), "PerpMarginTooLow");
    await sys.wait(await sys.vault.write.withdrawPerpMargin([quoteUnits(Number((notional * 9n) / 100n))], asKeeper(sys)));
    await expectRevert(sys.vault.write.withdrawPerpMargin([1n], { account: stranger.account }), "AccessControlUnauthorizedAccount");
  });

  it("sets the bounds (manager only, 1 ≤ min ≤ max ≤ 10,000)", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    expect(await sys.vault.read.perpMarginBounds()).toEqual([
      BigInt(DEFAULT_PERP_MARGIN_BOUNDS.minMarginBps),
      BigInt(DEFAULT_PERP_MARGIN_BOUNDS.maxMarginBps),
    ]);
    await expectRevert(sys.vault.write.setPerpMarginBounds([2_000, 1_000]), "InvalidParameter");
    await expectRevert(sys.vault.write.setPerpMarginBounds([0, 1_000]), "InvalidParameter");
    await expectRevert(sys.vault.write.setPerpMarginBounds([1, 10_001]), "InvalidParameter");
    await expectRevert(sys.vault.write.setPerpMarginBounds([1, 2], { account: stranger.account }), "AccessControlUnauthorizedAccount");
    await sys.wait(await sys.vault.write.setPerpMarginBounds([1_000, 2_000]));
    expect(await sys.vault.read.perpMarginBounds()).toEqual([1_000n, 2_000n]);
  });
});

describe("OptionVault perp venue: what the keeper can and cannot do to depositors", () => {
  it("a keeper that withholds the top-up lets the position be liquidated: the vault loses that margin and the hedge", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    // Withdraw down to 15.5%, then a 16% rally: the short loses 16% of its notional and is liquidatable.
    const p0 = await sys.perp.read.positionOf([sys.vault.address]);
    const notional = (abs(p0.sizeWad) * 3000n) / WAD;
    await sys.wait(await sys.vault.write.withdrawPerpMargin([quoteUnits(Number((notional * 95n) / 1000n))], asKeeper(sys)));
    const navBefore = await sys.vault.read.totalAssets();
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3480)]));
    expect((await sys.perp.read.positionOf([sys.vault.address])).liquidatable).toBe(true);
    await sys.wait(await sys.perp.write.liquidate([sys.vault.address], { account: stranger.account }));
    expect(await sys.perp.read.sizeOf([sys.vault.address])).toBe(0n);
    // The book's delta is now unhedged again.
    expect(await sys.vault.read.netDeltaWad()).toBeGreaterThan(20n * WAD);
    expect(await sys.vault.read.totalAssets()).toBeLessThan(navBefore);
  });

  it("the same rally with the top-up the margin bounds allow: the position survives", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3480)]));
    const p = await sys.perp.read.positionOf([sys.vault.address]);
    expect(p.liquidatable).toBe(false); // 25% posted covers a 16% rally
    // Top up to the cap: 40% of max(open interest, |size|) at 3,360.
    const effective = p.margin + BigInt(p.pnl) + BigInt(p.funding) - p.premiumCredit;
    const cap = (100n * 3480n * 10n ** 6n * 4_000n) / BPS;
    await sys.wait(await sys.vault.write.postPerpMargin([cap - effective], asKeeper(sys)));
    await sys.wait(await sys.oracle.write.setPrice([priceE8(4000)])); // a further 15%
    expect((await sys.perp.read.positionOf([sys.vault.address])).liquidatable).toBe(false);
  });

  it("deposits and withdrawals wait while the perp market cannot value the position (its own oracle bound)", async () => {
    const sys = await networkHelpers.loadFixture(hedgedPutBook);
    await sys.wait(await sys.perp.write.setParams([{ ...DEFAULT_PERP_PARAMS, maxOracleAge: 600n }]));
    await time.increase(900); // stale for the market, fresh for the vault (3,600 s)
    expect(await sys.vault.read.maxDeposit([buyer.account.address])).toBe(0n);
    expect(await sys.vault.read.maxWithdraw([sys.admin.account.address])).toBe(0n);
    await expectRevert(sys.vault.read.previewDeposit([quoteUnits(1)]), "StaleOracle");
    await expectRevert(sys.vault.read.previewRedeem([10n ** 12n]), "StaleOracle");
    // totalAssets never reverts: the perp then counts for nothing (a lower bound).
    expect(await sys.vault.read.totalAssets()).toBeGreaterThan(0n);
  });

  it("refuses a market on another quote asset or oracle at deployment (PerpVenueMismatch)", async () => {
    const sys = await networkHelpers.loadFixture(putBookSystem);
    const other = await deployPerp(viem, { quote: sys.underlying.address, oracle: sys.oracle.address, owner: sys.admin.account.address });
    const { deployVault } = await import("../harness/system.ts");
    await expectRevert(
      deployVault(viem, {
        config: {
          quote: sys.quote.address,
          underlying: sys.underlying.address,
          oracle: sys.oracle.address,
          amm: sys.amm.address,
          admin: sys.admin.account.address,
          perp: other.perp.address,
        },
        hedge: sys.hedge,
        risk: sys.risk,
        limits: sys.limits,
      }),
      "PerpVenueMismatch",
    );
  });
});
