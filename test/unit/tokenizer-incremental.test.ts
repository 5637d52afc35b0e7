import { describe, expect, it } from 'vitest';
import { END_OF_TEXT_ID, Gpt2Tokenizer, IncrementalTokenizer } from '../../src/engine/tokenizer';
import { rng } from '../helpers/random-model';

const tok = new Gpt2Tokenizer();

/** Piece ends of `text` from scratch. */
function pieceEnds(text: string): number[] {
  const fresh = new IncrementalTokenizer(tok);
  fresh.encode(text);
  return [...fresh.pieceEnds()];
}

/**
 * Characters that exercise every piece kind and the boundary cases: spaces before words and
 * whitespace runs (`\s+(?!\S)`), contractions, digits, punctuation runs, CJK and emoji runs,
 * combining marks, joiners and halves of surrogate pairs.
 */
const ALPHABET = [
  ...Array.from("ab xyZ   \n\n\t01.,!?'-sdtlmrev"),
  "'s",
  "'ll",
  '注',
  '意',
  '力',
  '。',
  'é',
  '\u0301',
  '\u200d',
  '🤖',
  '👍🏽',
  '🇨🇳',
  '\ud83d',
  '\ude00',
  '<|endoftext|>',
];

const SEEDS = [
  'The cat sat on the mat.\n\nThe dog did not.',
  '注意力机制是大模型的核心',
  "我喜欢学习 transformers 和 attention, it's   fun 🤖🧠!",
  '',
];

function randomChunk(next: () => number, maxLen: number): string {
  let s = '';
  const n = 1 + Math.floor(next() * maxLen);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

/** One random edit: mostly typing at the end, also deletes, inserts at the start, pastes. */
function edit(next: () => number, text: string): string {
  const r = next();
  const at = Math.floor(next() * (text.length + 1));
  if (r < 0.35) return text + randomChunk(next, 2); // typing
  if (r < 0.5) return text.slice(0, Math.max(0, text.length - 1 - Math.floor(next() * 3))); // backspace
  if (r < 0.6) return randomChunk(next, 3) + text; // insert at the start
  if (r < 0.75) return text.slice(0, at) + randomChunk(next, 40) + text.slice(at); // paste
  if (r < 0.9) return text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 5)); // delete
  return text.slice(0, at) + randomChunk(next, 3) + text.slice(at + 1); // replace
}

describe('incremental tokenization', () => {
  it('equals tokenizing from scratch after every one of several hundred random edits', () => {
    const next = rng(1515);
    let edits = 0;
    for (const seed of SEEDS) {
      const inc = new IncrementalTokenizer(tok);
      let text = seed;
      for (let i = 0; i < 120; i++) {
        text = edit(next, text);
        if (text.length > 400) text = text.slice(Math.floor(next() * 100));
        const prepend = next() < 0.2;
        expect(inc.encode(text, { prependEndOfText: prepend }), JSON.stringify(text)).toEqual(
          tok.encode(text, { prependEndOfText: prepend }),
        );
        expect(inc.pieceEnds(), JSON.stringify(text)).toEqual(pieceEnds(text));
        edits++;
      }
    }
    expect(edits).toBeGreaterThanOrEqual(400);
  });

  it('re-tokenizes only the last pieces when a character is typed at the end', () => {
    const inc = new IncrementalTokenizer(tok);
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
    inc.encode(text);
    expect(inc.encode(text + 'A')).toEqual(tok.encode(text + 'A'));
    expect(inc.lastPiecesRun).toBeLessThanOrEqual(3);
    expect(inc.encode(text + 'A')).toEqual(tok.encode(text + 'A'));
    expect(inc.lastPiecesRun).toBe(0);
  });

  it('handles a whitespace run that a keystroke splits differently', () => {
    const inc = new IncrementalTokenizer(tok);
    // "a   " → "a", "   "; "a   b" → "a", "  ", " b": the piece before the edit changes.
    for (const s of ['a   ', 'a   b', 'a   ', 'a   \n', 'a    \nb', 'a  b', 'a  \n', "it'", "it's", "it'", "it'll"]) {
      expect(inc.encode(s), JSON.stringify(s)).toEqual(tok.encode(s));
      expect(inc.pieceEnds(), JSON.stringify(s)).toEqual(pieceEnds(s));
    }
  });

  it('returns arrays the caller may keep and change', () => {
    const inc = new IncrementalTokenizer(tok);
    const a = inc.encode('Hello world');
    a.push(1);
    expect(inc.encode('Hello world')).toEqual([15496, 995]);
    expect(inc.encode('Hello world', { prependEndOfText: true })).toEqual([END_OF_TEXT_ID, 15496, 995]);
  });
});
