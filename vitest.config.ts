import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each file creates its own in-process EVM; files run in parallel on the 2-core CI machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One module cache per worker, not per file: each file would otherwise import Hardhat, viem and the artifacts
    // anew (about 90 s of a 6-minute run on 2 cores). Files keep their own state: none relies on a fresh cache.
    isolate: false,
  },
});
