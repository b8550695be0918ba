/**
 * Gas that moves (sim/gasPrice.ts): EIP-1559's rule against the real series it must reproduce to the wei, the
 * process against that rule and against the real series' statistics, and the replay and tip paths.
 */
import { describe, expect, it } from "vitest";
import {
  eip1559Series,
  gasPath,
  gasStats,
  MAINNET_2021_PROCESS,
  nextBaseFee,
  readBaseFeeCsv,
  REPLAY_WARMUP_BLOCKS,
} from "../../sim/gasPrice.ts";

const FILE = new URL("../../data/base-fee.csv", import.meta.url).pathname;
const rows = readBaseFeeCsv(FILE);

describe("EIP-1559's base-fee rule", () => {
  it("reproduces every base fee of the real series (35,000 mainnet blocks) from its parent, to the wei", () => {
    expect(rows.length).toBeGreaterThanOrEqual(10_000);
    let matches = 0;
    for (let i = 1; i < rows.length; i++) {
      const parent = rows[i - 1]!;
      if (nextBaseFee(parent.baseFeeWei, parent.gasUsed, parent.gasLimit) === rows[i]!.baseFeeWei) matches++;
    }
    expect(matches).toBe(rows.length - 1);
  });

  it("moves at most 12.5% a block: a full block raises the fee by an eighth, an empty one lowers it by an eighth", () => {
    expect(nextBaseFee(8_000n, 30_000_000n, 30_000_000n)).toBe(9_000n);
    expect(nextBaseFee(8_000n, 0n, 30_000_000n)).toBe(7_000n);
    expect(nextBaseFee(8_000n, 15_000_000n, 30_000_000n)).toBe(8_000n);
    expect(nextBaseFee(7n, 15_000_001n, 30_000_000n)).toBe(8n); // at least 1 wei up above the target
  });
});

describe("the eip1559 process", () => {
  const n = rows.length - REPLAY_WARMUP_BLOCKS;
  const real = gasStats(
    rows.slice(REPLAY_WARMUP_BLOCKS).map((r) => Number(r.baseFeeWei)),
    rows.slice(REPLAY_WARMUP_BLOCKS).map((r) => Number(r.gasUsed) / Number(r.gasLimit / 2n)),
  );
  const runs = [1, 2, 3].map((seed) => {
    const s = eip1559Series(MAINNET_2021_PROCESS, n, seed);
    return { ...s, stats: gasStats(s.baseFeeWei, s.fullness) };
  });
  const avg = (f: (s: ReturnType<typeof gasStats>) => number) => runs.reduce((a, r) => a + f(r.stats), 0) / runs.length;

  it("follows the EIP-1559 rule: every block's fee is its parent's times 1 + (u − 1)/8, within ±12.5%", () => {
    for (const { baseFeeWei, fullness } of runs) {
      for (let i = 1; i < baseFeeWei.length; i++) {
        const ratio = baseFeeWei[i]! / baseFeeWei[i - 1]!;
        expect(Math.abs(ratio - (1 + (fullness[i - 1]! - 1) / 8))).toBeLessThan(1e-9);
        expect(fullness[i - 1]! >= 0 && fullness[i - 1]! <= 2).toBe(true);
      }
    }
  });

  it("matches the real series' statistics (mean of three seeds): level, per-block moves, full blocks, alternation, drift over 25–1,800 blocks", () => {
    const report = JSON.stringify({ real, process: runs.map((r) => r.stats) });
    expect(Math.abs(Math.log(avg((s) => s.medianGwei) / real.medianGwei)), report).toBeLessThan(0.25);
    expect(Math.abs(avg((s) => s.perBlockLogSd) / real.perBlockLogSd - 1), report).toBeLessThan(0.15);
    expect(Math.abs(avg((s) => s.fullShare) - real.fullShare), report).toBeLessThan(0.03);
    expect(Math.abs(avg((s) => s.fullnessLag1) - real.fullnessLag1), report).toBeLessThan(0.06);
    for (const h of [25, 300, 1800] as const) {
      expect(Math.abs(avg((s) => s.horizonLogSd[h]) / real.horizonLogSd[h] - 1), `${h} blocks: ${report}`).toBeLessThan(0.3);
    }
  });

  it("has spikes: the base fee at least triples within 300 blocks somewhere, as the real series does", () => {
    const tripled = (fees: ArrayLike<number>) => {
      for (let i = 0; i + 300 < fees.length; i += 50) {
        let max = 0;
        for (let j = i; j <= i + 300; j++) max = Math.max(max, fees[j]!);
        if (max >= 3 * fees[i]!) return true;
      }
      return false;
    };
    expect(tripled(rows.slice(REPLAY_WARMUP_BLOCKS).map((r) => Number(r.baseFeeWei)))).toBe(true);
    expect(runs.some((r) => tripled(r.baseFeeWei))).toBe(true);
  });

  it("is the same for a (seed, path) whatever else runs, and differs between paths", () => {
    const a = gasPath({ kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, { steps: 500, seed: 9, path: 4 });
    const b = gasPath({ kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, { steps: 500, seed: 9, path: 4 });
    const c = gasPath({ kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, { steps: 500, seed: 9, path: 5 });
    expect(a.baseFeeWei).toEqual(b.baseFeeWei);
    expect(a.tipWei).toEqual(b.tipWei);
    expect(a.baseFeeWei).not.toEqual(c.baseFeeWei);
  });
});

describe("replayed and constant gas", () => {
  it("a replay window is consecutive real blocks after the warm-up, each path elsewhere in the series", () => {
    const starts = new Set<number>();
    for (const path of [0, 1, 2, 3]) {
      const g = gasPath({ kind: "replay", file: FILE, tipGwei: 1 }, { steps: 1_000, seed: 1, path });
      const start = rows.findIndex((r) => Number(r.baseFeeWei) === g.baseFeeWei[0] && Number(rows[rows.indexOf(r) + 1]?.baseFeeWei) === g.baseFeeWei[1]);
      expect(start).toBeGreaterThanOrEqual(REPLAY_WARMUP_BLOCKS);
      for (let i = 0; i <= 1_000; i++) expect(g.baseFeeWei[i]).toBe(Number(rows[start + i]!.baseFeeWei));
      starts.add(start);
    }
    expect(starts.size).toBe(4);
  });

  it("constant gas is flat; tips are positive with a median near tipGwei outside full blocks", () => {
    const flat = gasPath({ kind: "constant", gwei: 20, tipGwei: 1 }, { steps: 100, seed: 1, path: 0 });
    expect(new Set(flat.baseFeeWei).size).toBe(1);
    expect(flat.baseFeeWei[0]).toBe(20e9);
    const g = gasPath({ kind: "eip1559", tipGwei: 1.5, ...MAINNET_2021_PROCESS }, { steps: 20_000, seed: 2, path: 0 });
    const tips = [...g.tipWei].sort((x, y) => x - y);
    expect(tips[0]!).toBeGreaterThan(0);
    const median = tips[Math.floor(tips.length / 2)]! / 1e9;
    expect(median).toBeGreaterThan(1.2);
    expect(median).toBeLessThan(2.4);
  });

  it("rejects a malformed series and a process parameter out of range with a message naming it", () => {
    expect(() => gasPath({ kind: "eip1559", tipGwei: 1, ...MAINNET_2021_PROCESS, response: -1 }, { steps: 10, seed: 1, path: 0 })).toThrow(/response/);
    expect(() => gasPath({ kind: "replay", file: FILE, tipGwei: 1 }, { steps: rows.length, seed: 1, path: 0 })).toThrow(/too few/);
    expect(() => readBaseFeeCsv(new URL("../../data/eth-usd.csv", import.meta.url).pathname)).toThrow(/header/);
  });
});
