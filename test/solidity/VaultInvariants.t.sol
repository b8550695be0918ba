// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {VaultSetup} from "./VaultSetup.sol";
import {IOptionVault, IOptionVaultBook, IOptionVaultCore, IOptionVaultTypes} from "../../contracts/interfaces/IOptionVault.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";
import {AggregatorV3Interface} from "../../contracts/interfaces/AggregatorV3Interface.sol";
import {BandUpkeep} from "../../contracts/BandUpkeep.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {MockAmm} from "../../contracts/mocks/MockAmm.sol";
import {MockOracle} from "../../contracts/mocks/MockOracle.sol";
import {ScriptedOracle} from "../../contracts/test/ScriptedOracle.sol";

/// @dev The adversaries of the invariant campaign. Every handler function is one actor's move: a malicious keeper
/// (any size and direction, sandwiching its own trade), an arbitrary buyer (opens and sells back any series at any
/// size), depositors who enter and leave, a stranger driving the open upkeep, the manager listing series, anyone
/// settling and claiming, the guardian pausing and the admin unpausing, and the market (oracle moves, stale and non-positive answers, phase switches, time).
///
/// After each non-market move it checks what the move did to a reference depositor who never acts: the value of its
/// shares at the oracle mid may fall only by the slippage a hedge paid (keeper, upkeep) — never by a buyer's,
/// another depositor's or a claimer's action beyond rounding. It records every hedge's notional and slippage
/// against the oracle per budget window, and every rebalance that did not reduce |delta|.
contract VaultActors is TestBase {
    IOptionVault internal immutable vault;
    MockERC20 internal immutable usdc;
    MockERC20 internal immutable weth;
    ScriptedOracle internal immutable feed;
    MockAmm internal immutable amm;
    BandUpkeep internal immutable upkeep;

    address internal constant KEEPER = address(0x4B);
    address internal constant BUYER = address(0xB1);
    address internal constant DEPOSITOR_A = address(0xDA);
    address internal constant DEPOSITOR_B = address(0xDB);
    address internal constant STRANGER = address(0x55);
    /// @dev The depositor whose value the campaign watches; it never acts after setup.
    address public constant REFERENCE = address(0x4EF);

    uint256 internal constant WINDOW = 6 hours;
    /// @dev Rounding the vault may do against a depositor per move: liabilities round up per series (≤ 32 series of
    /// 1 wei of quote wad each, i.e. < 1 quote unit), share conversions round down — 2 quote units is generous.
    uint256 internal constant ROUNDING_UNITS = 2;

    bytes32[] internal _series;
    uint256 public price = 3000;
    bool public oracleBroken;

    // What the invariants read.
    uint256 public deltaIncreases;
    uint256 public worstValueTaken; // quote units the reference lost to a non-market move beyond its allowance
    uint256 public claimsRefused; // claims by a holder with a settled position that reverted while the vault held enough
    uint256 public maxWithdrawRefused; // withdrawals of exactly `maxWithdraw` that reverted
    uint256 public hedges;
    uint256 public tradesWhilePaused; // hedges, sales and deposits that went through while the vault was paused
    /// @dev Successful moves by kind, so a run shows what it exercised: open, close, deposit, redeem, settle, claim,
    /// pause, and a move refused because the vault was paused (`test_handlersReachEveryState` pins that each can).
    uint256[8] public done;
    mapping(uint256 window => uint256 wad) public slippageIn;
    mapping(uint256 window => uint256 wad) public notionalIn;
    uint256[] internal _windows;

    constructor(IOptionVault v, MockERC20 u, MockERC20 w, ScriptedOracle f, MockAmm a, BandUpkeep b, bytes32[] memory s) {
        vault = v;
        usdc = u;
        weth = w;
        feed = f;
        amm = a;
        upkeep = b;
        _series = s;
        address[5] memory actors = [BUYER, DEPOSITOR_A, DEPOSITOR_B, KEEPER, address(this)];
        for (uint256 i; i < actors.length; ++i) {
            vm.startPrank(actors[i]);
            usdc.approve(address(vault), type(uint256).max);
            usdc.approve(address(amm), type(uint256).max);
            weth.approve(address(amm), type(uint256).max);
            vm.stopPrank();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The keeper, malicious: any size, either way, sandwiching its own trade
    // ---------------------------------------------------------------------------------------------------------

    function keeperRebalance(bool buy, uint256 amountSeed, uint256 pushSeed) external {
        vm.roll(block.number + 1);
        // Moves the pool up to 0.6% against the vault first (a sandwich), or in its favour (the keeper as a
        // counterparty that pays to trade: then only the notional budget binds).
        uint256 push = bound(pushSeed, 0, 120);
        (uint256 pushed, bool pushedUp) = push <= 60 ? _push(buy, push) : _push(!buy, push - 60);
        // Sizes relative to the delta (0.01% to 300% of it, either direction), so most orders are plausible and
        // the guards, not the pool, decide.
        uint256 underlyingWad = SignedMath.abs(vault.netDeltaWad()) * bound(amountSeed, 1, 30_000) / 10_000 + 1e12;
        // Within what the vault trades at all (`maxTradeWad`) and the pool can take inside the slippage bound
        // (~0.3% of the reserve), so that the guards on the delta and the budget are what decide.
        (uint256 ru,) = amm.getReserves();
        if (underlyingWad > 200e18) underlyingWad = 200e18;
        if (underlyingWad > ru * 3 / 1000) underlyingWad = ru * 3 / 1000;
        uint256 amountIn = buy ? amm.quoteExactOut(address(usdc), underlyingWad) : underlyingWad;
        _refCheck(address(vault), abi.encodeCall(IOptionVaultCore.rebalance, (buy, amountIn, 0, block.timestamp)), KEEPER, true);
        _unpush(pushed, pushedUp);
    }

    // ---------------------------------------------------------------------------------------------------------
    // A stranger driving the open upkeep
    // ---------------------------------------------------------------------------------------------------------

    function strangerUpkeep(bytes calldata data) external {
        vm.roll(block.number + 1);
        _refCheck(address(upkeep), abi.encodeCall(BandUpkeep.performUpkeep, (data)), STRANGER, true);
    }

    // ---------------------------------------------------------------------------------------------------------
    // A buyer: any series, any size, both ways
    // ---------------------------------------------------------------------------------------------------------

    function buyerOpen(uint256 seriesSeed, uint256 sizeSeed) external {
        bytes32 id = _pickLive(seriesSeed);
        if (id == 0) return;
        // From 0.01 to ~10,000 options, log-uniformly: small trades, and trades far past the collateral and
        // utilisation limits of a 1,000,000 vault, so that those limits, not the handler, decide.
        uint256 e = bound(sizeSeed, 0, 599);
        uint256 sizeWad = 0.01e18 * 10 ** (e / 100) * (100 + 9 * (e % 100)) / 100;
        usdc.mint(BUYER, 20_000_000e6);
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IOptionVaultBook.openPosition, (id, sizeWad, type(uint256).max, BUYER)), BUYER, false);
        if (ok) done[0]++;
    }

    function buyerClose(uint256 seriesSeed, uint256 sizeSeed) external {
        bytes32 id = _pick(seriesSeed);
        uint256 held = vault.positionOf(id, BUYER);
        if (held == 0) return;
        uint256 sizeWad = bound(sizeSeed, 1, held);
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IOptionVaultBook.closePosition, (id, sizeWad, 0, BUYER)), BUYER, false);
        if (ok) done[1]++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Depositors entering and leaving
    // ---------------------------------------------------------------------------------------------------------

    function deposit(bool b, uint256 amountSeed) external {
        address who = b ? DEPOSITOR_B : DEPOSITOR_A;
        uint256 amount = bound(amountSeed, 1, 2_000_000e6);
        usdc.mint(who, amount);
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IERC4626.deposit, (amount, who)), who, false);
        if (ok) done[2]++;
    }

    function redeem(bool b, uint256 sharesSeed) external {
        address who = b ? DEPOSITOR_B : DEPOSITOR_A;
        uint256 shares = vault.balanceOf(who);
        if (shares == 0) return;
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IERC4626.redeem, (bound(sharesSeed, 1, shares), who, who)), who, false);
        if (ok) done[3]++;
    }

    function withdrawMax(bool b) external {
        address who = b ? DEPOSITOR_B : DEPOSITOR_A;
        uint256 assets = vault.maxWithdraw(who);
        if (assets == 0) return;
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IERC4626.withdraw, (assets, who, who)), who, false);
        // ERC-4626: what maxWithdraw says can be withdrawn, can.
        if (!ok) maxWithdrawRefused++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // The manager, settlement and claims
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Lists a series near the money expiring within 1–3 days: short-dated books are where settlement and
    /// claims get exercised within a run.
    function managerList(bool isCall, uint256 strikeSeed, uint256 hoursSeed) external {
        uint256 strike = price * bound(strikeSeed, 90, 110) / 100 * 1e18;
        uint256 expiry = block.timestamp + bound(hoursSeed, 24, 72) * 1 hours;
        try vault.listSeries(isCall, strike, expiry) returns (bytes32 id) {
            _series.push(id);
        } catch {}
    }

    /// @dev Settles every expired series against the round current at its expiry (found by walking back from the
    /// latest round, across phases).
    function settle() external {
        (bytes32[] memory ids, IOptionVaultTypes.Series[] memory book) = vault.book();
        for (uint256 i; i < ids.length; ++i) {
            bytes32 id = ids[i];
            if (book[i].expiry > block.timestamp) continue;
            uint80 round = feed.latestRound();
            for (uint256 k; k < 64; ++k) {
                (,,, uint256 t,) = feed.getRoundData(round);
                if (t <= book[i].expiry) break;
                if (uint64(round) == 1) round = uint80(((uint256(round) >> 64) - 1) << 64 | _lastRoundOfPhase((uint256(round) >> 64) - 1));
                else round--;
            }
            try vault.settleSeries(id, round) {
                done[4]++;
            } catch {}
        }
    }

    function claim(uint256 seriesSeed) external {
        bytes32 id = _pick(seriesSeed);
        (bool settled,) = vault.settlementOf(id);
        if (!settled || vault.positionOf(id, BUYER) == 0) return;
        uint256 spotWad = oracleBroken ? 0 : price * 1e18;
        // Payable: in quote, and the shortfall in the underlying at a usable oracle price.
        bool payable_ = usdc.balanceOf(address(vault)) >= vault.pendingPayouts()
            || (spotWad != 0 && usdc.balanceOf(address(vault)) * 1e12 + weth.balanceOf(address(vault)) * spotWad / 1e18
                >= vault.pendingPayouts() * 1e12);
        (bool ok,) = _refCheck(address(vault), abi.encodeCall(IOptionVaultBook.claim, (id, BUYER)), BUYER, false);
        if (ok) done[5]++;
        else if (payable_ && !_oracleStale()) claimsRefused++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // The guardian and the admin
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The guardian pauses; every other actor keeps trying its moves while the vault stays paused.
    function guardianPause() external {
        if (vault.paused()) return;
        vault.pause();
        done[6]++;
    }

    function adminUnpause() external {
        if (vault.paused()) vault.unpause();
    }

    // ---------------------------------------------------------------------------------------------------------
    // The market
    // ---------------------------------------------------------------------------------------------------------

    function movePrice(uint256 moveSeed, uint256 minutesSeed) external {
        // Up to a day at a time, so that series expire within a run and get settled and claimed.
        vm.warp(block.timestamp + bound(minutesSeed, 1, 1440) * 1 minutes);
        vm.roll(block.number + 1);
        // Up to ±20% a move (crashes and rallies that test the collateral), kept in [1,500, 9,000].
        uint256 bps = bound(moveSeed, 8_000, 12_000);
        price = price * bps / 10_000;
        if (price < 1_500) price = 1_500;
        if (price > 9_000) price = 9_000;
        feed.script(int256(price) * 1e8);
        oracleBroken = false;
        _arbitrage();
    }

    /// @dev Time passes (1 to 60 minutes) with the oracle refreshed at the same price (a heartbeat).
    function tick(uint256 minutesSeed) external {
        vm.warp(block.timestamp + bound(minutesSeed, 1, 60) * 1 minutes);
        vm.roll(block.number + 5);
        feed.script(int256(price) * 1e8);
        oracleBroken = false;
    }

    function breakOracle(bool nonPositive) external {
        vm.roll(block.number + 1);
        if (nonPositive) {
            feed.script(0);
            oracleBroken = true;
        } else {
            vm.warp(block.timestamp + 2 hours); // older than maxOracleAge
        }
    }

    function newPhase() external {
        vm.warp(block.timestamp + 60);
        feed.startPhase(int256(price) * 1e8);
        oracleBroken = false;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Bookkeeping
    // ---------------------------------------------------------------------------------------------------------

    function windows() external view returns (uint256[] memory) {
        return _windows;
    }

    /// @dev Every series listed so far (setup's and the manager's), settled or not.
    function listed() external view returns (bytes32[] memory) {
        return _series;
    }

    /// @dev What the reference depositor's shares are worth at the oracle mid, quote units (OpenZeppelin's
    /// conversion with the virtual offset, as the vault's), or none when the oracle cannot price the vault.
    function _referenceValue() internal view returns (uint256 value, bool priced) {
        if (oracleBroken) return (0, false);
        uint256 supply = vault.totalSupply();
        return (vault.balanceOf(REFERENCE) * (vault.totalAssets() + 1) / (supply + 1e6), true);
    }

    /// @dev Calls `target` as `actor` and checks the reference depositor's value: a hedge (`hedge`) may cost it its
    /// share of the slippage paid, anything else only rounding. Records hedges for the budget and delta checks.
    function _refCheck(address target, bytes memory data, address actor, bool hedge) internal returns (bool ok, bytes memory ret) {
        (uint256 before, bool priced) = _referenceValue();
        uint256 cash = usdc.balanceOf(address(vault));
        uint256 held = weth.balanceOf(address(vault));
        int256 deltaBefore = vault.netDeltaWad();
        bool paused = vault.paused();
        vm.prank(actor);
        (ok, ret) = target.call(data);
        if (!ok) {
            if (paused && ret.length >= 4 && bytes4(ret) == IOptionVaultTypes.VaultPaused.selector) done[7]++;
            return (ok, ret);
        }
        // Paused: no hedge (the keeper's or the upkeep's), no sale, no deposit; withdrawals and claims stay open.
        bytes4 selector = bytes4(data);
        if (
            paused
                && (weth.balanceOf(address(vault)) != held || selector == IOptionVaultBook.openPosition.selector
                    || selector == IERC4626.deposit.selector)
        ) tradesWhilePaused++;
        uint256 allowance = ROUNDING_UNITS;
        if (hedge || target == address(vault) && bytes4(data) == IOptionVaultCore.rebalance.selector) {
            allowance += _recordHedge(cash, held, deltaBefore);
        }
        (uint256 afterValue, bool stillPriced) = _referenceValue();
        if (priced && stillPriced && afterValue + allowance < before) {
            uint256 taken = before - afterValue - allowance;
            if (taken > worstValueTaken) worstValueTaken = taken;
        }
    }

    /// @dev A hedge that just went through: its notional and slippage against the oracle in this budget window,
    /// whether it reduced |delta|; returns the slippage in quote units (rounded up), the most it may cost.
    function _recordHedge(uint256 cashBefore, uint256 heldBefore, int256 deltaBefore) internal returns (uint256 slippageUnits) {
        uint256 cash = usdc.balanceOf(address(vault));
        uint256 held = weth.balanceOf(address(vault));
        if (held == heldBefore) return 0; // the call did not trade (e.g. an upkeep that reverted inside)
        hedges++;
        bool buy = held > heldBefore;
        uint256 tradedWad = buy ? held - heldBefore : heldBefore - held;
        uint256 quoteWad = (buy ? cashBefore - cash : cash - cashBefore) * 1e12;
        uint256 fairWad = tradedWad * price;
        uint256 slippageWad = buy ? (quoteWad > fairWad ? quoteWad - fairWad : 0) : (fairWad > quoteWad ? fairWad - quoteWad : 0);
        uint256 window = block.timestamp / WINDOW;
        if (slippageIn[window] == 0 && notionalIn[window] == 0) _windows.push(window);
        slippageIn[window] += slippageWad;
        notionalIn[window] += fairWad;
        int256 deltaAfter = vault.netDeltaWad();
        if (SignedMath.abs(deltaAfter) >= SignedMath.abs(deltaBefore)) deltaIncreases++;
        return slippageWad / 1e12 + 1;
    }

    function _push(bool againstBuy, uint256 bps) internal returns (uint256 got, bool up) {
        if (bps == 0) return (0, false);
        (uint256 ru,) = amm.getReserves();
        uint256 size = ru * bps / 20_000; // ~bps/2 of the reserve moves the price ~bps
        if (againstBuy) {
            uint256 amountIn = amm.quoteExactOut(address(usdc), size);
            usdc.mint(address(this), amountIn);
            got = amm.swapExactIn(address(usdc), amountIn, 0, address(this), block.timestamp);
            return (got, true);
        }
        weth.mint(address(this), size);
        got = amm.swapExactIn(address(weth), size, 0, address(this), block.timestamp);
        return (got, false);
    }

    function _unpush(uint256 got, bool up) internal {
        if (got == 0) return;
        amm.swapExactIn(up ? address(weth) : address(usdc), got, 0, address(this), block.timestamp);
    }

    /// @dev Realigns the pool to `price`, as an arbitrageur would.
    function _arbitrage() internal {
        (uint256 ru, uint256 rq) = amm.getReserves();
        uint256 target = Math.sqrt(ru * rq * 1e12 / price);
        if (target + 1e12 < ru) {
            uint256 amountIn = amm.quoteExactOut(address(usdc), ru - target);
            usdc.mint(address(this), amountIn);
            amm.swapExactIn(address(usdc), amountIn, 0, address(this), block.timestamp);
        } else if (target > ru + 1e12) {
            weth.mint(address(this), target - ru);
            amm.swapExactIn(address(weth), target - ru, 0, address(this), block.timestamp);
        }
    }

    function _pick(uint256 seed) internal view returns (bytes32) {
        return _series[seed % _series.length];
    }

    /// @dev A live series still trading (an hour before its expiry), or zero.
    function _pickLive(uint256 seed) internal view returns (bytes32) {
        (bytes32[] memory ids, IOptionVaultTypes.Series[] memory book) = vault.book();
        for (uint256 k; k < ids.length; ++k) {
            uint256 i = (seed + k) % ids.length;
            if (book[i].expiry > block.timestamp + 1 hours) return ids[i];
        }
        return bytes32(0);
    }

    function _oracleStale() internal view returns (bool) {
        (,,, uint256 t,) = feed.latestRoundData();
        return block.timestamp > t + 3600;
    }

    function _lastRoundOfPhase(uint256 phase) internal view returns (uint256 last) {
        // Rounds of a phase are numbered from 1 without gaps: find the last by probing (phases here are short).
        last = 1;
        while (true) {
            try feed.getRoundData(uint80(phase << 64 | (last + 1))) {
                last++;
            } catch {
                return last;
            }
        }
    }

}

/// @notice The adversarial invariant campaign (`npx hardhat test solidity`, runs × depth in hardhat.config.ts).
/// Each invariant was broken once on purpose to see it fail (see the issue-10 closing note).
contract VaultInvariantTest is VaultSetup {
    VaultActors internal actors;
    ScriptedOracle internal feed;

    /// @dev A tight slippage budget over a 6-hour window, so that the campaign's keeper runs into it (the notional
    /// budget, loose here, binds in `VaultInvariantNotionalBudgetTest`).
    function _hedgeParams() internal pure virtual override returns (IOptionVaultTypes.HedgeParams memory p) {
        p = super._hedgeParams();
        p.budgetWindowSeconds = 6 hours;
        p.notionalBudget = 1_000_000;
        p.slippageBudget = 150;
    }

    function setUp() public {
        vm.warp(START);
        vm.roll(100);
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        feed = new ScriptedOracle(8, 3000e8);
        amm = new MockAmm(address(weth), address(usdc), 30);
        weth.mint(address(this), 10_000e18);
        usdc.mint(address(this), 30_000_000e6);
        weth.approve(address(amm), type(uint256).max);
        usdc.approve(address(amm), type(uint256).max);
        amm.addLiquidity(10_000e18, 30_000_000e6, 0, address(this));
        vault = _newVault(AggregatorV3Interface(address(feed)), IMockAmm(address(amm)), AggregatorV3Interface(address(0)));
        upkeep = new BandUpkeep(vault, address(0), 50);
        vault.grantRole(vault.KEEPER_ROLE(), address(upkeep));

        bytes32[] memory ids = new bytes32[](4);
        ids[0] = vault.listSeries(true, 3000e18, START + 2 days);
        ids[1] = vault.listSeries(false, 2700e18, START + 1 days);
        ids[2] = vault.listSeries(true, 4500e18, START + 20 days);
        ids[3] = vault.listSeries(false, 1500e18, START + 10 days);

        actors = new VaultActors(vault, usdc, weth, feed, amm, upkeep, ids);
        address ref = actors.REFERENCE();
        usdc.mint(ref, 1_000_000e6);
        vm.startPrank(ref);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(1_000_000e6, ref);
        vm.stopPrank();
        vault.grantRole(vault.KEEPER_ROLE(), address(0x4B));
        vault.grantRole(vault.MANAGER_ROLE(), address(actors));
        vault.grantRole(vault.GUARDIAN_ROLE(), address(actors));
        vault.grantRole(bytes32(0), address(actors)); // DEFAULT_ADMIN_ROLE: only the admin unpauses
        usdc.grantRole(usdc.MINTER_ROLE(), address(actors));
        weth.grantRole(weth.MINTER_ROLE(), address(actors));
        bytes4[] memory selectors = _actions();
        if (selectors.length == 0) {
            targetContract(address(actors));
        } else {
            targetContract(address(actors));
            targetSelector(FuzzSelector({addr: address(actors), selectors: selectors}));
        }
    }

    /// @dev The moves the campaign draws from: all of the handler's when empty.
    function _actions() internal pure virtual returns (bytes4[] memory) {}

    /// @notice The handlers can reach every state an invariant below talks about — a sale, a hedge, a pause that
    /// refuses a hedge and a sale, a settlement paying out, a claim — so a campaign that never breaks an invariant
    /// is not merely one that never got there. (Measured over the campaigns, `done` shows how often each is reached.)
    function test_handlersReachEveryState() public {
        actors.buyerOpen(0, 300); // 10 of the 2-day ATM calls: the vault is short delta
        actors.buyerOpen(1, 200); // 1 of the 1-day 2,700 put
        actors.keeperRebalance(true, 5_000, 0);
        assertGt(actors.hedges(), 0, "a hedge");
        actors.guardianPause();
        vm.roll(block.number + 1);
        actors.keeperRebalance(true, 5_000, 0);
        actors.buyerOpen(0, 200);
        assertEq(actors.done(7), 2, "the pause refused a hedge and a sale");
        actors.adminUnpause();
        actors.movePrice(8_000, 1_440); // -20% over a day: the put expires 300 in the money
        actors.tick(1); // a round after expiry, so the one at expiry is provably the one current then
        actors.settle();
        assertGt(vault.pendingPayouts(), 0, "a settlement that pays out");
        actors.claim(1);
        assertEq(vault.pendingPayouts(), 0, "the claim paid it");
        for (uint256 k; k < 7; ++k) {
            if (k == 1 || k == 2 || k == 3) continue; // close, deposit, redeem: no invariant below is about them alone
            assertGt(actors.done(k), 0, "a move of every kind an invariant is about");
        }
        invariant_settledClaimsArePayable();
        invariant_bookHoldsTheUnsettledSeries();
        invariant_pausedVaultNeitherHedgesNorSells();
    }

    /// @notice A rebalance — the keeper's or the upkeep's — never increases |net delta|.
    function invariant_rebalanceNeverIncreasesAbsDelta() public view {
        assertEq(actors.deltaIncreases(), 0, "a rebalance increased |delta|");
    }

    /// @notice In any stretch of one budget window, hedging paid at most the slippage budget and traded at most the
    /// notional budget: any such stretch lies within two consecutive windows, so the sum over each pair is checked.
    function invariant_hedgingCostWithinBudget() public view {
        IOptionVaultTypes.HedgeParams memory hp = vault.hedgeParams();
        uint256[] memory ws = actors.windows();
        for (uint256 i; i < ws.length; ++i) {
            uint256 w = ws[i];
            uint256 slippage = actors.slippageIn(w) + (w == 0 ? 0 : actors.slippageIn(w - 1));
            uint256 notional = actors.notionalIn(w) + (w == 0 ? 0 : actors.notionalIn(w - 1));
            assertLe(slippage, uint256(hp.slippageBudget) * 1e18, "slippage over two windows above the budget");
            assertLe(notional, uint256(hp.notionalBudget) * 1e18, "notional over two windows above the budget");
        }
    }

    /// @notice No actor's move lowered the reference depositor's value beyond what the move was allowed (the
    /// slippage a hedge paid; rounding otherwise); and what `maxWithdraw` promised could always be withdrawn.
    function invariant_noActorTakesAnotherDepositorsValue() public view {
        assertEq(actors.worstValueTaken(), 0, "a move took value from the reference depositor");
        assertEq(actors.maxWithdrawRefused(), 0, "a withdrawal of maxWithdraw reverted");
    }

    /// @notice Settled claims are payable: owed payouts never exceed what the vault holds (cash, plus the hedge at the
    /// oracle price, in which a claim's shortfall is paid), and no claim the vault could pay was refused.
    function invariant_settledClaimsArePayable() public view {
        uint256 owedWad = vault.pendingPayouts() * 1e12;
        uint256 holdsWad = usdc.balanceOf(address(vault)) * 1e12 + weth.balanceOf(address(vault)) * actors.price();
        assertLe(owedWad, holdsWad, "payouts owed exceed what the vault holds");
        assertEq(actors.claimsRefused(), 0, "a payable claim was refused");
    }

    /// @notice The book is exactly the series listed and not yet settled (nothing is delisted in the campaign), and
    /// stays within its bound: a settled series leaves it, so neither the book nor the loops over it grow without end.
    function invariant_bookHoldsTheUnsettledSeries() public view {
        (bytes32[] memory ids,) = vault.book();
        assertLe(ids.length, vault.MAX_LIVE_SERIES(), "book over bound");
        for (uint256 i; i < ids.length; ++i) {
            (bool settled,) = vault.settlementOf(ids[i]);
            assertTrue(!settled, "a settled series is still in the book");
        }
        bytes32[] memory all = actors.listed();
        uint256 unsettled;
        for (uint256 i; i < all.length; ++i) {
            (bool settled,) = vault.settlementOf(all[i]);
            if (!settled) unsettled++;
        }
        assertEq(ids.length, unsettled, "the book is not the unsettled series");
    }

    /// @notice While the guardian has the vault paused, no hedge, sale or deposit goes through.
    function invariant_pausedVaultNeitherHedgesNorSells() public view {
        assertEq(actors.tradesWhilePaused(), 0, "traded while paused");
    }
}

/// @notice The same campaign with a tight notional budget and a loose slippage budget, so that the notional cap is
/// the one the keeper runs into (favourable pools make hedges that pay no slippage: only the notional budget stops
/// those).
contract VaultInvariantNotionalBudgetTest is VaultInvariantTest {
    function _hedgeParams() internal pure override returns (IOptionVaultTypes.HedgeParams memory p) {
        p = super._hedgeParams();
        p.notionalBudget = 20_000;
        p.slippageBudget = 100_000;
    }
}

/// @notice The campaign narrowed to hedging: the keeper, the open upkeep, buyers giving the vault a delta, and the
/// market moving it — so that many hedges run into the slippage budget and the delta guards.
contract VaultInvariantHedgingTest is VaultInvariantTest {
    function _actions() internal pure override returns (bytes4[] memory s) {
        s = new bytes4[](6);
        s[0] = VaultActors.keeperRebalance.selector;
        s[1] = VaultActors.strangerUpkeep.selector;
        s[2] = VaultActors.buyerOpen.selector;
        s[3] = VaultActors.buyerClose.selector;
        s[4] = VaultActors.movePrice.selector;
        s[5] = VaultActors.tick.selector;
    }
}

/// @notice The campaign narrowed to solvency: large sales on short-dated series, big moves, settlement, claims and
/// depositors taking out what they can — so that the collateral the book requires is put to the test at expiry.
contract VaultInvariantSolvencyTest is VaultInvariantTest {
    function _actions() internal pure override returns (bytes4[] memory s) {
        s = new bytes4[](8);
        s[0] = VaultActors.buyerOpen.selector;
        s[1] = VaultActors.managerList.selector;
        s[2] = VaultActors.movePrice.selector;
        s[3] = VaultActors.settle.selector;
        s[4] = VaultActors.claim.selector;
        s[5] = VaultActors.withdrawMax.selector;
        s[6] = VaultActors.deposit.selector;
        s[7] = VaultActors.keeperRebalance.selector;
    }
}
