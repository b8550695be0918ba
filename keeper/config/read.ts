/**
 * The readers behind `parseConfig`: one per kind of rule in the table (`./table.ts`). Each takes a variable's name,
 * finds its rule and default in the table, and returns the parsed value, the default when unset, or `undefined`
 * after recording one `ConfigIssue` whose words say what is expected. Values that may be secrets are never echoed,
 * and of a URL only the scheme and host are.
 */
import { getAddress, isAddress, parseGwei } from "viem";
import type { Address, Hex } from "viem";
import { redactUrl } from "../telemetry/redact.ts";
import { ENV_VARS, envVar, type EnvName, type EnvRow, type EnvVar, type NumberRule } from "./table.ts";

export interface ConfigIssue {
  /** The environment variable (or `--flag`) at fault. */
  variable: string;
  /** What is wrong and what is expected; never a secret's value. */
  problem: string;
}

/** Every bad variable at once, one line each. */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map((issue) => `${issue.variable}: ${issue.problem}`).join("\n"));
    this.issues = issues;
  }
}

type Row = (typeof ENV_VARS)[number];
/** The variables whose rule is of kind `K`. */
type NamesOf<K extends Row["rule"]["kind"]> = Extract<Row, { rule: { kind: K } }>["name"];

const HTTP = { protocols: ["http:", "https:"], label: "an http(s) URL" } as const;
const WS = { protocols: ["ws:", "wss:"], label: "a ws(s) URL" } as const;
type UrlKind = typeof HTTP | typeof WS;
const URL_KINDS = { http: HTTP, ws: WS } as const;

/** Decimal notation only: no hex, no `Infinity`, no thousands separators. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const GWEI = /^\d+(\.\d{1,9})?$/;
const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;
/** Order of secp256k1: a private key is in [1, n - 1]. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The values a choice variable allows. */
type ChoiceOf<N extends EnvName> = EnvRow<N> extends { rule: { allowed: readonly (infer T)[] } } ? T : never;

/** The table's row of `name`, seen through the general row type. */
function row(name: EnvName): EnvVar {
  return envVar(name);
}

/** Readers over `env` that record an issue and return `undefined` on a bad value, and the default when unset. */
export function reader(env: Readonly<Record<string, string | undefined>>, issues: ConfigIssue[]) {
  /** The trimmed value; empty counts as unset. */
  const raw = (name: EnvName): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const fail = (variable: string, problem: string): undefined => {
    issues.push({ variable, problem });
    return undefined;
  };

  return {
    raw,

    number(name: NamesOf<"number">): number | undefined {
      const { rule, default: fallback } = row(name) as EnvVar & { rule: NumberRule; default?: number };
      const value = raw(name);
      if (value === undefined) return fallback;
      const parsed = DECIMAL.test(value) ? Number(value) : Number.NaN;
      const ok =
        Number.isFinite(parsed) &&
        (!rule.integer || Number.isSafeInteger(parsed)) &&
        (rule.min === undefined || (rule.minExclusive ? parsed > rule.min : parsed >= rule.min)) &&
        (rule.max === undefined || parsed <= rule.max);
      return ok ? parsed : fail(name, `must be ${describeRule(rule)} (got ${quote(value)})`);
    },

    boolean(name: NamesOf<"boolean">): boolean | undefined {
      const value = raw(name);
      if (value === undefined) return row(name).default as boolean;
      const lower = value.toLowerCase();
      if (lower === "true" || lower === "1") return true;
      if (lower === "false" || lower === "0") return false;
      return fail(name, `must be true, false, 1 or 0 (got ${quote(value)})`);
    },

    choice<N extends NamesOf<"choice">>(name: N): ChoiceOf<N> | undefined {
      const { rule, default: fallback } = row(name) as EnvVar & { rule: { allowed: readonly string[] } };
      const value = raw(name);
      if (value === undefined) return fallback as ChoiceOf<N>;
      if (rule.allowed.includes(value)) return value as ChoiceOf<N>;
      return fail(name, `must be one of ${rule.allowed.join(", ")} (got ${quote(value)})`);
    },

    /** A path or other free text, as given (trimmed); the table's default when unset. */
    path(name: NamesOf<"path">): string | undefined {
      return raw(name) ?? (row(name).default as string | undefined);
    },

    url(name: NamesOf<"url">): string | undefined {
      const kind = URL_KINDS[envVar(name).rule.protocols];
      const value = raw(name);
      if (value === undefined) return undefined;
      const problem = urlProblem(value, kind);
      return problem === undefined ? value : fail(name, problem);
    },

    /** A comma-separated list of URLs, without `exclude` (the primary endpoint) or repeats. */
    urlList(name: NamesOf<"urls">, exclude: string | undefined): string[] | undefined {
      const kind = URL_KINDS[envVar(name).rule.protocols];
      const value = raw(name);
      if (value === undefined) return [];
      const urls: string[] = [];
      let ok = true;
      splitList(value).forEach((entry, index) => {
        const problem = urlProblem(entry, kind);
        if (problem !== undefined) {
          ok = false;
          fail(name, `entry ${index + 1} ${problem}`);
        } else if (entry !== exclude && !urls.includes(entry)) {
          urls.push(entry);
        }
      });
      return ok ? urls : undefined;
    },

    gwei(name: NamesOf<"gwei">): bigint | undefined {
      const { rule } = envVar(name);
      const value = raw(name) ?? String(row(name).default);
      const expected = rule.positive
        ? "a number of gwei greater than 0, in decimal notation with at most 9 decimals (1 wei = 1e-9 gwei)"
        : "a number of gwei of at least 0, in decimal notation with at most 9 decimals (1 wei = 1e-9 gwei)";
      if (!GWEI.test(value)) return fail(name, `must be ${expected} (got ${quote(value)})`);
      const wei = parseGwei(value);
      return rule.positive && wei === 0n ? fail(name, `must be ${expected} (got ${quote(value)})`) : wei;
    },

    /** Never echoes the value, not even in part. */
    privateKey(name: NamesOf<"private-key">): Hex | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      if (!PRIVATE_KEY.test(value)) {
        const notHex = /^0x/i.test(value) && !/^0x[0-9a-fA-F]*$/.test(value);
        const hint = /^[0-9a-fA-F]{64}$/.test(value)
          ? "it lacks the 0x prefix"
          : `got ${value.length} characters${notHex ? ", not all hex" : ""}`;
        return fail(name, `must be 0x followed by 64 hex digits (${hint}; value not shown)`);
      }
      const scalar = BigInt(value);
      if (scalar === 0n || scalar >= SECP256K1_N) {
        return fail(
          name,
          "is not a valid secp256k1 private key: it must be between 1 and the curve order (value not shown)",
        );
      }
      return value as Hex;
    },

    /** A list of distinct addresses, checksummed; issues name `label` (a variable or a flag). */
    addresses(label: NamesOf<"addresses"> | "--vault", entries: readonly string[]): Address[] | undefined {
      if (entries.length === 0) return fail(label, "must list at least one vault address");
      const addresses: Address[] = [];
      let ok = true;
      entries.forEach((entry, index) => {
        const problem = addressProblem(entry);
        if (problem !== undefined) {
          ok = false;
          fail(label, `entry ${index + 1} ${quote(entry)} ${problem}`);
          return;
        }
        const address = getAddress(entry);
        if (addresses.includes(address)) {
          ok = false;
          fail(label, `entry ${index + 1} repeats ${address}`);
        } else {
          addresses.push(address);
        }
      });
      return ok ? addresses : undefined;
    },

    address(name: NamesOf<"address">): Address | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const problem = addressProblem(value);
      return problem === undefined ? getAddress(value) : fail(name, `${problem} (got ${quote(value)})`);
    },
  };
}
export type Reader = ReturnType<typeof reader>;

/** A number rule in words, for messages: "an integer from 1 to 64", "a number greater than 0". */
export function describeRule(rule: Omit<NumberRule, "kind">): string {
  const kind = rule.integer ? "an integer" : "a number";
  const { min, max } = rule;
  if (min !== undefined && max !== undefined) {
    return rule.minExclusive ? `${kind} greater than ${min} and at most ${max}` : `${kind} from ${min} to ${max}`;
  }
  if (min !== undefined) return rule.minExclusive ? `${kind} greater than ${min}` : `${kind} of at least ${min}`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

/** Why `value` is not a URL of `kind`; it shows at most the scheme and host, never the path or user info. */
function urlProblem(value: string, kind: UrlKind): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    const scheme = kind === HTTP ? "https" : "wss";
    return `must be ${kind.label}, e.g. ${scheme}://host/path (got a value that is not a URL; not shown, as it may hold an API key)`;
  }
  if (!(kind.protocols as readonly string[]).includes(parsed.protocol)) {
    const isWs = parsed.protocol === "ws:" || parsed.protocol === "wss:";
    const hint = kind === HTTP && isWs ? "; WebSocket endpoints go in WS_URL" : "";
    return `must be ${kind.label} (got ${quote(redactUrl(value))}${hint})`;
  }
  if (parsed.hostname === "") return `must be ${kind.label} with a host (got ${quote(redactUrl(value))})`;
  return undefined;
}

function addressProblem(value: string): string | undefined {
  if (isAddress(value)) return undefined;
  if (isAddress(value, { strict: false })) {
    return "has a bad checksum (check for a typo, or give it in lowercase)";
  }
  return "is not an address (0x + 40 hex digits, checksummed or lowercase)";
}

/** Comma-separated entries, trimmed, blanks dropped. */
export function splitList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** A received value for a message: quoted, and cut if long so one bad variable stays one line. */
export function quote(value: string): string {
  const oneLine = value.replace(/\s+/g, " ");
  return JSON.stringify(oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine);
}

/** A file-system error in a few words, for a message. */
export function describeFsError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EISDIR") return "it is a directory";
    if (code === "EACCES") return "permission denied";
    return code ?? error.message;
  }
  return String(error);
}

/** Narrows a value that is known to be present because no issue was recorded. */
export function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("unreachable: a config value is missing although no issue was recorded");
  return value;
}
