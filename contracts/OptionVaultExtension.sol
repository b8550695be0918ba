// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IOptionVaultBook} from "./interfaces/IOptionVault.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";
import {OptionBook} from "./libraries/OptionBook.sol";
import {OptionVaultBase} from "./OptionVaultBase.sol";

/// @title OptionVaultExtension
/// @notice The book, its views and the administration of an `OptionVault`, served by the vault's fallback through
/// DELEGATECALL: it runs on the vault's storage, as the vault, with the caller's `msg.sender`. Deploy it from the
/// vault's `Config` before the vault; call the vault (with `IOptionVault`'s ABI), never this contract.
/// @dev Every function refuses a direct call (`NotDelegated`), so nothing can act on this contract's own storage.
/// Roles are the vault's: checked with `hasRole` on the vault itself. Sales, buy-backs, settlements and claims
/// share the vault's reentrancy guard (the same transient slot, in the vault's context).
contract OptionVaultExtension is OptionVaultBase, ReentrancyGuardTransient, IOptionVaultBook {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice A function of the extension was called directly rather than through its vault.
    error NotDelegated();

    /// @dev AccessControl's admin role (the vault's).
    bytes32 private constant DEFAULT_ADMIN_ROLE = 0x00;

    /// @dev This contract's own address: in a DELEGATECALL, `address(this)` is the vault's instead.
    address private immutable _self;

    /// @param config The vault's configuration (immutables are per contract: the extension keeps its own copy, and
    /// the vault's constructor checks it matches).
    constructor(Config memory config) OptionVaultBase(config) {
        _self = address(this);
    }

    modifier onlyDelegated() {
        _checkDelegated();
        _;
    }

    /// @dev The vault's own AccessControl, asked through a call to the vault (this code runs as the vault).
    modifier onlyRole(bytes32 role) {
        _checkRole(role);
        _;
    }

    function _checkDelegated() private view {
        if (address(this) == _self) revert NotDelegated();
    }

    function _checkRole(bytes32 role) private view {
        if (!IAccessControl(address(this)).hasRole(role, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, role);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Book
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVaultBook
    function listSeries(bool isCall, uint256 strikeWad, uint256 expiry)
        external
        onlyDelegated
        onlyRole(MANAGER_ROLE)
        returns (bytes32 id)
    {
        VaultStorage storage $ = _storage();
        uint256 count = $.hot.liveCount;
        if (count >= MAX_LIVE_SERIES) revert BookFull(MAX_LIVE_SERIES);
        uint256 earliest = block.timestamp + TRADING_CUTOFF_SECONDS + 1;
        uint256 latest = block.timestamp + MAX_EXPIRY_SECONDS;
        if (expiry < earliest || expiry > latest) revert InvalidExpiry(expiry, earliest, latest);
        if (strikeWad < BlackScholes.MIN_PRICE_WAD || strikeWad > type(uint96).max) revert InvalidStrike(strikeWad);

        id = seriesId(isCall, strikeWad, expiry);
        if ($.slotOf[id] != 0 || $.settlements[id].settled) revert SeriesExists(id);

        $.book[count] = Series({strikeWad: uint96(strikeWad), expiry: uint40(expiry), isCall: isCall, sizeWad: 0});
        $.slotOf[id] = count + 1;
        $.hot.liveCount = uint8(count + 1);
        emit SeriesListed(id, isCall, strikeWad, expiry);
    }

    /// @inheritdoc IOptionVaultBook
    function delistSeries(bytes32 id) external onlyDelegated onlyRole(MANAGER_ROLE) {
        VaultStorage storage $ = _storage();
        uint256 slot = _liveSlot(id);
        int256 size = $.book[slot].sizeWad;
        if (size != 0) revert SeriesNotEmpty(id, size);
        _removeFromBook(id, slot);
        emit SeriesDelisted(id);
    }

    /// @inheritdoc IOptionVaultBook
    function openPosition(bytes32 id, uint256 sizeWad, uint256 maxPremium, address receiver)
        external
        onlyDelegated
        nonReentrant
        returns (uint256 premium)
    {
        (uint256 slot, Series memory s, uint256 spotWad) = _tradeable(id, sizeWad);
        premium = _sell(id, slot, s, spotWad, sizeWad, receiver);
        if (premium > maxPremium) revert PremiumTooHigh(premium, maxPremium);
        emit PositionOpened(id, msg.sender, receiver, sizeWad, premium, spotWad);
        _quote.safeTransferFrom(msg.sender, address(this), premium);
    }

    /// @dev A sale's checks and effects: the position and open-interest bounds, the premium, the series' short up
    /// by `sizeWad` and the receiver's position with it, the premium's margin over the mid mark earned over the
    /// series' life (`OptionBook.Deferral`), and the collateral check on the state after the trade, counting the
    /// premium about to arrive. Returns the premium (quote units, rounded up).
    function _sell(bytes32 id, uint256 slot, Series memory s, uint256 spotWad, uint256 sizeWad, address receiver)
        private
        returns (uint256 premium)
    {
        VaultStorage storage $ = _storage();
        BookLimits memory limits = $.bookLimits;
        uint256 positionWad = $.positions[id][receiver] + sizeWad;
        if (positionWad < limits.minPositionWad) revert PositionTooSmall(positionWad, limits.minPositionWad);
        uint256 seriesInterestWad = uint256(-int256(s.sizeWad)) + sizeWad;
        if (seriesInterestWad > limits.maxSeriesOpenInterestWad) {
            revert OpenInterestExceeded(id, seriesInterestWad, limits.maxSeriesOpenInterestWad);
        }
        (uint256 premiumWad, uint256 markWad) = OptionBook.premiumWad(s, sizeWad, _market(spotWad), _charges(limits));
        premium = Math.ceilDiv(premiumWad, _quoteScale);

        $.book[slot].sizeWad = (int256(s.sizeWad) - sizeWad.toInt256()).toInt96();
        $.positions[id][receiver] = positionWad;
        if (premium * _quoteScale > markWad) OptionBook.defer($.deferrals[slot], s.expiry, premium * _quoteScale - markWad);
        _checkSale(spotWad, premium, limits);
    }

    /// @inheritdoc IOptionVaultBook
    function closePosition(bytes32 id, uint256 sizeWad, uint256 minProceeds, address receiver)
        external
        onlyDelegated
        nonReentrant
        returns (uint256 proceeds)
    {
        (uint256 slot, Series memory s, uint256 spotWad) = _tradeable(id, sizeWad);
        proceeds = _buyBack(id, slot, s, spotWad, sizeWad);
        if (proceeds < minProceeds) revert ProceedsTooLow(proceeds, minProceeds);
        emit PositionClosed(id, msg.sender, receiver, sizeWad, proceeds, spotWad);
        _quote.safeTransfer(receiver, proceeds);
    }

    /// @dev A buy-back's checks and effects: the caller's position goes down by `sizeWad`, the series' short by
    /// as much, the bid's discount under the mid mark is earned over the series' life, the bid is paid from cash not
    /// owed to settled holders, and the book may not be left short of collateral — unless it already was, and this
    /// makes it no worse (buying back a put while calls of another expiry bind still lowers what the book could
    /// owe). Returns the proceeds (quote units).
    function _buyBack(bytes32 id, uint256 slot, Series memory s, uint256 spotWad, uint256 sizeWad)
        private
        returns (uint256 proceeds)
    {
        VaultStorage storage $ = _storage();
        uint256 leftWad = _positionLeft($.positions[id][msg.sender], id, sizeWad, $.bookLimits.minPositionWad);
        (int256 surplusBeforeWad,,) = _surplus(spotWad, 0);
        uint256 markWad;
        (proceeds, markWad) = OptionBook.proceedsWad(s, sizeWad, _market(spotWad), _charges($.bookLimits));
        proceeds /= _quoteScale;

        $.positions[id][msg.sender] = leftWad;
        $.book[slot].sizeWad = (int256(s.sizeWad) + sizeWad.toInt256()).toInt96();
        if (markWad > proceeds * _quoteScale) OptionBook.defer($.deferrals[slot], s.expiry, markWad - proceeds * _quoteScale);
        (int256 surplusWad, uint256 requiredWad, int256 availableWad) = _surplus(spotWad, proceeds);
        // Never out of cash owed to settled holders (nor more than the cash), whatever the book requires.
        if (availableWad < 0 || surplusWad < 0 && surplusWad < surplusBeforeWad) {
            revert InsufficientCollateral(requiredWad, availableWad);
        }
    }

    /// @inheritdoc IOptionVaultBook
    function quoteOpen(bytes32 id, uint256 sizeWad) external view onlyDelegated returns (uint256 premium) {
        VaultStorage storage $ = _storage();
        (, Series memory s, uint256 spotWad) = _tradeable(id, sizeWad);
        (uint256 premiumWad,) = OptionBook.premiumWad(s, sizeWad, _market(spotWad), _charges($.bookLimits));
        return Math.ceilDiv(premiumWad, _quoteScale);
    }

    /// @inheritdoc IOptionVaultBook
    function quoteClose(bytes32 id, uint256 sizeWad) external view onlyDelegated returns (uint256 proceeds) {
        VaultStorage storage $ = _storage();
        (, Series memory s, uint256 spotWad) = _tradeable(id, sizeWad);
        (proceeds,) = OptionBook.proceedsWad(s, sizeWad, _market(spotWad), _charges($.bookLimits));
        return proceeds / _quoteScale;
    }

    /// @inheritdoc IOptionVaultBook
    function settleSeries(bytes32 id, uint80 roundId) external onlyDelegated nonReentrant {
        VaultStorage storage $ = _storage();
        uint256 slot = _liveSlot(id);
        Series memory s = $.book[slot];
        if (block.timestamp < s.expiry) revert SeriesNotExpired(id, s.expiry);
        (uint80 usedRoundId, uint256 answer) = OptionBook.settlementAnswer(oracle, roundId, s.expiry, $.hot.maxOracleAge);
        uint256 priceWad = answer * _oracleScale;

        uint256 payoutPerUnitWad = OptionBook.intrinsicWad(s.isCall, s.strikeWad, priceWad);
        // Rounded up: the liability reserved covers every holder's rounded-down claim.
        uint256 totalPayout =
            Math.mulDiv(payoutPerUnitWad, uint256(-int256(s.sizeWad)), WAD * _quoteScale, Math.Rounding.Ceil);

        $.settlements[id] = Settlement({payoutPerUnitWad: payoutPerUnitWad.toUint128(), settled: true});
        $.pendingPayouts += totalPayout;
        if (totalPayout != 0) $.hot.owesPayouts = true;
        _removeFromBook(id, slot); // the series' margin is all earned by expiry
        emit SeriesSettled(id, usedRoundId, priceWad, payoutPerUnitWad, totalPayout);
    }

    /// @inheritdoc IOptionVaultBook
    function claim(bytes32 id, address receiver) external onlyDelegated nonReentrant returns (uint256 payout) {
        VaultStorage storage $ = _storage();
        Settlement memory st = $.settlements[id];
        if (!st.settled) revert NotSettled(id);
        uint256 sizeWad = $.positions[id][msg.sender];
        if (sizeWad == 0) revert NothingToClaim(id, msg.sender);

        (uint256 paid, uint256 inUnderlying, uint256 priceWad, uint256 leftWad) =
            _payClaim(Math.mulDiv(st.payoutPerUnitWad, sizeWad, WAD * _quoteScale), st.payoutPerUnitWad);
        payout = paid;
        $.positions[id][msg.sender] = leftWad;
        emit Claimed(id, msg.sender, receiver, sizeWad - leftWad, payout, inUnderlying, priceWad);
        if (payout != 0) _quote.safeTransfer(receiver, payout);
        if (inUnderlying != 0) IERC20(address(underlying)).safeTransfer(receiver, inUnderlying);
    }

    /// @dev How a claim owed `owedToHolder` quote units is paid: cash first; a shortfall (the cash went into the
    /// hedge) in the underlying (`_inKind`); what neither covers stays claimable, as a position paying at most the
    /// amount still owed (rounded against the holder). Releases what was paid from the payouts owed. Returns the
    /// quote paid, the underlying paid, its price, and the position left.
    function _payClaim(uint256 owedToHolder, uint256 payoutPerUnitWad)
        private
        returns (uint256 payout, uint256 inUnderlying, uint256 priceWad, uint256 leftWad)
    {
        VaultStorage storage $ = _storage();
        payout = Math.min(owedToHolder, _quote.balanceOf(address(this)));
        uint256 coveredWad;
        bool complete;
        (inUnderlying, coveredWad, priceWad, complete) = _inKind(owedToHolder - payout);
        // Settled in full (the in-kind part rounded against the claimer), or partly.
        uint256 paid = complete ? owedToHolder : payout + coveredWad / _quoteScale;
        leftWad = complete ? 0 : Math.mulDiv(owedToHolder - paid, WAD * _quoteScale, payoutPerUnitWad);
        uint256 owed = $.pendingPayouts - paid;
        $.pendingPayouts = owed;
        if (owed == 0) $.hot.owesPayouts = false;
    }

    /// @dev The underlying that pays `shortfall` quote units of a claim: at the oracle price moved by
    /// `latencyBps` against the claimer (so a claim timed before a visible update gains nothing), rounded down, at
    /// most the underlying held, and nothing while the oracle is unusable. Returns the amount, the quote wad it
    /// covers, the price used, and whether that settles the shortfall (nothing short of it but rounding).
    function _inKind(uint256 shortfall)
        private
        view
        returns (uint256 amount, uint256 coveredWad, uint256 priceWad, bool complete)
    {
        if (shortfall == 0) return (0, 0, 0, true);
        VaultStorage storage $ = _storage();
        (uint256 spotWad, bytes memory err) = _usableSpotOrError($.hot.maxOracleAge);
        if (err.length != 0) return (0, 0, 0, false);
        priceWad = Math.mulDiv(spotWad, BPS + $.cold.latencyBps, BPS, Math.Rounding.Ceil);
        amount = Math.mulDiv(shortfall * _quoteScale, WAD, priceWad * _underlyingScale);
        uint256 held = underlying.balanceOf(address(this));
        complete = amount <= held;
        if (!complete) amount = held;
        coveredWad = Math.mulDiv(amount * _underlyingScale, priceWad, WAD);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVaultBook
    function hedgeStatus() external view onlyDelegated returns (HedgeStatus memory st) {
        VaultStorage storage $ = _storage();
        Hot memory hot = $.hot;
        Limits memory limits = $.limits;
        Ledger memory ledger = $.ledger;
        (, uint256 notionalPrev, uint256 notionalCur, uint256 slippagePrev, uint256 slippageCur) =
            _rolledLedger(ledger, hot.budgetWindowSeconds);
        st.lastRebalanceBlock = ledger.lastRebalanceBlock;
        st.nextRebalanceBlock = uint256(ledger.lastRebalanceBlock) + hot.minRebalanceInterval;
        st.notionalLeftWad = _left(limits.notionalBudget, notionalPrev + notionalCur);
        st.slippageLeftWad = _left(limits.slippageBudget, slippagePrev + slippageCur);
        (,, st.oracleStatus,) = _spot(hot.maxOracleAge);
        st.paused = hot.paused;
    }

    /// @inheritdoc IOptionVaultBook
    function book() external view onlyDelegated returns (bytes32[] memory ids, Series[] memory series) {
        VaultStorage storage $ = _storage();
        uint256 count = $.hot.liveCount;
        ids = new bytes32[](count);
        series = new Series[](count);
        for (uint256 i; i < count; ++i) {
            Series memory s = $.book[i];
            series[i] = s;
            ids[i] = seriesId(s.isCall, s.strikeWad, s.expiry);
        }
    }

    /// @inheritdoc IOptionVaultBook
    function positionOf(bytes32 id, address holder) external view onlyDelegated returns (uint256) {
        VaultStorage storage $ = _storage();
        return $.positions[id][holder];
    }

    /// @inheritdoc IOptionVaultBook
    function settlementOf(bytes32 id) external view onlyDelegated returns (bool settled, uint256 payoutPerUnitWad) {
        VaultStorage storage $ = _storage();
        Settlement memory st = $.settlements[id];
        return (st.settled, st.payoutPerUnitWad);
    }

    /// @inheritdoc IOptionVaultBook
    function hedgeParams() external view onlyDelegated returns (HedgeParams memory) {
        VaultStorage storage $ = _storage();
        Hot memory hot = $.hot;
        Limits memory limits = $.limits;
        return HedgeParams({
            maxSlippageBps: hot.maxSlippageBps,
            minRebalanceInterval: hot.minRebalanceInterval,
            maxOracleAge: hot.maxOracleAge,
            maxTradeWad: limits.maxTradeWad,
            deltaToleranceWad: limits.deltaToleranceWad,
            bandWad: $.cold.bandWad,
            budgetWindowSeconds: hot.budgetWindowSeconds,
            notionalBudget: limits.notionalBudget,
            slippageBudget: limits.slippageBudget
        });
    }

    /// @inheritdoc IOptionVaultBook
    function riskParams() external view onlyDelegated returns (RiskParams memory) {
        VaultStorage storage $ = _storage();
        Cold memory cold = $.cold;
        return RiskParams({
            volWad: $.hot.volWad,
            rateWad: $.hot.rateWad,
            spreadBps: cold.spreadBps,
            latencyBps: cold.latencyBps,
            capitalChargeBps: cold.capitalChargeBps,
            minPremiumBps: cold.minPremiumBps
        });
    }

    /// @inheritdoc IOptionVaultBook
    function bookLimits() external view onlyDelegated returns (BookLimits memory) {
        VaultStorage storage $ = _storage();
        return $.bookLimits;
    }

    /// @inheritdoc IOptionVaultBook
    function paused() external view onlyDelegated returns (bool) {
        VaultStorage storage $ = _storage();
        return $.hot.paused;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVaultBook
    function setHedgeParams(HedgeParams calldata params) external onlyDelegated onlyRole(MANAGER_ROLE) {
        _setHedgeParams(params);
    }

    /// @inheritdoc IOptionVaultBook
    function setRiskParams(RiskParams calldata params) external onlyDelegated onlyRole(MANAGER_ROLE) {
        _setRiskParams(params);
    }

    /// @inheritdoc IOptionVaultBook
    function setBookLimits(BookLimits calldata limits) external onlyDelegated onlyRole(MANAGER_ROLE) {
        _setBookLimits(limits);
    }

    /// @inheritdoc IOptionVaultBook
    function pause() external onlyDelegated onlyRole(GUARDIAN_ROLE) {
        VaultStorage storage $ = _storage();
        if ($.hot.paused) revert PauseStateUnchanged(true);
        $.hot.paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IOptionVaultBook
    function unpause() external onlyDelegated onlyRole(DEFAULT_ADMIN_ROLE) {
        VaultStorage storage $ = _storage();
        if (!$.hot.paused) revert PauseStateUnchanged(false);
        $.hot.paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Perp margin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVaultBook
    function postPerpMargin(uint256 amount) external onlyDelegated onlyRole(KEEPER_ROLE) nonReentrant {
        if (address(perp) == address(0)) revert NoPerpVenue();
        if (amount == 0) revert ZeroAmount();
        VaultStorage storage $ = _storage();
        uint256 cash = _quote.balanceOf(address(this));
        if (amount > cash) {
            revert InsufficientCollateral(amount > type(uint128).max ? type(uint256).max : amount * _quoteScale, int256(cash * _quoteScale));
        }
        IPerpMarket.PositionView memory p = perp.positionOf(address(this));
        int256 effective = _effectiveMargin(p);
        uint256 cap;
        (uint256 spotWad, bytes memory err) = _usableSpotOrError($.hot.maxOracleAge);
        if (err.length == 0) {
            (int256 availableWad, uint256 requiredWad, uint256 openInterestWad) = _collateral(spotWad, 0, amount);
            if (requiredWad.toInt256() > availableWad) revert InsufficientCollateral(requiredWad, availableWad);
            // The open interest bounds |book delta| (each option's |delta| ≤ 1): the largest hedge the book can need.
            cap = _marginOf(Math.max(openInterestWad, _abs(p.sizeWad)), spotWad, $.cold.maxMarginBps);
        } else {
            // The vault's oracle is unusable (an L2 sequencer's grace period, or its age bound tighter than the
            // market's) while the market still prices, and liquidates, the position: only a top-up of an open
            // position, to minMarginBps of its notional at the market's price, from cash beyond unclaimed payouts.
            // The collateral check waits for the oracle.
            if (p.sizeWad == 0) _revert(err);
            cap = _marginOf(_abs(p.sizeWad), perp.oraclePrice(), $.hot.minMarginBps);
            if (cash - amount < $.pendingPayouts) revert PayoutsNotCovered(cash - amount, $.pendingPayouts);
        }
        int256 effectiveAfter = effective + amount.toInt256();
        if (effectiveAfter > cap.toInt256()) revert PerpMarginAboveCap(uint256(effectiveAfter), cap);
        perp.depositMargin(amount);
        emit PerpMarginMoved(msg.sender, amount.toInt256(), p.margin + amount);
    }

    /// @inheritdoc IOptionVaultBook
    function withdrawPerpMargin(uint256 amount) external onlyDelegated onlyRole(KEEPER_ROLE) nonReentrant {
        if (address(perp) == address(0)) revert NoPerpVenue();
        if (amount == 0) revert ZeroAmount();
        perp.withdrawMargin(amount);
        IPerpMarket.PositionView memory p = perp.positionOf(address(this));
        int256 effective = _effectiveMargin(p);
        if (p.sizeWad != 0) {
            VaultStorage storage $ = _storage();
            uint256 required = _marginOf(_abs(p.sizeWad), _usableSpot($.hot.maxOracleAge), $.hot.minMarginBps);
            if (effective < required.toInt256()) revert PerpMarginTooLow(effective, required);
        }
        emit PerpMarginMoved(msg.sender, -amount.toInt256(), p.margin);
    }

    /// @inheritdoc IOptionVaultBook
    function setPerpMarginBounds(uint16 minMarginBps, uint16 maxMarginBps)
        external
        onlyDelegated
        onlyRole(MANAGER_ROLE)
    {
        _checkRange(Param.MaxMarginBps, maxMarginBps, 1, BPS);
        _checkRange(Param.MinMarginBps, minMarginBps, 1, maxMarginBps);
        VaultStorage storage $ = _storage();
        ($.hot.minMarginBps, $.cold.maxMarginBps) = (minMarginBps, maxMarginBps);
        emit PerpMarginBoundsSet(minMarginBps, maxMarginBps);
    }

    /// @inheritdoc IOptionVaultBook
    function perpMarginBounds() external view onlyDelegated returns (uint256 minMarginBps, uint256 maxMarginBps) {
        VaultStorage storage $ = _storage();
        return ($.hot.minMarginBps, $.cold.maxMarginBps);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev `bps` of the notional of `sizeWad` at `spotWad`, quote units rounded up.
    function _marginOf(uint256 sizeWad, uint256 spotWad, uint256 bps) private view returns (uint256) {
        return Math.mulDiv(sizeWad * spotWad / WAD, bps, BPS * _quoteScale, Math.Rounding.Ceil);
    }

    function _liveSlot(bytes32 id) private view returns (uint256) {
        VaultStorage storage $ = _storage();
        uint256 slotPlusOne = $.slotOf[id];
        if (slotPlusOne == 0) revert UnknownSeries(id);
        return slotPlusOne - 1;
    }

    function _removeFromBook(bytes32 id, uint256 slot) private {
        VaultStorage storage $ = _storage();
        uint256 last = uint256($.hot.liveCount) - 1;
        if (slot != last) {
            Series memory moved = $.book[last];
            $.book[slot] = moved;
            $.deferrals[slot] = $.deferrals[last];
            $.slotOf[seriesId(moved.isCall, moved.strikeWad, moved.expiry)] = slot + 1;
        }
        delete $.book[last];
        delete $.deferrals[last];
        delete $.slotOf[id];
        $.hot.liveCount = uint8(last);
    }

    /// @dev The checks every sale and buy-back shares: not paused, a positive size, a live series still trading,
    /// a usable oracle. Returns the series' slot, the series and the spot.
    function _tradeable(bytes32 id, uint256 sizeWad)
        private
        view
        returns (uint256 slot, Series memory s, uint256 spotWad)
    {
        VaultStorage storage $ = _storage();
        Hot memory hot = $.hot;
        if (hot.paused) revert VaultPaused();
        if (sizeWad == 0) revert ZeroAmount();
        slot = _liveSlot(id);
        s = $.book[slot];
        uint256 closesAt = uint256(s.expiry) - TRADING_CUTOFF_SECONDS;
        if (block.timestamp >= closesAt) revert TradingClosed(id, closesAt);
        spotWad = _usableSpot(hot.maxOracleAge);
    }

    /// @dev What is left of a position of `heldWad` after selling `sizeWad` back: 0 or at least the minimum.
    function _positionLeft(uint256 heldWad, bytes32 id, uint256 sizeWad, uint256 minPositionWad)
        private
        pure
        returns (uint256 leftWad)
    {
        if (heldWad < sizeWad) revert InsufficientPosition(id, heldWad, sizeWad);
        leftWad = heldWad - sizeWad;
        if (leftWad != 0 && leftWad < minPositionWad) revert PositionTooSmall(leftWad, minPositionWad);
    }

    /// @dev The collateral check of a sale, on the state after it with `premium` (quote units) received: open
    /// interest within its cap, the cash (less unclaimed payouts) covering what the book requires
    /// (`OptionBook.collateral`), and at most `maxUtilizationBps` of the assets (cash − payouts + hedge at the spot)
    /// locked by that requirement.
    function _checkSale(uint256 spotWad, uint256 premium, BookLimits memory limits) private view {
        (int256 availableWad, uint256 requiredWad, uint256 openInterestWad) = _collateral(spotWad, premium, 0);
        if (openInterestWad > limits.maxOpenInterestWad) {
            revert OpenInterestExceeded(bytes32(0), openInterestWad, limits.maxOpenInterestWad);
        }
        if (availableWad < requiredWad.toInt256()) revert InsufficientCollateral(requiredWad, availableWad);
        uint256 assetsWad = uint256(availableWad) + Math.mulDiv(_hedgeBalance(), spotWad, WAD);
        uint256 maxLockedWad = Math.mulDiv(assetsWad, limits.maxUtilizationBps, BPS);
        if (requiredWad > maxLockedWad) revert UtilizationExceeded(requiredWad, maxLockedWad);
    }

    /// @dev Cash beyond what the book requires (quote wad; negative when short) after paying out `cashOut`.
    function _surplus(uint256 spotWad, uint256 cashOut)
        private
        view
        returns (int256 surplusWad, uint256 requiredWad, int256 availableWad)
    {
        (availableWad, requiredWad,) = _collateral(spotWad, 0, cashOut);
        surplusWad = availableWad - requiredWad.toInt256();
    }

    function _charges(BookLimits memory limits) private view returns (OptionBook.Charges memory) {
        VaultStorage storage $ = _storage();
        Cold memory cold = $.cold;
        return OptionBook.Charges({
            spreadBps: cold.spreadBps,
            latencyBps: cold.latencyBps,
            capitalChargeBps: cold.capitalChargeBps,
            minPremiumBps: cold.minPremiumBps,
            stressUpBps: limits.stressUpBps
        });
    }

    function _left(uint256 budget, uint256 usedUnits) private pure returns (uint256) {
        uint256 budgetUnits = budget * UNITS_PER_QUOTE;
        return budgetUnits > usedUnits ? (budgetUnits - usedUnits) * BUDGET_UNIT_WAD : 0;
    }
}
