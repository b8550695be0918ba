/**
 * Liveness and readiness as pure rules over facts the runtime already holds, so each rule is tested without a
 * clock, a chain or a server. Both answer "is the keeper making real progress", never "is the process up":
 *
 * - **live** — the loop still moves. False only when restarting the process is the remedy: no block processed
 *   for `maxLoopStallMs` (default 5 × `maxHeadAgeMs`), which a wedged tick or a dead subscription produces.
 * - **ready** — the keeper is doing its job right now. Each failing rule adds one reason a person can act on:
 *   1. *stale head*: no new block processed for more than `maxHeadAgeMs` (RPC down, chain halted, loop stuck);
 *      before the first block, the keeper is not ready either.
 *   2. *stuck transaction*: a hedge pending for more than `maxPendingBlocks` blocks (underpriced, or dropped by
 *      the node); every later hedge of the signer queues behind it.
 *   3. *nonce gap*: the local next nonce is ahead of the chain's pending nonce, so a transaction the keeper
 *      counted never reached the node and every later one waits for the missing nonce. A negative gap (the key
 *      used elsewhere) is not a stuck state: the next send fails with "nonce too low" and resyncs.
 *   4. *low balance*: the signer holds less than `minSignerBalanceWei`, so hedges will soon fail for gas.
 *   5. *vault left unhedged*: a vault has been out of band for more than `maxOutOfBandBlocks` blocks and nobody
 *      — this keeper or another one — has rebalanced it within the last `maxOutOfBandBlocks` blocks (the
 *      vault's `lastRebalanceBlock`). A vault another keeper is hedging is not our failure.
 *   6. *perp margin low*: a vault's perp position has an effective margin below the vault's `minMarginBps`, or is
 *      liquidatable: the keeper's top-up is due (or failed), and a fast move liquidates the hedge.
 */

/** A hedge transaction sent and not yet settled. */
export interface PendingTransaction {
  vault: string;
  /** The block the transaction was sent in (the keeper's head at broadcast). */
  sentAtBlock: bigint;
  nonce?: number;
}

/** One vault's hedging progress. */
export interface VaultHealth {
  vault: string;
  /** Consecutive blocks, up to the head, the vault's delta has been beyond its band (0 when in band). */
  outOfBandBlocks: number;
  /** The vault's `lastRebalanceBlock`: the last hedge by anyone, this keeper or another (0n if never). */
  lastRebalanceBlock: bigint;
  /** The perp position's margin, for a vault with a perp market. */
  perp?: { marginRatioBps: number; minMarginBps: number; liquidatable: boolean; low: boolean };
}

export interface HealthState {
  /** Now, on the same monotonic clock as the other `…Ms` fields. */
  nowMs: number;
  /** When the loop started: the reference for liveness until the first block is processed. */
  startedAtMs: number;
  /**
   * When the keeper last *processed* a new block (a tick started on it), undefined before the first. Not when a
   * head notification arrived: a notification skipped because a tick is wedged is not progress.
   */
  lastBlockSeenAtMs: number | undefined;
  /** The last block processed, undefined before the first. */
  headBlock: bigint | undefined;
  pending: readonly PendingTransaction[];
  /** Local next nonce minus the chain's pending nonce; 0 when no signer or not yet known. */
  nonceGap: number;
  /** The signer's native balance, wei; undefined without a signer (dry run), where the rule does not apply. */
  signerBalanceWei: bigint | undefined;
  vaults: readonly VaultHealth[];
}

export interface HealthRules {
  /** The head is stale when no new block was processed for longer than this, ms (a few block times). */
  maxHeadAgeMs: number;
  /** A pending transaction is stuck when older than this many blocks. */
  maxPendingBlocks: number;
  /** Below this signer balance the keeper is not ready, wei. */
  minSignerBalanceWei: bigint;
  /** A vault out of band longer than this, and not hedged by anyone for as long, makes the keeper unready. */
  maxOutOfBandBlocks: number;
  /** The loop is not live when no block was processed for longer than this, ms. Default 5 × `maxHeadAgeMs`. */
  maxLoopStallMs?: number;
}

export interface Health {
  live: boolean;
  ready: boolean;
  /** One line per failing rule, liveness first; empty when live and ready. */
  reasons: string[];
}

/** Applies the liveness rule and the five readiness rules (see the module comment) to `state`. */
export function assessHealth(state: HealthState, rules: HealthRules): Health {
  const reasons: string[] = [];
  const maxLoopStallMs = rules.maxLoopStallMs ?? 5 * rules.maxHeadAgeMs;
  const progressAtMs = state.lastBlockSeenAtMs ?? state.startedAtMs;
  const stalledMs = state.nowMs - progressAtMs;
  const live = stalledMs <= maxLoopStallMs;
  if (!live) {
    reasons.push(
      state.lastBlockSeenAtMs === undefined
        ? `loop stalled: no block processed in ${seconds(stalledMs)} since start (max ${seconds(maxLoopStallMs)})`
        : `loop stalled: no block processed for ${seconds(stalledMs)} (max ${seconds(maxLoopStallMs)})`,
    );
  }
  const readinessFrom = reasons.length;

  // 1. Stale head.
  if (state.lastBlockSeenAtMs === undefined || state.headBlock === undefined) {
    reasons.push("no block processed yet");
  } else {
    const headAgeMs = state.nowMs - state.lastBlockSeenAtMs;
    if (headAgeMs > rules.maxHeadAgeMs) {
      reasons.push(`stale head: last block ${state.headBlock} processed ${seconds(headAgeMs)} ago (max ${seconds(rules.maxHeadAgeMs)})`);
    }
  }

  // 2. Stuck transaction. Its age needs a head; without one, rule 1 already fails.
  if (state.headBlock !== undefined) {
    const head = state.headBlock;
    for (const tx of state.pending) {
      const ageBlocks = head - tx.sentAtBlock;
      if (ageBlocks > BigInt(rules.maxPendingBlocks)) {
        const nonce = tx.nonce === undefined ? "" : ` (nonce ${tx.nonce})`;
        reasons.push(
          `stuck transaction: hedge for vault ${tx.vault}${nonce} pending for ${ageBlocks} blocks since block ${tx.sentAtBlock} (max ${rules.maxPendingBlocks})`,
        );
      }
    }
  }

  // 3. Nonce gap.
  if (state.nonceGap > 0) {
    reasons.push(`nonce gap: local next nonce is ${state.nonceGap} ahead of the chain's pending nonce; later transactions cannot be mined`);
  }

  // 4. Low balance.
  if (state.signerBalanceWei !== undefined && state.signerBalanceWei < rules.minSignerBalanceWei) {
    reasons.push(`low signer balance: ${state.signerBalanceWei} wei, below the minimum ${rules.minSignerBalanceWei} wei`);
  }

  // 5. Vault out of band with nobody hedging it.
  if (state.headBlock !== undefined) {
    const head = state.headBlock;
    for (const v of state.vaults) {
      if (v.outOfBandBlocks <= rules.maxOutOfBandBlocks) continue;
      const sinceHedge = head - v.lastRebalanceBlock;
      if (v.lastRebalanceBlock > 0n && sinceHedge <= BigInt(rules.maxOutOfBandBlocks)) continue;
      const last = v.lastRebalanceBlock > 0n ? `last rebalanced at block ${v.lastRebalanceBlock}, ${sinceHedge} blocks ago` : "never rebalanced";
      reasons.push(
        `vault ${v.vault} out of band for ${v.outOfBandBlocks} blocks (max ${rules.maxOutOfBandBlocks}) and nobody is hedging it (${last})`,
      );
    }
  }

  // 6. A perp position whose margin is below the vault's minimum, or liquidatable: a top-up is due now.
  for (const v of state.vaults) {
    if (v.perp?.low !== true) continue;
    reasons.push(
      v.perp.liquidatable
        ? `vault ${v.vault} perp position is liquidatable (margin ${Math.round(v.perp.marginRatioBps)} bps of notional): top up now or expect liquidation`
        : `vault ${v.vault} perp margin ${Math.round(v.perp.marginRatioBps)} bps of notional, below the vault's minimum ${v.perp.minMarginBps} bps: a top-up is due`,
    );
  }

  return { live, ready: live && reasons.length === readinessFrom, reasons };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
