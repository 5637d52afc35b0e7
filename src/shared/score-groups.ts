/**
 * Grouping a score decomposition for display: the parts of each earlier layer (its heads, b_O and
 * MLP) summed into one row / column, expandable one layer at a time. Sums of exact terms, so every
 * grouping still adds up to the same q·k.
 */

/** A row or column of the displayed matrix: a group of parts, or one part of an expanded layer. */
export interface ScoreAxisEntry {
  /** `embed`, `pos`, `L{l}` (a whole layer), a part name of an expanded layer, or `bias`. */
  key: string;
  /** Indices into the decomposition's parts. */
  parts: number[];
  /** The layer this entry belongs to (null for embed, pos, bias). */
  layer: number | null;
  /** Whether this is a whole layer that can be expanded. */
  group: boolean;
}

/** The layer a part name belongs to, or null. */
export function partLayer(name: string): number | null {
  const m = /^L(\d+)/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Axis entries: layers collapsed except those in `expanded`. */
export function scoreAxis(parts: readonly string[], expanded: ReadonlySet<number>): ScoreAxisEntry[] {
  const out: ScoreAxisEntry[] = [];
  parts.forEach((name, i) => {
    const layer = partLayer(name);
    if (layer === null || expanded.has(layer)) {
      out.push({ key: name, parts: [i], layer, group: false });
      return;
    }
    const last = out[out.length - 1];
    if (last && last.group && last.layer === layer) last.parts.push(i);
    else out.push({ key: `L${layer}`, parts: [i], layer, group: true });
  });
  return out;
}

/** Sum of terms over a (row entry, column entry) block; terms are [P, P] row-major. */
export function blockSum(terms: ArrayLike<number>, P: number, rows: readonly number[], cols: readonly number[]): number {
  let s = 0;
  for (const a of rows) for (const b of cols) s += terms[a * P + b] ?? 0;
  return s;
}

/** The n largest terms by magnitude: [query part, key part, value]. */
export function largestTerms(terms: ArrayLike<number>, P: number, n: number): [number, number, number][] {
  const idx = Array.from({ length: P * P }, (_, i) => i);
  idx.sort((x, y) => Math.abs(terms[y] ?? 0) - Math.abs(terms[x] ?? 0));
  return idx.slice(0, n).map((i) => [Math.floor(i / P), i % P, terms[i] ?? 0]);
}
