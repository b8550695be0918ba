/**
 * One run's books, kept the same way in both modes: fed the vault's snapshot after every block and each hedge's
 * fill (from the `Rebalanced` event on a fork, from the replayed AMM math in the model), it accumulates the
 * `RunMetrics`.
 *
 * P&L (before costs) is the hedged book's change in value, discounted to the run's start at the vault's rate:
 *     ΔV = h·(S̃ − S̃_prev) + (B̃ − B̃_prev),   S̃ = S·e^{−r·t},  B̃ = B·e^{−r·t},
 * with h the hedge held over the block (the hedge traded at the block's start, at the previous block's oracle
 * price) and B = Σ size·BlackScholes(S, τ) the book (negative sizes: options sold), intrinsic at expiry. Trades
 * are worth their oracle value here; what they cost beyond it (AMM fee and price impact) and their gas are
 * costs, kept apart, so P&L is the replication error alone and cost is cost.
 *
 * With a perp market, h is the underlying held plus the perp position; a perp trade's fee and its impact
 * (size · (fill − S)) are its slippage, and the funding the position pays is a cost of its own (`fundingCost`),
 * read from the snapshots' accrued funding in both modes alike: the change between two snapshots, or, across a
 * trade (which settles it into the margin), the accrual since the trade (the block before it is not counted).
 * Margin moves cost their gas only.
 */
import { greeks, SECONDS_PER_YEAR } from "../keeper/pricing/blackScholes.ts";
import { tokenToNumber, wadToNumber } from "../keeper/pricing/wad.ts";
import type { VaultSnapshot } from "../keeper/types.ts";
import type { RunMetrics } from "./types.ts";

/** A hedge's fill: the `Rebalanced` event's fields and the receipt's gas. */
export interface Fill {
  buyUnderlying: boolean;
  amountIn: bigint;
  amountOut: bigint;
  /** The oracle price the vault traded against, wad. */
  spotWad: bigint;
  gasUsed: number;
  /** A trade on the perp (`PerpHedged`): its size, fill and fee (quote units); `amountIn`/`amountOut` unused. */
  perp?: { sizeDeltaWad: bigint; fillPriceWad: bigint; fee: bigint };
}

export interface LedgerOptions {
  pathIndex: number;
  /** Gas price hedges pay until `setGasPrice`, wei per gas; the native token is priced at the oracle (gas paid in the underlying). */
  gasPriceWei: bigint;
  quoteDecimals: number;
  underlyingDecimals: number;
  ammFeeBps: number;
}

/** Σ size·price of the vault's live series at the snapshot's spot and time (quote; negative for a short book). */
export function bookValue(snapshot: VaultSnapshot): number {
  const spot = wadToNumber(snapshot.spotWad);
  const vol = wadToNumber(snapshot.risk.volWad);
  const rate = wadToNumber(snapshot.risk.rateWad);
  let value = 0;
  for (const s of snapshot.book) {
    if (s.sizeWad === 0n) continue;
    const tauSeconds = Math.max(0, Number(s.expiry - snapshot.timestamp));
    const g = greeks({ isCall: s.isCall, spot, strike: wadToNumber(s.strikeWad), vol, tauSeconds, rate });
    value += wadToNumber(s.sizeWad) * g.price;
  }
  return value;
}

/**
 * The share of a budget of `budget` whole quote units in use when `leftWad` (quote wad) is left, 0–1. A float
 * ratio (to ~1e-16): every block calls it, and an analytic share needs no more.
 */
function shareUsed(leftWad: bigint, budget: number): number {
  if (!(budget > 0)) return 0;
  return Math.max(0, 1 - Number(leftWad) / 1e18 / budget);
}

/** A cancel's gas: a 0-value transfer to oneself. */
const CANCEL_GAS = 21_000;

export class Ledger {
  readonly #o: LedgerOptions;
  #t0 = Number.NaN;
  #rate = 0;
  #prevSpot = Number.NaN;
  #prevBook = Number.NaN;
  #pnl = 0;
  #sumSq = 0;
  #gasUsed = 0;
  #gasCost = 0;
  #slippage = 0;
  #fees = 0;
  #funding = 0;
  #prevPerp: { size: bigint; funding: bigint } | undefined;
  #hedges = 0;
  #reverts = 0;
  #feeCapHolds = 0;
  #delayedBlocks = 0;
  #cancels = 0;
  #gasPriceWei: number;
  #l1FeeWei = 0;
  #l1DataCost = 0;
  #blocks = 0;
  #inBand = 0;
  #volume = 0;
  #budgetUse = 0;
  /** Fair value of options sold since the last observation (`sold`), undiscounted. */
  #sold = 0;

  constructor(options: LedgerOptions) {
    this.#o = options;
    this.#gasPriceWei = Number(options.gasPriceWei);
  }

  /**
   * The gas price the next charges pay, wei per gas (moving gas: the landing block's base fee plus the tip), and on
   * a rollup the L1 data fee each transaction pays on top, wei.
   */
  setGasPrice(priceWei: bigint, l1FeeWei = 0n): void {
    this.#gasPriceWei = Number(priceWei);
    this.#l1FeeWei = Number(l1FeeWei);
  }

  /** A hedge the keeper did not send: the base fee was above its fee cap. */
  feeCapHold(): void {
    this.#feeCapHolds++;
  }

  /**
   * The keeper cancelled a waiting hedge it no longer wants (a 0-value self-transfer at its nonce, 21,000 gas at
   * block i's base fee and median tip, plus a rollup's L1 fee): its gas, at those prices (hedges keep theirs).
   */
  cancel(gas: { baseFeeWei(i: number): bigint; tipWei(i: number): bigint; l1FeeWei(i: number): bigint }, i: number, spotWad: bigint): void {
    this.#cancels++;
    this.#chargeGas(CANCEL_GAS, wadToNumber(spotWad), { gasPriceWei: Number(gas.baseFeeWei(i) + gas.tipWei(i)), l1FeeWei: Number(gas.l1FeeWei(i)) });
  }

  /** A block that did not take the pending hedge (full, and the keeper's tip under its median). */
  delayed(): void {
    this.#delayedBlocks++;
  }

  /**
   * Options the vault sold in the block about to be observed (a buyer's `openPosition`), at their fair value signed
   * as the book holds them (`saleValue` in sim/flow.ts): taken out of the block's change in book value, so a new
   * trade is not counted as hedging P&L.
   */
  sold(value: number): void {
    this.#sold += value;
  }

  /** The vault after a block, with its book's value (`bookValue(snapshot)`, passed in so a caller can reuse it). */
  observe(snapshot: VaultSnapshot, book = bookValue(snapshot)): void {
    const t = Number(snapshot.timestamp);
    if (Number.isNaN(this.#t0)) {
      this.#t0 = t;
      this.#rate = wadToNumber(snapshot.risk.rateWad);
    }
    const discount = this.#rate === 0 ? 1 : Math.exp((-this.#rate * (t - this.#t0)) / SECONDS_PER_YEAR);
    const spot = wadToNumber(snapshot.spotWad) * discount;
    const bookNow = book * discount;
    const perp = snapshot.perp;
    if (perp !== undefined) {
      const prev = this.#prevPerp;
      const accrued = prev === undefined ? 0n : prev.size === perp.sizeWad ? perp.funding - prev.funding : perp.funding;
      this.#funding -= tokenToNumber(accrued, this.#o.quoteDecimals);
      this.#prevPerp = { size: perp.sizeWad, funding: perp.funding };
    }
    if (!Number.isNaN(this.#prevSpot)) {
      const hedge = Number(snapshot.hedgeBalance) / 10 ** this.#o.underlyingDecimals + (perp ? wadToNumber(perp.sizeWad) : 0);
      const dv = hedge * (spot - this.#prevSpot) + (bookNow - this.#prevBook - this.#sold * discount);
      this.#pnl += dv;
      this.#sumSq += dv * dv;
    }
    this.#sold = 0;
    this.#prevSpot = spot;
    this.#prevBook = bookNow;
    this.#blocks++;
    const net = snapshot.netDeltaWad < 0n ? -snapshot.netDeltaWad : snapshot.netDeltaWad;
    if (net <= snapshot.hedge.bandWad) this.#inBand++;
    this.#budgetUse = Math.max(
      this.#budgetUse,
      shareUsed(snapshot.notionalLeftWad, snapshot.hedge.notionalBudget),
      shareUsed(snapshot.slippageLeftWad, snapshot.hedge.slippageBudget),
    );
  }

  /** A mined hedge. */
  hedge(fill: Fill): void {
    const spot = wadToNumber(fill.spotWad);
    if (fill.perp !== undefined) {
      const size = wadToNumber(fill.perp.sizeDeltaWad);
      const fee = tokenToNumber(fill.perp.fee, this.#o.quoteDecimals);
      this.#slippage += fee + size * (wadToNumber(fill.perp.fillPriceWad) - spot);
      this.#fees += fee;
      this.#volume += Math.abs(size);
      this.#hedges++;
      this.#chargeGas(fill.gasUsed, spot);
      return;
    }
    const q = 10 ** this.#o.quoteDecimals;
    const u = 10 ** this.#o.underlyingDecimals;
    const feeRate = this.#o.ammFeeBps / 10_000;
    const traded = Number(fill.buyUnderlying ? fill.amountOut : fill.amountIn) / u;
    const quote = Number(fill.buyUnderlying ? fill.amountIn : fill.amountOut) / q;
    const fair = traded * spot;
    this.#slippage += fill.buyUnderlying ? quote - fair : fair - quote;
    this.#fees += fill.buyUnderlying ? quote * feeRate : fair * feeRate;
    this.#volume += traded;
    this.#hedges++;
    this.#chargeGas(fill.gasUsed, spot);
  }

  /** A transaction that trades nothing (a perp margin move): its gas. */
  gasOnly(gasUsed: number, spotWad: bigint): void {
    this.#chargeGas(gasUsed, wadToNumber(spotWad));
  }

  /** A hedge that reverted: its gas is spent, nothing traded. */
  revert(gasUsed: number, spotWad: bigint): void {
    this.#reverts++;
    this.#chargeGas(gasUsed, wadToNumber(spotWad));
  }

  /** One transaction's gas, at the hedges' current prices or at `prices` (a cancel's own block). */
  #chargeGas(gasUsed: number, nativePrice: number, prices = { gasPriceWei: this.#gasPriceWei, l1FeeWei: this.#l1FeeWei }): void {
    this.#gasUsed += gasUsed;
    const l1 = (prices.l1FeeWei / 1e18) * nativePrice;
    this.#l1DataCost += l1;
    this.#gasCost += ((gasUsed * prices.gasPriceWei) / 1e18) * nativePrice + l1;
  }

  result(): RunMetrics {
    return {
      pathIndex: this.#o.pathIndex,
      pnl: this.#pnl,
      trackingError: Math.sqrt(this.#sumSq),
      gasUsed: this.#gasUsed,
      gasCost: this.#gasCost,
      l1DataCost: this.#l1DataCost,
      slippageCost: this.#slippage,
      feeCost: this.#fees,
      fundingCost: this.#funding,
      totalCost: this.#gasCost + this.#slippage + this.#funding,
      hedges: this.#hedges,
      reverts: this.#reverts,
      feeCapHolds: this.#feeCapHolds,
      delayedBlocks: this.#delayedBlocks,
      cancels: this.#cancels,
      blocks: this.#blocks,
      blocksInBand: this.#inBand,
      volume: this.#volume,
      budgetUse: this.#budgetUse,
    };
  }
}
