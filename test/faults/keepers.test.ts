/**
 * The keeper as its own process:
 * - behind a fault-injecting proxy (drops, 5xx, malformed JSON, delays), with a second proxy as fallback, on a node
 *   mining a block every half second: it keeps hedging, and when the primary goes down entirely it carries on
 *   through the fallback — every transaction it makes lands as a hedge, and no move is hedged twice;
 * - two keepers (two signers with the keeper role) on the same vault over several price moves, on a node that
 *   mines only when the test says: both see the move's block and send, the two hedges share the next block, one
 *   rebalances and the other reverts — and its keeper stands down with the named reason, every time. That is the
 *   pair without `KEEPER_PEERS`; with it they take turns instead (test/faults/turns.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ROLES } from "../../harness/system.ts";
import { moveMarketOnDemand, startKeeperProcess, TEST_KEYS, until, type KeeperProcess } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";
import { startFaultProxy } from "../../harness/faultProxy.ts";

const BAND = 0.5;
const REVERTED = "hedge reverted on-chain (state moved between simulation and inclusion): backing off";
const STOOD_DOWN = "another keeper hedged this vault first: standing down";

describe("keeper processes under faults", () => {
  let chain: LocalChain;
  const keepers: KeeperProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  let price = 3000;

  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
    await chain.instant(async () => chain.sys.wait(await chain.sys.vault.write.grantRole([ROLES.keeper, TEST_KEYS.secondAddress])));
  });
  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.stop();
    for (const close of closers.splice(0)) await close();
  });
  afterAll(async () => {
    await chain?.close();
  });

  function start(env: Record<string, string>): KeeperProcess {
    const k = startKeeperProcess({ LENS_ADDRESS: chain.sys.lens.address, VAULTS: chain.sys.vault.address, POLICY_BAND: String(BAND), LOG_LEVEL: "debug", ...env });
    keepers.push(k);
    return k;
  }

  const nextPrice = () => (price = price === 3000 ? 3300 : 3000);

  async function rebalances(fromBlock: bigint, toBlock?: bigint) {
    const { sys } = chain;
    return sys.publicClient.getContractEvents({ address: sys.vault.address, abi: sys.vault.abi, eventName: "Rebalanced", fromBlock, ...(toBlock === undefined ? {} : { toBlock }) });
  }

  const traded = (events: Awaited<ReturnType<typeof rebalances>>) =>
    events.reduce((sum, e) => sum + Math.abs(Number(e.args.deltaAfterWad! - e.args.deltaBeforeWad!) / 1e18), 0);

  it("keeps hedging through a fallback RPC while the primary drops, errors, corrupts and delays, and when it goes down", async () => {
    const { sys } = chain;
    const pc = sys.publicClient;
    // Faults hit requests at random, so the keeper needs blocks to keep coming (its retries wait out a backoff in
    // blocks): interval mining here, with the outcome checked on-chain and a generous deadline.
    await chain.mineEvery(500);
    try {
      const primary = await startFaultProxy({ target: chain.url, faults: { drop: 0.15, http5xx: 0.15, malformed: 0.15, delay: { p: 0.15, ms: 300 }, seed: 7 } });
      const fallback = await startFaultProxy({ target: chain.url });
      closers.push(primary.close, fallback.close);
      start({ RPC_URL: primary.url, RPC_URLS: fallback.url, PRIVATE_KEY: TEST_KEYS.keeper });
      const nonceBefore = await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress });
      const fromBlock = (await pc.getBlockNumber()) + 1n;

      for (const round of [0, 1]) {
        if (round === 1) primary.setFaults({ down: true });
        const fallbackBefore = fallback.stats().requests;
        const { moved } = await chain.moveTo(nextPrice());
        const needed = Math.abs(await chain.netDelta(moved));
        expect(needed).toBeGreaterThan(BAND);
        await until("the vault back in its band", async () => Math.abs(await chain.netDelta()) <= BAND, { timeoutMs: 60_000, diagnostics: () => ({ round }) });
        // The round's hedges, once mined: each reduces the delta, and together they trade the move's delta once.
        const events = await rebalances(moved + 1n);
        expect(events.length, `round ${round}: hedged`).toBeGreaterThanOrEqual(1);
        for (const e of events) expect(Math.abs(Number(e.args.deltaAfterWad!))).toBeLessThan(Math.abs(Number(e.args.deltaBeforeWad!)));
        expect(traded(events), `round ${round}: ${events.length} hedges for a delta of ${needed}`).toBeLessThanOrEqual(needed + 0.1);
        if (round === 1) {
          expect(primary.stats().injected.down, "the primary refused everything").toBeGreaterThan(0);
          expect(fallback.stats().requests - fallbackBefore, "requests served by the fallback while the primary was down").toBeGreaterThan(0);
        }
      }
      const injected = Object.values(primary.stats().injected).reduce((sum, n) => sum + n, 0);
      expect(injected, "faults injected on the primary").toBeGreaterThan(0);
      // Every transaction the keeper made is a hedge that landed: no revert, no cancel, no replacement wasted.
      const hedges = await rebalances(fromBlock);
      expect(hedges.every((e) => e.args.keeper!.toLowerCase() === TEST_KEYS.keeperAddress.toLowerCase())).toBe(true);
      expect(await pc.getTransactionCount({ address: TEST_KEYS.keeperAddress })).toBe(nonceBefore + hedges.length);
    } finally {
      await chain.mineEvery(0);
    }
  });

  it("two keepers on one vault over several price moves: one hedge per move, the other keeper stands down", async () => {
    const { sys } = chain;
    const pc = sys.publicClient;
    // Each keeper's broadcast reaches the node BROADCAST_DELAY_MS late, so both usually simulate the move's block
    // before either hedge is in the pool, and both send: the on-chain race. A keeper that is slower than that sees
    // the other's hedge in its simulation and stands down without sending: the same reason, one step earlier.
    const BROADCAST_DELAY_MS = 3000;
    const proxy = await startFaultProxy({ target: chain.url, faults: { delay: { p: 1, ms: BROADCAST_DELAY_MS }, methods: ["eth_sendRawTransaction"], seed: 1 } });
    closers.push(proxy.close);
    const a = start({ RPC_URL: proxy.url, PRIVATE_KEY: TEST_KEYS.keeper });
    const b = start({ RPC_URL: proxy.url, PRIVATE_KEY: TEST_KEYS.second });
    const pair = [a, b] as const;
    const addresses = [TEST_KEYS.keeperAddress, TEST_KEYS.secondAddress] as const;
    const nonces = () => Promise.all(addresses.map((address) => pc.getTransactionCount({ address })));
    // Nothing left from the previous test: the pool empty, the vault in its band.
    await until("an empty pool", async () => (await chain.pending()).length === 0);
    const noncesBefore = await nonces();
    const head = await chain.mine();
    expect(Math.abs(await chain.netDelta())).toBeLessThanOrEqual(BAND);
    await Promise.all(pair.map((k) => k.waitForBlock(head)));

    const MOVES = 4;
    let onChainRaces = 0;
    for (let move = 0; move < MOVES; move++) {
      const moved = await moveMarketOnDemand(chain, nextPrice());
      const needed = Math.abs(await chain.netDelta(moved));
      expect(needed).toBeGreaterThan(BAND);
      // What each keeper did about the move's block: sent a hedge, or stood down on seeing the other's.
      const acted = await Promise.all(
        pair.map((k) => k.waitFor(`move ${move}: a hedge or a stand-down at block ${moved}`, (l) => l.block === Number(moved) && (l.msg === "hedge sent" || l.msg === STOOD_DOWN))),
      );
      const sent = acted.flatMap((l, i) => (l.msg === "hedge sent" ? [{ keeper: pair[i]!, hash: l.hash as `0x${string}` }] : []));
      expect(sent.length, `move ${move}: at least one keeper hedged`).toBeGreaterThanOrEqual(1);
      expect(new Set(await chain.pending())).toEqual(new Set(sent.map((s) => s.hash)));
      const block = await chain.mine();

      // Exactly one rebalance, in that block, and it undid the move once.
      const events = await rebalances(block, block);
      expect(events, `move ${move}: one rebalance`).toHaveLength(1);
      const winner = sent.find((s) => s.hash === events[0]!.transactionHash);
      expect(winner, `move ${move}: the rebalance is one of the hedges sent`).toBeDefined();
      expect(traded(events), `move ${move}: traded for a delta of ${needed}`).toBeLessThanOrEqual(needed + 0.1);
      expect(Math.abs(await chain.netDelta(block))).toBeLessThanOrEqual(BAND);
      const mined = await winner!.keeper.waitFor(`move ${move}: the winner's hedge mined`, (l) => l.msg === "hedge mined" && l.hash === winner!.hash);
      expect(mined.minedInBlock).toBe(Number(block));

      // The other keeper stands down with the named reason: about its own reverted hedge in the same block, or
      // about the other's hedge its simulation saw (the vault's spacing) — never with an error or a retry.
      const loserIndex = pair.indexOf(pair.find((k) => k !== winner!.keeper)!);
      const loserSent = sent.find((s) => s.keeper === pair[loserIndex]);
      if (loserSent) {
        onChainRaces++;
        const lost = await pc.getTransactionReceipt({ hash: loserSent.hash });
        expect({ block: lost.blockNumber, status: lost.status }).toEqual({ block, status: "reverted" });
        const stoodDown = await loserSent.keeper.waitFor(`move ${move}: the loser to stand down`, (l) => l.msg === STOOD_DOWN && l.hash === loserSent.hash);
        expect(stoodDown.block).toBe(Number(block));
      } else {
        expect(acted[loserIndex]).toMatchObject({ msg: STOOD_DOWN, error: "RebalanceTooSoon" });
      }

      // Two more blocks, seen by both: neither sends again for this move.
      const after = await chain.mine(2);
      await Promise.all(pair.map((k) => k.waitForBlock(after)));
      expect(await chain.pending(), `move ${move}: nothing more sent`).toEqual([]);
    }

    const lines = [...a.lines, ...b.lines];
    expect(lines.filter((l) => l.msg === STOOD_DOWN), "one lost race per move").toHaveLength(MOVES);
    expect(lines.filter((l) => l.msg === "hedge sent"), "one send per move, and one per race lost on-chain").toHaveLength(MOVES + onChainRaces);
    expect(lines.filter((l) => l.msg === REVERTED), "a lost race is a calm line, not an error").toHaveLength(0);
    expect(lines.filter((l) => (l.level as number) >= 40), "no warning or error").toEqual([]);
    const noncesAfter = await nonces();
    expect(noncesAfter[0]! - noncesBefore[0]! + noncesAfter[1]! - noncesBefore[1]!, "every send, and nothing else, used a nonce").toBe(MOVES + onChainRaces);
    expect(await rebalances(head + 1n), "one rebalance per move").toHaveLength(MOVES);
  });
});
