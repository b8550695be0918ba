/**
 * Many vaults, quickly, for the benchmark: every set-up transaction is sent with an explicit nonce and gas limit,
 * in JSON-RPC batches, with automine off, and mined a few blocks at a time — no request waits for a receipt, so a
 * thousand vaults with ten-series books (about 25,000 transactions) take a minute rather than an hour. Addresses
 * are known before anything is mined (`getContractAddress` from the deployer's nonce), so a vault's pool, its
 * liquidity, the vault and its roles go out in one pass; every receipt is checked once at the end of a phase.
 *
 * The node must be a local one with unlocked accounts (`startLocalNode`), and its block gas limit large enough
 * for a phase's transactions to fit in a few blocks (the bench raises it; see `harness/bench.ts`).
 */
import { decodeFunctionResult, encodeAbiParameters, encodeDeployData, encodeFunctionData, getContractAddress, keccak256, maxUint256, type Abi, type Address, type Hex } from "viem";
import { mockAmmAbi, mockERC20Abi, mockOracleAbi, optionVaultAbi } from "../keeper/abi.ts";
import { marketScale, realign } from "./market.ts";
import { ORACLE_DECIMALS, QUOTE_DECIMALS, UNDERLYING_DECIMALS, priceE8, quoteUnits, ROLES, underlyingUnits, VAULT_NAME, type System } from "./system.ts";

/** One transaction to send from an unlocked account. */
interface Tx {
  from: Address;
  to?: Address;
  data: Hex;
  gas: bigint;
}

/** JSON-RPC requests per HTTP batch. */
const BATCH = 250;
const MAX_BODY_BYTES = 1_000_000;
/** Transactions sent before each block is mined. */
const WINDOW = Number(process.env.BENCH_SETUP_WINDOW ?? 200);
/** Gas limits of the set-up transactions (generous: unused gas is not charged). */
const GAS = { vault: 9_000_000n, amm: 4_000_000n, call: 400_000n, open: 1_500_000n } as const;

/** A raw JSON-RPC client over the node's URL, with batches. */
export class RawRpc {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  /** `calls` in batches of `BATCH`; the results in order. Throws on the first error, naming the method. */
  async batch(calls: readonly { method: string; params: unknown[] }[]): Promise<unknown[]> {
    const out: unknown[] = [];
    const json = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x));
    let i = 0;
    while (i < calls.length) {
      // Up to BATCH requests and about 1 MB a body (anvil refuses larger ones; deployments are 25 kB each).
      const items: string[] = [];
      let bytes = 0;
      for (; i < calls.length && items.length < BATCH && bytes < MAX_BODY_BYTES; i++) {
        const item = json({ jsonrpc: "2.0", id: i, method: calls[i]!.method, params: calls[i]!.params });
        items.push(item);
        bytes += item.length;
      }
      const response = await fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body: `[${items.join(",")}]` });
      const answers = (await response.json()) as { id: number; result?: unknown; error?: { message: string } }[];
      if (!Array.isArray(answers)) throw new Error(`batch of ${items.length} refused: ${JSON.stringify(answers).slice(0, 300)}`);
      answers.sort((a, b) => a.id - b.id);
      for (const a of answers) {
        if (a.error) throw new Error(`${calls[a.id]!.method} failed: ${a.error.message}`);
        out.push(a.result);
      }
    }
    return out;
  }

  async call(method: string, params: unknown[] = []): Promise<unknown> {
    return (await this.batch([{ method, params }]))[0];
  }
}

/**
 * Sends `txs` (each from an unlocked account, nonces assigned here in order), mines until every sender's
 * transactions are in, and checks every receipt succeeded. Automine must be off.
 */
export async function sendAndMine(rpc: RawRpc, txs: readonly Tx[]): Promise<void> {
  if (txs.length === 0) return;
  const senders = [...new Set(txs.map((t) => t.from))];
  const starts = (await rpc.batch(senders.map((s) => ({ method: "eth_getTransactionCount", params: [s, "pending"] })))).map((n) => BigInt(n as string));
  const next = new Map(senders.map((s, i) => [s, starts[i]!]));
  // A window at a time, mined before the next: a node re-validates its pending transactions as more arrive, so a
  // mempool of thousands costs quadratic time; a few hundred at a time stays linear.
  const hashes: Hex[] = [];
  for (let i = 0; i < txs.length; i += WINDOW) {
    const window = txs.slice(i, i + WINDOW).map((t) => {
      const nonce = next.get(t.from)!;
      next.set(t.from, nonce + 1n);
      return { method: "eth_sendTransaction", params: [{ ...t, nonce }] };
    });
    hashes.push(...((await rpc.batch(window)) as Hex[]));
    await rpc.call("evm_mine");
  }
  const mined = (await rpc.batch(senders.map((s) => ({ method: "eth_getTransactionCount", params: [s, "latest"] })))).map((n) => BigInt(n as string));
  const behind = senders.findIndex((s, i) => mined[i]! < next.get(s)!);
  if (behind >= 0) throw new Error(`set-up transactions of ${senders[behind]} not all mined (${mined[behind]} of ${next.get(senders[behind]!)})`);
  const receipts = (await rpc.batch(hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })))) as { status: Hex }[];
  const failed = receipts.findIndex((r) => r?.status !== "0x1");
  if (failed >= 0) throw new Error(`set-up transaction ${failed} (${hashes[failed]}) failed`);
}

const call = (abi: Abi, functionName: string, args: readonly unknown[]) => encodeFunctionData({ abi, functionName, args } as never);

/** The artifact's creation code with its libraries linked at `libraries` (name → address). */
async function linkedBytecode(name: string, libraries: Record<string, Address>): Promise<{ abi: Abi; bytecode: Hex }> {
  const artifact = await (await import("hardhat")).default.artifacts.readArtifact(name);
  let code = artifact.bytecode.slice(2);
  for (const refs of Object.values(artifact.linkReferences ?? {})) {
    for (const [lib, places] of Object.entries(refs)) {
      const address = libraries[lib];
      if (!address) throw new Error(`${name} needs library ${lib}`);
      for (const { start, length } of places) code = code.slice(0, start * 2) + address.slice(2).toLowerCase() + code.slice((start + length) * 2);
    }
  }
  return { abi: artifact.abi as Abi, bytecode: `0x${code}` };
}

export interface ManyVaultsOptions {
  /** Underlying in each vault's own pool. */
  ammDepth: number;
  /** Quote deposited in each vault. */
  deposit: number;
  /** Live series per vault (calls and puts around the spot). */
  series: number;
  /** Options sold per series. */
  optionsPerSeries: number;
  spot: number;
  /** A node's per-transaction gas cap, when below the deployments' default limits (they need about 5M). */
  maxTxGas?: bigint;
}

/**
 * Deploys `count` more vaults on `sys`'s tokens and oracle, each with a pool of its own at the oracle price,
 * `deposit` of capital and the keeper's role. Returns them with their pools. Automine must be off.
 */
export async function deployVaults(rpc: RawRpc, sys: System, count: number, o: ManyVaultsOptions): Promise<{ vault: Address; amm: Address }[]> {
  const admin = sys.admin.account.address;
  const deployGas = o.maxTxGas !== undefined && o.maxTxGas < GAS.vault ? o.maxTxGas : GAS.vault;
  const [ammArt, extArt, vaultArt] = await Promise.all([
    linkedBytecode("MockAmm", {}),
    linkedBytecode("OptionVaultExtension", { OptionBook: sys.optionBook }),
    linkedBytecode("OptionVault", { OptionBook: sys.optionBook }),
  ]);
  const u = underlyingUnits(o.ammDepth);
  const q = (u * priceE8(o.spot)) / 10n ** BigInt(ORACLE_DECIMALS + UNDERLYING_DECIMALS - QUOTE_DECIMALS);
  const deposit = quoteUnits(o.deposit);
  const txs: Tx[] = [
    // The arbitrageur's allowance on the system's own pool (its others get theirs as they are deployed).
    { from: admin, to: sys.underlying.address, data: call(mockERC20Abi, "approve", [sys.amm.address, maxUint256]), gas: GAS.call },
    { from: admin, to: sys.quote.address, data: call(mockERC20Abi, "approve", [sys.amm.address, maxUint256]), gas: GAS.call },
    { from: admin, to: sys.underlying.address, data: call(mockERC20Abi, "mint", [admin, u * BigInt(count)]), gas: GAS.call },
    { from: admin, to: sys.quote.address, data: call(mockERC20Abi, "mint", [admin, (q + deposit) * BigInt(count)]), gas: GAS.call },
  ];
  let nonce = BigInt((await rpc.call("eth_getTransactionCount", [admin, "pending"])) as string) + BigInt(txs.length);
  const out: { vault: Address; amm: Address }[] = [];
  const push = (tx: Omit<Tx, "from">) => {
    txs.push({ from: admin, ...tx });
    return getContractAddress({ from: admin, nonce: nonce++ });
  };
  for (let i = 0; i < count; i++) {
    const amm = push({ data: encodeDeployData({ abi: ammArt.abi, bytecode: ammArt.bytecode, args: [sys.underlying.address, sys.quote.address, 30n] }), gas: GAS.amm });
    push({ to: sys.underlying.address, data: call(mockERC20Abi, "approve", [amm, maxUint256]), gas: GAS.call });
    push({ to: sys.quote.address, data: call(mockERC20Abi, "approve", [amm, maxUint256]), gas: GAS.call });
    push({ to: amm, data: call(mockAmmAbi, "addLiquidity", [u, q, 0n, admin]), gas: GAS.call });
    const config = { quote: sys.quote.address, underlying: sys.underlying.address, oracle: sys.oracle.address, amm, sequencerUptimeFeed: "0x0000000000000000000000000000000000000000", perp: "0x0000000000000000000000000000000000000000", admin, ...VAULT_NAME };
    const extension = push({ data: encodeDeployData({ abi: extArt.abi, bytecode: extArt.bytecode, args: [config] }), gas: deployGas });
    const vault = push({ data: encodeDeployData({ abi: vaultArt.abi, bytecode: vaultArt.bytecode, args: [config, extension, sys.hedge, sys.risk, sys.limits] }), gas: deployGas });
    push({ to: vault, data: call(optionVaultAbi, "grantRole", [ROLES.manager, admin]), gas: GAS.call });
    push({ to: vault, data: call(optionVaultAbi, "grantRole", [ROLES.keeper, sys.keeper.account.address]), gas: GAS.call });
    push({ to: sys.quote.address, data: call(mockERC20Abi, "approve", [vault, deposit]), gas: GAS.call });
    push({ to: vault, data: call(optionVaultAbi, "deposit", [deposit, admin]), gas: GAS.call });
    out.push({ vault, amm });
  }
  await sendAndMine(rpc, txs);
  return out;
}

/**
 * Gives each of `vaults` the same book: `series` series (calls above and below the spot, every third a put,
 * expiries from two to eight weeks), `optionsPerSeries` of each sold to `buyer`. Automine must be off.
 */
export async function openBooks(rpc: RawRpc, sys: System, vaults: readonly Address[], buyer: Address, o: Pick<ManyVaultsOptions, "series" | "optionsPerSeries" | "spot">): Promise<void> {
  const admin = sys.admin.account.address;
  const { timestamp } = (await rpc.call("eth_getBlockByNumber", ["latest", false])) as { timestamp: Hex };
  const now = BigInt(timestamp);
  const terms = Array.from({ length: o.series }, (_, i) => {
    const isCall = i % 3 !== 2;
    const strikeWad = underlyingUnits(Math.round(o.spot * (0.9 + (0.2 * i) / Math.max(1, o.series - 1))));
    const expiry = now + BigInt((14 + Math.round((42 * i) / Math.max(1, o.series - 1))) * 86_400);
    return { isCall, strikeWad, expiry };
  });
  const list: Tx[] = vaults.flatMap((vault) => terms.map((t) => ({ from: admin, to: vault, data: call(optionVaultAbi, "listSeries", [t.isCall, t.strikeWad, t.expiry]), gas: GAS.call })));
  list.push({ from: admin, to: sys.quote.address, data: call(mockERC20Abi, "mint", [buyer, quoteUnits(1_000_000) * BigInt(vaults.length)]), gas: GAS.call });
  await sendAndMine(rpc, list);
  const size = underlyingUnits(o.optionsPerSeries);
  const buys: Tx[] = vaults.flatMap((vault) => [
    { from: buyer, to: sys.quote.address, data: call(mockERC20Abi, "approve", [vault, maxUint256]), gas: GAS.call },
    ...terms.map((t) => ({
      from: buyer,
      to: vault,
      data: call(optionVaultAbi, "openPosition", [seriesIdOf(t), size, quoteUnits(1_000_000), buyer]),
      gas: GAS.open,
    })),
  ]);
  await sendAndMine(rpc, buys);
}

/** `OptionVaultBase.seriesId`: keccak256(abi.encode(isCall, strikeWad, expiry)). */
function seriesIdOf(t: { isCall: boolean; strikeWad: bigint; expiry: bigint }): Hex {
  return keccak256(encodeAbiParameters([{ type: "bool" }, { type: "uint256" }, { type: "uint256" }], [t.isCall, t.strikeWad, t.expiry]));
}

/**
 * Moves the oracle to `price` and realigns every pool on it with one swap each (the admin's inventory, minted
 * here), all in one block. Automine must be off. Pools already there are left alone.
 */
export async function moveMarket(rpc: RawRpc, sys: System, pools: readonly Address[], price: number): Promise<void> {
  const admin = sys.admin.account.address;
  const answer = priceE8(price);
  const txs: Tx[] = [{ from: admin, to: sys.oracle.address, data: call(mockOracleAbi, "setPrice", [answer]), gas: GAS.call }];
  const { timestamp } = (await rpc.call("eth_getBlockByNumber", ["latest", false])) as { timestamp: Hex };
  const deadline = BigInt(timestamp) + 600n;
  const getReserves = call(mockAmmAbi, "getReserves", []);
  const reserves = (await rpc.batch(pools.map((amm) => ({ method: "eth_call", params: [{ to: amm, data: getReserves }, "latest"] })))) as Hex[];
  const scale = marketScale({ quoteDecimals: QUOTE_DECIMALS, underlyingDecimals: UNDERLYING_DECIMALS });
  const swaps = pools.map((amm, i) => {
    const [underlying, quote] = decodeFunctionResult({ abi: mockAmmAbi, functionName: "getReserves", data: reserves[i]! });
    const r = realign({ underlying, quote }, answer, scale, 30n);
    return { amm, swap: r.amountIn === 0n ? undefined : { tokenIn: r.quoteIn ? sys.quote.address : sys.underlying.address, amountIn: r.amountIn } };
  });
  let quoteIn = 0n;
  let underlyingIn = 0n;
  for (const { amm, swap } of swaps) {
    if (!swap) continue;
    if (swap.tokenIn === sys.quote.address) quoteIn += swap.amountIn;
    else underlyingIn += swap.amountIn;
    txs.push({ from: admin, to: amm, data: call(mockAmmAbi, "swapExactIn", [swap.tokenIn, swap.amountIn, 0n, admin, deadline]), gas: GAS.call });
  }
  // The inventory first (the pools were approved for everything at deployment).
  txs.splice(1, 0,
    { from: admin, to: sys.quote.address, data: call(mockERC20Abi, "mint", [admin, quoteIn]), gas: GAS.call },
    { from: admin, to: sys.underlying.address, data: call(mockERC20Abi, "mint", [admin, underlyingIn]), gas: GAS.call },
  );
  await sendAndMine(rpc, txs);
}
