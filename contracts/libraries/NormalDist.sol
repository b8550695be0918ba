// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMathLib} from "solady/src/utils/FixedPointMathLib.sol";

/// @title NormalDist
/// @notice Standard normal CDF N(x) and density φ(x) in 18-decimal fixed point (wad).
/// @dev Method: Hart (1968) double-precision rational approximation, as published (routine "Cumnorm") by
/// G. West, "Better approximations to cumulative normal functions", Wilmott Magazine (2005):
///     N(-|x|) = exp(-x²/2) · P(|x|) / Q(|x|),   P of degree 6, Q of degree 7.
/// West switches to a continued fraction for |x| ≥ 7.0710678; this library keeps P/Q up to the
/// saturation point instead: there N(-|x|) < 7.8e-13, and P/Q's relative error stays below 2.2e-8
/// (checked against mpmath at 40 digits), i.e. below 0.02 wei; one formula also keeps N monotone.
///
/// Domain: every int256 (no reverts).
/// Error bound: |cdf(x) - 1e18·N(x)| ≤ 45 wei: ≤ 41 wei from the approximation itself (its 15-digit
///   coefficients; worst near |x| ≈ 0.02, measured against mpmath on a 0.001 grid), ≤ 1 wei from expWad,
///   ≤ 1 wei from the final floor. |pdf(x) - 1e18·φ(x)| ≤ 2 wei.
/// Monotonicity: cdf is non-decreasing in x. exp(-x²/2) is computed as expWad(-⌊x²/2⌋), non-increasing in
///   |x| (solady's expWad is monotone); P/Q is strictly decreasing on [0, 9] (slope ≤ -0.0042, so a one-wei
///   step of x lowers it by ≥ 4e-21); P and Q are evaluated in 1e36 fixed point, whose rounding noise
///   (< 1e-36 relative) is far below that step. So e·P/Q is non-increasing in |x|, and so is its floor.
///   cdf(0) = 5e17 exactly (expWad(0) = 1e18 and P(0)/Q(0) = 1/2), so the sign flip keeps the order.
/// Saturation: the tail N(-|x|) floors to 0 from |x| ≈ 8.75 (true tail < 1 wei); for |x| ≥ 9
///   (SATURATION_WAD) evaluation is skipped: cdf is exactly 0 below -9 and exactly 1e18 above 9.
///   pdf floors to 0 from |x| ≈ 8.98 (exp(-x²/2) ≤ 2 wei there; true φ ≤ 1.1 wei) and is exactly 0 from 9.
/// Rounding: the tail N(-|x|) rounds down, so cdf rounds away from 1/2 (down for x < 0, up for x > 0);
///   cdf(x) + cdf(-x) == 1e18 exactly for every x. pdf rounds down.
library NormalDist {
    uint256 internal constant WAD = 1e18;

    /// @notice |x| (wad) at and beyond which the tail N(-|x|) is taken to be exactly 0.
    /// @dev True N(-9) = 1.1e-19 < 1 wei; the formula itself already floors to 0 from |x| ≈ 8.75.
    uint256 internal constant SATURATION_WAD = 9e18;

    /// @notice 1/√(2π) in wad (0.398942280401432677939…, rounded to nearest).
    uint256 internal constant INV_SQRT_2PI_WAD = 398942280401432678;

    // Hart / West coefficients (exact decimal values from the paper), scaled by 1e36 so that Horner's
    // rounding noise is negligible against the slope of P/Q (see Monotonicity above).
    uint256 private constant P6 = 0.0352624965998911e36;
    uint256 private constant P5 = 0.700383064443688e36;
    uint256 private constant P4 = 6.37396220353165e36;
    uint256 private constant P3 = 33.912866078383e36;
    uint256 private constant P2 = 112.079291497871e36;
    uint256 private constant P1 = 221.213596169931e36;
    uint256 private constant P0 = 220.206867912376e36;

    uint256 private constant Q7 = 0.0883883476483184e36;
    uint256 private constant Q6 = 1.75566716318264e36;
    uint256 private constant Q5 = 16.064177579207e36;
    uint256 private constant Q4 = 86.7807322029461e36;
    uint256 private constant Q3 = 296.564248779674e36;
    uint256 private constant Q2 = 637.333633378831e36;
    uint256 private constant Q1 = 793.826512519948e36;
    uint256 private constant Q0 = 440.413735824752e36;

    /// @notice N(x): the standard normal CDF, in wad. See the library NatSpec for error bound and rounding.
    /// @param xWad The argument, wad.
    /// @return cdfWad N(x) in [0, 1e18].
    function cdf(int256 xWad) internal pure returns (uint256 cdfWad) {
        if (xWad <= -int256(SATURATION_WAD)) return 0;
        if (xWad >= int256(SATURATION_WAD)) return WAD;
        // |xWad| < 9e18 here, so the negation cannot overflow.
        uint256 absXWad = uint256(xWad < 0 ? -xWad : xWad);
        uint256 tailWad = tail(absXWad, expHalfSquare(absXWad));
        cdfWad = xWad < 0 ? tailWad : WAD - tailWad;
    }

    /// @notice φ(x) = exp(-x²/2)/√(2π), the standard normal density, in wad, rounded down.
    /// @dev Exactly 0 for |x| ≥ SATURATION_WAD (true φ(9) = 1.03e-18; the formula already floors to 0 there).
    /// @param xWad The argument, wad.
    /// @return pdfWad φ(x) in [0, 398942280401432678].
    function pdf(int256 xWad) internal pure returns (uint256 pdfWad) {
        if (xWad <= -int256(SATURATION_WAD) || xWad >= int256(SATURATION_WAD)) return 0;
        uint256 absXWad = uint256(xWad < 0 ? -xWad : xWad);
        pdfWad = pdfFromExp(expHalfSquare(absXWad));
    }

    /// @notice exp(-x²/2) in wad, from |x| in wad; 0 for |x| ≥ SATURATION_WAD.
    /// @dev Non-increasing in |x|: ⌊x²/2⌋ is non-decreasing and expWad is monotone. Error ≤ 1 wei plus the
    /// effect of flooring x²/2 (< 1e-18 relative).
    function expHalfSquare(uint256 absXWad) internal pure returns (uint256 expWad_) {
        if (absXWad >= SATURATION_WAD) return 0;
        unchecked {
            // absXWad < 9e18: the square is < 8.1e37 and x²/2 < 40.5e18, inside expWad's domain, whose
            // result is then in (0, 1e18] and non-negative, so the casts are exact.
            expWad_ = uint256(FixedPointMathLib.expWad(-int256(absXWad * absXWad / (2 * WAD))));
        }
    }

    /// @notice φ(x) in wad from exp(-x²/2) in wad, rounded down.
    function pdfFromExp(uint256 expHalfSquareWad) internal pure returns (uint256 pdfWad) {
        unchecked {
            // expHalfSquareWad ≤ 1e18 by contract of the callers (a probability-like quantity); even at 1e58
            // the product stays below 2^256.
            pdfWad = expHalfSquareWad * INV_SQRT_2PI_WAD / WAD;
        }
    }

    /// @notice The tail N(-|x|) in wad, given |x| and exp(-x²/2) (both wad), rounded down.
    /// @dev Split out so that Black–Scholes can pass exp(-d2²/2) derived from exp(-d1²/2) without a second
    /// expWad. Returns 0 when |x| ≥ SATURATION_WAD or the exponential is 0. For the stated error bound
    /// expHalfSquareWad must be exp(-x²/2) within a few wei; it must be ≤ 1e18 (callers clamp).
    /// @param absXWad |x| in wad.
    /// @param expHalfSquareWad exp(-x²/2) in wad, ≤ 1e18.
    /// @return tailWad N(-|x|) in [0, 5e17].
    function tail(uint256 absXWad, uint256 expHalfSquareWad) internal pure returns (uint256 tailWad) {
        if (absXWad >= SATURATION_WAD || expHalfSquareWad == 0) return 0;
        unchecked {
            // Horner in 1e36 fixed point with x in wad: every coefficient and x are non-negative, so each
            // step only grows. With x < 9e18: P(9) < 1.4e5 and Q(9) < 3.2e6, so the partial sums are below
            // 3.2e42 and each product partial·x below 2.9e61 < 2^256. The floors lose < 1 unit of 1e-36 per
            // step. The final product e·P ≤ 1e18 · 1.4e41; Q ≥ Q0 > 0, so the division is safe.
            uint256 x = absXWad;
            uint256 p = P6;
            p = p * x / WAD + P5;
            p = p * x / WAD + P4;
            p = p * x / WAD + P3;
            p = p * x / WAD + P2;
            p = p * x / WAD + P1;
            p = p * x / WAD + P0;
            uint256 q = Q7;
            q = q * x / WAD + Q6;
            q = q * x / WAD + Q5;
            q = q * x / WAD + Q4;
            q = q * x / WAD + Q3;
            q = q * x / WAD + Q2;
            q = q * x / WAD + Q1;
            q = q * x / WAD + Q0;
            // P/Q ≤ 1/2 on [0, 9) (P(0)/Q(0) = 1/2, decreasing), so tailWad ≤ e/2 ≤ 5e17.
            tailWad = expHalfSquareWad * p / q;
        }
    }
}
