/**
 * `npm run simulate` flags: defaults, every flag, `--help`, and errors that name each bad flag (all at once).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SIM_OPTIONS, FLAGS, helpText, parseSimArgs, SimCliError, type SimOptions } from "../../sim/cli.ts";
import { buildInputs } from "../../sim/run.ts";
import { DEFAULT_SCENARIO } from "../../sim/scenario.ts";
import { POLICY_FAMILIES } from "../../sim/types.ts";

function options(argv: string[], env: Record<string, string | undefined> = {}): SimOptions {
  const parsed = parseSimArgs(argv, env);
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.options;
}

function cliError(argv: string[], env: Record<string, string | undefined> = {}): SimCliError {
  try {
    parseSimArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(SimCliError);
    return err as SimCliError;
  }
  throw new Error(`parseSimArgs(${argv.join(" ")}) did not throw`);
}

describe("parseSimArgs", () => {
  it("with no arguments gives DEFAULT_SIM_OPTIONS", () => {
    expect(options([])).toEqual(DEFAULT_SIM_OPTIONS);
  });

  it("does not share the defaults' policy list with its result", () => {
    const o = options([]);
    o.families.pop();
    expect(DEFAULT_SIM_OPTIONS.families).toEqual([...POLICY_FAMILIES]);
  });

  it("parses every flag", () => {
    const o = options([
      "--mode", "fork",
      "--source", "jump",
      "--csv", "prices.csv",
      "--paths", "2000",
      "--steps", "300",
      "--seed", "4294967295",
      "--vol", "0.65",
      "--drift=-0.2",
      "--jumps-per-year", "12.5",
      "--jump-mean=-0.02",
      "--jump-std", "0.05",
      "--vault-vol", "0.7",
      "--block-seconds", "2",
      "--gas-gwei", "3.5",
      "--fee-bps", "5",
      "--depth", "2500",
      "--risk-aversion", "0.002",
      "--regime-vols", "0.4, 1.5",
      "--regime-blocks", "300,100",
      "--gas", "process",
      "--tip-gwei", "0.5",
      "--max-fee-gwei", "60",
      "--max-priority-fee-gwei", "1",
      "--expiry-days", "30",
      "--options-sold", "10",
      "--book", "mixed",
      "--budget-window", "600",
      "--notional-budget", "50000",
      "--slippage-budget", "150",
      "--policies", "band-zero, gas-aware",
      "--fork-paths", "0",
      "--fork-url", "https://rpc.example",
      "--deployment", "deployments/11155111.json",
      "--workers", "4",
      "--out", "results/x",
      "--no-progress",
    ]);
    expect(o).toEqual({
      mode: "fork",
      source: "jump",
      csv: "prices.csv",
      paths: 2000,
      steps: 300,
      seed: 4294967295,
      vol: 0.65,
      drift: -0.2,
      jumpsPerYear: 12.5,
      jumpMean: -0.02,
      jumpStd: 0.05,
      regimeVols: [0.4, 1.5],
      regimeBlocks: [300, 100],
      vaultVol: 0.7,
      blockSeconds: 2,
      gasGwei: 3.5,
      gas: "process",
      tipGwei: 0.5,
      maxFeeGwei: 60,
      maxPriorityFeeGwei: 1,
      l2Gwei: 0.005,
      l1FeeScalar: 0.684,
      flow: undefined,
      feeBps: 5,
      depth: 2500,
      riskAversion: 0.002,
      expiryDays: 30,
      optionsSold: 10,
      book: "mixed",
      budgetWindowSeconds: 600,
      notionalBudget: 50_000,
      slippageBudget: 150,
      families: ["band-zero", "gas-aware"],
      forkPaths: 0,
      forkUrl: "https://rpc.example",
      deployment: "deployments/11155111.json",
      workers: 4,
      out: "results/x",
      progress: false,
      shard: undefined,
      study: undefined,
    } satisfies SimOptions);
  });

  it("the budget flags set the vault's hedging budget in the scenario; by default it is the deployment's", () => {
    const { scenario } = buildInputs(options(["--budget-window", "600", "--notional-budget", "50000", "--slippage-budget", "150", "--paths", "1", "--steps", "10"]));
    expect(scenario.hedge).toEqual({ ...DEFAULT_SCENARIO.hedge, budgetWindowSeconds: 600, notionalBudget: 50_000, slippageBudget: 150 });
    expect(buildInputs(options(["--paths", "1", "--steps", "10"])).scenario.hedge).toEqual(DEFAULT_SCENARIO.hedge);
  });

  it("a book too large for the default capital gets the capital the vault's collateral rule needs, with margin", () => {
    expect(buildInputs(options(["--paths", "1", "--steps", "10"])).scenario.vaultDeposit).toBe(DEFAULT_SCENARIO.vaultDeposit);
    // 1,000 ATM calls at 3,000 pay 1,000 × (6,000 − 3,000) at the stress price: 3,000,000 at 80% utilisation.
    const { scenario } = buildInputs(options(["--options-sold", "1000", "--paths", "1", "--steps", "10"]));
    expect(scenario.vaultDeposit).toBe(Math.ceil(1.25 * (3_000_000 / 0.8)));
  });

  it("--gas process and replay give the scenario moving gas with the keeper's caps; constant gives none", () => {
    const process = buildInputs(options(["--gas", "process", "--max-fee-gwei", "80", "--seed", "7", "--paths", "1", "--steps", "10"])).scenario;
    expect(process.gas).toMatchObject({ seed: 7, maxFeeGwei: 80, maxPriorityFeeGwei: 2, source: { kind: "eip1559", tipGwei: 1.5 } });
    const replay = buildInputs(options(["--gas", "replay", "--paths", "1", "--steps", "10"])).scenario;
    expect(replay.gas?.source.kind).toBe("replay");
    expect(buildInputs(options(["--paths", "1", "--steps", "10"])).scenario.gas).toBeUndefined();
    expect(() => parseSimArgs(["--gas", "spiky"])).toThrow(/--gas/);
    expect(() => parseSimArgs(["--max-fee-gwei", "1", "--max-priority-fee-gwei", "2"])).toThrow(/--max-priority-fee-gwei: must not exceed/);
  });

  it("--deployment needs a mode with a fork", () => {
    expect(() => parseSimArgs(["--mode", "model", "--deployment", "d.json"])).toThrow(/--deployment: needs --mode fork or both/);
    expect(options(["--mode", "both", "--deployment", "d.json"]).deployment).toBe("d.json");
  });

  it("--source regime gives a regime-switching source priced at its stationary volatility; bad pairs are named", () => {
    const { scenario } = buildInputs(options(["--source", "regime", "--regime-vols", "0.5,1.2", "--regime-blocks", "2000,500", "--paths", "1", "--steps", "10"]));
    // √(0.8 · 0.25 + 0.2 · 1.44) = √0.488
    expect(scenario.vol).toBeCloseTo(Math.sqrt(0.488), 4);
    expect(() => parseSimArgs(["--regime-vols", "0.5"])).toThrow(/--regime-vols: expected two numbers/);
    expect(() => parseSimArgs(["--regime-blocks", "0,5"])).toThrow(/--regime-blocks: expected two numbers ≥ 1/);
  });

  it("accepts every mode and source", () => {
    for (const mode of ["model", "fork", "both"] as const) expect(options(["--mode", mode]).mode).toBe(mode);
    for (const source of ["gbm", "jump", "regime", "csv"] as const) expect(options(["--source", source]).source).toBe(source);
  });

  it("--help returns help, whatever else is given", () => {
    expect(parseSimArgs(["--help"])).toEqual({ help: true });
    expect(parseSimArgs(["--paths", "0", "--help"])).toEqual({ help: true });
  });
});

describe("helpText", () => {
  it("mentions every flag in FLAGS, with its value", () => {
    const text = helpText();
    for (const f of FLAGS) expect(text).toContain(`--${f.name}${f.value ? ` ${f.value}` : ""}`);
  });

  it("names FORK_URL and every policy family", () => {
    const text = helpText();
    expect(text).toContain("FORK_URL");
    for (const family of POLICY_FAMILIES) expect(text).toContain(family);
  });

  it("FLAGS are the flags parseSimArgs accepts", () => {
    for (const f of FLAGS) {
      if (f.name === "help") continue;
      // A value that is wrong for every valued flag but passes the parser: only validation can reject it.
      const argv = f.value ? [`--${f.name}`, "x"] : [`--${f.name}`];
      try {
        parseSimArgs(argv);
      } catch (err) {
        expect((err as Error).message, f.name).not.toMatch(/Unknown option/);
      }
    }
  });
});

describe("bad values are a SimCliError naming the flag", () => {
  it.each([
    [["--paths", "0"], "--paths"],
    [["--paths", "1.5"], "--paths"],
    [["--paths", ""], "--paths"],
    [["--mode", "fast"], "--mode"],
    [["--source", "gaussian"], "--source"],
    [["--policies", "band,nope"], "--policies"],
    [["--policies", ","], "--policies"],
    [["--fee-bps=-1"], "--fee-bps"],
    [["--fee-bps", "1001"], "--fee-bps"],
    [["--fork-url", "ftp://x"], "--fork-url"],
    [["--vol", "abc"], "--vol"],
    [["--vault-vol", "0"], "--vault-vol"],
    [["--seed", "4294967296"], "--seed"],
    [["--workers", "0"], "--workers"],
    [["--budget-window", "599"], "--budget-window"],
    [["--notional-budget", "0"], "--notional-budget"],
    [["--slippage-budget", "4294967296"], "--slippage-budget"],
    [["--slippage-budget", "1.5"], "--slippage-budget"],
  ])("%j", (argv, flag) => {
    expect(cliError(argv).message).toContain(flag);
  });

  it("--fee-bps -1 (a dash value without =) is refused by the parser, naming the flag", () => {
    expect(cliError(["--fee-bps", "-1"]).message).toContain("--fee-bps");
  });

  it("--policies names each unknown family", () => {
    const message = cliError(["--policies", "band,nope"]).message;
    expect(message).toContain(`"band"`);
    expect(message).toContain(`"nope"`);
  });

  it("reports several bad flags together in one error", () => {
    const message = cliError(["--paths", "0", "--mode", "fast", "--policies", "nope", "--fee-bps=-1", "--fork-url", "ftp://x"]).message;
    for (const flag of ["--paths", "--mode", "--policies", "--fee-bps", "--fork-url"]) expect(message).toContain(flag);
    expect(message.split("\n")).toHaveLength(5);
  });

  it("an unknown flag is a SimCliError", () => {
    expect(cliError(["--nope"]).message).toContain("--nope");
  });

  it("a positional argument is a SimCliError", () => {
    cliError(["model"]);
  });

  it("a valued flag without its value is a SimCliError", () => {
    cliError(["--paths"]);
  });
});

describe("FORK_URL", () => {
  it("comes from the environment when --fork-url is not given", () => {
    expect(options([], { FORK_URL: "http://127.0.0.1:8545" }).forkUrl).toBe("http://127.0.0.1:8545");
  });

  it("--fork-url overrides the environment", () => {
    expect(options(["--fork-url", "wss://node.example/ws"], { FORK_URL: "http://127.0.0.1:8545" }).forkUrl).toBe(
      "wss://node.example/ws",
    );
  });

  it("a bad FORK_URL in the environment is a SimCliError, but a good --fork-url replaces it", () => {
    expect(cliError([], { FORK_URL: "ftp://x" }).message).toContain("FORK_URL");
    expect(options(["--fork-url", "http://ok.example"], { FORK_URL: "ftp://x" }).forkUrl).toBe("http://ok.example");
  });
});
