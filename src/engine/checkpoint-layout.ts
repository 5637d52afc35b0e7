/**
 * The three GPT layouts people save, mapped onto one: the Hugging Face GPT-2 names and
 * orientation every other part of the engine reads (`h.{l}.attn.c_attn.weight` as [in, out]).
 *
 *  - `hf-gpt2`: Hugging Face's GPT-2 (Conv1D weights, already [in, out]); config.json required.
 *  - `nanogpt`: nanoGPT / minGPT (`transformer.wte`, `h.{i}.attn.c_attn` … as nn.Linear
 *    [out, in]); `_orig_mod.` from torch.compile and `module.` from DDP stripped; `bias: false`
 *    models have no biases at all (read as zeros); the vocabulary may be padded to 50304 rows;
 *    nn.GELU() is the exact (erf) GELU.
 *  - `book`: the GPTModel of Raschka's "Build a Large Language Model (From Scratch)":
 *    `tok_emb`, `pos_emb`, `trf_blocks.{i}.att.W_query/W_key/W_value` (separate q, k, v,
 *    biases only with qkv_bias), `att.out_proj`, `ff.layers.0/2`, `norm1/norm2` and
 *    `final_norm` with `scale`/`shift`, `out_head` (untied, no bias); tanh GELU.
 *
 * The format is recognised from the tensors (names, and the orientation of c_attn), never from
 * the file's name. Everything a shape says is taken from the shapes; a configuration may only
 * confirm it, except the number of heads, which no shape holds.
 */
import { basename, dirname } from 'node:path';
import type { Dtype } from './safetensors';
import { ModelFormatError, parseGpt2Config, type Gpt2Config } from './gpt2-config';

export type CheckpointFormat = 'hf-gpt2' | 'nanogpt' | 'book';

/** One tensor as a file declares it. */
export interface SourceTensor {
  dtype: Dtype;
  shape: readonly number[];
}

/** Tensors from any container (safetensors, PyTorch zip), read one at a time on demand. */
export interface TensorSource {
  /** The file the tensors are in (hashed to key built graphs). */
  readonly path: string;
  readonly tensors: ReadonlyMap<string, SourceTensor>;
  readF32(name: string): Float32Array;
  /** The stored bytes, for the NaN/Inf check on raw bits. */
  readRaw(name: string): { dtype: Dtype; bytes: Uint8Array };
  /** True when two tensors hold the same values (a tied weight written twice). */
  sameData(a: string, b: string): boolean;
  close(): void;
}

/** nanoGPT pads GPT-2's 50257-token vocabulary to 50304 rows for speed; the extra rows are unused. */
export const GPT2_VOCAB = 50257;
export const NANOGPT_PADDED_VOCAB = 50304;

/** The values a book GPTModel's configuration names, as far as the tensors tell them. */
export interface InferredShape {
  format: CheckpointFormat;
  nLayer: number;
  dModel: number;
  nCtx: number;
  vocabSize: number;
  /** Whether q, k, v have biases (the book's qkv_bias). */
  qkvBias: boolean;
}

/**
 * The checkpoint holds everything but the number of heads (no config.json beside it, no
 * model_args inside). The app asks for it; `shape` is what the tensors already said.
 */
export class ConfigNeededError extends ModelFormatError {
  constructor(
    readonly shape: InferredShape,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigNeededError';
  }
}

/** A checkpoint in HF GPT-2 orientation, whatever layout it was saved in. */
export interface MappedCheckpoint {
  format: CheckpointFormat;
  config: Gpt2Config;
  /** Rows of the embedding in the file (config.vocabSize may use fewer, see Gpt2Checkpoint). */
  embeddingRows: number;
  /** Float32 data of a canonical HF name, in HF orientation. */
  read(canonical: string): Float32Array;
  /** The file's name of an untied unembedding [rows, d_model], or null when tied. */
  lmHead: string | null;
  /** Every file tensor the model uses (the NaN/Inf check reads these). */
  used: string[];
  /** "no biases (bias: false)", "q, k, v without biases" …: what a person may want to know. */
  notes: string[];
}

type Config = Record<string, unknown>;

const TENSOR_KIND: Record<CheckpointFormat, string> = { 'hf-gpt2': 'GPT-2', nanogpt: 'nanoGPT', book: 'GPTModel' };

const MASK_BUFFER = /(^|\.)attn\.(bias|masked_bias)$|(^|\.)att\.mask$/;

/** The names as saved, minus wrappers: `_orig_mod.` (torch.compile), `module.` (DDP), `transformer.`. */
export function canonicalName(name: string): string {
  let n = name;
  for (let changed = true; changed;) {
    changed = false;
    for (const prefix of ['_orig_mod.', 'module.', 'transformer.']) {
      if (n.startsWith(prefix)) {
        n = n.slice(prefix.length);
        changed = true;
      }
    }
  }
  return n;
}

/** Recognises the layout from the tensor names and shapes. */
export function detectFormat(names: ReadonlyMap<string, SourceTensor>): CheckpointFormat {
  const byCanonical = new Map([...names].map(([n, t]) => [canonicalName(n), t]));
  if (byCanonical.has('tok_emb.weight')) return 'book';
  const attn = byCanonical.get('h.0.attn.c_attn.weight');
  const wte = byCanonical.get('wte.weight');
  if (wte && attn && attn.shape.length === 2) {
    const D = wte.shape[1];
    if (attn.shape[0] === D && attn.shape[1] === 3 * (D ?? 0)) return 'hf-gpt2';
    if (attn.shape[0] === 3 * (D ?? 0) && attn.shape[1] === D) return 'nanogpt';
  }
  const sample = [...names.keys()].slice(0, 6).join(', ');
  throw new ModelFormatError(
    `not a GPT-2, nanoGPT or book GPTModel checkpoint: expected tensors such as transformer.wte.weight ` +
      `and h.0.attn.c_attn.weight, or tok_emb.weight and trf_blocks.0.att.W_query.weight; found ${sample || 'no tensors'}`,
  );
}

/** [rows, cols] row-major → [cols, rows]: nn.Linear's [out, in] to Conv1D's [in, out]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[base + c] ?? 0;
  }
  return out;
}

function intOf(cfg: Config | null, keys: readonly string[], where: string): number | undefined {
  if (!cfg) return undefined;
  for (const key of keys) {
    const v = cfg[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000)
      throw new ModelFormatError(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  }
  return undefined;
}

/** A configured value must agree with what the tensors say. */
function agree(cfg: Config | null, keys: readonly string[], fromShapes: number, what: string, where: string): void {
  const v = intOf(cfg, keys, where);
  if (v !== undefined && v !== fromShapes)
    throw new ModelFormatError(
      `${where}: "${keys.find((k) => cfg?.[k] !== undefined) ?? keys[0]}" is ${v} but the tensors have ${what} ${fromShapes}`,
    );
}

/** Names and expected shapes of a layout's tensors, by canonical HF name. */
interface Plan {
  /** HF canonical name → how to produce it from the file. */
  readers: Map<string, () => Float32Array>;
  /** Every file tensor the plan reads, with the shape it must have. */
  needs: Map<string, number[]>;
  lmHead: string | null;
  notes: string[];
}

/**
 * Maps a tensor source in any of the three layouts. `config` is config.json (or nanoGPT's
 * model_args, or what the person typed), `where` names it in messages.
 */
export function mapCheckpoint(src: TensorSource, config: Config | null, where: string): MappedCheckpoint {
  const format = detectFormat(src.tensors);
  const files = new Map<string, string>(); // canonical → file name
  for (const name of src.tensors.keys()) {
    const c = canonicalName(name);
    if (MASK_BUFFER.test(c)) continue;
    if (!files.has(c)) files.set(c, name);
  }
  const shapeOf = (c: string): readonly number[] => src.tensors.get(files.get(c) ?? '')?.shape ?? [];
  const emb = format === 'book' ? 'tok_emb.weight' : 'wte.weight';
  const pos = format === 'book' ? 'pos_emb.weight' : 'wpe.weight';
  const [rows, D] = shapeOf(emb);
  const nCtx = shapeOf(pos)[0];
  if (rows === undefined || D === undefined || nCtx === undefined)
    throw new ModelFormatError(`${basename(src.path)}: the embedding ${emb} or the positions ${pos} are missing or not 2-D`);
  const blockRe = format === 'book' ? /^trf_blocks\.(\d+)\./ : /^h\.(\d+)\./;
  let nLayer = 0;
  for (const c of files.keys()) {
    const m = blockRe.exec(c);
    if (m) nLayer = Math.max(nLayer, Number(m[1]) + 1);
  }
  if (nLayer === 0) throw new ModelFormatError(`${basename(src.path)}: no transformer blocks found`);

  let cfg: Gpt2Config;
  if (format === 'hf-gpt2') {
    if (!config) throw new ModelFormatError(`no config.json in ${dirname(src.path)}`);
    cfg = parseGpt2Config(JSON.stringify(config));
  } else {
    const fc = format === 'book' ? 'trf_blocks.0.ff.layers.0.weight' : 'h.0.mlp.c_fc.weight';
    const dMlp = shapeOf(fc)[0] ?? 4 * D;
    const qkvBias = format === 'book' ? files.has('trf_blocks.0.att.W_query.bias') : files.has('h.0.attn.c_attn.bias');
    const shape: InferredShape = { format, nLayer, dModel: D, nCtx, vocabSize: rows, qkvBias };
    agree(config, ['n_layer', 'n_layers', 'num_hidden_layers'], nLayer, 'layers:', where);
    agree(config, ['n_embd', 'emb_dim', 'hidden_size'], D, 'width', where);
    agree(config, ['block_size', 'context_length', 'n_positions', 'n_ctx'], nCtx, 'positions:', where);
    agree(config, ['vocab_size'], rows, 'embedding rows:', where);
    const nHead = intOf(config, ['n_head', 'n_heads', 'num_attention_heads'], where);
    if (nHead === undefined) {
      throw new ConfigNeededError(
        shape,
        `${src.path}: the number of attention heads is not in the file (read from its tensors: ${nLayer} layers, ` +
          `width ${D}, ${nCtx} positions, ${rows} embedding rows); give it in a config.json beside the file ` +
          `(the book's {"n_heads": 12, …} or nanoGPT's {"n_head": 12, …})`,
      );
    }
    if (D % nHead !== 0) throw new ModelFormatError(`${where}: ${nHead} heads do not divide the width ${D}`);
    const eps = config?.layer_norm_epsilon ?? 1e-5;
    if (typeof eps !== 'number' || !(eps > 0 && eps < 1))
      throw new ModelFormatError(`${where}: layer_norm_epsilon must be a small positive number`);
    cfg = {
      nLayer,
      nHead,
      dModel: D,
      nCtx,
      vocabSize: rows,
      dMlp,
      layerNormEps: eps,
      // nanoGPT's nn.GELU() is exact; the book writes the tanh approximation out by hand.
      gelu: format === 'nanogpt' ? 'erf' : 'tanh',
    };
  }

  const plan =
    format === 'book' ? bookPlan(src, files, cfg) : format === 'nanogpt' ? nanoPlan(src, files, cfg) : hfPlan(src, files, cfg);
  const missing = [...plan.needs.keys()].filter((n) => !src.tensors.has(n));
  if (missing.length) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    throw new ModelFormatError(`${basename(src.path)} is missing ${TENSOR_KIND[format]} tensors: ${shown}`);
  }
  for (const [name, want] of plan.needs) {
    const got = src.tensors.get(name)?.shape ?? [];
    if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
      throw new ModelFormatError(
        `${canonicalName(name)} has shape [${got.join(', ')}] but ${where} implies [${want.join(', ')}] ` +
          `(${cfg.nLayer} layers, ${cfg.nHead} heads, width ${cfg.dModel}, ${rows} embedding rows)`,
      );
    }
  }
  const read = (canonical: string): Float32Array => {
    const r = plan.readers.get(canonical);
    if (!r) throw new ModelFormatError(`no tensor ${canonical}`);
    return r();
  };
  const lmHead = plan.lmHead && src.sameData(plan.lmHead, files.get(emb) ?? '') ? null : plan.lmHead;
  return { format, config: cfg, embeddingRows: rows, read, lmHead, used: [...plan.needs.keys()], notes: plan.notes };
}

function zeros(n: number): () => Float32Array {
  return () => new Float32Array(n);
}

/** The HF layout: names as they are (prefix aside), [in, out] weights. */
function hfPlan(src: TensorSource, files: Map<string, string>, c: Gpt2Config): Plan {
  const readers = new Map<string, () => Float32Array>();
  const needs = new Map<string, number[]>();
  const D = c.dModel;
  const want = (canonical: string, shape: number[]): void => {
    const name = files.get(canonical) ?? canonical;
    needs.set(name, shape);
    readers.set(canonical, () => src.readF32(name));
  };
  want('wte.weight', [c.vocabSize, D]);
  want('wpe.weight', [c.nCtx, D]);
  want('ln_f.weight', [D]);
  want('ln_f.bias', [D]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    for (const ln of ['ln_1', 'ln_2']) {
      want(`${p}${ln}.weight`, [D]);
      want(`${p}${ln}.bias`, [D]);
    }
    want(`${p}attn.c_attn.weight`, [D, 3 * D]);
    want(`${p}attn.c_attn.bias`, [3 * D]);
    want(`${p}attn.c_proj.weight`, [D, D]);
    want(`${p}attn.c_proj.bias`, [D]);
    want(`${p}mlp.c_fc.weight`, [D, c.dMlp]);
    want(`${p}mlp.c_fc.bias`, [c.dMlp]);
    want(`${p}mlp.c_proj.weight`, [c.dMlp, D]);
    want(`${p}mlp.c_proj.bias`, [D]);
  }
  const head = files.get('lm_head.weight') ?? null;
  if (head) {
    needs.set(head, [c.vocabSize, D]);
    readers.set('lm_head.weight', () => src.readF32(head));
  }
  return { readers, needs, lmHead: head, notes: [] };
}

/** nanoGPT: HF's names, nn.Linear's [out, in] weights, biases optional as a whole (bias: false). */
function nanoPlan(src: TensorSource, files: Map<string, string>, c: Gpt2Config): Plan {
  const readers = new Map<string, () => Float32Array>();
  const needs = new Map<string, number[]>();
  const D = c.dModel;
  const F = c.dMlp;
  const biasFree = ![...files.keys()].some((n) => n.endsWith('.bias'));
  const same = (canonical: string, shape: number[]): void => {
    const name = files.get(canonical) ?? canonical;
    needs.set(name, shape);
    readers.set(canonical, () => src.readF32(name));
  };
  const linear = (canonical: string, out: number, inn: number): void => {
    const name = files.get(canonical) ?? canonical;
    needs.set(name, [out, inn]);
    readers.set(canonical, () => transpose(src.readF32(name), out, inn));
  };
  const bias = (canonical: string, n: number): void => {
    if (biasFree) readers.set(canonical, zeros(n));
    else same(canonical, [n]);
  };
  same('wte.weight', [c.vocabSize, D]);
  same('wpe.weight', [c.nCtx, D]);
  same('ln_f.weight', [D]);
  bias('ln_f.bias', D);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    for (const ln of ['ln_1', 'ln_2']) {
      same(`${p}${ln}.weight`, [D]);
      bias(`${p}${ln}.bias`, D);
    }
    linear(`${p}attn.c_attn.weight`, 3 * D, D);
    bias(`${p}attn.c_attn.bias`, 3 * D);
    linear(`${p}attn.c_proj.weight`, D, D);
    bias(`${p}attn.c_proj.bias`, D);
    linear(`${p}mlp.c_fc.weight`, F, D);
    bias(`${p}mlp.c_fc.bias`, F);
    linear(`${p}mlp.c_proj.weight`, D, F);
    bias(`${p}mlp.c_proj.bias`, D);
  }
  const head = files.get('lm_head.weight') ?? null;
  if (head) {
    needs.set(head, [c.vocabSize, D]);
    readers.set('lm_head.weight', () => src.readF32(head));
  }
  return { readers, needs, lmHead: head, notes: biasFree ? ['no biases (bias: false)'] : [] };
}

/** The book's GPTModel: separate q, k, v Linear layers concatenated into HF's c_attn. */
function bookPlan(src: TensorSource, files: Map<string, string>, c: Gpt2Config): Plan {
  const readers = new Map<string, () => Float32Array>();
  const needs = new Map<string, number[]>();
  const D = c.dModel;
  const F = c.dMlp;
  const need = (canonical: string, shape: number[]): string => {
    const name = files.get(canonical) ?? canonical;
    needs.set(name, shape);
    return name;
  };
  const same = (to: string, from: string, shape: number[]): void => {
    const name = need(from, shape);
    readers.set(to, () => src.readF32(name));
  };
  const linear = (to: string, from: string, out: number, inn: number): void => {
    const name = need(from, [out, inn]);
    readers.set(to, () => transpose(src.readF32(name), out, inn));
  };
  const qkvBias = files.has('trf_blocks.0.att.W_query.bias');
  same('wte.weight', 'tok_emb.weight', [c.vocabSize, D]);
  same('wpe.weight', 'pos_emb.weight', [c.nCtx, D]);
  same('ln_f.weight', 'final_norm.scale', [D]);
  same('ln_f.bias', 'final_norm.shift', [D]);
  for (let l = 0; l < c.nLayer; l++) {
    const b = `trf_blocks.${l}.`;
    const p = `h.${l}.`;
    same(`${p}ln_1.weight`, `${b}norm1.scale`, [D]);
    same(`${p}ln_1.bias`, `${b}norm1.shift`, [D]);
    same(`${p}ln_2.weight`, `${b}norm2.scale`, [D]);
    same(`${p}ln_2.bias`, `${b}norm2.shift`, [D]);
    const qkv = ['W_query', 'W_key', 'W_value'].map((w) => need(`${b}att.${w}.weight`, [D, D]));
    // c_attn [D, 3D]: column j < D is W_query's output j, then W_key's, then W_value's.
    readers.set(`${p}attn.c_attn.weight`, () => {
      const out = new Float32Array(D * 3 * D);
      qkv.forEach((name, part) => {
        const w = src.readF32(name); // [out D, in D]
        for (let o = 0; o < D; o++) for (let i = 0; i < D; i++) out[i * 3 * D + part * D + o] = w[o * D + i] ?? 0;
      });
      return out;
    });
    if (qkvBias) {
      const biases = ['W_query', 'W_key', 'W_value'].map((w) => need(`${b}att.${w}.bias`, [D]));
      readers.set(`${p}attn.c_attn.bias`, () => {
        const out = new Float32Array(3 * D);
        biases.forEach((name, part) => out.set(src.readF32(name), part * D));
        return out;
      });
    } else readers.set(`${p}attn.c_attn.bias`, zeros(3 * D));
    linear(`${p}attn.c_proj.weight`, `${b}att.out_proj.weight`, D, D);
    same(`${p}attn.c_proj.bias`, `${b}att.out_proj.bias`, [D]);
    linear(`${p}mlp.c_fc.weight`, `${b}ff.layers.0.weight`, F, D);
    same(`${p}mlp.c_fc.bias`, `${b}ff.layers.0.bias`, [F]);
    linear(`${p}mlp.c_proj.weight`, `${b}ff.layers.2.weight`, D, F);
    same(`${p}mlp.c_proj.bias`, `${b}ff.layers.2.bias`, [D]);
  }
  const head = need('out_head.weight', [c.vocabSize, D]);
  readers.set('lm_head.weight', () => src.readF32(head));
  return { readers, needs, lmHead: head, notes: qkvBias ? [] : ['q, k, v without biases (qkv_bias: false)'] };
}
