import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gpt2Checkpoint } from '../../src/engine/gpt2-weights';
import { encodeSafetensors } from '../../src/engine/safetensors';
import { hfConfig, randomTensors, writeRandomModel, type RandomModelSpec } from '../helpers/random-model';
import { maxAbsDiff, randomEngine, randomIds, tempDir } from '../helpers/fixtures';
import { referenceForward } from '../reference/gpt2-reference';

const SPEC: RandomModelSpec = { nLayer: 2, nHead: 2, dModel: 16, nCtx: 12, vocabSize: 50257, seed: 3 };

describe('GPT-2 checkpoint loader', () => {
  it('reads keys with the transformer. prefix and ignores HF mask buffers', () => {
    const ck = Gpt2Checkpoint.open(writeRandomModel({ ...SPEC, prefixed: true, maskBuffers: true }));
    const plain = randomTensors(SPEC);
    expect(ck.read('h.1.mlp.c_fc.weight')).toEqual(plain['h.1.mlp.c_fc.weight']?.data);
    expect(ck.lmHead).toBeNull();
    ck.close();
  });

  it('ties lm_head to wte when absent and keeps an untied lm_head when present', () => {
    const tied = Gpt2Checkpoint.open(writeRandomModel(SPEC));
    expect(tied.lmHead).toBeNull();
    tied.close();
    const untied = Gpt2Checkpoint.open(writeRandomModel({ ...SPEC, untiedLmHead: true }));
    expect(untied.lmHead).toBe('lm_head.weight');
    untied.close();
  });

  it('reads F16 and BF16 checkpoints to within their precision', () => {
    const ref = randomTensors(SPEC)['wte.weight']?.data ?? new Float32Array();
    for (const [dtype, tol] of [
      ['F16', 2e-3],
      ['BF16', 1.6e-2],
    ] as const) {
      const ck = Gpt2Checkpoint.open(writeRandomModel({ ...SPEC, dtype }));
      expect(maxAbsDiff(ck.read('wte.weight'), ref)).toBeLessThan(tol);
      ck.close();
    }
  });

  it('runs an untied, prefixed checkpoint and matches the reference on the same weights', async () => {
    const spec = { ...SPEC, prefixed: true, untiedLmHead: true };
    const { engine, dir } = await randomEngine(spec);
    const ck = Gpt2Checkpoint.open(dir);
    const ids = randomIds(7, 9);
    const out = await engine.runAll(ids);
    const ref = referenceForward(randomTensors(spec), { ...spec, eps: 1e-5 }, ids);
    expect(maxAbsDiff(out['logits']?.data as Float32Array, ref.get('logits')?.data ?? [])).toBeLessThan(1e-4);
    ck.close();
  });

  it('names a missing config.json', () => {
    const dir = writeRandomModel(SPEC);
    rmSync(join(dir, 'config.json'));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/no config\.json in /);
  });

  it('names missing tensors', () => {
    const dir = tempDir();
    const t = randomTensors(SPEC);
    delete t['h.1.attn.c_proj.weight'];
    delete t['ln_f.bias'];
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(SPEC)));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(
      /missing GPT-2 tensors: .*ln_f\.bias.*h\.1\.attn\.c_proj\.weight|missing GPT-2 tensors: .*h\.1\.attn\.c_proj\.weight/,
    );
  });

  it('rejects an n_head that does not divide n_embd', () => {
    const dir = writeRandomModel(SPEC);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig(SPEC), n_head: 3 }));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/n_head 3 does not divide n_embd 16/);
  });

  it('rejects shapes that disagree with config.json', () => {
    const dir = writeRandomModel(SPEC);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig(SPEC), n_embd: 32, n_head: 2 }));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/wte\.weight has shape \[50257, 16\] but config\.json implies \[50257, 32\]/);
  });

  it('rejects a config with a non-GPT-2 activation or model type', () => {
    const dir = writeRandomModel(SPEC);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig(SPEC), activation_function: 'relu' }));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/activation_function "relu" is not a GELU/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...hfConfig(SPEC), model_type: 'llama' }));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/model_type is "llama"/);
  });

  it('rejects truncated weights with a clear message', () => {
    const dir = writeRandomModel(SPEC);
    const path = join(dir, 'model.safetensors');
    truncateSync(path, readFileSync(path).length - 100);
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/model\.safetensors: .*(truncated|needs more bytes|data area)/);
  });
});
