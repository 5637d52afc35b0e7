/**
 * The checkpoints our TypeScript writer makes, shared by the unit tests (round trips) and by
 * tools/torch-fixtures/write-ts-files.ts, which saves them for check_ts_files.py to load with
 * real torch.
 */
import {
  PyFloat,
  TorchStorage,
  TorchTensor,
  PyTuple,
  encodePickle,
  encodeStateDict,
  encodeTorchFile,
  stateDict,
  tensor,
  transposed,
  type PyValue,
} from '../../src/engine/torch-writer';

export interface WrittenFile {
  bytes: Buffer;
  /** Tensor name → shape and row-major values as written (before F16/BF16 rounding). */
  tensors: Record<string, { shape: number[]; values: number[]; dtype: string }>;
  /** Where the state dict lives: "" for the root. */
  key: string;
  /**
   * Whether torch 1.13's weights_only loader can read it: it lacks BINFLOAT (Python floats) and
   * _rebuild_from_type_v2; check_ts_files.py loads the others plainly (we wrote them ourselves).
   */
  weightsOnly: boolean;
}

const f32 = (n: number, scale = 1, shift = 0): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => (i * scale + shift) / 8);

function describeTensors(list: Record<string, { shape: number[]; data: Float32Array; dtype?: string }>): WrittenFile['tensors'] {
  return Object.fromEntries(
    Object.entries(list).map(([k, t]) => [k, { shape: t.shape, values: Array.from(t.data), dtype: t.dtype ?? 'F32' }]),
  );
}

/** A book-style bare state dict: F32, F16, BF16 and a 0-d tensor. */
function bare(): WrittenFile {
  const list = {
    'tok_emb.weight': { shape: [4, 3], data: f32(12, 1, -6) },
    'half.weight': { shape: [2, 2], data: Float32Array.from([0.5, -1.25, 3.140625, 1000]), dtype: 'F16' as const },
    'bf.weight': { shape: [3], data: Float32Array.from([1, -2.5, 300]), dtype: 'BF16' as const },
    scalar: { shape: [], data: Float32Array.from([0.75]) },
  };
  return { bytes: encodeStateDict(list, 'model'), tensors: describeTensors(list), key: '', weightsOnly: true };
}

/** Tied weights sharing one storage, and a transposed (non-contiguous) view of another. */
function tiedAndTransposed(): WrittenFile {
  const wte = tensor([4, 2], f32(8, 3, 1));
  const attn = tensor([2, 3], f32(6, -1, 2));
  const attnT = transposed(attn);
  const tValues: number[] = [];
  for (let c = 0; c < 3; c++) for (let r = 0; r < 2; r++) tValues.push((attn.storage.data[r * 3 + c] ?? 0) as number);
  const sd = stateDict({ 'transformer.wte.weight': wte, 'lm_head.weight': wte, 'attn.c_attn.weight': attnT });
  return {
    bytes: encodeTorchFile(sd, 'tied'),
    tensors: {
      'transformer.wte.weight': { shape: [4, 2], values: Array.from(wte.storage.data), dtype: 'F32' },
      'lm_head.weight': { shape: [4, 2], values: Array.from(wte.storage.data), dtype: 'F32' },
      'attn.c_attn.weight': { shape: [3, 2], values: tValues, dtype: 'F32' },
    },
    key: '',
    weightsOnly: true,
  };
}

function adamState(shapes: number[][]): PyValue {
  const state = new Map<number, PyValue>();
  shapes.forEach((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    state.set(i, {
      step: tensor([], Float32Array.from([3])),
      exp_avg: tensor(shape, f32(n, 0.1)),
      exp_avg_sq: tensor(shape, f32(n, 0.01)),
    });
  });
  const group: PyValue = {
    lr: new PyFloat(0.0004),
    betas: new PyTuple(new PyFloat(0.9), new PyFloat(0.999)),
    eps: new PyFloat(1e-8),
    weight_decay: new PyFloat(0.1),
    amsgrad: false,
    foreach: null,
    maximize: false,
    capturable: false,
    params: shapes.map((_, i) => i),
  };
  return { state, param_groups: [group] };
}

/** The book's `{"model_state_dict": ..., "optimizer_state_dict": ...}`. */
function bookCheckpoint(): WrittenFile {
  const list = { 'out_head.weight': { shape: [3, 2], data: f32(6, 2) }, 'final_norm.scale': { shape: [2], data: f32(2, 1, 8) } };
  const root = { model_state_dict: stateDict(list), optimizer_state_dict: adamState([[3, 2], [2]]) };
  return {
    bytes: encodeTorchFile(root, 'model_and_optimizer'),
    tensors: describeTensors(list),
    key: 'model_state_dict',
    weightsOnly: false,
  };
}

/** nanoGPT's ckpt.pt: model, optimizer, model_args, iter_num, a 0-d best_val_loss, config. */
function nanoGptCheckpoint(): WrittenFile {
  const list = {
    'transformer.wpe.weight': { shape: [5, 2], data: f32(10, -1) },
    'transformer.ln_f.bias': { shape: [2], data: f32(2) },
  };
  const root = {
    model: stateDict(list),
    optimizer: adamState([[5, 2], [2]]),
    model_args: { n_layer: 1, n_head: 1, n_embd: 2, block_size: 5, bias: true, vocab_size: 65, dropout: new PyFloat(0) },
    iter_num: 5000,
    best_val_loss: tensor([], Float32Array.from([1.4697])),
    config: { dataset: 'shakespeare_char', learning_rate: 0.001, compile: true, wandb_run_name: null, max_iters: 5000 },
  };
  return { bytes: encodeTorchFile(root, 'ckpt'), tensors: describeTensors(list), key: 'model', weightsOnly: false };
}

/** A tensor with a Python attribute (`t.note = "x"`): newer torch writes _rebuild_from_type_v2. */
function withAttributes(): WrittenFile {
  const data = f32(4, 1, 1);
  const t = new TorchTensor(new TorchStorage(data), [2, 2], [2, 1], 0, { note: 'tied', layer: 3 });
  return {
    bytes: encodeTorchFile(stateDict({ 'h.0.w': t }), 'attrs'),
    tensors: { 'h.0.w': { shape: [2, 2], values: Array.from(data), dtype: 'F32' } },
    key: '',
    weightsOnly: false,
  };
}

export function writtenFiles(): Record<string, WrittenFile> {
  return {
    'model.pth': bare(),
    'tied.pt': tiedAndTransposed(),
    'model_and_optimizer.pth': bookCheckpoint(),
    'ckpt.pt': nanoGptCheckpoint(),
    'attrs.pt': withAttributes(),
  };
}

/** nanoGPT's meta.pkl for a small character vocabulary, protocol 4 as pickle.dump writes. */
export function writtenMeta(chars: string): Buffer {
  const list = [...chars];
  return encodePickle(
    {
      vocab_size: list.length,
      itos: new Map(list.map((c, i) => [i, c])),
      stoi: new Map(list.map((c, i) => [c, i])),
    },
    4,
  );
}
