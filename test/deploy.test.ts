/**
 * `node scripts/deploy.ts` end to end, as its own process against an anvil process: a first run deploys and wires
 * everything, a second changes nothing, a killed run resumes without a second vault, the keeper reads the result,
 * and each user error is one line with a non-zero exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPublicClient, http, parseAbi, type Address, type PublicClient } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vaultLensAbi } from "../keeper/abi.ts";
import { deploymentsSchema } from "../keeper/config/index.ts";
import { ROLES } from "../harness/system.ts";
import { startLocalNode, unusedPort } from "../harness/node.ts";
import { until } from "../harness/until.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DEPLOYER: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"; // anvil account #0
const KEEPER: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"; // anvil account #1
const DEPLOY_VARS = [
  "DEPLOYER_PRIVATE_KEY",
  "SEPOLIA_RPC_URL",
  "ARBITRUM_SEPOLIA_RPC_URL",
  "BASE_SEPOLIA_RPC_URL",
  "LOCAL_RPC_URL",
  "KEEPER_ADDRESS",
  "QUOTE_TOKEN",
  "UNDERLYING_TOKEN",
  "ORACLE_ADDRESS",
  "SEQUENCER_UPTIME_FEED",
  "INITIAL_PRICE",
  "DEPLOYMENTS_DIR",
];
const abi = parseAbi([
  "function hasRole(bytes32 role, address account) view returns (bool)",
  "function getReserves() view returns (uint256, uint256)",
  "function extension() view returns (address)",
  "function perp() view returns (address)",
  "function perpMarginBounds() view returns (uint256, uint256)",
]);
const mockPerpMarketAbi = parseAbi(["function pool() view returns (uint256)"]);

interface Anvil {
  url: string;
  close(): Promise<void>;
  client: PublicClient;
  /** A JSON-RPC call straight to the node (mining control, pool inspection). */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

/** anvil as its own process on a port it picks, with a client and raw JSON-RPC calls to it. */
async function startAnvil(extraArgs: string[] = []): Promise<Anvil> {
  const node = await startLocalNode({ anvil: { args: extraArgs } });
  const { url } = node;
  const client = createPublicClient({ transport: http(url) });
  const rpc = <T,>(method: string, params: unknown[] = []) => client.request({ method: method as never, params: params as never }) as Promise<T>;
  return { url, close: node.close, client, rpc };
}


interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script> <args>` with the deploy variables cleared, then `env`; `onLine` sees each stdout line. */
function runNode(script: string, args: string[], env: Record<string, string>, onLine?: (line: string, child: ChildProcess) => void) {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of DEPLOY_VARS) delete base[name];
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    buffer += chunk.toString();
    const lines = buffer.split("\n");
    buffer = lines.pop()!;
    for (const line of lines) onLine?.(line, child);
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<Run>((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

const deployScript = (args: string[], env: Record<string, string>, onLine?: (line: string, child: ChildProcess) => void) =>
  runNode("scripts/deploy.ts", [...args, "--env-file", "/dev/null"], env, onLine);

const tempDir = () => mkdtempSync(join(tmpdir(), "deployments-"));

const nodes: Anvil[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close()));
});

describe("deploy to a local node", () => {
  let node: Anvil;
  let dir: string;
  let first: Run;

  beforeAll(async () => {
    node = await startAnvil();
    nodes.push(node);
    dir = tempDir();
    first = await deployScript(["--network", "localhost"], { LOCAL_RPC_URL: node.url, DEPLOYMENTS_DIR: dir, KEEPER_ADDRESS: KEEPER });
  });

  it("deploys every contract, grants the roles, seeds the pool and writes a file the keeper accepts", async () => {
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    for (const name of ["MockERC20 USDC", "MockERC20 WETH", "MockOracle", "MockAmm", "MockPerpMarket", "OptionBook library", "OptionVaultExtension", "OptionVault", "VaultLens", "BandUpkeep"]) {
      expect(first.stdout).toMatch(new RegExp(`deployed .*${name}.* at 0x[0-9a-fA-F]{40}`));
    }
    const raw = JSON.parse(readFileSync(join(dir, "31337.json"), "utf8")) as {
      contracts: Record<string, Address>;
      vaults: { upkeep: Address; amm: Address; perp: Address }[];
    };
    const parsed = deploymentsSchema.parse(raw);
    expect(parsed.chainId).toBe(31337);
    expect(parsed.vaults).toHaveLength(1);
    expect(parsed.vaults[0]).toMatchObject({ quoteDecimals: 6, underlyingDecimals: 18 });

    for (const address of Object.values(raw.contracts)) {
      const code = await node.client.getCode({ address });
      expect(code?.length ?? 0).toBeGreaterThan(2);
    }
    const vault = parsed.vaults[0]!.address;
    const hasRole = (role: `0x${string}`, account: Address) =>
      node.client.readContract({ address: vault, abi, functionName: "hasRole", args: [role, account] });
    expect(await hasRole(ROLES.admin, DEPLOYER)).toBe(true);
    expect(await hasRole(ROLES.manager, DEPLOYER)).toBe(true);
    expect(await hasRole(ROLES.guardian, DEPLOYER)).toBe(true);
    expect(await hasRole(ROLES.keeper, KEEPER)).toBe(true);
    expect(await hasRole(ROLES.keeper, raw.vaults[0]!.upkeep)).toBe(true);
    // The vault delegates its book and administration to the extension deployed beside it.
    const extension = await node.client.readContract({ address: vault, abi, functionName: "extension" });
    expect(extension).toBe(raw.contracts.extension);
    const [reserveUnderlying, reserveQuote] = await node.client.readContract({
      address: raw.vaults[0]!.amm,
      abi,
      functionName: "getReserves",
    });
    expect(reserveUnderlying).toBe(1000n * 10n ** 18n);
    expect(reserveQuote).toBe(3_000_000n * 10n ** 6n);
    // The perp venue: the vault is built on the market recorded, its pool funded, the margin bounds set.
    expect(await node.client.readContract({ address: vault, abi, functionName: "perp" })).toBe(raw.vaults[0]!.perp);
    expect(raw.vaults[0]!.perp).toBe(raw.contracts.perp);
    expect(await node.client.readContract({ address: raw.vaults[0]!.perp, abi: mockPerpMarketAbi, functionName: "pool" })).toBe(1_000_000n * 10n ** 6n);
    expect(await node.client.readContract({ address: vault, abi, functionName: "perpMarginBounds" })).toEqual([1_500n, 4_000n]);
  });

  it("a second run skips every step and sends no transaction", async () => {
    const fileBefore = readFileSync(join(dir, "31337.json"), "utf8");
    const nonceBefore = await node.client.getTransactionCount({ address: DEPLOYER });
    const blockBefore = await node.client.getBlockNumber();

    const second = await deployScript(["--network", "localhost"], { LOCAL_RPC_URL: node.url, DEPLOYMENTS_DIR: dir, KEEPER_ADDRESS: KEEPER });

    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    const steps = second.stdout.trim().split("\n").filter((line) => !line.startsWith("wrote "));
    // 10 contracts (the vault: library, extension, itself; the perp market), 4 role grants, margin bounds, perp pool,
    // AMM liquidity.
    expect(steps.length).toBe(17);
    for (const line of steps) expect(line).toMatch(/\(skipped\)$/);
    expect(second.stdout).not.toMatch(/^deployed /m);
    expect(await node.client.getTransactionCount({ address: DEPLOYER })).toBe(nonceBefore);
    expect(await node.client.getBlockNumber()).toBe(blockBefore);
    expect(readFileSync(join(dir, "31337.json"), "utf8")).toBe(fileBefore);
  });

  it("a record pointing at another contract (a restarted node reuses addresses) is not adopted: that step deploys again", async () => {
    // A restarted anvil hands out the same addresses in a new order: here the recorded lens is the vault's address.
    const file = join(dir, "31337.json");
    const record = JSON.parse(readFileSync(file, "utf8")) as { lens: Address; contracts: Record<string, Address> };
    record.contracts.lens = record.contracts.vault!;
    record.lens = record.contracts.vault!;
    writeFileSync(file, JSON.stringify(record, null, 2));

    const run = await deployScript(["--network", "localhost"], { LOCAL_RPC_URL: node.url, DEPLOYMENTS_DIR: dir, KEEPER_ADDRESS: KEEPER });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^deployed VaultLens at 0x[0-9a-fA-F]{40}$/m);
    expect(run.stdout).toMatch(/^OptionVault already at /m); // the real contracts are still recognised, immutables and all
    const after = deploymentsSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    expect(after.lens).not.toBe(record.contracts.vault);
    // The new lens reads the vault (the vault's address answers no lens call).
    const [state] = await node.client.readContract({ address: after.lens, abi: vaultLensAbi, functionName: "stateOf", args: [after.vaults[0]!.address, false] });
    expect(state.spotWad).toBe(3_000n * 10n ** 18n);
  });

  it("the keeper's status command reads the deployment and shows the vault", async () => {
    const parsed = deploymentsSchema.parse(JSON.parse(readFileSync(join(dir, "31337.json"), "utf8")));
    const vault = parsed.vaults[0]!.address;
    const status = await runNode("keeper/index.ts", ["status", "--env-file", "/dev/null"], {
      RPC_URL: node.url,
      DEPLOYMENTS_FILE: join(dir, "31337.json"),
    });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${vault.slice(0, 6)}…${vault.slice(-4)}`);
    expect(status.stdout).toContain("active");
  });
});

describe("deploy, interrupted", () => {
  it("a run killed with the lens deployment sent but unmined resumes by adopting it: one vault, one lens", async () => {
    // A node that mines only when the test says: the kill then lands, every run, after the vault is mined and
    // while the next deployment (the lens) sits sent and recorded but unmined — the window a real kill can hit.
    const node = await startAnvil(["--no-mining"]);
    nodes.push(node);
    const dir = tempDir();
    const env = { LOCAL_RPC_URL: node.url, DEPLOYMENTS_DIR: dir };
    const file = join(dir, "31337.json");
    const pooled = async () => Number((await node.rpc<{ pending: string }>("txpool_status")).pending);
    const record = () => {
      try {
        return JSON.parse(readFileSync(file, "utf8")) as { contracts?: Record<string, string>; pending?: Record<string, { hash: string; address: string }> };
      } catch {
        return undefined; // not written yet
      }
    };
    // The test's miner: one block whenever a transaction waits and `allowed()` says so; stops when told.
    let stopMining = false;
    const mine = async (allowed: () => boolean) => {
      while (!stopMining) {
        // The pool first, then the file: the lens is sent only after the vault is recorded as mined, so a
        // transaction seen in the pool while the file has no vault yet can only be an earlier step's.
        if ((await pooled()) > 0 && allowed()) await node.rpc("evm_mine");
        else await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    const untilVaultMined = mine(() => record()?.contracts?.vault === undefined);

    let vaultLine = "";
    let killError: unknown;
    const killed = await deployScript(["--network", "localhost"], env, (line, child) => {
      if (!line.startsWith("deployed OptionVault at")) return;
      vaultLine = line;
      // The lens transaction in the pool and recorded as pending in the file, nothing mining it: kill now.
      until("the lens deployment sent and recorded as pending", async () => ((await pooled()) === 1 ? record()?.pending?.lens : undefined), { timeoutMs: 60_000 })
        .catch((error: unknown) => (killError = error))
        .finally(() => child.kill("SIGKILL"));
    });
    stopMining = true;
    await untilVaultMined;
    expect(killError).toBeUndefined();
    expect(killed.code).toBeNull();
    const vault = vaultLine.match(/0x[0-9a-fA-F]{40}/)![0];
    const lens = record()?.pending?.lens;
    expect(lens, "the lens deployment was pending when the run was killed").toBeDefined();
    expect(killed.stdout).not.toMatch(/deployed VaultLens/);
    expect(await pooled()).toBe(1);
    expect(await node.client.getCode({ address: lens!.address as Address })).toBeUndefined();

    stopMining = false;
    const mineAll = mine(() => true);
    const resumed = await deployScript(["--network", "localhost"], env);
    stopMining = true;
    await mineAll;
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`OptionVault already at ${vault} (skipped)`);
    expect(resumed.stdout).toContain(`VaultLens: waiting for the deployment sent earlier (${lens!.hash})`);
    expect(resumed.stdout).toContain(`deployed VaultLens at ${lens!.address} (by an earlier run)`);
    expect(resumed.stdout).toMatch(/^deployed BandUpkeep at 0x[0-9a-fA-F]{40}$/m);
    expect(resumed.stdout).not.toMatch(/^deployed (OptionVault|VaultLens) at 0x[0-9a-fA-F]{40}$/m);
    // The lens was mined from the killed run's bytes, not sent again: its receipt is that transaction's.
    const receipt = await node.client.getTransactionReceipt({ hash: lens!.hash as `0x${string}` });
    expect(receipt.contractAddress?.toLowerCase()).toBe(lens!.address.toLowerCase());
    const after = record()!;
    expect(after.contracts?.vault).toBe(vault);
    expect(after.contracts?.lens).toBe(lens!.address);
    expect(after.pending ?? {}).toEqual({});
    const parsed = deploymentsSchema.parse(after);
    expect(parsed.vaults.map((v) => v.address)).toEqual([vault]);
  });
});

describe("deploy errors: one line, non-zero exit", () => {
  const expectOneLine = (run: Run, message: string | RegExp) => {
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  };

  it("a remote network without DEPLOYER_PRIVATE_KEY fails before any call", async () => {
    const run = await deployScript(["--network", "sepolia"], { SEPOLIA_RPC_URL: "http://127.0.0.1:9" });
    expectOneLine(run, "deploy: DEPLOYER_PRIVATE_KEY is not set: put it in .env (see npm run deploy -- --help)");
  });

  it("a remote network without its RPC URL names the variable", async () => {
    const run = await deployScript(["--network", "baseSepolia"], { DEPLOYER_PRIVATE_KEY: `0x${"11".repeat(32)}` });
    expectOneLine(run, "deploy: BASE_SEPOLIA_RPC_URL is not set: put it in .env (see npm run deploy -- --help)");
  });

  it("an unreachable RPC names its scheme and host", async () => {
    const port = await unusedPort();
    const run = await deployScript(["--network", "localhost"], { LOCAL_RPC_URL: `http://127.0.0.1:${port}/secret-key`, DEPLOYMENTS_DIR: tempDir() });
    expectOneLine(run, new RegExp(`^deploy: cannot reach http://127\\.0\\.0\\.1:${port} \\(network localhost\\)`));
    expect(run.stderr).not.toContain("secret-key");
  });

  it("PERP_MARKET that is not an address, or not a perp market on the vault's quote and oracle, is one line", async () => {
    const bad = await deployScript(["--network", "localhost"], { PERP_MARKET: "0x1234", DEPLOYMENTS_DIR: tempDir() });
    expectOneLine(bad, /^deploy: PERP_MARKET is not an address \(0x \+ 40 hex digits\): 0x1234$/);
    const node = await startAnvil();
    nodes.push(node);
    // An address without code is refused before anything is deployed on it.
    const run = await deployScript(["--network", "localhost"], { LOCAL_RPC_URL: node.url, PERP_MARKET: "0x0000000000000000000000000000000000000001", DEPLOYMENTS_DIR: tempDir() });
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/PERP_MARKET 0x0000000000000000000000000000000000000001 has no code on chain 31337/);
  });

  it("an unknown network lists the configured ones", async () => {
    const run = await deployScript(["--network", "mainnet"], {});
    expectOneLine(run, /^deploy: unknown network "mainnet": configured are .*localhost, sepolia, arbitrumSepolia, baseSepolia/);
  });

  it("a deployer without funds is told to fund it, and nothing is sent", async () => {
    const node = await startAnvil();
    nodes.push(node);
    const dir = tempDir();
    const run = await deployScript(["--network", "sepolia"], {
      SEPOLIA_RPC_URL: node.url,
      DEPLOYER_PRIVATE_KEY: `0x${"11".repeat(32)}`,
      DEPLOYMENTS_DIR: dir,
    });
    expectOneLine(run, /^deploy: deployer 0x[0-9a-fA-F]{40} has 0 ETH on chain 31337: fund it first$/);
    expect(await node.client.getBlockNumber()).toBe(0n);
  });
});
