/**
 * How one block's lens read is split into `eth_call`s: pure planning, no client. A node caps the gas of an
 * `eth_call` (geth's `--rpc.gascap`, 50M by default; EIP-7825's 2^24 per transaction from Osaka on, which Hardhat
 * also applies to calls), and `VaultLens.read` costs gas per vault, roughly linear in its live series — pricing
 * every series' Greeks, mark and NAV in a full read, only its delta (the vault's `netDeltaWad`) in a light one — so
 * the vaults go into consecutive chunks whose estimated gas fits a budget.
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
 * `eth_estimateGas` on Hardhat's node (1, 10 and 32 series: about 89k + 22.5k per series beyond the call's own
 * cost, and the memory term below), taken about 10% above so that a chunk the model fits does fit.
 * `test/keeper/lensGas.test.ts` holds every constant here above a measured read, and within 25% of it.
 */
export const LENS_VAULT_BASE_GAS = 97_000;

/** Gas per live series in `VaultLens.read`: reading it, its Greeks and mark, and its share of `totalAssets` (which prices the book again). */
export const LENS_SERIES_GAS = 24_000;

/**
 * The same for a light read (`full = false`): the vault's views, its book read and hashed, and `netDeltaWad`
 * pricing each series' delta only. Measured the same way (1, 10 and 32 series: about 83k + 7.0k per series), taken
 * about 10% above.
 */
export const LENS_LIGHT_VAULT_BASE_GAS = 92_000;
export const LENS_LIGHT_SERIES_GAS = 8_200;

/**
 * Gas a vault's perp market adds to its read (`VaultLens.PerpState`: the market's parameters, skew, pool and
 * funding rate, the position valued, the vault's bounds; a full read values the position again in `totalAssets`).
 * Measured with `eth_estimateGas` on Hardhat's node at 1–32 series with an open position: +35k light, +46k full;
 * taken above (the lighter market of issue 14 made these reads cheaper, and the constants were left with room).
 */
export const LENS_PERP_LIGHT_GAS = 50_000;
export const LENS_PERP_FULL_GAS = 66_000;
/** Memory words the perp state adds per vault. */
const WORDS_PER_PERP = 30;

/** Gas of the call itself (intrinsic cost, the block fields, the account balance). */
export const LENS_CALL_BASE_GAS = 40_000;

/**
 * The memory a read keeps per vault grows the call's memory, whose EVM cost is quadratic in its size: words kept
 * per vault (state and book as decoded, and their ABI-encoded copy) for the quadratic term `words² / 512`.
 */
const WORDS_PER_VAULT = 100;
const WORDS_PER_SERIES = 32;

/** Estimated gas of one vault with `liveSeries` series (and a perp market, `perp`) in a lens read, full or light (the quadratic memory term excluded). */
export function vaultReadGas(liveSeries: number, full = true, perp = false): number {
  const book = full ? LENS_VAULT_BASE_GAS + LENS_SERIES_GAS * liveSeries : LENS_LIGHT_VAULT_BASE_GAS + LENS_LIGHT_SERIES_GAS * liveSeries;
  return book + (perp ? (full ? LENS_PERP_FULL_GAS : LENS_PERP_LIGHT_GAS) : 0);
}

/** Memory words a read keeps for one vault (a light read returns no book). */
function vaultWords(liveSeries: number, full: boolean, perp = false): number {
  return WORDS_PER_VAULT + (full ? WORDS_PER_SERIES * liveSeries : 0) + (perp ? WORDS_PER_PERP : 0);
}

/** Estimated gas of a lens read of vaults with these live series counts, full or light, the memory expansion included. */
export function lensCallGas(seriesCounts: readonly number[], full = true): number {
  let gas = LENS_CALL_BASE_GAS;
  let words = 0;
  for (const series of seriesCounts) {
    gas += vaultReadGas(series, full);
    words += vaultWords(series, full);
  }
  return gas + Math.ceil((words * words) / 512);
}

/**
 * Splits `vaults` (in order) into consecutive chunks whose `lensCallGas` fits `gasBudget`; a vault too large for
 * the budget on its own gets a chunk of its own (the node decides; a failed chunk is retried split, see
 * `readVaults`). Concatenating the chunks gives `vaults` back.
 *
 * @param seriesCounts - Each vault's live series as last seen; a vault missing is assumed to hold `MAX_LIVE_SERIES`.
 * @param full - A full read (the default) or a light one (`VaultLens.read`'s `full`).
 * @param perpVaults - The vaults last seen with a perp market (a vault not yet seen is assumed to have none: a
 *   chunk that then overflows is retried split).
 */
export function planLensChunks<T extends { address: Address }>(
  vaults: readonly T[],
  gasBudget: number,
  seriesCounts: ReadonlyMap<Address, number> = new Map(),
  full = true,
  perpVaults: ReadonlySet<Address> = new Set(),
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let linearGas = LENS_CALL_BASE_GAS;
  let words = 0;
  for (const vault of vaults) {
    const n = seriesCounts.get(vault.address) ?? MAX_LIVE_SERIES;
    const perp = perpVaults.has(vault.address);
    const nextLinear = linearGas + vaultReadGas(n, full, perp);
    const nextWords = words + vaultWords(n, full, perp);
    if (chunk.length > 0 && nextLinear + Math.ceil((nextWords * nextWords) / 512) > gasBudget) {
      chunks.push(chunk);
      chunk = [];
      linearGas = LENS_CALL_BASE_GAS + vaultReadGas(n, full, perp);
      words = vaultWords(n, full, perp);
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
