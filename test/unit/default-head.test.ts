/**
 * The head the attention view opens on: the rule in shared/default-head.ts against a plain-loop
 * reference, on the bundled model and on a random model, and a head named by atlas-model.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { readModelMeta } from '../../src/engine/model-meta';
import { headOffset } from '../../src/shared/attention-math';
import { MAX_SPREAD, MIN_SHARPEN, MIN_SPREAD, chooseDefaultHead, toggleEffects } from '../../src/shared/default-head';
import { randomEngine, tempDir } from '../helpers/fixtures';
import { viewModel } from '../helpers/view-model';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

const SENTENCE = 'The cat sat on the mat because it was tired, and the cat slept.';
/** What "visibly changes the picture" means in the tests: a fifth of the weight, 0.1 nats. */
const MIN_LEAK = 0.2;
const MIN_DROP_NATS = 0.1;

/** Softmax of one query's scores with plain loops; masked keys get 0. */
function rowWeights(dot: Float32Array, T: number, q: number, dHead: number, scale: boolean, mask: boolean): number[] {
  const s: number[] = [];
  for (let k = 0; k < T; k++) s.push((dot[q * T + k] ?? 0) / (scale ? Math.sqrt(dHead) : 1));
  const visible = s.map((_, k) => !mask || k <= q);
  const m = Math.max(...s.filter((_, k) => visible[k]));
  const e = s.map((v, k) => (visible[k] ? Math.exp(v - m) : 0));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

function entropy(p: number[]): number {
  return -p.reduce((h, x) => (x > 0 ? h + x * Math.log(x) : h), 0);
}

/** Leak (mask off) and entropy drop (scaling off) of one head, averaged over queries. */
function referenceEffect(dot: Float32Array, T: number, dHead: number): { leak: number; drop: number } {
  let leak = 0;
  let drop = 0;
  for (let q = 0; q < T; q++) {
    const unmasked = rowWeights(dot, T, q, dHead, true, false);
    for (let k = q + 1; k < T; k++) leak += unmasked[k] ?? 0;
    drop += entropy(rowWeights(dot, T, q, dHead, true, true)) - entropy(rowWeights(dot, T, q, dHead, false, true));
  }
  return { leak: leak / T, drop: drop / T };
}

describe('default head', () => {
  for (const which of ['bundled', 'random'] as const) {
    it(`on the ${which} model opens a head whose mask and scaling toggles visibly change the picture`, async () => {
      const engine = which === 'bundled' ? (await viewModel()).engine : (await randomEngine()).engine;
      const a = await engine.analyze({ text: SENTENCE, prependEndOfText: false });
      const { nLayers: L, nHeads: H, dHead } = a.model;
      const T = a.drawn;
      const effects = toggleEffects(a.dot, L, H, T, dHead);
      const chosen = chooseDefaultHead(effects);
      expect(chosen.reason).toBe('rule');
      const o = headOffset(chosen.layer, chosen.head, H, T);
      const ref = referenceEffect(a.dot.subarray(o, o + T * T), T, dHead);
      expect(ref.leak).toBeGreaterThan(MIN_LEAK);
      expect(ref.drop).toBeGreaterThan(MIN_DROP_NATS);
      // The module's numbers are the reference's.
      expect(chosen.effect?.leak).toBeCloseTo(ref.leak, 5);
      expect(chosen.effect?.sharpen).toBeCloseTo(ref.drop, 4);
      // And it is the rule's pick: no qualifying head leaks more.
      for (const e of effects) {
        if (e.spread >= MIN_SPREAD && e.spread <= MAX_SPREAD && e.relSharpen >= MIN_SHARPEN) {
          expect(e.leak).toBeLessThanOrEqual(chosen.effect?.leak ?? 0);
        }
      }
      await engine.unload();
    });
  }

  it('falls back when no head qualifies, never leaves the model', () => {
    const oneHot = { spread: 0, leak: 0, sharpen: 0, relSharpen: 0 };
    const fb = chooseDefaultHead([
      { layer: 0, head: 0, ...oneHot },
      { layer: 0, head: 1, spread: 0.95, leak: 0.5, sharpen: 0.01, relSharpen: 0.01 },
      { layer: 1, head: 0, spread: 0.97, leak: 0.4, sharpen: 0.1, relSharpen: 0.1 },
    ]);
    expect(fb).toMatchObject({ layer: 1, head: 0, reason: 'fallback' });
    expect(chooseDefaultHead([])).toMatchObject({ layer: 0, head: 0, reason: 'fallback' });
  });

  it('uses the head a model’s atlas-model.json names, when the model has it', async () => {
    const dir = writeRandomModel(SMALL_SPEC);
    writeFileSync(join(dir, 'atlas-model.json'), JSON.stringify({ label: 'named', defaultHead: { layer: 2, head: 1 } }));
    expect(readModelMeta(dir).defaultHead).toEqual({ layer: 2, head: 1 });
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    expect((await engine.load(dir)).preferredHead).toEqual({ layer: 2, head: 1 });
    // A head the model does not have, or a malformed entry, is ignored.
    writeFileSync(join(dir, 'atlas-model.json'), JSON.stringify({ defaultHead: { layer: 99, head: 0 } }));
    expect((await engine.load(dir)).preferredHead).toBeNull();
    writeFileSync(join(dir, 'atlas-model.json'), JSON.stringify({ defaultHead: { layer: -1, head: '2' } }));
    expect(readModelMeta(dir).defaultHead).toBeUndefined();
  });
});
