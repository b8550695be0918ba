/**
 * `.env.example` is the long-form documentation of the configuration table (keeper/config/table.ts): it must list
 * exactly the table's variables, in the table's order, each with the table's default. And the table is the only
 * home of a default: the options builder and the parser agree on every one.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../keeper/config/index.ts";
import { CONFIG_DEFAULTS, ENV_VARS, type EnvVar } from "../../keeper/config/table.ts";
import { keeperOptions, keeperOptionsFromConfig } from "../../keeper/options.ts";

const text = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");

type Form = "default" | "example" | "set";
/** Every line that names a variable: `# NAME=default`, `# e.g. NAME=example` or `NAME=value`. */
const lines = text.split("\n").flatMap((line) => {
  const match = /^(# e\.g\. |# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
  if (match === null) return [];
  const form: Form = match[1] === undefined ? "set" : match[1] === "# " ? "default" : "example";
  return [{ name: match[2]!, value: match[3]!, form }];
});

/** A default `.env.example` can write: +Infinity (POLICY_MAX_HEDGE's "no cap") cannot be. */
function writable(row: EnvVar): boolean {
  return row.default !== undefined && (typeof row.default !== "number" || Number.isFinite(row.default));
}

/** Does the text of a `# NAME=value` line say the table's default? Numbers compare as numbers (`1e-6`). */
function sameValue(written: string, value: number | string | boolean): boolean {
  return typeof value === "number" ? written.trim() !== "" && Number(written) === value : written === String(value);
}

describe(".env.example matches the configuration table", () => {
  it("lists exactly the table's variables, in the table's order", () => {
    const inFile = [...new Set(lines.map((line) => line.name))];
    expect(inFile).toEqual(ENV_VARS.map((row) => row.name));
  });

  it.each(ENV_VARS.map((row): [string, EnvVar] => [row.name, row]))("%s: shows the table's default, or none", (name, row) => {
    const defaults = lines.filter((line) => line.name === name && line.form === "default");
    if (writable(row)) {
      expect(defaults, `one "# ${name}=…" line`).toHaveLength(1);
      expect(sameValue(defaults[0]!.value, row.default!), `${name}=${defaults[0]!.value} vs ${String(row.default)}`).toBe(true);
    } else {
      expect(defaults, `no "# ${name}=…" line: ${name} has no default`).toEqual([]);
    }
  });

  it("sets a value only for the required endpoint and the key to fill in", () => {
    const set = lines.filter((line) => line.form === "set");
    expect(set.map((line) => line.name)).toEqual(["RPC_URL", "PRIVATE_KEY"]);
    expect(set.find((line) => line.name === "PRIVATE_KEY")?.value, "no key is shipped").toBe("");
  });

  it("documents SWAP_DEADLINE_SECONDS, the swap deadline the keeper used to hard-code", () => {
    expect(CONFIG_DEFAULTS.SWAP_DEADLINE_SECONDS).toBe(300);
    expect(lines).toContainEqual({ name: "SWAP_DEADLINE_SECONDS", value: "300", form: "default" });
  });
});

describe("defaults live in the table only", () => {
  const env = {
    RPC_URL: "http://127.0.0.1:8545",
    VAULTS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    LENS_ADDRESS: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
    DRY_RUN: "true",
  };

  it("the options builder fills in exactly what parsing an empty environment gives", () => {
    const config = parseConfig(env);
    const fromConfig = keeperOptionsFromConfig(config);
    const built = keeperOptions({ lens: config.lens, vaults: config.vaults, dryRun: true });
    expect(built).toEqual(fromConfig);
    expect(built.deadlineSeconds).toBe(300);
    expect(built.resilience.maxOracleDeviationBps).toBe(CONFIG_DEFAULTS.MAX_ORACLE_DEVIATION_BPS);
  });

  it("carries SWAP_DEADLINE_SECONDS to the keeper's deadlineSeconds", () => {
    expect(keeperOptionsFromConfig(parseConfig({ ...env, SWAP_DEADLINE_SECONDS: "90" })).deadlineSeconds).toBe(90);
  });

  it("keeps what the caller sets, field by field, down to one resilience setting", () => {
    const options = keeperOptions({ lens: parseConfig(env).lens, vaults: [], resilience: { replaceAfterBlocks: 7 } });
    expect(options.resilience).toEqual({
      replaceAfterBlocks: 7,
      feeBumpPercent: CONFIG_DEFAULTS.FEE_BUMP_PERCENT,
      retryBackoffBlocks: CONFIG_DEFAULTS.RETRY_BACKOFF_BLOCKS,
      gasBudgetPerHourWei: undefined,
      gasBudgetPerDayWei: undefined,
      maxOracleDeviationBps: CONFIG_DEFAULTS.MAX_ORACLE_DEVIATION_BPS,
    });
  });
});
