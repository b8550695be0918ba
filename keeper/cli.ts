/**
 * The keeper's command line: `keeper <command> [flags]`, parsed with `node:util`'s `parseArgs` into a
 * `CliCommand`. Flags override the environment through `CliOverrides` (see `parseConfig`); everything else is
 * configured by environment variables (`.env.example`).
 */
import { parseArgs } from "node:util";
import type { CliOverrides } from "./config/index.ts";
import { describeEnvVar, ENV_VARS, LOG_LEVELS, type LogLevel } from "./config/table.ts";
import { POLICY_NAMES, type PolicyName } from "./policy/index.ts";

export const COMMANDS = ["run", "once", "status", "help"] as const;

interface CommonOptions {
  /** `--env-file`; `undefined`: `./.env` if it exists. */
  envFile: string | undefined;
  overrides: CliOverrides;
}

export type CliCommand =
  | { command: "help" }
  | ({ command: "run" } & CommonOptions)
  /** `overrides.dryRun` is `!send`: without `--send` the pass decides and simulates but sends nothing. */
  | ({ command: "once"; send: boolean; json: boolean } & CommonOptions)
  /** Read-only: `overrides.dryRun` is always set, so no key is needed. */
  | ({ command: "status"; json: boolean } & CommonOptions);

/** A bad command line; the message is one line, fit to print above the usage. */
export class CliError extends Error {
  override name = "CliError";
}

const OPTIONS = {
  "dry-run": { type: "boolean" },
  "env-file": { type: "string" },
  "log-level": { type: "string" },
  pretty: { type: "boolean" },
  policy: { type: "string" },
  vault: { type: "string", multiple: true },
  send: { type: "boolean" },
  shadow: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;
type FlagName = keyof typeof OPTIONS;
const FLAG_NAMES = Object.keys(OPTIONS) as FlagName[];

/** Parses `argv` (without the node and script paths, i.e. `process.argv.slice(2)`). Throws `CliError`. */
export function parseCli(argv: readonly string[]): CliCommand {
  // `--help` anywhere wins, even over a bad flag: someone asking for help should get it.
  const terminator = argv.indexOf("--");
  const beforeTerminator = terminator === -1 ? argv : argv.slice(0, terminator);
  if (beforeTerminator.some((arg) => arg === "--help" || arg === "-h")) return { command: "help" };

  // Non-strict so that unknown flags come back as tokens and get a message of ours, with a suggestion.
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const positionals: string[] = [];
  const seen = new Set<FlagName>();
  const strings: Partial<Record<FlagName, string>> = {};
  const vaults: string[] = [];
  const booleans = new Set<FlagName>();

  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === "option-terminator") continue;

    const name = token.name as FlagName;
    if (!FLAG_NAMES.includes(name)) {
      const hint = token.rawName.startsWith("--") ? suggest(token.name, FLAG_NAMES) : undefined;
      throw new CliError(`unknown flag ${token.rawName}${hint === undefined ? "" : ` (did you mean --${hint}?)`}`);
    }
    if (name === "help") return { command: "help" };
    if (seen.has(name) && name !== "vault") throw new CliError(`--${name} given more than once`);
    seen.add(name);

    if (OPTIONS[name].type === "boolean") {
      if (token.value !== undefined) throw new CliError(`--${name} takes no value (got --${name}=${token.value})`);
      booleans.add(name);
      continue;
    }
    // Without an inline `=`, parseArgs takes the next argument even if it is a flag: `--policy --dry-run`.
    if (token.value === undefined || token.value === "" || (!token.inlineValue && token.value.startsWith("-"))) {
      throw new CliError(`--${name} needs a value${valueHint(name)}`);
    }
    if (name === "vault") vaults.push(token.value);
    else strings[name] = token.value;
  }

  const [commandName, ...extra] = positionals;
  if (commandName === undefined) return { command: "help" };
  if (!isOneOf(commandName, COMMANDS)) {
    const hint = suggest(commandName, COMMANDS);
    const didYouMean = hint === undefined ? "" : ` (did you mean ${hint}?)`;
    throw new CliError(`unknown command "${commandName}"${didYouMean}; commands: ${COMMANDS.join(", ")}`);
  }
  if (commandName === "help") return { command: "help" };
  if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}" after ${commandName}`);

  if (booleans.has("send") && commandName !== "once") throw new CliError("--send applies only to once");
  if (booleans.has("send") && booleans.has("dry-run")) {
    throw new CliError("--send and --dry-run contradict each other: pick one");
  }
  if (booleans.has("json") && commandName === "run") throw new CliError("--json applies only to once and status");

  const overrides: CliOverrides = {};
  if (booleans.has("dry-run")) overrides.dryRun = true;
  if (booleans.has("shadow")) {
    if (commandName !== "run") throw new CliError("--shadow applies only to run");
    overrides.shadow = true;
  }
  if (booleans.has("pretty")) overrides.pretty = true;
  if (strings["log-level"] !== undefined) overrides.logLevel = choice("log-level", strings["log-level"], LOG_LEVELS);
  if (strings.policy !== undefined) overrides.policy = choice("policy", strings.policy, POLICY_NAMES);
  if (vaults.length > 0) {
    overrides.vaults = vaults
      .flatMap((value) => value.split(","))
      .map((value) => value.trim())
      .filter((value) => value !== "");
  }

  const common: CommonOptions = { envFile: strings["env-file"], overrides };
  const json = booleans.has("json");
  switch (commandName) {
    case "run":
      return { command: "run", ...common };
    case "once": {
      // An explicit --send wins over DRY_RUN, like every flag over the environment; without it, nothing is sent.
      const send = booleans.has("send");
      overrides.dryRun = !send;
      return { command: "once", send, json, ...common };
    }
    case "status":
      overrides.dryRun = true;
      return { command: "status", json, ...common };
  }
}

export function helpText(): string {
  const width = Math.max(...ENV_VARS.map((variable) => variable.name.length));
  const variables = ENV_VARS.map(
    (variable) => `  ${variable.name.padEnd(width)}  ${wrap(describeEnvVar(variable), width + 4)}`,
  ).join("\n");
  return `delta-keeper: keeps option vaults near delta-neutral by hedging on the AMM when a hedge is worth its cost.

Usage: delta-keeper <command> [flags]      (from a clone: npm run keeper -- <command> [flags])

Commands:
  run      watch every new block and hedge each vault when its policy says so
  once     one pass over the vaults: print each vault's state and decision; sends nothing unless --send
  status   a table per vault: delta, band, hedge balance, last rebalance (reads only)
  help     show this text

Flags:
  --dry-run             decide and simulate, never send a transaction (overrides DRY_RUN)
  --env-file <path>     read variables from this file (default: .env, if present); the environment wins
  --log-level <level>   ${LOG_LEVELS.join(" | ")} (overrides LOG_LEVEL)
  --pretty              human-readable logs instead of JSON lines (overrides LOG_PRETTY)
  --policy <name>       ${wrap(`${POLICY_NAMES.join(" | ")} (overrides KEEPER_POLICY)`, 24)}
  --vault <address>     watch only this vault (repeatable, or comma-separated); replaces VAULTS, or selects
                        from DEPLOYMENTS_FILE
  --send                once only: send the hedges it decides on (even if DRY_RUN=true)
  --shadow              run only: sign and send nothing; log each decision beside what happened on-chain
  --json                once, status: machine-readable JSON output
  -h, --help            show this text (anywhere on the line)

Environment (each explained at length in .env.example; empty means unset):
${variables}
`;
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Help lines fit a 120-column terminal. */
const HELP_WIDTH = 120;

/**
 * `text` broken at spaces into lines that fit `HELP_WIDTH` after `indent` columns (the first line's are the
 * caller's prefix; the others are indented to match). Lists that grow (policies) stay readable.
 */
function wrap(text: string, indent: number): string {
  const room = HELP_WIDTH - indent;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(`\n${" ".repeat(indent)}`);
}

function choice<T extends string>(flag: FlagName, value: string, allowed: readonly T[]): T {
  if (isOneOf(value, allowed)) return value;
  const hint = suggest(value, allowed);
  const didYouMean = hint === undefined ? "" : `; did you mean ${hint}?`;
  throw new CliError(`--${flag} must be one of ${allowed.join(", ")} (got "${value}")${didYouMean}`);
}

function valueHint(name: FlagName): string {
  if (name === "log-level") return `: one of ${LOG_LEVELS.join(", ")}`;
  if (name === "policy") return `: one of ${POLICY_NAMES.join(", ")}`;
  if (name === "vault") return ": a vault address";
  return ": a path";
}

function isOneOf<T extends string>(value: string, allowed: readonly T[]): value is T {
  return (allowed as readonly string[]).includes(value);
}

/** The candidate closest to `input` if it is plausibly a typo of it (at most 2 edits, and under half its length). */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(input.toLowerCase(), candidate);
    if (best === undefined || distance < best.distance) best = { candidate, distance };
  }
  if (best === undefined || best.distance > 2 || best.distance >= best.candidate.length / 2) return undefined;
  return best.candidate;
}

/** Levenshtein distance with adjacent transpositions counted as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between a[0, i) and b[0, j).
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      row[j] = distance;
    }
  }
  return at(a.length, b.length);
}
