/**
 * The drawn squares (hook_dot, hook_pattern) the renderer holds. Plain data, no runes: AtlasState
 * keeps the current value in a $state.raw and replaces it whole.
 */
import type { Analysis } from '../../../shared/api';

/**
 * The squares the renderer holds for one squareVersion: each head's hook_dot and hook_pattern,
 * [drawn, drawn], by flat index layer·nHeads + head. A reply brings only the heads asked for;
 * others are fetched when a view needs them (ensureSquares) and merged while the version holds.
 */
export interface HeldSquares {
  version: number;
  drawn: number;
  dot: ReadonlyMap<number, Float32Array>;
  pattern: ReadonlyMap<number, Float32Array>;
}

/** The squares a reply carries, merged into what is held for the same version. */
export function mergeSquares(held: HeldSquares | null, a: Analysis): HeldSquares {
  const same = held !== null && held.version === a.squareVersion && held.drawn === a.drawn;
  const dot = new Map(same ? held.dot : []);
  const pattern = new Map(same ? held.pattern : []);
  const n = a.drawn * a.drawn;
  a.squareHeads.forEach((h, i) => {
    dot.set(h, a.dot.subarray(i * n, (i + 1) * n));
    pattern.set(h, a.pattern.subarray(i * n, (i + 1) * n));
  });
  return { version: a.squareVersion, drawn: a.drawn, dot, pattern };
}
