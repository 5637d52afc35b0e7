/**
 * Per-head summaries of an attention pattern, as used in interpretability work
 * (e.g. Olsson et al. 2022, "In-context learning and induction heads"):
 *
 *  - previous-token score: mean weight from query i to key i−1, over i ≥ 1;
 *  - first-token score: mean weight from query i to key 0, over i ≥ 1 (query 0 has no choice);
 *  - mean entropy (nats) of the query rows;
 *  - induction score on a sequence that repeats a block of n tokens: mean weight from each
 *    token in the second copy to the token right after its first occurrence.
 *
 * `pattern` is one head, [T_q, T_k] row-major, rows summing to 1.
 */

export function previousTokenScore(pattern: ArrayLike<number>, T: number): number {
  if (T < 2) return 0;
  let s = 0;
  for (let i = 1; i < T; i++) s += pattern[i * T + i - 1] ?? 0;
  return s / (T - 1);
}

export function firstTokenScore(pattern: ArrayLike<number>, T: number): number {
  if (T < 2) return 0;
  let s = 0;
  for (let i = 1; i < T; i++) s += pattern[i * T] ?? 0;
  return s / (T - 1);
}

export function meanEntropy(pattern: ArrayLike<number>, T: number): number {
  if (T === 0) return 0;
  let total = 0;
  for (let q = 0; q < T; q++) {
    for (let k = 0; k < T; k++) {
      const p = pattern[q * T + k] ?? 0;
      if (p > 0) total -= p * Math.log(p);
    }
  }
  return total / T;
}

/**
 * For a sequence laid out as `offset` leading tokens, then a block of `n` tokens, then the same
 * block again: mean weight from position offset+n+j to offset+j+1, for j = 0 … n−2.
 */
export function inductionScore(pattern: ArrayLike<number>, T: number, n: number, offset: number): number {
  if (offset + 2 * n > T || n < 2) throw new RangeError(`a repeated block of ${n} after ${offset} tokens does not fit T = ${T}`);
  let s = 0;
  for (let j = 0; j < n - 1; j++) s += pattern[(offset + n + j) * T + offset + j + 1] ?? 0;
  return s / (n - 1);
}
