import { describe, expect, it } from 'vitest';
import {
  firstTokenScore,
  headLabels,
  inductionScore,
  localScore,
  meanEntropy,
  previousTokenScore,
  summarizeHeads,
  type HeadSummary,
} from '../../src/shared/head-scores';

/** Hand-built [T, T] patterns with known scores. */
function pattern(T: number, weight: (q: number, k: number) => number): Float32Array {
  const p = new Float32Array(T * T);
  for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) p[q * T + k] = weight(q, k);
  return p;
}

describe('head scores', () => {
  const T = 10;
  const previous = pattern(T, (q, k) => (q === 0 ? Number(k === 0) : Number(k === q - 1)));
  const uniform = pattern(T, (q, k) => (k <= q ? 1 / (q + 1) : 0));
  const sink = pattern(T, (_q, k) => Number(k === 0));

  it('a perfect previous-token head scores 1, a sink head 0', () => {
    expect(previousTokenScore(previous, T)).toBe(1);
    expect(previousTokenScore(sink, T)).toBeCloseTo(1 / (T - 1)); // only query 1's previous token is token 0
  });

  it('a uniform causal pattern scores the mean of 1/(i+1) for both previous- and first-token', () => {
    let want = 0;
    for (let i = 1; i < T; i++) want += 1 / (i + 1);
    want /= T - 1;
    expect(previousTokenScore(uniform, T)).toBeCloseTo(want, 6);
    expect(firstTokenScore(uniform, T)).toBeCloseTo(want, 6);
  });

  it('a sink head has first-token score 1 and entropy 0; a uniform head has mean entropy Σ ln(i+1) / T', () => {
    expect(firstTokenScore(sink, T)).toBe(1);
    expect(meanEntropy(sink, T)).toBe(0);
    let want = 0;
    for (let i = 0; i < T; i++) want += Math.log(i + 1);
    expect(meanEntropy(uniform, T)).toBeCloseTo(want / T, 5);
  });

  it('a perfect induction pattern on a repeated block scores 1', () => {
    const n = 6;
    const offset = 1;
    const len = offset + 2 * n;
    // Second-copy token at offset+n+j attends to offset+j+1; everything else attends to itself.
    const ind = pattern(len, (q, k) => {
      const j = q - offset - n;
      if (j >= 0 && j < n - 1) return Number(k === offset + j + 1);
      return Number(k === q);
    });
    expect(inductionScore(ind, len, n, offset)).toBe(1);
    expect(
      inductionScore(
        pattern(len, (q, k) => Number(k === q)),
        len,
        n,
        offset,
      ),
    ).toBe(0);
    expect(() => inductionScore(ind, len, n + 1, offset)).toThrow(/does not fit/);
  });
});

describe('local score, labels and summaries', () => {
  const T = 8;
  const pattern = (T: number, weight: (q: number, k: number) => number): Float32Array => {
    const p = new Float32Array(T * T);
    for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) p[q * T + k] = weight(q, k);
    return p;
  };

  it('a head spread over itself and the two previous tokens is fully local; a sink head is not', () => {
    const local = pattern(T, (q, k) => (k <= q && k >= q - 2 ? 1 / Math.min(3, q + 1) : 0));
    expect(localScore(local, T)).toBeCloseTo(1, 6);
    const sink = pattern(T, (_q, k) => Number(k === 0));
    expect(localScore(sink, T)).toBeCloseTo(3 / T, 6); // only queries 0, 1, 2 have token 0 within reach
  });

  it('labels heads whose score passes its threshold', () => {
    const base = { layer: 0, head: 0, entropy: 1, previousToken: 0.1, firstToken: 0.1, local: 0.3, induction: null };
    expect(headLabels(base)).toEqual([]);
    expect(headLabels({ ...base, previousToken: 0.9, local: 0.95 })).toEqual(['previous-token']);
    expect(headLabels({ ...base, local: 0.85 })).toEqual(['local']);
    expect(headLabels({ ...base, firstToken: 0.7 })).toEqual(['first-token']);
    expect(headLabels({ ...base, induction: 0.31 })).toEqual(['induction']);
  });

  it('summarises every head of an [L, H, T, T] block in layer-major order', () => {
    const prev = pattern(T, (q, k) => (q === 0 ? Number(k === 0) : Number(k === q - 1)));
    const sink = pattern(T, (_q, k) => Number(k === 0));
    const all = new Float32Array(2 * T * T);
    all.set(prev, 0);
    all.set(sink, T * T);
    const s = summarizeHeads(all, 1, 2, T, Float32Array.of(0.05, 0.4));
    expect(s.map((x) => [x.layer, x.head])).toEqual([
      [0, 0],
      [0, 1],
    ]);
    expect(s[0]?.previousToken).toBe(1);
    expect(s[1]?.firstToken).toBe(1);
    expect(headLabels(s[1] as HeadSummary)).toEqual(['first-token', 'induction']);
  });
});
