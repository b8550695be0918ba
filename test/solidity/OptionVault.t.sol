// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {OptionVault} from "../../contracts/OptionVault.sol";
import {IOptionVault} from "../../contracts/interfaces/IOptionVault.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockOracle} from "../../contracts/mocks/MockOracle.sol";
import {MockAmm} from "../../contracts/mocks/MockAmm.sol";
import {BandUpkeep} from "../../contracts/BandUpkeep.sol";

/// @dev Deploys the system with this contract as admin of everything: 3000 USDC/WETH, 10,000 WETH of AMM depth,
/// 1M USDC in the vault, one 30-day ATM call series.
abstract contract VaultSetup is TestBase {
    MockERC20 internal usdc;
    MockERC20 internal weth;
    MockOracle internal oracle;
    MockAmm internal amm;
    OptionVault internal vault;
    BandUpkeep internal upkeep;
    bytes32 internal callId;
    bytes32 internal putId;

    uint256 internal constant START = 1_700_000_000;

    function _deploy() internal {
        vm.warp(START);
        vm.roll(100);
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        oracle = new MockOracle(8, "WETH / USD", 3000e8, address(this));
        amm = new MockAmm(address(weth), address(usdc), 30);
        vault = new OptionVault(
            usdc,
            weth,
            AggregatorV3Interface(address(oracle)),
            IMockAmm(address(amm)),
            address(this),
            "Delta Keeper ETH Vault",
            "dkETH",
            IOptionVault.HedgeParams({
                maxSlippageBps: 100,
                minRebalanceInterval: 1,
                maxOracleAge: 3600,
                maxTradeWad: 500e18,
                deltaToleranceWad: 0.1e18,
                bandWad: 0.5e18
            }),
            IOptionVault.RiskParams({volWad: 0.8e18, rateWad: 0, spreadBps: 200, stressUpBps: 10_000})
        );
        vault.grantRole(vault.MANAGER_ROLE(), address(this));
        vault.grantRole(vault.GUARDIAN_ROLE(), address(this));
        vault.grantRole(vault.KEEPER_ROLE(), address(this));
        upkeep = new BandUpkeep(vault, IMockAmm(address(amm)), address(0), 6, 18);
        vault.grantRole(vault.KEEPER_ROLE(), address(upkeep));

        weth.mint(address(this), 10_000e18);
        usdc.mint(address(this), 30_000_000e6);
        weth.approve(address(amm), type(uint256).max);
        usdc.approve(address(amm), type(uint256).max);
        amm.addLiquidity(10_000e18, 30_000_000e6, 0, address(this));

        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(1_000_000e6, address(this));

        callId = vault.listSeries(true, 3000e18, START + 30 days);
        putId = vault.listSeries(false, 2800e18, START + 20 days);
    }

    function _buy(bytes32 id, uint256 sizeWad) internal {
        uint256 premium = vault.quotePremium(id, sizeWad);
        usdc.mint(address(this), premium);
        vault.openPosition(id, sizeWad, premium, address(this));
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _netDelta() internal view returns (int256 d) {
        (d,,) = vault.netGreeks();
    }
}

contract OptionVaultTest is VaultSetup {
    function setUp() public {
        _deploy();
        _buy(callId, 20e18);
    }

    /// @notice Whatever size and direction the keeper picks, a rebalance that goes through reduced |delta| and
    /// stayed within the overshoot tolerance.
    function testFuzz_rebalance_neverIncreasesAbsDelta(bool buy, uint256 amountSeed, uint256 priceSeed) public {
        // Give the vault some hedge to sell and move the price so delta can have either sign.
        vault.rebalance(true, amm.quoteExactOut(address(usdc), 8e18), 0, block.timestamp);
        vm.roll(block.number + 1);
        uint256 price = bound(priceSeed, 2500, 3500);
        oracle.setPrice(int256(price) * 1e8);

        uint256 amountIn = buy ? bound(amountSeed, 1, 100_000e6) : bound(amountSeed, 1, 8e18);
        int256 before = _netDelta();
        try vault.rebalance(buy, amountIn, 0, block.timestamp) returns (int256 b, int256 a) {
            assertEq(b, before, "delta before");
            assertLe(_abs(a), _abs(b), "|delta| increased");
            if ((a < 0) != (b < 0) && a != 0) assertLe(_abs(a), 0.1e18, "overshoot beyond tolerance");
            assertEq(_netDelta(), a, "reported delta after");
        } catch {
            assertEq(_netDelta(), before, "a failed rebalance changed delta");
        }
    }

    /// @notice A deposit immediately redeemed never returns more than was deposited.
    function testFuzz_depositRedeem_neverProfits(uint256 amountSeed) public {
        uint256 amount = bound(amountSeed, 1, 10_000_000e6);
        usdc.mint(address(0xB0B), amount);
        vm.startPrank(address(0xB0B));
        usdc.approve(address(vault), amount);
        uint256 shares = vault.deposit(amount, address(0xB0B));
        uint256 back = vault.redeem(shares, address(0xB0B), address(0xB0B));
        vm.stopPrank();
        assertLe(back, amount, "redeem returned more than deposited");
    }

    /// @notice While paused, neither the keeper nor an upkeep runner can trade.
    function testFuzz_paused_cannotTrade(uint256 amountSeed) public {
        uint256 amountIn = bound(amountSeed, 1, 1_000_000e6);
        vault.pause();
        vm.expectRevert(IOptionVault.VaultPaused.selector);
        vault.rebalance(true, amountIn, 0, block.timestamp);
        (bool needed,) = upkeep.checkUpkeep("");
        assertTrue(!needed, "upkeep needed while paused");
        vm.expectRevert(IOptionVault.VaultPaused.selector);
        upkeep.performUpkeep(abi.encode(true, amountIn, uint256(0)));
    }

    function test_rebalance_revertsWhenOracleIsStale() public {
        vm.warp(block.timestamp + 3601);
        vm.expectRevert(abi.encodeWithSelector(IOptionVault.StaleOracle.selector, START, 3600));
        vault.rebalance(true, 1000e6, 0, block.timestamp);
    }
}

/// @dev Drives the vault with random actions as keeper, guardian, admin, LP, buyer and arbitrageur; records every
/// trade that should have been impossible.
contract VaultHandler is TestBase {
    OptionVault internal immutable vault;
    MockERC20 internal immutable usdc;
    MockERC20 internal immutable weth;
    MockOracle internal immutable oracle;
    MockAmm internal immutable amm;
    BandUpkeep internal immutable band;
    bytes32 internal immutable callId;
    bytes32 internal immutable putId;

    uint256 public tradesWhilePaused;
    uint256 public deltaIncreases;
    uint256 public rebalances;

    constructor(OptionVault v, MockERC20 u, MockERC20 w, MockOracle o, MockAmm a, BandUpkeep b, bytes32 c, bytes32 p) {
        vault = v;
        band = b;
        usdc = u;
        weth = w;
        oracle = o;
        amm = a;
        callId = c;
        putId = p;
        usdc.approve(address(vault), type(uint256).max);
        usdc.approve(address(amm), type(uint256).max);
        weth.approve(address(amm), type(uint256).max);
    }

    function rebalance(bool buy, uint256 amountSeed) external {
        vm.roll(block.number + 1);
        uint256 amountIn = buy ? bound(amountSeed, 1e6, 200_000e6) : bound(amountSeed, 1e15, 50e18);
        bool wasPaused = vault.paused();
        (int256 before,,) = vault.netGreeks();
        try vault.rebalance(buy, amountIn, 0, block.timestamp) returns (int256, int256 a) {
            rebalances++;
            if (wasPaused) tradesWhilePaused++;
            if (_abs(a) >= _abs(before)) deltaIncreases++;
        } catch {}
    }

    function upkeep() external {
        vm.roll(block.number + 1);
        bool wasPaused = vault.paused();
        (bool needed, bytes memory data) = band.checkUpkeep("");
        if (!needed) return;
        (int256 before,,) = vault.netGreeks();
        try band.performUpkeep(data) {
            rebalances++;
            if (wasPaused) tradesWhilePaused++;
            (int256 a,,) = vault.netGreeks();
            if (_abs(a) >= _abs(before)) deltaIncreases++;
        } catch {}
    }

    function movePrice(uint256 priceSeed) external {
        uint256 price = bound(priceSeed, 2400, 3600);
        vm.warp(block.timestamp + 60);
        oracle.setPrice(int256(price) * 1e8);
        // Arbitrage the AMM most of the way to the oracle, as a real arbitrageur would.
        (uint256 ru, uint256 rq) = amm.getReserves();
        uint256 ammPrice = rq * 1e12 / ru;
        if (ammPrice * 100 < price * 99) {
            uint256 amountIn = (price - ammPrice) * 1e6 * ru / 1e18 / 2 + 1;
            usdc.mint(address(this), amountIn);
            amm.swapExactIn(address(usdc), amountIn, 0, address(this), block.timestamp);
        } else if (ammPrice * 100 > price * 101) {
            uint256 amountIn = (ammPrice - price) * ru / ammPrice / 2 + 1;
            weth.mint(address(this), amountIn);
            amm.swapExactIn(address(weth), amountIn, 0, address(this), block.timestamp);
        }
    }

    function buyOptions(bool call, uint256 sizeSeed) external {
        bytes32 id = call ? callId : putId;
        uint256 sizeWad = bound(sizeSeed, 1e16, 20e18);
        try vault.quotePremium(id, sizeWad) returns (uint256 premium) {
            usdc.mint(address(this), premium);
            try vault.openPosition(id, sizeWad, premium, address(this)) {} catch {}
        } catch {}
    }

    function deposit(uint256 amountSeed) external {
        uint256 amount = bound(amountSeed, 1, 100_000e6);
        usdc.mint(address(this), amount);
        try vault.deposit(amount, address(this)) {} catch {}
    }

    function redeem(uint256 sharesSeed) external {
        uint256 max = vault.maxRedeem(address(this));
        if (max == 0) return;
        vault.redeem(bound(sharesSeed, 1, max), address(this), address(this));
    }

    function togglePause() external {
        if (vault.paused()) vault.unpause();
        else vault.pause();
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}

contract OptionVaultInvariantTest is VaultSetup {
    VaultHandler internal handler;

    function setUp() public {
        _deploy();
        _buy(callId, 10e18);
        handler = new VaultHandler(vault, usdc, weth, oracle, amm, upkeep, callId, putId);
        vault.grantRole(vault.KEEPER_ROLE(), address(handler));
        vault.grantRole(vault.GUARDIAN_ROLE(), address(handler));
        vault.grantRole(vault.DEFAULT_ADMIN_ROLE(), address(handler));
        usdc.grantRole(usdc.MINTER_ROLE(), address(handler));
        weth.grantRole(weth.MINTER_ROLE(), address(handler));
        oracle.grantRole(oracle.UPDATER_ROLE(), address(handler));
        targetContract(address(handler));
    }

    function invariant_pausedVaultNeverTrades() public view {
        assertEq(handler.tradesWhilePaused(), 0, "trade while paused");
    }

    function invariant_rebalanceNeverIncreasesAbsDelta() public view {
        assertEq(handler.deltaIncreases(), 0, "a rebalance increased |delta|");
    }

    /// @notice Every share is backed: all shares together are worth at most the vault's assets (the virtual
    /// offset of the ERC-4626 share math can only round in the vault's favour).
    function invariant_sharesBackedByAssets() public view {
        assertLe(vault.convertToAssets(vault.totalSupply()), vault.totalAssets() + 1, "shares worth more than assets");
    }

    /// @notice The book never holds more than the bound, and settled payouts are always covered by cash.
    function invariant_bookBoundedAndPayoutsCovered() public view {
        IOptionVault.VaultState memory st = vault.state();
        assertLe(st.liveSeries, vault.MAX_LIVE_SERIES(), "book over bound");
        assertLe(st.pendingPayouts, st.cashBalance, "payouts not covered");
    }
}
