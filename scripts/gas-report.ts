/**
 * `npm run gas`: the gas of every external function and of a rebalance with 1, 10 and 32 live series.
 * Writes `gas-snapshot.json`; with GAS_CHECK=1 it compares against the committed snapshot instead and exits
 * non-zero on drift. Execution gas on the simulated EVM is deterministic, but the scenarios take expiries and
 * deadlines from the clock, so calldata (4 gas a zero byte, 16 a non-zero one) varies by a few tens of gas from
 * run to run: a row drifts when it moves by more than GAS_TOLERANCE (100 gas or 0.1%, whichever is larger).
 */
import { readFile, writeFile } from "node:fs/promises";
import hre from "hardhat";
import { measureAll, type GasRow } from "../harness/gas.ts";

const SNAPSHOT = new URL("../gas-snapshot.json", import.meta.url);

const { viem } = await hre.network.create();
const rows = await measureAll(viem);

const key = (r: GasRow) => `${r.contract}.${r.fn}${r.scenario ? ` (${r.scenario})` : ""}`;
const width = Math.max(...rows.map((r) => key(r).length));
console.log(`${"function (scenario)".padEnd(width)}  ${"gas".padStart(9)}  kind`);
for (const r of rows) console.log(`${key(r).padEnd(width)}  ${r.gas.toLocaleString("en-US").padStart(9)}  ${r.kind}`);
console.log("\ntx = receipt gasUsed (includes the 21,000 base); view = eth_estimateGas (includes the base);");
console.log("BlackScholes rows = gas of the library call alone, measured with gasleft().");

const snapshot = Object.fromEntries(rows.map((r) => [key(r), r.gas]));
if (process.env.GAS_CHECK === "1") {
  const committed = JSON.parse(await readFile(SNAPSHOT, "utf8")) as Record<string, number>;
  const tolerance = (gas: number) => Math.max(100, gas / 1000);
  const drift = Object.keys({ ...committed, ...snapshot }).filter((k) => {
    const before = committed[k];
    const now = snapshot[k];
    return before === undefined || now === undefined || Math.abs(now - before) > tolerance(before);
  });
  if (drift.length > 0) {
    for (const k of drift) console.error(`gas drift: ${k}: snapshot ${committed[k] ?? "-"}, now ${snapshot[k] ?? "-"}`);
    console.error("Run `npm run gas` and commit gas-snapshot.json if the change is intended.");
    process.exit(1);
  }
  console.log(`\ngas snapshot matches (${rows.length} rows, each within max(100 gas, 0.1%))`);
} else {
  await writeFile(SNAPSHOT, `${JSON.stringify(snapshot, null, 2)}\n`);
  console.log(`\nwrote ${SNAPSHOT.pathname}`);
}
