/**
 * The book's example, computed: Raschka, *Build a Large Language Model (From Scratch)*,
 * chapter 3 — six tokens with 3-d embeddings, first through simplified self-attention (no
 * trainable weights), then through small W_q, W_k, W_v. The walkthrough draws these numbers
 * on the same grid as the real model; nothing here is typed in as a result.
 *
 * Layout as everywhere else: scores and weights are [T_q, T_k] row-major (query i's row holds
 * its scores against every key j). The softmax is the app's own (shared/attention-math.ts).
 */
import { attentionWeights } from './attention-math';

/** "Your journey starts with one step", section 3.3.1. */
export const BOOK_TOKENS = ['Your', 'journey', 'starts', 'with', 'one', 'step'] as const;

/** The book's 3-d embeddings x⁽¹⁾ … x⁽⁶⁾ (section 3.3.1, printed with two decimals). */
export const BOOK_INPUTS: readonly (readonly number[])[] = [
  [0.43, 0.15, 0.89],
  [0.55, 0.87, 0.66],
  [0.57, 0.85, 0.64],
  [0.22, 0.58, 0.33],
  [0.77, 0.25, 0.1],
  [0.05, 0.8, 0.55],
];

/** The query the book follows: x⁽²⁾, "journey" (index 1). */
export const BOOK_QUERY = 1;

/**
 * W_q, W_k, W_v with d_in = 3, d_out = 2: this project's own fixed matrices, not the book's.
 * The book draws random ones (torch.manual_seed(123), torch.rand); any fixed matrices show the
 * same steps; these keep every number short enough to read on a projector, and are large enough
 * (scores up to ≈ 9) that leaving out ÷√d_k visibly sharpens the softmax.
 */
export const TOY_WEIGHTS = {
  query: [
    [1.8, 0.2],
    [0.4, 1.6],
    [0.8, 1.2],
  ],
  key: [
    [0.6, 1.4],
    [1.8, 0.4],
    [1.0, 1.0],
  ],
  value: [
    [0.6, 0.2],
    [0.1, 0.9],
    [0.7, 0.4],
  ],
} as const satisfies Record<string, readonly (readonly number[])[]>;

export type Matrix = readonly (readonly number[])[];

/** X · W, for X [T, d_in] and W [d_in, d_out]. */
export function matmul(x: Matrix, w: Matrix): number[][] {
  const dOut = w[0]?.length ?? 0;
  return x.map((row) => Array.from({ length: dOut }, (_, o) => row.reduce((sum, v, i) => sum + v * (w[i]?.[o] ?? 0), 0)));
}

/** Every dot product a_i · b_j as [T_a, T_b] row-major. */
export function dotScores(a: Matrix, b: Matrix): Float32Array {
  const out = new Float32Array(a.length * b.length);
  a.forEach((ai, i) =>
    b.forEach((bj, j) => {
      out[i * b.length + j] = ai.reduce((sum, v, d) => sum + v * (bj[d] ?? 0), 0);
    }),
  );
  return out;
}

/** z_i = Σ_j weight_ij · v_j: each query's context vector. */
export function contextVectors(weights: Float32Array, values: Matrix): number[][] {
  const T = values.length;
  const d = values[0]?.length ?? 0;
  return Array.from({ length: T }, (_, i) =>
    Array.from({ length: d }, (_, c) => values.reduce((sum, v, j) => sum + (weights[i * T + j] ?? 0) * (v[c] ?? 0), 0)),
  );
}

export interface SimplifiedAttention {
  /** ω_ij = x_i · x_j. */
  scores: Float32Array;
  /** α_ij = softmax_j(ω_ij). */
  weights: Float32Array;
  /** z_i = Σ_j α_ij x_j. */
  context: number[][];
}

/** Section 3.3: attention with no trainable weights (no scaling, no mask). */
export function simplifiedAttention(x: Matrix = BOOK_INPUTS): SimplifiedAttention {
  const scores = dotScores(x, x);
  const weights = attentionWeights(scores, x.length, 1, { scale: false, mask: false });
  return { scores, weights, context: contextVectors(weights, x) };
}

export interface TrainableAttention {
  q: number[][];
  k: number[][];
  v: number[][];
  dK: number;
  /** ω_ij = q_i · k_j (unscaled). */
  scores: Float32Array;
  /** softmax(mask(ω / √d_k)) under the options. */
  weights: Float32Array;
  context: number[][];
}

/** Section 3.4–3.5: q, k, v through W_q, W_k, W_v; scaled and optionally masked. */
export function trainableAttention(
  opts: { scale: boolean; mask: boolean },
  x: Matrix = BOOK_INPUTS,
  w: { query: Matrix; key: Matrix; value: Matrix } = TOY_WEIGHTS,
): TrainableAttention {
  const q = matmul(x, w.query);
  const k = matmul(x, w.key);
  const v = matmul(x, w.value);
  const dK = k[0]?.length ?? 1;
  const scores = dotScores(q, k);
  const weights = attentionWeights(scores, x.length, dK, opts);
  return { q, k, v, dK, scores, weights, context: contextVectors(weights, v) };
}

/** The column of one query, as the walkthrough lists it. */
export function queryRow(m: Float32Array, T: number, q: number): number[] {
  return Array.from(m.subarray(q * T, (q + 1) * T));
}
