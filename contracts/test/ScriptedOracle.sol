// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title ScriptedOracle
/// @notice Test-only feed that answers whatever it is told — including the zero or negative prices a real feed can
/// return in a failure and `MockOracle` refuses to record, backdated rounds, and aggregator phase switches — so
/// tests can reach every oracle path of the vault. Also serves as an L2 sequencer-uptime feed (answer 0 = up,
/// 1 = down; `startedAt` = when the status was scripted). Anyone may script it.
/// @dev Round ids follow Chainlink's proxy (`phaseId << 64 | aggregatorRoundId`), starting at phase 1, round 1.
contract ScriptedOracle is AggregatorV3Interface {
    /// @notice Emitted for every scripted round.
    event Scripted(uint80 indexed roundId, int256 answer, uint256 updatedAt);

    /// @notice `roundId` was never scripted.
    error RoundNotFound(uint80 roundId);

    struct Round {
        int256 answer;
        uint256 updatedAt;
    }

    uint8 public immutable decimals;
    /// @notice The latest round's id.
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    constructor(uint8 decimals_, int256 answer_) {
        decimals = decimals_;
        _record(uint80(1 << 64) | 1, answer_, block.timestamp);
    }

    /// @notice A new round in the current phase with `answer_`, timestamped now.
    function script(int256 answer_) external returns (uint80) {
        return _record(latestRound + 1, answer_, block.timestamp);
    }

    /// @notice A new round in the current phase with `answer_` and an explicit timestamp (any: tests may go back).
    function scriptAt(int256 answer_, uint256 updatedAt) external returns (uint80) {
        return _record(latestRound + 1, answer_, updatedAt);
    }

    /// @notice The first round of a new aggregator phase, timestamped now.
    function startPhase(int256 answer_) external returns (uint80) {
        return _record(uint80((((uint256(latestRound) >> 64) + 1) << 64) | 1), answer_, block.timestamp);
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external pure returns (string memory) {
        return "scripted";
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _rounds[roundId];
        if (r.updatedAt == 0) revert RoundNotFound(roundId);
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory r = _rounds[latestRound];
        return (latestRound, r.answer, r.updatedAt, r.updatedAt, latestRound);
    }

    function _record(uint80 roundId, int256 answer_, uint256 updatedAt) private returns (uint80) {
        latestRound = roundId;
        _rounds[roundId] = Round({answer: answer_, updatedAt: updatedAt});
        emit Scripted(roundId, answer_, updatedAt);
        return roundId;
    }
}
