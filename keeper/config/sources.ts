/**
 * The variables that depend on each other, read together: the signer (`PRIVATE_KEY` or a keystore with its
 * password) and the vaults (`VAULTS` with `LENS_ADDRESS`, or a deployments file), plus the chain id they must agree
 * on. Each conflict or gap is one `ConfigIssue`; the keystore's password and key never appear in one.
 */
import type { Address, Hex } from "viem";
import { getAddress, isAddress } from "viem";
import { z } from "zod";
import { decryptKeystore, KeystoreError } from "../chain/keystore.ts";
import { describeFsError, must, splitList, type ConfigIssue, type Reader } from "./read.ts";

/** One vault the keeper watches, with its tokens' decimals (needed to convert token amounts to wad). */
export interface VaultConfig {
  readonly address: Address;
  readonly quoteDecimals: number;
  readonly underlyingDecimals: number;
}

/** Where the signing key came from; safe to log. */
export type SignerSource =
  | { readonly kind: "none" }
  | { readonly kind: "private-key" }
  | { readonly kind: "keystore"; readonly path: string };

/** Where the vaults came from: the `VAULTS` list (or `--vault`) or the deployments file at this path. */
export type VaultSourceKind = { readonly kind: "list" } | { readonly kind: "deployments"; readonly path: string };

// ── Deployments file ──────────────────────────────────────────────────────────────────────────────────────────

const addressSchema = z
  .string()
  .refine((value) => isAddress(value), { message: "not an address (0x + 40 hex digits, checksummed or lowercase)" })
  .transform((value) => getAddress(value));

const decimalsSchema = z.number().int().min(0).max(36);

/**
 * `deployments/<chainId>.json`, as the deploy script writes it. Only these fields are read; others (the AMM, the
 * oracle, the tokens, …) are allowed and ignored.
 */
export const deploymentsSchema = z.object({
  chainId: z.number().int().positive(),
  lens: addressSchema,
  vaults: z
    .array(
      z.object({
        address: addressSchema,
        quoteDecimals: decimalsSchema,
        underlyingDecimals: decimalsSchema,
      }),
    )
    .min(1),
});
export type Deployments = z.output<typeof deploymentsSchema>;

// ── Signer ────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Exactly one of `PRIVATE_KEY` and `KEYSTORE_PATH` (with its password from `KEYSTORE_PASSWORD_FILE` or, discouraged,
 * `KEYSTORE_PASSWORD`); neither only in a dry run. A keystore is decrypted here, once: a second or so for standard
 * scrypt parameters.
 */
export function readSigner(
  read: Reader,
  env: Readonly<Record<string, string | undefined>>,
  dryRun: boolean | undefined,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): { privateKey: Hex | undefined; source: SignerSource } {
  const keyGiven = read.raw("PRIVATE_KEY") !== undefined;
  const privateKey = read.privateKey("PRIVATE_KEY");
  const path = read.path("KEYSTORE_PATH");
  const passwordFile = read.path("KEYSTORE_PASSWORD_FILE");
  // Verbatim, not trimmed: spaces may be part of a password. Blank still counts as unset, as for every variable.
  const passwordValue = read.raw("KEYSTORE_PASSWORD") === undefined ? undefined : env.KEYSTORE_PASSWORD;

  // With a malformed DRY_RUN (already an issue) whether a key is required is unknown: don't pile on.
  if (dryRun === false && !keyGiven && path === undefined) {
    issues.push({
      variable: "PRIVATE_KEY",
      problem:
        "PRIVATE_KEY or KEYSTORE_PATH is required unless DRY_RUN=true (or --dry-run): the keeper's signing key, " +
        "raw or in an encrypted JSON keystore",
    });
  }
  if (path === undefined) {
    const unused = { KEYSTORE_PASSWORD_FILE: passwordFile, KEYSTORE_PASSWORD: passwordValue };
    for (const [variable, value] of Object.entries(unused)) {
      if (value !== undefined) issues.push({ variable, problem: "is used only with KEYSTORE_PATH, which is not set" });
    }
    return { privateKey, source: keyGiven ? { kind: "private-key" } : { kind: "none" } };
  }

  const source = { kind: "keystore", path } as const;
  let ok = true;
  if (keyGiven) {
    ok = false;
    issues.push(
      { variable: "PRIVATE_KEY", problem: "cannot be combined with KEYSTORE_PATH: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
      { variable: "KEYSTORE_PATH", problem: "cannot be combined with PRIVATE_KEY: give PRIVATE_KEY or KEYSTORE_PATH, not both" },
    );
  }
  if (passwordFile === undefined && passwordValue === undefined) {
    ok = false;
    issues.push({
      variable: "KEYSTORE_PASSWORD_FILE",
      problem: "is required with KEYSTORE_PATH: a file holding the keystore's password (or, discouraged, set KEYSTORE_PASSWORD)",
    });
  } else if (passwordFile !== undefined && passwordValue !== undefined) {
    ok = false;
    issues.push({
      variable: "KEYSTORE_PASSWORD",
      problem: "cannot be combined with KEYSTORE_PASSWORD_FILE: give one (the file is safer)",
    });
  }
  if (!ok) return { privateKey: undefined, source };

  let password = passwordValue;
  if (passwordFile !== undefined) {
    try {
      // One trailing line ending, as `echo` and editors leave it, is not part of the password.
      password = readFile(passwordFile).replace(/\r?\n$/, "");
    } catch (error) {
      issues.push({ variable: "KEYSTORE_PASSWORD_FILE", problem: `cannot read ${passwordFile} (${describeFsError(error)})` });
    }
  }
  let json: string | undefined;
  try {
    json = readFile(path);
  } catch (error) {
    issues.push({ variable: "KEYSTORE_PATH", problem: `cannot read ${path} (${describeFsError(error)})` });
  }
  if (json === undefined || password === undefined) return { privateKey: undefined, source };
  try {
    return { privateKey: decryptKeystore(json, password), source };
  } catch (error) {
    // A KeystoreError's message names the fault, never the password or key material.
    if (!(error instanceof KeystoreError)) throw error;
    issues.push({ variable: "KEYSTORE_PATH", problem: `${path}: ${error.message}` });
    return { privateKey: undefined, source };
  }
}

/** The signer's source in a word or two, for logs. */
export function describeSigner(source: SignerSource): string {
  switch (source.kind) {
    case "none":
      return "none";
    case "private-key":
      return "private key";
    case "keystore":
      return `keystore ${source.path}`;
  }
}

// ── Vaults ────────────────────────────────────────────────────────────────────────────────────────────────────

export interface VaultSource {
  lens: Address;
  vaults: VaultConfig[];
  source: VaultSourceKind;
  chainId: number | undefined;
}

/**
 * Exactly one of `VAULTS` (+ `LENS_ADDRESS`) and `DEPLOYMENTS_FILE`; `--vault` replaces `VAULTS` or selects from
 * the file.
 */
export function readVaults(
  read: Reader,
  vaultOverride: readonly string[] | undefined,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): VaultSource | undefined {
  const file = read.path("DEPLOYMENTS_FILE");
  const listed = read.raw("VAULTS");

  if (file !== undefined) {
    let ok = true;
    for (const name of ["VAULTS", "LENS_ADDRESS", "QUOTE_DECIMALS", "UNDERLYING_DECIMALS"] as const) {
      if (read.raw(name) !== undefined) {
        ok = false;
        issues.push({
          variable: name,
          problem: "cannot be combined with DEPLOYMENTS_FILE: give VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE, not both",
        });
      }
    }
    const deployments = readDeployments(file, readFile, issues);
    if (deployments === undefined || !ok) return undefined;
    let vaults: VaultConfig[] = deployments.vaults;
    if (vaultOverride !== undefined) {
      const selected = read.addresses("--vault", vaultOverride);
      if (selected === undefined) return undefined;
      const missing = selected.filter((address) => !vaults.some((vault) => vault.address === address));
      if (missing.length > 0) {
        issues.push({ variable: "--vault", problem: `not in DEPLOYMENTS_FILE ${file}: ${missing.join(", ")}` });
        return undefined;
      }
      vaults = selected.map((address) => must(vaults.find((vault) => vault.address === address)));
    }
    return {
      lens: deployments.lens,
      vaults,
      source: { kind: "deployments", path: file },
      chainId: deployments.chainId,
    };
  }

  const quoteDecimals = read.number("QUOTE_DECIMALS");
  const underlyingDecimals = read.number("UNDERLYING_DECIMALS");
  const lens = read.address("LENS_ADDRESS");
  const addresses =
    vaultOverride !== undefined
      ? read.addresses("--vault", vaultOverride)
      : listed !== undefined
        ? read.addresses("VAULTS", splitList(listed))
        : undefined;

  if (vaultOverride === undefined && listed === undefined) {
    issues.push({ variable: "VAULTS", problem: "is required: set VAULTS (with LENS_ADDRESS) or DEPLOYMENTS_FILE" });
  } else if (read.raw("LENS_ADDRESS") === undefined) {
    issues.push({ variable: "LENS_ADDRESS", problem: "is required with VAULTS (or set DEPLOYMENTS_FILE instead)" });
  }
  if (lens === undefined || addresses === undefined) return undefined;
  if (quoteDecimals === undefined || underlyingDecimals === undefined) return undefined;
  return {
    lens,
    vaults: addresses.map((address) => ({ address, quoteDecimals, underlyingDecimals })),
    source: { kind: "list" },
    chainId: undefined,
  };
}

function readDeployments(
  path: string,
  readFile: (path: string) => string,
  issues: ConfigIssue[],
): Deployments | undefined {
  const fail = (problem: string): undefined => {
    issues.push({ variable: "DEPLOYMENTS_FILE", problem });
    return undefined;
  };
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    return fail(`cannot read ${path} (${describeFsError(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return fail(`${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = deploymentsSchema.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      fail(`${path}: ${formatPath(issue.path)}: ${issue.message}`);
    }
    return undefined;
  }
  const seen = new Set<Address>();
  for (const [index, vault] of parsed.data.vaults.entries()) {
    if (seen.has(vault.address)) return fail(`${path}: vaults[${index}].address repeats ${vault.address}`);
    seen.add(vault.address);
  }
  return parsed.data;
}

/** `CHAIN_ID`, else the deployments file's; when both are given they must agree. */
export function reconcileChainId(
  chainId: number | undefined,
  source: VaultSource | undefined,
  issues: ConfigIssue[],
): number | undefined {
  const fileChainId = source?.chainId;
  if (chainId !== undefined && fileChainId !== undefined && chainId !== fileChainId) {
    issues.push({
      variable: "CHAIN_ID",
      problem: `is ${chainId} but DEPLOYMENTS_FILE is for chain ${fileChainId}`,
    });
  }
  return chainId ?? fileChainId;
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path.map((key, index) => (typeof key === "number" ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`)).join("");
}
