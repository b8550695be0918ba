/**
 * `npm run simulate -- [flags]`: the flag table (which is also `--help`), parsed with `node:util`'s `parseArgs`
 * into `SimOptions`. Every bad value is reported at once, each naming its flag.
 */
import { parseArgs } from "node:util";
import { DEFAULT_HEDGE_PARAMS } from "../harness/system.ts";
import { POLICY_FAMILIES, type PolicyFamily } from "./types.ts";

export const MODES = ["model", "fork", "both"] as const;
export const SOURCES = ["gbm", "jump", "regime", "csv"] as const;
/** The vault's book: calls (on the AMM), puts (a long delta: shorted on the perp), or both (a delta that crosses zero). */
export const GAS_SOURCES = ["constant", "process", "replay", "l2"] as const;
export const BOOKS = ["calls", "puts", "mixed"] as const;

export interface SimOptions {
  mode: (typeof MODES)[number];
  source: (typeof SOURCES)[number];
  csv: string;
  paths: number;
  /** undefined: the scenario's (1000), or for CSV windows, a week of the file's rows. */
  steps: number | undefined;
  seed: number;
  /** Path volatility and drift (GBM, jumps). */
  vol: number;
  drift: number;
  jumpsPerYear: number;
  jumpMean: number;
  jumpStd: number;
  /** `--source regime`: the two states' volatilities and mean durations in blocks. */
  regimeVols: [number, number];
  regimeBlocks: [number, number];
  /** The vault's pricing volatility; undefined: the path's (GBM/jumps) or the CSV's realised volatility. */
  vaultVol: number | undefined;
  /** undefined: 12 s, or the CSV's spacing. */
  blockSeconds: number | undefined;
  gasGwei: number;
  /** Gas: `constant` (--gas-gwei), `process` (the EIP-1559 process calibrated to mainnet), `replay` (data/base-fee.csv). */
  gas: (typeof GAS_SOURCES)[number];
  tipGwei: number;
  /** `--flow P,MEAN,MAX`: buyers along the path (a sale per block with probability P, mean size, most per path). */
  flow: [number, number, number] | undefined;
  /** `--gas l2`: the rollup's median execution base fee (gwei) and its L1 fee scalar. */
  l2Gwei: number;
  l1FeeScalar: number;
  maxFeeGwei: number;
  maxPriorityFeeGwei: number;
  feeBps: number;
  depth: number;
  riskAversion: number;
  expiryDays: number;
  optionsSold: number;
  /** `calls` on the AMM alone; `puts` and `mixed` with a perp market beside it. */
  book: (typeof BOOKS)[number];
  /** The vault's hedging budget: window (seconds), notional and slippage per window (whole quote units). */
  budgetWindowSeconds: number;
  notionalBudget: number;
  slippageBudget: number;
  families: PolicyFamily[];
  forkPaths: number;
  forkUrl: string | undefined;
  /** A deployments file (`npm run deploy`) of the forked chain: adopt its vault instead of deploying one. */
  deployment: string | undefined;
  workers: number | undefined;
  out: string;
  progress: boolean;
  /** `--shard i/n`: run only paths j with j mod n = i − 1 (model mode) and write them as a shard for `merge`. */
  shard: { index: number; count: number } | undefined;
  /** `--study out-of-sample`: tune each family on training scenarios, score it on held-out ones (sim/outOfSample.ts). */
  study: "out-of-sample" | "crowding" | undefined;
}

interface Flag {
  name: string;
  value?: string;
  help: string;
}

/** The flags, in `--help` order. */
export const FLAGS: readonly Flag[] = [
  { name: "mode", value: MODES.join("|"), help: "model: the sweep on the model only. fork: every run on the fork. both (default): the model sweep, then --fork-paths paths replayed on the fork for one point per policy, with the fork/model agreement in the report" },
  { name: "source", value: SOURCES.join("|"), help: "price paths: seeded GBM (default), GBM with Merton jumps, or windows of a real price series (--csv)" },
  { name: "csv", value: "FILE", help: "timestamp,price CSV for --source csv (default data/eth-usd.csv: Binance ETH/USDT hourly closes, May–June 2021; see data/README.md)" },
  { name: "paths", value: "N", help: "price paths per policy point (default 200; the validation tests use ≥ 2,000)" },
  { name: "steps", value: "N", help: "blocks per path (default 1000; CSV: 168 rows, a week of hours)" },
  { name: "seed", value: "N", help: "seed of the path generator (default 1); printed in the report, so any run can be repeated" },
  { name: "vol", value: "X", help: "annual volatility of GBM/jump paths (default 0.8)" },
  { name: "drift", value: "X", help: "annual drift μ of GBM/jump paths (default 0; a negative value needs the = form: --drift=-0.1)" },
  { name: "jumps-per-year", value: "X", help: "jump paths: jump intensity λ (default 50)" },
  { name: "jump-mean", value: "X", help: "jump paths: mean log jump size (default -0.01; as --jump-mean=-0.02)" },
  { name: "jump-std", value: "X", help: "jump paths: std of log jump size (default 0.03)" },
  { name: "regime-vols", value: "A,B", help: "--source regime: the calm and the stressed volatility (default 0.5,1.2)" },
  { name: "regime-blocks", value: "A,B", help: "--source regime: their mean durations in blocks (default 2000,500)" },
  { name: "flow", value: "P,MEAN,MAX", help: "buyers open positions along the path: a sale in a block with probability P, of mean size MEAN (exponential), at most MAX options a path (default none: the book sold at the start only)" },
  { name: "vault-vol", value: "X", help: "the vault's pricing volatility (default: the path's --vol; CSV: the file's realised volatility)" },
  { name: "block-seconds", value: "N", help: "chain seconds per block (default 12; CSV: the file's spacing)" },
  { name: "gas-gwei", value: "X", help: "gas price every hedge pays, gwei of the underlying, with --gas constant (default 20)" },
  { name: "gas", value: "S", help: "constant | process (EIP-1559 base fee calibrated to 35,000 mainnet blocks) | replay (data/base-fee.csv) | l2 (a rollup: cheap execution plus each transaction's L1 data fee at the replayed mainnet base fee) (default constant)" },
  { name: "l2-gwei", value: "X", help: "--gas l2: the rollup's median L2 base fee, gwei (default 0.005; its floor 0.001)" },
  { name: "l1-fee-scalar", value: "X", help: "--gas l2: the L1 fee scalar on a hedge's ~2,700 L1 data gas (default 0.684, OP mainnet before blobs)" },
  { name: "tip-gwei", value: "X", help: "median priority fee with moving gas, gwei (default 1.5)" },
  { name: "max-fee-gwei", value: "X", help: "the keeper's MAX_FEE_GWEI with moving gas: a base fee above it holds hedges back (default 100)" },
  { name: "max-priority-fee-gwei", value: "X", help: "the keeper's MAX_PRIORITY_FEE_GWEI with moving gas (default 2)" },
  { name: "fee-bps", value: "N", help: "AMM fee, basis points (default 30)" },
  { name: "depth", value: "X", help: "AMM depth, underlying units (default 10000)" },
  { name: "risk-aversion", value: "X", help: "γ per quote unit: centre of the γ sweeps, and the mean-variance yardstick that picks the best fixed band (default 0.1)" },
  { name: "expiry-days", value: "X", help: "expiry of the calls the vault sold, days (default 7; must outlast the path)" },
  { name: "options-sold", value: "X", help: "at-the-money options the vault sold (default 100; --book mixed: half calls, half puts)" },
  { name: "book", value: BOOKS.join("|"), help: "the vault's book: calls (default; hedged on the AMM), puts (a long delta, hedged short on a perp market beside the AMM), mixed (calls and puts: a delta that crosses zero; the keeper chooses the venue)" },
  { name: "budget-window", value: "SECONDS", help: `the vault's hedging-budget window, 600–2592000 s (default ${DEFAULT_HEDGE_PARAMS.budgetWindowSeconds}, the deployment's)` },
  { name: "notional-budget", value: "N", help: `notional the vault lets hedges trade per window, whole quote units (default ${DEFAULT_HEDGE_PARAMS.notionalBudget})` },
  { name: "slippage-budget", value: "N", help: `fee and impact the vault lets hedges pay per window, whole quote units (default ${DEFAULT_HEDGE_PARAMS.slippageBudget})` },
  { name: "policies", value: "LIST", help: `comma-separated policy families to run (default all): ${POLICY_FAMILIES.join(", ")}` },
  { name: "fork-paths", value: "N", help: "mode both: paths replayed on the fork (default 1)" },
  { name: "fork-url", value: "URL", help: "chain to fork (default: FORK_URL, else a Hardhat node started for the run)" },
  { name: "deployment", value: "FILE", help: "fork and both modes: a deployments file of the forked chain (npm run deploy writes deployments/<chainId>.json); the simulator finds that vault and takes it over on the fork (impersonating its deployer) instead of deploying one" },
  { name: "workers", value: "N", help: "model threads (default: one per core)" },
  { name: "study", value: "S", help: "out-of-sample | crowding (--mode model): tune each policy on training scenarios and report its regret on held-out ones (out-of-sample.md); or many vaults hedging on one pool (crowding.md)" },
  { name: "shard", value: "I/N", help: "run paths j with j mod N = I − 1 only (--mode model) and write shard-I-of-N.json to --out; `simulate merge` joins them" },
  { name: "out", value: "DIR", help: "results folder (default results/simulate): report.md, points.csv, results.json, frontier.svg" },
  { name: "no-progress", help: "no progress bar (it is off anyway when stderr is not a terminal)" },
  { name: "help", help: "this text" },
];

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  mode: "both",
  source: "gbm",
  csv: "data/eth-usd.csv",
  paths: 200,
  steps: undefined,
  seed: 1,
  vol: 0.8,
  drift: 0,
  jumpsPerYear: 50,
  jumpMean: -0.01,
  jumpStd: 0.03,
  regimeVols: [0.5, 1.2],
  regimeBlocks: [2_000, 500],
  vaultVol: undefined,
  blockSeconds: undefined,
  gasGwei: 20,
  gas: "constant",
  tipGwei: 1.5,
  l2Gwei: 0.005,
  l1FeeScalar: 0.684,
  flow: undefined,
  maxFeeGwei: 100,
  maxPriorityFeeGwei: 2,
  feeBps: 30,
  depth: 10_000,
  riskAversion: 0.1,
  expiryDays: 7,
  optionsSold: 100,
  book: "calls",
  budgetWindowSeconds: DEFAULT_HEDGE_PARAMS.budgetWindowSeconds,
  notionalBudget: DEFAULT_HEDGE_PARAMS.notionalBudget,
  slippageBudget: DEFAULT_HEDGE_PARAMS.slippageBudget,
  families: [...POLICY_FAMILIES],
  forkPaths: 1,
  forkUrl: undefined,
  deployment: undefined,
  workers: undefined,
  out: "results/simulate",
  progress: true,
  shard: undefined,
  study: undefined,
};

export class SimCliError extends Error {
  override name = "SimCliError";
}

export function helpText(): string {
  const lines = [
    "npm run simulate -- [flags]",
    "",
    "Runs hedging policies over price paths, on a model calibrated on fork runs and on a fork of a real chain,",
    "and writes a table and a frontier chart of hedge error against total cost (gas + AMM fee + impact).",
    "",
  ];
  for (const f of FLAGS) {
    const head = `  --${f.name}${f.value ? ` ${f.value}` : ""}`;
    lines.push(head.padEnd(30) + f.help);
  }
  lines.push("", "Environment: FORK_URL (chain to fork, as --fork-url).");
  return lines.join("\n");
}

type Parsed = { help: true } | { help: false; options: SimOptions };

/** Parses argv (without node and script); `env` supplies FORK_URL. Throws `SimCliError` listing every problem. */
export function parseSimArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): Parsed {
  const spec = Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.value ? "string" : "boolean" }])) as Record<
    string,
    { type: "string" | "boolean" }
  >;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new SimCliError(`${(err as Error).message} (see --help)`);
  }
  if (values.help) return { help: true };
  const problems: string[] = [];
  const o: SimOptions = { ...DEFAULT_SIM_OPTIONS, families: [...DEFAULT_SIM_OPTIONS.families] };
  const str = (name: string) => values[name] as string | undefined;
  const num = (name: string, check: { min?: number; max?: number; integer?: boolean; positive?: boolean }) => {
    const raw = str(name);
    if (raw === undefined) return undefined;
    const v = Number(raw);
    const bad =
      raw.trim() === "" ||
      !Number.isFinite(v) ||
      (check.integer && !Number.isInteger(v)) ||
      (check.positive && !(v > 0)) ||
      (check.min !== undefined && v < check.min) ||
      (check.max !== undefined && v > check.max);
    if (bad) {
      const want = [
        check.integer ? "an integer" : "a number",
        check.positive ? "> 0" : "",
        check.min !== undefined ? `≥ ${check.min}` : "",
        check.max !== undefined ? `≤ ${check.max}` : "",
      ].filter(Boolean);
      problems.push(`--${name}: expected ${want.join(" ")}, got "${raw}"`);
      return undefined;
    }
    return v;
  };
  const choice = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const raw = str(name);
    if (raw === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`--${name}: expected one of ${allowed.join(", ")}, got "${raw}"`);
      return undefined;
    }
    return raw as T;
  };
  o.mode = choice("mode", MODES) ?? o.mode;
  o.source = choice("source", SOURCES) ?? o.source;
  o.csv = str("csv") ?? o.csv;
  o.paths = num("paths", { integer: true, min: 1, max: 1_000_000 }) ?? o.paths;
  o.steps = num("steps", { integer: true, min: 1, max: 10_000_000 }) ?? o.steps;
  o.seed = num("seed", { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? o.seed;
  o.vol = num("vol", { min: 0, max: 10 }) ?? o.vol;
  o.drift = num("drift", { min: -10, max: 10 }) ?? o.drift;
  o.jumpsPerYear = num("jumps-per-year", { min: 0, max: 1e6 }) ?? o.jumpsPerYear;
  o.jumpMean = num("jump-mean", { min: -1, max: 1 }) ?? o.jumpMean;
  o.jumpStd = num("jump-std", { min: 0, max: 1 }) ?? o.jumpStd;
  const pair = (name: string, check: (x: number) => boolean, want: string): [number, number] | undefined => {
    const raw = str(name);
    if (raw === undefined) return undefined;
    const xs = raw.split(",").map((x) => Number(x.trim()));
    if (xs.length !== 2 || !xs.every((x) => Number.isFinite(x) && check(x))) {
      problems.push(`--${name}: expected two numbers ${want}, comma-separated, got "${raw}"`);
      return undefined;
    }
    return [xs[0]!, xs[1]!];
  };
  o.regimeVols = pair("regime-vols", (x) => x >= 0 && x <= 10, "in [0, 10]") ?? o.regimeVols;
  o.regimeBlocks = pair("regime-blocks", (x) => x >= 1 && x <= 1e9, "≥ 1") ?? o.regimeBlocks;
  const flow = str("flow");
  if (flow !== undefined) {
    const xs = flow.split(",").map((x) => Number(x.trim()));
    if (xs.length !== 3 || !xs.every(Number.isFinite) || !(xs[0]! >= 0 && xs[0]! <= 1) || !(xs[1]! > 0) || !(xs[2]! >= 0)) {
      problems.push(`--flow: expected P,MEAN,MAX with 0 ≤ P ≤ 1, MEAN > 0 and MAX ≥ 0 (e.g. 0.02,5,100), got "${flow}"`);
    } else {
      o.flow = [xs[0]!, xs[1]!, xs[2]!];
    }
  }
  o.vaultVol = num("vault-vol", { positive: true, max: 10 }) ?? o.vaultVol;
  o.blockSeconds = num("block-seconds", { integer: true, min: 1, max: 86_400 }) ?? o.blockSeconds;
  o.gasGwei = num("gas-gwei", { min: 0, max: 1e6 }) ?? o.gasGwei;
  o.gas = choice("gas", GAS_SOURCES) ?? o.gas;
  o.tipGwei = num("tip-gwei", { min: 0, max: 1e6 }) ?? o.tipGwei;
  o.l2Gwei = num("l2-gwei", { positive: true, max: 1e6 }) ?? o.l2Gwei;
  o.l1FeeScalar = num("l1-fee-scalar", { min: 0, max: 1e6 }) ?? o.l1FeeScalar;
  if (o.gas !== "l2" && (values["l2-gwei"] !== undefined || values["l1-fee-scalar"] !== undefined)) {
    problems.push("--l2-gwei and --l1-fee-scalar: need --gas l2");
  }
  o.maxFeeGwei = num("max-fee-gwei", { positive: true, max: 1e6 }) ?? o.maxFeeGwei;
  o.maxPriorityFeeGwei = num("max-priority-fee-gwei", { min: 0, max: 1e6 }) ?? o.maxPriorityFeeGwei;
  if (o.maxPriorityFeeGwei > o.maxFeeGwei) problems.push(`--max-priority-fee-gwei: must not exceed --max-fee-gwei (${o.maxFeeGwei})`);
  o.feeBps = num("fee-bps", { integer: true, min: 0, max: 1000 }) ?? o.feeBps;
  o.depth = num("depth", { positive: true, max: 1e12 }) ?? o.depth;
  o.riskAversion = num("risk-aversion", { positive: true, max: 1e6 }) ?? o.riskAversion;
  o.expiryDays = num("expiry-days", { positive: true, max: 3650 }) ?? o.expiryDays;
  o.optionsSold = num("options-sold", { positive: true, max: 1e9 }) ?? o.optionsSold;
  o.book = choice("book", BOOKS) ?? o.book;
  o.budgetWindowSeconds = num("budget-window", { integer: true, min: 600, max: 30 * 86_400 }) ?? o.budgetWindowSeconds;
  o.notionalBudget = num("notional-budget", { integer: true, min: 1, max: 2 ** 32 - 1 }) ?? o.notionalBudget;
  o.slippageBudget = num("slippage-budget", { integer: true, min: 1, max: 2 ** 32 - 1 }) ?? o.slippageBudget;
  o.forkPaths = num("fork-paths", { integer: true, min: 0, max: 100_000 }) ?? o.forkPaths;
  o.workers = num("workers", { integer: true, min: 1, max: 256 }) ?? o.workers;
  o.out = str("out") ?? o.out;
  o.deployment = str("deployment") ?? o.deployment;
  if (o.deployment !== undefined && o.mode === "model") problems.push(`--deployment: needs --mode fork or both (the model deploys nothing)`);
  o.forkUrl = str("fork-url") ?? env.FORK_URL ?? undefined;
  if (o.forkUrl !== undefined && !/^(https?|wss?):\/\//.test(o.forkUrl)) {
    problems.push(`--fork-url / FORK_URL: expected an http(s) or ws(s) URL`);
  }
  o.progress = !values["no-progress"];
  const study = str("study");
  if (study !== undefined) {
    if (study !== "out-of-sample" && study !== "crowding") problems.push(`--study: expected out-of-sample or crowding, got "${study}"`);
    else if (o.mode !== "model") problems.push(`--study: needs --mode model (every scenario is a model sweep)`);
    else o.study = study;
  }
  const shard = str("shard");
  if (shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shard.trim());
    const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(count >= 1 && index >= 1 && index <= count)) {
      problems.push(`--shard: expected i/n with 1 ≤ i ≤ n (e.g. 2/8), got "${shard}"`);
    } else if (o.mode !== "model") {
      problems.push(`--shard: needs --mode model (a shard runs a slice of the model sweep; run the fork on its own)`);
    } else {
      o.shard = { index, count };
    }
  }
  const list = str("policies");
  if (list !== undefined) {
    const names = list.split(",").map((x) => x.trim()).filter(Boolean);
    const unknown = names.filter((n) => !(POLICY_FAMILIES as readonly string[]).includes(n));
    if (unknown.length > 0 || names.length === 0) {
      problems.push(`--policies: unknown ${unknown.map((u) => `"${u}"`).join(", ") || "(empty list)"}; expected some of ${POLICY_FAMILIES.join(", ")}`);
    } else {
      o.families = names as PolicyFamily[];
    }
  }
  if (problems.length > 0) throw new SimCliError(problems.join("\n"));
  return { help: false, options: o };
}
