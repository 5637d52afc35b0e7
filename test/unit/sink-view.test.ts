import { describe, expect, it } from 'vitest';
import { hideFirstToken } from '../../src/shared/sink-view';

describe('sink-aware view', () => {
  it('hides the first-token column and renormalises each row over the rest', () => {
    const T = 3;
    const w = [1, 0, 0, 0.8, 0.2, 0, 0.5, 0.1, 0.4];
    const v = Array.from(hideFirstToken(w, T));
    expect(v.slice(0, 3)).toEqual([0, 0, 0]);
    expect(v[3]).toBe(0);
    expect(v[4]).toBeCloseTo(1, 6);
    expect(v[6]).toBe(0);
    expect(v[7]).toBeCloseTo(0.2, 6);
    expect(v[8]).toBeCloseTo(0.8, 6);
  });
});
