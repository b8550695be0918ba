/**
 * Exactly-once hedging: every hedge is an *intent* with a deterministic id (chain, vault, block of the
 * decision), written to an append-only journal before anything is signed, and the signed transaction is
 * written before it is broadcast. After a crash at any point, `reconcile` compares the journal with the chain:
 * a hedge signed but maybe not broadcast is re-broadcast with the very same bytes (never re-signed with a new
 * nonce), a hedge mined is closed, a hedge never signed is dropped and re-decided from fresh state.
 *
 * Format: one JSON object per line, each line fsync'd before the step it records goes ahead. A torn last line
 * (a crash mid-write) is ignored on load, and cut off before the next append: the step it recorded never went
 * ahead. The file layer is injectable (`JournalFs`), so a test can cut the power between any two calls.
 */
import * as nodeFs from "node:fs";
import { dirname } from "node:path";
import type { Address, Hash, Hex } from "viem";

export type IntentId = string;

/** How an intent ended on-chain: its hedge mined or reverted, our cancel took the nonce, or something else did. */
export type SettledOutcome = "mined" | "reverted" | "cancelled" | "superseded";

export function intentId(chainId: number | bigint, vault: Address, decisionBlock: bigint): IntentId {
  return `${chainId}:${vault.toLowerCase()}:${decisionBlock}`;
}

export interface SignedVersion {
  hash: Hash;
  raw: Hex;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  gasLimit: string;
  /** The swap deadline inside the transaction (unix seconds), when known: past it, re-sending only wastes gas. */
  deadline?: string;
  /** "hedge" for the original and fee bumps, "cancel" for a replacement that only takes the nonce. */
  kind: "hedge" | "cancel";
}

export type JournalRecord =
  | { type: "intent"; id: IntentId; vault: Address; decisionBlock: string; summary: string; at: number }
  | { type: "signed"; id: IntentId; nonce: number; version: SignedVersion; at: number }
  | { type: "broadcast"; id: IntentId; hash: Hash; at: number }
  | { type: "settled"; id: IntentId; outcome: SettledOutcome; hash?: Hash; block?: string; at: number }
  | { type: "abandoned"; id: IntentId; reason: string; at: number };

/** What the journal says about one intent. */
export interface IntentState {
  id: IntentId;
  vault: Address;
  decisionBlock: bigint;
  summary: string;
  nonce?: number;
  /** Every signed version, oldest first (the original, then fee bumps or a cancel, all at `nonce`). */
  versions: SignedVersion[];
  broadcast: boolean;
  closed?: { type: "settled" | "abandoned"; detail: string };
}

/** Applies one record to the intent states. */
export function applyRecord(intents: Map<IntentId, IntentState>, r: JournalRecord): void {
  if (r.type === "intent") {
    // A new intent, or one reopened: after a restart the same block can be decided again for the same vault, and
    // an id that was abandoned (never signed) or settled must then track the new attempt, not be ignored.
    const existing = intents.get(r.id);
    if (!existing || existing.closed) {
      intents.set(r.id, { id: r.id, vault: r.vault, decisionBlock: BigInt(r.decisionBlock), summary: r.summary, versions: [], broadcast: false });
    }
    return;
  }
  const state = intents.get(r.id);
  if (!state) return; // a record for an intent never opened: ignore rather than guess
  if (r.type === "signed") {
    state.nonce = r.nonce;
    state.versions.push(r.version);
  } else if (r.type === "broadcast") {
    state.broadcast = true;
  } else if (r.type === "settled") {
    state.closed = { type: "settled", detail: `${r.outcome}${r.hash ? ` ${r.hash}` : ""}` };
  } else {
    state.closed = { type: "abandoned", detail: r.reason };
  }
}

/** Folds records into intent states (pure: the loader and the tests use it). */
export function foldJournal(records: readonly JournalRecord[]): Map<IntentId, IntentState> {
  const intents = new Map<IntentId, IntentState>();
  for (const r of records) applyRecord(intents, r);
  return intents;
}

/** Parses journal text; a torn (unparseable) final line is dropped, any other bad line is an error. */
export function parseJournal(text: string): JournalRecord[] {
  const lines = text.split("\n");
  const records: JournalRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch (error) {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === "");
      if (!isLast) throw new Error(`journal line ${i + 1} is corrupt (not a torn last line): ${String(error)}`);
    }
  });
  return records;
}

/**
 * The file operations the journal uses (node:fs by default): injected so a test can record their order and
 * simulate a power loss, in which whatever was written but not fsync'd is gone.
 */
export interface JournalFs {
  existsSync(path: string): boolean;
  readFileSync(path: string, encoding: "utf8"): string;
  mkdirSync(path: string, options: { recursive: true }): unknown;
  /** "a" for the journal file; "r" to open its directory for an fsync. */
  openSync(path: string, flags: "a" | "r"): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, length: number): void;
  closeSync(fd: number): void;
}

export interface JournalOptions {
  /** Wall-clock milliseconds stamped on each record. */
  now?: () => number;
  fs?: JournalFs;
}

/** The journal file: append + fsync per record, loaded once at startup. */
export class Journal {
  readonly path: string;
  #intents: Map<IntentId, IntentState>;
  readonly #now: () => number;
  readonly #fs: JournalFs;

  constructor(path: string, options: JournalOptions = {}) {
    this.path = path;
    this.#now = options.now ?? Date.now;
    this.#fs = options.fs ?? nodeFs;
    const fs = this.#fs;
    fs.mkdirSync(dirname(path), { recursive: true });
    if (fs.existsSync(path)) {
      const text = fs.readFileSync(path, "utf8");
      this.#intents = foldJournal(parseJournal(text));
      this.#endLastLine(text);
    } else {
      // A new file is durable only once its directory entry is: create it, then fsync the directory. Without
      // this a power loss could leave fsync'd records in a file the directory no longer lists.
      this.#syncAppend(new Uint8Array(0));
      const dir = fs.openSync(dirname(path), "r");
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
      this.#intents = new Map();
    }
  }

  /** Intents not yet settled or abandoned. */
  open(): IntentState[] {
    return [...this.#intents.values()].filter((s) => !s.closed);
  }

  openForVault(vault: Address): IntentState | undefined {
    return this.open().find((s) => s.vault.toLowerCase() === vault.toLowerCase());
  }

  get(id: IntentId): IntentState | undefined {
    return this.#intents.get(id);
  }

  /** The highest nonce any intent in the journal signed with. */
  maxNonce(): number | undefined {
    let max: number | undefined;
    for (const s of this.#intents.values()) if (s.nonce !== undefined && (max === undefined || s.nonce > max)) max = s.nonce;
    return max;
  }

  recordIntent(id: IntentId, vault: Address, decisionBlock: bigint, summary: string): void {
    this.#append({ type: "intent", id, vault, decisionBlock: decisionBlock.toString(), summary, at: this.#now() });
  }

  recordSigned(id: IntentId, nonce: number, version: SignedVersion): void {
    this.#append({ type: "signed", id, nonce, version, at: this.#now() });
  }

  recordBroadcast(id: IntentId, hash: Hash): void {
    this.#append({ type: "broadcast", id, hash, at: this.#now() });
  }

  recordSettled(id: IntentId, outcome: SettledOutcome, hash?: Hash, block?: bigint): void {
    this.#append({ type: "settled", id, outcome, ...(hash ? { hash } : {}), ...(block !== undefined ? { block: block.toString() } : {}), at: this.#now() });
  }

  recordAbandoned(id: IntentId, reason: string): void {
    this.#append({ type: "abandoned", id, reason, at: this.#now() });
  }

  #append(record: JournalRecord): void {
    // Durable before the step it records goes ahead: write and fsync one line, then return.
    this.#syncAppend(new TextEncoder().encode(`${JSON.stringify(record)}\n`));
    applyRecord(this.#intents, record);
  }

  /**
   * A crash mid-write leaves a torn last record: without its newline, or (a power loss on a file system that
   * extends the file before its data lands) with its first bytes lost but its newline in. The next record must not
   * be appended after it: the torn line would then sit in the middle of the file, and the next start would refuse
   * the journal. A torn line (not JSON) is cut off, durably: its step never went ahead. A whole record that only
   * lacks its newline was loaded like any other, so it is kept and terminated. An intact journal is not written.
   */
  #endLastLine(text: string): void {
    const body = text.trimEnd();
    if (body.length === 0) return; // empty, or blank lines only: nothing torn, and a record appends cleanly
    const start = body.lastIndexOf("\n") + 1;
    if (parseJournal(body.slice(start)).length === 1) {
      if (!text.endsWith("\n")) this.#syncAppend(new TextEncoder().encode("\n"));
      return;
    }
    const keep = Buffer.byteLength(text.slice(0, start), "utf8");
    const fd = this.#fs.openSync(this.path, "a");
    try {
      this.#fs.ftruncateSync(fd, keep);
      this.#fs.fsyncSync(fd);
    } finally {
      this.#fs.closeSync(fd);
    }
  }

  #syncAppend(bytes: Uint8Array): void {
    const fs = this.#fs;
    const fd = fs.openSync(this.path, "a");
    try {
      // writeSync may write less than asked: loop until the whole line is in.
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}
