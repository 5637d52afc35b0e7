/**
 * With √d_head a power of two (GPT-2's 64 → 8) the analysis graph scales q before q·kᵀ and
 * never forms hook_dot (graph-builder.ts, scores); the other tests' models (d_head 8) take the
 * plain path. Here d_head = 16: the drawn squares must still equal the full graph's hook_dot
 * and hook_pattern bit for bit, every hook must match the reference, and the row statistics
 * (gathered weights, entropy from the softmax's own log-sum-exp) the plain per-head scores.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { exactScale } from '../../src/engine/graph-builder';
import { allHookNames, hookNames } from '../../src/shared/hooks';
import { expectHeadStatsOfPatterns, maxAbsDiff, type RandomEngine, randomEngine, randomIds } from '../helpers/fixtures';
import { referenceForward } from '../reference/gpt2-reference';

const SPEC = { nLayer: 2, nHead: 2, dModel: 32, nCtx: 48, vocabSize: 50257, seed: 23 };

describe('analysis graph with an exactly scaled q (d_head 16)', () => {
  let m: RandomEngine;
  beforeAll(async () => {
    m = await randomEngine(SPEC);
  });

  it('takes the exact-scale path', () => {
    expect(exactScale(SPEC.dModel / SPEC.nHead)).toBe(true);
    expect(exactScale(8)).toBe(false);
  });

  it('matches every exposed tensor of the reference within 1e-4', async () => {
    const ids = randomIds(33, 4242);
    const ref = referenceForward(m.tensors, { ...SPEC, eps: 1e-5 }, ids);
    const graph = await m.engine.runAll(ids);
    for (const name of allHookNames(SPEC.nLayer)) {
      const g = graph[name];
      const r = ref.get(name);
      if (!g || !r) throw new Error(`missing ${name}`);
      expect(maxAbsDiff(g.data as Float32Array, r.data), name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('draws hook_dot and hook_pattern exactly as the full graph computes them, and the same row statistics', async () => {
    const text = 'A cat sat on the mat, and then the dog sat on the cat.';
    const a = await m.engine.analyze({ text, prependEndOfText: false });
    const T = a.tokens.length;
    const { nLayer: L, nHead: H } = SPEC;
    const all = await m.engine.runAll(a.tokens.map((t) => t.id));
    for (let l = 0; l < L; l++) {
      const hk = hookNames(l);
      const slice = (x: Float32Array): number[] => Array.from(x.subarray(l * H * T * T, (l + 1) * H * T * T));
      expect(slice(a.dot)).toEqual(Array.from(all[hk.dot]?.data as Float32Array));
      expect(slice(a.pattern)).toEqual(Array.from(all[hk.pattern]?.data as Float32Array));
    }
    expectHeadStatsOfPatterns(a);
  });
});
