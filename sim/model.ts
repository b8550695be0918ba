/**
 * Model mode: one path under one policy point, block by block, with the keeper's own `planBlock` (the same
 * policy, sizing and oracle checks the live keeper runs) on a snapshot the model builds instead of reads. Nothing
 * is assumed about the venue that the fork would measure differently except gas:
 *  - the pool is replayed exactly (bigint, `MockAmm`'s formulas and `MarketDriver.step`'s arbitrage);
 *  - a hedge is executed as the vault would: at the start of the next block, before the oracle update, against
 *    the vault's own rules (`executeRebalance`: spacing and oracle age, then `checkRebalance` — the tolerance,
 *    the trade, the cash owed, the budget left — then the budget charge), reverting where the vault would, ledger
 *    unchanged, and otherwise charging the run's `BudgetLedger` exactly as `OptionVault._chargeBudget` does;
 *  - the book's Greeks are float64 Black–Scholes (the on-chain library agrees to ~1e-14);
 *  - gas per hedge comes from the gas model (`gas.ts`, calibrated on measured receipts).
 * Fork mode (`fork.ts`) runs the same loop on a chain; `test/sim/agreement.test.ts` holds the two together.
 */
import { greeks } from "../keeper/pricing/blackScholes.ts";
import * as perpModel from "../keeper/pricing/perp.ts";
import { numberToWad, tokenScale, wadToNumber } from "../keeper/pricing/wad.ts";
import { checkPerpHedge } from "../keeper/sizing/perpSize.ts";
import { budgetLeftWad, chargeBudget, EMPTY_LEDGER, tradeCostWad, type BudgetLedger } from "../keeper/sizing/budget.ts";
import { checkRebalance } from "../keeper/sizing/size.ts";
import { planBlock, updateHedgeAnchors, type HedgeAnchor, type PlanOptions, type VaultPlan } from "../keeper/tick.ts";
import { CONFIG_DEFAULTS } from "../keeper/config/table.ts";
import type { BlockInput, HedgeOrder, PerpSnapshot, SeriesSnapshot, VaultSnapshot } from "../keeper/types.ts";
import type { Address } from "viem";
import { freshSlots, hedgeGas, ledgerSlotWritten, marginMoveGas, perpHedgeGas, revertGas, type GasModel } from "./gas.ts";
import { Ledger } from "./ledger.ts";
import { realign, type Reserves } from "../harness/market.ts";
import { RunGas } from "./gasPrice.ts";
import { askPremium, salesOf, saleValue } from "./flow.ts";
import { gasPriceWei, initialSnapshot, MARKET_SCALE_EXPONENT, ORACLE_DECIMALS, type Scenario } from "./scenario.ts";
import type { PolicyPoint, RunMetrics } from "./types.ts";

export interface ModelRun {
  path: ArrayLike<number>;
  pathIndex: number;
  point: PolicyPoint;
  scenario: Scenario;
  gas: GasModel;
  /** The vault before the first block (default: `initialSnapshot(scenario)`; a fork's own when comparing). */
  start?: VaultSnapshot;
  /**
   * The vault's hedging-budget ledger at `start` (default: a vault that never rebalanced). The lens reports only
   * what is left; a fork reads the ledger itself (`ForkSession.startBudget`) so the model rolls it identically.
   */
  startBudget?: BudgetLedger;
  /** Called after every block with the vault as the lens would report it and the keeper's plan (none after the last block). */
  onBlock?: BlockObserver;
  /**
   * Block i's time, seconds after the first block (strictly increasing; default i × blockSeconds). Uneven
   * clocks model a hedge landing soon after the price it was sized on (see test/sim/theory.test.ts).
   */
  times?: ArrayLike<number>;
}

/** What an engine shows of each block: the vault after it, and the keeper's plan on it (none after the last block). */
export type BlockObserver = (block: { snapshot: VaultSnapshot; plan: VaultPlan | undefined }) => void;

/** Block i's timestamp: one block after `start`, then `times` (or the scenario's block time). */
export function blockTimestamp(start: VaultSnapshot, scenario: Scenario, i: number, times?: ArrayLike<number>): bigint {
  const offset = times === undefined ? i * scenario.blockSeconds : times[i]!;
  return start.timestamp + BigInt(scenario.blockSeconds + offset);
}

const NO_PENDING: ReadonlySet<Address> = new Set();
/** The keeper's REPLACE_AFTER_BLOCKS: a hedge waiting this many blocks is re-bid higher. */
const REPLACE_AFTER_BLOCKS = CONFIG_DEFAULTS.REPLACE_AFTER_BLOCKS;
const GWEI = 10n ** 9n;

/**
 * A model Greek as a wad, rounded to 1e-9 (a gwei of the underlying for a delta): far below anything a policy or
 * a token amount resolves, and it lets `wadToNumber` take its exact fast path, which halves the cost of a block.
 */
function toWad(x: number): bigint {
  return BigInt(Math.round(x * 1e9)) * GWEI;
}

/** The keeper's plan options for a point (shared with fork mode). */
export function planOptionsFor(point: PolicyPoint, scenario: Scenario): PlanOptions {
  return {
    policy: point.policy,
    prefs: point.prefs,
    maxSlippageBps: scenario.maxSlippageBps,
    minOutMarginBps: scenario.minOutMarginBps,
    tipWei: 0n,
    greeksTolerance: CONFIG_DEFAULTS.GREEKS_TOLERANCE,
    pendingVaults: NO_PENDING,
    // The fork's Greeks come from the chain and are worth checking; the model's are the float model itself.
    crossCheckGreeks: false,
    maxOracleDeviationBps: CONFIG_DEFAULTS.MAX_ORACLE_DEVIATION_BPS,
    // No hard delta limit: the simulator measures each policy's own cost/benefit trade-off, and its published
    // figures stay comparable. The live keeper's default (a band policy holds its band whatever the cost) is a
    // guarantee to the operator, not a policy to evaluate.
    maxAbsDelta: Number.POSITIVE_INFINITY,
    // Spacing judged in the block decided on, as the simulator always has. Both engines mine the hedge one block
    // later, so 1 would let them hedge in consecutive blocks as the live keeper does; it would also move every
    // published simulator figure, so that is a change of its own.
    landingOffsetBlocks: 0,
  };
}

/** The oracle answer (8 decimals) for a path price: what fork mode publishes, and the model trades against. */
export function answerOf(price: number): bigint {
  return BigInt(Math.round(price * 10 ** ORACLE_DECIMALS));
}

/** The block around one snapshot, as `planBlock` takes it, with the scenario's gas price as its base fee. */
export function readOf(snapshot: VaultSnapshot, baseFeePerGas: bigint, l1DataFeeWei = 0n): BlockInput {
  return {
    chain: { blockNumber: snapshot.blockNumber, timestamp: snapshot.timestamp, baseFeePerGas, ...(l1DataFeeWei > 0n ? { l1DataFeeWei } : {}) },
    vaults: [snapshot],
  };
}

/**
 * The keeper's side of a run, block after block: the hedge anchors carried from one snapshot to the next, then
 * `planBlock` at the scenario's gas price. Both engines decide through it, so they cannot decide differently.
 */
export class RunPlanner {
  readonly #options: PlanOptions;
  readonly #gas: RunGas;
  #anchors = new Map<Address, HedgeAnchor>();

  /** `crossCheckGreeks`: on for chain-read snapshots (fork mode), off for the model's own. */
  constructor(point: PolicyPoint, scenario: Scenario, gas: RunGas, crossCheckGreeks = false) {
    this.#options = { ...planOptionsFor(point, scenario), crossCheckGreeks };
    this.#gas = gas;
  }

  /**
   * The keeper's plan on block `block` of the run: its cost model at that block's base fee and median tip.
   * `pending`: a hedge of the vault is still waiting to be included, so the keeper sizes no other.
   */
  plan(snapshot: VaultSnapshot, block: number, pending = false): VaultPlan {
    this.#anchors = updateHedgeAnchors(this.#anchors, [snapshot]);
    this.#options.hedgeAnchors = this.#anchors;
    this.#options.pendingVaults = pending ? new Set([snapshot.vault]) : NO_PENDING;
    this.#options.tipWei = this.#gas.tipWei(block);
    return planBlock(readOf(snapshot, this.#gas.baseFeeWei(block), this.#gas.l1FeeWei(block)), this.#options)[0]!;
  }
}

/** The vault's state between blocks, as the model carries it (everything a rebalance reads or writes). */
export interface VaultState {
  /** The last snapshot: the pool, balances, spot and book the next block's hedge lands on. */
  last: VaultSnapshot;
  /** Net delta at the hedge's block (the book at that block's time, the oracle unchanged), wad. */
  netDeltaWad: bigint;
  oracleUpdatedAt: bigint;
  budget: BudgetLedger;
}

export type Execution =
  | { ok: true; amountOut: bigint; tradedWad: bigint; budget: BudgetLedger }
  /** The vault's (or its pool's) error, by name: `RebalanceTooSoon`, `DeltaWithinTolerance`, a `checkRebalance` error, `SlippageBudgetExceeded`… */
  | { ok: false; error: string };

/**
 * `OptionVault.rebalance(order)` in block `blockNumber` at `timestamp`, on `state`: the checks that depend on the
 * block (paused, spacing, the oracle's age), then everything the trade itself must pass, in the vault's order and
 * rounding, by the keeper's own mirror `checkRebalance` on the vault as it stands at that moment (|net delta|
 * above the tolerance, the hedge and cash held, the pool's output, size, slippage against the oracle, the delta
 * rule, the cash owed to settled holders, the budget left at this timestamp), then the budget charge
 * (`chargeBudget`, `_chargeBudget`'s mirror) that writes the ledger. When all pass: the pool's output and the
 * ledger after the charge. A refusal names the vault's error and leaves the ledger as it was, as a revert does.
 */
export function executeRebalance(state: VaultState, order: HedgeOrder, at: { blockNumber: bigint; timestamp: bigint }): Execution {
  const { last } = state;
  const hedge = last.hedge;
  const atExecution = vaultAtExecution(state, at);
  if (typeof atExecution === "string") return { ok: false, error: atExecution };
  const check = checkRebalance(atExecution, order.buyUnderlying, order.amountIn, order.minAmountOut);
  if (!check.ok) return { ok: false, error: check.error };
  const quoteWad = (order.buyUnderlying ? order.amountIn : check.amountOut) * tokenScale(last.quoteDecimals);
  const cost = tradeCostWad({ buy: order.buyUnderlying, tradedWad: check.tradedWad, quoteWad, spotWad: last.spotWad });
  const charge = chargeBudget(state.budget, hedge, at.timestamp, cost);
  if (!charge.ok) return { ok: false, error: charge.error };
  return { ok: true, amountOut: check.amountOut, tradedWad: check.tradedWad, budget: charge.ledger };
}

/**
 * The vault's perp position and its market in the model (formulas of `IPerpMarket`, in float64: the market has no
 * other trader, so its skew is the vault's position). Snapshots report it as the lens would, in token units.
 */
class PerpState {
  readonly #params: perpModel.PerpParams;
  readonly #base: PerpSnapshot;
  readonly #q: number;
  market: perpModel.PerpMarketState;
  position: perpModel.PerpPosition = { size: 0, margin: 0, entryPrice: 0, entryFundingPerUnit: 0, premiumCredit: 0 };

  constructor(base: PerpSnapshot, quoteDecimals: number, t0: number) {
    this.#base = base;
    this.#q = quoteDecimals;
    this.#params = perpModel.perpParamsFromChain(base.params, quoteDecimals);
    this.market = { skew: 0, lastFundingRate: 0, lastFundingTime: t0, lastFundingPerUnit: 0 };
  }

  /** `hedgePerp`'s trade: funding recomputed, the position settled at the fill; returns the fill and fee. */
  trade(sizeDelta: number, t: number, price: number): { fill: number; fee: number } {
    const r = perpModel.modifyPosition({ market: this.market, position: this.position, params: this.#params, t, price, sizeDelta });
    this.market = r.market;
    this.position = r.position;
    return { fill: r.fillPrice, fee: r.fee };
  }

  /** The lens's view at `t` and `price`. */
  snapshot(t: number, price: number): PerpSnapshot {
    const F = perpModel.accruedFundingPerUnit(this.market, this.#params, t, price);
    const v = perpModel.positionValue(this.position, this.#params, price, F);
    const units = (x: number) => BigInt(Math.round(x * 10 ** this.#q));
    const floor = (x: number) => BigInt(Math.floor(x * 10 ** this.#q));
    return {
      ...this.#base,
      sizeWad: numberToWad(this.position.size),
      margin: units(this.position.margin),
      pnl: floor(v.pnl),
      funding: floor(v.funding),
      remainingMargin: units(Math.max(0, v.remainingMargin)),
      maintenanceMargin: units(v.maintenanceMargin),
      premiumCredit: floor(this.position.premiumCredit ?? 0),
      liquidatable: this.position.size !== 0 && v.liquidatable,
      skewWad: numberToWad(this.market.skew),
      fundingRateWad: numberToWad(perpModel.fundingRate(this.market, this.#params, t)),
    };
  }
}

/**
 * The checks of a hedge that depend on the block it lands in (paused, spacing, the oracle's age), both venues';
 * then the vault as the hedge finds it: `state`'s net delta, at the block's number and time, with the budget left
 * at that time (the windows may have rolled since the last block). Returns the error's name when a check fails.
 */
function vaultAtExecution(state: VaultState, at: { blockNumber: bigint; timestamp: bigint }): VaultSnapshot | string {
  const { last } = state;
  const hedge = last.hedge;
  if (last.paused) return "VaultPaused";
  if (at.blockNumber < last.lastRebalanceBlock + BigInt(hedge.minRebalanceInterval)) return "RebalanceTooSoon";
  if (at.timestamp - state.oracleUpdatedAt > BigInt(hedge.maxOracleAge)) return "StaleOracle";
  return {
    ...last,
    blockNumber: at.blockNumber,
    timestamp: at.timestamp,
    netDeltaWad: state.netDeltaWad,
    ...budgetLeftWad(state.budget, hedge, at.timestamp),
  };
}

/**
 * `OptionVault.hedgePerp(sizeDeltaWad)` in block `blockNumber` at `timestamp`, as `executeRebalance` does for the
 * AMM: the block's checks, then the keeper's own mirror `checkPerpHedge` on the vault and its position at that
 * moment (the vault's exact margin rule), then the budget charge. The trade itself is the caller's (`PerpState`).
 */
export function executePerpHedge(
  state: VaultState & { perp: PerpSnapshot },
  sizeDeltaWad: bigint,
  at: { blockNumber: bigint; timestamp: bigint },
): { ok: true; budget: BudgetLedger } | { ok: false; error: string } {
  const { last } = state;
  const hedge = last.hedge;
  const atBlock = vaultAtExecution(state, at);
  if (typeof atBlock === "string") return { ok: false, error: atBlock };
  const atExecution: VaultSnapshot = { ...atBlock, perp: state.perp };
  const check = checkPerpHedge(atExecution, sizeDeltaWad, undefined, false);
  if (!check.ok) return { ok: false, error: check.error };
  const charge = chargeBudget(state.budget, hedge, at.timestamp, { notionalWad: check.notionalWad, slippageWad: check.slippageWad });
  if (!charge.ok) return { ok: false, error: charge.error };
  return { ok: true, budget: charge.ledger };
}

export function runModel(run: ModelRun): RunMetrics {
  const { scenario, path } = run;
  const init = run.start ?? initialSnapshot(scenario);
  const scaleU = 10n ** BigInt(18 - init.underlyingDecimals);
  const oracleToWad = 10n ** BigInt(18 - ORACLE_DECIMALS);
  const marketScale = 10n ** BigInt(MARKET_SCALE_EXPONENT);
  const fee = init.ammFeeBps;
  const gasPrice = gasPriceWei(scenario);
  const vol = wadToNumber(init.risk.volWad);
  const rate = wadToNumber(init.risk.rateWad);
  const strikes = init.book.map((s) => wadToNumber(s.strikeWad));
  const sizes = init.book.map((s) => wadToNumber(s.sizeWad));
  // The book's sizes as the chain holds them: the flow's sales (scenario.flow) add to the shorts along the path.
  const sizeWads = init.book.map((s) => s.sizeWad);
  const sales = scenario.flow === undefined ? [] : salesOf(scenario.flow, { steps: path.length - 1, path: run.pathIndex, seriesCount: init.book.length });
  let nextSale = 0;
  const runGas = new RunGas(scenario, run.pathIndex);
  const planner = new RunPlanner(run.point, scenario, runGas);
  const ledger = new Ledger({
    pathIndex: run.pathIndex,
    gasPriceWei: gasPrice,
    quoteDecimals: init.quoteDecimals,
    underlyingDecimals: init.underlyingDecimals,
    ammFeeBps: Number(fee),
  });

  let reserves: Reserves = { underlying: init.ammReserveUnderlying, quote: init.ammReserveQuote };
  let hedgeBalance = init.hedgeBalance;
  let cashBalance = init.cashBalance;
  let lastRebalanceBlock = init.lastRebalanceBlock;
  let spotWad = init.spotWad;
  let oracleUpdatedAt = init.oracleUpdatedAt;
  let budget = run.startBudget ?? EMPTY_LEDGER;
  let ledgerWritten = ledgerSlotWritten(init.lastRebalanceBlock, budget);
  let pending: HedgeOrder | undefined;
  /** Blocks the pending hedge has waited for a full block to take it (its replacements: one per REPLACE_AFTER_BLOCKS). */
  let waitedBlocks = 0;
  let last: VaultSnapshot = init;
  const steps = path.length - 1;
  if (init.perp !== undefined && (init.perp.sizeWad !== 0n || init.perp.margin !== 0n)) {
    throw new Error("the model starts a perp vault with no position and no margin: the start snapshot has some");
  }
  const perp = init.perp === undefined ? undefined : new PerpState(init.perp, init.quoteDecimals, Number(init.timestamp));
  const quoteScale = 10 ** init.quoteDecimals;
  const perpSizeWad = () => (perp === undefined ? 0n : numberToWad(perp.position.size));

  /** Book Greeks (wad, vault-signed) and value (quote) at a spot and time. */
  const book = (spot: number, timestamp: bigint) => {
    let delta = 0;
    let gamma = 0;
    let vega = 0;
    let value = 0;
    let expired = false;
    const series: SeriesSnapshot[] = [];
    for (let k = 0; k < init.book.length; k++) {
      const s = init.book[k]!;
      const tauSeconds = s.expiry > timestamp ? Number(s.expiry - timestamp) : 0;
      const g = greeks({ isCall: s.isCall, spot, strike: strikes[k]!, vol, tauSeconds, rate });
      const size = sizes[k]!;
      value += size * g.price;
      const sizeWad = sizeWads[k]!;
      // Expired series carry no Greeks on chain (they await settlement).
      if (tauSeconds === 0) {
        if (sizeWad !== 0n) expired = true;
        series.push({ ...s, sizeWad, deltaWad: 0n, gammaWad: 0n, vegaWad: 0n, markWad: toWad(g.price) });
        continue;
      }
      delta += size * g.delta;
      gamma += size * g.gamma;
      vega += size * g.vega;
      series.push({
        ...s,
        sizeWad,
        deltaWad: toWad(size * g.delta),
        gammaWad: toWad(size * g.gamma),
        vegaWad: toWad(size * g.vega),
        markWad: toWad(g.price),
      });
    }
    return { deltaWad: toWad(delta), gammaWad: toWad(gamma), vegaWad: toWad(vega), value, series, expired };
  };

  for (let i = 0; i <= steps; i++) {
    const blockNumber = init.blockNumber + BigInt(i + 1);
    const timestamp = blockTimestamp(init, scenario, i, run.times);

    // 1. Last block's hedge, first in this block: at the oracle it was decided on, at this block's time — unless the
    // base fee is above the keeper's cap, when it is not sent (the keeper decides again on this block).
    // A full block whose median tip the keeper's bid is under does not take the hedge: it waits, pending, and is
    // re-bid FEE_BUMP_PERCENT higher every REPLACE_AFTER_BLOCKS blocks, as the keeper replaces a stuck hedge.
    let waiting: HedgeOrder | undefined;
    if (pending !== undefined) {
      const landing = runGas.landing(i, Math.floor(waitedBlocks / REPLACE_AFTER_BLOCKS));
      if (landing === undefined) {
        pending = undefined;
        waitedBlocks = 0;
        ledger.feeCapHold();
      } else if (!landing.included) {
        waiting = pending;
        pending = undefined;
        waitedBlocks++;
        ledger.delayed();
      } else {
        waitedBlocks = 0;
        ledger.setGasPrice(landing.priceWei, landing.l1FeeWei);
      }
    }
    if (pending?.margin !== undefined && perp !== undefined) {
      // A margin move: postPerpMargin from cash beyond unclaimed payouts, withdrawPerpMargin up to the margin.
      const { direction, amount } = pending.margin;
      pending = undefined;
      const units = Number(amount) / quoteScale;
      if (direction === "post" && amount <= cashBalance - last.pendingPayouts) {
        cashBalance -= amount;
        perp.position.margin += units;
      } else if (direction === "withdraw" && units <= perp.position.margin) {
        cashBalance += amount;
        perp.position.margin -= units;
      }
      ledger.gasOnly(marginMoveGas(run.gas, init.book.length), spotWad);
    } else if (pending?.perp !== undefined && perp !== undefined) {
      const order = pending;
      pending = undefined;
      // The first perp trade writes the position's slots (and, on a vault that never hedged, the budget ledger).
      const gasUsed = perpHedgeGas(run.gas, { liveSeries: init.book.length, first: perp.position.size === 0 && perp.position.entryPrice === 0 });
      const spot = wadToNumber(spotWad);
      const done = executePerpHedge(
        { last, netDeltaWad: book(spot, timestamp).deltaWad + hedgeBalance * scaleU + perpSizeWad(), oracleUpdatedAt, budget, perp: perp.snapshot(Number(timestamp), spot) },
        order.perp!.sizeDeltaWad,
        { blockNumber, timestamp },
      );
      if (!done.ok) {
        ledger.revert(gasUsed, spotWad);
      } else {
        const { fill, fee } = perp.trade(wadToNumber(order.perp!.sizeDeltaWad), Number(timestamp), spot);
        lastRebalanceBlock = blockNumber;
        budget = done.budget;
        ledgerWritten = true;
        ledger.hedge({
          buyUnderlying: order.buyUnderlying,
          amountIn: 0n,
          amountOut: 0n,
          spotWad,
          gasUsed,
          perp: { sizeDeltaWad: order.perp!.sizeDeltaWad, fillPriceWad: numberToWad(fill), fee: BigInt(Math.ceil(fee * quoteScale)) },
        });
      }
    } else if (pending) {
      const order = pending;
      pending = undefined;
      const gasUsed = hedgeGas(run.gas, {
        liveSeries: init.book.length,
        freshSlots: freshSlots({ ledgerWritten, hedgeBalance, buy: order.buyUnderlying }),
        buy: order.buyUnderlying,
      });
      const netDeltaWad = book(wadToNumber(spotWad), timestamp).deltaWad + hedgeBalance * scaleU + perpSizeWad();
      const done = executeRebalance({ last, netDeltaWad, oracleUpdatedAt, budget }, order, { blockNumber, timestamp });
      if (!done.ok) {
        // A revert stops where its check is: its gas by the error (a hedge that landed late on a moved market).
        const fresh = freshSlots({ ledgerWritten, hedgeBalance, buy: order.buyUnderlying });
        ledger.revert(revertGas(run.gas, { liveSeries: init.book.length, freshSlots: fresh, buy: order.buyUnderlying }, done.error), spotWad);
      } else {
        if (order.buyUnderlying) {
          reserves = { underlying: reserves.underlying - done.amountOut, quote: reserves.quote + order.amountIn };
          hedgeBalance += done.amountOut;
          cashBalance -= order.amountIn;
        } else {
          reserves = { underlying: reserves.underlying + order.amountIn, quote: reserves.quote - done.amountOut };
          hedgeBalance -= order.amountIn;
          cashBalance += done.amountOut;
        }
        lastRebalanceBlock = blockNumber;
        budget = done.budget;
        ledgerWritten = true;
        ledger.hedge({ buyUnderlying: order.buyUnderlying, amountIn: order.amountIn, amountOut: done.amountOut, spotWad, gasUsed });
      }
    }

    // 2. The market: the oracle publishes the path's price and the arbitrageur realigns the pool.
    const answer = answerOf(path[i]!);
    reserves = realign(reserves, answer, marketScale, fee).reserves;
    spotWad = answer * oracleToWad;
    oracleUpdatedAt = timestamp;

    // 2b. Buyers: the flow's sales in this block, at the new oracle price (the vault's premium into its cash).
    const spot = wadToNumber(spotWad);
    for (; nextSale < sales.length && sales[nextSale]!.block === i; nextSale++) {
      const sale = sales[nextSale]!;
      const s = init.book[sale.series]!;
      const terms = { isCall: s.isCall, spot, strike: strikes[sale.series]!, vol, rate, tauSeconds: Number(s.expiry - timestamp), size: sale.size };
      sizes[sale.series]! -= sale.size;
      sizeWads[sale.series]! -= numberToWad(sale.size);
      cashBalance += BigInt(Math.ceil(askPremium({ ...terms, charges: init.risk, stressUpBps: scenario.limits.stressUpBps }) * quoteScale));
      ledger.sold(saleValue(terms));
    }

    // 3. The vault as the lens would report it after this block.
    const b = book(spot, timestamp);
    const snapshot: VaultSnapshot = {
      ...init,
      blockNumber,
      timestamp,
      bookDeltaWad: b.deltaWad,
      netDeltaWad: b.deltaWad + hedgeBalance * scaleU + perpSizeWad(),
      gammaWad: b.gammaWad,
      vegaWad: b.vegaWad,
      hedgeBalance,
      cashBalance,
      spotWad,
      oracleUpdatedAt,
      oracleAgeSeconds: 0n,
      oracleFresh: true,
      oracleStatus: "Usable",
      ammReserveUnderlying: reserves.underlying,
      ammReserveQuote: reserves.quote,
      lastRebalanceBlock,
      nextRebalanceBlock: lastRebalanceBlock + BigInt(init.hedge.minRebalanceInterval),
      ...budgetLeftWad(budget, init.hedge, timestamp),
      settlementPending: b.expired,
      book: b.series,
      ...(perp === undefined ? {} : { perp: perp.snapshot(Number(timestamp), spot) }),
    };
    last = snapshot;
    ledger.observe(snapshot, b.value);

    // 4. The keeper's decision (none after the last block: the run ends there); a hedge still waiting to be
    // included keeps its vault pending, so the keeper plans no other.
    // Every REPLACE_AFTER_BLOCKS of waiting the keeper replaces it: a fresh plan, ignoring it, either sizes a new
    // order (sent at the same nonce, re-bid higher) or wants none (a cancel takes the nonce: its gas is charged).
    pending ??= waiting;
    const replacing = waiting !== undefined && waitedBlocks % REPLACE_AFTER_BLOCKS === 0;
    const plan = i === steps ? undefined : planner.plan(snapshot, i, pending !== undefined && !replacing);
    run.onBlock?.({ snapshot, plan });
    if (plan?.sizing?.kind === "order") pending = plan.sizing.order;
    else if (replacing && plan !== undefined) {
      pending = undefined;
      waitedBlocks = 0;
      ledger.cancel(runGas, i, spotWad);
    }
  }
  return ledger.result();
}
