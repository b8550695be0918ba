/**
 * A sweep run as shards (`--shard i/n`) and joined (`simulate merge`) writes the report one run of it writes:
 * the same points.csv and frontier.svg byte for byte, and the same results.json and report.md but for the
 * throughput row (which only a single process measures). Moving gas is on, so each path's gas streams must follow its index
 * into the shard that runs it.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSimArgs, type SimOptions } from "../../sim/cli.ts";
import { mergeShards, runSimulation } from "../../sim/run.ts";

const dir = mkdtempSync(join(tmpdir(), "sim-shard-"));
const quiet = { log: () => {}, progress: { update: () => {}, done: () => {} } };
const base = ["--mode", "model", "--paths", "7", "--steps", "120", "--gas", "process", "--policies", "band-zero,gas-aware", "--workers", "1", "--no-progress"];
const options = (extra: string[]): SimOptions => {
  const parsed = parseSimArgs([...base, ...extra]);
  if (parsed.help) throw new Error("unexpected --help");
  return parsed.options;
};
const withoutThroughput = (md: string) => md.split("\n").filter((l) => !/runs of 1,000 blocks per minute|fork blocks per second/.test(l)).join("\n");

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sharded sweeps", () => {
  it("three shards merged give exactly the single run's report", async () => {
    const single = await runSimulation(options(["--out", join(dir, "single")]), quiet);
    const shardFiles: string[] = [];
    for (const i of [3, 1, 2]) {
      const r = await runSimulation(options(["--shard", `${i}/3`, "--out", join(dir, "shards")]), quiet);
      shardFiles.push(...r.files);
    }
    const merged = mergeShards(shardFiles, join(dir, "merged"));
    expect(merged).toMatchObject({ shards: 3, runs: 7 * single.points.length });
    for (const name of ["points.csv", "frontier.svg", "regret.svg"]) {
      expect(readFileSync(join(dir, "merged", name), "utf8"), name).toBe(readFileSync(join(dir, "single", name), "utf8"));
    }
    const json = (d: string) => {
      const r = JSON.parse(readFileSync(join(dir, d, "results.json"), "utf8")) as { meta: Record<string, unknown> };
      delete r.meta["model runs of 1,000 blocks per minute"];
      return r;
    };
    expect(json("merged")).toEqual(json("single"));
    const report = readFileSync(join(dir, "single", "report.md"), "utf8");
    expect(report).toMatch(/runs of 1,000 blocks per minute/);
    expect(withoutThroughput(readFileSync(join(dir, "merged", "report.md"), "utf8"))).toBe(withoutThroughput(report));
  });

  it("refuses a missing or repeated shard, shards of another sweep, and a shard outside the model mode", async () => {
    const a = await runSimulation(options(["--shard", "1/2", "--out", join(dir, "two")]), quiet);
    expect(() => mergeShards(a.files, join(dir, "x"))).toThrow(/missing shard\(s\) 2\/2/);
    expect(() => mergeShards([...a.files, ...a.files], join(dir, "x"))).toThrow(/given twice/);
    const other = await runSimulation(options(["--shard", "2/2", "--seed", "9", "--out", join(dir, "other")]), quiet);
    expect(() => mergeShards([...a.files, ...other.files], join(dir, "x"))).toThrow(/sweep options differ/);
    expect(() => parseSimArgs(["--shard", "3/2"])).toThrow(/--shard: expected i\/n/);
    expect(() => parseSimArgs(["--mode", "both", "--shard", "1/2"])).toThrow(/--shard: needs --mode model/);
  });
});
