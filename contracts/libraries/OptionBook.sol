// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IOptionVaultTypes} from "../interfaces/IOptionVault.sol";
import {BlackScholes} from "./BlackScholes.sol";

/// @title OptionBook
/// @notice The option book's arithmetic, shared by every vault: the mark-to-market and Greeks of the book, its
/// payoffs at the collateral check's two prices, the premium a buyer pays and the bid a seller receives, and the
/// settlement price. Stateless: every function reads the caller's book (a storage reference) or its arguments.
/// Rounding (quote wad): liabilities, payoffs and premiums round up; bids round down — always in the vault's
/// favour. Sizes are `int96` and prices at most 1e33 wad, so every product below stays under 2^256.
library OptionBook {
    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;
    uint256 private constant YEAR = 365 days;

    /// @notice The inputs of every price: the oracle spot and the vault's volatility and rate (all wad).
    struct Market {
        uint256 spotWad;
        uint256 volWad;
        uint256 rateWad;
    }

    /// @notice What a buyer pays or a seller receives, beyond the Black–Scholes value (see `IOptionVault`).
    struct Charges {
        uint256 spreadBps;
        uint256 latencyBps;
        uint256 capitalChargeBps;
        uint256 minPremiumBps;
        uint256 stressUpBps;
    }

    /// @notice The book valued at one price.
    /// @param liabilityWad Σ |size|·value: Black–Scholes for live series, intrinsic once expired (rounded up).
    /// @param deltaWad Σ size·delta of the live series (vault-signed; expired series carry none).
    /// @param gammaWad Σ size·gamma of the live series (≤ 0: the vault is short).
    /// @param expiredId A series past expiry with open interest, awaiting settlement (zero if none).
    struct Valuation {
        uint256 liabilityWad;
        int256 deltaWad;
        int256 gammaWad;
        bytes32 expiredId;
    }

    /// @notice The book's payoffs at the two ends of the collateral check's price range [0, highWad].
    /// @param highWad max(spot, highest strike with open interest) · (1 + stressUpBps / 1e4).
    /// @param payoffAtZeroWad What the book pays at price 0: Σ over puts of strike·|size| (rounded up).
    /// @param payoffAtHighWad What it pays at `highWad`: Σ over calls of (highWad − strike)·|size| (rounded up);
    /// every put is out of the money there.
    /// @param openInterestWad Σ |size| over the book.
    struct Exposure {
        uint256 highWad;
        uint256 payoffAtZeroWad;
        uint256 payoffAtHighWad;
        uint256 openInterestWad;
    }

    /// @notice Marks and Greeks of the first `count` series of `book` at market `m`.
    /// @dev Greeks are zero (and marks intrinsic) when the spot is outside the pricing domain.
    function value(IOptionVaultTypes.Series[32] storage book, uint256 count, Market memory m)
        external
        view
        returns (Valuation memory v)
    {
        bool priced = m.spotWad >= BlackScholes.MIN_PRICE_WAD && m.spotWad <= BlackScholes.MAX_PRICE_WAD;
        for (uint256 i; i < count; ++i) {
            IOptionVaultTypes.Series memory s = book[i];
            if (s.sizeWad == 0) continue;
            uint256 shortWad = uint256(-int256(s.sizeWad));
            uint256 markWad;
            if (s.expiry <= block.timestamp) {
                if (v.expiredId == 0) v.expiredId = keccak256(abi.encode(s.isCall, uint256(s.strikeWad), uint256(s.expiry)));
                markWad = intrinsicWad(s.isCall, s.strikeWad, m.spotWad);
            } else if (priced) {
                BlackScholes.Greeks memory g =
                    BlackScholes.greeks(m.spotWad, s.strikeWad, m.volWad, s.expiry - block.timestamp, m.rateWad, s.isCall);
                markWad = g.priceWad;
                v.deltaWad += int256(s.sizeWad) * g.deltaWad / int256(WAD);
                v.gammaWad += int256(s.sizeWad) * int256(g.gammaWad) / int256(WAD);
            } else {
                markWad = intrinsicWad(s.isCall, s.strikeWad, m.spotWad);
            }
            v.liabilityWad += Math.mulDiv(markWad, shortWad, WAD, Math.Rounding.Ceil);
        }
    }

    /// @notice The book's payoffs at price 0 and at the stress price (see `Exposure`).
    /// @dev The vault (cash + hedge − payoffs) is concave in the price, so its minimum over [0, highWad] is at one
    /// of the two ends: O(n) instead of a search.
    function exposure(IOptionVaultTypes.Series[32] storage book, uint256 count, uint256 spotWad, uint256 stressUpBps)
        external
        view
        returns (Exposure memory e)
    {
        uint256 highestWad = spotWad;
        uint256 callSizeWad; // Σ |size| of calls
        uint256 callStrikeWad36; // Σ strike·|size| of calls, 1e36 fixed point
        for (uint256 i; i < count; ++i) {
            IOptionVaultTypes.Series memory s = book[i];
            if (s.sizeWad == 0) continue;
            uint256 shortWad = uint256(-int256(s.sizeWad));
            e.openInterestWad += shortWad;
            if (s.strikeWad > highestWad) highestWad = s.strikeWad;
            if (s.isCall) {
                callSizeWad += shortWad;
                callStrikeWad36 += uint256(s.strikeWad) * shortWad;
            } else {
                e.payoffAtZeroWad += Math.mulDiv(s.strikeWad, shortWad, WAD, Math.Rounding.Ceil);
            }
        }
        e.highWad = Math.mulDiv(highestWad, BPS + stressUpBps, BPS, Math.Rounding.Ceil);
        // Σ (high − K)·|size| = high·Σ|size| − Σ K·|size| ≥ 0, since high > every strike.
        e.payoffAtHighWad = Math.ceilDiv(e.highWad * callSizeWad - callStrikeWad36, WAD);
    }

    /// @notice What a buyer pays for `sizeWad` options of `s` (quote wad, rounded up): per option,
    /// max(BS(S⁺)·(1 + spread) + capital charge, S·minPremiumBps), with S⁺ the spot moved by `latencyBps` against
    /// the vault (see `IOptionVault`). The caller checks that trading is open (τ above the cutoff).
    function premiumWad(IOptionVaultTypes.Series memory s, uint256 sizeWad, Market memory m, Charges memory c)
        external
        view
        returns (uint256)
    {
        uint256 tauSeconds = s.expiry - block.timestamp;
        // Against the vault: a call is worth more at a higher spot, a put at a lower one.
        uint256 shiftedWad = s.isCall
            ? Math.mulDiv(m.spotWad, BPS + c.latencyBps, BPS, Math.Rounding.Ceil)
            : Math.mulDiv(m.spotWad, BPS - c.latencyBps, BPS);
        uint256 fairWad = BlackScholes.price(shiftedWad, s.strikeWad, m.volWad, tauSeconds, m.rateWad, s.isCall);
        // The collateral this option locks on its own: a put pays at most its strike; a call is covered up to
        // max(S, K)·(1 + stress).
        uint256 lockedWad = s.isCall
            ? Math.mulDiv(Math.max(m.spotWad, s.strikeWad), BPS + c.stressUpBps, BPS, Math.Rounding.Ceil) - s.strikeWad
            : s.strikeWad;
        uint256 perOptionWad = Math.mulDiv(fairWad, BPS + c.spreadBps, BPS, Math.Rounding.Ceil)
            + Math.mulDiv(lockedWad, c.capitalChargeBps * tauSeconds, BPS * YEAR, Math.Rounding.Ceil);
        perOptionWad = Math.max(perOptionWad, Math.mulDiv(m.spotWad, c.minPremiumBps, BPS, Math.Rounding.Ceil));
        return Math.mulDiv(perOptionWad, sizeWad, WAD, Math.Rounding.Ceil);
    }

    /// @notice What a holder selling `sizeWad` options of `s` back receives (quote wad, rounded down): per option,
    /// BS(S⁻)·(1 − spread), with S⁻ the spot moved by `latencyBps` against the seller.
    function proceedsWad(IOptionVaultTypes.Series memory s, uint256 sizeWad, Market memory m, Charges memory c)
        external
        view
        returns (uint256)
    {
        uint256 shiftedWad = s.isCall
            ? Math.mulDiv(m.spotWad, BPS - c.latencyBps, BPS)
            : Math.mulDiv(m.spotWad, BPS + c.latencyBps, BPS, Math.Rounding.Ceil);
        uint256 fairWad =
            BlackScholes.price(shiftedWad, s.strikeWad, m.volWad, s.expiry - block.timestamp, m.rateWad, s.isCall);
        return Math.mulDiv(Math.mulDiv(fairWad, BPS - c.spreadBps, BPS), sizeWad, WAD);
    }

    /// @notice The settlement answer of a series expiring at `expiry`, given the round `roundId` claimed to be the
    /// one current at expiry: that round's answer if usable (> 0 and at most `maxAge` old at expiry), else the next
    /// round's — the first answer after expiry.
    /// @dev `roundId` is current at expiry when it was updated at or before expiry and its successor after expiry;
    /// with no successor yet it must be the latest round, and expiry must be past. Chainlink proxies number rounds
    /// `phaseId << 64 | aggregatorRoundId`: the successor of a phase's last round is round 1 of the next phase,
    /// where `roundId + 1` does not exist (`getRoundData` reverts or reports `updatedAt == 0`).
    /// @return usedRoundId The round whose answer settles the series.
    /// @return answer That round's answer (> 0), in the feed's decimals.
    function settlementAnswer(AggregatorV3Interface feed, uint80 roundId, uint256 expiry, uint256 maxAge)
        external
        view
        returns (uint80 usedRoundId, uint256 answer)
    {
        (, int256 roundAnswer,, uint256 updatedAt,) = feed.getRoundData(roundId);
        if (updatedAt == 0 || updatedAt > expiry) {
            revert IOptionVaultTypes.InvalidSettlementRound(roundId, updatedAt, expiry);
        }
        (bool found, uint80 nextId, int256 nextAnswer, uint256 nextUpdatedAt) = _successor(feed, roundId);
        if (found) {
            if (nextUpdatedAt <= expiry) revert IOptionVaultTypes.InvalidSettlementRound(roundId, updatedAt, expiry);
        } else {
            (uint80 latest,,,,) = feed.latestRoundData();
            // A round still to come is stamped at or after now: it can only be current at expiry if now ≤ expiry.
            if (latest != roundId || block.timestamp <= expiry) {
                revert IOptionVaultTypes.InvalidSettlementRound(roundId, updatedAt, expiry);
            }
        }
        if (roundAnswer > 0 && expiry - updatedAt <= maxAge) return (roundId, uint256(roundAnswer));
        // Unusable at expiry: wait for, then take, the first answer after expiry.
        if (!found) {
            if (roundAnswer <= 0) revert IOptionVaultTypes.InvalidOraclePrice(roundAnswer);
            revert IOptionVaultTypes.StaleOracle(updatedAt, maxAge);
        }
        if (nextAnswer <= 0) revert IOptionVaultTypes.InvalidOraclePrice(nextAnswer);
        return (nextId, uint256(nextAnswer));
    }

    /// @notice Intrinsic value of one option at `spotWad` (quote wad).
    function intrinsicWad(bool isCall, uint256 strikeWad, uint256 spotWad) internal pure returns (uint256) {
        if (isCall) return spotWad > strikeWad ? spotWad - strikeWad : 0;
        return strikeWad > spotWad ? strikeWad - spotWad : 0;
    }

    /// @dev The round after `roundId`: the next in its phase, else round 1 of the next phase.
    function _successor(AggregatorV3Interface feed, uint80 roundId)
        private
        view
        returns (bool found, uint80 id, int256 answer, uint256 updatedAt)
    {
        id = roundId + 1;
        (found, answer, updatedAt) = _tryRound(feed, id);
        if (found) return (found, id, answer, updatedAt);
        id = uint80((((uint256(roundId) >> 64) + 1) << 64) | 1);
        (found, answer, updatedAt) = _tryRound(feed, id);
    }

    function _tryRound(AggregatorV3Interface feed, uint80 id)
        private
        view
        returns (bool found, int256 answer, uint256 updatedAt)
    {
        try feed.getRoundData(id) returns (uint80, int256 a, uint256, uint256 t, uint80) {
            return (t != 0, a, t);
        } catch {
            return (false, 0, 0);
        }
    }
}
