// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {TestBase} from "./utils/TestBase.sol";
import {MockAmm} from "../../contracts/mocks/MockAmm.sol";
import {MockERC20} from "../../contracts/mocks/MockERC20.sol";
import {IMockAmm} from "../../contracts/interfaces/IMockAmm.sol";

/// @dev Bounds shared by the fuzz and invariant tests: reserves up to 1e30 keep every `k` product below 2^256
/// (1e30·1e30·(growth over a run) ≪ 1.1e77) while covering 18-decimal amounts of a trillion tokens.
uint256 constant MIN_RESERVE = 1e6;
uint256 constant MAX_RESERVE = 1e30;

/// @notice Fuzz tests of `MockAmm`'s swap and liquidity math.
contract MockAmmFuzzTest is TestBase {
    MockERC20 internal weth;
    MockERC20 internal usdc;
    MockAmm internal amm;

    address internal constant LP = address(0x1111);
    address internal constant TRADER = address(0x2222);

    function setUp() public {
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
    }

    /// @dev A fresh pool with the fee given (0..MAX_FEE_BPS), seeded by `LP` with the reserves given.
    function _pool(uint256 feeBps, uint256 reserveUnderlying, uint256 reserveQuote) internal returns (MockAmm pool) {
        pool = new MockAmm(address(weth), address(usdc), feeBps);
        weth.mint(LP, reserveUnderlying);
        usdc.mint(LP, reserveQuote);
        vm.startPrank(LP);
        weth.approve(address(pool), type(uint256).max);
        usdc.approve(address(pool), type(uint256).max);
        pool.addLiquidity(reserveUnderlying, reserveQuote, 0, LP);
        vm.stopPrank();
    }

    function _swapAs(address trader, MockAmm pool, MockERC20 tokenIn, uint256 amountIn, uint256 minAmountOut)
        internal
        returns (uint256 amountOut)
    {
        tokenIn.mint(trader, amountIn);
        vm.startPrank(trader);
        tokenIn.approve(address(pool), amountIn);
        amountOut = pool.swapExactIn(address(tokenIn), amountIn, minAmountOut, trader, block.timestamp);
        vm.stopPrank();
    }

    function testFuzz_swap_kNeverDecreases(
        uint256 feeBps,
        uint256 reserveUnderlying,
        uint256 reserveQuote,
        bool underlyingIn,
        uint256 amountIn
    ) public {
        feeBps = bound(feeBps, 0, 1_000);
        reserveUnderlying = bound(reserveUnderlying, MIN_RESERVE, MAX_RESERVE);
        reserveQuote = bound(reserveQuote, MIN_RESERVE, MAX_RESERVE);
        amountIn = bound(amountIn, 1, MAX_RESERVE);
        amm = _pool(feeBps, reserveUnderlying, reserveQuote);
        MockERC20 tokenIn = underlyingIn ? weth : usdc;

        uint256 quoted = amm.quoteExactIn(address(tokenIn), amountIn);
        if (quoted == 0) {
            // A dust input that buys nothing is refused rather than gifted to the pool.
            tokenIn.mint(TRADER, amountIn);
            vm.startPrank(TRADER);
            tokenIn.approve(address(amm), amountIn);
            vm.expectRevert(abi.encodeWithSelector(IMockAmm.InsufficientOutput.selector, 0, 1));
            amm.swapExactIn(address(tokenIn), amountIn, 0, TRADER, block.timestamp);
            vm.stopPrank();
            return;
        }

        uint256 amountOut = _swapAs(TRADER, amm, tokenIn, amountIn, quoted);
        assertEq(amountOut, quoted, "swap pays the quote");
        (uint256 newReserveUnderlying, uint256 newReserveQuote) = amm.getReserves();
        assertGe(newReserveUnderlying * newReserveQuote, reserveUnderlying * reserveQuote, "k after >= k before");
        assertGe(newReserveUnderlying, 1, "underlying reserve never emptied");
        assertGe(newReserveQuote, 1, "quote reserve never emptied");
    }

    function testFuzz_quoteExactOut_buysAtLeastAmountOut(
        uint256 feeBps,
        uint256 reserveUnderlying,
        uint256 reserveQuote,
        bool underlyingIn,
        uint256 amountOut
    ) public {
        feeBps = bound(feeBps, 0, 1_000);
        reserveUnderlying = bound(reserveUnderlying, MIN_RESERVE, MAX_RESERVE);
        reserveQuote = bound(reserveQuote, MIN_RESERVE, MAX_RESERVE);
        amm = _pool(feeBps, reserveUnderlying, reserveQuote);
        MockERC20 tokenIn = underlyingIn ? weth : usdc;
        uint256 reserveOut = underlyingIn ? reserveQuote : reserveUnderlying;
        amountOut = bound(amountOut, 1, reserveOut - 1);

        uint256 amountIn = amm.quoteExactOut(address(tokenIn), amountOut);
        assertGe(amm.quoteExactIn(address(tokenIn), amountIn), amountOut, "quoted input buys amountOut");
        // Minimality: the quote is rounded up by exactly what is needed, not more.
        if (amountIn > 1) {
            assertLe(amm.quoteExactIn(address(tokenIn), amountIn - 1), amountOut - 1, "one unit less buys less");
        }
        // And the swap itself honours it with `minAmountOut = amountOut`.
        uint256 received = _swapAs(TRADER, amm, tokenIn, amountIn, amountOut);
        assertGe(received, amountOut, "swap of quoted input pays at least amountOut");
    }

    function testFuzz_addRemove_neverReturnsMoreThanDeposited(
        uint256 reserveUnderlying,
        uint256 reserveQuote,
        bool firstDeposit,
        uint256 amountUnderlyingMax,
        uint256 amountQuoteMax
    ) public {
        amm = new MockAmm(address(weth), address(usdc), 30);
        if (!firstDeposit) {
            reserveUnderlying = bound(reserveUnderlying, MIN_RESERVE, MAX_RESERVE);
            reserveQuote = bound(reserveQuote, MIN_RESERVE, MAX_RESERVE);
            amm = _pool(30, reserveUnderlying, reserveQuote);
        }
        amountUnderlyingMax = bound(amountUnderlyingMax, 1, MAX_RESERVE);
        amountQuoteMax = bound(amountQuoteMax, 1, MAX_RESERVE);
        if (firstDeposit) {
            // The first deposit must clear the locked minimum.
            vm.assume(Math.sqrt(amountUnderlyingMax * amountQuoteMax) > amm.MINIMUM_LIQUIDITY());
        }

        weth.mint(TRADER, amountUnderlyingMax);
        usdc.mint(TRADER, amountQuoteMax);
        vm.startPrank(TRADER);
        weth.approve(address(amm), amountUnderlyingMax);
        usdc.approve(address(amm), amountQuoteMax);
        uint256 supplyBefore = amm.totalSupply();
        (uint256 paidUnderlying, uint256 paidQuote, uint256 shares) = _tryAdd(amountUnderlyingMax, amountQuoteMax);
        if (shares == 0) {
            vm.stopPrank();
            return; // deposit too small for one share at this price: refused, nothing to withdraw
        }
        assertLe(paidUnderlying, amountUnderlyingMax, "pays at most the underlying max");
        assertLe(paidQuote, amountQuoteMax, "pays at most the quote max");
        assertEq(amm.totalSupply(), supplyBefore + shares + (firstDeposit ? amm.MINIMUM_LIQUIDITY() : 0), "supply");

        (uint256 gotUnderlying, uint256 gotQuote) = _tryRemove(shares);
        vm.stopPrank();
        assertLe(gotUnderlying, paidUnderlying, "never returns more underlying than deposited");
        assertLe(gotQuote, paidQuote, "never returns more quote than deposited");
    }

    function testFuzz_liquidity_roundsInPoolsFavour(
        uint256 reserveUnderlying,
        uint256 reserveQuote,
        uint256 amountUnderlyingMax,
        uint256 amountQuoteMax,
        uint256 sharesToRemove
    ) public {
        reserveUnderlying = bound(reserveUnderlying, MIN_RESERVE, MAX_RESERVE);
        reserveQuote = bound(reserveQuote, MIN_RESERVE, MAX_RESERVE);
        amm = _pool(30, reserveUnderlying, reserveQuote);
        amountUnderlyingMax = bound(amountUnderlyingMax, 1, MAX_RESERVE);
        amountQuoteMax = bound(amountQuoteMax, 1, MAX_RESERVE);

        weth.mint(TRADER, amountUnderlyingMax);
        usdc.mint(TRADER, amountQuoteMax);
        vm.startPrank(TRADER);
        weth.approve(address(amm), amountUnderlyingMax);
        usdc.approve(address(amm), amountQuoteMax);
        uint256 supply = amm.totalSupply();
        (uint256 paidUnderlying, uint256 paidQuote, uint256 shares) = _tryAdd(amountUnderlyingMax, amountQuoteMax);
        if (shares == 0) {
            vm.stopPrank();
            return;
        }
        // Shares are at most pro-rata on both sides: shares / supply <= paid / reserve.
        assertLe(shares * reserveUnderlying, paidUnderlying * supply, "shares <= pro-rata of underlying paid");
        assertLe(shares * reserveQuote, paidQuote * supply, "shares <= pro-rata of quote paid");

        (reserveUnderlying, reserveQuote) = amm.getReserves();
        supply = amm.totalSupply();
        sharesToRemove = bound(sharesToRemove, 1, shares);
        (uint256 gotUnderlying, uint256 gotQuote) = _tryRemove(sharesToRemove);
        vm.stopPrank();
        // Payouts are at most pro-rata: paid / reserve <= shares / supply.
        assertLe(gotUnderlying * supply, sharesToRemove * reserveUnderlying, "underlying paid <= pro-rata");
        assertLe(gotQuote * supply, sharesToRemove * reserveQuote, "quote paid <= pro-rata");
    }

    /// @dev `addLiquidity` with zero minimum; a deposit worth less than one share reverts and yields zeros.
    function _tryAdd(uint256 amountUnderlyingMax, uint256 amountQuoteMax)
        internal
        returns (uint256 paidUnderlying, uint256 paidQuote, uint256 shares)
    {
        try amm.addLiquidity(amountUnderlyingMax, amountQuoteMax, 0, TRADER) returns (uint256 u, uint256 q, uint256 s) {
            return (u, q, s);
        } catch (bytes memory reason) {
            assertTrue(bytes4(reason) == IMockAmm.SlippageExceeded.selector, "only a sub-share deposit may revert");
        }
    }

    /// @dev `removeLiquidity` of all the caller's new shares; a side that rounds to zero makes it revert.
    function _tryRemove(uint256 shares) internal returns (uint256 gotUnderlying, uint256 gotQuote) {
        try amm.removeLiquidity(shares, 0, 0, TRADER) returns (uint256 u, uint256 q) {
            return (u, q);
        } catch (bytes memory reason) {
            assertTrue(bytes4(reason) == IMockAmm.SlippageExceeded.selector, "only a zero payout may revert");
        }
    }
}

/// @notice A token that, once armed, calls back into `target` from inside its next transfer: the shape of an
/// ERC-777 hook or a malicious token, used to show that every pool entry point is guarded.
contract ReentrantToken is MockERC20 {
    address private _target;
    bytes private _payload;

    constructor(address admin) MockERC20("Reentrant", "RE", 18, admin) {}

    function arm(address target, bytes calldata payload) external {
        _target = target;
        _payload = payload;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _target;
        if (target == address(0)) return;
        _target = address(0); // one shot
        (bool ok, bytes memory returnData) = target.call(_payload);
        if (!ok) {
            // Bubble the callee's revert so the test sees the pool's own error.
            assembly ("memory-safe") {
                revert(add(returnData, 0x20), mload(returnData))
            }
        }
    }
}

/// @notice Reentrancy: a callback from a token transfer cannot enter the pool again.
contract MockAmmReentrancyTest is TestBase {
    MockERC20 internal usdc;
    ReentrantToken internal evil;
    MockAmm internal amm;

    function setUp() public {
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        evil = new ReentrantToken(address(this));
        amm = new MockAmm(address(evil), address(usdc), 30);
        evil.mint(address(this), 2_000e18);
        usdc.mint(address(this), 6_000_000e6);
        evil.approve(address(amm), type(uint256).max);
        usdc.approve(address(amm), type(uint256).max);
        amm.addLiquidity(1_000e18, 3_000_000e6, 0, address(this));
    }

    function test_swapExactIn_callbackIntoAnyEntryPointReverts() public {
        bytes[3] memory callbacks = [
            abi.encodeCall(MockAmm.swapExactIn, (address(usdc), 1e6, 0, address(this), block.timestamp)),
            abi.encodeCall(MockAmm.addLiquidity, (1e18, 3_000e6, 0, address(this))),
            abi.encodeCall(MockAmm.removeLiquidity, (1e9, 0, 0, address(this)))
        ];
        for (uint256 i; i < callbacks.length; ++i) {
            evil.arm(address(amm), callbacks[i]);
            vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
            amm.swapExactIn(address(evil), 1e18, 0, address(this), block.timestamp);
        }
    }

    function test_swapExactIn_succeedsWithoutCallback() public {
        (uint256 reserveUnderlying, uint256 reserveQuote) = amm.getReserves();
        uint256 amountOut = amm.swapExactIn(address(evil), 1e18, 1, address(this), block.timestamp);
        assertGe(amountOut, 1, "control: the same swap without a callback pays out");
        (uint256 newReserveUnderlying, uint256 newReserveQuote) = amm.getReserves();
        assertEq(newReserveUnderlying, reserveUnderlying + 1e18, "input reserve");
        assertEq(newReserveQuote, reserveQuote - amountOut, "output reserve");
    }
}

/// @notice Drives random swaps, deposits, withdrawals and donations against one pool for the invariant runner.
/// It holds the minter role of both tokens and is the only LP besides the locked minimum.
contract MockAmmHandler is TestBase {
    MockAmm public immutable amm;
    MockERC20 public immutable weth;
    MockERC20 public immutable usdc;

    /// @notice Swaps after which `reserveUnderlying * reserveQuote` was lower than before (must stay 0).
    uint256 public kDecreasesOnSwaps;
    /// @notice Operations after which `k / totalSupply²` was lower than before (must stay 0: every rounding
    /// favours the pool, so the value behind one share never falls).
    uint256 public kPerShareDecreases;
    uint256 public swaps;
    uint256 public adds;
    uint256 public removes;
    uint256 public donations;

    uint256 private _lastK;
    uint256 private _lastSupply;

    constructor(MockAmm amm_, MockERC20 weth_, MockERC20 usdc_) {
        amm = amm_;
        weth = weth_;
        usdc = usdc_;
        weth.approve(address(amm), type(uint256).max);
        usdc.approve(address(amm), type(uint256).max);
    }

    /// @dev Called once from `setUp`, not a fuzz target.
    function seed(uint256 amountUnderlying, uint256 amountQuote) external {
        weth.mint(address(this), amountUnderlying);
        usdc.mint(address(this), amountQuote);
        amm.addLiquidity(amountUnderlying, amountQuote, 0, address(this));
        _checkpoint();
    }

    function swap(bool underlyingIn, uint256 amountInSeed) external {
        (uint256 reserveUnderlying, uint256 reserveQuote) = amm.getReserves();
        MockERC20 tokenIn = underlyingIn ? weth : usdc;
        // Up to 3x the input reserve: large enough to move the price by an order of magnitude.
        uint256 amountIn =
            bound(amountInSeed, 1, Math.min(3 * (underlyingIn ? reserveUnderlying : reserveQuote), MAX_RESERVE));
        if (amm.quoteExactIn(address(tokenIn), amountIn) == 0) return; // the pool refuses swaps that pay nothing

        tokenIn.mint(address(this), amountIn);
        uint256 kBefore = reserveUnderlying * reserveQuote;
        amm.swapExactIn(address(tokenIn), amountIn, 0, address(this), block.timestamp);
        (reserveUnderlying, reserveQuote) = amm.getReserves();
        if (reserveUnderlying * reserveQuote < kBefore) ++kDecreasesOnSwaps;
        ++swaps;
        _checkpoint();
    }

    function addLiquidity(uint256 amountUnderlyingSeed, uint256 amountQuoteSeed) external {
        uint256 amountUnderlying = bound(amountUnderlyingSeed, 1, MAX_RESERVE);
        uint256 amountQuote = bound(amountQuoteSeed, 1, MAX_RESERVE);
        weth.mint(address(this), amountUnderlying);
        usdc.mint(address(this), amountQuote);
        amm.addLiquidity(amountUnderlying, amountQuote, 0, address(this));
        ++adds;
        _checkpoint();
    }

    function removeLiquidity(uint256 sharesSeed) external {
        uint256 balance = amm.balanceOf(address(this));
        if (balance == 0) return;
        amm.removeLiquidity(bound(sharesSeed, 1, balance), 0, 0, address(this));
        ++removes;
        _checkpoint();
    }

    /// @dev Tokens sent straight to the pool: must neither move the price nor be counted in the reserves.
    function donate(bool underlyingSide, uint256 amountSeed) external {
        (underlyingSide ? weth : usdc).mint(address(amm), bound(amountSeed, 1, MAX_RESERVE));
        ++donations;
        _checkpoint();
    }

    /// @dev Compares k/S² with the previous value exactly, as k·S_prev² vs k_prev·S² in 512 bits.
    function _checkpoint() private {
        (uint256 reserveUnderlying, uint256 reserveQuote) = amm.getReserves();
        uint256 k = reserveUnderlying * reserveQuote;
        uint256 supply = amm.totalSupply();
        if (_lastSupply != 0) {
            (uint256 hiNow, uint256 loNow) = Math.mul512(k, _lastSupply * _lastSupply);
            (uint256 hiPrev, uint256 loPrev) = Math.mul512(_lastK, supply * supply);
            if (hiNow < hiPrev || (hiNow == hiPrev && loNow < loPrev)) ++kPerShareDecreases;
        }
        _lastK = k;
        _lastSupply = supply;
    }
}

/// @notice Invariants of `MockAmm` under random sequences of handler actions.
contract MockAmmInvariantTest is TestBase {
    MockERC20 internal weth;
    MockERC20 internal usdc;
    MockAmm internal amm;
    MockAmmHandler internal handler;

    function setUp() public {
        weth = new MockERC20("Wrapped Ether", "WETH", 18, address(this));
        usdc = new MockERC20("USD Coin", "USDC", 6, address(this));
        amm = new MockAmm(address(weth), address(usdc), 30);
        handler = new MockAmmHandler(amm, weth, usdc);
        weth.grantRole(weth.MINTER_ROLE(), address(handler));
        usdc.grantRole(usdc.MINTER_ROLE(), address(handler));
        // 1,000 WETH against 3,000,000 USDC: a $3,000 price in the tokens' own decimals.
        handler.seed(1_000e18, 3_000_000e6);

        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](4);
        selectors[0] = MockAmmHandler.swap.selector;
        selectors[1] = MockAmmHandler.addLiquidity.selector;
        selectors[2] = MockAmmHandler.removeLiquidity.selector;
        selectors[3] = MockAmmHandler.donate.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function invariant_kNeverDecreasesOnSwaps() public view {
        assertEq(handler.kDecreasesOnSwaps(), 0, "swaps that decreased k");
    }

    function invariant_kPerShareNeverDecreases() public view {
        assertEq(handler.kPerShareDecreases(), 0, "operations that decreased k per share squared");
    }

    function invariant_reservesMatchBalances() public view {
        (uint256 reserveUnderlying, uint256 reserveQuote) = amm.getReserves();
        assertLe(reserveUnderlying, weth.balanceOf(address(amm)), "underlying reserve <= balance");
        assertLe(reserveQuote, usdc.balanceOf(address(amm)), "quote reserve <= balance");
        assertGe(reserveUnderlying, 1, "underlying reserve never emptied while shares exist");
        assertGe(reserveQuote, 1, "quote reserve never emptied while shares exist");
    }

    function invariant_minimumLiquidityStaysLocked() public view {
        assertEq(amm.balanceOf(amm.LOCKED_LIQUIDITY_HOLDER()), amm.MINIMUM_LIQUIDITY(), "locked shares");
    }
}
