/** A raw or scaled attention score as the captions print it: one decimal from 100 on. */
export function fmtScore(v: number): string {
  return v >= 100 ? v.toFixed(1) : v.toFixed(2);
}
