import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dotenv from "dotenv";
import { describe, expect, it } from "vitest";
import { encryptKeystore } from "../../keeper/chain/keystore.ts";
import {
  ConfigError,
  ENV_VARS,
  deploymentsSchema,
  describeConfig,
  loadEnvFile,
  parseConfig,
} from "../../keeper/config/index.ts";
import { redactUrl } from "../../keeper/telemetry/redact.ts";
import type { CliOverrides, Config, ConfigIssue } from "../../keeper/config/index.ts";

// Hardhat's well-known first test account: public knowledge, never funded outside a local chain.
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const VAULT_A = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const VAULT_B_LOWER = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";
const VAULT_B = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const LENS = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";

const BASE = {
  RPC_URL: "http://127.0.0.1:8545",
  PRIVATE_KEY: KEY,
  VAULTS: `${VAULT_A},${VAULT_B_LOWER}`,
  LENS_ADDRESS: LENS,
} as const;

type Env = Record<string, string | undefined>;

function configError(env: Env, overrides?: CliOverrides, deps?: { readFile?: (path: string) => string }): ConfigError {
  try {
    parseConfig(env, overrides, deps);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but the config parsed");
}

function issues(env: Env, overrides?: CliOverrides, deps?: { readFile?: (path: string) => string }): ConfigIssue[] {
  return [...configError(env, overrides, deps).issues];
}

/** The message lines of a config with one bad variable on top of a valid base. */
function problemWith(name: string, value: string): string {
  return configError({ ...BASE, [name]: value }).message;
}

const DEFAULT_CONFIG: Config = {
  rpc: { url: "http://127.0.0.1:8545", fallbackUrls: [], wsUrl: undefined, pollIntervalMs: 1000, lensCallGasBudget: 16_000_000 },
  expectedChainId: undefined,
  chainType: undefined,
  privateKey: KEY,
  signerSource: { kind: "private-key" },
  lens: LENS,
  vaults: [
    { address: VAULT_A, quoteDecimals: 6, underlyingDecimals: 18 },
    { address: VAULT_B, quoteDecimals: 6, underlyingDecimals: 18 },
  ],
  vaultSource: { kind: "list" },
  policy: { name: "gas-aware" },
  maxAbsDelta: undefined,
  risk: { riskAversion: 0.0001, horizonSeconds: 3600 },
  sending: {
    maxFeePerGasWei: 100_000_000_000n,
    maxPriorityFeePerGasWei: 2_000_000_000n,
    gasLimitPerHedge: 600_000n,
    maxSlippageBps: 100,
    minOutMarginBps: 10,
    deadlineSeconds: 300,
    confirmations: 1,
    gasTokenPriceQuote: undefined,
  },
  greeksTolerance: 1e-6,
  journalDir: ".keeper",
  shadow: false,
  resilience: {
    replaceAfterBlocks: 3,
    feeBumpPercent: 12.5,
    retryBackoffBlocks: 2,
    gasBudgetPerHourWei: undefined,
    gasBudgetPerDayWei: undefined,
    maxOracleDeviationBps: 1000,
  },
  turns: { peers: [], takeoverBlocks: 2 },
  telemetry: {
    metricsPort: undefined,
    statusHistoryBlocks: 3600,
    maxHeadAgeMs: 60_000,
    maxPendingBlocks: 10,
    maxOutOfBandBlocks: 20,
    minSignerBalanceWei: 10n ** 16n,
  },
  dryRun: false,
  log: { level: "info", pretty: false },
};

describe("parseConfig: a valid environment", () => {
  it("fills every unset variable with its documented default and checksums addresses", () => {
    expect(parseConfig(BASE)).toEqual(DEFAULT_CONFIG);
  });

  it("returns a deeply frozen object", () => {
    const config = parseConfig(BASE);
    const { rpc, vaults, policy, risk, sending, log } = config;
    for (const part of [config, rpc, rpc.fallbackUrls, vaults, vaults[0], policy, risk, sending, log]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    // ES modules are strict: writing to a frozen object throws.
    expect(() => {
      (config.sending as { confirmations: number }).confirmations = 5;
    }).toThrow(TypeError);
  });

  it("reads every variable when all are set, with units converted (gwei to wei, gas limit to bigint)", () => {
    const config = parseConfig({
      ...BASE,
      RPC_URLS: "https://a.example.com/v2/KEY, https://b.example.org",
      WS_URL: "wss://a.example.com/ws/KEY",
      POLL_INTERVAL_MS: "250",
      CHAIN_ID: "11155111",
      QUOTE_DECIMALS: "8",
      UNDERLYING_DECIMALS: "8",
      KEEPER_POLICY: "whalley-wilmott",
      POLICY_COST_RATE: "0.003",
      MAX_ABS_DELTA: "2.5",
      RISK_AVERSION: "2e-4",
      RISK_HORIZON_SECONDS: "600",
      MAX_FEE_GWEI: "1.5",
      MAX_PRIORITY_FEE_GWEI: "0.000000001",
      GAS_LIMIT_PER_HEDGE: "400000",
      MAX_SLIPPAGE_BPS: "50",
      MIN_OUT_MARGIN_BPS: "0",
      SWAP_DEADLINE_SECONDS: "120",
      CONFIRMATIONS: "3",
      GAS_PRICE_TOKEN_IN_QUOTE: "3000",
      GREEKS_TOLERANCE: "1e-9",
      JOURNAL_DIR: "/var/lib/keeper",
      DRY_RUN: "0",
      LOG_LEVEL: "debug",
      LOG_PRETTY: "TRUE",
    });
    expect(config).toEqual({
      ...DEFAULT_CONFIG,
      rpc: {
        url: "http://127.0.0.1:8545",
        fallbackUrls: ["https://a.example.com/v2/KEY", "https://b.example.org"],
        wsUrl: "wss://a.example.com/ws/KEY",
        pollIntervalMs: 250,
        lensCallGasBudget: 16_000_000,
      },
      expectedChainId: 11155111,
      // from the chain id: Sepolia is a plain L1
      chainType: "l1",
      vaults: [
        { address: VAULT_A, quoteDecimals: 8, underlyingDecimals: 8 },
        { address: VAULT_B, quoteDecimals: 8, underlyingDecimals: 8 },
      ],
      policy: { name: "whalley-wilmott", costRate: 0.003 },
      maxAbsDelta: 2.5,
      risk: { riskAversion: 2e-4, horizonSeconds: 600 },
      sending: {
        maxFeePerGasWei: 1_500_000_000n,
        maxPriorityFeePerGasWei: 1n,
        gasLimitPerHedge: 400_000n,
        maxSlippageBps: 50,
        minOutMarginBps: 0,
        deadlineSeconds: 120,
        confirmations: 3,
        gasTokenPriceQuote: 3000,
      },
      greeksTolerance: 1e-9,
      journalDir: "/var/lib/keeper",
      log: { level: "debug", pretty: true },
    });
  });

  it.each([
    [{ KEEPER_POLICY: "every-block", POLICY_MIN_TRADE: "0.1" }, { name: "every-block", minTrade: 0.1 }],
    [{ KEEPER_POLICY: "interval" }, { name: "interval", intervalBlocks: 10, minTrade: 0.01 }],
    [
      { KEEPER_POLICY: "interval", POLICY_INTERVAL_BLOCKS: "5", POLICY_MIN_TRADE: "0" },
      { name: "interval", intervalBlocks: 5, minTrade: 0 },
    ],
    [{ KEEPER_POLICY: "band" }, { name: "band", band: 0.5, target: "zero" }],
    [{ KEEPER_POLICY: "band", POLICY_BAND: "2", POLICY_TARGET: "edge" }, { name: "band", band: 2, target: "edge" }],
    [{ KEEPER_POLICY: "whalley-wilmott" }, { name: "whalley-wilmott" }],
    [{ KEEPER_POLICY: "gas-aware", POLICY_BAND: "3" }, { name: "gas-aware" }],
    [
      { KEEPER_POLICY: "delay-cap" },
      { name: "delay-cap", minDelayBlocks: 10, maxHedge: Number.POSITIVE_INFINITY, minTrade: 0.01 },
    ],
    [
      { KEEPER_POLICY: "delay-cap", POLICY_MIN_DELAY_BLOCKS: "25", POLICY_MAX_HEDGE: "5", POLICY_MIN_TRADE: "0.1" },
      { name: "delay-cap", minDelayBlocks: 25, maxHedge: 5, minTrade: 0.1 },
    ],
    [{ KEEPER_POLICY: "time-or-move" }, { name: "time-or-move", maxBlocks: 300, moveBps: 100, minTrade: 0.01 }],
    [
      { KEEPER_POLICY: "time-or-move", POLICY_TIME_BLOCKS: "50", POLICY_MOVE_BPS: "12.5", POLICY_MIN_TRADE: "0" },
      { name: "time-or-move", maxBlocks: 50, moveBps: 12.5, minTrade: 0 },
    ],
    [
      { KEEPER_POLICY: "band", POLICY_TIME_BLOCKS: "50", POLICY_MAX_HEDGE: "5" },
      { name: "band", band: 0.5, target: "zero" },
    ],
  ])("builds the PolicyConfig for %o", (env, policy) => {
    expect(parseConfig({ ...BASE, ...env }).policy).toEqual(policy);
  });

  it("trims values and treats empty ones as unset (a copied .env.example with blank lines is valid)", () => {
    const config = parseConfig({ ...BASE, VAULTS: ` ${VAULT_A} ,`, WS_URL: "", POLL_INTERVAL_MS: " 500 ", CHAIN_ID: "  " });
    expect(config.vaults.map((vault) => vault.address)).toEqual([VAULT_A]);
    expect(config.rpc.wsUrl).toBeUndefined();
    expect(config.rpc.pollIntervalMs).toBe(500);
    expect(config.expectedChainId).toBeUndefined();
  });

  it("drops fallback URLs that repeat RPC_URL or each other", () => {
    const config = parseConfig({ ...BASE, RPC_URLS: "http://127.0.0.1:8545,https://b.example.org,https://b.example.org" });
    expect(config.rpc.fallbackUrls).toEqual(["https://b.example.org"]);
  });

  it("does not require PRIVATE_KEY in a dry run, from DRY_RUN or from the --dry-run override", () => {
    const { PRIVATE_KEY: _, ...withoutKey } = BASE;
    expect(parseConfig({ ...withoutKey, DRY_RUN: "true" })).toMatchObject({
      dryRun: true,
      privateKey: undefined,
      signerSource: { kind: "none" },
    });
    expect(parseConfig({ ...withoutKey, DRY_RUN: "1" }).dryRun).toBe(true);
    expect(parseConfig(withoutKey, { dryRun: true })).toMatchObject({ dryRun: true, privateKey: undefined });
  });
});

describe("parseConfig: missing variables", () => {
  it("reports RPC_URL, PRIVATE_KEY and the vault source together on an empty environment", () => {
    expect(issues({}).map((issue) => issue.variable)).toEqual(["RPC_URL", "PRIVATE_KEY", "VAULTS"]);
    expect(configError({}).message).toContain("VAULTS: is required: set VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE");
  });

  it("requires PRIVATE_KEY (or KEYSTORE_PATH) when not in a dry run", () => {
    const { PRIVATE_KEY: _, ...withoutKey } = BASE;
    expect(issues(withoutKey)).toEqual([
      {
        variable: "PRIVATE_KEY",
        problem:
          "PRIVATE_KEY or KEYSTORE_PATH is required unless DRY_RUN=true (or --dry-run): the keeper's signing key, " +
          "raw or in an encrypted JSON keystore",
      },
    ]);
    expect(issues({ ...withoutKey, DRY_RUN: "false" }).map((issue) => issue.variable)).toEqual(["PRIVATE_KEY"]);
  });

  it("requires LENS_ADDRESS with VAULTS", () => {
    const { LENS_ADDRESS: _, ...withoutLens } = BASE;
    expect(issues(withoutLens).map((issue) => issue.variable)).toEqual(["LENS_ADDRESS"]);
  });

  it("rejects VAULTS that lists no address", () => {
    expect(problemWith("VAULTS", " , ")).toBe("VAULTS: must list at least one vault address");
  });
});

describe("parseConfig: malformed values", () => {
  it("names the allowed policies and the value received", () => {
    expect(problemWith("KEEPER_POLICY", "bnad")).toBe(
      "KEEPER_POLICY: must be one of every-block, interval, band, whalley-wilmott, gas-aware, delay-cap, " +
        'time-or-move (got "bnad")',
    );
  });

  it.each([
    ["LOG_LEVEL", "verbose", 'LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent (got "verbose")'],
    ["POLICY_TARGET", "middle", 'POLICY_TARGET: must be one of zero, edge (got "middle")'],
    ["DRY_RUN", "yes", 'DRY_RUN: must be true, false, 1 or 0 (got "yes")'],
    ["LOG_PRETTY", "on", 'LOG_PRETTY: must be true, false, 1 or 0 (got "on")'],
  ])("rejects a bad enum or boolean: %s=%s", (name, value, message) => {
    expect(problemWith(name, value)).toBe(message);
  });

  it("does not also demand PRIVATE_KEY when DRY_RUN itself is malformed", () => {
    const { PRIVATE_KEY: _, ...withoutKey } = BASE;
    expect(issues({ ...withoutKey, DRY_RUN: "maybe" }).map((issue) => issue.variable)).toEqual(["DRY_RUN"]);
  });

  it.each([
    ["abc"],
    ["0x10"],
    ["Infinity"],
    ["1,000"],
    ["1e3"],
    ["-5"],
    ["0"],
    ["1.0000000001"],
  ])("rejects MAX_FEE_GWEI=%s with the rule and the value", (value) => {
    expect(problemWith("MAX_FEE_GWEI", value)).toBe(
      `MAX_FEE_GWEI: must be a number of gwei greater than 0, in decimal notation with at most 9 decimals (1 wei = 1e-9 gwei) (got "${value}")`,
    );
  });

  it("rejects a priority fee above the fee cap", () => {
    expect(configError({ ...BASE, MAX_FEE_GWEI: "1", MAX_PRIORITY_FEE_GWEI: "2" }).message).toBe(
      'MAX_PRIORITY_FEE_GWEI: must not exceed MAX_FEE_GWEI (1) (got "2")',
    );
  });

  it.each([["abc"], ["0x10"], ["NaN"], ["Infinity"], ["1_000"], ["1e999"]])("rejects a non-number: %s", (value) => {
    expect(problemWith("GAS_PRICE_TOKEN_IN_QUOTE", value)).toBe(
      `GAS_PRICE_TOKEN_IN_QUOTE: must be a number greater than 0 (got "${value}")`,
    );
  });

  it("rejects a bad address in VAULTS, naming the entry", () => {
    expect(problemWith("VAULTS", `${VAULT_A},0x1234`)).toBe(
      'VAULTS: entry 2 "0x1234" is not an address (0x + 40 hex digits, checksummed or lowercase)',
    );
  });

  it("rejects a mixed-case address with a bad checksum, and a repeated vault", () => {
    const badChecksum = VAULT_A.replace("F", "f");
    expect(problemWith("VAULTS", badChecksum)).toBe(
      `VAULTS: entry 1 "${badChecksum}" has a bad checksum (check for a typo, or give it in lowercase)`,
    );
    expect(problemWith("VAULTS", `${VAULT_A},${VAULT_A.toLowerCase()}`)).toBe(`VAULTS: entry 2 repeats ${VAULT_A}`);
  });

  it("rejects a bad LENS_ADDRESS", () => {
    expect(problemWith("LENS_ADDRESS", "lens")).toBe(
      'LENS_ADDRESS: is not an address (0x + 40 hex digits, checksummed or lowercase) (got "lens")',
    );
  });

  it.each([
    ["RPC_URL", "ws://127.0.0.1:8545", 'RPC_URL: must be an http(s) URL (got "ws://127.0.0.1:8545"; WebSocket endpoints go in WS_URL)'],
    ["WS_URL", "https://example.com", 'WS_URL: must be a ws(s) URL (got "https://example.com")'],
    ["RPC_URLS", "https://a.example.com,ftp://b.example.com", 'RPC_URLS: entry 2 must be an http(s) URL (got "ftp://b.example.com")'],
  ])("rejects a URL of the wrong scheme: %s=%s", (name, value, message) => {
    expect(problemWith(name, value)).toBe(message);
  });

  describe("PRIVATE_KEY", () => {
    const malformed = [
      ["too short", KEY.slice(0, -1)],
      ["too long", `${KEY}0`],
      ["without 0x", KEY.slice(2)],
      ["not hex", `0x${"g".repeat(64)}`],
      ["with a space inside", `${KEY.slice(0, 30)} ${KEY.slice(30)}`],
    ] as const;

    it.each(malformed)("rejects a key %s without echoing any of it", (_, key) => {
      const error = configError({ ...BASE, PRIVATE_KEY: key });
      expect(error.issues.map((issue) => issue.variable)).toEqual(["PRIVATE_KEY"]);
      expect(error.message).toMatch(/^PRIVATE_KEY: must be 0x followed by 64 hex digits \(.*value not shown\)$/);
      for (const text of [error.message, JSON.stringify(error.issues), String(error.stack)]) {
        // Not even a fragment: any 8 consecutive characters of the key body.
        for (let start = 2; start + 8 <= key.length; start += 4) expect(text).not.toContain(key.slice(start, start + 8));
      }
    });

    it("says what is wrong without the value", () => {
      expect(problemWith("PRIVATE_KEY", KEY.slice(2))).toBe(
        "PRIVATE_KEY: must be 0x followed by 64 hex digits (it lacks the 0x prefix; value not shown)",
      );
      expect(problemWith("PRIVATE_KEY", KEY.slice(0, -1))).toBe(
        "PRIVATE_KEY: must be 0x followed by 64 hex digits (got 65 characters; value not shown)",
      );
    });

    it("rejects a well-formed key outside the secp256k1 range", () => {
      for (const key of [`0x${"0".repeat(64)}`, `0x${"f".repeat(64)}`]) {
        expect(problemWith("PRIVATE_KEY", key)).toBe(
          "PRIVATE_KEY: is not a valid secp256k1 private key: it must be between 1 and the curve order (value not shown)",
        );
      }
    });
  });
});

describe("parseConfig: out of range", () => {
  it.each([
    ["POLL_INTERVAL_MS", "50", "an integer from 100 to 60000"],
    ["POLL_INTERVAL_MS", "60001", "an integer from 100 to 60000"],
    ["POLL_INTERVAL_MS", "1000.5", "an integer from 100 to 60000"],
    ["MAX_SLIPPAGE_BPS", "0", "an integer from 1 to 1000"],
    ["MAX_SLIPPAGE_BPS", "1001", "an integer from 1 to 1000"],
    ["MIN_OUT_MARGIN_BPS", "-1", "an integer from 0 to 1000"],
    ["CONFIRMATIONS", "0", "an integer from 1 to 64"],
    ["CONFIRMATIONS", "65", "an integer from 1 to 64"],
    ["CONFIRMATIONS", "1.5", "an integer from 1 to 64"],
    ["GAS_LIMIT_PER_HEDGE", "20999", "an integer from 21000 to 30000000"],
    ["GAS_LIMIT_PER_HEDGE", "30000001", "an integer from 21000 to 30000000"],
    ["RISK_AVERSION", "0", "a number greater than 0"],
    ["RISK_AVERSION", "-0.0001", "a number greater than 0"],
    ["RISK_HORIZON_SECONDS", "0", "a number greater than 0"],
    ["POLICY_BAND", "0", "a number greater than 0"],
    ["POLICY_MIN_TRADE", "-0.01", "a number of at least 0"],
    ["POLICY_INTERVAL_BLOCKS", "0", "an integer from 1 to 1000000"],
    ["POLICY_COST_RATE", "0.2", "a number from 0 to 0.1"],
    ["POLICY_MIN_DELAY_BLOCKS", "0", "an integer from 1 to 1000000"],
    ["POLICY_MIN_DELAY_BLOCKS", "2.5", "an integer from 1 to 1000000"],
    ["POLICY_MIN_DELAY_BLOCKS", "1000001", "an integer from 1 to 1000000"],
    ["POLICY_MAX_HEDGE", "0", "a number greater than 0"],
    ["POLICY_MAX_HEDGE", "-5", "a number greater than 0"],
    ["POLICY_MAX_HEDGE", "Infinity", "a number greater than 0"],
    ["POLICY_TIME_BLOCKS", "0", "an integer from 1 to 1000000"],
    ["POLICY_TIME_BLOCKS", "1000001", "an integer from 1 to 1000000"],
    ["POLICY_TIME_BLOCKS", "12.5", "an integer from 1 to 1000000"],
    ["POLICY_MOVE_BPS", "0", "a number greater than 0 and at most 10000"],
    ["POLICY_MOVE_BPS", "10001", "a number greater than 0 and at most 10000"],
    ["POLICY_MOVE_BPS", "1%", "a number greater than 0 and at most 10000"],
    ["GREEKS_TOLERANCE", "0", "a number greater than 0 and at most 1"],
    ["QUOTE_DECIMALS", "37", "an integer from 0 to 36"],
    ["UNDERLYING_DECIMALS", "-1", "an integer from 0 to 36"],
    ["CHAIN_ID", "0", "an integer of at least 1"],
    ["METRICS_PORT", "-1", "an integer from 0 to 65535"],
    ["METRICS_PORT", "65536", "an integer from 0 to 65535"],
    ["SWAP_DEADLINE_SECONDS", "29", "an integer from 30 to 3600"],
    ["SWAP_DEADLINE_SECONDS", "3601", "an integer from 30 to 3600"],
    ["SWAP_DEADLINE_SECONDS", "90.5", "an integer from 30 to 3600"],
  ])("rejects %s=%s: must be %s", (name, value, rule) => {
    expect(issues({ ...BASE, [name]: value })).toEqual([{ variable: name, problem: `must be ${rule} (got "${value}")` }]);
  });

  it("accepts the bounds themselves", () => {
    const bounds = { POLL_INTERVAL_MS: "100", MAX_SLIPPAGE_BPS: "1000", CONFIRMATIONS: "64", POLICY_COST_RATE: "0.1" };
    const config = parseConfig({ ...BASE, ...bounds, SWAP_DEADLINE_SECONDS: "30" });
    expect(config.sending.deadlineSeconds).toBe(30);
    expect(parseConfig({ ...BASE, SWAP_DEADLINE_SECONDS: "3600" }).sending.deadlineSeconds).toBe(3600);
    expect(config.rpc.pollIntervalMs).toBe(100);
    expect(config.sending.maxSlippageBps).toBe(1000);
    expect(config.sending.confirmations).toBe(64);
  });

  it("accepts METRICS_PORT=0: the OS picks the port (the keeper logs the one it bound)", () => {
    expect(parseConfig({ ...BASE, METRICS_PORT: "0" }).telemetry.metricsPort).toBe(0);
  });
});

describe("parseConfig: every issue at once", () => {
  it("reports several bad variables in one error, one line per issue", () => {
    const error = configError({
      RPC_URL: "not a url",
      PRIVATE_KEY: "0xdeadbeef",
      VAULTS: "0x1234",
      LENS_ADDRESS: LENS,
      POLL_INTERVAL_MS: "5",
      KEEPER_POLICY: "bnad",
      MAX_FEE_GWEI: "lots",
      CONFIRMATIONS: "100",
      LOG_PRETTY: "maybe",
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ConfigError");
    // In .env.example's order.
    expect(error.issues.map((issue) => issue.variable)).toEqual([
      "RPC_URL",
      "POLL_INTERVAL_MS",
      "PRIVATE_KEY",
      "VAULTS",
      "KEEPER_POLICY",
      "MAX_FEE_GWEI",
      "CONFIRMATIONS",
      "LOG_PRETTY",
    ]);
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(8);
    expect(lines).toEqual(error.issues.map((issue) => `${issue.variable}: ${issue.problem}`));
    expect(error.message).not.toContain("deadbeef");
  });
});

describe("parseConfig: secrets in URLs", () => {
  it("shows only the scheme and host of a rejected URL", () => {
    const message = problemWith("RPC_URL", "wss://alice:s3cret@eth-sepolia.example.com/v2/APIKEY123?token=T0K");
    expect(message).toContain("wss://eth-sepolia.example.com/…");
    for (const secret of ["alice", "s3cret", "APIKEY123", "T0K"]) expect(message).not.toContain(secret);
  });

  it("does not show a value that is not a URL at all (it may be a bare key)", () => {
    const message = problemWith("RPC_URL", "eth-sepolia.example.com/v2/APIKEY123");
    expect(message).toBe(
      "RPC_URL: must be an http(s) URL, e.g. https://host/path (got a value that is not a URL; not shown, as it may hold an API key)",
    );
    expect(problemWith("RPC_URLS", "APIKEY123")).not.toContain("APIKEY123");
    expect(problemWith("WS_URL", "https://x.example.com/APIKEY123")).not.toContain("APIKEY123");
  });

  it("redactUrl keeps scheme and host, and marks anything dropped", () => {
    expect(redactUrl("https://eth-sepolia.example.com/v2/KEY")).toBe("https://eth-sepolia.example.com/…");
    expect(redactUrl("https://user:pass@host.example.com")).toBe("https://host.example.com/…");
    expect(redactUrl("https://host.example.com/?apikey=KEY")).toBe("https://host.example.com/…");
    expect(redactUrl("http://127.0.0.1:8545")).toBe("http://127.0.0.1:8545");
    expect(redactUrl("not a url KEY")).toBe("<not a URL>");
  });

  it("describeConfig is safe to log: no key, no URL path, no bigint", () => {
    const config = parseConfig({
      ...BASE,
      RPC_URL: "https://rpc.example.com/v2/APIKEY123",
      WS_URL: "wss://rpc.example.com/ws/APIKEY123",
    });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain("APIKEY123");
    expect(text).not.toContain(KEY.slice(2));
    expect(describeConfig(config)).toMatchObject({
      rpc: { url: "https://rpc.example.com/…", wsUrl: "wss://rpc.example.com/…" },
      signer: "private key",
      sending: { maxFeeGwei: "100", maxPriorityFeeGwei: "2", gasLimitPerHedge: 600000 },
    });
  });

  it("describeConfig shows an uncapped delay-cap hedge as \"none\", not as JSON's null for Infinity", () => {
    const uncapped = describeConfig(parseConfig({ ...BASE, KEEPER_POLICY: "delay-cap" }));
    expect(JSON.parse(JSON.stringify(uncapped)).policy).toEqual({
      name: "delay-cap",
      minDelayBlocks: 10,
      maxHedge: "none",
      minTrade: 0.01,
    });
    const capped = describeConfig(parseConfig({ ...BASE, KEEPER_POLICY: "delay-cap", POLICY_MAX_HEDGE: "5" }));
    expect(capped.policy).toMatchObject({ maxHedge: 5 });
  });
});

describe("parseConfig: keystore signer", () => {
  const PATH = "/etc/delta-keeper/keystore.json";
  const PASSWORD_PATH = "/run/secrets/keystore-password";
  const PASSWORD = "  correct horse battery staple";
  // Small scrypt n: the format is the same, the work 256x less.
  const KEYSTORE = encryptKeystore(KEY, PASSWORD, { n: 1024 });
  const { PRIVATE_KEY: _, ...WITHOUT_KEY } = BASE;
  const ENV = { ...WITHOUT_KEY, KEYSTORE_PATH: PATH, KEYSTORE_PASSWORD_FILE: PASSWORD_PATH };

  function files(contents: Record<string, string>) {
    return {
      readFile(path: string): string {
        const text = contents[path];
        if (text === undefined) {
          throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
        }
        return text;
      },
    };
  }
  const valid = files({ [PATH]: KEYSTORE, [PASSWORD_PATH]: `${PASSWORD}\n` });

  /** Neither the password nor any part of the key. */
  function expectNoSecrets(text: string): void {
    expect(text).not.toContain(PASSWORD.trim());
    expect(text.toLowerCase()).not.toContain(KEY.slice(2, 18));
  }

  it("decrypts KEYSTORE_PATH with the password in KEYSTORE_PASSWORD_FILE into privateKey", () => {
    const config = parseConfig(ENV, {}, valid);
    expect(config).toEqual({ ...DEFAULT_CONFIG, privateKey: KEY, signerSource: { kind: "keystore", path: PATH } });
    // One trailing newline is stripped; leading spaces are part of the password. CRLF works too.
    const crlf = files({ [PATH]: KEYSTORE, [PASSWORD_PATH]: `${PASSWORD}\r\n` });
    expect(parseConfig(ENV, {}, crlf).privateKey).toBe(KEY);
    const trimmed = files({ [PATH]: KEYSTORE, [PASSWORD_PATH]: `${PASSWORD.trim()}\n` });
    expect(issues(ENV, {}, trimmed).map((issue) => issue.variable)).toEqual(["KEYSTORE_PATH"]);
  });

  it("describeConfig shows the keystore's path, never the key or the password", () => {
    const described = describeConfig(parseConfig(ENV, {}, valid));
    expect(described).toMatchObject({ signer: `keystore ${PATH}` });
    expectNoSecrets(JSON.stringify(described));
    expect(describeConfig(parseConfig({ ...WITHOUT_KEY, DRY_RUN: "true" }))).toMatchObject({ signer: "none" });
  });

  it("takes the password verbatim from KEYSTORE_PASSWORD (discouraged)", () => {
    const { KEYSTORE_PASSWORD_FILE: _f, ...withoutFile } = ENV;
    expect(parseConfig({ ...withoutFile, KEYSTORE_PASSWORD: PASSWORD }, {}, valid).privateKey).toBe(KEY);
  });

  it("reads the keystore and the password file from disk when no readFile is injected", () => {
    const dir = mkdtempSync(join(tmpdir(), "keeper-keystore-"));
    writeFileSync(join(dir, "keystore.json"), KEYSTORE);
    writeFileSync(join(dir, "password"), `${PASSWORD}\n`);
    const env = { ...ENV, KEYSTORE_PATH: join(dir, "keystore.json"), KEYSTORE_PASSWORD_FILE: join(dir, "password") };
    expect(parseConfig(env).privateKey).toBe(KEY);
  });

  it("decrypts in a dry run too, as PRIVATE_KEY is read in one", () => {
    expect(parseConfig({ ...ENV, DRY_RUN: "true" }, {}, valid)).toMatchObject({ dryRun: true, privateKey: KEY });
  });

  it("rejects PRIVATE_KEY and KEYSTORE_PATH together, on both", () => {
    expect(issues({ ...ENV, PRIVATE_KEY: KEY }, {}, valid)).toEqual([
      { variable: "PRIVATE_KEY", problem: "cannot be combined with KEYSTORE_PATH: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
      { variable: "KEYSTORE_PATH", problem: "cannot be combined with PRIVATE_KEY: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
    ]);
  });

  it("requires a password source with KEYSTORE_PATH, and only one", () => {
    const { KEYSTORE_PASSWORD_FILE: _f, ...withoutPassword } = ENV;
    expect(issues(withoutPassword, {}, valid)).toEqual([
      {
        variable: "KEYSTORE_PASSWORD_FILE",
        problem: "is required with KEYSTORE_PATH: a file holding the keystore's password (or, discouraged, set KEYSTORE_PASSWORD)",
      },
    ]);
    const both = configError({ ...ENV, KEYSTORE_PASSWORD: PASSWORD }, {}, valid);
    expect(both.issues).toEqual([
      { variable: "KEYSTORE_PASSWORD", problem: "cannot be combined with KEYSTORE_PASSWORD_FILE: give one (the file is safer)" },
    ]);
    expectNoSecrets(both.message);
  });

  it("rejects a password source without KEYSTORE_PATH", () => {
    const error = configError({ ...BASE, KEYSTORE_PASSWORD_FILE: PASSWORD_PATH, KEYSTORE_PASSWORD: PASSWORD }, {}, valid);
    expect(error.issues).toEqual([
      { variable: "KEYSTORE_PASSWORD_FILE", problem: "is used only with KEYSTORE_PATH, which is not set" },
      { variable: "KEYSTORE_PASSWORD", problem: "is used only with KEYSTORE_PATH, which is not set" },
    ]);
    expectNoSecrets(error.message);
  });

  it("reports a wrong password on KEYSTORE_PATH, without the password", () => {
    const wrong = files({ [PATH]: KEYSTORE, [PASSWORD_PATH]: "Tr0ub4dor&3\n" });
    const error = configError(ENV, {}, wrong);
    expect(error.issues).toEqual([
      {
        variable: "KEYSTORE_PATH",
        problem: `${PATH}: the keystore's MAC does not match: wrong password or corrupted file`,
      },
    ]);
    expect(error.message).not.toContain("Tr0ub4dor");
    expectNoSecrets(error.message);
  });

  it("reports a keystore that is not one (here, a raw key) without showing its content", () => {
    const rawKey = files({ [PATH]: `${KEY}\n`, [PASSWORD_PATH]: PASSWORD });
    const error = configError(ENV, {}, rawKey);
    expect(error.message).toBe(`KEYSTORE_PATH: ${PATH}: the keystore is not valid JSON`);
    expectNoSecrets(error.message);
    const v1 = files({ [PATH]: JSON.stringify({ version: 1 }), [PASSWORD_PATH]: PASSWORD });
    expect(configError(ENV, {}, v1).message).toBe(`KEYSTORE_PATH: ${PATH}: not a version 3 keystore (version: 1)`);
  });

  it("reports unreadable files on their variables", () => {
    expect(issues(ENV, {}, files({}))).toEqual([
      { variable: "KEYSTORE_PATH", problem: `cannot read ${PATH} (no such file)` },
      { variable: "KEYSTORE_PASSWORD_FILE", problem: `cannot read ${PASSWORD_PATH} (no such file)` },
    ]);
  });

  it("lists keystore issues with the other signer issues, in .env.example's order", () => {
    const found = issues({ RPC_URL: "not a url", KEYSTORE_PATH: PATH, LOG_PRETTY: "maybe" }, {}, valid);
    expect(found.map((issue) => issue.variable)).toEqual(["RPC_URL", "KEYSTORE_PASSWORD_FILE", "VAULTS", "LOG_PRETTY"]);
  });
});

describe("parseConfig: deployments file", () => {
  const FILE = "deployments/31337.json";
  const DEPLOYMENTS = {
    chainId: 31337,
    lens: LENS.toLowerCase(),
    amm: "0x0000000000000000000000000000000000000001",
    vaults: [
      { address: VAULT_A, quoteDecimals: 6, underlyingDecimals: 18, name: "ETH weekly" },
      { address: VAULT_B_LOWER, quoteDecimals: 8, underlyingDecimals: 8 },
    ],
  };
  const { VAULTS: _vaults, LENS_ADDRESS: _lens, ...WITHOUT_VAULTS } = BASE;
  const ENV = { ...WITHOUT_VAULTS, DEPLOYMENTS_FILE: FILE };

  function files(contents: Record<string, string>) {
    return {
      readFile(path: string): string {
        const text = contents[path];
        if (text === undefined) {
          throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: "ENOENT" });
        }
        return text;
      },
    };
  }
  const valid = files({ [FILE]: JSON.stringify(DEPLOYMENTS) });

  it("takes the lens, the vaults with their own decimals, and the chain id from the file", () => {
    const config = parseConfig(ENV, {}, valid);
    expect(config.lens).toBe(LENS);
    expect(config.vaults).toEqual([
      { address: VAULT_A, quoteDecimals: 6, underlyingDecimals: 18 },
      { address: VAULT_B, quoteDecimals: 8, underlyingDecimals: 8 },
    ]);
    expect(config.expectedChainId).toBe(31337);
    expect(config.vaultSource).toEqual({ kind: "deployments", path: FILE });
    expect(Object.isFrozen(config.vaults[1])).toBe(true);
  });

  it("reads the file from disk when no readFile is injected", () => {
    const dir = mkdtempSync(join(tmpdir(), "keeper-config-"));
    const path = join(dir, "31337.json");
    writeFileSync(path, JSON.stringify(DEPLOYMENTS));
    expect(parseConfig({ ...ENV, DEPLOYMENTS_FILE: path }).vaults).toHaveLength(2);
    expect(issues({ ...ENV, DEPLOYMENTS_FILE: join(dir, "1.json") })).toEqual([
      { variable: "DEPLOYMENTS_FILE", problem: `cannot read ${join(dir, "1.json")} (no such file)` },
    ]);
  });

  it("reports a missing file", () => {
    expect(configError(ENV, {}, files({})).message).toBe(`DEPLOYMENTS_FILE: cannot read ${FILE} (no such file)`);
  });

  it("reports malformed JSON", () => {
    const error = configError(ENV, {}, files({ [FILE]: "{ chainId: 31337," }));
    expect(error.issues).toHaveLength(1);
    expect(error.message).toMatch(/^DEPLOYMENTS_FILE: deployments\/31337\.json is not valid JSON \(.+\)$/);
  });

  it("reports every field of the wrong shape, with its path", () => {
    const wrong = { chainId: "31337", vaults: [{ address: "0x1234", quoteDecimals: 6.5, underlyingDecimals: 18 }] };
    const found = issues(ENV, {}, files({ [FILE]: JSON.stringify(wrong) }));
    expect(found.every((issue) => issue.variable === "DEPLOYMENTS_FILE")).toBe(true);
    expect(found.map((issue) => issue.problem)).toEqual([
      `${FILE}: chainId: Expected number, received string`,
      `${FILE}: lens: Required`,
      `${FILE}: vaults[0].address: not an address (0x + 40 hex digits, checksummed or lowercase)`,
      `${FILE}: vaults[0].quoteDecimals: Expected integer, received float`,
    ]);
    expect(issues(ENV, {}, files({ [FILE]: "[]" }))[0]?.problem).toBe(`${FILE}: (root): Expected object, received array`);
    const noVaults = JSON.stringify({ ...DEPLOYMENTS, vaults: [] });
    expect(issues(ENV, {}, files({ [FILE]: noVaults }))[0]?.problem).toMatch(/^deployments\/31337\.json: vaults: /);
  });

  it("rejects a file that lists a vault twice", () => {
    const twice = { ...DEPLOYMENTS, vaults: [DEPLOYMENTS.vaults[0], { ...DEPLOYMENTS.vaults[0], address: VAULT_A.toLowerCase() }] };
    expect(configError(ENV, {}, files({ [FILE]: JSON.stringify(twice) })).message).toBe(
      `DEPLOYMENTS_FILE: ${FILE}: vaults[1].address repeats ${VAULT_A}`,
    );
  });

  it("rejects a CHAIN_ID that disagrees with the file, and accepts one that agrees", () => {
    expect(configError({ ...ENV, CHAIN_ID: "1" }, {}, valid).message).toBe("CHAIN_ID: is 1 but DEPLOYMENTS_FILE is for chain 31337");
    expect(parseConfig({ ...ENV, CHAIN_ID: "31337" }, {}, valid).expectedChainId).toBe(31337);
  });

  it("requires exactly one vault source", () => {
    expect(issues({ ...ENV, VAULTS: VAULT_A, LENS_ADDRESS: LENS, QUOTE_DECIMALS: "6" }, {}, valid)).toEqual(
      ["VAULTS", "LENS_ADDRESS", "QUOTE_DECIMALS"].map((variable) => ({
        variable,
        problem: "cannot be combined with DEPLOYMENTS_FILE: give VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE, not both",
      })),
    );
  });

  it("the deployments schema is exported and accepts the documented minimum", () => {
    const minimum = { chainId: 1, lens: LENS, vaults: [{ address: VAULT_A, quoteDecimals: 6, underlyingDecimals: 18 }] };
    expect(deploymentsSchema.parse(minimum)).toEqual(minimum);
  });

  it("--vault selects a subset of the file's vaults, and rejects one not in it", () => {
    expect(parseConfig(ENV, { vaults: [VAULT_B_LOWER] }, valid).vaults).toEqual([
      { address: VAULT_B, quoteDecimals: 8, underlyingDecimals: 8 },
    ]);
    expect(configError(ENV, { vaults: [LENS] }, valid).message).toBe(`--vault: not in DEPLOYMENTS_FILE ${FILE}: ${LENS}`);
  });
});

describe("parseConfig: command-line overrides", () => {
  it("win over the environment", () => {
    const env = { ...BASE, DRY_RUN: "false", LOG_LEVEL: "warn", LOG_PRETTY: "false", KEEPER_POLICY: "band" };
    const config = parseConfig(env, { dryRun: true, logLevel: "debug", pretty: true, policy: "interval", vaults: [VAULT_B_LOWER] });
    expect(config.dryRun).toBe(true);
    expect(config.log).toEqual({ level: "debug", pretty: true });
    expect(config.policy).toEqual({ name: "interval", intervalBlocks: 10, minTrade: 0.01 });
    expect(config.vaults).toEqual([{ address: VAULT_B, quoteDecimals: 6, underlyingDecimals: 18 }]);
  });

  it("replace a malformed variable, so it no longer matters", () => {
    const { PRIVATE_KEY: _, ...withoutKey } = BASE;
    expect(parseConfig({ ...withoutKey, KEEPER_POLICY: "bnad" }, { dryRun: true, policy: "band" }).policy.name).toBe("band");
  });

  it("--vault stands in for VAULTS, and its addresses are checked", () => {
    const { VAULTS: _, ...withoutVaults } = BASE;
    expect(parseConfig(withoutVaults, { vaults: [VAULT_A] }).vaults.map((vault) => vault.address)).toEqual([VAULT_A]);
    expect(configError(withoutVaults, { vaults: ["0xnope"] }).message).toBe(
      '--vault: entry 1 "0xnope" is not an address (0x + 40 hex digits, checksummed or lowercase)',
    );
  });

  it("are checked too when they come from an untyped caller", () => {
    expect(configError(BASE, { policy: "bnad" as never }).message).toBe(
      "--policy: must be one of every-block, interval, band, whalley-wilmott, gas-aware, delay-cap, " +
        'time-or-move (got "bnad")',
    );
  });
});

describe("loadEnvFile", () => {
  it("parses a file into a plain object without touching process.env", () => {
    const dir = mkdtempSync(join(tmpdir(), "keeper-env-"));
    const path = join(dir, ".env");
    writeFileSync(path, "# comment\nRPC_URL=http://127.0.0.1:8545\nKEEPER_TEST_ONLY_VAR='quoted value'\nEMPTY=\n");
    expect(loadEnvFile(path)).toEqual({ RPC_URL: "http://127.0.0.1:8545", KEEPER_TEST_ONLY_VAR: "quoted value", EMPTY: "" });
    expect(process.env.KEEPER_TEST_ONLY_VAR).toBeUndefined();
  });

  it("fails on an explicitly given file that does not exist, naming --env-file", () => {
    const path = join(tmpdir(), "keeper-no-such-dir", ".env");
    expect(() => loadEnvFile(path)).toThrow(ConfigError);
    expect(() => loadEnvFile(path)).toThrow(`--env-file: cannot read ${path} (no such file)`);
  });
});

describe(".env.example", () => {
  const text = readFileSync(new URL("../../.env.example", import.meta.url), "utf8");
  const documented = new Set([...text.matchAll(/^#?\s*(?:e\.g\.\s+)?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
  /** `# NAME=value`: the documented default. */
  const defaults = Object.fromEntries([...text.matchAll(/^# ([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => [match[1], match[2]]));
  /** `# e.g. NAME=value`: an example for a variable without a default. */
  const examples = Object.fromEntries([...text.matchAll(/^# e\.g\. ([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => [match[1], match[2]]));

  it("documents exactly the variables parseConfig reads (and --help lists)", () => {
    expect([...documented].sort()).toEqual(ENV_VARS.map((variable) => variable.name).sort());
  });

  it("shows the defaults parseConfig applies", () => {
    expect(Object.keys(defaults).length).toBeGreaterThan(15);
    expect(parseConfig({ ...BASE, ...defaults })).toEqual(parseConfig(BASE));
  });

  it("gives examples that parse", () => {
    // The file-backed examples name files that do not exist here (and a keystore replaces PRIVATE_KEY).
    const { DEPLOYMENTS_FILE: _, KEYSTORE_PATH: _k, KEYSTORE_PASSWORD_FILE: _f, KEYSTORE_PASSWORD: _p, ...rest } = examples;
    const expected = ["RPC_URLS", "WS_URL", "CHAIN_ID", "VAULTS", "LENS_ADDRESS", "POLICY_COST_RATE"];
    expect(Object.keys(rest)).toEqual(expect.arrayContaining(expected));
    expect(() => parseConfig({ RPC_URL: BASE.RPC_URL, PRIVATE_KEY: KEY, ...rest })).not.toThrow();
  });

  it("parses, as shipped, into a valid dry-run config once vaults are filled in", () => {
    const env = dotenv.parse(text);
    expect(() => parseConfig({ ...env, VAULTS: VAULT_A, LENS_ADDRESS: LENS }, { dryRun: true })).not.toThrow();
  });
});

describe("parseConfig: CHAIN_TYPE", () => {
  const base = { RPC_URL: "http://127.0.0.1:8545", LENS_ADDRESS: LENS, VAULTS: VAULT_A, PRIVATE_KEY: KEY };
  it("is the configured one, else the expected chain id's (OP-stack and Arbitrum ids known), else left to the first block", () => {
    expect(parseConfig({ ...base, CHAIN_TYPE: "arbitrum", CHAIN_ID: "10" }).chainType).toBe("arbitrum");
    expect(parseConfig({ ...base, CHAIN_ID: "8453" }).chainType).toBe("op");
    expect(parseConfig({ ...base, CHAIN_ID: "421614" }).chainType).toBe("arbitrum");
    expect(parseConfig({ ...base, CHAIN_ID: "1" }).chainType).toBe("l1");
    expect(parseConfig(base).chainType).toBeUndefined();
  });

  it("an unknown chain type is a clear error naming the variable and the choices", () => {
    expect(() => parseConfig({ ...base, CHAIN_TYPE: "zksync" })).toThrow(/CHAIN_TYPE.*l1.*op.*arbitrum/s);
  });
});
