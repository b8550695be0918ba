// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IMockAmm} from "./IMockAmm.sol";
import {IPerpMarket} from "./IPerpMarket.sol";

// The specification is `IOptionVault`, at the end of this file (a base interface must precede what derives from it).
// The interfaces before it split it by the contract that serves each part: `IOptionVaultCore` by `OptionVault`
// itself (hedging, ERC-4626), `IOptionVaultBook` by `OptionVaultExtension` through the vault's fallback (the book,
// its views, the administration); `IOptionVaultTypes` holds the types, events and errors all of them share.

/// @title IOptionVaultTypes — the types, events and errors of the option vault (see `IOptionVault`)
interface IOptionVaultTypes {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A live option series in the book. Packs into one storage slot.
    /// @dev Invariant: `sizeWad <= 0` (the vault only writes options; buyers hold the long side).
    struct Series {
        uint96 strikeWad;
        uint40 expiry;
        bool isCall;
        int96 sizeWad;
    }

    /// @notice The rebalance bounds and hedging budget set by the manager.
    struct HedgeParams {
        uint16 maxSlippageBps; // execution price vs oracle, AMM fee included
        uint32 minRebalanceInterval; // blocks between two rebalances
        uint32 maxOracleAge; // seconds
        uint96 maxTradeWad; // largest underlying amount one rebalance may trade
        uint96 deltaToleranceWad; // no rebalance from within it; how far past zero a rebalance may overshoot
        uint96 bandWad; // the on-chain band rule (`BandUpkeep`) hedges when |net delta| exceeds it
        uint32 budgetWindowSeconds; // the budget holds over any stretch of time this long
        uint32 notionalBudget; // whole quote units traded (valued at the oracle) per window
        uint32 slippageBudget; // whole quote units paid beyond the oracle price per window
    }

    /// @notice The pricing parameters set by the manager.
    struct RiskParams {
        uint64 volWad; // implied volatility, 1e18 = 100%
        uint64 rateWad; // continuously compounded annual rate
        uint16 spreadBps; // premium markup over, and bid discount under, the Black–Scholes value
        uint16 latencyBps; // how far the next oracle answer may be: prices are taken that far against the trader
        uint16 capitalChargeBps; // annual charge on the collateral a sold option locks
        uint16 minPremiumBps; // per-option premium floor, basis points of the spot
    }

    /// @notice The collateral and size limits of the book, set by the manager.
    struct BookLimits {
        uint32 stressUpBps; // a call is covered up to max(spot, its strike) · (1 + stressUpBps / 1e4)
        uint16 maxUtilizationBps; // a sale may leave at most this share of the assets locked as collateral
        uint96 minPositionWad; // a holder's position is 0 or at least this
        uint96 maxSeriesOpenInterestWad; // options sold and not bought back, per series
        uint96 maxOpenInterestWad; // the same, summed over the book
        uint32 depositLockSeconds; // newly minted shares cannot be redeemed or transferred for this long
    }

    /// @notice Whether the oracle can be used for trading, and why not.
    enum OracleStatus {
        Usable,
        InvalidAnswer, // answer ≤ 0
        Stale, // older than `maxOracleAge`
        SequencerDown, // the L2 sequencer-uptime feed reports the sequencer down
        SequencerGracePeriod // the sequencer is up again, but for less than `SEQUENCER_GRACE_PERIOD`
    }

    /// @notice Where the hedge stands at the current block.
    struct HedgeStatus {
        uint256 lastRebalanceBlock;
        uint256 nextRebalanceBlock; // first block at which `rebalance` is allowed
        uint256 notionalLeftWad; // notional a rebalance in this block may still trade within the budget (quote wad)
        uint256 slippageLeftWad; // slippage it may still pay (quote wad)
        OracleStatus oracleStatus;
        bool paused;
    }

    /// @notice Parameter ids of `InvalidParameter`.
    enum Param {
        MaxSlippageBps,
        MinRebalanceInterval,
        MaxOracleAge,
        MaxTradeWad,
        DeltaToleranceWad,
        BandWad,
        BudgetWindowSeconds,
        NotionalBudget,
        SlippageBudget,
        VolWad,
        RateWad,
        SpreadBps,
        LatencyBps,
        CapitalChargeBps,
        MinPremiumBps,
        StressUpBps,
        MaxUtilizationBps,
        MinPositionWad,
        MaxSeriesOpenInterestWad,
        MaxOpenInterestWad,
        DepositLockSeconds,
        Decimals,
        MinMarginBps,
        MaxMarginBps
    }

    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A series was added to the book.
    event SeriesListed(bytes32 indexed id, bool isCall, uint256 strikeWad, uint256 expiry);
    /// @notice An empty series was removed from the book.
    event SeriesDelisted(bytes32 indexed id);
    /// @notice `buyer` paid `premium` for `sizeWad` options of series `id`, credited to `receiver`.
    event PositionOpened(
        bytes32 indexed id, address indexed buyer, address indexed receiver, uint256 sizeWad, uint256 premium, uint256 spotWad
    );
    /// @notice `holder` sold `sizeWad` options of series `id` back to the vault for `proceeds`, paid to `receiver`.
    event PositionClosed(
        bytes32 indexed id, address indexed holder, address indexed receiver, uint256 sizeWad, uint256 proceeds, uint256 spotWad
    );
    /// @notice An expired series was settled at the answer of oracle round `roundId` and left the book.
    event SeriesSettled(
        bytes32 indexed id, uint80 roundId, uint256 settlementPriceWad, uint256 payoutPerUnitWad, uint256 totalPayout
    );
    /// @notice `holder` claimed `payout` quote tokens and `payoutUnderlying` underlying tokens (the part the
    /// vault's cash could not cover, at `spotWad`) for `sizeWad` settled options of series `id`.
    event Claimed(
        bytes32 indexed id,
        address indexed holder,
        address indexed receiver,
        uint256 sizeWad,
        uint256 payout,
        uint256 payoutUnderlying,
        uint256 spotWad
    );
    /// @notice The hedge was traded on the AMM.
    event Rebalanced(
        address indexed keeper,
        bool buyUnderlying,
        uint256 amountIn,
        uint256 amountOut,
        uint256 spotWad,
        int256 deltaBeforeWad,
        int256 deltaAfterWad
    );
    /// @notice The hedge was traded on the perp market: `sizeDeltaWad` (> 0 longer) filled at `fillPriceWad`, `fee`
    /// (quote units) paid from the margin.
    event PerpHedged(
        address indexed keeper,
        int256 sizeDeltaWad,
        uint256 fillPriceWad,
        uint256 fee,
        uint256 spotWad,
        int256 deltaBeforeWad,
        int256 deltaAfterWad
    );
    /// @notice `amount` quote units moved from the vault's cash into its perp margin (> 0) or back (< 0).
    event PerpMarginMoved(address indexed keeper, int256 amount, uint256 marginAfter);
    /// @notice New bounds on the perp margin, basis points of the position's notional.
    event PerpMarginBoundsSet(uint256 minMarginBps, uint256 maxMarginBps);
    /// @notice New rebalance bounds and budget.
    event HedgeParamsSet(HedgeParams params);
    /// @notice New pricing parameters.
    event RiskParamsSet(RiskParams params);
    /// @notice New collateral and size limits.
    event BookLimitsSet(BookLimits limits);
    /// @notice Trading halted by `account`.
    event Paused(address indexed account);
    /// @notice Trading resumed by `account`.
    event Unpaused(address indexed account);

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The vault is paused.
    error VaultPaused();
    /// @notice `unpause` while not paused, or `pause` while paused.
    error PauseStateUnchanged(bool paused);
    /// @notice A rebalance came before block `nextAllowedBlock`.
    error RebalanceTooSoon(uint256 lastRebalanceBlock, uint256 nextAllowedBlock);
    /// @notice The oracle answer is older than `maxAge` seconds.
    error StaleOracle(uint256 updatedAt, uint256 maxAge);
    /// @notice The oracle returned a non-positive answer.
    error InvalidOraclePrice(int256 answer);
    /// @notice The L2 sequencer is down (per the sequencer-uptime feed).
    error SequencerDown();
    /// @notice The L2 sequencer came back up at `upSince`; the vault waits `gracePeriod` seconds after that.
    error SequencerGracePeriod(uint256 upSince, uint256 gracePeriod);
    /// @notice The trade's execution price is worse than the oracle price by more than the bound.
    error SlippageTooHigh(uint256 executionPriceWad, uint256 limitPriceWad);
    /// @notice |net delta| is within the tolerance already: there is nothing for a rebalance to do.
    error DeltaWithinTolerance(int256 deltaWad, uint256 toleranceWad);
    /// @notice The trade would not reduce |net delta|.
    error DeltaNotReduced(int256 deltaBeforeWad, int256 deltaAfterWad);
    /// @notice The trade would cross zero delta by more than the tolerance.
    error HedgeOvershoot(int256 deltaBeforeWad, int256 deltaAfterWad, uint256 toleranceWad);
    /// @notice The trade is larger than `maxTradeWad`.
    error TradeTooLarge(uint256 amountWad, uint256 maxTradeWad);
    /// @notice Selling more underlying than the vault holds.
    error InsufficientHedge(uint256 balance, uint256 amount);
    /// @notice The window's traded notional would reach `usedWad`, over the budget (both quote wad).
    error NotionalBudgetExceeded(uint256 usedWad, uint256 budgetWad);
    /// @notice The window's slippage paid would reach `usedWad`, over the budget (both quote wad).
    error SlippageBudgetExceeded(uint256 usedWad, uint256 budgetWad);
    /// @notice The trade would leave less cash than settled holders are owed.
    error PayoutsNotCovered(uint256 cash, uint256 pendingPayouts);
    /// @notice A zero amount was given where a positive one is required (or a deposit would mint no share).
    error ZeroAmount();
    /// @notice The book already holds `max` live series.
    error BookFull(uint256 max);
    /// @notice The series is already listed (or was settled).
    error SeriesExists(bytes32 id);
    /// @notice No live series has this id.
    error UnknownSeries(bytes32 id);
    /// @notice The expiry is too close, in the past, or too far.
    error InvalidExpiry(uint256 expiry, uint256 earliest, uint256 latest);
    /// @notice The strike is outside the pricing domain.
    error InvalidStrike(uint256 strikeWad);
    /// @notice Trading in the series closed at `closesAt` (a cutoff before expiry).
    error TradingClosed(bytes32 id, uint256 closesAt);
    /// @notice The premium is above the buyer's maximum.
    error PremiumTooHigh(uint256 premium, uint256 maxPremium);
    /// @notice The buy-back proceeds are below the seller's minimum.
    error ProceedsTooLow(uint256 proceeds, uint256 minProceeds);
    /// @notice A position would be left above 0 but below `minPositionWad`.
    error PositionTooSmall(uint256 positionWad, uint256 minPositionWad);
    /// @notice Selling back more options than held.
    error InsufficientPosition(bytes32 id, uint256 heldWad, uint256 sizeWad);
    /// @notice Open interest would exceed its cap: in the series (`id` non-zero) or across the book (`id` zero).
    error OpenInterestExceeded(bytes32 id, uint256 openInterestWad, uint256 maxWad);
    /// @notice After the trade the book would need `requiredWad` of collateral, but only `availableWad` of cash
    /// (less unclaimed payouts) is there (quote wad).
    error InsufficientCollateral(uint256 requiredWad, int256 availableWad);
    /// @notice The sale would lock more than `maxUtilizationBps` of the assets (`lockedWad` > `maxLockedWad`).
    error UtilizationExceeded(uint256 lockedWad, uint256 maxLockedWad);
    /// @notice `holder`'s `lockedShares` most recently minted shares cannot leave before `until`.
    error SharesLocked(address holder, uint256 lockedShares, uint256 until);
    /// @notice Liabilities reach assets (quote wad): no deposit is accepted.
    error LiabilitiesExceedAssets(uint256 assetsWad, uint256 liabilitiesWad);
    /// @notice Series `id` has expired and awaits `settleSeries`: deposits and withdrawals wait for it.
    error SettlementPending(bytes32 id);
    /// @notice The withdrawal asks for more than the cash not needed to cover the book (`freeAssets`).
    error WithdrawalExceedsFreeCash(uint256 assets, uint256 freeAssets);
    /// @notice Settling a series before its expiry.
    error SeriesNotExpired(bytes32 id, uint256 expiry);
    /// @notice `roundId` is not the oracle round that was current at expiry.
    error InvalidSettlementRound(uint80 roundId, uint256 roundUpdatedAt, uint256 expiry);
    /// @notice The series has not been settled.
    error NotSettled(bytes32 id);
    /// @notice `holder` has no position in the settled series.
    error NothingToClaim(bytes32 id, address holder);
    /// @notice Only an empty series can be delisted.
    error SeriesNotEmpty(bytes32 id, int256 sizeWad);
    /// @notice A parameter is outside its allowed range [min, max].
    error InvalidParameter(Param param, uint256 value, uint256 min, uint256 max);
    /// @notice The AMM does not trade this vault's underlying/quote pair.
    error AmmPairMismatch(address ammUnderlying, address ammQuote);
    /// @notice The perp market is not margined in this vault's quote asset or not priced by its oracle.
    error PerpVenueMismatch(address perpQuote, address perpOracle);
    /// @notice This vault was deployed without a perp market.
    error NoPerpVenue();
    /// @notice A hedge reached the chain after its deadline.
    error HedgeExpired(uint256 deadline);
    /// @notice The perp position's effective margin would be below `minMarginBps` of its notional.
    error PerpMarginTooLow(int256 effectiveMargin, uint256 requiredMargin);
    /// @notice Posting would take the perp margin above `maxMarginBps` of the largest hedge the book can need.
    error PerpMarginAboveCap(uint256 marginAfter, uint256 cap);
}

/// @title IOptionVaultCore — the functions `OptionVault` serves itself: hedging and the ERC-4626 share accounting
interface IOptionVaultCore is IOptionVaultTypes, IERC4626 {
    // ---------------------------------------------------------------------------------------------------------
    // Hedging
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Trades the hedge on the AMM. Keeper only; the keeper chooses the size.
    /// @param buyUnderlying True to pay quote for underlying (raises delta), false to sell underlying (lowers it).
    /// @param amountIn Exact amount paid in, in the input token's decimals.
    /// @param minAmountOut The keeper's own bound on the AMM output (the vault also enforces the oracle bound).
    /// @param deadline Latest block timestamp at which the swap may execute.
    /// @return deltaBeforeWad Net delta before the trade.
    /// @return deltaAfterWad Net delta after the trade.
    function rebalance(bool buyUnderlying, uint256 amountIn, uint256 minAmountOut, uint256 deadline)
        external
        returns (int256 deltaBeforeWad, int256 deltaAfterWad);

    /// @notice Trades the hedge on the perp market (`perp()`). Keeper only. Every guard of `rebalance` applies, on
    /// the same net delta, spacing and budget: |net delta| above the tolerance, reduced, no overshoot beyond it,
    /// |sizeDeltaWad| ≤ `maxTradeWad`, the all-in price per unit — fill ± fee / |size| — within `maxSlippageBps` of
    /// the oracle, the notional (|size| · S) and the slippage (|size| · |all-in − S| where against the vault, fee
    /// included) charged to the budget. Afterwards the position's effective margin must be at least
    /// `minMarginBps` of its notional, unless the trade only reduced the position.
    /// @param sizeDeltaWad Underlying wad: > 0 buys (raises delta), < 0 sells short (lowers it).
    /// @param acceptablePriceWad The keeper's own worst fill (the market's `acceptablePrice`, fee excluded).
    /// @param deadline Latest block timestamp at which the trade may execute.
    /// @return deltaBeforeWad Net delta before the trade.
    /// @return deltaAfterWad Net delta after the trade.
    function hedgePerp(int256 sizeDeltaWad, uint256 acceptablePriceWad, uint256 deadline)
        external
        returns (int256 deltaBeforeWad, int256 deltaAfterWad);

    // ---------------------------------------------------------------------------------------------------------
    // Core views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Net delta (book + underlying held + perp position) at the latest oracle answer, exactly as
    /// `rebalance` and `hedgePerp` compute it.
    function netDeltaWad() external view returns (int256);

    /// @notice The contract that serves `IOptionVaultBook` for this vault (by DELEGATECALL from the vault).
    function extension() external view returns (address);
}

/// @title IOptionVaultBook — the functions `OptionVaultExtension` serves through the vault: the book, its views and
/// the administration
interface IOptionVaultBook is IOptionVaultTypes {
    // ---------------------------------------------------------------------------------------------------------
    // Book
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Lists a new series. Manager only.
    /// @param isCall Call (true) or put (false).
    /// @param strikeWad Strike, quote units per underlying, 18 decimals.
    /// @param expiry Unix timestamp; at least the trading cutoff from now and at most `MAX_EXPIRY_SECONDS` away.
    /// @return id The series id, `keccak256(abi.encode(isCall, strikeWad, expiry))`.
    function listSeries(bool isCall, uint256 strikeWad, uint256 expiry) external returns (bytes32 id);

    /// @notice Removes a series with no open position, freeing its slot in the bounded book. Manager only.
    function delistSeries(bytes32 id) external;

    /// @notice Buys `sizeWad` options of series `id` from the vault for `receiver`, paying the premium (see the
    /// contract notice) in the quote asset.
    /// @dev Reverts when paused, the oracle is unusable, trading in the series has closed, the premium exceeds
    /// `maxPremium`, the position or open interest is out of bounds, or the vault could not pay its book afterwards
    /// (`InsufficientCollateral`, `UtilizationExceeded`).
    /// @return premium Quote tokens pulled from the caller (rounded up, in the vault's favour).
    function openPosition(bytes32 id, uint256 sizeWad, uint256 maxPremium, address receiver)
        external
        returns (uint256 premium);

    /// @notice Sells `sizeWad` of the caller's options of series `id` back to the vault at the bid (see the
    /// contract notice); the proceeds go to `receiver`.
    /// @dev Reverts when paused, the oracle is unusable, trading has closed, the caller holds less, the position
    /// left would be dust, the proceeds are below `minProceeds`, or the book would be left short of collateral
    /// (shorter than it was, if it already was).
    /// @return proceeds Quote tokens paid (rounded down, in the vault's favour).
    function closePosition(bytes32 id, uint256 sizeWad, uint256 minProceeds, address receiver)
        external
        returns (uint256 proceeds);

    /// @notice What `openPosition(id, sizeWad, …)` would cost now (reverts as it would on price and series).
    function quoteOpen(bytes32 id, uint256 sizeWad) external view returns (uint256 premium);

    /// @notice What `closePosition(id, sizeWad, …)` would pay now (reverts as it would on price and series).
    function quoteClose(bytes32 id, uint256 sizeWad) external view returns (uint256 proceeds);

    /// @notice Settles an expired series against oracle round `roundId` — the round current at expiry: updated at
    /// or before expiry, and either the latest round or followed (in its phase, or by the first round of the next
    /// aggregator phase) by a round updated after expiry. Anyone may call.
    /// @dev The series leaves the book; its payout becomes a liability (`pendingPayouts`) until claimed. The price
    /// is that round's answer if usable, else the next round's (the first answer after expiry).
    function settleSeries(bytes32 id, uint80 roundId) external;

    /// @notice Pays the caller's settled position in series `id` to `receiver`: in the quote asset, and for any
    /// part the vault's cash cannot cover, in the underlying at the (usable) oracle price moved by `latencyBps`
    /// against the caller, as far as the vault holds it. What neither covers (e.g. while the oracle is unusable)
    /// stays claimable: the caller's position is reduced to it.
    /// @return payout Quote tokens paid (rounded down).
    function claim(bytes32 id, address receiver) external returns (uint256 payout);

    // ---------------------------------------------------------------------------------------------------------
    // Views (`VaultLens` assembles them, with the Greeks, into one keeper snapshot)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Spacing, budget left in the current window, oracle usability and pause state.
    function hedgeStatus() external view returns (HedgeStatus memory);

    /// @notice The live series and their ids (at most `MAX_LIVE_SERIES`); the order changes when a series leaves.
    function book() external view returns (bytes32[] memory ids, Series[] memory series);

    /// @notice The long position of `holder` in series `id`, underlying wad.
    function positionOf(bytes32 id, address holder) external view returns (uint256 sizeWad);

    /// @notice Whether series `id` has been settled, and its payout per option (quote wad).
    function settlementOf(bytes32 id) external view returns (bool settled, uint256 payoutPerUnitWad);

    /// @notice The current rebalance bounds and budget.
    function hedgeParams() external view returns (HedgeParams memory);

    /// @notice The current pricing parameters.
    function riskParams() external view returns (RiskParams memory);

    /// @notice The current collateral and size limits.
    function bookLimits() external view returns (BookLimits memory);

    /// @notice Whether trading is halted.
    function paused() external view returns (bool);

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the rebalance bounds and budget. Manager only. The budget's usage carries over.
    function setHedgeParams(HedgeParams calldata params) external;

    /// @notice Sets volatility, rate, spread and charges. Manager only.
    function setRiskParams(RiskParams calldata params) external;

    /// @notice Sets the collateral and size limits. Manager only; existing positions are not affected.
    function setBookLimits(BookLimits calldata limits) external;

    /// @notice Halts rebalancing, sales, buy-backs and deposits. Guardian only.
    function pause() external;

    /// @notice Resumes trading. Admin only.
    function unpause() external;

    // ---------------------------------------------------------------------------------------------------------
    // Perp margin
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Moves `amount` quote units of cash into the vault's perp margin. Keeper only; allowed while paused
    /// (a top-up protects the position). The cash must stay above unclaimed payouts plus what the book requires
    /// (the collateral check), and the effective margin afterwards within `maxMarginBps` of the notional of
    /// max(open interest, |perp position|) at the oracle price (the open interest bounds |book delta|). While the
    /// vault's oracle is unusable but the market still prices (and can liquidate) an open position, a top-up to
    /// `minMarginBps` of its notional at the market's price is allowed, from cash beyond unclaimed payouts.
    /// @dev Reverts with `NoPerpVenue`, `ZeroAmount`, an oracle error (no position open), the market's error,
    /// `InsufficientCollateral` (also for more than the cash), `PayoutsNotCovered` or `PerpMarginAboveCap`.
    function postPerpMargin(uint256 amount) external;

    /// @notice Moves `amount` quote units of the perp margin back to the vault's cash. Keeper only. With a position
    /// open, its effective margin afterwards must stay at least `minMarginBps` of its notional (and the market's
    /// own checks apply); with none, all of it may come back.
    /// @dev Reverts with `NoPerpVenue`, `ZeroAmount`, `PerpMarginTooLow` or the market's error.
    function withdrawPerpMargin(uint256 amount) external;

    /// @notice Sets the perp margin bounds, basis points of notional: 1 ≤ minMarginBps ≤ maxMarginBps ≤ 10,000.
    /// Manager only.
    function setPerpMarginBounds(uint16 minMarginBps, uint16 maxMarginBps) external;

    /// @notice The perp margin bounds (0, 0 until the manager sets them: no margin may be posted).
    function perpMarginBounds() external view returns (uint256 minMarginBps, uint256 maxMarginBps);

}

/// @title IOptionVault — the specification of a delta-hedged option-writing vault
/// @notice An ERC-4626 vault on a quote asset (e.g. USDC) that writes cash-settled European options on an
/// underlying (e.g. WETH), prices them on-chain with Black–Scholes from an oracle price and a manager-set implied
/// volatility, buys them back at a bid before expiry, and hedges its net delta by trading the underlying on a
/// constant-product AMM or, where it was deployed with one, a perpetual-futures market (`perp`, `IPerpMarket`),
/// which can also go short.
///
/// Units: `…Wad` values have 18 decimals. Prices (`spotWad`, `strikeWad`) are quote units per one underlying;
/// sizes and deltas (`sizeWad`, `deltaWad`) are in underlying units; notional, slippage, premiums and collateral in
/// wad are quote units. Token amounts without a suffix are in the token's own decimals; `…Budget` values are whole
/// quote units. Signed Greeks are the vault's: a vault that sold calls has negative delta.
///
/// Prices. With S the oracle price, ε = `latencyBps`/1e4, s = `spreadBps`/1e4 and BS(·) the Black–Scholes value:
/// - a buyer pays, per option, max(BS(S⁺)·(1 + s) + C, S·`minPremiumBps`/1e4), rounded up, where S⁺ is S moved
///   by ε against the vault (up for a call, down for a put) and C = L·`capitalChargeBps`/1e4·τ/365 days is the
///   capital charge on the collateral L one option locks on its own (a put: its strike; a call: its loss at its
///   stress price, max(S, K)·(1 + `stressUpBps`/1e4) − K);
/// - a holder selling back receives, per option, BS(S⁻)·(1 − s), rounded down, S⁻ being S moved by ε against
///   the seller (down for a call, up for a put);
/// - what a sale or a buy-back makes beyond the mid mark BS(S) (the margin) is earned over the series' life,
///   linearly to expiry — whoever carries the options earns it, not a deposit that comes and goes around a trade;
/// - shares are minted at the net asset value (NAV) plus |Δ|·S·ε and redeemed at NAV − |Δ|·S·ε − |Γ|·(S·ε)²/2,
///   Δ and Γ the vault's net delta and gamma, so that no round trip profits from an oracle update seen coming
///   while it is within 2ε (within ε for a buyer). NAV = cash + hedge·S + the perp position's effective margin
///   (`IPerpMarket` formula (7), when positive and the position is not liquidatable) − unclaimed payouts − Σ |size|·BS(S) − margin not yet earned,
///   liabilities rounded up. Net delta = the book's + the underlying held + the perp position. Shares just minted are locked for `depositLockSeconds`.
///
/// Collateral. Every sale leaves the vault's cash, less unclaimed payouts, covering its whole book: each series at
/// its own worst price — a put at 0 (its strike), a call at its stress price max(S, K)·(1 + `stressUpBps`/1e4) —
/// and series of different expiries separately, Σ over expiries of max(what its puts pay at 0, what its calls pay
/// at their stress prices): the price may sit at one extreme at one expiry and at the other at the next. The hedge
/// counts for nothing (it may be worth nothing by then), and so does the perp margin. A sale must also leave at most `maxUtilizationBps` of the
/// assets (cash − payouts + hedge·S) locked by that requirement, and the open interest within
/// `maxSeriesOpenInterestWad` per series and `maxOpenInterestWad` across the book; positions are 0 or at least
/// `minPositionWad`. Withdrawals may take only the cash beyond the requirement; a buy-back may not leave the book
/// short of it (or, if it already was, no shorter).
///
/// The keeper is untrusted: `rebalance` (the AMM) and `hedgePerp` (the perp market) let it choose the venue and
/// the size (partial hedges are fine), and the contract
/// guarantees the trade only ever reduces risk — |net delta| was above `deltaToleranceWad`, decreases, and does
/// not overshoot past zero by more than that tolerance, at a price within `maxSlippageBps` of the oracle, with a
/// usable oracle, no sooner than `minRebalanceInterval` blocks after the previous rebalance, no larger than
/// `maxTradeWad`, never spending cash owed to settled holders, not while paused — and that hedging never costs
/// more than the manager's budget: in any `budgetWindowSeconds`-long stretch of time, the notional traded
/// (valued at the oracle) stays within `notionalBudget` and the slippage paid against the oracle (fee and price
/// impact) within `slippageBudget`. Both venues share the spacing and the budget. On the perp the keeper also
/// moves margin between the vault's cash and the market, within the manager's `perpMarginBounds`.
///
/// Keeper networks that follow Chainlink Automation's `checkUpkeep`/`performUpkeep` convention serve a vault
/// through its `BandUpkeep` adapter (granted `KEEPER_ROLE`), which sizes its own trades on-chain.
///
/// @dev Warning — what is and is not guaranteed (each promise below is replayed as an attack in
/// `test/solidity/Attacks.t.sol` and checked by the invariant campaign in `test/solidity/VaultInvariants.t.sol`;
/// the perp venue's in `test/vault-perp.test.ts`, `test/vault-perp-attacks.test.ts` and
/// `test/solidity/PerpVault.t.sol`):
/// - Adversarial keeper: the most a `KEEPER_ROLE` holder (or an open `BandUpkeep`, or anyone sandwiching them)
///   can cost depositors is the hedging budget: in any `budgetWindowSeconds` of time, at most `slippageBudget`
///   quote units paid beyond the oracle price, on at most `notionalBudget` quote units traded. Slippage is measured
///   against the oracle, which may lag the market by up to `latencyBps`, so the full bound is `slippageBudget` +
///   `latencyBps` × `notionalBudget`. With the deploy defaults: 10,000 counted, 25,000 at most with an oracle 0.5%
///   off the market, in any 24 h (2.5% of a 1,000,000 vault a day; a sandwiching keeper measured 9,517 before the
///   budget stopped it). The keeper cannot move the vault's delta away from zero, nor churn inside the tolerance.
///   It can fail to hedge (liveness): the vault then carries its delta. A change of the window or the budgets by
///   the manager starts the accounting afresh, carrying only the usage of the last two windows of the old length.
/// - The oracle is trusted for its price and liveness. A price that moves by more than the latency between two
///   updates, and is seen coming, still lets a buyer gain the excess over ε (a depositor, over 2ε). Trading,
///   deposits and withdrawals (while the vault has options open) need a usable oracle: an answer > 0, no older
///   than `maxOracleAge`, and, on an L2 with a sequencer-uptime feed, the sequencer up for longer than
///   `SEQUENCER_GRACE_PERIOD`. A dead oracle holds withdrawals until it recovers; with no option open, depositors
///   leave at the cash value (any underlying held and any perp margin stay with those who remain).
/// - Settlement uses the oracle round current at expiry (across Chainlink aggregator phase changes); if that
///   answer is unusable (older than `maxOracleAge` or ≤ 0), the first usable answer after expiry, looked for up
///   to 32 rounds on. Between expiry and settlement, deposits and withdrawals are held (`SettlementPending`);
///   anyone can settle.
/// - Collateral is checked at every sale, buy-back and withdrawal, up to each call's stress price; a rally past
///   it, or the keeper's hedge trades between two checks (a buy spends cash, within the notional budget), can
///   leave the book under-collateralised until the market or the hedge comes back. Deposits are refused while
///   liabilities reach assets.
/// - Settled claims are paid in the quote asset; when cash is short (it went into the hedge), the rest is paid in
///   the underlying at the oracle price moved by ε against the claimer, as far as the vault holds it, and what
///   neither covers stays claimable. Rebalancing never spends cash owed to settled holders.
/// - Deposits: newly minted shares cannot be redeemed or transferred for `depositLockSeconds` (a new mint to the
///   same holder restarts the lock on its locked shares, not on its older ones).
/// - The manager is trusted to set volatility, rates, spreads, charges and bounds honestly; a wrong volatility
///   misprices premiums and the NAV, and a parameter change moves the NAV at once (the deposit lock keeps a
///   deposit from taking such a jump in and out at no risk). The guardian can halt trading but cannot move funds.
/// - The AMM is fixed at deployment and only ever called by `rebalance`. A spot AMM cannot short: a book whose
///   delta is positive can be hedged only down to a zero underlying balance (`InsufficientHedge` beyond).
/// - The perp market, if any, is fixed at deployment (checked to share the quote asset and the oracle) and trusted
///   like the oracle: its views value the position in the NAV, and `hedgePerp` checks the fill and fee it reports
///   against the oracle bound. While it cannot value the position (its own oracle bound is tighter), deposits and
///   withdrawals wait and `totalAssets` counts the perp at nothing. Its own Warning list (`IPerpMarket`) applies.
/// - Perp margin: the keeper may post cash into the margin only from what the book does not require, up to
///   `maxMarginBps` of the notional of max(open interest, |position|), and take it back only down to
///   `minMarginBps` of the position's notional; margin posted is not free cash for withdrawals until it comes back.
///   A keeper that does not top up lets a fast move liquidate the position: the vault then loses the margin left
///   (at most the market's maintenance margin at that moment, plus what the move took past it) and carries the
///   book's delta unhedged again. That, not the budget, bounds what an idle keeper costs on the perp. The margin
///   of a liquidatable position counts for nothing in the NAV (anyone can take it). A top-up stays possible while
///   the vault's own oracle is unusable but the market's is not (an L2 sequencer's grace period), up to
///   `minMarginBps`. A sandwich of `hedgePerp` on the market's skew costs the vault within `maxSlippageBps` and
///   the slippage budget, as on the AMM; trading into the skew (fill better than the oracle) charges the budget
///   no slippage, though the NAV still pays the fee.
/// - Pausing stops rebalancing (both venues), sales, buy-backs and deposits; withdrawals, settlement, claims and
///   moving perp margin stay open.
interface IOptionVault is IOptionVaultCore, IOptionVaultBook, IAccessControl {
    /// @notice Settled option payouts not yet claimed, quote decimals.
    function pendingPayouts() external view returns (uint256);

    /// @notice The hedged asset (e.g. WETH).
    function underlying() external view returns (IERC20Metadata);

    /// @notice The price feed: quote per underlying.
    function oracle() external view returns (AggregatorV3Interface);

    /// @notice The hedge venue.
    function amm() external view returns (IMockAmm);

    /// @notice The L2 sequencer-uptime feed, or zero on chains without one.
    function sequencerUptimeFeed() external view returns (AggregatorV3Interface);

    /// @notice The perpetual-futures hedge venue, or zero for a vault that hedges on the AMM only.
    function perp() external view returns (IPerpMarket);

    /// @notice Id of a series: `keccak256(abi.encode(isCall, strikeWad, expiry))`.
    function seriesId(bool isCall, uint256 strikeWad, uint256 expiry) external pure returns (bytes32);

    /// @notice May call `rebalance` (a keeper, or a `BandUpkeep` adapter).
    function KEEPER_ROLE() external view returns (bytes32);
    /// @notice Lists series and sets pricing, limits and hedge parameters.
    function MANAGER_ROLE() external view returns (bytes32);
    /// @notice May pause trading.
    function GUARDIAN_ROLE() external view returns (bytes32);
    /// @notice Most live series the book holds: bounds every loop over the book.
    function MAX_LIVE_SERIES() external view returns (uint256);
    /// @notice Trading in a series closes this long before its expiry.
    function TRADING_CUTOFF_SECONDS() external view returns (uint256);
    /// @notice Latest expiry a new series may have, from now.
    function MAX_EXPIRY_SECONDS() external view returns (uint256);
    /// @notice How long after an L2 sequencer comes back up prices are trusted again.
    function SEQUENCER_GRACE_PERIOD() external view returns (uint256);
    /// @notice The unit of hedging-budget usage, quote wad (1e-4 quote units).
    function BUDGET_UNIT_WAD() external view returns (uint256);
}
