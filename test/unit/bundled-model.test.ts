/**
 * The model the app opens by default (resources/models/tiny-gpt2-brown), checked through the
 * app's own engine against what issue #3 asks of it and what its evaluation.json / model card
 * claim. Held-out text is tools/eval/data/heldout.txt (files the model never trained on).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { bundledModelDir } from '../../src/engine/paths';
import { GPT2_VOCAB_SIZE } from '../../src/engine/tokenizer';
import { headLabels, previousTokenScore, summariesFromStats } from '../../src/shared/head-scores';
import { hookNames } from '../../src/shared/hooks';
import { heldOutStream, negLogLikelihood, unigramLogProb } from '../../tools/eval/heldout';
import { tempDir } from '../helpers/fixtures';

const dir = bundledModelDir(process.cwd());

interface Evaluation {
  crossEntropy: number;
  unigramCrossEntropy: number;
  improvement: number;
  bestPreviousToken: { layer: number; head: number; previousToken: number };
}
const evaluation = JSON.parse(readFileSync(join(dir, 'evaluation.json'), 'utf8')) as Evaluation;

describe('the bundled model', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = new Engine({ cacheDir: tempDir('atlas-bundled-') });
    await engine.load(dir);
  });
  afterAll(async () => {
    await engine.unload();
  });

  it('is a GPT-2 of at least 4 layers × 4 heads, n_ctx ≥ 128, the full 50257-token vocabulary, ≤ 40 MB', () => {
    const info = engine.modelInfo();
    expect(info.nLayers).toBeGreaterThanOrEqual(4);
    expect(info.nHeads).toBeGreaterThanOrEqual(4);
    expect(info.nCtx).toBeGreaterThanOrEqual(128);
    expect(info.vocabSize).toBe(GPT2_VOCAB_SIZE);
    expect(info.label).toMatch(/Brown corpus/);
    const bytes = readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThanOrEqual(40 * 1024 * 1024);
  });

  it('predicts held-out text far better than the unigram baseline and has the previous-token head it reports', async () => {
    const { nCtx, nLayers: L, nHeads: H } = engine.modelInfo();
    const stream = heldOutStream(engine.tokenizer, 3);
    const logUnigram = unigramLogProb();
    const best = evaluation.bestPreviousToken;
    const windows = 3;
    let nll = 0;
    let nllUnigram = 0;
    let prev = 0;
    for (let w = 0; w < windows; w++) {
      const ids = stream.slice(w * nCtx, (w + 1) * nCtx);
      const next = stream.slice(w * nCtx + 1, (w + 1) * nCtx + 1);
      const out = await engine.run(ids, ['logits', hookNames(best.layer).pattern]);
      const logits = out['logits']?.data as Float32Array;
      const V = GPT2_VOCAB_SIZE;
      for (let t = 0; t < ids.length; t++) {
        const target = next[t] ?? 0;
        nll += negLogLikelihood(logits.subarray(t * V, (t + 1) * V), target);
        nllUnigram -= logUnigram(target);
      }
      const T = ids.length;
      const p = out[hookNames(best.layer).pattern]?.data as Float32Array;
      prev += previousTokenScore(p.subarray(best.head * T * T, (best.head + 1) * T * T), T);
      expect(p.length).toBe(H * T * T);
    }
    const predicted = windows * nCtx;
    // 768 tokens of the first (harder) held-out files: 1.10 for the bundled model, where the card's
    // 1.50 averages all 64,768; random weights score below 0. So a looser bound than the card's.
    expect(nllUnigram / predicted - nll / predicted).toBeGreaterThan(0.9);
    expect(prev / windows).toBeGreaterThanOrEqual(0.8);
    expect(Math.abs(prev / windows - best.previousToken)).toBeLessThan(0.05);
    expect(L).toBeGreaterThan(best.layer);
    // The evaluation file is internally consistent (the card is written from it).
    expect(evaluation.improvement).toBeCloseTo(evaluation.unigramCrossEntropy - evaluation.crossEntropy, 10);
  });

  it('the head summaries the app shows name that head a previous-token head on a plain sentence', async () => {
    const { nLayers: L, nHeads: H } = engine.modelInfo();
    const a = await engine.analyze({
      text: 'The cat sat on the mat because it was tired, and the cat slept.',
      prependEndOfText: false,
    });
    const summaries = summariesFromStats(a.headStats, L, H, null);
    const best = evaluation.bestPreviousToken;
    const s = summaries.find((x) => x.layer === best.layer && x.head === best.head);
    expect(s && headLabels(s)).toContain('previous-token');
  });
});
