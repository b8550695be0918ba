/**
 * Gas measurements by scenario, shared by `npm run gas` (the report and its committed snapshot) and the tests
 * that hold the acceptance bounds. Gas on the simulated EVM is deterministic, so these are exact numbers.
 */
import { encodeFunctionData, type Abi, type Address } from "viem";
import { WAD, buyOptions, deploySystem, listSeries, priceE8, type HardhatViem, type System } from "./system.ts";

export interface GasRow {
  contract: string;
  fn: string;
  scenario: string;
  /** Receipt gasUsed for transactions; eth_estimateGas for views (both include the 21,000 base cost). */
  gas: number;
  kind: "tx" | "view";
}

const abs = (x: bigint) => (x < 0n ? -x : x);

async function deadline(sys: System) {
  return (await sys.publicClient.getBlock()).timestamp + 600n;
}

/** Strikes spread around the money so every series has a non-trivial delta. */
function strikeFor(i: number, count: number, spot: number) {
  const spread = count === 1 ? 0 : (i / (count - 1) - 0.5) * 0.4; // ±20%
  return Math.round(spot * (1 + spread));
}

/**
 * A vault with `count` live series (calls and puts alternating, options sold in each, expiries 7–90 days) and net
 * delta negative. Two keeper rebalances follow: the vault's first-ever hedge buys a quarter of |delta| (its
 * underlying balance goes from zero to non-zero: a 20k-gas fresh storage write in the token), then the
 * steady-state hedge buys the rest back to delta ≈ 0 — the case every later rebalance is in. On the perp, margin
 * is posted first (its gas returned as `marginGas`), and a second quarter is traded before the steady-state hedge:
 * it writes the market's funding rate from zero, which every later trade finds set.
 */
export async function rebalanceGasWithSeries(
  viem: HardhatViem,
  count: number,
  buyer: Address,
  venue: "amm" | "perp" | "amm, perp configured" = "amm",
) {
  // 10,000 WETH of depth keeps the one-shot hedge of the largest book inside the 1% slippage bound.
  const sys = await deploySystem(viem, {
    ammDepthUnderlying: 10_000,
    vaultDeposit: 5_000_000,
    ...(venue === "amm" ? {} : { perp: {} }),
  });
  for (let i = 0; i < count; i++) {
    const isCall = i % 2 === 0 || count === 1;
    const { id } = await listSeries(sys, isCall, strikeFor(i, count, 3000), 7 + ((i * 83) % 84));
    await buyOptions(sys, buyer, id, isCall ? 4 : 1);
  }
  const asKeeper = { account: sys.keeper.account };
  const buy = async (underlyingWad: bigint) => {
    if (venue === "perp") {
      const hash = await sys.vault.write.hedgePerp([underlyingWad, 2n ** 255n, await deadline(sys)], asKeeper);
      return Number((await sys.wait(hash)).gasUsed);
    }
    const amountIn = (await sys.amm.read.quoteExactOut([sys.quote.address, underlyingWad])) as bigint;
    const hash = await sys.vault.write.rebalance([true, amountIn, 0n, await deadline(sys)], asKeeper);
    return Number((await sys.wait(hash)).gasUsed);
  };
  const [st] = await sys.lens.read.stateOf([sys.vault.address, true]);
  if (st.netDeltaWad >= 0n) throw new Error(`scenario with ${count} series has delta ${st.netDeltaWad}, expected < 0`);
  let marginGas = 0;
  if (venue === "perp") {
    // Margin for the whole hedge: 30% of |delta| at 3,000 (the default bounds: 15%–40%).
    const margin = (BigInt(-st.netDeltaWad) * 3000n * 3n) / 10n / 10n ** 12n;
    marginGas = Number((await sys.wait(await sys.vault.write.postPerpMargin([margin], asKeeper))).gasUsed);
  }
  const firstGas = await buy(BigInt(-st.netDeltaWad) / 4n);
  if (venue === "perp") {
    // A second trade first: it starts the market's funding rate (a zero slot written), which steady trading has.
    await buy(BigInt(-st.netDeltaWad) / 4n);
  }
  const [mid] = await sys.lens.read.stateOf([sys.vault.address, true]);
  const gas = await buy(BigInt(-mid.netDeltaWad));
  const [after] = await sys.lens.read.stateOf([sys.vault.address, true]);
  if (abs(after.netDeltaWad) > WAD / 100n) throw new Error(`rebalance left delta ${after.netDeltaWad}`);
  return { gas, firstGas, marginGas, sys };
}

/** Every external function of the system, measured once in a realistic state. */
export async function measureAll(viem: HardhatViem): Promise<GasRow[]> {
  const rows: GasRow[] = [];
  const wallets = await viem.getWalletClients();
  const buyer = wallets[2]!.account.address;

  for (const count of [1, 10, 32]) {
    const { gas, firstGas } = await rebalanceGasWithSeries(viem, count, buyer);
    rows.push({ contract: "OptionVault", fn: "rebalance", scenario: `buy, ${count} live series`, gas, kind: "tx" });
    rows.push({ contract: "OptionVault", fn: "rebalance", scenario: `buy, ${count} live series, vault's first hedge`, gas: firstGas, kind: "tx" });
  }
  for (const count of [1, 10, 32]) {
    const { gas, firstGas, marginGas } = await rebalanceGasWithSeries(viem, count, buyer, "perp");
    rows.push({ contract: "OptionVault", fn: "hedgePerp", scenario: `buy, ${count} live series`, gas, kind: "tx" });
    rows.push({ contract: "OptionVault", fn: "hedgePerp", scenario: `buy, ${count} live series, vault's first hedge`, gas: firstGas, kind: "tx" });
    rows.push({ contract: "OptionVault", fn: "postPerpMargin", scenario: `${count} live series, first margin`, gas: marginGas, kind: "tx" });
  }
  {
    const { gas, sys } = await rebalanceGasWithSeries(viem, 10, buyer, "amm, perp configured");
    rows.push({ contract: "OptionVault", fn: "rebalance", scenario: "buy, 10 live series, perp venue configured", gas, kind: "tx" });
    const asKeeper = { account: sys.keeper.account };
    await sys.wait(await sys.vault.write.postPerpMargin([10_000n * 10n ** 6n], asKeeper));
    const back = await sys.wait(await sys.vault.write.withdrawPerpMargin([5_000n * 10n ** 6n], asKeeper));
    rows.push({ contract: "OptionVault", fn: "withdrawPerpMargin", scenario: "no position", gas: Number(back.gasUsed), kind: "tx" });
    const bounds = await sys.wait(await sys.vault.write.setPerpMarginBounds([1_500, 4_000]));
    rows.push({ contract: "OptionVault", fn: "setPerpMarginBounds", scenario: "", gas: Number(bounds.gasUsed), kind: "tx" });
  }

  const sys = await deploySystem(viem);
  const { vault, amm, oracle, quote, underlying, lens, upkeep, admin, keeper, publicClient } = sys;
  const me = admin.account.address;
  const asKeeper = { account: keeper.account };
  const pc = publicClient;
  const tx = async (contract: string, fn: string, scenario: string, send: () => Promise<`0x${string}`>, sys: System) => {
    const receipt = await sys.wait(await send());
    rows.push({ contract, fn, scenario, gas: Number(receipt.gasUsed), kind: "tx" });
    return receipt;
  };
  /** eth_estimateGas of a view call: what an on-chain caller would pay, including the 21,000 base. */
  const view = async (
    contract: string,
    fn: string,
    scenario: string,
    target: { address: Address; abi: Abi },
    args: readonly unknown[] = [],
  ) => {
    const data = encodeFunctionData({ abi: target.abi, functionName: fn, args } as never);
    const gas = await publicClient.estimateGas({ to: target.address, data, account: admin.account.address });
    rows.push({ contract, fn, scenario, gas: Number(gas), kind: "view" });
  };


  const now = (await pc.getBlock()).timestamp;
  await tx("OptionVault", "listSeries", "first series", () => vault.write.listSeries([true, 3000n * WAD, now + 30n * 86_400n]), sys);
  const callId = (await vault.read.seriesId([true, 3000n * WAD, now + 30n * 86_400n])) as `0x${string}`;
  const empty = await listSeries(sys, false, 2500, 10);
  await tx("OptionVault", "delistSeries", "empty series", () => vault.write.delistSeries([empty.id]), sys);
  for (let i = 0; i < 9; i++) await listSeries(sys, i % 2 === 0, 2600 + i * 100, 20 + i);

  const sizeWad = 10n * WAD;
  const premium = await vault.read.quoteOpen([callId, sizeWad]);
  await sys.wait(await quote.write.mint([me, premium * 2n]));
  await sys.wait(await quote.write.approve([vault.address, premium * 2n]));
  await view("OptionVault", "quoteOpen", "10 live series", vault, [callId, sizeWad]);
  await tx("OptionVault", "openPosition", "10 live series, first buyer", () => vault.write.openPosition([callId, sizeWad, premium, buyer]), sys);
  const premium2 = await vault.read.quoteOpen([callId, WAD]);
  await tx("OptionVault", "openPosition", "10 live series, existing buyer", () => vault.write.openPosition([callId, WAD, premium2, buyer]), sys);
  await view("OptionVault", "quoteClose", "10 live series", vault, [callId, WAD]);
  await tx("OptionVault", "closePosition", "10 live series", () => vault.write.closePosition([callId, WAD, 0n, buyer], { account: buyer }), sys);

  for (const fn of ["netDeltaWad", "hedgeStatus", "book", "totalAssets", "hedgeParams", "riskParams", "bookLimits", "paused", "pendingPayouts"]) {
    await view("OptionVault", fn, "10 live series", vault);
  }
  await view("VaultLens", "stateOf", "1 vault, 10 live series, full", lens, [vault.address, true]);
  await view("BandUpkeep", "checkUpkeep", "10 live series, hedge due", upkeep, ["0x"]);
  await tx("BandUpkeep", "performUpkeep", "10 live series, buy", () => upkeep.write.performUpkeep(["0x"], asKeeper), sys);

  // A fall makes the vault long: sell part of the hedge back.
  await sys.wait(await oracle.write.setPrice([priceE8(2985)]));
  await view("VaultLens", "snapshots", "1 vault, full", lens, [[vault.address], true]);
  await view("VaultLens", "snapshots", "10 vaults (same vault x10), light", lens, [Array(10).fill(vault.address), false]);
  await view("VaultLens", "read", "1 vault, full (a new or changed book)", lens, [[vault.address], true, keeper.account.address]);
  await view("VaultLens", "read", "1 vault, light (the keeper's per-block call)", lens, [[vault.address], false, keeper.account.address]);
  const net = await vault.read.netDeltaWad();
  if (net > 0n) {
    const sell = BigInt(net) / 2n;
    await tx("OptionVault", "rebalance", "sell, 10 live series", () => vault.write.rebalance([false, sell, 0n, now + 10n ** 6n], asKeeper), sys);
  }

  const amount = 10_000n * 10n ** 6n;
  await sys.wait(await quote.write.mint([me, amount * 2n]));
  await sys.wait(await quote.write.approve([vault.address, 2n ** 255n]));
  await tx("OptionVault", "deposit", "10 live series", () => vault.write.deposit([amount, me]), sys);
  await tx("OptionVault", "mint", "10 live series", async () => vault.write.mint([await vault.read.previewDeposit([amount]), me]), sys);
  // Minted shares are locked for an hour: let it pass, the oracle kept fresh.
  await pc.request({ method: "evm_increaseTime", params: [3601] } as never);
  await sys.wait(await oracle.write.setPrice([priceE8(2985)]));
  await view("OptionVault", "maxWithdraw", "10 live series", vault, [me]);
  await tx("OptionVault", "withdraw", "10 live series", () => vault.write.withdraw([amount, me, me]), sys);
  await tx("OptionVault", "redeem", "10 live series", async () => vault.write.redeem([await vault.read.previewWithdraw([amount]), me, me]), sys);

  const hp = await vault.read.hedgeParams();
  const rp = await vault.read.riskParams();
  await tx("OptionVault", "setHedgeParams", "", () => vault.write.setHedgeParams([hp]), sys);
  await tx("OptionVault", "setRiskParams", "", () => vault.write.setRiskParams([rp]), sys);
  await tx("OptionVault", "setBookLimits", "", async () => vault.write.setBookLimits([await vault.read.bookLimits()]), sys);
  await tx("OptionVault", "pause", "", () => vault.write.pause(), sys);
  await tx("OptionVault", "unpause", "", () => vault.write.unpause(), sys);

  // Settlement and claim of the 30-day call.
  const expiry = now + 30n * 86_400n;
  await pc.request({ method: "evm_setNextBlockTimestamp", params: [`0x${(expiry - 5n).toString(16)}`] } as never);
  await sys.wait(await oracle.write.setPrice([priceE8(3200)]));
  await pc.request({ method: "evm_setNextBlockTimestamp", params: [`0x${(expiry + 5n).toString(16)}`] } as never);
  await tx("MockOracle", "setPrice", "new round", () => oracle.write.setPrice([priceE8(3210)]), sys);
  const round = ((await oracle.read.latestRoundData()) as readonly [bigint, ...unknown[]])[0] - 1n;
  await tx("OptionVault", "settleSeries", "10 live series", () => vault.write.settleSeries([callId, round]), sys);
  await tx("OptionVault", "claim", "", () => vault.write.claim([callId, buyer], { account: buyer }), sys);

  // AMM and tokens.
  await sys.wait(await quote.write.mint([me, 10n ** 12n]));
  await sys.wait(await underlying.write.mint([me, 1000n * WAD]));
  await sys.wait(await quote.write.approve([amm.address, 2n ** 255n]));
  await sys.wait(await underlying.write.approve([amm.address, 2n ** 255n]));
  const far = (await pc.getBlock()).timestamp + 10n ** 6n;
  await tx("MockAmm", "swapExactIn", "quote → underlying", () => amm.write.swapExactIn([quote.address, 3_000n * 10n ** 6n, 0n, me, far]), sys);
  await tx("MockAmm", "swapExactIn", "underlying → quote", () => amm.write.swapExactIn([underlying.address, WAD, 0n, me, far]), sys);
  await tx("MockAmm", "addLiquidity", "existing pool", () => amm.write.addLiquidity([WAD, 4000n * 10n ** 6n, 0n, me]), sys);
  await tx("MockAmm", "removeLiquidity", "", () => amm.write.removeLiquidity([10n ** 15n, 0n, 0n, me]), sys);
  await view("MockAmm", "quoteExactIn", "", amm, [quote.address, 10n ** 9n]);
  await view("MockAmm", "quoteExactOut", "", amm, [quote.address, WAD]);
  await tx("MockERC20", "mint", "", () => quote.write.mint([buyer, 10n ** 6n]), sys);
  await tx("MockERC20", "transfer", "", () => quote.write.transfer([buyer, 10n ** 6n]), sys);
  await view("MockOracle", "latestRoundData", "", oracle, []);

  // Greeks library: gas of the library call itself (gasleft() around it in the harness), no transaction costs.
  const harness = await viem.deployContract("GreeksHarness");
  const input = { spotWad: 3000n * WAD, strikeWad: 3100n * WAD, volWad: (8n * WAD) / 10n, tauSeconds: 30n * 86_400n, rateWad: 0n, isCall: true };
  const scenario = "S=3000 K=3100 σ=80% τ=30d r=0, call";
  const [, deltaGas] = await harness.read.deltaBatch([[input]]);
  const [, priceGas] = await harness.read.priceBatch([[input]]);
  const [, greeksGas] = (await harness.read.greeksBatch([[input]])) as readonly [unknown, readonly bigint[]];
  rows.push({ contract: "BlackScholes", fn: "delta", scenario, gas: Number(deltaGas[0]), kind: "view" });
  rows.push({ contract: "BlackScholes", fn: "price", scenario, gas: Number(priceGas[0]), kind: "view" });
  rows.push({ contract: "BlackScholes", fn: "greeks", scenario, gas: Number(greeksGas[0]), kind: "view" });
  return rows;
}
