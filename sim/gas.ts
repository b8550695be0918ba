/**
 * Gas of one `rebalance`, for model mode: read from the committed gas snapshot (`gas-snapshot.json`, written by
 * `npm run gas` and held by `npm run gas:check`), whose scenarios measure a buy at 1, 10 and 32 live series, each
 * for a vault's first-ever hedge and a later one. Between the measured series counts the gas is linear (one cold
 * slot and one Black–Scholes delta per series), so the model interpolates. Fork mode measures receipts instead
 * (`ForkRun.measured`), and the agreement test holds this model to them.
 *
 * The first-ever hedge writes two storage slots from zero that every later one rewrites: the vault's budget ledger
 * (`OptionVaultBase.Ledger`, with the rebalance block) and the vault's balance in the underlying token. Each costs
 * the same premium over a rewrite (EIP-2200/2929: 20,000 for a fresh slot against 2,900), so the measured
 * first-hedge premium is split evenly between them: a vault that already holds the underlying but never
 * rebalanced (the simulator's `startHedged` vault, whose opening hedge is minted) pays half of it.
 */
import { readFileSync } from "node:fs";
import type { BudgetLedger } from "../keeper/sizing/budget.ts";

export interface GasPoint {
  liveSeries: number;
  gas: number;
  firstHedgeGas: number;
}

/** Gas units of one hedge, by live series count and whether the vault holds no underlying yet. */
export interface GasModel {
  points: readonly GasPoint[];
  /** Extra gas of a sell over a buy (measured on a fork; 0 until calibrated). */
  sellExtra: number;
  /** `hedgePerp`'s gas by live series (the same shape: steady state and the vault's first perp trade). */
  perpPoints: readonly GasPoint[];
  /** A vault's first `postPerpMargin` by live series (`gas`; `firstHedgeGas` the same). */
  marginPoints: readonly GasPoint[];
}

const KEY = /^OptionVault\.rebalance \(buy, (\d+) live series(, vault's first hedge)?\)$/;
const PERP_KEY = /^OptionVault\.hedgePerp \(buy, (\d+) live series(, vault's first hedge)?\)$/;
const MARGIN_KEY = /^OptionVault\.postPerpMargin \((\d+) live series, first margin\)$/;

/** The points of the snapshot's entries `key` matches (group 1: the series count; group 2: the first hedge). */
function pointsOf(snapshot: Record<string, number>, key: RegExp): GasPoint[] {
  const byN = new Map<number, Partial<GasPoint>>();
  for (const [name, gas] of Object.entries(snapshot)) {
    const m = key.exec(name);
    if (!m) continue;
    const n = Number(m[1]);
    const point = byN.get(n) ?? { liveSeries: n };
    if (m[2]) point.firstHedgeGas = gas;
    else point.gas = gas;
    if (m[2] === undefined && key === MARGIN_KEY) point.firstHedgeGas = gas;
    byN.set(n, point);
  }
  return [...byN.values()]
    .filter((p): p is GasPoint => p.gas !== undefined && p.firstHedgeGas !== undefined)
    .sort((a, b) => a.liveSeries - b.liveSeries);
}

/**
 * The model from a gas snapshot's `OptionVault.rebalance (buy, N live series[, vault's first hedge])` entries,
 * and its `hedgePerp` and `postPerpMargin` entries for the perp venue (empty in an older snapshot).
 */
export function gasModelFromSnapshot(snapshot: Record<string, number>): GasModel {
  const points = pointsOf(snapshot, KEY);
  if (points.length === 0) throw new Error("the gas snapshot has no OptionVault.rebalance (buy, N live series) entries");
  return {
    points,
    sellExtra: 0,
    perpPoints: pointsOf(snapshot, PERP_KEY),
    marginPoints: pointsOf(snapshot, MARGIN_KEY),
  };
}

export function loadGasModel(file = new URL("../gas-snapshot.json", import.meta.url)): GasModel {
  return gasModelFromSnapshot(JSON.parse(readFileSync(file, "utf8")) as Record<string, number>);
}

/** How many of a first hedge's two fresh slots a rebalance writes from zero (see the module comment). */
export type FreshSlots = 0 | 1 | 2;

/**
 * Whether the vault's budget-ledger slot holds anything: it is zero until the vault's first rebalance (or a change
 * of the budget window's length, which rewrites the ledger).
 */
export function ledgerSlotWritten(lastRebalanceBlock: bigint, ledger: BudgetLedger): boolean {
  return lastRebalanceBlock !== 0n || ledger.window !== 0n || ledger.notionalPrev !== 0n || ledger.notionalCur !== 0n || ledger.slippagePrev !== 0n || ledger.slippageCur !== 0n;
}

/** The fresh slots of a rebalance: the budget ledger if the vault never rebalanced, its underlying balance if it holds none and buys. */
export function freshSlots(p: { ledgerWritten: boolean; hedgeBalance: bigint; buy: boolean }): FreshSlots {
  return ((p.ledgerWritten ? 0 : 1) + (p.buy && p.hedgeBalance === 0n ? 1 : 0)) as FreshSlots;
}

/**
 * Gas units of one rebalance on a vault with `liveSeries` series (linear between, and beyond, the measured counts)
 * that writes `freshSlots` slots from zero.
 */
/**
 * Gas of a `rebalance` that reverts with `error`, as a share of the hedge it would have been: the vault's checks
 * before the swap (tolerance, amounts, balances) stop at about half of it, its slippage bound (after the pool's
 * quote) a little later, and a failure inside or after the swap (the pool's minimum output, the delta rules, the
 * budget) near the end. Shares measured from fork receipts of hedges that landed late (test/sim/movingGas.test.ts
 * checks the engines' costs within 2% with them): 50,710–50,728, 57,873 and 96,263–96,336 gas against a
 * 103,136-gas hedge with one live series.
 */
export function revertGas(model: GasModel, p: { liveSeries: number; freshSlots: FreshSlots; buy: boolean }, error: string): number {
  const hedge = hedgeGas(model, p);
  if (LATE_REVERTS.has(error)) return Math.round(hedge * 0.9335);
  if (error === "SlippageTooHigh") return Math.round(hedge * 0.561);
  return Math.round(hedge * 0.4918);
}

const LATE_REVERTS: ReadonlySet<string> = new Set(["InsufficientOutput", "DeltaNotReduced", "HedgeOvershoot", "NotionalBudgetExceeded", "SlippageBudgetExceeded", "PayoutsNotCovered"]);

export function hedgeGas(model: GasModel, p: { liveSeries: number; freshSlots: FreshSlots; buy: boolean }): number {
  return Math.round(interpolate(model.points, p) + (p.buy ? 0 : model.sellExtra));
}

/** Gas of a `hedgePerp` (its first: `first`), as `hedgeGas` from the snapshot's perp entries. */
export function perpHedgeGas(model: GasModel, p: { liveSeries: number; first: boolean }): number {
  if (model.perpPoints.length === 0) throw new Error("the gas snapshot has no OptionVault.hedgePerp (buy, N live series) entries");
  return Math.round(interpolate(model.perpPoints, { liveSeries: p.liveSeries, freshSlots: p.first ? 2 : 0 }));
}

/** Gas of a perp margin move (a vault's first `postPerpMargin`: later ones cost a little less). */
export function marginMoveGas(model: GasModel, liveSeries: number): number {
  if (model.marginPoints.length === 0) throw new Error("the gas snapshot has no OptionVault.postPerpMargin (N live series, first margin) entries");
  return Math.round(interpolate(model.marginPoints, { liveSeries, freshSlots: 0 }));
}

/** Linear in the series count between (and beyond) the points; `freshSlots` of 2 is the first hedge's gas. */
function interpolate(pts: readonly GasPoint[], p: { liveSeries: number; freshSlots: FreshSlots }): number {
  const pick = (g: GasPoint) => g.gas + ((g.firstHedgeGas - g.gas) * p.freshSlots) / 2;
  let gas: number;
  if (pts.length === 1) gas = pick(pts[0]!);
  else {
    let i = 0;
    while (i < pts.length - 2 && p.liveSeries > pts[i + 1]!.liveSeries) i++;
    const a = pts[i]!;
    const b = pts[i + 1]!;
    gas = pick(a) + ((pick(b) - pick(a)) * (p.liveSeries - a.liveSeries)) / (b.liveSeries - a.liveSeries);
  }
  return gas;
}
