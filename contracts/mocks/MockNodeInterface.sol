// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MockNodeInterface
/// @notice Arbitrum's `NodeInterface.gasEstimateL1Component` for local tests, placed at its address
/// (0x00000000000000000000000000000000000000C8) with `hardhat_setCode`. On Arbitrum the node answers this virtual
/// contract itself; here the L1 component is `gasPerByte` L2 gas for each byte of `data`, at `l2BaseFee` (or the
/// block's base fee when unset). Both are storage slots a test sets with `hardhat_setStorageAt` (slots 0 and 1).
/// @dev Test-only: never deployed by the scripts.
contract MockNodeInterface {
    /// @notice L2 gas the mock charges per calldata byte for the L1 component (slot 0).
    uint256 public gasPerByte;
    /// @notice The L2 base fee it reports, wei; 0: the block's (slot 1).
    uint256 public l2BaseFee;

    /// @notice The L1 part of a transaction's gas, as Arbitrum's NodeInterface estimates it.
    /// @param data The transaction's calldata.
    /// @return gasEstimateForL1 L2 gas units the L1 component costs.
    /// @return baseFee The L2 base fee those units are paid at.
    /// @return l1BaseFeeEstimate The L1 base fee the estimate assumes (fixed here: 30 gwei).
    function gasEstimateL1Component(address, bool, bytes calldata data)
        external
        payable
        returns (uint64 gasEstimateForL1, uint256 baseFee, uint256 l1BaseFeeEstimate)
    {
        gasEstimateForL1 = uint64(data.length * gasPerByte);
        baseFee = l2BaseFee == 0 ? block.basefee : l2BaseFee;
        l1BaseFeeEstimate = 30 gwei;
    }
}
