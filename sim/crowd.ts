/**
 * Crowded hedging (issue 15): many short-gamma vaults hedging on one constant-product pool, and an arbitrageur
 * with finite speed. The oracle (the outside market) follows the path; each block the arbitrageur closes a share
 * `arbSpeed` of the pool's log gap to it (when that gap is beyond the fee), then every vault — in an order that
 * rotates each block, so none is always first — runs the keeper's own policy (`decide`, keeper/policy) on its
 * delta at the oracle and trades on the pool. A short-gamma book buys as the price rises and sells as it falls,
 * so the hedgers push the pool the way it was going: the study measures by how much (the pool's realised
 * volatility against the oracle's, and the pool's gap to the oracle) and what that costs each vault (what its
 * trades paid beyond the oracle, fee included).
 *
 * The pool math is float Uniswap v2 (fee taken on the input, reserves keep it); Greeks are the keeper's
 * Black–Scholes. The vault's own contract guards are not replayed here (the model engine does that for one vault):
 * this is a study of the market the vaults make together.
 */
import { greeks, SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";
import { decide } from "../keeper/policy/index.ts";
import { gasCostQuote, rebalanceGasUnits } from "../keeper/sizing/gasModel.ts";
import type { MarketView, PolicyConfig, RiskPreferences } from "../keeper/types.ts";

export interface CrowdSetup {
  /** Vaults hedging on the pool (0: the pool with the arbitrageur alone). */
  vaults: number;
  /** Each vault's book: short `optionsSold` calls at `strike`, expiring `expiryDays` after the path starts. */
  optionsSold: number;
  strikeRatio: number;
  expiryDays: number;
  vol: number;
  /** Pool depth in underlying at the start (the quote side at the start price), and its fee. */
  depth: number;
  feeBps: number;
  /** Share of the pool's log gap to the oracle the arbitrageur closes each block, in (0, 1]. */
  arbSpeed: number;
  blockSeconds: number;
  gasGwei: number;
  policy: PolicyConfig;
  prefs: RiskPreferences;
}

export interface CrowdRun {
  /** Annualised realised volatility of the pool's price (block-end) and of the oracle's. */
  poolVol: number;
  oracleVol: number;
  /** Mean |log(pool / oracle)| at block end, basis points. */
  meanGapBps: number;
  /** Per vault, mean over vaults: what its trades paid beyond the oracle (fee and impact), quote. */
  costPerVault: number;
  hedgesPerVault: number;
}

const ADDRESS = "0x0000000000000000000000000000000000000c20" as const;

/** One path with `setup.vaults` vaults: the pool's and each vault's account of it. */
export function runCrowd(path: ArrayLike<number>, setup: CrowdSetup): CrowdRun {
  if (!(setup.arbSpeed > 0 && setup.arbSpeed <= 1)) throw new RangeError(`arbSpeed must be in (0, 1], got ${setup.arbSpeed}`);
  if (!Number.isInteger(setup.vaults) || setup.vaults < 0) throw new RangeError(`vaults must be an integer ≥ 0, got ${setup.vaults}`);
  const fee = setup.feeBps / 10_000;
  const s0 = path[0]!;
  let x = setup.depth; // underlying reserve
  let y = setup.depth * s0; // quote reserve
  const strike = s0 * setup.strikeRatio;
  const expiry = setup.expiryDays * 86_400;
  const hedge = new Float64Array(setup.vaults);
  const cost = new Float64Array(setup.vaults);
  const hedges = new Float64Array(setup.vaults);
  const lastHedge = new Float64Array(setup.vaults).fill(-1);
  const lastSpot = new Float64Array(setup.vaults).fill(Number.NaN);
  // The vaults start hedged, as vaults do when they sell a book.
  const g0 = greeks({ isCall: true, spot: s0, strike, vol: setup.vol, tauSeconds: expiry, rate: 0 });
  hedge.fill(setup.optionsSold * g0.delta);
  const gasQuote = (spot: number) =>
    gasCostQuote({ gasUnits: rebalanceGasUnits(1), baseFeePerGasWei: BigInt(Math.round(setup.gasGwei * 1e9)), tipWei: 0n, nativePriceQuote: spot });

  /** Sells `dx` underlying into the pool: the quote out. */
  const sell = (dx: number) => {
    const out = (y * dx * (1 - fee)) / (x + dx * (1 - fee));
    x += dx;
    y -= out;
    return out;
  };
  /** Buys `dx` underlying from the pool: the quote in. */
  const buy = (dx: number) => {
    const input = (y * dx) / ((x - dx) * (1 - fee));
    x -= dx;
    y += input;
    return input;
  };

  let sumSqPool = 0;
  let sumSqOracle = 0;
  let gapSum = 0;
  let prevPool = y / x;
  const n = path.length - 1;
  for (let i = 1; i <= n; i++) {
    const oracle = path[i]!;
    // The arbitrageur: a share of the log gap, when it is beyond the fee (inside it nothing pays).
    const gap = Math.log(oracle / (y / x));
    if (Math.abs(gap) > fee) {
      const target = (y / x) * Math.exp(setup.arbSpeed * gap);
      const k = x * y;
      const xTarget = Math.sqrt(k / target);
      if (xTarget < x) buy(x - xTarget);
      else sell((xTarget - x) / (1 - fee));
    }
    // The vaults, in a rotating order.
    const tau = Math.max(0, expiry - i * setup.blockSeconds);
    const g = greeks({ isCall: true, spot: oracle, strike, vol: setup.vol, tauSeconds: tau, rate: 0 });
    for (let j = 0; j < setup.vaults; j++) {
      const v = (i + j) % setup.vaults;
      const delta = hedge[v]! - setup.optionsSold * g.delta;
      const view: MarketView = {
        vault: ADDRESS,
        blockNumber: i,
        timestamp: i * setup.blockSeconds,
        delta,
        gamma: -setup.optionsSold * g.gamma,
        vega: -setup.optionsSold * g.vega,
        spot: oracle,
        vol: setup.vol,
        rate: 0,
        timeToExpiry: tau / SECONDS_PER_YEAR,
        blocksSinceHedge: lastHedge[v]! < 0 ? Number.POSITIVE_INFINITY : i - lastHedge[v]!,
        ...(Number.isNaN(lastSpot[v]!) ? {} : { lastHedgeSpot: lastSpot[v]! }),
        canTrade: true,
        deltaTolerance: 0.1,
        onChainBand: 0.5,
        costs: { gasCostQuote: gasQuote(oracle), feeRate: fee, eta: oracle / x },
      };
      const d = decide(view, setup.policy, setup.prefs);
      if (d.kind !== "rebalance") continue;
      const q = d.targetDelta - delta; // underlying to buy (> 0) or sell
      if (Math.abs(q) < 1e-9 || q >= x) continue;
      if (q > 0) cost[v]! += buy(q) - q * oracle;
      else cost[v]! += -q * oracle - sell(-q);
      hedge[v]! += q;
      hedges[v]!++;
      lastHedge[v] = i;
      lastSpot[v] = oracle;
    }
    const pool = y / x;
    sumSqPool += Math.log(pool / prevPool) ** 2;
    sumSqOracle += Math.log(oracle / path[i - 1]!) ** 2;
    gapSum += Math.abs(Math.log(pool / oracle));
    prevPool = pool;
  }
  const perYear = SECONDS_PER_YEAR / setup.blockSeconds;
  const mean = (a: Float64Array) => (a.length === 0 ? 0 : a.reduce((s, v) => s + v, 0) / a.length);
  return {
    poolVol: Math.sqrt((sumSqPool / n) * perYear),
    oracleVol: Math.sqrt((sumSqOracle / n) * perYear),
    meanGapBps: (gapSum / n) * 10_000,
    costPerVault: mean(cost),
    hedgesPerVault: mean(hedges),
  };
}

/** Means over paths of `runCrowd`. */
export function crowdStudy(paths: readonly ArrayLike<number>[], setup: CrowdSetup): CrowdRun {
  const runs = paths.map((p) => runCrowd(p, setup));
  const avg = (f: (r: CrowdRun) => number) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  return {
    poolVol: avg((r) => r.poolVol),
    oracleVol: avg((r) => r.oracleVol),
    meanGapBps: avg((r) => r.meanGapBps),
    costPerVault: avg((r) => r.costPerVault),
    hedgesPerVault: avg((r) => r.hedgesPerVault),
  };
}

/** The crowds and arbitrage speeds `--study crowding` measures. */
export const CROWD_SIZES = [0, 1, 5, 20, 50] as const;
export const ARB_SPEEDS = [1, 0.3] as const;

/**
 * `--study crowding`: the default market's paths, each crowd size at each arbitrage speed, every vault on the
 * band-to-zero policy at the default sweep's middle band (±0.71) — the same book, so they all want to trade at
 * once. Returns the rows and the markdown of `crowding.md`.
 */
export function crowdingReport(paths: readonly ArrayLike<number>[], base: Omit<CrowdSetup, "vaults" | "arbSpeed">): { rows: (CrowdRun & { vaults: number; arbSpeed: number })[]; markdown: string } {
  const rows = ARB_SPEEDS.flatMap((arbSpeed) => CROWD_SIZES.map((vaults) => ({ vaults, arbSpeed, ...crowdStudy(paths, { ...base, vaults, arbSpeed }) })));
  const alone = (speed: number) => rows.find((r) => r.arbSpeed === speed && r.vaults === 1)!;
  const none = (speed: number) => rows.find((r) => r.arbSpeed === speed && r.vaults === 0)!;
  const lines = [
    "# Crowded hedging: many short-gamma vaults on one pool",
    "",
    `Each vault is short ${base.optionsSold} calls (strike ${base.strikeRatio} × spot, ${base.expiryDays} days, σ ${base.vol}) and hedges with the keeper's ` +
      `${base.policy.name} policy (${JSON.stringify(base.policy)}) on one ${base.depth}-deep pool (${base.feeBps} bps); the arbitrageur closes the given share of the ` +
      `pool's log gap to the oracle each block. ${paths.length} paths of ${paths[0]!.length - 1} blocks. Pool vol: the pool price's realised volatility at block end ` +
      "(the oracle's beside it); cost: what each vault's trades paid beyond the oracle, fee included, per path.",
    "",
    "| arbitrage speed | vaults | pool vol | oracle vol | pool vol vs no vaults | mean gap to oracle (bps) | cost per vault | vs one vault alone | hedges per vault |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => {
      const vsNone = r.poolVol / none(r.arbSpeed).poolVol;
      const vsAlone = r.vaults === 0 ? "—" : `${(r.costPerVault / alone(r.arbSpeed).costPerVault).toFixed(2)}×`;
      return `| ${r.arbSpeed} | ${r.vaults} | ${r.poolVol.toFixed(3)} | ${r.oracleVol.toFixed(3)} | ${vsNone.toFixed(2)}× | ${r.meanGapBps.toFixed(1)} | ${r.costPerVault.toFixed(2)} | ${vsAlone} | ${r.hedgesPerVault.toFixed(1)} |`;
    }),
    "",
  ];
  return { rows, markdown: lines.join("\n") };
}
