/**
 * How one block's lens read is split into `eth_call`s: pure planning, no client. A node caps the gas of an
 * `eth_call` (geth's `--rpc.gascap`, 50M by default; EIP-7825's 2^24 per transaction from Osaka on, which Hardhat
 * also applies to calls), and `VaultLens.read` costs gas per vault — most of it pricing the vault's book, so
 * roughly linear in its live series — so the vaults go into consecutive chunks whose estimated gas fits a budget.
 * The estimate uses each vault's live series as last seen; a vault not seen yet is assumed to hold a full book
 * (`MAX_LIVE_SERIES`), so the first read is conservative and later ones fit tighter.
 */
import type { Address } from "viem";

/**
 * Default gas budget of one lens `eth_call`: under the EIP-7825 cap of 16,777,216 (which Hardhat's node and,
 * from Osaka on, L1 clients apply to calls) and well under geth's default 50M `--rpc.gascap`.
 */
export const DEFAULT_LENS_CALL_GAS_BUDGET = 16_000_000;

/** `OptionVault.MAX_LIVE_SERIES`: the book size assumed for a vault whose book has not been seen yet. */
export const MAX_LIVE_SERIES = 32;

/**
 * Gas of one vault in `VaultLens.read` besides its series: the vault's views (parameters, hedge status, oracle,
 * balances, pool), the sub-call frame and the result's encoding. With `LENS_SERIES_GAS`: measured with
 * `eth_estimateGas` on Hardhat's node (0, 1 and 10 series, 1 to 50 vaults: about 76k + 22k per series, and the
 * memory term below), taken about 10% above so that a chunk the model fits does fit.
 */
export const LENS_VAULT_BASE_GAS = 90_000;

/** Gas per live series in `VaultLens.read`: reading it, its Greeks and mark, and its share of `totalAssets` (which prices the book again). */
export const LENS_SERIES_GAS = 24_000;

/** Gas of the call itself (intrinsic cost, the block fields, the account balance). */
export const LENS_CALL_BASE_GAS = 40_000;

/**
 * The memory a read keeps per vault grows the call's memory, whose EVM cost is quadratic in its size: words kept
 * per vault (state and book as decoded, and their ABI-encoded copy) for the quadratic term `words² / 512`.
 */
const WORDS_PER_VAULT = 100;
const WORDS_PER_SERIES = 32;

/** Estimated gas of one vault with `liveSeries` series in a lens read (the quadratic memory term excluded). */
export function vaultReadGas(liveSeries: number): number {
  return LENS_VAULT_BASE_GAS + LENS_SERIES_GAS * liveSeries;
}

/** Estimated gas of a lens read of vaults with these live series counts, the memory expansion included. */
export function lensCallGas(seriesCounts: readonly number[]): number {
  let gas = LENS_CALL_BASE_GAS;
  let words = 0;
  for (const series of seriesCounts) {
    gas += vaultReadGas(series);
    words += WORDS_PER_VAULT + WORDS_PER_SERIES * series;
  }
  return gas + Math.ceil((words * words) / 512);
}

/**
 * Splits `vaults` (in order) into consecutive chunks whose `lensCallGas` fits `gasBudget`; a vault too large for
 * the budget on its own gets a chunk of its own (the node decides; a failed chunk is retried split, see
 * `readVaults`). Concatenating the chunks gives `vaults` back.
 *
 * @param seriesCounts - Each vault's live series as last seen; a vault missing is assumed to hold `MAX_LIVE_SERIES`.
 */
export function planLensChunks<T extends { address: Address }>(
  vaults: readonly T[],
  gasBudget: number,
  seriesCounts: ReadonlyMap<Address, number> = new Map(),
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let linearGas = LENS_CALL_BASE_GAS;
  let words = 0;
  for (const vault of vaults) {
    const n = seriesCounts.get(vault.address) ?? MAX_LIVE_SERIES;
    const nextLinear = linearGas + vaultReadGas(n);
    const nextWords = words + WORDS_PER_VAULT + WORDS_PER_SERIES * n;
    if (chunk.length > 0 && nextLinear + Math.ceil((nextWords * nextWords) / 512) > gasBudget) {
      chunks.push(chunk);
      chunk = [];
      linearGas = LENS_CALL_BASE_GAS + vaultReadGas(n);
      words = WORDS_PER_VAULT + WORDS_PER_SERIES * n;
    } else {
      linearGas = nextLinear;
      words = nextWords;
    }
    chunk.push(vault);
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** `xs` split into two halves (the first one larger), for retrying a chunk that failed. */
export function halves<T>(xs: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(xs.length / 2);
  return [xs.slice(0, mid), xs.slice(mid)];
}
