/**
 * What one hedge transaction costs in gas, and in quote units. Calibrated on `gas-snapshot.json`
 * (`npm run gas`): a rebalance is ~99.5k gas with 1 live series, ~145k with 10 and ~256k with 32 — about
 * 94.5k fixed plus 5k per live series (one cold SLOAD and one Black–Scholes delta each).
 */
export const REBALANCE_GAS_FIXED = 94_500;
export const REBALANCE_GAS_PER_SERIES = 5_100;

/** Gas units of one `rebalance` on a vault with `liveSeries` series. */
export function rebalanceGasUnits(liveSeries: number): number {
  return REBALANCE_GAS_FIXED + REBALANCE_GAS_PER_SERIES * liveSeries;
}

/**
 * Cost of one hedge in quote units: gas units × (base fee + tip) × the native token's price in quote units.
 * Fees in wei (1e-18 of the native token).
 */
export function gasCostQuote(p: {
  gasUnits: number;
  baseFeePerGasWei: bigint;
  tipWei: bigint;
  nativePriceQuote: number;
}): number {
  const feePerGasNative = Number(p.baseFeePerGasWei + p.tipWei) / 1e18;
  return p.gasUnits * feePerGasNative * p.nativePriceQuote;
}
