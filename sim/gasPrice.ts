/**
 * Gas that moves: a base fee per block for the simulator, from one of
 *   - `constant`: one price for every block (the simulator's original setting);
 *   - `replay`: windows of a real per-block mainnet series (data/base-fee.csv), each path starting elsewhere;
 *   - `eip1559`: a process calibrated to that series. Each block's fullness u (gas used over the target, in
 *     [0, 2]) responds to demand against the current price, and the next base fee follows EIP-1559's rule
 *     b' = b · (1 + (u − 1)/8): at most ±12.5% a block, exactly as the protocol moves it. Demand is a log-price
 *     level d that mean-reverts (an Ornstein–Uhlenbeck process) and jumps up in spikes (a mint, a liquidation
 *     cascade) that decay with it; u = clamp(1 + β·(d − ln b) + σ_u·ε, 0, 2).
 * and a priority fee per block (the median tip the keeper's fee history would see): `tipGwei` × a lognormal
 * factor, higher while blocks are full. Draws come from the Philox stream of (seed, path) on lanes 2 and 3, apart
 * from the price path's.
 */
import { readFileSync } from "node:fs";
import { normalSampler, philoxUniform } from "../harness/random.ts";
import { CONFIG_DEFAULTS } from "../keeper/config/table.ts";
import { computeFees, FeeCapExceededError } from "../keeper/execution/fees.ts";
import type { Scenario } from "./scenario.ts";

export type L1GasSource =
  | { kind: "constant"; gwei: number; tipGwei: number }
  | { kind: "replay"; file: string; tipGwei: number }
  | ({ kind: "eip1559"; tipGwei: number } & Eip1559Params);

/**
 * A rollup (an OP-stack chain posting its data to L1 as calldata): cheap execution — an L2 base fee following the
 * EIP-1559 process scaled to `executionGwei`, never below the chain's `minBaseFeeGwei`, and a small tip — plus the
 * L1 data fee of every transaction, l1DataGas × (the L1 base fee of `l1`) × l1FeeScalar, Bedrock's formula
 * (`GasPriceOracle.getL1Fee`: (16 per non-zero byte + 4 per zero byte + overhead) × L1 base fee × scalar).
 */
export type GasSource = L1GasSource | { kind: "l2"; l2: L2Profile; l1: L1GasSource };

export interface L2Profile {
  /** Median L2 base fee (the execution price), gwei; the chain's minimum base fee, gwei; the median tip, gwei. */
  executionGwei: number;
  minBaseFeeGwei: number;
  tipGwei: number;
  /** L1 gas a hedge transaction's data is charged as (its bytes at 16/4, plus the fixed overhead). */
  l1DataGas: number;
  /** The chain's L1 fee scalar. */
  l1FeeScalar: number;
}

/**
 * A signed `rebalance` transaction: 132 bytes of calldata (a selector and four words, many zero bytes) in an
 * EIP-1559 envelope with its signature, 244 bytes of which ~130 non-zero: ≈ 2,530 L1 data gas at 16 a non-zero
 * byte and 4 a zero byte, plus Bedrock's overhead of 188 (`test/sim/l2.test.ts` signs one and counts).
 */
export const HEDGE_TX_L1_DATA_GAS = 2_700;

/**
 * OP mainnet as it was before blobs (Bedrock: scalar 0.684, overhead 188, minimum L2 base fee set at the chain's
 * 0.001 gwei floor here; its L2 base fee around 0.005 gwei and tips of ~0.001 gwei), its L1 the mainnet series.
 */
export const OP_BEDROCK_PROFILE: L2Profile = {
  executionGwei: 0.005,
  minBaseFeeGwei: 0.001,
  tipGwei: 0.001,
  l1DataGas: HEDGE_TX_L1_DATA_GAS,
  l1FeeScalar: 0.684,
};

/** The demand process of `eip1559` (per block; ln of gwei). */
export interface Eip1559Params {
  /** Base fee at block 0, gwei. */
  startGwei: number;
  /** Long-run demand level, gwei (the median base fee the process settles around). */
  meanGwei: number;
  /** Mean reversion of log demand per block (1/κ: its memory in blocks). */
  reversion: number;
  /** Standard deviation of log demand's per-block innovation. */
  demandVol: number;
  /** Probability of a demand spike per block, and the mean of its (exponential) size in log demand. */
  spikeProbability: number;
  spikeMean: number;
  /** Fullness' response to demand above the price (per unit of log gap), and its own per-block noise. */
  response: number;
  fullnessNoise: number;
}

/**
 * Calibrated to data/base-fee.csv after its first 200 blocks (the climb from London's 1 gwei): its median base fee
 * (40 gwei), the spread of per-block changes, the share of full blocks, the alternation of full and empty blocks,
 * and the spread of log changes over 25, 300 and 1,800 blocks (`test/sim/gasPrice.test.ts` holds them).
 */
export const MAINNET_2021_PROCESS: Eip1559Params = {
  startGwei: 40,
  meanGwei: 40,
  reversion: 1 / 1_000,
  demandVol: 0.012,
  spikeProbability: 1 / 600,
  spikeMean: 0.35,
  response: 12,
  fullnessNoise: 0.85,
};

/** Per block: the base fee and the median tip, wei (as numbers: a base fee fits 2^53 wei up to ~9,000,000 gwei). */
export interface GasPath {
  baseFeeWei: Float64Array;
  tipWei: Float64Array;
  /** On a rollup: the L1 data fee of one hedge transaction, wei. Absent on an L1. */
  l1FeeWei?: Float64Array;
  /** 1 where the block is full (gas used at the limit: a transaction bidding under its median tip waits). */
  full?: Uint8Array;
}

/**
 * EIP-1559's base fee for the block after one with `baseFee`, `gasUsed` and `gasLimit` (integer wei, as clients
 * compute it): the target is gasLimit / 2; above it the fee rises by max(1, b·(used − target)/target/8), below it
 * falls by b·(target − used)/target/8.
 */
export function nextBaseFee(baseFee: bigint, gasUsed: bigint, gasLimit: bigint): bigint {
  const target = gasLimit / 2n;
  if (gasUsed === target) return baseFee;
  if (gasUsed > target) {
    const delta = (baseFee * (gasUsed - target)) / target / 8n;
    return baseFee + (delta > 1n ? delta : 1n);
  }
  return baseFee - (baseFee * (target - gasUsed)) / target / 8n;
}

/** One row of data/base-fee.csv. */
export interface BaseFeeBlock {
  block: number;
  timestamp: number;
  baseFeeWei: bigint;
  gasUsed: bigint;
  gasLimit: bigint;
}

const seriesCache = new Map<string, BaseFeeBlock[]>();

/** Reads a `block,timestamp,base_fee_wei,gas_used,gas_limit` CSV (consecutive blocks, ascending). */
export function readBaseFeeCsv(file: string): BaseFeeBlock[] {
  const cached = seriesCache.get(file);
  if (cached !== undefined) return cached;
  const lines = readFileSync(file, "utf8").trim().split(/\r?\n/);
  if (lines[0]?.trim() !== "block,timestamp,base_fee_wei,gas_used,gas_limit") {
    throw new Error(`${file}: expected the header block,timestamp,base_fee_wei,gas_used,gas_limit, got ${lines[0]}`);
  }
  const rows = lines.slice(1).map((line, i) => {
    const f = line.split(",");
    if (f.length !== 5 || f.some((x) => !/^\d+$/.test(x.trim()))) throw new Error(`${file}:${i + 2}: expected five integers, got "${line}"`);
    return { block: Number(f[0]), timestamp: Number(f[1]), baseFeeWei: BigInt(f[2]!), gasUsed: BigInt(f[3]!), gasLimit: BigInt(f[4]!) };
  });
  for (let i = 1; i < rows.length; i++) {
    if (rows[i]!.block !== rows[i - 1]!.block + 1) throw new Error(`${file}: block ${rows[i]!.block} does not follow ${rows[i - 1]!.block}`);
  }
  seriesCache.set(file, rows);
  return rows;
}

/** Fullness (gas used over the target) from which a block counts as full: at the gas limit, to rounding. */
const FULL_BLOCK = 1.99;

/** The real series' first blocks climb from London's fixed 1 gwei: replay windows start after them. */
export const REPLAY_WARMUP_BLOCKS = 200;

/**
 * The gas prices of path `path` of `seed`, `steps + 1` blocks (block 0 is the run's start).
 * A replay window starts at a point spread evenly over the series by path (as the CSV price windows are).
 */
export function gasPath(source: GasSource, p: { steps: number; seed: number; path: number }): GasPath {
  if (source.kind === "l2") return l2GasPath(source, p);
  const n = p.steps + 1;
  const baseFeeWei = new Float64Array(n);
  const tipWei = new Float64Array(n);
  const tipNoise = normalSampler(philoxUniform(p.seed, p.path, 3));
  if (source.kind === "constant") {
    baseFeeWei.fill(source.gwei * 1e9);
    tipWei.fill(source.tipGwei * 1e9);
    return { baseFeeWei, tipWei };
  }
  let fullness: Float64Array;
  if (source.kind === "replay") {
    const rows = readBaseFeeCsv(source.file);
    const room = rows.length - REPLAY_WARMUP_BLOCKS - n;
    if (room < 0) throw new RangeError(`${source.file} has ${rows.length} blocks: too few for ${n}-block windows`);
    const start = REPLAY_WARMUP_BLOCKS + Math.floor(((p.path * 0.6180339887498949) % 1) * (room + 1));
    fullness = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const row = rows[start + i]!;
      baseFeeWei[i] = Number(row.baseFeeWei);
      fullness[i] = Number(row.gasUsed) / Number(row.gasLimit / 2n);
    }
  } else {
    fullness = eip1559Process(source, n, p.seed, p.path, baseFeeWei);
  }
  // Tips: lognormal around tipGwei (σ 0.5), doubled while blocks are full (users outbid each other).
  const full = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    full[i] = fullness[i]! >= FULL_BLOCK ? 1 : 0;
    const congestion = full[i] === 1 ? 2 : 1;
    tipWei[i] = source.tipGwei * 1e9 * congestion * Math.exp(0.5 * tipNoise() - 0.125);
  }
  return { baseFeeWei, tipWei, full };
}

/**
 * A rollup's gas: its L1's base fees (lanes 2–4, as an L1 path) price the data fee; its own base fee is the EIP-1559
 * process scaled to `executionGwei` on lanes 7 and 8 (the rollup's demand is its own), floored at the minimum; its
 * tips lognormal around `tipGwei` on lane 9.
 */
function l2GasPath(source: Extract<GasSource, { kind: "l2" }>, p: { steps: number; seed: number; path: number }): GasPath {
  const { l2 } = source;
  for (const [name, value] of Object.entries(l2)) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`L2 profile ${name} must be a finite number ≥ 0, got ${value}`);
  }
  if (!(l2.executionGwei > 0)) throw new RangeError(`L2 profile executionGwei must be > 0, got ${l2.executionGwei}`);
  const n = p.steps + 1;
  const l1 = gasPath(source.l1, p);
  const baseFeeWei = new Float64Array(n);
  const q = { ...MAINNET_2021_PROCESS, startGwei: l2.executionGwei, meanGwei: l2.executionGwei };
  eip1559Process(q, n, p.seed, p.path, baseFeeWei, [7, 8]);
  const floor = l2.minBaseFeeGwei * 1e9;
  const tipNoise = normalSampler(philoxUniform(p.seed, p.path, 9));
  const tipWei = new Float64Array(n);
  const l1FeeWei = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    baseFeeWei[i] = Math.max(floor, baseFeeWei[i]!);
    tipWei[i] = l2.tipGwei * 1e9 * Math.exp(0.5 * tipNoise() - 0.125);
    l1FeeWei[i] = l2.l1DataGas * l1.baseFeeWei[i]! * l2.l1FeeScalar;
  }
  return { baseFeeWei, tipWei, l1FeeWei };
}

/** Fills `baseFeeWei` with the `eip1559` process; returns each block's fullness (gas used / target). */
function eip1559Process(
  q: Eip1559Params,
  n: number,
  seed: number,
  path: number,
  baseFeeWei: Float64Array,
  lanes: readonly [number, number] = [2, 4],
): Float64Array {
  const { startGwei, meanGwei, reversion, demandVol, spikeProbability, spikeMean, response, fullnessNoise } = q;
  const params = { startGwei, meanGwei, reversion, demandVol, spikeProbability, spikeMean, response, fullnessNoise };
  for (const [name, value] of Object.entries(params)) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`gas process ${name} must be a finite number ≥ 0, got ${value}`);
  }
  if (!(q.startGwei > 0) || !(q.meanGwei > 0)) throw new RangeError("gas process startGwei and meanGwei must be > 0");
  const normal = normalSampler(philoxUniform(seed, path, lanes[0]));
  const uniform = philoxUniform(seed, path, lanes[1]);
  // Spikes add spikeProbability · spikeMean to log demand a block on average: the level it reverts to is lowered by
  // what that holds it above, so log demand's long-run mean is ln(meanGwei).
  const mean = Math.log(q.meanGwei) - (q.reversion > 0 ? (q.spikeProbability * q.spikeMean) / q.reversion : 0);
  let demand = Math.log(q.startGwei);
  let logFee = Math.log(q.startGwei);
  const fullness = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    baseFeeWei[i] = Math.exp(logFee) * 1e9;
    const u = Math.min(2, Math.max(0, 1 + q.response * (demand - logFee) + q.fullnessNoise * normal()));
    fullness[i] = u;
    logFee += Math.log(1 + (u - 1) / 8);
    demand += q.reversion * (mean - demand) + q.demandVol * normal();
    if (uniform() < q.spikeProbability) demand += -q.spikeMean * Math.log(1 - uniform());
  }
  return fullness;
}

/** Statistics a gas series is calibrated and tested on (per-block log changes and fullness; horizons in blocks). */
export interface GasStats {
  medianGwei: number;
  perBlockLogSd: number;
  fullShare: number;
  fullnessLag1: number;
  horizonLogSd: Record<25 | 300 | 1800, number>;
}

export function gasStats(baseFeeWei: ArrayLike<number>, fullness: ArrayLike<number>): GasStats {
  const n = baseFeeWei.length;
  const logs = Array.from({ length: n }, (_, i) => Math.log(baseFeeWei[i]!));
  const steps = logs.slice(1).map((x, i) => x - logs[i]!);
  const mean = (a: readonly number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const sd = (a: readonly number[]) => {
    const m = mean(a);
    return Math.sqrt(mean(a.map((x) => (x - m) ** 2)));
  };
  const u = Array.from(fullness);
  const um = mean(u);
  let num = 0;
  let den = 0;
  for (let i = 0; i < u.length; i++) {
    den += (u[i]! - um) ** 2;
    if (i > 0) num += (u[i]! - um) * (u[i - 1]! - um);
  }
  const horizon = (h: number) => {
    const x: number[] = [];
    for (let i = 0; i + h < n; i += h) x.push(logs[i + h]! - logs[i]!);
    return sd(x);
  };
  const sorted = [...logs].sort((a, b) => a - b);
  return {
    medianGwei: Math.exp(sorted[Math.floor(n / 2)]!) / 1e9,
    perBlockLogSd: sd(steps),
    fullShare: mean(u.map((x) => (x >= 1.99 ? 1 : 0))),
    fullnessLag1: num / den,
    horizonLogSd: { 25: horizon(25), 300: horizon(300), 1800: horizon(1800) },
  };
}

/** The process' fullness alongside its base fees, for calibration and tests. */
export function eip1559Series(q: Eip1559Params, n: number, seed: number, path = 0): { baseFeeWei: Float64Array; fullness: Float64Array } {
  const baseFeeWei = new Float64Array(n);
  const fullness = eip1559Process(q, n, seed, path, baseFeeWei);
  return { baseFeeWei, fullness };
}

/**
 * A run's gas, block by block, as both engines charge it: without `scenario.gas`, the constant `gasPriceGwei` and
 * no tip (and nothing is held back); with it, the path's base fee and tip, a hedge decided in block i − 1 landing in
 * block i at the keeper's fees for block i.
 */
export class RunGas {
  readonly #prices: GasPath | undefined;
  readonly #constantWei: number;
  readonly #caps: { maxFeePerGasWei: bigint; maxPriorityFeePerGasWei: bigint } | undefined;
  readonly #bumpPercent: number;

  constructor(scenario: Scenario, pathIndex: number) {
    this.#constantWei = scenario.gasPriceGwei * 1e9;
    this.#bumpPercent = CONFIG_DEFAULTS.FEE_BUMP_PERCENT;
    const gas = scenario.gas;
    if (gas === undefined) return;
    this.#prices = gasPath(gas.source, { steps: scenario.steps, seed: gas.seed, path: pathIndex });
    this.#caps = {
      maxFeePerGasWei: BigInt(Math.round(gas.maxFeeGwei * 1e9)),
      maxPriorityFeePerGasWei: BigInt(Math.round(gas.maxPriorityFeeGwei * 1e9)),
    };
  }

  /** Block i's base fee, wei (what the keeper's cost model prices a hedge decided in block i at). */
  baseFeeWei(i: number): bigint {
    return BigInt(Math.round(this.#prices === undefined ? this.#constantWei : this.#prices.baseFeeWei[i]!));
  }

  /** On a rollup, the L1 data fee one hedge transaction pays in block i, wei (the chain's oracle at block i); 0 on an L1. */
  l1FeeWei(i: number): bigint {
    const fees = this.#prices?.l1FeeWei;
    return fees === undefined ? 0n : BigInt(Math.round(fees[i]!));
  }

  /** The median tip the keeper's fee history shows at block i, wei. */
  tipWei(i: number): bigint {
    return this.#prices === undefined ? 0n : BigInt(Math.round(this.#prices.tipWei[i]!));
  }

  /**
   * What a hedge decided in block i − 1 pays per gas landing in block i — its base fee plus the tip the keeper
   * bids (the median tip of block i − 1, raised FEE_BUMP_PERCENT for each of `bumps` replacements, capped) — the
   * fees it is sent with, and whether block i takes it: a full block takes only bids at or above its own median
   * tip, so a hedge bidding under it waits (the keeper's replacement bumps its tip every REPLACE_AFTER_BLOCKS).
   * Undefined when block i's base fee is above the keeper's cap (`FeeCapExceededError`: the keeper does not send).
   * On a rollup, `l1FeeWei` is the L1 data fee the transaction pays on top, at block i's L1 base fee.
   */
  landing(i: number, bumps = 0): { priceWei: bigint; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; l1FeeWei: bigint; included: boolean } | undefined {
    if (this.#caps === undefined) {
      const price = BigInt(Math.round(this.#constantWei));
      return { priceWei: price, maxFeePerGas: price, maxPriorityFeePerGas: 0n, l1FeeWei: 0n, included: true };
    }
    const baseFee = this.baseFeeWei(i);
    const bid = this.tipWei(Math.max(0, i - 1));
    const bumped = bumps === 0 ? bid : BigInt(Math.ceil(Number(bid) * (1 + this.#bumpPercent / 100) ** bumps));
    try {
      const fees = computeFees(baseFee, bumped, this.#caps);
      const tip = fees.maxPriorityFeePerGas < fees.maxFeePerGas - baseFee ? fees.maxPriorityFeePerGas : fees.maxFeePerGas - baseFee;
      const included = this.#prices?.full?.[i] !== 1 || tip >= this.tipWei(i);
      return { priceWei: baseFee + tip, ...fees, l1FeeWei: this.l1FeeWei(i), included };
    } catch (err) {
      if (err instanceof FeeCapExceededError) return undefined;
      throw err;
    }
  }
}
