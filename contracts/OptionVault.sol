// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IOptionVault, IOptionVaultCore} from "./interfaces/IOptionVault.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";
import {OptionBook} from "./libraries/OptionBook.sol";
import {OptionVaultBase} from "./OptionVaultBase.sol";
import {OptionVaultExtension} from "./OptionVaultExtension.sol";

/// @title OptionVault
/// @notice ERC-4626 vault on a quote asset that writes cash-settled European options, buys them back, and
/// delta-hedges them on a constant-product AMM. The specification, prices, units and guarantees are in
/// `IOptionVault`; use that interface's ABI at this address.
/// @dev This contract serves `IOptionVaultCore`: `rebalance` (kept here, self-contained, for gas: everything it
/// reads lives in three packed slots plus one slot per live series, and it writes one slot) and the ERC-4626
/// share accounting. Every other function of `IOptionVault` — the book, its views, the administration — is served
/// by `OptionVaultExtension` through this contract's fallback, by DELEGATECALL: same storage (`OptionVaultBase`),
/// same `msg.sender`, same events' address. The extension is deployed first, from the same `Config`.
contract OptionVault is OptionVaultBase, ERC4626, AccessControl, ReentrancyGuardTransient, IOptionVaultCore {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @inheritdoc IOptionVaultCore
    address public immutable extension;

    /// @notice The extension was not built from this vault's `Config`.
    error ExtensionMismatch(address extension);

    /// @param config The contracts and the share token's name.
    /// @param extension_ An `OptionVaultExtension` deployed from the same `config`.
    /// @param hedge Initial rebalance bounds and budget (validated as in `setHedgeParams`).
    /// @param risk Initial pricing parameters (validated as in `setRiskParams`).
    /// @param limits Initial collateral and size limits (validated as in `setBookLimits`).
    constructor(
        Config memory config,
        OptionVaultExtension extension_,
        HedgeParams memory hedge,
        RiskParams memory risk,
        BookLimits memory limits
    ) OptionVaultBase(config) ERC4626(config.quote) ERC20(config.name, config.symbol) {
        if (address(extension_).code.length == 0 || extension_.configHash() != configHash()) {
            revert ExtensionMismatch(address(extension_));
        }
        extension = address(extension_);
        _grantRole(DEFAULT_ADMIN_ROLE, config.admin);
        _setHedgeParams(hedge);
        _setRiskParams(risk);
        _setBookLimits(limits);
        // The vault only ever grants the fixed AMM; an infinite allowance saves an SSTORE per hedge.
        IERC20(address(config.quote)).forceApprove(address(config.amm), type(uint256).max);
        IERC20(address(config.underlying)).forceApprove(address(config.amm), type(uint256).max);
        // Likewise the fixed perp market, which pulls only what `postPerpMargin` deposits.
        if (address(config.perp) != address(0)) {
            IERC20(address(config.quote)).forceApprove(address(config.perp), type(uint256).max);
        }
    }

    /// @notice Every `IOptionVaultBook` function: served by the extension in this vault's context.
    fallback() external {
        address ext = extension;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), ext, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hedging
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVaultCore
    /// @dev Checks, the swap, then the post-trade guards and the one write (`ledger`: this block and the budget
    /// used), since both need the swap's result. Any failure reverts the whole transaction, swap included; the
    /// AMM is fixed and every state-changing entry point shares the reentrancy guard.
    function rebalance(bool buyUnderlying, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
        returns (int256 deltaBeforeWad, int256 deltaAfterWad)
    {
        VaultStorage storage $ = _storage();
        Trade memory t;
        (t.hot, t.limits, t.ledger, t.buy, t.amountIn) = ($.hot, $.limits, $.ledger, buyUnderlying, amountIn);
        deltaBeforeWad = _beforeTrade(t);
        t.amountOut = amm.swapExactIn(
            address(buyUnderlying ? _quote : underlying), amountIn, minAmountOut, address(this), deadline
        );
        deltaAfterWad = _afterSwap(t);
        emit Rebalanced(msg.sender, buyUnderlying, amountIn, t.amountOut, t.spotWad, deltaBeforeWad, deltaAfterWad);
    }

    /// @inheritdoc IOptionVaultCore
    /// @dev The same checks as `rebalance` (`_beforeTrade`, `_afterTrade`), the trade on the market in between. The
    /// market fills at the price its own view gives in this transaction; the vault checks the fill and fee it
    /// reports against the oracle bound afterwards, and any failure reverts the trade with everything else.
    function hedgePerp(int256 sizeDeltaWad, uint256 acceptablePriceWad, uint256 deadline)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
        returns (int256 deltaBeforeWad, int256 deltaAfterWad)
    {
        IPerpMarket market = perp;
        if (address(market) == address(0)) revert NoPerpVenue();
        if (block.timestamp > deadline) revert HedgeExpired(deadline);
        VaultStorage storage $ = _storage();
        Trade memory t;
        (t.hot, t.limits, t.ledger, t.buy, t.amountIn, t.perp) =
            ($.hot, $.limits, $.ledger, sizeDeltaWad > 0, _abs(sizeDeltaWad), true);
        deltaBeforeWad = _beforeTrade(t);
        if (t.amountIn > t.limits.maxTradeWad) revert TradeTooLarge(t.amountIn, t.limits.maxTradeWad);
        (uint256 fillWad, uint256 fee, uint256 marginAfter) = market.modifyPosition(sizeDeltaWad, acceptablePriceWad);
        deltaAfterWad = _afterPerpTrade(t, fillWad, fee, marginAfter);
        emit PerpHedged(msg.sender, sizeDeltaWad, fillWad, fee, t.spotWad, deltaBeforeWad, deltaAfterWad);
    }

    /// @dev One rebalance: the three slots it reads (each read once), the order, the swap's output, and what the
    /// checks before the swap found (the oracle spot, the net delta).
    struct Trade {
        Hot hot;
        Limits limits;
        Ledger ledger;
        bool buy;
        uint256 amountIn;
        uint256 amountOut;
        uint256 spotWad;
        int256 beforeWad;
        bool perp;
        int256 perpBeforeWad;
    }

    /// @dev The checks before the swap; records the oracle spot and the net delta in `t`.
    function _beforeTrade(Trade memory t) private view returns (int256 beforeWad) {
        if (t.hot.paused) revert VaultPaused();
        uint256 nextBlock = uint256(t.ledger.lastRebalanceBlock) + t.hot.minRebalanceInterval;
        if (block.number < nextBlock) revert RebalanceTooSoon(t.ledger.lastRebalanceBlock, nextBlock);
        if (t.amountIn == 0) revert ZeroAmount();
        uint256 spotWad = _usableSpot(t.hot.maxOracleAge);
        // The pricing domain bounds every product of a price in `_afterTrade` (and the book's deltas need it).
        if (spotWad > BlackScholes.MAX_PRICE_WAD) revert BlackScholes.SpotOutOfDomain(spotWad);
        uint256 hedgeWad = _hedgeBalance();
        int256 perpWad = t.hot.perpOpen ? _perpSize() : int256(0);
        beforeWad = _bookDelta(t.hot, spotWad) + hedgeWad.toInt256() + perpWad;
        // Inside the tolerance there is nothing to correct: without this, a keeper could cross zero back and
        // forth forever, each trade "reducing" |delta| by a wei and paying slippage.
        uint256 toleranceWad = t.limits.deltaToleranceWad;
        if (_abs(beforeWad) <= toleranceWad) revert DeltaWithinTolerance(beforeWad, toleranceWad);
        if (!t.buy && !t.perp && t.amountIn * _underlyingScale > hedgeWad) {
            revert InsufficientHedge(hedgeWad / _underlyingScale, t.amountIn);
        }
        (t.spotWad, t.beforeWad, t.perpBeforeWad) = (spotWad, beforeWad, perpWad);
    }

    /// @dev After the swap: what was traded and for how much (wad), then the common checks (`_afterTrade`).
    function _afterSwap(Trade memory t) private returns (int256 afterWad) {
        uint256 tradedWad = (t.buy ? t.amountOut : t.amountIn) * _underlyingScale;
        uint256 quoteWad = (t.buy ? t.amountIn : t.amountOut) * _quoteScale;
        if (tradedWad == 0) revert ZeroAmount();
        afterWad = _afterTrade(t, tradedWad, quoteWad);
    }

    /// @dev After the perp trade: its all-in cost (fill ± fee per unit, as quote wad for the whole size), the common
    /// checks (`_afterTrade`), then the margin left: at least `minMarginBps` of the notional unless the trade only
    /// reduced the position. Right after a trade the effective margin is marginAfter − max(0, size · (fill − p))
    /// (`IPerpMarket.modifyPosition`).
    function _afterPerpTrade(Trade memory t, uint256 fillWad, uint256 fee, uint256 marginAfter)
        private
        returns (int256 afterWad)
    {
        uint256 sizeWad = t.amountIn;
        uint256 feeWad = fee * _quoteScale;
        uint256 atFillWad = Math.mulDiv(sizeWad, fillWad, WAD, t.buy ? Math.Rounding.Ceil : Math.Rounding.Floor);
        // What the trade paid (a buy) or got (a sale) all in: the fee adds to a buy and comes off a sale.
        uint256 quoteWad = t.buy ? atFillWad + feeWad : (atFillWad > feeWad ? atFillWad - feeWad : 0);
        afterWad = _afterTrade(t, sizeWad, quoteWad);
        int256 perpAfter = t.perpBeforeWad + (t.buy ? int256(sizeWad) : -int256(sizeWad));
        if ((perpAfter != 0) != t.hot.perpOpen) _storage().hot.perpOpen = perpAfter != 0;
        bool reducesOnly = (perpAfter >= 0) == (t.perpBeforeWad >= 0) && _abs(perpAfter) < _abs(t.perpBeforeWad);
        if (!reducesOnly && perpAfter != 0) _checkPerpMargin(perpAfter, fillWad, t.spotWad, marginAfter, t.hot.minMarginBps);
    }

    /// @dev Reverts unless a position of `perpAfter` just filled at `fillWad` keeps an effective margin of at least
    /// `minBps` of its notional at the oracle spot: marginAfter − max(0, size · (fill − p)), in quote units.
    function _checkPerpMargin(int256 perpAfter, uint256 fillWad, uint256 spotWad, uint256 marginAfter, uint256 minBps)
        private
        view
    {
        int256 scale = int256(_quoteScale);
        int256 gapWad = perpAfter * (int256(fillWad) - int256(spotWad)) / int256(WAD); // size · (fill − p)
        int256 effective = marginAfter.toInt256() - (gapWad > 0 ? (gapWad + scale - 1) / scale : int256(0));
        uint256 required = Math.mulDiv(_abs(perpAfter) * spotWad / WAD, minBps, BPS * _quoteScale, Math.Rounding.Ceil);
        if (effective < required.toInt256()) revert PerpMarginTooLow(effective, required);
    }

    /// @dev The checks after a trade of `tradedWad` underlying for `quoteWad` (wad, fee and impact included) —
    /// size, execution price against the oracle, the delta rule, the cash owed to settled holders after an AMM buy —
    /// then the budget and the one write
    /// (`_chargeBudget`). Arithmetic: amounts are pool outputs or inputs (< 2^128 in token units, so < 2^188 in
    /// wad) or perp sizes (< 2^96 after the size check), and prices are at most 1e33·(1 + 10%); every product here
    /// stays far below 2^256 (and overflow would revert anyway).
    function _afterTrade(Trade memory t, uint256 tradedWad, uint256 quoteWad) private returns (int256 afterWad) {
        if (tradedWad > t.limits.maxTradeWad) revert TradeTooLarge(tradedWad, t.limits.maxTradeWad);
        uint256 spotWad = t.spotWad;
        uint256 slippageWad;
        uint256 notionalWad;
        // Bounds: tradedWad ≤ maxTradeWad < 2^96 and spotWad ≤ MAX_PRICE_WAD = 1e33 < 2^110 (`_beforeTrade`), so
        // tradedWad·spotWad < 2^206; products with quoteWad (what the venue paid or took) stay checked.
        uint256 fairWad; // the oracle value of what was traded, rounded down for a buy and up for a sale
        unchecked {
            notionalWad = (tradedWad * spotWad + WAD - 1) / WAD;
            fairWad = t.buy ? tradedWad * spotWad / WAD : notionalWad;
        }
        // Execution price against the oracle bound, rounded against the keeper: up when buying, down when selling.
        if (t.buy) {
            uint256 paidWad = (quoteWad * WAD + tradedWad - 1) / tradedWad;
            uint256 limitWad = spotWad * (BPS + t.hot.maxSlippageBps) / BPS;
            if (paidWad > limitWad) revert SlippageTooHigh(paidWad, limitWad);
            afterWad = t.beforeWad + int256(tradedWad);
            if (quoteWad > fairWad) slippageWad = quoteWad - fairWad;
        } else {
            uint256 receivedWad = quoteWad * WAD / tradedWad;
            uint256 limitWad = spotWad * (BPS - t.hot.maxSlippageBps) / BPS;
            if (receivedWad < limitWad) revert SlippageTooHigh(receivedWad, limitWad);
            afterWad = t.beforeWad - int256(tradedWad);
            if (fairWad > quoteWad) slippageWad = fairWad - quoteWad;
        }
        uint256 absAfter = _abs(afterWad);
        if (absAfter >= _abs(t.beforeWad)) revert DeltaNotReduced(t.beforeWad, afterWad);
        uint256 toleranceWad = t.limits.deltaToleranceWad;
        if ((t.beforeWad < 0) != (afterWad < 0) && afterWad != 0 && absAfter > toleranceWad) {
            revert HedgeOvershoot(t.beforeWad, afterWad, toleranceWad);
        }
        // A buy on the AMM spends cash; a perp trade pays its fee from the margin.
        if (t.buy && !t.perp && t.hot.owesPayouts) {
            uint256 cash = _quote.balanceOf(address(this));
            uint256 owed = _storage().pendingPayouts;
            if (cash < owed) revert PayoutsNotCovered(cash, owed);
        }
        _chargeBudget(t, notionalWad, slippageWad);
    }

    /// @dev Records the trade's notional and slippage (quote wad) in the budget, reverting when the current and
    /// previous windows together would exceed it, and writes the ledger (with this block). The usage carried is
    /// ≤ its budget < 2^32·1e4 units, the new usage < 2^230 units: no sum below overflows.
    function _chargeBudget(Trade memory t, uint256 notionalWad, uint256 slippageWad) private {
        Ledger memory ledger = t.ledger;
        uint256 window = block.timestamp / t.hot.budgetWindowSeconds;
        uint256 notionalPrev;
        uint256 notionalCur;
        uint256 slippagePrev;
        uint256 slippageCur;
        if (uint24(window) == ledger.window) {
            (notionalPrev, notionalCur, slippagePrev, slippageCur) =
                (ledger.notionalPrev, ledger.notionalCur, ledger.slippagePrev, ledger.slippageCur);
        } else if (uint24(window - 1) == ledger.window) {
            (notionalPrev, slippagePrev) = (ledger.notionalCur, ledger.slippageCur);
        }
        unchecked {
            // Units of BUDGET_UNIT_WAD, rounded up (against the keeper).
            notionalCur += (notionalWad + BUDGET_UNIT_WAD - 1) / BUDGET_UNIT_WAD;
            slippageCur += (slippageWad + BUDGET_UNIT_WAD - 1) / BUDGET_UNIT_WAD;
            uint256 used = notionalPrev + notionalCur;
            if (used > t.limits.notionalBudget * UNITS_PER_QUOTE) {
                revert NotionalBudgetExceeded(used * BUDGET_UNIT_WAD, t.limits.notionalBudget * WAD);
            }
            used = slippagePrev + slippageCur;
            if (used > t.limits.slippageBudget * UNITS_PER_QUOTE) {
                revert SlippageBudgetExceeded(used * BUDGET_UNIT_WAD, t.limits.slippageBudget * WAD);
            }
        }
        // Casts: each value is within a budget checked above (≤ 2^32·1e4 < 2^48); the window wraps mod 2^24.
        _storage().ledger = Ledger({
            lastRebalanceBlock: uint40(block.number),
            window: uint24(window),
            notionalPrev: uint48(notionalPrev),
            notionalCur: uint48(notionalCur),
            slippagePrev: uint48(slippagePrev),
            slippageCur: uint48(slippageCur)
        });
    }

    /// @inheritdoc IOptionVaultCore
    function netDeltaWad() external view returns (int256) {
        (uint256 spotWad,,) = _latestSpot();
        bool priced = spotWad >= BlackScholes.MIN_PRICE_WAD && spotWad <= BlackScholes.MAX_PRICE_WAD;
        return (priced ? _bookDelta(_storage().hot, spotWad) : int256(0)) + _hedgeDelta();
    }

    // ---------------------------------------------------------------------------------------------------------
    // ERC-4626: shares enter above and leave below the NAV by what the next oracle update could move it
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Net asset value at the latest oracle answer (the mid: deposits pay a little more, withdrawals get a
    /// little less, see `IOptionVault`), floored at 0. Informational when the oracle answer is ≤ 0 (then the cash
    /// less unclaimed payouts) or a series awaits settlement (marked at its intrinsic value now).
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 spotWad,, int256 answer) = _latestSpot();
        if (answer <= 0) return _cashLessPayouts();
        (uint256 assetsWad, uint256 liabilitiesWad,,) = _valuation(spotWad);
        return assetsWad > liabilitiesWad ? (assetsWad - liabilitiesWad) / _quoteScale : 0;
    }

    /// @notice 0 while deposits are refused (paused, oracle unusable, settlement pending, liabilities ≥ assets).
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        (, bytes memory err) = _entryNav();
        return err.length == 0 ? type(uint256).max : 0;
    }

    /// @notice 0 while deposits are refused.
    function maxMint(address) public view override(ERC4626, IERC4626) returns (uint256) {
        (, bytes memory err) = _entryNav();
        return err.length == 0 ? type(uint256).max : 0;
    }

    /// @notice What `owner`'s shares are worth on the way out, limited to the cash not needed to cover the book;
    /// 0 while withdrawals are held (oracle unusable with a book or hedge open, settlement pending).
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 nav, uint256 free, bytes memory err) = _exitNav();
        if (err.length != 0) return 0;
        return Math.min(_toAssets(_unlockedShares(owner), nav, Math.Rounding.Floor), free);
    }

    /// @notice The shares `owner` can redeem now (see `maxWithdraw`; shares minted less than
    /// `depositLockSeconds` ago are not among them).
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 nav, uint256 free, bytes memory err) = _exitNav();
        if (err.length != 0) return 0;
        // The most shares whose assets (rounded down, as `redeem` pays) do not exceed the free cash.
        uint256 freeShares = _toShares(free + 1, nav, Math.Rounding.Ceil);
        if (freeShares != 0) --freeShares;
        return Math.min(_unlockedShares(owner), freeShares);
    }

    /// @notice Shares minted for `assets` at the entry NAV; reverts (with the reason) while deposits are refused.
    function previewDeposit(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        return _toShares(assets, _entryNavOrRevert(), Math.Rounding.Floor);
    }

    /// @notice Assets paid for `shares` at the entry NAV; reverts while deposits are refused.
    function previewMint(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        return _toAssets(shares, _entryNavOrRevert(), Math.Rounding.Ceil);
    }

    /// @notice Shares burnt for `assets` at the exit NAV; reverts while withdrawals are held.
    function previewWithdraw(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 nav,) = _exitNavOrRevert();
        return _toShares(assets, nav, Math.Rounding.Ceil);
    }

    /// @notice Assets paid for `shares` at the exit NAV; reverts while withdrawals are held.
    function previewRedeem(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        (uint256 nav,) = _exitNavOrRevert();
        return _toAssets(shares, nav, Math.Rounding.Floor);
    }

    /// @notice Deposits `assets` for shares at the entry NAV.
    /// @dev Reverts with the reason deposits are refused, and with `ZeroAmount` if no share would be minted.
    function deposit(uint256 assets, address receiver)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 shares)
    {
        shares = previewDeposit(assets);
        if (shares == 0) revert ZeroAmount();
        _deposit(_msgSender(), receiver, assets, shares);
    }

    /// @notice Mints `shares` for assets at the entry NAV.
    function mint(uint256 shares, address receiver)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 assets)
    {
        if (shares == 0) revert ZeroAmount();
        assets = previewMint(shares);
        _deposit(_msgSender(), receiver, assets, shares);
    }

    /// @notice Withdraws `assets` for shares at the exit NAV.
    /// @dev Reverts with the reason withdrawals are held, or `WithdrawalExceedsFreeCash`.
    function withdraw(uint256 assets, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 shares)
    {
        (uint256 nav, uint256 free) = _exitNavOrRevert();
        if (assets > free) revert WithdrawalExceedsFreeCash(assets, free);
        shares = _toShares(assets, nav, Math.Rounding.Ceil);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @notice Redeems `shares` for assets at the exit NAV.
    function redeem(uint256 shares, address receiver, address owner)
        public
        override(ERC4626, IERC4626)
        nonReentrant
        returns (uint256 assets)
    {
        (uint256 nav, uint256 free) = _exitNavOrRevert();
        assets = _toAssets(shares, nav, Math.Rounding.Floor);
        if (assets > free) revert WithdrawalExceedsFreeCash(assets, free);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @notice ERC-165: `IOptionVault` and AccessControl's interfaces.
    function supportsInterface(bytes4 interfaceId) public view override(AccessControl) returns (bool) {
        return interfaceId == type(IOptionVault).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @dev The perp position (`p.sizeWad`) and its effective margin (formula (7) of `IPerpMarket`: remaining margin
    /// less the premium credit; signed, < 0 past bankruptcy), quote units; `err` is the market's revert data when it
    /// cannot value the position (its oracle check failed). Zero without a perp market.
    function _perpPosition() private view returns (IPerpMarket.PositionView memory p, int256 effective, bytes memory err) {
        if (address(perp) == address(0)) return (p, 0, "");
        try perp.positionOf(address(this)) returns (IPerpMarket.PositionView memory v) {
            (p, effective) = (v, _effectiveMargin(v));
        } catch (bytes memory reason) {
            err = reason.length == 0 ? abi.encodeWithSelector(NoPerpVenue.selector) : reason;
        }
    }

    /// @dev Shares just minted are locked for `depositLockSeconds` (no redemption, no transfer), so a deposit
    /// cannot come and go around a trade or a parameter change within one transaction or a few blocks. A new mint
    /// joins the holder's locked shares and restarts their lock; older shares stay free.
    function _update(address from, address to, uint256 value) internal override {
        VaultStorage storage $ = _storage();
        if (from != address(0)) {
            ShareLock memory lock = $.locks[from];
            if (block.timestamp < lock.until && value > balanceOf(from) - lock.shares) {
                revert SharesLocked(from, lock.shares, lock.until);
            }
        }
        if (from == address(0) && to != address(0)) {
            uint256 lockSeconds = $.bookLimits.depositLockSeconds;
            if (lockSeconds != 0) {
                ShareLock memory lock = $.locks[to];
                uint256 locked = block.timestamp < lock.until ? lock.shares + value : value;
                // Casts: shares < 2^128 (a supply of quote·1e6 shares); timestamps < 2^64.
                $.locks[to] = ShareLock({shares: uint128(locked), until: uint64(block.timestamp + lockSeconds)});
            }
        }
        super._update(from, to, value);
    }

    /// @dev `owner`'s shares that may leave now.
    function _unlockedShares(address owner) private view returns (uint256) {
        ShareLock memory lock = _storage().locks[owner];
        uint256 balance = balanceOf(owner);
        return block.timestamp < lock.until ? balance - lock.shares : balance;
    }

    /// @dev Virtual shares/assets offset of 1e6 makes a first-depositor inflation attack unprofitable.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /// @dev ERC-4626's conversion (OpenZeppelin's, with the virtual offset) against a given NAV.
    function _toShares(uint256 assets, uint256 nav, Math.Rounding rounding) private view returns (uint256) {
        return Math.mulDiv(assets, totalSupply() + 10 ** _decimalsOffset(), nav + 1, rounding);
    }

    function _toAssets(uint256 shares, uint256 nav, Math.Rounding rounding) private view returns (uint256) {
        return Math.mulDiv(shares, nav + 1, totalSupply() + 10 ** _decimalsOffset(), rounding);
    }

    /// @dev Assets (cash + hedge at the spot, rounded down, + the perp's effective margin when positive) and
    /// liabilities (unclaimed payouts + the book's marks, rounded up) in quote wad, and the book's valuation with the
    /// hedge (underlying and perp position) added to its delta. `err`: the perp market's revert data when it cannot
    /// value the position (the perp then counts for nothing in `assetsWad`).
    function _valuation(uint256 spotWad)
        private
        view
        returns (uint256 assetsWad, uint256 liabilitiesWad, OptionBook.Valuation memory v, bytes memory err)
    {
        VaultStorage storage $ = _storage();
        v = OptionBook.value($.book, $.deferrals, $.hot.liveCount, _market(spotWad));
        uint256 hedgeWad = _hedgeBalance();
        (IPerpMarket.PositionView memory p, int256 margin, bytes memory perpErr) = _perpPosition();
        v.deltaWad += hedgeWad.toInt256() + p.sizeWad;
        // A liquidatable position's margin is as good as gone: anyone can liquidate it and take it.
        assetsWad = (_quote.balanceOf(address(this)) + (margin > 0 && !p.liquidatable ? uint256(margin) : 0)) * _quoteScale
            + Math.mulDiv(hedgeWad, spotWad, WAD);
        liabilitiesWad = $.pendingPayouts * _quoteScale + v.liabilityWad;
        err = perpErr;
    }

    /// @dev The NAV deposits are priced at (quote units, rounded up): NAV + |Δ|·S·ε. Non-empty `err` (the revert
    /// data) when deposits are refused: paused, oracle unusable, a settlement pending, or liabilities ≥ assets > 0.
    function _entryNav() private view returns (uint256 nav, bytes memory err) {
        Hot memory hot = _storage().hot;
        if (hot.paused) return (0, abi.encodeWithSelector(VaultPaused.selector));
        uint256 spotWad;
        (spotWad, err) = _usableSpotOrError(hot.maxOracleAge);
        if (err.length != 0) return (0, err);
        (uint256 assetsWad, uint256 liabilitiesWad, OptionBook.Valuation memory v, bytes memory perpErr) =
            _valuation(spotWad);
        if (perpErr.length != 0) return (0, perpErr);
        if (v.expiredId != 0) return (0, abi.encodeWithSelector(SettlementPending.selector, v.expiredId));
        // With liabilities at or above assets the shares are worth nothing at the mark but keep the book's upside:
        // a deposit would buy it for nothing (an empty vault, with neither, takes its first deposit).
        if (liabilitiesWad >= assetsWad && liabilitiesWad != 0) {
            return (0, abi.encodeWithSelector(LiabilitiesExceedAssets.selector, assetsWad, liabilitiesWad));
        }
        uint256 moveWad = Math.mulDiv(spotWad, _storage().cold.latencyBps, BPS, Math.Rounding.Ceil);
        uint256 bandWad = Math.mulDiv(_abs(v.deltaWad), moveWad, WAD, Math.Rounding.Ceil);
        nav = Math.ceilDiv(assetsWad - liabilitiesWad + bandWad, _quoteScale);
    }

    function _entryNavOrRevert() private view returns (uint256 nav) {
        bytes memory err;
        (nav, err) = _entryNav();
        if (err.length != 0) _revert(err);
    }

    /// @dev The NAV withdrawals are priced at (quote units, rounded down): NAV − |Δ|·S·ε − |Γ|·(S·ε)²/2, and the
    /// cash free to leave (what the book does not require, `OptionBook.collateral`). A vault with no option open
    /// needs no price: its NAV is then its cash less unclaimed payouts — any underlying it still holds is left to
    /// the depositors who stay. Non-empty `err` when withdrawals are held (oracle unusable with options open,
    /// settlement pending).
    function _exitNav() private view returns (uint256 nav, uint256 free, bytes memory err) {
        uint256 spotWad;
        (spotWad, err) = _usableSpotOrError(_storage().hot.maxOracleAge);
        if (err.length != 0) {
            if (_hasOpenInterest()) return (0, 0, err);
            nav = _cashLessPayouts();
            return (nav, nav, "");
        }
        (uint256 assetsWad, uint256 liabilitiesWad, OptionBook.Valuation memory v, bytes memory perpErr) =
            _valuation(spotWad);
        if (perpErr.length != 0) return (0, 0, perpErr);
        if (v.expiredId != 0) return (0, 0, abi.encodeWithSelector(SettlementPending.selector, v.expiredId));
        uint256 moveWad = Math.mulDiv(spotWad, _storage().cold.latencyBps, BPS, Math.Rounding.Ceil);
        liabilitiesWad += Math.mulDiv(_abs(v.deltaWad), moveWad, WAD, Math.Rounding.Ceil)
            + Math.mulDiv(_abs(v.gammaWad), moveWad * moveWad, 2 * WAD * WAD, Math.Rounding.Ceil);
        nav = assetsWad > liabilitiesWad ? (assetsWad - liabilitiesWad) / _quoteScale : 0;
        (int256 availableWad, uint256 requiredWad,) = _collateral(spotWad, 0, 0);
        int256 freeWad = availableWad - requiredWad.toInt256();
        free = freeWad > 0 ? uint256(freeWad) / _quoteScale : 0;
        err = "";
    }

    function _exitNavOrRevert() private view returns (uint256 nav, uint256 free) {
        bytes memory err;
        (nav, free, err) = _exitNav();
        if (err.length != 0) _revert(err);
    }

    function _hasOpenInterest() private view returns (bool) {
        VaultStorage storage $ = _storage();
        uint256 count = $.hot.liveCount;
        for (uint256 i; i < count; ++i) {
            if ($.book[i].sizeWad != 0) return true;
        }
        return false;
    }
}
