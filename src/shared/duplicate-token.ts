/**
 * Duplicate-token score (Wang et al. 2022, "Interpretability in the wild"): how much a token
 * attends to earlier copies of itself. For every query whose token occurred before, the total
 * weight on those earlier occurrences, averaged over such queries; null when no token repeats.
 * `pattern` is one head, [T_q, T_k] row-major over the first T tokens.
 */
export function duplicateTokenScore(pattern: ArrayLike<number>, T: number, ids: ArrayLike<number>): number | null {
  let sum = 0;
  let n = 0;
  for (let i = 1; i < T; i++) {
    let w = 0;
    let seen = false;
    for (let j = 0; j < i; j++) {
      if (ids[j] === ids[i]) {
        seen = true;
        w += pattern[i * T + j] ?? 0;
      }
    }
    if (seen) {
      sum += w;
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

/** The score at which a head is called a duplicate-token head (as the induction threshold). */
export const DUPLICATE_THRESHOLD = 0.3;
