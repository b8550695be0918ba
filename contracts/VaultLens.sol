// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IOptionVault} from "./interfaces/IOptionVault.sol";
import {BlackScholes} from "./libraries/BlackScholes.sol";

/// @title VaultLens
/// @notice Reads the keeper's view of many vaults in one `eth_call`: one RPC request per block, whatever the
/// number of vaults. Stateless; holds no funds and has no roles.
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

    /// @notice One vault's state (and optionally its book). A vault whose view reverts is reported with
    /// `ok = false` and the revert data (empty for an address without code), so one broken vault cannot hide
    /// the others.
    struct Snapshot {
        address vault;
        bool ok;
        bytes revertData;
        IOptionVault.VaultState state;
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

    /// @notice One keeper read: the block's number, time and base fee, `account`'s native balance, and
    /// `snapshots(vaults, withBook)`. Everything a keeper needs per block in a single `eth_call`.
    /// @param account The keeper's signer (its balance pays for gas); zero to skip.
    function read(address[] calldata vaults, bool withBook, address account)
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
        snaps = snapshots(vaults, withBook);
    }

    /// @notice `state()` of every vault in `vaults`, and its book with per-series Greeks when `withBook`.
    /// @param vaults Vault addresses, in the order the results are returned.
    /// @param withBook Also read each vault's live series (for off-chain cross-checks of the Greeks).
    function snapshots(address[] calldata vaults, bool withBook) public view returns (Snapshot[] memory out) {
        out = new Snapshot[](vaults.length);
        for (uint256 i; i < vaults.length; ++i) {
            Snapshot memory snap = out[i];
            snap.vault = vaults[i];
            // A call to an address without code returns no data, and decoding that reverts in this frame, where
            // try/catch cannot catch it: report such an address as not ok instead.
            if (vaults[i].code.length == 0) continue;
            try IOptionVault(vaults[i]).state() returns (IOptionVault.VaultState memory st) {
                snap.state = st;
                snap.ok = true;
            } catch (bytes memory reason) {
                snap.revertData = reason;
                continue;
            }
            if (withBook) snap.book = bookOf(IOptionVault(vaults[i]), snap.state);
        }
    }

    /// @notice The live series of `vault` with their Greeks, priced from `st` (as returned by `vault.state()`).
    function bookOf(IOptionVault vault, IOptionVault.VaultState memory st) public view returns (SeriesView[] memory views) {
        views = new SeriesView[](st.liveSeries);
        bool priced = st.spotWad >= BlackScholes.MIN_PRICE_WAD && st.spotWad <= BlackScholes.MAX_PRICE_WAD;
        for (uint256 i; i < views.length; ++i) {
            (bytes32 id, IOptionVault.Series memory s) = vault.seriesAt(i);
            SeriesView memory v = views[i];
            v.id = id;
            v.isCall = s.isCall;
            v.strikeWad = s.strikeWad;
            v.expiry = s.expiry;
            v.sizeWad = s.sizeWad;
            if (priced && s.expiry > st.timestamp) {
                BlackScholes.Greeks memory g = BlackScholes.greeks(
                    st.spotWad, s.strikeWad, st.risk.volWad, s.expiry - st.timestamp, st.risk.rateWad, s.isCall
                );
                v.deltaWad = int256(s.sizeWad) * g.deltaWad / int256(WAD);
                v.gammaWad = int256(s.sizeWad) * int256(g.gammaWad) / int256(WAD);
                v.vegaWad = int256(s.sizeWad) * int256(g.vegaWad) / int256(WAD);
                v.markWad = g.priceWad;
            } else if (s.isCall) {
                v.markWad = st.spotWad > s.strikeWad ? st.spotWad - s.strikeWad : 0;
            } else {
                v.markWad = s.strikeWad > st.spotWad ? s.strikeWad - st.spotWad : 0;
            }
        }
    }
}
