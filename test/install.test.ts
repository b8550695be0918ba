/**
 * The keeper as an operator installs it: `npm pack` (which builds `dist/keeper/` from `keeper/`), then
 * `npm install --omit=dev <tarball>` into an empty folder, then the `delta-keeper` command — `--help`, and
 * `once --dry-run` against a local node with a vault on it. Fails when a runtime import is only a devDependency,
 * when a file the keeper needs is left out of the package, or when the command does not start from the
 * `node_modules/.bin` symlink.
 */
import { execFile, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalChain, type LocalChain } from "../harness/localChain.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Packing builds with tsc and the install resolves from npm's cache: minutes on a busy 2-core machine. */
const SLOW_MS = 300_000;

let app: string;
let bin: string;
let chain: LocalChain | undefined;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: SLOW_MS });
  if (result.error) throw result.error;
  return result;
}

function mustSucceed(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/**
 * `delta-keeper <args>` from the install, in a clean environment (nothing from this shell or the repo's .env).
 * Asynchronous: the local node serves from this process, so a synchronous spawn would leave it unable to answer.
 */
function deltaKeeper(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: app, env: { PATH: process.env.PATH ?? "", HOME: app, ...env }, encoding: "utf8", timeout: SLOW_MS }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), "delta-keeper-install-"));
  const packed = JSON.parse(mustSucceed(run("npm", ["pack", "--json", "--pack-destination", app], ROOT), "npm pack")) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(app, packed[0]!.filename);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "keeper-host", private: true }));
  mustSucceed(
    run("npm", ["install", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], app),
    "npm install --omit=dev",
  );
  bin = join(app, "node_modules", ".bin", "delta-keeper");
}, SLOW_MS);

afterAll(async () => {
  await chain?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

describe("production install (npm install --omit=dev)", () => {
  it("installs the command and no development tooling", () => {
    expect(existsSync(bin)).toBe(true);
    for (const dev of ["hardhat", "vitest", "typescript", "@stryker-mutator/core"]) {
      expect(existsSync(join(app, "node_modules", dev)), `${dev} is a devDependency`).toBe(false);
    }
  });

  it("delta-keeper --help prints the commands and every variable, exit 0", async () => {
    const r = await deltaKeeper(["--help"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const text of ["run", "once", "status", "--dry-run", "RPC_URL", "SWAP_DEADLINE_SECONDS"]) expect(r.stdout).toContain(text);
  });

  it(
    "delta-keeper once --dry-run reads a local node's vault and decides, exit 0",
    async () => {
      chain = await startLocalChain({ blockIntervalMs: 0 });
      const vault = chain.sys.vault.address;
      const r = await deltaKeeper(["once", "--dry-run", "--json"], {
        RPC_URL: chain.url,
        LENS_ADDRESS: chain.sys.lens.address,
        VAULTS: vault,
        JOURNAL_DIR: join(app, "journal"),
        LOG_LEVEL: "warn",
      });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const plans = JSON.parse(r.stdout) as { vault: string; decision: { kind: string } }[];
      expect(plans.map((p) => p.vault.toLowerCase())).toEqual([vault.toLowerCase()]);
      expect(["hold", "rebalance"]).toContain(plans[0]!.decision.kind);
    },
    SLOW_MS,
  );
});
