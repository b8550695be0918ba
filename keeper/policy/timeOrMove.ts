import type { Decision, MarketView, PolicyConfig } from "../types.ts";
import { formatAmount as f } from "./format.ts";

export type TimeOrMovePolicy = Extract<PolicyConfig, { name: "time-or-move" }>;

/**
 * Hedge to zero, if |δ| exceeds `minTrade`, when `maxBlocks` blocks have passed since the last hedge or the spot
 * has moved by `moveBps` since it, whichever comes first. A named baseline, the rule of Opyn's Crab strategy
 * (`hedgeTimeThreshold` / `hedgePriceThreshold`).
 *
 * The move is |S / S_last − 1|·10⁴ bps, S_last = `view.lastHedgeSpot`; with S_last unknown only the time rule
 * applies. A vault never hedged (blocksSinceHedge = ∞) is due by the time rule. A move of exactly `moveBps`
 * counts.
 */
export function timeOrMove(view: MarketView, policy: TimeOrMovePolicy): Decision {
  const absDelta = Math.abs(view.delta);
  const last = view.lastHedgeSpot;
  const known = last !== undefined && last > 0;
  const movedBps = known ? Math.abs(view.spot / last - 1) * 10_000 : undefined;
  const timeDue = view.blocksSinceHedge >= policy.maxBlocks;
  // Cross-multiplied rather than comparing `movedBps`: the ratio can land a rounding error below a move of exactly
  // `moveBps` (100 → 90 reads as 999.9999999999998 bps), which would then not count.
  const moveDue = known && Math.abs(view.spot - last) * 10_000 >= policy.moveBps * last;

  const since = Number.isFinite(view.blocksSinceHedge)
    ? `${view.blocksSinceHedge} blocks since the last hedge`
    : "never hedged";
  const moved = movedBps === undefined ? "spot at the last hedge unknown" : `spot moved ${f(movedBps)} bps`;
  if (!timeDue && !moveDue) {
    return {
      kind: "hold",
      cause: "policy",
      reason:
        `time-or-move: ${since} (< ${policy.maxBlocks}) and ` +
        (movedBps === undefined ? moved : `${moved} (< ${f(policy.moveBps)})`),
    };
  }
  const triggers = [
    ...(timeDue ? [`${since} (≥ ${policy.maxBlocks})`] : []),
    ...(moveDue ? [`${moved} since the last hedge (≥ ${f(policy.moveBps)})`] : []),
  ].join(" and ");
  if (absDelta <= policy.minTrade) {
    return {
      kind: "hold",
      cause: "policy",
      reason: `time-or-move: ${triggers}, but |delta| ${f(absDelta)} ≤ minTrade ${f(policy.minTrade)}`,
    };
  }
  return {
    kind: "rebalance",
    targetDelta: 0,
    target: "zero",
    reason: `time-or-move: ${triggers}; |delta| ${f(absDelta)} > minTrade ${f(policy.minTrade)}, hedge to zero`,
  };
}
