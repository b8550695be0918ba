/**
 * Waiting in tests: on a condition, with a deadline — never a sleep that decides the outcome. Pure (no chain), so
 * unit tests use it as well as the fault tests.
 */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));

export interface UntilOptions {
  /** The deadline, generous for a slow, busy machine (default 30 s). */
  timeoutMs?: number;
  /** Between polls (default 50 ms). */
  intervalMs?: number;
  /** Polls that throw count as "not yet" (a server still starting); the last error is named at the deadline. */
  retryErrors?: boolean;
  /** What else to print at the deadline (the keeper's last log lines, the pool…). */
  diagnostics?: () => unknown;
}

/**
 * Polls `check` until it returns something other than `undefined` or `false`, and returns that; at the deadline
 * throws naming `what` (and the last error, and `diagnostics()`), so the assertion after it never runs on a guess.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 50, retryErrors = false, diagnostics } = options;
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (!retryErrors) throw error;
      last = error;
    }
    if (Date.now() >= end) {
      const why = [last === undefined ? "" : `: last error ${String(last)}`, diagnostics ? `: ${json(diagnostics()).slice(0, 3000)}` : ""].join("");
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}
