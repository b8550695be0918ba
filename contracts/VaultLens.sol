// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IOptionVault, IOptionVaultTypes} from "./interfaces/IOptionVault.sol";
import {IPerpMarket} from "./interfaces/IPerpMarket.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";

/// @title VaultLens
/// @notice Reads the keeper's view of many vaults in one `eth_call`. It assembles each vault's state from the
/// vault's own views, in one of two depths:
/// - full: the book with every series' Greeks and mark, computed with the same `BlackScholes` library the vault
///   hedges with (so its net delta is exactly the vault's), and the NAV (`totalAssets`, which prices the book again);
/// - light: the net delta from the vault's own `netDeltaWad` (what `rebalance` checks, delta only) and a hash of
///   the book (`bookHash`), no per-series Greeks and no NAV — about a third of the gas of a full read for a
///   10-series book. A keeper reads every vault light each block and in full only the vaults whose `bookHash`
///   changed (or that it has not seen), pricing gamma and vega off-chain from the series it keeps.
/// Stateless; holds no funds and has no roles.
/// @dev The loops run over the caller's own array inside an `eth_call` (and each vault's book is bounded by
/// `MAX_LIVE_SERIES`), so their length costs nobody but the caller.
contract VaultLens {
    /// @notice A live series with its Greeks at the vault's oracle price, volatility and rate.
    struct SeriesView {
        bytes32 id;
        bool isCall;
        uint256 strikeWad;
        uint256 expiry;
        int256 sizeWad;
        int256 deltaWad; // of the vault's position (size-weighted)
        int256 gammaWad;
        int256 vegaWad;
        uint256 markWad; // Black–Scholes value of one option; intrinsic once expired
    }

    /// @notice The vault's perp venue: its position valued now (formulas (6) and (7) of `IPerpMarket`), the market's
    /// parameters, skew, funding rate and pool, and the vault's margin bounds. All zero when the vault has no market.
    struct PerpState {
        IPerpMarket market; // zero: the vault hedges on the AMM only
        bool priced; // the market valued the position (its oracle check passed); else only size and margin are set
        IPerpMarket.PositionView position;
        IPerpMarket.MarketParams params;
        int256 skewWad;
        int256 fundingRateWad; // per day, now (formula (5))
        uint256 pool;
        uint256 minMarginBps;
        uint256 maxMarginBps;
    }

    /// @notice Everything a keeper needs for one decision about one vault.
    struct VaultState {
        bool full; // the book was priced here: gamma, vega, NAV and the series' Greeks are set (0 when light)
        bytes32 bookHash; // keccak256(abi.encode(vault.book()'s series)): changes with any trade, listing or settlement
        int256 bookDeltaWad;
        int256 netDeltaWad; // book delta + hedge balance + perp position: what `rebalance` and `hedgePerp` bring to zero
        int256 gammaWad;
        int256 vegaWad;
        uint256 hedgeBalance; // underlying tokens held (underlying decimals)
        uint256 cashBalance; // quote tokens held (quote decimals)
        uint256 pendingPayouts; // settled, not yet claimed (quote decimals)
        uint256 totalAssets; // ERC-4626 total assets: the NAV at the oracle price (quote decimals); 0 when light
        uint256 spotWad;
        uint80 oracleRoundId;
        uint256 oracleUpdatedAt;
        uint256 oracleAgeSeconds;
        bool oracleFresh; // usable for trading: oracleStatus == Usable
        IOptionVaultTypes.OracleStatus oracleStatus;
        uint256 ammReserveUnderlying;
        uint256 ammReserveQuote;
        uint256 ammFeeBps;
        uint256 lastRebalanceBlock;
        uint256 nextRebalanceBlock; // first block at which `rebalance` is allowed
        uint256 notionalLeftWad; // hedging budget left in the current window (quote wad)
        uint256 slippageLeftWad;
        uint256 liveSeries;
        bool settlementPending; // a series has expired with open interest and awaits `settleSeries`
        bool paused;
        IOptionVaultTypes.HedgeParams hedge;
        IOptionVaultTypes.RiskParams risk;
        uint256 blockNumber;
        uint256 timestamp;
        PerpState perp;
    }

    /// @notice One vault's state (and its book when read full with `withBook`). A vault whose views revert is reported with
    /// `ok = false` and the revert data (empty for an address without code), so one broken vault cannot hide
    /// the others.
    struct Snapshot {
        address vault;
        bool ok;
        bytes revertData;
        VaultState state;
        SeriesView[] book;
    }

    /// @notice The block the snapshots were read at, and the account balance a keeper needs for its fees.
    struct ChainInfo {
        uint256 blockNumber;
        uint256 timestamp;
        uint256 baseFeePerGas;
        uint256 chainId;
        uint256 accountBalance;
    }

    uint256 private constant WAD = 1e18;
    /// @notice Gas one vault's `stateOf` may use within a read (a vault with the maximum 32 series needs ~1.2M).
    uint256 public constant VAULT_GAS = 5_000_000;
    /// @notice Revert data kept for a vault whose view failed (a custom error with a few arguments fits).
    uint256 public constant MAX_REVERT_BYTES = 260;

    /// @notice One keeper read: the block's number, time and base fee, `account`'s native balance, and
    /// `snapshots(vaults, full)`. Everything a keeper needs per block in a single `eth_call`.
    /// @param vaults Vault addresses, in the order the results are returned.
    /// @param full Price every book here (and return it); false for the light read (see the contract's notice).
    /// @param account The keeper's signer (its balance pays for gas); zero to skip.
    function read(address[] calldata vaults, bool full, address account)
        external
        view
        returns (ChainInfo memory chain, Snapshot[] memory snaps)
    {
        chain = ChainInfo({
            blockNumber: block.number,
            timestamp: block.timestamp,
            baseFeePerGas: block.basefee,
            chainId: block.chainid,
            accountBalance: account.balance
        });
        snaps = snapshots(vaults, full);
    }

    /// @notice `stateOf` every vault in `vaults`, full (with its book) or light.
    /// @param vaults Vault addresses, in the order the results are returned.
    /// @param full Price each book here and return its live series with their Greeks; false for the light read.
    function snapshots(address[] calldata vaults, bool full) public view returns (Snapshot[] memory out) {
        out = new Snapshot[](vaults.length);
        for (uint256 i; i < vaults.length; ++i) {
            Snapshot memory snap = out[i];
            snap.vault = vaults[i];
            // A call to an address without code returns no data, and decoding that reverts in this frame: report
            // such an address as not ok instead.
            if (vaults[i].code.length == 0) continue;
            (snap.ok, snap.revertData) = _stateOf(vaults[i], full);
            if (!snap.ok) continue;
            (snap.state, snap.book) = abi.decode(snap.revertData, (VaultState, SeriesView[]));
            snap.revertData = "";
        }
    }

    /// @dev `stateOf(vault, full)` in a frame of its own with at most `VAULT_GAS`, keeping at most `MAX_REVERT_BYTES`
    /// of revert data: one vault that burns gas or returns a huge error cannot make the whole read fail. Returns
    /// the ABI-encoded result when it succeeded, the (truncated) revert data otherwise.
    function _stateOf(address vault, bool full) private view returns (bool ok, bytes memory data) {
        bytes memory payload = abi.encodeCall(this.stateOf, (IOptionVault(vault), full));
        uint256 gasLimit = VAULT_GAS;
        assembly ("memory-safe") {
            ok := staticcall(gasLimit, address(), add(payload, 0x20), mload(payload), 0, 0)
        }
        uint256 size = ok ? _returnSize() : _min(_returnSize(), MAX_REVERT_BYTES);
        data = new bytes(size);
        assembly ("memory-safe") {
            returndatacopy(add(data, 0x20), 0, size)
        }
    }

    function _returnSize() private pure returns (uint256 size) {
        assembly ("memory-safe") {
            size := returndatasize()
        }
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    /// @notice One vault's state at the vault's latest oracle answer: full, with its live series and their Greeks;
    /// light, with the vault's own net delta and no book (an empty `bookView`).
    /// @dev Greeks are zero (marks intrinsic) when the spot is outside the pricing domain, as in the vault.
    /// @param vault The vault to read.
    /// @param full Price the book here (Greeks, marks, NAV); false for the light read.
    function stateOf(IOptionVault vault, bool full) public view returns (VaultState memory st, SeriesView[] memory bookView) {
        st.full = full;
        st.blockNumber = block.number;
        st.timestamp = block.timestamp;
        st.hedge = vault.hedgeParams();
        st.risk = vault.riskParams();
        IOptionVaultTypes.HedgeStatus memory hs = vault.hedgeStatus();
        st.lastRebalanceBlock = hs.lastRebalanceBlock;
        st.nextRebalanceBlock = hs.nextRebalanceBlock;
        st.notionalLeftWad = hs.notionalLeftWad;
        st.slippageLeftWad = hs.slippageLeftWad;
        st.oracleStatus = hs.oracleStatus;
        st.oracleFresh = hs.oracleStatus == IOptionVaultTypes.OracleStatus.Usable;
        st.paused = hs.paused;

        int256 answer;
        (st.oracleRoundId, answer,, st.oracleUpdatedAt,) = vault.oracle().latestRoundData();
        st.spotWad = answer > 0 ? uint256(answer) * 10 ** (18 - vault.oracle().decimals()) : 0;
        st.oracleAgeSeconds = block.timestamp > st.oracleUpdatedAt ? block.timestamp - st.oracleUpdatedAt : 0;

        st.hedgeBalance = vault.underlying().balanceOf(address(vault));
        st.cashBalance = IERC20(vault.asset()).balanceOf(address(vault));
        st.pendingPayouts = vault.pendingPayouts();
        (st.ammReserveUnderlying, st.ammReserveQuote) = vault.amm().getReserves();
        st.ammFeeBps = vault.amm().feeBps();

        (bytes32[] memory ids, IOptionVaultTypes.Series[] memory series) = vault.book();
        st.bookHash = keccak256(abi.encode(series));
        st.liveSeries = series.length;
        _perpOf(vault, st.perp);
        int256 hedgeWad = int256(st.hedgeBalance * 10 ** (18 - vault.underlying().decimals())) + st.perp.position.sizeWad;
        if (full) {
            st.totalAssets = vault.totalAssets();
            bookView = _bookOf(ids, series, st);
            st.netDeltaWad = st.bookDeltaWad + hedgeWad;
        } else {
            for (uint256 i; i < series.length; ++i) {
                if (series[i].expiry <= st.timestamp && series[i].sizeWad != 0) st.settlementPending = true;
            }
            st.netDeltaWad = vault.netDeltaWad();
            st.bookDeltaWad = st.netDeltaWad - hedgeWad;
        }
    }

    /// @dev The vault's perp venue into `ps` (left zero without one). A market that cannot value the position (its
    /// oracle check failed) still reports its size and settled margin, `priced` false.
    function _perpOf(IOptionVault vault, PerpState memory ps) private view {
        IPerpMarket market = vault.perp();
        if (address(market) == address(0)) return;
        ps.market = market;
        ps.params = market.params();
        ps.skewWad = market.marketSkew();
        ps.pool = market.pool();
        (ps.minMarginBps, ps.maxMarginBps) = vault.perpMarginBounds();
        try market.positionOf(address(vault)) returns (IPerpMarket.PositionView memory v) {
            ps.position = v;
            ps.priced = true;
            ps.fundingRateWad = market.currentFundingRate();
        } catch {
            ps.position.sizeWad = market.sizeOf(address(vault));
        }
    }

    /// @dev The live series with their Greeks; adds them up into `st`'s book Greeks, and flags an expired series
    /// with open interest.
    function _bookOf(bytes32[] memory ids, IOptionVaultTypes.Series[] memory series, VaultState memory st)
        private
        pure
        returns (SeriesView[] memory views)
    {
        views = new SeriesView[](ids.length);
        bool priced = st.spotWad >= BlackScholes.MIN_PRICE_WAD && st.spotWad <= BlackScholes.MAX_PRICE_WAD;
        for (uint256 i; i < ids.length; ++i) {
            IOptionVaultTypes.Series memory s = series[i];
            SeriesView memory v = views[i];
            v.id = ids[i];
            v.isCall = s.isCall;
            v.strikeWad = s.strikeWad;
            v.expiry = s.expiry;
            v.sizeWad = s.sizeWad;
            if (s.expiry <= st.timestamp && s.sizeWad != 0) st.settlementPending = true;
            if (priced && s.expiry > st.timestamp) {
                BlackScholes.Greeks memory g = BlackScholes.greeks(
                    st.spotWad, s.strikeWad, st.risk.volWad, s.expiry - st.timestamp, st.risk.rateWad, s.isCall
                );
                // Per series exactly as the vault sums its delta: size·delta / 1e18, truncated.
                v.deltaWad = int256(s.sizeWad) * g.deltaWad / int256(WAD);
                v.gammaWad = int256(s.sizeWad) * int256(g.gammaWad) / int256(WAD);
                v.vegaWad = int256(s.sizeWad) * int256(g.vegaWad) / int256(WAD);
                v.markWad = g.priceWad;
                st.bookDeltaWad += v.deltaWad;
                st.gammaWad += v.gammaWad;
                st.vegaWad += v.vegaWad;
            } else if (s.isCall) {
                v.markWad = st.spotWad > s.strikeWad ? st.spotWad - s.strikeWad : 0;
            } else {
                v.markWad = s.strikeWad > st.spotWad ? s.strikeWad - st.spotWad : 0;
            }
        }
    }
}
