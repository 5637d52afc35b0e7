/**
 * GPT-2 weights → an instrumented ONNX model that exposes every attention internal under its
 * TransformerLens hook name (see ../shared/hooks.ts and DESIGN.md).
 *
 * The forward pass is nanoGPT's: pre-LayerNorm blocks, learned positions, causal softmax
 * attention, GELU (tanh approximation, or exact erf for nanoGPT's nn.GELU), final LayerNorm, unembedding tied to wte. It is written
 * head-explicitly so each TransformerLens tensor is a real node output, not a reconstruction:
 *   hook_dot = q·kᵀ (unscaled, unmasked) → ÷√d_head → + (0 or −∞ by causality) → softmax = hook_pattern
 *   hook_z = pattern @ v;  hook_result[h] = z[h] @ W_O[h];  hook_attn_out = Σ_h hook_result + b_O
 *
 * Incremental runs: the graph also takes the keys and values of an unchanged prefix of P tokens
 * (`past.{l}.key` / `.value`, hook_k / hook_v of those positions) and computes only the T_new
 * tokens in input_ids, at positions P … P+T_new−1. Causal attention makes this exact: earlier
 * positions never see later tokens. With P = 0 (empty past tensors) it is the plain forward pass.
 * For the renderer it also reduces in the graph: per query row the four head statistics, and
 * hook_dot / hook_pattern cut to the drawn DRAWN_TOKENS² square, so nothing T² leaves the graph.
 *
 * The model proto is built with onnx-proto (protobufjs code generated from onnx.proto); weights
 * go to an external-data file beside it, so any model size stays far from protobuf's 2 GB cap.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import type { onnx as OnnxNs } from 'onnx-proto';
import { DRAWN_TOKENS, EXTRA_OUTPUTS, TOP_K, analysisOutputNames, hookNames, incrementalNames } from '../shared/hooks';
import { expectedShapes, type Gpt2Checkpoint, type Gpt2Config } from './gpt2-weights';

// onnx-proto is CommonJS whose exports Node's ESM loader cannot name statically.
const { onnx } = createRequire(import.meta.url)('onnx-proto') as { onnx: typeof OnnxNs };

/** Bump whenever the graph changes: cached builds are keyed by it. */
export const BUILDER_VERSION = 16;
export const OPSET = 17;
/** onnxruntime's contrib operators (FastGelu, BiasGelu): the engine runs on onnxruntime only. */
const CONTRIB_DOMAIN = 'com.microsoft';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const ALIGN = 4096;

type AttrValue = number | number[] | { float: number };

/** Appends weights to the external-data file, aligned so runtimes may map them directly. */
class ExternalData {
  private readonly fd: number;
  private offset = 0;
  private written = 0;
  constructor(
    readonly path: string,
    /** Called with the share of the weights written so far. */
    private readonly onProgress: (fraction: number) => void = () => {},
    private readonly totalBytes = 0,
  ) {
    this.fd = openSync(path, 'w');
  }
  append(bytes: Uint8Array): { offset: number; length: number } {
    const pad = (ALIGN - (this.offset % ALIGN)) % ALIGN;
    if (pad) writeSync(this.fd, new Uint8Array(pad));
    this.offset += pad;
    const at = this.offset;
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.offset += bytes.length;
    this.written += bytes.length;
    if (this.totalBytes > 0) this.onProgress(Math.min(1, this.written / this.totalBytes));
    return { offset: at, length: bytes.length };
  }
  close(): void {
    closeSync(this.fd);
  }
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

class Graph {
  readonly nodes: OnnxNs.INodeProto[] = [];
  readonly initializers: OnnxNs.ITensorProto[] = [];
  private n = 0;
  constructor(private readonly data: ExternalData) {}

  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outputs?: string[],
    /** The operator set: ONNX's own unless given (CONTRIB_DOMAIN). */
    domain?: string,
  ): string[] {
    const outs = outputs ?? [`${opType}_${this.n++}`];
    const attribute = Object.entries(attrs).map(([name, v]): OnnxNs.IAttributeProto => {
      if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
      if (typeof v === 'object') return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.float };
      return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
    });
    this.nodes.push({ opType, input: inputs, output: outs, attribute, name: `${opType}_${this.nodes.length}`, domain });
    return outs;
  }

  /** A single-output op of onnxruntime's contrib domain (com.microsoft). */
  contrib(opType: string, inputs: string[], out?: string): string {
    return this.op(opType, inputs, {}, out ? [out] : undefined, CONTRIB_DOMAIN)[0] ?? '';
  }

  /** Single-output op; `out` names the result (e.g. a hook name). */
  one(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.op(opType, inputs, attrs, out ? [out] : undefined)[0] ?? '';
  }

  weight(name: string, dims: number[], values: Float32Array): string {
    const { offset, length } = this.data.append(bytesOf(values));
    this.initializers.push({
      name,
      dims,
      dataType: FLOAT,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: basename(this.data.path) },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(length) },
      ],
    });
    return name;
  }

  /** Small constants live inside the proto. */
  constFloat(name: string, dims: number[], values: number[]): string {
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: bytesOf(Float32Array.from(values)) });
    return name;
  }
  constInt64(name: string, dims: number[], values: number[]): string {
    this.initializers.push({ name, dims, dataType: INT64, rawData: bytesOf(BigInt64Array.from(values.map(BigInt))) });
    return name;
  }
}

/** W_h W_hᵀ for each head's [d_head, D] block of W_O ([H·d_head, D] row-major): [H, d_head, d_head]. */
function headGram(wO: Float32Array, H: number, dh: number, D: number): Float32Array {
  const out = new Float32Array(H * dh * dh);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < dh; i++) {
      const ri = (h * dh + i) * D;
      for (let j = 0; j <= i; j++) {
        const rj = (h * dh + j) * D;
        let s = 0;
        for (let o = 0; o < D; o++) s += (wO[ri + o] ?? 0) * (wO[rj + o] ?? 0);
        out[(h * dh + i) * dh + j] = s;
        out[(h * dh + j) * dh + i] = s;
      }
    }
  }
  return out;
}

/** Columns [from, to) of a row-major [rows, cols] matrix. */
function columns(m: Float32Array, rows: number, cols: number, from: number, to: number): Float32Array {
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * cols + from, r * cols + to), r * (to - from));
  return out;
}

function layerNorm(g: Graph, x: string, w: string, b: string, eps: number, out?: string): string {
  return g.one('LayerNormalization', [x, w, b], { axis: -1, epsilon: { float: eps } }, out);
}

function linear(g: Graph, x: string, w: string, b: string, out?: string): string {
  return g.one('Add', [g.one('MatMul', [x, w]), b], {}, out);
}

/**
 * GELU of x + b, one onnxruntime kernel instead of eleven ops (bias Add, Mul ×5, Add ×2, Tanh,
 * or Erf). onnxruntime's own contrib ops (com.microsoft), so no opset bump: FastGelu is GPT-2's
 * "gelu_new", 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); BiasGelu is the exact erf form that
 * nanoGPT's nn.GELU() trains with. GPT-2 small, [62, 3072] a layer: 0.86 → 0.19 ms (T = 1024:
 * 9.1 → 3.6 ms), and within 1e-6 of the op-by-op form on inputs in [−4, 4] (.gl microbench,
 * 2026-12-01); the reference comparisons (graph-vs-reference) check the whole forward pass.
 */
function biasGelu(g: Graph, x: string, b: string, kind: Gpt2Config['gelu']): string {
  return g.contrib(kind === 'erf' ? 'BiasGelu' : 'FastGelu', [x, b]);
}

/** Whether 1/√d_head is a power of two, so scaling by it is exact. */
export function exactScale(dh: number): boolean {
  return Number.isInteger(Math.log2(Math.sqrt(dh)));
}

/**
 * hook_dot (q·kᵀ, named `dotName`) and the scaled scores q·kᵀ/√d_head the softmax reads.
 * When √d_head is a power of two (GPT-2: 8) the scores are (q/√d_head)·kᵀ: scaling by a power
 * of two is exact in floating point, so they equal hook_dot/√d_head bit for bit, and the drawn
 * square of hook_dot is the scores' square times √d_head, exactly. hook_dot then stays a node
 * only the full graph reaches, and the analysis graph neither writes nor divides a second
 * [H, T, T] tensor per layer (onnxruntime folds the scalar into the matmul). `dot` is returned
 * only when the drawn square must be cut from it (other head sizes).
 */
function scores(
  g: Graph,
  qh: string,
  khT: string,
  dh: number,
  dotName: string,
): { dot: string | null; scaled: string; qScaled: string } {
  const dot = g.one('MatMul', [qh, khT], {}, dotName); // [1, H, T_q, T_k]
  if (!exactScale(dh)) {
    return { dot, scaled: g.one('Div', [dot, 'c_sqrt_d_head']), qScaled: g.one('Div', [qh, 'c_sqrt_d_head']) };
  }
  const qScaled = g.one('Mul', [qh, 'c_inv_sqrt_d_head']);
  return { dot: null, scaled: g.one('MatMul', [qScaled, khT]), qScaled };
}

/**
 * Per query row of a softmax, its log-sum-exp, [1, H, T, 1], from the softmax itself: the largest
 * weight is exp(max s − lse), so lse = max s − ln(max p). The masked scores' last use: they can
 * be freed before anything else of the layer's attention is allocated.
 */
function softmaxLogSumExp(g: Graph, masked: string, pattern: string): string {
  const rowMax = (t: string): string => g.one('ReduceMax', [t], { axes: [-1], keepdims: 1 });
  return g.one('Sub', [rowMax(masked), g.one('Log', [rowMax(pattern)])]);
}

interface RowStatInputs {
  /** The softmax, [1, H, T, T_k], its log-sum-exp and the expected score Σ_k p_k s_k, [1, H, T, 1]. */
  pattern: string;
  lse: string;
  expectedScore: string;
  /** Keys q − 2, q − 1, q of each new row, clamped to 0, [1, H, T, 3], and which exist, [T, 3]. */
  nearKeys: string;
  nearValid: string;
}

/**
 * Per query row [1, H, T, 4]: entropy, weight on the previous token, on the first token, and
 * within two tokens back — without any pass over [H, T, T_k] of its own (each such pass at
 * T = 1024 is 50 MB written or read per layer, and one more such tensor alive at a time).
 *
 * Entropy without a logarithm per weight: p_k = exp(s_k − lse), so −Σ p_k ln p_k = lse − Σ p_k s_k
 * (Σ p_k = 1; masked keys have p_k = 0 exactly). The previous-token and local weights are
 * gathered (three weights per row), not masked sums.
 */
function rowStatistics(g: Graph, x: RowStatInputs, out: string): string {
  const entropy = g.one('Sub', [x.lse, x.expectedScore]);
  const nearWeights = g.one('Mul', [g.one('GatherElements', [x.pattern, x.nearKeys], { axis: 3 }), x.nearValid]);
  const prev = g.one('Slice', [nearWeights, 'c_near_prev_start', 'c_near_prev_end', 'c_axes3']); // key q − 1
  const first = g.one('Slice', [x.pattern, 'c_key0_start', 'c_key0_end', 'c_axes3']); // key 0
  const local = g.one('ReduceSum', [nearWeights, 'c_axes3'], { keepdims: 1 });
  return g.one('Concat', [entropy, prev, first, local], { axis: 3 }, out);
}

function valueInfo(name: string, dims: (number | string)[], elemType: number = FLOAT): OnnxNs.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export interface BuildResult {
  /** Every hook (exports, the command line, tests). */
  modelPath: string;
  /** The same weights, only what an analysis fetches (analysisOutputNames): see below. */
  analysisModelPath: string;
  dataPath: string;
  outputs: string[];
}

/**
 * Why two graphs: onnxruntime computes every node and keeps every graph output alive for the
 * whole run, fetched or not. With all hooks exposed GPT-2 small at T = 1024 held 1.2 GB of
 * hook_dot / hook_pattern and ran 5–6 s even when only the top-k was fetched. The analysis
 * graph exposes only per-position tensors and reductions, so the T² intermediates are freed
 * layer by layer. Both protos point into one external-data file: the weights are written once.
 */
export function analysisModelPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/, '') + '.analysis.onnx';
}

/** Nodes needed for `outputs` (walking back from them), in the original order. */
function reachable(nodes: OnnxNs.INodeProto[], outputs: string[]): OnnxNs.INodeProto[] {
  const producer = new Map<string, OnnxNs.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const keep = new Set<OnnxNs.INodeProto>();
  const stack = [...outputs];
  while (stack.length) {
    const node = producer.get(stack.pop() ?? '');
    if (!node || keep.has(node)) continue;
    keep.add(node);
    stack.push(...(node.input ?? []));
  }
  return nodes.filter((n) => keep.has(n));
}

function writeModel(path: string, graph: OnnxNs.IGraphProto): void {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'attention-atlas',
    producerVersion: String(BUILDER_VERSION),
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: CONTRIB_DOMAIN, version: 1 },
    ],
    graph,
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  const fd = openSync(path, 'w');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } finally {
    closeSync(fd);
  }
}

/**
 * Builds the graph for `ckpt` into `modelPath` (+ `${modelPath}.data`). Reads one tensor at a
 * time, so peak memory stays near the largest single tensor (wte).
 */
/** Lets the event loop run between layers, so build progress reaches whoever is listening. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function buildInstrumentedGraph(
  ckpt: Gpt2Checkpoint,
  modelPath: string,
  onProgress?: (fraction: number) => void,
): Promise<BuildResult> {
  const c: Gpt2Config = ckpt.config;
  const D = c.dModel;
  const H = c.nHead;
  const dh = D / H;
  // Every weight is written once as float32 (q, k, v split from c_attn, lm_head only when untied).
  const paramBytes = [...expectedShapes(c).values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1) * 4, 0);
  const gramBytes = c.nLayer * H * dh * dh * 4;
  // Plus lm_head when untied, or the embedding's own copy of wte when tied: one more [V, D] either way.
  const totalBytes = paramBytes + gramBytes + c.vocabSize * D * 4;
  const data = new ExternalData(`${modelPath}.data`, onProgress, totalBytes);
  const g = new Graph(data);
  const outputs: OnnxNs.IValueInfoProto[] = [];
  const pastInputs: OnnxNs.IValueInfoProto[] = [];
  const expose = (name: string, dims: (number | string)[], elemType: number = FLOAT): void => {
    outputs.push(valueInfo(name, dims, elemType));
  };

  try {
    g.constFloat('c_sqrt_d_head', [], [Math.sqrt(dh)]);
    g.constFloat('c_neg_inf', [], [Number.NEGATIVE_INFINITY]);
    g.constFloat('c_eps_final', [], [c.layerNormEps]);
    g.constInt64('c_i0', [], [0]);
    g.constInt64('c_i1', [], [1]);
    g.constInt64('c_axes0', [1], [0]);
    g.constInt64('c_axes1', [1], [1]);
    g.constInt64('c_shape_qkv', [4], [1, -1, H, dh]);
    g.constInt64('c_shape_2d', [2], [-1, D]);
    g.constInt64('c_shape_logits', [3], [1, -1, c.vocabSize]);
    g.constInt64('c_top_k', [1], [TOP_K]);
    g.constInt64('c_drawn', [], [DRAWN_TOKENS]);
    g.constInt64('c_drawn_1d', [1], [DRAWN_TOKENS]);
    g.constInt64('c_zeros2', [2], [0, 0]);
    g.constInt64('c_axes23', [2], [2, 3]);
    g.constInt64('c_axes3', [1], [3]);
    g.constInt64('c_axes_last', [1], [-1]);
    g.constInt64('c_shape_w_o', [2], [D, D]);
    g.constInt64('c_shape_z_flat', [3], [1, -1, D]);
    g.constFloat('c_zero', [], [0]);
    g.constInt64('c_key0_start', [1], [0]);
    g.constInt64('c_key0_end', [1], [1]);
    g.constInt64('c_near_back', [1, 3], [2, 1, 0]);
    g.constInt64('c_one_heads', [2], [1, H]);
    g.constInt64('c_three', [1], [3]);
    g.constInt64('c_i0_1d', [1], [0]);
    g.constInt64('c_near_prev_start', [1], [1]);
    g.constInt64('c_near_prev_end', [1], [2]);
    if (exactScale(dh)) g.constFloat('c_inv_sqrt_d_head', [], [1 / Math.sqrt(dh)]);

    // New positions P..P+T-1 (P = the past's length), all key positions 0..P+T-1, and the causal
    // mask (key position ≤ query position), shared by all layers.
    const T = g.one('Gather', [g.one('Shape', ['input_ids']), 'c_i1'], { axis: 0 });
    const P = g.one('Gather', [g.one('Shape', [incrementalNames(0).pastKey]), 'c_i1'], { axis: 0 });
    const total = g.one('Add', [P, T]);
    const pos = g.one('Range', [P, total, 'c_i1']);
    const qPos = g.one('Unsqueeze', [pos, 'c_axes1']); // [T, 1]
    const kPos = g.one('Unsqueeze', [g.one('Range', ['c_i0', total, 'c_i1']), 'c_axes0']); // [1, P+T]
    const causal = g.one('LessOrEqual', [kPos, qPos]); // [T_q, T_k]
    // The mask as a bias, 0 or −∞, added to the scores: a broadcast Add runs about three times
    // as fast as Where over [H, T, T_k] (11 → ~4 ms a layer at T = 1024 on GPT-2 small), and it
    // changes nothing: s + 0 = s, s + (−∞) = −∞ (only −0 becomes +0, which softmax cannot see).
    const maskBias = g.one('Where', [causal, 'c_zero', 'c_neg_inf']); // [T_q, T_k]
    // The keys the previous-token and local statistics read, per new query row: q − 2, q − 1, q
    // (clamped to key 0), and which of them exist. Gathering these three weights per row replaces
    // two [H, T, T] mask products and their row sums.
    const near = g.one('Sub', [qPos, 'c_near_back']); // [T, 3]
    const nearValid = g.one('Cast', [g.one('GreaterOrEqual', [near, 'c_i0'])], { to: FLOAT });
    const nearShape = g.one('Concat', ['c_one_heads', g.one('Unsqueeze', [T, 'c_axes0']), 'c_three'], { axis: 0 });
    const nearKeys = g.one('Expand', [g.one('Max', [near, 'c_i0']), nearShape]); // [1, H, T, 3]
    // The drawn square: new rows that fall before DRAWN_TOKENS, keys before DRAWN_TOKENS.
    const drawnRows = g.one('Max', [g.one('Sub', ['c_drawn', P]), 'c_i0']);
    const drawnEnds = g.one('Concat', [g.one('Unsqueeze', [drawnRows, 'c_axes0']), 'c_drawn_1d'], { axis: 0 });
    const drawn = (x: string, out?: string): string => g.one('Slice', [x, 'c_zeros2', drawnEnds, 'c_axes23'], {}, out);

    const wteData = ckpt.read('wte.weight');
    const wte = g.weight('wte.weight', [c.vocabSize, D], wteData);
    // When the unembedding is tied to wte, the embedding reads its rows from a copy of its own:
    // onnxruntime prepacks the unembedding Gemm's wte into a layout of its own, and a table the
    // Gather still used would stay mapped and be read whole beside that copy (+154 MB on GPT-2
    // small). Of the Gather's copy, a file mapping, only the rows of the text's tokens are read.
    const embedding = ckpt.lmHead ? wte : g.weight('wte.embedding', [c.vocabSize, D], wteData);
    const wpe = g.weight('wpe.weight', [c.nCtx, D], ckpt.read('wpe.weight'));
    let resid = g.one('Add', [g.one('Gather', [embedding, 'input_ids'], { axis: 0 }), g.one('Gather', [wpe, pos], { axis: 0 })]);

    for (let l = 0; l < c.nLayer; l++) {
      await yieldToLoop();
      const hk = hookNames(l);
      const p = `h.${l}.`;
      resid = g.one('Identity', [resid], {}, hk.residPre);
      expose(hk.residPre, [1, 'T', D]);

      const ln1 = layerNorm(
        g,
        resid,
        g.weight(p + 'ln_1.weight', [D], ckpt.read(p + 'ln_1.weight')),
        g.weight(p + 'ln_1.bias', [D], ckpt.read(p + 'ln_1.bias')),
        c.layerNormEps,
      );
      const wAttn = ckpt.read(p + 'attn.c_attn.weight');
      const bAttn = ckpt.read(p + 'attn.c_attn.bias');
      const headsOf = (which: number, hook: string): string => {
        const w = g.weight(`${p}attn.W_${'QKV'[which]}`, [D, D], columns(wAttn, D, 3 * D, which * D, (which + 1) * D));
        const b = g.weight(`${p}attn.b_${'QKV'[which]}`, [D], bAttn.subarray(which * D, (which + 1) * D).slice());
        const flat = linear(g, ln1, w, b);
        expose(hook, [1, 'T', H, dh]);
        return g.one('Reshape', [flat, 'c_shape_qkv'], {}, hook); // [1, T, H, d_head]
      };
      const q = headsOf(0, hk.q);
      const k = headsOf(1, hk.k);
      const v = headsOf(2, hk.v);
      const inc = incrementalNames(l);
      // The new query rows inside the drawn square: later runs' past queries, when a long run
      // leaves the whole of hook_q for later (incremental.ts, LAZY_ROW_HOOKS).
      g.one('Slice', [q, 'c_i0_1d', g.one('Unsqueeze', [drawnRows, 'c_axes0']), 'c_axes1'], {}, inc.queryDrawn);
      expose(inc.queryDrawn, [1, 'R', H, dh]);
      pastInputs.push(
        valueInfo(inc.pastKey, [1, 'P', H, dh]),
        valueInfo(inc.pastValue, [1, 'P', H, dh]),
        valueInfo(inc.pastQueryDrawn, [1, 'P_q', H, dh]),
      );
      const kAll = g.one('Concat', [inc.pastKey, k], { axis: 1 }); // [1, P+T, H, dh]
      const vAll = g.one('Concat', [inc.pastValue, v], { axis: 1 });

      const qh = g.one('Transpose', [q], { perm: [0, 2, 1, 3] }); // [1, H, T, dh]
      const khT = g.one('Transpose', [kAll], { perm: [0, 2, 3, 1] }); // [1, H, dh, P+T]
      const vh = g.one('Transpose', [vAll], { perm: [0, 2, 1, 3] }); // [1, H, P+T, dh]
      const { dot, scaled, qScaled } = scores(g, qh, khT, dh, hk.dot); // dot: null when not needed for the drawn square
      expose(hk.dot, [1, H, 'T', 'T_k']);
      const masked = g.one('Add', [scaled, maskBias]);
      const pattern = g.one('Softmax', [masked], { axis: -1 }, hk.pattern);
      const lse = softmaxLogSumExp(g, masked, pattern);
      expose(hk.pattern, [1, H, 'T', 'T_k']);

      // hook_dot is unmasked, so the prefix's drawn query rows gain entries for the new keys.
      const pastQh = g.one('Transpose', [inc.pastQueryDrawn], { perm: [0, 2, 1, 3] }); // [1, H, P_q, dh]
      const newKhT = g.one('Transpose', [k], { perm: [0, 2, 3, 1] }); // [1, H, dh, T]
      g.one('MatMul', [pastQh, newKhT], {}, inc.dotPastQueries);
      expose(inc.dotPastQueries, [1, H, 'P_q', 'T']);
      // Exact either way (see scores): the drawn square of hook_dot, without keeping hook_dot.
      if (dot) drawn(dot, inc.dotDrawn);
      else g.one('Mul', [drawn(scaled), 'c_sqrt_d_head'], {}, inc.dotDrawn);
      expose(inc.dotDrawn, [1, H, 'R', 'C']);
      drawn(pattern, inc.patternDrawn);
      expose(inc.patternDrawn, [1, H, 'R', 'C']);
      // The expected score Σ_k p_k s_k is (q/√d_head) · Σ_k p_k k_k: one more [T, T_k]·[T_k, d_head]
      // product (kᵀ transposed back: onnxruntime reads it as a transposed operand, no copy)
      // instead of an [H, T, T_k] product of weights and scores, so the scores die at the mask
      // (GPT-2 small, T = 1024: one 50 MB tensor less alive per layer).
      const zh = g.one('MatMul', [pattern, vh]); // [1, H, T, dh]
      const pk = g.one('MatMul', [pattern, g.one('Transpose', [khT], { perm: [0, 1, 3, 2] })]); // [1, H, T, dh]
      const expectedScore = g.one('ReduceSum', [g.one('Mul', [qScaled, pk]), 'c_axes3'], { keepdims: 1 });
      rowStatistics(g, { pattern, lse, expectedScore, nearKeys, nearValid }, inc.rowStats);
      expose(inc.rowStats, [1, H, 'T', 4]);

      const z = g.one('Transpose', [zh], { perm: [0, 2, 1, 3] }, hk.z); // [1, T, H, dh]
      expose(hk.z, [1, 'T', H, dh]);
      // W_O is [H·dh, D] in HF's [in, out] layout; as [H, dh, D] each head's slice is contiguous.
      const wORaw = ckpt.read(p + 'attn.c_proj.weight');
      const wO = g.weight(`${p}attn.W_O`, [H, dh, D], wORaw);
      const bO = g.weight(`${p}attn.b_O`, [D], ckpt.read(p + 'attn.c_proj.bias'));
      // hook_result: each head through its slice of W_O, [1, T, H, D]. Only the full graph keeps
      // it (an output); the residual stream and the analysis graph use the two cheaper forms
      // below, which equal it up to float rounding (Σ_h hook_result + b_O = hook_attn_out is
      // tested against the reference).
      const resultH = g.one('MatMul', [zh, wO]); // [1, H, T, D]
      g.one('Transpose', [resultH], { perm: [0, 2, 1, 3] }, hk.result);
      expose(hk.result, [1, 'T', H, D]);
      // ‖hook_result[t, h]‖ without forming it: ‖z W_h‖² = z (W_h W_hᵀ) zᵀ with a d_head² Gram
      // matrix per head, computed here once. At T = 64 this and the single c_proj matmul below
      // replace ~20 ms of per-head matmuls and reductions on GPT-2 small.
      const gram = g.weight(`${p}attn.W_O_gram`, [H, dh, dh], headGram(wORaw, H, dh, D));
      const sq = g.one('ReduceSum', [g.one('Mul', [g.one('MatMul', [zh, gram]), zh]), 'c_axes3'], { keepdims: 0 }); // [1, H, T]
      const norms = g.one('Sqrt', [g.one('Max', [sq, 'c_zero'])]);
      g.one('Transpose', [norms], { perm: [0, 2, 1] }, hk.resultNorm); // [1, T, H]
      expose(hk.resultNorm, [1, 'T', H]);
      const wOFlat = g.one('Reshape', [wO, 'c_shape_w_o']); // [H·dh, D]
      const attnOut = g.one('Add', [g.one('MatMul', [g.one('Reshape', [z, 'c_shape_z_flat']), wOFlat]), bO], {}, hk.attnOut);
      expose(hk.attnOut, [1, 'T', D]);
      g.one('ReduceL2', [attnOut], { axes: [2], keepdims: 0 }, hk.attnOutNorm);
      expose(hk.attnOutNorm, [1, 'T']);
      const mid = g.one('Add', [resid, attnOut], {}, hk.residMid);
      expose(hk.residMid, [1, 'T', D]);

      const ln2 = layerNorm(
        g,
        mid,
        g.weight(p + 'ln_2.weight', [D], ckpt.read(p + 'ln_2.weight')),
        g.weight(p + 'ln_2.bias', [D], ckpt.read(p + 'ln_2.bias')),
        c.layerNormEps,
      );
      const fc = g.one('MatMul', [ln2, g.weight(p + 'mlp.c_fc.weight', [D, c.dMlp], ckpt.read(p + 'mlp.c_fc.weight'))]);
      const mlpOut = linear(
        g,
        biasGelu(g, fc, g.weight(p + 'mlp.c_fc.bias', [c.dMlp], ckpt.read(p + 'mlp.c_fc.bias')), c.gelu),
        g.weight(p + 'mlp.c_proj.weight', [c.dMlp, D], ckpt.read(p + 'mlp.c_proj.weight')),
        g.weight(p + 'mlp.c_proj.bias', [D], ckpt.read(p + 'mlp.c_proj.bias')),
        hk.mlpOut,
      );
      expose(hk.mlpOut, [1, 'T', D]);
      g.one('ReduceL2', [mlpOut], { axes: [2], keepdims: 0 }, hk.mlpOutNorm);
      expose(hk.mlpOutNorm, [1, 'T']);
      // A scheduling edge, exactly zero: ONNX has no control dependencies, and onnxruntime's
      // default order ran every layer's statistics and drawn-square branch after the LAST layer,
      // keeping all twelve [H, T, T] patterns alive (GPT-2 small, T = 1024: +1.3 GB peak). Adding
      // 0 · Σ(branch outputs) makes layer l+1 wait for layer l's branch; the sums are finite,
      // so x + 0·s = x exactly.
      const branchSum = [inc.rowStats, inc.dotDrawn, inc.patternDrawn, inc.dotPastQueries]
        .map((name) => g.one('ReduceSum', [name], { keepdims: 0 }))
        .reduce((a, b) => g.one('Add', [a, b]));
      const post = g.one('Add', [mid, mlpOut]);
      resid = g.one('Add', [post, g.one('Mul', [branchSum, 'c_zero'])], {}, hk.residPost);
      expose(hk.residPost, [1, 'T', D]);
    }

    // Final LayerNorm written out, so its scale (√(var + ε)) is a real tensor: ln_final.hook_scale.
    const mean = g.one('ReduceMean', [resid], { axes: [-1], keepdims: 1 });
    const centered = g.one('Sub', [resid, mean]);
    const variance = g.one('ReduceMean', [g.one('Mul', [centered, centered])], { axes: [-1], keepdims: 1 });
    const scale = g.one('Sqrt', [g.one('Add', [variance, 'c_eps_final'])], {}, 'ln_final.hook_scale');
    expose('ln_final.hook_scale', [1, 'T', 1]);
    const lnF = g.one('Add', [
      g.one('Mul', [g.one('Div', [centered, scale]), g.weight('ln_f.weight', [D], ckpt.read('ln_f.weight'))]),
      g.weight('ln_f.bias', [D], ckpt.read('ln_f.bias')),
    ]);
    // Unembedding: tied to wte unless the checkpoint has its own lm_head. Gemm with transB reads
    // wte as [V, D] without a transposed copy.
    const unembed = ckpt.lmHead ? g.weight('lm_head.weight', [c.vocabSize, D], ckpt.read('lm_head.weight')) : wte;
    const logits2d = g.one('Gemm', [g.one('Reshape', [lnF, 'c_shape_2d']), unembed], { transB: 1 });
    g.one('Reshape', [logits2d, 'c_shape_logits'], {}, 'logits'); // the full graph only
    expose('logits', [1, 'T', c.vocabSize]);
    // Next-token predictions after the LAST token only, reduced to the top k: the unembedding is
    // a quarter of GPT-2 small's work per position, and other positions are asked for on demand
    // (Engine.predictions). Top-k of the logits, then p = exp(logit − logsumexp), with the
    // maximum taken out first (as softmax does) for float32 accuracy.
    const last = g.one('Sub', [T, 'c_i1']);
    const lnLast = g.one('Gather', [g.one('Reshape', [lnF, 'c_shape_2d']), g.one('Unsqueeze', [last, 'c_axes0'])], { axis: 0 });
    const lastLogits = g.one('Gemm', [lnLast, unembed], { transB: 1 }); // [1, V]
    g.op('TopK', [lastLogits, 'c_top_k'], { axis: -1, largest: 1, sorted: 1 }, ['top_k_logits', EXTRA_OUTPUTS.topKIds]);
    const maxLogit = g.one('ReduceMax', [lastLogits], { axes: [-1], keepdims: 1 });
    const shifted = g.one('Exp', [g.one('Sub', [lastLogits, maxLogit])]);
    const logSumExp = g.one('Add', [g.one('Log', [g.one('ReduceSum', [shifted, 'c_axes_last'], { keepdims: 1 })]), maxLogit]);
    g.one('Exp', [g.one('Sub', ['top_k_logits', logSumExp])], {}, EXTRA_OUTPUTS.topKProbs);
    expose(EXTRA_OUTPUTS.topKProbs, [1, TOP_K]);
    expose(EXTRA_OUTPUTS.topKIds, [1, TOP_K], INT64);
  } finally {
    data.close();
  }

  const inputs = [valueInfo('input_ids', [1, 'T'], INT64), ...pastInputs];
  writeModel(modelPath, {
    name: 'gpt2_instrumented',
    node: g.nodes,
    initializer: g.initializers,
    input: inputs,
    output: outputs,
  });
  const lean = new Set(analysisOutputNames(c.nLayer));
  const leanOutputs = outputs.filter((o) => lean.has(o.name ?? ''));
  const leanNodes = reachable(
    g.nodes,
    leanOutputs.map((o) => o.name ?? ''),
  );
  const used = new Set(leanNodes.flatMap((n) => n.input ?? []));
  const analysisModelPath = analysisModelPathFor(modelPath);
  writeModel(analysisModelPath, {
    name: 'gpt2_instrumented_analysis',
    node: leanNodes,
    initializer: g.initializers.filter((t) => used.has(t.name ?? '')),
    input: inputs,
    output: leanOutputs,
  });
  return { modelPath, analysisModelPath, dataPath: `${modelPath}.data`, outputs: outputs.map((o) => o.name ?? '') };
}
