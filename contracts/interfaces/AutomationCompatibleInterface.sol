// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title AutomationCompatibleInterface
/// @notice Chainlink Automation's upkeep convention, which other keeper networks and self-hosted runners also
/// call: simulate `checkUpkeep` off-chain, send `performUpkeep(performData)` when it says so.
interface AutomationCompatibleInterface {
    /// @notice Whether work is due, and the data to do it with. Called off-chain with `eth_call`.
    function checkUpkeep(bytes calldata checkData) external returns (bool upkeepNeeded, bytes memory performData);

    /// @notice Does the work. Must re-validate: `performData` may be stale by the time it is mined.
    function performUpkeep(bytes calldata performData) external;
}
