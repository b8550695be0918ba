/** Numbers in decision and sizing reasons: five significant digits, exponent form for tiny or huge values. */
export function formatAmount(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(5)));
}
