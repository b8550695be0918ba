/**
 * The one home for turning an RPC URL into something safe to log, print or use as a metric label. Providers put
 * API keys in the path, the query or the user info, so nothing past the host is ever shown. Pure: no imports.
 */

/** The URL's parts, or `undefined` when it does not parse (then nothing of it may be echoed: it could be a key). */
function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * A URL safe to log: scheme and host (with port), then `/…` when anything was cut (path, query, fragment, user
 * info) so a reader knows there was more. A string that is not a URL is not shown at all (`<not a URL>`).
 *
 * @param url - Any string, typically an RPC endpoint from the configuration.
 * @returns e.g. `https://eth-mainnet.example.com/…` for `https://eth-mainnet.example.com/v2/KEY`.
 */
export function redactUrl(url: string): string {
  const parsed = parse(url);
  if (parsed === undefined) return "<not a URL>";
  const hidden =
    parsed.username !== "" ||
    parsed.password !== "" ||
    parsed.pathname.length > 1 ||
    parsed.search !== "" ||
    parsed.hash !== "";
  return `${parsed.protocol}//${parsed.host}${hidden ? "/…" : ""}`;
}

/**
 * A short endpoint label: scheme and host (with port) only, with no mark for what was cut — for labels that must
 * stay the same whichever key a URL carries (failover observers, RPC error messages). `<invalid url>` when it does
 * not parse.
 *
 * @param url - Any string, typically an RPC endpoint.
 * @returns e.g. `https://eth-mainnet.example.com` for `https://eth-mainnet.example.com/v2/KEY`.
 */
export function describeUrl(url: string): string {
  const parsed = parse(url);
  return parsed === undefined ? "<invalid url>" : `${parsed.protocol}//${parsed.host}`;
}
