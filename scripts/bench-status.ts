/**
 * `npm run bench:status` (also part of `npm run bench`): the status page's cost at scale, on this machine —
 * 100 vaults observed for 10,000 blocks with 10,000 blocks of history kept (STATUS_HISTORY_BLOCKS=10000):
 * the memory it holds (JS heap plus typed-array buffers, after a forced GC), the time one block's observe takes, and the size of what the page loads
 * (the list's /api/status, one vault's /api/vault/… with its whole history, one block's event). Synthetic plans
 * (a random-walk delta per vault, a hedge every 50 blocks): no chain, so it measures the board alone.
 * Results: bench/status.json. Run with --expose-gc (the npm script does).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import type { Address } from "viem";
import { StatusBoard, type StatusUpdate } from "../keeper/telemetry/status.ts";
import { syntheticVaults } from "../harness/statusFixtures.ts";

const VAULTS = 100;
const BLOCKS = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (npm run bench:status does)");

const addresses = Array.from({ length: VAULTS }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}` as Address);
const { planOf, hedgeOf } = syntheticVaults(VAULTS, 11);

/** Heap plus the typed arrays' backing stores (outside the JS heap). */
const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
gc();
const before = held();
const board = new StatusBoard({ historyBlocks: BLOCKS, policy: { name: "band", band: 0.5, target: "zero" }, mode: "live" });
let lastUpdate: StatusUpdate | undefined;
const health = { live: true, ready: true, reasons: [] };
const t0 = performance.now();
for (let b = 1; b <= BLOCKS; b++) {
  const plans = addresses.map((v, k) => planOf(v, k, b));
  const settled = b % 50 === 0 ? addresses.map((v) => hedgeOf(v, b)) : [];
  lastUpdate = board.observe({ blockNumber: BigInt(b), plans, settled, sent: [], pending: [], health });
}
const observeMs = (performance.now() - t0) / BLOCKS;
gc();
const heapMb = (held() - before) / 2 ** 20;
const statusBytes = Buffer.byteLength(JSON.stringify(board.status()));
const t1 = performance.now();
const detailJson = JSON.stringify(board.detail(addresses[0]!));
const detailMs = performance.now() - t1;
const result = {
  date: new Date().toISOString(),
  node: process.version,
  vaults: VAULTS,
  blocks: BLOCKS,
  historyBlocks: BLOCKS,
  heapHeldMb: heapMb,
  observeMsPerBlock: observeMs,
  statusJsonBytes: statusBytes,
  vaultDetailJsonBytes: Buffer.byteLength(detailJson),
  vaultDetailBuildMs: detailMs,
  eventBytesPerBlock: Buffer.byteLength(JSON.stringify(lastUpdate)),
};
console.log(
  `status board: ${VAULTS} vaults × ${BLOCKS} blocks (history ${BLOCKS}): ${heapMb.toFixed(1)} MB held; observe ${observeMs.toFixed(3)} ms a block; ` +
    `/api/status ${(statusBytes / 1024).toFixed(1)} KB; one vault's detail ${(Buffer.byteLength(detailJson) / 1024).toFixed(0)} KB (built in ${detailMs.toFixed(1)} ms); ` +
    `one block's event ${(result.eventBytesPerBlock / 1024).toFixed(1)} KB`,
);
const out = new URL("../bench/status.json", import.meta.url);
await mkdir(new URL("./", out), { recursive: true });
await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
