/**
 * Random GPT checkpoints in nanoGPT's and the book's layouts, written with the project's own
 * PyTorch writer (src/engine/torch-writer.ts) or as safetensors. The conversion from the HF
 * tensors is written here, separately from the engine's mapping (src/engine/checkpoint-layout.ts),
 * so a test compares the engine on these files with the plain-loop reference on the HF tensors.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '../../src/engine/safetensors';
import {
  PyFloat,
  PyOrderedDict,
  PyTuple,
  encodePickle,
  encodeTorchFile,
  stateDict,
  tensor,
  type PyValue,
  type TensorSpec,
  TorchTensor,
} from '../../src/engine/torch-writer';
import { randomTensors, rng, type RandomModelSpec } from './random-model';

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

/** [rows, cols] → [cols, rows]. */
function t2(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] ?? 0;
  return out;
}

/** Columns [c0, c0 + n) of a [rows, cols] matrix, transposed: an nn.Linear weight [n, rows]. */
function colsAsLinear(data: Float32Array, rows: number, cols: number, c0: number, n: number): Float32Array {
  const out = new Float32Array(n * rows);
  for (let o = 0; o < n; o++) for (let i = 0; i < rows; i++) out[o * rows + i] = data[i * cols + c0 + o] ?? 0;
  return out;
}

/** The HF tensors with every bias set to zero (what a bias-free model computes). */
export function withoutBiases(w: Tensors, which: (name: string) => boolean = (n) => n.endsWith('.bias')): Tensors {
  const out: Tensors = {};
  for (const [k, v] of Object.entries(w)) out[k] = which(k) ? { shape: v.shape, data: new Float32Array(v.data.length) } : v;
  return out;
}

export interface NanoOptions {
  /** Write no biases at all (nanoGPT's bias: false); the reference must then use withoutBiases. */
  bias?: boolean;
  /** Prefix every key with `_orig_mod.` as torch.compile does. */
  compiled?: boolean;
  /** Pad the vocabulary rows to this many with random rows (nanoGPT: 50304). */
  padTo?: number;
  /** Also write nanoGPT's causal-mask buffers (`attn.bias`). */
  maskBuffers?: boolean;
}

/** nanoGPT's state dict: HF names under `transformer.`, nn.Linear [out, in], tied lm_head (one storage). */
export function nanoStateDict(spec: RandomModelSpec, w: Tensors, o: NanoOptions = {}): Map<string, TorchTensor> {
  const D = spec.dModel;
  const F = 4 * D;
  const pre = o.compiled ? '_orig_mod.' : '';
  const sd = new Map<string, TorchTensor>();
  const put = (name: string, shape: number[], data: Float32Array): void => {
    sd.set(pre + name, tensor(shape, data));
  };
  const get = (n: string): Float32Array => {
    const v = w[n];
    if (!v) throw new Error(`no ${n}`);
    return v.data;
  };
  const rows = o.padTo ?? spec.vocabSize;
  const wte = new Float32Array(rows * D);
  wte.set(get('wte.weight'));
  const r = rng(99);
  for (let i = spec.vocabSize * D; i < wte.length; i++) wte[i] = r() - 0.5;
  const wteT = tensor([rows, D], wte);
  sd.set(pre + 'transformer.wte.weight', wteT);
  put('transformer.wpe.weight', [spec.nCtx, D], get('wpe.weight'));
  const bias = o.bias ?? true;
  for (let l = 0; l < spec.nLayer; l++) {
    const h = `h.${l}.`;
    const p = `transformer.${h}`;
    put(p + 'ln_1.weight', [D], get(h + 'ln_1.weight'));
    if (bias) put(p + 'ln_1.bias', [D], get(h + 'ln_1.bias'));
    put(p + 'attn.c_attn.weight', [3 * D, D], t2(get(h + 'attn.c_attn.weight'), D, 3 * D));
    if (bias) put(p + 'attn.c_attn.bias', [3 * D], get(h + 'attn.c_attn.bias'));
    put(p + 'attn.c_proj.weight', [D, D], t2(get(h + 'attn.c_proj.weight'), D, D));
    if (bias) put(p + 'attn.c_proj.bias', [D], get(h + 'attn.c_proj.bias'));
    if (o.maskBuffers) {
      const mask = new Float32Array(spec.nCtx * spec.nCtx);
      for (let q = 0; q < spec.nCtx; q++) for (let k = 0; k <= q; k++) mask[q * spec.nCtx + k] = 1;
      put(p + 'attn.bias', [1, 1, spec.nCtx, spec.nCtx], mask);
    }
    put(p + 'ln_2.weight', [D], get(h + 'ln_2.weight'));
    if (bias) put(p + 'ln_2.bias', [D], get(h + 'ln_2.bias'));
    put(p + 'mlp.c_fc.weight', [F, D], t2(get(h + 'mlp.c_fc.weight'), D, F));
    if (bias) put(p + 'mlp.c_fc.bias', [F], get(h + 'mlp.c_fc.bias'));
    put(p + 'mlp.c_proj.weight', [D, F], t2(get(h + 'mlp.c_proj.weight'), F, D));
    if (bias) put(p + 'mlp.c_proj.bias', [D], get(h + 'mlp.c_proj.bias'));
  }
  put('transformer.ln_f.weight', [D], get('ln_f.weight'));
  if (bias) put('transformer.ln_f.bias', [D], get('ln_f.bias'));
  // Weight tying: lm_head.weight is wte's very storage, as in nanoGPT.
  sd.set(pre + 'lm_head.weight', wteT);
  return sd;
}

export function nanoModelArgs(spec: RandomModelSpec, o: NanoOptions = {}): Record<string, PyValue> {
  return {
    n_layer: spec.nLayer,
    n_head: spec.nHead,
    n_embd: spec.dModel,
    block_size: spec.nCtx,
    bias: o.bias ?? true,
    vocab_size: o.padTo ?? spec.vocabSize,
    dropout: new PyFloat(0),
  };
}

/** nanoGPT's ckpt.pt: model, model_args, optimizer, iter_num, best_val_loss (0-d tensor), config. */
export function nanoCheckpoint(spec: RandomModelSpec, w: Tensors, o: NanoOptions = {}, dataset = 'openwebtext'): Buffer {
  const sd = nanoStateDict(spec, w, o);
  const firstParam = [...sd.values()][0] as TorchTensor;
  const optimizer = new Map<string, PyValue>([
    [
      'state',
      new Map<number, PyValue>([
        [
          0,
          new Map<string, PyValue>([
            ['step', tensor([], Float32Array.of(5))],
            ['exp_avg', tensor([...firstParam.shape], new Float32Array(firstParam.storage.data.length))],
          ]),
        ],
      ]),
    ],
    [
      'param_groups',
      [
        new Map<string, PyValue>([
          ['lr', new PyFloat(6e-4)],
          ['betas', new PyTuple(new PyFloat(0.9), new PyFloat(0.95))],
          ['weight_decay', new PyFloat(0.1)],
          ['foreach', null],
          ['params', [0, 1, 2]],
        ]),
      ],
    ],
  ]);
  const root = new Map<string, PyValue>([
    ['model', new PyOrderedDict(sd)],
    ['optimizer', optimizer],
    ['model_args', new Map(Object.entries(nanoModelArgs(spec, o)))],
    ['iter_num', 5000],
    ['best_val_loss', tensor([], Float32Array.of(1.4697))],
    [
      'config',
      new Map<string, PyValue>([
        ['dataset', dataset],
        ['batch_size', 64],
        ['learning_rate', new PyFloat(1e-3)],
        ['compile', true],
      ]),
    ],
  ]);
  return encodeTorchFile(root);
}

/** The nanoGPT state dict as safetensors (tied lm_head left out, as safetensors' save_model does). */
export function nanoSafetensors(spec: RandomModelSpec, w: Tensors, o: NanoOptions = {}): Buffer {
  const sd = nanoStateDict(spec, w, o);
  const file: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of sd) {
    if (k.endsWith('lm_head.weight')) continue;
    file[k] = { shape: [...v.shape], data: v.storage.data };
  }
  return encodeSafetensors(file, { format: 'pt' });
}

export interface BookOptions {
  qkvBias?: boolean;
  /** Write the book's causal-mask buffers (`att.mask`). */
  maskBuffers?: boolean;
}

/** The book's GPTModel state dict from HF tensors (out_head from lm_head.weight, or wte's values). */
export function bookStateDict(spec: RandomModelSpec, w: Tensors, o: BookOptions = {}): Record<string, TensorSpec> {
  const D = spec.dModel;
  const F = 4 * D;
  const get = (n: string): Float32Array => {
    const v = w[n];
    if (!v) throw new Error(`no ${n}`);
    return v.data;
  };
  const sd: Record<string, TensorSpec> = {
    'tok_emb.weight': { shape: [spec.vocabSize, D], data: get('wte.weight') },
    'pos_emb.weight': { shape: [spec.nCtx, D], data: get('wpe.weight') },
  };
  for (let l = 0; l < spec.nLayer; l++) {
    const h = `h.${l}.`;
    const b = `trf_blocks.${l}.`;
    const attn = get(h + 'attn.c_attn.weight');
    const attnB = get(h + 'attn.c_attn.bias');
    ['W_query', 'W_key', 'W_value'].forEach((name, part) => {
      sd[`${b}att.${name}.weight`] = { shape: [D, D], data: colsAsLinear(attn, D, 3 * D, part * D, D) };
      if (o.qkvBias) sd[`${b}att.${name}.bias`] = { shape: [D], data: attnB.slice(part * D, (part + 1) * D) };
    });
    sd[`${b}att.out_proj.weight`] = { shape: [D, D], data: t2(get(h + 'attn.c_proj.weight'), D, D) };
    sd[`${b}att.out_proj.bias`] = { shape: [D], data: get(h + 'attn.c_proj.bias') };
    if (o.maskBuffers) {
      const mask = new Float32Array(spec.nCtx * spec.nCtx);
      for (let q = 0; q < spec.nCtx; q++) for (let k = q + 1; k < spec.nCtx; k++) mask[q * spec.nCtx + k] = 1;
      sd[`${b}att.mask`] = { shape: [spec.nCtx, spec.nCtx], data: mask };
    }
    sd[`${b}ff.layers.0.weight`] = { shape: [F, D], data: t2(get(h + 'mlp.c_fc.weight'), D, F) };
    sd[`${b}ff.layers.0.bias`] = { shape: [F], data: get(h + 'mlp.c_fc.bias') };
    sd[`${b}ff.layers.2.weight`] = { shape: [D, F], data: t2(get(h + 'mlp.c_proj.weight'), F, D) };
    sd[`${b}ff.layers.2.bias`] = { shape: [D], data: get(h + 'mlp.c_proj.bias') };
    sd[`${b}norm1.scale`] = { shape: [D], data: get(h + 'ln_1.weight') };
    sd[`${b}norm1.shift`] = { shape: [D], data: get(h + 'ln_1.bias') };
    sd[`${b}norm2.scale`] = { shape: [D], data: get(h + 'ln_2.weight') };
    sd[`${b}norm2.shift`] = { shape: [D], data: get(h + 'ln_2.bias') };
  }
  sd['final_norm.scale'] = { shape: [D], data: get('ln_f.weight') };
  sd['final_norm.shift'] = { shape: [D], data: get('ln_f.bias') };
  sd['out_head.weight'] = {
    shape: [spec.vocabSize, D],
    data: (w['lm_head.weight'] ?? w['wte.weight'])?.data ?? new Float32Array(),
  };
  return sd;
}

/** The book's configuration dict (GPT_CONFIG_124M's keys) for a spec. */
export function bookConfig(spec: RandomModelSpec, o: BookOptions = {}): Record<string, unknown> {
  return {
    vocab_size: spec.vocabSize,
    context_length: spec.nCtx,
    emb_dim: spec.dModel,
    n_heads: spec.nHead,
    n_layers: spec.nLayer,
    drop_rate: 0.1,
    qkv_bias: o.qkvBias ?? false,
  };
}

/** `torch.save(model.state_dict(), "model.pth")`. */
export function bookModelPth(spec: RandomModelSpec, w: Tensors, o: BookOptions = {}): Buffer {
  return encodeTorchFile(stateDict(bookStateDict(spec, w, o)));
}

/** The book's checkpoint: `{"model_state_dict": …, "optimizer_state_dict": …}`. */
export function bookCheckpointPth(spec: RandomModelSpec, w: Tensors, o: BookOptions = {}): Buffer {
  const optimizer = new Map<string, PyValue>([
    ['state', new Map<number, PyValue>([[0, new Map<string, PyValue>([['step', tensor([], Float32Array.of(3))]])]])],
    [
      'param_groups',
      [
        new Map<string, PyValue>([
          ['lr', new PyFloat(4e-4)],
          ['betas', new PyTuple(new PyFloat(0.9), new PyFloat(0.999))],
          ['amsgrad', false],
          ['params', [0, 1]],
        ]),
      ],
    ],
  ]);
  return encodeTorchFile(
    new Map<string, PyValue>([
      ['model_state_dict', stateDict(bookStateDict(spec, w, o))],
      ['optimizer_state_dict', optimizer],
    ]),
  );
}

/** nanoGPT's meta.pkl for a character list (id order), as its prepare.py pickles it. */
export function metaPkl(chars: readonly string[]): Buffer {
  const stoi = new Map<string | number, PyValue>(chars.map((c, i) => [c, i]));
  const itos = new Map<string | number, PyValue>(chars.map((c, i) => [i, c]));
  return encodePickle(
    new Map<string | number, PyValue>([
      ['vocab_size', chars.length],
      ['itos', itos],
      ['stoi', stoi],
    ]),
    4,
  );
}

/** The 65 characters of nanoGPT's shakespeare_char, in its id order. */
export const SHAKESPEARE_CHARS = [..."\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"];

/** A character-level nanoGPT (shakespeare_char's 65 characters) in a folder: ckpt.pt and, unless told not to, meta.pkl. */
export function writeCharModel(
  spec: Omit<RandomModelSpec, 'vocabSize'>,
  o: { metaBeside?: boolean; dir?: string } = {},
): { dir: string; ckpt: string; spec: RandomModelSpec; tensors: Tensors } {
  const full: RandomModelSpec = { ...spec, vocabSize: SHAKESPEARE_CHARS.length };
  const tensors = randomTensors(full);
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'atlas-char-'));
  mkdirSync(dir, { recursive: true });
  const ckpt = join(dir, 'ckpt.pt');
  writeFileSync(ckpt, nanoCheckpoint(full, tensors, {}, 'shakespeare_char'));
  if (o.metaBeside ?? true) writeFileSync(join(dir, 'meta.pkl'), metaPkl(SHAKESPEARE_CHARS));
  return { dir, ckpt, spec: full, tensors };
}
