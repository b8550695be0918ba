/**
 * The report's one chart, hedge error against total cost, as a self-contained SVG string: no script, no external
 * font or stylesheet (generic `sans-serif` only), so it renders the same in a browser, on GitHub and in an editor
 * preview. Every coordinate goes through `coord`, which throws on a non-finite number: a NaN never reaches the file.
 */
import { compareNumbers, paretoFrontier } from "./stats.ts";
import { POLICY_FAMILIES, type PointSummary, type PolicyFamily } from "./types.ts";

export interface FrontierSvgOptions {
  title?: string;
  /** Pixels; at least 480 × 300 (smaller values are raised to that). */
  width?: number;
  height?: number;
}

/**
 * One colour per family from the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), which stays
 * distinguishable under the common colour-vision deficiencies. Fixed per family so every report uses the same
 * colours; yellow, the weakest on white, goes to the last family and markers carry a dark outline.
 */
export const FAMILY_COLOURS: Readonly<Record<PolicyFamily, string>> = Object.freeze({
  "every-block": "#000000",
  interval: "#E69F00",
  "band-zero": "#56B4E9",
  "band-edge": "#0072B2",
  "whalley-wilmott": "#009E73",
  "gas-aware": "#D55E00",
  "delay-cap": "#CC79A7",
  "time-or-move": "#F0E442",
});
const UNKNOWN_FAMILY_COLOUR = "#999999";
const FRONTIER_COLOUR = "#888888";

/** A log10 cost axis is used when the largest positive cost is more than this multiple of the smallest. */
export const LOG_AXIS_COST_RATIO = 20;

const MARGIN = { left: 76, right: 200, top: 48, bottom: 60 } as const;
const MIN_WIDTH = 480;
const MIN_HEIGHT = 300;
const TARGET_TICKS = 5;
/** Share of an axis's data span left free beyond the extreme points, so their markers are not cut by the frame. */
const PAD = 0.04;

/** Escapes text for XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${({ "&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos" })[c]};`);
}

function coord(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`frontierSvg: non-finite coordinate ${n} (a bug in the chart's scaling)`);
  return (Math.round(n * 100) / 100 + 0).toString();
}

interface Axis {
  log: boolean;
  ticks: { value: number; label: string }[];
  /** Position of a value along the axis, 0 (start) to 1 (end). */
  unit: (value: number) => number;
}

/** 1, 2 or 5 × 10^k, the smallest at least `raw` (raw > 0). */
function niceStep(raw: number): number {
  const exp = Math.floor(Math.log10(raw));
  const base = 10 ** exp;
  const f = raw / base;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * base;
}

const groupedFormats = new Map<number, Intl.NumberFormat>();
function grouped(value: number, decimals: number): string {
  let fmt = groupedFormats.get(decimals);
  if (fmt === undefined) {
    fmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    groupedFormats.set(decimals, fmt);
  }
  return fmt.format(value);
}

/** Nice 1/2/5 ticks covering [min, max]; a single value is widened to a visible range around it. */
function linearAxis(min: number, max: number): Axis {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) / 2;
    min = min === 0 ? 0 : min - pad;
    max += pad;
  }
  const step = niceStep((max - min) / TARGET_TICKS);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: Axis["ticks"] = [];
  for (let i = 0; ; i++) {
    const value = Math.round((lo + i * step) / step) * step + 0;
    if (value > hi + step / 2) break;
    ticks.push({ value, label: grouped(value, decimals) });
  }
  return { log: false, ticks, unit: (v) => (v - lo) / (hi - lo) };
}

/**
 * A linear cost range with room for the markers at either end. It starts at zero when that at most doubles the span
 * (costs read against zero), and is never pushed below zero when every cost is ≥ 0.
 */
function paddedCostRange(min: number, max: number): [number, number] {
  if (min > 0 && min <= max - min) min = 0;
  const pad = (max - min) * PAD;
  return [min >= 0 ? Math.max(0, min - pad) : min - pad, max + pad];
}

function logLabel(v: number): string {
  const trim = (x: number) => Number(x.toPrecision(6)).toString();
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/**
 * A log10 axis over [min, max] (both > 0) padded by 4% of its span each side, ticks at the decades inside it, and
 * also at 2 and 5 × 10^k when fewer than three decades fall inside.
 */
function logAxis(min: number, max: number): Axis {
  const span = Math.max(Math.log10(max) - Math.log10(min), 1);
  const lo = Math.log10(min) - PAD * span;
  const hi = Math.log10(max) + PAD * span;
  const inside = (v: number) => Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9;
  const decades: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) decades.push(e);
  const mantissas = decades.filter((e) => inside(10 ** e)).length < 3 ? [1, 2, 5] : [1];
  const ticks: Axis["ticks"] = [];
  for (const e of decades) {
    for (const m of mantissas) {
      const value = Number((m * 10 ** e).toPrecision(12));
      if (inside(value)) ticks.push({ value, label: logLabel(value) });
    }
  }
  return { log: true, ticks, unit: (v) => (Math.log10(v) - lo) / (hi - lo) };
}

function familyColour(family: string): string {
  return (FAMILY_COLOURS as Readonly<Record<string, string>>)[family] ?? UNKNOWN_FAMILY_COLOUR;
}

const moneyLabel = (x: number) => grouped(x, 2);

/**
 * Hedge error σ(P&L) (y, linear from 0) against mean total cost (x; log10 when positive costs span more than
 * `LOG_AXIS_COST_RATIO`×), one line and marker set per family joining its points by cost, the overall Pareto
 * frontier as a dashed grey staircase underneath, frontier points ringed. Points with a non-finite coordinate are
 * left out and counted in the <desc>; on a log axis a cost ≤ 0 is drawn at half the smallest positive cost and the
 * <desc> says so. No points: an SVG that says "no points".
 */
export function frontierSvg(summaries: readonly PointSummary[], opts: FrontierSvgOptions = {}): string {
  const width = Math.max(MIN_WIDTH, opts.width ?? 820);
  const height = Math.max(MIN_HEIGHT, opts.height ?? 500);
  const title = opts.title ?? "Hedge error vs total cost";
  const drawable = summaries.filter((s) => Number.isFinite(s.meanTotalCost) && Number.isFinite(s.pnlStd));
  const skipped = summaries.length - drawable.length;
  const open = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`;
  const font = `font-family="sans-serif" fill="#222222"`;

  if (drawable.length === 0) {
    const why = skipped > 0 ? `no points (${skipped} with a non-finite cost or hedge error)` : "no points";
    return [
      open,
      `<title>${escapeXml(title)}</title>`,
      `<desc>${escapeXml(`Nothing to plot: ${why}.`)}</desc>`,
      `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
      `<text x="${MARGIN.left}" y="${coord(MARGIN.top / 2 + 4)}" font-size="16" font-weight="bold" ${font}>${escapeXml(title)}</text>`,
      `<text x="${coord(width / 2)}" y="${coord(height / 2)}" text-anchor="middle" font-size="18" ${font}>${escapeXml(why)}</text>`,
      `</svg>`,
      "",
    ].join("\n");
  }

  const notes: string[] = [];
  if (skipped > 0) notes.push(`${skipped} point(s) with a non-finite cost or hedge error are not drawn.`);

  // x axis: log10 when the positive costs span more than LOG_AXIS_COST_RATIO×.
  const costs = drawable.map((s) => s.meanTotalCost);
  const positive = costs.filter((c) => c > 0);
  const minPositive = positive.length > 0 ? Math.min(...positive) : Number.NaN;
  const maxPositive = positive.length > 0 ? Math.max(...positive) : Number.NaN;
  const useLog = positive.length > 0 && maxPositive / minPositive > LOG_AXIS_COST_RATIO;
  const clampedCost = minPositive / 2;
  const xOf = (s: PointSummary) => (useLog && s.meanTotalCost <= 0 ? clampedCost : s.meanTotalCost);
  if (useLog) {
    const clamped = drawable.filter((s) => s.meanTotalCost <= 0);
    if (clamped.length > 0) {
      notes.push(
        `${clamped.length} point(s) with a cost ≤ 0 (${clamped.map((s) => s.point.label).join("; ")}) are drawn at ` +
          `${moneyLabel(clampedCost)}, half the smallest positive cost, because a log axis has no zero.`,
      );
    }
  }
  const xs = drawable.map(xOf);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yMax = Math.max(...drawable.map((s) => s.pnlStd));
  const xAxis = useLog ? logAxis(xMin, xMax) : linearAxis(...paddedCostRange(xMin, xMax));
  // Hedge error is a standard deviation (≥ 0): its axis starts at zero, with headroom above the largest.
  const yAxis = linearAxis(Math.min(0, ...drawable.map((s) => s.pnlStd)), yMax === 0 ? 1 : yMax * (1 + PAD));

  const x0 = MARGIN.left;
  const x1 = width - MARGIN.right;
  const y0 = MARGIN.top;
  const y1 = height - MARGIN.bottom;
  const px = (cost: number) => x0 + xAxis.unit(cost) * (x1 - x0);
  const py = (sigma: number) => y1 - yAxis.unit(sigma) * (y1 - y0);
  const at = (s: PointSummary) => `${coord(px(xOf(s)))},${coord(py(s.pnlStd))}`;

  const out: string[] = [open, `<title>${escapeXml(title)}</title>`];
  const xTitle = `mean total cost per path (quote${useLog ? ", log scale" : ""})`;
  const yTitle = "hedge error σ(P&L) (quote)";
  out.push(
    `<desc>${escapeXml(
      [
        `${drawable.length} policy points: x = ${xTitle}, y = ${yTitle}.`,
        "Each family's points are joined in order of cost; the dashed grey staircase is the Pareto frontier over all",
        "families (lower and to the left is better) and ringed points lie on it.",
        ...notes,
      ].join(" "),
    )}</desc>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<g ${font} font-size="12">`,
    `<text x="${x0}" y="${coord(MARGIN.top / 2 + 4)}" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  );

  // Grid and ticks.
  out.push(`<g stroke="#e4e4e4" stroke-width="1">`);
  for (const t of xAxis.ticks) out.push(`<line x1="${coord(px(t.value))}" y1="${y0}" x2="${coord(px(t.value))}" y2="${y1}"/>`);
  for (const t of yAxis.ticks) out.push(`<line x1="${x0}" y1="${coord(py(t.value))}" x2="${x1}" y2="${coord(py(t.value))}"/>`);
  out.push(`</g>`);
  out.push(`<g stroke="#222222" stroke-width="1" fill="none"><path d="M${x0},${y0} V${y1} H${x1}"/></g>`);
  out.push(`<g text-anchor="middle">`);
  for (const t of xAxis.ticks) out.push(`<text x="${coord(px(t.value))}" y="${coord(y1 + 18)}">${escapeXml(t.label)}</text>`);
  out.push(`</g>`, `<g text-anchor="end">`);
  for (const t of yAxis.ticks) out.push(`<text x="${coord(x0 - 8)}" y="${coord(py(t.value) + 4)}">${escapeXml(t.label)}</text>`);
  out.push(`</g>`);
  out.push(
    `<text x="${coord((x0 + x1) / 2)}" y="${coord(height - 16)}" text-anchor="middle" font-size="13">${escapeXml(xTitle)}</text>`,
    `<text transform="translate(18 ${coord((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" font-size="13">${escapeXml(yTitle)}</text>`,
  );

  // The frontier underneath: a staircase, since cost c buys the least hedge error among points costing ≤ c.
  const frontier = paretoFrontier(drawable).sort((a, b) => compareNumbers(xOf(a), xOf(b)));
  if (frontier.length > 0) {
    const [first, ...rest] = frontier;
    const d = [`M${at(first!)}`, ...rest.map((s) => `H${coord(px(xOf(s)))} V${coord(py(s.pnlStd))}`)].join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${FRONTIER_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>`);
  }

  // One polyline and marker set per family present, in the canonical family order.
  const present = [...new Set(drawable.map((s) => s.point.family as string))].sort((a, b) => {
    const ia = (POLICY_FAMILIES as readonly string[]).indexOf(a);
    const ib = (POLICY_FAMILIES as readonly string[]).indexOf(b);
    return (ia < 0 ? Infinity : ia) - (ib < 0 ? Infinity : ib) || a.localeCompare(b);
  });
  for (const family of present) {
    const colour = familyColour(family);
    const points = drawable
      .filter((s) => s.point.family === family)
      .sort((a, b) => compareNumbers(xOf(a), xOf(b)) || compareNumbers(a.pnlStd, b.pnlStd));
    out.push(`<g data-family="${escapeXml(family)}">`);
    out.push(`<polyline points="${points.map(at).join(" ")}" fill="none" stroke="${colour}" stroke-width="1.5"/>`);
    for (const s of points) {
      const clampNote = xOf(s) === s.meanTotalCost ? "" : ` (drawn at ${moneyLabel(xOf(s))} on the log axis)`;
      const tip = `${s.point.label}: cost ${moneyLabel(s.meanTotalCost)}${clampNote}, σ(P&L) ${moneyLabel(s.pnlStd)}`;
      out.push(
        `<circle cx="${coord(px(xOf(s)))}" cy="${coord(py(s.pnlStd))}" r="4" fill="${colour}" stroke="#333333" stroke-width="0.6"><title>${escapeXml(tip)}</title></circle>`,
      );
    }
    out.push(`</g>`);
  }
  for (const s of frontier) {
    out.push(`<circle cx="${coord(px(xOf(s)))}" cy="${coord(py(s.pnlStd))}" r="7.5" fill="none" stroke="#444444" stroke-width="1.2"/>`);
  }

  // Legend, right of the plot.
  const lx = x1 + 20;
  let ly = y0 + 8;
  const row = 20;
  out.push(`<g font-size="12">`);
  for (const family of present) {
    const colour = familyColour(family);
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${colour}" stroke-width="1.5"/>`,
      `<circle cx="${lx + 13}" cy="${ly}" r="4" fill="${colour}" stroke="#333333" stroke-width="0.6"/>`,
      `<text x="${lx + 34}" y="${ly + 4}">${escapeXml(family)}</text>`,
    );
    ly += row;
  }
  ly += row / 2;
  out.push(
    `<line x1="${lx}" y1="${ly}" x2="${lx + 26}" y2="${ly}" stroke="${FRONTIER_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${lx + 34}" y="${ly + 4}">Pareto frontier</text>`,
  );
  ly += row;
  out.push(
    `<circle cx="${lx + 13}" cy="${ly}" r="7.5" fill="none" stroke="#444444" stroke-width="1.2"/>`,
    `<text x="${lx + 34}" y="${ly + 4}">on the frontier</text>`,
  );
  out.push(`</g>`, `</g>`, `</svg>`, "");
  return out.join("\n");
}

/** One policy family's regret in each of one or more scenarios (a fraction: 0.1 is 10% above the best). */
export interface RegretRow {
  family: PolicyFamily;
  values: readonly { scenario: string; regret: number }[];
}

/**
 * Regret by policy as horizontal bars: one group per family, one bar per scenario (shaded from dark to light in the
 * scenarios' order, labelled in a legend when there are several), the value printed at the bar's end. The axis is
 * logarithmic in 1 + 100·regret (0% at the axis, then 1%, 10%, 100%, 1000% at even steps), so a few percent stays
 * visible beside a policy thousands of percent off; a regret of 0 (the ex-post best) is a hairline at the axis.
 */
export function regretSvg(rows: readonly RegretRow[], opts: { title?: string; width?: number } = {}): string {
  const scenarios = [...new Set(rows.flatMap((r) => r.values.map((v) => v.scenario)))];
  const bar = 14;
  const gap = 10;
  const left = 150;
  const right = 70;
  const top = 48 + (scenarios.length > 1 ? 18 * scenarios.length : 0);
  const width = Math.max(MIN_WIDTH, opts.width ?? 720);
  const groupHeight = (n: number) => n * bar + gap;
  const height = top + rows.reduce((h, r) => h + groupHeight(r.values.length), 0) + 40;
  const max = Math.max(1e-9, ...rows.flatMap((r) => r.values.map((v) => (Number.isFinite(v.regret) ? v.regret : 0))));
  const plot = width - left - right;
  const scale = (v: number) => Math.log10(1 + 100 * Math.max(0, v));
  const x = (v: number) => left + (scale(v) / scale(max)) * plot;
  const shade = (k: number) => (scenarios.length <= 1 ? 1 : 1 - (0.6 * k) / (scenarios.length - 1));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${coord(width)}" height="${coord(height)}" viewBox="0 0 ${coord(width)} ${coord(height)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${coord(width / 2)}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title ?? "Regret by policy")}</text>`,
  ];
  scenarios.forEach((s, k) => {
    if (scenarios.length <= 1) return;
    const y = 40 + 18 * k;
    out.push(`<rect x="${coord(left)}" y="${coord(y)}" width="12" height="12" fill="#555555" fill-opacity="${coord(shade(k))}"/>`);
    out.push(`<text x="${coord(left + 18)}" y="${coord(y + 10)}">${escapeXml(s)}</text>`);
  });
  let y = top;
  for (const row of rows) {
    const colour = FAMILY_COLOURS[row.family] ?? UNKNOWN_FAMILY_COLOUR;
    out.push(`<text x="${coord(left - 8)}" y="${coord(y + (row.values.length * bar) / 2 + 4)}" text-anchor="end">${escapeXml(row.family)}</text>`);
    row.values.forEach((v, k) => {
      const finite = Number.isFinite(v.regret);
      const w = finite ? Math.max(1, x(v.regret) - left) : 0;
      const opacity = shade(scenarios.indexOf(v.scenario));
      out.push(
        `<rect x="${coord(left)}" y="${coord(y + k * bar + 1)}" width="${coord(w)}" height="${coord(bar - 2)}" fill="${colour}" fill-opacity="${coord(opacity)}" stroke="#333333" stroke-width="0.5"><title>${escapeXml(`${row.family}, ${v.scenario}: ${finite ? `${(v.regret * 100).toFixed(1)}%` : "no point"}`)}</title></rect>`,
      );
      out.push(`<text x="${coord(left + w + 4)}" y="${coord(y + k * bar + bar - 3)}" font-size="10">${finite ? `${(v.regret * 100).toFixed(1)}%` : "n/a"}</text>`);
    });
    y += groupHeight(row.values.length);
  }
  out.push(`<line x1="${coord(left)}" y1="${coord(top - 4)}" x2="${coord(left)}" y2="${coord(y)}" stroke="#333333"/>`);
  out.push(
    `<text x="${coord(left + plot / 2)}" y="${coord(y + 24)}" text-anchor="middle">regret: mean-variance cost above the ex-post best policy's (log scale)</text>`,
  );
  out.push("</svg>");
  return out.join("\n") + "\n";
}
