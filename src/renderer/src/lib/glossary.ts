/** The terms the glossary explains, in the order the walkthrough meets them. */
export const TERMS = [
  'query',
  'key',
  'value',
  'score',
  'weight',
  'dk',
  'softmax',
  'mask',
  'z',
  'deltaE',
  'residual',
  'head',
  'layer',
] as const;
export type TermId = (typeof TERMS)[number];
