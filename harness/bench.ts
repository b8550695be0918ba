/**
 * The keeper benchmark's core (see `scripts/bench.ts`): one node served over JSON-RPC (Hardhat's in-process node,
 * or an anvil process), `vaults` vaults with books of `series` series and pools of their own deployed in batches
 * (`manyVaults.ts`), the keeper in this process counting every request. Also run by `test/keeper/requests.test.ts`
 * with few vaults, where the request counts (deterministic) are asserted; latencies are only reported.
 */
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { createChainClients, RequestCounter, signerFromPrivateKey } from "../keeper/chain/clients.ts";
import { Keeper } from "../keeper/keeper.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "./keeper.ts";
import type { NetworkConfigOverride } from "hardhat/types/config";
import { deployVaults, moveMarket, openBooks, RawRpc } from "./manyVaults.ts";
import { startLocalNode } from "./node.ts";
import { deploySystem, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "./system.ts";

const IDLE_BLOCKS = 20;
const HEDGE_ROUNDS: Record<number, number> = { 1: 10, 10: 5, 100: 3, 1000: 2 };
/** Every vault's book: ten series, calls and puts around the spot. */
const BOOK_SERIES = 10;
const DECISION_SAMPLES = 500;

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;

export interface Row {
  vaults: number;
  idleBlocks: number;
  requestsPerIdleBlock: { min: number; max: number; mean: number };
  hedgesSent: number;
  sendRequestsPerHedgedVault: number;
  receiptRequestsPerHedgedVault: number;
  requestsByMethodDuringSends: Record<string, number>;
  /** Live series in each vault's book. */
  series: number;
  setupSeconds: number;
  /** `eth_call`s of one read (the chunks): the requests of an idle block. */
  lensCallsPerRead: number;
  /** An idle block's poll: the chunked read and the plan. */
  idleReadMs: Quantiles;
  /** The read of a block in which every vault hedges (from the block known to the last chunk decoded). */
  hedgeReadMs: Quantiles;
  /** From the block known to every vault's decision: the read and the plan, with every vault hedging. */
  blockToDecisionMs: Quantiles;
  /** From the block known to each hedge's `eth_sendRawTransaction` returning: the read, the plan and the sends. */
  blockToBroadcastMs: Quantiles;
  /** The pure plan alone (`planBlock` for every vault), on a read already made. */
  decisionMs: Quantiles;
  /** This process at the end: the keeper and the in-process node together. */
  memoryMb: { rss: number; heapUsed: number };
}

interface Quantiles {
  median: number;
  p99: number;
  samples: number;
}

export interface BenchOptions {
  rounds?: number;
  decisionSamples?: number;
  logFile?: string;
  /** Live series per vault (default `BOOK_SERIES`). */
  series?: number;
  /** The node: Hardhat's in-process EDR (default), or an anvil process of its own. */
  node?: "hardhat" | "anvil";
}

const memoryMb = () => {
  const m = process.memoryUsage();
  return { rss: Math.round(m.rss / 2 ** 20), heapUsed: Math.round(m.heapUsed / 2 ** 20) };
};

export async function benchmark(vaults: number, options: BenchOptions = {}): Promise<Row> {
  const series = options.series ?? BOOK_SERIES;
  // A block large enough for every vault's hedge at once (and for the set-up's batches): the keeper's block is what
  // is measured, not the chain's capacity. Calls keep Hardhat's EIP-7825 cap of 2^24 gas, as a real node's.
  const node =
    (options.node ?? "hardhat") === "anvil"
      ? await startLocalNode({ anvil: { args: ["--gas-limit", "100000000000"] } })
      : await startLocalNode({ override: { blockGasLimit: 100_000_000_000n } as NetworkConfigOverride });
  const { url } = node;
  try {
    const setupStarted = performance.now();
    const { viem } = await node.connect();
    const sys = await deploySystem(viem, { ammDepthUnderlying: 20_000, vaultDeposit: 2_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    const rpc = new RawRpc(url);
    await rpc.call("evm_setAutomine", [false]);
    const extra = await deployVaults(rpc, sys, vaults - 1, { ammDepth: 20_000, deposit: 2_000_000, series, optionsPerSeries: 4, spot: 3000 });
    const addresses = [sys.vault.address, ...extra.map((e) => e.vault)];
    const pools = [sys.amm.address, ...extra.map((e) => e.amm)];
    await openBooks(rpc, sys, addresses, buyer, { series, optionsPerSeries: 4, spot: 3000 });
    // The oracle answered again now that set-up is done: however long it took, the keeper starts on a fresh price.
    await moveMarket(rpc, sys, pools, 3000);
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    const counter = new RequestCounter();
    const { publicClient } = createChainClients({ rpcUrl: url, observer: counter });
    const keeper = new Keeper(
      localKeeperOptions(sys, { vaults: addresses.map((address) => ({ address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS })) }),
      { client: publicClient, account: signerFromPrivateKey(LOCAL_KEEPER_KEY), logger: pino({ level: options.logFile ? "warn" : "silent" }, pino.destination(options.logFile ?? "/dev/null")), nowMs: () => performance.now() },
    );

    const mine = () => rpc.call("evm_mine");

    // Hedge everything first (and collect the receipts), so the idle blocks really are idle.
    for (let i = 0; i < 10 && (i < 2 || keeper.pending.size > 0); i++) {
      await mine();
      await keeper.poll();
    }
    if (keeper.pending.size > 0) throw new Error("warm-up hedges did not settle");

    const idle: number[] = [];
    const idleReadMs: number[] = [];
    for (let i = 0; i < IDLE_BLOCKS; i++) {
      await mine();
      counter.reset();
      const t0 = performance.now();
      const report = await keeper.poll();
      idleReadMs.push(performance.now() - t0);
      if (report && (report.sent.length > 0 || report.plans.some((p) => p.sizing?.kind === "order"))) {
        throw new Error(`block ${report.blockNumber} was not idle`);
      }
      idle.push(counter.total());
    }

    const latencies: number[] = [];
    const toDecision: number[] = [];
    const reads: number[] = [];
    let sent = 0;
    let sendRequests = 0;
    let readRequests = 0;
    let receiptRequests = 0;
    const byMethod: Record<string, number> = {};
    const rounds = options.rounds ?? HEDGE_ROUNDS[vaults] ?? 2;
    for (let round = 0; round < rounds; round++) {
      const price = round % 2 === 0 ? 3300 : 3000;
      // The oracle update and every pool's arbitrage in one block: the block every vault must hedge in.
      await moveMarket(rpc, sys, pools, price);
      // From the moment the block is known (a newHeads notification would arrive here): the read, the plan, the sends.
      counter.reset();
      const seenAtMs = performance.now();
      const read = await keeper.read();
      const readMs = performance.now() - seenAtMs;
      readRequests += counter.total();
      const report = await keeper.tick({ read, seenAtMs });
      if (!report) throw new Error("no tick after a price move");
      reads.push(readMs);
      toDecision.push(readMs + report.decisionMs);
      const n = report.sent.length;
      sent += n;
      sendRequests += counter.total() - readRequests;
      readRequests = 0;
      for (const [m, c] of Object.entries(counter.snapshot())) byMethod[m] = (byMethod[m] ?? 0) + c;
      latencies.push(...report.broadcastLatencyMs);
      await mine();
      counter.reset();
      const settle = await keeper.poll();
      receiptRequests += counter.snapshot().eth_getTransactionReceipt ?? 0;
      if ((settle?.settled.length ?? 0) !== n) throw new Error(`expected ${n} hedges to settle, ${settle?.settled.length ?? 0} did`);
    }

    // The decision code alone, on a real read of every vault, after a warm-up (the JIT's first passes are not
    // what a keeper that runs for days sees).
    const read = await keeper.read();
    const samples = options.decisionSamples ?? Math.max(20, Math.min(DECISION_SAMPLES, Math.round(50_000 / vaults)));
    for (let i = 0; i < Math.min(50, samples); i++) keeper.plan(read, 10n ** 9n);
    const decisions: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      keeper.plan(read, 10n ** 9n);
      decisions.push(performance.now() - t0);
    }

    return {
      vaults,
      idleBlocks: idle.length,
      requestsPerIdleBlock: { min: Math.min(...idle), max: Math.max(...idle), mean: idle.reduce((a, b) => a + b, 0) / idle.length },
      series,
      setupSeconds: r3(setupSeconds),
      lensCallsPerRead: idle.length > 0 ? Math.max(...idle) : 0,
      idleReadMs: { median: r3(quantile(idleReadMs, 0.5)), p99: r3(quantile(idleReadMs, 0.99)), samples: idleReadMs.length },
      hedgesSent: sent,
      sendRequestsPerHedgedVault: r3(sendRequests / sent),
      receiptRequestsPerHedgedVault: r3(receiptRequests / sent),
      requestsByMethodDuringSends: byMethod,
      blockToBroadcastMs: { median: r3(quantile(latencies, 0.5)), p99: r3(quantile(latencies, 0.99)), samples: latencies.length },
      hedgeReadMs: { median: r3(quantile(reads, 0.5)), p99: r3(quantile(reads, 0.99)), samples: reads.length },
      blockToDecisionMs: { median: r3(quantile(toDecision, 0.5)), p99: r3(quantile(toDecision, 0.99)), samples: toDecision.length },
      decisionMs: { median: r3(quantile(decisions, 0.5)), p99: r3(quantile(decisions, 0.99)), samples: decisions.length },
      memoryMb: memoryMb(),
    };
  } finally {
    await node.close();
  }
}

