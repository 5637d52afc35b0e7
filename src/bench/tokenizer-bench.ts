/**
 * The tokenizer part of `atlas bench` (alone: `atlas bench --only tokenizer`, no model needed).
 * Goals (issue #15): 2,000 Chinese characters ≤ 30 ms; the worst 20,000-character input the
 * handlers accept ≤ 500 ms; a keystroke's tokenizer work well under 100 ms of blocked event loop.
 *
 *  - chinese2000Ms / emoji2000Ms: Gpt2Tokenizer.encode from scratch (one piece each: no spaces).
 *  - worst20000Ms: every candidate below at exactly LIMITS.maxTextChars UTF-16 units, from
 *    scratch; the report names the slowest and gives all of them.
 *  - keystroke20000Ms: what the engine does synchronously for one typed character at the end of
 *    a 20,000-character text: IncrementalTokenizer.encode (the text before it already seen) and
 *    the display pieces of the first 1,024 tokens (GPT-2's context). For a run without spaces
 *    the whole run is one piece and is encoded again; for prose only the last pieces are.
 */
import { LIMITS } from '../shared/api';
import { Gpt2Tokenizer, IncrementalTokenizer } from '../engine/tokenizer';
import { stat, type Stat } from './bench';

const CHINESE = '注意力机制是大模型的核心我们在课堂上学习自然语言处理和深度神经网络的基本原理';
const EMOJI = '😀🤖🧠👍🏽👨‍👩‍👧🇨🇳❤️🎉';
const PROSE =
  'The keys run down the left and the queries along the top. 注意力机制是大模型的核心。 ' +
  "It's 3Blue1Brown's picture, with 12 heads × 12 layers! 🤖 ";

/** `base` repeated by code point until the next one would pass `units` UTF-16 units. */
export function fill(base: string, units: number): string {
  const cps = Array.from(base);
  let s = '';
  for (let i = 0; ; i++) {
    const c = cps[i % cps.length] ?? '';
    if (s.length + c.length > units) return s;
    s += c;
  }
}

/** Deterministic pseudo-random text from a mixed alphabet. */
function mixed(units: number): string {
  const alphabet = Array.from("ab xyZ  \n01.,!?'注意力。한국어éабв🤖👍🏽");
  let a = 15;
  let s = '';
  while (s.length < units) {
    a = (a * 1103515245 + 12345) & 0x7fffffff;
    const c = alphabet[a % alphabet.length] ?? 'a';
    if (s.length + c.length > units) break;
    s += c;
  }
  return s;
}

/** 20,000-unit inputs that stress the tokenizer: long pieces, many bytes per unit, many pieces. */
export function worstCandidates(units: number = LIMITS.maxTextChars): Record<string, string> {
  return {
    chineseRun: fill(CHINESE, units), // one piece, 3 UTF-8 bytes per unit: the most bytes
    emojiRun: fill(EMOJI, units),
    sameLetter: 'x'.repeat(units), // one piece of 20,000 letters
    twoLetters: 'ab'.repeat(units / 2),
    digits: '7'.repeat(units),
    punctuation: '!?'.repeat(units / 2),
    loneSurrogates: '\ud83d'.repeat(units), // each becomes U+FFFD, 3 bytes, all one piece
    spaces: ' '.repeat(units - 1) + 'a',
    newlinesAndSpaces: ' \n'.repeat(units / 2),
    prose: fill(PROSE, units),
    mixed: mixed(units),
  };
}

/** Times `once` runs + 1 times (the first a warm-up); `once` may return its own ms instead. */
function timeSync(runs: number, once: (i: number) => unknown): Stat {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const own = once(i);
    const ms = typeof own === 'number' ? own : performance.now() - t0;
    if (i > 0) times.push(ms);
  }
  return stat(times);
}

const CONTEXT = 1024;

export function runTokenizerBench(runs: number, log: (line: string) => void): Record<string, unknown> {
  const tok = new Gpt2Tokenizer();
  log(`tokenizer: 2,000 Chinese characters, 2,000 emoji (${runs} runs)…`);
  const chinese = fill(CHINESE, 2000);
  const emoji = Array.from(fill(EMOJI, 10 * 2000))
    .slice(0, 2000)
    .join('');
  const chinese2000Ms = timeSync(runs, () => void tok.encode(chinese));
  const emoji2000Ms = timeSync(runs, () => void tok.encode(emoji));

  log(`tokenizer: the worst ${LIMITS.maxTextChars}-character input (${runs} runs each)…`);
  const candidates: Record<string, Stat> = {};
  for (const [name, text] of Object.entries(worstCandidates())) {
    candidates[name] = timeSync(runs, () => void tok.encode(text));
  }
  const [worstName, worst] = Object.entries(candidates).reduce((a, b) => (b[1].median > a[1].median ? b : a));

  log(`tokenizer: one keystroke at the end of ${LIMITS.maxTextChars}-character texts (${runs} runs each)…`);
  const keystroke: Record<string, Stat> = {};
  for (const [name, text] of Object.entries({
    chineseRun: fill(CHINESE, LIMITS.maxTextChars - 1),
    emojiRun: fill(EMOJI, LIMITS.maxTextChars - 2),
    prose: fill(PROSE, LIMITS.maxTextChars - 1),
  })) {
    const typing = new IncrementalTokenizer(tok);
    const typed = name === 'emojiRun' ? '🤖' : name === 'chineseRun' ? '好' : 'a';
    keystroke[name] = timeSync(runs, () => {
      typing.encode(text); // back to the text before the keystroke (untimed)
      const t0 = performance.now();
      const ids = typing.encode(text + typed);
      tok.pieces(ids.slice(0, CONTEXT));
      return performance.now() - t0;
    });
  }
  return {
    chinese2000Ms,
    emoji2000Ms,
    worst20000Ms: { input: worstName, ...worst },
    worst20000Candidates: candidates,
    keystroke20000Ms: keystroke,
    goals: { chinese2000MedianMs: 30, worst20000MedianMs: 500, keystrokeBlockedMs: 100 },
  };
}
