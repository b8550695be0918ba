/**
 * Deploys the whole local system — tokens, oracle, AMM with liquidity, vault with roles, lens, band-upkeep adapter — through
 * Hardhat's viem helpers. Shared by the tests, the gas report and (later) the demo, so that each of them runs
 * against exactly the same wiring.
 */
import type { NetworkConnection } from "hardhat/types/network";
import { keccak256, parseUnits, toHex, zeroAddress, type Address } from "viem";
import type { BookLimits, HedgeBounds, RiskParams } from "../keeper/types.ts";
import type { PerpParamsOnChain } from "../keeper/pricing/perp.ts";

export type HardhatViem = NetworkConnection["viem"];

export const QUOTE_DECIMALS = 6;
/** `BandUpkeep`'s pool/oracle gap above which it does not trade. */
export const UPKEEP_MAX_POOL_DEVIATION_BPS = 50n;
export const UNDERLYING_DECIMALS = 18;
export const ORACLE_DECIMALS = 8;
export const WAD = 10n ** 18n;

export const ROLES = {
  admin: `0x${"00".repeat(32)}` as const,
  keeper: keccak256(toHex("KEEPER_ROLE")),
  manager: keccak256(toHex("MANAGER_ROLE")),
  guardian: keccak256(toHex("GUARDIAN_ROLE")),
  updater: keccak256(toHex("UPDATER_ROLE")),
  minter: keccak256(toHex("MINTER_ROLE")),
};

/** The vault's bounds and pricing parameters: the same shapes the keeper reads back (`keeper/types.ts`). */
export type HedgeParams = HedgeBounds;
export type { BookLimits, RiskParams };

/**
 * The defaults every deployment script starts from (one table: `deploySystem`, `npm run deploy`, the demo).
 * The hedging budget bounds what an adversarial keeper can cost the vault: at most 10,000 quote units of slippage
 * against the oracle on 3,000,000 of notional in any 24 hours, and with the oracle up to 0.5% off the market
 * (the latency below) 25,000 in all: 2.5% of a 1,000,000 vault a day.
 */
export const DEFAULT_HEDGE_PARAMS: HedgeParams = {
  maxSlippageBps: 100,
  minRebalanceInterval: 1,
  maxOracleAge: 3600,
  maxTradeWad: 200n * WAD,
  deltaToleranceWad: WAD / 10n,
  bandWad: WAD / 2n,
  budgetWindowSeconds: 86_400,
  notionalBudget: 3_000_000,
  slippageBudget: 10_000,
};

/**
 * 80% volatility, a 2% spread; premiums and share prices assume the next oracle answer may be 0.5% away (a
 * Chainlink ETH/USD deviation threshold); collateral is charged 5% a year; no option sells below 0.05% of spot.
 */
export const DEFAULT_RISK_PARAMS: RiskParams = {
  volWad: (WAD * 8n) / 10n,
  rateWad: 0n,
  spreadBps: 200,
  latencyBps: 50,
  capitalChargeBps: 500,
  minPremiumBps: 5,
};

/**
 * Calls covered up to a 100% rally over their strike (or the spot); at most 80% of the assets locked by sales;
 * positions of at least 0.01 underlying; newly minted shares locked for an hour.
 */
export const DEFAULT_BOOK_LIMITS: BookLimits = {
  stressUpBps: 10_000,
  maxUtilizationBps: 8_000,
  minPositionWad: WAD / 100n,
  maxSeriesOpenInterestWad: 10_000n * WAD,
  maxOpenInterestWad: 50_000n * WAD,
  depositLockSeconds: 3600,
};

/** The vault's constructor `Config` (`OptionVaultBase.Config`). */
export interface VaultConfig {
  quote: Address;
  underlying: Address;
  oracle: Address;
  amm: Address;
  /** Chainlink's L2 sequencer-uptime feed; zero on L1. */
  sequencerUptimeFeed: Address;
  /** The perpetual-futures hedge venue (`IPerpMarket`); zero for a vault that hedges on the AMM only. */
  perp: Address;
  admin: Address;
  name: string;
  symbol: string;
}

/** The share token's name and symbol every script uses. */
export const VAULT_NAME = { name: "Delta Keeper ETH Vault", symbol: "dkETH" } as const;

/**
 * Deploys one vault: its `OptionVaultExtension` (from the same config), then the `OptionVault` that delegates to
 * it, both linked to the `OptionBook` library at `optionBook` (deployed here when not given: one per chain is
 * enough). Returns the vault typed with the full `IOptionVault` ABI, the extension and the library.
 */
export async function deployVault(
  viem: HardhatViem,
  p: {
    config: Omit<VaultConfig, "sequencerUptimeFeed" | "perp" | "name" | "symbol"> & Partial<VaultConfig>;
    hedge: HedgeParams;
    risk: RiskParams;
    limits: BookLimits;
    optionBook?: Address;
  },
) {
  const optionBook = p.optionBook ?? (await viem.deployContract("OptionBook")).address;
  const libraries = { OptionBook: optionBook };
  const config: VaultConfig = { sequencerUptimeFeed: zeroAddress, perp: zeroAddress, ...VAULT_NAME, ...p.config };
  const extension = await viem.deployContract("OptionVaultExtension", [config], { libraries });
  const deployed = await viem.deployContract("OptionVault", [config, extension.address, p.hedge, p.risk, p.limits], {
    libraries,
  });
  const vault = await viem.getContractAt("IOptionVault", deployed.address);
  return { vault, extension, optionBook };
}

export interface SystemOptions {
  /** Oracle and AMM starting price, quote units per underlying (e.g. 3000). */
  spot?: number;
  /** AMM depth in underlying units; the quote side is `spot` times this. */
  ammDepthUnderlying?: number;
  ammFeeBps?: number;
  /** Quote assets deposited into the vault by the liquidity provider. */
  vaultDeposit?: number;
  hedge?: Partial<HedgeParams>;
  risk?: Partial<RiskParams>;
  limits?: Partial<BookLimits>;
  /** Chainlink L2 sequencer-uptime feed for the vault (default: none, as on L1). */
  sequencerUptimeFeed?: Address;
  /**
   * A perp market beside the AMM (default: none): `MockPerpMarket` with `DEFAULT_PERP_PARAMS` overridden by
   * `params`, its pool funded with `pool` quote units (default 1,000,000), the vault's margin bounds set to
   * `marginBounds` basis points (default `DEFAULT_PERP_MARGIN_BOUNDS`).
   */
  perp?: { params?: Partial<PerpMarketParams>; pool?: number; marginBounds?: { minMarginBps: number; maxMarginBps: number } };
}

/** The vault's perp margin bounds the scripts set: at least 15% of the position's notional after a hedge, at most
 * 40% of the largest hedge the book can need (the default market's initial margin is 10%, its maintenance ~1.2%). */
export const DEFAULT_PERP_MARGIN_BOUNDS = { minMarginBps: 1_500, maxMarginBps: 4_000 } as const;

export function priceE8(price: number): bigint {
  return parseUnits(price.toString(), ORACLE_DECIMALS);
}

export function quoteUnits(amount: number | string): bigint {
  return parseUnits(amount.toString(), QUOTE_DECIMALS);
}

export function underlyingUnits(amount: number | string): bigint {
  return parseUnits(amount.toString(), UNDERLYING_DECIMALS);
}

/** `wait(hash)`: the transaction's receipt, or an error naming the hash when it reverted. */
export function receiptWaiter(publicClient: Awaited<ReturnType<HardhatViem["getPublicClient"]>>) {
  return async (hash: `0x${string}`) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return receipt;
  };
}

/**
 * Deploys and wires the system. Wallet 0 is the admin, manager, guardian, oracle updater and liquidity
 * provider; wallet 1 is the keeper; wallets 2+ are free for buyers.
 */
export async function deploySystem(viem: HardhatViem, options: SystemOptions = {}) {
  const spot = options.spot ?? 3000;
  const depth = options.ammDepthUnderlying ?? 1000;
  const [admin, keeper] = await viem.getWalletClients();
  if (!admin || !keeper) throw new Error("deploySystem needs at least two funded accounts");
  const publicClient = await viem.getPublicClient();

  const quote = await viem.deployContract("MockERC20", ["USD Coin", "USDC", QUOTE_DECIMALS, admin.account.address]);
  const underlying = await viem.deployContract("MockERC20", [
    "Wrapped Ether",
    "WETH",
    UNDERLYING_DECIMALS,
    admin.account.address,
  ]);
  const oracle = await viem.deployContract("MockOracle", [ORACLE_DECIMALS, "WETH / USD", priceE8(spot), admin.account.address]);
  const amm = await viem.deployContract("MockAmm", [underlying.address, quote.address, BigInt(options.ammFeeBps ?? 30)]);

  const hedge = { ...DEFAULT_HEDGE_PARAMS, ...options.hedge };
  const risk = { ...DEFAULT_RISK_PARAMS, ...options.risk };
  const limits = { ...DEFAULT_BOOK_LIMITS, ...options.limits };
  const perp = options.perp
    ? (await deployPerp(viem, { quote: quote.address, oracle: oracle.address, owner: admin.account.address, params: options.perp.params })).perp
    : undefined;
  const { vault, optionBook } = await deployVault(viem, {
    config: {
      quote: quote.address,
      underlying: underlying.address,
      oracle: oracle.address,
      amm: amm.address,
      admin: admin.account.address,
      sequencerUptimeFeed: options.sequencerUptimeFeed ?? zeroAddress,
      perp: perp?.address ?? zeroAddress,
    },
    hedge,
    risk,
    limits,
  });
  const lens = await viem.deployContract("VaultLens");
  // Open runner (address 0): any Automation-style runner may perform — the upkeep sizes every trade itself, so a
  // caller can only trigger the hedge the band rule calls for. It trades while the pool is within 0.5% of the oracle.
  const upkeep = await viem.deployContract("BandUpkeep", [vault.address, zeroAddress, UPKEEP_MAX_POOL_DEVIATION_BPS]);

  const wait = receiptWaiter(publicClient);

  await wait(await vault.write.grantRole([ROLES.manager, admin.account.address]));
  await wait(await vault.write.grantRole([ROLES.guardian, admin.account.address]));
  await wait(await vault.write.grantRole([ROLES.keeper, keeper.account.address]));
  await wait(await vault.write.grantRole([ROLES.keeper, upkeep.address]));

  // AMM liquidity at the oracle price.
  const ammUnderlying = underlyingUnits(depth);
  const ammQuote = quoteUnits(depth * spot);
  await wait(await underlying.write.mint([admin.account.address, ammUnderlying]));
  await wait(await quote.write.mint([admin.account.address, ammQuote]));
  await wait(await underlying.write.approve([amm.address, ammUnderlying]));
  await wait(await quote.write.approve([amm.address, ammQuote]));
  await wait(await amm.write.addLiquidity([ammUnderlying, ammQuote, 0n, admin.account.address]));

  if (perp && options.perp) {
    const pool = quoteUnits(options.perp.pool ?? 1_000_000);
    await wait(await quote.write.mint([admin.account.address, pool]));
    await wait(await quote.write.approve([perp.address, pool]));
    await wait(await perp.write.fundPool([pool]));
    const bounds = options.perp.marginBounds ?? DEFAULT_PERP_MARGIN_BOUNDS;
    await wait(await vault.write.setPerpMarginBounds([bounds.minMarginBps, bounds.maxMarginBps]));
  }

  // Vault capital.
  const deposit = quoteUnits(options.vaultDeposit ?? 1_000_000);
  if (deposit > 0n) {
    await wait(await quote.write.mint([admin.account.address, deposit]));
    await wait(await quote.write.approve([vault.address, deposit]));
    await wait(await vault.write.deposit([deposit, admin.account.address]));
  }

  return { admin, keeper, publicClient, quote, underlying, oracle, amm, perp, vault, lens, upkeep, hedge, risk, limits, optionBook, wait };
}

export type System = Awaited<ReturnType<typeof deploySystem>>;

/** Lists a series `days` from the latest block's timestamp and returns its id. */
export async function listSeries(sys: Pick<System, "publicClient" | "vault" | "wait">, isCall: boolean, strike: number, days: number) {
  const block = await sys.publicClient.getBlock();
  const expiry = block.timestamp + BigInt(Math.round(days * 86_400));
  const strikeWad = parseUnits(strike.toString(), 18);
  await sys.wait(await sys.vault.write.listSeries([isCall, strikeWad, expiry]));
  const id = (await sys.vault.read.seriesId([isCall, strikeWad, expiry])) as `0x${string}`;
  return { id, expiry, strikeWad };
}

/** Mints quote to `buyer`, approves the vault and opens `size` options of series `id`. */
export async function buyOptions(sys: Pick<System, "vault" | "quote" | "wait">, buyer: Address, id: `0x${string}`, size: number) {
  const sizeWad = underlyingUnits(size);
  const premium = await sys.vault.read.quoteOpen([id, sizeWad]);
  await sys.wait(await sys.quote.write.mint([buyer, premium]));
  await sys.wait(await sys.quote.write.approve([sys.vault.address, premium], { account: buyer }));
  await sys.wait(await sys.vault.write.openPosition([id, sizeWad, premium, buyer], { account: buyer }));
  return { premium, sizeWad };
}

/**
 * Another vault on the same tokens and oracle as `sys` (and its AMM, or a pool of its own of `ownAmmDepth`
 * underlying), with the same roles, `deposit` of capital and one
 * 30-day ATM call series of which `optionsSold` are sold (so it has a delta to hedge). For multi-vault
 * benchmarks and tests.
 */
export async function deployExtraVault(
  viem: HardhatViem,
  sys: System,
  p: { deposit?: number; optionsSold?: number; ownAmmDepth?: number } = {},
) {
  const { admin, keeper } = sys;
  let amm = sys.amm;
  if (p.ownAmmDepth !== undefined) {
    // Its own pool at the oracle price: vaults that hedge in the same block do not move each other's price.
    amm = await viem.deployContract("MockAmm", [sys.underlying.address, sys.quote.address, 30n]);
    const [, answer] = await sys.oracle.read.latestRoundData();
    const u = underlyingUnits(p.ownAmmDepth);
    const q = (u * answer) / 10n ** BigInt(ORACLE_DECIMALS + UNDERLYING_DECIMALS - QUOTE_DECIMALS);
    await sys.wait(await sys.underlying.write.mint([admin.account.address, u]));
    await sys.wait(await sys.quote.write.mint([admin.account.address, q]));
    await sys.wait(await sys.underlying.write.approve([amm.address, u]));
    await sys.wait(await sys.quote.write.approve([amm.address, q]));
    await sys.wait(await amm.write.addLiquidity([u, q, 0n, admin.account.address]));
  }
  const { vault } = await deployVault(viem, {
    config: {
      quote: sys.quote.address,
      underlying: sys.underlying.address,
      oracle: sys.oracle.address,
      amm: amm.address,
      admin: admin.account.address,
    },
    hedge: sys.hedge,
    risk: sys.risk,
    limits: sys.limits,
    optionBook: sys.optionBook,
  });
  await sys.wait(await vault.write.grantRole([ROLES.manager, admin.account.address]));
  await sys.wait(await vault.write.grantRole([ROLES.keeper, keeper.account.address]));
  const deposit = quoteUnits(p.deposit ?? 1_000_000);
  await sys.wait(await sys.quote.write.mint([admin.account.address, deposit]));
  await sys.wait(await sys.quote.write.approve([vault.address, deposit]));
  await sys.wait(await vault.write.deposit([deposit, admin.account.address]));
  const other = { ...sys, vault, amm };
  const { id } = await listSeries(other, true, 3000, 30);
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  await buyOptions(other, buyer, id, p.optionsSold ?? 10);
  return { vault, amm };
}

/** `IPerpMarket.MarketParams` as the contract takes them (wad, bps, quote units, seconds). */
export type PerpMarketParams = PerpParamsOnChain;

/**
 * The perp market's defaults (`MockPerpMarket`), in the range of Synthetix perps v2's ETH market: a 100,000 ETH skew
 * scale (a 100-ETH hedge moves the fill 0.05%), funding drifting up to 3%/day per day, 2/10 bps maker/taker, a 1%
 * maintenance margin plus a 0.1% (at least 20 USDC) liquidation reward, 10x leverage, the vault's oracle age.
 */
export const DEFAULT_PERP_PARAMS: PerpMarketParams = {
  skewScale: 100_000n * WAD,
  maxFundingVelocity: (3n * WAD) / 100n,
  makerFeeBps: 2n,
  takerFeeBps: 10n,
  maintenanceMarginBps: 100n,
  liquidationRewardBps: 10n,
  minLiquidationReward: 20n * 10n ** BigInt(QUOTE_DECIMALS),
  maxLeverage: 10n * WAD,
  maxOracleAge: BigInt(DEFAULT_HEDGE_PARAMS.maxOracleAge),
};

/** Deploys a `MockPerpMarket` on `quote` and `oracle`, owned by `owner`, with `DEFAULT_PERP_PARAMS` overridden by `params`. */
export async function deployPerp(
  viem: HardhatViem,
  p: { quote: Address; oracle: Address; owner: Address; params?: Partial<PerpMarketParams> },
) {
  const params = { ...DEFAULT_PERP_PARAMS, ...p.params };
  const perp = await viem.deployContract("MockPerpMarket", [p.quote, p.oracle, params, p.owner]);
  return { perp, params };
}
