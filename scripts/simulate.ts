/**
 * `npm run simulate -- [flags]` (`--help` for the flags): the gas-versus-precision simulator. See
 * sim/run.ts for the pipeline and README.md for how to read its report.
 */
import { helpText, parseSimArgs, SimCliError } from "../sim/cli.ts";
import { progressBar } from "../sim/progress.ts";
import { runSimulation } from "../sim/run.ts";

try {
  const parsed = parseSimArgs(process.argv.slice(2), process.env);
  if (parsed.help) {
    console.log(helpText());
  } else {
    const result = await runSimulation(parsed.options, {
      log: (line) => console.log(line),
      progress: progressBar(process.stderr, parsed.options.progress),
    });
    console.log(`wrote ${result.files.join(", ")} in ${result.seconds.toFixed(1)} s`);
  }
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
