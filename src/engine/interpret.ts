/**
 * Why a query attends to a key, and what a head is for: the score decomposition and head
 * ablation, as plain float64 arithmetic on hooks the graph returned and the checkpoint's weights.
 *
 * Score decomposition. The residual stream entering block l is a sum of parts (DESIGN.md):
 * `embed` (wte row), `pos` (wpe row), and for each earlier layer l' every head's hook_result
 * (`L{l'}H{h}`), the attention output bias (`L{l'}.b_O`) and hook_mlp_out (`L{l'}.mlp`).
 * ln_1 with its scale σ frozen at the position's value is affine: LN(x) = Σ_p (p − mean p)/σ ⊙ γ + β,
 * so q = Σ_p q_p + q_bias with q_p = ((p − mean p)/σ ⊙ γ) W_Q and q_bias = β W_Q + b_Q (likewise
 * k), and q·k is exactly the sum of the bilinear terms q_a · k_b.
 *
 * Ablation. The graph takes no intervention, so the ablated pass runs here: from the layer's
 * hook_resid_mid (taken from the graph, unchanged by anything before the head's output) with the
 * head's hook_result removed (or replaced by its mean over the text), through the rest of the
 * model in float64. The clean pass runs through the same code from the same hooks, so the
 * differences reported are the ablation's alone and not float32-vs-float64 noise. It is exact:
 * a full forward pass of the later layers (causal, so only positions up to the token run).
 */

import type { GeluKind } from './gpt2-weights';

/** The checkpoint tensors one block needs, HF Conv1D layout ([in, out], row-major). */
export interface BlockWeights {
  ln1g: Float32Array;
  ln1b: Float32Array;
  attnW: Float32Array; // [D, 3D]
  attnB: Float32Array; // [3D]
  projW: Float32Array; // [D, D]
  projB: Float32Array; // [D]
  ln2g: Float32Array;
  ln2b: Float32Array;
  fcW: Float32Array; // [D, F]
  fcB: Float32Array; // [F]
  mlpW: Float32Array; // [F, D]
  mlpB: Float32Array; // [D]
  /** The MLP's GELU (Gpt2Config.gelu). */
  gelu: GeluKind;
}

/** The residual-stream part names entering block `layer`, in the order decompositions use. */
export function partNames(layer: number, nHead: number): string[] {
  const names = ['embed', 'pos'];
  for (let l = 0; l < layer; l++) {
    for (let h = 0; h < nHead; h++) names.push(`L${l}H${h}`);
    names.push(`L${l}.b_O`, `L${l}.mlp`);
  }
  names.push('bias');
  return names;
}

/** What the parts at one position are made of. */
export interface PartSources {
  layer: number;
  nHead: number;
  dModel: number;
  /** wte[id] and wpe[t] for the position. */
  embed: ArrayLike<number>;
  pos: ArrayLike<number>;
  /** blocks.{l}.attn.hook_result [T, H, D] for l < layer. */
  result: ArrayLike<number>[];
  /** attn.c_proj.bias per layer. */
  bO: ArrayLike<number>[];
  /** blocks.{l}.hook_mlp_out [T, D] for l < layer. */
  mlpOut: ArrayLike<number>[];
  position: number;
}

/** The parts (every name of partNames but `bias`) at one position, each [D]. */
export function residualParts(s: PartSources): Float64Array[] {
  const D = s.dModel;
  const H = s.nHead;
  const t = s.position;
  const parts: Float64Array[] = [Float64Array.from(s.embed), Float64Array.from(s.pos)];
  for (let l = 0; l < s.layer; l++) {
    const res = s.result[l] ?? [];
    for (let h = 0; h < H; h++) {
      const off = (t * H + h) * D;
      const p = new Float64Array(D);
      for (let i = 0; i < D; i++) p[i] = res[off + i] ?? 0;
      parts.push(p);
    }
    parts.push(Float64Array.from(s.bO[l] ?? []));
    const mlp = s.mlpOut[l] ?? [];
    const p = new Float64Array(D);
    for (let i = 0; i < D; i++) p[i] = mlp[t * D + i] ?? 0;
    parts.push(p);
  }
  return parts;
}

/** √(var + ε) of a residual vector: LayerNorm's scale. */
export function lnScale(x: ArrayLike<number>, eps: number): number {
  const D = x.length;
  let mean = 0;
  for (let i = 0; i < D; i++) mean += x[i] ?? 0;
  mean /= D;
  let v = 0;
  for (let i = 0; i < D; i++) v += ((x[i] ?? 0) - mean) ** 2;
  return Math.sqrt(v / D + eps);
}

/**
 * Each part through ln_1 (scale frozen at σ) and one head's columns of c_attn, starting at column
 * `col0` of the [D, 3D] weight; the last row is the bias term β W + b. Returns [P + 1][d_head].
 */
export function projectParts(parts: Float64Array[], sigma: number, w: BlockWeights, col0: number, dHead: number): Float64Array[] {
  const D = w.ln1g.length;
  const W3 = 3 * D;
  const out: Float64Array[] = [];
  const u = new Float64Array(D);
  for (const p of parts) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += p[i] ?? 0;
    mean /= D;
    for (let i = 0; i < D; i++) u[i] = (((p[i] ?? 0) - mean) / sigma) * (w.ln1g[i] ?? 0);
    out.push(times(u, w.attnW, W3, col0, dHead));
  }
  const bias = times(Float64Array.from(w.ln1b), w.attnW, W3, col0, dHead);
  for (let c = 0; c < dHead; c++) bias[c] = (bias[c] ?? 0) + (w.attnB[col0 + c] ?? 0);
  out.push(bias);
  return out;
}

/** x [D] @ W[:, col0 : col0 + n] with W row-major [D, width]. */
function times(x: Float64Array, W: Float32Array, width: number, col0: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] ?? 0;
    if (xi === 0) continue;
    const row = i * width + col0;
    for (let c = 0; c < n; c++) out[c] = (out[c] ?? 0) + xi * (W[row + c] ?? 0);
  }
  return out;
}

/** terms[a·P + b] = qParts[a] · kParts[b]. */
export function bilinearTerms(qParts: Float64Array[], kParts: Float64Array[]): Float64Array {
  const P = qParts.length;
  const terms = new Float64Array(P * kParts.length);
  qParts.forEach((q, a) =>
    kParts.forEach((k, b) => {
      let s = 0;
      for (let c = 0; c < q.length; c++) s += (q[c] ?? 0) * (k[c] ?? 0);
      terms[a * kParts.length + b] = s;
    }),
  );
  return terms;
}

// ---------------------------------------------------------------- ablation: a float64 forward pass

function layerNormRow(x: Float64Array, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const sigma = lnScale(x, eps);
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  return x.map((v, i) => ((v - mean) / sigma) * (g[i] ?? 0) + (b[i] ?? 0));
}

/** x [IN] @ W [IN, OUT] + b. */
function linear(x: Float64Array, W: Float32Array, b: Float32Array, outDim: number): Float64Array {
  const out = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] ?? 0;
    if (xi === 0) continue;
    const row = i * outDim;
    for (let o = 0; o < outDim; o++) out[o] = (out[o] ?? 0) + xi * (W[row + o] ?? 0);
  }
  return out;
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/**
 * erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, far below float32's step at the
 * values GELU sees). Written by hand: JavaScript has no Math.erf and one function is not worth a
 * dependency.
 */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1 - poly * Math.exp(-a * a));
}

function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
}

/** The MLP sublayer's output for one row (hook_mlp_out). */
function mlpRow(x: Float64Array, w: BlockWeights, eps: number): Float64Array {
  const F = w.fcB.length;
  const h = linear(layerNormRow(x, w.ln2g, w.ln2b, eps), w.fcW, w.fcB, F).map(w.gelu === 'erf' ? geluErf : geluTanh);
  return linear(h, w.mlpW, w.mlpB, x.length);
}

/** hook_attn_out for rows [T][D] under causal attention. */
function attentionRows(x: Float64Array[], w: BlockWeights, nHead: number, eps: number): Float64Array[] {
  const D = w.ln1g.length;
  const dh = D / nHead;
  const qkv = x.map((r) => linear(layerNormRow(r, w.ln1g, w.ln1b, eps), w.attnW, w.attnB, 3 * D));
  return qkv.map((qr, tq) => {
    const z = new Float64Array(D);
    for (let h = 0; h < nHead; h++) {
      const scores: number[] = [];
      for (let tk = 0; tk <= tq; tk++) {
        const kr = qkv[tk] ?? new Float64Array(3 * D);
        let s = 0;
        for (let c = 0; c < dh; c++) s += (qr[h * dh + c] ?? 0) * (kr[D + h * dh + c] ?? 0);
        scores.push(s / Math.sqrt(dh));
      }
      const mx = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - mx));
      const sum = e.reduce((a, v) => a + v, 0);
      e.forEach((ev, tk) => {
        const vr = qkv[tk] ?? new Float64Array(3 * D);
        for (let c = 0; c < dh; c++) z[h * dh + c] = (z[h * dh + c] ?? 0) + (ev / sum) * (vr[2 * D + h * dh + c] ?? 0);
      });
    }
    return linear(z, w.projW, w.projB, D);
  });
}

/**
 * From hook_resid_mid of block `layer` (rows 0…t) through that block's MLP and every later block.
 * Returns hook_resid_post[t] of each block from `layer` on, and the final residual at t.
 */
export function forwardFromMid(
  mid: Float64Array[],
  layer: number,
  blocks: BlockWeights[],
  nHead: number,
  eps: number,
): Float64Array[] {
  let x = mid.map((r) => {
    const m = mlpRow(r, blocks[layer] as BlockWeights, eps);
    return r.map((v, i) => v + (m[i] ?? 0));
  });
  const last = x.length - 1;
  const posts = [x[last] ?? new Float64Array(0)];
  for (let l = layer + 1; l < blocks.length; l++) {
    const w = blocks[l] as BlockWeights;
    const attn = attentionRows(x, w, nHead, eps);
    x = x.map((r, t) => {
      const a = attn[t] ?? new Float64Array(r.length);
      const m2 = r.map((v, i) => v + (a[i] ?? 0));
      const m = mlpRow(m2, w, eps);
      return m2.map((v, i) => v + (m[i] ?? 0));
    });
    posts.push(x[last] ?? new Float64Array(0));
  }
  return posts;
}

/** log softmax of ln_f(x) @ Uᵀ: next-token log-probabilities after a final residual x. */
export function logProbs(x: Float64Array, U: Float32Array, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const D = x.length;
  const y = layerNormRow(x, g, b, eps);
  const V = U.length / D;
  const logits = new Float64Array(V);
  let max = -Infinity;
  for (let v = 0; v < V; v++) {
    let s = 0;
    const row = v * D;
    for (let i = 0; i < D; i++) s += (y[i] ?? 0) * (U[row + i] ?? 0);
    logits[v] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (const l of logits) sum += Math.exp(l - max);
  const logZ = max + Math.log(sum);
  return logits.map((l) => l - logZ);
}

/** Indices of the n largest values, descending. */
export function topIndices(values: Float64Array, n: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? -Infinity;
    if (idx.length < n || v > (values[idx[idx.length - 1] ?? 0] ?? -Infinity)) {
      idx.push(i);
      idx.sort((a, b) => (values[b] ?? 0) - (values[a] ?? 0));
      if (idx.length > n) idx.pop();
    }
  }
  return idx;
}

export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] ?? 0) ** 2;
  return Math.sqrt(s);
}
