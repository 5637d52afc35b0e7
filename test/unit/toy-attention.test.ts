/**
 * The walkthrough's numbers: the book's printed values (Raschka, Build a Large Language Model
 * (From Scratch), section 3.3) and a plain-loop reference for the trainable version.
 */
import { describe, expect, it } from 'vitest';
import {
  BOOK_INPUTS,
  BOOK_QUERY,
  TOY_WEIGHTS,
  queryRow,
  simplifiedAttention,
  trainableAttention,
  type Matrix,
} from '../../src/shared/toy-attention';

const f4 = (xs: ArrayLike<number>): string[] => Array.from(xs, (v) => v.toFixed(4));

/** As printed in the book (section 3.3.1 and 3.3.2). */
const BOOK = {
  scores2: ['0.9544', '1.4950', '1.4754', '0.8434', '0.7070', '1.0865'],
  weights: [
    ['0.2098', '0.2006', '0.1981', '0.1242', '0.1220', '0.1452'],
    ['0.1385', '0.2379', '0.2333', '0.1240', '0.1082', '0.1581'],
    ['0.1390', '0.2369', '0.2326', '0.1242', '0.1108', '0.1565'],
    ['0.1435', '0.2074', '0.2046', '0.1462', '0.1263', '0.1720'],
    ['0.1526', '0.1958', '0.1975', '0.1367', '0.1879', '0.1295'],
    ['0.1385', '0.2184', '0.2128', '0.1420', '0.0988', '0.1896'],
  ],
  context: [
    ['0.4421', '0.5931', '0.5790'],
    ['0.4419', '0.6515', '0.5683'],
    ['0.4431', '0.6496', '0.5671'],
    ['0.4304', '0.6298', '0.5510'],
    ['0.4671', '0.5910', '0.5266'],
    ['0.4177', '0.6503', '0.5645'],
  ],
};

/** Plain loops: q, k, v, scores, optional ÷√d_k and causal mask, softmax, z. */
function reference(x: Matrix, w: { query: Matrix; key: Matrix; value: Matrix }, scale: boolean, mask: boolean) {
  const T = x.length;
  const proj = (m: Matrix): number[][] => {
    const out: number[][] = [];
    for (let i = 0; i < T; i++) {
      const row: number[] = [];
      for (let o = 0; o < (m[0]?.length ?? 0); o++) {
        let s = 0;
        for (let d = 0; d < (x[i]?.length ?? 0); d++) s += (x[i]?.[d] ?? 0) * (m[d]?.[o] ?? 0);
        row.push(s);
      }
      out.push(row);
    }
    return out;
  };
  const q = proj(w.query);
  const k = proj(w.key);
  const v = proj(w.value);
  const dK = q[0]?.length ?? 1;
  const weights: number[][] = [];
  for (let i = 0; i < T; i++) {
    const scores: number[] = [];
    for (let j = 0; j < T; j++) {
      let s = 0;
      for (let d = 0; d < dK; d++) s += (q[i]?.[d] ?? 0) * (k[j]?.[d] ?? 0);
      scores.push(scale ? s / Math.sqrt(dK) : s);
    }
    const e = scores.map((s, j) => (mask && j > i ? 0 : Math.exp(s)));
    const total = e.reduce((a, b) => a + b, 0);
    weights.push(e.map((y) => y / total));
  }
  const z = weights.map((row) => Array.from({ length: dK }, (_, c) => row.reduce((s, a, j) => s + a * (v[j]?.[c] ?? 0), 0)));
  return { q, k, v, weights, z };
}

describe('the book’s six-token example', () => {
  it('reproduces the printed scores, weights and context vectors to 4 decimals', () => {
    const r = simplifiedAttention();
    expect(f4(queryRow(r.scores, 6, BOOK_QUERY))).toEqual(BOOK.scores2);
    BOOK.weights.forEach((row, i) => expect(f4(queryRow(r.weights, 6, i))).toEqual(row));
    BOOK.context.forEach((row, i) => expect(f4(r.context[i] ?? [])).toEqual(row));
  });

  it('computes the trainable version exactly as plain loops do, with and without scaling and mask', () => {
    for (const scale of [true, false]) {
      for (const mask of [true, false]) {
        const r = trainableAttention({ scale, mask });
        const ref = reference(BOOK_INPUTS, TOY_WEIGHTS, scale, mask);
        for (let i = 0; i < 6; i++) {
          for (let j = 0; j < 6; j++) expect(r.weights[i * 6 + j]).toBeCloseTo(ref.weights[i]?.[j] ?? NaN, 6);
          ref.z[i]?.forEach((v, c) => expect(r.context[i]?.[c]).toBeCloseTo(v, 6));
          ref.q[i]?.forEach((v, c) => expect(r.q[i]?.[c]).toBeCloseTo(v, 10));
        }
      }
    }
  });

  it('shows what the walkthrough claims: scaling softens, the mask leaves the first token only itself', () => {
    const on = trainableAttention({ scale: true, mask: false });
    const off = trainableAttention({ scale: false, mask: false });
    const top = (w: Float32Array): number => Math.max(...queryRow(w, 6, BOOK_QUERY));
    expect(top(off.weights)).toBeGreaterThan(top(on.weights) + 0.03);
    const masked = trainableAttention({ scale: true, mask: true });
    expect(masked.weights[0]).toBeCloseTo(1, 6);
    expect(Array.from(queryRow(masked.weights, 6, 0)).slice(1)).toEqual([0, 0, 0, 0, 0]);
  });
});
