/**
 * What Vault v2 (issue 10) adds to the option vault, each behaviour with a test that fails without its guard:
 * the premium and bid formula (against a float64 Black–Scholes), buy-backs, the rebalance guards and hedging
 * budget, the ERC-4626 entry/exit share prices and limits, settlement across aggregator phases and claims paid in
 * the underlying, the L2 sequencer-uptime feed, the extension's delegation and roles, and `BandUpkeep`'s own
 * sizing. The behaviours v1 already had are in `vault.test.ts`.
 *
 * Reverts are asserted by their decoded custom error (name, and arguments where they are known exactly).
 * Where an amount must match to the unit, the next block's timestamp is pinned and the view is read at the
 * "pending" block, so the view and the transaction see the same state and the same time.
 */
import hre from "hardhat";
import { describe, expect, it } from "vitest";
import {
  decodeAbiParameters,
  decodeErrorResult,
  encodeAbiParameters,
  getAddress,
  parseEventLogs,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { price as floatPrice, SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";
import {
  DEFAULT_BOOK_LIMITS,
  DEFAULT_HEDGE_PARAMS,
  DEFAULT_RISK_PARAMS,
  ROLES,
  WAD,
  buyOptions,
  deploySystem,
  listSeries,
  priceE8,
  quoteUnits,
  type BookLimits,
  type RiskParams,
  type System,
} from "../scripts/lib/system.ts";

const { viem, networkHelpers } = await hre.network.create();
const { time } = networkHelpers;
const wallets = await viem.getWalletClients();
const buyer = wallets[2]!;
const stranger = wallets[3]!;

const BPS = 10_000n;
const QUOTE_SCALE = 10n ** 12n; // quote wad per USDC unit
const YEAR = BigInt(SECONDS_PER_YEAR);
/** Chainlink proxy round ids: `phaseId << 64 | aggregatorRoundId`; MockOracle starts at phase 1, round 1. */
const round = (phase: bigint, aggregatorRound: bigint) => (phase << 64n) | aggregatorRound;
/** `IOptionVaultTypes.OracleStatus`. */
const ORACLE_STATUS = { Usable: 0, SequencerDown: 3, SequencerGracePeriod: 4 } as const;
/** The vault's unit of hedging-budget usage (`BUDGET_UNIT_WAD`), quote wad. */
const BUDGET_UNIT_WAD = 10n ** 14n;
/** `BandUpkeep.Idle` reasons. */
const IDLE = { WithinBand: 4, PoolOffOracle: 5 } as const;
const PENDING = { blockTag: "pending" } as const;

const abs = (x: bigint) => (x < 0n ? -x : x);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

// ─────────────────────────────────────────── helpers ───────────────────────────────────────────

/** Every custom error the calls below can revert with (the vault's, its extension's, the upkeep's, the mocks'). */
const ERRORS = [
  ...(await hre.artifacts.readArtifact("OptionVault")).abi,
  ...(await hre.artifacts.readArtifact("OptionVaultExtension")).abi,
  ...(await hre.artifacts.readArtifact("BandUpkeep")).abi,
  ...(await hre.artifacts.readArtifact("MockAmm")).abi,
  ...(await hre.artifacts.readArtifact("MockOracle")).abi,
  ...(await hre.artifacts.readArtifact("MockERC20")).abi,
].filter((item) => item.type === "error") as Abi;

/** The custom error in a failed call, transaction or deployment (the first revert data found down the cause chain). */
function decodeRevert(error: unknown): { errorName: string; args: readonly unknown[] } | undefined {
  for (let cause: unknown = error; typeof cause === "object" && cause !== null; ) {
    const { raw, data } = cause as { raw?: unknown; data?: unknown };
    for (const hex of [raw, data]) {
      if (typeof hex !== "string" || !/^0x[0-9a-fA-F]{8}/.test(hex)) continue;
      try {
        const decoded = decodeErrorResult({ abi: ERRORS, data: hex as Hex });
        return { errorName: decoded.errorName, args: decoded.args ?? [] };
      } catch {
        // Not one of ours: keep walking.
      }
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Asserts that `action` reverts with `errorName` (and `args`, when given); returns the decoded arguments. */
async function expectRevert(action: Promise<unknown>, errorName: string, args?: readonly unknown[]) {
  const error = await action.then(
    () => undefined,
    (reason: unknown) => reason ?? new Error("rejected without a reason"),
  );
  expect(error, `expected a revert with ${errorName}, but the call succeeded`).toBeDefined();
  const decoded = decodeRevert(error);
  expect(decoded?.errorName, String(error)).toBe(errorName);
  if (args !== undefined) expect(decoded?.args).toEqual(args);
  return decoded?.args ?? [];
}

/** Pins the next block's timestamp: reads at the "pending" block then see exactly what the next transaction will. */
async function pinNextBlock(secondsAhead = 1): Promise<bigint> {
  const timestamp = BigInt((await time.latest()) + secondsAhead);
  await time.setNextBlockTimestamp(timestamp);
  return timestamp;
}

const asKeeper = (sys: System) => ({ account: sys.keeper.account });

async function deadline(sys: System) {
  return (await sys.publicClient.getBlock()).timestamp + 600n;
}

async function netDelta(sys: System): Promise<bigint> {
  return sys.vault.read.netDeltaWad();
}

/** Quote needed to buy `underlyingWad` on the AMM right now. */
async function quoteToBuy(sys: System, underlyingWad: bigint): Promise<bigint> {
  return sys.amm.read.quoteExactOut([sys.quote.address, underlyingWad]);
}

/** Mints `amount` quote units to `holder` and approves `spender` (the vault by default) for them. */
async function fund(sys: System, holder: Address, amount: bigint, spender: Address = sys.vault.address) {
  await sys.wait(await sys.quote.write.mint([holder, amount]));
  await sys.wait(await sys.quote.write.approve([spender, amount], { account: holder }));
}

/** Opens `sizeWad` for `holder` in a pinned block: the quote read in that block and what the vault charged. */
async function openPinned(sys: System, holder: Address, id: Hex, sizeWad: bigint) {
  await fund(sys, holder, quoteUnits(1_000_000));
  const timestamp = await pinNextBlock();
  const quoted = await sys.vault.read.quoteOpen([id, sizeWad], PENDING);
  const receipt = await sys.wait(
    await sys.vault.write.openPosition([id, sizeWad, quoted, holder], { account: holder }),
  );
  const [opened] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "PositionOpened" });
  return { quoted, premium: opened!.args.premium, spotWad: opened!.args.spotWad, timestamp };
}

/** Sells `sizeWad` of `holder`'s options back in a pinned block: the bid read in that block and what was paid. */
async function closePinned(sys: System, holder: Address, id: Hex, sizeWad: bigint, receiver: Address = holder) {
  const timestamp = await pinNextBlock();
  const quoted = await sys.vault.read.quoteClose([id, sizeWad], PENDING);
  const before = await sys.quote.read.balanceOf([receiver]);
  const receipt = await sys.wait(
    await sys.vault.write.closePosition([id, sizeWad, quoted, receiver], { account: holder }),
  );
  const [closed] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "PositionClosed" });
  const received = (await sys.quote.read.balanceOf([receiver])) - before;
  return { quoted, proceeds: closed!.args.proceeds, received, spotWad: closed!.args.spotWad, timestamp };
}

/** `checkUpkeep`'s answer: the trade when one is due, else the reason (`BandUpkeep.Idle`). */
async function checkUpkeep(sys: System, block: { blockTag?: "pending" } = {}) {
  const [needed, performData] = await sys.upkeep.read.checkUpkeep(["0x"], block);
  if (!needed) {
    const [reason] = decodeAbiParameters([{ type: "uint8" }], performData);
    return { needed, reason };
  }
  const [buy, amountIn, minAmountOut] = decodeAbiParameters(
    [{ type: "bool" }, { type: "uint256" }, { type: "uint256" }],
    performData,
  );
  return { needed, reason: 0, buy, amountIn, minAmountOut };
}

/** Arbitrages the AMM to `price` from the admin's wallet (mints what it needs). */
async function moveAmmTo(sys: System, price: number) {
  const [ru, rq] = await sys.amm.read.getReserves();
  const k = Number(ru) * Number(rq);
  // Target reserves for price p = rq/ru (in token units: rq·1e12/ru): ru' = sqrt(k·1e12/p).
  const ruTarget = BigInt(Math.floor(Math.sqrt((k * 1e12) / price)));
  const me = sys.admin.account.address;
  if (ruTarget < ru) {
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, ru - ruTarget]);
    await sys.wait(await sys.quote.write.mint([me, amountIn]));
    await sys.wait(await sys.quote.write.approve([sys.amm.address, amountIn]));
    await sys.wait(await sys.amm.write.swapExactIn([sys.quote.address, amountIn, 0n, me, 2n ** 40n]));
  } else if (ruTarget > ru) {
    const amountIn = ruTarget - ru;
    await sys.wait(await sys.underlying.write.mint([me, amountIn]));
    await sys.wait(await sys.underlying.write.approve([sys.amm.address, amountIn]));
    await sys.wait(await sys.amm.write.swapExactIn([sys.underlying.address, amountIn, 0n, me, 2n ** 40n]));
  }
}

// ────────────────────────────── pricing references (IOptionVault's "Prices") ──────────────────────────────

interface Terms {
  isCall: boolean;
  spot: number;
  strike: number;
  tauSeconds: number;
}

/** Per-option premium in float64: max(BS(S⁺)·(1 + s) + C, S·minPremium), S⁺ = S moved by ε against the vault. */
function floatPremium(t: Terms, risk: RiskParams, limits: BookLimits): number {
  const eps = risk.latencyBps / 1e4;
  const shifted = t.isCall ? t.spot * (1 + eps) : t.spot * (1 - eps);
  const fair = floatPrice({ ...t, spot: shifted, vol: Number(risk.volWad) / 1e18, rate: Number(risk.rateWad) / 1e18 });
  const locked = t.isCall ? Math.max(t.spot, t.strike) * (1 + limits.stressUpBps / 1e4) - t.strike : t.strike;
  const capitalCharge = (locked * (risk.capitalChargeBps / 1e4) * t.tauSeconds) / SECONDS_PER_YEAR;
  return Math.max(fair * (1 + risk.spreadBps / 1e4) + capitalCharge, (t.spot * risk.minPremiumBps) / 1e4);
}

/** Per-option bid in float64: BS(S⁻)·(1 − s), S⁻ = S moved by ε against the seller. */
function floatBid(t: Terms, risk: RiskParams): number {
  const eps = risk.latencyBps / 1e4;
  const shifted = t.isCall ? t.spot * (1 - eps) : t.spot * (1 + eps);
  const fair = floatPrice({ ...t, spot: shifted, vol: Number(risk.volWad) / 1e18, rate: Number(risk.rateWad) / 1e18 });
  return fair * (1 - risk.spreadBps / 1e4);
}

type Harness = Awaited<ReturnType<typeof deployHarness>>;
const deployHarness = () => viem.deployContract("GreeksHarness");

interface SeriesTerms {
  isCall: boolean;
  strikeWad: bigint;
  expiry: bigint;
}

/** The premium in quote units, rounded exactly as documented (every step up), on the library's own BS value. */
async function exactPremium(
  h: Harness,
  s: SeriesTerms,
  sizeWad: bigint,
  spotWad: bigint,
  timestamp: bigint,
  risk: RiskParams,
  limits: BookLimits,
) {
  const tau = s.expiry - timestamp;
  const lat = BigInt(risk.latencyBps);
  const shifted = s.isCall ? ceilDiv(spotWad * (BPS + lat), BPS) : (spotWad * (BPS - lat)) / BPS;
  const fair = await h.read.price([shifted, s.strikeWad, risk.volWad, tau, risk.rateWad, s.isCall]);
  const locked = s.isCall
    ? ceilDiv(max(spotWad, s.strikeWad) * (BPS + BigInt(limits.stressUpBps)), BPS) - s.strikeWad
    : s.strikeWad;
  let perOption =
    ceilDiv(fair * (BPS + BigInt(risk.spreadBps)), BPS) +
    ceilDiv(locked * BigInt(risk.capitalChargeBps) * tau, BPS * YEAR);
  perOption = max(perOption, ceilDiv(spotWad * BigInt(risk.minPremiumBps), BPS));
  return ceilDiv(ceilDiv(perOption * sizeWad, WAD), QUOTE_SCALE);
}

/** The buy-back proceeds in quote units, rounded exactly as documented (every step down). */
async function exactProceeds(h: Harness, s: SeriesTerms, sizeWad: bigint, spotWad: bigint, timestamp: bigint, risk: RiskParams) {
  const lat = BigInt(risk.latencyBps);
  const shifted = s.isCall ? (spotWad * (BPS - lat)) / BPS : ceilDiv(spotWad * (BPS + lat), BPS);
  const fair = await h.read.price([shifted, s.strikeWad, risk.volWad, s.expiry - timestamp, risk.rateWad, s.isCall]);
  return ((fair * (BPS - BigInt(risk.spreadBps))) / BPS) * sizeWad / WAD / QUOTE_SCALE;
}

// ─────────────────────────────────────────── fixtures ───────────────────────────────────────────

async function baseSystem() {
  return deploySystem(viem);
}

/** A vault short 10 one-month ATM calls: net delta ≈ -5.5 WETH, nothing hedged yet. */
async function shortCallsSystem() {
  const sys = await deploySystem(viem);
  const call = await listSeries(sys, true, 3000, 30);
  await buyOptions(sys, buyer.account.address, call.id, 10);
  return { ...sys, call };
}

/** The same, with the keeper's hedge bought: ≈ 5.5 WETH held, net delta ≈ 0. */
async function hedgedCallsSystem() {
  const sys = await shortCallsSystem();
  const amountIn = await quoteToBuy(sys, -(await netDelta(sys)));
  await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper(sys)));
  return sys;
}

// ───────────────────────────────── premiums and bids against a float64 reference ─────────────────────────────────

interface PricingCase {
  name: string;
  isCall: boolean;
  strike: number;
  days: number;
  size: bigint;
  /** The per-option floor S·minPremiumBps binds (exact premium known). */
  floored?: boolean;
}

const PRICING_CASES: PricingCase[] = [
  { name: "an ATM call (spot shifted up, capital charge on max(S, K)·(1 + stress) − K)", isCall: true, strike: 3000, days: 30, size: 2n * WAD },
  { name: "an OTM put (spot shifted down, capital charge on the strike)", isCall: false, strike: 2500, days: 30, size: 3n * WAD },
  { name: "a far-OTM one-day call (the S·minPremiumBps floor binds)", isCall: true, strike: 4500, days: 1, size: 5n * WAD, floored: true },
];

describe("OptionVault v2: premiums and bids (IOptionVault 'Prices')", () => {
  for (const c of PRICING_CASES) {
    it(`${c.name}: premium and bid match a float64 Black–Scholes reference within 1 quote unit, rounded in the vault's favour`, async () => {
      const sys = await networkHelpers.loadFixture(baseSystem);
      const harness = await deployHarness();
      const series = await listSeries(sys, c.isCall, c.strike, c.days);
      const terms = { isCall: c.isCall, strikeWad: series.strikeWad, expiry: series.expiry };
      const holder = buyer.account.address;

      const open = await openPinned(sys, holder, series.id, c.size);
      expect(open.premium).toBe(open.quoted);
      const sizeUnits = Number(c.size) / 1e18;
      const spot = Number(open.spotWad) / 1e18;
      const tauOpen = Number(series.expiry - open.timestamp);
      const premiumRef = floatPremium({ isCall: c.isCall, spot, strike: c.strike, tauSeconds: tauOpen }, sys.risk, sys.limits) * sizeUnits * 1e6;
      // Rounded up: at most one unit above the exact value (float64 and the library agree to ~1e-6 of a unit).
      expect(Number(open.premium) - premiumRef).toBeGreaterThanOrEqual(-1e-3);
      expect(Number(open.premium) - premiumRef).toBeLessThanOrEqual(1 + 1e-3);
      expect(open.premium).toBe(
        await exactPremium(harness, terms, c.size, open.spotWad, open.timestamp, sys.risk, sys.limits),
      );
      if (c.floored) {
        expect(open.premium).toBe((open.spotWad * BigInt(sys.risk.minPremiumBps) * c.size) / BPS / WAD / QUOTE_SCALE);
      }

      const half = c.size / 2n;
      const close = await closePinned(sys, holder, series.id, half);
      expect(close.proceeds).toBe(close.quoted);
      expect(close.received).toBe(close.proceeds);
      const tauClose = Number(series.expiry - close.timestamp);
      const bidRef = floatBid({ isCall: c.isCall, spot, strike: c.strike, tauSeconds: tauClose }, sys.risk) * (Number(half) / 1e18) * 1e6;
      // Rounded down: at most one unit below.
      expect(Number(close.proceeds) - bidRef).toBeLessThanOrEqual(1e-3);
      expect(Number(close.proceeds) - bidRef).toBeGreaterThanOrEqual(-1 - 1e-3);
      expect(close.proceeds).toBe(await exactProceeds(harness, terms, half, close.spotWad, close.timestamp, sys.risk));
      // The vault never buys back above what it sold at.
      expect(close.proceeds * 2n).toBeLessThan(open.premium);
    });
  }
});

// ─────────────────────────────────────────── buy-backs ───────────────────────────────────────────

describe("OptionVault v2: closePosition", () => {
  it("closePosition pays the receiver, reduces the position and the vault's short, and emits PositionClosed", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const receiver = stranger.account.address;
    const { proceeds, received } = await closePinned(sys, buyer.account.address, sys.call.id, 4n * WAD, receiver);
    expect(received).toBe(proceeds);
    expect(proceeds).toBeGreaterThan(0n);
    expect(await sys.vault.read.positionOf([sys.call.id, buyer.account.address])).toBe(6n * WAD);
    const [, series] = await sys.vault.read.book();
    expect(series[0]!.sizeWad).toBe(-6n * WAD);
  });

  it("closePosition reverts with ProceedsTooLow below the seller's minimum", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await pinNextBlock();
    const bid = await sys.vault.read.quoteClose([sys.call.id, WAD], PENDING);
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, bid + 1n, buyer.account.address], { account: buyer.account }),
      "ProceedsTooLow",
      [bid, bid + 1n],
    );
  });

  it("closePosition reverts with InsufficientPosition when selling back more than held", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, 11n * WAD, 0n, buyer.account.address], { account: buyer.account }),
      "InsufficientPosition",
      [sys.call.id, 10n * WAD, 11n * WAD],
    );
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, stranger.account.address], { account: stranger.account }),
      "InsufficientPosition",
      [sys.call.id, 0n, WAD],
    );
  });

  it("closePosition reverts with PositionTooSmall when it would leave dust, and closes the whole position", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const dust = WAD / 200n; // below minPositionWad = 0.01
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, 10n * WAD - dust, 0n, buyer.account.address], { account: buyer.account }),
      "PositionTooSmall",
      [dust, WAD / 100n],
    );
    await closePinned(sys, buyer.account.address, sys.call.id, 10n * WAD);
    expect(await sys.vault.read.positionOf([sys.call.id, buyer.account.address])).toBe(0n);
  });

  it("closePosition reverts with InsufficientCollateral when paying the bid would leave the book uncovered at price 0", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const put = await listSeries(sys, false, 2500, 30);
    await buyOptions(sys, buyer.account.address, put.id, 50); // 125,000 owed at price 0
    const admin = sys.admin.account.address;
    const cash = await sys.quote.read.balanceOf([sys.vault.address]);
    const maxWithdraw = await sys.vault.read.maxWithdraw([admin]);
    expect(maxWithdraw).toBe(cash - quoteUnits(125_000));
    await sys.wait(await sys.vault.write.withdraw([maxWithdraw, admin, admin]));
    // The cash left covers the puts exactly: paying any bid for a call would leave the vault short at price 0.
    await pinNextBlock();
    const bid = await sys.vault.read.quoteClose([sys.call.id, WAD], PENDING);
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, buyer.account.address], { account: buyer.account }),
      "InsufficientCollateral",
      [-bid * QUOTE_SCALE, 0n],
    );
    // Buying back a put in the same state frees more than it pays.
    await closePinned(sys, buyer.account.address, put.id, WAD);
  });

  it("closePosition reverts with InsufficientCollateral, not an arithmetic panic, when the vault's cash is below the bid", async () => {
    // The hedge covers the calls at the stress price, so the depositor may take every unit of cash out; a bid
    // then cannot be paid (IOptionVault: "reverts when … the vault could not pay its book afterwards").
    const sys = await networkHelpers.loadFixture(hedgedCallsSystem);
    const admin = sys.admin.account.address;
    const cash = await sys.quote.read.balanceOf([sys.vault.address]);
    expect(await sys.vault.read.maxWithdraw([admin])).toBe(cash);
    await sys.wait(await sys.vault.write.withdraw([cash, admin, admin]));
    const [, atPriceWad] = await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, buyer.account.address], { account: buyer.account }),
      "InsufficientCollateral",
    );
    expect(atPriceWad).toBe(0n);
  });

  it("closePosition reverts with VaultPaused while paused and TradingClosed inside the cutoff", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.vault.write.pause());
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, buyer.account.address], { account: buyer.account }),
      "VaultPaused",
    );
    await sys.wait(await sys.vault.write.unpause());
    await time.increaseTo(sys.call.expiry - 3600n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, buyer.account.address], { account: buyer.account }),
      "TradingClosed",
      [sys.call.id, sys.call.expiry - 3600n],
    );
  });
});

// ─────────────────────────────────────────── rebalance ───────────────────────────────────────────

/** The `Rebalanced` event of a receipt. */
function rebalancedOf(sys: System, receipt: { logs: Parameters<typeof parseEventLogs>[0]["logs"] }) {
  const [ev] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Rebalanced" });
  return ev!.args;
}

/** Budget usage of one trade, in the vault's units (BUDGET_UNIT_WAD, rounded up): notional and slippage of a buy. */
function buyUsageUnits(amountIn: bigint, amountOut: bigint, spotWad: bigint) {
  const notionalWad = ceilDiv(amountOut * spotWad, WAD);
  const fairWad = (amountOut * spotWad) / WAD;
  const quoteWad = amountIn * QUOTE_SCALE;
  const slippageWad = quoteWad > fairWad ? quoteWad - fairWad : 0n;
  return { notional: ceilDiv(notionalWad, BUDGET_UNIT_WAD), slippage: ceilDiv(slippageWad, BUDGET_UNIT_WAD) };
}

async function buy(sys: System, underlyingWad: bigint) {
  const amountIn = await quoteToBuy(sys, underlyingWad);
  return sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper(sys));
}

describe("OptionVault v2: rebalance guards", () => {
  it("rebalance reverts with DeltaWithinTolerance when |net delta| is already within the tolerance", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, deltaToleranceWad: 6n * WAD }]));
    await pinNextBlock();
    const deltaWad = await sys.vault.read.netDeltaWad(PENDING); // ≈ -5.5: inside a 6 WETH tolerance
    await expectRevert(buy(sys, WAD), "DeltaWithinTolerance", [deltaWad, 6n * WAD]);
  });

  it("rebalance reverts with DeltaWithinTolerance for a churn trade after a full hedge", async () => {
    const sys = await networkHelpers.loadFixture(hedgedCallsSystem);
    await pinNextBlock();
    const deltaWad = await sys.vault.read.netDeltaWad(PENDING);
    expect(abs(deltaWad)).toBeLessThan(DEFAULT_HEDGE_PARAMS.deltaToleranceWad);
    // Selling a little would "reduce" |delta| across zero within the tolerance, paying slippage each time.
    await expectRevert(
      sys.vault.write.rebalance([false, WAD / 20n, 0n, await deadline(sys)], asKeeper(sys)),
      "DeltaWithinTolerance",
      [deltaWad, DEFAULT_HEDGE_PARAMS.deltaToleranceWad],
    );
  });

  it("rebalance reverts with PayoutsNotCovered when a buy would spend cash owed to settled holders", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const weekly = await listSeries(sys, true, 3000, 7);
    const bimonthly = await listSeries(sys, true, 3000, 60);
    await buyOptions(sys, buyer.account.address, weekly.id, 100);
    await buyOptions(sys, buyer.account.address, bimonthly.id, 10);
    // The weekly calls expire at 13,000: 1,000,000 USDC owed to their holders, about the vault's whole cash.
    await time.increaseTo(weekly.expiry - 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(13_000)]));
    await time.increaseTo(weekly.expiry + 10n);
    await sys.wait(await sys.vault.write.settleSeries([weekly.id, round(1n, 2n)]));
    const owed = await sys.vault.read.pendingPayouts();
    expect(owed).toBe(quoteUnits(1_000_000));
    // The bimonthly calls are deep in the money (delta ≈ -10): a small buy leaves the cash above what is owed…
    expect(await netDelta(sys)).toBeLessThan(-9n * WAD);
    await sys.wait(await buy(sys, 2n * WAD));
    // …the rest of the hedge would not.
    const cash = await sys.quote.read.balanceOf([sys.vault.address]);
    const amountIn = await quoteToBuy(sys, 7n * WAD);
    expect(cash - amountIn).toBeLessThan(owed);
    await expectRevert(
      sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper(sys)),
      "PayoutsNotCovered",
      [cash - amountIn, owed],
    );
  });

  it("rebalance reverts with NotionalBudgetExceeded past the window's budget, which returns only once a whole window has passed", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const budget = 10_000; // whole USDC per 24 h
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, notionalBudget: budget }]));
    const budgetWad = BigInt(budget) * WAD;
    const slippageBudgetWad = BigInt(DEFAULT_HEDGE_PARAMS.slippageBudget) * WAD;
    const window = BigInt(DEFAULT_HEDGE_PARAMS.budgetWindowSeconds);
    const w = BigInt(await time.latest()) / window;
    const enterWindow = async (n: bigint) => {
      await time.increaseTo((w + n) * window + 10n);
      await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)]));
    };
    await enterWindow(1n);
    const first = rebalancedOf(sys, await sys.wait(await buy(sys, WAD))); // ≈ 3,000 of notional
    const used = buyUsageUnits(first.amountIn, first.amountOut, first.spotWad);
    const left = { notional: budgetWad - used.notional * BUDGET_UNIT_WAD, slippage: slippageBudgetWad - used.slippage * BUDGET_UNIT_WAD };
    expect(await sys.vault.read.hedgeStatus()).toMatchObject({ notionalLeftWad: left.notional, slippageLeftWad: left.slippage });

    // 3 WETH more (≈ 9,000) would take the window past 10,000.
    const [usedWad, cap] = await expectRevert(buy(sys, 3n * WAD), "NotionalBudgetExceeded");
    expect(cap).toBe(budgetWad);
    expect(usedWad as bigint).toBeGreaterThan(budgetWad);
    expect(usedWad as bigint).toBeLessThan(budgetWad + 3_000n * WAD);

    // In the next window the previous one still counts: no 24-hour stretch may exceed the budget.
    await enterWindow(2n);
    expect(await sys.vault.read.hedgeStatus()).toMatchObject({ notionalLeftWad: left.notional, slippageLeftWad: left.slippage });
    await expectRevert(buy(sys, 3n * WAD), "NotionalBudgetExceeded");

    // One window later the budget is whole again.
    await enterWindow(3n);
    expect(await sys.vault.read.hedgeStatus()).toMatchObject({ notionalLeftWad: budgetWad, slippageLeftWad: slippageBudgetWad });
    await sys.wait(await buy(sys, 3n * WAD));
  });

  it("rebalance reverts with SlippageBudgetExceeded once the window's slippage against the oracle would pass the budget", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await sys.wait(await sys.vault.write.setHedgeParams([{ ...DEFAULT_HEDGE_PARAMS, slippageBudget: 10 }]));
    const budgetWad = 10n * WAD;
    // 3 WETH pay ≈ 45 USDC over the oracle (the 0.3% fee and the price impact).
    const [usedWad, cap] = await expectRevert(buy(sys, 3n * WAD), "SlippageBudgetExceeded");
    expect(cap).toBe(budgetWad);
    expect(usedWad as bigint).toBeGreaterThan(30n * WAD);
    // 0.5 WETH pays ≈ 5.3: it fits, and what it used is gone from the window.
    const first = rebalancedOf(sys, await sys.wait(await buy(sys, WAD / 2n)));
    const used = buyUsageUnits(first.amountIn, first.amountOut, first.spotWad);
    expect(used.slippage * BUDGET_UNIT_WAD).toBeGreaterThan(5n * WAD);
    expect((await sys.vault.read.hedgeStatus()).slippageLeftWad).toBe(budgetWad - used.slippage * BUDGET_UNIT_WAD);
    // A second one does not.
    await expectRevert(buy(sys, WAD / 2n), "SlippageBudgetExceeded");
  });
});

// ─────────────────────────────────────────── ERC-4626 ───────────────────────────────────────────

/** The NAVs `IOptionVault` documents, recomputed from the lens at `block` (quote units). */
async function documentedNavs(sys: System, block: { blockTag: "pending" }) {
  const [state, book] = await sys.lens.read.stateOf([sys.vault.address], block);
  let liabilitiesWad = state.pendingPayouts * QUOTE_SCALE;
  for (const s of book) liabilitiesWad += ceilDiv(s.markWad * -s.sizeWad, WAD); // rounded up per series
  const assetsWad = state.cashBalance * QUOTE_SCALE + (state.hedgeBalance * state.spotWad) / WAD;
  const navWad = assetsWad - liabilitiesWad;
  const moveWad = ceilDiv(state.spotWad * BigInt(state.risk.latencyBps), BPS); // S·ε
  const deltaBandWad = ceilDiv(abs(state.netDeltaWad) * moveWad, WAD); // |Δ|·S·ε
  const gammaBandWad = ceilDiv(abs(state.gammaWad) * moveWad * moveWad, 2n * WAD * WAD); // |Γ|·(S·ε)²/2
  return {
    mid: navWad / QUOTE_SCALE,
    entry: ceilDiv(navWad + deltaBandWad, QUOTE_SCALE),
    exit: (navWad - deltaBandWad - gammaBandWad) / QUOTE_SCALE,
    totalAssets: state.totalAssets,
    deltaBandWad,
  };
}

const VIRTUAL_SHARES = 10n ** 6n; // the vault's decimals offset

describe("OptionVault v2: ERC-4626 share prices and limits", () => {
  it("deposit and mint price shares at the entry NAV, withdraw and redeem at the exit NAV (entry > totalAssets > exit while delta ≠ 0)", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const depositor = wallets[4]!.account.address;
    const admin = sys.admin.account.address;
    await fund(sys, depositor, quoteUnits(100_000));
    const shares = 10n ** 16n; // ≈ 10,000 USDC worth

    await pinNextBlock();
    const nav = await documentedNavs(sys, PENDING);
    expect(nav.totalAssets).toBe(nav.mid);
    expect(nav.deltaBandWad).toBeGreaterThan(80n * WAD); // |Δ| ≈ 5.5 × 3,000 × 0.5%
    const supply = await sys.vault.read.totalSupply(PENDING);
    const toAssets = (s: bigint, n: bigint, up: boolean) =>
      up ? ceilDiv(s * (n + 1n), supply + VIRTUAL_SHARES) : (s * (n + 1n)) / (supply + VIRTUAL_SHARES);
    const mintCost = await sys.vault.read.previewMint([shares], PENDING);
    const midValue = await sys.vault.read.convertToAssets([shares], PENDING);
    const redeemValue = await sys.vault.read.previewRedeem([shares], PENDING);
    expect(mintCost).toBe(toAssets(shares, nav.entry, true));
    expect(midValue).toBe(toAssets(shares, nav.totalAssets, false));
    expect(redeemValue).toBe(toAssets(shares, nav.exit, false));
    expect(mintCost).toBeGreaterThan(midValue);
    expect(midValue).toBeGreaterThan(redeemValue);
    expect(await sys.vault.read.previewDeposit([quoteUnits(10_000)], PENDING)).toBe(
      (quoteUnits(10_000) * (supply + VIRTUAL_SHARES)) / (nav.entry + 1n),
    );
    expect(await sys.vault.read.previewWithdraw([quoteUnits(10_000)], PENDING)).toBe(
      ceilDiv(quoteUnits(10_000) * (supply + VIRTUAL_SHARES), nav.exit + 1n),
    );

    // Each operation executes at exactly its preview, read in the block it lands in.
    let receipt = await sys.wait(await sys.vault.write.mint([shares, depositor], { account: wallets[4]!.account }));
    const [minted] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Deposit" });
    expect(minted!.args).toMatchObject({ assets: mintCost, shares });

    await pinNextBlock();
    const depositShares = await sys.vault.read.previewDeposit([quoteUnits(5_000)], PENDING);
    receipt = await sys.wait(await sys.vault.write.deposit([quoteUnits(5_000), depositor], { account: wallets[4]!.account }));
    const [deposited] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Deposit" });
    expect(deposited!.args).toMatchObject({ assets: quoteUnits(5_000), shares: depositShares });

    await pinNextBlock();
    const withdrawShares = await sys.vault.read.previewWithdraw([quoteUnits(5_000)], PENDING);
    receipt = await sys.wait(await sys.vault.write.withdraw([quoteUnits(5_000), admin, admin]));
    const [withdrawn] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Withdraw" });
    expect(withdrawn!.args).toMatchObject({ assets: quoteUnits(5_000), shares: withdrawShares });

    await pinNextBlock();
    const redeemAssets = await sys.vault.read.previewRedeem([shares], PENDING);
    receipt = await sys.wait(await sys.vault.write.redeem([shares, depositor, depositor], { account: wallets[4]!.account }));
    const [redeemed] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Withdraw" });
    expect(redeemed!.args).toMatchObject({ assets: redeemAssets, shares });
    // The round trip cost the depositor the two bands: no profit from entering and leaving.
    expect(redeemAssets).toBeLessThan(mintCost);
  });

  it("deposits revert with VaultPaused while paused (withdrawals stay open) and StaleOracle on a stale feed", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const admin = sys.admin.account.address;
    await fund(sys, admin, quoteUnits(1000));
    await sys.wait(await sys.vault.write.pause());
    expect(await sys.vault.read.maxDeposit([admin])).toBe(0n);
    expect(await sys.vault.read.maxMint([admin])).toBe(0n);
    await expectRevert(sys.vault.write.deposit([quoteUnits(1000), admin]), "VaultPaused");
    await expectRevert(sys.vault.write.mint([10n ** 15n, admin]), "VaultPaused");
    await sys.wait(await sys.vault.write.withdraw([quoteUnits(1000), admin, admin]));
    await sys.wait(await sys.vault.write.unpause());

    const [, , , updatedAt] = await sys.oracle.read.latestRoundData();
    await time.increase(3601);
    expect(await sys.vault.read.maxDeposit([admin])).toBe(0n);
    await expectRevert(sys.vault.write.deposit([quoteUnits(1000), admin]), "StaleOracle", [updatedAt, 3600n]);
  });

  it("deposits and withdrawals revert with SettlementPending between a series' expiry and its settlement", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const admin = sys.admin.account.address;
    await fund(sys, admin, quoteUnits(1000));
    await time.increaseTo(sys.call.expiry + 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)])); // a fresh oracle: only the settlement is missing
    expect(await sys.vault.read.maxDeposit([admin])).toBe(0n);
    expect(await sys.vault.read.maxWithdraw([admin])).toBe(0n);
    await expectRevert(sys.vault.write.deposit([quoteUnits(1000), admin]), "SettlementPending", [sys.call.id]);
    await expectRevert(sys.vault.write.withdraw([quoteUnits(1000), admin, admin]), "SettlementPending", [sys.call.id]);
    expect((await sys.lens.read.stateOf([sys.vault.address]))[0].settlementPending).toBe(true);
    await sys.wait(await sys.vault.write.settleSeries([sys.call.id, round(1n, 1n)]));
    await sys.wait(await sys.vault.write.deposit([quoteUnits(1000), admin]));
    await sys.wait(await sys.vault.write.withdraw([quoteUnits(1000), admin, admin]));
  });

  it("deposits revert with LiabilitiesExceedAssets once the book's marks reach the assets", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const call = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, buyer.account.address, call.id, 100);
    // A rally to 15,000: 100 calls marked at ≈ 12,000 each against ≈ 1,030,000 of cash.
    await sys.wait(await sys.oracle.write.setPrice([priceE8(15_000)]));
    const admin = sys.admin.account.address;
    await fund(sys, admin, quoteUnits(1000));
    expect(await sys.vault.read.totalAssets()).toBe(0n);
    expect(await sys.vault.read.maxDeposit([admin])).toBe(0n);
    const [assetsWad, liabilitiesWad] = await expectRevert(
      sys.vault.write.deposit([quoteUnits(1000), admin]),
      "LiabilitiesExceedAssets",
    );
    expect(assetsWad).toBe((await sys.quote.read.balanceOf([sys.vault.address])) * QUOTE_SCALE);
    expect(liabilitiesWad as bigint).toBeGreaterThan(assetsWad as bigint);
  });

  it("maxWithdraw and maxRedeem bound by the owner's shares are exact: the max works, one unit more reverts", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const lp = wallets[4]!;
    await fund(sys, lp.account.address, quoteUnits(10_000));
    await sys.wait(await sys.vault.write.deposit([quoteUnits(10_000), lp.account.address], { account: lp.account }));
    const owner = lp.account.address;
    const balance = await sys.vault.read.balanceOf([owner]);

    await pinNextBlock();
    const maxWithdraw = await sys.vault.read.maxWithdraw([owner], PENDING);
    expect(maxWithdraw).toBe(await sys.vault.read.previewRedeem([balance], PENDING));
    await expectRevert(
      sys.vault.write.withdraw([maxWithdraw + 1n, owner, owner], { account: lp.account }),
      "ERC20InsufficientBalance",
    );
    expect(await sys.vault.read.maxRedeem([owner])).toBe(balance);
    await expectRevert(
      sys.vault.write.redeem([balance + 1n, owner, owner], { account: lp.account }),
      "ERC20InsufficientBalance",
    );
    await pinNextBlock();
    const max = await sys.vault.read.maxWithdraw([owner], PENDING);
    await sys.wait(await sys.vault.write.withdraw([max, owner, owner], { account: lp.account }));
    expect(await sys.vault.read.balanceOf([owner])).toBeLessThan(10n ** 6n); // dust below one unit of assets
  });

  it("redeem is bounded by the free cash to the share: the shares of free + 1 units revert, one share fewer pays exactly the free cash", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const put = await listSeries(sys, false, 3000, 30);
    await buyOptions(sys, buyer.account.address, put.id, 250); // 750,000 USDC locked at price 0
    const admin = sys.admin.account.address;
    const free = (await sys.quote.read.balanceOf([sys.vault.address])) - quoteUnits(750_000);
    expect(await sys.vault.read.maxWithdraw([admin])).toBe(free);

    await pinNextBlock();
    // The fewest shares worth more than the free cash at the exit NAV.
    const tooMany = await sys.vault.read.previewWithdraw([free + 1n], PENDING);
    const maxRedeem = await sys.vault.read.maxRedeem([admin], PENDING);
    expect(await sys.vault.read.previewRedeem([maxRedeem], PENDING)).toBeLessThanOrEqual(free);
    // ERC-4626 lets maxRedeem underestimate: it is within one unit of assets' worth of shares of the true max.
    expect(maxRedeem).toBeLessThanOrEqual(tooMany - 1n);
    expect(tooMany - 1n - maxRedeem).toBeLessThanOrEqual(await sys.vault.read.previewWithdraw([1n], PENDING));
    await expectRevert(sys.vault.write.redeem([tooMany, admin, admin]), "WithdrawalExceedsFreeCash", [free + 1n, free]);

    await pinNextBlock();
    expect(await sys.vault.read.previewWithdraw([free + 1n], PENDING)).toBe(tooMany); // the NAV did not move
    const receipt = await sys.wait(await sys.vault.write.redeem([tooMany - 1n, admin, admin]));
    const [redeemed] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Withdraw" });
    expect(redeemed!.args.assets).toBe(free);
    expect(await sys.vault.read.maxRedeem([admin])).toBe(0n);
  });

  it("with no book and no hedge, withdrawals need no price: they work with a stale oracle (deposits do not)", async () => {
    const sys = await networkHelpers.loadFixture(baseSystem);
    const admin = sys.admin.account.address;
    await time.increase(7200);
    await fund(sys, admin, quoteUnits(1000));
    await expectRevert(sys.vault.write.deposit([quoteUnits(1000), admin]), "StaleOracle");
    expect(await sys.vault.read.maxWithdraw([admin])).toBe(quoteUnits(1_000_000));
    await sys.wait(await sys.vault.write.withdraw([quoteUnits(400_000), admin, admin]));
    await sys.wait(await sys.vault.write.redeem([await sys.vault.read.balanceOf([admin]), admin, admin]));
    expect(await sys.quote.read.balanceOf([sys.vault.address])).toBe(0n);
  });

  it("with open interest, a stale oracle holds withdrawals (StaleOracle) and maxWithdraw is 0", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const admin = sys.admin.account.address;
    const [, , , updatedAt] = await sys.oracle.read.latestRoundData();
    await time.increase(3601);
    expect(await sys.vault.read.maxWithdraw([admin])).toBe(0n);
    await expectRevert(sys.vault.write.withdraw([quoteUnits(1000), admin, admin]), "StaleOracle", [updatedAt, 3600n]);
  });
});

// ─────────────────────────────────────── sequencer-uptime feed ───────────────────────────────────────

/** A vault on an L2 whose sequencer has been up for two hours, short 10 one-month ATM calls. */
async function sequencerSystem() {
  const feed = await viem.deployContract("ScriptedOracle", [0, 0n]);
  await feed.write.scriptAt([0n, BigInt(await time.latest()) - 7200n]);
  const sys = await deploySystem(viem, { sequencerUptimeFeed: feed.address });
  const call = await listSeries(sys, true, 3000, 30);
  await buyOptions(sys, buyer.account.address, call.id, 10);
  return { ...sys, call, feed };
}

describe("OptionVault v2: L2 sequencer-uptime feed", () => {
  it("while the sequencer is down, sales, buy-backs, hedging and deposits revert with SequencerDown", async () => {
    const sys = await networkHelpers.loadFixture(sequencerSystem);
    expect(await sys.vault.read.sequencerUptimeFeed()).toBe(getAddress(sys.feed.address));
    await sys.wait(await sys.feed.write.script([1n])); // down
    expect((await sys.vault.read.hedgeStatus()).oracleStatus).toBe(ORACLE_STATUS.SequencerDown);
    await expectRevert(sys.vault.read.quoteOpen([sys.call.id, WAD]), "SequencerDown");
    await expectRevert(buyOptions(sys, buyer.account.address, sys.call.id, 1), "SequencerDown");
    await expectRevert(
      sys.vault.write.closePosition([sys.call.id, WAD, 0n, buyer.account.address], { account: buyer.account }),
      "SequencerDown",
    );
    await expectRevert(buy(sys, WAD), "SequencerDown");
    await fund(sys, sys.admin.account.address, quoteUnits(1000));
    await expectRevert(sys.vault.write.deposit([quoteUnits(1000), sys.admin.account.address]), "SequencerDown");
  });

  it("for SEQUENCER_GRACE_PERIOD after it comes back up trading reverts with SequencerGracePeriod(upSince, 1 h); then it works", async () => {
    const sys = await networkHelpers.loadFixture(sequencerSystem);
    await sys.wait(await sys.feed.write.script([1n]));
    const receipt = await sys.wait(await sys.feed.write.script([0n])); // up again
    const upSince = (await sys.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
    expect(await sys.vault.read.SEQUENCER_GRACE_PERIOD()).toBe(3600n);
    expect((await sys.vault.read.hedgeStatus()).oracleStatus).toBe(ORACLE_STATUS.SequencerGracePeriod);
    await expectRevert(buyOptions(sys, buyer.account.address, sys.call.id, 1), "SequencerGracePeriod", [upSince, 3600n]);
    await expectRevert(buy(sys, WAD), "SequencerGracePeriod", [upSince, 3600n]);

    await time.setNextBlockTimestamp(upSince + 3598n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3000)])); // keep the price itself fresh
    await time.setNextBlockTimestamp(upSince + 3599n);
    await expectRevert(sys.vault.read.quoteOpen([sys.call.id, WAD], PENDING), "SequencerGracePeriod", [upSince, 3600n]);
    await time.setNextBlockTimestamp(upSince + 3600n);
    await sys.wait(await buy(sys, WAD));
    await buyOptions(sys, buyer.account.address, sys.call.id, 1);
    expect((await sys.vault.read.hedgeStatus()).oracleStatus).toBe(ORACLE_STATUS.Usable);
  });

  it("a feed that never reported (startedAt = 0) counts as within the grace period", async () => {
    const sys = await networkHelpers.loadFixture(sequencerSystem);
    await sys.wait(await sys.feed.write.scriptAt([0n, 0n]));
    await expectRevert(buyOptions(sys, buyer.account.address, sys.call.id, 1), "SequencerGracePeriod", [0n, 3600n]);
  });
});

// ─────────────────────────────────────────── extension ───────────────────────────────────────────

describe("OptionVaultExtension: served only through the vault, under the vault's roles", () => {
  it("calling the extension directly reverts with NotDelegated, for views, trades and administration alike", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const extension = await viem.getContractAt("OptionVaultExtension", await sys.vault.read.extension());
    const holder = buyer.account.address;
    await expectRevert(extension.read.book(), "NotDelegated");
    await expectRevert(extension.read.hedgeStatus(), "NotDelegated");
    await expectRevert(extension.read.quoteOpen([sys.call.id, WAD]), "NotDelegated");
    await expectRevert(extension.write.openPosition([sys.call.id, WAD, quoteUnits(1000), holder], { account: buyer.account }), "NotDelegated");
    await expectRevert(extension.write.closePosition([sys.call.id, WAD, 0n, holder], { account: buyer.account }), "NotDelegated");
    await expectRevert(extension.write.claim([sys.call.id, holder], { account: buyer.account }), "NotDelegated");
    // Even the vault's admin cannot administer the extension's own storage.
    await expectRevert(extension.write.setRiskParams([DEFAULT_RISK_PARAMS]), "NotDelegated");
    await expectRevert(extension.write.pause(), "NotDelegated");
  });

  it("the extension's administration checks the vault's roles: manager, guardian, admin", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const as = { account: stranger.account };
    const who = getAddress(stranger.account.address);
    const now = BigInt(await time.latest());
    const denied = (role: Hex) => [who, role];
    await expectRevert(sys.vault.write.listSeries([false, 2500n * WAD, now + 86_400n], as), "AccessControlUnauthorizedAccount", denied(ROLES.manager));
    await expectRevert(sys.vault.write.delistSeries([sys.call.id], as), "AccessControlUnauthorizedAccount", denied(ROLES.manager));
    await expectRevert(sys.vault.write.setHedgeParams([DEFAULT_HEDGE_PARAMS], as), "AccessControlUnauthorizedAccount", denied(ROLES.manager));
    await expectRevert(sys.vault.write.setRiskParams([DEFAULT_RISK_PARAMS], as), "AccessControlUnauthorizedAccount", denied(ROLES.manager));
    await expectRevert(sys.vault.write.setBookLimits([DEFAULT_BOOK_LIMITS], as), "AccessControlUnauthorizedAccount", denied(ROLES.manager));
    await expectRevert(sys.vault.write.pause(as), "AccessControlUnauthorizedAccount", denied(ROLES.guardian));

    // Roles granted on the vault take effect in the extension; a guardian pauses but only the admin resumes.
    await sys.wait(await sys.vault.write.grantRole([ROLES.guardian, stranger.account.address]));
    await sys.wait(await sys.vault.write.grantRole([ROLES.manager, stranger.account.address]));
    await sys.wait(await sys.vault.write.pause(as));
    await expectRevert(sys.vault.write.unpause(as), "AccessControlUnauthorizedAccount", denied(ROLES.admin));
    await sys.wait(await sys.vault.write.setRiskParams([{ ...DEFAULT_RISK_PARAMS, spreadBps: 300 }], as));
    expect((await sys.vault.read.riskParams()).spreadBps).toBe(300);
    await sys.wait(await sys.vault.write.unpause());
  });
});

// ─────────────────────────────────────────── BandUpkeep sizing ───────────────────────────────────────────

/** A vault short 30 one-month ATM calls: net delta ≈ -16.4, more than one trade within 1% of the oracle buys. */
async function thirtyCallsSystem() {
  const sys = await deploySystem(viem);
  const call = await listSeries(sys, true, 3000, 30);
  await buyOptions(sys, buyer.account.address, call.id, 30);
  return { ...sys, call };
}

describe("BandUpkeep v2: the upkeep sizes its own trades", () => {
  it("slices a hedge larger than the pool's slippage bound over several blocks, each within the vault's bound", async () => {
    const sys = await networkHelpers.loadFixture(thirtyCallsSystem);
    const delta0 = await netDelta(sys);
    // In one trade the whole hedge would pay more than maxSlippageBps over the oracle.
    await expectRevert(buy(sys, -delta0), "SlippageTooHigh");
    const limitWad = (3000n * WAD * (BPS + BigInt(DEFAULT_HEDGE_PARAMS.maxSlippageBps))) / BPS;
    const slices: bigint[] = [];
    for (let step = 0; step < 12; step++) {
      const check = await checkUpkeep(sys, PENDING); // as of the next block: one block after the last slice
      if (!check.needed && check.reason === IDLE.WithinBand) break;
      if (!check.needed) {
        // The last slice moved the pool off the oracle: arbitrageurs bring it back before the next block's slice.
        expect(check.reason).toBe(IDLE.PoolOffOracle);
        await moveAmmTo(sys, 3000);
        continue;
      }
      const ev = rebalancedOf(sys, await sys.wait(await sys.upkeep.write.performUpkeep(["0x"], { account: stranger.account })));
      expect(ceilDiv(ev.amountIn * QUOTE_SCALE * WAD, ev.amountOut)).toBeLessThanOrEqual(limitWad);
      slices.push(ev.amountOut);
    }
    expect(slices.length).toBeGreaterThanOrEqual(3);
    expect(slices[0]!).toBeLessThan(-delta0);
    expect(abs(await netDelta(sys))).toBeLessThanOrEqual(DEFAULT_HEDGE_PARAMS.bandWad);
  });

  it("refuses to trade (NothingToPerform(PoolOffOracle)) while the pool is pushed more than maxPoolDeviationBps off the oracle", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    expect(await sys.upkeep.read.maxPoolDeviationBps()).toBe(50n);
    // An attacker pushes the pool 0.6% above the oracle, still inside the vault's own 1% execution bound.
    await moveAmmTo(sys, 3018);
    expect(await checkUpkeep(sys)).toMatchObject({ needed: false, reason: IDLE.PoolOffOracle });
    await expectRevert(sys.upkeep.write.performUpkeep(["0x"], { account: stranger.account }), "NothingToPerform", [
      IDLE.PoolOffOracle,
    ]);
    // Within 0.5% it trades.
    await moveAmmTo(sys, 3010);
    await sys.wait(await sys.upkeep.write.performUpkeep(["0x"], { account: stranger.account }));
  });

  it("performUpkeep ignores performData: a stranger's crafted dust order still executes the full hedge that is due", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    await pinNextBlock();
    const due = await checkUpkeep(sys, PENDING);
    expect(due.needed).toBe(true);
    const dust = encodeAbiParameters([{ type: "bool" }, { type: "uint256" }, { type: "uint256" }], [true, 1n, 0n]);
    const receipt = await sys.wait(await sys.upkeep.write.performUpkeep([dust], { account: stranger.account }));
    const [performed] = parseEventLogs({ abi: sys.upkeep.abi, logs: receipt.logs, eventName: "UpkeepPerformed" });
    expect(performed!.args).toMatchObject({ buyUnderlying: true, amountIn: due.amountIn });
    expect(rebalancedOf(sys, receipt).amountOut).toBe(due.minAmountOut);
    expect(abs(await netDelta(sys))).toBeLessThanOrEqual(DEFAULT_HEDGE_PARAMS.bandWad);
  });
});

// ─────────────────────────────────────── settlement and claims ───────────────────────────────────────

describe("OptionVault v2: settlement across aggregator phases, and claims", () => {
  const P1 = 1n;

  it("settlement finds the round after a phase's last one in the next aggregator phase (startPhase)", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const { id, expiry } = sys.call;
    await time.increaseTo(expiry - 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3300)])); // phase 1 round 2: current at expiry
    await time.increaseTo(expiry + 10n);
    await sys.wait(await sys.oracle.write.startPhase([priceE8(5000)])); // phase 2 round 1: after expiry
    // Round 2 of phase 1 has no `roundId + 1`; its successor is phase 2's round 1, stamped after expiry.
    await expectRevert(sys.vault.write.settleSeries([id, round(2n, 1n)]), "InvalidSettlementRound");
    const receipt = await sys.wait(await sys.vault.write.settleSeries([id, round(P1, 2n)]));
    const [settled] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "SeriesSettled" });
    expect(settled!.args).toMatchObject({ roundId: round(P1, 2n), settlementPriceWad: 3300n * WAD, payoutPerUnitWad: 300n * WAD });
  });

  it("settlement refuses a phase's last round when the next phase began before expiry", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const { id, expiry } = sys.call;
    await time.increaseTo(expiry - 100n);
    await sys.wait(await sys.oracle.write.startPhase([priceE8(3300)])); // phase 2 round 1: current at expiry
    await time.increaseTo(expiry + 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(5000)])); // phase 2 round 2
    await expectRevert(sys.vault.write.settleSeries([id, round(P1, 1n)]), "InvalidSettlementRound");
    const receipt = await sys.wait(await sys.vault.write.settleSeries([id, round(2n, 1n)]));
    const [settled] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "SeriesSettled" });
    expect(settled!.args).toMatchObject({ roundId: round(2n, 1n), settlementPriceWad: 3300n * WAD });
  });

  it("a round stale at expiry falls back across a phase change to the new phase's first round", async () => {
    const sys = await networkHelpers.loadFixture(shortCallsSystem);
    const { id, expiry } = sys.call;
    await time.increaseTo(expiry + 10n);
    await sys.wait(await sys.oracle.write.startPhase([priceE8(3100)]));
    const receipt = await sys.wait(await sys.vault.write.settleSeries([id, round(P1, 1n)]));
    const [settled] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "SeriesSettled" });
    expect(settled!.args).toMatchObject({ roundId: round(2n, 1n), settlementPriceWad: 3100n * WAD, payoutPerUnitWad: 100n * WAD });
  });

  it("claim pays what the cash covers in quote and the shortfall in the underlying at the oracle price", async () => {
    const sys = await networkHelpers.loadFixture(hedgedCallsSystem);
    const { id, expiry } = sys.call;
    const holder = buyer.account.address;
    // The depositor takes all but 1,000 USDC (the hedge covers the calls at the stress price).
    const admin = sys.admin.account.address;
    const cash = await sys.quote.read.balanceOf([sys.vault.address]);
    await sys.wait(await sys.vault.write.withdraw([cash - quoteUnits(1000), admin, admin]));

    await time.increaseTo(expiry - 10n);
    await sys.wait(await sys.oracle.write.setPrice([priceE8(3500)]));
    await time.increaseTo(expiry + 10n);
    await sys.wait(await sys.vault.write.settleSeries([id, round(P1, 2n)]));
    expect(await sys.vault.read.pendingPayouts()).toBe(quoteUnits(5000)); // 10 × (3500 − 3000)

    const wethBefore = await sys.underlying.read.balanceOf([holder]);
    const usdcBefore = await sys.quote.read.balanceOf([holder]);
    const receipt = await sys.wait(await sys.vault.write.claim([id, holder], { account: buyer.account }));
    const [claimed] = parseEventLogs({ abi: sys.vault.abi, logs: receipt.logs, eventName: "Claimed" });
    // 4,000 USDC short, paid in WETH at 3,500, rounded down.
    const inUnderlying = (quoteUnits(4000) * QUOTE_SCALE * WAD) / (3500n * WAD);
    expect(claimed!.args).toMatchObject({
      sizeWad: 10n * WAD,
      payout: quoteUnits(1000),
      payoutUnderlying: inUnderlying,
      spotWad: 3500n * WAD,
    });
    expect((await sys.quote.read.balanceOf([holder])) - usdcBefore).toBe(quoteUnits(1000));
    expect((await sys.underlying.read.balanceOf([holder])) - wethBefore).toBe(inUnderlying);
    expect(await sys.quote.read.balanceOf([sys.vault.address])).toBe(0n);
    expect(await sys.vault.read.pendingPayouts()).toBe(0n);
  });
});

