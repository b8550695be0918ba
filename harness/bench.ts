/**
 * The keeper benchmark's core (see `scripts/bench.ts`): one in-process node served over JSON-RPC, `vaults`
 * vaults, the keeper in this process counting every request. Also run by `test/keeper/requests.test.ts` with few
 * vaults, where the request counts (deterministic) are asserted; latencies are only reported.
 */
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { createChainClients, RequestCounter, signerFromPrivateKey } from "../keeper/chain/clients.ts";
import { Keeper } from "../keeper/keeper.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "./keeper.ts";
import { arbitrageTo, priceE8 } from "./market.ts";
import { startLocalNode } from "./node.ts";
import { buyOptions, deployExtraVault, deploySystem, listSeries, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "./system.ts";

const IDLE_BLOCKS = 20;
const HEDGE_ROUNDS: Record<number, number> = { 1: 10, 10: 5, 100: 3 };
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
  blockToBroadcastMs: { median: number; p99: number; samples: number };
  decisionMs: { median: number; p99: number; samples: number };
}

export async function benchmark(vaults: number, options: { rounds?: number; decisionSamples?: number; logFile?: string } = {}): Promise<Row> {
  const node = await startLocalNode();
  const { url } = node;
  try {
    const { viem } = await node.connect();
    const sys = await deploySystem(viem, { ammDepthUnderlying: 20_000, vaultDeposit: 2_000_000 });
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    const { id } = await listSeries(sys, true, 3000, 30);
    await buyOptions(sys, buyer, id, 40);
    const addresses = [sys.vault.address];
    const pools = [sys.amm.address];
    for (let i = 1; i < vaults; i++) {
      const extra = await deployExtraVault(viem, sys, { optionsSold: 40, ownAmmDepth: 20_000 });
      addresses.push(extra.vault.address);
      pools.push(extra.amm.address);
    }

    const counter = new RequestCounter();
    const { publicClient } = createChainClients({ rpcUrl: url, observer: counter });
    const keeper = new Keeper(
      localKeeperOptions(sys, { vaults: addresses.map((address) => ({ address, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS })) }),
      { client: publicClient, account: signerFromPrivateKey(LOCAL_KEEPER_KEY), logger: pino({ level: options.logFile ? "warn" : "silent" }, pino.destination(options.logFile ?? "/dev/null")), nowMs: () => performance.now() },
    );

    const admin = await viem.getPublicClient();
    const mine = () => admin.request({ method: "evm_mine" as never } as never);
    const automine = (on: boolean) => admin.request({ method: "evm_setAutomine" as never, params: [on] as never } as never);

    // Hedge everything first (and collect the receipts), so the idle blocks really are idle.
    await automine(false);
    for (let i = 0; i < 10 && (i < 2 || keeper.pending.size > 0); i++) {
      await mine();
      await keeper.poll();
    }
    if (keeper.pending.size > 0) throw new Error("warm-up hedges did not settle");

    const idle: number[] = [];
    for (let i = 0; i < IDLE_BLOCKS; i++) {
      await mine();
      counter.reset();
      const report = await keeper.poll();
      if (report && (report.sent.length > 0 || report.plans.some((p) => p.sizing?.kind === "order"))) {
        throw new Error(`block ${report.blockNumber} was not idle`);
      }
      idle.push(counter.total());
    }

    const latencies: number[] = [];
    const decisions: number[] = [];
    let sent = 0;
    let sendRequests = 0;
    let receiptRequests = 0;
    const byMethod: Record<string, number> = {};
    const rounds = options.rounds ?? HEDGE_ROUNDS[vaults] ?? 3;
    for (let round = 0; round < rounds; round++) {
      const price = round % 2 === 0 ? 3300 : 3000;
      await automine(true);
      await admin.waitForTransactionReceipt({ hash: await sys.oracle.write.setPrice([priceE8(price)]) });
      for (const amm of pools) await arbitrageTo(viem, { amm, quote: sys.quote.address, underlying: sys.underlying.address }, price);
      await automine(false);
      await mine();
      counter.reset();
      const report = await keeper.poll();
      if (!report) throw new Error("no tick after a price move");
      const n = report.sent.length;
      sent += n;
      sendRequests += counter.total() - 1; // minus the block's one read
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
    for (let i = 0; i < 50; i++) keeper.plan(read, 10n ** 9n);
    decisions.length = 0;
    for (let i = 0; i < (options.decisionSamples ?? DECISION_SAMPLES); i++) {
      const t0 = performance.now();
      keeper.plan(read, 10n ** 9n);
      decisions.push(performance.now() - t0);
    }

    return {
      vaults,
      idleBlocks: idle.length,
      requestsPerIdleBlock: { min: Math.min(...idle), max: Math.max(...idle), mean: idle.reduce((a, b) => a + b, 0) / idle.length },
      hedgesSent: sent,
      sendRequestsPerHedgedVault: r3(sendRequests / sent),
      receiptRequestsPerHedgedVault: r3(receiptRequests / sent),
      requestsByMethodDuringSends: byMethod,
      blockToBroadcastMs: { median: r3(quantile(latencies, 0.5)), p99: r3(quantile(latencies, 0.99)), samples: latencies.length },
      decisionMs: { median: r3(quantile(decisions, 0.5)), p99: r3(quantile(decisions, 0.99)), samples: decisions.length },
    };
  } finally {
    await node.close();
  }
}

