// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title AggregatorV3Interface
/// @notice Chainlink's price-feed read interface, declared here so the vault can read a real Chainlink feed
/// or `MockOracle` alike.
interface AggregatorV3Interface {
    /// @notice Decimals of `answer` (Chainlink USD feeds use 8).
    function decimals() external view returns (uint8);

    /// @notice Human-readable pair, e.g. "WETH / USD".
    function description() external view returns (string memory);

    /// @notice Aggregator version.
    function version() external view returns (uint256);

    /// @notice Data of a past round.
    /// @dev Reverts when the round does not exist.
    function getRoundData(uint80 roundId)
        external
        view
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice Data of the latest round. `updatedAt` is the timestamp the answer was last set.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
