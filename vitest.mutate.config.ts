/**
 * The tests Stryker runs against each mutant of keeper/ (`npm run mutate`): the in-process ones. Tests that spawn
 * the keeper as a process or start a node would run the unmutated code (a child process does not see the active
 * mutant) and only cost time.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/keeper/**/*.test.ts",
      // the simulator runs the same pure core: its model-engine tests kill policy and sizing mutants too
      "test/sim/{model,paths,ledger,scenario}.test.ts",
    ],
    // budget.test.ts runs a fork (a chain, 250 blocks) in its beforeAll: Stryker counts every mutant reached
    // there as static and reruns the whole suite for each (74% of sizing's mutants, ~3 h on 2 cores); the budget
    // rules it checks are mutated by sizing.test.ts and checkRebalance.test.ts directly.
    exclude: ["test/keeper/process.test.ts", "test/keeper/cli.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
