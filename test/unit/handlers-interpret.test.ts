import { describe, expect, it } from 'vitest';
import { parseAblationRequest, parseScoreRequest } from '../../src/main/handlers';

/** The score-decomposition and ablation channels validate like the others. */
describe('explain-score and ablate arguments', () => {
  it('accepts well-formed requests', () => {
    expect(parseScoreRequest({ text: 'a b', layer: 1, head: 2, query: 1, key: 0 })).toEqual({
      text: 'a b',
      prependEndOfText: false,
      layer: 1,
      head: 2,
      query: 1,
      key: 0,
    });
    expect(parseAblationRequest({ text: 'a', layer: 0, head: 0, mode: 'mean', token: 0 }).mode).toBe('mean');
  });

  it.each([
    [{ text: 'x', layer: 0, head: 0, key: 0 }, /query must be a non-negative integer/],
    [{ text: 'x', layer: 0, head: 0, query: 0, key: -2 }, /key must be a non-negative integer/],
    [{ text: 5, layer: 0, head: 0, query: 0, key: 0 }, /text must be a string/],
  ])('rejects score argument %#', (arg, message) => {
    expect(() => parseScoreRequest(arg)).toThrow(message);
  });

  it.each([
    [{ text: 'x', layer: 0, head: 0, mode: 'half', token: 0 }, /mode must be "zero" or "mean"/],
    [{ text: 'x', layer: 0, head: 0, token: 0 }, /mode must be "zero" or "mean"/],
    [{ text: 'x', layer: 0, head: 0, mode: 'zero' }, /token must be a non-negative integer/],
  ])('rejects ablation argument %#', (arg, message) => {
    expect(() => parseAblationRequest(arg)).toThrow(message);
  });
});
