// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPerpMarket
/// @notice A perpetual-futures market on one underlying, margined in one quote token, modelled on the facts of
/// Synthetix perps v2: fills at the oracle price moved by the market's skew, a funding rate that drifts with the
/// skew, maker/taker fees, one isolated-margin position per account, a maintenance margin and liquidation by anyone
/// for a reward. Traders' profits are paid from the market's pool, and their losses and fees paid into it.
///
/// Units (the names carry them):
///   - sizes `…Wad`: underlying wad, signed (1e18 = one underlying; long > 0, short < 0);
///   - prices `…PriceWad`: quote wad per one underlying (an 18-decimal number of quote per underlying);
///   - rates `…RateWad`: wad per day (1e18 = 100% of the price per day); velocities wad per day per day;
///   - funding per unit `…PerUnitWad`: quote wad per one underlying;
///   - margins, P&L, funding of a position, fees, rewards and the pool: quote token units (its own decimals, e.g. 6);
///   - fees and margins in basis points (1 bp = 1/10,000).
/// Let `S = skewScale`, `K = marketSkew()` (the sum of all sizes), `p = oraclePrice()`, `DAY = 86,400 seconds`.
///
/// Formulas (each implemented exactly; rounding stated with each, always against the trader):
///   (1) oracle price   p = answer · 10^(18 − feedDecimals); reverts `StaleOracle` when answer ≤ 0 or
///                      block.timestamp − updatedAt > maxOracleAge.
///   (2) premium        pd(s) = s / S.
///   (3) fill price     fill(D) = p · (1 + (pd([K]) + pd([K + D])) / 2)  = p · (2S + [K] + [K + D]) / (2S),
///                      the oracle price moved by the average of the premium before and after the trade, where
///                      [x] = clamp(x, −S, S) (each premium within ±100%, so a fill is in [0, 2p]; the clamp only
///                      acts where a liquidation has left |K| > S); rounded up for D > 0, down for D ≤ 0. A trade
///                      may not leave |K + D| > S, unless it only brings an |K| already above S closer to zero on
///                      the same side (`MaxSkewExceeded`).
///   (4) order fee      the part of D that brings K towards zero, maker = min(|D|, |K|) when D and K have opposite
///                      signs (else 0), pays makerFeeBps; the rest, taker = |D| − maker (the part taking the skew
///                      away from zero, or beyond zero when it flips), pays takerFeeBps, each on its notional at the
///                      fill price: fee = (maker · makerFeeBps + taker · takerFeeBps) / 10⁴ · fill(D), in quote
///                      units rounded up.
///   (5) funding        v = clamp(K / S, −1, 1) · maxFundingVelocity   (wad per day per day);
///                      r(t) = r_last + v · (t − t_last) / DAY          (wad per day; rounded toward zero);
///                      F(t) = F_last − (r_last + r(t)) / 2 · (t − t_last) / DAY · p
///                                                                    (quote wad per underlying; toward zero).
///                      A positive rate makes longs pay and shorts receive. Before every change of the skew (a
///                      trade, a liquidation) and of `skewScale` or `maxFundingVelocity`, the market recomputes:
///                      r_last = r(now), F_last = F(now), t_last = now, at the oracle price of that moment.
///   (6) position       accrued funding = size · (F(now) − F_entry)    (positive = received);
///                      P&L = size · (p − entry)                        (entry = the last fill price);
///                      each converted to quote units rounded down (towards −∞);
///                      remaining margin = margin + P&L + funding       (signed inside; views floor it at 0).
///   (7) margins        liquidation reward  = max(minLiquidationReward, |size| · p · liquidationRewardBps / 10⁴);
///                      liquidation premium = p · size² / (2S)   (the closing premium as if the skew were zero);
///                      maintenance margin  = |size| · p · maintenanceMarginBps / 10⁴ + reward + liquidation premium;
///                      initial margin      = |size| · p / maxLeverage;
///                      each in quote units rounded up.
///                      premium credit      = max(0, size · (p − fill)) at the position's last trade (quote units,
///                                            rounded down): what the trade collected at p by trading into the
///                                            skew, which closing at the same skew pays back;
///                      effective margin    = remaining margin − premium credit;
///                      liquidatable ⇔ size ≠ 0 and effective margin ≤ maintenance margin. The checks after a trade
///                      and a withdrawal use the effective margin too. Both terms are independent of the current
///                      skew, so no trader can push another towards liquidation by moving it.
///
/// Invariants: no trade takes |K| above S, nor further from zero when it is above S (`MaxSkewExceeded`), and
/// `skewScale` cannot be set below |K|; only a liquidation can leave |K| > S (it removes a position whatever the
/// others hold), and trades then bring it back; the market's quote balance is at least `pool()` plus the sum of
/// every account's margin (tokens sent to it directly stay unclaimed).
/// @dev Warning:
///   - The oracle is trusted: whoever moves it moves every P&L, and a stale or non-positive answer halts trading,
///     withdrawals from open positions and liquidations (deposits, `fundPool` and withdrawals with no position
///     continue).
///   - The owner sets every parameter within the bounds of `setParams`, at once and without delay; raising the
///     maintenance margin or lowering the leverage can make open positions liquidatable.
///   - The pool is the counterparty of every trader: a profit, a funding receipt or a liquidation reward that the
///     pool cannot cover reverts with `InsufficientPool` (a trader in profit cannot close until the pool is funded)
///     rather than being paid from other traders' margin. The net funding of an unbalanced market is paid by or
///     into the pool.
///   - Fills are at the oracle's current answer: a trader who sees the next answer before it lands (a pending
///     update in the mempool, a slower feed) trades at the stale one and takes the move from the pool, less the
///     fees and the premium it pays both ways. Synthetix moved to delayed off-chain orders for this reason; this
///     market does not, so its pool must be sized for it (`test/perp.test.ts` replays the trade).
///   - Positions are valued at the oracle price p but close at a fill price. Two attacks on that gap are closed by
///     formula (7) and replayed in test/perp-attacks.test.ts: a premium collected by trading into a skew does not
///     count as margin (the premium credit), so an account cannot withdraw its margin and keep a free option on
///     the pool; and the maintenance margin holds the zero-skew closing premium, which the pool keeps on
///     liquidation, so liquidating one leg of a hedged pair at p does not hand the other leg's premium to its
///     owner. The premium credit is fixed at the trade: a later move of the skew does not release it.
///   - Funding accrued since the last recomputation is priced at the oracle answer of the moment it is recomputed,
///     and any trade recomputes it: a trader can pick the print (a 1-wei trade at a spike); the lever grows with
///     the time since the last trade.
///   - The quote token is assumed to move exactly the amount asked (no fee-on-transfer, no rebasing).
interface IPerpMarket {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The market's parameters (constructor, then `setParams`). Bounds: see `setParams`.
    struct MarketParams {
        uint256 skewScale; // S: underlying wad, > 0; the skew at which the premium is 100%
        uint256 maxFundingVelocity; // wad per day per day: the funding rate's drift at |K| = S
        uint256 makerFeeBps; // on the part of a trade that brings the skew towards zero
        uint256 takerFeeBps; // on the part that takes it away from zero
        uint256 maintenanceMarginBps; // of notional at the oracle price
        uint256 liquidationRewardBps; // of notional at the oracle price
        uint256 minLiquidationReward; // quote units
        uint256 maxLeverage; // wad (10e18 = 10x): initial margin = notional / maxLeverage
        uint256 maxOracleAge; // seconds
    }

    /// @notice One account's position, valued now at the oracle price (formulas (6) and (7)).
    struct PositionView {
        int256 sizeWad; // underlying wad, long > 0
        uint256 margin; // quote units, as settled at the last trade, deposit or withdrawal
        uint256 entryPriceWad; // the last fill price
        int256 pnl; // quote units, size · (p − entry), rounded down
        int256 funding; // quote units, size · (F(now) − F_entry), rounded down; positive = received
        uint256 remainingMargin; // quote units, max(0, margin + pnl + funding)
        uint256 maintenanceMargin; // quote units (0 without a position)
        uint256 initialMargin; // quote units (0 without a position)
        uint256 premiumCredit; // quote units: the premium the last trade collected at p, not counted as margin
        bool liquidatable; // size ≠ 0 and margin + pnl + funding − premiumCredit ≤ maintenanceMargin
    }

    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice `account` added `amount` quote units to its margin.
    event MarginDeposited(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` quote units of its margin.
    event MarginWithdrawn(address indexed account, uint256 amount);
    /// @notice `account` traded `sizeDeltaWad` at `fillPriceWad`, paying `fee`; `settled` (P&L at the fill price
    /// and funding, quote units) was moved into its margin, which is now `marginAfter`. The trade recomputed funding
    /// first (formula (5)): `fundingRateWad` = r_last and `fundingPerUnitWad` = F_last are the new funding state,
    /// and F_last is the position's new F_entry.
    event PositionModified(
        address indexed account,
        int256 sizeDeltaWad,
        int256 sizeAfterWad,
        uint256 fillPriceWad,
        uint256 fee,
        int256 settled,
        uint256 marginAfter,
        int256 fundingRateWad,
        int256 fundingPerUnitWad
    );
    /// @notice `account`'s position of `sizeWad` was closed at `priceWad` by `liquidator`, who was paid `reward`;
    /// its whole margin went to the pool. `remainingMargin` is the signed value the position had at closure.
    event PositionLiquidated(
        address indexed account,
        address indexed liquidator,
        int256 sizeWad,
        uint256 priceWad,
        int256 remainingMargin,
        uint256 reward
    );
    /// @notice Funding was recomputed (formula (5)) by a liquidation or `setParams`: `rateWad` = r_last,
    /// `fundingPerUnitWad` = F_last, at `timestamp`. A trade reports the same in `PositionModified`.
    event FundingRecomputed(int256 rateWad, int256 fundingPerUnitWad, uint256 timestamp);
    /// @notice `from` added `amount` quote units to the pool.
    event PoolFunded(address indexed from, uint256 amount);
    /// @notice The owner set new parameters.
    event ParamsUpdated(MarketParams params);

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The oracle's answer is ≤ 0 or older than `maxOracleAge`.
    error StaleOracle(int256 answer, uint256 updatedAt, uint256 maxOracleAge);
    /// @notice A zero size change was given.
    error ZeroSize();
    /// @notice A zero amount was given where a positive one is required.
    error ZeroAmount();
    /// @notice The fill is worse than the trader's bound: above it for a buy (D > 0), below it for a sell.
    error PriceOutOfBounds(uint256 fillPriceWad, uint256 acceptablePriceWad);
    /// @notice The trade would take |skew| above `skewScale`, or further from zero when it is already above.
    error MaxSkewExceeded(int256 skewAfterWad, uint256 skewScaleWad);
    /// @notice The position's remaining margin would be below `required` (the initial margin, or 0 when closing).
    error InsufficientMargin(int256 remainingMargin, uint256 required);
    /// @notice After the change the position would be liquidatable.
    error WouldBeLiquidatable(int256 remainingMargin, uint256 maintenanceMargin);
    /// @notice The account's margin is below the amount asked for.
    error WithdrawalExceedsMargin(uint256 amount, uint256 margin);
    /// @notice The pool cannot pay `required` quote units: it holds `available`.
    error InsufficientPool(uint256 available, uint256 required);
    /// @notice The position is not liquidatable (or there is none).
    error NotLiquidatable(address account, int256 remainingMargin, uint256 maintenanceMargin);
    /// @notice A parameter is outside its bounds (`name` says which).
    error InvalidParam(string name, uint256 value);

    // ---------------------------------------------------------------------------------------------------------
    // Trading
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Pulls `amount` quote units from the caller (`transferFrom`) into its margin. Allowed at any time,
    /// also to top up a liquidatable position. Emits `MarginDeposited`.
    /// @dev Reverts with `ZeroAmount`.
    function depositMargin(uint256 amount) external;

    /// @notice Sends `amount` quote units of the caller's margin to the caller. With an open position, afterwards
    /// the effective margin (formula (7)) must be ≥ the initial margin and the position not liquidatable. Emits `MarginWithdrawn`.
    /// @dev Reverts with `ZeroAmount`, `WithdrawalExceedsMargin` (only settled margin can be withdrawn: P&L and
    /// funding are realised by a trade), `WouldBeLiquidatable`, `InsufficientMargin`, or `StaleOracle` (only with
    /// an open position).
    function withdrawMargin(uint256 amount) external;

    /// @notice Changes the caller's position by `sizeDeltaWad` at `fillPrice(sizeDeltaWad)`.
    /// Steps: recompute funding (formula (5)); settle into the margin the position's P&L at the fill price,
    /// size · (fill − entry), and its accrued funding, each rounded down, minus `orderFee(sizeDeltaWad)`; then
    /// size += D, entry = fill, F_entry = F(now).
    /// Settling at the fill price (not the oracle price) makes the impact symmetric: the settled part keeps its
    /// oracle value and only the traded D pays or earns p − fill, so a round trip at a constant skew has no
    /// impact and an opening premium cannot be collected without paying the closing one.
    /// Afterwards: |skew| ≤ skewScale (or closer to zero, formula (3)); margin ≥ 0; with a position left, not
    /// liquidatable, and effective margin (formula (7)) ≥ initial margin unless the trade only reduces |size| (same
    /// side, smaller).
    /// Emits `PositionModified` (with the recomputed funding state).
    /// @param sizeDeltaWad D: underlying wad, > 0 buys (longer), < 0 sells (shorter).
    /// @param acceptablePriceWad The worst fill: a buy requires fill ≤ it, a sell fill ≥ it.
    /// @dev Reverts with `ZeroSize`, `StaleOracle`, `MaxSkewExceeded`, `PriceOutOfBounds`, `InsufficientMargin`,
    /// `WouldBeLiquidatable`, or `InsufficientPool` when the pool plus the fee cannot pay the settled profit.
    /// @return fillPriceWad The fill price, fill(D) (formula (3)).
    /// @return fee The order fee paid from the margin (formula (4)), quote units.
    /// @return marginAfter The settled margin after the trade, quote units. Right after a trade the accrued funding
    /// is 0 and P&L = size · (p − fill), so the effective margin (formula (7)) is
    /// marginAfter − max(0, size · (fill − p)).
    function modifyPosition(int256 sizeDeltaWad, uint256 acceptablePriceWad)
        external
        returns (uint256 fillPriceWad, uint256 fee, uint256 marginAfter);

    /// @notice Closes `account`'s liquidatable position at the oracle price p, pays the caller min(liquidation reward,
    /// max(0, effective margin)) and moves the rest of the margin into the pool, the liquidation premium that the
    /// maintenance margin held included (formula (7)).
    /// Closing at p, not at a fill price, makes the closure realise exactly the remaining margin that the
    /// liquidatable test read, so a liquidator's reward cannot be eaten by the impact of the closure and a trader
    /// cannot make its own liquidation cost more by skewing the market; the market forgoes the premium of that one
    /// trade. Funding is recomputed first (the skew changes). Emits `FundingRecomputed` and `PositionLiquidated`.
    /// @dev Reverts with `NotLiquidatable`, `StaleOracle`, or `InsufficientPool` when the reward exceeds the
    /// margin (a position in profit) and the pool cannot pay the difference.
    function liquidate(address account) external;

    /// @notice Pulls `amount` quote units from the caller into the pool. Emits `PoolFunded`.
    /// @dev Reverts with `ZeroAmount`.
    function fundPool(uint256 amount) external;

    /// @notice Sets every parameter at once (owner only). Funding is recomputed first, at the old parameters.
    /// Bounds: 0 < skewScale ≤ 1e33, and a changed skewScale ≥ |marketSkew()|; maxFundingVelocity ≤ 100e18; makerFeeBps,
    /// takerFeeBps ≤ 100; 0 < maintenanceMarginBps ≤ 5,000; liquidationRewardBps ≤ 1,000; minLiquidationReward
    /// ≤ 2^96; 1e18 ≤ maxLeverage ≤ 100e18; (maintenanceMarginBps + liquidationRewardBps) · maxLeverage <
    /// 10⁴ · 1e18 (a position opened at full leverage is not liquidatable); 0 < maxOracleAge ≤ 7 days.
    /// Emits `FundingRecomputed` and `ParamsUpdated`.
    /// @dev Reverts with `InvalidParam`, `StaleOracle`, or `OwnableUnauthorizedAccount`.
    function setParams(MarketParams calldata params) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The quote token (margin, fees, pool).
    function quote() external view returns (address);
    /// @notice The Chainlink-style price feed of the underlying in quote.
    function oracle() external view returns (address);
    /// @notice The current parameters.
    function params() external view returns (MarketParams memory);

    /// @notice Formula (1): the oracle's latest answer in quote wad per underlying. Reverts with `StaleOracle`.
    function oraclePrice() external view returns (uint256 priceWad);

    /// @notice Formula (3): the fill price of a size change D at the current skew (D = 0 gives p · (1 + pd(K))).
    /// @dev Reverts with `MaxSkewExceeded` when |K + D| > skewScale, `StaleOracle`.
    function fillPrice(int256 sizeDeltaWad) external view returns (uint256 fillPriceWad);

    /// @notice Formula (4): the fee of a size change D at the current skew, quote units rounded up.
    /// @dev Reverts as `fillPrice`.
    function orderFee(int256 sizeDeltaWad) external view returns (uint256 fee);

    /// @notice Formula (5): r(now), wad per day.
    function currentFundingRate() external view returns (int256 rateWad);

    /// @notice Formula (5): F(now) at the current oracle price, quote wad per underlying. Reverts with `StaleOracle`.
    function accruedFundingPerUnit() external view returns (int256 fundingPerUnitWad);

    /// @notice The last recomputation: r_last (wad per day), t_last (seconds), F_last (quote wad per underlying).
    function fundingState() external view returns (int256 lastRateWad, uint256 lastTime, int256 lastFundingPerUnitWad);

    /// @notice `account`'s position valued now (formulas (6), (7)). Reverts with `StaleOracle`.
    function positionOf(address account) external view returns (PositionView memory);

    /// @notice `account`'s position size, underlying wad (long > 0): readable whatever the oracle's state.
    function sizeOf(address account) external view returns (int256 sizeWad);

    /// @notice K: the sum of all positions' sizes, underlying wad.
    function marketSkew() external view returns (int256 skewWad);
    /// @notice Quote units in the pool: what pays traders' profits, funding receipts and rewards.
    function pool() external view returns (uint256);
}
