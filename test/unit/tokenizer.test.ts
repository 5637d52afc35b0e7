import { encode as independentEncode, decode as independentDecode } from 'gpt-tokenizer/encoding/gpt2';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { describe, expect, it } from 'vitest';
import { END_OF_TEXT_ID, Gpt2Tokenizer } from '../../src/engine/tokenizer';
import { rng } from '../helpers/random-model';

const tok = new Gpt2Tokenizer();
/** The tokenizer this project used before the heap merge: its ids are the ones to keep. */
const previous = new Tiktoken(gpt2Ranks);
const previousEncode = (s: string): number[] => previous.encode(s, [], []);
const gptTokenizerEncode = (s: string): number[] => independentEncode(s, { disallowedSpecial: new Set() });

/** `n` characters cycling through `base` (by code point). */
function cycle(base: string, n: number): string {
  const cps = Array.from(base);
  let s = '';
  for (let i = 0; i < n; i++) s += cps[i % cps.length];
  return s;
}

/** Alphabets for random mixed text: every piece kind GPT-2's pre-tokenizer has. */
const ALPHABET = Array.from(
  'abcxyz ABC  \n\t0123456789.,!?\'"-–—…注意力机制是大模型的核心。，！한국어日本語カタカナабвгдéèñüΩ🤖🧠😀👍🏽👨‍👩‍👧🇨🇳❤️\u0301\u200d',
);

function randomText(next: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

/** Strings that trip BPE: long runs without spaces, emoji sequences, repeated characters. */
const CORPUS = [
  ...[1, 2, 3, 10, 100, 250].map((n) => cycle('注意力机制是大模型的核心', n)),
  '注注注注注注注注注注注注注注注注',
  'ののののののののののの',
  '👨‍👩‍👧‍👦👩🏽‍💻🧑🏿‍🤝‍🧑🏻🏳️‍🌈🇯🇵🇨🇳🇺🇸',
  '👍👍🏻👍🏼👍🏽👍🏾👍🏿',
  cycle('😀🤖🧠👍🏽👨‍👩‍👧🇨🇳', 120),
  'Transformer模型的attention机制，即注意力（self-attention）很重要！',
  'x'.repeat(300),
  'ab'.repeat(150),
  '1'.repeat(200),
  '3.14159265358979323846 2026-11-30 1,000,000',
  '!!!???...;;;:::',
  '<|endoftext|>',
  '<|endoftext|><|endoftext|>注<|endoftext|>',
  ' '.repeat(40),
  '  \n\n\n   \t\t  x   \n',
  "'s 't 're 've 'm 'll 'd don't I'M it's'",
  "''s'''t",
  'Привет, мир! Γειά σου κόσμε. مرحبا بالعالم. שלום עולם. नमस्ते दुनिया',
  'e\u0301 cafe\u0301 n\u0303',
  '\ud83d alone \ude00 and \ud83d\ude00',
  '\u200b\u200d\ufeff zero widths',
];

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

  it('gives exactly the ids the previous tokenizer (js-tiktoken) and gpt-tokenizer give, on a corpus of tricky strings', () => {
    for (const s of [...TRICKY, ...CORPUS]) {
      const ids = tok.encode(s);
      expect(ids, JSON.stringify(s)).toEqual(previousEncode(s));
      expect(ids, JSON.stringify(s)).toEqual(gptTokenizerEncode(s));
    }
  });

  it('agrees on random mixed-script text', () => {
    const next = rng(15);
    for (let i = 0; i < 60; i++) {
      const s = randomText(next, 1 + Math.floor(next() * 80));
      expect(tok.encode(s), JSON.stringify(s)).toEqual(previousEncode(s));
    }
  });

  it('agrees with gpt-tokenizer on 5,000-character runs without spaces', () => {
    // Too slow for js-tiktoken's quadratic merge; gpt-tokenizer is the same merge rule, cached.
    for (const s of [
      cycle('注意力机制是大模型的核心', 5000),
      cycle('😀🤖🧠👍🏽👨‍👩‍👧🇨🇳', 2500),
      cycle('カタカナ한국어', 5000),
      'x'.repeat(5000),
      '9'.repeat(5000),
      '!?'.repeat(2500),
    ]) {
      expect(tok.encode(s), `${s.slice(0, 12)}… (${s.length})`).toEqual(gptTokenizerEncode(s));
      expect(tok.decode(tok.encode(s))).toBe(s);
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

  it('shows a character split across tokens once over its pieces, never as bare bytes', () => {
    // 🤖 is 4 UTF-8 bytes (f0 9f a4 96); GPT-2 splits it over several tokens.
    const s = '🤖';
    const ids = tok.encode(s);
    expect(ids.length).toBeGreaterThan(1);
    const pieces = tok.pieces(ids);
    expect(pieces.every((p) => p.partial)).toBe(true);
    expect(pieces.map((p) => p.display)).toEqual(ids.map((_, k) => `🤖(${k + 1}/${ids.length})`));
    for (const p of pieces) {
      expect(p.charGroup).toEqual({ first: 0, count: ids.length, text: '🤖' });
      expect(s.slice(p.start, p.end)).toBe(s);
    }
  });

  it('groups the tokens of each character of 注意力机制是大模型的核心', () => {
    const s = '注意力机制是大模型的核心';
    const pieces = tok.pieces(tok.encode(s));
    // Each character is one group; groups tile the tokens in order.
    const groups = pieces.filter((p, t) => p.charGroup.first === t).map((p) => p.charGroup);
    expect(groups.map((g) => g.text)).toEqual(Array.from(s));
    expect(groups.reduce((n, g) => n + g.count, 0)).toBe(pieces.length);
    expect(groups.find((g) => g.text === '注')?.count).toBe(2);
    for (const p of pieces) {
      expect(p.display).not.toMatch(/‹|›|^[0-9a-f]{2}( [0-9a-f]{2})*$/);
      expect(p.display).toContain(p.charGroup.text.trim());
    }
  });

  it('groups an emoji with its skin tone, joiners and flag halves', () => {
    for (const [s, graphemes] of [
      ['👍🏽', ['👍🏽']],
      ['a👨‍👩‍👧b', ['a', '👨‍👩‍👧', 'b']],
      ['🇨🇳🇯🇵', ['🇨🇳', '🇯🇵']],
    ] as const) {
      const pieces = tok.pieces(tok.encode(s));
      const groups = pieces.filter((p, t) => p.charGroup.first === t).map((p) => p.charGroup);
      // Every grapheme lies inside one group; a group is a run of whole graphemes.
      const texts = groups.map((g) => g.text);
      expect(texts.join('')).toBe(s);
      for (const g of graphemes)
        expect(
          texts.some((t) => t.includes(g)),
          `${s}: ${g} in ${texts.join('|')}`,
        ).toBe(true);
      for (const p of pieces) expect(p.display).not.toMatch(/‹|›/);
    }
  });

  it('gives groups that tile the tokens and cover the text, on the whole corpus', () => {
    for (const s of [...TRICKY, ...CORPUS]) {
      for (const prepend of [false, true]) {
        const pieces = tok.pieces(tok.encode(s, { prependEndOfText: prepend }), prepend);
        let t = 0;
        let text = '';
        while (t < pieces.length) {
          const g = pieces[t]?.charGroup;
          expect(g?.first, JSON.stringify(s)).toBe(t);
          for (let k = t; k < t + (g?.count ?? 1); k++) expect(pieces[k]?.charGroup).toEqual(g);
          text += g?.text ?? '';
          t += g?.count ?? 1;
        }
        expect(text, JSON.stringify(s)).toBe(tok.decode(tok.encode(s, { prependEndOfText: prepend })));
        if (prepend) expect(pieces[0]?.charGroup).toEqual({ first: 0, count: 1, text: '<|endoftext|>' });
      }
    }
  });

  it('keeps a byte-order mark at the start of the text as a character', () => {
    const s = '\ufeffBOM first';
    expect(tok.decode(tok.encode(s))).toBe(s);
    const pieces = tok.pieces(tok.encode(s));
    expect(
      pieces
        .map((p) => p.charGroup.text)
        .filter((t, i) => pieces[i]?.charGroup.first === i)
        .join(''),
    ).toBe(s);
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
