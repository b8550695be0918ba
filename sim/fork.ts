/**
 * Fork mode: the simulation on a fork of a real chain. `openFork` forks `FORK_URL` (or, with none, a Hardhat node
 * started here, so a fresh machine needs nothing else), deploys the scenario's system on the fork — tokens,
 * oracle, pool, vault with its book sold, lens, and the `MarketDriver` — and snapshots it. `runFork` then replays
 * one path under one policy point from that snapshot, block by block:
 *
 *   [last block's rebalance, if any] [MarketDriver.step(price)] → mine → read the vault → planBlock → rebalance?
 *
 * with real transactions: the hedge is the keeper's sized order sent as `rebalance(...)` from the keeper account,
 * mined first in the next block (it pays a tip, the market none), its gas and fill read from the receipt and the
 * `Rebalanced` event. Automine is off; each block is mined explicitly, 12 s (the scenario's block time) after the
 * last. Reads go through the keeper's own `readVaults` (one `VaultLens.read` per block): the vault is whatever the
 * lens says, budget left included; nothing here re-implements a vault rule.
 */
import hre from "hardhat";
import { decodeEventLog, encodeAbiParameters, encodeFunctionData, hexToBigInt, keccak256, maxUint256, toHex, type Abi, type Address, type Hex } from "viem";
import { optionVaultAbi } from "../keeper/abi.ts";
import { readVaults, type VaultRef } from "../keeper/chain/readVaults.ts";
import { CONFIG_DEFAULTS } from "../keeper/config/table.ts";
import { hedgeCallOf, hedgeCalldata } from "../keeper/execution/sendHedge.ts";
import { budgetLeftWad, type BudgetLedger } from "../keeper/sizing/budget.ts";
import type { HedgeOrder, VaultSnapshot } from "../keeper/types.ts";
import { redactUrl } from "../keeper/telemetry/redact.ts";
import type { Deployment } from "../harness/deploy.ts";
import { startLocalNode, type LocalNode } from "../harness/node.ts";
import { buyOptions, deploySystem, listSeries, receiptWaiter, ROLES, type HardhatViem } from "../harness/system.ts";
import { freshSlots, ledgerSlotWritten, type FreshSlots } from "./gas.ts";
import { Ledger, type Fill } from "./ledger.ts";
import { answerOf, blockTimestamp, RunPlanner, runModel, type BlockObserver } from "./model.ts";
import type { GasModel } from "./gas.ts";
import { RunGas } from "./gasPrice.ts";
import { salesOf, saleValue } from "./flow.ts";
import { numberToWad, wadToNumber } from "../keeper/pricing/wad.ts";
import { gasPriceWei, MARKET_SCALE_EXPONENT, QUOTE_DECIMALS, riskParams, UNDERLYING_DECIMALS, type Scenario } from "./scenario.ts";
import type { PolicyPoint, RunMetrics } from "./types.ts";

const HEDGE_TIP_WEI = 10n ** 9n;
// The cap of the fork's own transactions (the market step; constant-gas hedges): above any base fee a run meets.
const MAX_FEE_WEI = 100_000n * 10n ** 9n;
const HEDGE_GAS = 1_000_000n;
const MARKET_GAS = 400_000n;
/** The keeper's REPLACE_AFTER_BLOCKS: a hedge waiting this many blocks is re-bid higher (as the model does). */
const REPLACE_AFTER_BLOCKS = CONFIG_DEFAULTS.REPLACE_AFTER_BLOCKS;
/** Gas for a buyer's openPosition (≈ 200k on a 10-series book; the limit only bounds it). */
const SALE_GAS = 1_000_000n;

/** One measured hedge: what the gas model is calibrated on. */
export interface MeasuredHedge {
  buy: boolean;
  /** Slots the rebalance wrote from zero (the budget ledger, the vault's underlying balance): see `gas.ts`. */
  freshSlots: FreshSlots;
  liveSeries: number;
  gasUsed: number;
  reverted: boolean;
  /** A perp hedge ("hedge") or margin move ("margin"): its size before and after, for the perp gas model. */
  perp?: { kind: "hedge" | "margin"; positionBefore: bigint; positionAfter: bigint };
}

export interface ForkRun extends RunMetrics {
  measured: MeasuredHedge[];
  /** Blocks where the vault's on-chain Greeks and the keeper's float model differed beyond 1e-6 (relative). */
  greeksMismatches: number;
  wallSeconds: number;
}

export interface ForkSession {
  /** Where the fork came from (a URL without credentials, or "local node"). */
  origin: string;
  chainId: number;
  viem: HardhatViem;
  vault: VaultRef;
  lens: Address;
  driver: Address;
  /** MarketDriver's ABI (a simulation contract: not in the keeper's abi.ts). */
  driverAbi: Abi;
  keeper: Address;
  admin: Address;
  /** The option buyer: it bought the scenario's book at setup, and buys the flow's sales (scenario.flow) along the path. */
  buyer: Address;
  /** The vault right after setup: model mode's `start` for the same path. */
  start: VaultSnapshot;
  /** The vault's hedging-budget ledger right after setup: model mode's `startBudget` for the same path. */
  startBudget: BudgetLedger;
  request: (method: string, params?: unknown[]) => Promise<unknown>;
  close: () => Promise<void>;
  /** evm_snapshot id of the state after setup. */
  snapshotId: string;
}

/**
 * Takes over a system `npm run deploy` left on the forked chain (its deployments file): impersonates the deployer
 * (admin of the vault, oracle and mock tokens) on the fork, grants the keeper role to a local account, and lends
 * the rest of the setup the same shape `deploySystem` returns. The vault keeps its own parameters and book; the
 * scenario's book is sold on top.
 */
async function adoptDeployment(viem: HardhatViem, request: (method: string, params?: unknown[]) => Promise<unknown>, d: Partial<Deployment>) {
  const v = d.vaults?.[0];
  if (!v || !d.deployer) throw new Error("the deployments file has no complete vault (run npm run deploy to finish it)");
  await request("hardhat_impersonateAccount", [d.deployer]);
  await request("hardhat_setBalance", [d.deployer, "0x3635c9adc5dea00000"]); // 1,000 ETH for gas on the fork
  const admin = await viem.getWalletClient(d.deployer);
  const [, keeper] = await viem.getWalletClients();
  if (!keeper) throw new Error("the fork has no second local account for the keeper");
  const publicClient = await viem.getPublicClient();
  const client = { client: { public: publicClient, wallet: admin } };
  const wait = receiptWaiter(publicClient);
  const vault = await viem.getContractAt("IOptionVault", v.address, client);
  const lens = d.lens ? await viem.getContractAt("VaultLens", d.lens, client) : await viem.deployContract("VaultLens", [], client);
  await wait(await vault.write.grantRole([ROLES.keeper, keeper.account.address]));
  return {
    admin,
    keeper,
    publicClient,
    wait,
    vault,
    lens,
    quote: await viem.getContractAt("MockERC20", v.quote, client),
    underlying: await viem.getContractAt("MockERC20", v.underlying, client),
    oracle: await viem.getContractAt("MockOracle", v.oracle, client),
    amm: await viem.getContractAt("MockAmm", v.amm, client),
  };
}

export async function openFork(
  scenario: Scenario,
  p: { forkUrl?: string | undefined; deployment?: Partial<Deployment> | undefined } = {},
): Promise<ForkSession> {
  let node: LocalNode | undefined;
  let url = p.forkUrl;
  if (url === undefined) {
    node = await startLocalNode();
    url = node.url;
  }
  try {
    const conn = await hre.network.create({ network: "fork", override: { forking: { url } } });
    const { viem } = conn;
    const request = (method: string, params: unknown[] = []) =>
      conn.provider.request({ method, params }) as Promise<unknown>;
    const sys =
      p.deployment === undefined
        ? await deploySystem(viem, {
            spot: scenario.spot,
            ammDepthUnderlying: scenario.ammDepth,
            ammFeeBps: scenario.ammFeeBps,
            vaultDeposit: scenario.vaultDeposit,
            hedge: scenario.hedge,
            risk: riskParams(scenario),
            limits: scenario.limits,
            ...(scenario.perp
              ? {
                  perp: {
                    params: scenario.perp.params,
                    pool: scenario.perp.pool,
                    marginBounds: { minMarginBps: scenario.perp.minMarginBps, maxMarginBps: scenario.perp.maxMarginBps },
                  },
                }
              : {}),
          })
        : await adoptDeployment(viem, request, p.deployment);
    const driver = await viem.deployContract("MarketDriver", [sys.oracle.address, sys.amm.address, MARKET_SCALE_EXPONENT], { client: { wallet: sys.admin } });
    await sys.wait(await sys.oracle.write.grantRole([ROLES.updater, driver.address]));
    // Inventory for the arbitrageur: far more than any path can move through a pool this deep.
    await sys.wait(await sys.quote.write.mint([driver.address, maxUint256 >> 130n]));
    await sys.wait(await sys.underlying.write.mint([driver.address, maxUint256 >> 130n]));
    if (p.deployment !== undefined) {
      // A found system starts wherever its chain left it: bring oracle and pool to the scenario's spot first,
      // and give the vault the scenario's capital, so the book it sells here passes its collateral check.
      await sys.wait(await driver.write.step([answerOf(scenario.spot)]));
      const deposit = BigInt(Math.round(scenario.vaultDeposit)) * 10n ** BigInt(QUOTE_DECIMALS);
      await sys.wait(await sys.quote.write.mint([sys.admin.account.address, deposit]));
      await sys.wait(await sys.quote.write.approve([sys.vault.address, deposit]));
      await sys.wait(await sys.vault.write.deposit([deposit, sys.admin.account.address]));
    }
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    for (const s of scenario.book) {
      const { id } = await listSeries(sys, s.isCall, Number((scenario.spot * s.moneyness).toPrecision(12)), s.expiryDays);
      await buyOptions(sys, buyer, id, s.size);
    }
    if (scenario.flow !== undefined) {
      // The flow's premiums: the buyer holds far more than any path's sales cost, and lets the vault take it.
      await sys.wait(await sys.quote.write.mint([buyer, maxUint256 >> 130n]));
      await sys.wait(await sys.quote.write.approve([sys.vault.address, maxUint256], { account: buyer }));
    }

    const vault: VaultRef = { address: sys.vault.address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS };
    const keeper = sys.keeper.account.address;
    const readStart = () => readVaults(sys.publicClient, { lens: sys.lens.address, vaults: [vault], account: keeper });
    let read = await readStart();
    const bookDelta = read.vaults[0]!.bookDeltaWad;
    if (scenario.startHedged && bookDelta < 0n) {
      // The opening hedge, as underlying held by the vault (minted: the sweep measures dynamic hedging only).
      await sys.wait(await sys.underlying.write.mint([vault.address, -bookDelta]));
      read = await readStart();
    }
    const startBudget = await readBudgetLedger(request, read.vaults[0]!);
    await request("evm_setAutomine", [false]);
    const snapshotId = (await request("evm_snapshot")) as string;
    return {
      origin:
        (p.forkUrl === undefined ? "a Hardhat node started for this run" : redactUrl(p.forkUrl)) +
        (p.deployment === undefined ? "; system deployed on the fork" : "; deployed system found and adopted"),
      chainId: Number(read.chain.chainId),
      viem,
      vault,
      lens: sys.lens.address,
      driver: driver.address,
      driverAbi: driver.abi,
      keeper,
      admin: sys.admin.account.address,
      buyer,
      start: read.vaults[0]!,
      startBudget,
      request,
      snapshotId,
      close: async () => {
        await conn.close();
        await node?.close();
      },
    };
  } catch (err) {
    await node?.close();
    throw err;
  }
}

/** `OptionVaultBase`'s ERC-7201 namespace: keccak256(abi.encode(uint256(keccak256(id)) − 1)) & ~0xff. */
const VAULT_STORAGE_SLOT =
  hexToBigInt(keccak256(encodeAbiParameters([{ type: "uint256" }], [hexToBigInt(keccak256(toHex("delta-keeper.storage.OptionVault"))) - 1n]))) &
  ~0xffn;
/** `VaultStorage.ledger`: the third slot of the namespace (after `Hot` and `Limits`, one slot each). */
const LEDGER_SLOT = VAULT_STORAGE_SLOT + 2n;

/**
 * The vault's hedging-budget ledger, read from its storage: the lens reports only the budget left, but the model
 * must roll the same current/previous window split the vault will. `OptionVaultBase.Ledger`, low bits first:
 * lastRebalanceBlock uint40 | window uint24 | notionalPrev, notionalCur, slippagePrev, slippageCur uint48 each.
 * Checked against what the lens reports (the last rebalance's block, the budget left), so a change of the layout
 * fails here rather than skewing the model.
 */
export async function readBudgetLedger(request: ForkSession["request"], snapshot: VaultSnapshot): Promise<BudgetLedger> {
  const word = hexToBigInt((await request("eth_getStorageAt", [snapshot.vault, toHex(LEDGER_SLOT), toHex(snapshot.blockNumber)])) as Hex);
  const field = (shift: bigint, bits: bigint) => (word >> shift) & ((1n << bits) - 1n);
  const ledger: BudgetLedger = {
    window: field(40n, 24n),
    notionalPrev: field(64n, 48n),
    notionalCur: field(112n, 48n),
    slippagePrev: field(160n, 48n),
    slippageCur: field(208n, 48n),
  };
  const left = budgetLeftWad(ledger, snapshot.hedge, snapshot.timestamp);
  if (
    field(0n, 40n) !== snapshot.lastRebalanceBlock ||
    left.notionalLeftWad !== snapshot.notionalLeftWad ||
    left.slippageLeftWad !== snapshot.slippageLeftWad
  ) {
    throw new Error(
      `fork: the vault's budget ledger at slot ${toHex(LEDGER_SLOT)} does not match what the lens reports ` +
        `(block ${field(0n, 40n)} vs ${snapshot.lastRebalanceBlock}; notional left ${left.notionalLeftWad} vs ` +
        `${snapshot.notionalLeftWad}): has OptionVaultBase's storage layout changed?`,
    );
  }
  return ledger;
}

/** Replays one path under one point on the fork, from the setup snapshot (restored first, and kept). */
export async function runFork(
  session: ForkSession,
  run: {
    path: ArrayLike<number>;
    pathIndex: number;
    point: PolicyPoint;
    scenario: Scenario;
    times?: ArrayLike<number>;
    /** Called after every block, as `ModelRun.onBlock`. */
    onBlock?: BlockObserver;
  },
): Promise<ForkRun> {
  const started = performance.now();
  const { request, start } = session;
  if (!(await request("evm_revert", [session.snapshotId]))) {
    throw new Error(`fork: evm_revert to the setup snapshot ${session.snapshotId} failed`);
  }
  session.snapshotId = (await request("evm_snapshot")) as string;
  const publicClient = await session.viem.getPublicClient();
  const gasPrice = gasPriceWei(run.scenario);
  const runGas = new RunGas(run.scenario, run.pathIndex);
  // On the fork the Greeks come from the chain: cross-check them against the float model, as the keeper does.
  const planner = new RunPlanner(run.point, run.scenario, runGas, true);
  let greeksMismatches = 0;
  const ledger = new Ledger({
    pathIndex: run.pathIndex,
    gasPriceWei: gasPrice,
    quoteDecimals: start.quoteDecimals,
    underlyingDecimals: start.underlyingDecimals,
    ammFeeBps: Number(start.ammFeeBps),
  });
  const measured: MeasuredHedge[] = [];
  const send = (from: Address, to: Address, data: Hex, gas: bigint, tip: bigint, maxFee = MAX_FEE_WEI) =>
    request("eth_sendTransaction", [
      { from, to, data, gas: `0x${gas.toString(16)}`, maxFeePerGas: `0x${maxFee.toString(16)}`, maxPriorityFeePerGas: `0x${tip.toString(16)}` },
    ]) as Promise<Hex>;

  let pending: HedgeOrder | undefined;
  let waitedBlocks = 0;
  let last = start;
  // The budget ledger's slot is zero until the vault's first rebalance (see gas.ts).
  let ledgerWritten = ledgerSlotWritten(start.lastRebalanceBlock, session.startBudget);
  const steps = run.path.length - 1;
  const sales = run.scenario.flow === undefined ? [] : salesOf(run.scenario.flow, { steps, path: run.pathIndex, seriesCount: start.book.length });
  let nextSale = 0;
  for (let i = 0; i <= steps; i++) {
    const timestamp = blockTimestamp(start, run.scenario, i, run.times);
    let hedgeTx: { hash: Hex; order: HedgeOrder; freshSlots: FreshSlots } | undefined;
    // Block i's base fee, as moving gas gives it (constant gas: the scenario's price, which the tip tops up).
    if (run.scenario.gas !== undefined) await request("hardhat_setNextBlockBaseFeePerGas", [`0x${runGas.baseFeeWei(i).toString(16)}`]);
    const landing = pending === undefined ? undefined : runGas.landing(i, Math.floor(waitedBlocks / REPLACE_AFTER_BLOCKS));
    // A hedge a full block would not take (its tip under the block's median) waits pending, as the model's does:
    // it is sent only in the block that takes it (a Hardhat node would mine any tip).
    let waiting: HedgeOrder | undefined;
    if (pending !== undefined && landing === undefined) {
      // The base fee is above the keeper's cap: it does not send, and decides again on this block.
      pending = undefined;
      waitedBlocks = 0;
      ledger.feeCapHold();
    } else if (pending !== undefined && landing !== undefined && !landing.included) {
      waiting = pending;
      pending = undefined;
      waitedBlocks++;
      ledger.delayed();
    } else if (pending !== undefined) {
      waitedBlocks = 0;
    }
    if (pending) {
      // The keeper's call: rebalance on the AMM, hedgePerp on the perp, or a perp margin move.
      const data = hedgeCalldata(hedgeCallOf(pending, timestamp + 3600n));
      hedgeTx = {
        hash:
          run.scenario.gas === undefined
            ? await send(session.keeper, session.vault.address, data, HEDGE_GAS, HEDGE_TIP_WEI)
            : await send(session.keeper, session.vault.address, data, HEDGE_GAS, landing!.maxPriorityFeePerGas, landing!.maxFeePerGas),
        order: pending,
        freshSlots: freshSlots({ ledgerWritten, hedgeBalance: last.hedgeBalance, buy: pending.buyUnderlying }),
      };
      pending = undefined;
    }
    const answer = answerOf(run.path[i]!);
    const step = encodeFunctionData({ abi: session.driverAbi, functionName: "step", args: [answer] });
    await send(session.admin, session.driver, step, MARKET_GAS, 0n);
    // The flow's buyers, after the market step (at this block's oracle price), as the model sells.
    const saleTxs: Hex[] = [];
    for (; nextSale < sales.length && sales[nextSale]!.block === i; nextSale++) {
      const sale = sales[nextSale]!;
      const series = start.book[sale.series]!;
      const open = encodeFunctionData({ abi: optionVaultAbi, functionName: "openPosition", args: [series.id, numberToWad(sale.size), maxUint256, session.buyer] });
      saleTxs.push(await send(session.buyer, session.vault.address, open, SALE_GAS, 0n));
      ledger.sold(
        saleValue({
          isCall: series.isCall,
          spot: wadToNumber(answer * 10n ** 10n),
          strike: wadToNumber(series.strikeWad),
          vol: wadToNumber(start.risk.volWad),
          rate: wadToNumber(start.risk.rateWad),
          tauSeconds: Number(series.expiry - timestamp),
          size: sale.size,
        }),
      );
    }
    await request("evm_mine", [Number(timestamp)]);
    for (const hash of saleTxs) {
      const receipt = await publicClient.getTransactionReceipt({ hash });
      if (receipt.status !== "success") {
        throw new Error(`fork: the vault refused the flow's sale in block ${i} (openPosition reverted): check scenario.flow against the vault's limits`);
      }
    }

    if (hedgeTx) {
      const receipt = await publicClient.getTransactionReceipt({ hash: hedgeTx.hash });
      const gasUsed = Number(receipt.gasUsed);
      // Moving gas: what the receipt says the hedge paid per gas (base fee plus its tip).
      // On a rollup profile, the L1 data fee from the profile's formula, as the model charges it (the node is an L1).
      if (run.scenario.gas !== undefined) ledger.setGasPrice(receipt.effectiveGasPrice, runGas.l1FeeWei(i));
      const entry = { buy: hedgeTx.order.buyUnderlying, freshSlots: hedgeTx.freshSlots, liveSeries: last.book.length, gasUsed };
      const fill = receipt.status === "success" ? fillOf(receipt.logs, session.vault.address, gasUsed) : undefined;
      if (fill === "margin") {
        ledger.gasOnly(gasUsed, last.spotWad);
      } else if (fill) {
        ledger.hedge(fill);
        ledgerWritten = true;
      } else {
        ledger.revert(gasUsed, last.spotWad);
      }
      const perpKind = hedgeTx.order.margin !== undefined ? "margin" : hedgeTx.order.perp !== undefined ? "hedge" : undefined;
      const before = last.perp?.sizeWad ?? 0n;
      const after = before + (perpKind === "hedge" && fill !== undefined ? hedgeTx.order.perp!.sizeDeltaWad : 0n);
      measured.push({ ...entry, reverted: fill === undefined, ...(perpKind ? { perp: { kind: perpKind, positionBefore: before, positionAfter: after } } : {}) });
    }

    const read = await readVaults(publicClient, { lens: session.lens, vaults: [session.vault], account: session.keeper });
    const snapshot = read.vaults[0];
    if (!snapshot) throw new Error(`fork: the lens returned no state for the vault (${read.failures[0]?.reason ?? "no reason"})`);
    if (snapshot.spotWad !== answer * 10n ** 10n || snapshot.timestamp !== timestamp) {
      throw new Error(
        `fork: block ${snapshot.blockNumber} did not take the market step (oracle ${snapshot.spotWad}, expected ` +
          `${answer * 10n ** 10n}; time ${snapshot.timestamp}, expected ${timestamp})`,
      );
    }
    last = snapshot;
    ledger.observe(snapshot);
    // The keeper's replacement of a waiting hedge, as the model's (see runModel).
    pending ??= waiting;
    const replacing = waiting !== undefined && waitedBlocks % REPLACE_AFTER_BLOCKS === 0;
    const plan = i === steps ? undefined : planner.plan(snapshot, i, pending !== undefined && !replacing);
    run.onBlock?.({ snapshot, plan });
    if (!plan) break;
    if (!plan.greeks.ok) greeksMismatches++;
    if (plan.sizing?.kind === "order") pending = plan.sizing.order;
    else if (replacing) {
      pending = undefined;
      waitedBlocks = 0;
      ledger.cancel(runGas, i, snapshot.spotWad);
    }
  }
  return { ...ledger.result(), measured, greeksMismatches, wallSeconds: (performance.now() - started) / 1000 };
}

/** The hedge's fill from its receipt (`Rebalanced`, `PerpHedged`), "margin" for a margin move, undefined for none. */
function fillOf(logs: readonly { address: Address; data: Hex; topics: readonly Hex[] }[], vault: Address, gasUsed: number): Fill | "margin" | undefined {
  for (const log of logs) {
    if (log.address.toLowerCase() !== vault.toLowerCase()) continue;
    try {
      const ev = decodeEventLog({ abi: optionVaultAbi, data: log.data, topics: log.topics as [Hex, ...Hex[]] });
      if (ev.eventName === "PerpMarginMoved") return "margin";
      if (ev.eventName === "PerpHedged") {
        const { sizeDeltaWad, fillPriceWad, fee, spotWad } = ev.args;
        return { buyUnderlying: sizeDeltaWad > 0n, amountIn: 0n, amountOut: 0n, spotWad, gasUsed, perp: { sizeDeltaWad, fillPriceWad, fee } };
      }
      if (ev.eventName !== "Rebalanced") continue;
      return { buyUnderlying: ev.args.buyUnderlying, amountIn: ev.args.amountIn, amountOut: ev.args.amountOut, spotWad: ev.args.spotWad, gasUsed };
    } catch {
      // another of the vault's events
    }
  }
  return undefined;
}

/** One path under one policy point on both engines: the fork's run and the model's from the fork's own start. */
export interface ForkModelPair {
  label: string;
  path: number;
  fork: ForkRun;
  model: RunMetrics;
}

/**
 * Every point over every path on the fork (reverting to the setup between runs) and on the model started from the
 * fork's vault and budget: the pairs the fork/model agreement is judged on, labelled "<point>, path <j>".
 */
export async function runForkAndModel(
  session: ForkSession,
  p: { scenario: Scenario; points: readonly PolicyPoint[]; paths: readonly ArrayLike<number>[]; gas: GasModel },
): Promise<ForkModelPair[]> {
  const pairs: ForkModelPair[] = [];
  for (const point of p.points) {
    for (let j = 0; j < p.paths.length; j++) {
      const path = p.paths[j]!;
      const fork = await runFork(session, { path, pathIndex: j, point, scenario: p.scenario });
      const model = runModel({ path, pathIndex: j, point, scenario: p.scenario, gas: p.gas, start: session.start, startBudget: session.startBudget });
      pairs.push({ label: `${point.label}, path ${j}`, path: j, fork, model });
    }
  }
  return pairs;
}
