import hre from "hardhat";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeEventLog, getAddress, parseUnits, zeroAddress, type Address } from "viem";
import {
  DEFAULT_HEDGE_PARAMS,
  DEFAULT_RISK_PARAMS,
  ROLES,
  WAD,
  buyOptions,
  deploySystem,
  listSeries,
  priceE8,
  quoteUnits,
  underlyingUnits,
  type System,
} from "../scripts/lib/system.ts";

const { viem, networkHelpers } = await hre.network.create();
const wallets = await viem.getWalletClients();
const buyer = wallets[2]!.account.address;
const stranger = wallets[3]!;

const abs = (x: bigint) => (x < 0n ? -x : x);

async function baseSystem() {
  return deploySystem(viem);
}

/** A vault short 10 one-month ATM calls: net delta ≈ -5.5 WETH, nothing hedged yet. */
async function shortCallsSystem() {
  const sys = await deploySystem(viem);
  const call = await listSeries(sys, true, 3000, 30);
  await buyOptions(sys, buyer, call.id, 10);
  return { ...sys, call };
}

type Sys = Awaited<ReturnType<typeof shortCallsSystem>>;

const asKeeper = (sys: System) => ({ account: sys.keeper.account });

async function book(sys: System) {
  const [snap] = await sys.lens.read.snapshots([[sys.vault.address], true]);
  return snap!.book;
}

async function netDelta(sys: System): Promise<bigint> {
  const st = await sys.vault.read.state();
  return st.netDeltaWad;
}

/** Quote needed to buy `underlyingWad` on the AMM right now. */
async function quoteToBuy(sys: System, underlyingWad: bigint): Promise<bigint> {
  return (await sys.amm.read.quoteExactOut([sys.quote.address, underlyingWad])) as bigint;
}

async function deadline(sys: System) {
  return (await sys.publicClient.getBlock()).timestamp + 600n;
}

describe("OptionVault: book and premiums", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
  });

  it("lists a series and the lens reports it with Greeks at the oracle price", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id, strikeWad, expiry } = await listSeries(sys, true, 3000, 30);
    const series = await book(sys);
    expect(series).toHaveLength(1);
    expect(series[0]!.id).toBe(id);
    expect(series[0]!.strikeWad).toBe(strikeWad);
    expect(series[0]!.expiry).toBe(expiry);
    expect(series[0]!.sizeWad).toBe(0n);
    // One-month ATM call at 80% vol is worth about 0.4·S·σ·√τ ≈ 275 USDC.
    expect(Number(series[0]!.markWad) / 1e18).toBeGreaterThan(250);
    expect(Number(series[0]!.markWad) / 1e18).toBeLessThan(300);
  });

  it("opening a position charges the Black–Scholes premium plus the spread and makes the vault short", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id } = await listSeries(sys, true, 3000, 30);
    const [view] = await book(sys);
    const { premium } = await buyOptions(sys, buyer, id, 2);
    const expected = (view!.markWad * 2n * 10_200n) / 10_000n / 10n ** 12n;
    expect(abs(premium - expected)).toBeLessThanOrEqual(1n);
    expect(await sys.vault.read.positionOf([id, buyer])).toBe(underlyingUnits(2));
    const [after] = await book(sys);
    expect(after!.sizeWad).toBe(-underlyingUnits(2));
    expect(after!.deltaWad).toBeLessThan(0n);
    expect(after!.gammaWad).toBeLessThan(0n);
    expect(after!.vegaWad).toBeLessThan(0n);
  });

  it("openPosition reverts with PremiumTooHigh when the premium exceeds the buyer's maximum", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id } = await listSeries(sys, true, 3000, 30);
    const premium = await sys.vault.read.quotePremium([id, WAD]);
    await sys.wait(await sys.quote.write.mint([buyer, premium]));
    await sys.wait(await sys.quote.write.approve([sys.vault.address, premium], { account: buyer }));
    // The trade executes a block later (a second less to expiry, a slightly lower premium): half is surely too low.
    await expect(sys.vault.write.openPosition([id, WAD, premium / 2n, buyer], { account: buyer })).rejects.toThrow(
      /PremiumTooHigh/,
    );
  });

  it("openPosition reverts with InsufficientCollateral when the vault could not pay its worst case", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id } = await listSeries(sys, false, 3000, 30);
    // A put's worst case is its strike: 1,000,000 USDC of capital covers ~333 puts, not 400.
    await expect(buyOptions(sys, buyer, id, 400)).rejects.toThrow(/InsufficientCollateral/);
    await buyOptions(sys, buyer, id, 300);
  });

  it("openPosition reverts with TradingClosed inside the cutoff before expiry", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id } = await listSeries(sys, true, 3000, 1);
    await networkHelpers.time.increase(86_400 - 3600);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    await expect(buyOptions(sys, buyer, id, 1)).rejects.toThrow(/TradingClosed/);
  });

  it("openPosition reverts with ZeroAmount for a zero size and UnknownSeries for an unlisted id", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const { id } = await listSeries(sys, true, 3000, 30);
    await expect(sys.vault.write.openPosition([id, 0n, 0n, buyer])).rejects.toThrow(/ZeroAmount/);
    await expect(sys.vault.write.openPosition([`0x${"11".repeat(32)}`, WAD, 0n, buyer])).rejects.toThrow(
      /UnknownSeries/,
    );
  });

  it("listSeries validates expiry, strike, duplicates and the bounded book", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const now = (await sys.publicClient.getBlock()).timestamp;
    await expect(sys.vault.write.listSeries([true, 3000n * WAD, now + 60n])).rejects.toThrow(/InvalidExpiry/);
    await expect(sys.vault.write.listSeries([true, 3000n * WAD, now + 800n * 86_400n])).rejects.toThrow(/InvalidExpiry/);
    await expect(sys.vault.write.listSeries([true, 1n, now + 86_400n])).rejects.toThrow(/InvalidStrike/);
    await sys.vault.write.listSeries([true, 3000n * WAD, now + 86_400n]);
    await expect(sys.vault.write.listSeries([true, 3000n * WAD, now + 86_400n])).rejects.toThrow(/SeriesExists/);
    const max = Number(await sys.vault.read.MAX_LIVE_SERIES());
    for (let i = 1; i < max; i++) await sys.vault.write.listSeries([true, BigInt(2000 + i) * WAD, now + 86_400n]);
    await expect(sys.vault.write.listSeries([false, 2500n * WAD, now + 86_400n])).rejects.toThrow(/BookFull/);
  });

  it("delistSeries frees an empty series and refuses one with open positions", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const a = await listSeries(sys, true, 3000, 30);
    const b = await listSeries(sys, true, 3200, 30);
    await buyOptions(sys, buyer, b.id, 1);
    await expect(sys.vault.write.delistSeries([b.id])).rejects.toThrow(/SeriesNotEmpty/);
    await sys.wait(await sys.vault.write.delistSeries([a.id]));
    const series = await book(sys);
    expect(series.map((s) => s.id)).toEqual([b.id]);
    // The moved series is still addressable, at index 0 now.
    await buyOptions(sys, buyer, b.id, 1);
    expect(await sys.vault.read.seriesCount()).toBe(1n);
    const [id0, s0] = await sys.vault.read.seriesAt([0n]);
    expect(id0).toBe(b.id);
    expect(s0.sizeWad).toBe(-2n * WAD);
    await expect(sys.vault.read.seriesAt([1n])).rejects.toThrow(/SeriesIndexOutOfRange/);
  });

  it("only the manager lists series and sets parameters", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    const now = (await sys.publicClient.getBlock()).timestamp;
    await expect(
      sys.vault.write.listSeries([true, 3000n * WAD, now + 86_400n], { account: stranger.account }),
    ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
    await expect(sys.vault.write.setRiskParams([DEFAULT_RISK_PARAMS], { account: stranger.account })).rejects.toThrow(
      /AccessControlUnauthorizedAccount/,
    );
  });

  it("parameter setters reject out-of-range values with InvalidParameter naming the parameter", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    await expect(sys.vault.write.setRiskParams([{ ...DEFAULT_RISK_PARAMS, volWad: 0n }])).rejects.toThrow(
      /InvalidParameter\(string name.*"volWad"/s,
    );
    await expect(sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, maxSlippageBps: 5000 }])).rejects.toThrow(
      /maxSlippageBps/,
    );
    const hash = await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, bandWad: WAD }]);
    const receipt = await sys.wait(hash);
    const log = decodeEventLog({ abi: sys.vault.abi, ...receipt.logs[0]! });
    expect(log.eventName).toBe("HedgeParamsSet");
    expect((await sys.vault.read.hedgeParams()).bandWad).toBe(WAD);
  });

  it("the constructor rejects an AMM that trades another pair with AmmPairMismatch", async () => {
    sys = await networkHelpers.loadFixture(baseSystem);
    // A valid pool whose pair is the wrong way round for this vault.
    const other = await viem.deployContract("MockAmm", [sys.quote.address, sys.underlying.address, 30n]);
    await expect(
      viem.deployContract("OptionVault", [
        sys.quote.address,
        sys.underlying.address,
        sys.oracle.address,
        other.address,
        sys.admin.account.address,
        "x",
        "x",
        DEFAULT_HEDGE_PARAMS,
        DEFAULT_RISK_PARAMS,
      ]),
    ).rejects.toThrow(/AmmPairMismatch/);
  });
});

describe("OptionVault: rebalance guards", () => {
  let sys: Sys;

  it("a keeper buy that brings delta to zero succeeds and emits delta before and after", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const before = await netDelta(sys);
    expect(before).toBeLessThan(-5n * WAD);
    const amountIn = await quoteToBuy(sys, -before);
    const hash = await sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper(sys));
    const receipt = await sys.wait(hash);
    const events = receipt.logs
      .filter((l) => l.address.toLowerCase() === sys.vault.address.toLowerCase())
      .map((l) => decodeEventLog({ abi: sys.vault.abi, ...l }));
    const ev = events.find((e) => e.eventName === "Rebalanced")!;
    const args = ev.args as { keeper: Address; buyUnderlying: boolean; amountIn: bigint; deltaBeforeWad: bigint; deltaAfterWad: bigint };
    expect(getAddress(args.keeper)).toBe(getAddress(sys.keeper.account.address));
    expect(args.buyUnderlying).toBe(true);
    expect(args.amountIn).toBe(amountIn);
    // Read one block earlier: a second of time decay apart.
    expect(abs(args.deltaBeforeWad - before)).toBeLessThan(WAD / 1_000_000n);
    const after = await netDelta(sys);
    expect(abs(after)).toBeLessThan(WAD / 1000n);
    expect((ev.args as { deltaAfterWad: bigint }).deltaAfterWad).toBe(after);
  });

  it("a partial hedge is allowed", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const before = await netDelta(sys);
    await sys.vault.write.rebalance([true, await quoteToBuy(sys, -before / 3n), 0n, await deadline(sys)], asKeeper(sys));
    const after = await netDelta(sys);
    expect(after).toBeGreaterThan(before);
    expect(after).toBeLessThan(0n);
  });

  it("rebalance reverts for a non-keeper", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await expect(
      sys.vault.write.rebalance([true, quoteUnits(1000), 0n, await deadline(sys)], { account: stranger.account }),
    ).rejects.toThrow(/AccessControlUnauthorizedAccount/);
  });

  it("rebalance reverts with DeltaNotReduced when the trade would increase |delta|", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    // Delta is negative: selling underlying would make it more negative. Give the vault some to sell.
    await sys.vault.write.rebalance([true, await quoteToBuy(sys, WAD), 0n, await deadline(sys)], asKeeper(sys));
    await networkHelpers.mine(1);
    await expect(
      sys.vault.write.rebalance([false, WAD / 2n, 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/DeltaNotReduced/);
  });

  it("rebalance reverts with HedgeOvershoot when it crosses zero by more than the tolerance", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const before = await netDelta(sys);
    // Buy |delta| + 1 WETH: ends at about +1, past the 0.1 tolerance but |after| < |before|.
    const amountIn = await quoteToBuy(sys, -before + WAD);
    await expect(sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper(sys))).rejects.toThrow(
      /HedgeOvershoot/,
    );
  });

  it("rebalance reverts with SlippageTooHigh when the AMM price is off the oracle by more than the bound", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(2900)])); // AMM still at 3000: 3.4% above oracle
    const before = await netDelta(sys);
    await expect(
      sys.vault.write.rebalance([true, await quoteToBuy(sys, -before / 2n), 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/SlippageTooHigh/);
  });

  it("rebalance reverts with StaleOracle when the oracle is older than maxOracleAge", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await networkHelpers.time.increase(3601);
    await expect(
      sys.vault.write.rebalance([true, quoteUnits(3000), 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/StaleOracle/);
  });

  it("rebalance reverts with RebalanceTooSoon inside the minimum interval", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, minRebalanceInterval: 5 }]));
    await sys.vault.write.rebalance([true, await quoteToBuy(sys, WAD), 0n, await deadline(sys)], asKeeper(sys));
    await networkHelpers.mine(2);
    await expect(
      sys.vault.write.rebalance([true, await quoteToBuy(sys, WAD), 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/RebalanceTooSoon/);
    await networkHelpers.mine(3);
    await sys.vault.write.rebalance([true, await quoteToBuy(sys, WAD), 0n, await deadline(sys)], asKeeper(sys));
  });

  it("rebalance reverts with TradeTooLarge above maxTradeWad", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, maxTradeWad: WAD }]));
    await expect(
      sys.vault.write.rebalance([true, await quoteToBuy(sys, 2n * WAD), 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/TradeTooLarge/);
  });

  it("rebalance reverts with InsufficientHedge when selling more underlying than the vault holds", async () => {
    sys = await networkHelpers.loadFixture(baseSystem as () => Promise<Sys>);
    const put = await listSeries(sys, false, 3000, 30);
    await buyOptions(sys, buyer, put.id, 10); // short puts: positive delta, nothing to sell
    await expect(sys.vault.write.rebalance([false, WAD, 0n, await deadline(sys)], asKeeper(sys))).rejects.toThrow(
      /InsufficientHedge/,
    );
  });

  it("rebalance reverts with ZeroAmount for a zero trade", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await expect(sys.vault.write.rebalance([true, 0n, 0n, await deadline(sys)], asKeeper(sys))).rejects.toThrow(/ZeroAmount/);
  });

  it("rebalance reverts with InvalidOraclePrice when the feed answers a non-positive price", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const broken = await viem.deployContract("ScriptedOracle", [8, 0n]);
    const vault = await viem.deployContract("OptionVault", [
      sys.quote.address,
      sys.underlying.address,
      broken.address,
      sys.amm.address,
      sys.admin.account.address,
      "x",
      "x",
      DEFAULT_HEDGE_PARAMS,
      DEFAULT_RISK_PARAMS,
    ]);
    await vault.write.grantRole([ROLES.keeper, sys.admin.account.address]);
    await expect(vault.write.rebalance([true, 1n, 0n, await deadline(sys)])).rejects.toThrow(/InvalidOraclePrice/);
    // Views and share pricing keep working on a broken feed.
    const st = await vault.read.state();
    expect(st.oracleFresh).toBe(false);
    expect(await vault.read.totalAssets()).toBe(0n);
  });

  it("a paused vault cannot trade or sell options, and the guardian/admin roles are enforced", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await expect(sys.vault.write.pause({ account: stranger.account })).rejects.toThrow(/AccessControlUnauthorizedAccount/);
    await sys.wait(await sys.vault.write.pause());
    await expect(sys.vault.write.pause()).rejects.toThrow(/PauseStateUnchanged/);
    await expect(
      sys.vault.write.rebalance([true, quoteUnits(3000), 0n, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/VaultPaused/);
    await expect(sys.vault.write.openPosition([sys.call.id, WAD, 10n ** 12n, buyer])).rejects.toThrow(/VaultPaused/);
    expect(await sys.vault.read.maxDeposit([buyer])).toBe(0n);
    await sys.wait(await sys.vault.write.unpause());
    await expect(sys.vault.write.unpause()).rejects.toThrow(/PauseStateUnchanged/);
    await sys.vault.write.rebalance([true, await quoteToBuy(sys, WAD), 0n, await deadline(sys)], asKeeper(sys));
  });

  it("the keeper's own minAmountOut and deadline are enforced by the AMM", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const amountIn = await quoteToBuy(sys, WAD);
    await expect(
      sys.vault.write.rebalance([true, amountIn, 2n * WAD, await deadline(sys)], asKeeper(sys)),
    ).rejects.toThrow(/InsufficientOutput/);
    await expect(sys.vault.write.rebalance([true, amountIn, 0n, 1n], asKeeper(sys))).rejects.toThrow(/DeadlineExpired/);
  });
});

describe("BandUpkeep: checkUpkeep / performUpkeep (Chainlink Automation convention)", () => {
  let sys: Sys;

  it("checkUpkeep asks for a hedge outside the band and performUpkeep brings delta back inside it", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const [needed, performData] = await sys.upkeep.read.checkUpkeep(["0x"]);
    expect(needed).toBe(true);
    await sys.wait(await sys.upkeep.write.performUpkeep([performData], asKeeper(sys)));
    expect(abs(await netDelta(sys))).toBeLessThanOrEqual(DEFAULT_HEDGE_PARAMS.bandWad);
    await networkHelpers.mine(1);
    const [again] = await sys.upkeep.read.checkUpkeep(["0x"]);
    expect(again).toBe(false);
  });

  it("after a rally the hedge is sold back through the upkeep", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    let [, data] = await sys.upkeep.read.checkUpkeep(["0x"]);
    await sys.upkeep.write.performUpkeep([data], asKeeper(sys));
    // The price falls 10% on both oracle and AMM: the calls' delta shrinks, the vault is now long.
    await sys.wait(await sys.oracle.write.setPrice([priceE8(2700)]));
    await moveAmmTo(sys, 2700);
    const [needed, data2] = await sys.upkeep.read.checkUpkeep(["0x"]);
    expect(needed).toBe(true);
    const before = await netDelta(sys);
    expect(before).toBeGreaterThan(DEFAULT_HEDGE_PARAMS.bandWad);
    await sys.upkeep.write.performUpkeep([data2], asKeeper(sys));
    expect(abs(await netDelta(sys))).toBeLessThan(abs(before));
    data = data2;
  });

  it("performUpkeep reverts with DeltaWithinBand once no hedge is due", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const [, data] = await sys.upkeep.read.checkUpkeep(["0x"]);
    await sys.upkeep.write.performUpkeep([data], asKeeper(sys));
    await networkHelpers.mine(1);
    await expect(sys.upkeep.write.performUpkeep([data], asKeeper(sys))).rejects.toThrow(/DeltaWithinBand/);
  });

  it("performUpkeep reverts with NotRunner for anyone but the configured runner", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const gated = await viem.deployContract("BandUpkeep", [
      sys.vault.address,
      sys.amm.address,
      sys.keeper.account.address,
      6,
      18,
    ]);
    await sys.wait(await sys.vault.write.grantRole([ROLES.keeper, gated.address]));
    const [needed, data] = await gated.read.checkUpkeep(["0x"]);
    expect(needed).toBe(true);
    await expect(gated.write.performUpkeep([data], { account: stranger.account })).rejects.toThrow(/NotRunner/);
    await sys.wait(await gated.write.performUpkeep([data], asKeeper(sys)));
  });

  it("checkUpkeep says no while paused, with a stale oracle, or when the AMM is off the oracle", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(2800)]));
    expect((await sys.upkeep.read.checkUpkeep(["0x"]))[0]).toBe(false);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    expect((await sys.upkeep.read.checkUpkeep(["0x"]))[0]).toBe(true);
    await networkHelpers.time.increase(3601);
    await networkHelpers.mine(1);
    expect((await sys.upkeep.read.checkUpkeep(["0x"]))[0]).toBe(false);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    await sys.wait(await sys.vault.write.pause());
    expect((await sys.upkeep.read.checkUpkeep(["0x"]))[0]).toBe(false);
  });
});

/** Arbitrages the AMM to `price` from the admin's wallet (mints what it needs). */
async function moveAmmTo(sys: System, price: number) {
  const [ru, rq] = (await sys.amm.read.getReserves()) as [bigint, bigint];
  const k = Number(ru) * Number(rq);
  // Target reserves for price p = rq/ru (in token units: rq·1e12/ru): ru' = sqrt(k·1e12/p).
  const ruTarget = BigInt(Math.floor(Math.sqrt((k * 1e12) / price)));
  const me = sys.admin.account.address;
  if (ruTarget < ru) {
    const out = ru - ruTarget;
    const amountIn = (await sys.amm.read.quoteExactOut([sys.quote.address, out])) as bigint;
    await sys.wait(await sys.quote.write.mint([me, amountIn]));
    await sys.wait(await sys.quote.write.approve([sys.amm.address, amountIn]));
    await sys.wait(await sys.amm.write.swapExactIn([sys.quote.address, amountIn, 0n, me, 2n ** 40n]));
  } else {
    const amountIn = ruTarget - ru;
    await sys.wait(await sys.underlying.write.mint([me, amountIn]));
    await sys.wait(await sys.underlying.write.approve([sys.amm.address, amountIn]));
    await sys.wait(await sys.amm.write.swapExactIn([sys.underlying.address, amountIn, 0n, me, 2n ** 40n]));
  }
}

describe("OptionVault: settlement and claims", () => {
  let sys: Sys;

  it("an expired series settles against the round current at expiry, leaves the book, and pays holders", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    const { id, expiry } = sys.call;
    await expect(sys.vault.write.settleSeries([id, 1n])).rejects.toThrow(/SeriesNotExpired/);
    await expect(sys.vault.write.claim([id, buyer], { account: buyer })).rejects.toThrow(/NotSettled/);

    await networkHelpers.time.increaseTo(expiry - 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3300)])); // round 2: current at expiry
    await networkHelpers.time.increaseTo(expiry + 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(5000)])); // round 3: after expiry, must not count

    await expect(sys.vault.write.settleSeries([id, 3n])).rejects.toThrow(/InvalidSettlementRound/);
    await expect(sys.vault.write.settleSeries([id, 1n])).rejects.toThrow(/InvalidSettlementRound/);
    await sys.wait(await sys.vault.write.settleSeries([id, 2n]));
    expect(await book(sys)).toHaveLength(0);
    expect(await sys.vault.read.settlementOf([id])).toEqual([true, 300n * WAD]);
    expect(await sys.vault.read.pendingPayouts()).toBe(quoteUnits(3000));
    await expect(sys.vault.write.listSeries([true, 3000n * WAD, expiry])).rejects.toThrow(/InvalidExpiry|SeriesExists/);

    const before = (await sys.quote.read.balanceOf([buyer])) as bigint;
    await sys.wait(await sys.vault.write.claim([id, buyer], { account: buyer }));
    expect((await sys.quote.read.balanceOf([buyer])) - before).toBe(quoteUnits(3000));
    expect(await sys.vault.read.pendingPayouts()).toBe(0n);
    await expect(sys.vault.write.claim([id, buyer], { account: buyer })).rejects.toThrow(/NothingToClaim/);
  });

  it("settlement reverts with StaleOracle when the round at expiry is too old", async () => {
    sys = await networkHelpers.loadFixture(shortCallsSystem);
    await networkHelpers.time.increaseTo(sys.call.expiry + 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3100)]));
    // Round 1 was current at expiry but is 30 days old by then.
    await expect(sys.vault.write.settleSeries([sys.call.id, 1n])).rejects.toThrow(/StaleOracle/);
  });
});

describe("OptionVault: ERC-4626 accounting", () => {
  it("share value follows the mark-to-market: premium in, liability out", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const assets0 = await sys.vault.read.totalAssets();
    expect(assets0).toBe(quoteUnits(1_000_000));
    const call = await listSeries(sys, true, 3000, 30);
    const { premium } = await buyOptions(sys, buyer, call.id, 10);
    const assets1 = await sys.vault.read.totalAssets();
    // The vault keeps the spread: value rises by premium − fair value ≈ 2/102 of the premium (plus a block of
    // time decay on the options sold, a few millionths of the premium).
    const spread = (premium * 200n) / 10_200n;
    expect(abs(assets1 - assets0 - spread)).toBeLessThanOrEqual(premium / 100_000n);
  });

  it("withdrawals are capped by the collateral the book needs", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const put = await listSeries(sys, false, 3000, 30);
    await buyOptions(sys, buyer, put.id, 300); // worst case 900,000 USDC
    const max = await sys.vault.read.maxWithdraw([sys.admin.account.address]);
    const cash = (await sys.quote.read.balanceOf([sys.vault.address])) as bigint;
    // The liability is rounded up, in the vault's favour: at most one unit less than the exact figure.
    expect(max).toBeLessThanOrEqual(cash - quoteUnits(900_000));
    expect(max).toBeGreaterThanOrEqual(cash - quoteUnits(900_000) - 1n);
    await expect(
      sys.vault.write.withdraw([max + 1n, sys.admin.account.address, sys.admin.account.address]),
    ).rejects.toThrow(/ERC4626ExceededMaxWithdraw/);
    await sys.wait(await sys.vault.write.withdraw([max, sys.admin.account.address, sys.admin.account.address]));
    // What is left to redeem is worth at most the one unit of rounding (shares carry 6 extra decimals).
    const left = await sys.vault.read.maxRedeem([sys.admin.account.address]);
    expect(await sys.vault.read.convertToAssets([left])).toBeLessThanOrEqual(1n);
  });
});

describe("VaultLens", () => {
  it("returns the state of many vaults in one call and flags a broken one", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const snaps = await sys.lens.read.snapshots([[sys.vault.address, zeroAddress as Address, sys.vault.address], true]);
    expect(snaps).toHaveLength(3);
    expect(snaps[0]!.ok).toBe(true);
    expect(snaps[1]!.ok).toBe(false);
    expect(snaps[0]!.state.netDeltaWad).toBe(await netDelta(sys));
    expect(snaps[0]!.book).toHaveLength(1);
    expect(snaps[0]!.state.ammReserveQuote).toBe(quoteUnits(3_000_000));
    expect(snaps[0]!.state.spotWad).toBe(parseUnits("3000", 18));
    expect(snaps[0]!.state.oracleFresh).toBe(true);
  });
});
