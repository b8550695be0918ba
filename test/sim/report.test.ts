import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  familyRegrets,
  bestPoint,
  compareAllBands,
  compareToBestBand,
  costAtHedgeError,
  familyCurve,
  isOnFrontier,
  paretoFrontier,
  writeReport,
  type SimReport,
} from "../../sim/report.ts";
import { mean, quantile, std, summarize } from "../../sim/stats.ts";
import { frontierSvg, regretSvg } from "../../sim/svg.ts";
import type { PointSummary, PolicyFamily, PolicyPoint, RunMetrics } from "../../sim/types.ts";

function point(family: PolicyFamily, label: string, param = 1): PolicyPoint {
  return {
    family,
    label,
    paramName: "p",
    param,
    paramUnit: "underlying",
    policy: { name: "gas-aware" },
    prefs: { riskAversion: 1e-4, horizonSeconds: 3600 },
  };
}

/** A summary at (cost, σ); every other field derived or zero unless overridden. */
function summary(
  family: PolicyFamily,
  label: string,
  meanTotalCost: number,
  pnlStd: number,
  extra: Partial<PointSummary> = {},
): PointSummary {
  return {
    point: point(family, label),
    runs: 10,
    pnlMean: 0,
    pnlStd,
    pnlQ01: -2.33 * pnlStd,
    pnlQ99: 2.33 * pnlStd,
    meanTotalCost,
    meanGasCost: meanTotalCost / 2,
    meanGasUsed: 123_456,
    meanSlippageCost: meanTotalCost / 2,
    meanFeeCost: meanTotalCost / 4,
    meanFundingCost: 0,
    meanHedges: 3,
    meanReverts: 0,
    meanFeeCapHolds: 0,
    meanDelayedBlocks: 0,
    meanL1DataCost: 0,
    meanVolume: 10,
    meanTrackingError: pnlStd,
    shareInBand: 0.9,
    maxBudgetUse: 0.1,
    netPnlStd: pnlStd,
    ...extra,
  };
}

function run(pathIndex: number, fields: Partial<RunMetrics>): RunMetrics {
  return {
    pathIndex,
    pnl: 0,
    trackingError: 0,
    gasUsed: 0,
    gasCost: 0,
    l1DataCost: 0,
    slippageCost: 0,
    feeCost: 0,
    fundingCost: 0,
    totalCost: 0,
    hedges: 0,
    reverts: 0,
    feeCapHolds: 0,
    delayedBlocks: 0,
    cancels: 0,
    blocks: 0,
    blocksInBand: 0,
    volume: 0,
    budgetUse: 0,
    ...fields,
  };
}

const labels = (xs: readonly PointSummary[]) => xs.map((s) => s.point.label);

describe("stats", () => {
  it("mean and sample std match hand-computed values (n − 1 denominator)", () => {
    expect(mean([2, 4, 4, 4, 5, 5, 7, 9])).toBe(5);
    // Σ(x − 5)² = 32, /7
    expect(std([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect(std([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 14);
  });

  it("std is 0 for fewer than two values and mean of nothing is NaN", () => {
    expect(std([])).toBe(0);
    expect(std([42])).toBe(0);
    expect(mean([])).toBeNaN();
  });

  it("std keeps the spread of values sitting on a large common offset", () => {
    expect(std([1e9 + 1, 1e9 + 2, 1e9 + 3])).toBeCloseTo(1, 9);
  });

  it("quantile interpolates linearly between order statistics like numpy's default (type 7)", () => {
    // numpy.quantile([1, 2, 3, 4], q): h = 3q
    expect(quantile([1, 2, 3, 4], 0.01)).toBeCloseTo(1.03, 12);
    expect(quantile([1, 2, 3, 4], 0.99)).toBeCloseTo(3.97, 12);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([4, 1, 3, 2], 0.25)).toBe(1.75);
    expect(quantile([4, 1, 3, 2], 0)).toBe(1);
    expect(quantile([4, 1, 3, 2], 1)).toBe(4);
    expect(quantile([7], 0.3)).toBe(7);
  });

  it("quantile rejects q outside [0, 1] and gives NaN for no values", () => {
    expect(() => quantile([1, 2], 1.5)).toThrow(RangeError);
    expect(() => quantile([1, 2], Number.NaN)).toThrow(RangeError);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it("summarize fills every field from three runs", () => {
    const runs = [
      run(0, { pnl: 10, totalCost: 2, gasCost: 1, gasUsed: 100_000, slippageCost: 1, feeCost: 0.5, hedges: 2, reverts: 0, blocks: 100, blocksInBand: 90, volume: 1, trackingError: 3, budgetUse: 0.2 }),
      run(1, { pnl: 20, totalCost: 4, gasCost: 2, gasUsed: 200_000, slippageCost: 2, feeCost: 1, hedges: 4, reverts: 1, blocks: 100, blocksInBand: 80, volume: 2, trackingError: 4, budgetUse: 0.7 }),
      run(2, { pnl: 30, totalCost: 9, gasCost: 3, gasUsed: 300_000, slippageCost: 6, feeCost: 3, hedges: 6, reverts: 2, blocks: 200, blocksInBand: 200, volume: 3, trackingError: 5, budgetUse: 0.4 }),
    ];
    const s = summarize(point("band-zero", "band ±1 → zero"), runs);
    expect(s.point.label).toBe("band ±1 → zero");
    expect(s.runs).toBe(3);
    expect(s.pnlMean).toBe(20);
    expect(s.pnlStd).toBeCloseTo(10, 12);
    expect(s.pnlQ01).toBeCloseTo(10.2, 12); // h = 0.02
    expect(s.pnlQ99).toBeCloseTo(29.8, 12); // h = 1.98
    expect(s.meanTotalCost).toBe(5);
    expect(s.meanGasCost).toBe(2);
    expect(s.meanGasUsed).toBe(200_000);
    expect(s.meanSlippageCost).toBe(3);
    expect(s.meanFeeCost).toBe(1.5);
    expect(s.meanHedges).toBe(4);
    expect(s.meanReverts).toBe(1);
    expect(s.meanVolume).toBe(2);
    expect(s.meanTrackingError).toBe(4);
    expect(s.shareInBand).toBe(370 / 400); // pooled, not the mean of 0.9, 0.8, 1
    expect(s.maxBudgetUse).toBe(0.7); // the worst run: where the budget came closest to binding
    // pnl − totalCost = 8, 16, 21: mean 15, Σ dev² = 49 + 1 + 36 = 86
    expect(s.netPnlStd).toBeCloseTo(Math.sqrt(86 / 2), 12);
  });

  it("summarize throws a RangeError naming the point when it has no runs", () => {
    expect(() => summarize(point("gas-aware", "gas-aware γ 0.001"), [])).toThrow(/gas-aware γ 0\.001/);
    expect(() => summarize(point("gas-aware", "x"), [])).toThrow(RangeError);
  });
});

describe("Pareto frontier", () => {
  const a = summary("band-zero", "A", 1, 10);
  const b = summary("band-zero", "B", 2, 5);
  const c = summary("interval", "C", 3, 6); // dominated by B
  const d = summary("gas-aware", "D", 2, 7); // same cost as B, worse σ: dominated
  const e = summary("gas-aware", "E", 4, 1);
  const f = summary("interval", "F", 4, 1); // exact tie with E: neither dominates

  it("keeps only undominated points, sorted by cost, and keeps exact ties", () => {
    expect(labels(paretoFrontier([c, e, a, d, b, f]))).toEqual(["A", "B", "E", "F"]);
  });

  it("a point that ties on one coordinate and is worse on the other is dominated", () => {
    const all = [a, b, c, d, e, f];
    expect(isOnFrontier(d, all)).toBe(false);
    expect(isOnFrontier(c, all)).toBe(false);
    expect(isOnFrontier(e, all)).toBe(true);
    expect(isOnFrontier(f, all)).toBe(true);
  });

  it("a point with a NaN coordinate is never on the frontier", () => {
    const nan = summary("interval", "N", Number.NaN, 0);
    expect(labels(paretoFrontier([a, nan]))).toEqual(["A"]);
  });

  it("familyCurve drops the family's own dominated point and orders by hedge error", () => {
    const g1 = summary("gas-aware", "g1", 10, 1);
    const g2 = summary("gas-aware", "g2", 12, 3); // dominated by g1 within the family
    const g3 = summary("gas-aware", "g3", 5, 4);
    const g4 = summary("gas-aware", "g4", 2, 8);
    const other = summary("band-zero", "other", 0.1, 0.1); // other families do not thin a family's curve
    expect(labels(familyCurve([g2, g4, other, g1, g3], "gas-aware"))).toEqual(["g1", "g3", "g4"]);
  });
});

describe("costAtHedgeError", () => {
  const curve = [summary("gas-aware", "lo", 100, 1), summary("gas-aware", "mid", 40, 3), summary("gas-aware", "hi", 10, 9)];

  it("interpolates cost linearly between the neighbouring hedge errors", () => {
    expect(costAtHedgeError(curve, 2)).toBeCloseTo(70, 12);
    expect(costAtHedgeError(curve, 6)).toBeCloseTo(25, 12);
  });

  it("returns a point's own cost at exactly its hedge error, ends included", () => {
    expect(costAtHedgeError(curve, 3)).toBe(40);
    expect(costAtHedgeError(curve, 1)).toBe(100);
    expect(costAtHedgeError(curve, 9)).toBe(10);
  });

  it("is undefined outside the curve's hedge-error range and for an empty curve", () => {
    expect(costAtHedgeError(curve, 0.5)).toBeUndefined();
    expect(costAtHedgeError(curve, 9.01)).toBeUndefined();
    expect(costAtHedgeError([], 1)).toBeUndefined();
  });
});

describe("best band comparison", () => {
  // At γ = 1 the objective is cost + σ²/2: wide 10 + 50 = 60, mid 20 + 12.5 = 32.5, narrow 40 + 0.5 = 40.5,
  // edge 30 + 32 = 62, so the best band is "band mid" (σ 5, cost 20). At γ = 0.02 the wide band wins (11).
  const bands = [
    summary("band-zero", "band wide", 10, 10),
    summary("band-zero", "band mid", 20, 5),
    summary("band-zero", "band narrow", 40, 1),
    summary("band-edge", "band edge", 30, 8),
  ];
  // Gas-aware curve through (σ 4, cost 17) and (σ 6, cost 13): cost 15 at σ 5, 25% below the band's 20.
  const gasAware = [summary("gas-aware", "ga tight", 17, 4), summary("gas-aware", "ga loose", 13, 6)];
  const gamma = 1;

  it("bestPoint minimises cost + (γ/2)·σ² over the given families", () => {
    expect(bestPoint(bands, ["band-zero", "band-edge"], gamma)?.point.label).toBe("band mid");
    expect(bestPoint(bands, "band-zero", 0.02)?.point.label).toBe("band wide");
    expect(bestPoint(bands, "band-edge", gamma)?.point.label).toBe("band edge");
    expect(bestPoint(bands, "gas-aware", gamma)).toBeUndefined();
  });

  it("gas-aware 25% cheaper at the best band's hedge error gives saving ≈ 0.25, meeting the 20% target", () => {
    const c = compareToBestBand([...bands, ...gasAware], gamma)!;
    expect(c.band.point.label).toBe("band mid");
    expect(c.gasAwareCost).toBeCloseTo(15, 12);
    expect(c.saving).toBeCloseTo(0.25, 12);
    expect(c.meetsTarget).toBe(true);
    expect(c.gasAwareOnFrontier).toBe(true);
    expect(c.gasAwareDominated).toEqual([]);
  });

  it("a band hedge error outside gas-aware's range leaves cost and saving undefined and the target unmet", () => {
    const narrowGasAware = [summary("gas-aware", "ga a", 30, 7), summary("gas-aware", "ga b", 28, 9)];
    const c = compareToBestBand([...bands, ...narrowGasAware], gamma)!;
    expect(c.band.point.label).toBe("band mid");
    expect(c.gasAwareCost).toBeUndefined();
    expect(c.saving).toBeUndefined();
    expect(c.meetsTarget).toBe(false);
    // "ga a" (30, 7) is dominated by "band mid" (20, 5); "ga b" (28, 9) too.
    expect(labels(c.gasAwareDominated)).toEqual(["ga a", "ga b"]);
    expect(c.gasAwareOnFrontier).toBe(false);
  });

  it("there is no comparison without band points", () => {
    expect(compareToBestBand(gasAware, gamma)).toBeUndefined();
  });

  it("compareAllBands gives each band's saving, undefined where gas-aware's curve does not reach", () => {
    const all = compareAllBands([...bands, ...gasAware]);
    expect(all.map((b) => [b.band.point.label, b.saving === undefined ? undefined : Number(b.saving.toFixed(6))])).toEqual([
      ["band narrow", undefined],
      ["band mid", 0.25],
      ["band wide", undefined],
      ["band edge", undefined],
    ]);
  });
});

/** A minimal RFC 4180 reader: enough to check quoting round-trips. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe("writeReport", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const summaries = [
    summary("band-zero", "band ±0.5, \"tight\" → zero", 20, 5),
    summary("band-edge", "band ±2 → edge", 12, 9),
    summary("gas-aware", "gas-aware γ 0.001", 17, 4),
    summary("gas-aware", "gas-aware γ 0.0001", 13, 6),
    summary("every-block", "every block, min 0.01", Infinity, 0.5, { shareInBand: Number.NaN }),
  ];
  const report: SimReport = {
    title: "Gas vs precision <test>",
    meta: { seed: 42, paths: 5, mode: "model", fork: false },
    summaries,
    riskAversion: 1,
    agreement: [{ label: "band ±2 → edge", field: "meanGasUsed", fork: 100_000, model: 99_000, relDiff: 0.01 }],
    notes: ["a note"],
  };

  function written() {
    const dir = mkdtempSync(join(tmpdir(), "sim-report-"));
    dirs.push(dir);
    const out = join(dir, "nested", "out");
    return { out, ...writeReport(out, report) };
  }

  it("creates the directory and writes the five files", () => {
    const { files } = written();
    expect(files.map((f) => basename(f)).sort()).toEqual(["frontier.svg", "points.csv", "regret.svg", "report.md", "results.json"]);
    for (const f of files) expect(readFileSync(f, "utf8").length).toBeGreaterThan(0);
  });

  it("points.csv has a header plus one row per summary, and a quoted label with a comma and quotes round-trips", () => {
    const { out } = written();
    const rows = parseCsv(readFileSync(join(out, "points.csv"), "utf8"));
    expect(rows).toHaveLength(summaries.length + 1);
    const header = rows[0]!;
    for (const col of ["family", "label", "paramName", "param", "paramUnit", "pnlStd", "meanTotalCost", "netPnlStd", "shareInBand", "maxBudgetUse", "onFrontier"]) {
      expect(header).toContain(col);
    }
    expect(rows.every((r) => r.length === header.length)).toBe(true);
    const label = header.indexOf("label");
    expect(rows[1]![label]).toBe('band ±0.5, "tight" → zero');
    expect(rows[5]![header.indexOf("meanTotalCost")]).toBe("Infinity");
    expect(rows[3]![header.indexOf("onFrontier")]).toBe("true");
  });

  it("points.csv writes numbers unrounded", () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-report-"));
    dirs.push(dir);
    writeReport(dir, { ...report, summaries: [summary("interval", "i", 1 / 3, 0.1 + 0.2)] });
    const rows = parseCsv(readFileSync(join(dir, "points.csv"), "utf8"));
    expect(Number(rows[1]![rows[0]!.indexOf("meanTotalCost")])).toBe(1 / 3);
    expect(Number(rows[1]![rows[0]!.indexOf("pnlStd")])).toBe(0.1 + 0.2);
  });

  it("results.json parses and keeps Infinity and NaN as strings rather than null", () => {
    const { out } = written();
    const json = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(json.title).toBe(report.title);
    expect(json.riskAversion).toBe(1);
    expect(json.summaries).toHaveLength(summaries.length);
    expect(json.summaries[4].meanTotalCost).toBe("Infinity");
    expect(json.summaries[4].shareInBand).toBe("NaN");
    // Cheapest first; the tight band is dominated by "gas-aware γ 0.001" (17, 4).
    expect(json.frontier).toEqual(["band ±2 → edge", "gas-aware γ 0.0001", "gas-aware γ 0.001", "every block, min 0.01"]);
    expect(json.comparison.band.point.label).toBe('band ±0.5, "tight" → zero');
    expect(json.comparison.saving).toBeCloseTo(0.25, 12);
    expect(json.agreement).toHaveLength(1);
    expect(json.notes).toEqual(["a note"]);
  });

  it("report.md has the tables, the comparison verdict, the agreement table, notes and the chart link", () => {
    const { out } = written();
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toMatch(/^# Gas vs precision <test>/);
    expect(md).toContain("| seed | 42 |");
    for (const f of ["band-zero", "band-edge", "gas-aware", "every-block"]) expect(md).toContain(`### ${f}`);
    expect(md).toContain("hedge error σ(P&L)");
    expect(md).toContain("123,456"); // gas with thousands separators
    expect(md).toContain("90.0%"); // share in band
    expect(md).toContain("budget used (peak)");
    expect(md).toContain("10.0%"); // peak budget use
    expect(md).toContain("25.0%");
    expect(md).toContain("**meets**");
    expect(md).toContain("## Fork vs model");
    expect(md).toContain("- a note");
    expect(md).toContain("](frontier.svg)");
    expect(md).toContain("](regret.svg)");
    expect(md).not.toContain("NaN");
  });
});

describe("frontierSvg", () => {
  const families: PolicyFamily[] = ["band-zero", "gas-aware", "interval"];
  const pts = [
    summary("band-zero", "b1", 10, 5),
    summary("band-zero", "b2", 20, 3),
    summary("gas-aware", "g1 <&>", 8, 4),
    summary("gas-aware", "g2", 15, 2),
    summary("interval", "i1", 30, 6),
  ];

  const count = (s: string, needle: string) => s.split(needle).length - 1;
  function wellFormed(svg: string) {
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).not.toContain("NaN");
    expect(svg).not.toContain("Infinity");
    // Every element is either self-closed or closed: opening tags = closing tags + self-closing tags.
    const opens = count(svg, "<") - count(svg, "</");
    expect(opens).toBe(count(svg, "</") + count(svg, "/>"));
    // Text is escaped: no bare ampersand.
    expect(svg).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
  }

  it("draws one polyline per family present and names every family in the legend", () => {
    const svg = frontierSvg(pts, { title: "t & t" });
    wellFormed(svg);
    expect(count(svg, "<polyline")).toBe(families.length);
    for (const f of families) expect(svg).toContain(`>${f}</text>`);
    expect(svg).toContain("g1 &lt;&amp;&gt;");
    expect(svg).toContain("stroke-dasharray"); // the frontier
    expect(svg).not.toContain("log scale");
  });

  it("switches to a log cost axis when costs span more than 20×", () => {
    const svg = frontierSvg([summary("band-zero", "cheap", 1, 5), summary("band-zero", "dear", 500, 1)]);
    wellFormed(svg);
    expect(svg).toContain("log scale");
  });

  it("keeps a linear cost axis when costs span 20× or less", () => {
    const svg = frontierSvg([summary("band-zero", "cheap", 1, 5), summary("band-zero", "dear", 20, 1)]);
    wellFormed(svg);
    expect(svg).not.toContain("log scale");
  });

  it("draws a zero cost on a log axis at half the smallest positive cost and says so", () => {
    const svg = frontierSvg([
      summary("gas-aware", "free", 0, 9),
      summary("band-zero", "cheap", 1, 5),
      summary("band-zero", "dear", 500, 1),
    ]);
    wellFormed(svg);
    expect(svg).toContain("log scale");
    expect(svg).toMatch(/<desc>[^<]*half the smallest positive cost/);
  });

  it("renders an empty input as an SVG saying no points", () => {
    const svg = frontierSvg([]);
    wellFormed(svg);
    expect(svg).toContain("no points");
    expect(count(svg, "<polyline")).toBe(0);
  });

  it("renders one point, equal costs and all-zero values without NaN", () => {
    for (const input of [
      [summary("gas-aware", "only", 12, 3)],
      [summary("band-zero", "a", 7, 1), summary("band-zero", "b", 7, 2), summary("gas-aware", "c", 7, 3)],
      [summary("band-edge", "zero", 0, 0)],
      [summary("band-edge", "inf", Infinity, 1), summary("band-edge", "ok", 1, 1)],
    ]) {
      const svg = frontierSvg(input);
      wellFormed(svg);
      expect(count(svg, "<polyline")).toBe(new Set(input.map((s) => s.point.family)).size);
    }
  });
});

describe("regret by policy", () => {
  // γ = 2: J = cost + σ². band-zero's best is (10, 2) → 14; gas-aware's (6, 2) → 10, the ex-post best; every-block 20.
  const summaries = [
    summary("band-zero", "band a", 10, 2),
    summary("band-zero", "band b", 20, 1),
    summary("gas-aware", "ga", 6, 2),
    summary("every-block", "eb", 19, 1),
  ];

  it("is each family's best mean-variance cost over the best of all, minus 1", () => {
    const rows = familyRegrets(summaries, 2);
    expect(rows.map((r) => r.family)).toEqual(["band-zero", "gas-aware", "every-block"]);
    expect(rows.map((r) => r.values[0]!.regret)).toEqual([14 / 10 - 1, 0, 20 / 10 - 1]);
    expect(familyRegrets([], 2)).toEqual([]);
  });

  it("draws one bar per family and scenario, its length on a log scale, its value printed, a legend for several scenarios", () => {
    const one = regretSvg(familyRegrets(summaries, 2));
    expect(one.match(/<rect [^>]*fill-opacity/g)).toHaveLength(3);
    expect(one).toContain(">40.0%<");
    expect(one).toContain(">100.0%<");
    expect(one).not.toContain("NaN");
    const widths = [...one.matchAll(/<rect x="150" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
    // log scale in 1 + 100·regret: 100% is log10(101), 40% log10(41)
    expect(widths[2]! / widths[0]!).toBeCloseTo(Math.log10(101) / Math.log10(41), 2);
    const two = regretSvg([
      { family: "band-zero", values: [{ scenario: "calm", regret: 0.1 }, { scenario: "stressed", regret: Number.NaN }] },
      { family: "gas-aware", values: [{ scenario: "calm", regret: 0 }, { scenario: "stressed", regret: 0.05 }] },
    ]);
    expect(two).toContain(">calm<");
    expect(two).toContain(">stressed<");
    expect(two).toContain(">n/a<");
    expect(two).not.toContain("NaN");
  });
});
