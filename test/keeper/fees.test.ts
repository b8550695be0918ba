/**
 * EIP-1559 fees (keeper/execution/fees.ts): the max fee is 2 × base fee + tip, the tip the suggestion, each
 * capped by configuration (MAX_FEE_GWEI, MAX_PRIORITY_FEE_GWEI); a base fee above the cap refuses to send with
 * `FeeCapExceededError`; a replacement bumps both fields by at least the node's replacement rule and never
 * passes the cap. Pure: no chain.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PublicClient } from "viem";
import { bumpFees, computeFees, FeeCapExceededError, FeeOracle, medianTip, type FeeCaps, type Fees } from "../../keeper/execution/fees.ts";

const SEED = 0x5eed_0011;
const RUNS = 1_000;
const GWEI = 10n ** 9n;

/** The configuration defaults (keeper/config/table.ts): MAX_FEE_GWEI 100, MAX_PRIORITY_FEE_GWEI 2. */
const CAPS: FeeCaps = { maxFeePerGasWei: 100n * GWEI, maxPriorityFeePerGasWei: 2n * GWEI };
/** geth's txpool default `--txpool.pricebump`: a replacement must raise both fee fields by at least 10%. */
const NODE_MIN_BUMP_PERCENT = 10n;
/** The keeper's default FEE_BUMP_PERCENT. */
const DEFAULT_BUMP_PERCENT = 12.5;

const capsArb: fc.Arbitrary<FeeCaps> = fc
  .record({ maxFee: fc.bigInt({ min: 1n, max: 10_000n * GWEI }), tipShare: fc.bigInt({ min: 0n, max: 1_000n }) })
  // The config refuses a priority cap above the max-fee cap.
  .map(({ maxFee, tipShare }) => ({ maxFeePerGasWei: maxFee, maxPriorityFeePerGasWei: (maxFee * tipShare) / 1_000n }));

describe("computeFees", () => {
  it("pays 2 × base fee + the suggested tip when nothing is capped", () => {
    // 30 gwei base, 1.5 gwei tip: 61.5 gwei max fee, the tip as suggested.
    expect(computeFees(30n * GWEI, 1_500_000_000n, CAPS)).toEqual({
      maxFeePerGas: 61_500_000_000n,
      maxPriorityFeePerGas: 1_500_000_000n,
    });
  });

  it("stays includable through 5 full blocks of base-fee growth (+12.5% each) with the whole tip left", () => {
    const base = 40n * GWEI;
    const tip = GWEI;
    const fees = computeFees(base, tip, CAPS);
    // EIP-1559: a full block raises the base fee by 1/8; after five, base · 9^5/8^5 ≈ 1.80 · base.
    const afterFive = (base * 9n ** 5n) / 8n ** 5n;
    expect(fees.maxFeePerGas).toBeGreaterThanOrEqual(afterFive + fees.maxPriorityFeePerGas);
  });

  it("caps the tip at MAX_PRIORITY_FEE_GWEI and the max fee at MAX_FEE_GWEI", () => {
    expect(computeFees(10n * GWEI, 7n * GWEI, CAPS)).toEqual({ maxFeePerGas: 22n * GWEI, maxPriorityFeePerGas: 2n * GWEI });
    // 2 × 60 + 1 = 121 gwei wanted, 100 allowed.
    expect(computeFees(60n * GWEI, GWEI, CAPS)).toEqual({ maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: GWEI });
  });

  it("sends at a base fee equal to the cap, and refuses one wei above it with FeeCapExceededError naming the cap", () => {
    const atCap = computeFees(CAPS.maxFeePerGasWei, GWEI, CAPS);
    expect(atCap).toEqual({ maxFeePerGas: CAPS.maxFeePerGasWei, maxPriorityFeePerGas: GWEI });

    const above = CAPS.maxFeePerGasWei + 1n;
    let thrown: unknown;
    try {
      computeFees(above, GWEI, CAPS);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FeeCapExceededError);
    const error = thrown as FeeCapExceededError;
    expect(error.name).toBe("FeeCapExceededError");
    expect(error.baseFeePerGas).toBe(above);
    expect(error.maxFeePerGasWei).toBe(CAPS.maxFeePerGasWei);
    // The operator must be able to tell which setting to raise, and by how much.
    expect(error.message).toContain(`${CAPS.maxFeePerGasWei} wei`);
    expect(error.message).toContain(`${above} wei`);
    expect(error.message).toContain("MAX_FEE_GWEI");
  });

  it("for any base fee, tip and caps: throws iff base > cap, else both fields within their caps and tip ≤ max fee", () => {
    fc.assert(
      fc.property(capsArb, fc.bigInt({ min: 0n, max: 20_000n * GWEI }), fc.bigInt({ min: 0n, max: 100n * GWEI }), (caps, base, tip) => {
        if (base > caps.maxFeePerGasWei) {
          expect(() => computeFees(base, tip, caps)).toThrow(FeeCapExceededError);
          return;
        }
        const fees = computeFees(base, tip, caps);
        const min = (a: bigint, b: bigint) => (a < b ? a : b);
        const wantedTip = min(tip, caps.maxPriorityFeePerGasWei);
        expect(fees.maxFeePerGas).toBe(min(2n * base + wantedTip, caps.maxFeePerGasWei));
        expect(fees.maxPriorityFeePerGas).toBe(min(wantedTip, fees.maxFeePerGas));
        expect(fees.maxFeePerGas).toBeLessThanOrEqual(caps.maxFeePerGasWei);
        expect(fees.maxPriorityFeePerGas).toBeLessThanOrEqual(caps.maxPriorityFeePerGasWei);
        // Includable in the next block: the max fee covers the base fee.
        expect(fees.maxFeePerGas).toBeGreaterThanOrEqual(base);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("bumpFees", () => {
  const old: Fees = { maxFeePerGas: 40n * GWEI, maxPriorityFeePerGas: GWEI };

  it("raises both fields by FEE_BUMP_PERCENT, rounded up, when the market has not moved", () => {
    const quiet: Fees = { maxFeePerGas: 20n * GWEI, maxPriorityFeePerGas: GWEI / 2n };
    expect(bumpFees(old, quiet, DEFAULT_BUMP_PERCENT, CAPS)).toEqual({
      maxFeePerGas: 45n * GWEI,
      maxPriorityFeePerGas: 1_125_000_000n,
    });
    // 12.5% of 7 wei is 0.875: rounded up to 8, never down to a replacement the node would call underpriced.
    expect(bumpFees({ maxFeePerGas: 7n, maxPriorityFeePerGas: 7n }, { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, 12.5, CAPS)).toEqual({
      maxFeePerGas: 8n,
      maxPriorityFeePerGas: 8n,
    });
  });

  it("pays what the market asks now when that is above the bump", () => {
    const busy: Fees = { maxFeePerGas: 90n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
    expect(bumpFees(old, busy, DEFAULT_BUMP_PERCENT, CAPS)).toEqual(busy);
  });

  it("returns the bump when it lands exactly on the cap, and nothing one wei below it (on either field)", () => {
    const quiet: Fees = { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n };
    // 80 gwei + 25% = 100 gwei: exactly MAX_FEE_GWEI.
    const toCap: Fees = { maxFeePerGas: 80n * GWEI, maxPriorityFeePerGas: GWEI };
    expect(bumpFees(toCap, quiet, 25, CAPS)).toEqual({ maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 1_250_000_000n });
    expect(bumpFees(toCap, quiet, 25, { ...CAPS, maxFeePerGasWei: 100n * GWEI - 1n })).toBeUndefined();
    // 1.6 gwei tip + 25% = 2 gwei: exactly MAX_PRIORITY_FEE_GWEI.
    const tipToCap: Fees = { maxFeePerGas: 40n * GWEI, maxPriorityFeePerGas: 1_600_000_000n };
    expect(bumpFees(tipToCap, quiet, 25, CAPS)?.maxPriorityFeePerGas).toBe(2n * GWEI);
    expect(bumpFees(tipToCap, quiet, 25, { ...CAPS, maxPriorityFeePerGasWei: 2n * GWEI - 1n })).toBeUndefined();
    // The market alone above the cap: waits rather than overpay.
    expect(bumpFees(old, { maxFeePerGas: 100n * GWEI + 1n, maxPriorityFeePerGas: 0n }, DEFAULT_BUMP_PERCENT, CAPS)).toBeUndefined();
  });

  it("for any fees and caps: a replacement the node accepts (≥ +10% on both fields), ≥ the market, within the caps — or none", () => {
    const feesArb = fc
      .record({ maxFee: fc.bigInt({ min: 1n, max: 1_000n * GWEI }), tip: fc.bigInt({ min: 0n, max: 50n * GWEI }) })
      .map(({ maxFee, tip }): Fees => ({ maxFeePerGas: maxFee, maxPriorityFeePerGas: tip < maxFee ? tip : maxFee }));
    // Config accepts FEE_BUMP_PERCENT in [10.5, 100].
    const percentArb = fc.oneof(fc.constant(DEFAULT_BUMP_PERCENT), fc.constant(10.5), fc.double({ min: 10.5, max: 100, noNaN: true }));
    fc.assert(
      fc.property(feesArb, feesArb, percentArb, capsArb, (before, market, percent, caps) => {
        const next = bumpFees(before, market, percent, caps);
        const scaled = BigInt(Math.round((100 + percent) * 100));
        const ceilBump = (x: bigint) => (x * scaled + 9_999n) / 10_000n;
        const needFee = [ceilBump(before.maxFeePerGas), market.maxFeePerGas];
        const needTip = [ceilBump(before.maxPriorityFeePerGas), market.maxPriorityFeePerGas];
        const wantTip = needTip[0]! > needTip[1]! ? needTip[0]! : needTip[1]!;
        const wantFee = [...needFee, wantTip].reduce((a, b) => (a > b ? a : b));
        if (wantFee > caps.maxFeePerGasWei || wantTip > caps.maxPriorityFeePerGasWei) {
          expect(next).toBeUndefined();
          return;
        }
        expect(next).toEqual({ maxFeePerGas: wantFee, maxPriorityFeePerGas: wantTip });
        const fees = next!;
        // The node's replacement rule, in exact integers: new · 100 ≥ old · 110 on both fields.
        expect(fees.maxFeePerGas * 100n).toBeGreaterThanOrEqual(before.maxFeePerGas * (100n + NODE_MIN_BUMP_PERCENT));
        expect(fees.maxPriorityFeePerGas * 100n).toBeGreaterThanOrEqual(
          before.maxPriorityFeePerGas * (100n + NODE_MIN_BUMP_PERCENT),
        );
        expect(fees.maxFeePerGas).toBeLessThanOrEqual(caps.maxFeePerGasWei);
        expect(fees.maxPriorityFeePerGas).toBeLessThanOrEqual(caps.maxPriorityFeePerGasWei);
        expect(fees.maxPriorityFeePerGas).toBeLessThanOrEqual(fees.maxFeePerGas);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe("medianTip", () => {
  it("is the median of the non-zero rewards (upper median for an even count), or the fallback when none was paid", () => {
    expect(medianTip([3n, 0n, 1n, 2n], 99n)).toBe(2n);
    expect(medianTip([5n, 1n, 4n, 2n], 99n)).toBe(4n);
    expect(medianTip([0n, 0n], 99n)).toBe(99n);
    expect(medianTip([], 7n)).toBe(7n);
  });
});

describe("FeeOracle: one eth_feeHistory per block that sends, the next block's base fee, the median tip", () => {
  /** A node answering eth_feeHistory with `history`, counting the calls and what they asked for. */
  function node(history: { baseFeePerGas: bigint[]; reward?: bigint[][] }) {
    const calls: unknown[] = [];
    const client = {
      getFeeHistory: async (args: unknown) => {
        calls.push(args);
        return history;
      },
    } as unknown as PublicClient;
    return { client, calls };
  }

  it("asks for 10 blocks at the 50th percentile, takes the last base fee (the next block's) and the median tip", async () => {
    const { client, calls } = node({ baseFeePerGas: [7n, 8n, 9n], reward: [[5n], [1n], [3n]] });
    const oracle = new FeeOracle(client, 100n);
    expect(oracle.last).toBeUndefined();
    expect(await oracle.quote(10n)).toEqual({ nextBaseFeeWei: 9n, tipWei: 3n });
    expect(calls).toEqual([{ blockCount: 10, rewardPercentiles: [50] }]);
    expect(oracle.last).toEqual({ nextBaseFeeWei: 9n, tipWei: 3n });
  });

  it("reuses the quote within a block and asks again in the next", async () => {
    const { client, calls } = node({ baseFeePerGas: [1n, 2n], reward: [[4n]] });
    const oracle = new FeeOracle(client, 100n);
    const first = await oracle.quote(10n);
    expect(await oracle.quote(10n)).toBe(first);
    expect(calls).toHaveLength(1);
    await oracle.quote(11n);
    expect(calls).toHaveLength(2);
  });

  it("tips half the cap on a quiet chain (no rewards, or only zero or missing ones)", async () => {
    for (const reward of [undefined, [], [[0n], [0n]], [[]]]) {
      const oracle = new FeeOracle(node({ baseFeePerGas: [1n], ...(reward ? { reward } : {}) }).client, 100n);
      expect((await oracle.quote(1n)).tipWei, JSON.stringify(reward, (_, v) => (typeof v === "bigint" ? `${v}` : v))).toBe(50n);
    }
  });

  it("refuses an answer with no base fee, saying so", async () => {
    await expect(new FeeOracle(node({ baseFeePerGas: [] }).client, 100n).quote(1n)).rejects.toThrow("eth_feeHistory returned no base fee");
  });

  it("takes the median of unsorted tips", () => {
    expect(medianTip([9n, 2n, 7n, 1n, 5n], 0n)).toBe(5n);
    expect(medianTip([2n, 9n], 0n)).toBe(9n);
  });
});
