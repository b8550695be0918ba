/**
 * Model mode: one path under one policy point, block by block, with the keeper's own `planBlock` (the same
 * policy, sizing and oracle checks the live keeper runs) on a snapshot the model builds instead of reads. Nothing
 * is assumed about the venue that the fork would measure differently except gas:
 *  - the pool is replayed exactly (bigint, `MockAmm`'s formulas and `MarketDriver.step`'s arbitrage);
 *  - a hedge is executed as the vault would: at the start of the next block, before the oracle update, against
 *    the vault's own rules (`checkRebalance`, spacing, oracle age), reverting where the vault would;
 *  - the book's Greeks are float64 Black–Scholes (the on-chain library agrees to ~1e-14);
 *  - gas per hedge comes from the gas model (`gas.ts`, calibrated on measured receipts).
 * Fork mode (`fork.ts`) runs the same loop on a chain; `test/sim/agreement.test.ts` holds the two together.
 */
import { greeks } from "../../keeper/pricing/blackScholes.ts";
import { wadToNumber } from "../../keeper/pricing/wad.ts";
import { checkRebalance } from "../../keeper/sizing/size.ts";
import { planBlock, updateHedgeAnchors, type HedgeAnchor, type PlanOptions, type VaultPlan } from "../../keeper/tick.ts";
import type { HedgeOrder, SeriesSnapshot, VaultSnapshot } from "../../keeper/types.ts";
import type { Address } from "viem";
import type { ReadResult } from "../../keeper/chain/readVaults.ts";
import { hedgeGas, type GasModel } from "./gas.ts";
import { Ledger } from "./ledger.ts";
import { realign, type Reserves } from "./market.ts";
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
   * Block i's time, seconds after the first block (strictly increasing; default i × blockSeconds). Uneven
   * clocks model a hedge landing soon after the price it was sized on (see test/sim/theory.test.ts).
   */
  times?: ArrayLike<number>;
}

/** Block i's timestamp: one block after `start`, then `times` (or the scenario's block time). */
export function blockTimestamp(start: VaultSnapshot, scenario: Scenario, i: number, times?: ArrayLike<number>): bigint {
  const offset = times === undefined ? i * scenario.blockSeconds : times[i]!;
  return start.timestamp + BigInt(scenario.blockSeconds + offset);
}

const NO_PENDING: ReadonlySet<Address> = new Set();
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
    greeksTolerance: 1e-6,
    pendingVaults: NO_PENDING,
    // The fork's Greeks come from the chain and are worth checking; the model's are the float model itself.
    crossCheckGreeks: false,
    maxOracleDeviationBps: 1000,
  };
}

/** The oracle answer (8 decimals) for a path price: what fork mode publishes, and the model trades against. */
export function answerOf(price: number): bigint {
  return BigInt(Math.round(price * 10 ** ORACLE_DECIMALS));
}

/** `ReadResult` around one snapshot, with the scenario's gas price as the block's base fee. */
export function readOf(snapshot: VaultSnapshot, baseFeePerGas: bigint): ReadResult {
  return {
    chain: {
      blockNumber: snapshot.blockNumber,
      timestamp: snapshot.timestamp,
      baseFeePerGas,
      chainId: 31337n,
      accountBalance: 0n,
    },
    vaults: [snapshot],
    failures: [],
  };
}

/**
 * The keeper's side of a run, block after block: the hedge anchors carried from one snapshot to the next, then
 * `planBlock` at the scenario's gas price. Both engines decide through it, so they cannot decide differently.
 */
export class RunPlanner {
  readonly #options: PlanOptions;
  readonly #gasPrice: bigint;
  #anchors = new Map<Address, HedgeAnchor>();

  /** `crossCheckGreeks`: on for chain-read snapshots (fork mode), off for the model's own. */
  constructor(point: PolicyPoint, scenario: Scenario, crossCheckGreeks = false) {
    this.#options = { ...planOptionsFor(point, scenario), crossCheckGreeks };
    this.#gasPrice = gasPriceWei(scenario);
  }

  plan(snapshot: VaultSnapshot): VaultPlan {
    this.#anchors = updateHedgeAnchors(this.#anchors, [snapshot]);
    this.#options.hedgeAnchors = this.#anchors;
    return planBlock(readOf(snapshot, this.#gasPrice), this.#options)[0]!;
  }
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
  const planner = new RunPlanner(run.point, scenario);
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
  let pending: HedgeOrder | undefined;
  let last: VaultSnapshot = init;
  const steps = path.length - 1;

  /** Book Greeks (wad, vault-signed) and value (quote) at a spot and time. */
  const book = (spot: number, timestamp: bigint) => {
    let delta = 0;
    let gamma = 0;
    let vega = 0;
    let value = 0;
    const series: SeriesSnapshot[] = [];
    for (let k = 0; k < init.book.length; k++) {
      const s = init.book[k]!;
      const tauSeconds = s.expiry > timestamp ? Number(s.expiry - timestamp) : 0;
      const g = greeks({ isCall: s.isCall, spot, strike: strikes[k]!, vol, tauSeconds, rate });
      const size = sizes[k]!;
      value += size * g.price;
      // Expired series carry no Greeks on chain (they await settlement).
      if (tauSeconds === 0) {
        series.push({ ...s, deltaWad: 0n, gammaWad: 0n, vegaWad: 0n, markWad: toWad(g.price) });
        continue;
      }
      delta += size * g.delta;
      gamma += size * g.gamma;
      vega += size * g.vega;
      series.push({
        ...s,
        deltaWad: toWad(size * g.delta),
        gammaWad: toWad(size * g.gamma),
        vegaWad: toWad(size * g.vega),
        markWad: toWad(g.price),
      });
    }
    return { deltaWad: toWad(delta), gammaWad: toWad(gamma), vegaWad: toWad(vega), value, series };
  };

  for (let i = 0; i <= steps; i++) {
    const blockNumber = init.blockNumber + BigInt(i + 1);
    const timestamp = blockTimestamp(init, scenario, i, run.times);

    // 1. Last block's hedge, first in this block: at the oracle it was decided on, at this block's time.
    if (pending) {
      const order = pending;
      pending = undefined;
      const firstHedge = hedgeBalance === 0n;
      const gasUsed = hedgeGas(run.gas, { liveSeries: init.book.length, firstHedge, buy: order.buyUnderlying });
      const tooSoon = blockNumber < lastRebalanceBlock + BigInt(init.hedge.minRebalanceInterval);
      const stale = timestamp - oracleUpdatedAt > BigInt(init.hedge.maxOracleAge);
      const atExecution: VaultSnapshot = {
        ...last,
        timestamp,
        netDeltaWad: book(wadToNumber(spotWad), timestamp).deltaWad + hedgeBalance * scaleU,
      };
      const check = checkRebalance(atExecution, order.buyUnderlying, order.amountIn, order.minAmountOut);
      if (tooSoon || stale || !check.ok) {
        ledger.revert(gasUsed, spotWad);
      } else {
        if (order.buyUnderlying) {
          reserves = { underlying: reserves.underlying - check.amountOut, quote: reserves.quote + order.amountIn };
          hedgeBalance += check.amountOut;
          cashBalance -= order.amountIn;
        } else {
          reserves = { underlying: reserves.underlying + order.amountIn, quote: reserves.quote - check.amountOut };
          hedgeBalance -= order.amountIn;
          cashBalance += check.amountOut;
        }
        lastRebalanceBlock = blockNumber;
        ledger.hedge({ buyUnderlying: order.buyUnderlying, amountIn: order.amountIn, amountOut: check.amountOut, spotWad, gasUsed });
      }
    }

    // 2. The market: the oracle publishes the path's price and the arbitrageur realigns the pool.
    const answer = answerOf(path[i]!);
    reserves = realign(reserves, answer, marketScale, fee).reserves;
    spotWad = answer * oracleToWad;
    oracleUpdatedAt = timestamp;

    // 3. The vault as the lens would report it after this block.
    const spot = wadToNumber(spotWad);
    const b = book(spot, timestamp);
    const snapshot: VaultSnapshot = {
      ...init,
      blockNumber,
      timestamp,
      bookDeltaWad: b.deltaWad,
      netDeltaWad: b.deltaWad + hedgeBalance * scaleU,
      gammaWad: b.gammaWad,
      vegaWad: b.vegaWad,
      hedgeBalance,
      cashBalance,
      spotWad,
      oracleUpdatedAt,
      oracleAgeSeconds: 0n,
      oracleFresh: true,
      ammReserveUnderlying: reserves.underlying,
      ammReserveQuote: reserves.quote,
      lastRebalanceBlock,
      nextRebalanceBlock: lastRebalanceBlock + BigInt(init.hedge.minRebalanceInterval),
      book: b.series,
    };
    last = snapshot;
    ledger.observe(snapshot, b.value);

    // 4. The keeper's decision (none after the last block: the run ends there).
    if (i === steps) break;
    const plan = planner.plan(snapshot);
    if (plan.sizing?.kind === "order") pending = plan.sizing.order;
  }
  return ledger.result();
}
