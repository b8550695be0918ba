/**
 * The soak run's core (see `scripts/soak.ts`): the keeper, in this process, against one in-process node for
 * thousands of blocks of a random market and random faults, then an audit of what the chain says happened.
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
 * The audit trusts the chain, not the keeper: `Rebalanced` events, every block's transactions from the signer
 * and their receipts, the signer's balance, the vault's token transfers; the journal file only maps transaction
 * hashes to intents.
 *
 * Not bit-for-bit reproducible: the fault *schedule* (which plan, when, with which proxy seed) is a function of
 * the seed, but which request a proxy's fault lands on depends on how many requests the keeper makes, which
 * depends on wall-clock demotions and jittered backoff inside the failover transport.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import hre from "hardhat";
import { pino } from "pino";
import { decodeErrorResult, decodeEventLog, encodeFunctionData, maxUint256, toHex, type Address, type Hash, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import { mockAmmAbi, mockERC20Abi, mockOracleAbi, optionVaultAbi } from "../keeper/abi.ts";
import { createChainClients, signerFromPrivateKey } from "../keeper/chain/clients.ts";
import { parseJournal, Journal, type JournalRecord } from "../keeper/execution/journal.ts";
import { hedgeAbi as hedgeErrorsAbi } from "../keeper/execution/sendHedge.ts";
import { errorMessage } from "../keeper/chain/errors.ts";
import { Keeper, type KeeperOptions, type SendStep } from "../keeper/keeper.ts";
import type { Logger } from "../keeper/telemetry/logger.ts";
import { startFaultProxy, type FaultPlan, type FaultProxy } from "./faultProxy.ts";
import { mulberry32 } from "./random.ts";
import { buyOptions, deploySystem, listSeries, ORACLE_DECIMALS, QUOTE_DECIMALS, UNDERLYING_DECIMALS, WAD } from "./system.ts";

const KEEPER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat's public account #1

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

// Per-block probabilities of the faults (and their lengths, in blocks). Chosen so that 2,000 blocks see each
// kind several times while most blocks stay clean enough for the keeper to be judged on them.
const P = {
  arbitrage: 0.85,
  faultPlanStart: 0.05,
  bothDegraded: 0.2,
  dropPending: 0.12,
  crashBetweenTicks: 0.004,
  armFailpoint: 0.008,
  staleStart: 0.004,
  jump: 0.006,
} as const;
const FAULT_PLAN_BLOCKS = [3, 25] as const;
const STALE_BLOCKS = [3, 12] as const;
const FAILPOINT_ARMED_BLOCKS = 50;
/**
 * An operator's runbook: a keeper whose hedge has been pending this long is restarted (it reconciles its journal
 * and re-broadcasts). Counted apart from the injected crashes: each one is a stall the keeper did not get out of.
 */
const STUCK_RESTART_BLOCKS = 30;
/** "Far out of band": well past where the keeper's cost gate (fee vs risk benefit) lets it hedge. */
const FAR_OUT_OF_BAND = 10 * BAND;
/** Drain: after the last soak block, clean blocks until nothing is pending and delta is in band. */
const MAX_DRAIN_BLOCKS = 150;
const TIMEOUT_MS = 2000;
/** Market transactions' gas and fee cap: explicit, so sending costs one request and never fails on fees. */
const MARKET_GAS = 300_000n;
const MARKET_MAX_FEE_WEI = 1000n * 10n ** 9n;
const JUMP_TIP_WEI = 50n * 10n ** 9n;

const FAILPOINTS: readonly SendStep[] = ["before-sign", "after-journal", "after-broadcast", "after-mined"];
type CrashKind = SendStep | "between-ticks";
type PlanKind = "drop" | "delay" | "timeout" | "http5xx" | "malformed" | "down" | "mixed";

export interface SoakOptions {
  blocks: number;
  seed: number;
  /** Keeper logs (pino JSON, info level) to this file, and its journal to `<log>.journal.jsonl`; silent without. */
  log?: string;
  /** A line now and then while the soak runs. */
  progress?: (line: string) => void;
}

export interface SoakReport {
  seed: number;
  blocks: number;
  drainBlocks: number;
  firstBlock: number;
  lastBlock: number;
  runtimeSeconds: number;
  hedges: {
    sentByKeeper: number;
    intentsJournaled: number;
    intentsSigned: number;
    intentsAbandoned: number;
    settledInJournal: Record<string, number>;
    mined: number;
    reverted: number;
    revertReasons: Record<string, number>;
    replacementsSent: number;
    cancelsSent: number;
    cancelsMined: number;
    signerTransactions: number;
    /** Blocks from a mined transaction's decision (journal) to its inclusion (chain). */
    decisionToMinedBlocks: { median: number; p99: number; max: number };
  };
  duplicates: {
    total: number;
    /** Intents with more than one mined hedge transaction. */
    sameIntent: number;
    /** `Rebalanced` by the signer in a transaction the journal never signed. */
    unjournaled: number;
    /** Mined hedges decided on a block before the previous hedge was mined (blind to it). */
    blindToPrevious: number;
    /** Diagnostics: intent ids journaled twice (a restart re-deciding on the block it crashed on). */
    journalIdReuse: number;
  };
  fundsLost: {
    /** `Rebalanced` with |deltaAfter| >= |deltaBefore|. */
    deltaNotReduced: number;
    /** Signer balance drop minus the gas of its mined transactions, wei. */
    ethBeyondGasWei: string;
    /** Quote units (decimal) the vault paid beyond the slippage bound, over all hedges. */
    valueBeyondSlippageQuote: number;
    hedgesBeyondSlippage: number;
    /** Event amounts that disagree with the vault's token transfers, or an event spot matching no oracle round. */
    accountingMismatches: number;
  };
  faults: {
    planSwitches: Record<string, number>;
    bothDegraded: number;
    injectedA: Record<string, number>;
    injectedB: Record<string, number>;
    requestsA: number;
    requestsB: number;
    mempoolDrops: number;
    crashes: Record<string, number>;
    failpointsArmedNotHit: number;
    staleStretches: number;
    staleBlocks: number;
    priceJumps: number;
    jumpsAheadOfPendingHedge: number;
    arbitrageSkipped: number;
  };
  keeper: {
    tickErrors: number;
    tickErrorsByMessage: Record<string, number>;
    restarts: number;
    recoverFailures: number;
    /** Restarts by the runbook rule (a hedge pending > STUCK_RESTART_BLOCKS): stalls the keeper did not clear. */
    stuckHedgeRestarts: number;
    stuckHedgeRestartBlocks: number[];
    blocksWithoutKeeper: number;
    skippedTicks: number;
    maxTickMs: number;
  };
  delta: {
    band: number;
    blocksOutOfBand: number;
    maxConsecutiveOutOfBand: number;
    maxConsecutiveOutOfBandEndBlock: number;
    maxConsecutiveOutOfBandFreshOracle: number;
    farOutOfBand: number;
    blocksFarOutOfBand: number;
    maxConsecutiveFarOutOfBand: number;
    maxAbsDelta: number;
    finalAbsDelta: number;
  };
  costs: {
    gasSpentWei: string;
    hedgeCostQuote: number;
    worstSlippageBps: number;
  };
  price: { start: number; end: number; min: number; max: number };
}

/** A crash injected at a failpoint: thrown inside the keeper, caught by the soak, never a keeper error. */
class SimulatedCrash extends Error {
  override name = "SimulatedCrash";
}

const count = (m: Record<string, number>, key: string, n = 1) => {
  m[key] = (m[key] ?? 0) + n;
};
const abs = (x: bigint) => (x < 0n ? -x : x);

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const started = performance.now();
  // Every block draws the same number of uniforms whatever happens (`draws`), so the schedule of market moves
  // and faults depends on the seed alone, not on what the keeper did.
  const rng = mulberry32(options.seed);
  const uniform = (lo: number, hi: number, u: number) => lo + (hi - lo) * u;
  const intIn = (range: readonly [number, number], u: number) => range[0] + Math.floor(u * (range[1] - range[0] + 1));
  const say = options.progress ?? (() => {});

  const server = await hre.network.createServer({ network: "default" }, "127.0.0.1", 0);
  const nodeUrl = `http://127.0.0.1:${(await server.listen()).port}`;
  const journalDir = mkdtempSync(join(tmpdir(), "soak-journal-"));
  const journalPath = join(journalDir, "journal.jsonl");
  const proxies: FaultProxy[] = [];
  if (options.log) writeFileSync(options.log, ""); // one run per file: pino appends
  const logger: Logger = options.log ? pino({ level: "info" }, pino.destination(options.log)) : pino({ level: "silent" });

  try {
    // ── the system ──────────────────────────────────────────────────────────────────────────────────────────
    const { viem } = await hre.network.create({ network: "localhost", override: { url: nodeUrl } });
    const sys = await deploySystem(viem, { ammDepthUnderlying: 20_000, vaultDeposit: 5_000_000, hedge: { budgetWindowSeconds: BUDGET_WINDOW_SECONDS } });
    const node = sys.publicClient as unknown as PublicClient;
    const admin = sys.admin.account.address;
    const buyer = (await viem.getWalletClients())[2]!.account.address;
    for (const s of BOOK) await buyOptions(sys, buyer, (await listSeries(sys, true, s.strike, SERIES_DAYS)).id, s.size);
    // The arbitrageur's inventory, once: each block then costs one swap, no mint or approve.
    await sys.wait(await sys.quote.write.mint([admin, 10n ** 9n * 10n ** BigInt(QUOTE_DECIMALS)]));
    await sys.wait(await sys.underlying.write.mint([admin, 10n ** 6n * 10n ** BigInt(UNDERLYING_DECIMALS)]));
    await sys.wait(await sys.quote.write.approve([sys.amm.address, maxUint256]));
    await sys.wait(await sys.underlying.write.approve([sys.amm.address, maxUint256]));
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
    const account = signerFromPrivateKey(KEEPER_KEY);
    const signer = account.address;
    const keeperOptions: KeeperOptions = {
      lens: sys.lens.address,
      vaults: [{ address: vault, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }],
      policy: { name: "band", band: BAND, target: "zero" },
      prefs: { riskAversion: 0.01, horizonSeconds: 3600 },
      maxSlippageBps: Number(maxSlippageBps),
      minOutMarginBps: 10,
      caps: { maxFeePerGasWei: 100n * 10n ** 9n, maxPriorityFeePerGasWei: 2n * 10n ** 9n },
      gasLimitPerHedge: 1_000_000n,
      confirmations: 1,
      greeksTolerance: 1e-6,
      dryRun: false,
      resilience: { replaceAfterBlocks: 3 },
    };

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
    const stepSigma = VOLATILITY * Math.sqrt((BLOCK_SECONDS * TIME_SCALE) / YEAR_SECONDS);

    const restart = async (kind: CrashKind | "stuck-hedge"): Promise<void> => {
      if (kind !== "stuck-hedge") count(crashes, kind);
      keeperStats.skippedTicks += keeper?.skippedTicks ?? 0;
      keeper = undefined;
      keeperStats.restarts++;
      keeper = await startKeeper();
    };

    /** A proxy fault plan from its own stream, seeded by one of the block's draws. */
    const pickPlan = (light: boolean, u: number): { kind: PlanKind; plan: FaultPlan } => {
      const seed = Math.floor(u * 2 ** 32);
      const rng = mulberry32(seed ^ 0x5eed);
      const scale = light ? 0.4 : 1;
      const kinds: PlanKind[] = light ? ["drop", "delay", "http5xx", "malformed"] : ["drop", "delay", "timeout", "http5xx", "malformed", "down", "mixed"];
      const kind = kinds[Math.floor(rng() * kinds.length)]!;
      const p = () => uniform(0.1, 0.5, rng()) * scale;
      switch (kind) {
        case "drop":
          return { kind, plan: { drop: p(), seed } };
        case "delay":
          return { kind, plan: { delay: { p: uniform(0.2, 0.6, rng()), ms: [20, 100, 400][Math.floor(rng() * 3)]! }, seed } };
        case "timeout": // longer than the client's time-out: the request still reaches the node, late
          return { kind, plan: { delay: { p: uniform(0.1, 0.3, rng()), ms: TIMEOUT_MS + 500 }, seed } };
        case "http5xx":
          return { kind, plan: { http5xx: p(), seed } };
        case "malformed":
          return { kind, plan: { malformed: p(), seed } };
        case "down":
          return { kind, plan: { down: true, seed } };
        case "mixed":
          return { kind, plan: { drop: p() / 3, http5xx: p() / 3, malformed: p() / 3, delay: { p: 0.2, ms: 50 }, seed } };
      }
    };

    const total = options.blocks;
    let drainBlocks = 0;
    let lastDeltaWad = 0n;
    for (let i = 1; i <= total + MAX_DRAIN_BLOCKS; i++) {
      const draining = i > total;
      const draws = {
        planStart: rng(), planA: rng(), bothDegraded: rng(), planB: rng(), planLength: rng(),
        drop: rng(), arm: rng(), armStep: rng(), crash: rng(),
        z1: rng(), z2: rng(), jump: rng(), jumpSign: rng(), jumpSize: rng(),
        stale: rng(), staleLength: rng(), arbitrage: rng(),
      };
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
        const z = Math.sqrt(-2 * Math.log(1 - draws.z1)) * Math.cos(2 * Math.PI * draws.z2); // Box–Muller
        price *= Math.exp(-0.5 * stepSigma * stepSigma + stepSigma * z);
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
        const answer = BigInt(Math.round(price * 10 ** ORACLE_DECIMALS));
        await sendMarketTx(sys.oracle.address, encodeFunctionData({ abi: mockOracleAbi, functionName: "setPrice", args: [answer] }), tipWei);
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
     * Brings the AMM to `target` with one swap from the arbitrageur's inventory (x·y = k, the fee taken out of the
     * input, so it lands within a few basis points). Skipped under one basis point of deviation.
     */
    async function arbitrage(target: number, tipWei: bigint): Promise<void> {
      const [reserveUnderlying, reserveQuote] = await node.readContract({ address: sys.amm.address, abi: mockAmmAbi, functionName: "getReserves" });
      const ru = Number(reserveUnderlying);
      const rq = Number(reserveQuote);
      const scale = 10 ** (UNDERLYING_DECIMALS - QUOTE_DECIMALS);
      const ruTarget = Math.sqrt((ru * rq * scale) / target);
      if (Math.abs(ruTarget - ru) / ru < 1e-4) return;
      const feeFactor = 1 - 30 / 10_000;
      const [tokenIn, amountIn] =
        ruTarget < ru
          ? [sys.quote.address, BigInt(Math.floor(((ru * rq) / ruTarget - rq) / feeFactor))]
          : [sys.underlying.address, BigInt(Math.floor((ruTarget - ru) / feeFactor))];
      if (amountIn <= 0n) return;
      const data = encodeFunctionData({ abi: mockAmmAbi, functionName: "swapExactIn", args: [tokenIn, amountIn, 0n, admin, 2n ** 63n] });
      await sendMarketTx(sys.amm.address, data, tipWei);
    }
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.race([server.close(), new Promise((r) => setTimeout(r, 3000))]);
    rmSync(journalDir, { recursive: true, force: true });
  }
}

const round2 = (x: number) => Math.round(x * 100) / 100;

interface AuditInput {
  node: PublicClient;
  vault: Address;
  signer: Address;
  oracle: Address;
  quote: Address;
  underlying: Address;
  firstBlock: bigint;
  lastBlock: bigint;
  balanceBeforeWei: bigint;
  maxSlippageBps: bigint;
  journalRecords: JournalRecord[];
}

/** What the chain says happened in (firstBlock, lastBlock], with the journal only to map hashes to intents. */
async function auditChain(a: AuditInput) {
  const { node } = a;

  // Every transaction the signer got mined: every block's transactions, not the keeper's reports.
  const signerTxs: { hash: Hash; to: Address | null; value: bigint }[] = [];
  const blocks: bigint[] = [];
  for (let b = a.firstBlock + 1n; b <= a.lastBlock; b++) blocks.push(b);
  for (let i = 0; i < blocks.length; i += 16) {
    const got = await Promise.all(blocks.slice(i, i + 16).map((blockNumber) => node.getBlock({ blockNumber, includeTransactions: true })));
    for (const block of got) {
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() === a.signer.toLowerCase()) signerTxs.push({ hash: tx.hash, to: tx.to, value: tx.value });
      }
    }
  }
  const receipts = new Map<Hash, TransactionReceipt>();
  for (let i = 0; i < signerTxs.length; i += 16) {
    const got = await Promise.all(signerTxs.slice(i, i + 16).map((t) => node.getTransactionReceipt({ hash: t.hash })));
    for (const r of got) receipts.set(r.transactionHash, r);
  }

  // The journal: hash → intent, and what it records.
  const intentOf = new Map<string, string>();
  const decisionBlock = new Map<string, bigint>();
  const closed = new Set<string>();
  const signedIntents = new Set<string>();
  const settledInJournal: Record<string, number> = {};
  let intentsJournaled = 0;
  let intentsAbandoned = 0;
  let replacementsSent = 0;
  let cancelsSent = 0;
  const reusedIds = new Set<string>();
  const versionsSeen = new Map<string, number>();
  for (const r of a.journalRecords) {
    if (r.type === "intent") {
      if (decisionBlock.has(r.id)) reusedIds.add(r.id);
      else intentsJournaled++;
      decisionBlock.set(r.id, BigInt(r.decisionBlock));
    } else if (r.type === "signed") {
      if (closed.has(r.id)) reusedIds.add(r.id);
      intentOf.set(r.version.hash.toLowerCase(), r.id);
      signedIntents.add(r.id);
      const n = (versionsSeen.get(r.id) ?? 0) + 1;
      versionsSeen.set(r.id, n);
      if (r.version.kind === "cancel") cancelsSent++;
      else if (n > 1) replacementsSent++;
    } else if (r.type === "settled") {
      closed.add(r.id);
      count(settledInJournal, r.outcome);
    } else if (r.type === "abandoned") {
      closed.add(r.id);
      intentsAbandoned++;
    }
  }

  // Hedges: the vault's `Rebalanced` events, each matched to the transaction and its intent.
  const events = await node.getContractEvents({ address: a.vault, abi: optionVaultAbi, eventName: "Rebalanced", fromBlock: a.firstBlock + 1n, toBlock: a.lastBlock });
  const minedByIntent = new Map<string, number>();
  let unjournaled = 0;
  let deltaNotReduced = 0;
  let hedgesBeyondSlippage = 0;
  let accountingMismatches = 0;
  let beyondSlippageWad = 0n;
  let hedgeCostWad = 0n;
  let worstSlippageBps = 0;
  const quoteScale = 10n ** BigInt(18 - QUOTE_DECIMALS);
  const oracleScale = 10n ** BigInt(18 - ORACLE_DECIMALS);
  const mined: { block: bigint; intent: string | undefined }[] = [];
  for (const ev of events) {
    const { keeper, buyUnderlying, amountIn, amountOut, spotWad, deltaBeforeWad, deltaAfterWad } = ev.args;
    if (abs(deltaAfterWad!) >= abs(deltaBeforeWad!)) deltaNotReduced++;
    const intent = intentOf.get(ev.transactionHash.toLowerCase());
    if (keeper!.toLowerCase() === a.signer.toLowerCase()) {
      if (intent) minedByIntent.set(intent, (minedByIntent.get(intent) ?? 0) + 1);
      else unjournaled++;
    }
    mined.push({ block: ev.blockNumber, intent });

    // The vault's token flows in that transaction, from the tokens' own Transfer events.
    const receipt = receipts.get(ev.transactionHash) ?? (await node.getTransactionReceipt({ hash: ev.transactionHash }));
    let quoteFlow = 0n;
    let underlyingFlow = 0n;
    for (const log of receipt.logs) {
      const token = log.address.toLowerCase();
      if (token !== a.quote.toLowerCase() && token !== a.underlying.toLowerCase()) continue;
      try {
        const t = decodeEventLog({ abi: mockERC20Abi, data: log.data, topics: log.topics });
        if (t.eventName !== "Transfer") continue;
        const { from, to, value } = t.args as { from: Address; to: Address; value: bigint };
        const signed = (to.toLowerCase() === a.vault.toLowerCase() ? value : 0n) - (from.toLowerCase() === a.vault.toLowerCase() ? value : 0n);
        if (token === a.quote.toLowerCase()) quoteFlow += signed;
        else underlyingFlow += signed;
      } catch {
        // not a Transfer
      }
    }
    const expectQuote = buyUnderlying ? -amountIn! : amountOut!;
    const expectUnderlying = buyUnderlying ? amountOut! : -amountIn!;
    if (quoteFlow !== expectQuote || underlyingFlow !== expectUnderlying) accountingMismatches++;
    // The event's spot must be an oracle answer of that block or the one before (the hedge mines before or
    // after the block's oracle update).
    const answers = await Promise.all(
      [ev.blockNumber - 1n, ev.blockNumber].map((blockNumber) => node.readContract({ address: a.oracle, abi: mockOracleAbi, functionName: "latestRoundData", blockNumber })),
    );
    if (!answers.some((r) => BigInt(r[1]) * oracleScale === spotWad)) accountingMismatches++;

    // Value paid vs the oracle, beyond the vault's slippage bound (rounding: one quote unit of tolerance).
    const underlyingValueWad = (underlyingFlow * spotWad!) / WAD;
    const lossWad = -(quoteFlow * quoteScale + underlyingValueWad);
    const notionalWad = abs(underlyingValueWad);
    const boundWad = (notionalWad * a.maxSlippageBps) / 10_000n;
    hedgeCostWad += lossWad;
    if (notionalWad > 0n) worstSlippageBps = Math.max(worstSlippageBps, Number((lossWad * 1_000_000n) / notionalWad) / 100);
    if (lossWad - boundWad > quoteScale) {
      hedgesBeyondSlippage++;
      beyondSlippageWad += lossWad - boundWad;
    }
  }
  let sameIntent = 0;
  for (const n of minedByIntent.values()) if (n > 1) sameIntent += n - 1;
  // A hedge decided on a block before the previous hedge was mined did not see it.
  let blindToPrevious = 0;
  for (let i = 1; i < mined.length; i++) {
    const d = mined[i]!.intent !== undefined ? decisionBlock.get(mined[i]!.intent!) : undefined;
    if (d !== undefined && mined[i]!.intent !== mined[i - 1]!.intent && d < mined[i - 1]!.block) blindToPrevious++;
  }

  // The signer's ETH: what left its balance beyond the gas of its mined transactions.
  const latencies: number[] = [];
  for (const tx of signerTxs) {
    const id = intentOf.get(tx.hash.toLowerCase());
    const d = id !== undefined ? decisionBlock.get(id) : undefined;
    if (d !== undefined) latencies.push(Number(receipts.get(tx.hash)!.blockNumber - d));
  }
  latencies.sort((x, y) => x - y);
  const q = (f: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(f * latencies.length) - 1))] ?? 0;

  let gasWei = 0n;
  let valueWei = 0n;
  let reverted = 0;
  let cancelsMined = 0;
  const revertReasons: Record<string, number> = {};
  for (const tx of signerTxs) {
    const r = receipts.get(tx.hash)!;
    gasWei += r.gasUsed * r.effectiveGasPrice;
    if (tx.to?.toLowerCase() !== a.signer.toLowerCase()) valueWei += tx.value; // a self-transfer moves nothing
    if (tx.to?.toLowerCase() === a.signer.toLowerCase()) cancelsMined++;
    else if (r.status !== "success") {
      reverted++;
      count(revertReasons, await revertReason(node, tx.hash));
    }
  }
  const balanceAfterWei = await node.getBalance({ address: a.signer, blockNumber: a.lastBlock });
  const ethBeyondGasWei = a.balanceBeforeWei - balanceAfterWei - gasWei - valueWei;

  return {
    hedges: {
      intentsJournaled,
      intentsSigned: signedIntents.size,
      intentsAbandoned,
      settledInJournal,
      mined: events.filter((e) => e.args.keeper!.toLowerCase() === a.signer.toLowerCase()).length,
      reverted,
      revertReasons,
      replacementsSent,
      cancelsSent,
      cancelsMined,
      signerTransactions: signerTxs.length,
      decisionToMinedBlocks: { median: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0 },
    },
    duplicates: { total: sameIntent + unjournaled + blindToPrevious, sameIntent, unjournaled, blindToPrevious, journalIdReuse: reusedIds.size },
    fundsLost: {
      deltaNotReduced,
      ethBeyondGasWei: ethBeyondGasWei.toString(),
      valueBeyondSlippageQuote: Number(beyondSlippageWad / quoteScale) / 10 ** QUOTE_DECIMALS,
      hedgesBeyondSlippage,
      accountingMismatches,
    },
    costs: {
      gasSpentWei: gasWei.toString(),
      hedgeCostQuote: Math.round(Number(hedgeCostWad / quoteScale) / 10 ** QUOTE_DECIMALS * 100) / 100,
      worstSlippageBps,
    },
  };
}

/**
 * Why a mined transaction reverted: the revert data from `debug_traceTransaction` (Hardhat replays the block),
 * decoded with the vault's and the AMM's errors.
 */
async function revertReason(node: PublicClient, hash: Hash): Promise<string> {
  try {
    const trace = (await node.request({
      method: "debug_traceTransaction" as never,
      params: [hash, { disableStorage: true, disableMemory: true, disableStack: true }] as never,
    } as never)) as { returnValue?: string };
    const data = trace.returnValue ? (`0x${trace.returnValue.replace(/^0x/, "")}` as Hex) : undefined;
    if (!data || data === "0x") return "no revert data";
    for (const abi of [hedgeErrorsAbi, mockAmmAbi] as const) {
      try {
        return decodeErrorResult({ abi, data }).errorName;
      } catch {
        // try the next ABI
      }
    }
    return `undecoded ${data.slice(0, 10)}`;
  } catch (error) {
    return `trace failed: ${errorMessage(error).slice(0, 60)}`;
  }
}
