// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title MockERC20
/// @notice A mintable ERC-20 with configurable decimals, for tests and demos only: the underlying
/// ("Wrapped Ether", "WETH", 18 decimals) and the quote ("USD Coin", "USDC", 6 decimals).
/// @dev Warning: whoever holds `MINTER_ROLE` can create unlimited supply; never deploy this as a real asset.
contract MockERC20 is ERC20, AccessControl {
    /// @notice Role allowed to mint.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @dev Kept apart from OZ's `decimals()`, which is fixed at 18, so that USDC-like 6-decimal tokens exercise
    /// the vault's unit conversions.
    uint8 private immutable _decimals;

    /// @notice `admin` was the zero address, which would leave the token without anyone able to mint or grant roles.
    error ZeroAdmin();

    /// @notice Deploys the token and gives `admin` both the admin and the minter role.
    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param decimals_ Decimals reported by `decimals()`.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `MINTER_ROLE`.
    constructor(string memory name_, string memory symbol_, uint8 decimals_, address admin) ERC20(name_, symbol_) {
        if (admin == address(0)) revert ZeroAdmin();
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` (in token units) to `to`. Emits `Transfer(address(0), to, amount)`.
    /// @dev Reverts with `AccessControlUnauthorizedAccount` unless the caller holds `MINTER_ROLE`.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Burns `amount` of the caller's own tokens. Emits `Transfer(msg.sender, address(0), amount)`.
    /// @dev Reverts with `ERC20InsufficientBalance` when the caller holds less than `amount`.
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }
}
