// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BlackScholes} from "../libraries/BlackScholes.sol";
import {NormalDist} from "../libraries/NormalDist.sol";

/// @title GreeksHarness
/// @notice Test-only external wrappers around BlackScholes and NormalDist: single calls (for revert tests) and
/// batches that evaluate many inputs in one eth_call and report the gas of each library call.
/// @dev Gas is measured with gasleft() immediately around the internal library call, so it excludes the
/// transaction, calldata and ABI costs. It includes reading the six arguments from memory (~40 gas), which
/// the vault pays too in some form. In `greeksBatch` the free memory pointer is rewound after each call, so
/// the 4-word result struct reuses memory: the first call pays its ~12 gas of memory expansion, later ones not.
contract GreeksHarness {
    /// @notice One Black–Scholes input, in the units of BlackScholes.
    struct Input {
        uint256 spotWad;
        uint256 strikeWad;
        uint256 volWad;
        uint256 tauSeconds;
        uint256 rateWad;
        bool isCall;
    }

    /// @notice BlackScholes.delta.
    function delta(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        external
        pure
        returns (int256 deltaWad)
    {
        return BlackScholes.delta(spotWad, strikeWad, volWad, tauSeconds, rateWad, isCall);
    }

    /// @notice BlackScholes.price.
    function price(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        external
        pure
        returns (uint256 priceWad)
    {
        return BlackScholes.price(spotWad, strikeWad, volWad, tauSeconds, rateWad, isCall);
    }

    /// @notice BlackScholes.greeks.
    function greeks(uint256 spotWad, uint256 strikeWad, uint256 volWad, uint256 tauSeconds, uint256 rateWad, bool isCall)
        external
        pure
        returns (BlackScholes.Greeks memory g)
    {
        return BlackScholes.greeks(spotWad, strikeWad, volWad, tauSeconds, rateWad, isCall);
    }

    /// @notice NormalDist.cdf of each input.
    function cdfBatch(int256[] calldata xsWad) external pure returns (uint256[] memory cdfsWad) {
        cdfsWad = new uint256[](xsWad.length);
        for (uint256 i; i < xsWad.length; ++i) {
            cdfsWad[i] = NormalDist.cdf(xsWad[i]);
        }
    }

    /// @notice NormalDist.pdf of each input.
    function pdfBatch(int256[] calldata xsWad) external pure returns (uint256[] memory pdfsWad) {
        pdfsWad = new uint256[](xsWad.length);
        for (uint256 i; i < xsWad.length; ++i) {
            pdfsWad[i] = NormalDist.pdf(xsWad[i]);
        }
    }

    /// @notice BlackScholes.delta of each input, with the gas of each library call.
    function deltaBatch(Input[] calldata inputs) external view returns (int256[] memory deltasWad, uint256[] memory gasUsed) {
        deltasWad = new int256[](inputs.length);
        gasUsed = new uint256[](inputs.length);
        for (uint256 i; i < inputs.length; ++i) {
            Input memory x = inputs[i];
            uint256 gasBefore = gasleft();
            int256 d = BlackScholes.delta(x.spotWad, x.strikeWad, x.volWad, x.tauSeconds, x.rateWad, x.isCall);
            gasUsed[i] = gasBefore - gasleft();
            deltasWad[i] = d;
        }
    }

    /// @notice BlackScholes.price of each input, with the gas of each library call.
    function priceBatch(Input[] calldata inputs) external view returns (uint256[] memory pricesWad, uint256[] memory gasUsed) {
        pricesWad = new uint256[](inputs.length);
        gasUsed = new uint256[](inputs.length);
        for (uint256 i; i < inputs.length; ++i) {
            Input memory x = inputs[i];
            uint256 gasBefore = gasleft();
            uint256 p = BlackScholes.price(x.spotWad, x.strikeWad, x.volWad, x.tauSeconds, x.rateWad, x.isCall);
            gasUsed[i] = gasBefore - gasleft();
            pricesWad[i] = p;
        }
    }

    /// @notice BlackScholes.greeks of each input, with the gas of each library call.
    function greeksBatch(Input[] calldata inputs)
        external
        view
        returns (BlackScholes.Greeks[] memory results, uint256[] memory gasUsed)
    {
        results = new BlackScholes.Greeks[](inputs.length);
        gasUsed = new uint256[](inputs.length);
        for (uint256 i; i < inputs.length; ++i) {
            Input memory x = inputs[i];
            uint256 freeMemoryPointer;
            /// @solidity memory-safe-assembly
            assembly {
                freeMemoryPointer := mload(0x40)
            }
            uint256 gasBefore = gasleft();
            BlackScholes.Greeks memory g =
                BlackScholes.greeks(x.spotWad, x.strikeWad, x.volWad, x.tauSeconds, x.rateWad, x.isCall);
            gasUsed[i] = gasBefore - gasleft();
            BlackScholes.Greeks memory r = results[i];
            (r.priceWad, r.deltaWad, r.gammaWad, r.vegaWad) = (g.priceWad, g.deltaWad, g.gammaWad, g.vegaWad);
            // Safe: `g` and `x` are dead from here on and their fields were copied into `results`, which was
            // allocated before the rewind point, so releasing their memory cannot clobber live data.
            /// @solidity memory-safe-assembly
            assembly {
                mstore(0x40, freeMemoryPointer)
            }
        }
    }
}
