/**
 * Killed (SIGKILL) at each step of a send and restarted: no hedge lost, none duplicated, the nonce right.
 * The keeper runs as its own process against a node mining a block every second; KEEPER_FAILPOINT makes it
 * kill itself at one step of its first hedge; a second keeper process, on the same journal, must finish the job.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { arbitrageTo, priceE8 } from "../../scripts/lib/market.ts";
import { buyOptions, deploySystem, listSeries, type HardhatViem } from "../../scripts/lib/system.ts";
import { startKeeperProcess } from "../helpers/keeperProcess.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat's public account #1
const KEEPER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const BAND = 0.5;

type Server = Awaited<ReturnType<typeof hre.network.createServer>>;

/** Runs the keeper until it exits by itself (a failpoint kill) or `untilMs` passes (then SIGTERM). */
async function runKeeper(env: Record<string, string>, untilMs: number) {
  const keeper = startKeeperProcess(env);
  const timer = setTimeout(() => void keeper.stop(), untilMs);
  const { code, signal } = await keeper.exited;
  clearTimeout(timer);
  return { code, signal, lines: keeper.lines };
}

describe("keeper killed at each step of a send, then restarted", () => {
  let server: Server;
  let url: string;
  let viem: HardhatViem;
  let addresses: { vault: Address; lens: Address; oracle: Address; amm: Address; quote: Address; underlying: Address };

  beforeAll(async () => {
    server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
    url = `http://127.0.0.1:${(await server.listen()).port}`;
    viem = (await hre.network.create({ network: "localhost", override: { url } })).viem;
    const sys = await deploySystem(viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    const call = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, buyer, call.id, 20);
    const st = await sys.vault.read.state();
    const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, BigInt(-st.netDeltaWad)]);
    const block = await sys.publicClient.getBlock();
    await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: sys.keeper.account }));
    addresses = {
      vault: sys.vault.address,
      lens: sys.lens.address,
      oracle: sys.oracle.address,
      amm: sys.amm.address,
      quote: sys.quote.address,
      underlying: sys.underlying.address,
    };
    // From here on, a block a second: a kill lands between real blocks, as on a live chain.
    const admin = await viem.getPublicClient();
    await admin.request({ method: "evm_setAutomine" as never, params: [false] as never } as never);
    await admin.request({ method: "evm_setIntervalMining" as never, params: [1000] as never } as never);
  });

  afterAll(async () => {
    await Promise.race([server?.close(), new Promise((r) => setTimeout(r, 3000))]);
  });

  let price = 3000;
  for (const step of ["before-sign", "after-journal", "after-broadcast", "after-mined"] as const) {
    it(`killed ${step}: the restarted keeper hedges exactly once, nonce right, delta back in band`, async () => {
      const publicClient = await viem.getPublicClient();
      const vault = await viem.getContractAt("OptionVault", addresses.vault);
      const oracle = await viem.getContractAt("MockOracle", addresses.oracle);
      const journalDir = mkdtempSync(join(tmpdir(), "keeper-journal-"));
      const env = {
        RPC_URL: url,
        LENS_ADDRESS: addresses.lens,
        VAULTS: addresses.vault,
        PRIVATE_KEY: KEEPER_KEY,
        KEEPER_POLICY: "band",
        POLICY_BAND: String(BAND),
        RISK_AVERSION: "0.01",
        POLL_INTERVAL_MS: "200",
        JOURNAL_DIR: journalDir,
      };

      // Move the market out of band (oracle, then the AMM).
      price = price === 3000 ? 3300 : 3000;
      const moveStart = await publicClient.getBlockNumber();
      await publicClient.waitForTransactionReceipt({ hash: await oracle.write.setPrice([priceE8(price)]) });
      await arbitrageTo(viem, addresses, price);
      const nonceBefore = await publicClient.getTransactionCount({ address: KEEPER_ADDRESS });

      const first = await runKeeper({ ...env, KEEPER_FAILPOINT: step }, 20_000);
      expect(first.signal, JSON.stringify(first.lines.slice(-5))).toBe("SIGKILL");

      const second = await runKeeper(env, 8_000);
      expect(second.code, JSON.stringify(second.lines.slice(-5))).toBe(0); // stopped by our SIGTERM, cleanly

      const hedges = await publicClient.getContractEvents({
        address: addresses.vault,
        abi: vault.abi,
        eventName: "Rebalanced",
        fromBlock: moveStart + 1n,
      });
      expect(hedges, `Rebalanced events since the move: ${hedges.length}`).toHaveLength(1);
      expect(await publicClient.getTransactionCount({ address: KEEPER_ADDRESS })).toBe(nonceBefore + 1);
      const st = await vault.read.state();
      expect(Math.abs(Number(st.netDeltaWad) / 1e18)).toBeLessThanOrEqual(BAND);
      if (step !== "before-sign") {
        // The restart found the journaled transaction rather than deciding afresh.
        expect(second.lines.some((l) => l.msg === "journal reconciled with the chain after a restart")).toBe(true);
      }
    });
  }
});
