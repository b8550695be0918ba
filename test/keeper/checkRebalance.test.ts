/**
 * `checkRebalance` (keeper/sizing/size.ts), the keeper's bigint mirror of `OptionVault.rebalance`'s guards, against
 * the vault itself: on a deployed system (in-process EDR chain) in a dozen states — unhedged, partly hedged, over
 * hedged after a price drop, the pool off the oracle, tight trade/slippage/budget limits, the tolerance exactly at
 * |net delta| and one wei below it, hedged within the tolerance, payouts owed to settled holders, an empty pool —
 * the keeper's snapshot is read as the keeper reads it (`readVaults`, one `VaultLens.read` pinned to a block), and
 * for random trades generated around every boundary the mirror models (sizes that just reduce |delta|, flatten it,
 * overshoot by the tolerance ± a wei, mirror it, hit the trade cap, the slippage bound, the budgets, the hedge held,
 * the cash, the cash owed; dust; the wrong direction; `minAmountOut` at the expected output ± 1 and at the slippage
 * bound's price) the mirror's verdict (ok, or the error's name) must equal the vault's own: `rebalance` simulated
 * with `eth_call` from the keeper's account at the same block, its revert decoded as the keeper decodes it
 * (`decodeRevert`). On success the net delta before and after must match too. So that the generator cannot drift
 * away from a boundary unnoticed, every outcome the mirror can give must occur, each boundary must be sampled on
 * both sides, and each exact edge of a comparison (where `<` and `<=` differ: the tolerance at |delta|, a sale
 * leaving exactly the tolerance past zero, exactly the cap, the cash, the payouts owed, the budget left…) must be
 * met with the vault's verdict there.
 *
 * What the mirror deliberately leaves out (state-independent refusals the keeper reads from the snapshot instead:
 * paused, rebalance spacing, oracle status) is pinned in the last test: the vault refuses, and the snapshot says so.
 * The rest of what `rebalance` can raise is not the mirror's to model: `AccessControlUnauthorizedAccount` (the
 * keeper's role), `DeadlineExpired` (the keeper's own deadline), `UnknownToken`, `SpotOutOfDomain` (an absurd
 * oracle price, flagged by the pricing domain). One branch of the mirror no trade can reach: the `ZeroAmount` after
 * the swap (amountIn > 0 and the pool pays at least minAmountOut ≥ 1, so a trade past the swap moves underlying);
 * its name is covered by `amountIn = 0`. `InsufficientLiquidity` needs a pool with no liquidity at all (a deployed
 * pool keeps its locked minimum): the last state deploys a second vault on one.
 */
import hre from "hardhat";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { readVaults } from "../../keeper/chain/readVaults.ts";
import { decodeRevert, hedgeAbi } from "../../keeper/execution/sendHedge.ts";
import { getAmountOut } from "../../keeper/sizing/amm.ts";
import { checkRebalance, REBALANCE_ERROR_NAMES } from "../../keeper/sizing/size.ts";
import type { VaultSnapshot } from "../../keeper/types.ts";
import { arbitrageTo } from "../../harness/market.ts";
import {
  buyOptions,
  deploySystem,
  deployVault,
  listSeries,
  priceE8,
  QUOTE_DECIMALS,
  quoteUnits,
  UNDERLYING_DECIMALS,
  WAD,
  type System,
} from "../../harness/system.ts";

const SEED = 0x5eed_0b11;
/** Samples per state: with the generator below every outcome occurs many times over the states (asserted). */
const RUNS_PER_STATE = 150;
const BPS = 10_000n;
/** The vault's budget unit (`BUDGET_UNIT_WAD`): 1e-4 quote, in quote wad. */
const UNIT = 10n ** 14n;
const SCALE_U = 10n ** BigInt(18 - UNDERLYING_DECIMALS);
const SCALE_Q = 10n ** BigInt(18 - QUOTE_DECIMALS);

/** Every outcome the mirror can give. */
const OUTCOMES = ["ok", ...REBALANCE_ERROR_NAMES] as const;

const { viem, networkHelpers } = await hre.network.create();
const { time } = networkHelpers;
const abs = (x: bigint) => (x < 0n ? -x : x);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

// ─────────────────────────────────────────── the system and its states ───────────────────────────────────────────

let sys: System;
let weekly: Awaited<ReturnType<typeof listSeries>>;
const asKeeper = () => ({ account: sys.keeper.account });

async function latestTimestamp(): Promise<bigint> {
  return (await sys.publicClient.getBlock()).timestamp;
}

/** Buys `underlyingWad` for the vault (a real hedge, mined), then mines a block so the next one may rebalance. */
async function hedgeBuy(underlyingWad: bigint) {
  const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, underlyingWad]);
  await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, (await latestTimestamp()) + 600n], asKeeper()));
  await networkHelpers.mine(1);
}

/** The pool first, then the oracle, to `price`. */
async function moveTo(price: number) {
  await arbitrageTo(viem, { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address }, price);
  await sys.wait(await sys.oracle.write.setPrice([priceE8(price)]));
}

async function setHedge(changes: Partial<System["hedge"]>) {
  const current = await sys.vault.read.hedgeParams();
  await sys.wait(await sys.vault.write.setHedgeParams([{ ...current, ...changes }]));
}

/** Budget usage (whole quote units, rounded up) the ledger holds now, from what `hedgeStatus` reports left. */
async function budgetUsedQuote(): Promise<{ notional: bigint; slippage: bigint }> {
  const [hedge, status] = await Promise.all([sys.vault.read.hedgeParams(), sys.vault.read.hedgeStatus()]);
  const used = (budget: number, leftWad: bigint) => ceilDiv(BigInt(budget) * WAD - leftWad, WAD);
  return { notional: used(hedge.notionalBudget, status.notionalLeftWad), slippage: used(hedge.slippageBudget, status.slippageLeftWad) };
}

/** The tolerance set to |net delta| + `offsetWad` exactly: the block's timestamp is pinned and the delta read at it. */
async function toleranceAtDelta(offsetWad: bigint) {
  const timestamp = (await latestTimestamp()) + 5n;
  await time.setNextBlockTimestamp(timestamp);
  const deltaWad = await sys.vault.read.netDeltaWad({ blockTag: "pending" });
  await setHedge({ deltaToleranceWad: abs(deltaWad) + offsetWad });
}

interface State {
  name: string;
  /** Builds the state from the base (mined); returns the vault to trade on (the system's, unless said). */
  setup: () => Promise<Address | void>;
}

const STATES: State[] = [
  { name: "unhedged short calls", setup: async () => {} },
  {
    name: "hedged to 3 underlying short",
    setup: async () => hedgeBuy(-(await sys.vault.read.netDeltaWad()) - 3n * WAD),
  },
  {
    // About 155 underlying held against ~140 of calls' delta: a sale of twice the delta is still within the hedge.
    name: "over hedged after a 3% drop (sales reduce |delta|)",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()));
      await moveTo(2_910);
    },
  },
  {
    name: "over hedged after a 3% drop, trade cap 10 underlying",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()));
      await moveTo(2_910);
      await setHedge({ maxTradeWad: 10n * WAD });
    },
  },
  { name: "pool 0.6% above the oracle", setup: async () => void (await arbitrageTo(viem, poolOf(), 3_018)) },
  {
    name: "tight trade cap and budgets",
    setup: () => setHedge({ maxTradeWad: 5n * WAD, notionalBudget: 9_000, slippageBudget: 10 }),
  },
  {
    // The pool's fee is 30 bps: 1 bp of room leaves sales of up to ~10 underlying within the bound.
    name: "over hedged, 31 bps slippage bound (sales hit it)",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()));
      await moveTo(2_910);
      await setHedge({ maxSlippageBps: 31 });
    },
  },
  {
    name: "tolerance exactly |net delta|",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()) - 3n * WAD);
      await toleranceAtDelta(0n);
    },
  },
  {
    name: "tolerance one wei below |net delta|",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()) - 3n * WAD);
      await toleranceAtDelta(-1n);
    },
  },
  { name: "hedged within the tolerance", setup: async () => hedgeBuy(-(await sys.vault.read.netDeltaWad())) },
  {
    name: "notional budget nearly spent after a partial hedge",
    setup: async () => {
      await hedgeBuy(-(await sys.vault.read.netDeltaWad()) - 3n * WAD);
      const used = await budgetUsedQuote();
      // About one underlying of notional left, and slippage for more than that (the tight state above has the
      // slippage budget bind first).
      await setHedge({ notionalBudget: Number(used.notional + 3_000n), slippageBudget: Number(used.slippage + 30n) });
    },
  },
  { name: "payouts owed to settled holders", setup: payoutsOwed },
  { name: "empty pool", setup: emptyPoolVault },
];

function poolOf() {
  return { amm: sys.amm.address, quote: sys.quote.address, underlying: sys.underlying.address };
}

/**
 * The weekly calls expire in the money and are settled, unclaimed, at a price chosen so that the cash left above
 * what their holders are owed buys about 15 underlying, while the monthly calls (deep in the money) still need
 * about 100: small buys pass, larger ones would spend the holders' cash.
 */
async function payoutsOwed() {
  await time.increaseTo(weekly.expiry - 60n);
  const cashQuote = (await sys.quote.read.balanceOf([sys.vault.address])) / 10n ** BigInt(QUOTE_DECIMALS);
  const sold = 200n;
  // owed = sold·(P − 3000), cash − owed ≈ 15·P.
  const price = Number((cashQuote + sold * 3_000n) / (sold + 15n));
  await moveTo(price);
  const [roundId] = await sys.oracle.read.latestRoundData();
  await time.increaseTo(weekly.expiry + 10n);
  await sys.wait(await sys.vault.write.settleSeries([weekly.id, roundId]));
}

/** A second vault, on the same tokens and oracle, whose pool has no liquidity at all; it sold 10 monthly calls. */
async function emptyPoolVault(): Promise<Address> {
  const { admin, keeper } = sys;
  const amm = await viem.deployContract("MockAmm", [sys.underlying.address, sys.quote.address, 30n]);
  const { vault } = await deployVault(viem, {
    config: { quote: sys.quote.address, underlying: sys.underlying.address, oracle: sys.oracle.address, amm: amm.address, admin: admin.account.address },
    hedge: sys.hedge,
    risk: sys.risk,
    limits: sys.limits,
    optionBook: sys.optionBook,
  });
  const roles = await Promise.all([vault.read.MANAGER_ROLE(), vault.read.KEEPER_ROLE()]);
  await sys.wait(await vault.write.grantRole([roles[0], admin.account.address]));
  await sys.wait(await vault.write.grantRole([roles[1], keeper.account.address]));
  const deposit = quoteUnits(1_000_000);
  await sys.wait(await sys.quote.write.mint([admin.account.address, deposit]));
  await sys.wait(await sys.quote.write.approve([vault.address, deposit]));
  await sys.wait(await vault.write.deposit([deposit, admin.account.address]));
  const other = { ...sys, vault };
  const { id } = await listSeries(other, true, 3000, 30);
  await buyOptions(other, (await viem.getWalletClients())[2]!.account.address, id, 10);
  // It also holds some underlying, so sales get past the hedge check to the pool.
  await sys.wait(await sys.underlying.write.mint([vault.address, 2n * WAD]));
  return vault.address;
}

// ─────────────────────────────────────────── the two verdicts ───────────────────────────────────────────

/** The keeper's snapshot of `vault` at the latest block, read as the keeper reads it. */
async function snapshotOf(vault: Address): Promise<VaultSnapshot> {
  const read = await readVaults(sys.publicClient, {
    lens: sys.lens.address,
    vaults: [{ address: vault, quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS }],
    account: sys.keeper.account.address,
    blockTag: "latest",
  });
  expect(read.failures).toEqual([]);
  return read.vaults[0]!;
}

interface Trade {
  buy: boolean;
  amountIn: bigint;
  minAmountOut: bigint;
}

/** "ok" with the net delta before and after (the lens's before, for the mirror), or the error's name. */
type Verdict = { outcome: string; deltaBeforeWad?: bigint; deltaAfterWad?: bigint };

function mirrorVerdict(s: VaultSnapshot, t: Trade): Verdict {
  const check = checkRebalance(s, t.buy, t.amountIn, t.minAmountOut);
  return check.ok ? { outcome: "ok", deltaBeforeWad: s.netDeltaWad, deltaAfterWad: check.deltaAfterWad } : { outcome: check.error };
}

/** `rebalance` simulated by the keeper at the snapshot's block: ok with the resulting delta, or the decoded error. */
async function vaultVerdict(vault: Address, s: VaultSnapshot, t: Trade): Promise<Verdict> {
  try {
    const { result } = await sys.publicClient.simulateContract({
      address: vault,
      abi: hedgeAbi,
      functionName: "rebalance",
      args: [t.buy, t.amountIn, t.minAmountOut, s.timestamp + 3_600n],
      account: sys.keeper.account.address,
      blockNumber: s.blockNumber,
    });
    return { outcome: "ok", deltaBeforeWad: result[0], deltaAfterWad: result[1] };
  } catch (error) {
    const decoded = decodeRevert(error);
    return { outcome: decoded ? decoded.errorName : `undecoded: ${String(error).split("\n")[0]}` };
  }
}

// ─────────────────────────────────────────── the trade generator ───────────────────────────────────────────

/** Where a trade's size comes from: each family sits at (jittered by a few units) one boundary of the rules. */
const FAMILIES = [
  "zero",
  "dust",
  "reduce",
  "flatten",
  "toleranceEdge",
  "overshoot",
  "mirror",
  "maxTrade",
  "slippageEdge",
  "notionalEdge",
  "slippageBudgetEdge",
  "hedgeEdge",
  "cashEdge",
  "payoutsEdge",
  "random",
] as const;
type Family = (typeof FAMILIES)[number];

/** How `minAmountOut` is set: 0 (the pool then requires 1), the expected output exactly, ± 1, less a margin, or the slippage bound's price. */
const MIN_OUT_MODES = ["none", "none", "none", "expected", "expectedPlusOne", "expectedMinusOne", "margin", "limitPrice"] as const;

interface Draw {
  family: Family;
  jitter: number;
  frac: number;
  wrongWay: boolean;
  minOut: (typeof MIN_OUT_MODES)[number];
  minOutJitter: number;
}

const draws: fc.Arbitrary<Draw> = fc.record({
  family: fc.constantFrom(...FAMILIES),
  // Half the draws sit exactly on the boundary (jitter 0): that is where a `<` written for a `<=` shows.
  jitter: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: -3, max: 3 }), weight: 4 }),
  frac: fc.integer({ min: 1, max: 999 }),
  wrongWay: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
  minOut: fc.constantFrom(...MIN_OUT_MODES),
  minOutJitter: fc.integer({ min: -2, max: 2 }),
});

/** What a trade of `amountIn` moves at the snapshot's pool: underlying traded and quote paid or received, wad. */
function swapOf(s: VaultSnapshot, buy: boolean, amountIn: bigint): { out: bigint; tradedWad: bigint; quoteWad: bigint } {
  if (s.ammReserveQuote === 0n || s.ammReserveUnderlying === 0n) {
    // Empty pool: nothing to quote; size as if at the oracle (the pool refuses anyway).
    const tradedWad = buy ? (amountIn * SCALE_Q * WAD) / s.spotWad : amountIn * SCALE_U;
    return { out: 0n, tradedWad, quoteWad: buy ? amountIn * SCALE_Q : (tradedWad * s.spotWad) / WAD };
  }
  const out = buy
    ? getAmountOut(amountIn, s.ammReserveQuote, s.ammReserveUnderlying, s.ammFeeBps)
    : getAmountOut(amountIn, s.ammReserveUnderlying, s.ammReserveQuote, s.ammFeeBps);
  return buy ? { out, tradedWad: out * SCALE_U, quoteWad: amountIn * SCALE_Q } : { out, tradedWad: amountIn * SCALE_U, quoteWad: out * SCALE_Q };
}

/** The largest input in [0, hi] whose swap satisfies `holds` (monotone: true for small trades, false past a size). */
function largestInput(s: VaultSnapshot, buy: boolean, holds: (tradedWad: bigint, quoteWad: bigint) => boolean): bigint {
  let lo = 0n;
  let hi = buy ? s.ammReserveQuote * 4n + 10n ** 12n : s.ammReserveUnderlying * 4n + 10n * WAD;
  const ok = (n: bigint) => {
    const { tradedWad, quoteWad } = swapOf(s, buy, n);
    return holds(tradedWad, quoteWad);
  };
  if (ok(hi)) return hi;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (ok(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

function tradeFor(s: VaultSnapshot, d: Draw): Trade {
  const before = s.netDeltaWad;
  const absBefore = abs(before);
  const tol = s.hedge.deltaToleranceWad;
  const reducingBuy = before < 0n;
  let buy = d.wrongWay ? !reducingBuy : reducingBuy;
  if (d.family === "hedgeEdge") buy = false;
  if (d.family === "cashEdge" || d.family === "payoutsEdge") buy = true;
  const bps = BigInt(s.hedge.maxSlippageBps);
  const limitWad = (s.spotWad * (buy ? BPS + bps : BPS - bps)) / BPS;
  const tradedAtMost = (cap: bigint) => largestInput(s, buy, (traded) => traded <= cap);
  const frac = BigInt(d.frac);

  let base: bigint;
  switch (d.family) {
    case "zero":
      base = 0n;
      break;
    case "dust":
      base = frac;
      break;
    case "reduce":
      base = tradedAtMost((absBefore * frac) / 1000n);
      break;
    case "flatten":
      base = tradedAtMost(absBefore);
      break;
    case "toleranceEdge":
      base = tradedAtMost(absBefore + tol);
      break;
    case "overshoot":
      base = tradedAtMost(((absBefore + tol) * (1000n + frac)) / 1000n);
      break;
    case "mirror":
      base = tradedAtMost(2n * absBefore);
      break;
    case "maxTrade":
      base = tradedAtMost(s.hedge.maxTradeWad);
      break;
    case "slippageEdge":
      base = largestInput(s, buy, (traded, quote) =>
        traded === 0n ? true : buy ? ceilDiv(quote * WAD, traded) <= limitWad : (quote * WAD) / traded >= limitWad,
      );
      break;
    case "notionalEdge":
      base = largestInput(s, buy, (traded) => ceilDiv(ceilDiv(traded * s.spotWad, WAD), UNIT) * UNIT <= s.notionalLeftWad);
      break;
    case "slippageBudgetEdge":
      base = largestInput(s, buy, (traded, quote) => {
        const fair = buy ? (traded * s.spotWad) / WAD : ceilDiv(traded * s.spotWad, WAD);
        const slippage = buy ? (quote > fair ? quote - fair : 0n) : fair > quote ? fair - quote : 0n;
        return ceilDiv(slippage, UNIT) * UNIT <= s.slippageLeftWad;
      });
      break;
    case "hedgeEdge":
      base = s.hedgeBalance;
      break;
    case "cashEdge":
      base = s.cashBalance;
      break;
    case "payoutsEdge":
      base = s.cashBalance > s.pendingPayouts ? s.cashBalance - s.pendingPayouts : 0n;
      break;
    case "random":
      // Log-uniform from one unit to ~10^24 units.
      base = 10n ** BigInt(Math.floor(d.frac / 40)) * BigInt(1 + (d.frac % 40));
      break;
  }
  const jittered = base + BigInt(d.jitter);
  const amountIn = jittered < 0n ? 0n : jittered;

  let minAmountOut = 0n;
  if (d.minOut !== "none" && amountIn > 0n) {
    const expected = swapOf(s, buy, amountIn).out;
    const atLimit = buy
      ? (amountIn * SCALE_Q * WAD) / limitWad / SCALE_U // underlying bought at the limit price
      : (amountIn * SCALE_U * limitWad) / WAD / SCALE_Q; // quote received at the limit price
    const m = {
      expected,
      expectedPlusOne: expected + 1n,
      expectedMinusOne: expected - 1n,
      margin: (expected * (BPS - 50n)) / BPS,
      limitPrice: atLimit + BigInt(d.minOutJitter),
    }[d.minOut];
    minAmountOut = m < 0n ? 0n : m;
  }
  return { buy, amountIn, minAmountOut };
}

/**
 * The exact edges of the mirror's comparisons (where `<` and `<=` differ), each with the vault's verdict there:
 * every edge must be sampled at least once with that verdict. Buys move the underlying in steps of the pool's
 * rounding, so the delta edges are met exactly by sales.
 */
const EDGES: { name: string; at: (s: VaultSnapshot, t: Trade) => boolean; verdict: (outcome: string) => boolean }[] = [
  {
    name: "a sale leaving exactly the tolerance past zero passes",
    at: (s, t) => !t.buy && s.netDeltaWad > 0n && t.amountIn * SCALE_U === s.netDeltaWad + s.hedge.deltaToleranceWad,
    verdict: (o) => o === "ok",
  },
  {
    name: "a sale to exactly zero delta passes",
    at: (s, t) => !t.buy && s.netDeltaWad > 0n && t.amountIn * SCALE_U === s.netDeltaWad,
    verdict: (o) => o === "ok",
  },
  {
    name: "a sale to exactly minus the delta does not reduce it",
    at: (s, t) => !t.buy && s.netDeltaWad > 0n && t.amountIn * SCALE_U === 2n * s.netDeltaWad,
    verdict: (o) => o === "DeltaNotReduced",
  },
  {
    name: "a sale of exactly the hedge held passes the hedge check",
    at: (s, t) => !t.buy && s.hedgeBalance > 0n && t.amountIn === s.hedgeBalance,
    verdict: (o) => o !== "InsufficientHedge",
  },
  {
    name: "a trade of exactly maxTradeWad passes the cap",
    at: (s, t) => t.amountIn > 0n && swapOf(s, t.buy, t.amountIn).tradedWad === s.hedge.maxTradeWad,
    verdict: (o) => o === "ok",
  },
  {
    name: "a buy paying exactly the vault's cash passes the token's balance check",
    at: (s, t) => t.buy && t.amountIn === s.cashBalance,
    verdict: (o) => o !== "ERC20InsufficientBalance",
  },
  {
    name: "a buy leaving exactly the payouts owed passes",
    at: (s, t) => t.buy && s.pendingPayouts > 0n && s.cashBalance - t.amountIn === s.pendingPayouts,
    verdict: (o) => o === "ok",
  },
  {
    name: "minAmountOut exactly the pool's output passes the pool",
    at: (s, t) => t.amountIn > 0n && t.minAmountOut > 0n && s.ammReserveQuote > 0n && swapOf(s, t.buy, t.amountIn).out === t.minAmountOut,
    verdict: (o) => o !== "InsufficientOutput",
  },
  {
    name: "a notional of exactly the budget left passes",
    at: (s, t) => t.amountIn > 0n && ceilDiv(ceilDiv(swapOf(s, t.buy, t.amountIn).tradedWad * s.spotWad, WAD), UNIT) * UNIT === s.notionalLeftWad,
    verdict: (o) => o === "ok",
  },
  {
    name: "a slippage of exactly the budget left passes",
    at: (s, t) => {
      if (t.amountIn === 0n) return false;
      const { tradedWad, quoteWad } = swapOf(s, t.buy, t.amountIn);
      const fair = t.buy ? (tradedWad * s.spotWad) / WAD : ceilDiv(tradedWad * s.spotWad, WAD);
      const slippage = t.buy ? (quoteWad > fair ? quoteWad - fair : 0n) : fair > quoteWad ? fair - quoteWad : 0n;
      return slippage > 0n && ceilDiv(slippage, UNIT) * UNIT === s.slippageLeftWad;
    },
    verdict: (o) => o === "ok",
  },
];

// ─────────────────────────────────────────── the tests ───────────────────────────────────────────

beforeAll(async () => {
  // A pool deep enough (100,000 underlying) that a full hedge of ~155 underlying is within the 1% slippage bound:
  // then the delta rule and the cap, not only the price, decide large trades.
  sys = await deploySystem(viem, { ammDepthUnderlying: 100_000, vaultDeposit: 2_000_000 });
  weekly = await listSeries(sys, true, 3000, 7);
  const monthly = await listSeries(sys, true, 3000, 30);
  const buyer = (await viem.getWalletClients())[2]!.account.address;
  await buyOptions(sys, buyer, weekly.id, 200);
  await buyOptions(sys, buyer, monthly.id, 100);
  await networkHelpers.mine(1);
});

describe("checkRebalance agrees with OptionVault.rebalance", () => {
  it("gives the vault's verdict on every random trade in every state, and meets every outcome it can give", async () => {
    const base = await networkHelpers.takeSnapshot();
    const seen = new Map<string, number>();
    const seenIn = new Map<string, Set<string>>();
    /** Outcomes by state and by where the size came from: "state|family" → outcomes. */
    const byFamily = new Map<string, Set<string>>();
    const note = (key: string, outcome: string) => byFamily.set(key, (byFamily.get(key) ?? new Set()).add(outcome));
    const edgesMet = new Set<string>();
    try {
      for (const [i, state] of STATES.entries()) {
        await base.restore();
        const vault = (await state.setup()) ?? sys.vault.address;
        const s = await snapshotOf(vault);
        // The refusals the mirror leaves to the snapshot must not be in play (see the last test).
        expect(
          { paused: s.paused, oracle: s.oracleStatus, spaced: s.blockNumber >= s.nextRebalanceBlock, settling: s.settlementPending },
          state.name,
        ).toEqual({ paused: false, oracle: "Usable", spaced: true, settling: false });

        await fc.assert(
          fc.asyncProperty(draws, async (d) => {
            const trade = tradeFor(s, d);
            const [mirror, chain] = [mirrorVerdict(s, trade), await vaultVerdict(vault, s, trade)];
            expect(mirror, `${state.name}: ${d.family} ${JSON.stringify(trade, (_, v) => (typeof v === "bigint" ? String(v) : v))}`).toEqual(chain);
            seen.set(chain.outcome, (seen.get(chain.outcome) ?? 0) + 1);
            note(`${state.name}|${d.family}`, chain.outcome);
            note(`${state.name}|*`, chain.outcome);
            for (const edge of EDGES) if (edge.at(s, trade) && edge.verdict(chain.outcome)) edgesMet.add(edge.name);
            if (!seenIn.has(chain.outcome)) seenIn.set(chain.outcome, new Set());
            seenIn.get(chain.outcome)!.add(state.name);
          }),
          { seed: SEED + i, numRuns: RUNS_PER_STATE },
        );
      }
    } finally {
      await base.restore();
    }
    console.log(
      "outcomes (samples, states):\n" +
        [...seen].map(([k, n]) => `  ${k}: ${n} in ${seenIn.get(k)!.size} state(s)`).join("\n"),
    );
    const missing = OUTCOMES.filter((o) => !seen.has(o));
    expect(missing, "outcomes the samples never reached").toEqual([]);

    // Each boundary was sampled on both sides, in one state: the size one unit inside passed the rule, one unit
    // outside met its error (the other side may meet a later check, so "not the error" is what is required).
    const crosses = (family: Family, error: string) =>
      [...byFamily].some(([key, outcomes]) => key.endsWith(`|${family}`) && outcomes.has(error) && [...outcomes].some((o) => o !== error && o !== "ZeroAmount"));
    const boundaries: [Family, string][] = [
      ["toleranceEdge", "HedgeOvershoot"],
      ["mirror", "DeltaNotReduced"],
      ["maxTrade", "TradeTooLarge"],
      ["slippageEdge", "SlippageTooHigh"],
      ["notionalEdge", "NotionalBudgetExceeded"],
      ["slippageBudgetEdge", "SlippageBudgetExceeded"],
      ["hedgeEdge", "InsufficientHedge"],
      ["cashEdge", "ERC20InsufficientBalance"],
      ["payoutsEdge", "PayoutsNotCovered"],
    ];
    expect(boundaries.filter(([family, error]) => !crosses(family, error)), "boundaries not sampled on both sides").toEqual([]);
    expect(EDGES.map((e) => e.name).filter((name) => !edgesMet.has(name)), "exact edges never sampled").toEqual([]);
    // The tolerance at |net delta| refuses every trade (that moves something); one wei below it, none is refused so.
    expect([...byFamily.get("tolerance exactly |net delta||*")!].sort()).toEqual(["DeltaWithinTolerance", "ZeroAmount"]);
    expect(byFamily.get("tolerance one wei below |net delta||*")!.has("DeltaWithinTolerance")).toBe(false);
  });

  it("leaves paused, spacing and oracle refusals to the snapshot: the vault refuses, the mirror passes, the snapshot flags it", async () => {
    // `checkRebalance` models what depends on the order; these depend on the block, and `decide` holds on the
    // snapshot's flags (`MarketView.canTrade`) before any order is sized. Each is shown here once, on a trade the
    // mirror accepts, so a change on either side (the vault adding such a check to the order path, or the
    // snapshot losing the flag) is seen.
    const base = await networkHelpers.takeSnapshot();
    // Half the hedge the vault needs: a trade the mirror accepts in each of these states.
    const halfway = (s: VaultSnapshot): Trade =>
      tradeFor(s, { family: "reduce", jitter: 0, frac: 500, wrongWay: false, minOut: "none", minOutJitter: 0 });
    const cases: { error: string; setup: () => Promise<void>; flag: (s: VaultSnapshot) => boolean }[] = [
      { error: "VaultPaused", setup: async () => void (await sys.wait(await sys.vault.write.pause())), flag: (s) => s.paused },
      {
        error: "RebalanceTooSoon",
        // A hedge mined in the latest block: the next may come only in the next one.
        setup: async () => {
          const amountIn = await sys.amm.read.quoteExactOut([sys.quote.address, WAD]);
          await sys.wait(await sys.vault.write.rebalance([true, amountIn, 0n, (await latestTimestamp()) + 600n], asKeeper()));
        },
        flag: (s) => s.blockNumber < s.nextRebalanceBlock,
      },
      {
        error: "StaleOracle",
        setup: async () => {
          await time.increase(sys.hedge.maxOracleAge + 1);
          await networkHelpers.mine(1);
        },
        flag: (s) => s.oracleStatus === "Stale" && !s.oracleFresh,
      },
    ];
    try {
      for (const c of cases) {
        await base.restore();
        await c.setup();
        const s = await snapshotOf(sys.vault.address);
        const trade = halfway(s);
        expect(mirrorVerdict(s, trade).outcome, c.error).toBe("ok");
        expect((await vaultVerdict(sys.vault.address, s, trade)).outcome, c.error).toBe(c.error);
        expect(c.flag(s), `the snapshot shows ${c.error}`).toBe(true);
      }
    } finally {
      await base.restore();
    }
  });
});
