/**
 * What one hedge transaction costs in gas, and in quote units: the estimate the policies weigh a hedge's benefit
 * against (`costModelFor` in keeper/tick.ts). The simulator charges gas from its own model of the same snapshot
 * (sim/gas.ts), which also knows a vault's first hedge.
 *
 * Linear in the live series (one cold SLOAD and one Black–Scholes delta each). The committed `gas-snapshot.json`
 * (`npm run gas`) measures a later hedge (not the vault's first) at 103,136 gas with 1 live series, 144,377 with 10
 * and 245,317 with 32: a least-squares line of ≈ 98,530 fixed + 4,587 per series, which the constants below round
 * (within 0.5% of every row; `test/keeper/gasModel.test.ts` fails once they drift more than 5% from any row). A
 * vault's first hedge costs ≈ 34k more (two storage slots written from zero), a one-off this model leaves out.
 */
export const REBALANCE_GAS_FIXED = 98_500;
export const REBALANCE_GAS_PER_SERIES = 4_600;

/** Gas units of one `rebalance` on a vault with `liveSeries` series. */
export function rebalanceGasUnits(liveSeries: number): number {
  return REBALANCE_GAS_FIXED + REBALANCE_GAS_PER_SERIES * liveSeries;
}

/**
 * Cost of one hedge in quote units: gas units × (base fee + tip) × the native token's price in quote units, plus
 * on a rollup the transaction's L1 data fee. Fees in wei (1e-18 of the native token).
 */
export function gasCostQuote(p: {
  gasUnits: number;
  baseFeePerGasWei: bigint;
  tipWei: bigint;
  nativePriceQuote: number;
  l1DataFeeWei?: bigint;
}): number {
  const feePerGasNative = Number(p.baseFeePerGasWei + p.tipWei) / 1e18;
  return (p.gasUnits * feePerGasNative + Number(p.l1DataFeeWei ?? 0n) / 1e18) * p.nativePriceQuote;
}
