// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IOptionVaultTypes} from "../interfaces/IOptionVault.sol";
import {BlackScholes} from "./BlackScholes.sol";

/// @title OptionBook
/// @notice The option book's arithmetic, shared by every vault: the mark-to-market and Greeks of the book, the
/// collateral it needs, the premium a buyer pays and the bid a seller receives, the margin the vault earns over an
/// option's life, and the settlement price. Stateless: every function reads the caller's book (storage references)
/// or its arguments.
/// @dev Deployed once per chain and linked: its `external` functions run by DELEGATECALL in the caller's context,
/// which keeps Black–Scholes pricing and the loops over the book out of the vault's and its extension's bytecode
/// (only the gas-critical delta of `rebalance` stays inline in the vault).
///
/// Rounding (quote wad): liabilities, collateral, premiums and unearned margin round up; bids round down — always
/// in the vault's favour. Sizes are `int96` and prices at most 1e33 wad, so every product below stays under 2^256.
library OptionBook {
    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;
    uint256 private constant YEAR = 365 days;
    /// @notice How many rounds past an unusable answer at expiry settlement looks for the first usable one.
    uint256 internal constant MAX_SETTLEMENT_ROUNDS = 32;

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

    /// @notice A series' margin not yet earned (quote wad): what its sales and buy-backs made beyond the mid mark,
    /// earned linearly from `since` to the series' expiry, so the depositors who carry the options earn it, not a
    /// deposit that comes and goes around a trade. One slot per series, beside the book.
    struct Deferral {
        uint128 unearnedWad;
        uint40 since;
    }

    /// @notice The book valued at one price.
    /// @param liabilityWad Σ |size|·value (Black–Scholes for live series, intrinsic once expired) + the margin
    /// not yet earned (rounded up).
    /// @param deltaWad Σ size·delta of the live series (vault-signed; expired series carry none).
    /// @param gammaWad Σ size·gamma of the live series (≤ 0: the vault is short).
    /// @param expiredId A series past expiry with open interest, awaiting settlement (zero if none).
    struct Valuation {
        uint256 liabilityWad;
        int256 deltaWad;
        int256 gammaWad;
        bytes32 expiredId;
    }

    /// @notice Marks and Greeks of the first `count` series of `book` at market `m`, and the margin of `deferrals`
    /// not yet earned.
    /// @dev Greeks are zero (and marks intrinsic) when the spot is outside the pricing domain.
    function value(
        IOptionVaultTypes.Series[32] storage book,
        Deferral[32] storage deferrals,
        uint256 count,
        Market memory m
    ) external view returns (Valuation memory v) {
        bool priced = m.spotWad >= BlackScholes.MIN_PRICE_WAD && m.spotWad <= BlackScholes.MAX_PRICE_WAD;
        for (uint256 i; i < count; ++i) {
            IOptionVaultTypes.Series memory s = book[i];
            v.liabilityWad += unearnedWad(deferrals[i], s.expiry);
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

    /// @notice The collateral the book needs (quote wad, rounded up) and its open interest: every series is
    /// covered at its own worst price — a put at price 0 (its strike), a call at its stress price
    /// max(spot, strike)·(1 + stressUpBps) — and series expiring at different times are covered separately:
    /// Σ over expiries of max(what its puts pay at 0, what its calls pay at their stress prices). The price can
    /// be at one extreme at one expiry and at the other at the next, and cash paid at the first is gone by the
    /// second; the hedge counts for nothing (it may be worth nothing at the next expiry).
    /// @dev O(n²) over at most 32 series, in memory.
    function collateral(IOptionVaultTypes.Series[32] storage book, uint256 count, uint256 spotWad, uint256 stressUpBps)
        external
        view
        returns (uint256 requiredWad, uint256 openInterestWad)
    {
        uint256[] memory expiries = new uint256[](count);
        uint256[] memory atZeroWad = new uint256[](count);
        uint256[] memory atStressWad = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            IOptionVaultTypes.Series memory s = book[i];
            expiries[i] = s.expiry;
            if (s.sizeWad == 0) continue;
            uint256 shortWad = uint256(-int256(s.sizeWad));
            openInterestWad += shortWad;
            if (s.isCall) atStressWad[i] = Math.mulDiv(callStressLossWad(s.strikeWad, spotWad, stressUpBps), shortWad, WAD, Math.Rounding.Ceil);
            else atZeroWad[i] = Math.mulDiv(s.strikeWad, shortWad, WAD, Math.Rounding.Ceil);
        }
        for (uint256 i; i < count; ++i) {
            if (expiries[i] == 0) continue; // counted with an earlier series of the same expiry
            uint256 zeroWad = atZeroWad[i];
            uint256 stressWad = atStressWad[i];
            for (uint256 j = i + 1; j < count; ++j) {
                if (expiries[j] != expiries[i]) continue;
                zeroWad += atZeroWad[j];
                stressWad += atStressWad[j];
                expiries[j] = 0;
            }
            requiredWad += Math.max(zeroWad, stressWad);
        }
    }

    /// @notice What a buyer pays for `sizeWad` options of `s` (quote wad, rounded up): per option,
    /// max(BS(S⁺)·(1 + spread) + capital charge, S·minPremiumBps), with S⁺ the spot moved by `latencyBps` against
    /// the vault (see `IOptionVault`); and the options' mid mark BS(S)·size (rounded down), so the caller can
    /// defer the margin between the two. The caller checks that trading is open (τ above the cutoff).
    function premiumWad(IOptionVaultTypes.Series memory s, uint256 sizeWad, Market memory m, Charges memory c)
        external
        view
        returns (uint256 premium, uint256 mark)
    {
        uint256 tauSeconds = s.expiry - block.timestamp;
        premium = Math.mulDiv(_askPerOptionWad(s, tauSeconds, m, c), sizeWad, WAD, Math.Rounding.Ceil);
        mark = Math.mulDiv(
            BlackScholes.price(m.spotWad, s.strikeWad, m.volWad, tauSeconds, m.rateWad, s.isCall), sizeWad, WAD
        );
    }

    /// @dev The per-option premium of `premiumWad` (quote wad, rounded up).
    function _askPerOptionWad(IOptionVaultTypes.Series memory s, uint256 tauSeconds, Market memory m, Charges memory c)
        private
        pure
        returns (uint256 perOptionWad)
    {
        // Against the vault: a call is worth more at a higher spot, a put at a lower one.
        uint256 shiftedWad = s.isCall
            ? Math.mulDiv(m.spotWad, BPS + c.latencyBps, BPS, Math.Rounding.Ceil)
            : Math.mulDiv(m.spotWad, BPS - c.latencyBps, BPS);
        uint256 fairWad = BlackScholes.price(shiftedWad, s.strikeWad, m.volWad, tauSeconds, m.rateWad, s.isCall);
        // The collateral this option locks on its own (`collateral`): a put its strike, a call its stress loss.
        uint256 lockedWad = s.isCall ? callStressLossWad(s.strikeWad, m.spotWad, c.stressUpBps) : s.strikeWad;
        perOptionWad = Math.mulDiv(fairWad, BPS + c.spreadBps, BPS, Math.Rounding.Ceil)
            + Math.mulDiv(lockedWad, c.capitalChargeBps * tauSeconds, BPS * YEAR, Math.Rounding.Ceil);
        perOptionWad = Math.max(perOptionWad, Math.mulDiv(m.spotWad, c.minPremiumBps, BPS, Math.Rounding.Ceil));
    }

    /// @notice What a holder selling `sizeWad` options of `s` back receives (quote wad, rounded down): per option,
    /// BS(S⁻)·(1 − spread), with S⁻ the spot moved by `latencyBps` against the seller; and the options' mid mark
    /// BS(S)·size (rounded up).
    function proceedsWad(IOptionVaultTypes.Series memory s, uint256 sizeWad, Market memory m, Charges memory c)
        external
        view
        returns (uint256 proceeds, uint256 mark)
    {
        uint256 tauSeconds = s.expiry - block.timestamp;
        uint256 shiftedWad = s.isCall
            ? Math.mulDiv(m.spotWad, BPS - c.latencyBps, BPS)
            : Math.mulDiv(m.spotWad, BPS + c.latencyBps, BPS, Math.Rounding.Ceil);
        uint256 fairWad = BlackScholes.price(shiftedWad, s.strikeWad, m.volWad, tauSeconds, m.rateWad, s.isCall);
        proceeds = Math.mulDiv(Math.mulDiv(fairWad, BPS - c.spreadBps, BPS), sizeWad, WAD);
        mark = Math.mulDiv(
            BlackScholes.price(m.spotWad, s.strikeWad, m.volWad, tauSeconds, m.rateWad, s.isCall), sizeWad, WAD, Math.Rounding.Ceil
        );
    }

    /// @notice The settlement answer of a series expiring at `expiry`, given the round `roundId` claimed to be the
    /// one current at expiry: that round's answer if usable (> 0 and at most `maxAge` old at expiry), else the
    /// first usable answer (> 0) after expiry, searched up to `MAX_SETTLEMENT_ROUNDS` rounds on.
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
        // Unusable at expiry: the first usable answer after it (bounded: a feed does not post 32 bad answers in a
        // row; until a usable one exists, settlement waits).
        for (uint256 k; found && k < MAX_SETTLEMENT_ROUNDS; ++k) {
            if (nextAnswer > 0) return (nextId, uint256(nextAnswer));
            (found, nextId, nextAnswer,) = _successor(feed, nextId);
        }
        if (roundAnswer <= 0) revert IOptionVaultTypes.InvalidOraclePrice(roundAnswer);
        revert IOptionVaultTypes.StaleOracle(updatedAt, maxAge);
    }

    /// @notice The margin of `d` not yet earned at this block, for a series expiring at `expiry` (rounded up).
    function unearnedWad(Deferral storage d, uint256 expiry) internal view returns (uint256) {
        uint256 unearned = d.unearnedWad;
        if (unearned == 0 || block.timestamp >= expiry) return 0;
        uint256 since = d.since;
        return Math.mulDiv(unearned, expiry - block.timestamp, expiry - since, Math.Rounding.Ceil);
    }

    /// @notice Adds `marginWad` to the unearned margin of a series expiring at `expiry`, from now on.
    function defer(Deferral storage d, uint256 expiry, uint256 marginWad) internal {
        uint256 unearned = unearnedWad(d, expiry) + marginWad;
        d.unearnedWad = uint128(unearned); // ≤ the premiums of a series, far below 2^128
        d.since = uint40(block.timestamp);
    }

    /// @notice A call's loss per option at its stress price max(spot, strike)·(1 + stressUpBps / 1e4) (quote wad,
    /// rounded up): what the collateral covers, and what the capital charge is charged on.
    function callStressLossWad(uint256 strikeWad, uint256 spotWad, uint256 stressUpBps) internal pure returns (uint256) {
        return Math.mulDiv(Math.max(spotWad, strikeWad), BPS + stressUpBps, BPS, Math.Rounding.Ceil) - strikeWad;
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
