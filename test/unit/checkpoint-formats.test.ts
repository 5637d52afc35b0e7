/**
 * nanoGPT and book GPTModel checkpoints, opened by the engine and checked hook by hook against
 * the plain-loop reference forward pass on the HF tensors they were converted from. The files
 * are written with the project's own PyTorch writer (src/engine/torch-writer.ts; checked against
 * real torch in tools/torch-fixtures) and the conversions live in test/helpers/other-layouts.ts.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unzipSync } from 'fflate';
import { Engine } from '../../src/engine/engine';
import { exportAnalysis } from '../../src/engine/export';
import { Gpt2Checkpoint } from '../../src/engine/gpt2-weights';
import { ConfigNeededError } from '../../src/engine/checkpoint-layout';
import { VocabularyNeededError } from '../../src/engine/vocabulary';
import { encodeTorchFile, PyCall, PyGlobal, PyTuple } from '../../src/engine/torch-writer';
import { allHookNames } from '../../src/shared/hooks';
import { maxAbsDiff, randomIds, tempDir } from '../helpers/fixtures';
import { randomTensors, type RandomModelSpec } from '../helpers/random-model';
import {
  bookCheckpointPth,
  bookConfig,
  bookModelPth,
  metaPkl,
  nanoCheckpoint,
  nanoModelArgs,
  nanoSafetensors,
  SHAKESPEARE_CHARS,
  withoutBiases,
  writeCharModel,
} from '../helpers/other-layouts';
import { referenceForward } from '../reference/gpt2-reference';

const SPEC: RandomModelSpec = { nLayer: 2, nHead: 4, dModel: 32, nCtx: 24, vocabSize: 50257, seed: 21 };

type Tensors = ReturnType<typeof randomTensors>;

/** Loads `path` and compares every hook with the reference on `ref` (HF tensors). */
async function expectMatchesReference(
  path: string,
  ref: Tensors,
  spec: RandomModelSpec,
  gelu: 'tanh' | 'erf',
  options: Parameters<Engine['load']>[2] = {},
): Promise<Engine> {
  const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
  await engine.load(path, undefined, options);
  const ids = randomIds(17, 5, spec.vocabSize);
  const want = referenceForward(ref, { ...spec, eps: 1e-5, gelu }, ids);
  const got = await engine.runAll(ids);
  for (const name of allHookNames(spec.nLayer)) {
    const g = got[name];
    const r = want.get(name);
    expect(g && r, name).toBeTruthy();
    if (!g || !r) continue;
    expect(g.dims, name).toEqual(r.dims);
    expect(maxAbsDiff(g.data as Float32Array, r.data), `${name} max abs error`).toBeLessThanOrEqual(1e-4);
  }
  return engine;
}

describe('nanoGPT checkpoints', () => {
  it('opens ckpt.pt (model_args, optimizer, 0-d best_val_loss, vocabulary padded to 50304, tied lm_head) and matches the reference with the exact GELU', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'ckpt.pt'), nanoCheckpoint(SPEC, w, { padTo: 50304, maskBuffers: true }));
    const engine = await expectMatchesReference(dir, w, SPEC, 'erf');
    const info = engine.modelInfo();
    expect(info.source).toMatchObject({
      format: 'nanogpt',
      file: 'ckpt.pt',
      vocabulary: { kind: 'gpt2', size: 50257, unusedRows: 47, endOfText: true },
    });
    // Predictions range over the 50257 real tokens only.
    const a = await engine.analyze({ text: 'Hello there', prependEndOfText: true });
    expect(Math.max(...a.topK.ids)).toBeLessThan(50257);
    expect(info.vocabSize).toBe(50257);
  });

  it('opens a single ckpt.pt file as well as its folder', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'my-run.pt'), nanoCheckpoint(SPEC, w));
    const engine = await expectMatchesReference(join(dir, 'my-run.pt'), w, SPEC, 'erf');
    expect(engine.modelInfo().label).toMatch(/^atlas-test-\w+\/my-run\.pt \(nanoGPT\)$/);
  });

  it('strips the _orig_mod. prefix torch.compile adds', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'ckpt.pt'), nanoCheckpoint(SPEC, w, { compiled: true }));
    await expectMatchesReference(dir, w, SPEC, 'erf');
  });

  it('opens bias: false models (no biases at all)', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'ckpt.pt'), nanoCheckpoint(SPEC, w, { bias: false }));
    const engine = await expectMatchesReference(dir, withoutBiases(w), SPEC, 'erf');
    expect(engine.modelInfo().source.notes).toContain('no biases (bias: false)');
  });

  it('opens the state dict as model.safetensors beside a config.json with model_args names', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'model.safetensors'), nanoSafetensors(SPEC, w));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...nanoModelArgs(SPEC), dropout: 0 }));
    const engine = await expectMatchesReference(dir, w, SPEC, 'erf');
    expect(engine.modelInfo().source.format).toBe('nanogpt');
  });

  it('refuses model_args that disagree with the tensors, naming both', () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'model.safetensors'), nanoSafetensors(SPEC, w));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...nanoModelArgs(SPEC), dropout: 0, n_layer: 5 }));
    expect(() => Gpt2Checkpoint.open(dir)).toThrow(/"n_layer" is 5 but the tensors have layers: 2/);
  });
});

describe("the book's GPTModel", () => {
  it('opens model.pth (torch.save(model.state_dict())) with the book config.json, q/k/v without biases', async () => {
    const w = randomTensors({ ...SPEC, untiedLmHead: true });
    const dir = tempDir();
    writeFileSync(join(dir, 'model.pth'), bookModelPth(SPEC, w, { maskBuffers: true }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(bookConfig(SPEC)));
    const ref = withoutBiases(w, (n) => n.endsWith('attn.c_attn.bias'));
    const engine = await expectMatchesReference(dir, ref, SPEC, 'tanh');
    expect(engine.modelInfo().source).toMatchObject({ format: 'book', file: 'model.pth' });
  });

  it('opens the checkpoint dict with model_state_dict and optimizer_state_dict, qkv_bias true', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'model_and_optimizer.pth'), bookCheckpointPth(SPEC, w, { qkvBias: true }));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(bookConfig(SPEC, { qkvBias: true })));
    await expectMatchesReference(join(dir, 'model_and_optimizer.pth'), w, SPEC, 'tanh');
  });

  it('without config.json, says what the tensors tell and asks only for the number of heads; given it, loads', async () => {
    const w = randomTensors(SPEC);
    const dir = tempDir();
    writeFileSync(join(dir, 'model.pth'), bookModelPth(SPEC, w));
    let err: unknown;
    try {
      Gpt2Checkpoint.open(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigNeededError);
    expect((err as ConfigNeededError).shape).toEqual({
      format: 'book',
      nLayer: 2,
      dModel: 32,
      nCtx: 24,
      vocabSize: 50257,
      qkvBias: false,
    });
    expect((err as Error).message).toMatch(/number of attention heads is not in the file/);
    const ref = withoutBiases(w, (n) => n.endsWith('attn.c_attn.bias'));
    await expectMatchesReference(dir, ref, SPEC, 'tanh', { config: { n_heads: 4 } });
  });
});

describe('character vocabularies', () => {
  const CHAR_SPEC = { nLayer: 2, nHead: 2, dModel: 16, nCtx: 32, seed: 4 };

  it("reads nanoGPT's meta.pkl beside ckpt.pt: one token per character, the reference's hooks, characters outside named", async () => {
    const m = writeCharModel(CHAR_SPEC);
    const engine = await expectMatchesReference(m.dir, m.tensors, m.spec, 'erf');
    expect(engine.modelInfo().source.vocabulary).toEqual({
      kind: 'chars',
      size: 65,
      file: 'meta.pkl',
      unusedRows: 0,
      endOfText: false,
    });
    const text = 'To be, or not — 2b? é';
    const a = await engine.analyze({ text, prependEndOfText: true });
    const kept = [...text].filter((c) => SHAKESPEARE_CHARS.includes(c));
    expect(a.tokens.map((t) => t.display)).toEqual(kept);
    expect(a.tokens.map((t) => t.id)).toEqual(kept.map((c) => SHAKESPEARE_CHARS.indexOf(c)));
    // Positions point into the text as typed, skipping what was left out.
    for (const t of a.tokens) expect(text.slice(t.start, t.end)).toBe(t.display);
    expect(a.outside).toEqual(['—', '2', 'é']);
    expect(a.tokens.some((t) => t.special)).toBe(false);
    const p = await engine.predictions({ text, prependEndOfText: false, position: 2 });
    for (const s of p.strings) expect(SHAKESPEARE_CHARS).toContain(s);
  });

  it("finds meta.pkl where nanoGPT's sample.py does (data/<dataset>/ beside out-…/), and says when there is none", async () => {
    const root = tempDir();
    const m = writeCharModel(CHAR_SPEC, { metaBeside: false, dir: join(root, 'out-shakespeare-char') });
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    await expect(engine.load(m.dir)).rejects.toThrow(VocabularyNeededError);
    await expect(engine.load(m.dir)).rejects.toThrow(/65-token vocabulary and no vocabulary file was found/);
    mkdirSync(join(root, 'data', 'shakespeare_char'), { recursive: true });
    writeFileSync(join(root, 'data', 'shakespeare_char', 'meta.pkl'), metaPkl(SHAKESPEARE_CHARS));
    const info = await engine.load(m.dir);
    expect(info.source.vocabulary.kind).toBe('chars');
  });

  it('takes a vocabulary file the person picked: a vocab.json in id order', async () => {
    const m = writeCharModel(CHAR_SPEC, { metaBeside: false });
    const elsewhere = tempDir();
    writeFileSync(join(elsewhere, 'tokens.json'), JSON.stringify(SHAKESPEARE_CHARS));
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    const info = await engine.load(m.ckpt, undefined, { vocabulary: join(elsewhere, 'tokens.json') });
    expect(info.source.vocabulary).toMatchObject({ kind: 'chars', size: 65, file: 'tokens.json' });
    const a = await engine.analyze({ text: 'Hi', prependEndOfText: false });
    expect(a.tokens.map((t) => t.id)).toEqual([SHAKESPEARE_CHARS.indexOf('H'), SHAKESPEARE_CHARS.indexOf('i')]);
  });

  it("ablation (a float64 re-run with the model's own exact GELU) and the data export work on a character model", async () => {
    const m = writeCharModel(CHAR_SPEC);
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    await engine.load(m.dir);
    const text = 'To be, or not to be';
    const ids = [...text].map((c) => SHAKESPEARE_CHARS.indexOf(c));
    const token = ids.length - 1;
    const a = await engine.ablate({ text, prependEndOfText: false, layer: 0, head: 1, mode: 'zero', token });
    const cfg = { ...m.spec, eps: 1e-5, gelu: 'erf' as const };
    const probs = (out: ReturnType<typeof referenceForward>): number[] => {
      const V = m.spec.vocabSize;
      const row = Array.from((out.get('logits')?.data ?? new Float64Array()).subarray(token * V, (token + 1) * V));
      const mx = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - mx), 0);
      return row.map((v) => Math.exp(v - mx) / z);
    };
    const clean = probs(referenceForward(m.tensors, cfg, ids));
    const ablated = probs(referenceForward(m.tensors, cfg, ids, { layer: 0, head: 1, mode: 'zero' }));
    expect(a.top.length).toBeGreaterThan(0);
    for (const t of a.top) {
      expect(t.string).toBe(SHAKESPEARE_CHARS[t.id]);
      expect(Math.abs(t.clean - (clean[t.id] ?? 0))).toBeLessThan(1e-4);
      expect(Math.abs(t.ablated - (ablated[t.id] ?? 0))).toBeLessThan(1e-4);
    }
    // ‖Δ hook_resid_post‖ per layer: sensitive to the GELU (tanh instead of erf moves it by ~1.4e-4 here).
    const refClean = referenceForward(m.tensors, cfg, ids);
    const refAbl = referenceForward(m.tensors, cfg, ids, { layer: 0, head: 1, mode: 'zero' });
    const D = m.spec.dModel;
    for (const l of a.layers) {
      const name = `blocks.${l.layer}.hook_resid_post`;
      const c = refClean.get(name)?.data.subarray(token * D, (token + 1) * D) ?? new Float64Array();
      const x = refAbl.get(name)?.data.subarray(token * D, (token + 1) * D) ?? new Float64Array();
      const delta = Math.hypot(...Array.from(c, (v, i) => v - (x[i] ?? 0)));
      expect(Math.abs(l.delta - delta), `layer ${l.layer} ‖Δ‖`).toBeLessThan(2e-5);
    }
    const file = await exportAnalysis(engine, { text, prependEndOfText: true });
    const summary = JSON.parse(new TextDecoder().decode(unzipSync(file.bytes)['analysis.json'])) as {
      tokens: { display: string }[];
      model: { source: { format: string } };
    };
    expect(summary.tokens.map((t) => t.display)).toEqual([...text]);
    expect(summary.model.source.format).toBe('nanogpt');
  });

  it('refuses a vocabulary larger than the embedding', async () => {
    const m = writeCharModel(CHAR_SPEC, { metaBeside: false });
    writeFileSync(join(m.dir, 'vocab.json'), JSON.stringify([...SHAKESPEARE_CHARS, 'x2', 'x3']));
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    await expect(engine.load(m.dir)).rejects.toThrow(/67 tokens but the model's embedding has only 65 rows/);
  });
});

describe('hostile PyTorch files', () => {
  it('a pickle that calls os.system is refused with its name, and nothing runs', async () => {
    const dir = tempDir();
    const marker = join(dir, 'pwned');
    writeFileSync(
      join(dir, 'ckpt.pt'),
      encodeTorchFile(new PyCall(new PyGlobal('os', 'system'), new PyTuple(`touch ${marker}`))),
    );
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    await expect(engine.load(dir)).rejects.toThrow(/os\.system/);
    expect(() => copyFileSync(marker, join(dir, 'copy'))).toThrow();
  });
});
