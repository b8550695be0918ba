/**
 * The `npm start` demo: it runs to the end by itself, the keeper hedges, and the summary agrees with the chain.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { gbmPath, runDemo } from "../harness/demo.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("demo", () => {
  it("runs 40 blocks to the end, hedges, and counts exactly the Rebalanced events on chain", async () => {
    const lines: string[] = [];
    let page: string | undefined;
    let status: Promise<{ vaults: { vault: string; delta: number }[]; head: number }> | undefined;
    const summary = await runDemo({ durationSec: 2, speed: 20, vol: 0.8, policy: "band", seed: 7, statusPort: 0 }, (line) => {
      lines.push(line);
      page ??= /^status page: (http:\/\/127\.0\.0\.1:\d+)\/ /.exec(line)?.[1];
      // Mid-run, the status page serves the vault (its server closes with the demo).
      if (line.startsWith("block ") && lines.filter((l) => l.startsWith("block ")).length === 10) status = fetch(`${page}/api/status`).then((r) => r.json());
    });
    expect(page).toBeDefined();
    const served = await status!;
    expect(served.vaults).toHaveLength(1);
    expect(served.head).toBeGreaterThan(0);

    expect(summary.blocks).toBe(40);
    expect(summary.seed).toBe(7);
    expect(summary.hedges).toBeGreaterThan(0);
    expect(summary.failedHedges).toBe(0);
    expect(summary.hedges).toBe(summary.rebalancedEvents);
    expect(summary.totalGas).toBeGreaterThan(0n);
    expect(summary.totalSlippageQuote).toBeGreaterThan(0);
    expect(summary.shareInBand).toBeGreaterThanOrEqual(0);
    expect(summary.shareInBand).toBeLessThanOrEqual(1);
    expect(Number.isFinite(summary.finalDelta)).toBe(true);

    const blockLines = lines.filter((l) => l.startsWith("block "));
    expect(blockLines).toHaveLength(40);
    expect(lines.filter((l) => l.includes("HEDGE "))).toHaveLength(summary.hedges);
    expect(lines.at(-1)).toMatch(/^SUMMARY blocks 40, hedges \d+( \(.*?\))?, .*seed 7/);
    // Plain text: no ANSI colour codes.
    expect(lines.join("\n")).not.toMatch(/\u001b\[/);
  });

  it("the price path is a function of the seed", () => {
    const take = (seed: number) => {
      const next = gbmPath({ spot: 3000, vol: 0.8, dtSeconds: 12, seed });
      return Array.from({ length: 5 }, next);
    };
    expect(take(3)).toEqual(take(3));
    expect(take(3)).not.toEqual(take(4));
  });

  it("`node scripts/demo.ts --duration 5 --speed 8` exits 0 and prints the summary", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["scripts/demo.ts", "--duration", "5", "--speed", "8"], {
      cwd: root,
      timeout: 110_000,
    });
    expect(stdout).toMatch(/^SUMMARY blocks 40, hedges [1-9]\d* \(.*\), .*total gas \d+, .*seed 1, /m);
  });
});
