/**
 * `npm run simulate -- [flags]` (`--help` for the flags): the gas-versus-precision simulator. See
 * sim/run.ts for the pipeline and README.md for how to read its report.
 *
 * `npm run simulate -- merge <shard files…> [--out DIR]` joins the shards of a sweep run with `--shard i/n` into
 * the report one run of it writes.
 */
import { parseArgs } from "node:util";
import { helpText, parseSimArgs, SimCliError } from "../sim/cli.ts";
import { progressBar } from "../sim/progress.ts";
import { DEFAULT_STUDY, runStudy } from "../sim/outOfSample.ts";
import { buildInputs, mergeShards, runSimulation } from "../sim/run.ts";
import { crowdingReport } from "../sim/crowd.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

async function simulate(argv: string[]): Promise<void> {
  const parsed = parseSimArgs(argv, process.env);
  if (parsed.help) {
    console.log(helpText());
    return;
  }
  if (parsed.options.study === "out-of-sample") {
    const study = await runStudy(parsed.options, DEFAULT_STUDY, { log: (line) => console.log(line) });
    const a = study.analysis;
    const pct = (x: number | undefined) => (x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
    console.log(`gas-aware: worst gap to the ex-post frontier ${pct(a.worstGap)}, mean saving against the tuned band ${pct(a.meanSaving)}`);
    console.log(`wrote ${study.files.join(", ")}`);
    return;
  }
  if (parsed.options.study === "crowding") {
    const o = parsed.options;
    const { paths, scenario } = buildInputs(o);
    const { markdown } = crowdingReport(paths, {
      optionsSold: o.optionsSold,
      strikeRatio: 1,
      expiryDays: o.expiryDays,
      vol: scenario.vol,
      depth: o.depth,
      feeBps: o.feeBps,
      blockSeconds: scenario.blockSeconds,
      gasGwei: o.gasGwei,
      policy: { name: "band", band: 0.71, target: "zero" },
      prefs: { riskAversion: scenario.riskAversion, horizonSeconds: scenario.horizonSeconds },
    });
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, "crowding.md");
    writeFileSync(file, markdown);
    console.log(markdown);
    console.log(`wrote ${file}`);
    return;
  }
  const result = await runSimulation(parsed.options, {
    log: (line) => console.log(line),
    progress: progressBar(process.stderr, parsed.options.progress),
  });
  console.log(`wrote ${result.files.join(", ")} in ${result.seconds.toFixed(1)} s`);
}

function merge(argv: string[]): void {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { out: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new SimCliError(`merge: ${(err as Error).message} (usage: simulate merge <shard files…> [--out DIR])`);
  }
  if (parsed.positionals.length === 0) throw new SimCliError("merge: give the shard files (shard-i-of-n.json) to join");
  const merged = mergeShards(parsed.positionals, parsed.values.out ?? "results/simulate");
  console.log(`merged ${merged.shards} shards (${merged.runs} runs): wrote ${merged.files.join(", ")}`);
}

try {
  const argv = process.argv.slice(2);
  if (argv[0] === "merge") merge(argv.slice(1));
  else await simulate(argv);
} catch (err) {
  if (err instanceof SimCliError) {
    console.error(`simulate: ${err.message}`);
    process.exitCode = 2;
  } else {
    console.error(`simulate failed: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
