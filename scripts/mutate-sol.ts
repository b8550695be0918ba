/**
 * `npm run mutate:sol`: mutation testing of the vault's guards and math, the project's own way. Each mutant below
 * is one deliberate break — a guard disabled, a bound loosened, a coefficient nudged — written as an exact text
 * replacement in a contract. For each, in a scratch copy of the project (never in this working tree): apply it,
 * compile, run the Solidity tests that should notice, and expect them to fail. A mutant whose tests still pass
 * SURVIVED: some promise of the vault is not pinned by any test.
 *
 *   node scripts/mutate-sol.ts                 every mutant (2 at a time; see --jobs)
 *   node scripts/mutate-sol.ts --jobs N        N mutants at a time, each in its own scratch copy (default 2)
 *   node scripts/mutate-sol.ts --fast          the CI subset (3 mutants, ~2.5 min; ~4 min with the baselines)
 *   node scripts/mutate-sol.ts slippage inv:   only mutants whose name contains one of the words
 *   node scripts/mutate-sol.ts --list          print the mutants and exit
 *   node scripts/mutate-sol.ts --no-baseline   skip checking that each test selection passes unmutated
 *
 * The original text of every mutant must occur exactly once in its file, checked before anything runs: when the
 * code changes under a mutant, the script stops and says which, so the list cannot silently rot. Exit status 1 if
 * any mutant survived, did not compile, timed out, or a baseline failed; 2 on a stale or unknown mutant.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The Solidity tests a mutant should fail: files (relative to the root) and an optional `--grep` on test names. */
interface Selection {
  readonly files: readonly string[];
  readonly grep?: string;
}

interface Mutant {
  readonly name: string;
  /** The contract, relative to the project root. */
  readonly file: string;
  /** Text that must occur exactly once in `file`. */
  readonly from: string;
  readonly to: string;
  readonly tests: Selection;
  /** In the `--fast` subset CI runs. */
  readonly fast?: boolean;
}

const VAULT = "contracts/OptionVault.sol";
const BASE = "contracts/OptionVaultBase.sol";
const EXT = "contracts/OptionVaultExtension.sol";
const BOOK = "contracts/libraries/OptionBook.sol";
const NORMAL = "contracts/libraries/NormalDist.sol";

const UNIT: Selection = { files: ["test/solidity/OptionVault.t.sol"] };
const SLIPPAGE: Selection = { files: ["test/solidity/SlippageBound.t.sol"] };
const ATTACKS: Selection = { files: ["test/solidity/Attacks.t.sol"] };
const MATH: Selection = { files: ["test/solidity/BlackScholes.t.sol"] };
/** The guards pinned at their edges, one focused test each (`Guards.t.sol`, tests named `test_guard_…`). */
const GUARDS = "test/solidity/Guards.t.sol";
/** One invariant, in every campaign of `VaultInvariants.t.sol` (`--grep` matches test names, not contracts, and is
 * a regexp), with the focused guard tests beside it: a campaign alone may not reach a guard's edge. */
const invariant = (name: string): Selection => ({
  files: ["test/solidity/VaultInvariants.t.sol", GUARDS],
  grep: `${name}|test_guard_`,
});

/** The perp venue's fuzz of `hedgePerp` and margin withdrawals (`PerpVault.t.sol`). */
const PERP: Selection = { files: ["test/solidity/PerpVault.t.sol"] };

export const MUTANTS: readonly Mutant[] = [
  // ---- the perp venue (issue 14) ----
  {
    name: "perp minimum margin after a hedge disabled",
    file: VAULT,
    from: "if (effective < required.toInt256()) revert PerpMarginTooLow(effective, required);",
    to: "",
    tests: PERP,
  },
  {
    name: "perp minimum margin after a withdrawal disabled",
    file: EXT,
    from: "if (effective < required.toInt256()) revert PerpMarginTooLow(effective, required);",
    to: "",
    tests: PERP,
  },
  {
    name: "perp size check before the market disabled",
    file: VAULT,
    from: "if (t.amountIn > t.limits.maxTradeWad) revert TradeTooLarge(t.amountIn, t.limits.maxTradeWad);",
    to: "",
    tests: PERP,
  },
  // ---- the rebalance guards (issue 11's table) ----
  {
    name: "delta-not-reduced disabled",
    file: VAULT,
    from: "if (absAfter >= _abs(t.beforeWad)) revert DeltaNotReduced",
    to: "if (false) revert DeltaNotReduced",
    tests: UNIT,
    fast: true,
  },
  {
    name: "hedge-overshoot disabled",
    file: VAULT,
    from: "if ((t.beforeWad < 0) != (afterWad < 0) && afterWad != 0 && absAfter > toleranceWad) {",
    to: "if (false) {",
    tests: UNIT,
  },
  {
    name: "oracle staleness disabled",
    file: BASE,
    from: "if (block.timestamp - Math.min(updatedAt, block.timestamp) > maxAge) {",
    to: "if (false) {",
    tests: UNIT,
  },
  {
    name: "slippage bound x10 (buy)",
    file: VAULT,
    from: "uint256 limitWad = spotWad * (BPS + t.hot.maxSlippageBps) / BPS;",
    to: "uint256 limitWad = spotWad * (BPS + 10 * t.hot.maxSlippageBps) / BPS;",
    tests: SLIPPAGE,
  },
  {
    name: "slippage bound x4 (buy)",
    file: VAULT,
    from: "uint256 limitWad = spotWad * (BPS + t.hot.maxSlippageBps) / BPS;",
    to: "uint256 limitWad = spotWad * (BPS + 4 * t.hot.maxSlippageBps) / BPS;",
    tests: SLIPPAGE,
    fast: true,
  },
  {
    name: "slippage bound x4 (sell)",
    file: VAULT,
    from: "uint256 limitWad = spotWad * (BPS - t.hot.maxSlippageBps) / BPS;",
    to: "uint256 limitWad = spotWad * (BPS - 4 * t.hot.maxSlippageBps) / BPS;",
    tests: SLIPPAGE,
  },
  {
    name: "slippage bound sell side loosened by 1 bps",
    file: VAULT,
    from: "uint256 limitWad = spotWad * (BPS - t.hot.maxSlippageBps) / BPS;",
    to: "uint256 limitWad = spotWad * (BPS - t.hot.maxSlippageBps - 1) / BPS;",
    tests: SLIPPAGE,
  },
  {
    name: "slippage bound buy side loosened by 1 bps",
    file: VAULT,
    from: "uint256 limitWad = spotWad * (BPS + t.hot.maxSlippageBps) / BPS;",
    to: "uint256 limitWad = spotWad * (BPS + t.hot.maxSlippageBps + 1) / BPS;",
    tests: SLIPPAGE,
  },
  // ---- the math ----
  {
    name: "normal CDF coefficient P4 off in its 4th significant digit",
    file: NORMAL,
    from: "P4 = 6.37396220353165e36;",
    to: "P4 = 6.37496220353165e36;",
    tests: MATH,
    fast: true,
  },
  // ---- the book: collateral, caps, pricing, settlement, claims ----
  {
    name: "collateral check disabled",
    file: EXT,
    from: "if (availableWad < requiredWad.toInt256()) revert InsufficientCollateral(requiredWad, availableWad);",
    to: "",
    tests: { files: ["test/solidity/OptionVault.t.sol", "test/solidity/Attacks.t.sol", GUARDS] },
  },
  {
    name: "per-expiry collateral pooled across expiries",
    file: BOOK,
    from: "if (expiries[j] != expiries[i]) continue;",
    to: "",
    tests: ATTACKS,
  },
  {
    name: "call stress ignored in the collateral",
    file: BOOK,
    from: "return Math.mulDiv(Math.max(spotWad, strikeWad), BPS + stressUpBps, BPS, Math.Rounding.Ceil) - strikeWad;",
    to: "return Math.max(spotWad, strikeWad) - strikeWad;",
    tests: { files: ["test/solidity/OptionVault.t.sol", "test/solidity/Attacks.t.sol"] },
  },
  {
    name: "series open-interest cap disabled",
    file: EXT,
    from: "if (seriesInterestWad > limits.maxSeriesOpenInterestWad) {",
    to: "if (false) {",
    tests: { files: ["test/solidity/Attacks.t.sol", GUARDS] },
  },
  {
    name: "entry NAV without the latency band (deposits at the mid)",
    file: VAULT,
    from: "nav = Math.ceilDiv(assetsWad - liabilitiesWad + bandWad, _quoteScale);",
    to: "nav = Math.ceilDiv(assetsWad - liabilitiesWad, _quoteScale);",
    tests: ATTACKS,
  },
  {
    name: "deposit lock disabled",
    file: VAULT,
    from: "if (block.timestamp < lock.until && value > balanceOf(from) - lock.shares) {",
    to: "if (false) {",
    tests: ATTACKS,
  },
  {
    name: "settlement round need not be the one current at expiry",
    file: BOOK,
    from: "if (nextUpdatedAt <= expiry) revert IOptionVaultTypes.InvalidSettlementRound(roundId, updatedAt, expiry);",
    to: "",
    tests: { files: ["test/solidity/Attacks.t.sol", GUARDS] },
  },
  {
    name: "claim paid in kind at a price in the claimer's favour",
    file: EXT,
    from: "priceWad = Math.mulDiv(spotWad, BPS + $.cold.latencyBps, BPS, Math.Rounding.Ceil);",
    to: "priceWad = Math.mulDiv(spotWad, BPS - $.cold.latencyBps, BPS, Math.Rounding.Ceil);",
    tests: { files: ["test/solidity/Attacks.t.sol", GUARDS] },
  },
  // ---- each invariant of VaultInvariants.t.sol, its guard removed: the campaign must break it ----
  {
    name: "inv: delta-not-reduced disabled",
    file: VAULT,
    from: "if (absAfter >= _abs(t.beforeWad)) revert DeltaNotReduced",
    to: "if (false) revert DeltaNotReduced",
    tests: invariant("invariant_rebalanceNeverIncreasesAbsDelta"),
  },
  {
    name: "inv: slippage budget disabled",
    file: VAULT,
    from: "if (used > t.limits.slippageBudget * UNITS_PER_QUOTE) {",
    to: "if (false) {",
    tests: invariant("invariant_hedgingCostWithinBudget"),
  },
  {
    name: "inv: notional budget disabled",
    file: VAULT,
    from: "if (used > t.limits.notionalBudget * UNITS_PER_QUOTE) {",
    to: "if (false) {",
    tests: invariant("invariant_hedgingCostWithinBudget"),
  },
  {
    name: "inv: buy-back bid above the mid (spread added, not taken)",
    file: BOOK,
    from: "proceeds = Math.mulDiv(Math.mulDiv(fairWad, BPS - c.spreadBps, BPS), sizeWad, WAD);",
    to: "proceeds = Math.mulDiv(Math.mulDiv(fairWad, BPS + c.spreadBps, BPS), sizeWad, WAD);",
    tests: invariant("invariant_noActorTakesAnotherDepositorsValue"),
  },
  {
    name: "inv: maxWithdraw ignores the free cash",
    file: VAULT,
    from: "return Math.min(_toAssets(_unlockedShares(owner), nav, Math.Rounding.Floor), free);",
    to: "return _toAssets(_unlockedShares(owner), nav, Math.Rounding.Floor);",
    tests: invariant("invariant_noActorTakesAnotherDepositorsValue"),
  },
  {
    name: "inv: settled payouts reserved rounded down",
    file: EXT,
    from: "Math.mulDiv(payoutPerUnitWad, uint256(-int256(s.sizeWad)), WAD * _quoteScale, Math.Rounding.Ceil);",
    to: "Math.mulDiv(payoutPerUnitWad, uint256(-int256(s.sizeWad)), WAD * _quoteScale, Math.Rounding.Floor);",
    tests: invariant("invariant_settledClaimsArePayable"),
  },
  {
    name: "inv: a claim does not consume the position",
    file: EXT,
    from: "$.positions[id][msg.sender] = leftWad;\n        emit Claimed(",
    to: "emit Claimed(",
    tests: invariant("invariant_settledClaimsArePayable"),
  },
  {
    name: "inv: settlement leaves the series in the book",
    file: EXT,
    from: "_removeFromBook(id, slot); // the series' margin is all earned by expiry",
    to: "",
    tests: invariant("invariant_bookHoldsTheUnsettledSeries"),
  },
  {
    name: "inv: rebalance ignores the pause",
    file: VAULT,
    from: "if (t.hot.paused) revert VaultPaused();",
    to: "",
    tests: invariant("invariant_pausedVaultNeitherHedgesNorSells"),
  },
  {
    name: "inv: sales ignore the pause",
    file: EXT,
    from: "if (hot.paused) revert VaultPaused();\n        if (sizeWad == 0) revert ZeroAmount();",
    to: "if (sizeWad == 0) revert ZeroAmount();",
    tests: invariant("invariant_pausedVaultNeitherHedgesNorSells"),
  },
];

/** A test run's verdict. */
type Outcome = "caught" | "SURVIVED" | "NO COMPILE" | "TIMEOUT";

const ROOT = resolve(import.meta.dirname, "..");
/** Per mutant: compile plus its tests. An invariant campaign takes ~1 min alone, several on a busy machine. */
const TIMEOUT_MS = 15 * 60_000;

function parseArgs(argv: readonly string[]) {
  let jobs = 2;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const inline = a.startsWith("--jobs=") ? a.slice("--jobs=".length) : undefined;
    if (a === "--jobs" || inline !== undefined) {
      const v = inline ?? argv[++i];
      if (v === undefined || !/^[1-9]\d*$/.test(v)) {
        console.error(`--jobs needs a whole number ≥ 1, got ${v ?? "nothing"}`);
        process.exit(2);
      }
      jobs = Number(v);
    } else {
      rest.push(a);
    }
  }
  const flags = new Set(rest.filter((a) => a.startsWith("--")));
  for (const f of flags) {
    if (!["--fast", "--list", "--no-baseline"].includes(f)) {
      console.error(`unknown option ${f} (use --fast, --list, --no-baseline, --jobs N, or words to filter mutant names)`);
      process.exit(2);
    }
  }
  const words = rest.filter((a) => !a.startsWith("--")).map((w) => w.toLowerCase());
  return { fast: flags.has("--fast"), list: flags.has("--list"), baseline: !flags.has("--no-baseline"), jobs, words };
}

function select(all: readonly Mutant[], fast: boolean, words: readonly string[]): Mutant[] {
  return all.filter(
    (m) => (!fast || m.fast === true) && (words.length === 0 || words.some((w) => m.name.toLowerCase().includes(w))),
  );
}

function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1; i = text.indexOf(needle, i + 1)) n++;
  return n;
}

/** Every mutant's original text occurs exactly once in its file; otherwise the list is stale: say which. */
function checkMutants(mutants: readonly Mutant[]): void {
  const stale = mutants.flatMap((m) => {
    const n = occurrences(readFileSync(join(ROOT, m.file), "utf8"), m.from);
    return n === 1 ? [] : [`  ${m.name}: ${m.file} contains its original text ${n} times (expected exactly once)`];
  });
  if (stale.length > 0) {
    console.error(`stale mutants — update scripts/mutate-sol.ts to the current code:\n${stale.join("\n")}`);
    process.exit(2);
  }
}

/** A scratch copy of the project (its compile cache included, so each compile is incremental). */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), "mutate-sol-"));
  const skip = new Set(["node_modules", ".git", ".stryker-tmp", "results", "deployments"]);
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => {
      const rel = src.slice(ROOT.length + 1);
      return rel === "" || !skip.has(rel.split("/")[0] ?? "");
    },
  });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

interface Run {
  readonly code: number | "timeout";
  readonly output: string;
}

function run(cwd: string, args: readonly string[], deadline: number): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(join(cwd, "node_modules/.bin/hardhat"), args, {
      cwd,
      env: { ...process.env, FORCE_COLOR: "0" },
      detached: true, // its own process group, so a timeout ends the EVM workers too
    });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      done({ code: "timeout", output });
    }, Math.max(0, deadline - Date.now()));
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code: code ?? 1, output });
    });
  });
}

/** `hardhat test solidity` on the selected files: it compiles only those test files (a full `hardhat compile`
 * would build every test file against the mutated vault: several times slower). */
function testArgs(s: Selection): string[] {
  return ["test", "solidity", ...(s.grep === undefined ? [] : ["--grep", s.grep]), ...s.files];
}

/** Hardhat's compile failure (error HHE910), as opposed to a test failing. */
const compileFailed = (output: string): boolean => /HHE910|Compilation failed/.test(output);

/** Builds the contracts (not the tests). Needed on its own: a test build alone recompiles the test file but links
 * the external libraries (`OptionBook`, …) from the contracts' artifacts, so a mutant there would go unseen. */
async function buildContracts(dir: string, deadline: number): Promise<boolean> {
  const r = await run(dir, ["build", "--no-tests", "--quiet"], deadline);
  if (r.code !== 0) console.error(r.output.split("\n").slice(-30).join("\n"));
  return r.code === 0;
}

/** The failing tests' names in a Hardhat test run's output, for the report. */
function failures(output: string): string {
  const names = [...output.matchAll(/^\s*(?:\d+\)|✘|✖)\s+(.+)$/gm)].map((m) => m[1]?.trim() ?? "");
  const unique = [...new Set(names)].filter((n) => n.length > 0);
  return unique.slice(0, 2).join("; ") + (unique.length > 2 ? ` (+${unique.length - 2})` : "");
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const mutants = select(MUTANTS, opts.fast, opts.words);
  checkMutants(MUTANTS);
  if (opts.list || mutants.length === 0) {
    for (const m of MUTANTS) console.log(`${m.fast === true ? "fast " : "     "}${m.name}  (${m.file})`);
    if (mutants.length === 0) {
      console.error(`no mutant matches ${opts.words.join(" ")}`);
      process.exit(2);
    }
    return;
  }

  const started = Date.now();
  // One scratch copy per job: each mutant is applied, built and tested in a copy no other job touches.
  const jobs = Math.min(opts.jobs, mutants.length);
  const dirs = Array.from({ length: jobs }, () => scratchCopy());
  console.log(`scratch copies (${jobs} job${jobs === 1 ? "" : "s"}): ${dirs.join(" ")}`);
  let failed = false;
  try {
    // A mutant only counts as caught if its tests pass without it: run each distinct selection once, unmutated.
    if (opts.baseline) {
      const selections = [...new Map(mutants.map((m) => [JSON.stringify(m.tests), m.tests])).values()];
      await eachOn(dirs, selections, async (dir, s) => {
        const t0 = Date.now();
        const r = await run(dir, testArgs(s), Date.now() + TIMEOUT_MS);
        const label = `${s.files.join(" ")}${s.grep === undefined ? "" : ` --grep ${s.grep}`}`;
        const secs = ((Date.now() - t0) / 1000).toFixed(0);
        if (r.code !== 0) {
          failed = true;
          console.error(`baseline FAILED (${secs} s): ${label}\n${r.output.split("\n").slice(-40).join("\n")}`);
        } else {
          console.log(`baseline ok (${secs} s): ${label}`);
        }
      });
      if (failed) throw new Error("a baseline failed: its mutants would count as caught for nothing");
    }

    const rows: { name: string; outcome: Outcome; seconds: number; by: string }[] = [];
    await eachOn(dirs, mutants, async (dir, m) => {
      const row = await tryMutant(dir, m);
      rows.push(row);
      console.log(`${row.outcome.padEnd(10)} ${row.seconds.toFixed(0).padStart(4)} s  ${m.name}${row.by ? `  — ${row.by}` : ""}`);
    });
    // The report in the list's order, whichever job finished first.
    rows.sort((a, b) => mutants.findIndex((m) => m.name === a.name) - mutants.findIndex((m) => m.name === b.name));

    const caught = rows.filter((r) => r.outcome === "caught").length;
    const width = Math.max(...rows.map((r) => r.name.length));
    console.log(`\n${"mutant".padEnd(width)}  ${"result".padEnd(10)}  seconds`);
    for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.outcome.padEnd(10)}  ${r.seconds.toFixed(0).padStart(7)}`);
    const total = ((Date.now() - started) / 1000).toFixed(0);
    console.log(`\n${caught}/${rows.length} mutants caught in ${total} s (${jobs} job${jobs === 1 ? "" : "s"})`);
    if (caught !== rows.length) failed = true;
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

/** Runs `work` on every item, each scratch copy taking the next item as soon as it is free. */
async function eachOn<T>(dirs: readonly string[], items: readonly T[], work: (dir: string, item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    dirs.map(async (dir) => {
      while (next < items.length) await work(dir, items[next++]!);
    }),
  );
}

/** One mutant in scratch copy `dir`: applied, the contracts built, its tests run, the file restored. */
async function tryMutant(dir: string, m: Mutant): Promise<{ name: string; outcome: Outcome; seconds: number; by: string }> {
  const t0 = Date.now();
  const deadline = t0 + TIMEOUT_MS;
  const path = join(dir, m.file);
  const original = readFileSync(path, "utf8");
  writeFileSync(path, original.replace(m.from, () => m.to));
  let outcome: Outcome;
  let by = "";
  try {
    const r = (await buildContracts(dir, deadline)) ? await run(dir, testArgs(m.tests), deadline) : { code: 1, output: "HHE910" };
    if (compileFailed(r.output)) {
      outcome = "NO COMPILE";
      console.error(r.output.split("\n").slice(-30).join("\n"));
    } else {
      outcome = r.code === "timeout" ? "TIMEOUT" : r.code === 0 ? "SURVIVED" : "caught";
      by = outcome === "caught" ? failures(r.output) : "";
    }
  } finally {
    writeFileSync(path, original);
  }
  return { name: m.name, outcome, seconds: (Date.now() - t0) / 1000, by };
}

await main();
