// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {OptionVault} from "../../contracts/OptionVault.sol";
import {OptionVaultBase} from "../../contracts/OptionVaultBase.sol";
import {OptionVaultExtension} from "../../contracts/OptionVaultExtension.sol";
import {IOptionVault, IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {IPerpMarket} from "../../contracts/interfaces/IPerpMarket.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockOracle} from "../../contracts/mocks/MockOracle.sol";
import {MockAmm} from "../../contracts/mocks/MockAmm.sol";
import {BandUpkeep} from "../../contracts/BandUpkeep.sol";

/// @dev The system every vault test starts from, with this contract as admin, manager, guardian and keeper:
/// 3000 USDC/WETH, 10,000 WETH of AMM depth, 1M USDC in the vault, a 30-day ATM call and a 20-day put listed.
/// The parameters are the deploy defaults (`harness/system.ts`).
abstract contract VaultSetup is TestBase {
    MockERC20 internal usdc;
    MockERC20 internal weth;
    MockOracle internal oracle;
    MockAmm internal amm;
    IOptionVault internal vault;
    BandUpkeep internal upkeep;
    bytes32 internal callId;
    bytes32 internal putId;

    uint256 internal constant START = 1_700_000_000;

    function _hedgeParams() internal pure virtual returns (IOptionVaultTypes.HedgeParams memory) {
        return IOptionVaultTypes.HedgeParams({
            maxSlippageBps: 100,
            minRebalanceInterval: 1,
            maxOracleAge: 3600,
            maxTradeWad: 200e18,
            deltaToleranceWad: 0.1e18,
            bandWad: 0.5e18,
            budgetWindowSeconds: 86_400,
            notionalBudget: 3_000_000,
            slippageBudget: 10_000
        });
    }

    function _riskParams() internal pure virtual returns (IOptionVaultTypes.RiskParams memory) {
        return IOptionVaultTypes.RiskParams({
            volWad: 0.8e18,
            rateWad: 0,
            spreadBps: 200,
            latencyBps: 50,
            capitalChargeBps: 500,
            minPremiumBps: 5
        });
    }

    function _bookLimits() internal pure virtual returns (IOptionVaultTypes.BookLimits memory) {
        return IOptionVaultTypes.BookLimits({
            stressUpBps: 10_000,
            maxUtilizationBps: 8_000,
            minPositionWad: 0.01e18,
            maxSeriesOpenInterestWad: 10_000e18,
            maxOpenInterestWad: 50_000e18,
            depositLockSeconds: 3600
        });
    }

    /// @dev A vault on `oracle_` (any Chainlink-style feed) and `amm_`, with an optional sequencer feed.
    function _newVault(AggregatorV3Interface oracle_, IMockAmm amm_, AggregatorV3Interface sequencer)
        internal
        returns (IOptionVault v)
    {
        return _newVault(oracle_, amm_, sequencer, IPerpMarket(address(0)));
    }

    /// @dev The same, with a perp market beside the AMM (zero for none).
    function _newVault(AggregatorV3Interface oracle_, IMockAmm amm_, AggregatorV3Interface sequencer, IPerpMarket perp_)
        internal
        returns (IOptionVault v)
    {
        OptionVaultBase.Config memory config = OptionVaultBase.Config({
            quote: usdc,
            underlying: weth,
            oracle: oracle_,
            amm: amm_,
            sequencerUptimeFeed: sequencer,
            perp: perp_,
            admin: address(this),
            name: "Delta Keeper ETH Vault",
            symbol: "dkETH"
        });
        OptionVaultExtension ext = new OptionVaultExtension(config);
        v = IOptionVault(address(new OptionVault(config, ext, _hedgeParams(), _riskParams(), _bookLimits())));
        v.grantRole(v.MANAGER_ROLE(), address(this));
        v.grantRole(v.GUARDIAN_ROLE(), address(this));
        v.grantRole(v.KEEPER_ROLE(), address(this));
    }

    function _deploy() internal {
        vm.warp(START);
        vm.roll(100);
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        oracle = new MockOracle(8, "WETH / USD", 3000e8, address(this));
        amm = new MockAmm(address(weth), address(usdc), 30);
        vault = _newVault(AggregatorV3Interface(address(oracle)), IMockAmm(address(amm)), AggregatorV3Interface(address(0)));
        upkeep = new BandUpkeep(vault, address(0), 50);
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

    /// @dev Buys `sizeWad` options of `id` for `receiver` at the quoted premium (minted to this contract).
    function _buy(bytes32 id, uint256 sizeWad, address receiver) internal returns (uint256 premium) {
        premium = vault.quoteOpen(id, sizeWad);
        usdc.mint(address(this), premium);
        vault.openPosition(id, sizeWad, premium, receiver);
    }

    function _buy(bytes32 id, uint256 sizeWad) internal returns (uint256) {
        return _buy(id, sizeWad, address(this));
    }

    function _netDelta() internal view returns (int256) {
        return vault.netDeltaWad();
    }

    /// @dev Buys (delta < 0) or sells underlying to bring the net delta to `targetWad` (within rounding).
    function _hedgeTo(int256 targetWad) internal {
        int256 d = _netDelta();
        if (d < targetWad) {
            vault.rebalance(true, amm.quoteExactOut(address(usdc), uint256(targetWad - d)), 0, block.timestamp);
        } else if (d > targetWad) {
            vault.rebalance(false, uint256(d - targetWad), 0, block.timestamp);
        }
    }

    /// @dev Settles `id` at oracle round `roundId` and checks it settled at `perUnitWad` (quote, 18 decimals, per option).
    function _settleExpecting(bytes32 id, uint80 roundId, uint256 perUnitWad, string memory why) internal {
        vault.settleSeries(id, roundId);
        (bool settled, uint256 perUnit) = vault.settlementOf(id);
        assertTrue(settled, why);
        assertEq(perUnit, perUnitWad, why);
    }

    /// @dev Moves the oracle to `price` (whole quote units) and has an arbitrageur realign the pool to it.
    function _movePrice(uint256 price) internal {
        oracle.setPrice(int256(price) * 1e8);
        _realign(price);
    }

    /// @dev Swaps the pool to `price` (whole quote units per underlying), the fee paid by this contract.
    function _realign(uint256 price) internal {
        (uint256 ru, uint256 rq) = amm.getReserves();
        uint256 target = Math.sqrt(ru * rq * 1e12 / price); // reserve of underlying at which the marginal price is `price`
        if (target < ru) {
            uint256 amountIn = amm.quoteExactOut(address(usdc), ru - target);
            usdc.mint(address(this), amountIn);
            amm.swapExactIn(address(usdc), amountIn, 0, address(this), block.timestamp);
        } else if (target > ru + 1e9) {
            weth.mint(address(this), target - ru);
            amm.swapExactIn(address(weth), target - ru, 0, address(this), block.timestamp);
        }
    }
}
