// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IPerpMarket} from "../interfaces/IPerpMarket.sol";

/// @title MockPerpMarket
/// @notice A complete perpetual-futures market (the specification and every formula are in `IPerpMarket`), used as
/// the vault's second hedge venue in tests and demos: skew-priced fills, skew-driven funding, maker/taker fees,
/// isolated margin, liquidation by anyone, and a pool that is every trader's counterparty.
/// @dev Rounding always favours the market: fill prices up for buys and down for sells, fees and required
/// margins up, P&L and funding of a position down (towards −∞). The funding index F rounds toward zero (its error
/// is below 1 wei of quote wad per underlying per recomputation, far below the quote-unit flooring of each
/// position's funding, which dominates).
/// Accounting invariant: quote balance ≥ `_pool` + the sum of every account's margin. Every settlement moves the same
/// amount between a margin and the pool, deposits and `fundPool` add to both sides, withdrawals and rewards take from
/// both.
/// Storage: a trade reads the parameters (two slots), reads and writes two slots of market state (skew and pool; the
/// funding state) and its position's two; the premium credit, non-zero only after a trade into the skew, has a slot
/// of its own, touched only when it is or was non-zero. Sums over accounts (open interest, total margin) are not
/// kept: they would cost every trade another slot, and the events carry what an indexer needs to add them up.
/// Warning: see `IPerpMarket` (trusted oracle and owner, pool as counterparty, plain ERC-20 quote token).
contract MockPerpMarket is IPerpMarket, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice Denominator of every `…Bps`.
    uint256 public constant BPS = 10_000;
    uint256 private constant WAD = 1e18;
    int256 private constant IWAD = 1e18;
    /// @notice Seconds per funding day (formula (5)).
    uint256 public constant DAY = 1 days;
    /// @notice Fee ceiling (1%).
    uint256 public constant MAX_FEE_BPS = 100;
    /// @notice Bounds checked by `setParams` (see `IPerpMarket.setParams`). The skew-scale ceiling keeps every
    /// product below 2^255: sizes ≤ 1e33 wad, prices ≤ 2^112 wad, rates ≤ 100e18 · days.
    uint256 public constant MAX_SKEW_SCALE = 1e33;
    uint256 public constant MAX_FUNDING_VELOCITY = 100e18;
    uint256 public constant MAX_MAINTENANCE_MARGIN_BPS = 5_000;
    uint256 public constant MAX_LIQUIDATION_REWARD_BPS = 1_000;
    uint256 public constant MAX_MIN_LIQUIDATION_REWARD = 2 ** 96;
    uint256 public constant MIN_LEVERAGE = 1e18;
    uint256 public constant MAX_LEVERAGE = 100e18;
    uint256 public constant MAX_ORACLE_AGE = 7 days;

    /// @inheritdoc IPerpMarket
    address public immutable override quote;
    /// @inheritdoc IPerpMarket
    address public immutable override oracle;
    /// @dev Quote wad per quote unit: 10^(18 − quote decimals).
    uint256 private immutable _quoteScale;
    /// @dev Oracle answer → wad: 10^(18 − feed decimals).
    uint256 private immutable _oracleScale;

    /// @dev Two slots per position. `entryFundingWad` is F at the last trade (quote wad per underlying). A margin
    /// is at most the market's quote balance (< 2^120 for any real token; a larger one reverts on the cast).
    /// `hasPremiumCredit` says the position's premium credit (quote units: the premium the last trade collected at
    /// p, not counted as margin) is non-zero and stored in `_premiumCredits`.
    struct Position {
        int128 sizeWad;
        uint120 margin;
        bool hasPremiumCredit;
        uint128 entryPriceWad;
        int128 entryFundingWad;
    }

    /// @dev `MarketParams` in two slots (every trade reads most of them): the bounds of `setParams` fit each field
    /// (skewScale ≤ 1e33 < 2^112, velocity and leverage ≤ 100e18 < 2^72, minLiquidationReward ≤ 2^96).
    struct PackedParams {
        uint112 skewScale;
        uint72 maxFundingVelocity;
        uint72 maxLeverage;
        uint128 minLiquidationReward;
        uint32 maxOracleAge;
        uint16 makerFeeBps;
        uint16 takerFeeBps;
        uint16 maintenanceMarginBps;
        uint16 liquidationRewardBps;
    }

    PackedParams private _params;
    mapping(address account => Position) private _positions;
    /// @dev A position's premium credit when `hasPremiumCredit` (else 0, whatever is stored here).
    mapping(address account => uint256) private _premiumCredits;

    /// @dev K and the pool in one slot (a trade writes both). |K| ≤ skewScale ≤ 1e33 outside liquidations, and the
    /// pool is at most the market's quote balance, far below 2^128 for a real token.
    int128 private _skew;
    uint128 private _pool;
    /// @dev The funding state of formula (5) in one slot: r_last (wad per day), t_last (seconds), F_last (quote wad
    /// per underlying). Widths: |r| grows by at most maxFundingVelocity ≤ 100e18 a day, so it needs 1.5e6 days at
    /// full skew to pass 2^87; t fits 40 bits until the year 36,000; F is snapshotted by positions as int128 anyway.
    /// A value beyond its width reverts the recomputation (SafeCast) rather than wrapping.
    int88 private _lastRateWad;
    uint40 private _lastTime;
    int128 private _lastFundingPerUnitWad;

    /// @notice Deploys the market with no positions, an empty pool, and funding at zero from now.
    /// @param quote_ The margin token (decimals ≤ 18).
    /// @param oracle_ A Chainlink-style feed of the underlying in quote (decimals ≤ 18).
    /// @param params_ Initial parameters, within the bounds of `setParams`.
    /// @param owner_ Receives ownership (`setParams`).
    constructor(address quote_, address oracle_, MarketParams memory params_, address owner_) Ownable(owner_) {
        uint8 quoteDecimals = IERC20Metadata(quote_).decimals();
        uint8 feedDecimals = AggregatorV3Interface(oracle_).decimals();
        if (quoteDecimals > 18) revert InvalidParam("quoteDecimals", quoteDecimals);
        if (feedDecimals > 18) revert InvalidParam("oracleDecimals", feedDecimals);
        quote = quote_;
        oracle = oracle_;
        _quoteScale = 10 ** (18 - quoteDecimals);
        _oracleScale = 10 ** (18 - feedDecimals);
        _validate(params_);
        _storeParams(params_);
        _lastTime = uint40(block.timestamp);
        emit ParamsUpdated(params_);
    }

    // ───────────────────────────────────────────── margin ────────────────────────────────────────────

    /// @inheritdoc IPerpMarket
    function depositMargin(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Position storage position = _positions[msg.sender];
        position.margin = (position.margin + amount).toUint120();
        emit MarginDeposited(msg.sender, amount);
        IERC20(quote).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IPerpMarket
    function withdrawMargin(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        Position memory position = _positions[msg.sender];
        if (amount > position.margin) revert WithdrawalExceedsMargin(amount, position.margin);
        uint256 marginAfter = position.margin - amount;
        if (position.sizeWad != 0) {
            PackedParams memory cfg = _params;
            uint256 priceWad = _oraclePrice(cfg);
            (int256 fundingPerUnitWad,) = _fundingNow(cfg, priceWad);
            (int256 pnl, int256 funding) = _valueAt(position, priceWad, fundingPerUnitWad);
            int256 remaining = marginAfter.toInt256() + pnl + funding - _premiumCreditOf(msg.sender, position).toInt256();
            _requireHealthy(cfg, remaining, position.sizeWad, priceWad, true);
        }
        _positions[msg.sender].margin = uint120(marginAfter); // ≤ the old uint120 margin
        emit MarginWithdrawn(msg.sender, amount);
        IERC20(quote).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IPerpMarket
    function fundPool(uint256 amount) external override nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _pool += amount.toUint128();
        emit PoolFunded(msg.sender, amount);
        IERC20(quote).safeTransferFrom(msg.sender, address(this), amount);
    }

    // ───────────────────────────────────────────── trading ───────────────────────────────────────────

    /// @inheritdoc IPerpMarket
    function modifyPosition(int256 sizeDeltaWad, uint256 acceptablePriceWad)
        external
        override
        nonReentrant
        returns (uint256 fillPriceWad, uint256 fee, uint256 marginAfter)
    {
        if (sizeDeltaWad == 0) revert ZeroSize();
        PackedParams memory cfg = _params;
        uint256 priceWad = _oraclePrice(cfg);
        (int256 fundingPerUnitWad, int256 rateWad) = _recomputeFunding(cfg, priceWad);
        Position memory position = _positions[msg.sender];
        Trade memory trade = _trade(cfg, position, priceWad, fundingPerUnitWad, sizeDeltaWad, acceptablePriceWad);

        // Effects. The funding state was written by `_recomputeFunding`.
        _storePosition(trade, fundingPerUnitWad, position.hasPremiumCredit);
        // |K + D| ≤ S ≤ 1e33 (checked in `_fillPrice`).
        (_skew, _pool) = ((_skew + sizeDeltaWad).toInt128(), trade.poolAfter.toUint128());
        emit PositionModified(
            msg.sender,
            sizeDeltaWad,
            trade.sizeAfterWad,
            trade.fillWad,
            trade.fee,
            trade.settled,
            trade.marginAfter,
            rateWad,
            fundingPerUnitWad
        );
        return (trade.fillWad, trade.fee, trade.marginAfter);
    }

    /// @dev Writes the caller's position after `trade` (entry = fill, F_entry = F(now)), and its premium credit when
    /// it is or was non-zero. The casts come first, so that each slot is written once.
    function _storePosition(Trade memory trade, int256 fundingPerUnitWad, bool hadPremiumCredit) private {
        uint256 credit = trade.premiumCredit;
        (int128 sizeAfter, uint120 margin, uint128 entryPrice, int128 entryFunding) = (
            trade.sizeAfterWad.toInt128(),
            trade.marginAfter.toUint120(),
            trade.fillWad.toUint128(),
            fundingPerUnitWad.toInt128()
        );
        _positions[msg.sender] = Position(sizeAfter, margin, credit != 0, entryPrice, entryFunding);
        if (credit != 0 || hadPremiumCredit) _premiumCredits[msg.sender] = credit;
    }

    /// @dev The outcome of a trade, computed and checked by `_trade` before any state changes.
    struct Trade {
        uint256 fillWad;
        uint256 fee;
        int256 settled; // P&L at the fill price plus funding, quote units
        uint256 marginAfter;
        int256 sizeAfterWad;
        uint256 poolAfter;
        uint256 premiumCredit; // the new position's paper profit at p right after the trade, when positive
    }

    /// @dev Checks of `modifyPosition` (see `IPerpMarket`) at oracle price `priceWad` and index F(now).
    function _trade(
        PackedParams memory cfg,
        Position memory position,
        uint256 priceWad,
        int256 fundingPerUnitWad,
        int256 sizeDeltaWad,
        uint256 acceptablePriceWad
    ) private view returns (Trade memory trade) {
        int256 skewWad = _skew;
        trade.fillWad = _fillPrice(cfg, priceWad, skewWad, sizeDeltaWad);
        if (sizeDeltaWad > 0 ? trade.fillWad > acceptablePriceWad : trade.fillWad < acceptablePriceWad) {
            revert PriceOutOfBounds(trade.fillWad, acceptablePriceWad);
        }
        trade.fee = _orderFee(cfg, skewWad, sizeDeltaWad, trade.fillWad);

        // The old position's P&L at the fill price (formula (6) with p = fill) and its funding, each rounded down.
        (int256 pnl, int256 funding) = _valueAt(position, trade.fillWad, fundingPerUnitWad);
        trade.settled = pnl + funding;
        int256 marginAfter = int256(uint256(position.margin)) + trade.settled - trade.fee.toInt256();
        if (marginAfter < 0) revert InsufficientMargin(marginAfter, 0);
        trade.marginAfter = uint256(marginAfter);
        // The pool pays the settled profit and receives the settled loss and the fee.
        int256 poolAfter = int256(uint256(_pool)) - trade.settled + trade.fee.toInt256();
        if (poolAfter < 0) revert InsufficientPool(_pool + trade.fee, uint256(trade.settled));
        trade.poolAfter = uint256(poolAfter);

        trade.sizeAfterWad = position.sizeWad + sizeDeltaWad;
        if (trade.sizeAfterWad != 0) _checkNewPosition(cfg, trade, position.sizeWad, priceWad);
    }

    /// @dev The new position at p, entry = fill, no funding yet: margin + size · (p − fill). A positive
    /// size · (p − fill) is a premium the trade collected at p, which closing at the same skew pays back: it is kept
    /// as the position's premium credit (set in `trade`) and not counted as margin (formula (7)). Then the health
    /// checks of `modifyPosition`, the initial margin unless the trade only reduced |size| on the same side.
    function _checkNewPosition(PackedParams memory cfg, Trade memory trade, int256 sizeBeforeWad, uint256 priceWad)
        private
        view
    {
        int256 sizeAfterWad = trade.sizeAfterWad;
        int256 atOracle = _floorDiv(sizeAfterWad * (priceWad.toInt256() - trade.fillWad.toInt256()));
        if (atOracle > 0) trade.premiumCredit = uint256(atOracle);
        int256 remaining = int256(trade.marginAfter) + (atOracle < 0 ? atOracle : int256(0));
        bool onlyReduces = (sizeAfterWad > 0) == (sizeBeforeWad > 0)
            && SignedMath.abs(sizeAfterWad) < SignedMath.abs(sizeBeforeWad);
        _requireHealthy(cfg, remaining, sizeAfterWad, priceWad, !onlyReduces);
    }

    /// @inheritdoc IPerpMarket
    function liquidate(address account) external override nonReentrant {
        Position memory position = _positions[account];
        PackedParams memory cfg = _params;
        uint256 priceWad = _oraclePrice(cfg);
        (int256 fundingPerUnitWad, int256 rateWad) = _recomputeFunding(cfg, priceWad);
        emit FundingRecomputed(rateWad, fundingPerUnitWad, block.timestamp);
        (int256 pnl, int256 funding) = _valueAt(position, priceWad, fundingPerUnitWad);
        // The effective margin (formula (7)): the premium credit does not count.
        int256 remaining = int256(uint256(position.margin)) + pnl + funding - _premiumCreditOf(account, position).toInt256();
        (uint256 maintenance, uint256 reward) = _maintenanceMargin(cfg, position.sizeWad, priceWad);
        if (position.sizeWad == 0 || remaining > maintenance.toInt256()) {
            revert NotLiquidatable(account, remaining, position.sizeWad == 0 ? 0 : maintenance);
        }
        uint256 paid = remaining <= 0 ? 0 : Math.min(reward, uint256(remaining));
        // The whole margin goes to the pool, which pays the reward: a position in profit may be owed more than its
        // margin (remaining > margin), and the pool pays the difference.
        uint256 poolPlusMargin = _pool + position.margin;
        if (paid > poolPlusMargin) revert InsufficientPool(poolPlusMargin, paid);

        // Effects.
        delete _positions[account];
        if (position.hasPremiumCredit) delete _premiumCredits[account];
        // Removing a position can take |K| above S (the other side's positions remain): trades must then bring it
        // back (`_fillPrice`), and the premium and the funding velocity are clamped at ±100%.
        (_skew, _pool) = ((int256(_skew) - position.sizeWad).toInt128(), (poolPlusMargin - paid).toUint128());
        emit PositionLiquidated(account, msg.sender, position.sizeWad, priceWad, remaining, paid);

        if (paid > 0) IERC20(quote).safeTransfer(msg.sender, paid);
    }

    // ──────────────────────────────────────────── owner ──────────────────────────────────────────────

    /// @inheritdoc IPerpMarket
    function setParams(MarketParams calldata params_) external override onlyOwner {
        // Funding so far accrues at the old velocity; the new parameters apply from now.
        PackedParams memory cfg = _params;
        (int256 fundingPerUnitWad, int256 rateWad) = _recomputeFunding(cfg, _oraclePrice(cfg));
        emit FundingRecomputed(rateWad, fundingPerUnitWad, block.timestamp);
        _validate(params_);
        // A new skew scale below |K| would put the market beyond its cap at once; the same one may stay (after a
        // liquidation has left |K| above it, the other parameters can still change).
        if (params_.skewScale != cfg.skewScale && params_.skewScale < SignedMath.abs(_skew)) {
            revert InvalidParam("skewScale", params_.skewScale);
        }
        _storeParams(params_);
        emit ParamsUpdated(params_);
    }

    /// @dev Packs validated parameters (`_validate` bounds every field within its packed width).
    function _storeParams(MarketParams memory p) private {
        _params = PackedParams({
            skewScale: uint112(p.skewScale),
            maxFundingVelocity: uint72(p.maxFundingVelocity),
            maxLeverage: uint72(p.maxLeverage),
            minLiquidationReward: uint128(p.minLiquidationReward),
            maxOracleAge: uint32(p.maxOracleAge),
            makerFeeBps: uint16(p.makerFeeBps),
            takerFeeBps: uint16(p.takerFeeBps),
            maintenanceMarginBps: uint16(p.maintenanceMarginBps),
            liquidationRewardBps: uint16(p.liquidationRewardBps)
        });
    }

    // ───────────────────────────────────────────── views ─────────────────────────────────────────────

    /// @inheritdoc IPerpMarket
    function params() external view override returns (MarketParams memory) {
        PackedParams memory p = _params;
        return MarketParams({
            skewScale: p.skewScale,
            maxFundingVelocity: p.maxFundingVelocity,
            makerFeeBps: p.makerFeeBps,
            takerFeeBps: p.takerFeeBps,
            maintenanceMarginBps: p.maintenanceMarginBps,
            liquidationRewardBps: p.liquidationRewardBps,
            minLiquidationReward: p.minLiquidationReward,
            maxLeverage: p.maxLeverage,
            maxOracleAge: p.maxOracleAge
        });
    }

    /// @inheritdoc IPerpMarket
    function oraclePrice() external view override returns (uint256 priceWad) {
        return _oraclePrice(_params);
    }

    /// @inheritdoc IPerpMarket
    function fillPrice(int256 sizeDeltaWad) external view override returns (uint256 fillPriceWad) {
        PackedParams memory cfg = _params;
        return _fillPrice(cfg, _oraclePrice(cfg), _skew, sizeDeltaWad);
    }

    /// @inheritdoc IPerpMarket
    function orderFee(int256 sizeDeltaWad) external view override returns (uint256 fee) {
        PackedParams memory cfg = _params;
        int256 skewWad = _skew;
        return _orderFee(cfg, skewWad, sizeDeltaWad, _fillPrice(cfg, _oraclePrice(cfg), skewWad, sizeDeltaWad));
    }

    /// @inheritdoc IPerpMarket
    function currentFundingRate() external view override returns (int256 rateWad) {
        return _fundingRateNow(_params);
    }

    /// @inheritdoc IPerpMarket
    function accruedFundingPerUnit() external view override returns (int256 fundingPerUnitWad) {
        PackedParams memory cfg = _params;
        (fundingPerUnitWad,) = _fundingNow(cfg, _oraclePrice(cfg));
    }

    /// @inheritdoc IPerpMarket
    function fundingState()
        external
        view
        override
        returns (int256 lastRateWad, uint256 lastTime, int256 lastFundingPerUnitWad)
    {
        return (_lastRateWad, _lastTime, _lastFundingPerUnitWad);
    }

    /// @inheritdoc IPerpMarket
    function positionOf(address account) external view override returns (PositionView memory view_) {
        Position memory position = _positions[account];
        view_.sizeWad = position.sizeWad;
        view_.margin = position.margin;
        view_.entryPriceWad = position.entryPriceWad;
        if (position.sizeWad == 0) {
            view_.remainingMargin = position.margin;
            return view_;
        }
        PackedParams memory cfg = _params;
        uint256 priceWad = _oraclePrice(cfg);
        (int256 fundingPerUnitWad,) = _fundingNow(cfg, priceWad);
        (view_.pnl, view_.funding) = _valueAt(position, priceWad, fundingPerUnitWad);
        int256 remaining = int256(uint256(position.margin)) + view_.pnl + view_.funding;
        view_.remainingMargin = remaining > 0 ? uint256(remaining) : 0;
        (view_.maintenanceMargin,) = _maintenanceMargin(cfg, position.sizeWad, priceWad);
        view_.initialMargin = _initialMargin(cfg, position.sizeWad, priceWad);
        view_.premiumCredit = _premiumCreditOf(account, position);
        view_.liquidatable = remaining - view_.premiumCredit.toInt256() <= view_.maintenanceMargin.toInt256();
    }

    /// @inheritdoc IPerpMarket
    function sizeOf(address account) external view override returns (int256 sizeWad) {
        return _positions[account].sizeWad;
    }

    /// @inheritdoc IPerpMarket
    function marketSkew() external view override returns (int256 skewWad) {
        return _skew;
    }

    /// @inheritdoc IPerpMarket
    function pool() external view override returns (uint256) {
        return _pool;
    }

    // ──────────────────────────────────────────── internal ───────────────────────────────────────────

    /// @dev Formula (1). A future `updatedAt` (a feed ahead of the chain's clock) counts as fresh.
    function _oraclePrice(PackedParams memory cfg) private view returns (uint256 priceWad) {
        (, int256 answer,, uint256 updatedAt,) = AggregatorV3Interface(oracle).latestRoundData();
        uint256 maxAge = cfg.maxOracleAge;
        if (answer <= 0 || (block.timestamp > updatedAt && block.timestamp - updatedAt > maxAge)) {
            revert StaleOracle(answer, updatedAt, maxAge);
        }
        return uint256(answer) * _oracleScale;
    }

    /// @dev Formula (3): p · (2S + [K] + [K + D]) / (2S) with [x] = clamp(x, −S, S), rounded up for D > 0, down
    /// otherwise; the numerator is in [0, 4S]. Reverts with `MaxSkewExceeded` when the skew after the trade is beyond
    /// S, unless the trade only brings an |K| already above S (where a liquidation can leave it) closer to zero on the
    /// same side.
    function _fillPrice(PackedParams memory cfg, uint256 priceWad, int256 skewWad, int256 sizeDeltaWad)
        private
        pure
        returns (uint256)
    {
        uint256 skewScale = cfg.skewScale;
        int256 skewAfterWad = skewWad + sizeDeltaWad;
        uint256 absAfter = SignedMath.abs(skewAfterWad);
        if (absAfter > skewScale && (absAfter >= SignedMath.abs(skewWad) || (skewAfterWad < 0) != (skewWad < 0))) {
            revert MaxSkewExceeded(skewAfterWad, skewScale);
        }
        int256 s = skewScale.toInt256();
        uint256 numerator = uint256(2 * s + SignedMath.max(-s, SignedMath.min(s, skewWad)) + SignedMath.max(-s, SignedMath.min(s, skewAfterWad)));
        return Math.mulDiv(
            priceWad, numerator, 2 * skewScale, sizeDeltaWad > 0 ? Math.Rounding.Ceil : Math.Rounding.Floor
        );
    }

    /// @dev Formula (4), quote units rounded up: ⌈(maker · makerFeeBps + taker · takerFeeBps) · fill / (10⁴ · 1e18 ·
    /// quoteScale)⌉. `maker` is the part of D moving K towards zero (at most |K|), `taker` the rest.
    function _orderFee(PackedParams memory cfg, int256 skewWad, int256 sizeDeltaWad, uint256 fillWad)
        private
        view
        returns (uint256)
    {
        uint256 absDelta = SignedMath.abs(sizeDeltaWad);
        uint256 maker = (skewWad > 0 && sizeDeltaWad < 0) || (skewWad < 0 && sizeDeltaWad > 0)
            ? Math.min(absDelta, SignedMath.abs(skewWad))
            : 0;
        uint256 weighted = maker * cfg.makerFeeBps + (absDelta - maker) * cfg.takerFeeBps;
        return Math.mulDiv(weighted, fillWad, BPS * WAD * _quoteScale, Math.Rounding.Ceil);
    }

    /// @dev Formula (5): r(now) = r_last + v · dt / DAY with v = clamp(K / S, −1, 1) · maxFundingVelocity; both
    /// divisions truncate toward zero. The clamp binds only where a liquidation has left |K| > S.
    function _fundingRateNow(PackedParams memory cfg) private view returns (int256) {
        int256 premiumWad = int256(_skew) * IWAD / int256(uint256(cfg.skewScale));
        premiumWad = SignedMath.max(-IWAD, SignedMath.min(IWAD, premiumWad));
        int256 velocityWad = premiumWad * int256(uint256(cfg.maxFundingVelocity)) / IWAD;
        return _lastRateWad + velocityWad * int256(block.timestamp - _lastTime) / int256(DAY);
    }

    /// @dev Formula (5): F(now) = F_last − (r_last + r(now)) · dt · p / (2 · DAY · 1e18), truncated toward zero.
    /// Magnitudes: rates ≤ 100e18 per day per day of elapsed time, dt < 2^64, p ≤ 2^112 · 1e18: the product fits.
    /// Returns F(now) and r(now).
    function _fundingNow(PackedParams memory cfg, uint256 priceWad)
        private
        view
        returns (int256 fundingPerUnitWad, int256 rateWad)
    {
        rateWad = _fundingRateNow(cfg);
        int256 elapsed = int256(block.timestamp - _lastTime);
        int256 rateSum = int256(_lastRateWad) + rateWad;
        fundingPerUnitWad =
            _lastFundingPerUnitWad - rateSum * elapsed * priceWad.toInt256() / (2 * int256(DAY) * IWAD);
    }

    /// @dev Moves r_last, F_last, t_last to now at `priceWad`; returns F(now). The caller emits the new state
    /// (`PositionModified` carries it; `FundingRecomputed` otherwise).
    function _recomputeFunding(PackedParams memory cfg, uint256 priceWad)
        private
        returns (int256 fundingPerUnitWad, int256 rateWad)
    {
        (fundingPerUnitWad, rateWad) = _fundingNow(cfg, priceWad);
        (_lastRateWad, _lastTime, _lastFundingPerUnitWad) =
            (rateWad.toInt88(), block.timestamp.toUint40(), fundingPerUnitWad.toInt128());
    }

    /// @dev The premium credit of `account`'s loaded `position` (formula (7)): its slot is read only when non-zero.
    function _premiumCreditOf(address account, Position memory position) private view returns (uint256) {
        return position.hasPremiumCredit ? _premiumCredits[account] : 0;
    }

    /// @dev Formula (6) at `priceWad` and index `fundingPerUnitWad`: P&L and funding in quote units, each rounded
    /// down (towards −∞). Both are 0 without a position.
    function _valueAt(Position memory position, uint256 priceWad, int256 fundingPerUnitWad)
        private
        view
        returns (int256 pnl, int256 funding)
    {
        int256 sizeWad = position.sizeWad;
        if (sizeWad == 0) return (0, 0);
        pnl = _floorDiv(sizeWad * (priceWad.toInt256() - int256(uint256(position.entryPriceWad))));
        funding = _floorDiv(sizeWad * (fundingPerUnitWad - position.entryFundingWad));
    }

    /// @dev Formula (7): maintenance margin and the liquidation reward in it, quote units rounded up.
    function _maintenanceMargin(PackedParams memory cfg, int256 sizeWad, uint256 priceWad)
        private
        view
        returns (uint256 maintenance, uint256 reward)
    {
        uint256 notionalScaled = SignedMath.abs(sizeWad) * priceWad; // quote wad · 1e18
        uint256 denominator = BPS * WAD * _quoteScale;
        reward = Math.max(
            cfg.minLiquidationReward,
            Math.mulDiv(notionalScaled, cfg.liquidationRewardBps, denominator, Math.Rounding.Ceil)
        );
        // The closing premium as if the skew were zero, p · size² / (2S): kept by the pool on liquidation, it pays
        // whoever trades the skew back afterwards (formula (7)).
        uint256 absSize = SignedMath.abs(sizeWad);
        uint256 premium = Math.mulDiv(
            Math.mulDiv(absSize, absSize, 2 * uint256(cfg.skewScale), Math.Rounding.Ceil),
            priceWad,
            WAD * _quoteScale,
            Math.Rounding.Ceil
        );
        maintenance =
            Math.mulDiv(notionalScaled, cfg.maintenanceMarginBps, denominator, Math.Rounding.Ceil) + reward + premium;
    }

    /// @dev Formula (7): |size| · p / maxLeverage in quote units, rounded up.
    function _initialMargin(PackedParams memory cfg, int256 sizeWad, uint256 priceWad) private view returns (uint256) {
        return Math.mulDiv(SignedMath.abs(sizeWad), priceWad, cfg.maxLeverage * _quoteScale, Math.Rounding.Ceil);
    }

    /// @dev Reverts unless a position of `sizeWad` with `remaining` margin is not liquidatable and, when
    /// `checkInitial`, holds at least its initial margin.
    function _requireHealthy(
        PackedParams memory cfg,
        int256 remaining,
        int256 sizeWad,
        uint256 priceWad,
        bool checkInitial
    ) private view {
        (uint256 maintenance,) = _maintenanceMargin(cfg, sizeWad, priceWad);
        if (remaining <= maintenance.toInt256()) revert WouldBeLiquidatable(remaining, maintenance);
        if (checkInitial) {
            uint256 initial = _initialMargin(cfg, sizeWad, priceWad);
            if (remaining < initial.toInt256()) revert InsufficientMargin(remaining, initial);
        }
    }

    /// @dev `valueScaled / (1e18 · quoteScale)` rounded towards −∞: a product of a wad size and a quote-wad
    /// difference, to quote units, never in the trader's favour.
    function _floorDiv(int256 valueScaled) private view returns (int256 quotient) {
        int256 denominator = int256(WAD * _quoteScale);
        quotient = valueScaled / denominator;
        if (valueScaled % denominator != 0 && valueScaled < 0) quotient -= 1;
    }

    /// @dev The bounds of `IPerpMarket.setParams`.
    function _validate(MarketParams memory p) private pure {
        if (p.skewScale == 0 || p.skewScale > MAX_SKEW_SCALE) {
            revert InvalidParam("skewScale", p.skewScale);
        }
        if (p.maxFundingVelocity > MAX_FUNDING_VELOCITY) revert InvalidParam("maxFundingVelocity", p.maxFundingVelocity);
        if (p.makerFeeBps > MAX_FEE_BPS) revert InvalidParam("makerFeeBps", p.makerFeeBps);
        if (p.takerFeeBps > MAX_FEE_BPS) revert InvalidParam("takerFeeBps", p.takerFeeBps);
        if (p.maintenanceMarginBps == 0 || p.maintenanceMarginBps > MAX_MAINTENANCE_MARGIN_BPS) {
            revert InvalidParam("maintenanceMarginBps", p.maintenanceMarginBps);
        }
        if (p.liquidationRewardBps > MAX_LIQUIDATION_REWARD_BPS) {
            revert InvalidParam("liquidationRewardBps", p.liquidationRewardBps);
        }
        if (p.minLiquidationReward > MAX_MIN_LIQUIDATION_REWARD) {
            revert InvalidParam("minLiquidationReward", p.minLiquidationReward);
        }
        if (p.maxLeverage < MIN_LEVERAGE || p.maxLeverage > MAX_LEVERAGE) revert InvalidParam("maxLeverage", p.maxLeverage);
        if ((p.maintenanceMarginBps + p.liquidationRewardBps) * p.maxLeverage >= BPS * WAD) {
            revert InvalidParam("maxLeverage", p.maxLeverage);
        }
        if (p.maxOracleAge == 0 || p.maxOracleAge > MAX_ORACLE_AGE) revert InvalidParam("maxOracleAge", p.maxOracleAge);
    }
}
