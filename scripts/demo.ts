/**
 * `npm start`: the delta-keeper demo on an embedded chain; it ends by itself after `--duration` seconds of blocks.
 * Thin CLI over `harness/demo.ts`.
 */
import { parseArgs } from "node:util";
import { DEFAULT_DEMO_OPTIONS, DEFAULT_STATUS_PORT, runDemo, type DemoOptions } from "../harness/demo.ts";
import { POLICY_NAMES, type PolicyName } from "../keeper/policy/index.ts";

const USAGE = `Usage: npm start -- [options]   (or: node scripts/demo.ts [options])

An embedded Hardhat chain with an option vault short a book of calls and puts, a seeded GBM price path
(12 s per block) with an arbitrageur keeping the AMM on the oracle, and the keeper hedging live.

Options:
  --duration <seconds>   wall-clock length of the run (default ${DEFAULT_DEMO_OPTIONS.durationSec}); blocks = duration × speed
  --vol <annual vol>     volatility of the price path, e.g. 0.8 (default ${DEFAULT_DEMO_OPTIONS.vol})
  --policy <name>        ${POLICY_NAMES.join(" | ")}
                         (default ${DEFAULT_DEMO_OPTIONS.policy})
  --seed <n>             seed of the price path (default ${DEFAULT_DEMO_OPTIONS.seed})
  --speed <blocks/s>     blocks mined per second (default ${DEFAULT_DEMO_OPTIONS.speed})
  --status-port <port>   the status page on 127.0.0.1 (default ${DEFAULT_STATUS_PORT}; 0 or a taken port: any free one)
  --help                 this text
`;

class UsageError extends Error {}

function positive(name: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"}, got "${raw}"`);
  }
  return value;
}

function port(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_STATUS_PORT;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 65_535) throw new UsageError(`--status-port must be a port number 0–65535, got "${raw}"`);
  return value;
}

function parse(argv: string[]): DemoOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string" },
      vol: { type: "string" },
      policy: { type: "string" },
      seed: { type: "string" },
      speed: { type: "string" },
      "status-port": { type: "string" },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const policy = values.policy ?? DEFAULT_DEMO_OPTIONS.policy;
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new UsageError(`--policy must be one of ${POLICY_NAMES.join(", ")}, got "${policy}"`);
  }
  const seedRaw = values.seed;
  const seed = seedRaw === undefined ? DEFAULT_DEMO_OPTIONS.seed : Number(seedRaw);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${seedRaw}"`);
  return {
    durationSec: positive("duration", values.duration, DEFAULT_DEMO_OPTIONS.durationSec),
    vol: positive("vol", values.vol, DEFAULT_DEMO_OPTIONS.vol),
    policy: policy as PolicyName,
    seed,
    speed: positive("speed", values.speed, DEFAULT_DEMO_OPTIONS.speed),
    statusPort: port(values["status-port"]),
  };
}

let options: DemoOptions | undefined;
try {
  options = parse(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exit(2);
}
if (!options) {
  process.stdout.write(USAGE);
  process.exit(0);
}
try {
  await runDemo(options, (line) => process.stdout.write(`${line}\n`));
  process.exit(0);
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
