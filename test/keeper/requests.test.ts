/**
 * The keeper's RPC budget, held exactly: one request per idle block whatever the vault count, at most three
 * per hedged vault to send it and one to collect its receipt. Same code as `npm run bench` (which also reports
 * latencies); request counts are deterministic, so they are asserted here.
 */
import { describe, expect, it } from "vitest";
import { benchmark } from "../../harness/bench.ts";

describe("keeper RPC requests per block", () => {
  it("3 vaults: exactly 1 request per idle block, at most 3 per hedged vault, 1 receipt check", async () => {
    const row = await benchmark(3, { rounds: 2, decisionSamples: 10 });
    expect(row.requestsPerIdleBlock).toEqual({ min: 1, max: 1, mean: 1 });
    expect(row.hedgesSent).toBe(6);
    expect(row.sendRequestsPerHedgedVault).toBeLessThanOrEqual(3);
    expect(row.receiptRequestsPerHedgedVault).toBe(1);
    expect(Object.keys(row.requestsByMethodDuringSends).sort()).toEqual(
      ["eth_call", "eth_estimateGas", "eth_feeHistory", "eth_sendRawTransaction"].sort(),
    );
  });
});
