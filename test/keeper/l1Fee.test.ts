/**
 * Rollups (issue 17): a hedge's cost is its L2 execution plus its L1 data fee, read from the chain's own oracle.
 *
 * - On Hardhat's OP-stack simulation (a working GasPriceOracle, receipts with `l1Fee`; its L1Block predeploy set
 *   to an L1 base fee and OP mainnet's scalars), the keeper's estimate of a hedge's total fee — its gas model at
 *   the block's fees plus `GasPriceOracle.getL1Fee` of the hedge's bytes — is within 5% of what the receipt says
 *   the hedge paid (gasUsed × effectiveGasPrice + l1Fee); the metrics split the two; gas budgets count both.
 * - On a local chain with Arbitrum's NodeInterface mocked at its address, the L1 component is read through its real
 *   interface and counted in the cost; a plain L1 adds nothing.
 * - Fee rules: no tip on Arbitrum, at least op-geth's minimum on an OP-stack chain.
 */
import { pino } from "pino";
import { getAddress } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "../../harness/keeper.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";
import { createChainClients, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { chainTypeFor, NODE_INTERFACE, OP_MIN_TIP_WEI, receiptFees } from "../../keeper/chain/l1Fee.ts";
import { computeFees } from "../../keeper/execution/fees.ts";
import { Keeper, type TickReport } from "../../keeper/keeper.ts";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import { rebalanceGasUnits } from "../../keeper/sizing/gasModel.ts";
import { KeeperMetrics } from "../../keeper/telemetry/metrics.ts";
import { artifacts } from "hardhat";

const L1_BLOCK = "0x4200000000000000000000000000000000000015";
/** Ecotone's L1Block slot 3: sequenceNumber (bits 0–63), blobBaseFeeScalar (64–95), baseFeeScalar (96–127): OP mainnet's 5,227 and 1,014,213. */
const SCALARS = (5_227n << 96n) | (1_014_213n << 64n);
const BUDGET_WEI = 10n ** 15n;
const word = (x: bigint) => `0x${x.toString(16).padStart(64, "0")}`;

/** A keeper on `chain`, in process, with metrics; `chainType` as configured (undefined: from the chain id). */
function keeperOn(chain: LocalChain, chainType?: "l1" | "op" | "arbitrum") {
  const { publicClient } = createChainClients({ rpcUrl: chain.url });
  const metrics = new KeeperMetrics({ redactUrl: (u) => u });
  const base = localKeeperOptions(chain.sys, { policy: { name: "band", band: 0.5, target: "zero" }, prefs: { riskAversion: 1, horizonSeconds: 3600 } });
  // An hourly gas budget of 0.001 native, to see what a hedge counts against it.
  const resilience = { ...base.resilience, gasBudgetPerHourWei: BUDGET_WEI };
  const keeper = new Keeper({ ...base, resilience, caps: { ...base.caps, ...(chainType ? { chainType } : {}) } }, {
    client: publicClient,
    account: signerFromPrivateKey(LOCAL_KEEPER_KEY),
    logger: pino({ level: "silent" }),
    nowMs: () => performance.now(),
    metrics,
  });
  return { keeper, metrics, publicClient };
}

/** Ticks on fresh blocks until a report settles a hedge (the chain mines only on `mine`). */
async function untilSettled(chain: LocalChain, keeper: Keeper): Promise<{ decided: TickReport; settled: TickReport }> {
  let decided: TickReport | undefined;
  for (let i = 0; i < 10; i++) {
    await chain.mine();
    const report = await keeper.poll();
    if (report && report.sent.length > 0) decided ??= report;
    if (report && report.settled.length > 0 && decided) return { decided, settled: report };
  }
  throw new Error("no hedge sent and settled in 10 blocks");
}

describe("on an OP-stack chain (Hardhat's op simulation)", () => {
  let chain: LocalChain;

  beforeAll(async () => {
    chain = await startLocalChain({
      blockIntervalMs: 0,
      hedged: true,
      network: "opSimulated",
      prepare: async (rpc) => {
        await rpc("hardhat_setStorageAt", [L1_BLOCK, "0x3", word(SCALARS)]);
        await rpc("hardhat_setStorageAt", [L1_BLOCK, "0x1", word(30n * 10n ** 9n)]); // L1 base fee: 30 gwei
      },
    });
  }, 120_000);

  afterAll(async () => {
    await chain?.close();
  });

  it("the keeper's estimate of a hedge's total fee is within 5% of the receipt's L2 + L1 fee; metrics and budgets count both", async () => {
    const { keeper, metrics, publicClient } = keeperOn(chain, "op");
    // An OP-like L2 base fee (0.001 gwei), so execution is cheap as it is there.
    await publicClient.request({ method: "hardhat_setNextBlockBaseFeePerGas" as never, params: ["0xf4240"] as never } as never);
    await chain.moveTo(3000 * 1.05);
    const { decided, settled } = await untilSettled(chain, keeper);
    const plan = decided.plans[0]!;
    const l1Estimate = decided.plans[0]!.view.costs.l1DataFeeQuote;
    expect(l1Estimate).toBeGreaterThan(0);

    const outcome = settled.settled[0]!;
    expect(outcome.kind).toBe("mined");
    const raw = (await publicClient.request({ method: "eth_getTransactionReceipt", params: [outcome.sent.hash] })) as { l1Fee: `0x${string}` };
    const receiptL1 = BigInt(raw.l1Fee);
    expect(receiptL1).toBeGreaterThan(0n);
    const fees = receiptFees(outcome.receipt);
    expect(fees.l1DataWei).toBe(receiptL1);
    expect(fees.totalWei).toBe(outcome.receipt.gasUsed * outcome.receipt.effectiveGasPrice + receiptL1);

    // The estimate in wei: the gas model's units at the gas price paid, plus the oracle's L1 fee for the hedge.
    const spot = wadToNumber(plan.snapshot.spotWad);
    const l1EstimateWei = (l1Estimate! / spot) * 1e18;
    const estimateWei = rebalanceGasUnits(plan.snapshot.book.length) * Number(outcome.receipt.effectiveGasPrice) + l1EstimateWei;
    const paidWei = Number(fees.totalWei);
    expect(Math.abs(estimateWei / paidWei - 1)).toBeLessThan(0.05);
    expect(Math.abs(l1EstimateWei / Number(receiptL1) - 1)).toBeLessThan(0.05);
    console.log(
      `OP simulation: a hedge paid ${Number(fees.executionWei)} wei execution (${outcome.receipt.gasUsed} gas at ${outcome.receipt.effectiveGasPrice} wei) + ` +
        `${receiptL1} wei L1 data (${((100 * Number(receiptL1)) / paidWei).toFixed(1)}% L1); the keeper estimated ${estimateWei.toFixed(0)} of ${paidWei} wei ` +
        `(${((estimateWei / paidWei - 1) * 100).toFixed(2)}%; its L1 part ${((l1EstimateWei / Number(receiptL1) - 1) * 100).toFixed(2)}%)`,
    );

    const text = await metrics.registry.metrics();
    const vault = getAddress(chain.sys.vault.address);
    const series = (part: string) => Number(new RegExp(`keeper_gas_spent_wei_total\\{vault="${vault}",part="${part}"\\} (\\S+)`, "i").exec(text)?.[1]);
    expect(series("l1_data")).toBe(Number(receiptL1));
    expect(series("execution")).toBe(Number(fees.executionWei));
    // the gas budget counts the whole fee, L1 data included
    const budget = Number(new RegExp(`keeper_gas_budget_used_ratio\\{vault="${vault}",window="hour"\\} (\\S+)`, "i").exec(text)?.[1]);
    expect(budget).toBeCloseTo(Number(fees.totalWei) / Number(BUDGET_WEI), 12);
    expect(keeper.chainType).toBe("op");
  });
});

describe("on Arbitrum (NodeInterface mocked at its address) and on a plain L1", () => {
  let chain: LocalChain;
  const GAS_PER_BYTE = 400n;
  const L2_BASE_FEE = 100_000_000n; // 0.1 gwei

  beforeAll(async () => {
    const artifact = await artifacts.readArtifact("MockNodeInterface");
    chain = await startLocalChain({
      blockIntervalMs: 0,
      hedged: true,
      prepare: async (rpc) => {
        await rpc("hardhat_setCode", [NODE_INTERFACE, artifact.deployedBytecode]);
        await rpc("hardhat_setStorageAt", [NODE_INTERFACE, "0x0", word(GAS_PER_BYTE)]);
        await rpc("hardhat_setStorageAt", [NODE_INTERFACE, "0x1", word(L2_BASE_FEE)]);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await chain?.close();
  });

  it("the L1 component read through NodeInterface.gasEstimateL1Component is in the cost; a plain L1 adds nothing", async () => {
    const arb = keeperOn(chain, "arbitrum");
    await chain.mine();
    const report = (await arb.keeper.poll())!;
    const plan = report.plans[0]!;
    // rebalance(bool,uint256,uint256,uint256): 4 + 4 × 32 = 132 bytes, × 400 gas a byte, at 0.1 gwei
    const expectedWei = 132n * GAS_PER_BYTE * L2_BASE_FEE;
    const spot = wadToNumber(plan.snapshot.spotWad);
    expect(plan.view.costs.l1DataFeeQuote).toBeCloseTo((Number(expectedWei) / 1e18) * spot, 9);
    const withL1 = plan.view.costs.gasCostQuote;

    const l1 = keeperOn(chain, "l1");
    await chain.mine();
    const plain = (await l1.keeper.poll())!.plans[0]!;
    expect(plain.view.costs.l1DataFeeQuote).toBeUndefined();
    expect(withL1 - plain.view.costs.gasCostQuote).toBeGreaterThan(0.9 * plan.view.costs.l1DataFeeQuote!);
    expect(arb.keeper.chainType).toBe("arbitrum");
    // a local chain id, not configured: a plain L1
    expect(keeperOn(chain).keeper.chainType).toBe("l1");
  });
});

describe("fee rules per chain type", () => {
  const caps = { maxFeePerGasWei: 100n * 10n ** 9n, maxPriorityFeePerGasWei: 2n * 10n ** 9n };
  it("Arbitrum bids no tip; an OP-stack chain at least 0.001 gwei (capped); an L1 the suggested tip", () => {
    expect(computeFees(10n ** 8n, 5n * 10n ** 8n, { ...caps, chainType: "arbitrum" })).toEqual({ maxFeePerGas: 2n * 10n ** 8n, maxPriorityFeePerGas: 0n });
    expect(computeFees(10n ** 6n, 0n, { ...caps, chainType: "op" }).maxPriorityFeePerGas).toBe(OP_MIN_TIP_WEI);
    expect(computeFees(10n ** 6n, 0n, { ...caps, maxPriorityFeePerGasWei: 10n, chainType: "op" }).maxPriorityFeePerGas).toBe(10n);
    expect(computeFees(10n ** 9n, 3n * 10n ** 8n, caps).maxPriorityFeePerGas).toBe(3n * 10n ** 8n);
  });

  it("the chain type comes from the chain id when not configured", () => {
    expect(chainTypeFor(10)).toBe("op");
    expect(chainTypeFor(8453)).toBe("op");
    expect(chainTypeFor(42161)).toBe("arbitrum");
    expect(chainTypeFor(31337)).toBe("l1");
    expect(chainTypeFor(31337, "op")).toBe("op");
  });
});
