/**
 * What a mined hedge did, read from its receipt's vault events: the venue, side and size, and what it paid beyond
 * the oracle (the AMM's fee and impact, or the perp's fee and skew premium), or a perp margin move. Used by the
 * status page and the demo's terminal lines.
 */
import { decodeEventLog, type Address, type TransactionReceipt } from "viem";
import { optionVaultAbi } from "../abi.ts";

export interface HedgeFill {
  venue: "amm" | "perp";
  buyUnderlying: boolean;
  /** Underlying traded, units. */
  tradeUnderlying: number;
  /** The oracle price the vault traded against. */
  spot: number;
  gasUsed: bigint;
  /** Paid beyond the oracle value, quote units (fee + impact). */
  slippageQuote: number;
  slippageBps: number;
}

/** A perp margin move: the amount posted (positive) or withdrawn (negative), quote token units. */
export interface MarginFill {
  margin: bigint;
}

/** The hedge (or margin move) in `receipt`'s logs from `vault`; undefined when it has none. */
export function fillOf(
  receipt: Pick<TransactionReceipt, "logs" | "gasUsed">,
  vault: Address,
  decimals: { quote: number; underlying: number },
): HedgeFill | MarginFill | undefined {
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== vault.toLowerCase()) continue;
    let ev;
    try {
      ev = decodeEventLog({ abi: optionVaultAbi, data: log.data, topics: log.topics });
    } catch {
      continue; // another of the vault's events
    }
    if (ev.eventName === "PerpMarginMoved") return { margin: ev.args.amount };
    if (ev.eventName === "PerpHedged") {
      const { sizeDeltaWad, fillPriceWad, fee, spotWad } = ev.args;
      const buy = sizeDeltaWad > 0n;
      const size = Math.abs(Number(sizeDeltaWad)) / 1e18;
      const spot = Number(spotWad) / 1e18;
      const fill = Number(fillPriceWad) / 1e18;
      const slippageQuote = (buy ? fill - spot : spot - fill) * size + Number(fee) / 10 ** decimals.quote;
      return { venue: "perp", buyUnderlying: buy, tradeUnderlying: size, spot, gasUsed: receipt.gasUsed, slippageQuote, slippageBps: (slippageQuote / (size * spot)) * 10_000 };
    }
    if (ev.eventName !== "Rebalanced") continue;
    const { buyUnderlying, amountIn, amountOut, spotWad } = ev.args;
    const spot = Number(spotWad) / 1e18;
    const inUnits = Number(amountIn) / 10 ** (buyUnderlying ? decimals.quote : decimals.underlying);
    const outUnits = Number(amountOut) / 10 ** (buyUnderlying ? decimals.underlying : decimals.quote);
    const tradeUnderlying = buyUnderlying ? outUnits : inUnits;
    const fairQuote = tradeUnderlying * spot;
    const slippageQuote = buyUnderlying ? inUnits - fairQuote : fairQuote - outUnits;
    return { venue: "amm", buyUnderlying, tradeUnderlying, spot, gasUsed: receipt.gasUsed, slippageQuote, slippageBps: (slippageQuote / fairQuote) * 10_000 };
  }
  return undefined;
}
