// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultSetup} from "./VaultSetup.sol";
import {IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";

// Each guard of the book and the hedge budget, pinned at its edge: the last size or amount it lets through
// passes, the first beyond it reverts with the guard's own error (not some other check that happens to sit nearby),
// and the amounts it promises (a claim's in-kind price, the payouts reserved) are exact. Written for the mutants of
// `scripts/mutate-sol.ts` that the broader attack and invariant suites let survive (issue 11).

contract GuardsTest is VaultSetup {
    address internal constant BOB = address(0xB0B);
    address internal constant CAROL = address(0xCA401);

    function setUp() public {
        _deploy();
    }

    error SaleWouldPass();

    /// @dev Sells and always reverts: `SaleWouldPass` when the sale itself went through (so nothing changes).
    function trySale(bytes32 id, uint256 sizeWad, uint256 premium) external {
        require(msg.sender == address(this), "self only");
        vault.openPosition(id, sizeWad, premium, BOB);
        revert SaleWouldPass();
    }

    function _canSell(bytes32 id, uint256 sizeWad) internal returns (bool ok) {
        try vault.quoteOpen(id, sizeWad) returns (uint256 premium) {
            usdc.mint(address(this), premium);
            try this.trySale(id, sizeWad, premium) {} catch (bytes memory reason) {
                ok = bytes4(reason) == SaleWouldPass.selector;
            }
        } catch {}
    }

    /// @dev Settles `id` at `price` with a round current at `expiry`, the oracle moving on after it.
    function _settleAt(bytes32 id, uint256 expiry, uint256 price) internal {
        vm.warp(expiry - 10);
        uint80 round = oracle.setPrice(int256(price) * 1e8);
        vm.warp(expiry + 10);
        oracle.setPrice(int256(price) * 1e8);
        vault.settleSeries(id, round);
    }

    /// The per-expiry collateral check binds on its own: with utilisation allowed up to 100% and a hedge held
    /// (so the assets exceed the cash), the largest put sale is what the cash covers, and just beyond it the sale
    /// reverts with `InsufficientCollateral` — the hedge's value does not count as collateral.
    function test_guard_collateralCheckBindsBeforeUtilization() public {
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.maxUtilizationBps = 10_000;
        vault.setBookLimits(l);
        weth.mint(address(vault), 100e18); // a hedge worth 300,000: assets above the cash, so utilisation is loose

        // Bisection on the size the vault sells (monotone: each put needs 2,800 and brings less in premium).
        uint256 lo;
        uint256 hi = 1_000e18;
        assertTrue(!_canSell(putId, hi), "1,000 puts at 2,800 exceed 1,000,000 of cash");
        while (hi - lo > 1e12) {
            uint256 mid = (lo + hi) / 2;
            if (_canSell(putId, mid)) lo = mid;
            else hi = mid;
        }
        assertGt(lo, 300e18, "the cash (plus premium) covers more than 300 puts");

        // Just beyond: the named error, with what the book requires and the cash (plus the premium) available.
        uint256 premium = vault.quoteOpen(putId, hi);
        usdc.mint(address(this), premium);
        uint256 requiredWad = (2800e18 * hi + 1e18 - 1) / 1e18;
        int256 availableWad = int256((usdc.balanceOf(address(vault)) + premium) * 1e12);
        assertGt(int256(requiredWad), availableWad, "beyond the cash");
        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.InsufficientCollateral.selector, requiredWad, availableWad)
        );
        vault.openPosition(putId, hi, premium, BOB);

        // Just within: sold, and the cash alone covers every put paying its full strike.
        _buy(putId, lo, BOB);
        assertEq(vault.positionOf(putId, BOB), lo, "the largest covered sale went through");
        assertGe(usdc.balanceOf(address(vault)) * 1e12, 2800 * lo, "the cash covers the puts at a price of zero");
    }

    /// The per-series open-interest cap: a series fills to its cap exactly, one wei more is refused with the
    /// series' own `OpenInterestExceeded` (not the book-wide cap, which is far away), and other series still sell.
    function test_guard_seriesOpenInterestCapIsExact() public {
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.maxSeriesOpenInterestWad = 100e18;
        vault.setBookLimits(l);

        _buy(callId, 60e18, BOB);
        _buy(callId, 40e18, CAROL);
        assertEq(vault.positionOf(callId, CAROL), 40e18, "filled to the cap exactly");

        uint256 premium = vault.quoteOpen(callId, 1);
        usdc.mint(address(this), premium);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.OpenInterestExceeded.selector, callId, 100e18 + 1, 100e18)
        );
        vault.openPosition(callId, 1, premium, BOB);

        _buy(putId, 1e18, BOB);
        assertEq(vault.positionOf(putId, BOB), 1e18, "the cap is per series");
    }

    /// A claim consumes the position: paid once, then `NothingToClaim`; the other holder is still paid in full
    /// and nothing stays owed.
    function test_guard_claimConsumesThePosition() public {
        uint256 expiry = START + 30 days;
        _buy(callId, 10e18, BOB);
        _buy(callId, 5e18, CAROL);
        _settleAt(callId, expiry, 3500);
        assertEq(vault.pendingPayouts(), 7500e6, "15 calls at 500 owed");

        vm.prank(BOB);
        assertEq(vault.claim(callId, BOB), 5000e6, "10 calls at 500");
        assertEq(vault.positionOf(callId, BOB), 0, "the position is gone");
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.NothingToClaim.selector, callId, BOB));
        vault.claim(callId, BOB);

        vm.prank(CAROL);
        assertEq(vault.claim(callId, CAROL), 2500e6, "the other holder is paid in full");
        assertEq(vault.pendingPayouts(), 0, "nothing left owed");
        assertEq(usdc.balanceOf(BOB), 5000e6, "paid once");
    }

    /// A claim's shortfall paid in the underlying is priced at the oracle moved by `latencyBps` against the
    /// claimer: 3,500 x 1.005 = 3,517.5, the amount rounded down — pinned exactly.
    function test_guard_claimInKindAtTheLatencyPriceAgainstTheClaimer() public {
        bytes32 id = vault.listSeries(true, 2000e18, START + 2 days);
        _buy(id, 25e18, BOB);
        // Leave the vault short of cash: the depositor takes what the book does not need, the keeper hedges.
        vm.warp(block.timestamp + 1 hours);
        vm.roll(block.number + 300);
        oracle.setPrice(3000e8);
        vault.withdraw(vault.maxWithdraw(address(this)), address(this), address(this));
        vm.roll(block.number + 1);
        _hedgeTo(0);
        _settleAt(id, START + 2 days, 3500);

        uint256 owed = 25 * 1500e6;
        uint256 cash = usdc.balanceOf(address(vault));
        assertLt(cash, owed, "the cash does not cover the claim");
        uint256 expected = (owed - cash) * 1e12 * 1e18 / 3517.5e18;
        assertLt(expected, weth.balanceOf(address(vault)), "the hedge covers the shortfall");

        vm.prank(BOB);
        uint256 paid = vault.claim(id, BOB);
        assertEq(paid, cash, "the cash first");
        assertEq(weth.balanceOf(BOB), expected, "the rest in the underlying at 3,517.5, rounded down");
        assertEq(vault.positionOf(id, BOB), 0, "settled in full");
    }

    /// Settlement takes the round current at expiry: not an earlier round superseded before expiry, not a round
    /// after it.
    function test_guard_settlementTakesTheRoundCurrentAtExpiry() public {
        uint256 expiry = START + 30 days;
        _buy(callId, 1e18, BOB);
        vm.warp(expiry - 100);
        uint80 early = oracle.setPrice(3400e8);
        vm.warp(expiry - 10);
        uint80 current = oracle.setPrice(3500e8);
        vm.warp(expiry + 10);
        uint80 late = oracle.setPrice(3600e8);

        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.InvalidSettlementRound.selector, early, expiry - 100, expiry)
        );
        vault.settleSeries(callId, early);
        vm.expectRevert(
            abi.encodeWithSelector(IOptionVaultTypes.InvalidSettlementRound.selector, late, expiry + 10, expiry)
        );
        vault.settleSeries(callId, late);

        _settleExpecting(callId, current, 500e18, "at 3,500, the answer current at expiry");
    }

    /// The payouts reserved at settlement are rounded up (in quote units): the reserve is never below what the
    /// holders' claims can add up to. 1 option + 1 wei at 500 owes 500.000000000000000500: reserved 500.000001.
    function test_guard_settledPayoutsReservedRoundedUp() public {
        _buy(callId, 1e18 + 1, BOB);
        _settleAt(callId, START + 30 days, 3500);
        assertEq(vault.pendingPayouts(), 500_000_001, "500e6 and a fraction, rounded up");
        vm.prank(BOB);
        assertEq(vault.claim(callId, BOB), 500e6, "the holder's claim rounded down");
    }

    /// The hedge's notional budget: within a window, a buy that stays within what is left passes, one that
    /// would take the traded notional past the budget reverts with `NotionalBudgetExceeded`.
    function test_guard_notionalBudgetCapsHedging() public {
        IOptionVaultTypes.HedgeParams memory p = _hedgeParams();
        p.notionalBudget = 30_000;
        vault.setHedgeParams(p);
        _buy(callId, 100e18, BOB); // short ~55 delta: far more to hedge than the budget allows
        assertLt(_netDelta(), -40e18, "a large delta to hedge");

        vm.roll(block.number + 1);
        vault.rebalance(true, 20_000e6, 0, block.timestamp);
        uint256 leftWad = vault.hedgeStatus().notionalLeftWad;
        assertGt(leftWad, 10_000e18, "a buy for 20,000 traded less than 20,000 of notional at the oracle");

        // 1% more quote than the notional left buys more than the notional left (fee + impact ~0.4%).
        vm.roll(block.number + 1);
        // The usage in the error depends on the pool's rounding: the selector is what names the guard.
        (bool ok, bytes memory reason) = address(vault).call(
            abi.encodeCall(vault.rebalance, (true, leftWad * 101 / 100 / 1e12, 0, block.timestamp))
        );
        assertTrue(!ok, "over the budget");
        assertTrue(bytes4(reason) == IOptionVaultTypes.NotionalBudgetExceeded.selector, "refused by the notional budget");

        // The notional left, in quote, buys less than that notional at the oracle: within the budget.
        vault.rebalance(true, leftWad / 1e12, 0, block.timestamp);
        assertLt(vault.hedgeStatus().notionalLeftWad, 200e18, "the budget nearly used up");
    }
}
