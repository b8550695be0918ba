/**
 * Synthetic vault plans and hedge outcomes for the status board at scale (its benchmark and the 100-vault page
 * test): each vault's delta a seeded random walk against a ±0.5 band and a ±2 hard limit, the price a slow wave.
 * Only the fields the board reads are filled.
 */
import type { Address, Hash } from "viem";
import type { HedgeOutcome } from "../keeper/execution/pending.ts";
import type { VaultPlan } from "../keeper/tick.ts";
import { mulberry32 } from "./random.ts";

export function syntheticVaults(count: number, seed: number) {
  const rand = mulberry32(seed);
  const deltas = new Float64Array(count);
  const planOf = (vault: Address, k: number, block: number, stale = false): VaultPlan => {
    deltas[k] = deltas[k]! + (rand() - 0.5) * 0.2;
    const delta = deltas[k]!;
    const spot = 3000 + 100 * Math.sin(block / 500);
    return {
      vault,
      snapshot: {
        spotWad: BigInt(Math.round(spot * 1e8)) * 10n ** 10n,
        oracleFresh: !stale,
        oracleStatus: stale ? "Stale" : "Usable",
        oracleAgeSeconds: stale ? 4000n : 12n,
        paused: false,
        lastRebalanceBlock: BigInt(block - (block % 50)),
        quoteDecimals: 6,
        underlyingDecimals: 18,
      },
      view: { delta, onChainBand: 0.5 },
      decision:
        Math.abs(delta) > 0.5
          ? { kind: "rebalance", targetDelta: 0, target: "zero", reason: "band: |delta| > band 0.5, hedge to zero", band: 0.5 }
          : { kind: "hold", cause: "policy", reason: "band: |delta| ≤ band 0.5", band: 0.5 },
      maxAbsDelta: 2,
      pending: false,
    } as unknown as VaultPlan;
  };
  const hedgeOf = (vault: Address, block: number): HedgeOutcome =>
    ({
      kind: "mined",
      sent: { vault, hash: `0x${block.toString(16).padStart(64, "0")}` as Hash, nonce: block, gasLimit: 600_000n, fees: {} as never, decidedAtBlock: BigInt(block - 1) },
      receipt: { gasUsed: 145_000n, effectiveGasPrice: 10n ** 9n, blockNumber: BigInt(block), logs: [] } as never,
    }) as HedgeOutcome;
  return { planOf, hedgeOf };
}
