/**
 * `reconcile`, row by row of its table: after a restart each journaled intent is settled from what the chain
 * shows, and signed bytes are re-sent only while their nonce is still free. In particular a nonce taken by a
 * transaction that is none of the intent's signed versions settles the intent as "superseded" and is never
 * re-sent — first against a scripted chain, then on a real node where another transaction took the nonce.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { createPublicClient, custom, keccak256, parseGwei, TransactionReceiptNotFoundError, type Hash, type Hex, type PublicClient } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { Journal, intentId, type SignedVersion } from "../../keeper/execution/journal.ts";
import { reconcile } from "../../keeper/execution/reconcile.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";

const VAULT = "0x00000000000000000000000000000000000000aa" as const;
const SIGNER = TEST_KEYS.keeperAddress;
const newJournal = () => new Journal(join(mkdtempSync(join(tmpdir(), "reconcile-")), "journal.jsonl"));

function version(raw: Hex, extra: Partial<SignedVersion> = {}): SignedVersion {
  return { hash: keccak256(raw), raw, maxFeePerGas: "2", maxPriorityFeePerGas: "1", gasLimit: "150000", kind: "hedge", ...extra };
}

/** A chain that answers what the test scripts and records every raw transaction sent to it. */
function scriptedChain(p: { minedNonce: number; receipts?: Record<Hash, "success" | "reverted">; timestamp?: bigint }) {
  const sent: Hex[] = [];
  const client = {
    getTransactionCount: async () => p.minedNonce,
    getBlock: async () => ({ timestamp: p.timestamp ?? 1_000n }),
    getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
      const status = p.receipts?.[hash];
      if (!status) throw new TransactionReceiptNotFoundError({ hash });
      return { status, blockNumber: 42n, transactionHash: hash };
    },
    sendRawTransaction: async ({ serializedTransaction }: { serializedTransaction: Hex }) => {
      sent.push(serializedTransaction);
      return keccak256(serializedTransaction);
    },
  } as unknown as PublicClient;
  return { client, sent };
}

/** One intent signed at `nonce` with `versions` (oldest first). */
function signedIntent(journal: Journal, block: bigint, nonce: number, versions: SignedVersion[]) {
  const id = intentId(31337, VAULT, block);
  journal.recordIntent(id, VAULT, block, "buy 1");
  for (const v of versions) journal.recordSigned(id, nonce, v);
  return id;
}

describe("reconcile against a scripted chain", () => {
  it("an intent never signed is abandoned, so the next tick re-decides it", async () => {
    const journal = newJournal();
    const id = intentId(31337, VAULT, 5n);
    journal.recordIntent(id, VAULT, 5n, "buy 1");
    const chain = scriptedChain({ minedNonce: 3 });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(result.abandoned).toEqual([id]);
    expect(chain.sent).toEqual([]);
    expect(new Journal(journal.path).get(id)?.closed?.type).toBe("abandoned");
  });

  it("a signed version that mined settles the intent with that version's hash; nothing is re-sent", async () => {
    const journal = newJournal();
    const original = version("0x01aa");
    const bump = version("0x01bb");
    const id = signedIntent(journal, 6n, 3, [original, bump]);
    // The original mined although the bump was sent later: whichever version the chain has settles the nonce.
    const chain = scriptedChain({ minedNonce: 4, receipts: { [original.hash]: "success" } });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(result.settled).toEqual([{ id, outcome: "mined", hash: original.hash }]);
    expect(chain.sent).toEqual([]);
    expect(new Journal(journal.path).get(id)?.closed).toEqual({ type: "settled", detail: `mined ${original.hash}` });
  });

  it("a nonce taken by a transaction that is none of the intent's versions settles it as superseded, never re-sent", async () => {
    const journal = newJournal();
    const id = signedIntent(journal, 7n, 3, [version("0x02aa"), version("0x02bb")]);
    const chain = scriptedChain({ minedNonce: 4 }); // nonce 3 used, by neither of our hashes
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(result.settled).toEqual([{ id, outcome: "superseded" }]);
    expect(result.resumed).toEqual([]);
    expect(chain.sent).toEqual([]);
    const reloaded = new Journal(journal.path);
    expect(reloaded.get(id)?.closed).toEqual({ type: "settled", detail: "superseded" });
    // Settled for good: a second restart has nothing left to do with it.
    const again = scriptedChain({ minedNonce: 4 });
    expect(await reconcile(reloaded, again.client, SIGNER)).toMatchObject({ settled: [], resumed: [] });
    expect(again.sent).toEqual([]);
  });

  it("a nonce still free re-sends the newest version's very bytes and tracks it", async () => {
    const journal = newJournal();
    const bump = version("0x03bb", { deadline: "2000" });
    const id = signedIntent(journal, 8n, 3, [version("0x03aa", { deadline: "2000" }), bump]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 1_500n });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(chain.sent).toEqual([bump.raw]);
    expect(result.resumed).toMatchObject([{ intentId: id, hash: bump.hash, nonce: 3, raw: bump.raw }]);
    const reloaded = new Journal(journal.path).get(id);
    expect(reloaded?.broadcast).toBe(true);
    expect(reloaded?.closed).toBeUndefined();
  });

  it("a nonce still free but past the swap deadline is tracked, not re-sent (it could only revert)", async () => {
    const journal = newJournal();
    const id = signedIntent(journal, 9n, 3, [version("0x04aa", { deadline: "1000" })]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 1_001n });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(chain.sent).toEqual([]);
    expect(result.expired).toEqual([id]);
    expect(result.resumed).toMatchObject([{ intentId: id, nonce: 3 }]);
  });
});

describe("reconcile on a node where another transaction took the intent's nonce", () => {
  it("settles the intent as superseded and never sends its bytes; the nonce's transaction is the other one", async () => {
    const { provider, viem } = await hre.network.create(); // automine: each transaction is its own block
    const methods: { method: string; params: unknown }[] = [];
    const client = createPublicClient({
      transport: custom({
        request: (args: { method: string; params?: unknown }) => {
          methods.push({ method: args.method, params: args.params });
          return provider.request(args as never);
        },
      }),
    }) as PublicClient;
    const publicClient = await viem.getPublicClient();
    const keeper = privateKeyToAccount(TEST_KEYS.keeper);
    const nonce = await publicClient.getTransactionCount({ address: keeper.address });
    const chainId = await publicClient.getChainId();
    const fees = { maxFeePerGas: parseGwei("20"), maxPriorityFeePerGas: parseGwei("1") };

    // Signed and journaled by a keeper that then crashed before broadcasting it.
    const raw = await keeper.signTransaction({ chainId, type: "eip1559", to: VAULT, gas: 21_000n, nonce, value: 1n, ...fees });
    const journal = newJournal();
    const id = signedIntent(journal, 10n, nonce, [version(raw)]);

    // Meanwhile the same key, used elsewhere (an operator's wallet), spent that nonce.
    const other = (await viem.getWalletClients()).find((w) => w.account.address.toLowerCase() === keeper.address.toLowerCase())!;
    const otherHash = await other.sendTransaction({ to: other.account.address, value: 0n, nonce });
    expect((await publicClient.waitForTransactionReceipt({ hash: otherHash })).status).toBe("success");

    const result = await reconcile(journal, client, keeper.address);
    expect(result.settled).toEqual([{ id, outcome: "superseded" }]);
    expect(result.resumed).toEqual([]);
    expect(methods.filter((m) => m.method === "eth_sendRawTransaction")).toEqual([]);
    expect(new Journal(journal.path).get(id)?.closed).toEqual({ type: "settled", detail: "superseded" });
    // The chain agrees: the nonce is the other transaction's, and our bytes never landed.
    expect((await publicClient.getTransaction({ hash: otherHash })).nonce).toBe(nonce);
    await expect(publicClient.getTransactionReceipt({ hash: keccak256(raw) })).rejects.toThrow(TransactionReceiptNotFoundError);
    expect(await publicClient.getTransactionCount({ address: keeper.address })).toBe(nonce + 1);
  });
});
