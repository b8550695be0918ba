/**
 * A hedge that reverts for slippage: front-run in the mempool by a large swap (higher priority fee), the keeper's
 * hedge reverts on-chain. The keeper must not retry in a storm: it backs the vault off, then — once the pool is
 * back at the oracle — hedges once. Sends are counted.
 */
import { afterAll, describe, expect, it } from "vitest";
import { quoteUnits } from "../../scripts/lib/system.ts";
import { startKeeperProcess, TEST_KEYS, type KeeperProcess } from "../helpers/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../helpers/localChain.ts";

const REVERTED = "hedge reverted on-chain (state moved between simulation and inclusion): backing off";

describe("a hedge reverted for slippage", () => {
  let chain: LocalChain | undefined;
  let keeper: KeeperProcess | undefined;

  afterAll(async () => {
    await keeper?.stop();
    await chain?.close();
  });

  it("is not retried in a storm: one reverted send, then one hedge after the backoff", async () => {
    chain = await startLocalChain({ blockIntervalMs: 2000 });
    const { sys, url } = chain;
    const frontRun = quoteUnits(2_000_000); // ~2M USDC of WETH buying: moves a 10,000 WETH pool ~13%
    await chain.instant(async () => {
      await sys.wait(await sys.quote.write.mint([sys.admin.account.address, frontRun * 3n]));
      await sys.wait(await sys.quote.write.approve([sys.amm.address, frontRun * 3n]));
    });
    keeper = startKeeperProcess({
      RPC_URL: url,
      LENS_ADDRESS: sys.lens.address,
      VAULTS: sys.vault.address,
      PRIVATE_KEY: TEST_KEYS.keeper,
      POLL_INTERVAL_MS: "100",
      RETRY_BACKOFF_BLOCKS: "3",
    });

    // The vault starts unhedged: the keeper sends its hedge — and we front-run it in the same block.
    await keeper.waitFor("the keeper's hedge", (l) => l.msg === "hedge sent");
    const deadline = (await sys.publicClient.getBlock()).timestamp + 600n;
    await sys.amm.write.swapExactIn([sys.quote.address, frontRun, 0n, sys.admin.account.address, deadline], {
      maxPriorityFeePerGas: 50n * 10n ** 9n,
      maxFeePerGas: 200n * 10n ** 9n,
    });
    const reverted = await keeper.waitFor("the revert", (l) => l.msg === REVERTED);
    const revertBlock = BigInt(reverted.minedInBlock as number);

    // The arbitrageur brings the pool back to the oracle (refreshing it); the keeper hedges once, after its backoff.
    const [, answer] = await sys.oracle.read.latestRoundData();
    await chain.moveTo(Number(answer) / 1e8);
    const mined = await keeper.waitFor("the retried hedge to be mined", (l) => l.msg === "hedge mined");
    await new Promise((r) => setTimeout(r, 4000)); // a few more blocks: no further sends

    expect(keeper.logged("hedge sent"), "sends: the reverted one and one retry").toHaveLength(2);
    expect(BigInt(mined.minedInBlock as number) - revertBlock).toBeGreaterThanOrEqual(3n); // waited out the backoff
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(0.5);
  });
});
