/**
 * Idempotent, resumable deployment of the system to any network: tokens (mocks, or existing ones), oracle, AMM with
 * liquidity, a perp market with a funded pool (a `MockPerpMarket`, an existing market, or none), vault with roles
 * and perp margin bounds, lens, band-upkeep adapter.
 *
 * `deployments/<chainId>.json` is the record of progress. It is rewritten (temp file + rename, so never half-written)
 * after every step, and before each step it is consulted: a contract recorded there, with code at its address, is
 * not deployed again; a deployment transaction recorded as sent but not yet known to be mined is awaited, not
 * repeated; role grants check `hasRole`; liquidity is added only to an empty pool. So a second run sends no
 * transaction and an interrupted run picks up where it stopped — it never deploys a second vault by accident.
 *
 * The file keeps the shape the keeper reads (`keeper/config/sources.ts` `deploymentsSchema`: `chainId`, `lens`,
 * `vaults[]`), plus `contracts` (every address by step), `deployer`, `keeper` and `pending` deployments.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { getAddress, isAddressEqual, zeroAddress, type Address, type Hash } from "viem";
import {
  DEFAULT_BOOK_LIMITS,
  DEFAULT_HEDGE_PARAMS,
  DEFAULT_PERP_MARGIN_BOUNDS,
  DEFAULT_PERP_PARAMS,
  DEFAULT_RISK_PARAMS,
  ORACLE_DECIMALS,
  priceE8,
  QUOTE_DECIMALS,
  ROLES,
  UNDERLYING_DECIMALS,
  UPKEEP_MAX_POOL_DEVIATION_BPS,
  VAULT_NAME,
  type HardhatViem,
} from "./system.ts";

/** The steps that deploy a contract, in order. */
export const CONTRACT_STEPS = ["quote", "underlying", "oracle", "amm", "perp", "optionBook", "extension", "vault", "lens", "upkeep"] as const;
export type ContractStep = (typeof CONTRACT_STEPS)[number];

/** A contract is reused only if none of these was deployed afresh in the same run (else it points at stale ones). */
const DEPENDS_ON: Record<ContractStep, readonly ContractStep[]> = {
  quote: [],
  underlying: [],
  oracle: [],
  amm: ["quote", "underlying"],
  perp: ["quote", "oracle"],
  optionBook: [],
  extension: ["quote", "underlying", "oracle", "amm", "perp", "optionBook"],
  vault: ["quote", "underlying", "oracle", "amm", "perp", "optionBook", "extension"],
  lens: [],
  upkeep: ["vault", "amm"],
};

/** The artifact each step deploys (what the code at a recorded address must be). */
const ARTIFACTS = {
  quote: "MockERC20",
  underlying: "MockERC20",
  oracle: "MockOracle",
  amm: "MockAmm",
  perp: "MockPerpMarket",
  optionBook: "OptionBook",
  extension: "OptionVaultExtension",
  vault: "OptionVault",
  lens: "VaultLens",
  upkeep: "BandUpkeep",
} as const satisfies Record<ContractStep, string>;

const LABELS: Record<ContractStep, string> = {
  quote: "quote token (MockERC20 USDC)",
  underlying: "underlying token (MockERC20 WETH)",
  oracle: "oracle (MockOracle)",
  amm: "AMM (MockAmm)",
  perp: "perp market (MockPerpMarket)",
  optionBook: "OptionBook library",
  extension: "OptionVaultExtension",
  vault: "OptionVault",
  lens: "VaultLens",
  upkeep: "BandUpkeep",
};

export interface DeployOptions {
  /** Directory of `<chainId>.json`. */
  deploymentsDir: string;
  /** Receives KEEPER_ROLE; default: the deployer. */
  keeper?: Address;
  /** Existing tokens and oracle to use instead of deploying mocks. */
  quoteToken?: Address;
  underlyingToken?: Address;
  oracle?: Address;
  /** Chainlink's L2 sequencer-uptime feed for the vault (Arbitrum, Base, …); none on L1. */
  sequencerUptimeFeed?: Address;
  /**
   * The vault's perp venue: an existing `IPerpMarket` margined in the quote token and priced by the oracle,
   * "none" for a vault that hedges on the AMM only, or (default) a `MockPerpMarket` with `DEFAULT_PERP_PARAMS`.
   */
  perpMarket?: Address | "none";
  /** Quote units put into a freshly deployed mock perp market's pool (default 1,000,000). */
  perpPool?: number;
  /** Mock oracle's initial price, quote units per underlying (default 3000). */
  initialPrice?: number;
  /** AMM depth in underlying units, added at the oracle price when the pool is empty (default 1000). */
  ammDepthUnderlying?: number;
  ammFeeBps?: number;
  /** One line per step. */
  log?: (line: string) => void;
}

export interface DeploymentVault {
  address: Address;
  quoteDecimals: number;
  underlyingDecimals: number;
  quote: Address;
  underlying: Address;
  oracle: Address;
  amm: Address;
  upkeep: Address;
  /** The perp market, when the vault has one. */
  perp?: Address;
}

export interface Deployment {
  chainId: number;
  lens?: Address;
  vaults: DeploymentVault[];
  deployer: Address;
  keeper: Address;
  contracts: Partial<Record<ContractStep, Address>>;
  /** Deployment transactions sent whose contract is not yet recorded. */
  pending: Partial<Record<ContractStep, { hash: Hash; address: Address }>>;
  quoteDecimals?: number;
  underlyingDecimals?: number;
}

/** A failure the user can act on; its message is one line. */
export class DeployError extends Error {
  override name = "DeployError";
}

export function deploymentsFile(dir: string, chainId: number): string {
  return join(dir, `${chainId}.json`);
}

/** Reads a deployments file, also the older shape (`scripts/dev/deploy-local.ts`: addresses only in `vaults[0]`). */
export async function readDeployment(file: string): Promise<Partial<Deployment> | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let raw: Partial<Deployment>;
  try {
    raw = JSON.parse(text) as Partial<Deployment>;
  } catch {
    throw new DeployError(`${file} is not valid JSON: fix or remove it`);
  }
  if (!raw.contracts) {
    const v = raw.vaults?.[0];
    raw.contracts = v
      ? { quote: v.quote, underlying: v.underlying, oracle: v.oracle, amm: v.amm, vault: v.address, lens: raw.lens, upkeep: v.upkeep }
      : {};
  }
  return raw;
}

async function writeAtomically(file: string, data: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
  await rename(tmp, file);
}

/** The keeper-facing fields, derived from `contracts` once the vault and its parts exist. */
function withKeeperView(d: Deployment): Deployment {
  const c = d.contracts;
  const vaults: DeploymentVault[] =
    c.vault && c.quote && c.underlying && c.oracle && c.amm && c.upkeep && d.quoteDecimals !== undefined && d.underlyingDecimals !== undefined
      ? [
          {
            address: c.vault,
            quoteDecimals: d.quoteDecimals,
            underlyingDecimals: d.underlyingDecimals,
            quote: c.quote,
            underlying: c.underlying,
            oracle: c.oracle,
            amm: c.amm,
            upkeep: c.upkeep,
            ...(c.perp ? { perp: c.perp } : {}),
          },
        ]
      : [];
  return { chainId: d.chainId, lens: c.lens, vaults, deployer: d.deployer, keeper: d.keeper, contracts: c, pending: d.pending, quoteDecimals: d.quoteDecimals, underlyingDecimals: d.underlyingDecimals };
}

/**
 * Deploys (or completes, or confirms) the system on `viem`'s network with its first wallet as deployer, admin,
 * manager and guardian. Returns the deployment as written to `<deploymentsDir>/<chainId>.json`.
 */
export async function deploy(viem: HardhatViem, options: DeployOptions): Promise<Deployment> {
  const log = options.log ?? ((line: string) => console.log(line));
  const publicClient = await viem.getPublicClient();
  const [wallet] = await viem.getWalletClients();
  if (!wallet) throw new DeployError("the network has no account to deploy from: set DEPLOYER_PRIVATE_KEY");
  const deployer = getAddress(wallet.account.address);
  const keeper = getAddress(options.keeper ?? deployer);
  const chainId = await publicClient.getChainId();

  await mkdir(options.deploymentsDir, { recursive: true });
  const file = deploymentsFile(options.deploymentsDir, chainId);
  const previous = await readDeployment(file);
  if (previous?.chainId !== undefined && previous.chainId !== chainId) {
    throw new DeployError(`${file} records chain ${previous.chainId}, but the network is chain ${chainId}`);
  }
  let state: Deployment = {
    chainId,
    vaults: [],
    deployer: previous?.deployer ?? deployer,
    keeper,
    contracts: { ...previous?.contracts },
    pending: { ...previous?.pending },
    quoteDecimals: previous?.quoteDecimals,
    underlyingDecimals: previous?.underlyingDecimals,
  };
  const save = async () => {
    state = withKeeperView(state);
    await writeAtomically(file, state);
  };

  // Funds are checked once, before the first transaction: a run with nothing to do needs none.
  let funded = false;
  const beforeSend = async () => {
    if (funded) return;
    const balanceWei = await publicClient.getBalance({ address: deployer });
    if (balanceWei === 0n) throw new DeployError(`deployer ${deployer} has 0 ETH on chain ${chainId}: fund it first`);
    funded = true;
  };
  const wait = async (hash: Hash, what: string) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new DeployError(`${what}: transaction ${hash} reverted`);
    return receipt;
  };
  const hasCode = async (address: Address) => {
    const code = await publicClient.getCode({ address });
    return code !== undefined && code !== "0x";
  };
  /**
   * Whether the code at `address` is this build's `step` contract: code at a recorded address is not enough, since a
   * restarted local chain (anvil, `hardhat node`) hands out the same addresses in a new order, and a recorded lens
   * can find the new vault at its address. Compared with the artifact's runtime bytecode, immutables and linked
   * library addresses blanked (a library's own address too).
   */
  const isStepContract = async (address: Address, step: ContractStep) => {
    const code = await publicClient.getCode({ address });
    if (code === undefined || code === "0x") return false;
    const { default: hre } = await import("hardhat");
    const artifact = await hre.artifacts.readArtifact(ARTIFACTS[step]);
    const expected = artifact.deployedBytecode.toLowerCase();
    if (expected.length !== code.length) return false;
    const blanks: { start: number; length: number }[] = [
      ...Object.values(artifact.immutableReferences ?? {}).flat(),
      ...Object.values(artifact.deployedLinkReferences ?? {}).flatMap((file) => Object.values(file).flat()),
      ...(expected.startsWith(`0x73${"0".repeat(40)}`) ? [{ start: 1, length: 20 }] : []),
    ];
    const blank = (hex: string) => {
      let out = hex.toLowerCase();
      for (const { start, length } of blanks) out = out.slice(0, 2 + 2 * start) + "0".repeat(2 * length) + out.slice(2 + 2 * (start + length));
      return out;
    };
    return blank(code) === blank(expected);
  };

  const fresh = new Set<ContractStep>();
  const ensure = async (step: ContractStep, send: () => Promise<{ hash: Hash; address: Address }>): Promise<Address> => {
    const stale = DEPENDS_ON[step].some((dep) => fresh.has(dep));
    const recorded = state.contracts[step];
    if (recorded && !stale && (await isStepContract(recorded, step))) {
      log(`${LABELS[step]} already at ${recorded} (skipped)`);
      return recorded;
    }
    const pending = state.pending[step];
    if (pending && !stale) {
      // Sent by an interrupted run: adopt it if it was mined (or still will be), rather than deploy twice.
      const tx = await publicClient.getTransaction({ hash: pending.hash }).catch(() => undefined);
      if (tx) {
        log(`${LABELS[step]}: waiting for the deployment sent earlier (${pending.hash})`);
        await wait(pending.hash, LABELS[step]);
      }
      if (await isStepContract(pending.address, step)) {
        state.contracts[step] = pending.address;
        delete state.pending[step];
        await save();
        fresh.add(step);
        log(`deployed ${LABELS[step]} at ${pending.address} (by an earlier run)`);
        return pending.address;
      }
    }
    await beforeSend();
    const sent = await send();
    state.pending[step] = sent;
    await save();
    await wait(sent.hash, LABELS[step]);
    state.contracts[step] = sent.address;
    delete state.pending[step];
    await save();
    fresh.add(step);
    log(`deployed ${LABELS[step]} at ${sent.address}`);
    return sent.address;
  };
  const sendDeployment = async (...args: Parameters<HardhatViem["sendDeploymentTransaction"]>) => {
    const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction(...args);
    return { hash: deploymentTransaction.hash, address: getAddress(contract.address) };
  };
  // An address given in the environment must agree with the record: changing it would orphan the recorded vault.
  const external = async (step: ContractStep, variable: string, address: Address): Promise<Address> => {
    const recorded = state.contracts[step];
    if (recorded && !isAddressEqual(recorded, address)) {
      throw new DeployError(`${variable} is ${address} but ${file} records ${recorded}: unset it or move the file away`);
    }
    if (!(await hasCode(address))) throw new DeployError(`${variable} ${address} has no code on chain ${chainId}`);
    if (!recorded) {
      state.contracts[step] = getAddress(address);
      await save();
    }
    log(`${LABELS[step].replace(/ \(.*\)$/, "")} from ${variable}: ${address}`);
    return getAddress(address);
  };

  /** The perp market the vault is built on (see `DeployOptions.perpMarket`), checked to match its quote and oracle. */
  async function perpMarket(): Promise<Address | undefined> {
    if (options.perpMarket === "none") {
      if (state.contracts.perp) throw new DeployError(`PERP_MARKET is none but ${file} records a perp market ${state.contracts.perp}: unset it or move the file away`);
      log("perp market: none (PERP_MARKET=none): the vault hedges on the AMM only");
      return undefined;
    }
    const address = options.perpMarket
      ? await external("perp", "PERP_MARKET", options.perpMarket)
      : await ensure("perp", () => sendDeployment("MockPerpMarket", [quote, oracle, DEFAULT_PERP_PARAMS, deployer]));
    const market = await viem.getContractAt("MockPerpMarket", address);
    const [perpQuote, perpOracle] = await Promise.all([market.read.quote(), market.read.oracle()]).catch(() => {
      throw new DeployError(`PERP_MARKET ${address} does not answer quote() and oracle(): not an IPerpMarket`);
    });
    if (!isAddressEqual(perpQuote, quote) || !isAddressEqual(perpOracle, oracle)) {
      throw new DeployError(`perp market ${address} is margined in ${perpQuote} and priced by ${perpOracle}, not the vault's quote ${quote} and oracle ${oracle}`);
    }
    return address;
  }

  /** The vault's margin bounds (once), and a mock market's pool funded (only an empty one this deployer can mint for). */
  async function setUpPerp(perp: Address): Promise<void> {
    const [minBps, maxBps] = await vaultContract.read.perpMarginBounds();
    if (minBps === 0n && maxBps === 0n) {
      await beforeSend();
      const { minMarginBps, maxMarginBps } = DEFAULT_PERP_MARGIN_BOUNDS;
      await wait(await vaultContract.write.setPerpMarginBounds([minMarginBps, maxMarginBps]), "setPerpMarginBounds");
      log(`set the perp margin bounds: ${minMarginBps}–${maxMarginBps} bps of notional`);
    } else {
      log(`perp margin bounds already set (${minBps}–${maxBps} bps) (skipped)`);
    }
    const market = await viem.getContractAt("MockPerpMarket", perp);
    if ((await market.read.pool()) > 0n) {
      log("perp pool already funded (skipped)");
      return;
    }
    if (!(await quoteToken.read.hasRole([ROLES.minter, deployer]).catch(() => false))) {
      log(`perp market ${perp} has an empty pool and the deployer cannot mint the quote token: fund it with fundPool yourself (skipped)`);
      return;
    }
    const amount = BigInt(options.perpPool ?? 1_000_000) * 10n ** BigInt(state.quoteDecimals!);
    const balance = await quoteToken.read.balanceOf([deployer]);
    await beforeSend();
    if (balance < amount) await wait(await quoteToken.write.mint([deployer, amount - balance]), "mint");
    if ((await quoteToken.read.allowance([deployer, perp])) < amount) await wait(await quoteToken.write.approve([perp, amount]), "approve");
    await wait(await market.write.fundPool([amount]), "fundPool");
    log(`funded the perp pool with ${amount} quote (base units)`);
  }

  // Tokens.
  const quote = options.quoteToken
    ? await external("quote", "QUOTE_TOKEN", options.quoteToken)
    : await ensure("quote", () => sendDeployment("MockERC20", ["USD Coin", "USDC", QUOTE_DECIMALS, deployer]));
  const underlying = options.underlyingToken
    ? await external("underlying", "UNDERLYING_TOKEN", options.underlyingToken)
    : await ensure("underlying", () => sendDeployment("MockERC20", ["Wrapped Ether", "WETH", UNDERLYING_DECIMALS, deployer]));
  const quoteToken = await viem.getContractAt("MockERC20", quote);
  const underlyingToken = await viem.getContractAt("MockERC20", underlying);
  if (state.quoteDecimals === undefined || state.underlyingDecimals === undefined) {
    state.quoteDecimals = await quoteToken.read.decimals();
    state.underlyingDecimals = await underlyingToken.read.decimals();
    await save();
  }

  // Oracle.
  const initialPrice = options.initialPrice ?? 3000;
  const oracle = options.oracle
    ? await external("oracle", "ORACLE_ADDRESS", options.oracle)
    : await ensure("oracle", () => sendDeployment("MockOracle", [ORACLE_DECIMALS, "WETH / USD", priceE8(initialPrice), deployer]));

  // AMM, the vault (its library, its extension, itself), lens, upkeep.
  const amm = await ensure("amm", () => sendDeployment("MockAmm", [underlying, quote, BigInt(options.ammFeeBps ?? 30)]));
  if (options.sequencerUptimeFeed && !(await hasCode(options.sequencerUptimeFeed))) {
    throw new DeployError(`SEQUENCER_UPTIME_FEED ${options.sequencerUptimeFeed} has no code on chain ${chainId}`);
  }
  const perp = await perpMarket();
  const optionBook = await ensure("optionBook", () => sendDeployment("OptionBook"));
  const libraries = { OptionBook: optionBook };
  const config = {
    quote,
    underlying,
    oracle,
    amm,
    sequencerUptimeFeed: options.sequencerUptimeFeed ?? zeroAddress,
    perp: perp ?? zeroAddress,
    admin: deployer,
    ...VAULT_NAME,
  };
  const extension = await ensure("extension", () => sendDeployment("OptionVaultExtension", [config], { libraries }));
  const vault = await ensure("vault", () =>
    sendDeployment("OptionVault", [config, extension, DEFAULT_HEDGE_PARAMS, DEFAULT_RISK_PARAMS, DEFAULT_BOOK_LIMITS], {
      libraries,
    }),
  );
  await ensure("lens", () => sendDeployment("VaultLens"));
  // Open runner (address 0), as in deploySystem: the upkeep sizes every trade itself, so anyone may trigger it.
  const upkeep = await ensure("upkeep", () =>
    sendDeployment("BandUpkeep", [vault, zeroAddress, UPKEEP_MAX_POOL_DEVIATION_BPS]),
  );

  // Roles.
  const vaultContract = await viem.getContractAt("IOptionVault", vault);
  const grants: { role: keyof typeof ROLES; name: string; account: Address }[] = [
    { role: "manager", name: "MANAGER_ROLE", account: deployer },
    { role: "guardian", name: "GUARDIAN_ROLE", account: deployer },
    { role: "keeper", name: "KEEPER_ROLE", account: keeper },
    { role: "keeper", name: "KEEPER_ROLE", account: upkeep },
  ];
  for (const { role, name, account } of grants) {
    if (await vaultContract.read.hasRole([ROLES[role], account])) {
      log(`${name} already held by ${account} (skipped)`);
      continue;
    }
    await beforeSend();
    await wait(await vaultContract.write.grantRole([ROLES[role], account]), `grant ${name}`);
    log(`granted ${name} to ${account}`);
  }

  if (perp) await setUpPerp(perp);

  // AMM liquidity at the oracle price, only into an empty pool and only with mocks this deployer can mint.
  const ammContract = await viem.getContractAt("MockAmm", amm);
  const [reserveUnderlying, reserveQuote] = await ammContract.read.getReserves();
  if (reserveUnderlying > 0n || reserveQuote > 0n) {
    log(`AMM liquidity already there (${reserveUnderlying} / ${reserveQuote}) (skipped)`);
  } else if (
    !(await quoteToken.read.hasRole([ROLES.minter, deployer]).catch(() => false)) ||
    !(await underlyingToken.read.hasRole([ROLES.minter, deployer]).catch(() => false))
  ) {
    log(`AMM ${amm} is empty and the deployer cannot mint the tokens: add liquidity yourself (skipped)`);
  } else {
    const oracleContract = await viem.getContractAt("MockOracle", oracle);
    const [, answer] = await oracleContract.read.latestRoundData();
    const oracleDecimals = await oracleContract.read.decimals();
    const amountUnderlying = BigInt(options.ammDepthUnderlying ?? 1000) * 10n ** BigInt(state.underlyingDecimals!);
    const amountQuote =
      (amountUnderlying * answer * 10n ** BigInt(state.quoteDecimals!)) /
      10n ** BigInt(oracleDecimals + state.underlyingDecimals!);
    // Mint only the shortfall and approve only what is missing, so a run interrupted half-way mints nothing twice.
    for (const [token, amount] of [
      [underlyingToken, amountUnderlying],
      [quoteToken, amountQuote],
    ] as const) {
      const balance = await token.read.balanceOf([deployer]);
      if (balance < amount) {
        await beforeSend();
        await wait(await token.write.mint([deployer, amount - balance]), "mint");
      }
      if ((await token.read.allowance([deployer, amm])) < amount) {
        await beforeSend();
        await wait(await token.write.approve([amm, amount]), "approve");
      }
    }
    await beforeSend();
    await wait(await ammContract.write.addLiquidity([amountUnderlying, amountQuote, 0n, deployer]), "addLiquidity");
    log(`added AMM liquidity: ${amountUnderlying} underlying + ${amountQuote} quote (base units)`);
  }

  await save();
  log(`wrote ${file}`);
  return state;
}
