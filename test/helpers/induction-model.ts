/**
 * A hand-built 2-layer GPT-2 whose layer-1 head 0 is an exact induction head.
 *
 * Residual layout (d_model 256): [token code c(t): 64 dims of ±1 | one-hot position: 128 dims |
 * "previous token" slot: 64 dims]. LayerNorm weights are 1, so every LN is a near-constant
 * rescaling of these sparse vectors.
 *  - Layer 0, head 0 (previous-token): q = α·e_{i−1} via a shift of the position block,
 *    k = e_j, so it attends from i to i−1; v copies c(t_j), W_O writes it into the slot.
 *  - Layer 1, head 0 (induction): q = β·c(t_i), k = β·slot_j = β·c(t_{j−1}), so a repeated token
 *    attends to the token right after its earlier occurrence.
 * Every other weight is 0: the other heads attend uniformly and write nothing, MLPs are off.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '../../src/engine/safetensors';
import { rng } from './random-model';

export const INDUCTION_SPEC = { nLayer: 2, nHead: 2, dModel: 256, nCtx: 128, vocabSize: 50257 };
const TOK = 0;
const POS = 64;
const SLOT = 192;
const CODE = 64;

export function writeInductionModel(): string {
  const { nLayer, nHead, dModel: D, nCtx, vocabSize: V } = INDUCTION_SPEC;
  const dh = D / nHead; // 128: room for the one-hot position block in one head
  const r = rng(99);
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const zeros = (...shape: number[]): { shape: number[]; data: Float32Array } => ({
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
  });
  const ones = (n: number): { shape: number[]; data: Float32Array } => ({ shape: [n], data: new Float32Array(n).fill(1) });

  const wte = zeros(V, D);
  for (let v = 0; v < V; v++) for (let i = 0; i < CODE; i++) wte.data[v * D + TOK + i] = r() < 0.5 ? -1 : 1;
  const wpe = zeros(nCtx, D);
  for (let p = 0; p < nCtx; p++) wpe.data[p * D + POS + p] = 1;
  t['wte.weight'] = wte;
  t['wpe.weight'] = wpe;
  t['ln_f.weight'] = ones(D);
  t['ln_f.bias'] = zeros(D);

  const alpha = 12; // sharpness of the previous-token head
  const beta = 2; // sharpness of the induction head
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    const cAttn = zeros(D, 3 * D); // [in, out]: Q cols [0, D), K [D, 2D), V [2D, 3D); head h at h·dh
    const cProj = zeros(D, D); // [H·dh, D]
    const set = (m: { data: Float32Array }, cols: number, row: number, col: number, v: number): void => {
      m.data[row * cols + col] = v;
    };
    if (l === 0) {
      for (let i = 1; i < nCtx; i++) set(cAttn, 3 * D, POS + i, 0 * D + (i - 1), alpha); // q = α e_{i-1}
      for (let j = 0; j < nCtx; j++) set(cAttn, 3 * D, POS + j, 1 * D + j, alpha); // k = α e_j
      for (let a = 0; a < CODE; a++) set(cAttn, 3 * D, TOK + a, 2 * D + a, 1); // v = token code
      for (let a = 0; a < CODE; a++) set(cProj, D, a, SLOT + a, 1); // write into the slot
    } else {
      for (let a = 0; a < CODE; a++) set(cAttn, 3 * D, TOK + a, 0 * D + a, beta); // q = β c(t_i)
      for (let a = 0; a < CODE; a++) set(cAttn, 3 * D, SLOT + a, 1 * D + a, beta); // k = β slot
    }
    t[p + 'ln_1.weight'] = ones(D);
    t[p + 'ln_1.bias'] = zeros(D);
    t[p + 'attn.c_attn.weight'] = cAttn;
    t[p + 'attn.c_attn.bias'] = zeros(3 * D);
    t[p + 'attn.c_proj.weight'] = cProj;
    t[p + 'attn.c_proj.bias'] = zeros(D);
    t[p + 'ln_2.weight'] = ones(D);
    t[p + 'ln_2.bias'] = zeros(D);
    t[p + 'mlp.c_fc.weight'] = zeros(D, 4 * D);
    t[p + 'mlp.c_fc.bias'] = zeros(4 * D);
    t[p + 'mlp.c_proj.weight'] = zeros(4 * D, D);
    t[p + 'mlp.c_proj.bias'] = zeros(D);
  }
  void dh;
  const dir = mkdtempSync(join(tmpdir(), 'atlas-induction-'));
  writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'gpt2',
      vocab_size: V,
      n_positions: nCtx,
      n_embd: D,
      n_layer: nLayer,
      n_head: nHead,
      activation_function: 'gelu_new',
      layer_norm_epsilon: 1e-5,
    }),
  );
  return dir;
}
