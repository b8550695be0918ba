// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title ScriptedOracle
/// @notice Test-only feed that answers whatever it is told, including the zero or negative prices a real feed can
/// return in a failure and `MockOracle` refuses to record. Lets tests reach the vault's `InvalidOraclePrice` paths.
contract ScriptedOracle is AggregatorV3Interface {
    /// @notice Emitted when the scripted answer changes.
    event Scripted(int256 answer, uint256 updatedAt);

    uint8 public immutable decimals;
    int256 private _answer;
    uint256 private _updatedAt;

    constructor(uint8 decimals_, int256 answer_) {
        decimals = decimals_;
        _answer = answer_;
        _updatedAt = block.timestamp;
    }

    /// @notice Sets the answer returned from now on, timestamped now.
    function script(int256 answer_) external {
        _answer = answer_;
        _updatedAt = block.timestamp;
        emit Scripted(answer_, block.timestamp);
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external pure returns (string memory) {
        return "scripted";
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 1;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        return (roundId, _answer, _updatedAt, _updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (1, _answer, _updatedAt, _updatedAt, 1);
    }
}
