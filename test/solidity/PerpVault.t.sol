// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {VaultSetup} from "./VaultSetup.sol";
import {IOptionVault, IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {IPerpMarket} from "../../contracts/interfaces/IPerpMarket.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {MockPerpMarket} from "../../contracts/mocks/MockPerpMarket.sol";

/// @notice The perp venue's guards under fuzzing (issue 14): whatever size a keeper asks `hedgePerp` for, at
/// whatever price, a hedge that goes through only reduces |net delta|, never overshoots past zero by more than the
/// tolerance, leaves the position at least `minMarginBps` of its notional in margin unless it only reduced it,
/// costs the NAV no more than its fee and its impact, and keeps `netDeltaWad` = book + underlying + position. A
/// refused one changes nothing.
contract PerpVaultTest is VaultSetup {
    MockPerpMarket internal perp;
    IOptionVault internal pv;
    bytes32 internal puts;
    bytes32 internal calls;

    uint256 internal constant MIN_MARGIN_BPS = 1_500;

    function setUp() public {
        _deploy();
        perp = new MockPerpMarket(
            address(usdc),
            address(oracle),
            IPerpMarket.MarketParams({
                skewScale: 100_000e18,
                maxFundingVelocity: 0.03e18,
                makerFeeBps: 2,
                takerFeeBps: 10,
                maintenanceMarginBps: 100,
                liquidationRewardBps: 10,
                minLiquidationReward: 20e6,
                maxLeverage: 10e18,
                maxOracleAge: 3600
            }),
            address(this)
        );
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(perp), type(uint256).max);
        perp.fundPool(1_000_000e6);

        pv = _newVault(
            AggregatorV3Interface(address(oracle)), IMockAmm(address(amm)), AggregatorV3Interface(address(0)), perp
        );
        pv.setPerpMarginBounds(uint16(MIN_MARGIN_BPS), 4_000);
        usdc.mint(address(this), 2_000_000e6);
        usdc.approve(address(pv), type(uint256).max);
        pv.deposit(2_000_000e6, address(this));
        // A mixed book: 60 puts and 20 calls at the money, 30 days: delta ≈ +20 at 3,000, crossing zero above.
        puts = pv.listSeries(false, 3000e18, START + 30 days);
        calls = pv.listSeries(true, 3000e18, START + 30 days);
        _sell(puts, 60e18);
        _sell(calls, 20e18);
        pv.postPerpMargin(30_000e6);
        vm.roll(block.number + 1);
    }

    function _sell(bytes32 id, uint256 sizeWad) internal {
        uint256 premium = pv.quoteOpen(id, sizeWad);
        usdc.mint(address(this), premium);
        pv.openPosition(id, sizeWad, premium, address(0xB0B));
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-(x + 1)) + 1;
    }

    /// @dev An extreme size is refused by the guard it breaks, before the market is called: not an arithmetic panic
    /// in the vault's |size|.
    function test_hedgePerpOfTheMostNegativeSizeIsTradeTooLarge() public {
        vm.expectRevert(abi.encodeWithSelector(IOptionVaultTypes.TradeTooLarge.selector, uint256(1) << 255, uint256(200e18)));
        pv.hedgePerp(type(int256).min, 0, block.timestamp);
    }

    /// @dev What the checks after a hedge compare with.
    struct Before {
        int256 delta;
        int256 position;
        uint256 nav;
        uint256 fill;
        uint256 fee;
        uint256 spot;
    }

    /// @dev Any size at any price from 2,400 to 3,600, after an optional first hedge.
    function testFuzz_hedgePerpOnlyReducesRiskAndCostsOnlyItsFeeAndImpact(int256 rawSize, uint256 price, bool hedgeFirst)
        public
    {
        if (hedgeFirst) pv.hedgePerp(-int256(_abs(pv.netDeltaWad())) / 2, 0, block.timestamp);
        vm.roll(block.number + 1);
        oracle.setPrice(int256(bound(price, 2_400, 3_600)) * 1e8);
        int256 size = int256(bound(_abs(rawSize), 1, 250e18)) * (rawSize < 0 ? int256(-1) : int256(1));
        Before memory b = Before({
            delta: pv.netDeltaWad(),
            position: perp.sizeOf(address(pv)),
            nav: pv.totalAssets(),
            fill: perp.fillPrice(size),
            fee: perp.orderFee(size),
            spot: perp.oraclePrice()
        });
        try pv.hedgePerp(size, size > 0 ? type(uint256).max : 0, block.timestamp) returns (int256 deltaBefore, int256 deltaAfter) {
            assertEq(deltaBefore, b.delta, "deltaBefore is the vault's net delta");
            _checkHedged(b, size, deltaAfter);
        } catch {
            assertEq(pv.netDeltaWad(), b.delta, "a refused hedge changes nothing");
            assertEq(perp.sizeOf(address(pv)), b.position, "nor the position");
        }
    }

    function _checkHedged(Before memory b, int256 size, int256 a) internal view {
        IOptionVaultTypes.HedgeParams memory hp = pv.hedgeParams();
        assertEq(a, b.delta + size, "deltaAfter = before + size");
        assertEq(pv.netDeltaWad(), a, "netDeltaWad counts the new position");
        assertLt(_abs(a), _abs(b.delta), "|delta| decreases");
        if ((b.delta < 0) != (a < 0) && a != 0) assertLe(_abs(a), hp.deltaToleranceWad, "no overshoot past the tolerance");
        assertLe(_abs(size), hp.maxTradeWad, "within maxTradeWad");
        int256 positionAfter = perp.sizeOf(address(pv));
        assertEq(positionAfter, b.position + size, "the position moved by the size");
        bool reducedOnly = (positionAfter >= 0) == (b.position >= 0) && _abs(positionAfter) < _abs(b.position);
        if (!reducedOnly && positionAfter != 0) {
            IPerpMarket.PositionView memory p = perp.positionOf(address(pv));
            int256 effective = int256(p.margin) + p.pnl + p.funding - int256(p.premiumCredit);
            uint256 required = _abs(positionAfter) * b.spot / 1e18 * MIN_MARGIN_BPS / 10_000 / 1e12;
            assertGe(effective, int256(required), "margin at least minMarginBps of the notional");
        }
        // The NAV pays the fee and the impact, |size|·|fill − p|, and nothing else (a unit or two of rounding).
        uint256 impact = _abs(size) * (b.fill > b.spot ? b.fill - b.spot : b.spot - b.fill) / 1e18 / 1e12;
        assertGe(pv.totalAssets() + b.fee + impact + 2, b.nav, "NAV loses at most fee + impact");
    }

    /// @dev A position opened with less than minMarginBps of its notional in margin (but above the market's own 10%
    /// initial margin) is refused; with enough margin the same hedge goes through.
    function test_hedgePerpNeedsTheMinimumMargin() public {
        pv.withdrawPerpMargin(30_000e6); // no position: all of it may come back
        int256 delta = pv.netDeltaWad();
        uint256 notional = uint256(delta) * perp.oraclePrice() / 1e18 / 1e12;
        pv.postPerpMargin(notional * 1_200 / 10_000); // 12%
        try pv.hedgePerp(-delta, 0, block.timestamp) {
            revert("a hedge with 12% of margin went through");
        } catch (bytes memory err) {
            assertEq(uint256(uint32(bytes4(err))), uint256(uint32(IOptionVaultTypes.PerpMarginTooLow.selector)), "PerpMarginTooLow");
        }
        pv.postPerpMargin(notional * 800 / 10_000); // 20%
        pv.hedgePerp(-delta, 0, block.timestamp);
        assertEq(perp.sizeOf(address(pv)), -delta, "hedged with enough margin");
    }

    /// @dev Whatever the keeper withdraws, a position is left with at least minMarginBps, or the withdrawal fails.
    function testFuzz_withdrawPerpMarginKeepsTheMinimum(uint256 amount, uint256 price) public {
        pv.hedgePerp(-int256(_abs(pv.netDeltaWad())), 0, block.timestamp);
        oracle.setPrice(int256(bound(price, 2_700, 3_300)) * 1e8);
        amount = bound(amount, 1, 30_000e6);
        try pv.withdrawPerpMargin(amount) {
            IPerpMarket.PositionView memory p = perp.positionOf(address(pv));
            int256 effective = int256(p.margin) + p.pnl + p.funding - int256(p.premiumCredit);
            uint256 required = _abs(p.sizeWad) * perp.oraclePrice() / 1e18 * MIN_MARGIN_BPS / 10_000 / 1e12;
            assertGe(effective, int256(required), "margin left >= minMarginBps of the notional");
        } catch {}
    }
}
