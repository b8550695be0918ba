/**
 * The keeper as its own process (`node keeper/index.ts <args>`), its JSON log lines collected as they come.
 * Shared by the tests that run the keeper end to end, with the two waits they are built from: on the keeper's log
 * (`waitFor`, `waitForBlock`) and on the chain (`until`), each with a deadline that fails loudly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { arbitrageTo, priceE8 } from "./market.ts";
import type { LocalChain } from "./localChain.ts";
import { sleep } from "./until.ts";

export { sleep, until } from "./until.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Hardhat's (and anvil's) public test keys: never use them anywhere but a local chain. */
export const TEST_KEYS = {
  /** Account #1: deploySystem grants it KEEPER_ROLE. */
  keeper: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  keeperAddress: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  /** Account #3: free for a second keeper. */
  second: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  secondAddress: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
} as const;

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));

/**
 * A price move on a chain that mines on demand (`blockIntervalMs: 0`): the pool arbitraged to `price` with automine
 * on, then the oracle update sent with automine off and mined in a block of its own — so the block that makes a
 * keeper hedge is mined by the test, and no keeper transaction can slip into an automined block on the way.
 * Returns that block's number.
 */
export async function moveMarketOnDemand(chain: LocalChain, price: number): Promise<bigint> {
  const { sys } = chain;
  await chain.instant(() => arbitrageTo(chain.viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price));
  const hash = await sys.oracle.write.setPrice([priceE8(price)]);
  const pool = await chain.pending();
  if (pool.length !== 1 || pool[0] !== hash) throw new Error(`expected only the oracle update in the pool, found ${json(pool)}`);
  const block = await chain.mine();
  const receipt = await sys.publicClient.getTransactionReceipt({ hash });
  if (receipt.blockNumber !== block || receipt.status !== "success") throw new Error(`oracle update not mined in block ${block}: ${json(receipt)}`);
  return block;
}

export interface KeeperProcess {
  child: ChildProcess;
  /** Every JSON log line so far (a non-JSON line is kept as `{ raw }`). */
  lines: Record<string, unknown>[];
  /** Lines with this `msg`. */
  logged(msg: string): Record<string, unknown>[];
  /** Resolves with the first line satisfying `pred`; rejects after `timeoutMs` with the last lines. */
  waitFor(what: string, pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /**
   * Resolves once the keeper has processed block `block` (or a later one): everything it does about a block
   * before its sends (settling pending hedges, logging) is then in `lines`. Needs `LOG_LEVEL=debug`, for the
   * per-tick "block" line. On a chain that mines on demand, the way to know the keeper saw a block before the
   * test mines the next.
   */
  waitForBlock(block: bigint | number, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code and signal. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the process exits by itself. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The environment of a keeper hedging `chain`'s vault through its lens with the local keeper key, polling every
 * 100 ms; `extra` adds to it or overrides it (the fault tests' own settings).
 */
export function localKeeperEnv(chain: LocalChain, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RPC_URL: chain.url,
    LENS_ADDRESS: chain.sys.lens.address,
    VAULTS: chain.sys.vault.address,
    PRIVATE_KEY: TEST_KEYS.keeper,
    POLL_INTERVAL_MS: "100",
    ...extra,
  };
}

/**
 * Starts `node keeper/index.ts run --env-file /dev/null` (or `args`) with `env` on top of a keeper default:
 * band policy, risk aversion 0.01, fast polling, a fresh journal directory.
 */
export function startKeeperProcess(env: Record<string, string>, args: string[] = ["run"]): KeeperProcess {
  const fullEnv: Record<string, string | undefined> = {
    ...process.env,
    KEEPER_POLICY: "band",
    RISK_AVERSION: "0.01",
    POLL_INTERVAL_MS: "200",
    JOURNAL_DIR: mkdtempSync(join(tmpdir(), "keeper-journal-")),
    ...env,
  };
  const child = spawn(process.execPath, ["keeper/index.ts", ...args, "--env-file", "/dev/null"], {
    cwd: ROOT,
    env: fullEnv,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    for (const part of parts) {
      if (!part.trim()) continue;
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        lines.push({ raw: part });
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const waitFor: KeeperProcess["waitFor"] = async (what, pred, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lines.slice(-8)).slice(0, 3000)}`);
  };
  return {
    child,
    lines,
    exited,
    logged: (msg) => lines.filter((l) => l.msg === msg),
    waitFor,
    waitForBlock(block, timeoutMs = 30_000) {
      if (fullEnv.LOG_LEVEL !== "debug") throw new Error("waitForBlock needs the keeper started with LOG_LEVEL=debug");
      return waitFor(`the keeper to process block ${block}`, (l) => l.msg === "block" && typeof l.block === "number" && l.block >= Number(block), timeoutMs);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
