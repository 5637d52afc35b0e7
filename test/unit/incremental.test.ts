/**
 * Incremental analysis must equal a full recompute: after every edit in a random sequence
 * (appends, deletions, edits in the middle, a replaced text), engine.analyze — which runs only
 * the positions after the unchanged prefix — is compared with a full forward pass of the new
 * ids, cut the same way. The context (160) is longer than the drawn square (128), so edits on
 * both sides of that edge are covered.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { headStatsFromPatterns } from '../../src/shared/head-scores';
import { DRAWN_TOKENS, EXTRA_OUTPUTS, TOP_K, hookNames } from '../../src/shared/hooks';
import { commonPrefix } from '../../src/engine/incremental';
import { randomEngine, type RandomEngine } from '../helpers/fixtures';
import { rng } from '../helpers/random-model';

const SPEC = { nLayer: 2, nHead: 3, dModel: 24, nCtx: 160, vocabSize: 50257, seed: 11 };
/**
 * ≤ 1e-5, relative above magnitude 1: raw q·k reaches ±40 on this random model, where one
 * float32 step is 4e-6, and the prefix's matmuls are blocked differently in the two runs.
 */
const TOL = 1e-5;
function maxScaledDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const ref = b[i] ?? 0;
    m = Math.max(m, Math.abs((a[i] ?? 0) - ref) / Math.max(1, Math.abs(ref)));
  }
  return m;
}
const WORDS = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'dog', 'ran', 'far', 'away', 'then', 'it', 'slept', ','];

/** Everything an analysis holds, from one full forward pass of `ids`. */
async function fullReference(
  m: RandomEngine,
  ids: number[],
): Promise<Omit<Analysis, 'model' | 'text' | 'tokens' | 'truncatedFrom' | 'squareVersion' | 'squareUnchanged' | 'outside'>> {
  const { nLayer: L, nHead: H } = SPEC;
  const T = ids.length;
  const drawn = Math.min(T, DRAWN_TOKENS);
  const out = await m.engine.runAll(ids);
  const f = (name: string): Float32Array => out[name]?.data as Float32Array;
  const dot = new Float32Array(L * H * drawn * drawn);
  const pattern = new Float32Array(L * H * drawn * drawn);
  const fullPattern = new Float32Array(L * H * T * T);
  const resultNorm = new Float32Array(L * T * H);
  const attnOutNorm = new Float32Array(L * T);
  const mlpOutNorm = new Float32Array(L * T);
  for (let l = 0; l < L; l++) {
    const hk = hookNames(l);
    fullPattern.set(f(hk.pattern), l * H * T * T);
    for (let h = 0; h < H; h++) {
      for (let q = 0; q < drawn; q++) {
        const src = (h * T + q) * T;
        const dst = ((l * H + h) * drawn + q) * drawn;
        dot.set(f(hk.dot).subarray(src, src + drawn), dst);
        pattern.set(f(hk.pattern).subarray(src, src + drawn), dst);
      }
    }
    resultNorm.set(f(hk.resultNorm), l * T * H);
    attnOutNorm.set(f(hk.attnOutNorm), l * T);
    mlpOutNorm.set(f(hk.mlpOutNorm), l * T);
  }
  const topIds = out[EXTRA_OUTPUTS.topKIds]?.data as BigInt64Array;
  return {
    drawn,
    squareHeads: Array.from({ length: L * H }, (_, i) => i),
    dot,
    pattern,
    resultNorm,
    attnOutNorm,
    mlpOutNorm,
    topK: { position: T - 1, k: TOP_K, ids: Int32Array.from(topIds, Number), probs: f(EXTRA_OUTPUTS.topKProbs), strings: [] },
    headStats: headStatsFromPatterns(fullPattern, L, H, T),
  };
}

describe('incremental analysis', () => {
  let m: RandomEngine;
  beforeAll(async () => {
    m = await randomEngine(SPEC);
  });

  it('equals a full recompute after every edit of a random sequence', async () => {
    const rand = rng(99);
    const pick = (): string => WORDS[Math.floor(rand() * WORDS.length)] ?? 'the';
    let words = Array.from({ length: 20 }, pick);
    const edits: { name: string; apply: () => void }[] = [
      { name: 'append a word', apply: () => words.push(pick()) },
      { name: 'append a character', apply: () => (words[words.length - 1] += 's') },
      { name: 'delete the last word', apply: () => words.pop() },
      { name: 'edit a middle word', apply: () => (words[Math.floor(rand() * words.length)] = pick()) },
      { name: 'insert at the start', apply: () => words.unshift(pick()) },
      { name: 'append many words', apply: () => (words = words.concat(Array.from({ length: 30 }, pick))) },
      { name: 'cut to half', apply: () => (words = words.slice(0, Math.ceil(words.length / 2))) },
    ];
    let previous: number[] = [];
    let sawBeyondDrawn = 0;
    let sawPartialRun = 0;
    for (let step = 0; step < 40; step++) {
      const edit = step < 6 ? edits[5] : edits[Math.floor(rand() * edits.length)];
      edit?.apply();
      if (words.length > 150) words = words.slice(0, 150);
      const text = words.join(' ');
      const a = await m.engine.analyze({ text, prependEndOfText: false });
      const ids = a.tokens.map((t) => t.id);
      // It really was incremental: only the positions after the unchanged prefix ran.
      expect(m.engine.lastAnalyzeRunPositions(), `${edit?.name} at step ${step}`).toBe(ids.length - commonPrefix(previous, ids));
      if (commonPrefix(previous, ids) > 0 && commonPrefix(previous, ids) < ids.length) sawPartialRun++;
      if (ids.length > DRAWN_TOKENS) sawBeyondDrawn++;
      previous = ids;
      const ref = await fullReference(m, ids);
      const where = `${edit?.name} at step ${step} (T = ${ids.length})`;
      expect(a.drawn, where).toBe(ref.drawn);
      expect(maxScaledDiff(a.dot, ref.dot), `dot: ${where}`).toBeLessThanOrEqual(TOL);
      expect(maxScaledDiff(a.pattern, ref.pattern), `pattern: ${where}`).toBeLessThanOrEqual(TOL);
      expect(maxScaledDiff(a.resultNorm, ref.resultNorm), `result norm: ${where}`).toBeLessThanOrEqual(TOL);
      expect(maxScaledDiff(a.attnOutNorm, ref.attnOutNorm), `attn norm: ${where}`).toBeLessThanOrEqual(TOL);
      expect(maxScaledDiff(a.mlpOutNorm, ref.mlpOutNorm), `mlp norm: ${where}`).toBeLessThanOrEqual(TOL);
      expect(maxScaledDiff(a.topK.probs, ref.topK.probs), `top-k: ${where}`).toBeLessThanOrEqual(TOL);
      for (const key of ['entropy', 'previousToken', 'firstToken', 'local'] as const) {
        expect(maxScaledDiff(a.headStats[key], ref.headStats[key]), `${key}: ${where}`).toBeLessThanOrEqual(TOL);
      }
    }
    expect(sawBeyondDrawn).toBeGreaterThan(3);
    expect(sawPartialRun).toBeGreaterThan(10);
  });

  it('ships the drawn square only when it changed since the version the caller holds', async () => {
    const words = Array.from({ length: 140 }, (_, i) => WORDS[(i * 5) % WORDS.length] ?? 'the');
    const req = (text: string, haveSquare?: number): { text: string; prependEndOfText: boolean; haveSquare?: number } =>
      haveSquare === undefined ? { text, prependEndOfText: false } : { text, prependEndOfText: false, haveSquare };
    const first = await m.engine.analyze(req(words.join(' ')));
    expect(first.squareUnchanged).toBe(false);
    expect(first.dot.length).toBe(SPEC.nLayer * SPEC.nHead * DRAWN_TOKENS ** 2);
    // Typing past the square: nothing drawn changed, so nothing drawn is sent.
    const typed = await m.engine.analyze(req(`${words.join(' ')} cat`, first.squareVersion));
    expect(typed.squareUnchanged).toBe(true);
    expect(typed.squareVersion).toBe(first.squareVersion);
    expect(typed.dot.length + typed.pattern.length).toBe(0);
    // What the caller keeps is exactly what a full answer would hold.
    const full = await fullReference(
      m,
      typed.tokens.map((t) => t.id),
    );
    expect(maxScaledDiff(first.dot, full.dot)).toBeLessThanOrEqual(TOL);
    expect(maxScaledDiff(first.pattern, full.pattern)).toBeLessThanOrEqual(TOL);
    // An edit inside the square: a new version, and the arrays come back.
    const edited = await m.engine.analyze(req(`dog ${words.join(' ')} cat`, typed.squareVersion));
    expect(edited.squareUnchanged).toBe(false);
    expect(edited.squareVersion).not.toBe(typed.squareVersion);
    expect(edited.dot.length).toBe(first.dot.length);
    // Cut below the square's side: a new version too, though no position ran.
    const cut = await m.engine.analyze(req(words.slice(0, 10).join(' '), edited.squareVersion));
    expect(cut.squareUnchanged).toBe(false);
    expect(cut.drawn).toBe(cut.tokens.length);
    // A caller holding nothing (or an unknown version) always gets the arrays.
    const again = await m.engine.analyze(req(words.slice(0, 10).join(' '), 123456));
    expect(again.dot.length).toBe(SPEC.nLayer * SPEC.nHead * again.drawn ** 2);
  });

  it('answers the drawn square first when asked: the analysis of its tokens, then only the rest runs', async () => {
    const words = Array.from({ length: 150 }, (_, i) => WORDS[(i * 7) % WORDS.length] ?? 'the');
    const text = words.join(' ');
    const ids = m.engine.tokenize({ text, prependEndOfText: false }).ids;
    expect(ids.length).toBeGreaterThan(DRAWN_TOKENS);
    await m.engine.analyze({ text: 'something else entirely', prependEndOfText: false });
    const first = await m.engine.analyze({ text, prependEndOfText: false, drawnFirst: true });
    // The first DRAWN_TOKENS tokens ran, and the answer is their analysis, as if the text ended there.
    expect(m.engine.lastAnalyzeRunPositions()).toBe(DRAWN_TOKENS);
    expect(first.tokens.map((t) => t.id)).toEqual(ids.slice(0, DRAWN_TOKENS));
    expect(first.rest?.map((t) => t.id)).toEqual(ids.slice(DRAWN_TOKENS));
    const prefixRef = await fullReference(m, ids.slice(0, DRAWN_TOKENS));
    for (const key of ['dot', 'pattern', 'resultNorm', 'attnOutNorm', 'mlpOutNorm'] as const) {
      expect(maxScaledDiff(first[key], prefixRef[key]), key).toBeLessThanOrEqual(TOL);
    }
    expect(first.topK.position).toBe(DRAWN_TOKENS - 1);
    expect(maxScaledDiff(first.topK.probs, prefixRef.topK.probs)).toBeLessThanOrEqual(TOL);
    expect(maxScaledDiff(first.headStats.entropy, prefixRef.headStats.entropy)).toBeLessThanOrEqual(TOL);
    // Then the whole: only the rest runs, the square is kept, and everything equals a full pass.
    const whole = await m.engine.analyze({ text, prependEndOfText: false, haveSquare: first.squareVersion });
    expect(m.engine.lastAnalyzeRunPositions()).toBe(ids.length - DRAWN_TOKENS);
    expect(whole.rest).toBeUndefined();
    expect(whole.squareUnchanged).toBe(true);
    const ref = await fullReference(m, ids);
    for (const key of ['resultNorm', 'attnOutNorm', 'mlpOutNorm'] as const) {
      expect(maxScaledDiff(whole[key], ref[key]), key).toBeLessThanOrEqual(TOL);
    }
    expect(maxScaledDiff(first.dot, ref.dot)).toBeLessThanOrEqual(TOL);
    expect(maxScaledDiff(whole.topK.probs, ref.topK.probs)).toBeLessThanOrEqual(TOL);
    expect(maxScaledDiff(whole.headStats.local, ref.headStats.local)).toBeLessThanOrEqual(TOL);
    // An edit near the start: the square's tokens from the edit on run first.
    const edited = `${words[0]} dog ${words.slice(1).join(' ')}`;
    const editedIds = m.engine.tokenize({ text: edited, prependEndOfText: false }).ids;
    const P = commonPrefix(ids, editedIds);
    const again = await m.engine.analyze({ text: edited, prependEndOfText: false, drawnFirst: true });
    expect(m.engine.lastAnalyzeRunPositions()).toBe(DRAWN_TOKENS - P);
    expect(again.rest?.length).toBe(editedIds.length - DRAWN_TOKENS);
    // Where the square does not change (typing at the end) or the text fits it, one answer is the whole.
    await m.engine.analyze({ text: edited, prependEndOfText: false });
    const typed = await m.engine.analyze({ text: `${edited} cat`, prependEndOfText: false, drawnFirst: true });
    expect(typed.rest).toBeUndefined();
    expect(typed.tokens.length).toBe(editedIds.length + 1);
    const short = await m.engine.analyze({ text: 'the cat sat', prependEndOfText: false, drawnFirst: true });
    expect(short.rest).toBeUndefined();
    // Asked again while the cache holds just the square's tokens (for more heads' squares): the
    // same first answer, from the cache.
    await m.engine.analyze({ text, prependEndOfText: false, drawnFirst: true });
    const asked = await m.engine.analyze({ text, prependEndOfText: false, drawnFirst: true });
    expect(m.engine.lastAnalyzeRunPositions()).toBe(0);
    expect(asked.rest?.length).toBe(ids.length - DRAWN_TOKENS);
    // A text of exactly the square's length, typed on at its end: the square does not change,
    // so the answer is the whole (the first changed token is the 129th).
    const square = m.engine.tokenizer.decode(ids.slice(0, DRAWN_TOKENS));
    expect(m.engine.tokenize({ text: square, prependEndOfText: false }).ids.length).toBe(DRAWN_TOKENS);
    await m.engine.analyze({ text: square, prependEndOfText: false });
    const onwards = await m.engine.analyze({ text: `${square} dog`, prependEndOfText: false, drawnFirst: true });
    expect(onwards.rest).toBeUndefined();
    expect(onwards.tokens.length).toBeGreaterThan(DRAWN_TOKENS);
  });

  it('runs nothing when the tokens did not change, and everything when the first token changed', async () => {
    const text = 'the cat sat on the mat';
    await m.engine.analyze({ text, prependEndOfText: false });
    await m.engine.analyze({ text, prependEndOfText: false });
    expect(m.engine.lastAnalyzeRunPositions()).toBe(0);
    const a = await m.engine.analyze({ text, prependEndOfText: true }); // a new first token: all of it runs
    expect(m.engine.lastAnalyzeRunPositions()).toBe(a.tokens.length);
  });
});
