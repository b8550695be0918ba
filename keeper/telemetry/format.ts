/**
 * Number formatting for log lines and the CLI: floats cut to the digits a reader needs, so a log line shows
 * `0.012346`, not `0.012345678901234567`.
 */

/**
 * `x` rounded to `digits` decimal places, halves up (as `Math.round`); for display only, never for amounts.
 * @param x the number to show
 * @param digits decimal places kept
 */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
