/**
 * The operators' files (ops/): the Prometheus alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules ops/alerts.test.yml`: each alert fires when it should and not before), every expression of
 * the Grafana dashboard parses as PromQL (checked by promtool as recording rules), and every metric either file
 * queries is one the keeper exports.
 *
 * promtool comes from Debian's `prometheus` package (.ci/run installs it). Without it the promtool checks are
 * skipped with a message — unless REQUIRE_PROMTOOL=1 (CI), where they fail. The metric-name check needs nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KeeperMetrics } from "../../keeper/telemetry/metrics.ts";

const OPS = new URL("../../ops/", import.meta.url).pathname;
const PROMTOOL = [process.env.PROMTOOL_PATH, "/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => p !== undefined && p !== "" && existsSync(p));
const REQUIRED = process.env.REQUIRE_PROMTOOL === "1";
if (PROMTOOL === undefined && !REQUIRED) console.warn("alert rule tests SKIPPED: no promtool (apt-get install prometheus, or set PROMTOOL_PATH); CI sets REQUIRE_PROMTOOL=1");
const withPromtool = PROMTOOL !== undefined || REQUIRED ? it : it.skip;

interface Dashboard {
  panels: { id: number; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets: { expr: string; datasource: { uid: string } }[] }[];
  templating: { list: { name: string; query: { query: string } }[] };
}
const dashboard = JSON.parse(readFileSync(join(OPS, "grafana-dashboard.json"), "utf8")) as Dashboard;
const rulesText = readFileSync(join(OPS, "alerts.yml"), "utf8");
const ruleExprs = [...rulesText.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]!);
const dashboardExprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.query.query)];

/** The keeper's metric names as a scrape shows them (a histogram as its _bucket, _sum and _count series). */
async function exportedNames(): Promise<Set<string>> {
  const metrics = new KeeperMetrics({ redactUrl: (u) => u });
  const names = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m.name + suffix);
  }
  return names;
}

const keeperNames = (exprs: readonly string[]) => [...new Set(exprs.flatMap((e) => e.match(/\bkeeper_[a-z0-9_]+/g) ?? []))];

function promtool(args: string[], cwd: string): string {
  if (PROMTOOL === undefined) throw new Error("REQUIRE_PROMTOOL=1 but no promtool at PROMTOOL_PATH or /usr/bin/promtool (apt-get install prometheus)");
  try {
    return execFileSync(PROMTOOL, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(" ")} failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

describe("alert rules and dashboard (ops/)", () => {
  it("every metric the rules and the dashboard query is one the keeper exports", async () => {
    const names = await exportedNames();
    const used = keeperNames([...ruleExprs, ...dashboardExprs]);
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
    // and the rules cover what the issue lists: down, head stale, hard limit, stuck hedge, balance, gas budget, oracle, margin
    for (const name of ["DeltaKeeperDown", "DeltaKeeperHeadStale", "DeltaKeeperVaultOutsideHardLimit", "DeltaKeeperHedgeStuck", "DeltaKeeperSignerBalanceLow", "DeltaKeeperGasBudgetNearlySpent", "DeltaKeeperOracleStale", "DeltaKeeperPerpMarginNearMaintenance"]) {
      expect(rulesText).toContain(`alert: ${name}`);
    }
  });

  it("the dashboard imports cleanly: a Prometheus datasource input, unique panel ids, panels inside the 24-column grid, a vault variable", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource.uid, p.title).toBe("${DS_PROMETHEUS}");
    }
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(["vault"]);
  });

  withPromtool("promtool: the rules are valid and their unit tests pass (each alert fires when it should, not before)", () => {
    expect(promtool(["check", "rules", "alerts.yml"], OPS)).toMatch(/SUCCESS: 9 rules found/);
    expect(promtool(["test", "rules", "alerts.test.yml"], OPS)).toMatch(/SUCCESS/);
  });

  withPromtool("promtool: every dashboard expression parses as PromQL", () => {
    const dir = mkdtempSync(join(tmpdir(), "dashboard-exprs-"));
    try {
      const rules = dashboardExprs
        .filter((e) => !e.startsWith("label_values("))
        .map((e, i) => `      - record: dashboard:expr_${i}\n        expr: ${JSON.stringify(e.replaceAll("$vault", ".*"))}`);
      writeFileSync(join(dir, "dashboard.yml"), `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`);
      expect(promtool(["check", "rules", "dashboard.yml"], dir)).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
