// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultSetup} from "./VaultSetup.sol";
import {IOptionVault, IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

/// @notice Fuzz tests of the vault's promises, one property each (256 runs; `hardhat.config.ts`).
contract OptionVaultFuzzTest is VaultSetup {
    function setUp() public {
        _deploy();
        _buy(callId, 20e18);
    }

    /// @notice Whatever size and direction the keeper picks, a rebalance that goes through reduced |delta|, started
    /// outside the tolerance and stayed within the overshoot tolerance; one that fails changes nothing.
    function testFuzz_rebalance_neverIncreasesAbsDelta(bool buy, uint256 amountSeed, uint256 priceSeed) public {
        // Give the vault some hedge to sell and move the price so delta can have either sign.
        vault.rebalance(true, amm.quoteExactOut(address(usdc), 8e18), 0, block.timestamp);
        vm.roll(block.number + 1);
        _movePrice(bound(priceSeed, 2700, 3300));

        uint256 amountIn = buy ? bound(amountSeed, 1, 100_000e6) : bound(amountSeed, 1, 8e18);
        int256 before = _netDelta();
        try vault.rebalance(buy, amountIn, 0, block.timestamp) returns (int256 b, int256 a) {
            assertEq(b, before, "delta before");
            assertGt(SignedMath.abs(b), 0.1e18, "started outside the tolerance");
            assertLt(SignedMath.abs(a), SignedMath.abs(b), "|delta| did not decrease");
            if ((a < 0) != (b < 0) && a != 0) assertLe(SignedMath.abs(a), 0.1e18, "overshoot beyond tolerance");
            assertEq(_netDelta(), a, "reported delta after");
        } catch {
            assertEq(_netDelta(), before, "a failed rebalance changed delta");
        }
    }

    /// @notice A deposit redeemed after its lock, the price unchanged, never returns more than was deposited plus
    /// its share of what the vault earned meanwhile.
    function testFuzz_depositRedeem_neverProfits(uint256 amountSeed) public {
        uint256 amount = bound(amountSeed, 1e6, 10_000_000e6);
        usdc.mint(address(0xB0B), amount);
        vm.startPrank(address(0xB0B));
        usdc.approve(address(vault), amount);
        uint256 shares = vault.deposit(amount, address(0xB0B));
        vm.stopPrank();
        vm.warp(block.timestamp + 1 hours);
        oracle.setPrice(3000e8);
        vm.prank(address(0xB0B));
        uint256 back = vault.redeem(shares, address(0xB0B), address(0xB0B));
        // At most its share of the hour's earnings (theta and margin on 20 calls: well under 0.01%).
        assertLe(back, amount + amount / 10_000, "a round trip does not profit");
    }

    /// @notice Opening and immediately selling back any size of either series never profits the buyer.
    function testFuzz_openClose_roundTripNeverProfits(bool call, uint256 sizeSeed) public {
        bytes32 id = call ? callId : putId;
        uint256 sizeWad = bound(sizeSeed, 0.01e18, 50e18);
        uint256 premium = _buy(id, sizeWad, address(0xA11));
        vm.prank(address(0xA11));
        uint256 proceeds = vault.closePosition(id, sizeWad, 0, address(0xA11));
        assertLt(proceeds, premium, "round trip profited");
    }

    /// @notice Whatever is sold, the vault's cash (less payouts owed) covers what the book requires.
    function testFuzz_sales_stayCollateralised(uint256 s1, uint256 s2, uint256 s3) public {
        bytes32 far = vault.listSeries(false, 1500e18, START + 10 days);
        bytes32[3] memory ids = [callId, putId, far];
        uint256[3] memory seeds = [s1, s2, s3];
        for (uint256 i; i < 3; ++i) {
            uint256 sizeWad = bound(seeds[i], 0.01e18, 400e18);
            uint256 premium = vault.quoteOpen(ids[i], sizeWad);
            usdc.mint(address(this), premium);
            try vault.openPosition(ids[i], sizeWad, premium, address(0xA11)) {} catch {}
        }
        // Each expiry covered at its worst end: the 30-day calls at 6,000, the 20-day put at 0, the 10-day put at 0.
        (, IOptionVaultTypes.Series[] memory book) = vault.book();
        uint256 requiredWad;
        for (uint256 i; i < book.length; ++i) {
            uint256 shortWad = uint256(-int256(book[i].sizeWad));
            if (book[i].isCall) requiredWad += shortWad * (6000e18 - uint256(book[i].strikeWad)) / 1e18;
            else requiredWad += shortWad * uint256(book[i].strikeWad) / 1e18;
        }
        assertGe(usdc.balanceOf(address(vault)) * 1e12, requiredWad, "the cash covers every series at its worst");
    }

    /// @notice While paused, neither the keeper nor an upkeep runner can trade, and nobody can buy.
    function testFuzz_paused_cannotTrade(uint256 amountSeed) public {
        uint256 amountIn = bound(amountSeed, 1, 1_000_000e6);
        vault.pause();
        vm.expectRevert(IOptionVaultTypes.VaultPaused.selector);
        vault.rebalance(true, amountIn, 0, block.timestamp);
        (bool needed,) = upkeep.checkUpkeep("");
        assertTrue(!needed, "upkeep needed while paused");
        vm.expectRevert();
        upkeep.performUpkeep("");
        vm.expectRevert(IOptionVaultTypes.VaultPaused.selector);
        vault.openPosition(callId, bound(amountSeed, 0.01e18, 10e18), type(uint256).max, address(this));
    }

    function test_rebalance_revertsWhenOracleIsStale() public {
        vm.warp(block.timestamp + 3601);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.StaleOracle.selector, START, 3600));
        vault.rebalance(true, 1000e6, 0, block.timestamp);
    }
}
