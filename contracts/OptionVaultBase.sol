// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IMockAmm} from "./interfaces/IMockAmm.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {IOptionVaultTypes} from "./interfaces/IOptionVault.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";
import {OptionBook} from "./libraries/OptionBook.sol";

/// @title OptionVaultBase
/// @notice The state of an option vault and the logic both of its halves share. `OptionVault` (hedging and the
/// ERC-4626 accounting) and `OptionVaultExtension` (the book, its views and the administration, reached by
/// DELEGATECALL from the vault's fallback) both derive from it. The vault's state lives in one ERC-7201 namespaced
/// struct (`VaultStorage`), so both halves address it identically whatever else they inherit (the vault's
/// ERC-20 shares and roles are OpenZeppelin's own storage, which only the vault touches). Balancer v3's
/// Vault/VaultExtension split, for the same reason: the 24,576-byte code size limit.
/// @dev Immutables live in code, not storage: each half sets its own copy from the same `Config`, and the vault's
/// constructor checks that its extension was built from that same `Config` (`configHash`).
abstract contract OptionVaultBase is IOptionVaultTypes {
    using SafeCast for uint256;
    using SafeCast for int256;

    // ---------------------------------------------------------------------------------------------------------
    // Roles and constants
    // ---------------------------------------------------------------------------------------------------------

    /// @notice May call `rebalance` (a keeper, or a `BandUpkeep` adapter).
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");
    /// @notice Lists series and sets pricing, limits and hedge parameters.
    bytes32 public constant MANAGER_ROLE = keccak256("MANAGER_ROLE");
    /// @notice May pause trading.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice Most live series the book holds: bounds every loop over the book.
    uint256 public constant MAX_LIVE_SERIES = 32;
    /// @notice Trading in a series closes this long before its expiry.
    uint256 public constant TRADING_CUTOFF_SECONDS = 1 hours;
    /// @notice Latest expiry a new series may have, from now.
    uint256 public constant MAX_EXPIRY_SECONDS = 730 days;
    /// @notice After an L2 sequencer comes back up, the vault waits this long before trusting prices again
    /// (Chainlink's recommendation: positions could not be managed while it was down).
    uint256 public constant SEQUENCER_GRACE_PERIOD = 1 hours;
    /// @notice The unit in which hedging-budget usage is recorded: 1e-4 quote units (quote wad per unit).
    uint256 public constant BUDGET_UNIT_WAD = 1e14;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    /// @dev Budget units per whole quote unit.
    uint256 internal constant UNITS_PER_QUOTE = WAD / BUDGET_UNIT_WAD;

    // ---------------------------------------------------------------------------------------------------------
    // Immutables
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The hedged asset (e.g. WETH).
    IERC20Metadata public immutable underlying;
    /// @notice The price feed: quote per underlying.
    AggregatorV3Interface public immutable oracle;
    /// @notice The hedge venue.
    IMockAmm public immutable amm;
    /// @notice The L2 sequencer-uptime feed, or zero on chains without one.
    AggregatorV3Interface public immutable sequencerUptimeFeed;
    /// @notice The perpetual-futures hedge venue, or zero for a vault that hedges on the AMM only.
    IPerpMarket public immutable perp;

    IERC20 internal immutable _quote;
    /// @dev Token amount × scale = wad amount. Every token and the oracle have at most 18 decimals.
    uint256 internal immutable _quoteScale;
    uint256 internal immutable _underlyingScale;
    uint256 internal immutable _oracleScale;

    // ---------------------------------------------------------------------------------------------------------
    // Storage — the one layout of both halves
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Read by every rebalance, sale and NAV (256 bits). Narrower than the setters' types where the setter's
    /// range allows: maxOracleAge ≤ 2 days < 2^24, minRebalanceInterval ≤ 7,200 < 2^16, budgetWindowSeconds ≤
    /// 30 days < 2^24. `owesPayouts` mirrors `pendingPayouts != 0`, so a rebalance reads the payouts (and the
    /// cash) only when settled holders are owed something. `perpOpen` is false only when the vault has no perp
    /// position: only `hedgePerp` can open one (the market trades for `msg.sender` alone) and it keeps the flag; a
    /// liquidation closes the position and leaves the flag set, which costs a call but is never wrong. A rebalance
    /// asks the market for the position only when the flag is set. `minMarginBps` (the perp margin floor) is here
    /// rather than with `maxMarginBps` because every perp hedge checks it.
    struct Hot {
        uint64 volWad;
        uint64 rateWad;
        uint24 maxOracleAge;
        uint16 minRebalanceInterval;
        uint16 maxSlippageBps;
        uint8 liveCount;
        bool paused;
        uint24 budgetWindowSeconds;
        bool owesPayouts;
        bool perpOpen;
        uint16 minMarginBps;
    }

    /// @dev The rest of what a rebalance reads (256 bits).
    struct Limits {
        uint96 maxTradeWad;
        uint96 deltaToleranceWad;
        uint32 notionalBudget;
        uint32 slippageBudget;
    }

    /// @dev Written by every rebalance (256 bits): its block, and the hedging budget used in the current and the
    /// previous budget window (`window` = timestamp / budgetWindowSeconds, mod 2^24), in `BUDGET_UNIT_WAD` units.
    /// Any stretch of `budgetWindowSeconds` lies within two consecutive windows, so capping previous + current
    /// usage caps every such stretch. Usage ≤ budget ≤ 2^32 quote units = 4.3e13 units < 2^48.
    struct Ledger {
        uint40 lastRebalanceBlock;
        uint24 window;
        uint48 notionalPrev;
        uint48 notionalCur;
        uint48 slippagePrev;
        uint48 slippageCur;
    }

    /// @dev Read by sales, buy-backs and deposits, and the perp margin cap (176 bits).
    struct Cold {
        uint96 bandWad;
        uint16 spreadBps;
        uint16 latencyBps;
        uint16 capitalChargeBps;
        uint16 minPremiumBps;
        uint16 maxMarginBps;
    }

    struct Settlement {
        uint128 payoutPerUnitWad;
        bool settled;
    }

    /// @custom:storage-location erc7201:delta-keeper.storage.OptionVault
    struct VaultStorage {
        Hot hot;
        Limits limits;
        Ledger ledger;
        Cold cold;
        BookLimits bookLimits;
        /// @dev Live series, densely packed in `[0, hot.liveCount)`; removal swaps the last entry in.
        Series[MAX_LIVE_SERIES] book;
        /// @dev Position of a live series in `book`, plus one (0 = not live).
        mapping(bytes32 id => uint256) slotOf;
        mapping(bytes32 id => Settlement) settlements;
        mapping(bytes32 id => mapping(address holder => uint256 sizeWad)) positions;
        /// @dev Settled option payouts not yet claimed, quote decimals.
        uint256 pendingPayouts;
        /// @dev The margin of each live series not yet earned, at the series' index in `book`.
        OptionBook.Deferral[MAX_LIVE_SERIES] deferrals;
        /// @dev Shares minted less than `depositLockSeconds` ago, which cannot leave their holder yet.
        mapping(address holder => ShareLock) locks;
    }

    /// @dev A holder's most recently minted shares and when they may leave (`BookLimits.depositLockSeconds`).
    struct ShareLock {
        uint128 shares;
        uint64 until;
    }

    /// @dev keccak256(abi.encode(uint256(keccak256("delta-keeper.storage.OptionVault")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x017dde7045c79c16bd1ec7c52a21efcc86fa1e824c86e8f78c47c47875fbba00;

    function _storage() internal pure returns (VaultStorage storage $) {
        assembly ("memory-safe") {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @notice Settled option payouts not yet claimed, quote decimals.
    function pendingPayouts() public view returns (uint256) {
        return _storage().pendingPayouts;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The contracts a vault is built on, and its share token's name.
    /// @param quote The vault's asset (e.g. USDC); shares are denominated in it.
    /// @param underlying The hedged asset; must be the AMM's other token.
    /// @param oracle Chainlink-style feed of quote per underlying.
    /// @param amm Constant-product pool of `underlying`/`quote`.
    /// @param sequencerUptimeFeed Chainlink L2 sequencer-uptime feed, or zero on L1.
    /// @param perp Perpetual-futures market margined in `quote` and priced by `oracle`, or zero for none.
    /// @param admin Receives DEFAULT_ADMIN_ROLE; grants the other roles.
    struct Config {
        IERC20Metadata quote;
        IERC20Metadata underlying;
        AggregatorV3Interface oracle;
        IMockAmm amm;
        AggregatorV3Interface sequencerUptimeFeed;
        IPerpMarket perp;
        address admin;
        string name;
        string symbol;
    }

    constructor(Config memory config) {
        IMockAmm amm_ = config.amm;
        if (amm_.underlying() != address(config.underlying) || amm_.quote() != address(config.quote)) {
            revert AmmPairMismatch(amm_.underlying(), amm_.quote());
        }
        _quote = config.quote;
        underlying = config.underlying;
        oracle = config.oracle;
        amm = amm_;
        sequencerUptimeFeed = config.sequencerUptimeFeed;
        IPerpMarket perp_ = config.perp;
        if (
            address(perp_) != address(0)
                && (perp_.quote() != address(config.quote) || perp_.oracle() != address(config.oracle))
        ) revert PerpVenueMismatch(perp_.quote(), perp_.oracle());
        perp = perp_;
        _quoteScale = _scale(config.quote.decimals());
        _underlyingScale = _scale(config.underlying.decimals());
        _oracleScale = _scale(config.oracle.decimals());
    }

    /// @notice The hash of the contracts this half was built on: the vault's and its extension's must match.
    function configHash() public view returns (bytes32) {
        return keccak256(abi.encode(_quote, underlying, oracle, amm, sequencerUptimeFeed, perp));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Shared views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Id of a series: `keccak256(abi.encode(isCall, strikeWad, expiry))`.
    function seriesId(bool isCall, uint256 strikeWad, uint256 expiry) public pure returns (bytes32) {
        return keccak256(abi.encode(isCall, strikeWad, expiry));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Parameters
    // ---------------------------------------------------------------------------------------------------------

    function _setHedgeParams(HedgeParams memory p) internal {
        _checkRange(Param.MaxSlippageBps, p.maxSlippageBps, 1, 1_000);
        _checkRange(Param.MinRebalanceInterval, p.minRebalanceInterval, 1, 7_200);
        _checkRange(Param.MaxOracleAge, p.maxOracleAge, 1, 2 days);
        _checkRange(Param.MaxTradeWad, p.maxTradeWad, 1, type(uint96).max);
        _checkRange(Param.BudgetWindowSeconds, p.budgetWindowSeconds, 10 minutes, 30 days);
        _checkRange(Param.NotionalBudget, p.notionalBudget, 1, type(uint32).max);
        _checkRange(Param.SlippageBudget, p.slippageBudget, 1, type(uint32).max);
        VaultStorage storage $ = _storage();
        Hot storage hot = $.hot;
        if (p.budgetWindowSeconds != hot.budgetWindowSeconds && hot.budgetWindowSeconds != 0) {
            // A new window length: every unit used in the last two windows counts in the new current window.
            Ledger memory ledger = $.ledger;
            (, uint256 notionalPrev, uint256 notionalCur, uint256 slippagePrev, uint256 slippageCur) =
                _rolledLedger(ledger, hot.budgetWindowSeconds);
            $.ledger = Ledger({
                lastRebalanceBlock: ledger.lastRebalanceBlock,
                window: uint24(block.timestamp / p.budgetWindowSeconds),
                notionalPrev: 0,
                notionalCur: uint48(notionalPrev + notionalCur),
                slippagePrev: 0,
                slippageCur: uint48(slippagePrev + slippageCur)
            });
        }
        // Casts: within the ranges checked above.
        hot.maxSlippageBps = p.maxSlippageBps;
        hot.minRebalanceInterval = uint16(p.minRebalanceInterval);
        hot.maxOracleAge = uint24(p.maxOracleAge);
        hot.budgetWindowSeconds = uint24(p.budgetWindowSeconds);
        $.limits = Limits({
            maxTradeWad: p.maxTradeWad,
            deltaToleranceWad: p.deltaToleranceWad,
            notionalBudget: p.notionalBudget,
            slippageBudget: p.slippageBudget
        });
        $.cold.bandWad = p.bandWad;
        emit HedgeParamsSet(p);
    }

    function _setRiskParams(RiskParams memory p) internal {
        _checkRange(Param.VolWad, p.volWad, BlackScholes.MIN_VOL_WAD, BlackScholes.MAX_VOL_WAD);
        _checkRange(Param.RateWad, p.rateWad, 0, BlackScholes.MAX_RATE_WAD);
        _checkRange(Param.SpreadBps, p.spreadBps, 0, 5_000);
        _checkRange(Param.LatencyBps, p.latencyBps, 0, 1_000);
        _checkRange(Param.CapitalChargeBps, p.capitalChargeBps, 0, BPS);
        _checkRange(Param.MinPremiumBps, p.minPremiumBps, 0, 1_000);
        VaultStorage storage $ = _storage();
        $.hot.volWad = p.volWad;
        $.hot.rateWad = p.rateWad;
        Cold storage cold = $.cold;
        cold.spreadBps = p.spreadBps;
        cold.latencyBps = p.latencyBps;
        cold.capitalChargeBps = p.capitalChargeBps;
        cold.minPremiumBps = p.minPremiumBps;
        emit RiskParamsSet(p);
    }

    function _setBookLimits(BookLimits memory l) internal {
        // The stress covers at least a 10% and at most a 10x rally over a call's strike (or the spot).
        _checkRange(Param.StressUpBps, l.stressUpBps, 1_000, 90_000);
        _checkRange(Param.MaxUtilizationBps, l.maxUtilizationBps, 1, BPS);
        _checkRange(Param.MinPositionWad, l.minPositionWad, 1, type(uint96).max);
        _checkRange(Param.MaxSeriesOpenInterestWad, l.maxSeriesOpenInterestWad, 1, uint96(type(int96).max));
        _checkRange(Param.MaxOpenInterestWad, l.maxOpenInterestWad, 1, type(uint96).max);
        _checkRange(Param.DepositLockSeconds, l.depositLockSeconds, 0, 7 days);
        _storage().bookLimits = l;
        emit BookLimitsSet(l);
    }

    function _checkRange(Param param, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert InvalidParameter(param, value, min, max);
    }

    function _scale(uint8 decimals_) private pure returns (uint256) {
        if (decimals_ > 18) revert InvalidParameter(Param.Decimals, decimals_, 0, 18);
        return 10 ** (18 - decimals_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Oracle
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The latest oracle answer as a wad price (0 when the answer is ≤ 0); never reverts.
    function _latestSpot() internal view returns (uint256 spotWad, uint256 updatedAt, int256 answer) {
        (, answer,, updatedAt,) = oracle.latestRoundData();
        spotWad = answer > 0 ? uint256(answer) * _oracleScale : 0;
    }

    /// @dev The latest price, whether it is usable (sequencer up past its grace period, answer > 0, at most
    /// `maxAge` old), and when the sequencer came back up (for the error).
    function _spot(uint256 maxAge)
        internal
        view
        returns (uint256 spotWad, uint256 updatedAt, OracleStatus status, uint256 upSince)
    {
        int256 answer;
        (spotWad, updatedAt, answer) = _latestSpot();
        if (address(sequencerUptimeFeed) != address(0)) {
            int256 down;
            (, down, upSince,,) = sequencerUptimeFeed.latestRoundData();
            if (down != 0) return (spotWad, updatedAt, OracleStatus.SequencerDown, upSince);
            // `upSince == 0`: an uninitialised feed (Arbitrum's before its first round), as good as down.
            if (upSince == 0 || block.timestamp < upSince + SEQUENCER_GRACE_PERIOD) {
                return (spotWad, updatedAt, OracleStatus.SequencerGracePeriod, upSince);
            }
        }
        if (answer <= 0) return (spotWad, updatedAt, OracleStatus.InvalidAnswer, upSince);
        if (block.timestamp - Math.min(updatedAt, block.timestamp) > maxAge) {
            return (spotWad, updatedAt, OracleStatus.Stale, upSince);
        }
    }

    /// @dev The latest price if usable; otherwise the revert data of the reason.
    function _usableSpotOrError(uint256 maxAge) internal view returns (uint256 spotWad, bytes memory err) {
        uint256 updatedAt;
        OracleStatus status;
        uint256 upSince;
        (spotWad, updatedAt, status, upSince) = _spot(maxAge);
        if (status == OracleStatus.Usable) return (spotWad, "");
        if (status == OracleStatus.SequencerDown) return (0, abi.encodeWithSelector(SequencerDown.selector));
        if (status == OracleStatus.SequencerGracePeriod) {
            return (0, abi.encodeWithSelector(SequencerGracePeriod.selector, upSince, SEQUENCER_GRACE_PERIOD));
        }
        if (status == OracleStatus.InvalidAnswer) {
            (,, int256 answer) = _latestSpot();
            return (0, abi.encodeWithSelector(InvalidOraclePrice.selector, answer));
        }
        return (0, abi.encodeWithSelector(StaleOracle.selector, updatedAt, maxAge));
    }

    /// @dev The latest price, reverting with the reason when it is not usable.
    function _usableSpot(uint256 maxAge) internal view returns (uint256 spotWad) {
        OracleStatus status;
        (spotWad,, status,) = _spot(maxAge);
        if (status != OracleStatus.Usable) {
            (, bytes memory err) = _usableSpotOrError(maxAge);
            _revert(err);
        }
    }

    /// @dev Reverts with `err` as the revert data (an error encoded by `_usableSpotOrError` or the NAV checks).
    function _revert(bytes memory err) internal pure {
        assembly ("memory-safe") {
            revert(add(err, 0x20), mload(err))
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Book and balances
    // ---------------------------------------------------------------------------------------------------------

    function _hedgeBalance() internal view returns (uint256) {
        return underlying.balanceOf(address(this)) * _underlyingScale;
    }

    /// @dev The vault's perp position, underlying wad (0 without a perp market). Needs no oracle.
    function _perpSize() internal view returns (int256) {
        return address(perp) == address(0) ? int256(0) : perp.sizeOf(address(this));
    }

    /// @dev The hedge's delta: underlying held plus the perp position.
    function _hedgeDelta() internal view returns (int256) {
        return _hedgeBalance().toInt256() + _perpSize();
    }

    /// @dev Effective margin (formula (7) of `IPerpMarket`: remaining margin less the premium credit; signed, < 0
    /// past bankruptcy) of the position `p`, quote units.
    function _effectiveMargin(IPerpMarket.PositionView memory p) internal pure returns (int256) {
        return int256(uint256(p.margin)) + p.pnl + p.funding - int256(p.premiumCredit);
    }

    function _cashLessPayouts() internal view returns (uint256) {
        uint256 cash = _quote.balanceOf(address(this));
        uint256 owed = _storage().pendingPayouts;
        return cash > owed ? cash - owed : 0;
    }

    function _market(uint256 spotWad) internal view returns (OptionBook.Market memory) {
        Hot storage hot = _storage().hot;
        return OptionBook.Market({spotWad: spotWad, volWad: hot.volWad, rateWad: hot.rateWad});
    }

    /// @dev Net delta of the live book. An expired series has delta 0: its payoff is fixed by the price at expiry.
    /// The hot path of every rebalance: each series is one SLOAD, unpacked by hand rather than copied to memory.
    function _bookDelta(Hot memory hot, uint256 spotWad) internal view returns (int256 deltaWad) {
        VaultStorage storage $ = _storage();
        uint256 count = hot.liveCount;
        uint256 volWad = hot.volWad;
        uint256 rateWad = hot.rateWad;
        for (uint256 i; i < count;) {
            Series storage ref = $.book[i];
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

    /// @dev The collateral check's two sides after a trade that brings `cashIn` and takes `cashOut` (quote units):
    /// the cash available to the book (cash − unclaimed payouts, quote wad) and what the book requires
    /// (`OptionBook.collateral`), with its open interest.
    function _collateral(uint256 spotWad, uint256 cashIn, uint256 cashOut)
        internal
        view
        returns (int256 availableWad, uint256 requiredWad, uint256 openInterestWad)
    {
        VaultStorage storage $ = _storage();
        (requiredWad, openInterestWad) = OptionBook.collateral($.book, $.hot.liveCount, spotWad, $.bookLimits.stressUpBps);
        // Signed: a payment larger than the cash (a bid above it) makes the cash available negative, and the caller
        // reverts with `InsufficientCollateral` rather than an arithmetic panic.
        availableWad = ((_quote.balanceOf(address(this)) + cashIn) * _quoteScale).toInt256()
            - ((cashOut + $.pendingPayouts) * _quoteScale).toInt256();
    }

    /// @dev |x|, also of type(int256).min (2^255): a keeper's extreme size reverts with the guard it breaks
    /// (`TradeTooLarge`), not an arithmetic panic.
    function _abs(int256 x) internal pure returns (uint256) {
        unchecked {
            return x >= 0 ? uint256(x) : uint256(-(x + 1)) + 1;
        }
    }

    /// @dev The ledger's usage as of the current window: unchanged in the same window, shifted by one (current
    /// becomes previous) in the next, cleared after that.
    function _rolledLedger(Ledger memory ledger, uint256 windowSeconds)
        internal
        view
        returns (uint256 window, uint256 notionalPrev, uint256 notionalCur, uint256 slippagePrev, uint256 slippageCur)
    {
        window = block.timestamp / windowSeconds;
        if (uint24(window) == ledger.window) {
            return (window, ledger.notionalPrev, ledger.notionalCur, ledger.slippagePrev, ledger.slippageCur);
        }
        if (uint24(window - 1) == ledger.window) return (window, ledger.notionalCur, 0, ledger.slippageCur, 0);
    }
}
