/**
 * The simulated market's integer math: `isqrt` is ⌊√n⌋, `realign` puts the pool at the oracle answer (past it by
 * exactly the fee kept in the pool), and it replays `MarketDriver.step` to the wei on Hardhat's in-process chain.
 */
import fc from "fast-check";
import hre from "hardhat";
import { describe, expect, it } from "vitest";
import { parseEventLogs } from "viem";
import { getAmountIn, getAmountOut } from "../../keeper/sizing/amm.ts";
import { deploySystem, ROLES } from "../../harness/system.ts";
import { isqrt, realign, type Reserves } from "../../harness/market.ts";
import { mulberry32, normalSampler } from "../../harness/random.ts";

const FC_SEED = 0x5eed;
/** 10^(18 − 6 + 8): WETH/USDC with an 8-decimal feed; pool price in oracle units is rq · SCALE / ru. */
const SCALE_EXPONENT = 20;
const SCALE = 10n ** BigInt(SCALE_EXPONENT);
const E18 = 10n ** 18n;
/** An answer 1% above a 3000 pool that, repeated, ends in a sale too small to pay out a unit of quote. */
const DUST_ANSWER = 3030n * 10n ** 8n;

const expectFloorSqrt = (n: bigint) => {
  const r = isqrt(n);
  expect(r * r <= n, `isqrt(${n}) = ${r}: r² > n`).toBe(true);
  expect((r + 1n) * (r + 1n) > n, `isqrt(${n}) = ${r}: (r+1)² ≤ n`).toBe(true);
};

/** a / b as a float, for ratios of bigints too large for Number. */
const ratio = (a: bigint, b: bigint) => Number((a * E18) / b) / 1e18;

/** Pool price in oracle units (8 decimals), as a wad-precision float ratio to `answer`. */
const priceOverAnswer = (r: Reserves, answer: bigint) => ratio(r.quote * SCALE, r.underlying * answer);

describe("isqrt", () => {
  it("is exact on small numbers and perfect squares", () => {
    expect([0n, 1n, 2n, 3n, 4n, 5n, 8n, 9n, 10n, 15n, 16n, 17n].map(isqrt)).toEqual([
      0n, 1n, 1n, 1n, 2n, 2n, 2n, 3n, 3n, 3n, 4n, 4n,
    ]);
    for (const r of [1n, 3n, 10n ** 9n, 2n ** 53n - 1n, 2n ** 53n + 1n, 10n ** 30n + 7n, 2n ** 128n - 1n]) {
      expect(isqrt(r * r)).toBe(r);
      expect(isqrt(r * r - 1n)).toBe(r - 1n);
      expect(isqrt(r * r + 2n * r)).toBe(r);
      expect(isqrt((r + 1n) * (r + 1n))).toBe(r + 1n);
    }
  });

  it("is exact around 2^255 and 2^256 (uint256's range)", () => {
    for (const n of [2n ** 255n - 1n, 2n ** 255n, 2n ** 255n + 1n, 2n ** 256n - 1n, 2n ** 256n]) expectFloorSqrt(n);
    expect(isqrt(2n ** 256n)).toBe(2n ** 128n);
    expect(isqrt(2n ** 256n - 1n)).toBe(2n ** 128n - 1n);
  });

  it("is exact beyond float64's range (the estimate is infinite there)", () => {
    for (const n of [2n ** 1024n, 2n ** 1100n + 12345n, 3n ** 700n]) expectFloorSqrt(n);
    expect(isqrt(2n ** 2000n)).toBe(2n ** 1000n);
  });

  it("rejects a negative number", () => {
    expect(() => isqrt(-1n)).toThrow(RangeError);
  });

  it("property: r² ≤ n < (r + 1)² for n up to 2^256, at every magnitude", () => {
    const anyMagnitude = fc.integer({ min: 0, max: 256 }).chain((bits) => fc.bigInt({ min: 0n, max: 1n << BigInt(bits) }));
    fc.assert(
      fc.property(anyMagnitude, (n) => {
        const r = isqrt(n);
        return r * r <= n && n < (r + 1n) * (r + 1n);
      }),
      { seed: FC_SEED, numRuns: 5000 },
    );
  });

  it("property: exact next to perfect squares (r² − 1, r², r² + 2r)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }), (r) => {
        return isqrt(r * r - 1n) === r - 1n && isqrt(r * r) === r && isqrt(r * r + 2n * r) === r;
      }),
      { seed: FC_SEED, numRuns: 3000 },
    );
  });
});

/** A deep pool (1,000 to 1,000,000 WETH) at a price of 100 to 10,000 USDC, and an answer up to ±50% away. */
const deepPoolAndAnswer = fc
  .record({
    depthWad: fc.bigInt({ min: 1000n * E18, max: 1_000_000n * E18 }),
    priceE8: fc.bigInt({ min: 100n * 10n ** 8n, max: 10_000n * 10n ** 8n }),
    moveBps: fc.integer({ min: -5000, max: 5000 }),
  })
  .map(({ depthWad, priceE8, moveBps }) => {
    const reserves: Reserves = { underlying: depthWad, quote: (depthWad * priceE8) / SCALE };
    const answer = (priceE8 * BigInt(10_000 + moveBps)) / 10_000n;
    return { reserves, answer };
  });

describe("realign", () => {
  it("without a fee, the pool price lands at the answer (relative 1e-9, deep pool)", () => {
    fc.assert(
      fc.property(deepPoolAndAnswer, ({ reserves, answer }) => {
        const r = realign(reserves, answer, SCALE, 0n);
        expect(Math.abs(priceOverAnswer(r.reserves, answer) - 1)).toBeLessThan(1e-9);
      }),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("with a fee, the pool lands past the answer by exactly the growth of k (the fee kept in the pool)", () => {
    fc.assert(
      fc.property(deepPoolAndAnswer, fc.constantFrom(5n, 30n, 100n), ({ reserves, answer }, feeBps) => {
        const r = realign(reserves, answer, SCALE, feeBps);
        const kGrowth = ratio(r.reserves.underlying * r.reserves.quote, reserves.underlying * reserves.quote);
        const landed = priceOverAnswer(r.reserves, answer);
        expect(Math.abs(landed - kGrowth)).toBeLessThan(1e-9);
        expect(landed).toBeGreaterThanOrEqual(1 - 1e-12);
      }),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("k never decreases", () => {
    fc.assert(
      fc.property(deepPoolAndAnswer, fc.constantFrom(0n, 1n, 30n, 1000n), ({ reserves, answer }, feeBps) => {
        const r = realign(reserves, answer, SCALE, feeBps);
        return r.reserves.underlying * r.reserves.quote >= reserves.underlying * reserves.quote;
      }),
      { seed: FC_SEED, numRuns: 1000 },
    );
  });

  it("buys underlying with quote when the answer is above the pool price, sells it when below, as the AMM swaps", () => {
    fc.assert(
      fc.property(deepPoolAndAnswer, ({ reserves, answer }) => {
        const r = realign(reserves, answer, SCALE, 30n);
        const target = isqrt((reserves.underlying * reserves.quote * SCALE) / answer);
        if (target < reserves.underlying) {
          expect(r.quoteIn).toBe(true);
          expect(r.amountIn).toBe(getAmountIn(reserves.underlying - target, reserves.quote, reserves.underlying, 30n));
          expect(r.amountOut).toBe(getAmountOut(r.amountIn, reserves.quote, reserves.underlying, 30n));
          expect(r.amountOut).toBeGreaterThanOrEqual(reserves.underlying - target);
          expect(r.reserves).toEqual({ underlying: reserves.underlying - r.amountOut, quote: reserves.quote + r.amountIn });
        } else if (target > reserves.underlying) {
          expect(r.quoteIn).toBe(false);
          expect(r.amountIn).toBe(target - reserves.underlying);
          expect(r.amountOut).toBe(getAmountOut(r.amountIn, reserves.underlying, reserves.quote, 30n));
          expect(r.reserves).toEqual({ underlying: target, quote: reserves.quote - r.amountOut });
        }
      }),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("is a no-op when the pool is already at the answer", () => {
    const reserves: Reserves = { underlying: 10_000n * E18, quote: 30_000_000n * 10n ** 6n };
    const r = realign(reserves, 3000n * 10n ** 8n, SCALE, 30n);
    expect(r).toEqual({ reserves, quoteIn: false, amountIn: 0n, amountOut: 0n });
  });

  it("without a fee, a second realignment to the same answer is a no-op or a dust trade", () => {
    fc.assert(
      fc.property(deepPoolAndAnswer, ({ reserves, answer }) => {
        const once = realign(reserves, answer, SCALE, 0n);
        const twice = realign(once.reserves, answer, SCALE, 0n);
        // One wei of quote is worth ~1e12 wei of underlying at these prices: anything below that is rounding.
        expect(twice.amountIn <= 10n ** 13n && twice.amountOut <= 10n ** 13n).toBe(true);
      }),
      { seed: FC_SEED, numRuns: 300 },
    );
  });

  it("never replays a swap that pays nothing: the dust correction is a no-op, and realign does not throw", () => {
    // The same answer again and again: each step corrects the fee's overshoot of the last, until the correction
    // is a sale of < rU/rQ wei of underlying, which gets 0 quote out. MockAmm reverts such a swap
    // (InsufficientOutput(0, 1)), so MarketDriver.step skips it and realign must report a no-op, not a trade.
    // No try/catch: any error realign throws here fails the test.
    let reserves: Reserves = { underlying: 10_000n * E18, quote: 30_000_000n * 10n ** 6n };
    const trades: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      const r = realign(reserves, DUST_ANSWER, SCALE, 30n);
      expect(r.amountIn === 0n || r.amountOut > 0n, `step ${i + 1}: sells ${r.amountIn} wei for ${r.amountOut}`).toBe(true);
      if (r.amountIn === 0n) expect(r.reserves, `step ${i + 1}: a no-op leaves the pool alone`).toEqual(reserves);
      trades.push(r.amountIn > 0n);
      reserves = r.reserves;
    }
    // One buy, three shrinking corrections, then the pool is as close as it can get: no-ops from step 5 on.
    expect(trades).toEqual([true, true, true, true, false, false, false, false]);
  });

  it("rejects a non-positive answer", () => {
    const reserves: Reserves = { underlying: E18, quote: 3000n * 10n ** 6n };
    expect(() => realign(reserves, 0n, SCALE, 30n)).toThrow(RangeError);
    expect(() => realign(reserves, -1n, SCALE, 30n)).toThrow(RangeError);
  });
});

/** A fresh in-process chain: the system at 3000 with a 10,000 WETH pool, and a funded MarketDriver on it. */
async function deployDriver(feeBps: bigint) {
  const { viem } = await hre.network.create();
  const sys = await deploySystem(viem, { spot: 3000, ammDepthUnderlying: 10_000, ammFeeBps: Number(feeBps), vaultDeposit: 0 });
  const { oracle, amm, underlying, quote, wait } = sys;
  const driver = await viem.deployContract("MarketDriver", [oracle.address, amm.address, SCALE_EXPONENT]);
  await wait(await oracle.write.grantRole([ROLES.updater, driver.address]));
  await wait(await underlying.write.mint([driver.address, 10n ** 30n]));
  await wait(await quote.write.mint([driver.address, 10n ** 20n]));
  return { ...sys, driver };
}

describe("realign replays MarketDriver.step exactly", () => {
  it("the dust sequence: every step is mined, the same trades and no-ops as realign, the same reserves", async () => {
    const feeBps = 30n;
    const { amm, driver, wait } = await deployDriver(feeBps);
    const [ru0, rq0] = await amm.read.getReserves();
    let model: Reserves = { underlying: ru0, quote: rq0 };
    for (let i = 0; i < 8; i++) {
      const expected = realign(model, DUST_ANSWER, SCALE, feeBps);
      const receipt = await wait(await driver.write.step([DUST_ANSWER]));
      expect(receipt.status, `step ${i + 1}`).toBe("success");
      const [event] = parseEventLogs({ abi: driver.abi, logs: receipt.logs, eventName: "Stepped" });
      expect(event!.args, `step ${i + 1}`).toEqual({ answer: DUST_ANSWER, quoteIn: expected.quoteIn, amountIn: expected.amountIn, amountOut: expected.amountOut });
      const [ru, rq] = await amm.read.getReserves();
      expect({ underlying: ru, quote: rq }, `step ${i + 1}`).toEqual(expected.reserves);
      model = expected.reserves;
    }
  });

  it("the on-chain reserves after each of 30 seeded answers equal realign's, to the wei", async () => {
    const feeBps = 30n;
    const { oracle, amm, driver, wait } = await deployDriver(feeBps);

    // A seeded walk: ~3% moves, a few ±25% jumps, one answer repeated, and first the deployment price (a no-op).
    const normal = normalSampler(mulberry32(20240611));
    const answers: bigint[] = [3000n * 10n ** 8n];
    let price = 3000;
    for (let i = 1; i < 30; i++) {
      if (i === 10) {
        answers.push(answers[i - 1]!);
        continue;
      }
      const move = i === 5 ? 0.25 : i === 15 ? -0.25 : i === 20 ? 0.2 : 0.03 * normal();
      price = Math.min(9000, Math.max(1000, price * Math.exp(move)));
      answers.push(BigInt(Math.round(price * 1e8)));
    }

    const [ru0, rq0] = await amm.read.getReserves();
    let model: Reserves = { underlying: ru0, quote: rq0 };
    const kinds = { buys: 0, sells: 0, noOps: 0 };
    for (const answer of answers) {
      const expected = realign(model, answer, SCALE, feeBps);
      const receipt = await wait(await driver.write.step([answer]));
      const [ru, rq] = await amm.read.getReserves();
      expect({ underlying: ru, quote: rq }, `answer ${answer}`).toEqual(expected.reserves);
      const [event] = parseEventLogs({ abi: driver.abi, logs: receipt.logs, eventName: "Stepped" });
      expect(event!.args, `answer ${answer}`).toEqual({
        answer,
        quoteIn: expected.quoteIn,
        amountIn: expected.amountIn,
        amountOut: expected.amountOut,
      });
      const [, oracleAnswer] = await oracle.read.latestRoundData();
      expect(oracleAnswer).toBe(answer);
      if (expected.amountIn === 0n) kinds.noOps++;
      else if (expected.quoteIn) kinds.buys++;
      else kinds.sells++;
      model = expected.reserves;
    }
    expect(kinds.noOps).toBe(1);
    expect(kinds.buys).toBeGreaterThan(5);
    expect(kinds.sells).toBeGreaterThan(5);
  });
});
