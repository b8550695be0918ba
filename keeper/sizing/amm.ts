/**
 * Constant-product AMM math in bigint, identical to `contracts/mocks/MockAmm.sol` (Uniswap v2 with the fee
 * charged on the input), and execution prices rounded as `OptionVault._afterTrade` rounds them. Amounts are in
 * each token's own decimals; `feeBps` is the pool's fee in basis points.
 */
import { BPS, mulDiv, tokenToWad, WAD } from "../pricing/wad.ts";

/** The pool cannot serve the request: a reserve is empty, or the output asked is not below the output reserve. */
export class InsufficientLiquidityError extends RangeError {
  override name = "InsufficientLiquidityError";
}

/**
 * `MockAmm._getAmountOut`: out = ⌊in·(BPS − fee)·rOut / (rIn·BPS + in·(BPS − fee))⌋. Always < rOut. Throws
 * `InsufficientLiquidityError` on an empty reserve, `RangeError` on a negative amount or a fee outside [0, BPS).
 */
export function getAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint, feeBps: bigint): bigint {
  checkFee(feeBps);
  if (amountIn < 0n) throw new RangeError(`amountIn must be ≥ 0, got ${amountIn}`);
  if (reserveIn <= 0n || reserveOut <= 0n) {
    throw new InsufficientLiquidityError(`empty pool (reserves ${reserveIn}, ${reserveOut})`);
  }
  const amountInWithFee = amountIn * (BPS - feeBps);
  return mulDiv(amountInWithFee, reserveOut, reserveIn * BPS + amountInWithFee);
}

/**
 * `MockAmm._getAmountIn` (what `quoteExactOut` returns): in = ⌈rIn·out·BPS / ((rOut − out)·(BPS − fee))⌉, the
 * smallest input for which `getAmountOut(in) ≥ out`. Throws `InsufficientLiquidityError` when out ≥ rOut or a
 * reserve is empty.
 */
export function getAmountIn(amountOut: bigint, reserveIn: bigint, reserveOut: bigint, feeBps: bigint): bigint {
  checkFee(feeBps);
  if (amountOut < 0n) throw new RangeError(`amountOut must be ≥ 0, got ${amountOut}`);
  if (amountOut >= reserveOut || reserveIn <= 0n) {
    throw new InsufficientLiquidityError(
      `cannot buy ${amountOut} from a reserve of ${reserveOut} (input reserve ${reserveIn})`,
    );
  }
  return mulDiv(reserveIn * BPS, amountOut, (reserveOut - amountOut) * (BPS - feeBps), "up");
}

/** Token decimals of the pair, as the vault scales them to wad. */
export interface PairDecimals {
  quoteDecimals: number;
  underlyingDecimals: number;
}

/**
 * Execution price of a swap, quote wad per one underlying, rounded against the keeper as `_afterTrade` does:
 * up when buying underlying (price paid), down when selling (price received). `buyUnderlying`: quote in,
 * underlying out. Throws `RangeError` when no underlying moves (the vault's division would revert).
 */
export function executionPriceWad(
  p: PairDecimals & { buyUnderlying: boolean; amountIn: bigint; amountOut: bigint },
): bigint {
  const quoteAmount = p.buyUnderlying ? p.amountIn : p.amountOut;
  const underlyingAmount = p.buyUnderlying ? p.amountOut : p.amountIn;
  const tradedWad = tokenToWad(underlyingAmount, p.underlyingDecimals);
  if (tradedWad <= 0n) throw new RangeError("execution price of a swap that moves no underlying");
  const quoteWad = tokenToWad(quoteAmount, p.quoteDecimals);
  return mulDiv(quoteWad, WAD, tradedWad, p.buyUnderlying ? "up" : "down");
}

/**
 * The limit price of `OptionVault._afterTrade`: the oracle price moved by `maxSlippageBps` against the vault,
 * rounded down (⌊spot·(BPS + bps)/BPS⌋ for buys, ⌊spot·(BPS − bps)/BPS⌋ for sells).
 */
export function slippageLimitWad(spotWad: bigint, maxSlippageBps: bigint, buyUnderlying: boolean): bigint {
  if (maxSlippageBps < 0n || maxSlippageBps > BPS) {
    throw new RangeError(`maxSlippageBps must be in [0, ${BPS}], got ${maxSlippageBps}`);
  }
  return mulDiv(spotWad, buyUnderlying ? BPS + maxSlippageBps : BPS - maxSlippageBps, BPS);
}

/** The pool's marginal price, quote wad per one underlying (rounded down); 0 for an empty pool. */
export function poolPriceWad(reserveUnderlying: bigint, reserveQuote: bigint, decimals: PairDecimals): bigint {
  if (reserveUnderlying <= 0n) return 0n;
  const quoteWad = tokenToWad(reserveQuote, decimals.quoteDecimals);
  return mulDiv(quoteWad, WAD, tokenToWad(reserveUnderlying, decimals.underlyingDecimals));
}

function checkFee(feeBps: bigint): void {
  if (feeBps < 0n || feeBps >= BPS) throw new RangeError(`feeBps must be in [0, ${BPS}), got ${feeBps}`);
}
