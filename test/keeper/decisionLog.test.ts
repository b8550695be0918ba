/**
 * `DecisionLog` (keeper/telemetry/decisionLog.ts): what the keeper says about a failed send and a settled hedge,
 * and the back-off each one implies. A send that another keeper made unnecessary stands down (info, no back-off);
 * any other failure backs the vault off and names the block it waits until; a revert in a block where the vault
 * was rebalanced by someone else is a lost race, not a fault.
 */
import type { TransactionReceipt } from "viem";
import { describe, expect, it } from "vitest";
import type { ReadResult } from "../../keeper/chain/readVaults.ts";
import { FeeCapExceededError } from "../../keeper/execution/fees.ts";
import type { HedgeOutcome } from "../../keeper/execution/pending.ts";
import { HedgeSimulationError } from "../../keeper/execution/sendHedge.ts";
import { Throttle } from "../../keeper/execution/throttle.ts";
import { DecisionLog } from "../../keeper/telemetry/decisionLog.ts";
import type { Logger } from "../../keeper/telemetry/logger.ts";

const VAULT = "0x00000000000000000000000000000000000000aa";

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  const log = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } as unknown as Logger;
  return { log, lines };
}

function setup() {
  const throttle = new Throttle({ retryBackoffBlocks: 2, gasBudgetPerHourWei: undefined, gasBudgetPerDayWei: undefined }, () => 0);
  return { throttle, decisions: new DecisionLog({ throttle, nowMs: () => 0 }), ...capture() };
}

function reverted(inBlock: bigint): HedgeOutcome {
  const sent = { vault: VAULT, hash: "0x01", nonce: 0, gasLimit: 400_000n, fees: { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }, decidedAtBlock: 98n } as const;
  return { kind: "reverted", sent, receipt: { gasUsed: 50_000n, effectiveGasPrice: 1n, blockNumber: inBlock } as TransactionReceipt };
}

const vaultsRebalancedAt = (block: bigint) => [{ vault: VAULT, lastRebalanceBlock: block }] as unknown as ReadResult["vaults"];

describe("DecisionLog.sendFailure", () => {
  it("stands down without a back-off when the vault no longer needs the hedge", () => {
    const { decisions, throttle, log, lines } = setup();
    decisions.sendFailure(log, VAULT, new HedgeSimulationError("DeltaWithinTolerance", [], undefined), 100n);
    decisions.sendFailure(log, VAULT, new HedgeSimulationError("RebalanceTooSoon", [], undefined), 100n);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["info", "vault already within its delta tolerance: standing down"],
      ["info", "another keeper hedged this vault first: standing down"],
    ]);
    expect(throttle.heldBack(VAULT, 100n)).toBeUndefined();
  });

  it("backs off after an operator error, logged as an error with the block it waits until", () => {
    const { decisions, throttle, log, lines } = setup();
    decisions.sendFailure(log, VAULT, new HedgeSimulationError("SpotOutOfDomain", [7n], undefined), 100n);
    expect(lines).toEqual([
      {
        level: "error",
        fields: { vault: VAULT, error: "SpotOutOfDomain", args: ["7"], action: "operator", backoffUntilBlock: 102 },
        msg: "hedge not sent: the oracle price is outside the vault's pricing domain",
      },
    ]);
    expect(throttle.heldBack(VAULT, 101n)).toMatch(/^backing off after 1 failure/);
  });

  it("backs off after a fee cap or an RPC failure too", () => {
    const { decisions, throttle, log, lines } = setup();
    decisions.sendFailure(log, VAULT, new FeeCapExceededError(2n, 1n), 100n);
    decisions.sendFailure(log, VAULT, new Error("connection reset"), 100n);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", `hedge not sent: ${new FeeCapExceededError(2n, 1n).message}`],
      ["error", "hedge not sent: RPC or signing failure"],
    ]);
    expect(throttle.heldBack(VAULT, 100n)).toBe("backing off after 2 failure(s) until block 104");
  });
});

describe("DecisionLog.settled", () => {
  it("a revert in (or before) a block where the vault was rebalanced by someone else is a lost race", () => {
    const { decisions, log, lines } = setup();
    expect(decisions.settled(log, reverted(100n), vaultsRebalancedAt(100n))).toBe(true);
    expect(decisions.settled(log, reverted(100n), vaultsRebalancedAt(105n))).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(["another keeper hedged this vault first: standing down", "another keeper hedged this vault first: standing down"]);
  });

  it("a revert with no later rebalance on-chain is a fault, logged as an error", () => {
    const { decisions, log, lines } = setup();
    expect(decisions.settled(log, reverted(100n), vaultsRebalancedAt(99n))).toBe(false);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([["error", "hedge reverted on-chain (state moved between simulation and inclusion): backing off"]]);
  });
});
