import { appendFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Journal, intentId, parseJournal } from "../../keeper/execution/journal.ts";

const VAULT = "0x00000000000000000000000000000000000000aa" as const;
const version = (hash: `0x${string}`) => ({ hash, raw: "0x02" as const, maxFeePerGas: "2", maxPriorityFeePerGas: "1", gasLimit: "150000", kind: "hedge" as const });
const path = () => join(mkdtempSync(join(tmpdir(), "journal-")), "journal.jsonl");

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
});
