/**
 * Crowded hedging (sim/crowd.ts): the pool with its arbitrageur alone tracks the oracle; short-gamma vaults that
 * hedge together on it move it further and pay more each, the more of them there are; and the vaults run the
 * keeper's own policy.
 */
import { describe, expect, it } from "vitest";
import { crowdingReport, crowdStudy, runCrowd, type CrowdSetup } from "../../sim/crowd.ts";
import { generatePaths } from "../../sim/paths.ts";

const paths = generatePaths({ kind: "gbm", drift: 0, vol: 0.8 }, { count: 12, steps: 400, spot: 3000, blockSeconds: 12, seed: 2 });
const setup: CrowdSetup = {
  vaults: 1,
  optionsSold: 100,
  strikeRatio: 1,
  expiryDays: 7,
  vol: 0.8,
  depth: 10_000,
  feeBps: 30,
  arbSpeed: 1,
  blockSeconds: 12,
  gasGwei: 20,
  policy: { name: "band", band: 0.71, target: "zero" },
  prefs: { riskAversion: 0.1, horizonSeconds: 3600 },
};

describe("crowded hedging", () => {
  it("with no vaults and a full-speed arbitrageur, the pool's volatility is the oracle's (within the fee's jitter)", () => {
    const r = crowdStudy(paths, { ...setup, vaults: 0 });
    expect(r.costPerVault).toBe(0);
    expect(Math.abs(r.poolVol / r.oracleVol - 1)).toBeLessThan(0.1); // it moves only past the fee: in fewer, larger steps
    expect(r.meanGapBps).toBeLessThan(30); // inside the 30 bps fee band, where no arbitrage pays
  });

  it("a slow arbitrageur leaves the pool lagging: lower block volatility, a wider gap", () => {
    const fast = crowdStudy(paths, { ...setup, vaults: 0 });
    const slow = crowdStudy(paths, { ...setup, vaults: 0, arbSpeed: 0.3 });
    expect(slow.poolVol).toBeLessThan(fast.poolVol);
    expect(slow.meanGapBps).toBeGreaterThan(fast.meanGapBps);
  });

  it("more vaults hedging together move the pool more and each pays more for its hedges", () => {
    const [one, twenty, fifty] = [1, 20, 50].map((vaults) => crowdStudy(paths, { ...setup, vaults }));
    expect(twenty!.poolVol).toBeGreaterThan(1.3 * one!.poolVol);
    expect(fifty!.poolVol).toBeGreaterThan(twenty!.poolVol);
    expect(twenty!.costPerVault).toBeGreaterThan(1.3 * one!.costPerVault);
    expect(fifty!.costPerVault).toBeGreaterThan(twenty!.costPerVault);
    // Same book, same policy, same oracle: each vault hedges in the same blocks, crowd or not.
    expect(fifty!.hedgesPerVault).toBe(one!.hedgesPerVault);
  });

  it("the vaults follow the keeper's policy: a wider band hedges less often", () => {
    const narrow = runCrowd(paths[0]!, { ...setup, policy: { name: "band", band: 0.355, target: "zero" } });
    const wide = runCrowd(paths[0]!, { ...setup, policy: { name: "band", band: 1.42, target: "zero" } });
    expect(wide.hedgesPerVault).toBeLessThan(narrow.hedgesPerVault);
    expect(wide.hedgesPerVault).toBeGreaterThan(0);
  });

  it("the report has a row per crowd and speed, and rejects a speed or crowd that cannot run", () => {
    const { rows, markdown } = crowdingReport(paths.slice(0, 2), { ...setup });
    expect(rows).toHaveLength(10);
    expect(markdown).toMatch(/\| 0\.3 \| 50 \|/);
    expect(() => runCrowd(paths[0]!, { ...setup, arbSpeed: 0 })).toThrow(/arbSpeed/);
    expect(() => runCrowd(paths[0]!, { ...setup, vaults: -1 })).toThrow(/vaults/);
  });
});
