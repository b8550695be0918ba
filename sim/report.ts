/**
 * What the simulator concludes from its summaries: the Pareto frontier of hedge error against cost, each family's
 * own cost curve, the best fixed band under a mean-variance objective and what gas-aware saves at that band's hedge
 * error; and the files that say so (points.csv, results.json, report.md, frontier.svg).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compareNumbers, dominates, isOnFrontier, paretoFrontier } from "./stats.ts";
import { frontierSvg, regretSvg, type RegretRow } from "./svg.ts";
import { POLICY_FAMILIES, type PointSummary, type PolicyFamily } from "./types.ts";

export { dominates, isOnFrontier, paretoFrontier };

/** The families whose points are fixed bands: the yardstick gas-aware is measured against. */
export const BAND_FAMILIES = ["band-zero", "band-edge"] as const satisfies readonly PolicyFamily[];
/** Gas-aware must cost at least this much less than the best fixed band at the same hedge error. */
export const SAVING_TARGET = 0.2;

/**
 * A family's cost curve: its own Pareto frontier (a sweep need not be monotone, and a point of the family that
 * another of its points beats is not a choice anyone would make), ordered by hedge error, so cost falls along it.
 */
export function familyCurve(summaries: readonly PointSummary[], family: PolicyFamily): PointSummary[] {
  return paretoFrontier(summaries.filter((s) => s.point.family === family)).sort(
    (a, b) => compareNumbers(a.pnlStd, b.pnlStd) || compareNumbers(a.meanTotalCost, b.meanTotalCost),
  );
}

/**
 * Mean total cost on a family curve at a given hedge error (σ of P&L, quote), linear between the two neighbouring
 * points; a point at exactly that hedge error gives its own cost. Undefined outside the curve's hedge-error range
 * (no extrapolation) and for an empty curve. Only finite points are used.
 */
export function costAtHedgeError(curve: readonly PointSummary[], hedgeError: number): number | undefined {
  const pts = curve
    .filter((s) => Number.isFinite(s.pnlStd) && Number.isFinite(s.meanTotalCost))
    .sort((a, b) => a.pnlStd - b.pnlStd);
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (first === undefined || last === undefined || !(hedgeError >= first.pnlStd && hedgeError <= last.pnlStd)) {
    return undefined;
  }
  const exact = pts.find((s) => s.pnlStd === hedgeError);
  if (exact !== undefined) return exact.meanTotalCost;
  for (let i = 0; i + 1 < pts.length; i++) {
    const a = pts[i]!;
    const b = pts[i + 1]!;
    if (hedgeError > a.pnlStd && hedgeError < b.pnlStd) {
      const t = (hedgeError - a.pnlStd) / (b.pnlStd - a.pnlStd);
      return a.meanTotalCost + t * (b.meanTotalCost - a.meanTotalCost);
    }
  }
  return undefined;
}

/**
 * The mean-variance objective: mean total cost + (γ/2)·σ², with γ the absolute risk aversion per quote unit and σ
 * the hedge error. For normally distributed P&L under CARA utility this is the certainty-equivalent cost.
 */
export function meanVarianceCost(s: PointSummary, riskAversion: number): number {
  return s.meanTotalCost + (riskAversion / 2) * s.pnlStd ** 2;
}

/**
 * The point of `family` (or of any of several families) minimising `meanVarianceCost`; ties go to the lower hedge
 * error. Undefined when the family has no point with a finite objective.
 */
export function bestPoint(
  summaries: readonly PointSummary[],
  family: PolicyFamily | readonly PolicyFamily[],
  riskAversion: number,
): PointSummary | undefined {
  const families: readonly PolicyFamily[] = typeof family === "string" ? [family] : family;
  let best: PointSummary | undefined;
  let bestCost = Infinity;
  for (const s of summaries) {
    if (!families.includes(s.point.family)) continue;
    const cost = meanVarianceCost(s, riskAversion);
    if (!Number.isFinite(cost)) continue;
    if (best === undefined || cost < bestCost || (cost === bestCost && s.pnlStd < best.pnlStd)) {
      best = s;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * Each family's regret on these paths: its best point's mean-variance cost over the ex-post best policy's (the best
 * point of any family), minus 1. In one run this is in-sample — each family at its best parameter for the very
 * paths it is scored on; `--study out-of-sample` gives the regret of parameters chosen beforehand.
 */
export function familyRegrets(summaries: readonly PointSummary[], riskAversion: number, scenario = "these paths"): RegretRow[] {
  const families = [...new Set(summaries.map((s) => s.point.family))];
  const best = bestPoint(summaries, families, riskAversion);
  if (best === undefined) return [];
  const floor = meanVarianceCost(best, riskAversion);
  return families.map((family) => {
    const own = bestPoint(summaries, family, riskAversion);
    return { family, values: [{ scenario, regret: own === undefined ? Number.NaN : meanVarianceCost(own, riskAversion) / floor - 1 }] };
  });
}

/** 1 − gasAwareCost / bandCost; undefined when either is missing or the band cost nothing (no ratio to take). */
function savingOf(gasAwareCost: number | undefined, bandCost: number): number | undefined {
  return gasAwareCost === undefined || !(bandCost > 0) ? undefined : 1 - gasAwareCost / bandCost;
}

export interface BandSaving {
  band: PointSummary;
  /** Gas-aware's mean total cost at `band.pnlStd`, interpolated on its family curve; undefined out of its range. */
  gasAwareCost: number | undefined;
  /** 1 − gasAwareCost / band.meanTotalCost; undefined when gasAwareCost is, or the band's cost is not positive. */
  saving: number | undefined;
}

export interface BandComparison extends BandSaving {
  riskAversion: number;
  /** saving ≥ SAVING_TARGET (false when there is no saving to compare). */
  meetsTarget: boolean;
  /** At least one gas-aware point lies on the overall Pareto frontier. */
  gasAwareOnFrontier: boolean;
  /** The gas-aware points that some other point (of any family) dominates. */
  gasAwareDominated: PointSummary[];
}

/**
 * The headline comparison: the best fixed band (`bestPoint` over band-zero and band-edge together, at γ =
 * `riskAversion`) against gas-aware at the same hedge error. Undefined when there is no band point to compare to.
 */
export function compareToBestBand(summaries: readonly PointSummary[], riskAversion: number): BandComparison | undefined {
  const band = bestPoint(summaries, BAND_FAMILIES, riskAversion);
  if (band === undefined) return undefined;
  const gasAwareCost = costAtHedgeError(familyCurve(summaries, "gas-aware"), band.pnlStd);
  const saving = savingOf(gasAwareCost, band.meanTotalCost);
  const gasAware = summaries.filter((s) => s.point.family === "gas-aware");
  return {
    riskAversion,
    band,
    gasAwareCost,
    saving,
    meetsTarget: saving !== undefined && saving >= SAVING_TARGET,
    gasAwareOnFrontier: gasAware.some((s) => isOnFrontier(s, summaries)),
    gasAwareDominated: gasAware.filter((s) => summaries.some((o) => o !== s && dominates(o, s))),
  };
}

/** The same saving at every band point's hedge error (band-zero then band-edge, each by hedge error). */
export function compareAllBands(summaries: readonly PointSummary[]): BandSaving[] {
  const curve = familyCurve(summaries, "gas-aware");
  return BAND_FAMILIES.flatMap((family) =>
    summaries
      .filter((s) => s.point.family === family)
      .sort((a, b) => compareNumbers(a.pnlStd, b.pnlStd))
      .map((band) => {
        const gasAwareCost = costAtHedgeError(curve, band.pnlStd);
        return { band, gasAwareCost, saving: savingOf(gasAwareCost, band.meanTotalCost) };
      }),
  );
}

// ——— Files ———

/** One field of one point measured both on the fork and in the model. relDiff = |fork − model| / max(|fork|, |model|). */
export interface AgreementRow {
  label: string;
  field: string;
  fork: number;
  model: number;
  relDiff: number;
}

export interface SimReport {
  title: string;
  /** Scenario and run settings shown at the top of the report (seed, paths, blocks, mode, …). */
  meta: Record<string, string | number | boolean>;
  summaries: PointSummary[];
  /** γ for the best-band comparison, per quote unit. */
  riskAversion: number;
  agreement?: AgreementRow[];
  notes?: string[];
}

type NumericKey = { [K in keyof PointSummary]: PointSummary[K] extends number ? K : never }[keyof PointSummary];

/** Every numeric field of `PointSummary`, in the CSV's column order. */
export const SUMMARY_NUMERIC_FIELDS = [
  "runs",
  "pnlMean",
  "pnlStd",
  "pnlQ01",
  "pnlQ99",
  "meanTotalCost",
  "meanGasCost",
  "meanGasUsed",
  "meanSlippageCost",
  "meanFeeCost",
  "meanFundingCost",
  "meanHedges",
  "meanReverts",
  "meanFeeCapHolds",
  "meanDelayedBlocks",
  "meanL1DataCost",
  "meanVolume",
  "meanTrackingError",
  "shareInBand",
  "maxBudgetUse",
  "netPnlStd",
] as const satisfies readonly NumericKey[];
// Compile-time check that the list is complete: adding a numeric field to PointSummary fails here until it is listed.
const allNumericFieldsListed: [Exclude<NumericKey, (typeof SUMMARY_NUMERIC_FIELDS)[number]>] extends [never] ? true : never =
  true;
void allNumericFieldsListed;

/** An RFC 4180 field: quoted (with quotes doubled) when it holds a comma, a quote or a line break. */
export function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** points.csv: one row per summary, numbers unrounded (shortest round-trip form; non-finite as Infinity / NaN). */
export function pointsCsv(summaries: readonly PointSummary[]): string {
  const header = ["family", "label", "paramName", "param", "paramUnit", ...SUMMARY_NUMERIC_FIELDS, "onFrontier"];
  const rows = summaries.map((s) =>
    [
      s.point.family,
      s.point.label,
      s.point.paramName,
      s.point.param,
      s.point.paramUnit,
      ...SUMMARY_NUMERIC_FIELDS.map((k) => s[k]),
      isOnFrontier(s, summaries),
    ]
      .map(csvField)
      .join(","),
  );
  return [header.join(","), ...rows].join("\r\n") + "\r\n";
}

/**
 * JSON.stringify writes Infinity and NaN as null, which would read back as "zero cost" or "no data"; write them as
 * the strings "Infinity", "-Infinity" and "NaN" instead (and bigints as decimal strings).
 */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** results.json's content (without the non-finite encoding, which `writeReport` applies). */
export function reportJson(report: SimReport): Record<string, unknown> {
  return {
    title: report.title,
    meta: report.meta,
    riskAversion: report.riskAversion,
    numberEncoding: 'non-finite numbers are written as the strings "Infinity", "-Infinity" and "NaN"',
    summaries: report.summaries,
    frontier: paretoFrontier(report.summaries).map((s) => s.point.label),
    comparison: compareToBestBand(report.summaries, report.riskAversion) ?? null,
    bandSavings: compareAllBands(report.summaries),
    agreement: report.agreement ?? [],
    notes: report.notes ?? [],
  };
}

// Markdown formatting: money to the cent, gas as whole units, shares to 0.1%, all with thousands separators.
const formats = new Map<number, Intl.NumberFormat>();
function fixed(x: number, decimals: number): string {
  if (Number.isNaN(x)) return "—";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  let fmt = formats.get(decimals);
  if (fmt === undefined) {
    fmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    formats.set(decimals, fmt);
  }
  return fmt.format(x);
}
const money = (x: number) => fixed(x, 2);
const gas = (x: number) => fixed(x, 0);
const count = (x: number) => fixed(x, 1);
const percent = (share: number) => (Number.isFinite(share) ? `${fixed(share * 100, 1)}%` : fixed(share, 1));
/** A number as written, to 6 significant digits (parameters, γ, agreement values). */
const sig = (x: number) => (Number.isFinite(x) ? String(Number(x.toPrecision(6))) : fixed(x, 0));
const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("\n", " ");

function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ("l" | "r")[]): string {
  const rule = header.map((_, i) => (align?.[i] === "r" ? "---:" : "---"));
  return [header, rule, ...rows].map((r) => `| ${r.map(cell).join(" | ")} |`).join("\n");
}

function familiesInOrder(summaries: readonly PointSummary[]): string[] {
  const present = new Set<string>(summaries.map((s) => s.point.family));
  return [...POLICY_FAMILIES.filter((f) => present.has(f)), ...[...present].filter((f) => !(POLICY_FAMILIES as readonly string[]).includes(f))];
}

function pointsSection(summaries: readonly PointSummary[]): string {
  const header = [
    "policy",
    "parameter",
    "hedge error σ(P&L)",
    "P&L 1% / 99%",
    "total cost",
    "gas cost",
    "gas used",
    "fees",
    "price impact",
    "funding",
    "hedges",
    "reverts",
    "held by fee cap",
    "delayed (blocks)",
    "in band %",
    "budget used (peak)",
    "on frontier",
  ];
  const align = ["l", "l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"] as const;
  const parts = [
    "## Points",
    "",
    "Means per path over the runs; money in quote units. Total cost = gas + fees + price impact + funding: what " +
      "trades paid beyond the oracle is split into fees (the AMM's, the perp's order fees) and price impact (the " +
      "AMM's curve, the perp's skew premium); funding is what a perp position paid (received: negative). Budget " +
      "used: the fullest the vault's hedging budget (notional or slippage per window) got on any path; at 100% it " +
      "shrank or refused hedges. Held by fee cap: hedges the keeper did not send because the base fee was above its " +
      "MAX_FEE_GWEI (moving gas only); it decides again the next block. Delayed: blocks a sent hedge waited because a " +
      "full block took only higher tips (it is re-bid FEE_BUMP_PERCENT higher every REPLACE_AFTER_BLOCKS, as the keeper " +
      "replaces a stuck hedge). On a rollup profile (--gas l2) gas includes " +
      "each transaction's L1 data fee, shown apart.",
  ];
  for (const family of familiesInOrder(summaries)) {
    const rows = summaries
      .filter((s) => s.point.family === family)
      .map((s) => [
        s.point.label,
        `${s.point.paramName} = ${sig(s.point.param)}${s.point.paramUnit ? ` ${s.point.paramUnit}` : ""}`,
        money(s.pnlStd),
        `${money(s.pnlQ01)} / ${money(s.pnlQ99)}`,
        money(s.meanTotalCost),
        s.meanL1DataCost > 0 ? `${money(s.meanGasCost)} (L1 data ${money(s.meanL1DataCost)})` : money(s.meanGasCost),
        gas(s.meanGasUsed),
        money(s.meanFeeCost),
        money(s.meanSlippageCost - s.meanFeeCost),
        money(s.meanFundingCost),
        count(s.meanHedges),
        count(s.meanReverts),
        count(s.meanFeeCapHolds),
        count(s.meanDelayedBlocks),
        percent(s.shareInBand),
        percent(s.maxBudgetUse),
        isOnFrontier(s, summaries) ? "✓" : "",
      ]);
    parts.push("", `### ${family}`, "", table(header, rows, align));
  }
  return parts.join("\n");
}

function comparisonSection(summaries: readonly PointSummary[], riskAversion: number): string {
  const c = compareToBestBand(summaries, riskAversion);
  const parts = ["## Gas-aware against the best fixed band", ""];
  if (c === undefined) {
    parts.push("No band-zero or band-edge points were run, so there is no fixed band to compare gas-aware with.");
    return parts.join("\n");
  }
  const target = `${fixed(SAVING_TARGET * 100, 0)}%`;
  let verdict: string;
  if (c.gasAwareCost === undefined) {
    const curve = familyCurve(summaries, "gas-aware");
    verdict =
      curve.length === 0
        ? `No gas-aware points were run, so the ${target} target cannot be checked.`
        : `Gas-aware's curve does not reach that hedge error (its hedge error spans ${money(curve[0]!.pnlStd)}–` +
          `${money(curve[curve.length - 1]!.pnlStd)}), so there is no saving to report: the ${target} target is **not shown to be met**.`;
  } else if (c.saving === undefined) {
    verdict = `Gas-aware costs ${money(c.gasAwareCost)} at that hedge error; the band costs nothing, so no saving ratio exists.`;
  } else {
    verdict =
      `Gas-aware costs ${money(c.gasAwareCost)} at that hedge error (interpolated on its own Pareto curve): a saving of ` +
      `**${fixed(c.saving * 100, 1)}%**, which ${c.meetsTarget ? "**meets**" : "**does not meet**"} the ${target} target.`;
  }
  parts.push(
    `At γ = ${sig(riskAversion)} per quote unit, the fixed band minimising mean cost + (γ/2)·σ² is ` +
      `**${c.band.point.label}** (${c.band.point.family}): hedge error σ(P&L) ${money(c.band.pnlStd)}, mean total cost ` +
      `${money(c.band.meanTotalCost)}. ${verdict}`,
    "",
    c.gasAwareOnFrontier
      ? "At least one gas-aware point is on the overall Pareto frontier."
      : "**No gas-aware point is on the overall Pareto frontier.**",
  );
  if (c.gasAwareDominated.length > 0) {
    parts.push(
      "",
      `Dominated gas-aware points (another point is no worse on both cost and hedge error): ` +
        `${c.gasAwareDominated.map((s) => s.point.label).join("; ")}.`,
    );
  }
  const all = compareAllBands(summaries);
  if (all.length > 1) {
    parts.push(
      "",
      "Saving at every band's hedge error:",
      "",
      table(
        ["band", "hedge error σ(P&L)", "band cost", "gas-aware cost", "saving"],
        all.map((b) => [
          b.band.point.label,
          money(b.band.pnlStd),
          money(b.band.meanTotalCost),
          b.gasAwareCost === undefined ? "out of range" : money(b.gasAwareCost),
          b.saving === undefined ? "—" : `${fixed(b.saving * 100, 1)}%`,
        ]),
        ["l", "r", "r", "r", "r"],
      ),
    );
  }
  return parts.join("\n");
}

function relDiffLabel(r: number): string {
  if (!Number.isFinite(r)) return fixed(r, 0);
  const pct = r * 100;
  return pct !== 0 && Math.abs(pct) < 0.01 ? `${pct.toExponential(1)}%` : `${fixed(pct, 2)}%`;
}

/** report.md's content. */
export function reportMarkdown(report: SimReport): string {
  const parts = [`# ${report.title}`, ""];
  const meta = Object.entries(report.meta);
  if (meta.length > 0) {
    parts.push(table(["setting", "value"], meta.map(([k, v]) => [k, typeof v === "number" ? sig(v) : String(v)])), "");
  }
  parts.push(pointsSection(report.summaries), "", comparisonSection(report.summaries, report.riskAversion), "");
  if (report.agreement !== undefined && report.agreement.length > 0) {
    parts.push(
      "## Fork vs model",
      "",
      table(
        ["point", "field", "fork", "model", "relative difference"],
        report.agreement.map((a) => [a.label, a.field, sig(a.fork), sig(a.model), relDiffLabel(a.relDiff)]),
        ["l", "l", "r", "r", "r"],
      ),
      "",
    );
  }
  if (report.notes !== undefined && report.notes.length > 0) {
    parts.push("## Notes", "", ...report.notes.map((n) => `- ${n}`), "");
  }
  parts.push(
    "## Frontier",
    "",
    "![Hedge error against total cost, one line per policy family](frontier.svg)",
    "",
    "[frontier.svg](frontier.svg)",
    "",
  );
  const regrets = familyRegrets(report.summaries, report.riskAversion);
  if (regrets.length > 0) {
    parts.push(
      "## Regret by policy",
      "",
      `Each family at its best parameter on these paths, against the ex-post best policy, by mean-variance cost (γ = ${sig(report.riskAversion)}). ` +
        "In-sample: the parameter is picked on the paths it is scored on; `--study out-of-sample` scores parameters chosen beforehand.",
      "",
      table(["policy", "regret"], regrets.map((r) => [r.family, percent(r.values[0]!.regret)]), ["l", "r"]),
      "",
      "![Regret by policy](regret.svg)",
      "",
    );
  }
  return parts.join("\n");
}

/**
 * Writes points.csv, results.json, report.md, frontier.svg and regret.svg into `dir` (created if missing, files overwritten)
 * and returns their paths.
 */
export function writeReport(dir: string, report: SimReport): { files: string[] } {
  mkdirSync(dir, { recursive: true });
  const contents: [string, string][] = [
    ["points.csv", pointsCsv(report.summaries)],
    ["results.json", JSON.stringify(reportJson(report), jsonReplacer, 2) + "\n"],
    ["report.md", reportMarkdown(report)],
    ["frontier.svg", frontierSvg(report.summaries, { title: report.title })],
    ["regret.svg", regretSvg(familyRegrets(report.summaries, report.riskAversion), { title: "Regret by policy (in-sample)" })],
  ];
  const files = contents.map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  });
  return { files };
}
