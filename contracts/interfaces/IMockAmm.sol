// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IMockAmm
/// @notice A two-token constant-product pool (`x * y = k`, Uniswap v2 math) with a swap fee in basis points,
/// used as the vault's hedge venue. Token amounts are in each token's own decimals.
/// @dev Invariants: reserves are tracked internally (a token donation does not move the price); after every swap
/// `reserveUnderlying * reserveQuote` is at least what it was before (the fee stays in the pool, outputs round down).
interface IMockAmm {
    /// @notice Emitted on every swap.
    event Swap(
        address indexed sender, address indexed tokenIn, uint256 amountIn, uint256 amountOut, address indexed to
    );
    /// @notice Emitted when liquidity is added.
    event LiquidityAdded(address indexed provider, uint256 amountUnderlying, uint256 amountQuote, uint256 shares, address indexed to);
    /// @notice Emitted when liquidity is removed.
    event LiquidityRemoved(address indexed provider, uint256 amountUnderlying, uint256 amountQuote, uint256 shares, address indexed to);
    /// @notice Emitted whenever the reserves change.
    event Sync(uint256 reserveUnderlying, uint256 reserveQuote);

    /// @notice The transaction was mined after `deadline`.
    error DeadlineExpired(uint256 deadline, uint256 timestamp);
    /// @notice The swap would pay out less than the caller's minimum.
    error InsufficientOutput(uint256 amountOut, uint256 minAmountOut);
    /// @notice `token` is neither the underlying nor the quote token of this pool.
    error UnknownToken(address token);
    /// @notice A zero amount was given where a positive one is required.
    error ZeroAmount();
    /// @notice The pool has no liquidity, or the requested output would drain a reserve.
    error InsufficientLiquidity(uint256 reserveOut, uint256 amountOut);
    /// @notice Liquidity added or removed yields fewer shares/tokens than the caller's minimum.
    error SlippageExceeded(uint256 amount, uint256 minAmount);
    /// @notice Fee above the 10% ceiling.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);

    /// @notice The underlying (risky, e.g. WETH) token.
    function underlying() external view returns (address);
    /// @notice The quote (e.g. USDC) token.
    function quote() external view returns (address);
    /// @notice Swap fee in basis points, charged on the input amount (30 = 0.30%).
    function feeBps() external view returns (uint256);

    /// @notice Current reserves, in token units.
    function getReserves() external view returns (uint256 reserveUnderlying, uint256 reserveQuote);

    /// @notice Output of an exact-input swap at the current reserves (rounded down).
    /// @dev Reverts with `UnknownToken`, `ZeroAmount` or `InsufficientLiquidity`.
    function quoteExactIn(address tokenIn, uint256 amountIn) external view returns (uint256 amountOut);

    /// @notice Smallest input of `tokenIn` that buys at least `amountOut` of the other token (rounded up).
    /// @dev Reverts with `InsufficientLiquidity` when `amountOut` is not below the output reserve.
    function quoteExactOut(address tokenIn, uint256 amountOut) external view returns (uint256 amountIn);

    /// @notice Swaps an exact `amountIn` of `tokenIn` (pulled from the caller with `transferFrom`) for the other
    /// token, sent to `to`.
    /// @param tokenIn The token paid in: `underlying()` or `quote()`.
    /// @param amountIn The exact amount paid in.
    /// @param minAmountOut The swap reverts with `InsufficientOutput` below this.
    /// @param to Receiver of the output.
    /// @param deadline The swap reverts with `DeadlineExpired` when `block.timestamp > deadline`.
    /// @return amountOut The amount sent to `to`.
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to, uint256 deadline)
        external
        returns (uint256 amountOut);

    /// @notice Adds liquidity at the current ratio (any ratio for the first deposit) and mints pool shares to `to`.
    /// @dev Pulls exactly the amounts that keep the ratio, at most `amountUnderlyingMax` and `amountQuoteMax`.
    function addLiquidity(uint256 amountUnderlyingMax, uint256 amountQuoteMax, uint256 minShares, address to)
        external
        returns (uint256 amountUnderlying, uint256 amountQuote, uint256 shares);

    /// @notice Burns `shares` of the caller and sends the pro-rata reserves to `to`.
    function removeLiquidity(uint256 shares, uint256 minUnderlying, uint256 minQuote, address to)
        external
        returns (uint256 amountUnderlying, uint256 amountQuote);
}
