/**
 * `readVaults` (keeper/chain/readVaults.ts): the lens's `VaultState` mapped field by field into `VaultSnapshot`,
 * the oracle status by name, and a vault the keeper cannot interpret reported as a failure rather than guessed.
 * The client is a stub answering `readContract` with what viem decodes from `VaultLens.read`.
 */
import { encodeErrorResult, type ContractFunctionReturnType, type PublicClient } from "viem";
import { describe, expect, it } from "vitest";
import { mockAmmAbi, optionVaultAbi, type vaultLensAbi } from "../../keeper/abi.ts";
import { describeRevert, oracleStatusName, readVaults } from "../../keeper/chain/readVaults.ts";
import { ORACLE_STATUSES } from "../../keeper/types.ts";

type LensRead = ContractFunctionReturnType<typeof vaultLensAbi, "view", "read">;
type Snap = LensRead[1][number];

const W = 10n ** 18n;
const VAULT = "0x00000000000000000000000000000000000000aa" as const;
const LENS = "0x00000000000000000000000000000000000000bb" as const;

/** A vault without a perp market: the lens leaves its `PerpState` zero. */
const NO_PERP: Snap["state"]["perp"] = {
  market: "0x0000000000000000000000000000000000000000",
  priced: false,
  position: { sizeWad: 0n, margin: 0n, entryPriceWad: 0n, pnl: 0n, funding: 0n, remainingMargin: 0n, maintenanceMargin: 0n, initialMargin: 0n, premiumCredit: 0n, liquidatable: false },
  params: { skewScale: 0n, maxFundingVelocity: 0n, makerFeeBps: 0n, takerFeeBps: 0n, maintenanceMarginBps: 0n, liquidationRewardBps: 0n, minLiquidationReward: 0n, maxLeverage: 0n, maxOracleAge: 0n },
  skewWad: 0n,
  fundingRateWad: 0n,
  pool: 0n,
  minMarginBps: 0n,
  maxMarginBps: 0n,
};

function lensSnapshot(overrides: Partial<Snap["state"]> = {}): Snap {
  return {
    vault: VAULT,
    ok: true,
    revertData: "0x",
    state: {
      full: true,
      bookHash: `0x${"00".repeat(32)}`,
      bookDeltaWad: -2n * W,
      netDeltaWad: -W,
      gammaWad: -(W / 1000n),
      vegaWad: -300n * W,
      hedgeBalance: W,
      cashBalance: 1_000_000n * 10n ** 6n,
      pendingPayouts: 1_234n * 10n ** 6n,
      totalAssets: 990_000n * 10n ** 6n,
      spotWad: 3_000n * W,
      oracleRoundId: 7n,
      oracleUpdatedAt: 1_750_000_000n,
      oracleAgeSeconds: 12n,
      oracleFresh: false,
      oracleStatus: 3,
      ammReserveUnderlying: 1_000n * W,
      ammReserveQuote: 3_000_000n * 10n ** 6n,
      ammFeeBps: 30n,
      lastRebalanceBlock: 990n,
      nextRebalanceBlock: 995n,
      notionalLeftWad: 2_500_000n * W,
      slippageLeftWad: 9_000n * W,
      liveSeries: 0n,
      settlementPending: true,
      paused: false,
      hedge: {
        maxSlippageBps: 100,
        minRebalanceInterval: 5,
        maxOracleAge: 3_600,
        maxTradeWad: 100n * W,
        deltaToleranceWad: W / 10n,
        bandWad: W / 2n,
        budgetWindowSeconds: 86_400,
        notionalBudget: 3_000_000,
        slippageBudget: 10_000,
      },
      risk: { volWad: (8n * W) / 10n, rateWad: W / 20n, spreadBps: 100, latencyBps: 25, capitalChargeBps: 200, minPremiumBps: 5 },
      blockNumber: 1_000n,
      timestamp: 1_750_000_012n,
      perp: NO_PERP,
      ...overrides,
    },
    book: [],
  };
}

function stubClient(snaps: Snap[]): PublicClient {
  const chain = { blockNumber: 1_000n, timestamp: 1_750_000_012n, baseFeePerGas: 10n ** 9n, chainId: 31337n, accountBalance: W };
  const answer: LensRead = [chain, snaps];
  return { readContract: async () => answer } as unknown as PublicClient;
}

const refs = [{ address: VAULT, quoteDecimals: 6, underlyingDecimals: 18 }];
const params = { lens: LENS, vaults: refs, account: "0x0000000000000000000000000000000000000000" as const };

describe("readVaults", () => {
  it("maps the lens's VaultState into the snapshot: payouts, oracle status, budget left, settlement, bounds and pricing", async () => {
    const { vaults, failures } = await readVaults(stubClient([lensSnapshot()]), params);
    expect(failures).toEqual([]);
    expect(vaults[0]).toMatchObject({
      vault: VAULT,
      pendingPayouts: 1_234n * 10n ** 6n,
      oracleFresh: false,
      oracleStatus: "SequencerDown",
      notionalLeftWad: 2_500_000n * W,
      slippageLeftWad: 9_000n * W,
      settlementPending: true,
      hedge: { budgetWindowSeconds: 86_400, notionalBudget: 3_000_000, slippageBudget: 10_000, deltaToleranceWad: W / 10n },
      risk: { volWad: (8n * W) / 10n, rateWad: W / 20n, spreadBps: 100, latencyBps: 25, capitalChargeBps: 200, minPremiumBps: 5 },
      quoteDecimals: 6,
      underlyingDecimals: 18,
    });
    expect(vaults[0]!.risk).not.toHaveProperty("stressUpBps");
  });

  it("carries the lens's chain header as it is (base fee, chain id and the signer's balance included) and each series of the book", async () => {
    const series = {
      id: `0x${"12".repeat(32)}` as const,
      isCall: false,
      strikeWad: 2_500n * W,
      expiry: 1_760_000_000n,
      sizeWad: -3n * W,
      deltaWad: W / 7n,
      gammaWad: W / 1_000n,
      vegaWad: 40n * W,
      markWad: 55n * W,
    };
    const read = await readVaults(stubClient([{ ...lensSnapshot(), book: [series] }]), params);
    expect(read.chain).toEqual({ blockNumber: 1_000n, timestamp: 1_750_000_012n, baseFeePerGas: 10n ** 9n, chainId: 31337n, accountBalance: W });
    expect(read.vaults[0]!.book).toEqual([series]);
  });

  it("names every oracle status as IOptionVault.OracleStatus orders them", () => {
    expect(ORACLE_STATUSES.map((_, i) => oracleStatusName(i))).toEqual([
      "Usable",
      "InvalidAnswer",
      "Stale",
      "SequencerDown",
      "SequencerGracePeriod",
    ]);
  });

  it("reports a vault whose oracle status it does not know as unreadable instead of guessing", async () => {
    const { vaults, failures } = await readVaults(stubClient([lensSnapshot({ oracleStatus: 9 })]), params);
    expect(vaults).toEqual([]);
    expect(failures).toEqual([{ vault: VAULT, reason: expect.stringMatching(/unknown oracle status 9/) }]);
  });

  it("decodes a vault's revert data with the regenerated ABI, new errors included", () => {
    const data = encodeErrorResult({ abi: optionVaultAbi, errorName: "SequencerGracePeriod", args: [1_750_000_000n, 3_600n] });
    expect(describeRevert(data)).toBe("SequencerGracePeriod(1750000000, 3600)");
    expect(describeRevert("0xabababab")).toMatch(/undecodable/);
    expect(describeRevert("0x")).toMatch(/no code/);
  });

  it("decodes the pool's own errors and errors without arguments; shows only the selector of what it cannot decode", () => {
    // InsufficientLiquidity is MockAmm's alone: a vault's view that calls the pool can bubble it up.
    const amm = encodeErrorResult({ abi: mockAmmAbi, errorName: "InsufficientLiquidity", args: [5n, 7n] });
    expect(describeRevert(amm)).toBe("InsufficientLiquidity(5, 7)");
    expect(describeRevert(encodeErrorResult({ abi: optionVaultAbi, errorName: "VaultPaused" }))).toBe("VaultPaused()");
    expect(describeRevert(`0xabababab${"00".repeat(64)}`)).toBe("reverted with undecodable data 0xabababab");
  });
});
