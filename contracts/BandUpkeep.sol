// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {AutomationCompatibleInterface} from "./interfaces/AutomationCompatibleInterface.sol";
import {IMockAmm} from "./interfaces/IMockAmm.sol";
import {IOptionVault, IOptionVaultTypes} from "./interfaces/IOptionVault.sol";

/// @title BandUpkeep
/// @notice Serves one `OptionVault` to any runner of the Chainlink Automation convention with an on-chain band
/// rule: when |net delta| exceeds the vault's `bandWad`, hedge towards zero. The upkeep sizes every trade itself,
/// on the state of the block it runs in: towards zero, cut to the vault's `maxTradeWad`, the hedge held (sales),
/// the cash it may spend (buys), the budget left, and the largest size whose execution price (fee and impact) is
/// within half the vault's slippage bound and whose slippage fits the slippage budget — a large hedge is sliced
/// over blocks. It trades only while
/// the pool's price is within `maxPoolDeviationBps` of the oracle.
/// @dev Grant this contract the vault's `KEEPER_ROLE`. It holds no funds and no state; every trade goes through
/// `OptionVault.rebalance`, so all of the vault's guards apply. `performData` is informational and ignored by
/// `performUpkeep`: a caller can only trigger the hedge the band rule calls for now, never choose its size, so an
/// open runner (zero) cannot grief the vault with dust trades that use up the rebalance interval, nor strip the
/// output bound. What a sandwich around an upkeep can take per trade is bounded by the pool-deviation check and
/// the vault's slippage bound, and per window by the vault's slippage budget.
contract BandUpkeep is AutomationCompatibleInterface {
    /// @notice Why no hedge is due (the reason `checkUpkeep` returns false, `performUpkeep` reverts with).
    enum Idle {
        None,
        Paused,
        OracleUnusable,
        TooSoon,
        WithinBand,
        PoolOffOracle,
        NoTradeableSize
    }

    /// @notice `performUpkeep` when no hedge is due or possible, and why.
    error NothingToPerform(Idle reason);
    /// @notice `performUpkeep` from an address other than the configured runner.
    error NotRunner(address caller, address runner);
    /// @notice `maxPoolDeviationBps` above the 10% ceiling.
    error InvalidPoolDeviation(uint256 bps);

    /// @notice Emitted when an upkeep hedged the vault.
    event UpkeepPerformed(
        address indexed runner, bool buyUnderlying, uint256 amountIn, int256 deltaBeforeWad, int256 deltaAfterWad
    );

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;
    /// @dev Bisection steps for the slippage-budget cut: 2^-48 of the size, far below a token unit.
    uint256 private constant BISECTION_STEPS = 48;

    /// @notice The vault this adapter hedges.
    IOptionVault public immutable vault;
    /// @notice The vault's AMM (read from the vault).
    IMockAmm public immutable amm;
    /// @notice The only address allowed to call `performUpkeep` (e.g. a Chainlink forwarder); zero allows anyone.
    address public immutable runner;
    /// @notice The upkeep trades only while the pool's price is this close to the oracle's.
    uint256 public immutable maxPoolDeviationBps;

    address private immutable _quote;
    address private immutable _underlying;
    AggregatorV3Interface private immutable _oracle;
    uint256 private immutable _quoteScale;
    uint256 private immutable _underlyingScale;
    uint256 private immutable _oracleScale;

    /// @notice A trade the band rule calls for.
    struct Trade {
        bool buy;
        uint256 amountIn;
        uint256 minAmountOut;
    }

    /// @param vault_ The vault to serve; its AMM, tokens, oracle and decimals are read from it.
    /// @param runner_ The only caller of `performUpkeep`, or zero for anyone.
    /// @param maxPoolDeviationBps_ The pool/oracle price gap above which no trade is made (≤ 1,000).
    constructor(IOptionVault vault_, address runner_, uint256 maxPoolDeviationBps_) {
        if (maxPoolDeviationBps_ > 1_000) revert InvalidPoolDeviation(maxPoolDeviationBps_);
        vault = vault_;
        runner = runner_;
        maxPoolDeviationBps = maxPoolDeviationBps_;
        amm = vault_.amm();
        _quote = vault_.asset();
        _underlying = address(vault_.underlying());
        _oracle = vault_.oracle();
        _quoteScale = 10 ** (18 - IERC20Metadata(_quote).decimals());
        _underlyingScale = 10 ** (18 - IERC20Metadata(_underlying).decimals());
        _oracleScale = 10 ** (18 - _oracle.decimals());
    }

    /// @notice Whether the band rule calls for a hedge now, and the trade:
    /// `performData = abi.encode(bool buyUnderlying, uint256 amountIn, uint256 minAmountOut)`, or, when none is
    /// due, `abi.encode(Idle reason)`.
    function checkUpkeep(bytes calldata) external view returns (bool upkeepNeeded, bytes memory performData) {
        (Trade memory t, Idle idle) = plan();
        if (idle != Idle.None) return (false, abi.encode(idle));
        return (true, abi.encode(t.buy, t.amountIn, t.minAmountOut));
    }

    /// @notice Sizes the hedge afresh and executes it through the vault. `performData` is ignored.
    /// @dev Reverts with `NothingToPerform(reason)` when no hedge is due, and with the vault's errors when a guard
    /// fails.
    function performUpkeep(bytes calldata) external {
        if (runner != address(0) && msg.sender != runner) revert NotRunner(msg.sender, runner);
        (Trade memory t, Idle idle) = plan();
        if (idle != Idle.None) revert NothingToPerform(idle);
        (int256 beforeWad, int256 afterWad) = vault.rebalance(t.buy, t.amountIn, t.minAmountOut, block.timestamp);
        emit UpkeepPerformed(msg.sender, t.buy, t.amountIn, beforeWad, afterWad);
    }

    /// @notice The trade the band rule calls for at this block, or why none.
    function plan() public view returns (Trade memory t, Idle idle) {
        IOptionVaultTypes.HedgeStatus memory hs = vault.hedgeStatus();
        if (hs.paused) return (t, Idle.Paused);
        if (hs.oracleStatus != IOptionVaultTypes.OracleStatus.Usable) return (t, Idle.OracleUnusable);
        if (block.number < hs.nextRebalanceBlock) return (t, Idle.TooSoon);
        IOptionVaultTypes.HedgeParams memory hp = vault.hedgeParams();
        int256 deltaWad = vault.netDeltaWad();
        uint256 absDeltaWad = deltaWad >= 0 ? uint256(deltaWad) : uint256(-deltaWad);
        if (absDeltaWad <= hp.bandWad || absDeltaWad <= hp.deltaToleranceWad) return (t, Idle.WithinBand);

        Pool memory pool;
        // Half the vault's slippage bound: an upkeep anyone may trigger should not pay the whole bound on every
        // slice (a large hedge then takes more, cheaper slices).
        (pool, idle) = _pool(deltaWad < 0, (uint256(hp.maxSlippageBps) + 1) / 2);
        if (idle != Idle.None) return (t, idle);
        t.buy = pool.buy;
        uint256 size = _size(pool, hs, Math.min(absDeltaWad, hp.maxTradeWad));
        if (size == 0) return (t, Idle.NoTradeableSize);

        // The exact order at this block's reserves; a buy never receives more than `size` (max trade, delta rule).
        uint256 amountOut;
        if (t.buy) {
            t.amountIn = amm.quoteExactOut(_quote, size);
            amountOut = amm.quoteExactIn(_quote, t.amountIn);
            if (amountOut > size) {
                t.amountIn = amm.quoteExactOut(_quote, size + 1) - 1;
                amountOut = amm.quoteExactIn(_quote, t.amountIn);
            }
        } else {
            t.amountIn = size;
            amountOut = amm.quoteExactIn(_underlying, size);
        }
        if (
            t.amountIn == 0 || amountOut == 0 || !_withinLimit(pool, t.amountIn, amountOut)
                || (t.buy && t.amountIn > pool.spendable)
        ) return (t, Idle.NoTradeableSize);
        t.minAmountOut = amountOut;
    }

    /// @dev The pool, the oracle and the trade's direction and limit, unless the pool is off the oracle.
    function _pool(bool buy, uint256 maxSlippageBps) private view returns (Pool memory p, Idle idle) {
        (, int256 answer,,,) = _oracle.latestRoundData();
        p.spotWad = uint256(answer) * _oracleScale; // answer > 0: the vault reported the oracle usable
        (p.reserveU, p.reserveQ) = amm.getReserves();
        if (p.reserveU == 0 || p.reserveQ == 0) return (p, Idle.PoolOffOracle);
        uint256 poolWad = Math.mulDiv(p.reserveQ * _quoteScale, WAD, p.reserveU * _underlyingScale);
        uint256 gapWad = poolWad > p.spotWad ? poolWad - p.spotWad : p.spotWad - poolWad;
        if (gapWad * BPS > p.spotWad * maxPoolDeviationBps) return (p, Idle.PoolOffOracle);
        p.feeBps = amm.feeBps();
        p.buy = buy;
        p.limitWad = buy
            ? Math.mulDiv(p.spotWad, BPS + maxSlippageBps, BPS)
            : Math.mulDiv(p.spotWad, BPS - maxSlippageBps, BPS);
        if (buy) {
            // A buy may not spend cash owed to settled holders (the vault's `PayoutsNotCovered`).
            uint256 cash = IERC20Metadata(_quote).balanceOf(address(vault));
            uint256 owed = vault.pendingPayouts();
            p.spendable = cash > owed ? cash - owed : 0;
        }
    }

    /// @dev The trade's size in underlying token units: `capWad` (|delta| and `maxTradeWad`) cut to the notional
    /// budget left, the hedge held (sales), the cash spendable (buys), the slippage bound and the slippage budget.
    function _size(Pool memory p, IOptionVaultTypes.HedgeStatus memory hs, uint256 capWad) private view returns (uint256 size) {
        capWad = Math.min(capWad, Math.mulDiv(hs.notionalLeftWad, WAD, p.spotWad));
        if (!p.buy) capWad = Math.min(capWad, IERC20Metadata(_underlying).balanceOf(address(vault)) * _underlyingScale);
        size = Math.min(capWad / _underlyingScale, _priceBoundSize(p));
        if (p.buy) {
            // Buying x costs about Q·x·1e4/((U − x)(1e4 − f)) ≤ C ⇔ x ≤ C·U·(1e4 − f)/(Q·1e4 + C·(1e4 − f)).
            uint256 feeFactor = BPS - p.feeBps;
            size = Math.min(size, Math.mulDiv(p.spendable * feeFactor, p.reserveU, p.reserveQ * BPS + p.spendable * feeFactor));
        }
        size = _budgetBoundSize(p, size, hs.slippageLeftWad);
    }

    /// @dev The pool and the trade's direction, with the vault's execution-price limit.
    struct Pool {
        uint256 reserveU;
        uint256 reserveQ;
        uint256 feeBps;
        bool buy;
        uint256 spotWad;
        uint256 limitWad;
        uint256 spendable; // quote tokens a buy may spend
    }

    /// @dev Largest underlying amount (token units) whose average execution price on `x·y = k` with the fee on the
    /// input meets the limit L. Buying x: price = Q·1e4/((U − x)(1e4 − f)) ≤ L ⇔ x ≤ U − Q·1e4/(L(1e4 − f)).
    /// Selling x: price = (1e4 − f)·Q/(U·1e4 + x(1e4 − f)) ≥ L ⇔ x ≤ ((1e4 − f)·Q/L − U·1e4)/(1e4 − f). Prices in
    /// quote wad per underlying wad; the pool's rounding is checked on the final order.
    function _priceBoundSize(Pool memory p) private view returns (uint256) {
        uint256 feeFactor = BPS - p.feeBps;
        // Q·(quote→wad)·1e4·1e18 / (L·(1e4 − f)·(underlying→wad)): the reserve U' the price limit allows.
        uint256 boundU = Math.mulDiv(p.reserveQ * _quoteScale, BPS * WAD, p.limitWad * feeFactor * _underlyingScale, Math.Rounding.Ceil);
        if (p.buy) return p.reserveU > boundU ? p.reserveU - boundU - 1 : 0;
        // Selling: U·1e4 + x·(1e4 − f) ≤ (1e4 − f)·Q·1e4... in the same units as `boundU`·(1e4 − f)²/1e4.
        uint256 maxDenominator =
            Math.mulDiv(p.reserveQ * _quoteScale, feeFactor * WAD, p.limitWad * _underlyingScale);
        uint256 base = p.reserveU * BPS;
        return maxDenominator > base ? (maxDenominator - base) / feeFactor : 0;
    }

    /// @dev The largest size ≤ `size` whose slippage against the oracle (fee and impact, quote wad) fits `leftWad`:
    /// slippage grows with the size, so a bisection finds it.
    function _budgetBoundSize(Pool memory p, uint256 size, uint256 leftWad) private view returns (uint256) {
        if (_slippageWad(p, size) <= leftWad) return size;
        uint256 lo;
        uint256 hi = size;
        for (uint256 i; i < BISECTION_STEPS && hi - lo > 1; ++i) {
            uint256 mid = (lo + hi) / 2;
            if (_slippageWad(p, mid) <= leftWad) lo = mid;
            else hi = mid;
        }
        return lo;
    }

    /// @dev Slippage of trading `size` underlying units at the pool's marginal-price formula (no rounding).
    function _slippageWad(Pool memory p, uint256 size) private view returns (uint256) {
        if (size == 0) return 0;
        uint256 feeFactor = BPS - p.feeBps;
        uint256 fairWad = Math.mulDiv(size * _underlyingScale, p.spotWad, WAD);
        if (p.buy) {
            if (size >= p.reserveU) return type(uint256).max;
            uint256 paidWad =
                Math.mulDiv(p.reserveQ * size, BPS, (p.reserveU - size) * feeFactor, Math.Rounding.Ceil) * _quoteScale;
            return paidWad > fairWad ? paidWad - fairWad : 0;
        }
        uint256 receivedWad = Math.mulDiv(size * feeFactor, p.reserveQ, p.reserveU * BPS + size * feeFactor) * _quoteScale;
        return fairWad > receivedWad ? fairWad - receivedWad : 0;
    }

    /// @dev The vault's own execution-price check, on the exact order.
    function _withinLimit(Pool memory p, uint256 amountIn, uint256 amountOut) private view returns (bool) {
        if (p.buy) {
            uint256 paidWad = Math.mulDiv(amountIn * _quoteScale, WAD, amountOut * _underlyingScale, Math.Rounding.Ceil);
            return paidWad <= p.limitWad;
        }
        return Math.mulDiv(amountOut * _quoteScale, WAD, amountIn * _underlyingScale) >= p.limitWad;
    }
}
