/**
 * Seeded random GPT-2 checkpoints in the HF layout, for tests and the benchmark (`atlas bench`). Weights are scaled so that
 * activations stay O(1) and attention patterns are neither uniform nor one-hot.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, type Dtype } from '../engine/safetensors';

export interface RandomModelSpec {
  nLayer: number;
  nHead: number;
  dModel: number;
  nCtx: number;
  vocabSize: number;
  seed: number;
  dtype?: Dtype;
  /** Prefix every key with `transformer.` (as some HF checkpoints do). */
  prefixed?: boolean;
  /** Also write the mask buffers HF checkpoints carry (`attn.bias`, `attn.masked_bias`). */
  maskBuffers?: boolean;
  /** Write an untied lm_head.weight. */
  untiedLmHead?: boolean;
}

export const SMALL_SPEC: RandomModelSpec = { nLayer: 3, nHead: 4, dModel: 32, nCtx: 40, vocabSize: 50257, seed: 7 };

/** mulberry32: tiny, seedable, good enough for test weights. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTensors(spec: RandomModelSpec): Record<string, { shape: number[]; data: Float32Array }> {
  const r = rng(spec.seed);
  const normal = (): number => {
    const u = Math.max(r(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  };
  const t = (shape: number[], std: number, mean = 0): { shape: number[]; data: Float32Array } => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + std * normal();
    return { shape, data };
  };
  const D = spec.dModel;
  const out: Record<string, { shape: number[]; data: Float32Array }> = {
    'wte.weight': t([spec.vocabSize, D], 0.5),
    'wpe.weight': t([spec.nCtx, D], 0.3),
    'ln_f.weight': t([D], 0.1, 1),
    'ln_f.bias': t([D], 0.1),
  };
  for (let l = 0; l < spec.nLayer; l++) {
    const p = `h.${l}.`;
    out[p + 'ln_1.weight'] = t([D], 0.1, 1);
    out[p + 'ln_1.bias'] = t([D], 0.1);
    out[p + 'attn.c_attn.weight'] = t([D, 3 * D], 0.35);
    out[p + 'attn.c_attn.bias'] = t([3 * D], 0.1);
    out[p + 'attn.c_proj.weight'] = t([D, D], 0.2);
    out[p + 'attn.c_proj.bias'] = t([D], 0.05);
    out[p + 'ln_2.weight'] = t([D], 0.1, 1);
    out[p + 'ln_2.bias'] = t([D], 0.1);
    out[p + 'mlp.c_fc.weight'] = t([D, 4 * D], 0.2);
    out[p + 'mlp.c_fc.bias'] = t([4 * D], 0.1);
    out[p + 'mlp.c_proj.weight'] = t([4 * D, D], 0.1);
    out[p + 'mlp.c_proj.bias'] = t([D], 0.05);
  }
  if (spec.untiedLmHead) out['lm_head.weight'] = t([spec.vocabSize, D], 0.5);
  return out;
}

export function hfConfig(spec: RandomModelSpec): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: spec.vocabSize,
    n_positions: spec.nCtx,
    n_ctx: spec.nCtx,
    n_embd: spec.dModel,
    n_layer: spec.nLayer,
    n_head: spec.nHead,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
  };
}

/** Writes the checkpoint to `dir` (a fresh temp dir by default) and returns the dir. */
export function writeRandomModel(spec: RandomModelSpec, dir?: string): string {
  const out = dir ?? mkdtempSync(join(tmpdir(), 'atlas-model-'));
  mkdirSync(out, { recursive: true });
  const tensors = randomTensors(spec);
  const file: Record<string, { shape: number[]; data: Float32Array; dtype?: Dtype }> = {};
  for (const [name, v] of Object.entries(tensors)) {
    const key = spec.prefixed && name !== 'lm_head.weight' ? `transformer.${name}` : name;
    file[key] = { ...v, dtype: spec.dtype ?? 'F32' };
  }
  if (spec.maskBuffers) {
    for (let l = 0; l < spec.nLayer; l++) {
      const pre = spec.prefixed ? 'transformer.' : '';
      file[`${pre}h.${l}.attn.bias`] = {
        shape: [1, 1, spec.nCtx, spec.nCtx],
        data: new Float32Array(spec.nCtx * spec.nCtx).fill(1),
      };
      file[`${pre}h.${l}.attn.masked_bias`] = { shape: [], data: Float32Array.of(-1e4) };
    }
  }
  writeFileSync(join(out, 'model.safetensors'), encodeSafetensors(file, { format: 'pt' }));
  writeFileSync(join(out, 'config.json'), JSON.stringify(hfConfig(spec), null, 2));
  return out;
}
