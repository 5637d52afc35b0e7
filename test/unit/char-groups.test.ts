import { describe, expect, it } from 'vitest';
import { Gpt2Tokenizer } from '../../src/engine/tokenizer';
import { attentionWeights } from '../../src/shared/attention-math';
import { aggregateByCharacter, characterGroups, groupOfToken, isGroupMasked, type TokenSpan } from '../../src/shared/char-groups';
import { rng } from '../helpers/random-model';

const tok = new Gpt2Tokenizer();

/** `planes` causal softmax squares [n, n] from random scores. */
function randomWeights(n: number, planes: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(planes * n * n);
  for (let p = 0; p < planes; p++) {
    const dot = Float32Array.from({ length: n * n }, () => (next() - 0.5) * 20);
    out.set(attentionWeights(dot, n, 64, { scale: true, mask: true }), p * n * n);
  }
  return out;
}

/** The definition, as plainly as it can be written. */
function reference(w: Float32Array, n: number, groups: readonly TokenSpan[], plane: number): number[][] {
  return groups.map((gq) =>
    groups.map((gk) => {
      let total = 0;
      for (let q = gq.first; q < gq.first + gq.count; q++) {
        let s = 0;
        for (let k = gk.first; k < gk.first + gk.count; k++) s += w[plane * n * n + q * n + k] ?? 0;
        total += s;
      }
      return total / gq.count;
    }),
  );
}

const TEXTS = ['注意力机制是大模型的核心', 'Attention 注意力 is 👍🏽 and 👨‍👩‍👧!', 'plain English, no split characters'];

describe('one row per character (aggregate over character groups)', () => {
  it('equals the plain-loop definition and keeps rows summing to 1', () => {
    TEXTS.forEach((text, i) => {
      const tokens = tok.pieces(tok.encode(text));
      const n = tokens.length;
      const groups = characterGroups(tokens);
      const w = randomWeights(n, 3, 100 + i);
      const agg = aggregateByCharacter(w, n, groups);
      const G = groups.length;
      expect(agg.length).toBe(3 * G * G);
      for (let p = 0; p < 3; p++) {
        const want = reference(w, n, groups, p);
        for (let a = 0; a < G; a++) {
          let rowSum = 0;
          for (let b = 0; b < G; b++) {
            const got = agg[p * G * G + a * G + b] ?? Number.NaN;
            expect(got).toBeCloseTo(want[a]?.[b] ?? Number.NaN, 6);
            rowSum += got;
            // A key character wholly after the query character gets nothing.
            if (isGroupMasked(groups[a] as TokenSpan, groups[b] as TokenSpan)) expect(got).toBe(0);
          }
          expect(rowSum).toBeCloseTo(1, 5);
        }
      }
    });
  });

  it('has one group per character of 注意力机制是大模型的核心, fewer than its tokens', () => {
    const text = '注意力机制是大模型的核心';
    const tokens = tok.pieces(tok.encode(text));
    const groups = characterGroups(tokens);
    expect(groups.map((g) => g.text)).toEqual(Array.from(text));
    expect(groups.length).toBeLessThan(tokens.length);
    expect(Array.from(groupOfToken(groups, tokens.length))).toEqual(
      tokens.map((t) => groups.findIndex((g) => g.first === t.charGroup.first)),
    );
  });

  it('is the identity when no character is split', () => {
    const tokens = tok.pieces(tok.encode(TEXTS[2] ?? ''));
    const n = tokens.length;
    const groups = characterGroups(tokens);
    expect(groups.length).toBe(n);
    const w = randomWeights(n, 1, 7);
    expect(Array.from(aggregateByCharacter(w, n, groups))).toEqual(Array.from(w));
  });

  it('cuts a group at the edge of the drawn square and still sums rows to 1', () => {
    const tokens = tok.pieces(tok.encode('注意力机制'));
    const firstGroup = tokens[0]?.charGroup;
    expect(firstGroup?.count).toBeGreaterThan(1);
    const n = 1; // the square ends inside 注
    const groups = characterGroups(tokens, n);
    expect(groups).toEqual([{ first: 0, count: 1, text: firstGroup?.text }]);
    expect(Array.from(aggregateByCharacter(new Float32Array([1]), n, groups))).toEqual([1]);
  });

  it('reports masking only for key characters wholly after the query character', () => {
    expect(isGroupMasked({ first: 0, count: 2 }, { first: 2, count: 1 })).toBe(true);
    expect(isGroupMasked({ first: 0, count: 2 }, { first: 0, count: 2 })).toBe(false);
    expect(isGroupMasked({ first: 2, count: 1 }, { first: 0, count: 2 })).toBe(false);
  });
});
