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
  /** Gas of a reverted rebalance (model mode's rare reverts), gas units. */
  revertGas: number;
}

const KEY = /^OptionVault\.rebalance \(buy, (\d+) live series(, vault's first hedge)?\)$/;

/** The model from a gas snapshot's `OptionVault.rebalance (buy, N live series[, vault's first hedge])` entries. */
export function gasModelFromSnapshot(snapshot: Record<string, number>): GasModel {
  const byN = new Map<number, Partial<GasPoint>>();
  for (const [key, gas] of Object.entries(snapshot)) {
    const m = KEY.exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    const point = byN.get(n) ?? { liveSeries: n };
    if (m[2]) point.firstHedgeGas = gas;
    else point.gas = gas;
    byN.set(n, point);
  }
  const points = [...byN.values()]
    .filter((p): p is GasPoint => p.gas !== undefined && p.firstHedgeGas !== undefined)
    .sort((a, b) => a.liveSeries - b.liveSeries);
  if (points.length === 0) throw new Error("the gas snapshot has no OptionVault.rebalance (buy, N live series) entries");
  return { points, sellExtra: 0, revertGas: Math.round(points[0]!.gas / 2) };
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
export function hedgeGas(model: GasModel, p: { liveSeries: number; freshSlots: FreshSlots; buy: boolean }): number {
  const pts = model.points;
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
  return Math.round(gas + (p.buy ? 0 : model.sellExtra));
}
