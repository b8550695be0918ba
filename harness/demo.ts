/**
 * The one-command demo (`npm start`, see `scripts/demo.ts`): an in-process Hardhat node served over JSON-RPC, the
 * system deployed with a book of short options, a seeded GBM price path written to the oracle every block, an
 * arbitrageur that keeps the AMM on the oracle, and the live keeper polling over HTTP after every block. The demo
 * drives the chain itself (automine off, `evm_mine` at `speed` blocks per second, 12 s of chain time per block)
 * and ends after `durationSec × speed` blocks.
 */
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { optionVaultAbi } from "../keeper/abi.ts";
import { createChainClients, signerFromPrivateKey } from "../keeper/chain/clients.ts";
import { Keeper, type TickReport } from "../keeper/keeper.ts";
import { type PolicyName } from "../keeper/policy/index.ts";
import { fillOf } from "../keeper/telemetry/fills.ts";
import { assessHealth, type Health } from "../keeper/telemetry/health.ts";
import { KeeperMetrics } from "../keeper/telemetry/metrics.ts";
import { redactUrl } from "../keeper/telemetry/redact.ts";
import { startTelemetryServer, type TelemetryServer } from "../keeper/telemetry/server.ts";
import { StatusBoard } from "../keeper/telemetry/status.ts";
import type { PolicyConfig } from "../keeper/types.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "./keeper.ts";
import { arbitrageSwap, fundArbitrageur, readPool } from "./market.ts";
import { startLocalNode } from "./node.ts";
import { boxMuller, gbmStep, mulberry32 } from "./random.ts";
import { buyOptions, deploySystem, listSeries, priceE8, QUOTE_DECIMALS, UNDERLYING_DECIMALS } from "./system.ts";

const BLOCK_SECONDS = 12;
const YEAR_SECONDS = 365 * 86_400;
const SPOT = 3000;
const AMM_DEPTH_UNDERLYING = 10_000;
/** The arbitrageur leaves the pool alone when it is this close to the oracle (dust trades only cost gas). */
const ARB_THRESHOLD_BPS = 1;


export interface DemoOptions {
  durationSec: number;
  /** Annual volatility of the GBM path (e.g. 0.8). */
  vol: number;
  policy: PolicyName;
  seed: number;
  /** Blocks mined per wall-clock second. */
  speed: number;
  /**
   * Port of the status page on 127.0.0.1 (and /metrics): default 9464; 0 lets the OS pick (also used when the
   * chosen one is taken).
   */
  statusPort?: number;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = { durationSec: 60, vol: 0.8, policy: "band", seed: 1, speed: 4 };
/** The status page's port by default (the keeper's METRICS_PORT example). */
export const DEFAULT_STATUS_PORT = 9464;
/** Readiness for the demo: blocks come every 1/speed s, so a few seconds without one means it stopped. */
const DEMO_HEALTH_RULES = { maxHeadAgeMs: 10_000, maxPendingBlocks: 10, maxOutOfBandBlocks: 20, minSignerBalanceWei: 0n };

/** The status page for the demo's keeper, on `port` (or any free port when it is taken). */
async function startStatusPage(port: number, metrics: KeeperMetrics, board: StatusBoard, health: () => Health): Promise<TelemetryServer> {
  try {
    return await startTelemetryServer({ port, metrics, health, status: board });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || port === 0) throw error;
    return startTelemetryServer({ port: 0, metrics, health, status: board });
  }
}

export interface DemoSummary {
  seed: number;
  policy: PolicyName;
  blocks: number;
  hedges: number;
  /** Hedges by venue and side ("amm buy", "perp sell", …). */
  hedgesBy: Record<string, number>;
  /** Margin moves between the vault's cash and its perp margin. */
  marginMoves: number;
  /** Hedges that were mined but reverted. */
  failedHedges: number;
  /** `Rebalanced` and `PerpHedged` events on chain at the end (equals `hedges` when every settled hedge is counted). */
  rebalancedEvents: number;
  totalGas: bigint;
  /** Slippage paid against the oracle price (fee + impact), quote units. */
  totalSlippageQuote: number;
  /** Share of blocks whose |net delta| was within the policy's band (the vault's on-chain band if none). */
  shareInBand: number;
  finalDelta: number;
  finalPrice: number;
  wallSeconds: number;
}

/** The policy as configured for the demo, by name. */
export function policyConfig(name: PolicyName): PolicyConfig {
  switch (name) {
    case "every-block":
      return { name, minTrade: 0.1 };
    case "interval":
      return { name, intervalBlocks: 10, minTrade: 0.1 };
    case "band":
      return { name, band: 0.5, target: "zero" };
    case "whalley-wilmott":
      return { name };
    case "gas-aware":
      return { name };
    case "delay-cap":
      return { name, minDelayBlocks: 10, maxHedge: 5, minTrade: 0.1 };
    case "time-or-move":
      return { name, maxBlocks: 40, moveBps: 100, minTrade: 0.1 };
  }
}

/** A driftless GBM path sampler: each call returns the next price, `dtSeconds` later. */
export function gbmPath(p: { spot: number; vol: number; dtSeconds: number; seed: number }): () => number {
  const rand = mulberry32(p.seed);
  const { logDrift, diffusion } = gbmStep({ drift: 0, vol: p.vol, dtYears: p.dtSeconds / YEAR_SECONDS });
  let price = p.spot;
  return () => {
    // Two uniforms a step, the cosine draw only: the path of a seed stays what it has always been.
    const u1 = rand();
    const [z] = boxMuller(u1, rand());
    price *= Math.exp(logDrift + diffusion * z);
    return price;
  };
}

const fmt = (x: number, digits: number) => (Object.is(Math.round(x * 10 ** digits), -0) ? 0 : x).toFixed(digits);
const signed = (x: number, digits: number) => (x >= 0 ? "+" : "") + fmt(x, digits);

/** Runs the demo; `out` receives each line (one per block, then the summary). */
export async function runDemo(options: DemoOptions, out: (line: string) => void): Promise<DemoSummary> {
  const started = performance.now();
  const totalBlocks = Math.max(1, Math.round(options.durationSec * options.speed));
  const periodMs = 1000 / options.speed;

  const node = await startLocalNode();
  const { url } = node;
  let statusPage: TelemetryServer | undefined;
  try {
    const { viem } = await node.connect();
    const sys = await deploySystem(viem, { spot: SPOT, ammDepthUnderlying: AMM_DEPTH_UNDERLYING, vaultDeposit: 2_000_000, perp: {} });
    const wallets = await viem.getWalletClients();
    const buyer = wallets[2]!.account.address;
    const me = sys.admin.account.address;

    // The book: short calls and puts, a week to expiry (gamma enough to hedge often). Its delta is about +6 at the
    // start and crosses zero as the price rises: the keeper buys back (the AMM or the perp) below and goes short on
    // the perp above, where the AMM cannot sell what the vault does not hold.
    const book: [isCall: boolean, strike: number, size: number][] = [
      [true, SPOT, 30],
      [true, Math.round(SPOT * 1.1), 10],
      [false, SPOT, 40],
      [false, Math.round(SPOT * 0.9), 20],
    ];
    for (const [isCall, strike, size] of book) {
      const { id } = await listSeries(sys, isCall, strike, 7);
      await buyOptions(sys, buyer, id, size);
    }

    await fundArbitrageur(sys);
    const pool = await readPool(sys.publicClient, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address });

    const { publicClient } = createChainClients({ rpcUrl: url });
    const policy = policyConfig(options.policy);
    // The status page, fed by the keeper's own ticks (as `delta-keeper run` does with METRICS_PORT).
    const metrics = new KeeperMetrics({ redactUrl });
    const board = new StatusBoard({ policy, mode: "live" });
    const health = () => assessHealth(keeper.healthState(performance.now()), DEMO_HEALTH_RULES);
    const keeper: Keeper = new Keeper(localKeeperOptions(sys, { policy, prefs: { riskAversion: 0.1, horizonSeconds: 3600 } }), {
      client: publicClient,
      account: signerFromPrivateKey(LOCAL_KEEPER_KEY),
      logger: pino({ level: "silent" }),
      nowMs: () => performance.now(),
      metrics,
      onTick: (report) => board.observe({ ...report, pending: keeper.pending.list(), health: health() }),
    });
    statusPage = await startStatusPage(options.statusPort ?? DEFAULT_STATUS_PORT, metrics, board, health);
    out(`status page: ${statusPage.url}/  (live while the demo runs; /metrics beside it)`);

    const admin = sys.publicClient;
    const rpc = (method: string, params: unknown[] = []) => admin.request({ method: method as never, params: params as never } as never);
    await rpc("evm_setAutomine", [false]);
    let chainTime = (await admin.getBlock()).timestamp;

    /** Sends (without waiting) the swap that brings the pool to the oracle answer. */
    const arbitrage = async (answer: bigint) => {
      const swap = await arbitrageSwap(sys.publicClient, pool, answer, { minDeviationBps: ARB_THRESHOLD_BPS });
      if (swap) await sys.amm.write.swapExactIn([swap.tokenIn, swap.amountIn, 0n, me, chainTime + 600n]);
    };

    const nextPrice = gbmPath({ spot: SPOT, vol: options.vol, dtSeconds: BLOCK_SECONDS, seed: options.seed });
    out(
      `delta-keeper demo: seed ${options.seed}, policy ${options.policy}, vol ${options.vol}, ${totalBlocks} blocks at ${options.speed}/s ` +
        `(${BLOCK_SECONDS} s of chain time each); book short ${book.map(([c, k, n]) => `${n} ${k}${c ? "C" : "P"}`).join(", ")}; ` +
        `AMM ${AMM_DEPTH_UNDERLYING.toLocaleString("en-US")} WETH and a perp market beside it; RPC ${url}`,
    );

    let hedges = 0;
    const hedgesBy: Record<string, number> = {};
    let marginMoves = 0;
    let failedHedges = 0;
    let totalGas = 0n;
    let totalSlippageQuote = 0;
    let inBand = 0;
    let observed = 0;
    let finalDelta = Number.NaN;
    let price = SPOT;
    const t0 = performance.now();
    for (let i = 1; i <= totalBlocks; i++) {
      price = nextPrice();
      const answer = priceE8(Number(price.toFixed(8)));
      await sys.oracle.write.setPrice([answer]);
      await arbitrage(answer);
      chainTime += BigInt(BLOCK_SECONDS);
      await rpc("evm_setNextBlockTimestamp", [Number(chainTime)]);
      await rpc("evm_mine");
      const report: TickReport | undefined = await keeper.poll();

      const parts: string[] = [];
      const plan = report?.plans[0];
      if (plan) {
        const delta = plan.view.delta;
        const band = plan.decision.band ?? plan.view.onChainBand;
        finalDelta = delta;
        observed++;
        if (Math.abs(delta) <= band) inBand++;
        parts.push(`delta ${signed(delta, 3).padStart(7)} WETH`, `band ±${fmt(band, 3)}`);
        if (plan.decision.kind === "rebalance" && plan.sizing?.kind === "skip") parts.push(`hold: ${plan.sizing.reason}`);
        else if (plan.decision.kind === "hold" && Math.abs(delta) > band) parts.push(`hold: ${plan.decision.reason}`);
      } else {
        parts.push("(no tick)");
      }
      for (const outcome of report?.settled ?? []) {
        if (outcome.kind === "mined") {
          const fill = fillOf(outcome.receipt, sys.vault.address, { quote: QUOTE_DECIMALS, underlying: UNDERLYING_DECIMALS });
          if (!fill) continue;
          totalGas += outcome.receipt.gasUsed;
          if ("margin" in fill) {
            marginMoves++;
            const amount = Number(fill.margin) / 10 ** QUOTE_DECIMALS;
            parts.push(`MARGIN ${amount > 0 ? "post" : "withdraw"} ${fmt(Math.abs(amount), 0)} USDC, gas ${outcome.receipt.gasUsed}`);
            continue;
          }
          hedges++;
          const kind = `${fill.venue} ${fill.buyUnderlying ? "buy" : "sell"}`;
          hedgesBy[kind] = (hedgesBy[kind] ?? 0) + 1;
          totalSlippageQuote += fill.slippageQuote;
          parts.push(
            `HEDGE ${fill.venue === "perp" ? "perp " : ""}${fill.buyUnderlying ? "buy" : "sell"} ${fmt(fill.tradeUnderlying, 2)} WETH, gas ${fill.gasUsed}, ` +
              `${fill.venue === "perp" ? "fee and impact" : "slippage"} ${fmt(fill.slippageBps, 1)} bps`,
          );
        } else if (outcome.kind === "reverted") {
          failedHedges++;
          totalGas += outcome.receipt.gasUsed;
          parts.push(`hedge REVERTED (gas ${outcome.receipt.gasUsed})`);
        }
      }
      if ((report?.sent.length ?? 0) > 0) parts.push("hedge sent");
      const blockNumber = report?.blockNumber ?? (await admin.getBlockNumber());
      out(`block ${String(blockNumber).padStart(4)}  price ${fmt(price, 2).padStart(8)}  ${parts.join("  ")}`);

      const waitMs = t0 + i * periodMs - performance.now();
      if (waitMs > 0 && i < totalBlocks) await new Promise((r) => setTimeout(r, waitMs));
    }

    const spotEvents = await admin.getContractEvents({ address: sys.vault.address, abi: optionVaultAbi, eventName: "Rebalanced", fromBlock: 0n });
    const perpEvents = await admin.getContractEvents({ address: sys.vault.address, abi: optionVaultAbi, eventName: "PerpHedged", fromBlock: 0n });
    const summary: DemoSummary = {
      seed: options.seed,
      policy: options.policy,
      blocks: totalBlocks,
      hedges,
      hedgesBy,
      marginMoves,
      failedHedges,
      rebalancedEvents: spotEvents.length + perpEvents.length,
      totalGas,
      totalSlippageQuote,
      shareInBand: observed === 0 ? 0 : inBand / observed,
      finalDelta,
      finalPrice: price,
      wallSeconds: (performance.now() - started) / 1000,
    };
    out(summaryLine(summary));
    return summary;
  } finally {
    await statusPage?.close();
    await node.close();
  }
}

export function summaryLine(s: DemoSummary): string {
  return (
    `SUMMARY blocks ${s.blocks}, hedges ${s.hedges}` +
    (s.hedges > 0 ? ` (${Object.entries(s.hedgesBy).sort().map(([k, n]) => `${k} ${n}`).join(", ")})` : "") +
    (s.failedHedges > 0 ? ` (+${s.failedHedges} reverted)` : "") +
    (s.marginMoves > 0 ? `, margin moves ${s.marginMoves}` : "") +
    `, total gas ${s.totalGas}, slippage paid ${fmt(s.totalSlippageQuote, 2)} USDC` +
    `, in band ${fmt(s.shareInBand * 100, 1)}% of blocks, final delta ${signed(s.finalDelta, 3)} WETH` +
    `, final price ${fmt(s.finalPrice, 2)}, policy ${s.policy}, seed ${s.seed}, ${fmt(s.wallSeconds, 1)} s`
  );
}
