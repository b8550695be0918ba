// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMathLib} from "solady/src/utils/FixedPointMathLib.sol";
import {NormalDist} from "./NormalDist.sol";

/// @title BlackScholes
/// @notice Price, delta, gamma and vega of European calls and puts on a non-dividend-paying underlying
/// (Black–Scholes 1973, Merton 1973), in 18-decimal fixed point.
/// @dev Units: spotWad and strikeWad are quote units per 1 underlying (wad); volWad is the annualised implied
/// volatility (1e18 = 100%); tauSeconds is the time to expiry (a year is 365 days); rateWad is the continuously
/// compounded annual risk-free rate (1e18 = 100%).
///
/// Domain (reverts outside it, with the offending value): spot and strike in [1e12, 1e33]; vol in
///   [1e15, 1e19] (0.1%–1000%); tau in [1 s, 10 years]; rate in [0, 1e18]. An expired option (tau == 0) is the
///   caller's business: its value is the intrinsic value and its delta is fixed.
///
/// With v = σ√τ, d1 = (ln(S/K) + rτ)/v + v/2 and d2 = d1 - v:
///   call = S·N(d1) - K·e^{-rτ}·N(d2)        delta_call = N(d1)
///   put  = K·e^{-rτ}·N(-d2) - S·N(-d1)      delta_put  = N(d1) - 1 = -N(-d1)
///   gamma = φ(d1)/(S·v)   (per 1 quote unit of spot, wad)
///   vega  = S·φ(d1)·√τ    (per 1.0 = 100 vol points, quote wad)
/// Shared work: one lnWad, one sqrt, one expWad for exp(-d1²/2), and one expWad for e^{-rτ} (skipped when
///   rate == 0). exp(-d2²/2) is derived from exp(-d1²/2) through S·φ(d1) = K·e^{-rτ}·φ(d2), i.e.
///   exp(-d2²/2) = exp(-d1²/2)·S/(K·e^{-rτ}); the absolute error this induces in K·e^{-rτ}·N(±d2) is at most
///   S·(error of exp(-d1²/2))/2, i.e. below S·1.5e-18, because N(-|d2|) ≤ exp(-d2²/2)/2.
///
/// Error bounds (N and φ per NormalDist: ≤ 45 wei and ≤ 2 wei absolute; v = σ√τ):
///   d1: ln(S/K), rτ and v each carry about one wei (1e-18) of error, so |error of d1| ≤ (3 + |d1|)·1e-18/v.
///   delta: |error| ≤ 5e-17 + φ(d1)·|error of d1| ≤ 5e-17 + 1.3e-18/v; i.e. ≤ 1.4e-15 when v ≥ 1e-3 (vol
///     10%, 1 hour) and ≤ 8e-12 at the domain's corner (vol 0.1%, 1 s, v = 1.8e-7).
///   price: |error| ≤ 5e-17·(S + K·e^{-rτ}) + S·1.5e-18 + 2 wei (an error of d1 shared by d2 cancels to first
///     order, since S·φ(d1) = K·e^{-rτ}·φ(d2)).
///   gamma, vega: relative error ≤ (2 wei)/φ(d1) + 1e-13 for v ≥ 1e-3, i.e. ≤ 3e-9 whenever φ(d1) ≥ 1e-9,
///     plus the one-wei quantum of the result itself.
///   Measured against a float64 reference on 10,000 random inputs in test/greeks.test.ts.
/// Monotonicity: delta (call and put) is non-decreasing in spot: ⌊S·1e36/K⌋, lnWad, the division by v > 0
///   (truncating) and N are all non-decreasing. Price and gamma/vega carry no monotonicity guarantee at the
///   one-wei level.
/// Saturation: when |d1| ≥ 9 (deep in or out of the money, or tau tiny) delta is exactly 0 or ±1e18 (already
///   from |d1| ≈ 8.75) and gamma = vega = 0; the price stays within the bound above.
/// Rounding: the price's positive term is rounded up and its negative term down, so arithmetic rounding
///   favours the vault that receives premium and marks liabilities (≤ 2 wei up); the approximation error of N
///   is two-sided and bounded above. A negative result (possible only within that error) is clamped to 0.
///   delta rounds N(d1) away from 1/2 (see NormalDist); call delta - put delta == 1e18 exactly.
///   gamma and vega round down.
library BlackScholes {
    /// @notice The Greeks of one option, as returned by `greeks`.
    /// @param priceWad Option value in quote wad per 1 underlying.
    /// @param deltaWad d(price)/d(spot), wad: call in [0, 1e18], put in [-1e18, 0].
    /// @param gammaWad d(delta)/d(spot) with spot in quote units, wad.
    /// @param vegaWad d(price)/d(vol) per 1.0 of vol (100 vol points), quote wad.
    struct Greeks {
        uint256 priceWad;
        int256 deltaWad;
        uint256 gammaWad;
        uint256 vegaWad;
    }

    /// @notice The spot is outside [MIN_PRICE_WAD, MAX_PRICE_WAD].
    error SpotOutOfDomain(uint256 spotWad);
    /// @notice The strike is outside [MIN_PRICE_WAD, MAX_PRICE_WAD].
    error StrikeOutOfDomain(uint256 strikeWad);
    /// @notice The volatility is outside [MIN_VOL_WAD, MAX_VOL_WAD].
    error VolOutOfDomain(uint256 volWad);
    /// @notice The time to expiry is outside [MIN_TAU_SECONDS, MAX_TAU_SECONDS] (0 means expired).
    error TauOutOfDomain(uint256 tauSeconds);
    /// @notice The rate is above MAX_RATE_WAD.
    error RateOutOfDomain(uint256 rateWad);

    uint256 internal constant WAD = 1e18;
    /// @notice Length of the year that annualises vol and rate.
    uint256 internal constant SECONDS_PER_YEAR = 365 days;

    /// @notice Smallest spot or strike, quote wad per 1 underlying (1e-6 quote units).
    uint256 internal constant MIN_PRICE_WAD = 1e12;
    /// @notice Largest spot or strike, quote wad per 1 underlying (1e15 quote units).
    uint256 internal constant MAX_PRICE_WAD = 1e33;
    /// @notice Smallest volatility: 0.1%.
    uint256 internal constant MIN_VOL_WAD = 1e15;
    /// @notice Largest volatility: 1000%.
    uint256 internal constant MAX_VOL_WAD = 1e19;
    /// @notice Shortest time to expiry; 0 is expired and reverts.
    uint256 internal constant MIN_TAU_SECONDS = 1;
    /// @notice Longest time to expiry: 10 years.
    uint256 internal constant MAX_TAU_SECONDS = 10 * SECONDS_PER_YEAR;
    /// @notice Largest rate: 100%. The smallest is 0 (negative rates are not supported).
    uint256 internal constant MAX_RATE_WAD = 1e18;

    /// @dev ln(1e18) in wad (41.4465316738928223123…, rounded down; the 0.32 wei is below lnWad's own error).
    /// lnWad(⌊S·1e36/K⌋) - LN_1E18_WAD = ln(S/K) with the ratio carried at 1e-36 resolution, so that even
    /// S/K = 1e-21 keeps 15 significant digits.
    int256 private constant LN_1E18_WAD = 41446531673892822312;

    /// @notice Delta of a call (in [0, 1e18]) or put (in [-1e18, 0]), wad.
    /// @dev Gas ≤ 3,000 (see test/greeks.test.ts). Domain, error bound, monotonicity and rounding: see the
    /// library NatSpec.
    function delta(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        internal
        pure
        returns (int256 deltaWad)
    {
        _checkDomain(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        (int256 d1Wad,,) = _d1(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        uint256 absD1Wad = _abs(d1Wad);
        deltaWad = _delta(_cdf(d1Wad, NormalDist.tail(absD1Wad, NormalDist.expHalfSquare(absD1Wad))), isCall);
    }

    /// @notice Black–Scholes value of a call or put, quote wad per 1 underlying.
    /// @dev Rounded in the vault's favour up to the approximation error; see the library NatSpec.
    function price(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        internal
        pure
        returns (uint256 priceWad)
    {
        _checkDomain(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        (int256 d1Wad, uint256 sigmaRootTauWad, uint256 strikePv36) =
            _prepare(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        (priceWad,,) = _evaluate(spotWad, strikePv36, d1Wad, sigmaRootTauWad, isCall);
    }

    /// @notice Price, delta, gamma and vega in one pass (one ln, one sqrt, at most two exp).
    /// @dev Gas ≤ 8,000 (see test/greeks.test.ts). priceWad and deltaWad equal `price` and `delta` exactly.
    function greeks(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        internal
        pure
        returns (Greeks memory g)
    {
        _checkDomain(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        (int256 d1Wad, uint256 sigmaRootTauWad, uint256 strikePv36) =
            _prepare(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        uint256 pdfD1Wad;
        (g.priceWad, g.deltaWad, pdfD1Wad) = _evaluate(spotWad, strikePv36, d1Wad, sigmaRootTauWad, isCall);
        unchecked {
            // In the domain: φ ≤ 4e17 so φ·1e36 ≤ 4e53; S·v ≤ 1e33·3.2e19 and ≥ 1e12·1.7e11 > 0.
            g.gammaWad = pdfD1Wad * 1e36 / (spotWad * sigmaRootTauWad);
            // vega = S·φ·√τ = S·φ·v/σ: S·φ·v ≤ 1e33·4e17·3.2e19 = 1.3e70 < 2^256; σ·1e18 ≥ 1e33.
            g.vegaWad = spotWad * pdfD1Wad * sigmaRootTauWad / (volWad * WAD);
        }
    }

    /// @dev Reverts with the first argument found outside the domain.
    function _checkDomain(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad)
        private
        pure
    {
        unchecked {
            // x ∈ [min, max] ⇔ x - min ≤ max - min in wrapping arithmetic (x < min wraps to a huge value):
            // one comparison per bound pair.
            if (spotWad - MIN_PRICE_WAD > MAX_PRICE_WAD - MIN_PRICE_WAD) revert SpotOutOfDomain(spotWad);
            if (strikeWad - MIN_PRICE_WAD > MAX_PRICE_WAD - MIN_PRICE_WAD) revert StrikeOutOfDomain(strikeWad);
            if (volWad - MIN_VOL_WAD > MAX_VOL_WAD - MIN_VOL_WAD) revert VolOutOfDomain(volWad);
            if (tauSeconds - MIN_TAU_SECONDS > MAX_TAU_SECONDS - MIN_TAU_SECONDS) revert TauOutOfDomain(tauSeconds);
            if (rateWad > MAX_RATE_WAD) revert RateOutOfDomain(rateWad);
        }
    }

    /// @dev d1 (wad), v = σ√τ (wad, rounded down, > 0) and rτ (wad, rounded down). Inputs must be in the domain.
    function _d1(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad)
        private
        pure
        returns (int256 d1Wad, uint256 sigmaRootTauWad, uint256 rateTauWad)
    {
        unchecked {
            // Bounds from the domain: σ²·τ ≤ 1e38·3.2e8 = 3.2e46, so v ≤ 3.2e19, and v ≥ √(1e30/31536000) > 1.7e11.
            // r·τ ≤ 1e18·3.2e8. S·1e36 ≤ 1e69 and S·1e36/K ∈ [1e15, 1e57] is a positive int256, so lnWad is
            // defined; ln(S/K) ∈ [-48.4e18, 48.4e18] and rτ ≤ 10e18, so the numerator times 1e18 is
            // < 6e37 in magnitude and |d1| < 6e37/1.7e11 + v/2 < 4e26: nothing overflows an int256.
            sigmaRootTauWad = FixedPointMathLib.sqrt(volWad * volWad * tauSeconds / SECONDS_PER_YEAR);
            rateTauWad = rateWad * tauSeconds / SECONDS_PER_YEAR;
            int256 lnMoneynessWad = FixedPointMathLib.lnWad(int256(spotWad * 1e36 / strikeWad)) - LN_1E18_WAD;
            d1Wad = (lnMoneynessWad + int256(rateTauWad)) * int256(WAD) / int256(sigmaRootTauWad)
                + int256(sigmaRootTauWad / 2);
        }
    }

    /// @dev d1 and v (as `_d1`) and the present value of the strike K·e^{-rτ} in 1e36 fixed point, in
    /// [1e12·4.5e13, 1e51] (e^{-rτ} ≥ e^{-10}). Inputs must be in the domain.
    function _prepare(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad)
        private
        pure
        returns (int256 d1Wad, uint256 sigmaRootTauWad, uint256 strikePv36)
    {
        uint256 rateTauWad;
        (d1Wad, sigmaRootTauWad, rateTauWad) = _d1(spotWad, strikeWad, volWad, tauSeconds, rateWad);
        // rτ ≤ 10e18 is well inside expWad's domain and its result is positive; K·1e18 ≤ 1e51.
        strikePv36 =
            strikeWad * (rateTauWad == 0 ? WAD : uint256(FixedPointMathLib.expWad(-int256(rateTauWad))));
    }

    /// @dev Price, delta and φ(d1), all wad, from the shared intermediates of `_prepare`.
    function _evaluate(uint256 spotWad, uint256 strikePv36, int256 d1Wad, uint256 sigmaRootTauWad, bool isCall)
        private
        pure
        returns (uint256 priceWad, int256 deltaWad, uint256 pdfD1Wad)
    {
        uint256 expD1Wad = NormalDist.expHalfSquare(_abs(d1Wad)); // exp(-d1²/2)
        uint256 cdfD1Wad = _cdf(d1Wad, NormalDist.tail(_abs(d1Wad), expD1Wad)); // N(d1)
        deltaWad = _delta(cdfD1Wad, isCall);
        pdfD1Wad = NormalDist.pdfFromExp(expD1Wad);
        uint256 cdfD2Wad = _cdfD2(spotWad, strikePv36, d1Wad - int256(sigmaRootTauWad), expD1Wad);
        priceWad = _price(spotWad, strikePv36, cdfD1Wad, cdfD2Wad, isCall);
    }

    /// @dev N(d2) from exp(-d2²/2) = exp(-d1²/2)·S/(K·e^{-rτ}) (strikePv36 as in `_prepare`; |d2Wad| < 5e26).
    function _cdfD2(uint256 spotWad, uint256 strikePv36, int256 d2Wad, uint256 expD1Wad)
        private
        pure
        returns (uint256 cdfD2Wad)
    {
        uint256 expD2Wad;
        unchecked {
            // e·S·1e18 ≤ 1e18·1e33·1e18 = 1e69 < 2^256, and strikePv36 > 0.
            expD2Wad = expD1Wad * spotWad * WAD / strikePv36;
        }
        // The true value is ≤ 1; clamping the rounding excess only ever reduces the error.
        if (expD2Wad > WAD) expD2Wad = WAD;
        cdfD2Wad = _cdf(d2Wad, NormalDist.tail(_abs(d2Wad), expD2Wad));
    }

    /// @dev Call: S·N(d1) - K·e^{-rτ}·N(d2); put: K·e^{-rτ}·N(-d2) - S·N(-d1), with N(-d) = 1e18 - N(d)
    /// exactly in this representation. Positive term rounded up, negative term down, clamped at 0.
    function _price(uint256 spotWad, uint256 strikePv36, uint256 cdfD1Wad, uint256 cdfD2Wad, bool isCall)
        private
        pure
        returns (uint256 priceWad)
    {
        uint256 upWad;
        uint256 downWad;
        unchecked {
            // Every N is ≤ 1e18, so the products are ≤ 1e33·1e18 resp. 1e51·1e18 and adding (divisor - 1)
            // for the ceilings cannot overflow either.
            if (isCall) {
                upWad = (spotWad * cdfD1Wad + (WAD - 1)) / WAD;
                downWad = strikePv36 * cdfD2Wad / 1e36;
            } else {
                upWad = (strikePv36 * (WAD - cdfD2Wad) + (1e36 - 1)) / 1e36;
                downWad = spotWad * (WAD - cdfD1Wad) / WAD;
            }
        }
        priceWad = upWad > downWad ? upWad - downWad : 0;
    }

    /// @dev N(d) from d and the tail N(-|d|) ≤ 5e17, so 1e18 - tail cannot underflow.
    function _cdf(int256 dWad, uint256 tailWad) private pure returns (uint256 cdfWad) {
        unchecked {
            cdfWad = dWad >= 0 ? WAD - tailWad : tailWad;
        }
    }

    /// @dev Delta from N(d1) ≤ 1e18: call N(d1), put N(d1) - 1 (so call - put == 1e18 exactly).
    function _delta(uint256 cdfD1Wad, bool isCall) private pure returns (int256 deltaWad) {
        unchecked {
            // Both operands are ≤ 1e18, far inside int256.
            deltaWad = isCall ? int256(cdfD1Wad) : int256(cdfD1Wad) - int256(WAD);
        }
    }

    /// @dev |x| for the bounded values of this library (|x| < 2^255, so the negation cannot overflow).
    function _abs(int256 x) private pure returns (uint256) {
        unchecked {
            return uint256(x < 0 ? -x : x);
        }
    }
}
