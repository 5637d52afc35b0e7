import { describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { mergeSquares } from '../../src/renderer/src/lib/squares';

/** A reply carrying the squares of `heads` (side n), each filled with its head index (+0.5 in pattern). */
function reply(version: number, n: number, heads: number[]): Analysis {
  const dot = new Float32Array(heads.length * n * n);
  const pattern = new Float32Array(heads.length * n * n);
  heads.forEach((h, i) => {
    dot.fill(h, i * n * n, (i + 1) * n * n);
    pattern.fill(h + 0.5, i * n * n, (i + 1) * n * n);
  });
  return { squareVersion: version, drawn: n, squareHeads: heads, dot, pattern } as unknown as Analysis;
}

describe('held squares', () => {
  it('keeps each head of a reply by its flat index, without copying', () => {
    const a = reply(1, 3, [4, 0]);
    const held = mergeSquares(null, a);
    expect([...held.dot.keys()]).toEqual([4, 0]);
    expect(Array.from(held.dot.get(0) ?? [])).toEqual(Array(9).fill(0));
    expect(Array.from(held.pattern.get(4) ?? [])).toEqual(Array(9).fill(4.5));
    expect(held.dot.get(4)?.buffer).toBe(a.dot.buffer);
  });

  it('merges heads fetched later for the same version, and starts over for a new one', () => {
    const first = mergeSquares(null, reply(1, 3, [2]));
    const more = mergeSquares(first, reply(1, 3, [5, 2]));
    expect([...more.dot.keys()].sort()).toEqual([2, 5]);
    expect(first.dot.size).toBe(1); // the held value is never mutated (it is $state.raw)
    const next = mergeSquares(more, reply(2, 3, [1]));
    expect([...next.dot.keys()]).toEqual([1]);
    // Same version but another side (cannot happen from one engine, but never mixes sizes).
    expect([...mergeSquares(more, reply(1, 4, [7])).dot.keys()]).toEqual([7]);
  });

  it('keeps what is held when the reply carries no square (the engine said it is unchanged)', () => {
    const held = mergeSquares(null, reply(3, 2, [0, 1]));
    expect([...mergeSquares(held, reply(3, 2, [])).dot.keys()]).toEqual([0, 1]);
  });
});
