/**
 * Two ways a hedge could be judged on the wrong chain state, without a chain: a pending hedge mined but short of
 * its confirmations is known as mined (so the stuck check leaves it alone) until a reorg takes its receipt away;
 * and the simulation's eth_estimateGas runs against the decision block, not the node's default ("pending" on
 * Hardhat, where other pool transactions would change the outcome).
 */
import {
  TransactionReceiptNotFoundError,
  createPublicClient,
  custom,
  numberToHex,
  type Address,
  type Hash,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { describe, expect, it } from "vitest";
import { PendingHedges } from "../../keeper/execution/pending.ts";
import { simulateHedge, type SentHedge } from "../../keeper/execution/sendHedge.ts";

const VAULT: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const KEEPER: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const HASH: Hash = `0x${"ab".repeat(32)}`;

describe("PendingHedges: mined but awaiting confirmations", () => {
  it("marks the hedge mined at its receipt's block, unmarks it when a reorg takes the receipt, settles it once confirmed", async () => {
    let minedIn: bigint | undefined = 11n;
    const client = {
      getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
        if (minedIn === undefined) throw new TransactionReceiptNotFoundError({ hash });
        return { blockNumber: minedIn, status: "success", logs: [], gasUsed: 21_000n, effectiveGasPrice: 1n } as unknown as TransactionReceipt;
      },
    } as unknown as PublicClient;
    const pending = new PendingHedges(client, 3);
    const sent: SentHedge = { vault: VAULT, hash: HASH, nonce: 0, gasLimit: 100_000n, fees: { maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }, decidedAtBlock: 10n };
    pending.add(sent, 0);
    expect(pending.list()[0]!.minedInBlock, "not polled yet: nothing known").toBeUndefined();

    // Two confirmations of three: still pending, but mined — not a candidate for a bump or a cancel.
    expect(await pending.poll(12n)).toEqual([]);
    expect(pending.list()[0]!.minedInBlock).toBe(11n);

    // A reorg drops the receipt: back in the pool, so it may be stuck again.
    minedIn = undefined;
    expect(await pending.poll(13n)).toEqual([]);
    expect(pending.list()[0]!.minedInBlock).toBeUndefined();

    // Mined again on the new branch, and settled at its third confirmation there.
    minedIn = 13n;
    expect(await pending.poll(14n)).toEqual([]);
    expect(pending.list()[0]!.minedInBlock).toBe(13n);
    const settled = await pending.poll(15n);
    expect(settled.map((o) => o.kind)).toEqual(["mined"]);
    expect(pending.size).toBe(0);
  });
});

describe("simulateHedge: pinned to the decision block", () => {
  it("asks eth_estimateGas at the decision block, not the node's default", async () => {
    const estimates: unknown[][] = [];
    const client = createPublicClient({
      transport: custom({
        request: async ({ method, params }: { method: string; params?: unknown[] }) => {
          if (method === "eth_estimateGas") {
            estimates.push(params ?? []);
            return numberToHex(150_000n);
          }
          if (method === "eth_chainId") return "0x7a69";
          throw new Error(`unexpected request ${method}`);
        },
      }),
    });
    const sim = await simulateHedge(
      { client, account: { address: KEEPER } as never, gasLimitPerHedge: 1_000_000n },
      {
        vault: VAULT,
        order: { buyUnderlying: true, amountIn: 10n ** 18n, minAmountOut: 1n } as never,
        deadline: 2_000_000_000n,
        blockNumber: 1234n,
      },
    );
    expect(estimates).toHaveLength(1);
    expect(estimates[0]![1], "the block the estimate runs against").toBe(numberToHex(1234n));
    expect(sim.gasLimit).toBe(180_000n);
  });
});
