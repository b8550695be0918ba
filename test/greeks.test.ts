/**
 * Differential tests of the on-chain Black–Scholes library (contracts/libraries/BlackScholes.sol, NormalDist.sol)
 * against an independent float64 reference (@stdlib's normal CDF, Math.exp/Math.log, closed-form Greeks),
 * plus the gas of each library call as measured inside GreeksHarness with gasleft().
 *
 * Inputs: 10,000 random options from fast-check with a fixed seed (printed), evaluated in batches of 500 per
 * eth_call. Region: S/K in [0.5, 2], vol 10%–300%, expiry 1 hour–2 years, rate 0–10%, strike 1–100,000
 * quote units, calls and puts. Tolerances are 10× the measured worst error, so that a change to the library's
 * approximation (one normal-CDF coefficient in its 4th significant digit) fails here.
 *
 * Also: the keeper's float64 book Greeks (keeper/pricing/view.ts) against a real vault's, read through the lens.
 */
import { beforeAll, describe, expect, it } from "vitest";
import hre from "hardhat";
import fc from "fast-check";
import normalCdf from "@stdlib/stats-base-dists-normal-cdf";
import { zeroAddress } from "viem";
import { readVaults } from "../keeper/chain/readVaults.ts";
import { bookGreeksOffChain, bookGreeksOnChain, greeksDisagreement } from "../keeper/pricing/view.ts";
import { numberToWad, wadToNumber } from "../keeper/pricing/wad.ts";
import type { VaultSnapshot } from "../keeper/types.ts";
import { buyOptions, deploySystem, listSeries, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "../harness/system.ts";

const SEED = 0x6b5e_2024;
const SAMPLE_COUNT = 10_000;
const BATCH_SIZE = 500;

const WAD = 10n ** 18n;
const SECONDS_PER_YEAR = 365 * 24 * 3600;

/**
 * Tolerances: 10× the worst error measured on these 10,000 inputs (seeded, so the measurement is repeatable),
 * not the looser targets the library was designed to: a tolerance of 1e-7 on delta let a normal-CDF coefficient
 * changed in its 4th significant digit pass (its delta error is ~1e-8). Measured with
 * `npx vitest run test/greeks.test.ts` (the table it prints), commit f4db1e5:
 *   delta              1.43e-14  (mostly the float64 reference's own error: ln(S/K)/σ√τ with σ√τ ≈ 1e-3)
 *   price / spot       7.44e-16
 *   gamma, relative    7.47e-7   (the 1-wei quantum of a gamma ≥ 1e6 wei, see NEGLIGIBLE_WEI)
 *   vega, relative     2.95e-8
 * A change to the library or the sample that moves one of these by more than 10× must be looked at, and the
 * measurement redone.
 */
const MAX_DELTA_ERROR = 1.5e-13;
const MAX_PRICE_ERROR_PER_SPOT = 7.5e-15;
const MAX_GAMMA_RELATIVE_ERROR = 7.5e-6;
const MAX_VEGA_RELATIVE_ERROR = 3e-7;
/** Gamma and vega are "not negligible" when φ(d1) ≥ 1e-9 and the reference is ≥ 1e6 wei, so that the one-wei
 * quantum of the result is at most 1e-6 of it. Everywhere they must be within their relative tolerance plus
 * 2 wei plus what φ(d1)'s own 2-wei error bound (it is carried in wad) becomes in gamma resp. vega. */
const NEGLIGIBLE_PDF = 1e-9;
const NEGLIGIBLE_WEI = 1e6;
const MAX_DELTA_GAS = 3_000;
const MAX_GREEKS_GAS = 8_000;

interface OptionInput {
  spotWad: bigint;
  strikeWad: bigint;
  volWad: bigint;
  tauSeconds: bigint;
  rateWad: bigint;
  isCall: boolean;
}

interface Reference {
  price: number;
  delta: number;
  gamma: number;
  vega: number;
  pdfD1: number;
  /** d(gamma)/d(φ(d1)) = 1/(S·σ√τ) and d(vega)/d(φ(d1)) = S·√τ: how an error in φ(d1) propagates. */
  gammaPerPdf: number;
  vegaPerPdf: number;
}

const N = (x: number): number => normalCdf(x, 0, 1);

/** Black–Scholes in float64 from the exact on-chain inputs; independent of the contract's algorithm. */
function referenceGreeks(input: OptionInput): Reference {
  const spot = Number(input.spotWad) / 1e18;
  const strike = Number(input.strikeWad) / 1e18;
  const vol = Number(input.volWad) / 1e18;
  const rate = Number(input.rateWad) / 1e18;
  const tauYears = Number(input.tauSeconds) / SECONDS_PER_YEAR;
  const sigmaRootTau = vol * Math.sqrt(tauYears);
  const d1 = (Math.log(spot / strike) + rate * tauYears) / sigmaRootTau + sigmaRootTau / 2;
  const d2 = d1 - sigmaRootTau;
  const strikePv = strike * Math.exp(-rate * tauYears);
  const pdfD1 = Math.exp(-(d1 * d1) / 2) / Math.sqrt(2 * Math.PI);
  return {
    price: input.isCall ? spot * N(d1) - strikePv * N(d2) : strikePv * N(-d2) - spot * N(-d1),
    delta: input.isCall ? N(d1) : -N(-d1),
    gamma: pdfD1 / (spot * sigmaRootTau),
    vega: spot * pdfD1 * Math.sqrt(tauYears),
    pdfD1,
    gammaPerPdf: 1 / (spot * sigmaRootTau),
    vegaPerPdf: spot * Math.sqrt(tauYears),
  };
}

const toWad = (x: number): bigint => BigInt(Math.round(x * 1e18));

/** A double uniform in value on [min, max] (fc.double is uniform over bit patterns, i.e. crowds near 0). */
const uniform = (min: number, max: number): fc.Arbitrary<number> =>
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((i) => min + ((max - min) * i) / (2 ** 31 - 1));

/** Random options in the accuracy region, log-uniform where the scale matters; unbiased so that the sample
 * is spread over the region rather than crowded on its corners (the Solidity fuzz tests cover the edges). */
const optionArbitrary: fc.Arbitrary<OptionInput> = fc.noBias(
  fc
    .record({
      log10Strike: uniform(0, 5),
      lnMoneyness: uniform(Math.log(0.5), Math.log(2)),
      lnVol: uniform(Math.log(0.1), Math.log(3)),
      lnTauSeconds: uniform(Math.log(3600), Math.log(2 * SECONDS_PER_YEAR)),
      rate: uniform(0, 0.1),
      isCall: fc.boolean(),
    })
    .map((r): OptionInput => {
      const strike = 10 ** r.log10Strike;
      return {
        spotWad: toWad(strike * Math.exp(r.lnMoneyness)),
        strikeWad: toWad(strike),
        volWad: toWad(Math.exp(r.lnVol)),
        tauSeconds: BigInt(Math.min(2 * SECONDS_PER_YEAR, Math.max(3600, Math.round(Math.exp(r.lnTauSeconds))))),
        rateWad: toWad(r.rate),
        isCall: r.isCall,
      };
    }),
);

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function gasStats(gasUsed: readonly bigint[]): { max: number; mean: number } {
  const values = gasUsed.map(Number);
  return { max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

const { viem } = await hre.network.create();
const harness = await viem.deployContract("GreeksHarness");

describe("BlackScholes vs float64 reference", () => {
  const inputs = fc.sample(optionArbitrary, { seed: SEED, numRuns: SAMPLE_COUNT });
  const deltas: bigint[] = [];
  const prices: bigint[] = [];
  const greeks: { priceWad: bigint; deltaWad: bigint; gammaWad: bigint; vegaWad: bigint }[] = [];
  const deltaGas: bigint[] = [];
  const priceGas: bigint[] = [];
  const greeksGas: bigint[] = [];

  beforeAll(async () => {
    console.log(`greeks.test: fast-check seed ${SEED} (0x${SEED.toString(16)}), ${inputs.length} inputs`);
    for (const batch of chunks(inputs, BATCH_SIZE)) {
      const [[d, dGas], [p, pGas], [g, gGas]] = await Promise.all([
        harness.read.deltaBatch([batch]),
        harness.read.priceBatch([batch]),
        harness.read.greeksBatch([batch]),
      ]);
      deltas.push(...d);
      deltaGas.push(...dGas);
      prices.push(...p);
      priceGas.push(...pGas);
      greeks.push(...g);
      greeksGas.push(...gGas);
    }
  });

  it(`agrees with the reference on ${SAMPLE_COUNT} random inputs (delta ${MAX_DELTA_ERROR}, price ${MAX_PRICE_ERROR_PER_SPOT}·spot, gamma ${MAX_GAMMA_RELATIVE_ERROR.toExponential(1)} and vega ${MAX_VEGA_RELATIVE_ERROR} relative)`, () => {
    let maxDeltaError = 0;
    let maxPriceErrorPerSpot = 0;
    let maxGammaRelativeError = 0;
    let maxVegaRelativeError = 0;
    let maxGammaErrorWei = 0;
    let maxVegaErrorWei = 0;
    let nonNegligibleGamma = 0;
    let nonNegligibleVega = 0;
    const failures: string[] = [];

    inputs.forEach((input, i) => {
      const ref = referenceGreeks(input);
      const g = greeks[i]!;
      const spot = Number(input.spotWad) / 1e18;

      const deltaError = Math.abs(Number(g.deltaWad) / 1e18 - ref.delta);
      const priceErrorPerSpot = Math.abs(Number(g.priceWad) / 1e18 - ref.price) / spot;
      maxDeltaError = Math.max(maxDeltaError, deltaError);
      maxPriceErrorPerSpot = Math.max(maxPriceErrorPerSpot, priceErrorPerSpot);

      const gammaRefWei = ref.gamma * 1e18;
      const vegaRefWei = ref.vega * 1e18;
      const gammaErrorWei = Math.abs(Number(g.gammaWad) - gammaRefWei);
      const vegaErrorWei = Math.abs(Number(g.vegaWad) - vegaRefWei);
      maxGammaErrorWei = Math.max(maxGammaErrorWei, gammaErrorWei);
      maxVegaErrorWei = Math.max(maxVegaErrorWei, vegaErrorWei);
      if (ref.pdfD1 >= NEGLIGIBLE_PDF && gammaRefWei >= NEGLIGIBLE_WEI) {
        nonNegligibleGamma++;
        maxGammaRelativeError = Math.max(maxGammaRelativeError, gammaErrorWei / gammaRefWei);
      }
      if (ref.pdfD1 >= NEGLIGIBLE_PDF && vegaRefWei >= NEGLIGIBLE_WEI) {
        nonNegligibleVega++;
        maxVegaRelativeError = Math.max(maxVegaRelativeError, vegaErrorWei / vegaRefWei);
      }

      const ok =
        deltaError <= MAX_DELTA_ERROR &&
        priceErrorPerSpot <= MAX_PRICE_ERROR_PER_SPOT &&
        gammaErrorWei <= MAX_GAMMA_RELATIVE_ERROR * gammaRefWei + 2 * ref.gammaPerPdf + 2 &&
        vegaErrorWei <= MAX_VEGA_RELATIVE_ERROR * vegaRefWei + 2 * ref.vegaPerPdf + 2;
      if (!ok && failures.length < 5) {
        failures.push(JSON.stringify({ input, got: g, ref }, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
      }
    });

    console.table({
      "max |delta error|": { observed: maxDeltaError.toExponential(2), target: MAX_DELTA_ERROR.toExponential(1) },
      "max |price error| / spot": {
        observed: maxPriceErrorPerSpot.toExponential(2),
        target: MAX_PRICE_ERROR_PER_SPOT.toExponential(1),
      },
      [`max gamma rel. error (${nonNegligibleGamma} not negligible)`]: {
        observed: maxGammaRelativeError.toExponential(2),
        target: MAX_GAMMA_RELATIVE_ERROR.toExponential(1),
      },
      [`max vega rel. error (${nonNegligibleVega} not negligible)`]: {
        observed: maxVegaRelativeError.toExponential(2),
        target: MAX_VEGA_RELATIVE_ERROR.toExponential(1),
      },
      "max |gamma error| (wei, all)": { observed: maxGammaErrorWei.toExponential(2), target: "-" },
      "max |vega error| (wei, all)": { observed: maxVegaErrorWei.toExponential(2), target: "-" },
    });

    expect(failures).toEqual([]);
    expect(maxDeltaError).toBeLessThanOrEqual(MAX_DELTA_ERROR);
    expect(maxPriceErrorPerSpot).toBeLessThanOrEqual(MAX_PRICE_ERROR_PER_SPOT);
    expect(maxGammaRelativeError).toBeLessThanOrEqual(MAX_GAMMA_RELATIVE_ERROR);
    expect(maxVegaRelativeError).toBeLessThanOrEqual(MAX_VEGA_RELATIVE_ERROR);
    // The region must actually exercise gamma and vega, not only their negligible tails.
    expect(nonNegligibleGamma).toBeGreaterThan(SAMPLE_COUNT / 2);
    expect(nonNegligibleVega).toBeGreaterThan(SAMPLE_COUNT / 2);
  });

  it("greeks() returns exactly what delta() and price() return", () => {
    inputs.forEach((_, i) => {
      expect(greeks[i]!.deltaWad).toBe(deltas[i]);
      expect(greeks[i]!.priceWad).toBe(prices[i]);
    });
  });

  it(`library calls stay within gas budgets (delta ≤ ${MAX_DELTA_GAS}, greeks ≤ ${MAX_GREEKS_GAS})`, () => {
    const delta = gasStats(deltaGas);
    const price = gasStats(priceGas);
    const all = gasStats(greeksGas);
    console.table({
      delta: { max: delta.max, mean: Math.round(delta.mean), budget: MAX_DELTA_GAS },
      price: { max: price.max, mean: Math.round(price.mean), budget: "-" },
      greeks: { max: all.max, mean: Math.round(all.mean), budget: MAX_GREEKS_GAS },
    });
    expect(delta.max).toBeLessThanOrEqual(MAX_DELTA_GAS);
    expect(all.max).toBeLessThanOrEqual(MAX_GREEKS_GAS);
  });
});

describe("NormalDist vs 50-digit reference values", () => {
  // [x, round(1e18·N(x)), round(1e18·φ(x))], computed with mpmath at 50 digits (mp.ncdf, mp.npdf).
  const table: [string, bigint, bigint][] = [
    ["0", 500000000000000000n, 398942280401432678n],
    ["0.019", 507579447294804795n, 398870277818248840n],
    ["-0.019", 492420552705195205n, 398870277818248840n],
    ["0.1", 539827837277028981n, 396952547477011766n],
    ["-0.5", 308537538725986896n, 352065326764299478n],
    ["1", 841344746068542949n, 241970724519143350n],
    ["-1.4", 80756659233771046n, 149727465635744853n],
    ["2", 977249868051820793n, 53990966513188052n],
    ["-3", 1349898031630095n, 4431848411938007n],
    ["4", 999968328758166880n, 133830225764885n],
    ["-5", 286651571879n, 1486719514734n],
    ["6", 999999999013412355n, 6075882850n],
    ["-7", 1279813n, 9134720n],
    ["7.07", 999999999999225332n, 5582477n],
    ["-7.5", 31909n, 243432n],
    ["8", 999999999999999378n, 5052n],
    ["-8.5", 9n, 82n],
    ["8.75", 999999999999999999n, 9n],
    ["-9", 0n, 1n],
    ["12", 1000000000000000000n, 0n],
  ];
  const MAX_CDF_ERROR_WEI = 45n;
  const MAX_PDF_ERROR_WEI = 2n;

  it(`cdf is within ${MAX_CDF_ERROR_WEI} wei and pdf within ${MAX_PDF_ERROR_WEI} wei of the exact values`, async () => {
    const xsWad = table.map(([x]) => BigInt(Math.round(Number(x) * 1e6)) * 10n ** 12n);
    const [cdfs, pdfs] = await Promise.all([harness.read.cdfBatch([xsWad]), harness.read.pdfBatch([xsWad])]);
    const abs = (v: bigint) => (v < 0n ? -v : v);
    const cdfErrors = table.map(([, exact], i) => abs(cdfs[i]! - exact));
    const pdfErrors = table.map(([, , exact], i) => abs(pdfs[i]! - exact));
    console.log(`NormalDist: max |cdf error| ${cdfErrors.reduce((a, b) => (a > b ? a : b))} wei, max |pdf error| ${pdfErrors.reduce((a, b) => (a > b ? a : b))} wei`);
    for (const e of cdfErrors) expect(e).toBeLessThanOrEqual(MAX_CDF_ERROR_WEI);
    for (const e of pdfErrors) expect(e).toBeLessThanOrEqual(MAX_PDF_ERROR_WEI);
  });
});

describe("BlackScholes domain", () => {
  it("reverts with a decodable custom error carrying the value", async () => {
    await expect(harness.read.delta([10n ** 11n, WAD, WAD, 3600n, 0n, true])).rejects.toThrow(/SpotOutOfDomain/);
    await expect(harness.read.greeks([WAD, WAD, WAD, 0n, 0n, true])).rejects.toThrow(/TauOutOfDomain/);
  });
});

describe("the keeper's off-chain book Greeks vs the vault's own (keeper/pricing/view.ts)", () => {
  /**
   * The keeper recomputes the book's Greeks in float64 from the snapshot (strike, expiry, size, vol, rate, spot,
   * block time) to notice when the vault's numbers or its own inputs go wrong (keeper/tick.ts). Here the "on-chain"
   * side is a real vault's, read through the lens by `readVaults`: a wrong unit, sign, year length or input in
   * either path shows up as a disagreement far above these tolerances. Measured relative disagreement on this book
   * (`npx vitest run test/greeks.test.ts -t "off-chain book"`, which prints it): delta 3.3e-17, gamma 1.4e-15,
   * vega 1.0e-16 (8.1e-17, 1.7e-15, 1.6e-16 at rate 0); each tolerance is about 10× the larger. (Series expiries follow the block clock, so the numbers move a
   * little from run to run.)
   */
  const MAX_BOOK_DISAGREEMENT = { delta: 1e-15, gamma: 2e-14, vega: 2e-15 } as const;

  async function bookSnapshot(): Promise<VaultSnapshot> {
    // A non-zero rate (the deploy default is 0) so that discounting is part of what is compared.
    const sys = await deploySystem(viem, { risk: { rateWad: WAD / 20n } });
    const [, buyer] = await viem.getWalletClients();
    // Calls and puts, in, at and out of the money, a week to half a year: each term of the sum exercised.
    const book: [boolean, number, number, number][] = [
      [true, 3000, 30, 10],
      [false, 2500, 90, 20],
      [true, 3600, 7, 15],
      [false, 3200, 180, 5],
    ];
    for (const [isCall, strike, days, size] of book) {
      const { id } = await listSeries(sys, isCall, strike, days);
      await buyOptions(sys, buyer!.account.address, id, size);
    }
    const read = await readVaults(sys.publicClient, {
      lens: sys.lens.address,
      vaults: [{ address: sys.vault.address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }],
      account: zeroAddress,
    });
    expect(read.failures).toEqual([]);
    return read.vaults[0]!;
  }

  it(`agrees within ${JSON.stringify(MAX_BOOK_DISAGREEMENT)} relative on a book of calls and puts, and flags a 1% vol error`, async () => {
    const snap = await bookSnapshot();
    expect(snap.book.filter((s) => s.sizeWad !== 0n)).toHaveLength(4);
    // The vault is short: a non-trivial book, not four zeros agreeing with four zeros.
    expect(snap.bookDeltaWad).not.toBe(0n);
    expect(snap.gammaWad).toBeLessThan(0n);
    expect(snap.vegaWad).toBeLessThan(0n);

    const d = greeksDisagreement(bookGreeksOnChain(snap), bookGreeksOffChain(snap));
    console.log(
      `off-chain book Greeks vs the vault: delta ${d.delta.relative.toExponential(2)}, gamma ${d.gamma.relative.toExponential(2)}, vega ${d.vega.relative.toExponential(2)} relative`,
    );
    expect(d.delta.relative).toBeLessThanOrEqual(MAX_BOOK_DISAGREEMENT.delta);
    expect(d.gamma.relative).toBeLessThanOrEqual(MAX_BOOK_DISAGREEMENT.gamma);
    expect(d.vega.relative).toBeLessThanOrEqual(MAX_BOOK_DISAGREEMENT.vega);

    // The same comparison sees a model input off by 1% of itself (80% vol read as 80.8%).
    const wrongVol = { ...snap, risk: { ...snap.risk, volWad: numberToWad(wadToNumber(snap.risk.volWad) * 1.01) } };
    expect(greeksDisagreement(bookGreeksOnChain(snap), bookGreeksOffChain(wrongVol)).maxRelative).toBeGreaterThan(1e-4);
  });
});
