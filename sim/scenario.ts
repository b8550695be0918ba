/**
 * What is simulated: the vault (its book of sold options, pricing and hedge bounds), the pool it hedges on, the
 * gas price, and the block clock; and the sweep of policy points run over it. Both modes start from the same
 * scenario: fork mode deploys it, model mode builds its first snapshot with `initialSnapshot`.
 */
import type { GasSource } from "./gasPrice.ts";
import { checkFlow, type FlowScenario } from "./flow.ts";
import { greeks, SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";
import { numberToWad, wadToNumber } from "../keeper/pricing/wad.ts";
import { budgetLeftWad, EMPTY_LEDGER } from "../keeper/sizing/budget.ts";
import type { PerpParamsOnChain } from "../keeper/pricing/perp.ts";
import type { BookLimits, HedgeBounds, PerpSnapshot, PolicyConfig, RiskParams, VaultSnapshot } from "../keeper/types.ts";
import {
  DEFAULT_BOOK_LIMITS,
  DEFAULT_HEDGE_PARAMS,
  DEFAULT_PERP_MARGIN_BOUNDS,
  DEFAULT_PERP_PARAMS,
  DEFAULT_RISK_PARAMS,
  ORACLE_DECIMALS,
  QUOTE_DECIMALS,
  UNDERLYING_DECIMALS,
} from "../harness/system.ts";
import type { PolicyFamily, PolicyPoint } from "./types.ts";

/** One series the vault has sold: strike as a multiple of the starting spot, expiry in days from the start. */
export interface SeriesSpec {
  isCall: boolean;
  moneyness: number;
  expiryDays: number;
  /** Options sold (underlying units). */
  size: number;
}

export interface Scenario {
  /** Starting price, quote per underlying: paths start here, strikes are set against it. */
  spot: number;
  /** Chain seconds per block (path step). */
  blockSeconds: number;
  /** Blocks per path. */
  steps: number;
  /** The vault's pricing volatility and rate (its Greeks use these). */
  vol: number;
  rate: number;
  book: readonly SeriesSpec[];
  /** Pool depth (underlying units; the quote side is spot × this) and fee. */
  ammDepth: number;
  ammFeeBps: number;
  /**
   * Gas price every hedge pays (base fee + tip), gwei; the native token is the underlying. Used when `gas` is
   * absent: the simulator's original constant gas.
   */
  gasPriceGwei: number;
  /** Gas that moves (issue 15): a base fee and a tip per block, and the keeper's fee caps. */
  gas?: GasScenario;
  /** The vault's rebalance bounds and hedging budget (`IOptionVault.HedgeParams`). */
  hedge: HedgeBounds;
  /** The vault's premium and share-price charges: its `RiskParams` beyond `vol` and `rate`. */
  charges: Omit<RiskParams, "volWad" | "rateWad">;
  /** The vault's collateral and size limits: the book sold at setup must pass them. */
  limits: BookLimits;
  /** γ for the mean-variance comparison (the best fixed band) and the centre of the γ sweeps, per quote unit. */
  riskAversion: number;
  /** Horizon over which sizing values a hedge (the keeper's RISK_HORIZON_SECONDS). */
  horizonSeconds: number;
  /** The keeper's own slippage bound and minOut margin. */
  maxSlippageBps: number;
  minOutMarginBps: number;
  /** Quote deposited into the vault. */
  vaultDeposit: number;
  /**
   * Whether the vault starts delta-neutral (it hedged when it sold the book, as vaults do): the sweep then
   * measures the dynamic hedging alone, not the one opening trade every policy pays alike. On the AMM only (a long
   * delta, which needs a short, starts unhedged).
   */
  startHedged: boolean;
  /** A perp market beside the AMM (issue 14): the keeper chooses the venue. Absent: the AMM only. */
  perp?: PerpScenario;
  /** Option buyers along the path (sim/flow.ts): the book takes new trades. Absent: the book sold at the start only. */
  flow?: FlowScenario;
}

/**
 * Moving gas: the base-fee source, the seed its draws use (with the path index: the Philox stream of the path), and
 * the keeper's caps (`MAX_FEE_GWEI`, `MAX_PRIORITY_FEE_GWEI`; defaults 100 and 2). A hedge is sent with the
 * keeper's fees for the block it lands in (`computeFees`: twice the base fee plus the tip, capped), so a base fee
 * above the cap holds it back, as it would live.
 */
export interface GasScenario {
  source: GasSource;
  seed: number;
  maxFeeGwei: number;
  maxPriorityFeeGwei: number;
}

/** The perp market of a scenario: its parameters, its pool (quote), and the vault's margin bounds. */
export interface PerpScenario {
  params: PerpParamsOnChain;
  pool: number;
  minMarginBps: number;
  maxMarginBps: number;
}

/** The deployment's perp market and bounds (`harness/system.ts`), with a 1,000,000 pool. */
export const DEFAULT_PERP_SCENARIO: PerpScenario = Object.freeze({
  params: Object.freeze({ ...DEFAULT_PERP_PARAMS }),
  pool: 1_000_000,
  ...DEFAULT_PERP_MARGIN_BOUNDS,
}) as PerpScenario;

/** The perp market's address in the model's snapshots (the fork reads its own). */
export const MODEL_PERP_MARKET = "0x00000000000000000000000000000000000005a2" as const;

// The deployment's token and feed decimals (one table: harness/system.ts).
export { ORACLE_DECIMALS, QUOTE_DECIMALS, UNDERLYING_DECIMALS };
/** 10^(underlying − quote + oracle decimals): `MarketDriver`'s scale. */
export const MARKET_SCALE_EXPONENT = UNDERLYING_DECIMALS - QUOTE_DECIMALS + ORACLE_DECIMALS;

const { volWad: _vol, rateWad: _rate, ...DEFAULT_CHARGES } = DEFAULT_RISK_PARAMS;

/**
 * The default: an ETH vault that has sold 100 one-week at-the-money calls, hedging on a 10,000 ETH pool with a
 * 30 bps fee, gas at 20 gwei, 12 s blocks, 1,000 blocks (3 h 20 min) per path; the vault's parameters are the
 * deployment defaults (`harness/system.ts`), its volatility the path's.
 *
 * The hedging budget is the deployment default too — 3,000,000 of notional and 10,000 of slippage per 24 h — and
 * in this scenario it does not bind, so the sweep compares the policies rather than the budget: a whole path
 * (3 h 20 min) counts against one budget (the vault caps the current plus the previous window), and the busiest
 * point of the default sweep (every block, min trade at the vault's tolerance) trades about 100 ETH (300,000 of
 * notional) for about 900 of fee and impact per path, its worst path 11% of the budget (`maxBudgetUse` in
 * points.csv, for every point). A vault that hedged like that all day would need about 2,200,000 and 6,500 per
 * 24 h: the default leaves room. `test/sim/budget.test.ts` runs a budget that binds.
 */
export const DEFAULT_SCENARIO: Scenario = Object.freeze({
  spot: 3000,
  blockSeconds: 12,
  steps: 1000,
  vol: 0.8,
  rate: 0,
  book: Object.freeze([{ isCall: true, moneyness: 1, expiryDays: 7, size: 100 }]),
  ammDepth: 10_000,
  ammFeeBps: 30,
  gasPriceGwei: 20,
  hedge: Object.freeze({ ...DEFAULT_HEDGE_PARAMS }),
  charges: Object.freeze(DEFAULT_CHARGES),
  limits: Object.freeze({ ...DEFAULT_BOOK_LIMITS }),
  riskAversion: 0.1,
  horizonSeconds: 3600,
  maxSlippageBps: 100,
  minOutMarginBps: 10,
  vaultDeposit: 2_000_000,
  startHedged: true,
}) as Scenario;

/**
 * The books that need the perp: 100 one-week at-the-money puts sold (a long delta: the keeper goes short on the
 * perp), and 50 calls with 50 puts at the money (a delta that crosses zero as the price moves). Both start
 * unhedged: the opening hedge is part of every run.
 */
export const PUT_BOOK_SCENARIO: Scenario = Object.freeze({
  ...DEFAULT_SCENARIO,
  book: Object.freeze([{ isCall: false, moneyness: 1, expiryDays: 7, size: 100 }]),
  perp: DEFAULT_PERP_SCENARIO,
  startHedged: false,
}) as Scenario;
export const MIXED_BOOK_SCENARIO: Scenario = Object.freeze({
  ...DEFAULT_SCENARIO,
  book: Object.freeze([
    { isCall: true, moneyness: 1, expiryDays: 7, size: 50 },
    { isCall: false, moneyness: 1, expiryDays: 7, size: 50 },
  ]),
  perp: DEFAULT_PERP_SCENARIO,
  startHedged: false,
}) as Scenario;

/** The scenario's perp market as the lens would report it at the start: no position, no margin, no skew. */
export function initialPerpSnapshot(p: PerpScenario): PerpSnapshot {
  return {
    market: MODEL_PERP_MARKET,
    priced: true,
    sizeWad: 0n,
    margin: 0n,
    pnl: 0n,
    funding: 0n,
    remainingMargin: 0n,
    maintenanceMargin: 0n,
    premiumCredit: 0n,
    liquidatable: false,
    params: p.params,
    skewWad: 0n,
    fundingRateWad: 0n,
    pool: BigInt(Math.round(p.pool)) * 10n ** BigInt(QUOTE_DECIMALS),
    minMarginBps: p.minMarginBps,
    maxMarginBps: p.maxMarginBps,
  };
}

/** Rejects scenarios the vault could not run, naming the field. */
export function checkScenario(s: Scenario): void {
  const positive = { spot: s.spot, blockSeconds: s.blockSeconds, vol: s.vol, ammDepth: s.ammDepth };
  for (const [name, v] of Object.entries(positive)) {
    if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`scenario.${name} must be a positive number, got ${v}`);
  }
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new RangeError(`scenario.steps must be a positive integer, got ${s.steps}`);
  if (!(s.gasPriceGwei >= 0)) throw new RangeError(`scenario.gasPriceGwei must be ≥ 0, got ${s.gasPriceGwei}`);
  if (s.gas !== undefined) {
    if (!(s.gas.maxFeeGwei > 0) || !(s.gas.maxPriorityFeeGwei >= 0) || s.gas.maxPriorityFeeGwei > s.gas.maxFeeGwei) {
      throw new RangeError(`scenario.gas: need maxFeeGwei > 0 and 0 ≤ maxPriorityFeeGwei ≤ maxFeeGwei, got ${s.gas.maxFeeGwei} and ${s.gas.maxPriorityFeeGwei}`);
    }
    if (!Number.isInteger(s.gas.seed)) throw new RangeError(`scenario.gas.seed must be an integer, got ${s.gas.seed}`);
  }
  if (s.book.length === 0) throw new RangeError("scenario.book is empty: the vault has nothing to hedge");
  const pathDays = (s.steps * s.blockSeconds) / 86_400;
  for (const series of s.book) {
    if (!(series.expiryDays > 0) || !(series.moneyness > 0) || !(series.size > 0)) {
      throw new RangeError(`scenario.book: expiryDays, moneyness and size must be positive (${JSON.stringify(series)})`);
    }
  }
  const first = Math.min(...s.book.map((b) => b.expiryDays));
  if (pathDays > first) {
    throw new RangeError(
      `a path of ${s.steps} blocks × ${s.blockSeconds} s lasts ${pathDays.toFixed(2)} days, past the first expiry ` +
        `(${first} days): shorten the path or lengthen the options`,
    );
  }
  const h = s.hedge;
  if (!Number.isInteger(h.budgetWindowSeconds) || h.budgetWindowSeconds < 600 || h.budgetWindowSeconds > 30 * 86_400) {
    throw new RangeError(`scenario.hedge.budgetWindowSeconds must be an integer in [600, 2592000] (the vault's range), got ${h.budgetWindowSeconds}`);
  }
  for (const [name, v] of Object.entries({ notionalBudget: h.notionalBudget, slippageBudget: h.slippageBudget })) {
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 32 - 1) {
      throw new RangeError(`scenario.hedge.${name} must be an integer in [1, 2^32 − 1] whole quote units, got ${v}`);
    }
  }
  checkBookAgainstLimits(s);
  if (s.flow !== undefined) {
    checkFlow(s.flow);
    // The flow may land all of its sales on any one series: the vault must be able to sell each such book.
    const extra = s.flow.maxTotal;
    if (extra > 0) {
      s.book.forEach((_, k) => {
        try {
          checkBookAgainstLimits({ ...s, book: s.book.map((b, j) => (j === k ? { ...b, size: b.size + extra } : b)) });
        } catch (err) {
          throw new RangeError(`scenario.flow: with maxTotal ${extra} sold on series ${k}: ${(err as Error).message}`);
        }
      });
    }
  }
}

/**
 * The vault's sale checks on the scenario's book (`OptionVaultExtension.openPosition`), so the model never runs a
 * vault the chain would not let sell its book: each position at least `minPositionWad`, open interest within its
 * caps, and — premiums aside, so slightly stricter than the chain — the deposit covering what the book pays at
 * price 0 (puts) and at the stress price H = max(spot, highest strike)·(1 + stressUpBps) (calls) within
 * `maxUtilizationBps`.
 */
function checkBookAgainstLimits(s: Scenario): void {
  const l = s.limits;
  const minPosition = wadToNumber(l.minPositionWad);
  let openInterest = 0;
  for (const b of s.book) {
    if (b.size < minPosition) throw new RangeError(`scenario.book: a position of ${b.size} is below the vault's minPositionWad (${minPosition})`);
    if (b.size > wadToNumber(l.maxSeriesOpenInterestWad)) {
      throw new RangeError(`scenario.book: ${b.size} options of one series exceed maxSeriesOpenInterestWad (${wadToNumber(l.maxSeriesOpenInterestWad)})`);
    }
    openInterest += b.size;
  }
  if (openInterest > wadToNumber(l.maxOpenInterestWad)) {
    throw new RangeError(`scenario.book: ${openInterest} options in all exceed maxOpenInterestWad (${wadToNumber(l.maxOpenInterestWad)})`);
  }
  const needed = minVaultDeposit(s);
  if (s.vaultDeposit < needed) {
    throw new RangeError(
      `scenario.vaultDeposit ${s.vaultDeposit} is too small for the book: the vault's collateral rule needs at least ` +
        `${Math.ceil(needed)} (what the book pays at the stress price or at 0, within maxUtilizationBps)`,
    );
  }
}

/**
 * The least capital that lets the vault sell the scenario's book (premiums aside): what the book pays at price 0
 * (puts) or at the stress price H = max(spot, highest strike)·(1 + stressUpBps) (calls), over `maxUtilizationBps`.
 */
export function minVaultDeposit(s: Pick<Scenario, "spot" | "book" | "limits">): number {
  const highestStrike = Math.max(s.spot, ...s.book.map((b) => s.spot * b.moneyness));
  const high = highestStrike * (1 + s.limits.stressUpBps / 10_000);
  let atZero = 0;
  let atHigh = 0;
  for (const b of s.book) {
    const strike = s.spot * b.moneyness;
    if (b.isCall) atHigh += (high - strike) * b.size;
    else atZero += strike * b.size;
  }
  return (Math.max(atZero, atHigh) * 10_000) / s.limits.maxUtilizationBps;
}

/** Gas price in wei. */
export function gasPriceWei(s: Scenario): bigint {
  return BigInt(Math.round(s.gasPriceGwei * 1e9));
}

/** The per-block standard deviation of the book's delta at the start: |Γ|·S·σ·√dt (underlying units). */
export function deltaStepStd(s: Scenario): number {
  let gamma = 0;
  for (const b of s.book) {
    gamma += b.size * greeks({
      isCall: b.isCall,
      spot: s.spot,
      strike: s.spot * b.moneyness,
      vol: s.vol,
      tauSeconds: b.expiryDays * 86_400,
      rate: s.rate,
    }).gamma;
  }
  return gamma * s.spot * s.vol * Math.sqrt(s.blockSeconds / SECONDS_PER_YEAR);
}

/**
 * The vault before the first block, as the lens would report it right after deployment: the pool at the spot,
 * the book just sold and, with `startHedged`, its delta hedged (underlying held, so the first block is neutral). Timestamps and block numbers are arbitrary but fixed. Expiries count from the
 * first simulated block (one block after this snapshot), so a path of `expiryDays` ends exactly at expiry.
 */
export function initialSnapshot(s: Scenario, start = { blockNumber: 100n, timestamp: 1_700_000_000n }): VaultSnapshot {
  const spotWad = numberToWad(s.spot);
  const answer = BigInt(Math.round(s.spot * 10 ** ORACLE_DECIMALS));
  const book = s.book.map((b, i) => ({
    id: `0x${(i + 1).toString(16).padStart(64, "0")}` as const,
    isCall: b.isCall,
    strikeWad: numberToWad(s.spot * b.moneyness),
    expiry: start.timestamp + BigInt(s.blockSeconds) + BigInt(Math.round(b.expiryDays * 86_400)),
    sizeWad: -numberToWad(b.size),
    deltaWad: 0n,
    gammaWad: 0n,
    vegaWad: 0n,
    markWad: 0n,
  }));
  // Opening hedge: the book's delta at the first block (τ = expiryDays exactly), bought before it.
  let bookDelta = 0;
  for (const b of s.book) {
    const strike = s.spot * b.moneyness;
    bookDelta -= b.size * greeks({ isCall: b.isCall, spot: s.spot, strike, vol: s.vol, tauSeconds: b.expiryDays * 86_400, rate: s.rate }).delta;
  }
  const hedgeBalance = s.startHedged && bookDelta < 0 ? BigInt(Math.round(-bookDelta * 1e18)) : 0n;
  return {
    vault: "0x00000000000000000000000000000000000005a1",
    blockNumber: start.blockNumber,
    timestamp: start.timestamp,
    bookDeltaWad: 0n,
    netDeltaWad: 0n,
    gammaWad: 0n,
    vegaWad: 0n,
    hedgeBalance,
    cashBalance: BigInt(Math.round(s.vaultDeposit)) * 10n ** BigInt(QUOTE_DECIMALS),
    spotWad: answer * 10n ** BigInt(18 - ORACLE_DECIMALS),
    oracleUpdatedAt: start.timestamp,
    oracleAgeSeconds: 0n,
    oracleFresh: true,
    ammReserveUnderlying: BigInt(Math.round(s.ammDepth)) * 10n ** BigInt(UNDERLYING_DECIMALS),
    ammReserveQuote: BigInt(Math.round(s.ammDepth * s.spot)) * 10n ** BigInt(QUOTE_DECIMALS),
    ammFeeBps: BigInt(s.ammFeeBps),
    lastRebalanceBlock: 0n,
    nextRebalanceBlock: BigInt(s.hedge.minRebalanceInterval),
    // A vault that never hedged: the whole budget is left.
    ...budgetLeftWad(EMPTY_LEDGER, s.hedge, start.timestamp),
    pendingPayouts: 0n,
    oracleStatus: "Usable",
    settlementPending: false,
    paused: false,
    hedge: s.hedge,
    risk: riskParams(s),
    book,
    quoteDecimals: QUOTE_DECIMALS,
    underlyingDecimals: UNDERLYING_DECIMALS,
    ...(s.perp ? { perp: initialPerpSnapshot(s.perp) } : {}),
  };
}

/** The vault's pricing parameters: the scenario's volatility and rate, and its charges. */
export function riskParams(s: Scenario): RiskParams {
  return { ...s.charges, volWad: numberToWad(s.vol), rateWad: numberToWad(s.rate) };
}

/**
 * Risk aversion for the policies that have none of their own: so high that sizing's cost/benefit gate only stops
 * trades that lose money at any reasonable γ (dust), and each baseline follows its own rule.
 */
export const RULE_RISK_AVERSION = 1e3;

const sig = (x: number) => Number(x.toPrecision(3));

/**
 * The default sweep. Delta-denominated parameters (bands, caps, minimum trades) are multiples of the book's
 * per-block delta move (`deltaStepStd`), so the grid fits any book; γ-based policies sweep γ around the
 * scenario's, in half-decades (from γ/100, where no hedge pays, to 10γ, where one pays nearly every other block).
 *
 * Minimum trades are never below the vault's `deltaToleranceWad`: no rebalance may start from within it
 * (`DeltaWithinTolerance`), so a smaller minimum would only be a label — the policy would decide to hedge and
 * sizing would refuse. Points that the floor makes identical are run once.
 */
export function defaultPoints(s: Scenario): PolicyPoint[] {
  const unit = deltaStepStd(s);
  const tolerance = wadToNumber(s.hedge.deltaToleranceWad);
  const rule = { riskAversion: RULE_RISK_AVERSION, horizonSeconds: s.horizonSeconds };
  const points: PolicyPoint[] = [];
  const add = (family: PolicyFamily, label: string, paramName: string, param: number, paramUnit: string, policy: PolicyConfig, riskAversion?: number) => {
    if (points.some((p) => p.label === label)) return;
    points.push({
      family,
      label,
      paramName,
      param,
      paramUnit,
      policy,
      prefs: riskAversion === undefined ? rule : { riskAversion, horizonSeconds: s.horizonSeconds },
    });
  };
  const atLeastTolerance = (x: number) => Math.max(sig(x), tolerance);
  const minTrade = atLeastTolerance(unit / 10);
  for (const m of [0.1, 0.5, 2]) {
    const mt = atLeastTolerance(unit * m);
    add("every-block", `every block, min ${mt}`, "minTrade", mt, "underlying", { name: "every-block", minTrade: mt });
  }
  for (const k of [2, 5, 10, 25, 50, 100, 200]) {
    add("interval", `every ${k} blocks`, "intervalBlocks", k, "blocks", { name: "interval", intervalBlocks: k, minTrade });
  }
  for (const m of [1, 2, 4, 8, 16, 32]) {
    const band = sig(unit * m);
    add("band-zero", `band ±${band} → zero`, "band", band, "underlying", { name: "band", band, target: "zero" });
    add("band-edge", `band ±${band} → edge`, "band", band, "underlying", { name: "band", band, target: "edge" });
  }
  const gammas = [-2, -1.5, -1, -0.5, 0, 0.5, 1].map((e) => sig(s.riskAversion * 10 ** e));
  for (const g of gammas) {
    add("whalley-wilmott", `Whalley–Wilmott γ ${g}`, "riskAversion", g, "per quote", { name: "whalley-wilmott" }, g);
    add("gas-aware", `gas-aware γ ${g}`, "riskAversion", g, "per quote", { name: "gas-aware" }, g);
  }
  const cap = sig(unit * 8);
  for (const d of [1, 5, 10, 25, 50, 100]) {
    add("delay-cap", `delay ${d} blocks, cap ${cap}`, "minDelayBlocks", d, "blocks", {
      name: "delay-cap",
      minDelayBlocks: d,
      maxHedge: cap,
      minTrade,
    });
  }
  const timeBlocks = Math.max(1, Math.round(s.steps / 4));
  for (const bps of [10, 25, 50, 100, 200, 400]) {
    add("time-or-move", `${timeBlocks} blocks or ${bps} bps`, "moveBps", bps, "bps", {
      name: "time-or-move",
      maxBlocks: timeBlocks,
      moveBps: bps,
      minTrade,
    });
  }
  return points;
}
