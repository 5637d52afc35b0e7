import { describe, expect, it } from 'vitest';
import { blockSum, largestTerms, scoreAxis } from '../../src/shared/score-groups';

describe('score decomposition grouping', () => {
  const parts = ['embed', 'pos', 'L0H0', 'L0H1', 'L0.b_O', 'L0.mlp', 'L1H0', 'L1H1', 'L1.b_O', 'L1.mlp', 'bias'];
  const P = parts.length;
  const terms = Array.from({ length: P * P }, (_, i) => Math.sin(i + 1));
  const total = terms.reduce((a, v) => a + v, 0);

  it('collapses each layer into one entry and expands one on request', () => {
    expect(scoreAxis(parts, new Set()).map((e) => e.key)).toEqual(['embed', 'pos', 'L0', 'L1', 'bias']);
    const open = scoreAxis(parts, new Set([1]));
    expect(open.map((e) => e.key)).toEqual(['embed', 'pos', 'L0', 'L1H0', 'L1H1', 'L1.b_O', 'L1.mlp', 'bias']);
    expect(open[2]?.parts).toEqual([2, 3, 4, 5]);
  });

  it('every grouping still sums to the whole score', () => {
    for (const ex of [new Set<number>(), new Set([0]), new Set([0, 1])]) {
      const rows = scoreAxis(parts, ex);
      const cols = scoreAxis(parts, new Set([1]));
      let s = 0;
      for (const r of rows) for (const c of cols) s += blockSum(terms, P, r.parts, c.parts);
      expect(s).toBeCloseTo(total, 10);
    }
  });

  it('lists the largest terms by magnitude', () => {
    const top = largestTerms(terms, P, 3);
    expect(top).toHaveLength(3);
    const mags = terms.map(Math.abs).sort((a, b) => b - a);
    expect(top.map(([, , v]) => Math.abs(v))).toEqual(mags.slice(0, 3));
  });
});
