/**
 * Shadow mode: a keeper started with --shadow beside a live one decides every block, signs and sends nothing,
 * and logs what it would have done beside what happened on-chain (the live keeper's rebalance).
 */
import { afterAll, describe, expect, it } from "vitest";
import { ROLES } from "../../scripts/lib/system.ts";
import { sleep, startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

const SEEN = "shadow: the vault was rebalanced on-chain (by another keeper)";

describe("shadow mode", () => {
  let chain: LocalChain | undefined;
  const keepers: KeeperProcess[] = [];

  afterAll(async () => {
    for (const k of keepers) await k.stop();
    await chain?.close();
  });

  it("logs each decision beside the on-chain rebalance of another keeper, and signs nothing", async () => {
    chain = await startLocalChain({ blockIntervalMs: 1000 });
    const { sys, url } = chain;
    await chain.instant(async () => sys.wait(await sys.vault.write.grantRole([ROLES.keeper, TEST_KEYS.secondAddress])));
    const env = { RPC_URL: url, LENS_ADDRESS: sys.lens.address, VAULTS: sys.vault.address };
    const shadow = startKeeperProcess({ ...env, PRIVATE_KEY: TEST_KEYS.second }, ["run", "--shadow"]);
    keepers.push(shadow);
    await sleep(2500);
    const live = startKeeperProcess({ ...env, PRIVATE_KEY: TEST_KEYS.keeper });
    keepers.push(live);

    // The vault starts unhedged; then a price move. Both make the shadow want to hedge; the live keeper does.
    await live.waitFor("the live keeper's first hedge", (l) => l.msg === "hedge mined");
    await chain.moveTo(3300);
    const end = Date.now() + 30_000;
    while (Date.now() < end && shadow.logged(SEEN).length < 2) await sleep(200);

    expect(shadow.logged("shadow: would hedge").length).toBeGreaterThan(0);
    expect(shadow.logged(SEEN).length).toBeGreaterThanOrEqual(2);
    expect(shadow.logged("hedge sent")).toHaveLength(0);
    expect(await sys.publicClient.getTransactionCount({ address: TEST_KEYS.secondAddress })).toBe(0);
  });
});
