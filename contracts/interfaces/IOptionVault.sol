// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOptionVault — the specification of a delta-hedged option-writing vault
/// @notice An ERC-4626 vault on a quote asset (e.g. USDC) that writes cash-settled European options on an
/// underlying (e.g. WETH) to buyers, prices them on-chain with Black–Scholes from an oracle price and a
/// manager-set implied volatility, and hedges its net delta by trading the underlying on a constant-product AMM.
///
/// Units: `…Wad` values have 18 decimals. Prices (`spotWad`, `strikeWad`) are quote units per one underlying;
/// sizes and deltas (`sizeWad`, `deltaWad`) are in underlying units; gamma is delta per one quote unit of price;
/// vega is quote units per 1.0 (100 points) of volatility. Token amounts without a suffix are in the token's own
/// decimals. Signed Greeks are the vault's: a vault that sold calls has negative delta.
///
/// The keeper is untrusted: `rebalance` lets it choose the size (partial hedges are fine), and the contract
/// guarantees the trade only ever reduces risk — |net delta| decreases and does not overshoot past zero by more
/// than a tolerance, at a price within a slippage bound of the oracle, with a fresh oracle, no sooner than a
/// minimum number of blocks after the previous rebalance, no larger than a maximum size, and not while paused.
///
/// Keeper networks that follow Chainlink Automation's `checkUpkeep`/`performUpkeep` convention serve a vault
/// through its `BandUpkeep` adapter (granted `KEEPER_ROLE`), which applies the on-chain band rule `bandWad`.
///
/// @dev Warning — trust and liveness assumptions:
/// - The oracle is trusted for price and liveness. Share pricing (`totalAssets`) uses the latest oracle answer
///   even when it is stale, so deposits and withdrawals during an oracle outage are priced at the last answer.
/// - The manager is trusted to set volatility, rates, spreads and bounds honestly; a wrong volatility misprices
///   premiums and the vault's mark-to-market. The guardian can halt trading but cannot move funds.
/// - The AMM is fixed at deployment and only ever called by `rebalance`.
/// - A spot AMM cannot short: a book whose delta is positive (e.g. short puts) can be hedged only down to a zero
///   underlying balance; `rebalance` reverts with `InsufficientHedge` beyond that.
/// - The collateral check covers prices between 0 and `spot · (1 + stressUpBps)` at the time of each new
///   position; a larger move than that can leave short calls under-collateralised.
/// - Settlement reads the oracle round that was current at expiry; it needs a round updated at or after expiry.
/// - Pausing stops rebalancing, new positions and deposits; withdrawals, settlement and claims stay open so that
///   users are never locked in.
interface IOptionVault {
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

    /// @notice The rebalance bounds set by the manager.
    struct HedgeParams {
        uint16 maxSlippageBps; // execution price vs oracle, AMM fee included
        uint32 minRebalanceInterval; // blocks between two rebalances
        uint32 maxOracleAge; // seconds
        uint96 maxTradeWad; // largest underlying amount one rebalance may trade
        uint96 deltaToleranceWad; // how far past zero a rebalance may overshoot
        uint96 bandWad; // the on-chain band rule (`BandUpkeep`) hedges when |net delta| exceeds it
    }

    /// @notice The pricing and risk parameters set by the manager.
    struct RiskParams {
        uint64 volWad; // implied volatility, 1e18 = 100%
        uint64 rateWad; // continuously compounded annual rate
        uint16 spreadBps; // premium markup over the Black–Scholes value
        uint32 stressUpBps; // collateral check covers prices up to spot · (1 + stressUpBps / 1e4)
    }

    /// @notice Everything a keeper needs for one decision, read in one call.
    struct VaultState {
        int256 bookDeltaWad;
        int256 netDeltaWad; // book delta + hedge balance
        int256 gammaWad;
        int256 vegaWad;
        uint256 hedgeBalance; // underlying tokens held (underlying decimals)
        uint256 cashBalance; // quote tokens held (quote decimals)
        uint256 pendingPayouts; // settled, not yet claimed (quote decimals)
        uint256 totalAssets; // ERC-4626 total assets (quote decimals)
        uint256 spotWad;
        uint80 oracleRoundId;
        uint256 oracleUpdatedAt;
        uint256 oracleAgeSeconds;
        bool oracleFresh;
        uint256 ammReserveUnderlying;
        uint256 ammReserveQuote;
        uint256 ammFeeBps;
        uint256 lastRebalanceBlock;
        uint256 nextRebalanceBlock; // first block at which `rebalance` is allowed
        uint256 liveSeries;
        bool paused;
        HedgeParams hedge;
        RiskParams risk;
        uint256 blockNumber;
        uint256 timestamp;
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
    /// @notice An expired series was settled against oracle round `roundId` and left the book.
    event SeriesSettled(
        bytes32 indexed id, uint80 roundId, uint256 settlementPriceWad, uint256 payoutPerUnitWad, uint256 totalPayout
    );
    /// @notice `holder` claimed `payout` for `sizeWad` settled options of series `id`.
    event Claimed(bytes32 indexed id, address indexed holder, address indexed receiver, uint256 sizeWad, uint256 payout);
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
    /// @notice New rebalance bounds.
    event HedgeParamsSet(HedgeParams params);
    /// @notice New pricing and risk parameters.
    event RiskParamsSet(RiskParams params);
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
    /// @notice The trade's execution price is worse than the oracle price by more than the bound.
    error SlippageTooHigh(uint256 executionPriceWad, uint256 limitPriceWad);
    /// @notice The trade would not reduce |net delta|.
    error DeltaNotReduced(int256 deltaBeforeWad, int256 deltaAfterWad);
    /// @notice The trade would cross zero delta by more than the tolerance.
    error HedgeOvershoot(int256 deltaBeforeWad, int256 deltaAfterWad, uint256 toleranceWad);
    /// @notice The trade is larger than `maxTradeWad`.
    error TradeTooLarge(uint256 amountWad, uint256 maxTradeWad);
    /// @notice Selling more underlying than the vault holds.
    error InsufficientHedge(uint256 balance, uint256 amount);
    /// @notice A zero amount was given where a positive one is required.
    error ZeroAmount();
    /// @notice The book already holds `max` live series.
    error BookFull(uint256 max);
    /// @notice The series is already listed (or was settled).
    error SeriesExists(bytes32 id);
    /// @notice No live series has this id.
    error UnknownSeries(bytes32 id);
    /// @notice `seriesAt` past the end of the book.
    error SeriesIndexOutOfRange(uint256 index, uint256 count);
    /// @notice The expiry is too close, in the past, or too far.
    error InvalidExpiry(uint256 expiry, uint256 earliest, uint256 latest);
    /// @notice The strike is outside the pricing domain.
    error InvalidStrike(uint256 strikeWad);
    /// @notice Trading in the series closed at `closesAt` (a cutoff before expiry).
    error TradingClosed(bytes32 id, uint256 closesAt);
    /// @notice The premium is above the buyer's maximum.
    error PremiumTooHigh(uint256 premium, uint256 maxPremium);
    /// @notice After the trade the vault could not pay its worst case at price `stressPriceWad`.
    error InsufficientCollateral(int256 worstCaseValueWad, uint256 stressPriceWad);
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
    error InvalidParameter(string name, uint256 value, uint256 min, uint256 max);
    /// @notice The AMM does not trade this vault's underlying/quote pair.
    error AmmPairMismatch(address ammUnderlying, address ammQuote);

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

    /// @notice Buys `sizeWad` options of series `id` from the vault for `receiver`, paying the on-chain premium
    /// (Black–Scholes at the oracle price and the vault's volatility, plus the spread) in the quote asset.
    /// @dev Reverts when paused, the oracle is stale, trading in the series has closed, the premium exceeds
    /// `maxPremium`, or the vault could not pay its worst case afterwards (`InsufficientCollateral`).
    /// @return premium Quote tokens pulled from the caller (rounded up, in the vault's favour).
    function openPosition(bytes32 id, uint256 sizeWad, uint256 maxPremium, address receiver)
        external
        returns (uint256 premium);

    /// @notice Quote for `openPosition` at the current oracle price.
    function quotePremium(bytes32 id, uint256 sizeWad) external view returns (uint256 premium);

    /// @notice Settles an expired series against oracle round `roundId` — the round current at expiry: updated at
    /// or before expiry, and either the latest round or followed by a round updated after expiry. Anyone may call.
    /// @dev The series leaves the book; its payout becomes a liability (`pendingPayouts`) until claimed.
    function settleSeries(bytes32 id, uint80 roundId) external;

    /// @notice Pays the caller's settled position in series `id` to `receiver`.
    /// @return payout Quote tokens paid (rounded down).
    function claim(bytes32 id, address receiver) external returns (uint256 payout);

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

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Delta, gamma and vega of the option book alone at the oracle price.
    function bookGreeks() external view returns (int256 deltaWad, int256 gammaWad, int256 vegaWad);

    /// @notice Delta, gamma and vega of the whole vault: the book plus the underlying hedge (delta 1 per unit).
    function netGreeks() external view returns (int256 deltaWad, int256 gammaWad, int256 vegaWad);

    /// @notice Everything a keeper needs for one decision.
    function state() external view returns (VaultState memory);

    /// @notice Number of live series in the book (at most `MAX_LIVE_SERIES`).
    function seriesCount() external view returns (uint256);

    /// @notice The live series at `index` (0 ≤ index < `seriesCount()`); the order changes when a series leaves.
    /// `VaultLens.snapshots` returns the whole book with per-series Greeks.
    function seriesAt(uint256 index) external view returns (bytes32 id, Series memory series);

    /// @notice The long position of `holder` in series `id`, underlying wad.
    function positionOf(bytes32 id, address holder) external view returns (uint256 sizeWad);

    // ---------------------------------------------------------------------------------------------------------
    // Administration
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the rebalance bounds. Manager only.
    function setHedgeParams(HedgeParams calldata params) external;

    /// @notice Sets volatility, rate, spread and collateral stress. Manager only.
    function setRiskParams(RiskParams calldata params) external;

    /// @notice Halts rebalancing, new positions and deposits. Guardian only.
    function pause() external;

    /// @notice Resumes trading. Admin only.
    function unpause() external;
}
