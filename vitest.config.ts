import { defineConfig } from "vitest/config";

/**
 * Files that fork a chain run each in a fresh process: sharing one worker's module cache (and so Hardhat's runtime)
 * with other forking files, test/sim/budget.test.ts once saw the fork and the model size an order differently,
 * and passed alone — fork caches keyed by chain id 31337 and block numbers are the likely culprit.
 */
const FORKING = ["test/sim/**/*.test.ts", "test/integration/fork.test.ts", "test/integration/keeper.test.ts"];

export default defineConfig({
  test: {
    // Each file creates its own in-process EVM; files run in parallel on the 2-core CI machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      { extends: true, test: { name: "forking", include: FORKING, isolate: true } },
      // One module cache per worker, not per file, for the rest: each file would otherwise import Hardhat, viem and
      // the artifacts anew (about 90 s of a 6-minute run on 2 cores).
      { extends: true, test: { name: "rest", include: ["test/**/*.test.ts"], exclude: FORKING, isolate: false } },
    ],
  },
});
