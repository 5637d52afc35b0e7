/**
 * The cheap attention maths the renderer redoes itself so the toggles are instant:
 * raw q·k → ÷√d_head → causal mask → softmax over each query's keys.
 *
 * Layout: one head's scores as [T_q, T_k] row-major (TransformerLens hook_dot). The
 * 3Blue1Brown picture (keys down, queries across, softmax down each column) is the same data
 * drawn transposed; nothing here depends on orientation.
 *
 * Masking is positional and explicit: a cell is masked when its key comes after its query.
 * Masked cells are never encoded as −∞ or a large negative number.
 */

export interface StageOptions {
  /** Divide by √d_head. */
  scale: boolean;
  /** Causal mask: a query may not attend to later keys. */
  mask: boolean;
}

/** True when the causal mask hides key `k` from query `q`. */
export function isMasked(q: number, k: number): boolean {
  return k > q;
}

/** dot / √d_head when `scale`, else a copy of dot. */
export function scaledScores(dot: Float32Array, dHead: number, scale: boolean): Float32Array {
  const out = Float32Array.from(dot);
  if (scale) {
    const s = Math.sqrt(dHead);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / s;
  }
  return out;
}

/**
 * softmax over each query's keys; with `mask`, masked keys get weight exactly 0 and are left
 * out of the normalisation. Computed in float64, like the reference, then stored as float32.
 * (Multiplying by 1/√d_head rather than dividing: a 1-ulp difference, far inside 1e-5.)
 */
export function attentionWeights(dot: Float32Array, T: number, dHead: number, opts: StageOptions): Float32Array {
  return attentionWeightsInto(dot, T, dHead, opts, new Float32Array(T * T), new Float64Array(T));
}

/**
 * attentionWeights into `out` ([T, T], every cell written) with `e` ([≥ T]) as scratch: the
 * atlas redoes the softmax of every head on a toggle (144 heads of GPT-2 small) and reuses one
 * buffer for all of them instead of allocating (and collecting) one per head.
 */
export function attentionWeightsInto(
  dot: Float32Array,
  T: number,
  dHead: number,
  opts: StageOptions,
  out: Float32Array,
  e: Float64Array,
): Float32Array {
  softmaxRows(dot, T, dHead, opts, e, (q, last, sum) => {
    const row = q * T;
    for (let k = 0; k <= last; k++) out[row + k] = (e[k] ?? 0) / sum;
    out.fill(0, row + last + 1, row + T); // masked keys: exactly 0
  });
  return out;
}

/**
 * The softmax of attentionWeights one query row at a time, unnormalised: for each query q,
 * `e[0…last]` holds exp(score − row max) of the keys it may see (those after `last` are masked)
 * and `sum` their total, so its weights are e[k] / sum. attentionWeightsInto writes them out;
 * the atlas turns them straight into pixels, never writing the [T, T] weights of 144 heads.
 */
export function softmaxRows(
  dot: Float32Array,
  T: number,
  dHead: number,
  opts: StageOptions,
  e: Float64Array,
  row: (q: number, last: number, sum: number) => void,
): void {
  const inv = opts.scale ? 1 / Math.sqrt(dHead) : 1;
  for (let q = 0; q < T; q++) {
    const last = opts.mask ? q : T - 1; // keys after the query are masked by position
    row(q, last, softmaxRow(dot, q * T, last + 1, inv, e));
  }
}

/**
 * One row of softmaxRows: e[k] = exp(dot[at + k]·inv − max) for the first `n` keys, the row's
 * maximum taken out first; returns their sum.
 */
function softmaxRow(dot: Float32Array, at: number, n: number, inv: number, e: Float64Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) max = Math.max(max, (dot[at + k] ?? 0) * inv);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += e[k] = Math.exp((dot[at + k] ?? 0) * inv - max);
  return sum;
}

/**
 * softmaxRows for the mask switched off (scaling on), from the model's own pattern: for the keys
 * a query already saw, exp(s_k/√d − lse_q) is the held weight p_k itself, so only the keys after
 * the query need an exp (half of them, where softmaxRows exps every key): the atlas's mask
 * toggle repaints 144 heads of GPT-2 small this way. lse_q comes from the row's largest weight
 * (lse = s_j/√d − ln p_j, accurate where p_j is largest). Everything is taken relative to
 * M = max(lse_q, the largest later score), so a later key far above every seen one cannot
 * overflow. `e[k]` for every k and `sum` as softmaxRows gives them (last = T − 1). A row whose
 * pattern is not finite takes the plain softmax over every key instead.
 */
export function unmaskedRowsFromPattern(
  dot: Float32Array,
  pattern: Float32Array,
  T: number,
  dHead: number,
  e: Float64Array,
  row: (q: number, last: number, sum: number) => void,
): void {
  const inv = 1 / Math.sqrt(dHead);
  for (let q = 0; q < T; q++) {
    const at = q * T;
    let j = 0;
    for (let k = 1; k <= q; k++) if ((pattern[at + k] ?? 0) > (pattern[at + j] ?? 0)) j = k;
    const pj = pattern[at + j] ?? Number.NaN;
    if (!(pj > 0) || !Number.isFinite(pj)) {
      // No usable weight (a square not held yet): the plain softmax over every key.
      row(q, T - 1, softmaxRow(dot, at, T, inv, e));
      continue;
    }
    const lse = (dot[at + j] ?? 0) * inv - Math.log(pj);
    let m = lse;
    for (let k = q + 1; k < T; k++) m = Math.max(m, (dot[at + k] ?? 0) * inv);
    const seen = m === lse ? 1 : Math.exp(lse - m);
    let sum = 0;
    for (let k = 0; k <= q; k++) sum += e[k] = (pattern[at + k] ?? 0) * seen;
    for (let k = q + 1; k < T; k++) sum += e[k] = Math.exp((dot[at + k] ?? 0) * inv - m);
    row(q, T - 1, sum);
  }
}

/** √d_head when it is a whole number (64 → 8), else null: unscaledRowsFromPattern needs one. */
export function wholeRootOf(dHead: number): number | null {
  const n = Math.round(Math.sqrt(dHead));
  return n * n === dHead ? n : null;
}

/**
 * softmaxRows for the scaling switched off (mask on), from the model's own pattern, no exp at
 * all: exp(s_k − s_max) = (exp(s_k/√d − s_max/√d))^√d = (p_k / p_max)^√d, a whole power when √d
 * is whole (GPT-2's d_head = 64: the 8th power, three squarings). `root` is wholeRootOf(d_head).
 * A row whose pattern is not finite takes the plain softmax of the unscaled scores instead.
 */
export function unscaledRowsFromPattern(
  dot: Float32Array,
  pattern: Float32Array,
  T: number,
  root: number,
  e: Float64Array,
  row: (q: number, last: number, sum: number) => void,
): void {
  for (let q = 0; q < T; q++) {
    const at = q * T;
    let pMax = 0;
    for (let k = 0; k <= q; k++) pMax = Math.max(pMax, pattern[at + k] ?? 0);
    if (!(pMax > 0) || !Number.isFinite(pMax)) {
      // No usable weight (a square not held yet): the plain softmax of the unscaled scores.
      row(q, q, softmaxRow(dot, at, q + 1, 1, e));
      continue;
    }
    let sum = 0;
    for (let k = 0; k <= q; k++) {
      // r^root by repeated squaring.
      let b = (pattern[at + k] ?? 0) / pMax;
      let v = 1;
      for (let n = root; n > 0; n >>= 1) {
        if (n & 1) v *= b;
        b *= b;
      }
      sum += e[k] = v;
    }
    row(q, q, sum);
  }
}

/**
 * softmaxRows under the toggles `opts`, taking the cheaper road from the model's own pattern
 * where there is one: mask off (unmaskedRowsFromPattern) or scaling off with a whole √d_head
 * (unscaledRowsFromPattern). Same rows, same callback.
 */
export function toggledRows(
  dot: Float32Array,
  pattern: Float32Array,
  T: number,
  dHead: number,
  opts: StageOptions,
  e: Float64Array,
  row: (q: number, last: number, sum: number) => void,
): void {
  const root = wholeRootOf(dHead);
  if (opts.scale && !opts.mask) unmaskedRowsFromPattern(dot, pattern, T, dHead, e, row);
  else if (!opts.scale && opts.mask && root !== null) unscaledRowsFromPattern(dot, pattern, T, root, e, row);
  else softmaxRows(dot, T, dHead, opts, e, row);
}

/** Largest |value| (0 for an empty array). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] ?? 0));
  return m;
}

/** Shannon entropy (nats) of each query's weight distribution, [T]. */
export function rowEntropies(weights: Float32Array, T: number): Float64Array {
  const out = new Float64Array(T);
  for (let q = 0; q < T; q++) {
    let h = 0;
    for (let k = 0; k < T; k++) {
      const p = weights[q * T + k] ?? 0;
      if (p > 0) h -= p * Math.log(p);
    }
    out[q] = h;
  }
  return out;
}

/** Weight each query puts on keys the causal mask would hide, [T] (0 when the mask is on). */
export function futureWeight(weights: Float32Array, T: number): Float64Array {
  const out = new Float64Array(T);
  for (let q = 0; q < T; q++) {
    let s = 0;
    for (let k = q + 1; k < T; k++) s += weights[q * T + k] ?? 0;
    out[q] = s;
  }
  return out;
}

/** Offset of head (layer, head) in an [L, H, T, T] array. */
export function headOffset(layer: number, head: number, nHeads: number, T: number): number {
  return (layer * nHeads + head) * T * T;
}

/** The steps of softmax(mask(QKᵀ/√d_k))·V, in the order the view walks through them. */
export const STAGES = ['dot', 'scale', 'mask', 'softmax', 'weights'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageView {
  /** [T_q, T_k] row-major values drawn at this stage. */
  values: Float32Array;
  /** Whether masked cells are drawn struck out (the mask is on and has been applied). */
  showMask: boolean;
  /** Values can be negative (scores) or are weights in [0, 1]. */
  signed: boolean;
}

/**
 * What one head's grid shows at `stage`, given the toggles. Stages before a step show its
 * input; a step that is toggled off passes values through unchanged.
 */
export function stageView(dot: Float32Array, T: number, dHead: number, stage: Stage, opts: StageOptions): StageView {
  switch (stage) {
    case 'dot':
      return { values: Float32Array.from(dot), showMask: false, signed: true };
    case 'scale':
      return { values: scaledScores(dot, dHead, opts.scale), showMask: false, signed: true };
    case 'mask':
      return { values: scaledScores(dot, dHead, opts.scale), showMask: opts.mask, signed: true };
    case 'softmax':
    case 'weights':
      return { values: attentionWeights(dot, T, dHead, opts), showMask: opts.mask, signed: false };
  }
}
