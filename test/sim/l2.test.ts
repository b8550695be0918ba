/**
 * The simulator's rollup profile (issue 15): cheap L2 execution plus each transaction's L1 data fee, driven by the
 * replayed mainnet base-fee series and the transaction's size. The keeper's cost model sees the L1 fee (so the
 * gas-aware policy weighs it), both engines charge it, and they still agree.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGwei, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { hedgeCalldata } from "../../keeper/execution/sendHedge.ts";
import { loadGasModel } from "../../sim/gas.ts";
import { gasPath, HEDGE_TX_L1_DATA_GAS, OP_BEDROCK_PROFILE, readBaseFeeCsv, REPLAY_WARMUP_BLOCKS, RunGas, type GasSource } from "../../sim/gasPrice.ts";
import { openFork, runForkAndModel, type ForkModelPair, type ForkSession } from "../../sim/fork.ts";
import { runModel } from "../../sim/model.ts";
import { generatePaths } from "../../sim/paths.ts";
import { relDiff } from "../../sim/run.ts";
import { DEFAULT_SCENARIO, defaultPoints, type Scenario } from "../../sim/scenario.ts";
import type { RunMetrics } from "../../sim/types.ts";

const CSV = new URL("../../data/base-fee.csv", import.meta.url).pathname;
const l1: GasSource = { kind: "replay", file: CSV, tipGwei: 1.5 };
const l2Source = (scalar: number): GasSource => ({ kind: "l2", l2: { ...OP_BEDROCK_PROFILE, l1FeeScalar: scalar }, l1: l1 as never });
const SEED = 3;
const l2Scenario = (scalar: number): Scenario => ({
  ...DEFAULT_SCENARIO,
  steps: 400,
  gas: { source: l2Source(scalar), seed: SEED, maxFeeGwei: 100, maxPriorityFeeGwei: 2 },
});
const gas = loadGasModel();
const paths = generatePaths({ kind: "gbm", drift: 0, vol: 0.8 }, { count: 4, steps: 400, spot: 3000, blockSeconds: 12, seed: SEED });
const gasAware = defaultPoints(DEFAULT_SCENARIO).find((p) => p.label === "gas-aware γ 0.1")!;

/** L1 data gas of a byte string: 16 a non-zero byte, 4 a zero byte (EIP-2028 calldata pricing, Bedrock's rule). */
function dataGas(bytes: Hex): number {
  let gasUnits = 0;
  for (let i = 2; i < bytes.length; i += 2) gasUnits += bytes.slice(i, i + 2) === "00" ? 4 : 16;
  return gasUnits;
}

describe("the rollup profile's gas path", () => {
  it("a hedge's L1 data gas is what a signed rebalance transaction's bytes cost, plus Bedrock's overhead of 188", async () => {
    const account = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
    const data = hedgeCalldata({ functionName: "rebalance", args: [true, 12_345_678_901n, 4_000_000_000_000_000_000n, 1_767_000_000n] });
    const signed = await account.signTransaction({
      chainId: 10,
      type: "eip1559",
      nonce: 4_321,
      to: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
      data,
      gas: 180_000n,
      maxFeePerGas: parseGwei("0.02"),
      maxPriorityFeePerGas: parseGwei("0.001"),
    });
    const measured = dataGas(signed) + 188;
    expect(Math.abs(measured - HEDGE_TX_L1_DATA_GAS) / HEDGE_TX_L1_DATA_GAS).toBeLessThan(0.03);
  });

  it("execution at the L2's own price (never below its floor), the L1 data fee at the replayed L1 base fee × size × scalar", () => {
    const p = gasPath(l2Source(0.684), { steps: 2_000, seed: SEED, path: 0 });
    const l1Path = gasPath(l1, { steps: 2_000, seed: SEED, path: 0 });
    const floorWei = OP_BEDROCK_PROFILE.minBaseFeeGwei * 1e9;
    expect(Math.min(...p.baseFeeWei)).toBeGreaterThanOrEqual(floorWei);
    const sorted = [...p.baseFeeWei].sort((a, b) => a - b);
    expect(sorted[1000]! / 1e9).toBeGreaterThan(0.001);
    expect(sorted[1000]! / 1e9).toBeLessThan(0.05);
    for (let i = 0; i <= 2_000; i += 97) {
      expect(p.l1FeeWei![i]).toBeCloseTo(HEDGE_TX_L1_DATA_GAS * l1Path.baseFeeWei[i]! * 0.684, 0);
    }
    // path 0's replay window starts right after the warm-up: the first L1 base fee is the series' own
    expect(l1Path.baseFeeWei[0]).toBe(Number(readBaseFeeCsv(CSV)[REPLAY_WARMUP_BLOCKS]!.baseFeeWei));
    // the L1 part is most of a hedge's bill: ~150k gas at ~0.005 gwei against ~2,700 L1 gas at ~40 gwei × 0.684
    const run = new RunGas(l2Scenario(0.684), 0);
    const landing = run.landing(1)!;
    expect(Number(landing.l1FeeWei)).toBeGreaterThan(10 * 150_000 * Number(landing.priceWei));
  });

  it("the keeper's cost model adds the L1 data fee, and the gas-aware policy hedges less the dearer it is, on the same paths", () => {
    const runs = (scalar: number) => paths.map((path, j) => runModel({ path, pathIndex: j, point: gasAware, scenario: l2Scenario(scalar), gas }));
    const none = runs(0);
    const op = runs(0.684);
    const dear = runs(10);
    const hedges = (rs: RunMetrics[]) => rs.reduce((n, r) => n + r.hedges, 0);
    expect(none.every((r) => r.l1DataCost === 0)).toBe(true);
    expect(op.every((r) => r.l1DataCost > 0 && r.l1DataCost <= r.gasCost)).toBe(true);
    expect(hedges(op)).toBeLessThanOrEqual(hedges(none));
    expect(hedges(dear)).toBeLessThan(hedges(none));
    // every transaction paid the L1 fee: l1DataCost / hedges is about one hedge's L1 fee at ~3,000 and ~40 gwei
    const perTx = op.reduce((s, r) => s + r.l1DataCost, 0) / hedges(op);
    expect(perTx).toBeGreaterThan(HEDGE_TX_L1_DATA_GAS * 0.684 * 5e-9 * 3000);
    expect(perTx).toBeLessThan(HEDGE_TX_L1_DATA_GAS * 0.684 * 300e-9 * 3000);
  });
});

describe("fork and model on the rollup profile", () => {
  let session: ForkSession;
  const scenario = l2Scenario(0.684);
  const band = defaultPoints(scenario).find((p) => p.label === "band ±0.177 → zero")!;
  const results: ForkModelPair[] = [];

  beforeAll(async () => {
    session = await openFork(scenario);
    results.push(...(await runForkAndModel(session, { scenario, points: [band, gasAware], paths: paths.slice(0, 2), gas })));
  }, 300_000);

  afterAll(async () => {
    await session?.close();
  });

  it("agree within 2% on total cost and gas (L1 data fee included), hedge for hedge", () => {
    for (const { label, fork, model } of results) {
      expect(fork.reverts, label).toBe(0);
      expect(model.hedges, label).toBe(fork.hedges);
      expect(relDiff(fork.totalCost, model.totalCost), label).toBeLessThan(0.02);
      expect(relDiff(fork.gasCost, model.gasCost), label).toBeLessThan(0.02);
      expect(relDiff(fork.l1DataCost, model.l1DataCost), label).toBeLessThan(0.02);
    }
    expect(results.reduce((n, r) => n + r.fork.hedges, 0)).toBeGreaterThan(4);
  });
});
