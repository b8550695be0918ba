import { describe, expect, it } from "vitest";
import { COMMANDS, CliError, helpText, parseCli, suggest } from "../../keeper/cli.ts";
import { ENV_VARS, LOG_LEVELS } from "../../keeper/config/index.ts";
import { POLICY_NAMES } from "../../keeper/policy/index.ts";

const VAULT_A = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const VAULT_B = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";

function cliError(argv: string[]): string {
  try {
    parseCli(argv);
  } catch (error) {
    if (error instanceof CliError) return error.message;
    throw error;
  }
  throw new Error(`expected a CliError for ${argv.join(" ")}`);
}

describe("parseCli: commands", () => {
  it("run, with no flags, overrides nothing and uses the default env file", () => {
    expect(parseCli(["run"])).toEqual({ command: "run", envFile: undefined, overrides: {} });
  });

  it("once without --send is a dry run that sends nothing", () => {
    expect(parseCli(["once"])).toEqual({ command: "once", send: false, json: false, envFile: undefined, overrides: { dryRun: true } });
  });

  it("once --send sends, overriding DRY_RUN like any flag overrides the environment", () => {
    expect(parseCli(["once", "--send", "--json"])).toEqual({
      command: "once",
      send: true,
      json: true,
      envFile: undefined,
      overrides: { dryRun: false },
    });
  });

  it("status only reads, so it never needs a key", () => {
    expect(parseCli(["status", "--json"])).toEqual({ command: "status", json: true, envFile: undefined, overrides: { dryRun: true } });
  });

  it("help, no arguments at all, --help and -h anywhere all show help", () => {
    const lines = [["help"], [], ["--help"], ["-h"], ["run", "--help"], ["once", "--send", "-h"], ["status", "--bogus", "--help"]];
    for (const argv of [...lines, ["nonsense", "-h"]]) {
      expect(parseCli(argv), argv.join(" ")).toEqual({ command: "help" });
    }
  });

  it("flags may come before the command", () => {
    expect(parseCli(["--dry-run", "run"])).toEqual({ command: "run", envFile: undefined, overrides: { dryRun: true } });
  });
});

describe("parseCli: flags", () => {
  it("turns every overriding flag into a CliOverrides field", () => {
    expect(parseCli(["run", "--dry-run", "--pretty", "--log-level", "debug", "--policy=band", "--env-file", "prod.env"])).toEqual({
      command: "run",
      envFile: "prod.env",
      overrides: { dryRun: true, pretty: true, logLevel: "debug", policy: "band" },
    });
  });

  it("--vault is repeatable and takes comma-separated lists", () => {
    const command = parseCli(["status", "--vault", VAULT_A, `--vault=${VAULT_B}, ${VAULT_A}`]);
    expect(command).toMatchObject({ overrides: { vaults: [VAULT_A, VAULT_B, VAULT_A] } });
  });

  it.each(LOG_LEVELS)("accepts --log-level %s", (level) => {
    expect(parseCli(["run", "--log-level", level])).toMatchObject({ overrides: { logLevel: level } });
  });

  it.each(POLICY_NAMES)("accepts --policy %s", (policy) => {
    expect(parseCli(["once", `--policy=${policy}`])).toMatchObject({ overrides: { policy } });
  });

  it("rejects a bad --log-level or --policy value, naming the allowed ones", () => {
    expect(cliError(["run", "--log-level", "verbose"])).toBe(
      '--log-level must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")',
    );
    expect(cliError(["run", "--policy", "bnad"])).toBe(
      "--policy must be one of every-block, interval, band, whalley-wilmott, gas-aware, delay-cap, time-or-move " +
        '(got "bnad"); did you mean band?',
    );
  });

  it("rejects a value flag without its value, even when the next argument is a flag", () => {
    expect(cliError(["run", "--log-level"])).toBe("--log-level needs a value: one of trace, debug, info, warn, error, fatal, silent");
    expect(cliError(["run", "--policy", "--dry-run"])).toBe(
      "--policy needs a value: one of every-block, interval, band, whalley-wilmott, gas-aware, delay-cap, time-or-move",
    );
    expect(cliError(["run", "--env-file="])).toBe("--env-file needs a value: a path");
    expect(cliError(["run", "--vault"])).toBe("--vault needs a value: a vault address");
  });

  it("rejects a value on a switch, and a flag given twice", () => {
    expect(cliError(["run", "--dry-run=false"])).toBe("--dry-run takes no value (got --dry-run=false)");
    expect(cliError(["run", "--policy", "band", "--policy", "interval"])).toBe("--policy given more than once");
  });

  it("allows --send only on once, and not with --dry-run", () => {
    expect(cliError(["run", "--send"])).toBe("--send applies only to once");
    expect(cliError(["status", "--send"])).toBe("--send applies only to once");
    expect(cliError(["once", "--send", "--dry-run"])).toBe("--send and --dry-run contradict each other: pick one");
  });

  it("allows --json only on once and status", () => {
    expect(cliError(["run", "--json"])).toBe("--json applies only to once and status");
  });
});

describe("parseCli: unknown input", () => {
  it("suggests the closest flag for a typo", () => {
    expect(cliError(["run", "--dryrun"])).toBe("unknown flag --dryrun (did you mean --dry-run?)");
    expect(cliError(["once", "--jsno"])).toBe("unknown flag --jsno (did you mean --json?)");
    expect(cliError(["run", "--log-levle", "info"])).toBe("unknown flag --log-levle (did you mean --log-level?)");
    expect(cliError(["run", "--envfile", "x"])).toBe("unknown flag --envfile (did you mean --env-file?)");
  });

  it("says only 'unknown flag' when nothing is close", () => {
    expect(cliError(["run", "--verbose"])).toBe("unknown flag --verbose");
    expect(cliError(["run", "-x"])).toBe("unknown flag -x");
  });

  it("suggests the closest command for a typo", () => {
    expect(cliError(["rnu"])).toBe('unknown command "rnu" (did you mean run?); commands: run, once, status, help');
    expect(cliError(["stauts"])).toBe('unknown command "stauts" (did you mean status?); commands: run, once, status, help');
    expect(cliError(["deploy"])).toBe('unknown command "deploy"; commands: run, once, status, help');
  });

  it("rejects a second positional argument", () => {
    expect(cliError(["once", "now"])).toBe('unexpected argument "now" after once');
  });

  it("every error is a single line", () => {
    for (const argv of [["--dryrun"], ["rnu"], ["run", "--log-level", "x"], ["run", "--send"]]) {
      expect(cliError(argv)).not.toContain("\n");
    }
  });
});

describe("suggest", () => {
  it("counts an adjacent swap as one edit and ignores case", () => {
    expect(suggest("urn", COMMANDS)).toBe("run");
    expect(suggest("ONCE", COMMANDS)).toBe("once");
  });

  it("refuses matches that are mostly edits", () => {
    expect(suggest("x", COMMANDS)).toBeUndefined();
    expect(suggest("go", COMMANDS)).toBeUndefined();
    expect(suggest("", COMMANDS)).toBeUndefined();
  });
});

describe("helpText", () => {
  const text = helpText();

  it("explains every command", () => {
    for (const command of COMMANDS) expect(text).toMatch(new RegExp(`^  ${command} +\\S`, "m"));
  });

  it("explains every flag parseCli accepts", () => {
    const flags = ["--dry-run", "--env-file <path>", "--log-level <level>", "--pretty", "--policy <name>"];
    for (const flag of [...flags, "--vault <address>", "--send", "--json", "-h, --help"]) {
      expect(text).toContain(`  ${flag}  `);
    }
  });

  it("lists every environment variable, every policy and log level, and points to .env.example", () => {
    for (const variable of ENV_VARS) expect(text).toMatch(new RegExp(`^  ${variable.name} +\\S`, "m"));
    for (const name of [...POLICY_NAMES, ...LOG_LEVELS]) expect(text).toContain(name);
    expect(text).toContain(".env.example");
  });

  it("fits a 120-column terminal", () => {
    for (const line of text.split("\n")) expect(line.length, line).toBeLessThanOrEqual(120);
  });
});
