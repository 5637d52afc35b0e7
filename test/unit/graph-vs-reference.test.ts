import { beforeAll, describe, expect, it } from 'vitest';
import { allHookNames } from '../../src/shared/hooks';
import { randomEngine, randomIds, maxAbsDiff, type RandomEngine } from '../helpers/fixtures';
import { referenceForward } from '../reference/gpt2-reference';

/** The built ONNX graph against the plain-loop reference, tensor by tensor. */
describe('instrumented graph vs plain reference forward pass', () => {
  let m: RandomEngine;
  beforeAll(async () => {
    m = await randomEngine();
  });

  for (const T of [1, 17, 40]) {
    it(`matches every exposed tensor within 1e-4 at T=${T}`, async () => {
      const ids = randomIds(T, 1000 + T);
      const ref = referenceForward(m.tensors, { ...m.spec, eps: 1e-5 }, ids);
      const graph = await m.engine.runAll(ids);
      const names = allHookNames(m.spec.nLayer);
      expect(names.length).toBe(12 * m.spec.nLayer + 2);
      for (const name of names) {
        const g = graph[name];
        const r = ref.get(name);
        expect(g, name).toBeDefined();
        expect(r, name).toBeDefined();
        if (!g || !r) continue;
        expect(g.dims, name).toEqual(r.dims);
        const err = maxAbsDiff(g.data as Float32Array, r.data);
        expect(err, `${name} max abs error`).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it('top-k outputs are the largest softmax(logits) entries after the last token, in order', async () => {
    for (const n of [1, 9]) {
      const ids = randomIds(n, 77);
      const graph = await m.engine.runAll(ids);
      const logits = graph['logits']?.data as Float32Array;
      const topIds = graph['atlas.next_token_ids_topk']?.data as BigInt64Array;
      const topP = graph['atlas.next_token_probs_topk']?.data as Float32Array;
      expect(topIds.length).toBe(10);
      const V = m.spec.vocabSize;
      const t = ids.length - 1;
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const mx = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
      const order = row
        .map((v, i) => [v, i] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 10);
      order.forEach(([v, i], r) => {
        expect(Number(topIds[r])).toBe(i);
        expect(topP[r]).toBeCloseTo(Math.exp(v - mx) / z, 5);
      });
    }
  });
});
