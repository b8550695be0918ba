/**
 * Mutation testing of the keeper (`npm run mutate`): Stryker breaks one expression of keeper/ at a time and runs
 * the in-process tests (vitest.mutate.config.ts) against it; a mutant no test notices is a hole in the suite.
 * The score of each folder is checked against its threshold: the pure core (pricing, policy, sizing) must kill
 * ≥ 85 % of its mutants, execution and chain ≥ 75 %.
 *
 *   npm run mutate                         every folder (≈ an hour on 2 cores; the report lands in reports/mutation/)
 *   npm run mutate -- --fast               the CI subset: the band policy, with the tests related to it only (~1 min)
 *   npm run mutate -- keeper/policy        one folder (or file, or glob), checked against its own threshold
 *   npm run mutate -- --concurrency 2      test runner processes (default: half the cores, at least 1)
 *   npm run mutate -- --ignore-static      skip static mutants (module-level constants: each reruns every test
 *                                          file — keeper/chain has 199, ~60 % of its time); they leave the score
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { Stryker } from "@stryker-mutator/core";

/** Minimum mutation score per folder of keeper/ (percent). Folders not listed are reported, not checked. */
export const THRESHOLDS: Readonly<Record<string, number>> = {
  "keeper/pricing": 85,
  "keeper/policy": 85,
  "keeper/sizing": 85,
  "keeper/execution": 75,
  "keeper/chain": 75,
};

/** CI's subset: the default policy, quick to mutate (the fee cap alone takes ~5 min: `npm run mutate -- keeper/execution/fees.ts`). */
export const FAST: readonly string[] = ["keeper/policy/band.ts"];

const EVERYTHING = ["keeper/**/*.ts", "!keeper/abi.ts", "!keeper/index.ts"];

export interface FolderScore {
  folder: string;
  killed: number;
  survived: number;
  noCoverage: number;
  timeout: number;
  errors: number;
  /** (killed + timeout) / (killed + timeout + survived + no coverage), percent; NaN with no valid mutant. */
  score: number;
  threshold?: number;
}

/** Folder of a mutated file, relative to the project: `keeper/policy/band.ts` → `keeper/policy`. */
export function folderOf(file: string): string {
  const rel = file.replace(/\\/g, "/").replace(/^.*?(keeper\/)/, "$1");
  const parts = rel.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") : "keeper (top level)";
}

/** Groups Stryker's mutant results by folder and scores each the way Stryker does. */
export function scoreByFolder(results: readonly { fileName: string; status: string }[]): FolderScore[] {
  const folders = new Map<string, FolderScore>();
  for (const r of results) {
    const folder = folderOf(r.fileName);
    const s = folders.get(folder) ?? { folder, killed: 0, survived: 0, noCoverage: 0, timeout: 0, errors: 0, score: NaN };
    if (r.status === "Killed") s.killed++;
    else if (r.status === "Survived") s.survived++;
    else if (r.status === "NoCoverage") s.noCoverage++;
    else if (r.status === "Timeout") s.timeout++;
    else if (r.status === "RuntimeError" || r.status === "CompileError") s.errors++;
    folders.set(folder, s);
  }
  for (const s of folders.values()) {
    const detected = s.killed + s.timeout;
    const valid = detected + s.survived + s.noCoverage;
    s.score = valid === 0 ? NaN : (100 * detected) / valid;
    s.threshold = THRESHOLDS[s.folder];
  }
  return [...folders.values()].sort((a, b) => a.folder.localeCompare(b.folder));
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      fast: { type: "boolean", default: false },
      "ignore-static": { type: "boolean", default: false },
      concurrency: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("usage: npm run mutate -- [--fast] [--ignore-static] [--concurrency N] [keeper/<folder or file or glob> ...]");
    return;
  }
  const concurrency = values.concurrency === undefined ? Math.max(1, Math.floor(availableParallelism() / 2)) : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a whole number ≥ 1, got "${values.concurrency}"`);
  const targets = values.fast ? [...FAST] : positionals.length ? positionals.map((p) => (p.endsWith(".ts") || p.includes("*") ? p : `${p.replace(/\/$/, "")}/**/*.ts`)) : EVERYTHING;

  const started = Date.now();
  const stryker = new Stryker({
    configFile: "stryker.config.json",
    mutate: targets,
    concurrency,
    // The subset runs only the test files that import what it mutates: a 3-minute CI step rather than the full dry run.
    // Static mutants (module-level constants) rerun every test file; the full run covers them.
    ...(values["ignore-static"] ? { ignoreStatic: true } : {}),
    ...(values.fast ? { vitest: { configFile: "vitest.mutate.config.ts", related: true, pool: "forks" }, ignoreStatic: true } : {}),
  } as never);
  const results = await stryker.runMutationTest();
  const scores = scoreByFolder(results);

  console.log(`\nmutation score by folder (${results.length} mutants, ${((Date.now() - started) / 60_000).toFixed(1)} min):`);
  console.log("folder               score   killed  timeout  survived  no-cov  errors  threshold");
  let failed = false;
  for (const s of scores) {
    const below = s.threshold !== undefined && !(s.score >= s.threshold);
    failed ||= below;
    console.log(
      `${s.folder.padEnd(20)} ${(Number.isNaN(s.score) ? "n/a" : s.score.toFixed(1) + "%").padStart(6)}  ${String(s.killed).padStart(7)}  ${String(s.timeout).padStart(7)}  ${String(s.survived).padStart(8)}  ${String(s.noCoverage).padStart(6)}  ${String(s.errors).padStart(6)}  ${s.threshold === undefined ? "-" : `≥ ${s.threshold}%${below ? "  BELOW" : ""}`}`,
    );
  }
  if (failed) {
    console.error("\nmutation score below threshold: see the surviving mutants above (and reports/mutation/mutation.json)");
    process.exitCode = 1;
  }
}

// Run when invoked as a script; importing it (the scoring test) runs nothing.
if (process.argv[1]?.endsWith("scripts/mutate.ts")) {
  main().catch((error: unknown) => {
    console.error(`mutate: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
