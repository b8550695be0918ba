// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultSetup} from "./VaultSetup.sol";
import {IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockOracle} from "../../contracts/mocks/MockOracle.sol";

/// @dev A venue that fills the next swap at whatever output the test sets, so a rebalance can be executed at an
/// exact price — the bound itself, or one quote unit past it — which a constant-product pool cannot hit to the unit.
contract FixedFillVenue {
    address public immutable underlying;
    address public immutable quote;
    uint256 public nextAmountOut;

    constructor(address underlying_, address quote_) {
        (underlying, quote) = (underlying_, quote_);
    }

    function fillNextAt(uint256 amountOut) external {
        nextAmountOut = amountOut;
    }

    function swapExactIn(address tokenIn, uint256 amountIn, uint256 minAmountOut, address to, uint256)
        external
        returns (uint256 amountOut)
    {
        amountOut = nextAmountOut;
        require(amountOut >= minAmountOut, "min out");
        MockERC20(tokenIn).transferFrom(msg.sender, address(this), amountIn);
        MockERC20(tokenIn == quote ? underlying : quote).mint(to, amountOut);
    }
}

/// @notice The rebalance slippage bound, pinned on both sides at the exact bound: with the oracle at 3,000 and
/// `maxSlippageBps` = b, a buy may pay at most 3,000·(1 + b/10⁴) per underlying and a sale must receive at least
/// 3,000·(1 − b/10⁴). A fill exactly at the bound goes through; one quote unit (1e-6 USDC per WETH) past it
/// reverts with `SlippageTooHigh(execution price, limit)`. A bound loosened by any factor, or by one basis point
/// on one side only, fails here.
contract SlippageBoundTest is VaultSetup {
    FixedFillVenue internal venue;

    uint256 internal constant ONE_WETH = 1e18;

    function setUp() public {
        vm.warp(START);
        vm.roll(100);
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        oracle = new MockOracle(8, "WETH / USD", 3000e8, address(this));
        venue = new FixedFillVenue(address(weth), address(usdc));
        usdc.grantRole(usdc.MINTER_ROLE(), address(venue));
        weth.grantRole(weth.MINTER_ROLE(), address(venue));
        vault = _newVault(AggregatorV3Interface(address(oracle)), IMockAmm(address(venue)), AggregatorV3Interface(address(0)));
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(1_000_000e6, address(this));
        callId = vault.listSeries(true, 3000e18, START + 30 days);
    }

    /// @dev Sets `maxSlippageBps`, keeping the other hedge parameters.
    function _setSlippageBps(uint256 bps) internal {
        IOptionVaultTypes.HedgeParams memory p = _hedgeParams();
        p.maxSlippageBps = uint16(bps);
        vault.setHedgeParams(p);
    }

    /// @dev A short call book (delta ≈ −11): the vault needs to buy underlying.
    function _shortDelta() internal {
        _buy(callId, 20e18);
        assertLt(vault.netDeltaWad(), -1e18, "short delta to hedge");
    }

    /// @dev A vault holding 10 WETH and no option (delta +10, as after the book it hedged expired): it needs to sell.
    function _longDelta() internal {
        weth.mint(address(vault), 10e18);
        assertGt(vault.netDeltaWad(), 1e18, "long delta to hedge");
    }

    function test_rebalance_buyAtTheBoundPasses() public {
        _shortDelta();
        venue.fillNextAt(ONE_WETH);
        // 3,030 USDC for 1 WETH: exactly 3,000·(1 + 1%).
        vault.rebalance(true, 3030e6, 0, block.timestamp);
        assertEq(weth.balanceOf(address(vault)), ONE_WETH, "bought at the bound");
    }

    function test_rebalance_buyOneUnitPastTheBoundReverts() public {
        _shortDelta();
        venue.fillNextAt(ONE_WETH);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, 3030.000001e18, 3030e18));
        vault.rebalance(true, 3030.000001e6, 0, block.timestamp);
    }

    function test_rebalance_buyOneBpsPastTheBoundReverts() public {
        _shortDelta();
        venue.fillNextAt(ONE_WETH);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, 3030.3e18, 3030e18));
        vault.rebalance(true, 3030.3e6, 0, block.timestamp);
    }

    function test_rebalance_sellAtTheBoundPasses() public {
        _longDelta();
        venue.fillNextAt(2970e6); // exactly 3,000·(1 − 1%) for 1 WETH
        vault.rebalance(false, ONE_WETH, 0, block.timestamp);
        assertEq(weth.balanceOf(address(vault)), 9e18, "sold at the bound");
    }

    function test_rebalance_sellOneUnitPastTheBoundReverts() public {
        _longDelta();
        venue.fillNextAt(2969.999999e6);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, 2969.999999e18, 2970e18));
        vault.rebalance(false, ONE_WETH, 0, block.timestamp);
    }

    function test_rebalance_sellOneBpsPastTheBoundReverts() public {
        _longDelta();
        venue.fillNextAt(2969.7e6);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, 2969.7e18, 2970e18));
        vault.rebalance(false, ONE_WETH, 0, block.timestamp);
    }

    /// @notice For every allowed bound b (1 to 1,000 bps), a buy paying 3,000·(1 + b/10⁴) per WETH passes and one
    /// paying a quote unit more reverts. (3,000 USDC·b/10⁴ = 300,000·b units: the bound is exact in USDC units.)
    function testFuzz_rebalance_buyBoundIsExactForEveryBps(uint256 bpsSeed) public {
        uint256 bps = bound(bpsSeed, 1, 1_000);
        _setSlippageBps(bps);
        _shortDelta();
        uint256 atBound = 3000e6 + 300_000 * bps;
        venue.fillNextAt(ONE_WETH);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, (atBound + 1) * 1e12, atBound * 1e12)
        );
        vault.rebalance(true, atBound + 1, 0, block.timestamp);
        vault.rebalance(true, atBound, 0, block.timestamp);
        assertEq(weth.balanceOf(address(vault)), ONE_WETH, "bought at the bound");
    }

    /// @notice For every allowed bound b, a sale receiving 3,000·(1 − b/10⁴) per WETH passes and one receiving a quote
    /// unit less reverts.
    function testFuzz_rebalance_sellBoundIsExactForEveryBps(uint256 bpsSeed) public {
        uint256 bps = bound(bpsSeed, 1, 1_000);
        _setSlippageBps(bps);
        _longDelta();
        uint256 atBound = 3000e6 - 300_000 * bps;
        venue.fillNextAt(atBound - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.SlippageTooHigh.selector, (atBound - 1) * 1e12, atBound * 1e12)
        );
        vault.rebalance(false, ONE_WETH, 0, block.timestamp);
        venue.fillNextAt(atBound);
        vault.rebalance(false, ONE_WETH, 0, block.timestamp);
        assertEq(usdc.balanceOf(address(vault)), 1_000_000e6 + atBound, "sold at the bound");
    }
}
