import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  attentionWeights,
  futureWeight,
  headOffset,
  isMasked,
  rowEntropies,
  stageView,
} from '../../src/shared/attention-math';
import type { Analysis } from '../../src/shared/api';
import { randomEngine, type RandomEngine } from '../helpers/fixtures';

/**
 * The renderer's stage maths against the engine's tensors, for every head of a random model,
 * plus the properties the view relies on.
 */
describe('renderer stage maths against the engine', () => {
  let m: RandomEngine;
  let a: Analysis;
  let T: number;
  const dh = 8;
  beforeAll(async () => {
    m = await randomEngine();
    a = await m.engine.analyze({
      text: 'The keys run down the left and the queries along the top, said the video.',
      prependEndOfText: false,
    });
    T = a.tokens.length;
  });
  const eachHead = (fn: (dot: Float32Array, pattern: Float32Array, label: string) => void): void => {
    for (let l = 0; l < a.model.nLayers; l++) {
      for (let h = 0; h < a.model.nHeads; h++) {
        const o = headOffset(l, h, a.model.nHeads, T);
        fn(a.dot.subarray(o, o + T * T), a.pattern.subarray(o, o + T * T), `L${l}H${h}`);
      }
    }
  };

  it('with mask and scaling on, the weights equal hook_pattern within 1e-5 for every head', () => {
    expect(a.model.dHead).toBe(dh);
    eachHead((dot, pattern, label) => {
      const w = stageView(dot, T, dh, 'weights', { scale: true, mask: true }).values;
      let err = 0;
      for (let i = 0; i < T * T; i++) err = Math.max(err, Math.abs((w[i] ?? 0) - (pattern[i] ?? 0)));
      expect(err, label).toBeLessThanOrEqual(1e-5);
    });
  });

  it('each query’s weights sum to 1 under every toggle setting', () => {
    for (const scale of [true, false]) {
      for (const mask of [true, false]) {
        eachHead((dot) => {
          const w = attentionWeights(dot, T, dh, { scale, mask });
          for (let q = 0; q < T; q++) {
            let s = 0;
            for (let k = 0; k < T; k++) s += w[q * T + k] ?? 0;
            expect(Math.abs(s - 1)).toBeLessThan(1e-5);
          }
        });
      }
    }
  });

  it('masked weights are exactly 0 with the mask on and non-zero with it off', () => {
    eachHead((dot, _p, label) => {
      const on = attentionWeights(dot, T, dh, { scale: true, mask: true });
      const off = attentionWeights(dot, T, dh, { scale: true, mask: false });
      for (let q = 0; q < T; q++) {
        for (let k = q + 1; k < T; k++) {
          expect(on[q * T + k], label).toBe(0);
          expect(off[q * T + k], label).toBeGreaterThan(0);
        }
      }
      const future = futureWeight(off, T);
      expect(future[T - 1]).toBe(0); // the last query has no future
      expect(future[0]).toBeGreaterThan(0);
      expect(Array.from(futureWeight(on, T)).every((x) => x === 0)).toBe(true);
    });
  });

  it('scaling off never increases any query’s entropy', () => {
    for (const mask of [true, false]) {
      eachHead((dot, _p, label) => {
        const hOn = rowEntropies(attentionWeights(dot, T, dh, { scale: true, mask }), T);
        const hOff = rowEntropies(attentionWeights(dot, T, dh, { scale: false, mask }), T);
        for (let q = 0; q < T; q++) expect(hOff[q], `${label} q${q}`).toBeLessThanOrEqual((hOn[q] ?? 0) + 1e-9);
      });
    }
  });

  it('stages show raw scores, then scaled scores, then masked cells, then weights', () => {
    const o = headOffset(1, 2, a.model.nHeads, T);
    const dot = a.dot.subarray(o, o + T * T);
    const opts = { scale: true, mask: true };
    const views = Object.fromEntries(STAGES.map((s) => [s, stageView(dot, T, dh, s, opts)]));
    expect(Array.from(views.dot?.values ?? [])).toEqual(Array.from(dot));
    expect(views.scale?.values[5]).toBeCloseTo((dot[5] ?? 0) / Math.sqrt(dh), 6);
    expect(views.scale?.showMask).toBe(false);
    expect(views.mask?.showMask).toBe(true);
    expect(isMasked(0, 1)).toBe(true);
    expect(isMasked(1, 0)).toBe(false);
    expect(views.softmax?.signed).toBe(false);
    // Scaling off: the scale stage passes the raw scores through.
    expect(Array.from(stageView(dot, T, dh, 'scale', { scale: false, mask: true }).values)).toEqual(Array.from(dot));
  });
});
