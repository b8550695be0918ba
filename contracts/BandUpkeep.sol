// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AutomationCompatibleInterface} from "./interfaces/AutomationCompatibleInterface.sol";
import {IMockAmm} from "./interfaces/IMockAmm.sol";
import {IOptionVault} from "./interfaces/IOptionVault.sol";

/// @title BandUpkeep
/// @notice Serves one `OptionVault` to any runner of the Chainlink Automation convention with an on-chain band
/// rule: when |net delta| exceeds the vault's `bandWad`, hedge back to zero, capped by `maxTradeWad` and the hedge
/// balance, provided the AMM can do it within the vault's slippage bound.
/// @dev Grant this contract the vault's `KEEPER_ROLE`. It holds no funds and no state; every trade goes through
/// `OptionVault.rebalance`, so all of the vault's guards apply (risk only ever reduced, oracle fresh, slippage
/// bound, spacing, size, pause). A separate contract keeps the vault under the 24,576-byte code size limit.
contract BandUpkeep is AutomationCompatibleInterface {
    /// @notice `performUpkeep` while |net delta| is inside the band.
    error DeltaWithinBand(int256 netDeltaWad, uint256 bandWad);
    /// @notice `performUpkeep` from an address other than the configured runner.
    error NotRunner(address caller, address runner);

    /// @notice Emitted when an upkeep hedged the vault.
    event UpkeepPerformed(address indexed runner, bool buyUnderlying, uint256 amountIn, int256 deltaBeforeWad, int256 deltaAfterWad);

    uint256 private constant WAD = 1e18;
    uint256 private constant BPS = 10_000;

    /// @notice The vault this adapter hedges.
    IOptionVault public immutable vault;
    /// @notice The vault's AMM.
    IMockAmm public immutable amm;
    /// @notice The only address allowed to call `performUpkeep` (e.g. a Chainlink forwarder); zero allows anyone.
    /// @dev Open access is safe for the vault (its guards bound every trade, and the band rule is re-checked) but
    /// lets anyone choose when a due hedge executes.
    address public immutable runner;

    address private immutable _quote;
    address private immutable _underlying;
    uint256 private immutable _quoteScale;
    uint256 private immutable _underlyingScale;

    /// @param vault_ The vault to serve.
    /// @param amm_ The vault's AMM (checked against the vault's).
    /// @param runner_ The only caller of `performUpkeep`, or zero for anyone.
    /// @param quoteDecimals Decimals of the vault's quote asset.
    /// @param underlyingDecimals Decimals of the vault's underlying.
    constructor(IOptionVault vault_, IMockAmm amm_, address runner_, uint8 quoteDecimals, uint8 underlyingDecimals) {
        vault = vault_;
        amm = amm_;
        runner = runner_;
        _quote = amm_.quote();
        _underlying = amm_.underlying();
        _quoteScale = 10 ** (18 - quoteDecimals);
        _underlyingScale = 10 ** (18 - underlyingDecimals);
    }

    /// @notice Whether the band rule calls for a hedge now, and the trade:
    /// `performData = abi.encode(bool buyUnderlying, uint256 amountIn, uint256 minAmountOut)`.
    /// @dev False while paused, with a stale oracle, before the rebalance interval has passed, inside the band,
    /// or when the AMM price is off the oracle by more than the vault's slippage bound.
    function checkUpkeep(bytes calldata) external view returns (bool upkeepNeeded, bytes memory performData) {
        IOptionVault.VaultState memory st = vault.state();
        if (st.paused || !st.oracleFresh || block.number < st.nextRebalanceBlock) return (false, "");
        uint256 absDelta = _abs(st.netDeltaWad);
        if (absDelta <= st.hedge.bandWad) return (false, "");
        uint256 tradeWad = Math.min(absDelta, st.hedge.maxTradeWad);
        if (st.netDeltaWad < 0) return _buy(tradeWad, st);
        return _sell(Math.min(tradeWad, st.hedgeBalance * _underlyingScale), st);
    }

    /// @notice Executes the trade from `checkUpkeep` after re-checking the band on fresh state.
    /// @dev Reverts with `DeltaWithinBand` when no hedge is due any more, and with the vault's errors when a
    /// guard fails.
    function performUpkeep(bytes calldata performData) external {
        if (runner != address(0) && msg.sender != runner) revert NotRunner(msg.sender, runner);
        (bool buy, uint256 amountIn, uint256 minAmountOut) = abi.decode(performData, (bool, uint256, uint256));
        IOptionVault.VaultState memory st = vault.state();
        if (_abs(st.netDeltaWad) <= st.hedge.bandWad) revert DeltaWithinBand(st.netDeltaWad, st.hedge.bandWad);
        (int256 beforeWad, int256 afterWad) = vault.rebalance(buy, amountIn, minAmountOut, block.timestamp);
        emit UpkeepPerformed(msg.sender, buy, amountIn, beforeWad, afterWad);
    }

    /// @dev Buy `tradeWad` of underlying if the pool can deliver it within the slippage bound.
    function _buy(uint256 tradeWad, IOptionVault.VaultState memory st) private view returns (bool, bytes memory) {
        uint256 wantOut = tradeWad / _underlyingScale;
        if (wantOut == 0 || wantOut >= st.ammReserveUnderlying) return (false, "");
        uint256 amountIn = amm.quoteExactOut(_quote, wantOut);
        uint256 paidWad = Math.mulDiv(amountIn * _quoteScale, WAD, wantOut * _underlyingScale, Math.Rounding.Ceil);
        if (paidWad > Math.mulDiv(st.spotWad, BPS + st.hedge.maxSlippageBps, BPS)) return (false, "");
        return (true, abi.encode(true, amountIn, wantOut));
    }

    /// @dev Sell `tradeWad` of underlying if the pool pays within the slippage bound.
    function _sell(uint256 tradeWad, IOptionVault.VaultState memory st) private view returns (bool, bytes memory) {
        uint256 amountIn = tradeWad / _underlyingScale;
        if (amountIn == 0) return (false, "");
        uint256 amountOut = amm.quoteExactIn(_underlying, amountIn);
        uint256 receivedWad = Math.mulDiv(amountOut * _quoteScale, WAD, amountIn * _underlyingScale);
        if (amountOut == 0 || receivedWad < Math.mulDiv(st.spotWad, BPS - st.hedge.maxSlippageBps, BPS)) {
            return (false, "");
        }
        return (true, abi.encode(false, amountIn, amountOut));
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
