/**
 * The large grid's cells (QkGrid past 32 tokens a side, lib/grid-cells.ts) against a plain
 * per-cell reading of what the small grid's elements draw: a dot of radius rMax·√(|v|/vmax) and
 * opacity 0.35 + 0.65·|v|/vmax, a weight square of opacity v/vmax, a struck-out masked cell, an
 * empty cell for NaN; keys down the rows (3Blue1Brown) unless transposed.
 */
import { describe, expect, it } from 'vitest';
import {
  CellKind,
  OPACITY_LEVELS,
  cellShapes,
  shapesSignature,
  vectorCells,
  type CellInputs,
} from '../../src/renderer/src/lib/grid-cells';

function inputs(over: Partial<CellInputs> = {}): CellInputs {
  const n = 40;
  let seed = 7;
  const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const values = Float32Array.from({ length: n * n }, () => rand() * 3);
  values[5] = Number.NaN;
  values[n + 2] = 0;
  return {
    n,
    values,
    cell: 14,
    showMask: false,
    squares: false,
    markFuture: false,
    vmax: 3,
    transposed: false,
    rMax: 14 * 0.46,
    dotShift: 0,
    ...over,
  };
}

/** What one cell (q, k) shows, read straight from the definitions. */
function expected(x: CellInputs, q: number, k: number): { kind: number; level: number; radius: number; future: number } {
  const v = x.values[q * x.n + k] ?? 0;
  const hidden = k > q;
  if (Number.isNaN(v)) return { kind: CellKind.empty, level: 0, radius: 0, future: 0 };
  if (x.showMask && hidden) return { kind: CellKind.masked, level: 0, radius: 0, future: 0 };
  if (x.squares) {
    const level = Math.round(Math.min(1, Math.max(0, v / x.vmax)) * OPACITY_LEVELS);
    return { kind: level > 0 ? CellKind.weight : CellKind.none, level, radius: 0, future: x.markFuture && hidden ? 1 : 0 };
  }
  const ratio = Math.min(1, Math.abs(v) / x.vmax);
  const radius = Math.round(x.rMax * Math.sqrt(ratio) * 100) / 100;
  if (radius === 0) return { kind: CellKind.none, level: 0, radius: 0, future: 0 };
  return {
    kind: v < 0 ? CellKind.negDot : CellKind.dot,
    level: Math.round((0.35 + 0.65 * ratio) * OPACITY_LEVELS),
    radius,
    future: x.markFuture && hidden ? 1 : 0,
  };
}

describe('large-grid cells', () => {
  const cases: [string, Partial<CellInputs>][] = [
    ['dots, 3Blue1Brown orientation', {}],
    ['dots, transposed', { transposed: true }],
    ['dots with the mask shown', { showMask: true }],
    ['dots, mask off and future cells outlined', { markFuture: true }],
    ['weight squares, mask off, future outlined, transposed', { squares: true, markFuture: true, transposed: true }],
    ['weight squares with the mask shown', { squares: true, showMask: true }],
  ];
  it.each(cases)('every cell is what the per-cell grid draws: %s', (_, over) => {
    const x = inputs(over);
    const s = cellShapes(x);
    for (let q = 0; q < x.n; q++) {
      for (let k = 0; k < x.n; k++) {
        const i = x.transposed ? q * x.n + k : k * x.n + q; // grid row · n + grid column
        const want = expected(x, q, k);
        const got = { kind: s.kind[i], level: s.level[i], radius: Number(s.radius[i]?.toFixed(2)), future: s.future[i] };
        expect(got, `q ${q}, k ${k}`).toEqual(want);
      }
    }
  });

  it('signs differ exactly when the picture does', () => {
    const x = inputs();
    const a = shapesSignature(cellShapes(x));
    expect(shapesSignature(cellShapes(inputs()))).toBe(a);
    const values = x.values.slice();
    values[3 * x.n + 1] = -(values[3 * x.n + 1] ?? 0); // one dot changes colour
    expect(shapesSignature(cellShapes({ ...x, values }))).not.toBe(a);
    expect(shapesSignature(cellShapes({ ...x, showMask: true }))).not.toBe(a);
  });

  it('exports every drawn cell as vector path data, one path per fill', () => {
    const x = inputs({ showMask: true });
    const s = cellShapes(x);
    const v = vectorCells(s, 100, 50);
    const drawn = [...s.kind].filter((k) => k === CellKind.dot || k === CellKind.negDot).length;
    // Each dot is two arcs; each masked cell two strokes; the NaN cell one dashed square.
    expect(v.fills.reduce((n, f) => n + (f.d.match(/a/g)?.length ?? 0), 0)).toBe(2 * drawn);
    expect(v.masked.match(/M/g)?.length).toBe(2 * ((x.n * (x.n - 1)) / 2 - 1)); // (q 0, k 5) is NaN: empty, not struck out
    expect(v.empty.match(/M/g)?.length).toBe(1);
    expect(new Set(v.fills.map((f) => `${f.kind}:${f.opacity}`)).size).toBe(v.fills.length);
    // The first cell (q 0, k 0) sits at the grid's origin plus half a cell.
    const r = s.radius[0] ?? 0;
    expect(v.fills.some((f) => f.d.startsWith(`M${Math.round((100 + 7 - r) * 100) / 100},57a`))).toBe(true);
  });
});
