/**
 * The vault-error table (`classifyVaultError` in keeper/chain/errors.ts): every error `rebalance` can raise has
 * the action a demanding operator expects, each name is one the keeper's ABI decodes, and what sizing can name
 * (`RebalanceErrorName`) is never left to the catch-all. Pure: no chain.
 */
import { describe, expect, it } from "vitest";
import { classifyVaultError, type VaultErrorAction } from "../../keeper/chain/errors.ts";
import { hedgeAbi } from "../../keeper/execution/sendHedge.ts";
import { REBALANCE_ERROR_NAMES } from "../../keeper/sizing/size.ts";

/** Every error `OptionVault.rebalance` (its checks, the pool's swap, the token transfer, the role check) can raise. */
const REBALANCE_ERRORS: Readonly<Record<string, VaultErrorAction>> = {
  // Nothing to do: the vault no longer needs this hedge.
  DeltaWithinTolerance: "stand-down",
  RebalanceTooSoon: "stand-down",
  DeltaNotReduced: "stand-down",
  // The snapshot shows these, and planning holds until they clear.
  VaultPaused: "wait-vault",
  StaleOracle: "wait-vault",
  InvalidOraclePrice: "wait-vault",
  SequencerDown: "wait-vault",
  SequencerGracePeriod: "wait-vault",
  // The window must roll.
  NotionalBudgetExceeded: "wait-budget",
  SlippageBudgetExceeded: "wait-budget",
  // Settled holders must claim first.
  PayoutsNotCovered: "wait-payouts",
  // The pool or the delta moved after the read: size again on fresh state.
  SlippageTooHigh: "resize",
  HedgeOvershoot: "resize",
  TradeTooLarge: "resize",
  InsufficientHedge: "resize",
  ZeroAmount: "resize",
  InsufficientOutput: "resize",
  InsufficientLiquidity: "resize",
  DeadlineExpired: "resize",
  ERC20InsufficientBalance: "resize",
  // Only a person can fix these.
  AccessControlUnauthorizedAccount: "operator",
  SpotOutOfDomain: "operator",
};

describe("classifyVaultError", () => {
  it("gives every error rebalance can raise the action its meaning calls for", () => {
    for (const [name, action] of Object.entries(REBALANCE_ERRORS)) {
      expect(classifyVaultError(name).action, name).toBe(action);
    }
  });

  it("names only errors the keeper's ABI decodes (a typo would never match a revert)", () => {
    const decodable = new Set(hedgeAbi.filter((item) => item.type === "error").map((item) => item.name));
    for (const name of Object.keys(REBALANCE_ERRORS)) expect(decodable, name).toContain(name);
  });

  it("knows every error sizing can name: none falls through to the operator catch-all by accident", () => {
    for (const name of REBALANCE_ERROR_NAMES) {
      expect(classifyVaultError(name).action, name).not.toBe("operator");
      expect(classifyVaultError(name).action, name).toBe(REBALANCE_ERRORS[name]);
    }
  });

  it("says what each error means for hedging in a line an operator can act on", () => {
    expect(classifyVaultError("NotionalBudgetExceeded").meaning).toMatch(/until the window rolls/);
    expect(classifyVaultError("PayoutsNotCovered").meaning).toMatch(/settled holders/);
    expect(classifyVaultError("AccessControlUnauthorizedAccount").meaning).toMatch(/KEEPER_ROLE/);
  });

  it("sends an error rebalance cannot raise (SettlementPending) or does not know to the operator", () => {
    expect(classifyVaultError("SettlementPending").action).toBe("operator");
    expect(classifyVaultError("SomethingNew").action).toBe("operator");
    expect(classifyVaultError("SomethingNew").meaning).toMatch(/does not expect/);
  });
});
