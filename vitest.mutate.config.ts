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
      "test/sim/{model,paths,ledger,scenario,budget}.test.ts",
    ],
    exclude: ["test/keeper/process.test.ts", "test/keeper/cli.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
