// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FixedPointMathLib} from "solady/src/utils/FixedPointMathLib.sol";
import {TestBase} from "./utils/TestBase.sol";
import {BlackScholes} from "../../contracts/libraries/BlackScholes.sol";
import {NormalDist} from "../../contracts/libraries/NormalDist.sol";
import {GreeksHarness} from "../../contracts/test/GreeksHarness.sol";

/// @notice Property and unit tests of BlackScholes and NormalDist over their whole domain.
/// Accuracy against a float64 reference and gas are measured in test/greeks.test.ts.
contract BlackScholesTest is TestBase {
    uint256 internal constant WAD = 1e18;

    /// @dev Parity and no-arbitrage bounds hold up to N's error (≤ 45 wei per 1e18 of notional, NormalDist)
    /// on each of the two terms plus a few wei of rounding; 50 per 1e18 leaves a margin.
    uint256 internal constant NOTIONAL_TOLERANCE_PER_WAD = 50;
    uint256 internal constant ROUNDING_TOLERANCE_WEI = 3;

    GreeksHarness internal harness;

    struct Option {
        uint256 spotWad;
        uint256 strikeWad;
        uint256 volWad;
        uint256 tauSeconds;
        uint256 rateWad;
    }

    function setUp() public {
        harness = new GreeksHarness();
    }

    // ---------------------------------------------------------------- helpers

    /// @dev Maps a seed to [min, max] spread over orders of magnitude (a uniform bound would almost always land
    /// in the top decade): pick a decade from min, then a value inside it.
    function _logBound(uint256 seed, uint256 min, uint256 max) internal pure returns (uint256) {
        uint256 decades;
        for (uint256 v = min; v * 10 <= max; v *= 10) ++decades;
        uint256 lo = min * 10 ** (seed % (decades + 1));
        uint256 hi = lo * 10 > max ? max : lo * 10;
        return bound(seed >> 8, lo, hi);
    }

    /// @dev Any option of the library's domain.
    function _option(uint256 spotSeed, uint256 strikeSeed, uint256 volSeed, uint256 tauSeed, uint256 rateSeed)
        internal
        pure
        returns (Option memory o)
    {
        o.spotWad = _logBound(spotSeed, BlackScholes.MIN_PRICE_WAD, BlackScholes.MAX_PRICE_WAD);
        o.strikeWad = _logBound(strikeSeed, BlackScholes.MIN_PRICE_WAD, BlackScholes.MAX_PRICE_WAD);
        o.volWad = _logBound(volSeed, BlackScholes.MIN_VOL_WAD, BlackScholes.MAX_VOL_WAD);
        o.tauSeconds = _logBound(tauSeed, BlackScholes.MIN_TAU_SECONDS, BlackScholes.MAX_TAU_SECONDS);
        o.rateWad = rateSeed % 4 == 0 ? 0 : bound(rateSeed, 0, BlackScholes.MAX_RATE_WAD);
    }

    /// @dev K·e^{-rτ} in wad, as the library discounts (rτ rounded down, solady expWad).
    function _strikePvWad(Option memory o) internal pure returns (uint256) {
        uint256 rateTauWad = o.rateWad * o.tauSeconds / BlackScholes.SECONDS_PER_YEAR;
        return o.strikeWad * uint256(FixedPointMathLib.expWad(-int256(rateTauWad))) / WAD;
    }

    function _delta(Option memory o, bool isCall) internal pure returns (int256) {
        return BlackScholes.delta(o.spotWad, o.strikeWad, o.volWad, o.tauSeconds, o.rateWad, isCall);
    }

    function _price(Option memory o, bool isCall) internal pure returns (uint256) {
        return BlackScholes.price(o.spotWad, o.strikeWad, o.volWad, o.tauSeconds, o.rateWad, isCall);
    }

    function _greeks(Option memory o, bool isCall) internal pure returns (BlackScholes.Greeks memory) {
        return BlackScholes.greeks(o.spotWad, o.strikeWad, o.volWad, o.tauSeconds, o.rateWad, isCall);
    }

    function _absDiff(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a - b : b - a;
    }

    // ---------------------------------------------------------------- delta

    function testFuzz_delta_inUnitInterval(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r) public pure {
        Option memory o = _option(s, k, v, t, r);
        int256 callDelta = _delta(o, true);
        int256 putDelta = _delta(o, false);
        assertGe(callDelta, 0, "call delta >= 0");
        assertLe(callDelta, int256(WAD), "call delta <= 1");
        assertGe(putDelta, -int256(WAD), "put delta >= -1");
        assertLe(putDelta, 0, "put delta <= 0");
    }

    function testFuzz_delta_putCallParity(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r) public pure {
        Option memory o = _option(s, k, v, t, r);
        assertEq(_delta(o, true) - _delta(o, false), int256(WAD), "call delta - put delta == 1");
    }

    function testFuzz_delta_monotoneInSpot(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r, uint256 ds)
        public
        pure
    {
        Option memory lo = _option(s, k, v, t, r);
        Option memory hi = _option(s, k, v, t, r);
        // Steps from one wei to the whole domain: wei-level rounding is where monotonicity usually breaks.
        hi.spotWad = lo.spotWad + _logBound(ds, 1, BlackScholes.MAX_PRICE_WAD - lo.spotWad + 1) - 1;
        assertLe(_delta(lo, true), _delta(hi, true), "call delta non-decreasing in spot");
        assertLe(_delta(lo, false), _delta(hi, false), "put delta non-decreasing in spot");
    }

    function test_delta_knownValues() public pure {
        // S = K = 100, vol 20%, 1 year, r 5% (Hull's textbook case); reference from mpmath at 50 digits.
        Option memory o = Option(100e18, 100e18, 0.2e18, 365 days, 0.05e18);
        assertLe(_absDiff(uint256(_delta(o, true)), 636830651175619071), 100, "call delta");
        assertLe(_absDiff(uint256(-_delta(o, false)), 363169348824380929), 100, "put delta");
        // A one-week 80%-vol call on a 3000 underlying struck at 3500.
        o = Option(3000e18, 3500e18, 0.8e18, 7 days, 0);
        assertLe(_absDiff(uint256(_delta(o, true)), 90773197193168604), 100, "OTM call delta");
    }

    function test_delta_saturatesFarFromTheMoney() public pure {
        // One second to expiry at 0.1% vol: |d1| is astronomically large; delta is exactly the payoff's slope.
        assertEq(BlackScholes.delta(2e18, 1e18, 1e15, 1, 0, true), int256(WAD), "ITM call");
        assertEq(BlackScholes.delta(2e18, 1e18, 1e15, 1, 0, false), 0, "OTM put");
        assertEq(BlackScholes.delta(1e18, 2e18, 1e15, 1, 0, true), 0, "OTM call");
        assertEq(BlackScholes.delta(1e18, 2e18, 1e15, 1, 0, false), -int256(WAD), "ITM put");
    }

    // ---------------------------------------------------------------- price

    function testFuzz_putCallParity(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r) public pure {
        Option memory o = _option(s, k, v, t, r);
        uint256 strikePvWad = _strikePvWad(o);
        uint256 callWad = _price(o, true);
        uint256 putWad = _price(o, false);
        // C - P = S - K·e^{-rτ}, rearranged to stay in uint256.
        uint256 tolerance =
            (o.spotWad + strikePvWad) * NOTIONAL_TOLERANCE_PER_WAD / WAD + ROUNDING_TOLERANCE_WEI;
        assertLe(_absDiff(callWad + strikePvWad, putWad + o.spotWad), tolerance, "C + K e^-rt == P + S");
    }

    function testFuzz_price_withinNoArbitrageBounds(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r)
        public
        pure
    {
        Option memory o = _option(s, k, v, t, r);
        uint256 strikePvWad = _strikePvWad(o);
        uint256 tolerance =
            (o.spotWad + strikePvWad) * NOTIONAL_TOLERANCE_PER_WAD / WAD + ROUNDING_TOLERANCE_WEI;
        uint256 callWad = _price(o, true);
        uint256 putWad = _price(o, false);
        // max(S - K e^{-rτ}, 0) ≤ C ≤ S and max(K e^{-rτ} - S, 0) ≤ P ≤ K e^{-rτ}.
        assertLe(callWad, o.spotWad + tolerance, "call <= spot");
        assertGe(callWad + tolerance, o.spotWad > strikePvWad ? o.spotWad - strikePvWad : 0, "call >= intrinsic");
        assertLe(putWad, strikePvWad + tolerance, "put <= PV(strike)");
        assertGe(putWad + tolerance, strikePvWad > o.spotWad ? strikePvWad - o.spotWad : 0, "put >= intrinsic");
    }

    function test_price_knownValues() public pure {
        // Hull's case: call 10.4506, put 5.5735; reference from mpmath at 50 digits. Error ≤ 5e-17 × notional.
        Option memory o = Option(100e18, 100e18, 0.2e18, 365 days, 0.05e18);
        assertLe(_absDiff(_price(o, true), 10450583572185566782), 1e4, "call");
        assertLe(_absDiff(_price(o, false), 5573526022256967691), 1e4, "put");
        o = Option(3000e18, 3500e18, 0.8e18, 7 days, 0);
        assertLe(_absDiff(_price(o, true), 13400351284623630646), 4e5, "OTM call");
        assertLe(_absDiff(_price(o, false), 513400351284623630646), 4e5, "ITM put");
    }

    // ---------------------------------------------------------------- gamma, vega, greeks

    function testFuzz_gammaVega_sameForCallAndPut(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r)
        public
        pure
    {
        Option memory o = _option(s, k, v, t, r);
        BlackScholes.Greeks memory c = _greeks(o, true);
        BlackScholes.Greeks memory p = _greeks(o, false);
        assertEq(c.gammaWad, p.gammaWad, "gamma call == put");
        assertEq(c.vegaWad, p.vegaWad, "vega call == put");
    }

    /// @dev gamma and vega are unsigned by type, so "non-negative" holds trivially; what is worth checking is
    /// that they are strictly positive near the money (and exactly 0 far from it: test_greeks_saturate…).
    function testFuzz_gammaVega_positiveNearTheMoney(uint256 k, uint256 v, uint256 t, uint256 r) public pure {
        // At the money with vol ≥ 10% and rate ≤ 5%: |d1| = rτ/v + v/2 ≤ 2.1, so φ(d1) ≥ 0.04, and with
        // S ≤ 1e12 quote units gamma ≥ 0.04/(1e12·2.9) quote⁻¹, i.e. ≥ 1e4 wei: representable.
        Option memory o;
        o.strikeWad = _logBound(k, BlackScholes.MIN_PRICE_WAD, 1e30);
        o.spotWad = o.strikeWad;
        o.volWad = bound(v, 0.1e18, 2e18);
        o.tauSeconds = bound(t, 1 days, 2 * 365 days);
        o.rateWad = bound(r, 0, 0.05e18);
        BlackScholes.Greeks memory g = _greeks(o, true);
        assertGe(g.gammaWad, 1, "gamma > 0 at the money");
        assertGe(g.vegaWad, 1, "vega > 0 at the money");
        assertGe(g.deltaWad, 1, "call delta > 0 at the money");
    }

    function testFuzz_greeks_matchesDeltaAndPrice(uint256 s, uint256 k, uint256 v, uint256 t, uint256 r, bool isCall)
        public
        pure
    {
        Option memory o = _option(s, k, v, t, r);
        BlackScholes.Greeks memory g = _greeks(o, isCall);
        assertEq(g.deltaWad, _delta(o, isCall), "greeks.delta == delta");
        assertEq(g.priceWad, _price(o, isCall), "greeks.price == price");
    }

    function test_greeks_saturateFarFromTheMoney() public pure {
        // One second to expiry at 0.1% vol, strike at half / twice the spot: |d1| ≫ 9.
        BlackScholes.Greeks memory g = BlackScholes.greeks(2e18, 1e18, 1e15, 1, 0, true);
        assertEq(g.deltaWad, int256(WAD), "ITM call: delta == 1");
        assertEq(g.priceWad, 1e18, "ITM call: price == S - K");
        assertEq(g.gammaWad, 0, "ITM call: gamma == 0");
        assertEq(g.vegaWad, 0, "ITM call: vega == 0");
        g = BlackScholes.greeks(2e18, 1e18, 1e15, 1, 0, false);
        assertEq(g.deltaWad, 0, "OTM put: delta == 0");
        assertEq(g.priceWad, 0, "OTM put: price == 0");
        assertEq(g.gammaWad + g.vegaWad, 0, "OTM put: gamma == vega == 0");
    }

    function test_greeks_knownValues() public pure {
        // Hull's case: gamma 0.018762, vega 37.524 (per 1.0 vol); reference from mpmath at 50 digits.
        BlackScholes.Greeks memory g = _greeks(Option(100e18, 100e18, 0.2e18, 365 days, 0.05e18), true);
        assertLe(_absDiff(g.gammaWad, 18762017345846894), 1e3, "gamma");
        assertLe(_absDiff(g.vegaWad, 37524034691693787837), 1e5, "vega");
    }

    // ---------------------------------------------------------------- domain

    function test_delta_revertsOutsideDomain() public {
        _expectDomainReverts(harness.delta.selector);
    }

    function test_price_revertsOutsideDomain() public {
        _expectDomainReverts(harness.price.selector);
    }

    function test_greeks_revertsOutsideDomain() public {
        _expectDomainReverts(harness.greeks.selector);
    }

    function test_domainBounds_areInclusive() public view {
        uint256 lo = BlackScholes.MIN_PRICE_WAD;
        uint256 hi = BlackScholes.MAX_PRICE_WAD;
        harness.greeks(lo, lo, BlackScholes.MIN_VOL_WAD, BlackScholes.MIN_TAU_SECONDS, 0, true);
        harness.greeks(hi, hi, BlackScholes.MAX_VOL_WAD, BlackScholes.MAX_TAU_SECONDS, BlackScholes.MAX_RATE_WAD, false);
        harness.greeks(hi, lo, BlackScholes.MAX_VOL_WAD, BlackScholes.MIN_TAU_SECONDS, BlackScholes.MAX_RATE_WAD, true);
        harness.greeks(lo, hi, BlackScholes.MIN_VOL_WAD, BlackScholes.MAX_TAU_SECONDS, 0, false);
    }

    /// @dev Every bound, one argument off by one at a time, through `selector`
    /// (a harness function with the library's argument list).
    function _expectDomainReverts(bytes4 selector) internal {
        uint256 lo = BlackScholes.MIN_PRICE_WAD;
        uint256 hi = BlackScholes.MAX_PRICE_WAD;
        bytes[9] memory args = [
            abi.encode(lo - 1, WAD, WAD, 1 days, 0, true),
            abi.encode(hi + 1, WAD, WAD, 1 days, 0, true),
            abi.encode(WAD, lo - 1, WAD, 1 days, 0, true),
            abi.encode(WAD, hi + 1, WAD, 1 days, 0, false),
            abi.encode(WAD, WAD, BlackScholes.MIN_VOL_WAD - 1, 1 days, 0, true),
            abi.encode(WAD, WAD, BlackScholes.MAX_VOL_WAD + 1, 1 days, 0, true),
            abi.encode(WAD, WAD, WAD, 0, 0, true),
            abi.encode(WAD, WAD, WAD, BlackScholes.MAX_TAU_SECONDS + 1, 0, false),
            abi.encode(WAD, WAD, WAD, 1 days, BlackScholes.MAX_RATE_WAD + 1, true)
        ];
        bytes[9] memory errors = [
            abi.encodeWithSelector(BlackScholes.SpotOutOfDomain.selector, lo - 1),
            abi.encodeWithSelector(BlackScholes.SpotOutOfDomain.selector, hi + 1),
            abi.encodeWithSelector(BlackScholes.StrikeOutOfDomain.selector, lo - 1),
            abi.encodeWithSelector(BlackScholes.StrikeOutOfDomain.selector, hi + 1),
            abi.encodeWithSelector(BlackScholes.VolOutOfDomain.selector, BlackScholes.MIN_VOL_WAD - 1),
            abi.encodeWithSelector(BlackScholes.VolOutOfDomain.selector, BlackScholes.MAX_VOL_WAD + 1),
            abi.encodeWithSelector(BlackScholes.TauOutOfDomain.selector, 0),
            abi.encodeWithSelector(BlackScholes.TauOutOfDomain.selector, BlackScholes.MAX_TAU_SECONDS + 1),
            abi.encodeWithSelector(BlackScholes.RateOutOfDomain.selector, BlackScholes.MAX_RATE_WAD + 1)
        ];
        for (uint256 i; i < args.length; ++i) {
            vm.expectRevert(errors[i]);
            (bool success,) = address(harness).call(abi.encodePacked(selector, args[i]));
            // With expectRevert pending, a low-level call reports success when the expected revert happened.
            assertTrue(success, "expected revert");
        }
    }

    // ---------------------------------------------------------------- NormalDist

    function testFuzz_cdf_monotone(int256 x, int256 y) public pure {
        // Half the runs near the body, half anywhere in int256.
        if (uint256(x) % 2 == 0) {
            x = int256(bound(uint256(x), 0, 20e18)) - 10e18;
            y = int256(bound(uint256(y), 0, 20e18)) - 10e18;
        }
        (int256 lo, int256 hi) = x <= y ? (x, y) : (y, x);
        assertLe(NormalDist.cdf(lo), NormalDist.cdf(hi), "cdf non-decreasing");
    }

    function testFuzz_cdf_monotoneInOneWeiSteps(uint256 seed) public pure {
        int256 x = int256(bound(seed, 0, 18.2e18)) - 9.1e18;
        assertLe(NormalDist.cdf(x), NormalDist.cdf(x + 1), "cdf(x) <= cdf(x + 1 wei)");
    }

    function testFuzz_cdf_symmetric(int256 x) public pure {
        vm.assume(x != type(int256).min);
        assertEq(NormalDist.cdf(x) + NormalDist.cdf(-x), WAD, "N(x) + N(-x) == 1");
    }

    function testFuzz_pdf_boundedAndSymmetric(int256 x) public pure {
        vm.assume(x != type(int256).min);
        assertEq(NormalDist.pdf(x), NormalDist.pdf(-x), "phi(x) == phi(-x)");
        assertLe(NormalDist.pdf(x), NormalDist.pdf(0), "phi(x) <= phi(0)");
    }

    function test_cdf_saturation() public pure {
        assertEq(NormalDist.cdf(0), WAD / 2, "N(0) == 1/2");
        assertEq(NormalDist.cdf(type(int256).min), 0, "N(-inf) == 0");
        assertEq(NormalDist.cdf(type(int256).max), WAD, "N(+inf) == 1");
        assertEq(NormalDist.cdf(-int256(NormalDist.SATURATION_WAD)), 0, "N(-9) == 0");
        assertEq(NormalDist.cdf(int256(NormalDist.SATURATION_WAD)), WAD, "N(9) == 1");
        // The formula itself has already reached 0 before the cut-off, so the cut-off adds no jump.
        assertEq(NormalDist.cdf(-8.8e18), 0, "N(-8.8) floors to 0");
        assertEq(NormalDist.cdf(-int256(NormalDist.SATURATION_WAD) + 1), 0, "N(-9 + 1 wei) == 0");
        assertGe(NormalDist.cdf(-8.7e18), 1, "N(-8.7) > 0 (true value 1.7 wei)");
        assertEq(NormalDist.pdf(int256(NormalDist.SATURATION_WAD)), 0, "phi(9) == 0");
    }
}
