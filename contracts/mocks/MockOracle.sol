// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockOracle
/// @notice A Chainlink-style price feed whose answer is set by `UPDATER_ROLE`, for tests and demos only.
/// Every round is kept, so the vault can settle an expired option against the round that was current at expiry.
/// @dev Round ids follow Chainlink's proxy: `phaseId << 64 | aggregatorRoundId`. The feed starts in phase 1 at
/// round 1; `setPrice` adds the next round of the current phase; `startPhase` switches to a new "aggregator"
/// (phase + 1, round 1), after which `roundId + 1` of the old phase's last round does not exist — what a real
/// proxy reports across an aggregator upgrade. Each round is answered in itself (`answeredInRound == roundId`),
/// `startedAt == updatedAt`, and round timestamps never decrease, which a reader searching for "the round current
/// at time t" relies on.
/// Warning: the holder of `UPDATER_ROLE` sets the price; `setPriceAt` can backdate a round to fake a stale feed.
contract MockOracle is AggregatorV3Interface, AccessControl {
    /// @notice Role allowed to publish new rounds.
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");

    /// @dev Chainlink's OCR aggregators report version 4; nothing reads it but it must be stable.
    uint256 private constant AGGREGATOR_VERSION = 4;
    uint256 private constant PHASE_OFFSET = 64;

    /// @dev A past round in one slot. Every round starts and is answered at once, so `startedAt == updatedAt`.
    /// `uint64` timestamps last until year 584 billion; answers are bounded to `int128`.
    struct Round {
        int128 answer;
        uint64 updatedAt;
    }

    /// @dev The latest round again, with its id, in one slot: `latestRoundData` (read by every hedge) costs a
    /// single SLOAD. Answers here are bounded to `int112` (5e33, far above any price).
    struct Latest {
        uint80 roundId;
        uint64 updatedAt;
        int112 answer;
    }

    /// @inheritdoc AggregatorV3Interface
    uint8 public immutable override decimals;

    /// @inheritdoc AggregatorV3Interface
    string public override description;

    Latest private _latest;
    mapping(uint80 roundId => Round) private _rounds;

    /// @notice Chainlink's event for a new answer.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice Chainlink's event for a new round.
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    /// @notice A new aggregator phase began (its first round follows in `NewRound`).
    event PhaseStarted(uint16 indexed phaseId);

    /// @notice `roundId` was never recorded.
    error RoundNotFound(uint80 roundId);
    /// @notice A price must be strictly positive and fit `int112` (Chainlink consumers treat `answer <= 0` as a
    /// broken feed).
    error InvalidAnswer(int256 answer);
    /// @notice `setPriceAt` was given a timestamp later than the current block.
    error UpdatedAtInFuture(uint256 updatedAt, uint256 blockTimestamp);
    /// @notice `setPriceAt` was given a timestamp earlier than the latest round's, which would break round ordering.
    error UpdatedAtBeforeLatestRound(uint256 updatedAt, uint256 latestUpdatedAt);
    /// @notice `admin` was the zero address, which would leave the feed without anyone able to update it.
    error ZeroAdmin();

    /// @notice Deploys the feed and records phase 1, round 1 with `initialAnswer` at the current block's timestamp.
    /// @param decimals_ Decimals of the answer (8 for Chainlink USD feeds).
    /// @param description_ Pair name, e.g. "WETH / USD".
    /// @param initialAnswer Price of the first round; must be > 0.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `UPDATER_ROLE`.
    constructor(uint8 decimals_, string memory description_, int256 initialAnswer, address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        decimals = decimals_;
        description = description_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPDATER_ROLE, admin);
        _recordRound(uint80(1 << PHASE_OFFSET) | 1, _answerOrRevert(initialAnswer), block.timestamp);
    }

    /// @notice Starts a new round with `answer`, timestamped with the current block. Emits `NewRound` and
    /// `AnswerUpdated`.
    /// @dev Reverts with `InvalidAnswer` when `answer <= 0`, `AccessControlUnauthorizedAccount` without `UPDATER_ROLE`.
    /// @return roundId The id of the new round.
    function setPrice(int256 answer) external onlyRole(UPDATER_ROLE) returns (uint80 roundId) {
        roundId = _recordRound(_latest.roundId + 1, _answerOrRevert(answer), block.timestamp);
    }

    /// @notice Starts a new round with `answer` and an explicit `updatedAt`, to simulate a stale or late feed.
    /// Emits `NewRound` and `AnswerUpdated`.
    /// @dev Reverts with `UpdatedAtInFuture` when `updatedAt > block.timestamp`, `UpdatedAtBeforeLatestRound`
    /// when `updatedAt` is earlier than the latest round's, `InvalidAnswer` when `answer <= 0`.
    /// @return roundId The id of the new round.
    function setPriceAt(int256 answer, uint256 updatedAt) external onlyRole(UPDATER_ROLE) returns (uint80 roundId) {
        if (updatedAt > block.timestamp) revert UpdatedAtInFuture(updatedAt, block.timestamp);
        uint256 latestUpdatedAt = _latest.updatedAt;
        if (updatedAt < latestUpdatedAt) revert UpdatedAtBeforeLatestRound(updatedAt, latestUpdatedAt);
        roundId = _recordRound(_latest.roundId + 1, _answerOrRevert(answer), updatedAt);
    }

    /// @notice Switches to a new aggregator phase and records its first round with `answer` now, as a Chainlink
    /// proxy does when its aggregator is upgraded. Emits `PhaseStarted`, `NewRound` and `AnswerUpdated`.
    /// @return roundId The id of the new round: `(phaseId + 1) << 64 | 1`.
    function startPhase(int256 answer) external onlyRole(UPDATER_ROLE) returns (uint80 roundId) {
        uint16 phase = phaseId() + 1;
        emit PhaseStarted(phase);
        roundId = _recordRound(uint80(uint256(phase) << PHASE_OFFSET) | 1, _answerOrRevert(answer), block.timestamp);
    }

    /// @notice The current aggregator phase (1 at deployment).
    function phaseId() public view returns (uint16) {
        return uint16(_latest.roundId >> PHASE_OFFSET);
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure override returns (uint256) {
        return AGGREGATOR_VERSION;
    }

    /// @inheritdoc AggregatorV3Interface
    /// @dev Reverts with `RoundNotFound` for a round never recorded (as a Chainlink aggregator's "No data present").
    function getRoundData(uint80 roundId)
        external
        view
        override
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory round = _rounds[roundId];
        if (round.updatedAt == 0) revert RoundNotFound(roundId);
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }

    /// @notice Id of the latest round (`phaseId << 64 | aggregatorRoundId`).
    function latestRound() external view returns (uint80) {
        return _latest.roundId;
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Latest memory latest = _latest;
        return (latest.roundId, latest.answer, latest.updatedAt, latest.updatedAt, latest.roundId);
    }

    /// @dev `answer` as an `int112`, reverting with `InvalidAnswer` unless 0 < answer ≤ int112 max.
    function _answerOrRevert(int256 answer) private pure returns (int112) {
        if (answer <= 0 || answer > type(int112).max) revert InvalidAnswer(answer);
        return int112(answer);
    }

    /// @dev Callers guarantee `updatedAt <= block.timestamp`, so the `uint64` cast cannot truncate.
    function _recordRound(uint80 roundId, int112 answer, uint256 updatedAt) private returns (uint80) {
        _latest = Latest({roundId: roundId, updatedAt: uint64(updatedAt), answer: answer});
        _rounds[roundId] = Round({answer: answer, updatedAt: uint64(updatedAt)});
        emit NewRound(roundId, msg.sender, updatedAt);
        emit AnswerUpdated(answer, roundId, updatedAt);
        return roundId;
    }
}
