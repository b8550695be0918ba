/**
 * The execution layer's bookkeeping, pinned down where a wrong keeper would still look right to the older tests:
 * what the journal file holds after each step (every record, its type and block, in order), how it reads files a
 * crash or an operator left behind (duplicate intents, orphan records, blank lines, a torn tail, a corrupt line
 * named by its number), that opening an intact journal never writes to it and that no file descriptor leaks;
 * reconcile's verdict for each case (mined, reverted, cancelled, refused re-broadcast, node error, no deadline),
 * against a scripted chain and on an in-process node; and the fee rule's clamp of the tip to the max fee.
 */
import * as nodeFs from "node:fs";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { createPublicClient, custom, keccak256, parseGwei, TransactionReceiptNotFoundError, type Hash, type Hex, type PublicClient } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { errorMessage } from "../../keeper/chain/errors.ts";
import { computeFees } from "../../keeper/execution/fees.ts";
import { Journal, foldJournal, intentId, parseJournal, type JournalFs, type JournalRecord, type SignedVersion } from "../../keeper/execution/journal.ts";
import { reconcile } from "../../keeper/execution/reconcile.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";

const VAULT = "0x00000000000000000000000000000000000000aa" as const;
const OTHER_VAULT = "0x00000000000000000000000000000000000000Bb" as const;
const SIGNER = TEST_KEYS.keeperAddress;
const newPath = () => join(mkdtempSync(join(tmpdir(), "execution-")), "journal.jsonl");

function version(raw: Hex, extra: Partial<SignedVersion> = {}): SignedVersion {
  return { hash: keccak256(raw), raw, maxFeePerGas: "2000", maxPriorityFeePerGas: "100", gasLimit: "150000", kind: "hedge", ...extra };
}

/** The records in the journal file, parsed line by line (every line must be whole JSON). */
function fileRecords(path: string): unknown[] {
  const text = readFileSync(path, "utf8");
  expect(text.endsWith("\n"), "the file ends with a whole line").toBe(true);
  return text.trimEnd().split("\n").map((line) => JSON.parse(line) as unknown);
}

/**
 * The real file system, watched: every call is logged, open descriptors are tracked, and writes may be short (at
 * most the next of `pieces` bytes per call, as write(2) may do) but are otherwise real — Node refuses a range past
 * the buffer's end.
 */
class WatchedFs implements JournalFs {
  readonly calls: string[] = [];
  readonly openFds = new Set<number>();
  /** Writes that asked for less than a full piece: the tail of a line. */
  tails = 0;
  #piece = 0;
  readonly #pieces: number[];
  constructor(pieces: number[] = [Number.POSITIVE_INFINITY]) {
    this.#pieces = pieces;
  }
  existsSync(p: string): boolean {
    return nodeFs.existsSync(p);
  }
  readFileSync(p: string, encoding: "utf8"): string {
    return nodeFs.readFileSync(p, encoding);
  }
  mkdirSync(p: string, options: { recursive: true }): unknown {
    return nodeFs.mkdirSync(p, options);
  }
  openSync(p: string, flags: "a" | "r"): number {
    const fd = nodeFs.openSync(p, flags);
    this.openFds.add(fd);
    this.calls.push(`open ${flags}`);
    return fd;
  }
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number {
    this.calls.push("write");
    const piece = this.#pieces[this.#piece++ % this.#pieces.length]!;
    if (length < piece) this.tails++;
    return nodeFs.writeSync(fd, buffer, offset, Math.min(length, piece));
  }
  fsyncSync(fd: number): void {
    this.calls.push("fsync");
    nodeFs.fsyncSync(fd);
  }
  ftruncateSync(fd: number, length: number): void {
    this.calls.push(`truncate ${length}`);
    nodeFs.ftruncateSync(fd, length);
  }
  closeSync(fd: number): void {
    this.openFds.delete(fd);
    nodeFs.closeSync(fd);
  }
  /** Closes whatever the journal left open, so a failing test does not leak into the next. */
  leaked(): number {
    const n = this.openFds.size;
    for (const fd of this.openFds) nodeFs.closeSync(fd);
    this.openFds.clear();
    return n;
  }
}

describe("the journal file after each step", () => {
  it("holds exactly one line per record, in order, with the settled block and the abandon reason", () => {
    const file = newPath();
    let clock = 1_000;
    const j = new Journal(file, { now: () => clock++ });
    const id = intentId(31337, VAULT, 10n);
    const other = intentId(31337, OTHER_VAULT, 10n);
    const v = version("0x01aa");
    j.recordIntent(id, VAULT, 10n, "buy 1");
    j.recordSigned(id, 7, v);
    j.recordBroadcast(id, v.hash);
    j.recordSettled(id, "mined", v.hash, 12n);
    j.recordIntent(other, OTHER_VAULT, 10n, "sell 2");
    j.recordAbandoned(other, "never signed before the restart");
    expect(fileRecords(file)).toEqual([
      { type: "intent", id, vault: VAULT, decisionBlock: "10", summary: "buy 1", at: 1_000 },
      { type: "signed", id, nonce: 7, version: v, at: 1_001 },
      { type: "broadcast", id, hash: v.hash, at: 1_002 },
      { type: "settled", id, outcome: "mined", hash: v.hash, block: "12", at: 1_003 },
      { type: "intent", id: other, vault: OTHER_VAULT, decisionBlock: "10", summary: "sell 2", at: 1_004 },
      { type: "abandoned", id: other, reason: "never signed before the restart", at: 1_005 },
    ]);
    // A reader of the file alone (a restart) sees both intents closed, each for its own reason.
    const reloaded = foldJournal(parseJournal(readFileSync(file, "utf8")));
    expect(reloaded.get(id)?.closed).toEqual({ type: "settled", detail: `mined ${v.hash}` });
    expect(reloaded.get(other)?.closed).toEqual({ type: "abandoned", detail: "never signed before the restart" });
  });

  it("a settlement with no transaction (superseded) records neither hash nor block", () => {
    const file = newPath();
    const j = new Journal(file, { now: () => 5 });
    const id = intentId(1, VAULT, 3n);
    j.recordIntent(id, VAULT, 3n, "buy 1");
    j.recordSettled(id, "superseded");
    expect(fileRecords(file)[1]).toEqual({ type: "settled", id, outcome: "superseded", at: 5 });
  });

  it("intent ids are `chain:vault:block` with the vault in lower case, as journals already on disk hold them", () => {
    expect(intentId(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 371n)).toBe("31337:0x5fbdb2315678afecb367f032d93f642f64180aa3:371");
    expect(intentId(1n, OTHER_VAULT, 0n)).toBe(`1:${OTHER_VAULT.toLowerCase()}:0`);
    // The same decision, whatever the address's checksum case, is the same intent; any other field makes another.
    expect(intentId(1, OTHER_VAULT, 5n)).toBe(intentId(1, OTHER_VAULT.toLowerCase() as `0x${string}`, 5n));
    const ids = new Set([intentId(1, VAULT, 5n), intentId(2, VAULT, 5n), intentId(1, OTHER_VAULT, 5n), intentId(1, VAULT, 6n)]);
    expect(ids.size).toBe(4);
  });

  it("openForVault finds a vault's open intent whatever the address case, and none once it is closed", () => {
    const j = new Journal(newPath());
    const a = intentId(1, VAULT, 1n);
    const b = intentId(1, OTHER_VAULT, 2n);
    j.recordIntent(a, VAULT, 1n, "buy 1");
    j.recordIntent(b, OTHER_VAULT, 2n, "sell 1");
    expect(j.openForVault(OTHER_VAULT.toUpperCase().replace("0X", "0x") as `0x${string}`)?.id).toBe(b);
    expect(j.openForVault(OTHER_VAULT.toLowerCase() as `0x${string}`)?.id).toBe(b);
    expect(j.openForVault(VAULT)?.id).toBe(a);
    j.recordAbandoned(b, "test");
    expect(j.openForVault(OTHER_VAULT)).toBeUndefined();
    expect(j.openForVault("0x00000000000000000000000000000000000000cc")).toBeUndefined();
  });

  it("maxNonce is the highest nonce any intent signed with, in whatever order, open or closed", () => {
    const j = new Journal(newPath());
    expect(j.maxNonce()).toBeUndefined();
    const ids = [5n, 6n, 7n, 8n].map((block) => intentId(1, VAULT, block));
    ids.forEach((id, i) => j.recordIntent(id, VAULT, BigInt(i + 5), "buy 1"));
    expect(j.maxNonce(), "intents never signed have no nonce").toBeUndefined();
    j.recordSigned(ids[0]!, 9, version("0x09"));
    j.recordSigned(ids[1]!, 3, version("0x03")); // a lower nonce journaled later (e.g. a reopened intent)
    j.recordSettled(ids[0]!, "mined", version("0x09").hash, 20n);
    expect(j.maxNonce()).toBe(9);
    j.recordSigned(ids[2]!, 11, version("0x0b"));
    expect(j.maxNonce()).toBe(11);
    // ids[3] stays unsigned, after the signed ones: it must not reset the maximum.
    expect(new Journal(j.path).maxNonce()).toBe(11);
  });
});

describe("the journal reading what a crash or an operator left behind", () => {
  const intent = (id: string): JournalRecord => ({ type: "intent", id, vault: VAULT, decisionBlock: "4", summary: "buy 1", at: 1 });
  const signed = (id: string, raw: Hex): JournalRecord => ({ type: "signed", id, nonce: 2, version: version(raw), at: 2 });
  const lines = (...records: JournalRecord[]) => records.map((r) => JSON.stringify(r));

  it("an intent record repeated for an open intent keeps what it already signed (its nonce may be in flight)", () => {
    const id = intentId(1, VAULT, 4n);
    const state = foldJournal([intent(id), signed(id, "0x02aa"), intent(id)]).get(id);
    expect(state).toMatchObject({ nonce: 2, versions: [{ raw: "0x02aa" }] });
  });

  it("records for an intent that was never opened are ignored, not guessed at", () => {
    const id = intentId(1, VAULT, 4n);
    const orphan = intentId(1, VAULT, 99n);
    const file = newPath();
    writeFileSync(file, `${lines(signed(orphan, "0x0f"), intent(id), { type: "broadcast", id: orphan, hash: version("0x0f").hash, at: 3 }).join("\n")}\n`);
    const j = new Journal(file);
    expect(j.get(orphan)).toBeUndefined();
    expect(j.open().map((s) => s.id)).toEqual([id]);
  });

  it("blank and whitespace-only lines anywhere are skipped", () => {
    const id = intentId(1, VAULT, 4n);
    const text = ["", lines(intent(id))[0], "", "   ", "\t", lines(signed(id, "0x02bb"))[0], "", ""].join("\n");
    expect(parseJournal(text)).toEqual([intent(id), signed(id, "0x02bb")]);
  });

  it("a torn last line followed only by blank lines (a half-written page) is still the torn last line", () => {
    const id = intentId(1, VAULT, 4n);
    const whole = lines(intent(id))[0];
    expect(parseJournal(`${whole}\n\u0000\u0000{"type":"sig\n`)).toEqual([intent(id)]);
    expect(parseJournal(`${whole}\n{"type":"sig\n  \n\n`)).toEqual([intent(id)]);
  });

  it("a torn last line that kept its newline (its first bytes lost in a power loss) is cut, so the next restart still loads", () => {
    const file = newPath();
    const id = intentId(1, VAULT, 5n);
    new Journal(file).recordIntent(id, VAULT, 5n, "buy 1");
    const intact = readFileSync(file, "utf8");
    appendFileSync(file, '\u0000\u0000\u0000e":"signed"}\n\n');
    const reopened = new Journal(file);
    expect(readFileSync(file, "utf8"), "the torn line and what follows it are cut").toBe(intact);
    reopened.recordBroadcast(id, "0x01");
    expect(new Journal(file).get(id)?.broadcast).toBe(true);
  });

  it("a corrupt line that is not the last is refused, naming its line number", () => {
    const id = intentId(1, VAULT, 4n);
    const text = [lines(intent(id))[0], '{"type":"signed","id', lines(signed(id, "0x02cc"))[0], ""].join("\n");
    expect(() => parseJournal(text)).toThrow(/^journal line 2 is corrupt \(not a torn last line\)/);
    // Numbered as an editor shows the file: a leading blank line shifts it to line 3.
    const file = newPath();
    writeFileSync(file, `\n${text}`);
    expect(() => new Journal(file)).toThrow(/journal line 3 is corrupt/);
  });
});

describe("the journal's file handling", () => {
  it("opening an intact journal, or an empty one, reads it and writes nothing", () => {
    const file = newPath();
    const j = new Journal(file);
    j.recordIntent(intentId(1, VAULT, 1n), VAULT, 1n, "buy 1");
    const before = readFileSync(file, "utf8");
    const watched = new WatchedFs();
    expect(new Journal(file, { fs: watched }).open()).toHaveLength(1);
    expect(watched.calls).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(before);

    // An empty file: what a crash right after creating the journal leaves.
    const empty = newPath();
    writeFileSync(empty, "");
    const watchedEmpty = new WatchedFs();
    expect(new Journal(empty, { fs: watchedEmpty }).open()).toEqual([]);
    expect(watchedEmpty.calls).toEqual([]);
  });

  it("leaks no file descriptor: creating, appending, cutting a torn line and terminating a whole one all close what they open", () => {
    const fs = new WatchedFs();
    const file = newPath();
    const id = intentId(1, VAULT, 1n);
    const j = new Journal(file, { fs }); // new file: the file and its directory are opened
    j.recordIntent(id, VAULT, 1n, "buy 1");
    j.recordSigned(id, 1, version("0x11"));
    expect(fs.leaked()).toBe(0);

    nodeFs.appendFileSync(file, '{"type":"broadcast","id":"1:0x'); // torn: cut on the next open
    new Journal(file, { fs });
    expect(fs.calls).toContain(`truncate ${Buffer.byteLength(readFileSync(file, "utf8"))}`);
    expect(fs.leaked()).toBe(0);

    writeFileSync(file, readFileSync(file, "utf8").trimEnd()); // a whole record without its newline
    new Journal(file, { fs }).recordBroadcast(id, version("0x11").hash);
    expect(fs.leaked()).toBe(0);
    expect(new Journal(file).get(id)).toMatchObject({ nonce: 1, broadcast: true });
  });

  it("a line written in short pieces (write(2) may write less than asked) lands whole, byte for byte", () => {
    const file = newPath();
    const fs = new WatchedFs([7, 3, 11]);
    const j = new Journal(file, { fs, now: () => 42 });
    const id = intentId(31337, VAULT, 77n);
    const v = version(`0x${"ab".repeat(150)}`); // a realistic raw transaction: hundreds of bytes
    j.recordIntent(id, VAULT, 77n, "sell 0.125");
    j.recordSigned(id, 12, v);
    expect(fs.calls.filter((c) => c === "write").length).toBeGreaterThan(50);
    // The last piece of a line asked for only what was left (no write past the end of the line).
    expect(fs.tails).toBeGreaterThan(0);
    expect(fileRecords(file)).toEqual([
      { type: "intent", id, vault: VAULT, decisionBlock: "77", summary: "sell 0.125", at: 42 },
      { type: "signed", id, nonce: 12, version: v, at: 42 },
    ]);
    expect(fs.leaked()).toBe(0);
  });
});

/** A chain that answers what the test scripts and records every raw transaction sent to it. */
function scriptedChain(p: {
  minedNonce: number;
  receipts?: Record<Hash, "success" | "reverted">;
  timestamp?: bigint;
  receiptError?: Error;
  sendError?: Error;
}) {
  const sent: Hex[] = [];
  const client = {
    getTransactionCount: async () => p.minedNonce,
    getBlock: async () => ({ timestamp: p.timestamp ?? 1_000n }),
    getTransactionReceipt: async ({ hash }: { hash: Hash }) => {
      if (p.receiptError) throw p.receiptError;
      const status = p.receipts?.[hash];
      if (!status) throw new TransactionReceiptNotFoundError({ hash });
      return { status, blockNumber: 42n, transactionHash: hash };
    },
    sendRawTransaction: async ({ serializedTransaction }: { serializedTransaction: Hex }) => {
      sent.push(serializedTransaction);
      if (p.sendError) throw p.sendError;
      return keccak256(serializedTransaction);
    },
  } as unknown as PublicClient;
  return { client, sent };
}

function signedIntent(journal: Journal, block: bigint, nonce: number, versions: SignedVersion[]) {
  const id = intentId(31337, VAULT, block);
  journal.recordIntent(id, VAULT, block, "buy 1");
  for (const v of versions) journal.recordSigned(id, nonce, v);
  return id;
}

const empty = { resumed: [], settled: [], abandoned: [], rebroadcastErrors: [], expired: [] };

describe("reconcile's verdict, case by case (scripted chain)", () => {
  it("a clean journal needs no chain at all: a restart with nothing open makes no request", async () => {
    const unreachable = new Proxy({}, { get: () => () => Promise.reject(new Error("no request expected")) }) as PublicClient;
    const journal = new Journal(newPath());
    const id = signedIntent(journal, 1n, 0, [version("0x0a")]);
    journal.recordSettled(id, "mined", version("0x0a").hash, 2n);
    expect(await reconcile(journal, unreachable, SIGNER)).toEqual(empty);
  });

  it("an intent never signed is abandoned with a reason an operator can read, and nothing is sent", async () => {
    const journal = new Journal(newPath());
    const id = intentId(31337, VAULT, 5n);
    journal.recordIntent(id, VAULT, 5n, "buy 1");
    const chain = scriptedChain({ minedNonce: 3 });
    expect(await reconcile(journal, chain.client, SIGNER)).toEqual({ ...empty, abandoned: [id] });
    expect(chain.sent).toEqual([]);
    const closed = new Journal(journal.path).get(id)?.closed;
    expect(closed?.type).toBe("abandoned");
    expect(closed?.detail).toMatch(/never signed/);
  });

  it("a hedge that mined but reverted settles as reverted, not mined", async () => {
    const journal = new Journal(newPath());
    const hedge = version("0x05aa");
    const id = signedIntent(journal, 6n, 3, [hedge]);
    const chain = scriptedChain({ minedNonce: 4, receipts: { [hedge.hash]: "reverted" } });
    expect(await reconcile(journal, chain.client, SIGNER)).toEqual({ ...empty, settled: [{ id, outcome: "reverted", hash: hedge.hash }] });
    expect(chain.sent).toEqual([]);
    expect(new Journal(journal.path).get(id)?.closed).toEqual({ type: "settled", detail: `reverted ${hedge.hash}` });
    expect(fileRecords(journal.path).at(-1)).toMatchObject({ type: "settled", outcome: "reverted", hash: hedge.hash, block: "42" });
  });

  it("our cancel that took the nonce settles as cancelled — a success, but no trade", async () => {
    const journal = new Journal(newPath());
    const hedge = version("0x06aa");
    const cancel = version("0x06cc", { kind: "cancel", gasLimit: "21000" });
    const id = signedIntent(journal, 7n, 3, [hedge, cancel]);
    const chain = scriptedChain({ minedNonce: 4, receipts: { [cancel.hash]: "success" } });
    expect(await reconcile(journal, chain.client, SIGNER)).toEqual({ ...empty, settled: [{ id, outcome: "cancelled", hash: cancel.hash }] });
    expect(chain.sent).toEqual([]);
    expect(new Journal(journal.path).get(id)?.closed).toEqual({ type: "settled", detail: `cancelled ${cancel.hash}` });
  });

  it("a node error while looking for receipts stops reconcile: nothing is settled, superseded or re-sent on a guess", async () => {
    const journal = new Journal(newPath());
    const id = signedIntent(journal, 8n, 3, [version("0x07aa")]);
    const before = readFileSync(journal.path, "utf8");
    // nonce 3 looks used: swallowing the error would wrongly settle the intent as superseded
    const chain = scriptedChain({ minedNonce: 4, receiptError: new Error("upstream connect error") });
    await expect(reconcile(journal, chain.client, SIGNER)).rejects.toThrow("upstream connect error");
    expect(chain.sent).toEqual([]);
    expect(readFileSync(journal.path, "utf8")).toBe(before);
    expect(new Journal(journal.path).get(id)?.closed).toBeUndefined();
  });

  it("a resumed hedge carries everything the pending tracker needs: nonce, gas limit, both fees, decision block, bytes", async () => {
    const journal = new Journal(newPath());
    const hedge = version("0x08aa", { maxFeePerGas: "61500000000", maxPriorityFeePerGas: "1500000000", gasLimit: "210000", deadline: "5000" });
    const id = signedIntent(journal, 9n, 3, [hedge]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 4_000n });
    expect(await reconcile(journal, chain.client, SIGNER)).toEqual({
      ...empty,
      resumed: [
        {
          intentId: id,
          vault: VAULT,
          hash: hedge.hash,
          nonce: 3,
          gasLimit: 210_000n,
          fees: { maxFeePerGas: 61_500_000_000n, maxPriorityFeePerGas: 1_500_000_000n },
          decidedAtBlock: 9n,
          raw: hedge.raw,
        },
      ],
    });
    expect(chain.sent).toEqual([hedge.raw]);
  });

  it("a hedge version with no recorded deadline (as journals written before fee bumps carried one hold) is re-sent while its nonce is free", async () => {
    const journal = new Journal(newPath());
    const bump = version("0x09bb");
    const id = signedIntent(journal, 10n, 3, [version("0x09aa", { deadline: "900" }), bump]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 1_000n });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(chain.sent).toEqual([bump.raw]);
    expect(result.expired).toEqual([]);
    expect(result.resumed).toMatchObject([{ intentId: id, hash: bump.hash }]);
  });

  it("a hedge whose deadline is the latest block's timestamp has expired (the next block is later), one second more has not", async () => {
    const journal = new Journal(newPath());
    const atNow = version("0x0daa", { deadline: "1000" });
    const idAtNow = signedIntent(journal, 13n, 3, [atNow]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 1_000n });
    expect(await reconcile(journal, chain.client, SIGNER)).toMatchObject({ expired: [idAtNow], resumed: [{ intentId: idAtNow }] });
    expect(chain.sent).toEqual([]);

    const later = new Journal(newPath());
    const oneMore = version("0x0dbb", { deadline: "1001" });
    const idOneMore = signedIntent(later, 14n, 3, [oneMore]);
    const chain2 = scriptedChain({ minedNonce: 3, timestamp: 1_000n });
    expect(await reconcile(later, chain2.client, SIGNER)).toMatchObject({ expired: [], resumed: [{ intentId: idOneMore }] });
    expect(chain2.sent).toEqual([oneMore.raw]);
  });

  it("a cancel never expires: it carries no swap, so it is re-sent whatever the clock says", async () => {
    const journal = new Journal(newPath());
    const cancel = version("0x0acc", { kind: "cancel", deadline: "900" });
    const id = signedIntent(journal, 11n, 3, [version("0x0aaa", { deadline: "900" }), cancel]);
    const chain = scriptedChain({ minedNonce: 3, timestamp: 1_000n });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(chain.sent).toEqual([cancel.raw]);
    expect(result).toMatchObject({ expired: [], resumed: [{ intentId: id, hash: cancel.hash }] });
  });

  it("a re-broadcast the node refuses is reported by its first line, and the hedge is still tracked by receipt", async () => {
    const journal = new Journal(newPath());
    const hedge = version("0x0baa");
    const id = signedIntent(journal, 12n, 3, [hedge]);
    const chain = scriptedChain({ minedNonce: 3, sendError: new Error("replacement transaction underpriced\n\nRequest Arguments: ...") });
    const result = await reconcile(journal, chain.client, SIGNER);
    expect(result.rebroadcastErrors).toEqual([{ id, error: "replacement transaction underpriced" }]);
    expect(result.resumed).toMatchObject([{ intentId: id, hash: hedge.hash, nonce: 3 }]);
    const tracked = new Journal(journal.path).get(id);
    expect(tracked?.broadcast).toBe(true);
    expect(tracked?.closed).toBeUndefined();
  });
});

describe("reconcile on an in-process node (automine)", () => {
  it("a cancel the chain mined settles as cancelled; a signed hedge whose nonce is free is re-sent and lands byte for byte", async () => {
    const connection = await hre.network.create();
    try {
      const { provider, viem } = connection;
      const methods: string[] = [];
      const client = createPublicClient({
        transport: custom({
          request: (args: { method: string; params?: unknown }) => {
            methods.push(args.method);
            return provider.request(args as never);
          },
        }),
      }) as PublicClient;
      const publicClient = await viem.getPublicClient();
      const keeper = privateKeyToAccount(TEST_KEYS.keeper);
      const chainId = await publicClient.getChainId();
      const nonce = await publicClient.getTransactionCount({ address: keeper.address });
      const fees = { maxFeePerGas: parseGwei("20"), maxPriorityFeePerGas: parseGwei("1") };
      const bumped = { maxFeePerGas: parseGwei("30"), maxPriorityFeePerGas: parseGwei("2") };
      const sign = (n: number, to: `0x${string}`, value: bigint, f: typeof fees) =>
        keeper.signTransaction({ chainId, type: "eip1559", to, gas: 21_000n, nonce: n, value, ...f });

      // Intent A: hedge signed, then a cancel at the same nonce, and only the cancel reached the chain.
      const hedgeA = await sign(nonce, VAULT, 1n, fees);
      const cancelA = await sign(nonce, keeper.address, 0n, bumped);
      await publicClient.waitForTransactionReceipt({ hash: await publicClient.sendRawTransaction({ serializedTransaction: cancelA }) });
      // Intent B: signed at the next nonce, journaled, never broadcast (the crash came first).
      const hedgeB = await sign(nonce + 1, VAULT, 2n, fees);

      const journal = new Journal(newPath());
      const idA = signedIntent(journal, 100n, nonce, [version(hedgeA), version(cancelA, { kind: "cancel", gasLimit: "21000" })]);
      const idB = signedIntent(journal, 101n, nonce + 1, [version(hedgeB, { deadline: String(2n ** 40n) })]);

      const result = await reconcile(journal, client, keeper.address);
      expect(result.settled).toEqual([{ id: idA, outcome: "cancelled", hash: keccak256(cancelA) }]);
      expect(result.resumed).toMatchObject([{ intentId: idB, hash: keccak256(hedgeB), nonce: nonce + 1, raw: hedgeB }]);
      expect(result.rebroadcastErrors).toEqual([]);
      expect(methods.filter((m) => m === "eth_sendRawTransaction")).toHaveLength(1);
      // The chain has B's very bytes at B's nonce (automine mined it), and never saw A's hedge.
      const landed = await publicClient.waitForTransactionReceipt({ hash: keccak256(hedgeB) });
      expect(landed.status).toBe("success");
      expect((await publicClient.getTransaction({ hash: keccak256(hedgeB) })).nonce).toBe(nonce + 1);
      await expect(publicClient.getTransactionReceipt({ hash: keccak256(hedgeA) })).rejects.toThrow(TransactionReceiptNotFoundError);
      const reloaded = new Journal(journal.path);
      expect(reloaded.get(idA)?.closed).toEqual({ type: "settled", detail: `cancelled ${keccak256(cancelA)}` });
      expect(reloaded.get(idB)?.broadcast).toBe(true);
      expect(reloaded.get(idB)?.closed).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it("a hedge past its swap deadline by the chain's latest block is tracked, not re-sent", async () => {
    const connection = await hre.network.create();
    try {
      const { viem } = connection;
      const publicClient = await viem.getPublicClient();
      const testClient = await viem.getTestClient();
      const genesis = await publicClient.getBlock({ blockNumber: 0n });
      // Time moves on past the deadline: the latest block, not an older one, is what the hedge would face.
      await testClient.increaseTime({ seconds: 1_000 });
      await testClient.mine({ blocks: 2 });
      const latest = await publicClient.getBlock({ blockTag: "latest" });
      expect(latest.timestamp).toBeGreaterThan(genesis.timestamp + 900n);
      const keeper = privateKeyToAccount(TEST_KEYS.keeper);
      const nonce = await publicClient.getTransactionCount({ address: keeper.address });
      const raw = await keeper.signTransaction({ chainId: await publicClient.getChainId(), type: "eip1559", to: VAULT, gas: 21_000n, nonce, value: 1n, maxFeePerGas: parseGwei("20"), maxPriorityFeePerGas: parseGwei("1") });
      const journal = new Journal(newPath());
      const id = signedIntent(journal, 1n, nonce, [version(raw, { deadline: String(genesis.timestamp + 500n) })]);
      const result = await reconcile(journal, publicClient as unknown as PublicClient, keeper.address);
      expect(result).toMatchObject({ expired: [id], resumed: [{ intentId: id, nonce }], rebroadcastErrors: [], settled: [] });
      // Never sent: the pool is empty and the nonce still free.
      expect(await publicClient.getTransactionCount({ address: keeper.address, blockTag: "pending" })).toBe(nonce);
      const tracked = new Journal(journal.path).get(id);
      expect(tracked?.broadcast).toBe(false);
      expect(tracked?.closed).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it("bytes the node refuses (an unfunded sender) are reported with the node's reason and still tracked", async () => {
    const connection = await hre.network.create();
    try {
      const publicClient = await connection.viem.getPublicClient();
      const broke = privateKeyToAccount(generatePrivateKey());
      const chainId = await publicClient.getChainId();
      const raw = await broke.signTransaction({ chainId, type: "eip1559", to: VAULT, gas: 21_000n, nonce: 0, value: 1n, maxFeePerGas: parseGwei("20"), maxPriorityFeePerGas: parseGwei("1") });
      const journal = new Journal(newPath());
      const id = signedIntent(journal, 5n, 0, [version(raw)]);
      const result = await reconcile(journal, publicClient as unknown as PublicClient, broke.address);
      expect(result.rebroadcastErrors).toHaveLength(1);
      const [refused] = result.rebroadcastErrors;
      expect(refused!.id).toBe(id);
      // What the node answers when the same bytes are sent straight to it: its first line, whole.
      const direct = await publicClient.sendRawTransaction({ serializedTransaction: raw }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(direct).toBeDefined();
      // viem's short message plus the node's own reason (its `details`), never the long message with the URL.
      expect(refused!.error).toBe(errorMessage(direct));
      expect(refused!.error).toMatch(/funds/i);
      expect(result.resumed).toMatchObject([{ intentId: id, nonce: 0, raw }]);
    } finally {
      await connection.close();
    }
  });
});

describe("computeFees keeps the tip within the max fee", () => {
  it("with a priority cap above the max-fee cap (which the config refuses), the tip is cut to the max fee, never above it", () => {
    // A node rejects maxPriorityFeePerGas > maxFeePerGas outright: the fee rule must never produce it.
    const caps = { maxFeePerGasWei: 10n, maxPriorityFeePerGasWei: 50n };
    expect(computeFees(0n, 30n, caps)).toEqual({ maxFeePerGas: 10n, maxPriorityFeePerGas: 10n });
    expect(computeFees(2n, 30n, caps)).toEqual({ maxFeePerGas: 10n, maxPriorityFeePerGas: 10n });
    // Below both caps nothing is cut.
    expect(computeFees(1n, 7n, caps)).toEqual({ maxFeePerGas: 9n, maxPriorityFeePerGas: 7n });
  });
});
