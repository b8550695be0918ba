/**
 * Fork mode on a system someone already deployed: `npm run deploy` to an upstream node from an account the fork
 * does not hold, then the simulator forks it, finds the vault from the deployments file, takes it over by
 * impersonating the deployer, and hedges it with real transactions — leaving the upstream untouched.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deploy, type Deployment } from "../../harness/deploy.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";
import { openFork, runFork, type ForkSession } from "../../sim/fork.ts";
import { loadGasModel } from "../../sim/gas.ts";
import { runModel } from "../../sim/model.ts";
import { generatePaths } from "../../sim/paths.ts";
import { relDiff } from "../../sim/run.ts";
import { DEFAULT_SCENARIO, defaultPoints, type Scenario } from "../../sim/scenario.ts";

// Not one of the node's default accounts: only impersonation can act for it on the fork.
const DEPLOYER_KEY = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const scenario: Scenario = { ...DEFAULT_SCENARIO, steps: 150 };

let server: LocalNode;
let deployment: Deployment;
let session: ForkSession;
let dir: string;
let upstreamVault: { read: { book: () => Promise<readonly [readonly `0x${string}`[], readonly unknown[]]> } };

beforeAll(async () => {
  server = await startLocalNode();
  const { url } = server;
  const funder = await server.connect();
  const { privateKeyToAccount } = await import("viem/accounts");
  const deployerAddress = privateKeyToAccount(DEPLOYER_KEY).address;
  await funder.provider.request({ method: "hardhat_setBalance", params: [deployerAddress, "0x56bc75e2d63100000"] });
  const upstream = await server.connect({ accounts: [DEPLOYER_KEY] });
  dir = mkdtempSync(join(tmpdir(), "adopt-"));
  deployment = await deploy(upstream.viem, { deploymentsDir: dir, ammDepthUnderlying: 10_000, log: () => {} });
  upstreamVault = await funder.viem.getContractAt("IOptionVault", deployment.vaults[0]!.address);
  session = await openFork(scenario, { forkUrl: url, deployment });
}, 240_000);

afterAll(async () => {
  await session?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("fork mode on a deployed system", () => {
  it("finds the deployed vault and hedges it on the fork, agreeing with the model", async () => {
    expect(session.vault.address.toLowerCase()).toBe(deployment.vaults[0]!.address.toLowerCase());
    expect(session.origin).toMatch(/found and adopted/);
    expect(session.start.book.length).toBe(1);
    const point = defaultPoints(scenario).find((p) => p.family === "band-zero" && p.param > 0.3)!;
    const [path] = generatePaths({ kind: "gbm", drift: 0, vol: 0.8 }, { count: 1, steps: scenario.steps, spot: scenario.spot, blockSeconds: 12, seed: 9 });
    const fork = await runFork(session, { path: path!, pathIndex: 0, point, scenario });
    expect(fork.hedges).toBeGreaterThan(3);
    expect(fork.reverts).toBe(0);
    const model = runModel({ path: path!, pathIndex: 0, point, scenario, gas: loadGasModel(), start: session.start, startBudget: session.startBudget });
    expect(model.hedges).toBe(fork.hedges);
    expect(relDiff(fork.totalCost, model.totalCost)).toBeLessThan(0.02);
    expect(relDiff(fork.trackingError, model.trackingError)).toBeLessThan(0.02);
    // Everything happened on the fork: upstream never saw the book.
    const [ids] = await upstreamVault.read.book();
    expect(ids).toHaveLength(0);
  });
});
