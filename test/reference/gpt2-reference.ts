/**
 * A deliberately plain GPT-2 forward pass: nested loops over the raw HF tensors, no ONNX, no
 * shared code with the graph builder. It is the independent reference the built graph is
 * checked against; it computes every TransformerLens hook in the same axis order (batch 1).
 * Accumulates in float64 so the comparison measures the graph, not this code.
 */
type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

export interface RefConfig {
  nLayer: number;
  nHead: number;
  dModel: number;
  eps: number;
  vocabSize: number;
  /** The MLP's GELU; GPT-2's tanh approximation when absent. */
  gelu?: 'tanh' | 'erf';
}

function get(w: Tensors, name: string): Float32Array {
  const t = w[name];
  if (!t) throw new Error(`reference: no tensor ${name}`);
  return t.data;
}

/** x [T][D] → LayerNorm rows. */
function layerNorm(x: number[][], g: Float32Array, b: Float32Array, eps: number): number[][] {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
    const sd = Math.sqrt(variance + eps);
    return row.map((v, i) => ((v - mean) / sd) * (g[i] ?? 0) + (b[i] ?? 0));
  });
}

/** x [T][IN] @ W [IN, OUT] (row-major, HF Conv1D layout) + b[OUT] */
function conv1d(
  x: number[][],
  W: Float32Array,
  b: Float32Array,
  inDim: number,
  outDim: number,
  col0 = 0,
  cols = outDim,
): number[][] {
  return x.map((row) => {
    const out: number[] = [];
    for (let o = col0; o < col0 + cols; o++) {
      let s = b[o] ?? 0;
      for (let i = 0; i < inDim; i++) s += (row[i] ?? 0) * (W[i * outDim + o] ?? 0);
      out.push(s);
    }
    return out;
  });
}

function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/**
 * erf by its Maclaurin series in float64 (a different method from the engine's rational
 * approximation on purpose); for |x| ≥ 4 it is ±1 within 1.6e-8, below float32 precision, and
 * the series would lose digits to cancellation.
 */
function erfSeries(x: number): number {
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function geluErf(x: number): number {
  return 0.5 * x * (1 + erfSeries(x / Math.SQRT2));
}

export type RefOutputs = Map<string, { dims: number[]; data: Float64Array }>;

function put(out: RefOutputs, name: string, dims: number[], fill: (set: (i: number, v: number) => void) => void): void {
  const data = new Float64Array(dims.reduce((a, b) => a * b, 1));
  fill((i, v) => {
    data[i] = v;
  });
  out.set(name, { dims, data });
}

/** Knock one head out: its hook_z set to 0, or to its mean over the text's positions. */
export interface RefAblation {
  layer: number;
  head: number;
  mode: 'zero' | 'mean';
}

export function referenceForward(w: Tensors, cfg: RefConfig, ids: number[], ablate?: RefAblation): RefOutputs {
  const T = ids.length;
  const D = cfg.dModel;
  const H = cfg.nHead;
  const dh = D / H;
  const out: RefOutputs = new Map();
  const wte = get(w, 'wte.weight');
  const wpe = get(w, 'wpe.weight');
  let x: number[][] = ids.map((id, t) => Array.from({ length: D }, (_, i) => (wte[id * D + i] ?? 0) + (wpe[t * D + i] ?? 0)));
  const put2 = (name: string, m: number[][]): void =>
    put(out, name, [1, T, m[0]?.length ?? 0], (set) => m.forEach((row, t) => row.forEach((v, i) => set(t * row.length + i, v))));

  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    const b = `blocks.${l}`;
    put2(`${b}.hook_resid_pre`, x);
    const ln1 = layerNorm(x, get(w, p + 'ln_1.weight'), get(w, p + 'ln_1.bias'), cfg.eps);
    const Wa = get(w, p + 'attn.c_attn.weight');
    const ba = get(w, p + 'attn.c_attn.bias');
    const q = conv1d(ln1, Wa, ba, D, 3 * D, 0, D);
    const k = conv1d(ln1, Wa, ba, D, 3 * D, D, D);
    const v = conv1d(ln1, Wa, ba, D, 3 * D, 2 * D, D);
    for (const [name, m] of [
      ['hook_q', q],
      ['hook_k', k],
      ['hook_v', v],
    ] as const) {
      put(out, `${b}.attn.${name}`, [1, T, H, dh], (set) => m.forEach((row, t) => row.forEach((val, i) => set(t * D + i, val))));
    }
    // dot[h][tq][tk], pattern, z
    const dot = new Float64Array(H * T * T);
    const pat = new Float64Array(H * T * T);
    const z: number[][] = Array.from({ length: T }, () => new Array<number>(D).fill(0));
    for (let h = 0; h < H; h++) {
      for (let tq = 0; tq < T; tq++) {
        const scores: number[] = [];
        for (let tk = 0; tk < T; tk++) {
          let s = 0;
          for (let i = 0; i < dh; i++) s += (q[tq]?.[h * dh + i] ?? 0) * (k[tk]?.[h * dh + i] ?? 0);
          dot[(h * T + tq) * T + tk] = s;
          scores.push(tk <= tq ? s / Math.sqrt(dh) : Number.NEGATIVE_INFINITY);
        }
        const mx = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - mx));
        const sum = e.reduce((a, c) => a + c, 0);
        e.forEach((val, tk) => {
          pat[(h * T + tq) * T + tk] = val / sum;
        });
        for (let i = 0; i < dh; i++) {
          let s = 0;
          for (let tk = 0; tk < T; tk++) s += (pat[(h * T + tq) * T + tk] ?? 0) * (v[tk]?.[h * dh + i] ?? 0);
          const zr = z[tq];
          if (zr) zr[h * dh + i] = s;
        }
      }
    }
    if (ablate?.layer === l) {
      const h = ablate.head;
      for (let i = 0; i < dh; i++) {
        let mean = 0;
        for (let t = 0; t < T; t++) mean += (z[t]?.[h * dh + i] ?? 0) / T;
        for (let t = 0; t < T; t++) {
          const zr = z[t];
          if (zr) zr[h * dh + i] = ablate.mode === 'mean' ? mean : 0;
        }
      }
    }
    out.set(`${b}.attn.hook_dot`, { dims: [1, H, T, T], data: dot });
    out.set(`${b}.attn.hook_pattern`, { dims: [1, H, T, T], data: pat });
    put(out, `${b}.attn.hook_z`, [1, T, H, dh], (set) => z.forEach((row, t) => row.forEach((val, i) => set(t * D + i, val))));
    // result[t][h][:] = z[t][h] @ W_O[h*dh:(h+1)*dh, :]
    const Wo = get(w, p + 'attn.c_proj.weight');
    const bo = get(w, p + 'attn.c_proj.bias');
    const result = new Float64Array(T * H * D);
    const attnOut: number[][] = [];
    for (let t = 0; t < T; t++) {
      const row = new Array<number>(D).fill(0);
      for (let h = 0; h < H; h++) {
        for (let o = 0; o < D; o++) {
          let s = 0;
          for (let i = 0; i < dh; i++) s += (z[t]?.[h * dh + i] ?? 0) * (Wo[(h * dh + i) * D + o] ?? 0);
          result[(t * H + h) * D + o] = s;
          row[o] = (row[o] ?? 0) + s;
        }
      }
      attnOut.push(row.map((s, o) => s + (bo[o] ?? 0)));
    }
    out.set(`${b}.attn.hook_result`, { dims: [1, T, H, D], data: result });
    put2(`${b}.hook_attn_out`, attnOut);
    const mid = x.map((row, t) => row.map((val, i) => val + (attnOut[t]?.[i] ?? 0)));
    put2(`${b}.hook_resid_mid`, mid);
    const ln2 = layerNorm(mid, get(w, p + 'ln_2.weight'), get(w, p + 'ln_2.bias'), cfg.eps);
    const dMlp = get(w, p + 'mlp.c_fc.bias').length;
    const hidden = conv1d(ln2, get(w, p + 'mlp.c_fc.weight'), get(w, p + 'mlp.c_fc.bias'), D, dMlp).map((r) =>
      r.map(cfg.gelu === 'erf' ? geluErf : geluTanh),
    );
    const mlpOut = conv1d(hidden, get(w, p + 'mlp.c_proj.weight'), get(w, p + 'mlp.c_proj.bias'), dMlp, D);
    put2(`${b}.hook_mlp_out`, mlpOut);
    x = mid.map((row, t) => row.map((val, i) => val + (mlpOut[t]?.[i] ?? 0)));
    put2(`${b}.hook_resid_post`, x);
  }
  // ln_final.hook_scale = √(var + ε); logits = LN(x) @ wteᵀ (or lm_head)
  const scale = x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / D;
    return Math.sqrt(row.reduce((a, v) => a + (v - mean) ** 2, 0) / D + cfg.eps);
  });
  put(out, 'ln_final.hook_scale', [1, T, 1], (set) => scale.forEach((s, t) => set(t, s)));
  const lnF = layerNorm(x, get(w, 'ln_f.weight'), get(w, 'ln_f.bias'), cfg.eps);
  const U = w['lm_head.weight']?.data ?? wte;
  put(out, 'logits', [1, T, cfg.vocabSize], (set) => {
    for (let t = 0; t < T; t++) {
      const row = lnF[t] ?? [];
      for (let vId = 0; vId < cfg.vocabSize; vId++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += (row[i] ?? 0) * (U[vId * D + i] ?? 0);
        set(t * cfg.vocabSize + vId, s);
      }
    }
  });
  return out;
}
