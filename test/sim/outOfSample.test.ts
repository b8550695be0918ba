/**
 * Policies chosen out of sample (sim/outOfSample.ts): tuning on training scenarios by the mean of J / J*, regret on
 * held-out ones against the ex-post best, and the two gas-aware measures — on hand-made summaries whose
 * answers are known, then one small real study end to end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSimArgs } from "../../sim/cli.ts";
import { analyseStudy, runStudy, type ScenarioResult } from "../../sim/outOfSample.ts";
import type { PointSummary, PolicyFamily } from "../../sim/types.ts";

/** A summary at (cost, σ) with the fields the study reads. */
function summary(family: PolicyFamily, label: string, meanTotalCost: number, pnlStd: number): PointSummary {
  return {
    point: { family, label, paramName: "p", param: 1, paramUnit: "", policy: { name: "gas-aware" }, prefs: { riskAversion: 1e-4, horizonSeconds: 3600 } },
    meanTotalCost,
    pnlStd,
  } as PointSummary;
}

/** γ = 0.02: J = cost + 0.01·σ². Bands at σ 10/20/40, gas-aware at σ 10/20/40 (cheaper in "gas-heavy" scenarios). */
function scenario(name: string, bandCosts: [number, number, number], gasAwareCosts: [number, number, number]): ScenarioResult {
  const sigmas = [10, 20, 40] as const;
  return {
    name,
    riskAversion: 0.02,
    summaries: [
      ...sigmas.map((s, i) => summary("band-zero", `band ${i}`, bandCosts[i]!, s)),
      ...sigmas.map((s, i) => summary("gas-aware", `gas-aware ${i}`, gasAwareCosts[i]!, s)),
    ],
  };
}

describe("analyseStudy", () => {
  // Training: J for band = [100+1, 40+4, 10+16] = [101, 44, 26] → position 2 best; gas-aware [91, 40, 25] → 2.
  const train = [scenario("t1", [100, 40, 10], [90, 36, 9]), scenario("t2", [100, 40, 10], [90, 36, 9])];
  // Held out: band J = [101, 44, 26]; gas-aware J = [51, 24, 21] → best is gas-aware 2 (J* = 21).
  const test = [scenario("h1", [100, 40, 10], [50, 20, 5])];
  const a = analyseStudy(train, test);

  it("tunes each family on the training scenarios by the mean of J / J*", () => {
    expect(a.tuned.map((t) => [t.family, t.position])).toEqual([
      ["band-zero", 2],
      ["gas-aware", 2],
    ]);
    expect(a.tuned.find((t) => t.family === "gas-aware")!.trainScore).toBeCloseTo(1, 12);
    expect(a.tuned.find((t) => t.family === "band-zero")!.trainScore).toBeCloseTo(26 / 25, 12);
  });

  it("scores the tuned points on held-out scenarios: regret J / J* − 1 against the ex-post best", () => {
    const h = a.heldOut[0]!;
    expect(h.best).toEqual({ label: "gas-aware 2", objective: 21 });
    expect(h.regret.find((r) => r.family === "band-zero")!.regret).toBeCloseTo(26 / 21 - 1, 12);
    expect(h.regret.find((r) => r.family === "gas-aware")!.regret).toBeCloseTo(0, 12);
  });

  it("measures gas-aware against the frontier at its hedge error and against the tuned band at the band's", () => {
    const h = a.heldOut[0]!;
    expect(h.gasAwareGap).toBeCloseTo(0, 12); // gas-aware is the frontier here
    expect(h.savingVsTunedBand).toBeCloseTo(1 - 5 / 10, 12); // both at σ 40: 5 against 10
    expect(a.meanSaving).toBeCloseTo(0.5, 12);
    expect(a.worstGap).toBeCloseTo(0, 12);
  });

  it("refuses a study without training or held-out scenarios", () => {
    expect(() => analyseStudy([], test)).toThrow(/training and held-out/);
  });
});

describe("--study out-of-sample, end to end on a small sweep", () => {
  const dir = mkdtempSync(join(tmpdir(), "sim-study-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("sweeps every scenario, writes the regret tables and one frontier per scenario", async () => {
    const parsed = parseSimArgs(["--mode", "model", "--study", "out-of-sample", "--paths", "2", "--steps", "60", "--policies", "band-zero,gas-aware", "--workers", "1", "--out", dir]);
    if (parsed.help) throw new Error("unexpected --help");
    const study = await runStudy(parsed.options, {
      train: [
        { name: "train gbm", overrides: {} },
        { name: "train process gas", overrides: { gas: "process" } },
      ],
      test: [{ name: "held-out regimes", overrides: { source: "regime" } }],
    });
    expect(study.analysis.tuned.map((t) => t.family)).toEqual(["band-zero", "gas-aware"]);
    expect(study.analysis.heldOut).toHaveLength(1);
    for (const r of study.analysis.heldOut[0]!.regret) expect(r.regret).toBeGreaterThanOrEqual(0);
    const md = readFileSync(join(dir, "out-of-sample.md"), "utf8");
    expect(md).toMatch(/## Regret on the held-out scenarios/);
    expect(md).toMatch(/held-out regimes/);
    for (const name of ["train-gbm", "train-process-gas", "held-out-regimes"]) expect(existsSync(join(dir, `frontier-${name}.svg`))).toBe(true);
    expect(() => parseSimArgs(["--study", "out-of-sample"])).toThrow(/--study: needs --mode model/);
  });
});
