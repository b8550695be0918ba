import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";

const require = createRequire(import.meta.url);

// solc comes from the `solc` npm package (official wasm build): no compiler download, works offline.
// Keep `version` equal to the pinned `solc` package version in package.json.
const SOLC_VERSION = "0.8.28";

export default defineConfig({
  plugins: [hardhatViem, hardhatNetworkHelpers],
  solidity: {
    compilers: [
      {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
      },
    ],
    // Two files compile through the IR pipeline, which optimises across functions: the vault (its hedges are the
    // keeper's recurring cost; IR also makes it ~2.3 KB smaller) and the perp market a hedge calls. Together they
    // take a perp hedge at 10 series from ~183k to ~148k gas (`npm run gas`). Only these two: IR with the wasm solc
    // is slow (every file through IR takes ~10 minutes on CI's 2 cores, these two ~1). IR's dispatcher compares
    // selectors one by one, so a call that falls through to the vault's fallback (the extension's functions) costs
    // ~1k more than under the legacy pipeline. A file importing these (the Solidity tests) compiles its own copy
    // with the default settings: the same source, so the same behaviour.
    overrides: {
      "contracts/mocks/MockPerpMarket.sol": {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: { optimizer: { enabled: true, runs: 1_000_000 }, evmVersion: "cancun", viaIR: true },
      },
      "contracts/OptionVault.sol": {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: { optimizer: { enabled: true, runs: 1_000 }, evmVersion: "cancun", viaIR: true },
      },
    },
  },
  paths: {
    tests: { solidity: "./test/solidity" },
  },
  test: {
    solidity: {
      fuzz: { runs: 256, seed: "0x5eed" },
      invariant: { runs: 128, depth: 32, failOnRevert: false },
    },
  },
  // A local upstream node (Hardhat or anvil) reports chain id 31337; forking it needs its hardfork history, and
  // the descriptor's chainType must match the forking network's ("l1") or EDR ignores it.
  chainDescriptors: {
    31337: { name: "local", chainType: "l1", hardforkHistory: { cancun: { blockNumber: 0 } } },
  },
  networks: {
    // In-process EVM for unit tests.
    default: { type: "edr-simulated", chainType: "l1" },
    // An OP-stack chain as Hardhat simulates it (a working GasPriceOracle; receipts with l1Fee), for the L1-fee tests.
    opSimulated: { type: "edr-simulated", chainType: "op" },
    // A fork of whatever node FORK_URL points at (a local node by default). Tests override `forking.url`.
    fork: {
      type: "edr-simulated",
      chainType: "l1",
      forking: { url: process.env.FORK_URL ?? "http://127.0.0.1:8545" },
    },
    // A local node (anvil or `hardhat node`), with its unlocked accounts. LOCAL_RPC_URL points it elsewhere.
    localhost: {
      type: "http",
      chainType: "l1",
      url: configVariable("LOCAL_RPC_URL", { default: "http://127.0.0.1:8545" }),
    },
    // Public testnets for `npm run deploy -- --network <name>`. Config variables resolve lazily, on first use of
    // the network, so compiling and testing work with none of them set.
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    arbitrumSepolia: {
      type: "http",
      chainType: "generic",
      url: configVariable("ARBITRUM_SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
  },
});
