import { beforeAll, describe, expect, it } from 'vitest';
import {
  STAGES,
  attentionWeights,
  futureWeight,
  headOffset,
  isMasked,
  rowEntropies,
  stageView,
  unmaskedRowsFromPattern,
  unscaledRowsFromPattern,
  wholeRootOf,
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

  /** Rows of a *RowsFromPattern function, normalised into [T, T] weights (0 past `last`). */
  const normalised = (
    T: number,
    fill: (e: Float64Array, row: (q: number, last: number, sum: number) => void) => void,
  ): Float32Array => {
    const out = new Float32Array(T * T);
    const e = new Float64Array(T);
    fill(e, (q, last, sum) => {
      for (let k = 0; k <= last; k++) out[q * T + k] = (e[k] ?? 0) / sum;
    });
    return out;
  };
  const worstDiff = (x: Float32Array, y: Float32Array): number =>
    x.reduce((w, v, i) => Math.max(w, Math.abs(v - (y[i] ?? 0))), 0);

  it('the mask switched off from hook_pattern equals the plain softmax over every key, for every head', () => {
    eachHead((dot, pattern, label) => {
      const want = attentionWeights(dot, T, dh, { scale: true, mask: false });
      const got = normalised(T, (e, row) => unmaskedRowsFromPattern(dot, pattern, T, dh, e, row));
      expect(worstDiff(got, want), label).toBeLessThan(1e-5);
    });
  });

  it('a later key far above every seen one neither overflows nor loses its weight; a row not held is computed plainly', () => {
    // Query 0 saw only key 0; key 2 scores 2·10⁴ above it (exp of that overflows float64).
    const dot = Float32Array.from([1, -3, 2e4, 0.5, 2, 1, 0.1, 0.2, 0.3]);
    const pattern = attentionWeights(dot, 3, 1, { scale: true, mask: true });
    const want = attentionWeights(dot, 3, 1, { scale: true, mask: false });
    const got = normalised(3, (e, row) => unmaskedRowsFromPattern(dot, pattern, 3, 1, e, row));
    expect(got.every(Number.isFinite)).toBe(true);
    expect(got[2]).toBeCloseTo(1, 6);
    expect(worstDiff(got, want)).toBeLessThan(1e-6);
    const notHeld = normalised(3, (e, row) => unmaskedRowsFromPattern(dot, new Float32Array(9).fill(Number.NaN), 3, 1, e, row));
    expect(worstDiff(notHeld, want)).toBeLessThan(1e-6);
  });

  it('the scaling switched off from hook_pattern (a whole power of it) equals the plain softmax of the raw scores', () => {
    expect([64, 16, 1, 8, 32, 48].map(wholeRootOf)).toEqual([8, 4, 1, null, null, null]);
    // GPT-2's d_head = 64 (√ = 8) and 16 (√ = 4), scores spread as a trained head's are (raw q·k
    // up to ±60); a fixed generator so a failure reproduces.
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (const dHead of [64, 16]) {
      const n = 40;
      const dot = Float32Array.from({ length: n * n }, () => (random() - 0.5) * 120);
      const pattern = attentionWeights(dot, n, dHead, { scale: true, mask: true });
      const want = attentionWeights(dot, n, dHead, { scale: false, mask: true });
      const root = wholeRootOf(dHead) ?? 0;
      const got = normalised(n, (e, row) => unscaledRowsFromPattern(dot, pattern, n, root, e, row));
      expect(worstDiff(got, want), `d_head ${dHead}`).toBeLessThan(1e-5);
      const notHeld = normalised(n, (e, row) =>
        unscaledRowsFromPattern(dot, new Float32Array(n * n).fill(Number.NaN), n, root, e, row),
      );
      expect(worstDiff(notHeld, want), `d_head ${dHead}, not held`).toBeLessThan(1e-6);
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
