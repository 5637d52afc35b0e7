import { encode as independentEncode, decode as independentDecode } from 'gpt-tokenizer/encoding/gpt2';
import { describe, expect, it } from 'vitest';
import { END_OF_TEXT_ID, Gpt2Tokenizer } from '../../src/engine/tokenizer';

const tok = new Gpt2Tokenizer();

/** Strings that trip tokenizers: leading spaces, runs of spaces, CJK, emoji, newlines, specials. */
const TRICKY = [
  'Hello world',
  ' leading space',
  '   three leading spaces and trailing  ',
  'The cat sat on the mat.\nThe dog did not.\n\n\tTabbed line',
  '注意力机制是什么？',
  '我喜欢学习 transformers 和 attention',
  'emoji 🤖🧠 and flags 🇨🇳 and family 👨‍👩‍👧',
  'naïve café résumé Ωmega',
  "it's we're they'll I'd you've",
  '<|endoftext|> typed as text',
  'a<|endoftext|>b',
  '1234567890 3.14159 -42',
  '',
];

describe('GPT-2 tokenizer', () => {
  it('agrees with an independent GPT-2 BPE implementation on tricky strings', () => {
    for (const s of TRICKY) {
      expect(tok.encode(s), JSON.stringify(s)).toEqual(independentEncode(s, { disallowedSpecial: new Set() }));
    }
  });

  it('gives the ids GPT-2 is known for', () => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' the')).toEqual([262]);
    // "<|endoftext|>" typed by a person is seven ordinary tokens, never id 50256.
    expect(tok.encode('<|endoftext|>')).toEqual([27, 91, 437, 1659, 5239, 91, 29]);
    expect(tok.encode('<|endoftext|>')).not.toContain(END_OF_TEXT_ID);
  });

  it('prepends the real <|endoftext|> only when asked', () => {
    expect(tok.encode('Hi', { prependEndOfText: true })).toEqual([END_OF_TEXT_ID, ...tok.encode('Hi')]);
    expect(tok.encode('Hi')[0]).not.toBe(END_OF_TEXT_ID);
  });

  it('round-trips every tricky string', () => {
    for (const s of TRICKY) {
      expect(tok.decode(tok.encode(s))).toBe(s);
      expect(independentDecode(tok.encode(s))).toBe(s);
    }
  });

  it('display pieces concatenate to the text when no character is split', () => {
    for (const s of ['Hello world', ' leading space', "it's\nnew line", 'naïve café']) {
      const pieces = tok.pieces(tok.encode(s));
      expect(pieces.map((p) => p.display).join('')).toBe(s);
      expect(pieces.every((p) => !p.partial)).toBe(true);
      for (const p of pieces) expect(s.slice(p.start, p.end)).toBe(p.display);
    }
  });

  it('keeps leading spaces on the token that holds them', () => {
    const pieces = tok.pieces(tok.encode('The cat'));
    expect(pieces.map((p) => p.display)).toEqual(['The', ' cat']);
  });

  it('shows a character split across tokens honestly, as the bytes each token holds', () => {
    // 🤖 is 4 UTF-8 bytes (f0 9f a4 96); GPT-2 splits it over several tokens.
    const s = '🤖';
    const ids = tok.encode(s);
    expect(ids.length).toBeGreaterThan(1);
    const pieces = tok.pieces(ids);
    expect(pieces.every((p) => p.partial)).toBe(true);
    const shownBytes = pieces.map((p) => p.display.replace(/[‹›]/g, '')).join(' ');
    expect(shownBytes).toBe('f0 9f a4 96');
    // Every piece points at the whole emoji in the source text.
    for (const p of pieces) expect(s.slice(p.start, p.end)).toBe(s);
  });

  it('maps pieces back into the source text with the special token prepended', () => {
    const text = ' attention is all';
    const pieces = tok.pieces(tok.encode(text, { prependEndOfText: true }), true);
    expect(pieces[0]?.display).toBe('<|endoftext|>');
    expect(pieces[0]?.start).toBe(0);
    expect(pieces[0]?.end).toBe(0);
    expect(pieces.slice(1).map((p) => text.slice(p.start, p.end))).toEqual(pieces.slice(1).map((p) => p.display));
  });
});
