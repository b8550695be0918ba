/** The mutation runner's arithmetic: each folder scored the way Stryker scores, each checked against its own threshold. */
import { describe, expect, it } from "vitest";
import { folderOf, scoreByFolder, THRESHOLDS } from "../scripts/mutate.ts";

describe("npm run mutate: scores by folder", () => {
  it("puts a file in its folder of keeper/, whatever the absolute prefix", () => {
    expect(folderOf("/tmp/x/.stryker-tmp/sandbox-1/keeper/policy/band.ts")).toBe("keeper/policy");
    expect(folderOf("keeper/execution/fees.ts")).toBe("keeper/execution");
    expect(folderOf("keeper/tick.ts")).toBe("keeper (top level)");
  });

  it("counts timeouts as detected, leaves compile and runtime errors out, and no coverage as undetected", () => {
    const r = (fileName: string, status: string) => ({ fileName, status });
    const [chain, policy] = scoreByFolder([
      r("keeper/policy/band.ts", "Killed"),
      r("keeper/policy/band.ts", "Killed"),
      r("keeper/policy/band.ts", "Timeout"),
      r("keeper/policy/index.ts", "Survived"),
      r("keeper/policy/index.ts", "NoCoverage"),
      r("keeper/policy/index.ts", "CompileError"),
      r("keeper/policy/index.ts", "Ignored"),
      r("keeper/chain/errors.ts", "RuntimeError"),
    ]);
    expect(policy).toMatchObject({ folder: "keeper/policy", killed: 2, timeout: 1, survived: 1, noCoverage: 1, errors: 1, threshold: 85 });
    expect(policy!.score).toBeCloseTo(60, 10);
    expect(chain).toMatchObject({ folder: "keeper/chain", errors: 1, threshold: 75 });
    expect(chain!.score).toBeNaN();
  });

  it("holds the core to 85 % and execution and chain to 75 %", () => {
    expect(THRESHOLDS).toEqual({ "keeper/pricing": 85, "keeper/policy": 85, "keeper/sizing": 85, "keeper/execution": 75, "keeper/chain": 75 });
  });
});
