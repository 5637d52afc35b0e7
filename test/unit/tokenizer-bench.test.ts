import { describe, expect, it } from 'vitest';
import { runTokenizerBench, worstCandidates } from '../../src/bench/tokenizer-bench';
import { LIMITS } from '../../src/shared/api';

// Shape only: speed lives in `npm run bench`, never in a test.
describe('tokenizer benchmark', () => {
  it('feeds inputs the handlers accept, filled to the limit', () => {
    for (const [name, text] of Object.entries(worstCandidates())) {
      expect(text.length, name).toBeLessThanOrEqual(LIMITS.maxTextChars);
      expect(text.length, name).toBeGreaterThan(LIMITS.maxTextChars - 4);
    }
  });

  it('reports {median, p95, runs} for every goal', () => {
    const r = runTokenizerBench(1, () => {}) as Record<string, Record<string, unknown>>;
    for (const key of ['chinese2000Ms', 'emoji2000Ms', 'worst20000Ms']) {
      expect(r[key], key).toMatchObject({ median: expect.any(Number), p95: expect.any(Number), runs: 1 });
    }
    expect(Object.keys(r.worst20000Candidates ?? {})).toContain(r.worst20000Ms?.input);
    expect(Object.keys(r.keystroke20000Ms ?? {})).toEqual(['chineseRun', 'emojiRun', 'prose']);
  });
});
