// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {console} from "hardhat/console.sol";
import {VaultSetup} from "./VaultSetup.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {IOptionVault, IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {IPerpMarket} from "../../contracts/interfaces/IPerpMarket.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {BandUpkeep} from "../../contracts/BandUpkeep.sol";
import {OptionVaultBase} from "../../contracts/OptionVaultBase.sol";
import {OptionVaultExtension} from "../../contracts/OptionVaultExtension.sol";
import {MockAmm} from "../../contracts/mocks/MockAmm.sol";
import {ScriptedOracle} from "../../contracts/test/ScriptedOracle.sol";
import {VaultLens} from "../../contracts/VaultLens.sol";
import {BlackScholes} from "../../contracts/libraries/BlackScholes.sol";

// The nine attack classes of issue 10, each replayed against vault v2 the way an attacker with a fork would run it,
// asserting it no longer pays. Each contract is named after the attack; the comment above it gives what the same
// replay gained against vault v1 (measured before the fix) and what it gains now. `console.log` lines print the
// measured gains (`npx hardhat test solidity test/solidity/Attacks.t.sol`).

/// @dev A caller that is not the keeper, the manager or anyone with a role.
contract Stranger {
    function performUpkeep(BandUpkeep u, bytes memory data) external returns (bool ok, bytes memory err) {
        try u.performUpkeep(data) {
            ok = true;
        } catch (bytes memory reason) {
            err = reason;
        }
    }

    function rebalance(IOptionVault v, uint256 amountIn) external returns (bool ok) {
        try v.rebalance(true, amountIn, 0, block.timestamp) {
            ok = true;
        } catch {}
    }
}

abstract contract AttackBase is VaultSetup {
    address internal constant ATTACKER = address(0xBAD);

    function setUp() public virtual {
        _deploy();
    }

    /// @dev Lifts the open-interest caps, so a test exercises the collateral check itself.
    function _uncapOpenInterest() internal {
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.maxSeriesOpenInterestWad = uint96(type(int96).max);
        l.maxOpenInterestWad = type(uint96).max;
        vault.setBookLimits(l);
    }

    /// @dev Settles `id` (expiring at `expiry`) at `atExpiry`, the oracle moving on to `afterExpiry`.
    /// @dev Lets `depositLockSeconds` pass (deposits' shares are locked that long), the oracle staying at `price`.
    function _waitOutDepositLock(uint256 price) internal {
        vm.warp(block.timestamp + 1 hours);
        vm.roll(block.number + 300);
        oracle.setPrice(int256(price) * 1e8);
    }

    function _settle(bytes32 id, uint256 expiry, uint256 atExpiry, uint256 afterExpiry) internal {
        vm.warp(expiry - 10);
        uint80 round = oracle.setPrice(int256(atExpiry) * 1e8);
        vm.warp(expiry + 10);
        oracle.setPrice(int256(afterExpiry) * 1e8);
        vault.settleSeries(id, round);
    }

    /// @dev The largest size of `id` the vault sells now (bisection on `openPosition` in a snapshot-free way: the
    /// quote and the checks are views, so try with `quoteOpen` and a static call of the sale).
    function _maxSale(bytes32 id, uint256 hiWad) internal returns (uint256 lo) {
        uint256 hi = hiWad;
        while (hi - lo > 1e15) {
            uint256 mid = (lo + hi) / 2;
            if (_canSell(id, mid)) lo = mid;
            else hi = mid;
        }
    }

    function _canSell(bytes32 id, uint256 sizeWad) internal returns (bool ok) {
        try vault.quoteOpen(id, sizeWad) returns (uint256 premium) {
            usdc.mint(address(this), premium);
            try this.trySale(id, sizeWad, premium) {} catch (bytes memory reason) {
                ok = bytes4(reason) == SaleWouldPass.selector;
            }
        } catch {}
    }

    error SaleWouldPass();

    /// @dev Sells and always reverts: `SaleWouldPass` when the sale itself went through (so nothing changes).
    function trySale(bytes32 id, uint256 sizeWad, uint256 premium) external {
        require(msg.sender == address(this), "self only");
        vault.openPosition(id, sizeWad, premium, ATTACKER);
        revert SaleWouldPass();
    }
}

/// @notice Attack 1. v1: a call struck above spot·(1 + stress) needed no collateral, so 1,000,000 calls at 6,100
/// sold for 271,509 and, after a rally to 5,500 (below the stress price), were marked at 148,503,194 against the
/// vault's 1,271,509 of cash; 1e10 calls at a strike of 1e9 cost 0. Now every call is covered up to
/// max(spot, strike)·(1 + stress): the largest sale of the 6,100 call is what the vault can pay at 12,200, and a
/// rally anywhere up to there is paid in full; no option sells below the premium floor.
contract Attack1_UncollateralisedSales is AttackBase {
    function test_attack1_callAboveTheStressPriceNeedsCollateral() public {
        _uncapOpenInterest();
        uint256 expiry = START + 30 days;
        bytes32 id = vault.listSeries(true, 6100e18, expiry);
        vm.expectRevert(); // InsufficientCollateral: no longer free at any size
        vault.openPosition(id, 1_000_000e18, type(uint256).max, ATTACKER);

        uint256 maxSize = _maxSale(id, 1_000e18);
        assertGt(maxSize, 0, "some sale is possible");
        assertLt(maxSize, 200e18, "but only what the collateral covers (1,000,000 / 6,100 per call at 100% stress)");
        uint256 premium = _buy(id, maxSize, ATTACKER);
        console.log("attack 1: largest sale of the 6,100 call now (milli-options)", maxSize / 1e15);
        console.log("attack 1: its premium (quote)", premium / 1e6);

        // The worst rally the promise covers: to the stress price of the highest strike, 6,100 x 2.
        vm.warp(expiry - 10);
        uint80 round = oracle.setPrice(12_200e8);
        vm.warp(expiry + 10);
        oracle.setPrice(12_200e8);
        vault.settleSeries(id, round);
        uint256 owed = vault.pendingPayouts();
        assertGt(owed, 0, "the calls paid out");
        assertGe(usdc.balanceOf(address(vault)), owed, "the vault's cash covers every payout at the stress price");
        vm.prank(ATTACKER);
        uint256 paid = vault.claim(id, ATTACKER);
        assertEq(paid, maxSize * 6100e6 / 1e18, "the holder was paid in full: (12,200 - 6,100) per option");
    }

    function test_attack1_farOutOfTheMoneyCallsAreNotFree() public {
        _uncapOpenInterest();
        bytes32 far = vault.listSeries(true, 1e9 * 1e18, START + 30 days);
        // v1 quoted 0 for 1e10 such calls. Now the floor alone is 0.05% of spot per option.
        uint256 premium = vault.quoteOpen(far, 1e18);
        assertGe(premium, 3000e6 * 5 / 10_000, "per-option premium floor: 5 bps of spot");
        // And a large sale needs collateral: 1e9·100% per call.
        vm.expectRevert();
        vault.openPosition(far, 10_000_000_000e18, type(uint256).max, ATTACKER);
    }
}

/// @notice Attack 2. v1: with liabilities marked above assets, `totalAssets()` floored at 0 while deposits stayed
/// open; a deposit of 1e-6 quote minted half the shares and redeemed 635,754 after the options expired worthless.
/// Now deposits (and mints) are refused while liabilities reach assets.
contract Attack2_DepositAtZeroNav is AttackBase {
    function test_attack2_depositAtZeroNavIsRefused() public {
        uint256 expiry = START + 30 days;
        // A book the collateral check accepts (covered up to 6,000), then a rally past the stress price.
        uint256 size = _maxSale(callId, 400e18);
        _buy(callId, size, address(0xB0B));
        _movePrice(9_000);
        (, IOptionVaultTypes.Series[] memory series) = vault.book();
        series;
        assertEq(vault.totalAssets(), 0, "liabilities at or above assets: NAV floors at 0");

        usdc.mint(ATTACKER, 1_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        vm.expectRevert(); // LiabilitiesExceedAssets
        vault.deposit(1, ATTACKER);
        vm.expectRevert();
        vault.deposit(1_000e6, ATTACKER);
        vm.expectRevert();
        vault.mint(1e12, ATTACKER);
        vm.stopPrank();
        assertEq(vault.maxDeposit(ATTACKER), 0, "maxDeposit says so");
        assertEq(vault.balanceOf(ATTACKER), 0, "no share was minted");

        // The old depositors keep the upside: the price comes back and the calls expire worthless.
        _settle(callId, expiry, 2_900, 2_900);
        assertEq(vault.balanceOf(ATTACKER), 0, "the attacker holds nothing to redeem");
        console.log("attack 2: shares the attacker could buy at zero NAV now", vault.balanceOf(ATTACKER));
    }
}

/// @notice Attack 3. v1: inside `deltaToleranceWad` a keeper crossed zero every block (each trade "reducing"
/// |delta| by a wei), sandwiching its own trades to pay the slippage bound: 600 trades in 600 blocks drained 2,265
/// quote, 27,180 a day from a 1,000,000 vault. Now no rebalance starts inside the tolerance, and whatever a keeper
/// does, hedging costs at most the slippage budget in any window.
contract Attack3_KeeperChurn is AttackBase {
    function test_attack3_churningInsideTheToleranceIsRefused() public {
        _buy(callId, 20e18);
        _hedgeTo(-0.09e18); // inside the 0.1 tolerance
        uint256 navBefore = vault.totalAssets();
        uint256 trades;
        for (uint256 i; i < 100; ++i) {
            vm.roll(block.number + 1);
            int256 d = _netDelta();
            (uint256 ru,) = amm.getReserves();
            uint256 push = ru * 2 / 1000; // the keeper moves the pool ~0.4% against the vault first
            if (d < 0) {
                uint256 pin = amm.quoteExactOut(address(usdc), push);
                usdc.mint(address(this), pin);
                uint256 got = amm.swapExactIn(address(usdc), pin, 0, address(this), block.timestamp);
                try vault.rebalance(true, amm.quoteExactOut(address(usdc), 2 * uint256(-d) - 1e12) - 1, 0, block.timestamp) {
                    trades++;
                } catch (bytes memory reason) {
                    assertEq(uint256(uint32(bytes4(reason))), uint256(uint32(IOptionVaultTypes.DeltaWithinTolerance.selector)), "refused as within tolerance");
                }
                amm.swapExactIn(address(weth), got, 0, address(this), block.timestamp);
            } else {
                weth.mint(address(this), push);
                uint256 got = amm.swapExactIn(address(weth), push, 0, address(this), block.timestamp);
                try vault.rebalance(false, 2 * uint256(d) - 1e12, 0, block.timestamp) {
                    trades++;
                } catch {}
                amm.swapExactIn(address(usdc), got, 0, address(this), block.timestamp);
            }
        }
        assertEq(trades, 0, "no churn trade went through");
        assertEq(vault.totalAssets(), navBefore, "nothing drained");
        console.log("attack 3: churn trades in 100 blocks now", trades);
    }

    /// @dev The worst a keeper can do when hedging IS due every block: the oracle swings 1% each block (so |delta|
    /// leaves the tolerance), and the keeper sandwiches every hedge at the slippage bound. Over a day the slippage
    /// paid stays within the budget, then every further hedge reverts.
    function test_attack3_sandwichingKeeperIsCappedByTheSlippageBudget() public {
        _buy(callId, 50e18);
        _hedgeTo(0);
        uint256 navStart = vault.totalAssets();
        uint256 paid; // slippage the vault paid against the oracle, quote wad
        uint256 budgetRefusals;
        uint256 blocks = 400;
        for (uint256 i; i < blocks; ++i) {
            vm.roll(block.number + 1);
            vm.warp(block.timestamp + 12);
            uint256 price = i % 2 == 0 ? 3030 : 2970;
            _movePrice(price);
            int256 d = _netDelta();
            if (SignedMath.abs(d) <= 0.1e18) continue;
            (uint256 ru,) = amm.getReserves();
            uint256 push = ru * 25 / 10_000; // ~0.5% against the vault, then the fee: just inside the 1% bound
            uint256 cashBefore = usdc.balanceOf(address(vault));
            uint256 hedgeBefore = weth.balanceOf(address(vault));
            if (d < 0) {
                uint256 pin = amm.quoteExactOut(address(usdc), push);
                usdc.mint(address(this), pin);
                uint256 got = amm.swapExactIn(address(usdc), pin, 0, address(this), block.timestamp);
                try vault.rebalance(true, amm.quoteExactOut(address(usdc), uint256(-d)), 0, block.timestamp) {}
                catch (bytes memory r) {
                    if (bytes4(r) == IOptionVaultTypes.SlippageBudgetExceeded.selector) budgetRefusals++;
                }
                amm.swapExactIn(address(weth), got, 0, address(this), block.timestamp);
            } else {
                weth.mint(address(this), push);
                uint256 got = amm.swapExactIn(address(weth), push, 0, address(this), block.timestamp);
                try vault.rebalance(false, uint256(d), 0, block.timestamp) {}
                catch (bytes memory r) {
                    if (bytes4(r) == IOptionVaultTypes.SlippageBudgetExceeded.selector) budgetRefusals++;
                }
                amm.swapExactIn(address(usdc), got, 0, address(this), block.timestamp);
            }
            // Slippage of this block's hedge against the oracle: quote spent beyond (or received short of) the
            // underlying's oracle value.
            uint256 cashAfter = usdc.balanceOf(address(vault));
            uint256 hedgeAfter = weth.balanceOf(address(vault));
            if (hedgeAfter > hedgeBefore) {
                uint256 fair = (hedgeAfter - hedgeBefore) * price * 1e6 / 1e18;
                uint256 spent = cashBefore - cashAfter;
                if (spent > fair) paid += (spent - fair) * 1e12;
            } else if (hedgeAfter < hedgeBefore) {
                uint256 fair = (hedgeBefore - hedgeAfter) * price * 1e6 / 1e18;
                uint256 got2 = cashAfter - cashBefore;
                if (fair > got2) paid += (fair - got2) * 1e12;
            }
        }
        // 400 blocks of 12 s: inside one 24-hour window.
        assertLe(paid, uint256(_hedgeParams().slippageBudget) * 1e18, "slippage paid within the budget");
        assertGt(budgetRefusals, 0, "the budget did stop the keeper");
        console.log("attack 3: slippage a sandwiching keeper extracted in 80 minutes (quote)", paid / 1e18);
        console.log("attack 3: hedges refused by the slippage budget", budgetRefusals);
        console.log("attack 3: NAV before/after (quote)", navStart / 1e6, vault.totalAssets() / 1e6);
    }
}

/// @notice Attack 4. v1: with an open runner anyone supplied `performData`: a dust trade each block used up the
/// rebalance interval, so the keeper's hedge reverted `RebalanceTooSoon` in 100 of 100 blocks and |delta| stayed
/// at 10.9; in a shallow pool the upkeep never hedged at all (0 upkeeps in 20 blocks). Now the upkeep sizes its
/// own trade: a stranger can only trigger the due hedge, and a hedge too large for the pool is sliced.
contract Attack4_OpenUpkeepRunner is AttackBase {
    function test_attack4_strangerCannotGriefTheUpkeep() public {
        _buy(callId, 20e18);
        int256 before = _netDelta();
        Stranger s = new Stranger();
        // The dust order of v1: buy with 1e-6 quote. The upkeep ignores it and trades the whole due hedge.
        (bool ok,) = s.performUpkeep(upkeep, abi.encode(true, uint256(1), uint256(0)));
        assertTrue(ok, "the stranger's call executed the due hedge");
        assertLe(SignedMath.abs(_netDelta()), 0.01e18, "the vault is hedged to zero, not by dust");
        assertGt(SignedMath.abs(before), 10e18, "it had a large delta");
        // Further calls only revert: nothing is due.
        for (uint256 i; i < 20; ++i) {
            vm.roll(block.number + 1);
            (ok,) = s.performUpkeep(upkeep, abi.encode(true, uint256(1), uint256(0)));
            assertTrue(!ok, "nothing to perform inside the band");
        }
        assertTrue(!s.rebalance(vault, 1), "and a stranger cannot rebalance the vault directly");
        console.log("attack 4: |delta| after a griefer's calls (milli)", SignedMath.abs(_netDelta()) / 1e15);
    }

    function test_attack4_upkeepSlicesAHedgeTooLargeForThePool() public {
        MockAmm shallow = new MockAmm(address(weth), address(usdc), 30);
        weth.mint(address(this), 300e18);
        usdc.mint(address(this), 900_000e6);
        weth.approve(address(shallow), type(uint256).max);
        usdc.approve(address(shallow), type(uint256).max);
        shallow.addLiquidity(300e18, 900_000e6, 0, address(this));
        IOptionVault v2 = _newVault(AggregatorV3Interface(address(oracle)), IMockAmm(address(shallow)), AggregatorV3Interface(address(0)));
        BandUpkeep u2 = new BandUpkeep(v2, address(0), 50);
        v2.grantRole(v2.KEEPER_ROLE(), address(u2));
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(v2), type(uint256).max);
        v2.deposit(1_000_000e6, address(this));
        bytes32 cid = v2.listSeries(true, 3000e18, START + 30 days);
        uint256 prem = v2.quoteOpen(cid, 20e18);
        usdc.mint(address(this), prem);
        v2.openPosition(cid, 20e18, prem, address(this));
        uint256 performed;
        Stranger s = new Stranger();
        for (uint256 i; i < 40 && SignedMath.abs(v2.netDeltaWad()) > 0.5e18; ++i) {
            vm.roll(block.number + 1);
            vm.warp(block.timestamp + 12);
            (bool ok,) = s.performUpkeep(u2, "");
            if (ok) performed++;
            // An arbitrageur brings the pool back to the oracle between hedges.
            (uint256 ru, uint256 rq) = shallow.getReserves();
            uint256 target = Math.sqrt(ru * rq * 1e12 / 3000);
            if (target > ru) {
                weth.mint(address(this), target - ru);
                shallow.swapExactIn(address(weth), target - ru, 0, address(this), block.timestamp);
            }
        }
        assertGt(performed, 1, "the hedge took several slices");
        assertLe(SignedMath.abs(v2.netDeltaWad()), 0.5e18, "and reached the band");
        console.log("attack 4: shallow pool: upkeep slices to reach the band", performed);
    }

    function test_attack4_upkeepRefusesAPoolPushedOffTheOracle() public {
        _buy(callId, 20e18);
        // A sandwicher pushes the pool 1% up before calling the upkeep.
        (uint256 ru,) = amm.getReserves();
        uint256 pin = amm.quoteExactOut(address(usdc), ru / 200);
        usdc.mint(address(this), pin);
        amm.swapExactIn(address(usdc), pin, 0, address(this), block.timestamp);
        (BandUpkeep.Trade memory t, BandUpkeep.Idle idle) = upkeep.plan();
        t;
        assertEq(uint256(idle), uint256(BandUpkeep.Idle.PoolOffOracle), "no trade into a pushed pool");
        vm.expectRevert(abi.encodeWithSelector(BandUpkeep.NothingToPerform.selector, BandUpkeep.Idle.PoolOffOracle));
        upkeep.performUpkeep("");
    }
}

/// @notice Attack 5. v1: between expiry and settlement an expired series was marked at the current price; with
/// the call in the money at expiry (3,500) and the price back at 3,000, a depositor redeemed 1,003,614 for shares
/// fairly worth 978,614: 25,000 taken from the other depositor. Now withdrawals wait for the settlement.
contract Attack5_ExpiredUnsettledMarkedAtSpot is AttackBase {
    function test_attack5_redemptionWaitsForSettlement() public {
        usdc.mint(ATTACKER, 1_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(1_000_000e6, ATTACKER);
        vm.stopPrank();
        uint256 expiry = START + 2 days;
        bytes32 id = vault.listSeries(true, 3000e18, expiry);
        _buy(id, 100e18, address(0xB0B));
        vm.warp(expiry - 10);
        uint80 round = oracle.setPrice(3500e8);
        vm.warp(expiry + 60);
        oracle.setPrice(3000e8);

        vm.prank(ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SettlementPending.selector, id));
        vault.redeem(shares, ATTACKER, ATTACKER);
        assertEq(vault.maxRedeem(ATTACKER), 0, "maxRedeem is 0 until settled");

        vault.settleSeries(id, round);
        uint256 navPerShareFair = vault.totalAssets(); // with the 50,000 payout owed
        uint256 supply = vault.totalSupply();
        vm.prank(ATTACKER);
        uint256 got = vault.redeem(shares, ATTACKER, ATTACKER);
        uint256 fair = navPerShareFair * shares / supply;
        assertLe(got, fair, "the attacker gets at most its fair share");
        console.log("attack 5: redeemed vs fair share (quote)", got / 1e6, fair / 1e6);
    }
}

/// @notice Attack 6. v1: settlement needed `getRoundData(roundId + 1)`; after an aggregator phase switch that
/// round does not exist, so no round could settle the series (0 of 2 attempts) and its slot was lost. Now the
/// successor of a phase's last round is round 1 of the next phase, and a stale answer at expiry falls back to the
/// first answer after it.
contract Attack6_ChainlinkPhaseChange is AttackBase {
    function test_attack6_settlementAcrossAPhaseSwitch() public {
        uint256 expiry = START + 2 days;
        bytes32 id = vault.listSeries(true, 3000e18, expiry);
        _buy(id, 10e18, address(0xB0B));
        vm.warp(expiry - 10);
        uint80 atExpiry = oracle.setPrice(3500e8);
        vm.warp(expiry + 60);
        uint80 next = oracle.startPhase(3510e8);
        assertEq(uint256(next >> 64), 2, "a new phase");
        vm.expectRevert(); // the new phase's round was updated after expiry: not the round at expiry
        vault.settleSeries(id, next);
        _settleExpecting(id, atExpiry, 500e18, "settled across the phase switch, at the answer current at expiry");
    }

    function test_attack6_staleAnswerAtExpiryFallsBackToTheFirstAfter() public {
        uint256 expiry = START + 2 days;
        bytes32 id = vault.listSeries(false, 3000e18, expiry);
        _buy(id, 10e18, address(0xB0B));
        vm.warp(expiry - 2 hours); // older than maxOracleAge (1 hour) at expiry
        uint80 atExpiry = oracle.setPrice(2900e8);
        vm.warp(expiry + 3 days);
        oracle.startPhase(2800e8);
        _settleExpecting(id, atExpiry, 200e18, "settled at the first answer after expiry (2,800)");
    }
}

/// @notice Attack 7. v1: a buyer who saw a +1% oracle update coming bought 100 calls for 27,937 that were marked at
/// 29,052 right after (+1,115); a depositor in before a -1% update and out after gained 805 per 1,000,000 from an
/// unhedged vault. Now premiums are taken at the spot moved by `latencyBps` against the buyer (plus the capital
/// charge), bids likewise against the seller, and shares enter above and leave below the NAV by the move the next
/// update could make.
contract Attack7_OracleLatency is AttackBase {
    function test_attack7_buyerFrontRunningAVisibleUpdateLoses() public {
        uint256 size = 100e18;
        uint256 premium = _buy(callId, size, ATTACKER);
        _movePrice(3030); // +1%: twice the 0.5% latency the premium priced
        uint256 tau = START + 30 days - block.timestamp;
        // 100 options at the Black–Scholes value after the update, in quote units (6 decimals).
        uint256 markAfter = BlackScholes.price(3030e18, 3000e18, 0.8e18, tau, 0, true) * 100 / 1e12;
        vm.prank(ATTACKER);
        uint256 proceeds = vault.closePosition(callId, size, 0, ATTACKER);
        assertLt(markAfter, premium, "marked below what it cost, even after a 1% jump");
        assertLt(proceeds, premium, "and selling it back loses");
        console.log("attack 7: buyer paid / mark after +1% / sold back for (quote)", premium / 1e6, markAfter / 1e6);
        console.log("attack 7: ... sold back for", proceeds / 1e6);
    }

    function test_attack7_buyerSellingBackAfterAMoveWithinLatencyLoses() public {
        uint256 premium = _buy(putId, 50e18, ATTACKER);
        _movePrice(2985); // -0.5%: favours the put holder by exactly the latency
        vm.prank(ATTACKER);
        uint256 proceeds = vault.closePosition(putId, 50e18, 0, ATTACKER);
        assertLt(proceeds, premium, "no round-trip profit");
    }

    /// @dev A depositor in right before the update and out right after: what the round trip returns (quote units)
    /// for 1,000,000 put in. The deposit lock is lifted here, to test the latency bands on their own.
    function _depositorRoundTrip(uint256 priceAfter) internal returns (uint256 got) {
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.depositLockSeconds = 0;
        vault.setBookLimits(l);
        _buy(callId, 100e18, address(0xB0B)); // delta about -55, unhedged
        usdc.mint(ATTACKER, 1_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(1_000_000e6, ATTACKER);
        vm.stopPrank();
        _movePrice(priceAfter);
        vm.prank(ATTACKER);
        got = vault.redeem(shares, ATTACKER, ATTACKER);
    }

    function test_attack7_depositorFrontRunningAVisibleUpdateGainsNothing() public {
        // -0.5%: the latency the bands price; the update raises the short-call vault's NAV by ~825.
        uint256 got = _depositorRoundTrip(2985);
        assertLe(got, 1_000_000e6, "in before, out after: no gain");
        console.log("attack 7: depositor's round trip over a -0.5% update (micro-quote lost)", 1_000_000e6 - got);
    }

    function test_attack7_depositorOverAOnePercentUpdateGainsNothing() public {
        // -1%: the v1 replay, twice the latency (the entry and the exit band each cover one). To first order the
        // two bands cancel the gain exactly; what is left is second order (the vault's gamma), under one quote
        // unit on a 1,000,000 round trip: less than the gas it costs.
        uint256 got = _depositorRoundTrip(2970);
        assertLe(got, 1_000_001e6, "no gain worth a transaction over a 2x-latency move");
        console.log("attack 7: depositor's round trip over a -1% update, micro-quote gained (v1: 805 quote)", got - 1_000_000e6);
    }

    function test_attack7_depositCannotLeaveBeforeItsLock() public {
        usdc.mint(ATTACKER, 1_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(1_000_000e6, ATTACKER);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.SharesLocked.selector, ATTACKER, shares, block.timestamp + 1 hours));
        vault.redeem(shares, ATTACKER, ATTACKER);
        vm.expectRevert(); // nor can the shares move to another address that could redeem them
        vault.transfer(address(0xC0FFEE), shares);
        vm.stopPrank();
        assertEq(vault.maxRedeem(ATTACKER), 0, "maxRedeem excludes locked shares");
    }
}

/// @notice Attack 8. v1: 660 far out-of-the-money puts (strike 1,500) cost 115 quote and locked all but 10,115 of
/// the 1,000,000 vault for a month, renewably. Now sales may lock at most `maxUtilizationBps` (80%) of the assets,
/// and every locked unit pays the capital charge (5% a year).
contract Attack8_WithdrawalFreeze is AttackBase {
    function test_attack8_freezingWithdrawalsIsCappedAndPaid() public {
        uint256 expiry = START + 30 days;
        bytes32 id = vault.listSeries(false, 1500e18, expiry);
        uint256 size = _maxSale(id, 1_000e18);
        uint256 premium = _buy(id, size, ATTACKER);
        uint256 locked = size * 1500 / 1e18 * 1e6;
        uint256 assets = usdc.balanceOf(address(vault));
        _waitOutDepositLock(3000); // the depositor's own shares are past their deposit lock
        assertLe(locked * 10_000, assets * 8_001, "at most 80% of the assets locked");
        uint256 free = vault.maxWithdraw(address(this));
        assertGe(free * 100, assets * 19, "depositors can still take out about 20%");
        // The charge: 5% a year on the locked strike, for 30 days.
        uint256 charge = locked * 500 / 10_000 * 30 days / 365 days;
        assertGe(premium, charge, "the locked collateral was paid for");
        console.log("attack 8: puts sold / premium paid (quote)", size / 1e18, premium / 1e6);
        console.log("attack 8: left withdrawable (quote, v1: 10,115)", free / 1e6);
    }
}

/// @notice Attack 9 (smaller). v1: no sequencer check on L2s; an answer <= 0 dropped the book and hedge from NAV
/// with deposits open (500,000 deposited at answer 0 were worth 550,007 after recovery); the upkeep accepted any
/// AMM and decimals; a 1-wei position (premium 1e-6 quote) blocked a series' delisting.
contract Attack9_SmallerAttacks is AttackBase {
    function test_attack9_sequencerDownOrInGracePeriodStopsTrading() public {
        ScriptedOracle sequencer = new ScriptedOracle(0, 0); // up since now
        IOptionVault v = _newVault(AggregatorV3Interface(address(oracle)), IMockAmm(address(amm)), AggregatorV3Interface(address(sequencer)));
        usdc.mint(address(this), 1_000e6);
        usdc.approve(address(v), type(uint256).max);
        vm.expectRevert(); // SequencerGracePeriod: just came up
        v.deposit(1_000e6, address(this));
        vm.warp(block.timestamp + 1 hours + 1);
        oracle.setPrice(3000e8);
        v.deposit(1_000e6, address(this));
        sequencer.script(1); // down
        vm.expectRevert(IOptionVaultTypes.SequencerDown.selector);
        v.deposit(1e6, address(this));
        bytes32 id = v.listSeries(true, 3000e18, block.timestamp + 30 days);
        vm.expectRevert(IOptionVaultTypes.SequencerDown.selector);
        v.openPosition(id, 1e18, type(uint256).max, ATTACKER);
    }

    function test_attack9_nonPositiveAnswerRefusesDeposits() public {
        ScriptedOracle feed = new ScriptedOracle(8, 3000e8);
        IOptionVault v = _newVault(AggregatorV3Interface(address(feed)), IMockAmm(address(amm)), AggregatorV3Interface(address(0)));
        usdc.mint(address(this), 2_000_000e6);
        usdc.approve(address(v), type(uint256).max);
        v.deposit(1_000_000e6, address(this));
        bytes32 id = v.listSeries(true, 3000e18, block.timestamp + 30 days);
        uint256 prem = v.quoteOpen(id, 100e18);
        v.openPosition(id, 100e18, prem, address(this));
        v.rebalance(true, amm.quoteExactOut(address(usdc), uint256(-v.netDeltaWad())), 0, block.timestamp);
        feed.script(0);
        usdc.mint(ATTACKER, 500_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(v), type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.InvalidOraclePrice.selector, int256(0)));
        v.deposit(500_000e6, ATTACKER);
        vm.stopPrank();
        assertEq(v.maxWithdraw(address(this)), 0, "withdrawals wait too, with a book and a hedge open");
    }

    function test_attack9_upkeepTakesItsVenueFromTheVault() public {
        // Nothing to misconfigure: the AMM, tokens, oracle and decimals come from the vault.
        BandUpkeep u = new BandUpkeep(vault, address(0), 50);
        assertTrue(address(u.amm()) == address(amm), "the vault's AMM");
        vm.expectRevert(abi.encodeWithSelector(BandUpkeep.InvalidPoolDeviation.selector, 1_001));
        new BandUpkeep(vault, address(0), 1_001);
        // And a vault (both halves) refuses a pool of another pair.
        MockAmm other = new MockAmm(address(weth), address(oracle), 30);
        OptionVaultBase.Config memory config = OptionVaultBase.Config({
            quote: usdc,
            underlying: weth,
            oracle: AggregatorV3Interface(address(oracle)),
            amm: IMockAmm(address(other)),
            sequencerUptimeFeed: AggregatorV3Interface(address(0)),
            perp: IPerpMarket(address(0)),
            admin: address(this),
            name: "x",
            symbol: "x"
        });
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.AmmPairMismatch.selector, address(weth), address(oracle)));
        new OptionVaultExtension(config);
    }

    function test_attack9_dustPositionCannotBlockDelisting() public {
        bytes32 id = vault.listSeries(true, 4000e18, START + 60 days);
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.PositionTooSmall.selector, 1, 0.01e18));
        vault.openPosition(id, 1, type(uint256).max, ATTACKER);
        // Blocking the slot now takes a real position at a real premium.
        uint256 premium = vault.quoteOpen(id, 0.01e18);
        assertGe(premium, 0.01e18 * 3000 * 5 / 10_000 / 1e12, "at least the floor on the minimum size");
        vault.delistSeries(id); // nobody holds dust: the slot frees
        console.log("attack 9: cheapest position that can block a delisting (micro-quote; v1: 1)", premium);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Attacks found by the adversarial review of vault v2 (before the fixes that follow them), each replayed.
// ---------------------------------------------------------------------------------------------------------------

/// @notice Attack 10 (review): series of different expiries covered at one price. The review sold 250 ATM calls
/// expiring on day 2 and 250 ATM puts expiring on day 30 within a single-price collateral check; with the price at
/// the stress level at the first expiry and at 1 at the second, settled claims fell 404,772 short. Now each expiry
/// is covered on its own, at its worst end: the second sale is refused, and whatever sells is paid in full on that
/// path.
contract Attack10_CollateralAcrossExpiries is AttackBase {
    function test_attack10_expiriesAreCoveredSeparately() public {
        _uncapOpenInterest();
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.maxUtilizationBps = 10_000;
        l.maxSeriesOpenInterestWad = uint96(type(int96).max);
        l.maxOpenInterestWad = type(uint96).max;
        vault.setBookLimits(l);
        bytes32 calls = vault.listSeries(true, 3000e18, START + 2 days);
        bytes32 puts = vault.listSeries(false, 3000e18, START + 30 days);
        _buy(calls, 250e18, ATTACKER);
        uint256 p = vault.quoteOpen(puts, 250e18);
        usdc.mint(address(this), p);
        vm.expectRevert(); // InsufficientCollateral: 750,000 for the calls + 750,000 for the puts > the cash
        vault.openPosition(puts, 250e18, p, ATTACKER);

        uint256 putSize = _maxSale(puts, 250e18);
        _buy(puts, putSize, ATTACKER);
        // The path that broke v1's check: the stress price at the calls' expiry, then almost 0 at the puts'.
        vm.warp(START + 2 days - 10);
        uint80 r1 = oracle.setPrice(6000e8);
        vm.warp(START + 2 days + 10);
        oracle.setPrice(6000e8);
        vault.settleSeries(calls, r1);
        vm.prank(ATTACKER);
        vault.claim(calls, ATTACKER);
        vm.warp(START + 30 days - 10);
        uint80 r2 = oracle.setPrice(1e8);
        vm.warp(START + 30 days + 10);
        oracle.setPrice(1e8);
        vault.settleSeries(puts, r2);
        uint256 owed = vault.pendingPayouts();
        vm.prank(ATTACKER);
        uint256 paid = vault.claim(puts, ATTACKER);
        assertGe(paid + 1, owed, "every put paid in cash (the reserve rounds up, a claim down)");
        assertEq(vault.positionOf(puts, ATTACKER), 0, "nothing left unpaid");
        console.log("attack 10: puts sold beside the day-2 calls (v1: 250)", putSize / 1e18);
    }
}

/// @notice Attack 11 (review): a just-in-time deposit around a purchase. Depositing 100,000,000, buying a book of
/// options and redeeming in one transaction returned the buyer 5,531 of the 5,601 margin its purchase gave the
/// depositors; the same sandwich around the manager's volatility cut took 14,815 of their 15,021. Now new shares
/// are locked for an hour, and a sale's margin over the mid mark is earned over the option's life, not at once.
contract Attack11_JustInTimeDeposit is AttackBase {
    function test_attack11_depositAroundAPurchaseCannotLeave() public {
        usdc.mint(ATTACKER, 100_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(100_000_000e6, ATTACKER);
        vm.stopPrank();
        _buy(callId, 100e18, ATTACKER);
        vm.prank(ATTACKER);
        vm.expectRevert(); // SharesLocked
        vault.redeem(shares, ATTACKER, ATTACKER);
    }

    function test_attack11_purchaseMarginIsEarnedOverTime() public {
        // Even with the lock lifted, the margin a sale brings does not land in the NAV at once.
        IOptionVaultTypes.BookLimits memory l = _bookLimits();
        l.depositLockSeconds = 0;
        vault.setBookLimits(l);
        uint256 navBefore = vault.totalAssets();
        uint256 premium = _buy(callId, 100e18, address(0xB0B));
        uint256 navAfter = vault.totalAssets();
        assertLe(navAfter, navBefore + 2, "no jump in the NAV at the sale");
        // Half-way to expiry, about half the margin is earned.
        vm.warp(START + 15 days);
        oracle.setPrice(3000e8);
        console.log("attack 11: premium / NAV jump at the sale (quote)", premium / 1e6, (navAfter - navBefore) / 1e6);

        // The review's replay: deposit 100M, buy a delta-neutral book, redeem, in one go.
        usdc.mint(ATTACKER, 100_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(100_000_000e6, ATTACKER);
        vm.stopPrank();
        uint256 paid = _buy(callId, 100e18, ATTACKER) + _buy(putId, 120e18, ATTACKER);
        vm.prank(ATTACKER);
        uint256 back = vault.redeem(shares, ATTACKER, ATTACKER);
        uint256 tau1 = START + 30 days - block.timestamp;
        uint256 tau2 = START + 20 days - block.timestamp;
        uint256 optionsWorth = (BlackScholes.price(3000e18, 3000e18, 0.8e18, tau1, 0, true) * 100
            + BlackScholes.price(3000e18, 2800e18, 0.8e18, tau2, 0, false) * 120) / 1e30;
        // What the attacker holds (options at the mid + what it redeemed) against what it paid.
        assertLe(optionsWorth + back, paid + 100_000_000e6, "the round trip does not recover the margin paid");
        console.log("attack 11: margin the JIT depositor recovered of what it paid (quote)", (optionsWorth + back > 100_000_000e6 ? optionsWorth + back - 100_000_000e6 : 0) / 1e6, paid / 1e6);
    }

    function test_attack11_volatilityCutSandwichMustHoldThroughTheLock() public {
        _buy(callId, 200e18, address(0xB0B));
        usdc.mint(ATTACKER, 100_000_000e6);
        vm.startPrank(ATTACKER);
        usdc.approve(address(vault), type(uint256).max);
        uint256 shares = vault.deposit(100_000_000e6, ATTACKER);
        vm.stopPrank();
        IOptionVaultTypes.RiskParams memory r = _riskParams();
        r.volWad = 0.6e18;
        vault.setRiskParams(r);
        vm.prank(ATTACKER);
        vm.expectRevert(); // SharesLocked: the jump cannot be taken in the same transaction or block
        vault.redeem(shares, ATTACKER, ATTACKER);
    }
}

/// @notice Attack 12 (review): a dust position at a high strike. With one stress price for the whole book, 0.01 of a
/// 6,000-strike call (premium 0.25) doubled the collateral every ATM call needed: withdrawable cash fell from
/// 759,710 to 225,651. Now every call is covered at its own stress price: the dust adds its own 60.
contract Attack12_DustHighStrikeCall is AttackBase {
    function test_attack12_dustAtAHighStrikeLocksOnlyItsOwnCollateral() public {
        _buy(callId, 89e18, address(0xB0B));
        bytes32 high = vault.listSeries(true, 6000e18, START + 30 days);
        _waitOutDepositLock(3000);
        uint256 freeBefore = vault.maxWithdraw(address(this));
        uint256 premium = _buy(high, 0.01e18, ATTACKER);
        uint256 freeAfter = vault.maxWithdraw(address(this));
        // 0.01 × (6,000 × 2 − 6,000) = 60 of collateral, and the premium came in.
        assertLe(freeBefore - freeAfter, 61e6, "the dust locks only its own collateral");
        console.log("attack 12: withdrawable before / after the dust (quote)", freeBefore / 1e6, freeAfter / 1e6);
        console.log("attack 12: dust premium (micro-quote)", premium);
    }
}

/// @notice Attack 13 (review): settlement blocked forever. With the round at expiry too old and the next answer 0,
/// no round could settle the series, and deposits, withdrawals and claims stayed refused. Now settlement takes the
/// first usable answer after expiry, looking up to 32 rounds on.
contract Attack13_SettlementStuckOnBadRounds is AttackBase {
    function test_attack13_settlesAtTheFirstUsableAnswerAfterExpiry() public {
        ScriptedOracle feed = new ScriptedOracle(8, 3000e8);
        IOptionVault v = _newVault(AggregatorV3Interface(address(feed)), IMockAmm(address(amm)), AggregatorV3Interface(address(0)));
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(v), type(uint256).max);
        v.deposit(1_000_000e6, address(this));
        uint256 expiry = START + 2 days;
        bytes32 id = v.listSeries(true, 3000e18, expiry);
        uint256 p = v.quoteOpen(id, 10e18);
        usdc.mint(address(this), p);
        v.openPosition(id, 10e18, p, ATTACKER);
        vm.warp(expiry - 2 hours);
        uint80 atExpiry = feed.script(3400e8); // stale at expiry (maxOracleAge 1 hour)
        vm.warp(expiry + 1 hours);
        feed.script(0); // a broken answer first
        feed.script(-5);
        vm.warp(expiry + 2 hours);
        feed.script(3500e8); // then a good one
        v.settleSeries(id, atExpiry);
        (, uint256 perUnit) = v.settlementOf(id);
        assertEq(perUnit, 500e18, "settled at the first usable answer after expiry");
    }
}

/// @notice Attack 14 (review): claims paid in the underlying at the oracle mid. A claimer who saw a +0.5% update
/// coming took 251,140 worth for a 250,000 payout; with the oracle stale, the whole claim reverted, the cash part
/// too. Now the underlying part is valued at the oracle price moved by the latency against the claimer, and with
/// an unusable oracle the cash is paid and the rest stays claimable.
contract Attack14_ClaimInKind is AttackBase {
    /// @dev 25 calls at 2,000 settled at 3,500 (37,500 owed), after the depositor took out what the book does not
    /// need and the keeper hedged with most of the rest: the claim exceeds the cash left.
    function _settledShortOfCash() internal returns (bytes32 id) {
        id = vault.listSeries(true, 2000e18, START + 2 days);
        _buy(id, 25e18, ATTACKER);
        _waitOutDepositLock(3000);
        vault.withdraw(vault.maxWithdraw(address(this)), address(this), address(this));
        vm.roll(block.number + 1);
        _hedgeTo(0);
        vm.warp(START + 2 days - 10);
        uint80 r = oracle.setPrice(3500e8);
        vm.warp(START + 2 days + 10);
        oracle.setPrice(3500e8);
        vault.settleSeries(id, r);
    }

    function test_attack14_inKindPartPricedAgainstTheClaimer() public {
        bytes32 id = _settledShortOfCash();
        uint256 owed = 25 * 1500e6;
        uint256 cash = usdc.balanceOf(address(vault));
        assertLt(cash, owed, "the cash does not cover the claim");
        vm.prank(ATTACKER);
        uint256 paid = vault.claim(id, ATTACKER);
        uint256 gotUnderlying = weth.balanceOf(ATTACKER);
        // Valued at the mid (3,500), what the claimer received is at most what it was owed.
        assertGt(gotUnderlying, 0, "part of it in the underlying");
        assertLe(paid + gotUnderlying * 3500 / 1e12, owed, "valued at the mid, no more than owed");
        oracle.setPrice(3517.5e8); // the +0.5% update the claimer saw coming
        assertLe(paid + gotUnderlying * 35175 / 1e13, owed + 1, "nor after the update it saw coming");
    }

    function test_attack14_staleOraclePaysTheCashPartAndKeepsTheRestClaimable() public {
        bytes32 id = _settledShortOfCash();
        vm.warp(block.timestamp + 2 hours); // the oracle goes stale
        uint256 cash = usdc.balanceOf(address(vault));
        vm.prank(ATTACKER);
        uint256 paid = vault.claim(id, ATTACKER);
        assertEq(paid, cash, "the cash part is paid");
        assertGt(vault.positionOf(id, ATTACKER), 0, "the rest stays claimable");
        oracle.setPrice(3500e8);
        vm.prank(ATTACKER);
        vault.claim(id, ATTACKER); // paid in the underlying now
        assertEq(vault.positionOf(id, ATTACKER), 0, "then paid in full");
    }
}

/// @dev A "vault" whose views burn all the gas they are given.
contract GasBurner {
    fallback() external {
        while (true) {}
    }
}

/// @notice Attack 15 (review): one address that burns gas in `VaultLens.read` made the keeper's whole read fail
/// (two burners before a 12-series vault, under a 30M gas cap). Now each vault's view runs with its own gas limit.
contract Attack15_LensGasBurner is AttackBase {
    function test_attack15_burnersCannotFailTheRead() public {
        VaultLens lens = new VaultLens();
        for (uint256 i; i < 10; ++i) vault.listSeries(i % 2 == 0, (2500 + i * 100) * 1e18, START + (5 + i) * 1 days);
        address[] memory vaults = new address[](3);
        vaults[0] = address(new GasBurner());
        vaults[1] = address(new GasBurner());
        vaults[2] = address(vault);
        (, VaultLens.Snapshot[] memory snaps) = lens.read{gas: 30_000_000}(vaults, true, address(0));
        assertTrue(!snaps[0].ok && !snaps[1].ok, "the burners are reported as failed");
        assertTrue(snaps[2].ok, "and the real vault is read");
        assertEq(snaps[2].book.length, 12, "with its book");
    }
}

/// @notice Attack 16 (review): 1 wei of underlying donated to an empty vault froze every withdrawal while the
/// oracle was down. Now a vault with no option open lets depositors out at its cash value without a price (any
/// underlying it holds stays with those who remain).
contract Attack16_DustDonationFreeze is AttackBase {
    function test_attack16_donatedDustDoesNotFreezeWithdrawals() public {
        (bytes32[] memory ids,) = vault.book();
        for (uint256 i; i < ids.length; ++i) vault.delistSeries(ids[i]);
        weth.mint(address(vault), 1);
        vm.warp(block.timestamp + 3 hours); // oracle stale, deposit lock over
        uint256 max = vault.maxWithdraw(address(this));
        assertEq(max, 1_000_000e6, "the cash can leave");
        vault.withdraw(max, address(this), address(this));
    }
}

/// @notice Attack 17 (review): the open upkeep traded up to the vault's whole 1% execution bound on every slice
/// (3,251 to hedge 108 ETH against 1,642 in small slices). Now it sizes to half the bound.
contract Attack17_UpkeepPaysTheWholeBound is AttackBase {
    function test_attack17_upkeepSlicesAtHalfTheBound() public {
        _buy(callId, 200e18);
        Stranger s = new Stranger();
        uint256 cashBefore = usdc.balanceOf(address(vault));
        uint256 heldBefore = weth.balanceOf(address(vault));
        (bool ok,) = s.performUpkeep(upkeep, "");
        assertTrue(ok, "hedged");
        uint256 paid = (cashBefore - usdc.balanceOf(address(vault))) * 1e12;
        uint256 got = weth.balanceOf(address(vault)) - heldBefore;
        uint256 priceWad = paid * 1e18 / got;
        assertLe(priceWad, 3000e18 * 10_050 / 10_000, "within half the 1% bound of the oracle");
    }
}
