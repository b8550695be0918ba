import { beforeEach, describe, expect, it } from "vitest";
import hre from "hardhat";
import {
  decodeErrorResult,
  getAddress,
  maxUint256,
  parseEventLogs,
  parseUnits,
  type Abi,
  type ContractEventName,
  type Hash,
  type Hex,
} from "viem";

// One in-process chain for the whole file: `viem` and `networkHelpers` must come from the same connection,
// or time travel would move a different chain than the one the contracts live on.
const { viem, networkHelpers } = await hre.network.create();
const publicClient = await viem.getPublicClient();
const [admin, lp, trader, stranger] = await viem.getWalletClients();
if (admin === undefined || lp === undefined || trader === undefined || stranger === undefined) {
  throw new Error("the default network must expose at least four accounts");
}

const WETH_DECIMALS = 18;
const USDC_DECIMALS = 6;
const ORACLE_DECIMALS = 8;
const FEE_BPS = 30n;
const BPS = 10_000n;
const MINIMUM_LIQUIDITY = 1_000n;
const LOCKED_LIQUIDITY_HOLDER = getAddress("0x000000000000000000000000000000000000dEaD");
const PRICE_E8 = 3_000n * 10n ** 8n;
/** Chainlink proxy round ids: `phaseId << 64 | aggregatorRoundId`. The feed starts at phase 1, round 1. */
const roundId = (phase: bigint, aggregatorRound: bigint) => (phase << 64n) | aggregatorRound;
const ROUND_1 = roundId(1n, 1n);
const INT112_MAX = 2n ** 111n - 1n;

// Pool seeded at $3,000 per WETH.
const SEED_UNDERLYING = parseUnits("100", WETH_DECIMALS);
const SEED_QUOTE = parseUnits("300000", USDC_DECIMALS);

// ─── bigint reference of the Uniswap-v2 formulas the pool must reproduce exactly ───

/** `out = in·(BPS−fee)·rOut / (rIn·BPS + in·(BPS−fee))`, rounded down. */
function refAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint, feeBps: bigint): bigint {
  const amountInWithFee = amountIn * (BPS - feeBps);
  return (amountInWithFee * reserveOut) / (reserveIn * BPS + amountInWithFee);
}

/** Smallest input buying `amountOut`: `⌈rIn·out·BPS / ((rOut − out)·(BPS−fee))⌉`. */
function refAmountIn(amountOut: bigint, reserveIn: bigint, reserveOut: bigint, feeBps: bigint): bigint {
  const numerator = reserveIn * amountOut * BPS;
  const denominator = (reserveOut - amountOut) * (BPS - feeBps);
  return (numerator + denominator - 1n) / denominator;
}

/** Integer square root, rounded down (Newton). */
function sqrtDown(value: bigint): bigint {
  if (value < 2n) return value;
  let x = value;
  let y = (x + 1n) / 2n;
  while (y < x) {
    x = y;
    y = (x + value / x) / 2n;
  }
  return x;
}

type DecodedRevert = { errorName: string; args: readonly unknown[] };

/**
 * The custom error a failed call or deployment reverted with. viem decodes a call's revert into
 * `ContractFunctionRevertedError.data`; a failed deployment only carries the raw revert bytes (on EDR's
 * `SolidityError.data`), which are decoded here with `abi`.
 */
function decodeRevert(error: unknown, abi: Abi): DecodedRevert | undefined {
  let cause: unknown = error;
  while (typeof cause === "object" && cause !== null) {
    const { name, data } = cause as { name?: unknown; data?: unknown };
    if (name === "ContractFunctionRevertedError" && typeof data === "object" && data !== null) {
      const decoded = data as { errorName: string; args?: readonly unknown[] };
      return { errorName: decoded.errorName, args: decoded.args ?? [] };
    }
    if (typeof data === "string" && /^0x[0-9a-fA-F]{8}/.test(data)) {
      const decoded = decodeErrorResult({ abi, data: data as Hex });
      return { errorName: decoded.errorName, args: decoded.args ?? [] };
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Asserts that `action` reverts with the custom error `errorName`, and with `args` when given. */
async function expectRevert(
  action: Promise<unknown>,
  abi: Abi,
  errorName: string,
  args?: readonly unknown[],
): Promise<void> {
  const error = await action.then(
    () => undefined,
    (reason: unknown) => reason ?? new Error("rejected without a reason"),
  );
  expect(error, `expected a revert with ${errorName}, but the call succeeded`).toBeDefined();
  const decoded = decodeRevert(error, abi);
  expect(decoded?.errorName, String(error)).toBe(errorName);
  if (args !== undefined) expect(decoded?.args).toEqual(args);
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

async function receiptOf(hash: Hash) {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe("success");
  return receipt;
}

/** Decoded logs of one event from a transaction. */
async function eventsOf<const TAbi extends Abi, TEventName extends ContractEventName<TAbi>>(
  hash: Hash,
  abi: TAbi,
  eventName: TEventName,
) {
  const receipt = await receiptOf(hash);
  return parseEventLogs({ abi, logs: receipt.logs, eventName });
}

async function deployMocks() {
  const weth = await viem.deployContract("MockERC20", [
    "Wrapped Ether",
    "WETH",
    WETH_DECIMALS,
    admin!.account.address,
  ]);
  const usdc = await viem.deployContract("MockERC20", ["USD Coin", "USDC", USDC_DECIMALS, admin!.account.address]);
  const oracle = await viem.deployContract("MockOracle", [
    ORACLE_DECIMALS,
    "WETH / USD",
    PRICE_E8,
    admin!.account.address,
  ]);
  const amm = await viem.deployContract("MockAmm", [weth.address, usdc.address, FEE_BPS]);
  const emptyAmm = await viem.deployContract("MockAmm", [weth.address, usdc.address, FEE_BPS]);

  for (const wallet of [lp!, trader!]) {
    await weth.write.mint([wallet.account.address, parseUnits("1000000", WETH_DECIMALS)]);
    await usdc.write.mint([wallet.account.address, parseUnits("1000000000", USDC_DECIMALS)]);
    for (const pool of [amm, emptyAmm]) {
      await weth.write.approve([pool.address, maxUint256], { account: wallet.account });
      await usdc.write.approve([pool.address, maxUint256], { account: wallet.account });
    }
  }
  await amm.write.addLiquidity([SEED_UNDERLYING, SEED_QUOTE, 0n, lp!.account.address], { account: lp!.account });
  return { weth, usdc, oracle, amm, emptyAmm };
}

type Mocks = Awaited<ReturnType<typeof deployMocks>>;
let weth: Mocks["weth"];
let usdc: Mocks["usdc"];
let oracle: Mocks["oracle"];
let amm: Mocks["amm"];
let emptyAmm: Mocks["emptyAmm"];

beforeEach(async () => {
  ({ weth, usdc, oracle, amm, emptyAmm } = await networkHelpers.loadFixture(deployMocks));
});

async function deadlineIn(seconds: number): Promise<bigint> {
  return BigInt((await networkHelpers.time.latest()) + seconds);
}

async function reserves(): Promise<{ reserveUnderlying: bigint; reserveQuote: bigint }> {
  const [reserveUnderlying, reserveQuote] = await amm.read.getReserves();
  return { reserveUnderlying, reserveQuote };
}

// ─────────────────────────────────────────── MockERC20 ───────────────────────────────────────────

describe("MockERC20", () => {
  it("reports the name, symbol and decimals given at deployment", async () => {
    expect(await weth.read.name()).toBe("Wrapped Ether");
    expect(await weth.read.symbol()).toBe("WETH");
    expect(await weth.read.decimals()).toBe(WETH_DECIMALS);
    expect(await usdc.read.name()).toBe("USD Coin");
    expect(await usdc.read.symbol()).toBe("USDC");
    expect(await usdc.read.decimals()).toBe(USDC_DECIMALS);
  });

  it("gives the admin both the admin and the minter role", async () => {
    const minterRole = await usdc.read.MINTER_ROLE();
    expect(await usdc.read.hasRole([minterRole, admin.account.address])).toBe(true);
    expect(await usdc.read.hasRole([await usdc.read.DEFAULT_ADMIN_ROLE(), admin.account.address])).toBe(true);
    expect(await usdc.read.hasRole([minterRole, stranger.account.address])).toBe(false);
  });

  it("mint credits the receiver and emits Transfer from the zero address", async () => {
    const amount = parseUnits("1234.5", USDC_DECIMALS);
    const hash = await usdc.write.mint([stranger.account.address, amount]);
    const [transfer] = await eventsOf(hash, usdc.abi, "Transfer");
    expect(transfer?.args).toEqual({
      from: ZERO_ADDRESS,
      to: getAddress(stranger.account.address),
      value: amount,
    });
    expect(await usdc.read.balanceOf([stranger.account.address])).toBe(amount);
  });

  it("mint reverts with AccessControlUnauthorizedAccount for a caller without MINTER_ROLE", async () => {
    await expectRevert(
      usdc.write.mint([stranger.account.address, 1n], { account: stranger.account }),
      usdc.abi,
      "AccessControlUnauthorizedAccount",
      [getAddress(stranger.account.address), await usdc.read.MINTER_ROLE()],
    );
  });

  it("mint succeeds for an account the admin granted MINTER_ROLE", async () => {
    await usdc.write.grantRole([await usdc.read.MINTER_ROLE(), stranger.account.address]);
    await usdc.write.mint([stranger.account.address, 7n], { account: stranger.account });
    expect(await usdc.read.balanceOf([stranger.account.address])).toBe(7n);
  });

  it("burn destroys the caller's own tokens and lowers the supply", async () => {
    const supplyBefore = await weth.read.totalSupply();
    const balanceBefore = await weth.read.balanceOf([trader.account.address]);
    await weth.write.burn([5n], { account: trader.account });
    expect(await weth.read.balanceOf([trader.account.address])).toBe(balanceBefore - 5n);
    expect(await weth.read.totalSupply()).toBe(supplyBefore - 5n);
  });

  it("burn reverts with ERC20InsufficientBalance beyond the caller's balance", async () => {
    await expectRevert(weth.write.burn([1n], { account: stranger.account }), weth.abi, "ERC20InsufficientBalance", [
      getAddress(stranger.account.address),
      0n,
      1n,
    ]);
  });

  it("deployment reverts with ZeroAdmin for a zero admin", async () => {
    await expectRevert(viem.deployContract("MockERC20", ["X", "X", 18, ZERO_ADDRESS]), weth.abi, "ZeroAdmin", []);
  });
});

// ─────────────────────────────────────────── MockOracle ──────────────────────────────────────────

describe("MockOracle", () => {
  it("reports decimals, description and version, and phase 1 round 1 (id 2^64 + 1) holds the initial answer", async () => {
    expect(await oracle.read.decimals()).toBe(ORACLE_DECIMALS);
    expect(await oracle.read.description()).toBe("WETH / USD");
    expect(await oracle.read.version()).toBe(4n);
    expect(await oracle.read.phaseId()).toBe(1);
    expect(await oracle.read.latestRound()).toBe(ROUND_1);
    expect(ROUND_1).toBe(2n ** 64n + 1n);
    const [id, answer, startedAt, updatedAt, answeredInRound] = await oracle.read.latestRoundData();
    expect([id, answer, answeredInRound]).toEqual([ROUND_1, PRICE_E8, ROUND_1]);
    expect(startedAt).toBe(updatedAt);
    expect(updatedAt).toBeGreaterThan(0n);
  });

  it("setPrice starts the next round of the phase at the block timestamp and emits NewRound and AnswerUpdated", async () => {
    const price = 3_100n * 10n ** 8n;
    const hash = await oracle.write.setPrice([price]);
    const receipt = await receiptOf(hash);
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber });

    const [newRound] = parseEventLogs({ abi: oracle.abi, logs: receipt.logs, eventName: "NewRound" });
    const [answerUpdated] = parseEventLogs({ abi: oracle.abi, logs: receipt.logs, eventName: "AnswerUpdated" });
    expect(newRound?.args).toEqual({
      roundId: ROUND_1 + 1n,
      startedBy: getAddress(admin.account.address),
      startedAt: block.timestamp,
    });
    expect(answerUpdated?.args).toEqual({ current: price, roundId: ROUND_1 + 1n, updatedAt: block.timestamp });
    expect(await oracle.read.latestRoundData()).toEqual([
      ROUND_1 + 1n,
      price,
      block.timestamp,
      block.timestamp,
      ROUND_1 + 1n,
    ]);
  });

  it("getRoundData returns past rounds unchanged after later updates", async () => {
    const round1 = await oracle.read.getRoundData([ROUND_1]);
    await networkHelpers.time.increase(60);
    await oracle.write.setPrice([2_900n * 10n ** 8n]);
    await networkHelpers.time.increase(60);
    await oracle.write.setPrice([2_950n * 10n ** 8n]);

    expect(await oracle.read.getRoundData([ROUND_1])).toEqual(round1);
    const round2 = await oracle.read.getRoundData([ROUND_1 + 1n]);
    const round3 = await oracle.read.getRoundData([ROUND_1 + 2n]);
    expect(round2[1]).toBe(2_900n * 10n ** 8n);
    expect(round3[1]).toBe(2_950n * 10n ** 8n);
    expect(round3[3]).toBeGreaterThanOrEqual(round2[3] + 60n);
    expect(await oracle.read.latestRoundData()).toEqual(round3);
  });

  it("getRoundData reverts with RoundNotFound for round 0, phase 0, and rounds not yet recorded", async () => {
    await expectRevert(oracle.read.getRoundData([0n]), oracle.abi, "RoundNotFound", [0n]);
    // v1 numbered rounds from 1; phase 0 holds none.
    await expectRevert(oracle.read.getRoundData([1n]), oracle.abi, "RoundNotFound", [1n]);
    await expectRevert(oracle.read.getRoundData([ROUND_1 + 1n]), oracle.abi, "RoundNotFound", [ROUND_1 + 1n]);
    await expectRevert(oracle.read.getRoundData([roundId(2n, 1n)]), oracle.abi, "RoundNotFound", [roundId(2n, 1n)]);
  });

  it("setPrice reverts with InvalidAnswer for a zero or negative answer", async () => {
    await expectRevert(oracle.write.setPrice([0n]), oracle.abi, "InvalidAnswer", [0n]);
    await expectRevert(oracle.write.setPrice([-1n]), oracle.abi, "InvalidAnswer", [-1n]);
  });

  it("answers are bounded to int112: its maximum is recorded, one more reverts with InvalidAnswer", async () => {
    await expectRevert(oracle.write.setPrice([INT112_MAX + 1n]), oracle.abi, "InvalidAnswer", [INT112_MAX + 1n]);
    const now = BigInt(await networkHelpers.time.latest());
    await expectRevert(oracle.write.setPriceAt([INT112_MAX + 1n, now]), oracle.abi, "InvalidAnswer", [INT112_MAX + 1n]);
    await expectRevert(oracle.write.startPhase([INT112_MAX + 1n]), oracle.abi, "InvalidAnswer", [INT112_MAX + 1n]);
    await expectRevert(
      viem.deployContract("MockOracle", [8, "X / USD", INT112_MAX + 1n, admin.account.address]),
      oracle.abi,
      "InvalidAnswer",
      [INT112_MAX + 1n],
    );
    await oracle.write.setPrice([INT112_MAX]);
    const [id, answer] = await oracle.read.latestRoundData();
    expect(answer).toBe(INT112_MAX);
    expect((await oracle.read.getRoundData([id]))[1]).toBe(INT112_MAX);
  });

  it("startPhase begins the next phase at its round 1 (phase << 64 | 1) and emits PhaseStarted, NewRound and AnswerUpdated", async () => {
    await oracle.write.setPrice([3_010n * 10n ** 8n]); // phase 1 round 2
    await networkHelpers.time.increase(60);
    const price = 3_020n * 10n ** 8n;
    const hash = await oracle.write.startPhase([price]);
    const receipt = await receiptOf(hash);
    const block = await publicClient.getBlock({ blockNumber: receipt.blockNumber });
    const phase2Round1 = roundId(2n, 1n);

    expect(parseEventLogs({ abi: oracle.abi, logs: receipt.logs, eventName: "PhaseStarted" })[0]?.args).toEqual({
      phaseId: 2,
    });
    expect(parseEventLogs({ abi: oracle.abi, logs: receipt.logs, eventName: "NewRound" })[0]?.args).toEqual({
      roundId: phase2Round1,
      startedBy: getAddress(admin.account.address),
      startedAt: block.timestamp,
    });
    expect(parseEventLogs({ abi: oracle.abi, logs: receipt.logs, eventName: "AnswerUpdated" })[0]?.args).toEqual({
      current: price,
      roundId: phase2Round1,
      updatedAt: block.timestamp,
    });
    expect(await oracle.read.phaseId()).toBe(2);
    expect(await oracle.read.latestRound()).toBe(phase2Round1);
    expect(await oracle.read.latestRoundData()).toEqual([
      phase2Round1,
      price,
      block.timestamp,
      block.timestamp,
      phase2Round1,
    ]);
    // setPrice continues in the new phase.
    await oracle.write.setPrice([3_030n * 10n ** 8n]);
    expect(await oracle.read.latestRound()).toBe(phase2Round1 + 1n);
  });

  it("after startPhase the old phase's rounds stay readable, and roundId + 1 of its last round reverts with RoundNotFound", async () => {
    await oracle.write.setPrice([3_010n * 10n ** 8n]); // phase 1 round 2: the phase's last
    const round1 = await oracle.read.getRoundData([ROUND_1]);
    const round2 = await oracle.read.getRoundData([ROUND_1 + 1n]);
    await oracle.write.startPhase([3_020n * 10n ** 8n]);
    await oracle.write.startPhase([3_030n * 10n ** 8n]);

    expect(await oracle.read.getRoundData([ROUND_1])).toEqual(round1);
    expect(await oracle.read.getRoundData([ROUND_1 + 1n])).toEqual(round2);
    expect((await oracle.read.getRoundData([roundId(2n, 1n)]))[1]).toBe(3_020n * 10n ** 8n);
    expect((await oracle.read.getRoundData([roundId(3n, 1n)]))[1]).toBe(3_030n * 10n ** 8n);
    // What a Chainlink proxy reports across an aggregator upgrade: the old phase simply ends.
    await expectRevert(oracle.read.getRoundData([ROUND_1 + 2n]), oracle.abi, "RoundNotFound", [ROUND_1 + 2n]);
    await expectRevert(oracle.read.getRoundData([roundId(2n, 2n)]), oracle.abi, "RoundNotFound", [roundId(2n, 2n)]);
  });

  it("startPhase reverts with AccessControlUnauthorizedAccount for a caller without UPDATER_ROLE", async () => {
    await expectRevert(
      oracle.write.startPhase([PRICE_E8], { account: stranger.account }),
      oracle.abi,
      "AccessControlUnauthorizedAccount",
      [getAddress(stranger.account.address), await oracle.read.UPDATER_ROLE()],
    );
  });

  it("setPrice reverts with AccessControlUnauthorizedAccount for a caller without UPDATER_ROLE", async () => {
    const expected = [getAddress(stranger.account.address), await oracle.read.UPDATER_ROLE()];
    await expectRevert(
      oracle.write.setPrice([PRICE_E8], { account: stranger.account }),
      oracle.abi,
      "AccessControlUnauthorizedAccount",
      expected,
    );
    await expectRevert(
      oracle.write.setPriceAt([PRICE_E8, 1n], { account: stranger.account }),
      oracle.abi,
      "AccessControlUnauthorizedAccount",
      expected,
    );
  });

  it("setPriceAt records a backdated round, so the feed reads stale by the chosen age", async () => {
    await networkHelpers.time.increase(7_200);
    const now = BigInt(await networkHelpers.time.latest());
    const staleUpdatedAt = now - 3_600n;
    const hash = await oracle.write.setPriceAt([2_800n * 10n ** 8n, staleUpdatedAt]);
    const [answerUpdated] = await eventsOf(hash, oracle.abi, "AnswerUpdated");
    expect(answerUpdated?.args).toEqual({
      current: 2_800n * 10n ** 8n,
      roundId: ROUND_1 + 1n,
      updatedAt: staleUpdatedAt,
    });

    const [id, answer, startedAt, updatedAt, answeredInRound] = await oracle.read.latestRoundData();
    expect([id, answer, startedAt, updatedAt, answeredInRound]).toEqual([
      ROUND_1 + 1n,
      2_800n * 10n ** 8n,
      staleUpdatedAt,
      staleUpdatedAt,
      ROUND_1 + 1n,
    ]);
    const age = BigInt(await networkHelpers.time.latest()) - updatedAt;
    expect(age).toBeGreaterThanOrEqual(3_600n);
  });

  it("setPriceAt reverts with UpdatedAtInFuture for a timestamp after the current block", async () => {
    const future = BigInt(await networkHelpers.time.latest()) + 3_600n;
    await expectRevert(oracle.write.setPriceAt([PRICE_E8, future]), oracle.abi, "UpdatedAtInFuture");
  });

  it("setPriceAt reverts with UpdatedAtBeforeLatestRound for a timestamp before the latest round", async () => {
    const [, , , latestUpdatedAt] = await oracle.read.latestRoundData();
    await expectRevert(
      oracle.write.setPriceAt([PRICE_E8, latestUpdatedAt - 1n]),
      oracle.abi,
      "UpdatedAtBeforeLatestRound",
      [latestUpdatedAt - 1n, latestUpdatedAt],
    );
  });

  it("setPriceAt reverts with InvalidAnswer for a non-positive answer", async () => {
    const now = BigInt(await networkHelpers.time.latest());
    await expectRevert(oracle.write.setPriceAt([0n, now]), oracle.abi, "InvalidAnswer", [0n]);
  });

  it("deployment reverts with InvalidAnswer for a non-positive initial answer and ZeroAdmin for a zero admin", async () => {
    await expectRevert(
      viem.deployContract("MockOracle", [8, "X / USD", 0n, admin.account.address]),
      oracle.abi,
      "InvalidAnswer",
      [0n],
    );
    await expectRevert(viem.deployContract("MockOracle", [8, "X / USD", 1n, ZERO_ADDRESS]), oracle.abi, "ZeroAdmin", []);
  });
});

// ──────────────────────────────────────────── MockAmm ────────────────────────────────────────────

describe("MockAmm deployment", () => {
  it("exposes its tokens, fee, constants and LP token metadata", async () => {
    expect(getAddress(await amm.read.underlying())).toBe(getAddress(weth.address));
    expect(getAddress(await amm.read.quote())).toBe(getAddress(usdc.address));
    expect(await amm.read.feeBps()).toBe(FEE_BPS);
    expect(await amm.read.BPS()).toBe(BPS);
    expect(await amm.read.MAX_FEE_BPS()).toBe(1_000n);
    expect(await amm.read.MINIMUM_LIQUIDITY()).toBe(MINIMUM_LIQUIDITY);
    expect(getAddress(await amm.read.LOCKED_LIQUIDITY_HOLDER())).toBe(LOCKED_LIQUIDITY_HOLDER);
    expect(await amm.read.name()).toBe("MockAmm LP");
    expect(await amm.read.symbol()).toBe("MAMM-LP");
  });

  it("accepts the 10% fee ceiling and reverts with FeeTooHigh above it", async () => {
    const atCeiling = await viem.deployContract("MockAmm", [weth.address, usdc.address, 1_000n]);
    expect(await atCeiling.read.feeBps()).toBe(1_000n);
    await expectRevert(viem.deployContract("MockAmm", [weth.address, usdc.address, 1_001n]), amm.abi, "FeeTooHigh", [
      1_001n,
      1_000n,
    ]);
  });

  it("reverts with InvalidTokenPair for identical or zero tokens", async () => {
    await expectRevert(viem.deployContract("MockAmm", [weth.address, weth.address, FEE_BPS]), amm.abi, "InvalidTokenPair", [
      getAddress(weth.address),
      getAddress(weth.address),
    ]);
    await expectRevert(viem.deployContract("MockAmm", [weth.address, ZERO_ADDRESS, FEE_BPS]), amm.abi, "InvalidTokenPair", [
      getAddress(weth.address),
      ZERO_ADDRESS,
    ]);
  });
});

describe("MockAmm quotes", () => {
  const amountsIn = [1n, 999n, 10n ** 6n, 10n ** 15n, 3n * 10n ** 18n, 10n ** 21n, 10n ** 26n];

  it("quoteExactIn matches the bigint reference in both directions", async () => {
    const { reserveUnderlying, reserveQuote } = await reserves();
    for (const amountIn of amountsIn) {
      expect(await amm.read.quoteExactIn([weth.address, amountIn])).toBe(
        refAmountOut(amountIn, reserveUnderlying, reserveQuote, FEE_BPS),
      );
      expect(await amm.read.quoteExactIn([usdc.address, amountIn])).toBe(
        refAmountOut(amountIn, reserveQuote, reserveUnderlying, FEE_BPS),
      );
    }
  });

  it("quoteExactIn matches the reference for a zero-fee and a 10%-fee pool", async () => {
    for (const feeBps of [0n, 1_000n]) {
      const pool = await viem.deployContract("MockAmm", [weth.address, usdc.address, feeBps]);
      await weth.write.approve([pool.address, maxUint256], { account: lp.account });
      await usdc.write.approve([pool.address, maxUint256], { account: lp.account });
      await pool.write.addLiquidity([SEED_UNDERLYING, SEED_QUOTE, 0n, lp.account.address], { account: lp.account });
      for (const amountIn of amountsIn) {
        expect(await pool.read.quoteExactIn([weth.address, amountIn])).toBe(
          refAmountOut(amountIn, SEED_UNDERLYING, SEED_QUOTE, feeBps),
        );
      }
    }
  });

  it("quoteExactOut matches the reference and is the smallest input that buys the amount", async () => {
    const { reserveUnderlying, reserveQuote } = await reserves();
    const amountsOut = [1n, 10n ** 6n, 3_000n * 10n ** 6n, SEED_QUOTE / 2n, SEED_QUOTE - 1n];
    for (const amountOut of amountsOut) {
      const amountIn = await amm.read.quoteExactOut([weth.address, amountOut]);
      expect(amountIn).toBe(refAmountIn(amountOut, reserveUnderlying, reserveQuote, FEE_BPS));
      expect(await amm.read.quoteExactIn([weth.address, amountIn])).toBeGreaterThanOrEqual(amountOut);
      if (amountIn > 1n) {
        expect(await amm.read.quoteExactIn([weth.address, amountIn - 1n])).toBeLessThan(amountOut);
      }
    }
    const wethOut = parseUnits("1", WETH_DECIMALS);
    expect(await amm.read.quoteExactOut([usdc.address, wethOut])).toBe(
      refAmountIn(wethOut, reserveQuote, reserveUnderlying, FEE_BPS),
    );
  });

  it("quotes revert with UnknownToken for a token outside the pool", async () => {
    await expectRevert(amm.read.quoteExactIn([amm.address, 1n]), amm.abi, "UnknownToken", [getAddress(amm.address)]);
    await expectRevert(amm.read.quoteExactOut([amm.address, 1n]), amm.abi, "UnknownToken", [getAddress(amm.address)]);
  });

  it("quotes revert with ZeroAmount for a zero amount", async () => {
    await expectRevert(amm.read.quoteExactIn([weth.address, 0n]), amm.abi, "ZeroAmount", []);
    await expectRevert(amm.read.quoteExactOut([weth.address, 0n]), amm.abi, "ZeroAmount", []);
  });

  it("quotes revert with InsufficientLiquidity on an empty pool or for the whole output reserve", async () => {
    await expectRevert(emptyAmm.read.quoteExactIn([weth.address, 1n]), amm.abi, "InsufficientLiquidity", [0n, 0n]);
    await expectRevert(emptyAmm.read.quoteExactOut([weth.address, 1n]), amm.abi, "InsufficientLiquidity", [0n, 1n]);
    await expectRevert(amm.read.quoteExactOut([weth.address, SEED_QUOTE]), amm.abi, "InsufficientLiquidity", [
      SEED_QUOTE,
      SEED_QUOTE,
    ]);
  });
});

describe("MockAmm swapExactIn", () => {
  it("pays the quoted output, moves the reserves and emits Sync and Swap", async () => {
    const amountIn = parseUnits("2", WETH_DECIMALS);
    const expectedOut = refAmountOut(amountIn, SEED_UNDERLYING, SEED_QUOTE, FEE_BPS);
    const quoteBefore = await usdc.read.balanceOf([trader.account.address]);
    const wethBefore = await weth.read.balanceOf([trader.account.address]);

    const hash = await amm.write.swapExactIn(
      [weth.address, amountIn, expectedOut, trader.account.address, await deadlineIn(60)],
      { account: trader.account },
    );
    const receipt = await receiptOf(hash);
    const [swap] = parseEventLogs({ abi: amm.abi, logs: receipt.logs, eventName: "Swap" });
    const [sync] = parseEventLogs({ abi: amm.abi, logs: receipt.logs, eventName: "Sync" });
    expect(swap?.args).toEqual({
      sender: getAddress(trader.account.address),
      tokenIn: getAddress(weth.address),
      amountIn,
      amountOut: expectedOut,
      to: getAddress(trader.account.address),
    });
    expect(sync?.args).toEqual({ reserveUnderlying: SEED_UNDERLYING + amountIn, reserveQuote: SEED_QUOTE - expectedOut });
    expect(await reserves()).toEqual({
      reserveUnderlying: SEED_UNDERLYING + amountIn,
      reserveQuote: SEED_QUOTE - expectedOut,
    });
    expect(await usdc.read.balanceOf([trader.account.address])).toBe(quoteBefore + expectedOut);
    expect(await weth.read.balanceOf([trader.account.address])).toBe(wethBefore - amountIn);
  });

  it("sends the output to a receiver other than the payer", async () => {
    const amountIn = parseUnits("6000", USDC_DECIMALS);
    const expectedOut = await amm.read.quoteExactIn([usdc.address, amountIn]);
    await amm.write.swapExactIn([usdc.address, amountIn, 1n, stranger.account.address, await deadlineIn(60)], {
      account: trader.account,
    });
    expect(await weth.read.balanceOf([stranger.account.address])).toBe(expectedOut);
  });

  it("buying with quoteExactOut's input pays at least the requested output", async () => {
    const wanted = parseUnits("1", WETH_DECIMALS);
    const amountIn = await amm.read.quoteExactOut([usdc.address, wanted]);
    const before = await weth.read.balanceOf([trader.account.address]);
    await amm.write.swapExactIn([usdc.address, amountIn, wanted, trader.account.address, await deadlineIn(60)], {
      account: trader.account,
    });
    expect((await weth.read.balanceOf([trader.account.address])) - before).toBeGreaterThanOrEqual(wanted);
  });

  it("k never decreases over a sequence of swaps in both directions", async () => {
    let { reserveUnderlying, reserveQuote } = await reserves();
    const legs = [
      [weth.address, parseUnits("10", WETH_DECIMALS)],
      [usdc.address, parseUnits("50000", USDC_DECIMALS)],
      [weth.address, 1n],
      [usdc.address, 1n],
      [weth.address, parseUnits("0.001", WETH_DECIMALS)],
    ] as const;
    for (const [tokenIn, amountIn] of legs) {
      if ((await amm.read.quoteExactIn([tokenIn, amountIn])) === 0n) continue;
      await amm.write.swapExactIn([tokenIn, amountIn, 0n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      });
      const after = await reserves();
      expect(after.reserveUnderlying * after.reserveQuote).toBeGreaterThanOrEqual(reserveUnderlying * reserveQuote);
      ({ reserveUnderlying, reserveQuote } = after);
    }
  });

  it("swap reverts with InsufficientOutput when the output is below the caller's minimum", async () => {
    const amountIn = parseUnits("1", WETH_DECIMALS);
    const quoted = await amm.read.quoteExactIn([weth.address, amountIn]);
    await expectRevert(
      amm.write.swapExactIn([weth.address, amountIn, quoted + 1n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      }),
      amm.abi,
      "InsufficientOutput",
      [quoted, quoted + 1n],
    );
  });

  it("swap reverts with InsufficientOutput for a dust input that would pay nothing, even with a zero minimum", async () => {
    // 1 wei of WETH buys 3e-15 USDC units: rounds to 0.
    expect(await amm.read.quoteExactIn([weth.address, 1n])).toBe(0n);
    await expectRevert(
      amm.write.swapExactIn([weth.address, 1n, 0n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      }),
      amm.abi,
      "InsufficientOutput",
      [0n, 1n],
    );
  });

  it("swap reverts with DeadlineExpired when the deadline has passed", async () => {
    const deadline = BigInt(await networkHelpers.time.latest());
    await networkHelpers.time.setNextBlockTimestamp(deadline + 1n);
    await expectRevert(
      amm.write.swapExactIn([weth.address, 10n ** 18n, 0n, trader.account.address, deadline], {
        account: trader.account,
      }),
      amm.abi,
      "DeadlineExpired",
      [deadline, deadline + 1n],
    );
  });

  it("swap succeeds in the block whose timestamp equals the deadline", async () => {
    const deadline = BigInt(await networkHelpers.time.latest()) + 10n;
    await networkHelpers.time.setNextBlockTimestamp(deadline);
    await amm.write.swapExactIn([weth.address, 10n ** 18n, 0n, trader.account.address, deadline], {
      account: trader.account,
    });
  });

  it("swap reverts with UnknownToken for a token outside the pool", async () => {
    await expectRevert(
      amm.write.swapExactIn([amm.address, 1n, 0n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      }),
      amm.abi,
      "UnknownToken",
      [getAddress(amm.address)],
    );
  });

  it("swap reverts with ZeroAmount for a zero input", async () => {
    await expectRevert(
      amm.write.swapExactIn([weth.address, 0n, 0n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      }),
      amm.abi,
      "ZeroAmount",
      [],
    );
  });

  it("swap reverts with InsufficientLiquidity on an empty pool", async () => {
    await expectRevert(
      emptyAmm.write.swapExactIn([weth.address, 10n ** 18n, 0n, trader.account.address, await deadlineIn(60)], {
        account: trader.account,
      }),
      amm.abi,
      "InsufficientLiquidity",
      [0n, 0n],
    );
  });

  it("swap reverts with ERC20InsufficientAllowance when the payer has not approved the pool", async () => {
    await weth.write.mint([stranger.account.address, 10n ** 18n]);
    await expectRevert(
      amm.write.swapExactIn([weth.address, 10n ** 18n, 0n, stranger.account.address, await deadlineIn(60)], {
        account: stranger.account,
      }),
      amm.abi,
      "ERC20InsufficientAllowance",
      [getAddress(amm.address), 0n, 10n ** 18n],
    );
  });

  it("a token donation changes neither the reserves nor the price", async () => {
    const before = await reserves();
    const quoteBefore = await amm.read.quoteExactIn([weth.address, 10n ** 18n]);
    await weth.write.transfer([amm.address, parseUnits("50", WETH_DECIMALS)], { account: trader.account });
    await usdc.write.transfer([amm.address, parseUnits("1", USDC_DECIMALS)], { account: trader.account });
    expect(await reserves()).toEqual(before);
    expect(await amm.read.quoteExactIn([weth.address, 10n ** 18n])).toBe(quoteBefore);
    expect(await weth.read.balanceOf([amm.address])).toBe(before.reserveUnderlying + parseUnits("50", WETH_DECIMALS));
  });
});

describe("MockAmm liquidity", () => {
  it("the first deposit mints sqrt(x·y) − 1000 shares and locks 1000 at 0xdead", async () => {
    const hash = await emptyAmm.write.addLiquidity([SEED_UNDERLYING, SEED_QUOTE, 1n, lp.account.address], {
      account: lp.account,
    });
    const receipt = await receiptOf(hash);
    const liquidity = sqrtDown(SEED_UNDERLYING * SEED_QUOTE);
    const [added] = parseEventLogs({ abi: emptyAmm.abi, logs: receipt.logs, eventName: "LiquidityAdded" });
    const [sync] = parseEventLogs({ abi: emptyAmm.abi, logs: receipt.logs, eventName: "Sync" });
    expect(added?.args).toEqual({
      provider: getAddress(lp.account.address),
      amountUnderlying: SEED_UNDERLYING,
      amountQuote: SEED_QUOTE,
      shares: liquidity - MINIMUM_LIQUIDITY,
      to: getAddress(lp.account.address),
    });
    expect(sync?.args).toEqual({ reserveUnderlying: SEED_UNDERLYING, reserveQuote: SEED_QUOTE });
    expect(await emptyAmm.read.balanceOf([lp.account.address])).toBe(liquidity - MINIMUM_LIQUIDITY);
    expect(await emptyAmm.read.balanceOf([LOCKED_LIQUIDITY_HOLDER])).toBe(MINIMUM_LIQUIDITY);
    expect(await emptyAmm.read.totalSupply()).toBe(liquidity);
  });

  it("the first deposit reverts with InitialLiquidityTooLow when sqrt(x·y) does not exceed the locked minimum", async () => {
    await expectRevert(
      emptyAmm.write.addLiquidity([1_000n, 1_000n, 0n, lp.account.address], { account: lp.account }),
      amm.abi,
      "InitialLiquidityTooLow",
      [1_000n, MINIMUM_LIQUIDITY],
    );
  });

  it("a later deposit with surplus quote takes all the underlying and the quote at the pool ratio", async () => {
    const supply = await amm.read.totalSupply();
    const amountUnderlying = parseUnits("10", WETH_DECIMALS);
    const expectedQuote = (amountUnderlying * SEED_QUOTE) / SEED_UNDERLYING;
    const quoteBefore = await usdc.read.balanceOf([trader.account.address]);

    const hash = await amm.write.addLiquidity(
      [amountUnderlying, parseUnits("1000000", USDC_DECIMALS), 0n, trader.account.address],
      { account: trader.account },
    );
    const [added] = await eventsOf(hash, amm.abi, "LiquidityAdded");
    const expectedShares = [
      (amountUnderlying * supply) / SEED_UNDERLYING,
      (expectedQuote * supply) / SEED_QUOTE,
    ].reduce((a, b) => (a < b ? a : b));
    expect(added?.args).toMatchObject({ amountUnderlying, amountQuote: expectedQuote, shares: expectedShares });
    expect(quoteBefore - (await usdc.read.balanceOf([trader.account.address]))).toBe(expectedQuote);
    expect(await amm.read.balanceOf([trader.account.address])).toBe(expectedShares);
  });

  it("a later deposit with surplus underlying takes all the quote and the underlying at the pool ratio", async () => {
    const supply = await amm.read.totalSupply();
    const amountQuote = parseUnits("12345.678901", USDC_DECIMALS);
    const expectedUnderlying = (amountQuote * SEED_UNDERLYING) / SEED_QUOTE;
    const hash = await amm.write.addLiquidity(
      [parseUnits("1000", WETH_DECIMALS), amountQuote, 0n, trader.account.address],
      { account: trader.account },
    );
    const [added] = await eventsOf(hash, amm.abi, "LiquidityAdded");
    const expectedShares = [
      (expectedUnderlying * supply) / SEED_UNDERLYING,
      (amountQuote * supply) / SEED_QUOTE,
    ].reduce((a, b) => (a < b ? a : b));
    expect(added?.args).toMatchObject({ amountUnderlying: expectedUnderlying, amountQuote, shares: expectedShares });
  });

  it("addLiquidity reverts with SlippageExceeded when the shares fall below the caller's minimum", async () => {
    const supply = await amm.read.totalSupply();
    const amountUnderlying = parseUnits("1", WETH_DECIMALS);
    const shares = (amountUnderlying * supply) / SEED_UNDERLYING;
    await expectRevert(
      amm.write.addLiquidity([amountUnderlying, maxUint256 / 2n ** 128n, shares + 1n, trader.account.address], {
        account: trader.account,
      }),
      amm.abi,
      "SlippageExceeded",
      [shares, shares + 1n],
    );
  });

  it("addLiquidity reverts with ZeroAmount when either maximum is zero", async () => {
    await expectRevert(
      amm.write.addLiquidity([0n, 1n, 0n, trader.account.address], { account: trader.account }),
      amm.abi,
      "ZeroAmount",
      [],
    );
    await expectRevert(
      amm.write.addLiquidity([1n, 0n, 0n, trader.account.address], { account: trader.account }),
      amm.abi,
      "ZeroAmount",
      [],
    );
  });

  it("removeLiquidity pays the pro-rata reserves rounded down and emits LiquidityRemoved and Sync", async () => {
    // A swap first, so the reserves are not round numbers and the rounding shows.
    await amm.write.swapExactIn([weth.address, 123_456_789n * 10n ** 9n, 0n, trader.account.address, await deadlineIn(60)], {
      account: trader.account,
    });
    const { reserveUnderlying, reserveQuote } = await reserves();
    const supply = await amm.read.totalSupply();
    const shares = (await amm.read.balanceOf([lp.account.address])) / 3n;
    const expectedUnderlying = (shares * reserveUnderlying) / supply;
    const expectedQuote = (shares * reserveQuote) / supply;

    const hash = await amm.write.removeLiquidity([shares, expectedUnderlying, expectedQuote, stranger.account.address], {
      account: lp.account,
    });
    const receipt = await receiptOf(hash);
    const [removed] = parseEventLogs({ abi: amm.abi, logs: receipt.logs, eventName: "LiquidityRemoved" });
    const [sync] = parseEventLogs({ abi: amm.abi, logs: receipt.logs, eventName: "Sync" });
    expect(removed?.args).toEqual({
      provider: getAddress(lp.account.address),
      amountUnderlying: expectedUnderlying,
      amountQuote: expectedQuote,
      shares,
      to: getAddress(stranger.account.address),
    });
    expect(sync?.args).toEqual({
      reserveUnderlying: reserveUnderlying - expectedUnderlying,
      reserveQuote: reserveQuote - expectedQuote,
    });
    expect(await weth.read.balanceOf([stranger.account.address])).toBe(expectedUnderlying);
    expect(await usdc.read.balanceOf([stranger.account.address])).toBe(expectedQuote);
    expect(await amm.read.totalSupply()).toBe(supply - shares);
  });

  it("removing every LP share leaves the locked minimum and non-empty reserves", async () => {
    const shares = await amm.read.balanceOf([lp.account.address]);
    await amm.write.removeLiquidity([shares, 0n, 0n, lp.account.address], { account: lp.account });
    const { reserveUnderlying, reserveQuote } = await reserves();
    expect(await amm.read.totalSupply()).toBe(MINIMUM_LIQUIDITY);
    expect(reserveUnderlying).toBeGreaterThan(0n);
    expect(reserveQuote).toBeGreaterThan(0n);
  });

  it("removeLiquidity reverts with SlippageExceeded when either payout falls below its minimum", async () => {
    const supply = await amm.read.totalSupply();
    const shares = 10n ** 12n;
    const underlyingOut = (shares * SEED_UNDERLYING) / supply;
    const quoteOut = (shares * SEED_QUOTE) / supply;
    await expectRevert(
      amm.write.removeLiquidity([shares, underlyingOut + 1n, 0n, lp.account.address], { account: lp.account }),
      amm.abi,
      "SlippageExceeded",
      [underlyingOut, underlyingOut + 1n],
    );
    await expectRevert(
      amm.write.removeLiquidity([shares, 0n, quoteOut + 1n, lp.account.address], { account: lp.account }),
      amm.abi,
      "SlippageExceeded",
      [quoteOut, quoteOut + 1n],
    );
  });

  it("removeLiquidity reverts with ZeroAmount for zero shares", async () => {
    await expectRevert(
      amm.write.removeLiquidity([0n, 0n, 0n, lp.account.address], { account: lp.account }),
      amm.abi,
      "ZeroAmount",
      [],
    );
  });

  it("removeLiquidity reverts with InsufficientLiquidity on a pool that has never been funded", async () => {
    await expectRevert(
      emptyAmm.write.removeLiquidity([1n, 0n, 0n, lp.account.address], { account: lp.account }),
      amm.abi,
      "InsufficientLiquidity",
      [0n, 1n],
    );
  });

  it("removeLiquidity reverts with ERC20InsufficientBalance for more shares than the caller holds", async () => {
    const held = await amm.read.balanceOf([lp.account.address]);
    await expectRevert(
      amm.write.removeLiquidity([held + 1n, 0n, 0n, lp.account.address], { account: lp.account }),
      amm.abi,
      "ERC20InsufficientBalance",
      [getAddress(lp.account.address), held, held + 1n],
    );
  });
});
