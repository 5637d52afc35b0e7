/**
 * The score decomposition written out independently, as plain loops over the raw weights and the
 * reference forward pass's hooks (float64): the residual stream entering block `layer` split into
 * its parts, each through ln_1 with the position's scale frozen, then through one head's W_Q or W_K;
 * every (query part, key part) pair's dot product.
 */
import type { RefConfig, RefOutputs } from './gpt2-reference';

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

export interface RefScore {
  parts: string[];
  /** terms[a][b]: query part a · key part b. */
  terms: number[][];
  /** The reference's own hook_dot at the cell. */
  dot: number;
  /** Σ of the parts at the query, to compare with hook_resid_pre. */
  residQuery: number[];
}

function tensor(w: Tensors, name: string): Float32Array {
  const t = w[name];
  if (!t) throw new Error(`no tensor ${name}`);
  return t.data;
}

function hook(ref: RefOutputs, name: string): Float64Array {
  const t = ref.get(name);
  if (!t) throw new Error(`no hook ${name}`);
  return t.data;
}

export function referenceScore(
  w: Tensors,
  cfg: RefConfig,
  ids: number[],
  ref: RefOutputs,
  layer: number,
  head: number,
  query: number,
  key: number,
): RefScore {
  const D = cfg.dModel;
  const H = cfg.nHead;
  const dh = D / H;
  const T = ids.length;
  const wte = tensor(w, 'wte.weight');
  const wpe = tensor(w, 'wpe.weight');
  const g = tensor(w, `h.${layer}.ln_1.weight`);
  const beta = tensor(w, `h.${layer}.ln_1.bias`);
  const Wa = tensor(w, `h.${layer}.attn.c_attn.weight`);
  const ba = tensor(w, `h.${layer}.attn.c_attn.bias`);

  const partsAt = (t: number): { names: string[]; vecs: number[][] } => {
    const names: string[] = ['embed', 'pos'];
    const vecs: number[][] = [[], []];
    for (let i = 0; i < D; i++) {
      vecs[0]?.push(wte[(ids[t] ?? 0) * D + i] ?? 0);
      vecs[1]?.push(wpe[t * D + i] ?? 0);
    }
    for (let l = 0; l < layer; l++) {
      const result = hook(ref, `blocks.${l}.attn.hook_result`);
      for (let h = 0; h < H; h++) {
        names.push(`L${l}H${h}`);
        const v: number[] = [];
        for (let i = 0; i < D; i++) v.push(result[(t * H + h) * D + i] ?? 0);
        vecs.push(v);
      }
      names.push(`L${l}.b_O`);
      vecs.push(Array.from(tensor(w, `h.${l}.attn.c_proj.bias`)));
      names.push(`L${l}.mlp`);
      const mlp = hook(ref, `blocks.${l}.hook_mlp_out`);
      const v: number[] = [];
      for (let i = 0; i < D; i++) v.push(mlp[t * D + i] ?? 0);
      vecs.push(v);
    }
    return { names, vecs };
  };

  /** √(var + ε) of hook_resid_pre at t, the frozen LayerNorm scale. */
  const scaleAt = (t: number): number => {
    const x = hook(ref, `blocks.${layer}.hook_resid_pre`);
    let mean = 0;
    for (let i = 0; i < D; i++) mean += (x[t * D + i] ?? 0) / D;
    let v = 0;
    for (let i = 0; i < D; i++) v += ((x[t * D + i] ?? 0) - mean) ** 2 / D;
    return Math.sqrt(v + cfg.eps);
  };

  /** Each part, then the bias, through LN (frozen σ) and head columns starting at `offset`. */
  const project = (t: number, offset: number): number[][] => {
    const { vecs } = partsAt(t);
    const sd = scaleAt(t);
    const rows: number[][] = [];
    for (const p of vecs) {
      let mean = 0;
      for (let i = 0; i < D; i++) mean += (p[i] ?? 0) / D;
      const row: number[] = [];
      for (let c = 0; c < dh; c++) {
        let s = 0;
        for (let i = 0; i < D; i++)
          s += (((p[i] ?? 0) - mean) / sd) * (g[i] ?? 0) * (Wa[i * 3 * D + offset + head * dh + c] ?? 0);
        row.push(s);
      }
      rows.push(row);
    }
    const bias: number[] = [];
    for (let c = 0; c < dh; c++) {
      let s = ba[offset + head * dh + c] ?? 0;
      for (let i = 0; i < D; i++) s += (beta[i] ?? 0) * (Wa[i * 3 * D + offset + head * dh + c] ?? 0);
      bias.push(s);
    }
    rows.push(bias);
    return rows;
  };

  const q = project(query, 0);
  const k = project(key, D);
  const terms = q.map((qa) =>
    k.map((kb) => {
      let s = 0;
      for (let c = 0; c < dh; c++) s += (qa[c] ?? 0) * (kb[c] ?? 0);
      return s;
    }),
  );
  const { names, vecs } = partsAt(query);
  const residQuery = Array.from({ length: D }, (_, i) => vecs.reduce((a, v) => a + (v[i] ?? 0), 0));
  const dot = hook(ref, `blocks.${layer}.attn.hook_dot`)[(head * T + query) * T + key] ?? 0;
  return { parts: [...names, 'bias'], terms, dot, residQuery };
}

/** Every tensor of a .safetensors file as float32 (F32, F16 or BF16), read with nothing but the spec. */
export function readSafetensors(bytes: Uint8Array): Tensors {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + n;
  const out: Tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = info.data_offsets;
    const count = info.shape.reduce((x, y) => x * y, 1);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (info.dtype === 'F32') data[i] = view.getFloat32(base + a + 4 * i, true);
      else if (info.dtype === 'BF16')
        data[i] = new Float32Array(new Uint32Array([view.getUint16(base + a + 2 * i, true) << 16]).buffer)[0] ?? 0;
      else if (info.dtype === 'F16') {
        const h = view.getUint16(base + a + 2 * i, true);
        const sign = h & 0x8000 ? -1 : 1;
        const e = (h >> 10) & 0x1f;
        const f = h & 0x3ff;
        data[i] =
          e === 0 ? sign * 2 ** -14 * (f / 1024) : e === 31 ? (f ? NaN : sign * Infinity) : sign * 2 ** (e - 15) * (1 + f / 1024);
      } else throw new Error(`dtype ${info.dtype}`);
    }
    if (b - a !== count * (info.dtype === 'F32' ? 4 : 2)) throw new Error(`${name}: size`);
    out[name.replace(/^transformer\./, '')] = { shape: info.shape, data };
  }
  return out;
}
