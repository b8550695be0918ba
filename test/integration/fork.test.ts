/**
 * Integration on a forked chain: the system is deployed to an upstream node served over JSON-RPC, a second
 * EVM forks it, and positions, price moves and a rebalance happen on the fork only. The upstream must not see
 * any of it.
 */
import hre from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import {
  ROLES,
  WAD,
  buyOptions,
  deploySystem,
  listSeries,
  priceE8,
  type System,
} from "../../harness/system.ts";
import { arbitrageTo } from "../../harness/market.ts";
import { startLocalNode, type LocalNode } from "../../harness/node.ts";

const abs = (x: bigint) => (x < 0n ? -x : x);

describe("fork of a local upstream node", () => {
  let server: LocalNode;
  let url: string;
  let upstream: System;
  let upstreamBlock: bigint;
  let seriesId: `0x${string}`;
  let buyer: Address;

  beforeAll(async () => {
    server = await startLocalNode();
    url = server.url;
    const conn = await server.connect();
    // 10,000 WETH of depth: the fork's one-shot hedge of ~9 WETH stays inside the vault's 1% slippage bound.
    upstream = await deploySystem(conn.viem, { ammDepthUnderlying: 10_000, vaultDeposit: 5_000_000 });
    const wallets = await conn.viem.getWalletClients();
    buyer = wallets[2]!.account.address;
    seriesId = (await listSeries(upstream, true, 3000, 30)).id;
    await buyOptions(upstream, buyer, seriesId, 10);
    upstreamBlock = await upstream.publicClient.getBlockNumber();
  });

  afterAll(async () => {
    await server?.close();
  });

  it("moves prices and rebalances on the fork, with delta and balances as expected, leaving upstream untouched", async () => {
    const fork = await hre.network.create({ network: "fork", override: { forking: { url } } });
    const [admin, keeper] = await fork.viem.getWalletClients();
    const publicClient = await fork.viem.getPublicClient();
    const vault = await fork.viem.getContractAt("IOptionVault", upstream.vault.address);
    const lens = await fork.viem.getContractAt("VaultLens", upstream.lens.address);
    const stateOf = async () => (await lens.read.stateOf([vault.address, true]))[0];
    const oracle = await fork.viem.getContractAt("MockOracle", upstream.oracle.address);
    const amm = await fork.viem.getContractAt("MockAmm", upstream.amm.address);
    const quote = await fork.viem.getContractAt("MockERC20", upstream.quote.address);
    const underlying = await fork.viem.getContractAt("MockERC20", upstream.underlying.address);
    const wait = async (hash: `0x${string}`) => {
      const r = await publicClient.waitForTransactionReceipt({ hash });
      expect(r.status).toBe("success");
      return r;
    };

    // The fork starts from upstream's state.
    expect(await vault.read.hasRole([ROLES.keeper, keeper!.account.address])).toBe(true);
    const st0 = await stateOf();
    expect(st0.bookDeltaWad).toBe((await upstream.lens.read.stateOf([upstream.vault.address, true]))[0].bookDeltaWad);

    // More options sold and a 5% rally on oracle and AMM, on the fork only.
    const more = await vault.read.quoteOpen([seriesId, 5n * WAD]);
    await wait(await quote.write.mint([admin!.account.address, more]));
    await wait(await quote.write.approve([vault.address, more]));
    await wait(await vault.write.openPosition([seriesId, 5n * WAD, more, buyer]));
    await wait(await oracle.write.setPrice([priceE8(3150)]));
    await arbitrageTo(fork.viem, { amm: amm.address, quote: quote.address, underlying: underlying.address }, 3150);

    const before = await stateOf();
    expect(before.netDeltaWad).toBeLessThan(-8n * WAD); // 15 short calls, now in the money
    const cashBefore = await quote.read.balanceOf([vault.address]);

    const amountIn = await amm.read.quoteExactOut([quote.address, BigInt(-before.netDeltaWad)]);
    const block = await publicClient.getBlock();
    await wait(await vault.write.rebalance([true, amountIn, 0n, block.timestamp + 600n], { account: keeper!.account }));

    const after = await stateOf();
    expect(abs(after.netDeltaWad)).toBeLessThan(WAD / 1000n);
    const hedge = await underlying.read.balanceOf([vault.address]);
    expect(hedge).toBe(after.hedgeBalance);
    expect(hedge).toBe(BigInt(after.netDeltaWad - after.bookDeltaWad)); // book unchanged by the trade
    expect(hedge).toBeGreaterThanOrEqual(BigInt(-before.netDeltaWad)); // AMM rounds in the vault's favour
    expect(cashBefore - (await quote.read.balanceOf([vault.address]))).toBe(amountIn);

    // Upstream: same block, same price, no hedge, original book.
    expect(await upstream.publicClient.getBlockNumber()).toBe(upstreamBlock);
    const [up] = await upstream.lens.read.stateOf([upstream.vault.address, true]);
    expect(up.spotWad).toBe(3000n * WAD);
    expect(up.hedgeBalance).toBe(0n);
    expect(await upstream.vault.read.positionOf([seriesId, buyer])).toBe(10n * WAD);
    expect(await upstream.underlying.read.balanceOf([upstream.vault.address])).toBe(0n);
  });
});
