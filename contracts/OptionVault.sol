// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IMockAmm} from "./interfaces/IMockAmm.sol";
import {IOptionVault} from "./interfaces/IOptionVault.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";

/// @title OptionVault
/// @notice ERC-4626 vault on a quote asset that writes cash-settled European options and delta-hedges them on a
/// constant-product AMM. The specification, units and trust assumptions are in `IOptionVault`.
/// @dev Gas layout: everything `rebalance` reads lives in two packed slots (`_hot`, `_limits`) plus one slot per
/// live series, so a rebalance over n series costs about n cold SLOADs plus n Black–Scholes deltas.
contract OptionVault is IOptionVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    // ---------------------------------------------------------------------------------------------------------
    // Roles and constants
    // ---------------------------------------------------------------------------------------------------------

    /// @notice May call `rebalance` (our keeper, or a `BandUpkeep` adapter).
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @notice Lists series and sets pricing, risk and hedge parameters.
    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");
    /// @notice May pause trading.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice Most live series the book holds: bounds every loop over the book.
    uint256 public constant MAX_LIVE_SERIES = 32;
    /// @notice Trading in a series closes this long before its expiry.
    uint256 public constant TRADING_CUTOFF_SECONDS = 1 hours;
    /// @notice Latest expiry a new series may have, from now.
    uint256 public constant MAX_EXPIRY_SECONDS = 730 days;
    /// @notice Ceiling of `maxSlippageBps`.
    uint256 public constant MAX_SLIPPAGE_BPS = 1_000;
    /// @notice Ceiling of `spreadBps`.
    uint256 public constant MAX_SPREAD_BPS = 5_000;
    /// @notice Bounds of `stressUpBps`: the collateral check covers at least a 10% and at most a 10x rally.
    uint256 public constant MIN_STRESS_UP_BPS = 1_000;
    uint256 public constant MAX_STRESS_UP_BPS = 90_000;

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;

    // ---------------------------------------------------------------------------------------------------------
    // Immutables
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The hedged asset (e.g. WETH).
    IERC20 public immutable underlying;
    /// @notice The price feed: quote per underlying.
    AggregatorV3Interface public immutable oracle;
    /// @notice The hedge venue.
    IMockAmm public immutable amm;

    IERC20 private immutable _quote;
    /// @dev Token amount × scale = wad amount. Both tokens have at most 18 decimals.
    uint256 private immutable _quoteScale;
    uint256 private immutable _underlyingScale;
    uint256 private immutable _oracleScale;

    // ---------------------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Everything every rebalance reads, in one slot (224 bits).
    struct Hot {
        uint64 lastRebalanceBlock;
        uint32 minRebalanceInterval;
        uint32 maxOracleAge;
        uint16 maxSlippageBps;
        uint8 liveCount;
        bool paused;
        uint64 volWad;
    }

    /// @dev The rest of what a rebalance reads, in one slot (256 bits).
    struct Limits {
        uint96 maxTradeWad;
        uint96 deltaToleranceWad;
        uint64 rateWad;
    }

    /// @dev Read by `openPosition` and views, not by `rebalance` (144 bits).
    struct Cold {
        uint96 bandWad;
        uint16 spreadBps;
        uint32 stressUpBps;
    }

    struct Settlement {
        uint128 payoutPerUnitWad;
        bool settled;
    }

    Hot private _hot;
    Limits private _limits;
    Cold private _cold;

    /// @dev Live series, densely packed in `[0, _hot.liveCount)`; removal swaps the last entry in.
    Series[MAX_LIVE_SERIES] private _book;
    /// @dev Position of a live series in `_book`, plus one (0 = not live).
    mapping(bytes32 id => uint256) private _slotOf;
    mapping(bytes32 id => Settlement) private _settlements;
    mapping(bytes32 id => mapping(address holder => uint256 sizeWad)) private _positions;

    /// @notice Settled option payouts not yet claimed, quote decimals. A liability in `totalAssets`.
    uint256 public pendingPayouts;

    // ---------------------------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------------------------

    /// @param quote_ The vault's asset (e.g. USDC); shares are denominated in it.
    /// @param underlying_ The hedged asset; must be the AMM's other token.
    /// @param oracle_ Chainlink-style feed of quote per underlying.
    /// @param amm_ Constant-product pool of `underlying_`/`quote_`.
    /// @param admin Receives DEFAULT_ADMIN_ROLE; grants the other roles.
    /// @param hedgeParams Initial rebalance bounds (validated as in `setHedgeParams`).
    /// @param riskParams Initial pricing parameters (validated as in `setRiskParams`).
    constructor(
        IERC20Metadata quote_,
        IERC20Metadata underlying_,
        AggregatorV3Interface oracle_,
        IMockAmm amm_,
        address admin,
        string memory name_,
        string memory symbol_,
        HedgeParams memory hedgeParams,
        RiskParams memory riskParams
    ) ERC4626(quote_) ERC20(name_, symbol_) {
        if (amm_.underlying() != address(underlying_) || amm_.quote() != address(quote_)) {
            revert AmmPairMismatch(amm_.underlying(), amm_.quote());
        }
        uint8 quoteDecimals = quote_.decimals();
        uint8 underlyingDecimals = underlying_.decimals();
        uint8 oracleDecimals = oracle_.decimals();
        if (quoteDecimals > 18) revert InvalidParameter("quoteDecimals", quoteDecimals, 0, 18);
        if (underlyingDecimals > 18) revert InvalidParameter("underlyingDecimals", underlyingDecimals, 0, 18);
        if (oracleDecimals > 18) revert InvalidParameter("oracleDecimals", oracleDecimals, 0, 18);

        _quote = quote_;
        underlying = underlying_;
        oracle = oracle_;
        amm = amm_;
        _quoteScale = 10 ** (18 - quoteDecimals);
        _underlyingScale = 10 ** (18 - underlyingDecimals);
        _oracleScale = 10 ** (18 - oracleDecimals);

        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setHedgeParams(hedgeParams);
        _setRiskParams(riskParams);

        // The vault only ever grants the fixed AMM; an infinite allowance saves an SSTORE per hedge.
        IERC20(address(quote_)).forceApprove(address(amm_), type(uint256).max);
        IERC20(address(underlying_)).forceApprove(address(amm_), type(uint256).max);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Book
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVault
    function listSeries(bool isCall, uint256 strikeWad, uint256 expiry)
        external
        onlyRole(MANAGER_ROLE)
        returns (bytes32 id)
    {
        uint256 count = _hot.liveCount;
        if (count >= MAX_LIVE_SERIES) revert BookFull(MAX_LIVE_SERIES);
        uint256 earliest = block.timestamp + TRADING_CUTOFF_SECONDS + 1;
        uint256 latest = block.timestamp + MAX_EXPIRY_SECONDS;
        if (expiry < earliest || expiry > latest) revert InvalidExpiry(expiry, earliest, latest);
        if (strikeWad < BlackScholes.MIN_PRICE_WAD || strikeWad > type(uint96).max) revert InvalidStrike(strikeWad);

        id = seriesId(isCall, strikeWad, expiry);
        if (_slotOf[id] != 0 || _settlements[id].settled) revert SeriesExists(id);

        _book[count] = Series({strikeWad: uint96(strikeWad), expiry: uint40(expiry), isCall: isCall, sizeWad: 0});
        _slotOf[id] = count + 1;
        _hot.liveCount = uint8(count + 1);
        emit SeriesListed(id, isCall, strikeWad, expiry);
    }

    /// @inheritdoc IOptionVault
    function delistSeries(bytes32 id) external onlyRole(MANAGER_ROLE) {
        uint256 slot = _liveSlot(id);
        int256 size = _book[slot].sizeWad;
        if (size != 0) revert SeriesNotEmpty(id, size);
        _removeFromBook(id, slot);
        emit SeriesDelisted(id);
    }

    /// @inheritdoc IOptionVault
    function openPosition(bytes32 id, uint256 sizeWad, uint256 maxPremium, address receiver)
        external
        nonReentrant
        returns (uint256 premium)
    {
        Hot memory hot = _hot;
        if (hot.paused) revert VaultPaused();
        if (sizeWad == 0) revert ZeroAmount();
        uint256 slot = _liveSlot(id);
        Series memory s = _book[slot];
        uint256 spotWad = _freshSpot(hot.maxOracleAge);

        premium = _premium(s, sizeWad, spotWad, hot.volWad); // reverts with TradingClosed past the cutoff
        if (premium > maxPremium) revert PremiumTooHigh(premium, maxPremium);

        // Effects. The vault writes the option: its size goes down by what the buyer receives.
        _book[slot].sizeWad = (int256(s.sizeWad) - sizeWad.toInt256()).toInt96();
        _positions[id][receiver] += sizeWad;

        // Collateral check on the state after the trade, counting the premium about to arrive.
        uint256 cashAfter = _quote.balanceOf(address(this)) + premium;
        (int256 worstWad, uint256 stressWad) = _worstCaseValueWad(spotWad, cashAfter, _hedgeBalance());
        if (worstWad < 0) revert InsufficientCollateral(worstWad, stressWad);

        emit PositionOpened(id, msg.sender, receiver, sizeWad, premium, spotWad);
        _quote.safeTransferFrom(msg.sender, address(this), premium);
    }

    /// @inheritdoc IOptionVault
    function quotePremium(bytes32 id, uint256 sizeWad) external view returns (uint256 premium) {
        Series memory s = _book[_liveSlot(id)];
        (uint256 spotWad,,,) = _latestSpot();
        premium = _premium(s, sizeWad, spotWad, _hot.volWad);
    }

    /// @inheritdoc IOptionVault
    function settleSeries(bytes32 id, uint80 roundId) external nonReentrant {
        uint256 slot = _liveSlot(id);
        Series memory s = _book[slot];
        if (block.timestamp < s.expiry) revert SeriesNotExpired(id, s.expiry);

        (, int256 answer,, uint256 updatedAt,) = oracle.getRoundData(roundId);
        if (updatedAt == 0 || updatedAt > s.expiry) revert InvalidSettlementRound(roundId, updatedAt, s.expiry);
        (uint80 latestRound,,,,) = oracle.latestRoundData();
        if (roundId != latestRound) {
            // Not the latest round: it is the one current at expiry only if the next was updated after expiry.
            (,,, uint256 nextUpdatedAt,) = oracle.getRoundData(roundId + 1);
            if (nextUpdatedAt <= s.expiry) revert InvalidSettlementRound(roundId, updatedAt, s.expiry);
        }
        uint256 maxAge = _hot.maxOracleAge;
        if (s.expiry - updatedAt > maxAge) revert StaleOracle(updatedAt, maxAge);
        if (answer <= 0) revert InvalidOraclePrice(answer);
        uint256 priceWad = uint256(answer) * _oracleScale;

        uint256 payoutPerUnitWad = _intrinsicWad(s.isCall, s.strikeWad, priceWad);
        // Rounded up: the liability reserved covers every holder's rounded-down claim.
        uint256 totalPayout = Math.mulDiv(payoutPerUnitWad, uint256(-int256(s.sizeWad)), WAD * _quoteScale, Math.Rounding.Ceil);

        _settlements[id] = Settlement({payoutPerUnitWad: payoutPerUnitWad.toUint128(), settled: true});
        pendingPayouts += totalPayout;
        _removeFromBook(id, slot);
        emit SeriesSettled(id, roundId, priceWad, payoutPerUnitWad, totalPayout);
    }

    /// @inheritdoc IOptionVault
    function claim(bytes32 id, address receiver) external nonReentrant returns (uint256 payout) {
        Settlement memory st = _settlements[id];
        if (!st.settled) revert NotSettled(id);
        uint256 sizeWad = _positions[id][msg.sender];
        if (sizeWad == 0) revert NothingToClaim(id, msg.sender);

        payout = Math.mulDiv(st.payoutPerUnitWad, sizeWad, WAD * _quoteScale);
        delete _positions[id][msg.sender];
        pendingPayouts -= payout;
        emit Claimed(id, msg.sender, receiver, sizeWad, payout);
        if (payout != 0) _quote.safeTransfer(receiver, payout);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hedging
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVault
    function rebalance(bool buyUnderlying, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        onlyRole(KEEPER_ROLE)
        nonReentrant
        returns (int256 deltaBeforeWad, int256 deltaAfterWad)
    {
        return _rebalance(buyUnderlying, amountIn, minAmountOut, deadline);
    }

    /// @dev Checks, the one write (last rebalance block), the swap, then the post-trade guards: the swap's
    /// result is needed to check them, and any failure reverts the whole transaction, swap included.
    function _rebalance(bool buy, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        private
        returns (int256 beforeWad, int256 afterWad)
    {
        Hot memory hot = _hot;
        if (hot.paused) revert VaultPaused();
        uint256 nextBlock = uint256(hot.lastRebalanceBlock) + hot.minRebalanceInterval;
        if (block.number < nextBlock) revert RebalanceTooSoon(hot.lastRebalanceBlock, nextBlock);
        if (amountIn == 0) revert ZeroAmount();
        uint256 spotWad = _freshSpot(hot.maxOracleAge);
        beforeWad = _deltaBeforeTrade(hot, spotWad, buy, amountIn);

        _hot.lastRebalanceBlock = uint64(block.number);
        uint256 amountOut =
            amm.swapExactIn(address(buy ? _quote : underlying), amountIn, minAmountOut, address(this), deadline);

        afterWad = _checkTrade(buy, amountIn, amountOut, spotWad, hot.maxSlippageBps, beforeWad);
        emit Rebalanced(msg.sender, buy, amountIn, amountOut, spotWad, beforeWad, afterWad);
    }

    /// @dev Net delta before the trade, after the pre-trade checks that depend on it.
    function _deltaBeforeTrade(Hot memory hot, uint256 spotWad, bool buy, uint256 amountIn)
        private
        view
        returns (int256 beforeWad)
    {
        uint256 hedgeWad = _hedgeBalance();
        beforeWad = _bookDelta(hot, spotWad, _limits.rateWad) + hedgeWad.toInt256();
        if (!buy && amountIn * _underlyingScale > hedgeWad) {
            revert InsufficientHedge(hedgeWad / _underlyingScale, amountIn);
        }
    }

    /// @dev The post-trade guards: size, execution price against the oracle, and the delta rule. Returns the
    /// net delta after the trade.
    function _checkTrade(
        bool buy,
        uint256 amountIn,
        uint256 amountOut,
        uint256 spotWad,
        uint256 maxSlippageBps,
        int256 beforeWad
    ) private view returns (int256 afterWad) {
        Limits memory limits = _limits;
        uint256 tradedWad = (buy ? amountOut : amountIn) * _underlyingScale;
        if (tradedWad > limits.maxTradeWad) revert TradeTooLarge(tradedWad, limits.maxTradeWad);
        uint256 quoteWad = (buy ? amountIn : amountOut) * _quoteScale;
        uint256 limitWad = _slippageLimitWad(spotWad, maxSlippageBps, buy);
        // Execution price, rounded against the keeper: up when buying, down when selling.
        if (buy) {
            uint256 paidWad = Math.mulDiv(quoteWad, WAD, tradedWad, Math.Rounding.Ceil);
            if (paidWad > limitWad) revert SlippageTooHigh(paidWad, limitWad);
            afterWad = beforeWad + tradedWad.toInt256();
        } else {
            uint256 receivedWad = Math.mulDiv(quoteWad, WAD, tradedWad);
            if (receivedWad < limitWad) revert SlippageTooHigh(receivedWad, limitWad);
            afterWad = beforeWad - tradedWad.toInt256();
        }

        uint256 absAfter = _abs(afterWad);
        if (absAfter >= _abs(beforeWad)) revert DeltaNotReduced(beforeWad, afterWad);
        if ((beforeWad < 0) != (afterWad < 0) && afterWad != 0 && absAfter > limits.deltaToleranceWad) {
            revert HedgeOvershoot(beforeWad, afterWad, limits.deltaToleranceWad);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Id of a series: `keccak256(abi.encode(isCall, strikeWad, expiry))`.
    function seriesId(bool isCall, uint256 strikeWad, uint256 expiry) public pure returns (bytes32) {
        return keccak256(abi.encode(isCall, strikeWad, expiry));
    }

    /// @inheritdoc IOptionVault
    function bookGreeks() public view returns (int256 deltaWad, int256 gammaWad, int256 vegaWad) {
        (uint256 spotWad,,,) = _latestSpot();
        return _bookGreeks(spotWad);
    }

    /// @inheritdoc IOptionVault
    function netGreeks() external view returns (int256 deltaWad, int256 gammaWad, int256 vegaWad) {
        (deltaWad, gammaWad, vegaWad) = bookGreeks();
        deltaWad += _hedgeBalance().toInt256();
    }

    /// @inheritdoc IOptionVault
    function seriesCount() external view returns (uint256) {
        return _hot.liveCount;
    }

    /// @inheritdoc IOptionVault
    function seriesAt(uint256 index) external view returns (bytes32 id, Series memory series) {
        uint256 count = _hot.liveCount;
        if (index >= count) revert SeriesIndexOutOfRange(index, count);
        series = _book[index];
        id = seriesId(series.isCall, series.strikeWad, series.expiry);
    }

    /// @inheritdoc IOptionVault
    function positionOf(bytes32 id, address holder) external view returns (uint256) {
        return _positions[id][holder];
    }

    /// @notice Whether series `id` has been settled, and its payout per option (quote wad).
    function settlementOf(bytes32 id) external view returns (bool settled, uint256 payoutPerUnitWad) {
        Settlement memory st = _settlements[id];
        return (st.settled, st.payoutPerUnitWad);
    }

    /// @notice The current rebalance bounds.
    function hedgeParams() public view returns (HedgeParams memory) {
        Hot memory hot = _hot;
        Limits memory limits = _limits;
        return HedgeParams({
            maxSlippageBps: hot.maxSlippageBps,
            minRebalanceInterval: hot.minRebalanceInterval,
            maxOracleAge: hot.maxOracleAge,
            maxTradeWad: limits.maxTradeWad,
            deltaToleranceWad: limits.deltaToleranceWad,
            bandWad: _cold.bandWad
        });
    }

    /// @notice The current pricing and risk parameters.
    function riskParams() public view returns (RiskParams memory) {
        return RiskParams({
            volWad: _hot.volWad,
            rateWad: _limits.rateWad,
            spreadBps: _cold.spreadBps,
            stressUpBps: _cold.stressUpBps
        });
    }

    /// @notice Whether trading is halted.
    function paused() external view returns (bool) {
        return _hot.paused;
    }

    /// @inheritdoc IOptionVault
    function state() external view returns (VaultState memory st) {
        Hot memory hot = _hot;
        (uint256 spotWad, uint80 roundId, uint256 updatedAt, int256 answer) = _latestSpot();
        st.spotWad = spotWad;
        st.oracleRoundId = roundId;
        st.oracleUpdatedAt = updatedAt;
        st.oracleAgeSeconds = block.timestamp - Math.min(updatedAt, block.timestamp);
        st.oracleFresh = answer > 0 && st.oracleAgeSeconds <= hot.maxOracleAge;
        st.hedgeBalance = underlying.balanceOf(address(this));
        st.cashBalance = _quote.balanceOf(address(this));
        st.pendingPayouts = pendingPayouts;
        (st.bookDeltaWad, st.gammaWad, st.vegaWad) = _bookGreeks(spotWad);
        st.netDeltaWad = st.bookDeltaWad + (st.hedgeBalance * _underlyingScale).toInt256();
        st.totalAssets = totalAssets();
        (st.ammReserveUnderlying, st.ammReserveQuote) = amm.getReserves();
        st.ammFeeBps = amm.feeBps();
        st.lastRebalanceBlock = hot.lastRebalanceBlock;
        st.nextRebalanceBlock = uint256(hot.lastRebalanceBlock) + hot.minRebalanceInterval;
        st.liveSeries = hot.liveCount;
        st.paused = hot.paused;
        st.hedge = hedgeParams();
        st.risk = riskParams();
        st.blockNumber = block.number;
        st.timestamp = block.timestamp;
    }

    // ---------------------------------------------------------------------------------------------------------
    // ERC-4626
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Cash + hedge at the oracle price − mark-to-market of the book − unclaimed payouts, floored at 0.
    /// @dev Rounded down (liabilities up), in the vault's favour. Uses the latest oracle answer even if stale.
    function totalAssets() public view override returns (uint256) {
        (uint256 spotWad,,, int256 answer) = _latestSpot();
        uint256 cash = _quote.balanceOf(address(this));
        if (answer <= 0) return cash > pendingPayouts ? cash - pendingPayouts : 0;
        int256 valueWad = (cash * _quoteScale).toInt256() + Math.mulDiv(_hedgeBalance(), spotWad, WAD).toInt256()
            - (pendingPayouts * _quoteScale).toInt256() - _bookLiabilityWad(spotWad).toInt256();
        return valueWad <= 0 ? 0 : uint256(valueWad) / _quoteScale;
    }

    /// @notice 0 while paused.
    function maxDeposit(address receiver) public view override returns (uint256) {
        return _hot.paused ? 0 : super.maxDeposit(receiver);
    }

    /// @notice 0 while paused.
    function maxMint(address receiver) public view override returns (uint256) {
        return _hot.paused ? 0 : super.maxMint(receiver);
    }

    /// @notice Limited to the cash not needed to pay the book's worst case.
    function maxWithdraw(address owner) public view override returns (uint256) {
        return Math.min(super.maxWithdraw(owner), _freeCash());
    }

    /// @notice Limited to the shares worth the cash not needed to pay the book's worst case.
    function maxRedeem(address owner) public view override returns (uint256) {
        return Math.min(super.maxRedeem(owner), convertToShares(_freeCash()));
    }

    /// @dev Virtual shares/assets offset of 1e6 makes a first-depositor inflation attack unprofitable.
    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IOptionVault
    function setHedgeParams(HedgeParams calldata params) external onlyRole(MANAGER_ROLE) {
        _setHedgeParams(params);
    }

    /// @inheritdoc IOptionVault
    function setRiskParams(RiskParams calldata params) external onlyRole(MANAGER_ROLE) {
        _setRiskParams(params);
    }

    /// @inheritdoc IOptionVault
    function pause() external onlyRole(GUARDIAN_ROLE) {
        if (_hot.paused) revert PauseStateUnchanged(true);
        _hot.paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc IOptionVault
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_hot.paused) revert PauseStateUnchanged(false);
        _hot.paused = false;
        emit Unpaused(msg.sender);
    }

    function _setHedgeParams(HedgeParams memory p) private {
        _checkRange("maxSlippageBps", p.maxSlippageBps, 1, MAX_SLIPPAGE_BPS);
        _checkRange("minRebalanceInterval", p.minRebalanceInterval, 1, 7200);
        _checkRange("maxOracleAge", p.maxOracleAge, 1, 2 days);
        _checkRange("maxTradeWad", p.maxTradeWad, 1, type(uint96).max);
        _checkRange("deltaToleranceWad", p.deltaToleranceWad, 0, type(uint96).max);
        _checkRange("bandWad", p.bandWad, 0, type(uint96).max);
        Hot storage hot = _hot;
        hot.maxSlippageBps = p.maxSlippageBps;
        hot.minRebalanceInterval = p.minRebalanceInterval;
        hot.maxOracleAge = p.maxOracleAge;
        _limits.maxTradeWad = p.maxTradeWad;
        _limits.deltaToleranceWad = p.deltaToleranceWad;
        _cold.bandWad = p.bandWad;
        emit HedgeParamsSet(p);
    }

    function _setRiskParams(RiskParams memory p) private {
        _checkRange("volWad", p.volWad, BlackScholes.MIN_VOL_WAD, BlackScholes.MAX_VOL_WAD);
        _checkRange("rateWad", p.rateWad, 0, BlackScholes.MAX_RATE_WAD);
        _checkRange("spreadBps", p.spreadBps, 0, MAX_SPREAD_BPS);
        _checkRange("stressUpBps", p.stressUpBps, MIN_STRESS_UP_BPS, MAX_STRESS_UP_BPS);
        _hot.volWad = p.volWad;
        _limits.rateWad = p.rateWad;
        _cold.spreadBps = p.spreadBps;
        _cold.stressUpBps = p.stressUpBps;
        emit RiskParamsSet(p);
    }

    /// @notice ERC-165: `IOptionVault` and AccessControl's interfaces.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IOptionVault).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    function _checkRange(string memory name, uint256 value, uint256 min, uint256 max) private pure {
        if (value < min || value > max) revert InvalidParameter(name, value, min, max);
    }

    function _liveSlot(bytes32 id) private view returns (uint256) {
        uint256 slotPlusOne = _slotOf[id];
        if (slotPlusOne == 0) revert UnknownSeries(id);
        return slotPlusOne - 1;
    }

    function _removeFromBook(bytes32 id, uint256 slot) private {
        uint256 last = uint256(_hot.liveCount) - 1;
        if (slot != last) {
            Series memory moved = _book[last];
            _book[slot] = moved;
            _slotOf[seriesId(moved.isCall, moved.strikeWad, moved.expiry)] = slot + 1;
        }
        delete _book[last];
        delete _slotOf[id];
        _hot.liveCount = uint8(last);
    }

    /// @dev Latest oracle answer as a wad price; never reverts on a bad answer (callers decide).
    function _latestSpot() private view returns (uint256 spotWad, uint80 roundId, uint256 updatedAt, int256 answer) {
        (roundId, answer,, updatedAt,) = oracle.latestRoundData();
        spotWad = answer > 0 ? uint256(answer) * _oracleScale : 0;
    }

    /// @dev Latest oracle price, reverting when it is non-positive or older than `maxAge`.
    function _freshSpot(uint256 maxAge) private view returns (uint256) {
        (uint256 spotWad,, uint256 updatedAt, int256 answer) = _latestSpot();
        if (answer <= 0) revert InvalidOraclePrice(answer);
        if (block.timestamp - Math.min(updatedAt, block.timestamp) > maxAge) revert StaleOracle(updatedAt, maxAge);
        return spotWad;
    }

    function _spotInDomain(uint256 spotWad) private pure returns (bool) {
        return spotWad >= BlackScholes.MIN_PRICE_WAD && spotWad <= BlackScholes.MAX_PRICE_WAD;
    }

    function _hedgeBalance() private view returns (uint256) {
        return underlying.balanceOf(address(this)) * _underlyingScale;
    }

    /// @dev Net delta of the live book. An expired series has delta 0: its payoff is fixed by the price at expiry.
    /// The hot path of every rebalance: each series is one SLOAD, unpacked by hand rather than copied to memory.
    function _bookDelta(Hot memory hot, uint256 spotWad, uint256 rateWad) private view returns (int256 deltaWad) {
        uint256 count = hot.liveCount;
        uint256 volWad = hot.volWad;
        for (uint256 i; i < count;) {
            Series storage ref = _book[i];
            uint256 word;
            assembly ("memory-safe") {
                word := sload(ref.slot)
            }
            // `Series` layout, low bits first: strikeWad uint96 | expiry uint40 | isCall bool | sizeWad int96.
            uint256 expiry = uint40(word >> 96);
            int256 sizeWad = int96(uint96(word >> 144));
            if (sizeWad != 0 && expiry > block.timestamp) {
                int256 d = BlackScholes.delta(
                    spotWad, uint96(word), volWad, expiry - block.timestamp, rateWad, uint8(word >> 136) != 0
                );
                unchecked {
                    // |sizeWad| < 2^95 and |d| ≤ 1e18 < 2^60: the product fits easily; the sum of at most
                    // MAX_LIVE_SERIES such terms (each < 2^95) cannot overflow either.
                    deltaWad += sizeWad * d / int256(WAD);
                }
            }
            unchecked {
                ++i; // i < count ≤ MAX_LIVE_SERIES
            }
        }
    }

    /// @dev Mark-to-market of what the vault owes on its live book (sizes are ≤ 0), rounded up.
    function _bookLiabilityWad(uint256 spotWad) private view returns (uint256 liabilityWad) {
        uint256 count = _hot.liveCount;
        bool priced = _spotInDomain(spotWad);
        uint256 volWad = _hot.volWad;
        uint256 rateWad = _limits.rateWad;
        for (uint256 i; i < count; ++i) {
            Series memory s = _book[i];
            if (s.sizeWad == 0) continue;
            uint256 markWad = (priced && s.expiry > block.timestamp)
                ? BlackScholes.price(spotWad, s.strikeWad, volWad, s.expiry - block.timestamp, rateWad, s.isCall)
                : _intrinsicWad(s.isCall, s.strikeWad, spotWad);
            liabilityWad += Math.mulDiv(markWad, uint256(-int256(s.sizeWad)), WAD, Math.Rounding.Ceil);
        }
    }

    /// @dev Book Greeks at `spotWad`, all zero when the price is outside the pricing domain. Expired series
    /// contribute nothing: their payoff is fixed by the price at expiry.
    function _bookGreeks(uint256 spotWad) private view returns (int256 deltaWad, int256 gammaWad, int256 vegaWad) {
        if (!_spotInDomain(spotWad)) return (0, 0, 0);
        uint256 count = _hot.liveCount;
        uint256 volWad = _hot.volWad;
        uint256 rateWad = _limits.rateWad;
        for (uint256 i; i < count; ++i) {
            Series memory s = _book[i];
            if (s.sizeWad == 0 || s.expiry <= block.timestamp) continue;
            BlackScholes.Greeks memory g =
                BlackScholes.greeks(spotWad, s.strikeWad, volWad, s.expiry - block.timestamp, rateWad, s.isCall);
            int256 size = s.sizeWad;
            deltaWad += size * g.deltaWad / int256(WAD);
            gammaWad += size * int256(g.gammaWad) / int256(WAD);
            vegaWad += size * int256(g.vegaWad) / int256(WAD);
        }
    }

    function _intrinsicWad(bool isCall, uint256 strikeWad, uint256 spotWad) private pure returns (uint256) {
        if (isCall) return spotWad > strikeWad ? spotWad - strikeWad : 0;
        return strikeWad > spotWad ? strikeWad - spotWad : 0;
    }

    /// @dev Premium in quote units: Black–Scholes value × size × (1 + spread), rounded up for the vault.
    function _premium(Series memory s, uint256 sizeWad, uint256 spotWad, uint256 volWad)
        private
        view
        returns (uint256)
    {
        if (sizeWad == 0) revert ZeroAmount();
        uint256 closesAt = uint256(s.expiry) - TRADING_CUTOFF_SECONDS;
        if (block.timestamp >= closesAt) {
            revert TradingClosed(seriesId(s.isCall, s.strikeWad, s.expiry), closesAt);
        }
        uint256 priceWad =
            BlackScholes.price(spotWad, s.strikeWad, volWad, s.expiry - block.timestamp, _limits.rateWad, s.isCall);
        uint256 costWad = Math.mulDiv(priceWad, sizeWad * (BPS + _cold.spreadBps), WAD * BPS, Math.Rounding.Ceil);
        return Math.ceilDiv(costWad, _quoteScale);
    }

    /// @dev Worst value of the vault over prices in [0, spot·(1 + stressUpBps)]. The vault is short only
    /// (sizes ≤ 0), so its liability is convex in price and its value (cash + hedge·S − liability) concave: the
    /// minimum over the interval is at one of the two ends, which makes this an O(n) check.
    function _worstCaseValueWad(uint256 spotWad, uint256 cash, uint256 hedgeWad)
        private
        view
        returns (int256 worstWad, uint256 stressWad)
    {
        stressWad = Math.mulDiv(spotWad, BPS + _cold.stressUpBps, BPS);
        int256 base = (cash * _quoteScale).toInt256() - (pendingPayouts * _quoteScale).toInt256();
        int256 atZero = base;
        int256 atStress = base + Math.mulDiv(hedgeWad, stressWad, WAD).toInt256();
        uint256 count = _hot.liveCount;
        for (uint256 i; i < count; ++i) {
            Series memory s = _book[i];
            if (s.sizeWad == 0) continue;
            uint256 shortWad = uint256(-int256(s.sizeWad));
            atZero -= Math.mulDiv(_intrinsicWad(s.isCall, s.strikeWad, 0), shortWad, WAD, Math.Rounding.Ceil).toInt256();
            atStress -=
                Math.mulDiv(_intrinsicWad(s.isCall, s.strikeWad, stressWad), shortWad, WAD, Math.Rounding.Ceil).toInt256();
        }
        if (atZero < atStress) return (atZero, 0);
        return (atStress, stressWad);
    }

    /// @dev Cash that may leave without breaking the worst-case check; 0 when the oracle is unusable.
    function _freeCash() private view returns (uint256) {
        (uint256 spotWad,,, int256 answer) = _latestSpot();
        if (answer <= 0) return 0;
        uint256 cash = _quote.balanceOf(address(this));
        (int256 worstWad,) = _worstCaseValueWad(spotWad, cash, _hedgeBalance());
        if (worstWad <= 0) return 0;
        return Math.min(cash, uint256(worstWad) / _quoteScale);
    }

    /// @dev Oracle price moved by the slippage bound against the vault: up when buying, down when selling.
    function _slippageLimitWad(uint256 spotWad, uint256 maxSlippageBps, bool buy) private pure returns (uint256) {
        return buy ? Math.mulDiv(spotWad, BPS + maxSlippageBps, BPS) : Math.mulDiv(spotWad, BPS - maxSlippageBps, BPS);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
