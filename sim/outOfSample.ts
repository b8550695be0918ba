/**
 * Policies chosen out of sample (issue 15): each policy family's parameter is tuned on training scenarios, then
 * every family is scored on held-out scenarios it never saw, against the best policy chosen after the fact.
 *
 *   - The objective is the mean-variance cost J = mean total cost + (γ/2)·σ² (`meanVarianceCost`), γ the
 *     scenario's risk aversion.
 *   - A family's parameter is its sweep position: the sweeps are multiples of each scenario's own per-block delta
 *     move (bands, caps, minimum trades), or fixed ladders (γ, intervals, delays, moves), so position i means the
 *     same setting in every scenario.
 *   - Tuning picks, per family, the position minimising the mean over training scenarios of J / J*, J* the
 *     scenario's ex-post best (so each scenario weighs the same whatever its scale).
 *   - Regret on a held-out scenario: J(tuned) / J* − 1.
 *   - The issue's two targets, per held-out scenario: gas-aware (tuned) against the ex-post Pareto frontier, its
 *     cost over the frontier's cost at its own hedge error; and against the tuned band-to-zero, the saving of
 *     gas-aware's cost curve at the band's hedge error.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SimOptions } from "./cli.ts";
import { loadGasModel } from "./gas.ts";
import { buildInputs } from "./run.ts";
import { costAtHedgeError, familyCurve, meanVarianceCost } from "./report.ts";
import { defaultPoints } from "./scenario.ts";
import { paretoFrontier, summarize } from "./stats.ts";
import { frontierSvg, regretSvg, type RegretRow } from "./svg.ts";
import { sweepModel } from "./sweep.ts";
import type { PointSummary, PolicyFamily } from "./types.ts";

export interface StudyScenario {
  name: string;
  /** The options that make this scenario, over the run's own. */
  overrides: Partial<SimOptions>;
}

/**
 * Training: the simulator's default market at three gas settings and volatilities. Held out: markets none of
 * them has — regime-switching volatility, mainnet base fees replayed, jumps at a high constant gas price.
 */
export const DEFAULT_STUDY: { train: StudyScenario[]; test: StudyScenario[] } = {
  train: [
    { name: "GBM σ 0.8, gas 20 gwei", overrides: {} },
    { name: "GBM σ 0.5, EIP-1559 gas", overrides: { vol: 0.5, gas: "process" } },
    { name: "jumps, gas 5 gwei", overrides: { source: "jump", gasGwei: 5 } },
  ],
  test: [
    { name: "regimes σ 0.5/1.2, EIP-1559 gas", overrides: { source: "regime", gas: "process" } },
    { name: "GBM σ 1.0, mainnet gas replayed", overrides: { vol: 1.0, gas: "replay" } },
    { name: "jumps, gas 60 gwei", overrides: { source: "jump", gasGwei: 60 } },
    { name: "rollup gas, buyers along the path", overrides: { gas: "l2", flow: [0.02, 5, 100] } },
  ],
};

/** One scenario's sweep: its summaries in `defaultPoints` order and its γ. */
export interface ScenarioResult {
  name: string;
  riskAversion: number;
  summaries: PointSummary[];
}

/** A family's tuned sweep position and its training score (mean J / J*). */
export interface Tuned {
  family: PolicyFamily;
  position: number;
  trainScore: number;
}

export interface HeldOut {
  scenario: string;
  /** Ex-post best point (any family) and its J. */
  best: { label: string; objective: number };
  /** Per family: the tuned point here and its regret. */
  regret: { family: PolicyFamily; label: string; regret: number }[];
  /** Gas-aware (tuned) cost over the ex-post frontier's cost at its hedge error, − 1; undefined off the frontier's range. */
  gasAwareGap: number | undefined;
  /** 1 − gas-aware curve's cost / tuned band-to-zero's cost, at the band's hedge error; undefined off the curve. */
  savingVsTunedBand: number | undefined;
}

export interface StudyResult {
  tuned: Tuned[];
  heldOut: HeldOut[];
  /** Mean of `savingVsTunedBand` over the held-out scenarios where it is defined. */
  meanSaving: number | undefined;
  /** Largest `gasAwareGap`. */
  worstGap: number | undefined;
}

/** Each point's position within its family, in sweep order. */
function positions(summaries: readonly PointSummary[]): number[] {
  const seen = new Map<string, number>();
  return summaries.map((s) => {
    const i = seen.get(s.point.family) ?? 0;
    seen.set(s.point.family, i + 1);
    return i;
  });
}

function pointAt(result: ScenarioResult, family: PolicyFamily, position: number): PointSummary {
  const pos = positions(result.summaries);
  const k = result.summaries.findIndex((s, j) => s.point.family === family && pos[j] === position);
  if (k < 0) throw new Error(`${result.name}: no ${family} point at sweep position ${position}`);
  return result.summaries[k]!;
}

function bestObjective(result: ScenarioResult): { label: string; objective: number } {
  let best = { label: "", objective: Number.POSITIVE_INFINITY };
  for (const s of result.summaries) {
    const j = meanVarianceCost(s, result.riskAversion);
    if (j < best.objective) best = { label: s.point.label, objective: j };
  }
  return best;
}

/** Tunes every family on `train` and scores it on `test` (pure: the sweeps are done). */
export function analyseStudy(train: readonly ScenarioResult[], test: readonly ScenarioResult[]): StudyResult {
  if (train.length === 0 || test.length === 0) throw new Error("a study needs training and held-out scenarios");
  const families = [...new Set(train[0]!.summaries.map((s) => s.point.family))];
  const tuned: Tuned[] = families.map((family) => {
    const count = train[0]!.summaries.filter((s) => s.point.family === family).length;
    let pick: Tuned = { family, position: 0, trainScore: Number.POSITIVE_INFINITY };
    for (let position = 0; position < count; position++) {
      const score =
        train.reduce((sum, r) => sum + meanVarianceCost(pointAt(r, family, position), r.riskAversion) / bestObjective(r).objective, 0) /
        train.length;
      if (score < pick.trainScore) pick = { family, position, trainScore: score };
    }
    return pick;
  });
  const heldOut: HeldOut[] = test.map((r) => {
    const best = bestObjective(r);
    const regret = tuned.map((t) => {
      const s = pointAt(r, t.family, t.position);
      return { family: t.family, label: s.point.label, regret: meanVarianceCost(s, r.riskAversion) / best.objective - 1 };
    });
    const gasAware = tuned.find((t) => t.family === "gas-aware");
    const band = tuned.find((t) => t.family === "band-zero");
    let gasAwareGap: number | undefined;
    let savingVsTunedBand: number | undefined;
    if (gasAware !== undefined) {
      const g = pointAt(r, "gas-aware", gasAware.position);
      const frontier = paretoFrontier(r.summaries).sort((a, b) => a.pnlStd - b.pnlStd);
      const frontierCost = costAtHedgeError(frontier, g.pnlStd);
      if (frontierCost !== undefined && frontierCost > 0) gasAwareGap = g.meanTotalCost / frontierCost - 1;
      if (band !== undefined) {
        const b = pointAt(r, "band-zero", band.position);
        const gaCost = costAtHedgeError(familyCurve(r.summaries, "gas-aware"), b.pnlStd);
        if (gaCost !== undefined && b.meanTotalCost > 0) savingVsTunedBand = 1 - gaCost / b.meanTotalCost;
      }
    }
    return { scenario: r.name, best, regret, gasAwareGap, savingVsTunedBand };
  });
  const savings = heldOut.map((h) => h.savingVsTunedBand).filter((x): x is number => x !== undefined);
  const gaps = heldOut.map((h) => h.gasAwareGap).filter((x): x is number => x !== undefined);
  return {
    tuned,
    heldOut,
    meanSaving: savings.length > 0 ? savings.reduce((a, b) => a + b, 0) / savings.length : undefined,
    worstGap: gaps.length > 0 ? Math.max(...gaps) : undefined,
  };
}

/** Runs every scenario's model sweep (the run's options, each scenario's overrides on top). */
export async function runStudy(
  o: SimOptions,
  study: { train: readonly StudyScenario[]; test: readonly StudyScenario[] } = DEFAULT_STUDY,
  io: { log: (line: string) => void } = { log: () => {} },
): Promise<{ train: ScenarioResult[]; test: ScenarioResult[]; analysis: StudyResult; files: string[] }> {
  const gas = loadGasModel();
  const sweep = async (sc: StudyScenario): Promise<ScenarioResult> => {
    const { scenario, paths } = buildInputs({ ...o, ...sc.overrides });
    const points = defaultPoints(scenario).filter((p) => o.families.includes(p.family));
    const started = performance.now();
    const byPoint = await sweepModel({ scenario, points, paths, gas, ...(o.workers === undefined ? {} : { workers: o.workers }) });
    io.log(`study: ${sc.name}: ${points.length * paths.length} runs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return { name: sc.name, riskAversion: scenario.riskAversion, summaries: points.map((p, k) => summarize(p, byPoint[k]!)) };
  };
  const train: ScenarioResult[] = [];
  for (const sc of study.train) train.push(await sweep(sc));
  const test: ScenarioResult[] = [];
  for (const sc of study.test) test.push(await sweep(sc));
  const analysis = analyseStudy(train, test);
  const files = writeStudy(o.out, train, test, analysis);
  return { train, test, analysis, files };
}

const pct = (x: number | undefined) => (x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

function writeStudy(dir: string, train: ScenarioResult[], test: ScenarioResult[], a: StudyResult): string[] {
  mkdirSync(dir, { recursive: true });
  const families = a.tuned.map((t) => t.family);
  const lines = [
    "# Policies chosen out of sample",
    "",
    `Each family's parameter is tuned on ${train.length} training scenarios (${train.map((r) => r.name).join("; ")}) by the mean of J / J*, ` +
      "J = mean total cost + (γ/2)·σ² and J* the scenario's best point, then scored on held-out scenarios it never saw. " +
      "Regret: J(tuned) / J* − 1, J* the best point of that scenario chosen after the fact.",
    "",
    "## Tuned on the training scenarios",
    "",
    "| family | position in sweep | training score (mean J / J*) | on the first training scenario |",
    "| --- | ---: | ---: | --- |",
    ...a.tuned.map((t) => `| ${t.family} | ${t.position} | ${t.trainScore.toFixed(3)} | ${pointAt(train[0]!, t.family, t.position).point.label} |`),
    "",
    "## Regret on the held-out scenarios",
    "",
    `| family | ${test.map((r) => r.name).join(" | ")} |`,
    `| --- | ${test.map(() => "---:").join(" | ")} |`,
    ...families.map(
      (f) => `| ${f} | ${a.heldOut.map((h) => { const r = h.regret.find((x) => x.family === f)!; return `${pct(r.regret)} (${r.label})`; }).join(" | ")} |`,
    ),
    `| ex-post best | ${a.heldOut.map((h) => h.best.label).join(" | ")} |`,
    "",
    "![Regret by policy on the held-out scenarios](regret.svg)",
    "",
    "## Gas-aware against the targets",
    "",
    "| held-out scenario | gas-aware over the ex-post frontier at its hedge error (target ≤ 5%) | saving against the tuned band at the band's hedge error |",
    "| --- | ---: | ---: |",
    ...a.heldOut.map((h) => `| ${h.scenario} | ${pct(h.gasAwareGap)} | ${pct(h.savingVsTunedBand)} |`),
    "",
    `Worst gap to the frontier: ${pct(a.worstGap)} (target ≤ 5% in every held-out scenario). Mean saving against the tuned band: ${pct(a.meanSaving)} (target ≥ 20%).`,
    "",
    "## Frontiers",
    "",
    ...[...train, ...test].map((r) => `- ${r.name}: [frontier-${slug(r.name)}.svg](frontier-${slug(r.name)}.svg)`),
    "",
  ];
  const files: string[] = [];
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    files.push(path);
  };
  write("out-of-sample.md", lines.join("\n"));
  write("out-of-sample.json", `${JSON.stringify({ train, test, analysis: a }, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
  for (const r of [...train, ...test]) write(`frontier-${slug(r.name)}.svg`, frontierSvg(r.summaries, { title: r.name }));
  const regretRows: RegretRow[] = families.map((family) => ({
    family,
    values: a.heldOut.map((h) => ({ scenario: h.scenario, regret: h.regret.find((x) => x.family === family)!.regret })),
  }));
  write("regret.svg", regretSvg(regretRows, { title: "Regret by policy, tuned on training scenarios, on held-out ones" }));
  return files;
}
