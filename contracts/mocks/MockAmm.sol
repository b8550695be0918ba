// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IMockAmm} from "../interfaces/IMockAmm.sol";

/// @title MockAmm
/// @notice A Uniswap-v2-style constant-product pool between `underlying` and `quote`, used as the vault's hedge
/// venue in tests and demos. The pool is its own LP share token ("MockAmm LP").
/// @dev Rounding always favours the pool: swap outputs, minted shares and withdrawals round down, exact-out
/// quotes round up. Hence, with the fee kept in the reserves, `reserveUnderlying * reserveQuote` never decreases
/// on a swap (proof at `_getAmountOut`), and `k / totalSupply²` never decreases on any operation.
/// Warning: tokens are assumed to move exactly the amount asked (no fee-on-transfer, no rebasing), which holds
/// for `MockERC20`. Reserves are tracked internally, so tokens sent directly to the pool are not counted
/// (a donation cannot move the price) and stay in the pool unclaimed.
contract MockAmm is IMockAmm, ERC20, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Denominator of `feeBps`.
    uint256 public constant BPS = 10_000;
    /// @notice Fee ceiling (10%).
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice Shares locked forever by the first deposit (Uniswap v2): makes one share cost at least
    /// 1/1000 of the initial `sqrt(x * y)`, so a first depositor cannot inflate the share price to round later
    /// depositors' shares down to zero.
    uint256 public constant MINIMUM_LIQUIDITY = 1_000;
    /// @notice Holder of the locked `MINIMUM_LIQUIDITY` (OZ's ERC20 refuses to mint to `address(0)`).
    address public constant LOCKED_LIQUIDITY_HOLDER = address(0xdead);

    /// @inheritdoc IMockAmm
    address public immutable override underlying;
    /// @inheritdoc IMockAmm
    address public immutable override quote;
    /// @inheritdoc IMockAmm
    uint256 public immutable override feeBps;

    /// @dev Invariant: both reserves are > 0 exactly when `totalSupply() > 0` (swaps and withdrawals never take a
    /// whole reserve), and each reserve is ≤ the pool's balance of its token.
    /// @dev Both reserves in one slot (as Uniswap v2 does): a swap reads and writes one slot, not two.
    uint128 private _reserveUnderlying;
    uint128 private _reserveQuote;

    /// @notice The two tokens of a pool must be distinct contracts.
    error InvalidTokenPair(address underlying, address quote);
    /// @notice The first deposit must give `sqrt(amountUnderlying * amountQuote) > MINIMUM_LIQUIDITY`.
    error InitialLiquidityTooLow(uint256 liquidity, uint256 minimumLiquidity);

    /// @notice Deploys an empty pool.
    /// @param underlying_ The risky token (e.g. WETH).
    /// @param quote_ The quote token (e.g. USDC).
    /// @param feeBps_ Swap fee in basis points charged on the input, at most `MAX_FEE_BPS` (30 = 0.30%).
    constructor(address underlying_, address quote_, uint256 feeBps_) ERC20("MockAmm LP", "MAMM-LP") {
        if (underlying_ == quote_ || underlying_ == address(0) || quote_ == address(0)) {
            revert InvalidTokenPair(underlying_, quote_);
        }
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_, MAX_FEE_BPS);
        underlying = underlying_;
        quote = quote_;
        feeBps = feeBps_;
    }

    // ───────────────────────────────────────────── views ─────────────────────────────────────────────

    /// @inheritdoc IMockAmm
    function getReserves() external view override returns (uint256 reserveUnderlying, uint256 reserveQuote) {
        return (_reserveUnderlying, _reserveQuote);
    }

    /// @inheritdoc IMockAmm
    function quoteExactIn(address tokenIn, uint256 amountIn) external view override returns (uint256 amountOut) {
        if (amountIn == 0) revert ZeroAmount();
        (uint256 reserveIn, uint256 reserveOut,) = _orient(tokenIn);
        return _getAmountOut(amountIn, reserveIn, reserveOut);
    }

    /// @inheritdoc IMockAmm
    /// @dev Also reverts with `UnknownToken` or `ZeroAmount`. Exactly the smallest input: one unit less buys
    /// less than `amountOut` (see `_getAmountIn`).
    function quoteExactOut(address tokenIn, uint256 amountOut) external view override returns (uint256 amountIn) {
        if (amountOut == 0) revert ZeroAmount();
        (uint256 reserveIn, uint256 reserveOut,) = _orient(tokenIn);
        return _getAmountIn(amountOut, reserveIn, reserveOut);
    }

    // ───────────────────────────────────────────── swaps ─────────────────────────────────────────────

    /// @inheritdoc IMockAmm
    /// @dev Also reverts with `UnknownToken`, `ZeroAmount` or `InsufficientLiquidity` (empty pool). A zero
    /// `minAmountOut` is treated as 1: a swap that pays nothing only gifts the input to the LPs.
    /// Emits `Sync` and `Swap`.
    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to, uint256 deadline)
        external
        override
        nonReentrant
        returns (uint256 amountOut)
    {
        if (block.timestamp > deadline) revert DeadlineExpired(deadline, block.timestamp);
        if (amountIn == 0) revert ZeroAmount();
        (uint256 reserveIn, uint256 reserveOut, bool underlyingIn) = _orient(tokenIn);

        amountOut = _getAmountOut(amountIn, reserveIn, reserveOut);
        uint256 minOut = minAmountOut == 0 ? 1 : minAmountOut;
        if (amountOut < minOut) revert InsufficientOutput(amountOut, minOut);

        // Effects. `amountOut < reserveOut` (see `_getAmountOut`), so the subtraction cannot underflow and the
        // output reserve stays > 0.
        address tokenOut;
        if (underlyingIn) {
            tokenOut = quote;
            _setReserves(reserveIn + amountIn, reserveOut - amountOut);
        } else {
            tokenOut = underlying;
            _setReserves(reserveOut - amountOut, reserveIn + amountIn);
        }
        emit Swap(msg.sender, tokenIn, amountIn, amountOut, to);

        // Interactions: pull first, so the pool never pays out before it is paid.
        IERC20(tokenIn).safeTransferFrom(msg.sender, address(this), amountIn);
        IERC20(tokenOut).safeTransfer(to, amountOut);
    }

    // ─────────────────────────────────────────── liquidity ───────────────────────────────────────────

    /// @inheritdoc IMockAmm
    /// @dev The first deposit takes both maxima, mints `sqrt(amountUnderlying * amountQuote) - MINIMUM_LIQUIDITY`
    /// shares to `to` and locks `MINIMUM_LIQUIDITY` at `LOCKED_LIQUIDITY_HOLDER`. Later deposits take the largest
    /// amounts at the current ratio within the maxima (the paired side rounded down) and mint
    /// `min(amountUnderlying * supply / reserveUnderlying, amountQuote * supply / reserveQuote)`, rounded down.
    /// A zero `minShares` is treated as 1. Reverts with `ZeroAmount` when a maximum is 0, `SlippageExceeded`
    /// below `minShares`, `InitialLiquidityTooLow` when the first deposit is too small.
    /// Emits `LiquidityAdded`, `Sync` and the LP token's `Transfer`.
    function addLiquidity(uint256 amountUnderlyingMax, uint256 amountQuoteMax, uint256 minShares, address to)
        external
        override
        nonReentrant
        returns (uint256 amountUnderlying, uint256 amountQuote, uint256 shares)
    {
        if (amountUnderlyingMax == 0 || amountQuoteMax == 0) revert ZeroAmount();
        uint256 supply = totalSupply();
        uint256 reserveUnderlying = _reserveUnderlying;
        uint256 reserveQuote = _reserveQuote;

        if (supply == 0) {
            (amountUnderlying, amountQuote) = (amountUnderlyingMax, amountQuoteMax);
            uint256 liquidity = Math.sqrt(amountUnderlying * amountQuote);
            if (liquidity <= MINIMUM_LIQUIDITY) revert InitialLiquidityTooLow(liquidity, MINIMUM_LIQUIDITY);
            shares = liquidity - MINIMUM_LIQUIDITY;
            _mint(LOCKED_LIQUIDITY_HOLDER, MINIMUM_LIQUIDITY);
        } else {
            // Reserves are > 0 whenever supply > 0 (invariant above), so the divisions are safe.
            uint256 quoteForMaxUnderlying = Math.mulDiv(amountUnderlyingMax, reserveQuote, reserveUnderlying);
            if (quoteForMaxUnderlying <= amountQuoteMax) {
                (amountUnderlying, amountQuote) = (amountUnderlyingMax, quoteForMaxUnderlying);
            } else {
                // amountQuoteMax < amountUnderlyingMax * rQ / rU, so this is ≤ amountUnderlyingMax.
                (amountUnderlying, amountQuote) =
                    (Math.mulDiv(amountQuoteMax, reserveUnderlying, reserveQuote), amountQuoteMax);
            }
            // The min of the two pro-rata shares, both rounded down: a depositor whose paired amount was rounded
            // down gets shares for what they actually paid, never for more.
            shares = Math.min(
                Math.mulDiv(amountUnderlying, supply, reserveUnderlying), Math.mulDiv(amountQuote, supply, reserveQuote)
            );
        }
        uint256 minSharesOrOne = minShares == 0 ? 1 : minShares;
        if (shares < minSharesOrOne) revert SlippageExceeded(shares, minSharesOrOne);

        _setReserves(reserveUnderlying + amountUnderlying, reserveQuote + amountQuote);
        _mint(to, shares);
        emit LiquidityAdded(msg.sender, amountUnderlying, amountQuote, shares, to);

        IERC20(underlying).safeTransferFrom(msg.sender, address(this), amountUnderlying);
        IERC20(quote).safeTransferFrom(msg.sender, address(this), amountQuote);
    }

    /// @inheritdoc IMockAmm
    /// @dev Pays `shares * reserve / totalSupply()` of each token, rounded down. Zero minima are treated as 1, so
    /// shares are never burnt for nothing. Because the locked shares are never burnt, `shares < totalSupply()`
    /// and each payout is strictly below its reserve. Reverts with `ZeroAmount`, `SlippageExceeded`, or
    /// `ERC20InsufficientBalance` when the caller holds fewer shares. Emits `LiquidityRemoved`, `Sync` and the
    /// LP token's `Transfer`.
    function removeLiquidity(uint256 shares, uint256 minUnderlying, uint256 minQuote, address to)
        external
        override
        nonReentrant
        returns (uint256 amountUnderlying, uint256 amountQuote)
    {
        if (shares == 0) revert ZeroAmount();
        uint256 supply = totalSupply();
        uint256 reserveUnderlying = _reserveUnderlying;
        uint256 reserveQuote = _reserveQuote;
        // If supply == 0 the caller holds no shares and `_burn` below reverts; guard the division first.
        if (supply == 0) revert InsufficientLiquidity(0, shares);

        amountUnderlying = Math.mulDiv(shares, reserveUnderlying, supply);
        amountQuote = Math.mulDiv(shares, reserveQuote, supply);
        uint256 minUnderlyingOrOne = minUnderlying == 0 ? 1 : minUnderlying;
        if (amountUnderlying < minUnderlyingOrOne) revert SlippageExceeded(amountUnderlying, minUnderlyingOrOne);
        uint256 minQuoteOrOne = minQuote == 0 ? 1 : minQuote;
        if (amountQuote < minQuoteOrOne) revert SlippageExceeded(amountQuote, minQuoteOrOne);

        _burn(msg.sender, shares);
        _setReserves(reserveUnderlying - amountUnderlying, reserveQuote - amountQuote);
        emit LiquidityRemoved(msg.sender, amountUnderlying, amountQuote, shares, to);

        IERC20(underlying).safeTransfer(to, amountUnderlying);
        IERC20(quote).safeTransfer(to, amountQuote);
    }

    // ──────────────────────────────────────────── internal ───────────────────────────────────────────

    /// @dev Reverts with `SafeCastOverflowedUintDowncast` beyond 2^128 − 1 tokens a side, far above any supply.
    function _setReserves(uint256 reserveUnderlying, uint256 reserveQuote) private {
        _reserveUnderlying = SafeCast.toUint128(reserveUnderlying);
        _reserveQuote = SafeCast.toUint128(reserveQuote);
        emit Sync(reserveUnderlying, reserveQuote);
    }

    /// @dev Returns the reserves ordered (in, out) for a swap paying `tokenIn`.
    function _orient(address tokenIn) private view returns (uint256 reserveIn, uint256 reserveOut, bool underlyingIn) {
        if (tokenIn == underlying) return (_reserveUnderlying, _reserveQuote, true);
        if (tokenIn == quote) return (_reserveQuote, _reserveUnderlying, false);
        revert UnknownToken(tokenIn);
    }

    /// @dev Uniswap v2: `out = in·(BPS−fee)·rOut / (rIn·BPS + in·(BPS−fee))`, rounded down.
    /// Why k never decreases on a swap: with `inWithFee = in·(BPS−fee)/BPS ≤ in`,
    /// `out ≤ inWithFee·rOut / (rIn + inWithFee) ≤ in·rOut / (rIn + in)` (the map t ↦ t·rOut/(rIn+t) increases),
    /// so `rOut − out ≥ rOut·rIn / (rIn + in)` and `(rIn + in)·(rOut − out) ≥ rIn·rOut`. The fee and the rounding
    /// both stay in the pool, each only adding to k. The same bound gives `out < rOut`: a swap never empties a
    /// reserve.
    function _getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        private
        view
        returns (uint256 amountOut)
    {
        if (reserveIn == 0 || reserveOut == 0) revert InsufficientLiquidity(reserveOut, 0);
        uint256 amountInWithFee = amountIn * (BPS - feeBps);
        // mulDiv: `amountInWithFee * reserveOut` can exceed 2^256 for large 18-decimal amounts.
        return Math.mulDiv(amountInWithFee, reserveOut, reserveIn * BPS + amountInWithFee);
    }

    /// @dev Inverse of `_getAmountOut`, rounded up: `in = ⌈rIn·out·BPS / ((rOut − out)·(BPS−fee))⌉`.
    /// `floor(out(in)) ≥ out` ⇔ `in·(BPS−fee)·(rOut − out) ≥ out·rIn·BPS`, so the ceiling is exactly the smallest
    /// sufficient input (Uniswap v2's `floor + 1` overpays by one unit when the division is exact).
    function _getAmountIn(uint256 amountOut, uint256 reserveIn, uint256 reserveOut)
        private
        view
        returns (uint256 amountIn)
    {
        if (amountOut >= reserveOut || reserveIn == 0) revert InsufficientLiquidity(reserveOut, amountOut);
        return Math.mulDiv(reserveIn * BPS, amountOut, (reserveOut - amountOut) * (BPS - feeBps), Math.Rounding.Ceil);
    }
}
