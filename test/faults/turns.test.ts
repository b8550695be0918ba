/**
 * Two keeper processes on one vault with `KEEPER_PEERS` naming both: they take turns instead of racing. On a node
 * that mines only when the test says, over many price moves, the keeper whose turn it is sends and the other holds
 * with "peer … has the turn" — at most one race lost in all (a reverted hedge, or a simulation that found the other
 * keeper's hedge first), one hedge per move, every move hedged. Then the keeper whose turn comes first is stopped:
 * the other takes over after exactly TURN_TAKEOVER_BLOCKS blocks. (test/faults/keepers.test.ts runs the same pair
 * without peers: there they race on every move.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { turnOrder } from "../../keeper/execution/turns.ts";
import { ROLES } from "../../harness/system.ts";
import { moveMarketOnDemand, startKeeperProcess, TEST_KEYS, until, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const BAND = 0.5;
const MOVES = 8;
const TAKEOVER_BLOCKS = 2;
const STOOD_DOWN = "another keeper hedged this vault first: standing down";
const HAS_TURN = / has the turn for vault /;

describe("two keepers taking turns (KEEPER_PEERS)", () => {
  let chain: LocalChain;
  const keepers: KeeperProcess[] = [];
  let price = 3000;
  const peers = [TEST_KEYS.keeperAddress, TEST_KEYS.secondAddress] as const;

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
    await chain.instant(async () => chain.sys.wait(await chain.sys.vault.write.grantRole([ROLES.keeper, TEST_KEYS.secondAddress])));
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.stop();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start(key: string): KeeperProcess {
    const k = startKeeperProcess({
      RPC_URL: chain.url,
      LENS_ADDRESS: chain.sys.lens.address,
      VAULTS: chain.sys.vault.address,
      POLICY_BAND: String(BAND),
      LOG_LEVEL: "debug",
      PRIVATE_KEY: key,
      KEEPER_PEERS: peers.join(","),
      TURN_TAKEOVER_BLOCKS: String(TAKEOVER_BLOCKS),
    });
    keepers.push(k);
    return k;
  }

  const nextPrice = () => (price = price === 3000 ? 3300 : 3000);

  async function rebalances(fromBlock: bigint, toBlock: bigint = fromBlock) {
    const { sys } = chain;
    return sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock, toBlock });
  }

  /** What keeper `k` did about the vault at `block`: sent, held for a peer's turn, or stood down. */
  const actedAt = (k: KeeperProcess, block: bigint, what: string) =>
    k.waitFor(`${what}: a hedge, a peer's turn or a stand-down at block ${block}`, (l) => l.block === Number(block) && (l.msg === "hedge sent" || l.msg === STOOD_DOWN || HAS_TURN.test(String(l.msg))));

  /** Mines the block holding `hashes` once they are all in the pool; returns it, with the one rebalance it holds. */
  async function mineHedge(hashes: string[], what: string) {
    await until(`${what}: the hedge in the pool`, async () => {
      const pool = new Set(await chain.pending());
      return hashes.every((h) => pool.has(h));
    });
    const block = await chain.mine();
    const events = await rebalances(block);
    expect(events, `${what}: one rebalance in block ${block}`).toHaveLength(1);
    expect(Math.abs(await chain.netDelta(block)), `${what}: back in the band`).toBeLessThanOrEqual(BAND);
    return block;
  }

  it("over many moves: one sends, the other holds for its turn; a stopped keeper's turn is taken over after k blocks", async () => {
    const { sys } = chain;
    const pc = sys.publicClient;
    const a = start(TEST_KEYS.keeper);
    const b = start(TEST_KEYS.second);
    const pair = [a, b] as const;
    const nonces = () => Promise.all(peers.map((address) => pc.getTransactionCount({ address })));
    const noncesBefore = await nonces();
    const head = await chain.mine();
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
    await Promise.all(pair.map((k) => k.waitForBlock(head)));

    let held = 0;
    for (let move = 0; move < MOVES; move++) {
      const what = `move ${move}`;
      const moved = await moveMarketOnDemand(chain, nextPrice());
      expect(Math.abs(await chain.netDelta(moved)), `${what}: out of the band`).toBeGreaterThan(BAND);
      const acted = await Promise.all(pair.map((k) => actedAt(k, moved, what)));
      const sent = acted.filter((l) => l.msg === "hedge sent");
      held += acted.filter((l) => HAS_TURN.test(String(l.msg))).length;
      expect(sent.length, `${what}: someone hedged`).toBeGreaterThanOrEqual(1);
      await mineHedge(sent.map((l) => l.hash as string), what);
      // One more block seen by both: nobody sends again for this move (the next move checks the pool is empty).
      const after = await chain.mine();
      await Promise.all(pair.map((k) => k.waitForBlock(after)));
    }

    // Races lost: a hedge that reverted on-chain, or one whose simulation found the other keeper's hedge first.
    const racesLost = async () => {
      const lines = [...a.lines, ...b.lines];
      const hashes = lines.filter((l) => l.msg === "hedge sent").map((l) => l.hash as `0x${string}`);
      const receipts = await Promise.all(hashes.map((hash) => pc.getTransactionReceipt({ hash })));
      const onChain = receipts.filter((r) => r.status === "reverted").length;
      const inSimulation = lines.filter((l) => l.msg === STOOD_DOWN && l.error !== undefined).length;
      return { lines, hashes, onChain, inSimulation };
    };
    const races = await racesLost();
    expect(races.onChain + races.inSimulation, `races lost over ${MOVES} moves: ${races.onChain} on-chain, ${races.inSimulation} in simulation`).toBeLessThanOrEqual(1);
    expect(held, "the keeper without the turn held, nearly every move").toBeGreaterThanOrEqual(MOVES - 1);

    // The keeper whose turn comes first for the next hedge stops: the other holds for k blocks, then takes over.
    const [last] = await pc.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock: head, toBlock: "latest" }).then((e) => e.slice(-1));
    const primary = turnOrder({ vault: sys.vault.address, episode: last!.blockNumber, peers })[0]!;
    const primaryIndex = peers.findIndex((p) => p.toLowerCase() === primary.toLowerCase());
    const survivor = pair[1 - primaryIndex]!;
    await pair[primaryIndex]!.stop();
    const moved = await moveMarketOnDemand(chain, nextPrice());
    for (let wait = 0; wait < TAKEOVER_BLOCKS; wait++) {
      const line = await actedAt(survivor, moved + BigInt(wait), `takeover, block +${wait}`);
      expect(line, `takeover: holds at block +${wait} for the stopped primary`).toMatchObject({ peer: primary, myTurnAtBlock: Number(moved) + TAKEOVER_BLOCKS });
      expect(await chain.pending(), "takeover: nothing sent while waiting").toEqual([]);
      await chain.mine();
    }
    const takeover = await actedAt(survivor, moved + BigInt(TAKEOVER_BLOCKS), "takeover");
    expect(takeover.msg, "takeover: the survivor sends once its turn comes").toBe("hedge sent");
    await mineHedge([takeover.hash as string], "takeover");

    // Still at most one race in all; every move hedged exactly once, and every nonce spent was a hedge sent.
    const { lines, hashes, onChain, inSimulation } = await racesLost();
    expect(onChain + inSimulation, "races lost, the takeover included").toBeLessThanOrEqual(1);
    expect(await rebalances(head + 1n, await pc.getBlockNumber()), "one rebalance per move").toHaveLength(MOVES + 1);
    const noncesAfter = await nonces();
    expect(noncesAfter[0]! - noncesBefore[0]! + noncesAfter[1]! - noncesBefore[1]!, "every send, and nothing else, used a nonce").toBe(hashes.length);
    expect(lines.filter((l) => (l.level as number) >= 50), "no error").toEqual([]);
  });
});
