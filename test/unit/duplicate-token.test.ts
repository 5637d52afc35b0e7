import { describe, expect, it } from 'vitest';
import { duplicateTokenScore } from '../../src/shared/duplicate-token';

describe('duplicate-token score', () => {
  it('averages, over queries whose token occurred before, the weight on its earlier copies', () => {
    // ids: a b a b a — queries 2, 3 and 4 have earlier copies (4 has two: 0 and 2).
    const ids = [1, 2, 1, 2, 1];
    const T = 5;
    const p = new Float32Array(T * T);
    const row = (i: number, w: number[]): void => w.forEach((v, j) => (p[i * T + j] = v));
    row(0, [1]);
    row(1, [0.5, 0.5]);
    row(2, [0.6, 0.2, 0.2]);
    row(3, [0.1, 0.3, 0.3, 0.3]);
    row(4, [0.25, 0, 0.25, 0, 0.5]);
    expect(duplicateTokenScore(p, T, ids)).toBeCloseTo((0.6 + 0.3 + 0.5) / 3, 6);
  });

  it('is null when no token repeats', () => {
    expect(duplicateTokenScore(new Float32Array(9).fill(1 / 3), 3, [1, 2, 3])).toBeNull();
  });
});
