// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IMockAmm} from "../interfaces/IMockAmm.sol";
import {MockOracle} from "../mocks/MockOracle.sol";

/// @title MarketDriver
/// @notice Simulation-only market: one call per block publishes the next oracle answer and has an arbitrageur
/// realign the AMM to it, so a simulated block costs one transaction. The simulator's model mode replays
/// `step`'s integer math exactly (`harness/market.ts`), which is what lets fork and model agree.
/// @dev Needs `UPDATER_ROLE` on the oracle and an inventory of both pool tokens (the owner funds it; a swap that
/// runs out reverts with the token's own error). Not for real markets: it trades at any price it is told.
contract MarketDriver is Ownable {
    /// @notice The oracle answer published and the arbitrage done for it (`amountIn` 0: the pool was already there).
    event Stepped(int256 answer, bool quoteIn, uint256 amountIn, uint256 amountOut);

    /// @notice An answer the oracle cannot represent as a price.
    error NonPositiveAnswer(int256 answer);

    MockOracle public immutable oracle;
    IMockAmm public immutable amm;
    address public immutable underlying;
    address public immutable quote;
    /// @notice 10^(underlying decimals − quote decimals + oracle decimals): pool price in oracle units is
    /// reserveQuote · SCALE / reserveUnderlying.
    uint256 public immutable scale;

    /// @param oracle_ The feed to publish to (this contract must hold its `UPDATER_ROLE`).
    /// @param amm_ The pool to realign; approved for both tokens once, here.
    /// @param scaleExponent underlying decimals − quote decimals + oracle decimals (20 for WETH/USDC/8-decimal feed).
    constructor(MockOracle oracle_, IMockAmm amm_, uint8 scaleExponent) Ownable(msg.sender) {
        oracle = oracle_;
        amm = amm_;
        underlying = amm_.underlying();
        quote = amm_.quote();
        scale = 10 ** scaleExponent;
        IERC20(underlying).approve(address(amm_), type(uint256).max);
        IERC20(quote).approve(address(amm_), type(uint256).max);
    }

    /// @notice Publishes `answer` and swaps the pool to it: the underlying reserve that puts the pool's marginal
    /// price at `answer` on the same k is r* = ⌊√(reserveU · reserveQ · scale / answer)⌋; buying reserveU − r*
    /// (quote in, exact input from `quoteExactOut`) or selling r* − reserveU. The fee stays in the pool, so a
    /// quote-in realignment lands slightly past the answer; the model replays this exactly.
    /// @param answer The oracle answer (oracle decimals), > 0.
    function step(int256 answer) external onlyOwner {
        if (answer <= 0) revert NonPositiveAnswer(answer);
        oracle.setPrice(answer);
        (uint256 reserveU, uint256 reserveQ) = amm.getReserves();
        uint256 target = Math.sqrt(Math.mulDiv(reserveU * reserveQ, scale, uint256(answer)));
        if (target < reserveU) {
            uint256 amountIn = amm.quoteExactOut(quote, reserveU - target);
            uint256 out = amm.swapExactIn(quote, amountIn, 0, address(this), block.timestamp);
            emit Stepped(answer, true, amountIn, out);
        } else if (target > reserveU && amm.quoteExactIn(underlying, target - reserveU) > 0) {
            // (A sale too small to pay out a unit of quote would revert in the pool: the pool is then as close
            // to the answer as it can get, like the equal case.)
            uint256 amountIn = target - reserveU;
            uint256 out = amm.swapExactIn(underlying, amountIn, 0, address(this), block.timestamp);
            emit Stepped(answer, false, amountIn, out);
        } else {
            emit Stepped(answer, false, 0, 0);
        }
    }
}
