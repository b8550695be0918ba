/**
 * A book that takes new trades along the path (issue 15): option buyers arrive block by block and open positions
 * in the vault's listed series (`openPosition`), so the short gamma the keeper hedges grows while the book ages.
 *
 * Arrivals are Bernoulli per block (a sale in a block with probability `perBlock`), each on a series drawn
 * uniformly from the book, of an exponential size with mean `meanSize` rounded to 0.1 underlying (at least 0.1),
 * until the path has sold `maxTotal`. Draws come from the Philox stream of (seed, path) on lane 6, apart from the
 * price path's and the gas path's, so both engines — and every policy point on one path — see the same sales.
 */
import { philoxUniform } from "../harness/random.ts";
import { greeks, SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";

export interface FlowScenario {
  seed: number;
  /** Probability of a sale in a block (the expected sales per block). */
  perBlock: number;
  /** Mean size of a sale, underlying units. */
  meanSize: number;
  /** The most the flow sells on one path, underlying units: the vault's limits are checked on the book plus this. */
  maxTotal: number;
}

/** One sale: in block `block` (after the block's market step), `size` options of the book's series `series`. */
export interface Sale {
  block: number;
  series: number;
  size: number;
}

/** The smallest sale and the size grid (underlying units). */
export const SALE_TICK = 0.1;

export function checkFlow(flow: FlowScenario): void {
  if (!(flow.perBlock >= 0 && flow.perBlock <= 1)) throw new RangeError(`scenario.flow.perBlock must be in [0, 1], got ${flow.perBlock}`);
  if (!(flow.meanSize > 0) || !Number.isFinite(flow.meanSize)) throw new RangeError(`scenario.flow.meanSize must be a finite number > 0, got ${flow.meanSize}`);
  if (!(flow.maxTotal >= 0) || !Number.isFinite(flow.maxTotal)) throw new RangeError(`scenario.flow.maxTotal must be a finite number ≥ 0, got ${flow.maxTotal}`);
  if (!Number.isInteger(flow.seed)) throw new RangeError(`scenario.flow.seed must be an integer, got ${flow.seed}`);
}

/** The sales of path `path` over blocks 0..steps − 1 of a book of `seriesCount` series. */
export function salesOf(flow: FlowScenario, p: { steps: number; path: number; seriesCount: number }): Sale[] {
  const uniform = philoxUniform(flow.seed, p.path, 6);
  const sales: Sale[] = [];
  let left = Math.round(flow.maxTotal / SALE_TICK);
  for (let block = 0; block < p.steps && left > 0; block++) {
    // Three draws a block whether or not it sells: block i's draws do not depend on earlier blocks' outcomes.
    const arrive = uniform();
    const pick = uniform();
    const size = uniform();
    if (arrive >= flow.perBlock) continue;
    const ticks = Math.min(left, Math.max(1, Math.round((-flow.meanSize * Math.log(1 - size)) / SALE_TICK)));
    left -= ticks;
    sales.push({ block, series: Math.min(p.seriesCount - 1, Math.floor(pick * p.seriesCount)), size: ticks * SALE_TICK });
  }
  return sales;
}

/**
 * The fair value (Black–Scholes at the vault's volatility and rate) of options the vault sells at a sale, signed as
 * the book holds them (negative: sold). The ledger takes it out of the block's change in book value: a sale at fair
 * value is not hedging P&L (the premium above it is the vault's margin, not the hedge's).
 */
export function saleValue(p: { isCall: boolean; spot: number; strike: number; vol: number; rate: number; tauSeconds: number; size: number }): number {
  return -p.size * greeks({ isCall: p.isCall, spot: p.spot, strike: p.strike, vol: p.vol, tauSeconds: p.tauSeconds, rate: p.rate }).price;
}

/**
 * The premium a buyer pays for `size` options (quote units, float): `OptionBook.premiumWad`'s ask in float64 —
 * Black–Scholes at the spot moved `latencyBps` against the vault, plus `spreadBps`, plus the capital charge on the
 * collateral the option locks (a put its strike, a call its stress loss) over its life, at least `minPremiumBps` of
 * spot. The model credits it to the vault's cash (which bounds the hedges that buy); the chain's own, in wad with
 * its roundings, differs from it in the last units.
 */
export function askPremium(p: {
  isCall: boolean;
  spot: number;
  strike: number;
  vol: number;
  rate: number;
  tauSeconds: number;
  size: number;
  charges: { spreadBps: number; latencyBps: number; capitalChargeBps: number; minPremiumBps: number };
  stressUpBps: number;
}): number {
  const { charges: c } = p;
  const shifted = p.spot * (p.isCall ? 1 + c.latencyBps / 10_000 : 1 - c.latencyBps / 10_000);
  const fair = greeks({ isCall: p.isCall, spot: shifted, strike: p.strike, vol: p.vol, tauSeconds: p.tauSeconds, rate: p.rate }).price;
  const locked = p.isCall ? Math.max(p.spot, p.strike) * (1 + p.stressUpBps / 10_000) - p.strike : p.strike;
  const perOption = Math.max(
    fair * (1 + c.spreadBps / 10_000) + (locked * c.capitalChargeBps * p.tauSeconds) / (10_000 * SECONDS_PER_YEAR),
    (p.spot * c.minPremiumBps) / 10_000,
  );
  return perOption * p.size;
}
