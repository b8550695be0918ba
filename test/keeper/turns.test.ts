/**
 * Turns between keepers sharing vaults (keeper/execution/turns.ts): every peer computes the same order whatever its
 * own `KEEPER_PEERS` looks like, exactly one peer may send when a vault first needs a hedge, the next takes over
 * only after `takeoverBlocks` more blocks of need, the order is redrawn when a rebalance lands, and a solo keeper
 * always has the turn.
 */
import fc from "fast-check";
import { getAddress, type Address } from "viem";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../keeper/config/index.ts";
import { keeperOptionsFromConfig } from "../../keeper/options.ts";
import { checkTurnConfig, turnOrder, updateNeedStreaks, whoseTurn, type NeedStreak, type TurnConfig } from "../../keeper/execution/turns.ts";

const VAULT = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const A = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const B = getAddress("0x90f79bf6eb2c4f870365e785982e1f101e93b906");
const C = getAddress("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const PEERS = [A, B, C] as const;

const arbAddress = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((bytes) => getAddress(`0x${Buffer.from(bytes).toString("hex")}`));
const arbPeers = fc.uniqueArray(arbAddress, { minLength: 2, maxLength: 6, selector: (a) => a.toLowerCase() });
const arbEpisode = fc.bigInt({ min: 0n, max: 2n ** 40n });

const turnOf = (self: Address, streak: NeedStreak, block: bigint, config: TurnConfig, vault: Address = VAULT) =>
  whoseTurn({ vault, self, streak, block, config });

describe("turnOrder: the same order on every peer", () => {
  it("does not depend on the order or letter case of the configured peers, nor on duplicates", () => {
    fc.assert(
      fc.property(arbAddress, arbEpisode, arbPeers, fc.integer(), (vault, episode, peers, seed) => {
        const reference = turnOrder({ vault, episode, peers });
        const r = Math.abs(seed) % peers.length;
        const shuffled = [...peers.slice(r), ...peers.slice(0, r)].reverse();
        const recased = shuffled.map((p, i) => (i % 2 === 0 ? (p.toLowerCase() as Address) : p));
        const again = turnOrder({ vault: vault.toLowerCase() as Address, episode, peers: [...recased, recased[0]!] });
        expect(again.map((p) => p.toLowerCase())).toEqual(reference.map((p) => p.toLowerCase()));
        expect(new Set(reference)).toEqual(new Set(peers));
      }),
    );
  });

  it("is pinned: keccak256(abi.encode(vault, episode, peer)) ascending, so every version of the keeper agrees", () => {
    // A change to the key (packing, field order) would make old and new keepers rank differently: they would race.
    expect(turnOrder({ vault: VAULT, episode: 0n, peers: PEERS })).toEqual(GOLDEN_EPISODE_0);
    expect(turnOrder({ vault: VAULT, episode: 1234n, peers: PEERS })).toEqual(GOLDEN_EPISODE_1234);
  });

  it("is redrawn per episode, so each peer is primary for a fair share of hedges", () => {
    const primaries = new Map<Address, number>();
    for (let episode = 0n; episode < 600n; episode++) {
      const first = turnOrder({ vault: VAULT, episode, peers: PEERS })[0]!;
      primaries.set(first, (primaries.get(first) ?? 0) + 1);
    }
    for (const peer of PEERS) expect(primaries.get(peer), peer).toBeGreaterThan(150);
  });

  it("differs between vaults, so one keeper is not primary for every vault at once", () => {
    const vaults = Array.from({ length: 60 }, (_, i) => getAddress(`0x${(i + 1).toString(16).padStart(40, "0")}`));
    const primaries = new Set(vaults.map((vault) => turnOrder({ vault, episode: 7n, peers: PEERS })[0]));
    expect(primaries).toEqual(new Set(PEERS));
  });
});

describe("whoseTurn", () => {
  const config: TurnConfig = { peers: PEERS, takeoverBlocks: 2 };

  it("solo (no peers, or only this keeper): always this keeper's turn, from the first block of need", () => {
    const streak = { episode: 9n, sinceBlock: 100n };
    expect(turnOf(A, streak, 100n, { peers: [], takeoverBlocks: 2 })).toEqual({ kind: "mine", rank: 0 });
    expect(turnOf(A, streak, 100n, { peers: [A], takeoverBlocks: 2 })).toEqual({ kind: "mine", rank: 0 });
    expect(turnOf(B, streak, 100n, { peers: [], takeoverBlocks: 5 })).toEqual({ kind: "mine", rank: 0 });
  });

  it("exactly one peer has the turn when a vault first needs a hedge, and it is the first in the order", () => {
    fc.assert(
      fc.property(arbAddress, arbEpisode, arbPeers, fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.integer({ min: 1, max: 10 }), (vault, episode, peers, since, k) => {
        const cfg = { peers, takeoverBlocks: k };
        const streak = { episode, sinceBlock: since };
        const mine = peers.filter((p) => turnOf(p, streak, since, cfg, vault).kind === "mine");
        expect(mine).toEqual([turnOrder({ vault, episode, peers })[0]]);
        // Every waiting peer names the same holder: the primary.
        for (const p of peers) {
          const turn = turnOf(p, streak, since, cfg, vault);
          if (turn.kind === "peer") expect(turn.holder).toBe(mine[0]);
        }
      }),
    );
  });

  it("the peer ranked r takes over after r × k blocks of need, not one block before, and keeps its turn after", () => {
    const streak = { episode: 1234n, sinceBlock: 500n };
    const [first, second, third] = turnOrder({ vault: VAULT, episode: 1234n, peers: PEERS });
    const k = 2n;
    const eligible = (block: bigint) => PEERS.filter((p) => turnOf(p, streak, block, config).kind === "mine");
    expect(new Set(eligible(500n))).toEqual(new Set([first]));
    expect(new Set(eligible(501n))).toEqual(new Set([first]));
    expect(new Set(eligible(500n + k))).toEqual(new Set([first, second]));
    expect(new Set(eligible(500n + 2n * k - 1n))).toEqual(new Set([first, second]));
    expect(new Set(eligible(500n + 2n * k))).toEqual(new Set(PEERS));
    expect(new Set(eligible(10_000n))).toEqual(new Set(PEERS));
    // While waiting, each says whose turn it is and when its own comes.
    expect(turnOf(third!, streak, 503n, config)).toEqual({ kind: "peer", holder: second, rank: 2, mineAtBlock: 504n });
    expect(turnOf(second!, streak, 501n, config)).toEqual({ kind: "peer", holder: first, rank: 1, mineAtBlock: 502n });
  });

  it("once a peer's turn has come it stays (monotone in the block), and the number eligible never drops", () => {
    fc.assert(
      fc.property(arbEpisode, arbPeers, fc.integer({ min: 1, max: 6 }), fc.nat(40), (episode, peers, k, extra) => {
        const cfg = { peers, takeoverBlocks: k };
        const streak = { episode, sinceBlock: 1000n };
        for (const p of peers) {
          const at = turnOf(p, streak, 1000n, cfg);
          const turnBlock = at.kind === "mine" ? 1000n : at.mineAtBlock;
          expect(turnBlock).toBe(1000n + BigInt(turnOrder({ vault: VAULT, episode, peers }).indexOf(p) * k));
          if (turnBlock > 1000n) expect(turnOf(p, streak, turnBlock - 1n, cfg).kind).toBe("peer");
          expect(turnOf(p, streak, turnBlock + BigInt(extra), cfg).kind).toBe("mine");
        }
      }),
    );
  });

  it("refuses a keeper that is not among its own peers, and a takeover delay below one block", () => {
    const streak = { episode: 0n, sinceBlock: 1n };
    const stranger = getAddress("0x00000000000000000000000000000000000000ff");
    expect(() => turnOf(stranger, streak, 1n, config)).toThrow(/KEEPER_PEERS must include this keeper's own address 0x0+FF/i);
    expect(() => checkTurnConfig({ peers: PEERS, takeoverBlocks: 0 }, A)).toThrow(/TURN_TAKEOVER_BLOCKS must be a positive integer/);
    expect(() => checkTurnConfig({ peers: [], takeoverBlocks: 2 }, stranger)).not.toThrow();
    expect(() => checkTurnConfig({ peers: [A.toLowerCase() as Address], takeoverBlocks: 1 }, A)).not.toThrow();
  });
});

describe("updateNeedStreaks", () => {
  const OTHER = getAddress("0x00000000000000000000000000000000000000bb");

  it("starts a streak at the first block of need and keeps it while the episode lasts", () => {
    let streaks = updateNeedStreaks(new Map(), [{ vault: VAULT, episode: 10n, needed: true }], 100n);
    expect(streaks.get(VAULT)).toEqual({ episode: 10n, sinceBlock: 100n });
    streaks = updateNeedStreaks(streaks, [{ vault: VAULT, episode: 10n, needed: true }], 101n);
    expect(streaks.get(VAULT)).toEqual({ episode: 10n, sinceBlock: 100n });
  });

  it("restarts it when a rebalance lands (new episode), and drops it when the vault no longer needs a hedge", () => {
    const before = new Map([[VAULT, { episode: 10n, sinceBlock: 100n }]]);
    expect(updateNeedStreaks(before, [{ vault: VAULT, episode: 102n, needed: true }], 103n).get(VAULT)).toEqual({ episode: 102n, sinceBlock: 103n });
    expect(updateNeedStreaks(before, [{ vault: VAULT, episode: 10n, needed: false }], 103n).has(VAULT)).toBe(false);
    expect(before.get(VAULT), "the previous map is not modified").toEqual({ episode: 10n, sinceBlock: 100n });
  });

  it("keeps the streak of a vault not sighted in this block (unreadable is not hedged)", () => {
    const before = new Map([[VAULT, { episode: 10n, sinceBlock: 100n }]]);
    const after = updateNeedStreaks(before, [{ vault: OTHER, episode: 0n, needed: true }], 105n);
    expect(after.get(VAULT)).toEqual({ episode: 10n, sinceBlock: 100n });
    expect(after.get(OTHER)).toEqual({ episode: 0n, sinceBlock: 105n });
  });
});

describe("KEEPER_PEERS and TURN_TAKEOVER_BLOCKS", () => {
  // Hardhat's account #1, whose address is A.
  const env = {
    RPC_URL: "http://127.0.0.1:8545",
    VAULTS: VAULT,
    LENS_ADDRESS: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    PRIVATE_KEY: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  };

  it("unset: solo, with the table's takeover delay, carried to the keeper's options", () => {
    expect(keeperOptionsFromConfig(parseConfig(env)).turns).toEqual({ peers: [], takeoverBlocks: 2 });
  });

  it("parses the peers (checksummed, any case) and the delay", () => {
    const config = parseConfig({ ...env, KEEPER_PEERS: ` ${B.toLowerCase()}, ${A} `, TURN_TAKEOVER_BLOCKS: "3" });
    expect(keeperOptionsFromConfig(config).turns).toEqual({ peers: [B, A], takeoverBlocks: 3 });
  });

  it("refuses a peer list without this keeper's own address, a bad address, and a zero delay, naming each", () => {
    expect(() => parseConfig({ ...env, KEEPER_PEERS: `${B},${C}` })).toThrow(`KEEPER_PEERS: must include this keeper's own address ${A}`);
    expect(() => parseConfig({ ...env, KEEPER_PEERS: `${A},0x1234` })).toThrow(/KEEPER_PEERS: entry 2 "0x1234" is not an address/);
    expect(() => parseConfig({ ...env, TURN_TAKEOVER_BLOCKS: "0" })).toThrow(/TURN_TAKEOVER_BLOCKS/);
  });
});

// Computed once from the definition (keccak256 of abi.encode(address, uint256, address), ascending) and pinned.
const GOLDEN_EPISODE_0: Address[] = [A, B, C];
const GOLDEN_EPISODE_1234: Address[] = [B, C, A];
