/**
 * Killed (SIGKILL) at each step of a send and restarted: no hedge lost, none duplicated, the nonce right.
 * The keeper runs as its own process against a node mining a block every second; KEEPER_FAILPOINT makes it
 * kill itself at one step of its first hedge; a second keeper process, on the same journal, must finish the job.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeeperProcess, TEST_KEYS } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

const BAND = 0.5;

/** Runs the keeper until it exits by itself (a failpoint kill) or `untilMs` passes (then SIGTERM). */
async function runKeeper(env: Record<string, string>, untilMs: number) {
  const keeper = startKeeperProcess(env);
  const timer = setTimeout(() => void keeper.stop(), untilMs);
  const { code, signal } = await keeper.exited;
  clearTimeout(timer);
  return { code, signal, lines: keeper.lines };
}

describe("keeper killed at each step of a send, then restarted", () => {
  let chain: LocalChain;

  // Hedged to start with, then a block a second: a kill lands between real blocks, as on a live chain.
  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 1000, hedged: true });
  });

  afterAll(async () => {
    await chain?.close();
  });

  let price = 3000;
  for (const step of ["before-sign", "after-journal", "after-broadcast", "after-mined"] as const) {
    it(`killed ${step}: the restarted keeper hedges exactly once, nonce right, delta back in band`, async () => {
      const { sys, url } = chain;
      const publicClient = sys.publicClient;
      const vault = sys.vault;
      const journalDir = mkdtempSync(join(tmpdir(), "keeper-journal-"));
      const env = {
        RPC_URL: url,
        LENS_ADDRESS: sys.lens.address,
        VAULTS: sys.vault.address,
        PRIVATE_KEY: TEST_KEYS.keeper,
        KEEPER_POLICY: "band",
        POLICY_BAND: String(BAND),
        RISK_AVERSION: "0.01",
        POLL_INTERVAL_MS: "200",
        JOURNAL_DIR: journalDir,
      };

      // Move the market out of band (oracle, then the AMM).
      price = price === 3000 ? 3300 : 3000;
      const moveStart = await publicClient.getBlockNumber();
      await chain.moveTo(price);
      const nonceBefore = await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });

      const first = await runKeeper({ ...env, KEEPER_FAILPOINT: step }, 20_000);
      expect(first.signal, JSON.stringify(first.lines.slice(-5))).toBe("SIGKILL");

      const second = await runKeeper(env, 8_000);
      expect(second.code, JSON.stringify(second.lines.slice(-5))).toBe(0); // stopped by our SIGTERM, cleanly

      const hedges = await publicClient.getContractEvents({
        address: vault.address,
        abi: vault.abi,
        eventName: "Rebalanced",
        fromBlock: moveStart + 1n,
      });
      expect(hedges, `Rebalanced events since the move: ${hedges.length}`).toHaveLength(1);
      expect(await publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + 1);
      expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
      if (step !== "before-sign") {
        // The restart found the journaled transaction rather than deciding afresh.
        expect(second.lines.some((l) => l.msg === "journal reconciled with the chain after a restart")).toBe(true);
      }
    });
  }
});
