/**
 * Shadow mode: a keeper started with --shadow beside a live one decides every block, signs and sends nothing,
 * and logs what it would have done beside what happened on-chain (the live keeper's rebalance). The chain mines
 * only when the test says, so both keepers see the block that calls for a hedge before anything lands.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ROLES } from "../../harness/system.ts";
import { moveMarketOnDemand, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const SEEN = "shadow: the vault was rebalanced on-chain (by another keeper)";
const WOULD = "shadow: would hedge";

describe("shadow mode", () => {
  let chain: LocalChain | undefined;
  const keepers: KeeperProcess[] = [];

  afterAll(async () => {
    for (const k of keepers) await k.stop();
    await chain?.close();
  });

  it("logs each decision beside the on-chain rebalance of another keeper, and signs nothing", async () => {
    chain = await startLocalChain({ blockIntervalMs: 0 });
    const { sys, url } = chain;
    const pc = sys.publicClient;
    await chain.instant(async () => sys.wait(await sys.vault.write.grantRole([ROLES.keeper, TEST_KEYS.secondAddress])));
    const env = { RPC_URL: url, LENS_ADDRESS: sys.lens.address, VAULTS: sys.vault.address, LOG_LEVEL: "debug" };
    const shadow = startKeeperProcess({ ...env, PRIVATE_KEY: TEST_KEYS.second }, ["run", "--shadow"]);
    keepers.push(shadow);

    // Each round: a block that calls for a hedge (first the unhedged start, then a price move). The shadow says it
    // would hedge there; the live keeper hedges; in the next block the shadow reports the rebalance it saw.
    const live = startKeeperProcess({ ...env, PRIVATE_KEY: TEST_KEYS.keeper });
    keepers.push(live);
    const rounds: { decided: bigint; sent: Record<string, unknown> }[] = [];
    for (const round of [0, 1]) {
      const decided = round === 0 ? await pc.getBlockNumber() : await moveMarketOnDemand(chain, 3300);
      await shadow.waitFor(`the shadow's decision at block ${decided}`, (l) => l.msg === WOULD && l.block === Number(decided));
      const sent = await live.waitFor(`the live hedge at block ${decided}`, (l) => l.msg === "hedge sent" && l.block === Number(decided));
      expect(await chain.pending()).toEqual([sent.hash]);
      await chain.mine();
      await live.waitFor(`the live hedge of block ${decided} mined`, (l) => l.msg === "hedge mined" && l.hash === sent.hash);
      await shadow.waitForBlock(decided + 1n);
      rounds.push({ decided, sent });
    }
    await shadow.waitForBlock(await chain.mine());

    const events = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: 0n });
    expect(events.map((e) => e.transactionHash)).toEqual(rounds.map((r) => r.sent.hash));
    expect(events.every((e) => e.args.keeper!.toLowerCase() === TEST_KEYS.keeperAddress.toLowerCase())).toBe(true);
    // One report per on-chain rebalance, naming its block, logged in the block that showed it.
    const seen = shadow.logged(SEEN);
    expect(seen.map((l) => l.rebalancedInBlock)).toEqual(events.map((e) => Number(e.blockNumber)));
    expect(seen.map((l) => l.block)).toEqual(events.map((e) => Number(e.blockNumber)));
    // What the shadow would have traded matches what the live keeper did.
    for (const r of rounds) {
      const would = shadow.logged(WOULD).find((l) => l.block === Number(r.decided))!;
      expect({ side: would.side, size: would.size }).toEqual({ side: r.sent.side, size: r.sent.size });
    }
    expect(shadow.logged("hedge sent")).toHaveLength(0);
    expect(await pc.getTransactionCount({ address: TEST_KEYS.secondAddress })).toBe(0);
  });
});
