/**
 * The soak run's core (`scripts/soak.ts` is its CLI): the keeper, in this process, against one in-process node
 * for thousands of blocks of a random market and random faults, then an audit of what the chain says happened.
 * The dice are in `faults.ts`, the audit in `audit.ts`, the report's shape and summary in `report.ts`.
 *
 * Wiring. The node is served over JSON-RPC on loopback; two fault proxies stand in front of it, and the keeper
 * (`Keeper.poll`, a real `Journal` in a temporary directory, failover from proxy A to proxy B) talks only to
 * them. The market (oracle updates, AMM arbitrage) and the fault injection (mempool drops, time jumps) talk to
 * the node directly. Automine is off: the soak mines each block itself (`evm_mine` with a timestamp 12 s after
 * the last), so no wall-clock waiting paces the run.
 *
 * Each block, drawn from one seeded PRNG (mulberry32): proxy fault plans switched on or off (drop, delay,
 * time-out, 5xx, malformed, down on A; sometimes B degraded too), the keeper's pending hedge dropped from the
 * mempool, a keeper crash (the instance discarded at a failpoint of a send or between ticks, a new one built on
 * the same journal file and `recover()`ed, then ticking the current head at once, as a restarted process
 * would), a stale-oracle stretch (time jumps past `maxOracleAge`, no updates, then a catch-up), a price jump
 * mined ahead of the keeper's pending hedge; then a GBM price step, the oracle update and (most blocks) an
 * arbitrage of the AMM to it, `evm_mine`, one chain read of the vault's delta, and `keeper.poll()`.
 *
 * Ordering inside a block: market transactions carry a zero priority fee and the keeper's hedges a positive one,
 * so Hardhat's fee-priority mempool mines the hedge first, against the state it was decided on; a price jump
 * carries a high priority fee instead and lands ahead of the hedge.
 *
 * Not bit-for-bit reproducible: the fault *schedule* (which plan, when, with which proxy seed) is a function of
 * the seed, but which request a proxy's fault lands on depends on how many requests the keeper makes, which
 * depends on wall-clock demotions and jittered backoff inside the failover transport.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pino } from "pino";
import { encodeFunctionData, toHex, type Address, type Hex, type PublicClient } from "viem";
import { mockAmmAbi, mockOracleAbi, optionVaultAbi } from "../../keeper/abi.ts";
import { createChainClients, signerFromPrivateKey } from "../../keeper/chain/clients.ts";
import { errorMessage } from "../../keeper/chain/errors.ts";
import { parseJournal, Journal } from "../../keeper/execution/journal.ts";
import { Keeper, type SendStep } from "../../keeper/keeper.ts";
import type { Logger } from "../../keeper/telemetry/logger.ts";
import { startFaultProxy, type FaultProxy } from "../faultProxy.ts";
import { LOCAL_KEEPER_KEY, localKeeperOptions } from "../keeper.ts";
import { arbitrageSwap, fundArbitrageur, readPool } from "../market.ts";
import { startLocalNode } from "../node.ts";
import { boxMuller, gbmStep, mulberry32 } from "../random.ts";
import { buyOptions, deploySystem, listSeries, ORACLE_DECIMALS } from "../system.ts";
import { abs, auditChain } from "./audit.ts";
import {
  drawBlock,
  FAILPOINT_ARMED_BLOCKS,
  FAILPOINTS,
  FAULT_PLAN_BLOCKS,
  intIn,
  P,
  pickPlan,
  SimulatedCrash,
  STALE_BLOCKS,
  TIMEOUT_MS,
  uniform,
  type CrashKind,
} from "./faults.ts";
import { count, type SoakReport } from "./report.ts";

export type { SoakReport } from "./report.ts";

// The market. Each 12 s block moves the price as 20 minutes of an 80%-volatility market would (TIME_SCALE), about
// 0.5% a block. The book is large (gamma ≈ 0.17 per quote unit of spot) because the keeper weighs each hedge's
// AMM fee against its risk benefit (RISK_AVERSION 0.01): it hedges once |delta| is worth it, ≈ 3 here, far
// past the 0.5 band. With this book and this market that happens every few blocks.
const SPOT = 3000;
const VOLATILITY = 0.8;
const BLOCK_SECONDS = 12;
const TIME_SCALE = 100;
const YEAR_SECONDS = 365 * 86_400;
const BAND = 0.5;
const BOOK = [
  { strike: 3000, size: 200 }, // ATM calls
  { strike: 3300, size: 100 }, // 10% OTM calls
] as const;
const SERIES_DAYS = 30;
/**
 * The vault's hedging budget, on the soak's clock: a day of this market passes in 86,400 / TIME_SCALE = 864 s of
 * chain time, so the deployment's budget per day (`DEFAULT_HEDGE_PARAMS`) holds per 864 s here. On a real clock the
 * soak's hedging (≈ 9,000 of slippage in 2,000 blocks) would exhaust a day's 10,000 and the soak would measure the
 * budget, not the keeper under faults; per market day it uses a few percent of it.
 */
const BUDGET_WINDOW_SECONDS = Math.round(86_400 / TIME_SCALE);
/**
 * An operator's runbook: a keeper whose hedge has been pending this long is restarted (it reconciles its journal
 * and re-broadcasts). Counted apart from the injected crashes: each one is a stall the keeper did not get out of.
 */
const STUCK_RESTART_BLOCKS = 30;
/** "Far out of band": well past where the keeper's cost gate (fee vs risk benefit) lets it hedge. */
const FAR_OUT_OF_BAND = 10 * BAND;
/** Drain: after the last soak block, clean blocks until nothing is pending and delta is in band. */
const MAX_DRAIN_BLOCKS = 150;
/** Market transactions' gas and fee cap: explicit, so sending costs one request and never fails on fees. */
const MARKET_GAS = 300_000n;
const MARKET_MAX_FEE_WEI = 1000n * 10n ** 9n;
const JUMP_TIP_WEI = 50n * 10n ** 9n;
/** The arbitrageur leaves the pool alone this close to the price (≈ 1e-4 of its underlying reserve). */
const ARBITRAGE_MIN_DEVIATION_BPS = 2;

export interface SoakOptions {
  blocks: number;
  seed: number;
  /** Keeper logs (pino JSON, info level) to this file, and its journal to `<log>.journal.jsonl`; silent without. */
  log?: string;
  /** A line now and then while the soak runs. */
  progress?: (line: string) => void;
}

/** The oracle answer for a market price. */
const answerOf = (price: number) => BigInt(Math.round(price * 10 ** ORACLE_DECIMALS));

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  // Every block draws the same number of uniforms whatever happens (`draws`), so the schedule of market moves
  // and faults depends on the seed alone, not on what the keeper did.
  const rng = mulberry32(options.seed);
  const say = options.progress ?? (() => {});

  const localNode = await startLocalNode();
  const nodeUrl = localNode.url;
  const journalDir = mkdtempSync(join(tmpdir(), "soak-journal-"));
  const journalPath = join(journalDir, "journal.jsonl");
  const proxies: FaultProxy[] = [];
  if (options.log) writeFileSync(options.log, ""); // one run per file: pino appends
  const logger: Logger = options.log ? pino({ level: "info" }, pino.destination(options.log)) : pino({ level: "silent" });

  try {
    // ── the system ──────────────────────────────────────────────────────────────────────────────────────────
    const { viem } = await localNode.connect();
    const sys = await deploySystem(viem, { ammDepthUnderlying: 20_000, vaultDeposit: 5_000_000, hedge: { budgetWindowSeconds: BUDGET_WINDOW_SECONDS } });
    const node = sys.publicClient as unknown as PublicClient;
    const admin = sys.admin.account.address;
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    for (const s of BOOK) await buyOptions(sys, buyer, (await listSeries(sys, true, s.strike, SERIES_DAYS)).id, s.size);
    await fundArbitrageur(sys);
    const pool = await readPool(node, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address });
    const vault = sys.vault.address;
    const { maxOracleAge, maxSlippageBps } = sys.hedge;

    const rpc = (method: string, params: unknown[] = []) => node.request({ method: method as never, params: params as never } as never) as Promise<unknown>;
    const sendMarketTx = (to: Address, data: Hex, tipWei: bigint) =>
      rpc("eth_sendTransaction", [
        { from: admin, to, data, gas: toHex(MARKET_GAS), maxFeePerGas: toHex(MARKET_MAX_FEE_WEI), maxPriorityFeePerGas: toHex(tipWei) },
      ]);
    const readDelta = (blockNumber: bigint): Promise<bigint> =>
      node.readContract({ address: vault, abi: optionVaultAbi, functionName: "netDeltaWad", blockNumber });

    // ── the keeper, behind two fault proxies ───────────────────────────────────────────────────────────────
    const proxyA = await startFaultProxy({ target: nodeUrl, upstreamTimeoutMs: 10_000, log: () => {} });
    proxies.push(proxyA);
    const proxyB = await startFaultProxy({ target: nodeUrl, upstreamTimeoutMs: 10_000, log: () => {} });
    proxies.push(proxyB);
    const account = signerFromPrivateKey(LOCAL_KEEPER_KEY);
    const signer = account.address;
    const keeperOptions = localKeeperOptions(sys, {
      policy: { name: "band", band: BAND, target: "zero" },
      maxSlippageBps: Number(maxSlippageBps),
      resilience: { replaceAfterBlocks: 3 },
    });

    const crashes: Record<string, number> = {};
    let armed: SendStep | undefined;
    let armedAtBlock = 0;
    let crashedAt: SendStep | undefined;
    const failpoint = (step: SendStep) => {
      if (armed !== step) return;
      armed = undefined;
      crashedAt = step;
      throw new SimulatedCrash(`simulated crash at ${step}`);
    };

    const keeperStats = {
      tickErrors: 0,
      tickErrorsByMessage: {} as Record<string, number>,
      restarts: 0,
      recoverFailures: 0,
      stuckHedgeRestarts: 0,
      stuckHedgeRestartBlocks: [] as number[],
      blocksWithoutKeeper: 0,
      skippedTicks: 0,
      maxTickMs: 0,
      sent: 0,
    };
    /** A fresh process: its own clients (fresh failover state), the journal reloaded from disk, `recover()`. */
    const startKeeper = async (): Promise<Keeper | undefined> => {
      const { publicClient } = createChainClients({ rpcUrl: proxyA.url, fallbackUrls: [proxyB.url], timeoutMs: TIMEOUT_MS });
      const k = new Keeper(keeperOptions, { client: publicClient, account, logger, nowMs: () => performance.now(), journal: new Journal(journalPath), failpoint });
      try {
        await k.recover();
        return k;
      } catch (error) {
        keeperStats.recoverFailures++;
        logger.warn({ error: errorMessage(error) }, "soak: recover failed; the keeper restarts next block");
        return undefined;
      }
    };
    /** One poll; a keeper error is counted, never fatal. True when the keeper crashed at a failpoint. */
    const poll = async (k: Keeper): Promise<boolean> => {
      crashedAt = undefined;
      const t0 = performance.now();
      try {
        const report = await k.poll();
        keeperStats.sent += report?.sent.length ?? 0;
      } catch (error) {
        if (!(error instanceof SimulatedCrash)) {
          keeperStats.tickErrors++;
          count(keeperStats.tickErrorsByMessage, errorMessage(error).replace(/0x[0-9a-fA-F]+/g, "0x…").slice(0, 120));
        }
      }
      keeperStats.maxTickMs = Math.max(keeperStats.maxTickMs, performance.now() - t0);
      return crashedAt !== undefined;
    };

    // ── warm-up: hedge the fresh book once, with no faults ─────────────────────────────────────────────────
    await rpc("evm_setAutomine", [false]);
    let keeper = await startKeeper();
    if (!keeper) throw new Error("the keeper could not start (recover failed with no faults)");
    for (let i = 0; i < 10 && (i < 2 || keeper.pending.size > 0); i++) {
      await rpc("evm_mine");
      await poll(keeper);
    }
    if (keeper.pending.size > 0) throw new Error("warm-up hedge did not settle");
    const first = await node.getBlock();
    const firstBlock = first.number;
    let timestamp = first.timestamp;
    const balanceBeforeWei = await node.getBalance({ address: signer, blockNumber: firstBlock });

    // ── the soak ───────────────────────────────────────────────────────────────────────────────────────────
    const faults = {
      planSwitches: {} as Record<string, number>,
      bothDegraded: 0,
      mempoolDrops: 0,
      failpointsArmedNotHit: 0,
      staleStretches: 0,
      staleBlocks: 0,
      priceJumps: 0,
      jumpsAheadOfPendingHedge: 0,
      arbitrageSkipped: 0,
    };
    const delta = { blocksOutOfBand: 0, streak: 0, maxStreak: 0, maxStreakEnd: 0n, freshStreak: 0, maxFreshStreak: 0, far: 0, farStreak: 0, maxFarStreak: 0, maxAbs: 0 };
    let price = SPOT;
    let oraclePrice = SPOT;
    const prices = { min: SPOT, max: SPOT };
    let planBlocksLeft = 0;
    let lastStuckRestart = -BigInt(STUCK_RESTART_BLOCKS);
    let staleBlocksLeft = 0;
    // σ per block, over one block: the GBM step of the market's accelerated clock.
    const stepSigma = VOLATILITY * Math.sqrt((BLOCK_SECONDS * TIME_SCALE) / YEAR_SECONDS);
    const gbm = gbmStep({ drift: 0, vol: stepSigma, dtYears: 1 });

    const restart = async (kind: CrashKind | "stuck-hedge"): Promise<void> => {
      if (kind !== "stuck-hedge") count(crashes, kind);
      keeperStats.skippedTicks += keeper?.skippedTicks ?? 0;
      keeper = undefined;
      keeperStats.restarts++;
      keeper = await startKeeper();
    };

    const total = options.blocks;
    let drainBlocks = 0;
    let lastDeltaWad = 0n;
    for (let i = 1; i <= total + MAX_DRAIN_BLOCKS; i++) {
      const draining = i > total;
      const draws = drawBlock(rng);
      if (draining) {
        // Clean blocks until the keeper has nothing in flight and the vault is in band.
        const settled = keeper !== undefined && keeper.pending.size === 0 && Number(abs(lastDeltaWad)) / 1e18 <= BAND;
        if (settled) break;
        if (drainBlocks === 0) {
          proxyA.setFaults({});
          proxyB.setFaults({});
          armed = undefined;
        }
        drainBlocks++;
      }

      if (!draining) {
        // Proxy fault plans: one on A at a time, sometimes B degraded with it.
        if (planBlocksLeft > 0 && --planBlocksLeft === 0) {
          proxyA.setFaults({});
          proxyB.setFaults({});
        } else if (planBlocksLeft === 0 && draws.planStart < P.faultPlanStart) {
          const { kind, plan } = pickPlan(false, draws.planA);
          proxyA.setFaults(plan);
          count(faults.planSwitches, kind);
          if (draws.bothDegraded < P.bothDegraded) {
            proxyB.setFaults(pickPlan(true, draws.planB).plan);
            faults.bothDegraded++;
          }
          planBlocksLeft = intIn(FAULT_PLAN_BLOCKS, draws.planLength);
        }

        // The node forgets the keeper's pending transaction (every version of it).
        if (keeper && keeper.pending.size > 0 && draws.drop < P.dropPending) {
          for (const p of keeper.pending.list()) {
            for (const v of p.versions) if ((await rpc("hardhat_dropTransaction", [v.hash])) === true) faults.mempoolDrops++;
          }
        }

        // A crash at the next time the keeper reaches a step of a send.
        if (armed === undefined && draws.arm < P.armFailpoint) {
          armed = FAILPOINTS[Math.floor(draws.armStep * FAILPOINTS.length)]!;
          armedAtBlock = i;
        } else if (armed !== undefined && i - armedAtBlock > FAILPOINT_ARMED_BLOCKS) {
          armed = undefined;
          faults.failpointsArmedNotHit++;
        }
      }

      // The market: a GBM step (and sometimes a jump); the oracle follows unless it is stale.
      let tipWei = 0n;
      let staleStarts = false;
      if (!draining) {
        const [z] = boxMuller(draws.z1, draws.z2);
        price *= Math.exp(gbm.logDrift + gbm.diffusion * z);
        if (draws.jump < P.jump) {
          price *= Math.exp((draws.jumpSign < 0.5 ? -1 : 1) * uniform(0.03, 0.08, draws.jumpSize));
          faults.priceJumps++;
          tipWei = JUMP_TIP_WEI;
          if (keeper && keeper.pending.size > 0) faults.jumpsAheadOfPendingHedge++;
        }
        prices.min = Math.min(prices.min, price);
        prices.max = Math.max(prices.max, price);
        if (staleBlocksLeft === 0 && draws.stale < P.staleStart) {
          staleBlocksLeft = intIn(STALE_BLOCKS, draws.staleLength);
          staleStarts = true;
          faults.staleStretches++;
        }
      }
      const stale = staleBlocksLeft > 0;
      if (stale) {
        staleBlocksLeft--;
        faults.staleBlocks++;
      } else {
        oraclePrice = price;
        await sendMarketTx(sys.oracle.address, encodeFunctionData({ abi: mockOracleAbi, functionName: "setPrice", args: [answerOf(price)] }), tipWei);
      }
      if (draining || draws.arbitrage < P.arbitrage) await arbitrage(price, tipWei);
      else faults.arbitrageSkipped++;

      // The block: 12 s later, or past the oracle's maximum age when a stale stretch starts.
      timestamp += staleStarts ? BigInt(maxOracleAge) + 100n : BigInt(BLOCK_SECONDS);
      await rpc("evm_mine", [Number(timestamp)]);
      const head = await node.getBlockNumber();

      // The chain's word on delta, before the keeper acts on this block.
      lastDeltaWad = await readDelta(head);
      const absDelta = Number(abs(lastDeltaWad)) / 1e18;
      delta.maxAbs = Math.max(delta.maxAbs, absDelta);
      if (absDelta > FAR_OUT_OF_BAND) {
        delta.far++;
        delta.maxFarStreak = Math.max(delta.maxFarStreak, ++delta.farStreak);
      } else {
        delta.farStreak = 0;
      }
      const out = absDelta > BAND;
      if (out) {
        delta.blocksOutOfBand++;
        delta.streak++;
        if (delta.streak > delta.maxStreak) {
          delta.maxStreak = delta.streak;
          delta.maxStreakEnd = head;
        }
        // Only blocks where the keeper could hedge (oracle fresh) count, and a stale block ends the run.
        delta.freshStreak = stale ? 0 : delta.freshStreak + 1;
        delta.maxFreshStreak = Math.max(delta.maxFreshStreak, delta.freshStreak);
      } else {
        delta.streak = 0;
        delta.freshStreak = 0;
      }

      // The keeper's turn: restart it if it is down, poll, and crash it if a failpoint fired or the dice say so.
      if (!keeper) {
        keeperStats.restarts++;
        keeper = await startKeeper();
      } else if (
        head - lastStuckRestart > BigInt(STUCK_RESTART_BLOCKS) &&
        keeper.pending.list().some((p) => head - p.decidedAtBlock > BigInt(STUCK_RESTART_BLOCKS))
      ) {
        lastStuckRestart = head;
        keeperStats.stuckHedgeRestarts++;
        keeperStats.stuckHedgeRestartBlocks.push(Number(head));
        logger.warn({ block: Number(head) }, `soak: a hedge pending for over ${STUCK_RESTART_BLOCKS} blocks: restarting the keeper (runbook)`);
        await restart("stuck-hedge");
      }
      if (!keeper) {
        keeperStats.blocksWithoutKeeper++;
      } else {
        const crashed = await poll(keeper);
        const crashKind: CrashKind | undefined = crashed ? crashedAt : !draining && draws.crash < P.crashBetweenTicks ? "between-ticks" : undefined;
        if (crashKind) {
          await restart(crashKind);
          // A restarted process ticks the current head at once.
          if (keeper) await poll(keeper);
        }
      }

      if (i % 100 === 0 || i === total) {
        say(`block ${i}/${total}  price ${price.toFixed(0)}  |delta| ${(Number(abs(lastDeltaWad)) / 1e18).toFixed(3)}  sent ${keeperStats.sent}  tick errors ${keeperStats.tickErrors}  ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
    }
    keeperStats.skippedTicks += keeper?.skippedTicks ?? 0;
    const lastBlock = await node.getBlockNumber();
    if (options.log) writeFileSync(`${options.log}.journal.jsonl`, readFileSync(journalPath));

    // ── the audit ──────────────────────────────────────────────────────────────────────────────────────────
    const audit = await auditChain({
      node,
      vault,
      signer,
      oracle: sys.oracle.address,
      quote: sys.quote.address,
      underlying: sys.underlying.address,
      firstBlock,
      lastBlock,
      balanceBeforeWei,
      maxSlippageBps: BigInt(maxSlippageBps),
      journalRecords: parseJournal(readFileSync(journalPath, "utf8")),
    });

    const statsA = proxyA.stats();
    const statsB = proxyB.stats();
    return {
      seed: options.seed,
      blocks: total,
      drainBlocks,
      firstBlock: Number(firstBlock),
      lastBlock: Number(lastBlock),
      runtimeSeconds: Math.round((performance.now() - started) / 100) / 10,
      hedges: { sentByKeeper: keeperStats.sent, ...audit.hedges },
      duplicates: audit.duplicates,
      fundsLost: audit.fundsLost,
      faults: {
        planSwitches: faults.planSwitches,
        bothDegraded: faults.bothDegraded,
        injectedA: statsA.injected,
        injectedB: statsB.injected,
        requestsA: statsA.requests,
        requestsB: statsB.requests,
        mempoolDrops: faults.mempoolDrops,
        crashes,
        failpointsArmedNotHit: faults.failpointsArmedNotHit,
        staleStretches: faults.staleStretches,
        staleBlocks: faults.staleBlocks,
        priceJumps: faults.priceJumps,
        jumpsAheadOfPendingHedge: faults.jumpsAheadOfPendingHedge,
        arbitrageSkipped: faults.arbitrageSkipped,
      },
      keeper: {
        tickErrors: keeperStats.tickErrors,
        tickErrorsByMessage: keeperStats.tickErrorsByMessage,
        restarts: keeperStats.restarts,
        recoverFailures: keeperStats.recoverFailures,
        stuckHedgeRestarts: keeperStats.stuckHedgeRestarts,
        stuckHedgeRestartBlocks: keeperStats.stuckHedgeRestartBlocks,
        blocksWithoutKeeper: keeperStats.blocksWithoutKeeper,
        skippedTicks: keeperStats.skippedTicks,
        maxTickMs: Math.round(keeperStats.maxTickMs),
      },
      delta: {
        band: BAND,
        blocksOutOfBand: delta.blocksOutOfBand,
        maxConsecutiveOutOfBand: delta.maxStreak,
        maxConsecutiveOutOfBandEndBlock: Number(delta.maxStreakEnd),
        maxConsecutiveOutOfBandFreshOracle: delta.maxFreshStreak,
        farOutOfBand: FAR_OUT_OF_BAND,
        blocksFarOutOfBand: delta.far,
        maxConsecutiveFarOutOfBand: delta.maxFarStreak,
        maxAbsDelta: Math.round(delta.maxAbs * 1000) / 1000,
        finalAbsDelta: Math.round((Number(abs(lastDeltaWad)) / 1e18) * 1e6) / 1e6,
      },
      costs: audit.costs,
      price: { start: SPOT, end: round2(oraclePrice), min: round2(prices.min), max: round2(prices.max) },
    };

    /**
     * Brings the AMM to `target` with one swap from the arbitrageur's inventory (`realign`), sent without waiting
     * at the given priority fee. Skipped within two basis points.
     */
    async function arbitrage(target: number, tipWei: bigint): Promise<void> {
      const swap = await arbitrageSwap(node, pool, answerOf(target), { minDeviationBps: ARBITRAGE_MIN_DEVIATION_BPS });
      if (!swap) return;
      const data = encodeFunctionData({ abi: mockAmmAbi, functionName: "swapExactIn", args: [swap.tokenIn, swap.amountIn, 0n, admin, 2n ** 63n] });
      await sendMarketTx(sys.amm.address, data, tipWei);
    }
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    await localNode.close();
    rmSync(journalDir, { recursive: true, force: true });
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;
