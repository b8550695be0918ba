/**
 * The journal's promises: a record is durable when its append returns (it survives a power loss, which keeps only
 * what was fsync'd — modelled by an injected file layer), a new journal file survives one too (its directory is
 * fsync'd), a torn last line is cut off rather than glued to the next record, and the keeper makes the signed
 * bytes durable before it broadcasts them. Plus reload, reopen and corruption rules.
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pino } from "pino";
import { http, createPublicClient, type Hex, type PublicClient, type Transport } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { foldJournal, Journal, intentId, parseJournal, type JournalFs } from "../../keeper/execution/journal.ts";
import { Keeper } from "../../keeper/keeper.ts";
import { keeperOptions } from "../../keeper/options.ts";
import { QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "../../harness/system.ts";
import { TEST_KEYS } from "../../harness/keeperProcess.ts";
import { startLocalChain, type LocalChain } from "../../harness/localChain.ts";

const VAULT = "0x00000000000000000000000000000000000000aa" as const;
const version = (hash: `0x${string}`) => ({ hash, raw: "0x02" as const, maxFeePerGas: "2", maxPriorityFeePerGas: "1", gasLimit: "150000", kind: "hedge" as const });
const path = () => join(mkdtempSync(join(tmpdir(), "journal-")), "journal.jsonl");

/**
 * A disk that loses power on demand. Each file has what a reader sees now (`data`, the page cache) and what is on
 * the platter (`synced`, updated by fsync of the file); a new file's directory entry is on the platter only once
 * its directory is fsync'd. Writes are short (at most 40 bytes per call), as `write(2)` may be.
 */
class PowerLossDisk implements JournalFs {
  readonly #files = new Map<string, { data: string; synced: string; linked: boolean }>();
  readonly #open = new Map<number, string>();
  #nextFd = 3;

  constructor(files: Iterable<[string, string]> = []) {
    for (const [p, text] of files) this.#files.set(p, { data: text, synced: text, linked: true });
  }

  /** What a restart finds if the power is cut now. */
  powerLoss(): PowerLossDisk {
    return new PowerLossDisk([...this.#files].filter(([, f]) => f.linked).map(([p, f]) => [p, f.synced] as [string, string]));
  }

  existsSync(p: string): boolean {
    return this.#files.has(p);
  }
  readFileSync(p: string): string {
    const file = this.#files.get(p);
    if (!file) throw new Error(`ENOENT: ${p}`);
    return file.data;
  }
  mkdirSync(): void {}
  openSync(p: string, flags: "a" | "r"): number {
    if (flags === "a" && !this.#files.has(p)) this.#files.set(p, { data: "", synced: "", linked: false });
    const fd = this.#nextFd++;
    this.#open.set(fd, p);
    return fd;
  }
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number {
    const n = Math.min(length, 40);
    this.#file(fd).data += new TextDecoder().decode(buffer.subarray(offset, offset + n));
    return n;
  }
  fsyncSync(fd: number): void {
    const p = this.#open.get(fd)!;
    const file = this.#files.get(p);
    if (file) file.synced = file.data;
    else for (const [fp, f] of this.#files) if (dirname(fp) === p) f.linked = true; // a directory
  }
  ftruncateSync(fd: number, length: number): void {
    const file = this.#file(fd);
    file.data = file.data.slice(0, length);
  }
  closeSync(fd: number): void {
    this.#open.delete(fd);
  }
  #file(fd: number) {
    const file = this.#files.get(this.#open.get(fd)!);
    if (!file) throw new Error(`fd ${fd} is not a file`);
    return file;
  }
}

describe("journal", () => {
  it("an intent survives a reload with its signed versions, and closes when settled", () => {
    const file = path();
    const id = intentId(31337, VAULT, 10n);
    const j = new Journal(file);
    j.recordIntent(id, VAULT, 10n, "buy 1");
    j.recordSigned(id, 7, version("0x01"));
    j.recordBroadcast(id, "0x01");
    const reloaded = new Journal(file);
    expect(reloaded.open()).toHaveLength(1);
    expect(reloaded.open()[0]).toMatchObject({ id, nonce: 7, broadcast: true });
    expect(reloaded.maxNonce()).toBe(7);
    reloaded.recordSettled(id, "mined", "0x01", 11n);
    expect(new Journal(file).open()).toHaveLength(0);
  });

  it("an id decided again after being abandoned (a restart re-deciding the same block) is reopened, not ignored", () => {
    const file = path();
    const id = intentId(31337, VAULT, 371n);
    const j = new Journal(file);
    j.recordIntent(id, VAULT, 371n, "buy 2");
    j.recordAbandoned(id, "never signed before the restart");
    j.recordIntent(id, VAULT, 371n, "buy 2");
    j.recordSigned(id, 3, version("0x03"));
    j.recordBroadcast(id, "0x03");
    const open = new Journal(file).open();
    expect(open).toHaveLength(1);
    expect(open[0]!.versions.map((v) => v.hash)).toEqual(["0x03"]);
  });

  it("a torn last line (a crash mid-write) is ignored; a corrupt line elsewhere is an error", () => {
    const file = path();
    const id = intentId(1, VAULT, 5n);
    new Journal(file).recordIntent(id, VAULT, 5n, "sell 1");
    appendFileSync(file, '{"type":"signed","id":"1:0x');
    expect(new Journal(file).open()).toHaveLength(1);
    expect(() => parseJournal('{"type":"intent"\n{"type":"abandoned","id":"x","reason":"r","at":1}\n')).toThrow(/corrupt/);
  });

  it("after a torn last line, the next records go on lines of their own: the journal still loads after the next restart", () => {
    const file = path();
    const id = intentId(1, VAULT, 6n);
    new Journal(file).recordIntent(id, VAULT, 6n, "sell 1");
    appendFileSync(file, '{"type":"signed","id":"1:0x');
    new Journal(file).recordSigned(id, 4, version("0x04"));
    const reloaded = new Journal(file);
    expect(reloaded.get(id)).toMatchObject({ nonce: 4, versions: [{ hash: "0x04" }] });
    expect(readFileSync(file, "utf8")).not.toContain('"1:0x{');
  });

  it("a whole record that only lost its newline is kept, and the next record starts a line of its own", () => {
    const file = path();
    const id = intentId(1, VAULT, 7n);
    new Journal(file).recordIntent(id, VAULT, 7n, "sell 1");
    writeFileSync(file, readFileSync(file, "utf8").trimEnd());
    new Journal(file).recordSigned(id, 5, version("0x05"));
    expect(new Journal(file).get(id)).toMatchObject({ nonce: 5, versions: [{ hash: "0x05" }] });
  });
});

describe("journal on a disk that loses power", () => {
  const file = "/var/keeper/journal.jsonl";

  it("each record survives a power loss as soon as its append returns", () => {
    const disk = new PowerLossDisk();
    const j = new Journal(file, { fs: disk });
    const id = intentId(31337, VAULT, 20n);
    const afterLoss = () => new Journal(file, { fs: disk.powerLoss() }).get(id);

    j.recordIntent(id, VAULT, 20n, "buy 1");
    expect(afterLoss()).toMatchObject({ id, versions: [], broadcast: false });
    j.recordSigned(id, 9, version("0x09"));
    expect(afterLoss()).toMatchObject({ nonce: 9, versions: [{ hash: "0x09", raw: "0x02" }] });
    j.recordBroadcast(id, "0x09");
    expect(afterLoss()).toMatchObject({ broadcast: true });
    j.recordSettled(id, "mined", "0x09", 21n);
    expect(afterLoss()?.closed).toEqual({ type: "settled", detail: "mined 0x09" });
  });

  it("a journal file created just before the power loss is still there (its directory entry was fsync'd)", () => {
    const disk = new PowerLossDisk();
    const id = intentId(31337, VAULT, 30n);
    new Journal(file, { fs: disk }).recordIntent(id, VAULT, 30n, "sell 1");
    const lost = disk.powerLoss();
    expect(lost.existsSync(file)).toBe(true);
    expect(new Journal(file, { fs: lost }).get(id)).toBeDefined();
  });
});

/**
 * The keeper in-process on a chain that mines only when told, its journal on a `PowerLossDisk`, and its RPC
 * transport watched: at the instant the signed transaction goes to the node, a power loss must leave those very
 * bytes in the journal — otherwise a restart could not tell that the nonce may be in flight, and would sign again.
 */
describe("the keeper's signed bytes are durable before they are broadcast", () => {
  let chain: LocalChain;
  beforeAll(async () => {
    chain = await startLocalChain({ blockIntervalMs: 0, hedged: true });
  });
  afterAll(async () => {
    await chain?.close();
  });

  it("a power loss at the moment of broadcast leaves the broadcast bytes in the journal", async () => {
    const { sys, url } = chain;
    const disk = new PowerLossDisk();
    const journalPath = "/var/keeper/journal-31337.jsonl";
    const atBroadcast: { raw: Hex; journaledAt: number | undefined }[] = [];
    const watched: Transport = (params) => {
      const inner = http(url)(params);
      return {
        ...inner,
        async request(args, options) {
          if (args.method === "eth_sendRawTransaction") {
            const raw = (args.params as [Hex])[0];
            const survivors = foldJournal(parseJournal(disk.powerLoss().readFileSync(journalPath)));
            const journaled = [...survivors.values()].find((s) => s.versions.some((v) => v.raw === raw));
            atBroadcast.push({ raw, journaledAt: journaled?.nonce });
          }
          return inner.request(args, options);
        },
      };
    };
    const client = createPublicClient({ transport: watched }) as PublicClient;
    const keeper = new Keeper(
      keeperOptions({
        lens: sys.lens.address,
        vaults: [{ address: sys.vault.address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }],
        policy: { name: "band", band: 0.5, target: "zero" },
        prefs: { riskAversion: 0.01, horizonSeconds: 3600 },
        gasLimitPerHedge: 1_000_000n,
        deadlineSeconds: 45, // SWAP_DEADLINE_SECONDS: not the default 300, so the bytes show it was honoured
      }),
      {
        client,
        account: signerFromPrivateKey(TEST_KEYS.keeper),
        logger: pino({ level: "silent" }),
        nowMs: () => performance.now(),
        journal: new Journal(journalPath, { fs: disk }),
      },
    );

    await chain.moveTo(3300); // out of band: the next tick hedges
    const nonce = await sys.publicClient.getTransactionCount({ address: TEST_KEYS.keeperAddress });
    const report = await keeper.poll();
    expect(report?.sent ?? [], "the keeper sent no hedge").toHaveLength(1);
    const [sent] = report!.sent;
    expect(await chain.pending()).toEqual([sent!.hash]);
    // One broadcast, of the bytes now in the pool, and a power loss at that instant keeps them at their nonce.
    expect(atBroadcast).toEqual([{ raw: sent!.raw, journaledAt: nonce }]);
    // The swap deadline inside those bytes is the planned block's timestamp plus the configured seconds.
    const { timestamp } = await sys.publicClient.getBlock({ blockNumber: report!.blockNumber });
    const [journaled] = [...foldJournal(parseJournal(disk.powerLoss().readFileSync(journalPath))).values()];
    expect(journaled!.versions.map((v) => v.deadline)).toEqual([String(timestamp + 45n)]);
  });
});
