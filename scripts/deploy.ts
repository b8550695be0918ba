/**
 * Deploys the system to a network, idempotently: `npm run deploy -- --network <name>` (default `localhost`).
 * Run it again at any time: what is recorded in `deployments/<chainId>.json` (and on-chain) is skipped, an
 * interrupted run resumes. Needs compiled contracts (`npm run build`).
 *
 * Variables (environment, or `.env`; the environment wins):
 *   DEPLOYER_PRIVATE_KEY      0x + 64 hex: deploys, and becomes admin, manager and guardian (remote networks;
 *                             `localhost` uses the node's first unlocked account)
 *   SEPOLIA_RPC_URL           RPC endpoint of --network sepolia
 *   ARBITRUM_SEPOLIA_RPC_URL  RPC endpoint of --network arbitrumSepolia
 *   BASE_SEPOLIA_RPC_URL      RPC endpoint of --network baseSepolia
 *   LOCAL_RPC_URL             RPC endpoint of --network localhost (default http://127.0.0.1:8545)
 *   KEEPER_ADDRESS            receives KEEPER_ROLE (default: the deployer)
 *   QUOTE_TOKEN               existing quote token to use instead of a mock USDC (optional)
 *   UNDERLYING_TOKEN          existing underlying token to use instead of a mock WETH (optional)
 *   ORACLE_ADDRESS            existing Chainlink-style feed to use instead of a MockOracle (optional)
 *   SEQUENCER_UPTIME_FEED     Chainlink's L2 sequencer-uptime feed (Arbitrum, Base, …): trading pauses while the
 *                             sequencer is down and for an hour after it is back (optional; none on L1)
 *   PERP_MARKET               the vault's perp venue: an existing IPerpMarket on the same quote token and oracle,
 *                             or "none" (AMM only); default: a MockPerpMarket with a funded pool
 *   INITIAL_PRICE             the MockOracle's initial price, quote per underlying (default 3000)
 *   DEPLOYMENTS_DIR           where <chainId>.json is written (default ./deployments)
 */
import { parseArgs } from "node:util";
import dotenv from "dotenv";
import { getAddress, isAddress, type Address } from "viem";
import { describeUrl } from "../keeper/telemetry/redact.ts";

const USAGE = `usage: npm run deploy -- [--network <name>] [--env-file <path>]

Deploys tokens (mocks unless QUOTE_TOKEN / UNDERLYING_TOKEN), oracle (mock unless ORACLE_ADDRESS), AMM with
liquidity, a perp market (MockPerpMarket unless PERP_MARKET=<address> or none), the vault (OptionBook library,
OptionVaultExtension, OptionVault) with roles and perp margin bounds, VaultLens and BandUpkeep;
writes DEPLOYMENTS_DIR/<chainId>.json after every step. Safe to re-run: recorded contracts are skipped, an
interrupted run resumes.

  --network <name>   a network of hardhat.config.ts (default localhost)
  --env-file <path>  read variables from this file (default .env, if present); the environment wins
  --help             this text

Variables: DEPLOYER_PRIVATE_KEY, SEPOLIA_RPC_URL, ARBITRUM_SEPOLIA_RPC_URL, BASE_SEPOLIA_RPC_URL, LOCAL_RPC_URL,
KEEPER_ADDRESS, QUOTE_TOKEN, UNDERLYING_TOKEN, ORACLE_ADDRESS, SEQUENCER_UPTIME_FEED, PERP_MARKET, INITIAL_PRICE,
DEPLOYMENTS_DIR
(see scripts/deploy.ts).`;

class UsageError extends Error {
  override name = "UsageError";
}

function optionalAddress(env: NodeJS.ProcessEnv, name: string): Address | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!isAddress(value)) throw new UsageError(`${name} is not an address (0x + 40 hex digits): ${value}`);
  return getAddress(value);
}

/** PERP_MARKET: an existing market's address, "none", or unset (deploy a MockPerpMarket). */
function perpMarketOption(env: NodeJS.ProcessEnv): { perpMarket?: Address | "none" } {
  const value = env.PERP_MARKET?.trim();
  if (!value) return {};
  if (value.toLowerCase() === "none") return { perpMarket: "none" };
  return { perpMarket: optionalAddress(env, "PERP_MARKET")! };
}

function describeCause(error: unknown): string {
  let e: unknown = error;
  // The innermost cause says most (ECONNREFUSED, ENOTFOUND, an HTTP status).
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const message = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : String(e);
  const code = (e as { code?: unknown } | undefined)?.code;
  return (typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message).split("\n")[0]!;
}

type Resolvable = { name?: string; get(): Promise<string> };

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      network: { type: "string", default: "localhost" },
      "env-file": { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  // Before hardhat is loaded and before any config variable is resolved; the real environment wins.
  dotenv.config({ path: values["env-file"] ?? ".env", quiet: true });
  const env = process.env;
  const initialPrice = Number(env.INITIAL_PRICE?.trim() || "3000");
  if (!Number.isFinite(initialPrice) || initialPrice <= 0) throw new UsageError(`INITIAL_PRICE must be a positive number`);
  const options = {
    deploymentsDir: env.DEPLOYMENTS_DIR?.trim() || "deployments",
    keeper: optionalAddress(env, "KEEPER_ADDRESS"),
    quoteToken: optionalAddress(env, "QUOTE_TOKEN"),
    underlyingToken: optionalAddress(env, "UNDERLYING_TOKEN"),
    oracle: optionalAddress(env, "ORACLE_ADDRESS"),
    sequencerUptimeFeed: optionalAddress(env, "SEQUENCER_UPTIME_FEED"),
    initialPrice,
    ...perpMarketOption(env),
  };

  const { default: hre } = await import("hardhat");
  const name = values.network;
  const networkConfig = hre.config.networks[name];
  if (!networkConfig) {
    throw new UsageError(`unknown network "${name}": configured are ${Object.keys(hre.config.networks).join(", ")}`);
  }
  if (networkConfig.type !== "http") throw new UsageError(`network "${name}" is in-process (${networkConfig.type}): nothing would persist`);

  // Every config variable the network needs, checked before any call, so a missing one is one clear line.
  const variables: Resolvable[] = Array.isArray(networkConfig.accounts) ? [...(networkConfig.accounts as Resolvable[])] : [];
  variables.push(networkConfig.url as Resolvable);
  for (const variable of variables) {
    const value = await variable.get().catch(() => undefined);
    if (value === undefined || value.trim() === "") {
      throw new UsageError(`${variable.name ?? "a config variable"} is not set: put it in .env (see npm run deploy -- --help)`);
    }
  }
  const url = await networkConfig.url.get();

  let viem: Awaited<ReturnType<typeof hre.network.create>>["viem"];
  try {
    ({ viem } = await hre.network.create({ network: name }));
    await (await viem.getPublicClient()).getChainId();
  } catch (error) {
    throw new UsageError(`cannot reach ${describeUrl(url)} (network ${name}): ${describeCause(error)}`);
  }
  const { deploy } = await import("../harness/deploy.ts");
  await deploy(viem, options);
}

try {
  await main();
  // Open HTTP keep-alive sockets would otherwise hold the process for a while.
  process.exit(0);
} catch (error) {
  const known = error instanceof Error && ["UsageError", "DeployError"].includes(error.name);
  const message = known ? (error as Error).message : describeCause(error);
  console.error(`deploy: ${message}`);
  if (!known && process.env.DEBUG) console.error(error);
  process.exit(1);
}
