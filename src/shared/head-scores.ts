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

/** Mean weight each query puts within ±`radius` positions of itself (causally: itself and the
 *  `radius` tokens before it). */
export function localScore(pattern: ArrayLike<number>, T: number, radius = 2): number {
  if (T === 0) return 0;
  let s = 0;
  for (let q = 0; q < T; q++) {
    for (let k = Math.max(0, q - radius); k <= Math.min(T - 1, q + radius); k++) s += pattern[q * T + k] ?? 0;
  }
  return s / T;
}

export interface HeadSummary {
  layer: number;
  head: number;
  entropy: number;
  previousToken: number;
  firstToken: number;
  local: number;
  /** From the induction probe, when it has run. */
  induction: number | null;
}

export type HeadLabel = 'previous-token' | 'first-token' | 'local' | 'induction';

/**
 * Score thresholds for naming a head. Chosen so a label means the behaviour dominates: half of
 * the weight on the previous or first token, 80 % within two tokens, or 0.3 of the weight on the
 * induction target (a uniform head over 50 tokens scores about 0.02 there).
 */
export const LABEL_THRESHOLDS: Record<HeadLabel, number> = {
  'previous-token': 0.5,
  'first-token': 0.5,
  local: 0.8,
  induction: 0.3,
};

export function headLabels(s: HeadSummary): HeadLabel[] {
  const out: HeadLabel[] = [];
  if (s.previousToken >= LABEL_THRESHOLDS['previous-token']) out.push('previous-token');
  if (s.firstToken >= LABEL_THRESHOLDS['first-token']) out.push('first-token');
  // "local" only when it is not just the previous-token behaviour again.
  if (s.local >= LABEL_THRESHOLDS.local && s.previousToken < LABEL_THRESHOLDS['previous-token']) out.push('local');
  if (s.induction !== null && s.induction >= LABEL_THRESHOLDS.induction) out.push('induction');
  return out;
}

/** The four pattern statistics of every head, each [L·H] (index l·H + h). */
export interface HeadStats {
  entropy: Float32Array;
  previousToken: Float32Array;
  firstToken: Float32Array;
  local: Float32Array;
}

/** Statistics for `heads` heads, all zero. */
export function zeroHeadStats(heads: number): HeadStats {
  return {
    entropy: new Float32Array(heads),
    previousToken: new Float32Array(heads),
    firstToken: new Float32Array(heads),
    local: new Float32Array(heads),
  };
}

/** Statistics of every head from patterns laid out [L, H, T, T]. The engine computes these so
 *  the renderer never walks all L·H·T² weights on a keystroke. */
export function headStatsFromPatterns(patterns: Float32Array, L: number, H: number, T: number): HeadStats {
  const stats = zeroHeadStats(L * H);
  for (let i = 0; i < L * H; i++) {
    const p = patterns.subarray(i * T * T, (i + 1) * T * T);
    stats.entropy[i] = meanEntropy(p, T);
    stats.previousToken[i] = previousTokenScore(p, T);
    stats.firstToken[i] = firstTokenScore(p, T);
    stats.local[i] = localScore(p, T);
  }
  return stats;
}

/** One HeadSummary per head from precomputed statistics (and induction scores when probed). */
export function summariesFromStats(stats: HeadStats, L: number, H: number, induction: Float32Array | null): HeadSummary[] {
  const out: HeadSummary[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const i = l * H + h;
      out.push({
        layer: l,
        head: h,
        entropy: stats.entropy[i] ?? 0,
        previousToken: stats.previousToken[i] ?? 0,
        firstToken: stats.firstToken[i] ?? 0,
        local: stats.local[i] ?? 0,
        induction: induction ? (induction[i] ?? 0) : null,
      });
    }
  }
  return out;
}

/** Summaries of every head from patterns laid out [L, H, T, T]. */
export function summarizeHeads(
  patterns: Float32Array,
  L: number,
  H: number,
  T: number,
  induction: Float32Array | null,
): HeadSummary[] {
  return summariesFromStats(headStatsFromPatterns(patterns, L, H, T), L, H, induction);
}
