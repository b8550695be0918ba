// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockOracle} from "../../contracts/mocks/MockOracle.sol";
import {MockPerpMarket} from "../../contracts/mocks/MockPerpMarket.sol";
import {IPerpMarket} from "../../contracts/interfaces/IPerpMarket.sol";

/// @notice One trader of the invariant run: an account of its own on the market, driven by the handler.
contract PerpTrader {
    MockPerpMarket public immutable market;

    constructor(MockPerpMarket market_, MockERC20 quote) {
        market = market_;
        quote.approve(address(market_), type(uint256).max);
    }

    function deposit(uint256 amount) external {
        market.depositMargin(amount);
    }

    function withdraw(uint256 amount) external {
        market.withdrawMargin(amount);
    }

    function trade(int256 sizeDeltaWad) external {
        market.modifyPosition(sizeDeltaWad, sizeDeltaWad > 0 ? type(uint256).max : 0);
    }
}

/// @notice Drives random deposits, withdrawals, trades, price moves, time and liquidations against one market. Any
/// action the market refuses is simply refused (`failOnRevert` is off); the invariants are checked after each.
contract PerpHandler is TestBase {
    MockPerpMarket public immutable market;
    MockERC20 public immutable usdc;
    MockOracle public immutable oracle;
    PerpTrader[3] public traders;

    uint256 public trades;
    uint256 public liquidations;

    constructor(MockPerpMarket market_, MockERC20 usdc_, MockOracle oracle_) {
        market = market_;
        usdc = usdc_;
        oracle = oracle_;
        for (uint256 i; i < 3; ++i) traders[i] = new PerpTrader(market_, usdc_);
        usdc_.approve(address(market_), type(uint256).max);
    }

    function traderAt(uint256 i) external view returns (address) {
        return address(traders[i]);
    }

    function deposit(uint256 who, uint256 amountSeed) external {
        PerpTrader t = traders[who % 3];
        uint256 amount = bound(amountSeed, 1, 10_000_000e6);
        usdc.mint(address(t), amount);
        t.deposit(amount);
    }

    function withdraw(uint256 who, uint256 amountSeed) external {
        PerpTrader t = traders[who % 3];
        IPerpMarket.PositionView memory p = market.positionOf(address(t));
        if (p.margin == 0) return;
        t.withdraw(bound(amountSeed, 1, p.margin));
    }

    function trade(uint256 who, int256 sizeSeed) external {
        int256 size = int256(bound(uint256(sizeSeed < 0 ? -sizeSeed : sizeSeed), 1, 20_000e18));
        traders[who % 3].trade(sizeSeed < 0 ? -size : size);
        ++trades;
    }

    function movePrice(uint256 priceSeed) external {
        oracle.setPrice(int256(bound(priceSeed, 1_000e8, 6_000e8)));
    }

    function pass(uint256 secondsSeed) external {
        vm.warp(block.timestamp + bound(secondsSeed, 1, 2 days));
        (, int256 answer,,,) = oracle.latestRoundData();
        oracle.setPrice(answer);
    }

    function liquidate(uint256 who) external {
        market.liquidate(address(traders[who % 3]));
        ++liquidations;
    }

    function fundPool(uint256 amountSeed) external {
        uint256 amount = bound(amountSeed, 1, 10_000_000e6);
        usdc.mint(address(this), amount);
        market.fundPool(amount);
    }
}

/// @notice Invariants of `MockPerpMarket` (see `IPerpMarket`): the quote it holds backs the pool and every margin,
/// the skew and the market size are the sum of the positions, and no position is left open without margin.
contract MockPerpMarketInvariantTest is TestBase {
    MockERC20 internal usdc;
    MockOracle internal oracle;
    MockPerpMarket internal market;
    PerpHandler internal handler;

    function setUp() public {
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        oracle = new MockOracle(8, "ETH / USD", 3_000e8, address(this));
        // A small skew scale so that random trades reach the premium, the skew cap and liquidations.
        IPerpMarket.MarketParams memory params = IPerpMarket.MarketParams({
            skewScale: 100_000e18,
            maxFundingVelocity: 3e16,
            makerFeeBps: 2,
            takerFeeBps: 10,
            maintenanceMarginBps: 100,
            liquidationRewardBps: 10,
            minLiquidationReward: 20e6,
            maxLeverage: 10e18,
            maxOracleAge: 3 days
        });
        market = new MockPerpMarket(address(usdc), address(oracle), params, address(this));
        handler = new PerpHandler(market, usdc, oracle);
        usdc.grantRole(usdc.MINTER_ROLE(), address(handler));
        oracle.grantRole(oracle.UPDATER_ROLE(), address(handler));
        usdc.mint(address(this), 50_000_000e6);
        usdc.approve(address(market), type(uint256).max);
        market.fundPool(50_000_000e6);

        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](7);
        selectors[0] = PerpHandler.deposit.selector;
        selectors[1] = PerpHandler.withdraw.selector;
        selectors[2] = PerpHandler.trade.selector;
        selectors[3] = PerpHandler.movePrice.selector;
        selectors[4] = PerpHandler.pass.selector;
        selectors[5] = PerpHandler.liquidate.selector;
        selectors[6] = PerpHandler.fundPool.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// Only the handler's three traders hold margin, so their margins are every margin.
    function invariant_quoteBacksPoolAndMargins() public view {
        uint256 margins;
        for (uint256 i; i < 3; ++i) margins += _position(i).margin;
        assertGe(usdc.balanceOf(address(market)), market.pool() + margins, "balance >= pool + margins");
    }

    function invariant_skewIsTheSumOfPositions() public view {
        int256 skew;
        for (uint256 i; i < 3; ++i) skew += _sizeOf(i);
        assertEq(skew, market.marketSkew(), "skew == sum of sizes");
    }

    function _position(uint256 i) private view returns (IPerpMarket.PositionView memory) {
        return market.positionOf(handler.traderAt(i));
    }

    /// @dev The size alone, readable whatever the oracle's age (`positionOf` needs a fresh price).
    function _sizeOf(uint256 i) private view returns (int256) {
        return _position(i).sizeWad;
    }
}
