/**
 * Turns: which of several keepers sharing a vault sends its hedge, agreed without a server or any message between
 * them. Each keeper computes the same order of the peers (`KEEPER_PEERS`) from data every peer reads on-chain — the
 * vault's address and its `lastRebalanceBlock` — so for one "episode" (the stretch between two rebalances) all
 * peers rank each other identically. The first in the order (the primary) sends at once; the peer ranked r sends
 * only once the vault has needed a hedge for r × `takeoverBlocks` blocks as that keeper saw it, so a dead or stuck
 * primary is taken over after k blocks, its stand-in after 2k, and so on. Once a peer's turn has come it keeps it
 * until the episode ends (earlier ranks stay eligible too): nobody is ever locked out of a vault that still needs
 * a hedge.
 *
 * Why the episode and not the block: a seed that changes every block would hand the turn around while a hedge is
 * in flight; `lastRebalanceBlock` changes exactly when a hedge lands, so the primary rotates from one hedge to the
 * next (the work and its gas spread over the peers) and never in the middle of one. Why the keeper's own first
 * sighting for the takeover clock: the chain does not record when a vault started to need a hedge, and a late
 * sighting only delays a takeover (a wasted race needs the stand-in to act early, not late).
 *
 * Safety does not rest on this: two keepers that disagree (different peer lists, one lagging by blocks) at worst
 * race as they would without turns, and the vault's rebalance spacing lets one hedge through. Turns make those
 * races rare. Pure: no client, no clock.
 */
import { encodeAbiParameters, keccak256, type Address } from "viem";

/** The peer set and the takeover delay, as configured (`KEEPER_PEERS`, `TURN_TAKEOVER_BLOCKS`). */
export interface TurnConfig {
  /** Every keeper sharing the vaults, this one included; empty (or this keeper alone): solo, always our turn. */
  peers: readonly Address[];
  /** Blocks a vault must go on needing a hedge before the next peer in the order takes over. */
  takeoverBlocks: number;
}

/** Since when this keeper has seen a vault need a hedge, within one episode (one `lastRebalanceBlock`). */
export interface NeedStreak {
  /** The vault's `lastRebalanceBlock` when the streak began: the episode the turn order is drawn for. */
  episode: bigint;
  /** The first block in which this keeper saw the vault need a hedge in that episode. */
  sinceBlock: bigint;
}

/** One vault as seen in one block, for `updateNeedStreaks`. */
export interface NeedSighting {
  vault: Address;
  /** The vault's `lastRebalanceBlock` in this block's read. */
  episode: bigint;
  /** Whether the vault needs a hedge this keeper could act on now (an order sized, or our own hedge pending). */
  needed: boolean;
}

/** Whose turn it is for one vault at one block: ours (with our rank), or a peer's (and when ours comes). */
export type Turn =
  | { kind: "mine"; rank: number }
  | {
      kind: "peer";
      /** The peer whose turn it is now: the last one in the order to have reached its turn. */
      holder: Address;
      rank: number;
      /** The first block at which our turn comes if the vault still needs a hedge then. */
      mineAtBlock: bigint;
    };

/**
 * The streaks after one block's sightings: a vault that needs a hedge keeps its streak while its episode is the
 * same, and starts one at `block` otherwise (first need, or a rebalance landed meanwhile); a vault seen not needing
 * one loses its streak. Vaults not sighted (unreadable this block) keep theirs: not seen is not evidence the need
 * ended.
 *
 * @param prev - The streaks after the previous block (not modified).
 * @param sightings - This block's vaults.
 * @param block - The block read.
 */
export function updateNeedStreaks(
  prev: ReadonlyMap<Address, NeedStreak>,
  sightings: readonly NeedSighting[],
  block: bigint,
): Map<Address, NeedStreak> {
  const next = new Map(prev);
  for (const { vault, episode, needed } of sightings) {
    const kept = prev.get(vault);
    if (!needed) next.delete(vault);
    else if (kept === undefined || kept.episode !== episode) next.set(vault, { episode, sinceBlock: block });
  }
  return next;
}

/** The key each peer is ranked by: (vault, episode, peer), ABI-encoded, so any language can recompute it. */
const TURN_KEY = [{ type: "address" }, { type: "uint256" }, { type: "address" }] as const;

/**
 * The peers in turn order for `vault` in `episode`: sorted by keccak256(abi.encode(vault, episode, peer)). The same
 * list on every peer whatever the order or letter case of its `KEEPER_PEERS`, and a fresh draw per episode.
 *
 * @param p.vault - The vault.
 * @param p.episode - Its `lastRebalanceBlock`.
 * @param p.peers - Every keeper sharing it (duplicates ignored).
 * @returns The peers, checksummed as given, primary first.
 */
export function turnOrder(p: { vault: Address; episode: bigint; peers: readonly Address[] }): Address[] {
  const vault = p.vault.toLowerCase() as Address;
  const seen = new Set<string>();
  const keyed: { peer: Address; key: string }[] = [];
  for (const peer of p.peers) {
    const lower = peer.toLowerCase();
    if (seen.has(lower)) continue;
    seen.add(lower);
    const key = keccak256(encodeAbiParameters(TURN_KEY, [vault, p.episode, lower as Address]));
    keyed.push({ peer, key });
  }
  // Both keys are 0x + 64 lowercase hex digits, so string order is numeric order; a tie needs a keccak collision.
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.peer);
}


/**
 * Whose turn it is to hedge `vault` at `block`, for the keeper `self`. Solo (no peers, or only `self`): always
 * ours. Otherwise the peer ranked r in `turnOrder` may send once `block - streak.sinceBlock >= r × takeoverBlocks`.
 *
 * @param p.self - This keeper's address; must be one of `config.peers` when any are configured.
 * @param p.streak - The vault's current `NeedStreak` (its episode seeds the order).
 * @throws RangeError from `checkTurnConfig`: `self` not among the configured peers, or no positive takeover delay.
 */
export function whoseTurn(p: {
  vault: Address;
  self: Address;
  streak: NeedStreak;
  block: bigint;
  config: TurnConfig;
}): Turn {
  const { vault, self, streak, block, config } = p;
  if (config.peers.length === 0) return { kind: "mine", rank: 0 };
  checkTurnConfig(config, self);
  const order = turnOrder({ vault, episode: streak.episode, peers: config.peers });
  const rank = order.findIndex((peer) => sameAddress(peer, self));
  const k = BigInt(config.takeoverBlocks);
  const elapsed = block > streak.sinceBlock ? block - streak.sinceBlock : 0n;
  const mineAtBlock = streak.sinceBlock + BigInt(rank) * k;
  if (block >= mineAtBlock) return { kind: "mine", rank };
  // The latest peer to have reached its turn: rank floor(elapsed / k), below ours since ours has not come.
  const holder = order[Number(elapsed / k)]!;
  return { kind: "peer", holder, rank, mineAtBlock };
}

/**
 * Throws unless `config` can be used by the keeper `self`: `takeoverBlocks` a positive integer and, when peers are
 * configured, `self` among them (otherwise this keeper would rank a list no other peer ranks, and race them all).
 *
 * @throws RangeError naming the problem and what to set.
 */
export function checkTurnConfig(config: TurnConfig, self: Address): void {
  if (!Number.isInteger(config.takeoverBlocks) || config.takeoverBlocks < 1) {
    throw new RangeError(`TURN_TAKEOVER_BLOCKS must be a positive integer (got ${config.takeoverBlocks})`);
  }
  if (config.peers.length > 0 && !config.peers.some((peer) => sameAddress(peer, self))) {
    throw new RangeError(`KEEPER_PEERS must include this keeper's own address ${self} (got ${config.peers.join(", ")})`);
  }
}

const sameAddress = (a: Address, b: Address) => a.toLowerCase() === b.toLowerCase();

/**
 * The keeper's side of the turns: the need streak of every vault, updated once per tick from its plans, and the
 * question "is it my turn to hedge this vault now". Solo (no peers) or without a signer: always.
 */
export class PeerTurns {
  #streaks = new Map<Address, NeedStreak>();
  readonly #config: TurnConfig;
  readonly #self: Address | undefined;

  constructor(config: TurnConfig, self: Address | undefined) {
    if (self !== undefined) checkTurnConfig(config, self);
    this.#config = config;
    this.#self = self;
  }

  /** Records which vaults need a hedge in `block` (an order sized, or our own hedge still pending). */
  observe(sightings: readonly NeedSighting[], block: bigint): void {
    this.#streaks = updateNeedStreaks(this.#streaks, sightings, block);
  }

  /** `true` when this keeper may send for `vault` at `block`; otherwise the peer that has the turn, for the log. */
  turn(vault: Address, block: bigint): { mine: true } | { mine: false; fields: Record<string, unknown>; msg: string } {
    const streak = this.#streaks.get(vault);
    if (streak === undefined || this.#config.peers.length === 0 || this.#self === undefined) return { mine: true };
    const turn = whoseTurn({ vault, self: this.#self, streak, block, config: this.#config });
    if (turn.kind === "mine") return { mine: true };
    return {
      mine: false,
      fields: { vault, peer: turn.holder, rank: turn.rank, myTurnAtBlock: Number(turn.mineAtBlock) },
      msg: `peer ${turn.holder} has the turn for vault ${vault}`,
    };
  }
}
