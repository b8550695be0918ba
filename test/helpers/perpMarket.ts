/**
 * One in-process chain for the perp market's tests (`test/perp.test.ts`, `test/perp-attacks.test.ts`): the system's
 * tokens and 8-decimal oracle at 3,000 deployed once, a snapshot, and `freshMarket`, which restores it and deploys
 * a new `MockPerpMarket` with helpers bound to it (deposits and pool funding mint what they need, trades ignore the
 * price bound, `expectBacked` checks the accounting invariant).
 */
import hre from "hardhat";
import { maxUint256, type Address } from "viem";
import { expect } from "vitest";
import { QUOTE_DECIMALS, deployPerp, deploySystem, priceE8, type PerpMarketParams } from "../../harness/system.ts";
import { perpParamsFromChain } from "../../keeper/pricing/perp.ts";

export async function perpTestChain() {
  const { viem, networkHelpers } = await hre.network.create();
  const sys = await deploySystem(viem, { vaultDeposit: 0 });
  const wallets = await viem.getWalletClients();
  type Wallet = NonNullable<(typeof wallets)[number]>;
  const owner = wallets[0]!;
  const base = await networkHelpers.takeSnapshot();

  /** Restores the base chain and deploys a fresh market (`params` over the defaults), with helpers bound to it. */
  async function freshMarket(params: Partial<PerpMarketParams> = {}) {
    await base.restore();
    const { perp, params: full } = await deployPerp(viem, {
      quote: sys.quote.address,
      oracle: sys.oracle.address,
      owner: owner.account.address,
      params,
    });
    const as = (w: Wallet) => ({ account: w.account });
    const minted = new Map<Address, bigint>();
    const mintApprove = async (w: Wallet, amount: bigint) => {
      minted.set(w.account.address, (minted.get(w.account.address) ?? 0n) + amount);
      await sys.wait(await sys.quote.write.mint([w.account.address, amount]));
      await sys.wait(await sys.quote.write.approve([perp.address, amount], as(w)));
    };
    return {
      perp,
      params: full,
      /** The parameters in the float model's units. */
      modelParams: perpParamsFromChain(full, QUOTE_DECIMALS),
      as,
      deposit: async (w: Wallet, amount: bigint) => {
        await mintApprove(w, amount);
        return sys.wait(await perp.write.depositMargin([amount], as(w)));
      },
      withdraw: async (w: Wallet, amount: bigint) => sys.wait(await perp.write.withdrawMargin([amount], as(w))),
      fundPool: async (amount: bigint) => {
        await mintApprove(owner, amount);
        return sys.wait(await perp.write.fundPool([amount], as(owner)));
      },
      /** Trades at any price (the bound is tested on its own). */
      trade: async (w: Wallet, sizeDeltaWad: bigint) =>
        sys.wait(await perp.write.modifyPosition([sizeDeltaWad, sizeDeltaWad > 0n ? maxUint256 : 0n], as(w))),
      liquidate: async (by: Wallet, account: Wallet) => sys.wait(await perp.write.liquidate([account.account.address], as(by))),
      setPrice: async (price: number) => sys.wait(await sys.oracle.write.setPrice([priceE8(price)])),
      balance: (a: Address) => sys.quote.read.balanceOf([a]),
      /** A wallet's profit so far: its balance less everything minted to it for this market. */
      net: async (w: Wallet) => (await sys.quote.read.balanceOf([w.account.address])) - (minted.get(w.account.address) ?? 0n),
      position: (w: Wallet) => perp.read.positionOf([w.account.address]),
      /** Withdraws the whole settled margin of a flat account (no oracle needed). */
      withdrawAll: async (w: Wallet) => {
        const margin = (await perp.read.positionOf([w.account.address])).margin;
        if (margin > 0n) await sys.wait(await perp.write.withdrawMargin([margin], as(w)));
      },
      /**
       * The accounting invariant: the market holds exactly its pool plus the margin of every account this helper
       * funded (nothing sent directly). Reads positions, so it needs a usable oracle while any is open.
       */
      expectBacked: async () => {
        const [bal, pool, ...positions] = await Promise.all([
          sys.quote.read.balanceOf([perp.address]),
          perp.read.pool(),
          ...[...minted.keys()].map((a) => perp.read.positionOf([a])),
        ]);
        expect(bal).toBe(pool + positions.reduce((sum, p) => sum + p.margin, 0n));
      },
    };
  }

  return { viem, networkHelpers, sys, wallets, owner, freshMarket };
}
