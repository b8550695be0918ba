/**
 * The soak's dice: the per-block probabilities of every fault it injects, the uniforms each block draws (always
 * the same number, in the same order, so the schedule of market moves and faults is a function of the seed alone,
 * not of what the keeper did), and the fault plans a proxy is switched to.
 */
import type { SendStep } from "../../keeper/keeper.ts";
import type { FaultPlan } from "../faultProxy.ts";
import { mulberry32 } from "../random.ts";

// Per-block probabilities of the faults (and their lengths, in blocks). Chosen so that 2,000 blocks see each
// kind several times while most blocks stay clean enough for the keeper to be judged on them.
export const P = {
  arbitrage: 0.85,
  faultPlanStart: 0.05,
  bothDegraded: 0.2,
  dropPending: 0.12,
  crashBetweenTicks: 0.004,
  armFailpoint: 0.008,
  staleStart: 0.004,
  jump: 0.006,
} as const;
export const FAULT_PLAN_BLOCKS = [3, 25] as const;
export const STALE_BLOCKS = [3, 12] as const;
export const FAILPOINT_ARMED_BLOCKS = 50;
/** The keeper's RPC time-out; a "timeout" plan delays past it. */
export const TIMEOUT_MS = 2000;

export const FAILPOINTS: readonly SendStep[] = ["before-sign", "after-journal", "after-broadcast", "after-mined"];
export type CrashKind = SendStep | "between-ticks";
export type PlanKind = "drop" | "delay" | "timeout" | "http5xx" | "malformed" | "down" | "mixed";

/** A crash injected at a failpoint: thrown inside the keeper, caught by the soak, never a keeper error. */
export class SimulatedCrash extends Error {
  override name = "SimulatedCrash";
}

/** `u` in [0, 1) mapped to [lo, hi). */
export const uniform = (lo: number, hi: number, u: number) => lo + (hi - lo) * u;
/** `u` in [0, 1) mapped to an integer of `range`, both ends included. */
export const intIn = (range: readonly [number, number], u: number) => range[0] + Math.floor(u * (range[1] - range[0] + 1));

/** One block's uniforms, drawn whether or not each is used. */
export function drawBlock(rng: () => number) {
  return {
    planStart: rng(), planA: rng(), bothDegraded: rng(), planB: rng(), planLength: rng(),
    drop: rng(), arm: rng(), armStep: rng(), crash: rng(),
    z1: rng(), z2: rng(), jump: rng(), jumpSign: rng(), jumpSize: rng(),
    stale: rng(), staleLength: rng(), arbitrage: rng(),
  };
}

/** A proxy fault plan from its own stream, seeded by one of the block's draws; `light` for the fallback proxy. */
export function pickPlan(light: boolean, u: number): { kind: PlanKind; plan: FaultPlan } {
  const seed = Math.floor(u * 2 ** 32);
  const rng = mulberry32(seed ^ 0x5eed);
  const scale = light ? 0.4 : 1;
  const kinds: PlanKind[] = light ? ["drop", "delay", "http5xx", "malformed"] : ["drop", "delay", "timeout", "http5xx", "malformed", "down", "mixed"];
  const kind = kinds[Math.floor(rng() * kinds.length)]!;
  const p = () => uniform(0.1, 0.5, rng()) * scale;
  switch (kind) {
    case "drop":
      return { kind, plan: { drop: p(), seed } };
    case "delay":
      return { kind, plan: { delay: { p: uniform(0.2, 0.6, rng()), ms: [20, 100, 400][Math.floor(rng() * 3)]! }, seed } };
    case "timeout": // longer than the client's time-out: the request still reaches the node, late
      return { kind, plan: { delay: { p: uniform(0.1, 0.3, rng()), ms: TIMEOUT_MS + 500 }, seed } };
    case "http5xx":
      return { kind, plan: { http5xx: p(), seed } };
    case "malformed":
      return { kind, plan: { malformed: p(), seed } };
    case "down":
      return { kind, plan: { down: true, seed } };
    case "mixed":
      return { kind, plan: { drop: p() / 3, http5xx: p() / 3, malformed: p() / 3, delay: { p: 0.2, ms: 50 }, seed } };
  }
}
