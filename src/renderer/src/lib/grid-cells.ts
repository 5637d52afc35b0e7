/**
 * The cells of a large query·key grid (QkGrid past ANIMATED_MAX_T tokens a side), worked out
 * once and then drawn two ways: onto a canvas for the screen, and as vector paths for the SVG
 * and PNG exports.
 *
 * Why a canvas on screen: as SVG paths (one per colour and opacity level, every cell a segment
 * of one) a 64-token grid cost Chromium ≈ 38 ms of paint recording and ≈ 12 ms of layout per
 * keystroke, plus raster work on the other core, which slowed the next keystroke's forward pass
 * (traced 2026-12-01, GPT-2-small shape, T = 64: the edit's forward pass ran 126 ms with the
 * paths hidden and 140–156 ms with them). A canvas is one image to the compositor. Written by
 * hand: it is a few dozen lines of 2-D canvas calls no library does for us.
 */

import { isMasked } from '../../../shared/attention-math';

/** Opacity levels: a 1/48 step is below what the eye separates, and each level is one fill. */
export const OPACITY_LEVELS = 48;
/**
 * Room around the grid on the canvas, CSS px: a future cell's 2 px outline and the edge dots'
 * antialiasing reach past the grid's edge, as they did in the SVG.
 */
export const CELL_MARGIN = 2;

export const CellKind = {
  none: 0,
  dot: 1,
  negDot: 2,
  weight: 3,
  masked: 4,
  empty: 5,
} as const;

/** Every cell of an n × n grid in screen order (row-major by grid row and column). */
export interface CellShapes {
  n: number;
  /** Side of a cell in CSS px. */
  cell: number;
  kind: Uint8Array;
  /** Fill-opacity level 0…OPACITY_LEVELS (dots and weights). */
  level: Uint8Array;
  /** Dot radius in CSS px, rounded to 0.01 (0: not a dot). */
  radius: Float32Array;
  /** Outlined as a cell the causal mask would hide (the mask toggled off). */
  future: Uint8Array;
  /** Dots sit this far above the cell centre (printed values below them). */
  dotShift: number;
}

export interface CellInputs {
  n: number;
  /** [T_q, T_k] row-major. */
  values: Float32Array;
  cell: number;
  showMask: boolean;
  squares: boolean;
  markFuture: boolean;
  vmax: number;
  transposed: boolean;
  /** Largest dot radius and its upward shift, CSS px. */
  rMax: number;
  dotShift: number;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * What each cell shows, as the per-cell elements of a small grid draw it: a dot whose area
 * grows with |v| and whose opacity is 0.35 + 0.65·|v|/vmax, a weight square of opacity v/vmax,
 * a struck-out masked cell, or an empty cell (NaN: a square still on its way).
 */
export function cellShapes(x: CellInputs): CellShapes {
  const { n, values, vmax, rMax } = x;
  const size = n * n;
  const out: CellShapes = {
    n,
    cell: x.cell,
    kind: new Uint8Array(size),
    level: new Uint8Array(size),
    radius: new Float32Array(size),
    future: new Uint8Array(size),
    dotShift: x.dotShift,
  };
  for (let q = 0; q < n; q++) {
    for (let k = 0; k < n; k++) {
      const i = x.transposed ? q * n + k : k * n + q;
      const v = values[q * n + k] ?? 0;
      const hidden = isMasked(q, k);
      if (Number.isNaN(v)) out.kind[i] = CellKind.empty;
      else if (x.showMask && hidden) out.kind[i] = CellKind.masked;
      else if (x.squares) {
        const level = Math.round(Math.min(1, Math.max(0, v / vmax)) * OPACITY_LEVELS);
        if (level > 0) {
          out.kind[i] = CellKind.weight;
          out.level[i] = level;
        }
        if (x.markFuture && hidden) out.future[i] = 1;
      } else {
        const ratio = Math.min(1, Math.abs(v) / vmax);
        const r = r2(rMax * Math.sqrt(ratio));
        if (r > 0) {
          out.kind[i] = v < 0 ? CellKind.negDot : CellKind.dot;
          out.level[i] = Math.round((0.35 + 0.65 * ratio) * OPACITY_LEVELS);
          out.radius[i] = r;
          if (x.markFuture && hidden) out.future[i] = 1;
        }
      }
    }
  }
  return out;
}

/** A short hash of everything drawn: it changes exactly when the picture does (tests, bench). */
export function shapesSignature(s: CellShapes): string {
  let h = 0x811c9dc5;
  const mix = (b: number): void => {
    h = Math.imul(h ^ b, 0x01000193);
  };
  mix(s.n);
  mix(Math.round(s.cell * 100));
  for (let i = 0; i < s.kind.length; i++) {
    mix(s.kind[i] ?? 0);
    mix(s.level[i] ?? 0);
    mix(Math.round((s.radius[i] ?? 0) * 100));
    mix(s.future[i] ?? 0);
  }
  return (h >>> 0).toString(36);
}

/** The theme's colours for the cells (CSS variables resolved: a canvas cannot read them). */
export interface CellColors {
  pos: string;
  neg: string;
  muted: string;
  future: string;
}

/** Centre of the cell at grid position i, relative to the grid's top-left corner. */
function centre(s: CellShapes, i: number): [number, number] {
  const row = Math.floor(i / s.n);
  const col = i - row * s.n;
  return [col * s.cell + s.cell / 2, row * s.cell + s.cell / 2];
}

/** How the cells' strokes are drawn, on the canvas and in the exports alike (as the SVG's CSS). */
const FUTURE_STROKE = { width: 2, dash: [3, 2] };
const MASKED_STROKE = { width: 1.2, opacity: 0.55 };

/** The cells by what draws them: a fill per kind and opacity level, then the strokes. */
interface CellGroups {
  /** kind · 256 + level → cells, in the order their fills are first met. */
  fills: Map<number, number[]>;
  future: number[];
  masked: number[];
  empty: number[];
}

function groupCells(s: CellShapes): CellGroups {
  const g: CellGroups = { fills: new Map(), future: [], masked: [], empty: [] };
  for (let i = 0; i < s.kind.length; i++) {
    const kind = s.kind[i] ?? 0;
    if (s.future[i]) g.future.push(i);
    if (kind === CellKind.masked) g.masked.push(i);
    else if (kind === CellKind.empty) g.empty.push(i);
    else if (kind !== CellKind.none) {
      const key = kind * 256 + (s.level[i] ?? 0);
      const cells = g.fills.get(key);
      if (cells) cells.push(i);
      else g.fills.set(key, [i]);
    }
  }
  return g;
}

/** What the cell tracers draw with: a canvas context or an SVG path under construction. */
interface PathSink {
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  circle(x: number, y: number, r: number): void;
  rect(x: number, y: number, w: number, h: number): void;
}

/** A dot (radius > 0) or a weight square, at the cell's place. */
function traceShape(p: PathSink, s: CellShapes, i: number, ox: number, oy: number): void {
  const [cx, cy] = centre(s, i);
  const x = ox + cx;
  const y = oy + cy;
  const r = s.radius[i] ?? 0;
  if (r > 0) p.circle(x, y - s.dotShift, r);
  else p.rect(x - s.cell / 2 + 0.5, y - s.cell / 2 + 0.5, s.cell - 1, s.cell - 1);
}

/** A masked cell's two strokes. */
function traceCross(p: PathSink, s: CellShapes, i: number, ox: number, oy: number): void {
  const [cx, cy] = centre(s, i);
  const x = ox + cx;
  const y = oy + cy;
  const a = s.cell * 0.28;
  p.moveTo(x - a, y - a);
  p.lineTo(x + a, y + a);
  p.moveTo(x - a, y + a);
  p.lineTo(x + a, y - a);
}

/** An empty cell's dashed outline, inset 2 px. */
function traceEmpty(p: PathSink, s: CellShapes, i: number, ox: number, oy: number): void {
  const [cx, cy] = centre(s, i);
  p.rect(ox + cx - s.cell / 2 + 2, oy + cy - s.cell / 2 + 2, s.cell - 4, s.cell - 4);
}

/** SVG path data, coordinates rounded to 0.01 px; a circle as two arcs. */
class SvgPath implements PathSink {
  d = '';
  moveTo(x: number, y: number): void {
    this.d += `M${r2(x)},${r2(y)}`;
  }
  lineTo(x: number, y: number): void {
    this.d += `L${r2(x)},${r2(y)}`;
  }
  circle(x: number, y: number, r: number): void {
    this.d += `M${r2(x - r)},${r2(y)}a${r},${r} 0 1,0 ${r2(2 * r)},0a${r},${r} 0 1,0 ${r2(-2 * r)},0`;
  }
  rect(x: number, y: number, w: number, h: number): void {
    this.d += `M${r2(x)},${r2(y)}h${r2(w)}v${r2(h)}h${r2(-w)}z`;
  }
}

/** The path data of `cells` traced by `trace`, offset by (ox, oy). */
function svgPath(
  s: CellShapes,
  cells: number[],
  trace: (p: PathSink, s: CellShapes, i: number, ox: number, oy: number) => void,
  ox: number,
  oy: number,
): string {
  const p = new SvgPath();
  for (const i of cells) trace(p, s, i, ox, oy);
  return p.d;
}

/** One path per fill, and the strokes, as vector path data offset by (ox, oy). */
export interface VectorCells {
  fills: { kind: number; opacity: number; d: string }[];
  masked: string;
  future: string;
  empty: string;
}

/**
 * The cells as SVG path data: dots as two arcs, weights as squares, masked cells as two strokes,
 * grouped by fill; coordinates rounded to 0.01 px.
 */
export function vectorCells(s: CellShapes, ox: number, oy: number): VectorCells {
  const g = groupCells(s);
  return {
    fills: [...g.fills].map(([key, cells]) => ({
      kind: Math.floor(key / 256),
      opacity: (key % 256) / OPACITY_LEVELS,
      d: svgPath(s, cells, traceShape, ox, oy),
    })),
    masked: svgPath(s, g.masked, traceCross, ox, oy),
    future: svgPath(s, g.future, traceShape, ox, oy),
    empty: svgPath(s, g.empty, traceEmpty, ox, oy),
  };
}

/**
 * The empty cells' outlines, the one part the screen draws as SVG (dashed, while a head's square
 * is on its way: rare, and a selector for tests and the bench).
 */
export function emptyOutlines(s: CellShapes, ox: number, oy: number): string {
  const empty: number[] = [];
  for (let i = 0; i < s.kind.length; i++) if (s.kind[i] === CellKind.empty) empty.push(i);
  return svgPath(s, empty, traceEmpty, ox, oy);
}

/** The fill colour of a kind of cell. */
export function fillOf(kind: number, colors: CellColors): string {
  return kind === CellKind.negDot ? colors.neg : colors.pos;
}

/** The cells as an SVG group of paths, styled inline, for the exports (offset by (ox, oy)). */
export function vectorCellsGroup(s: CellShapes, ox: number, oy: number, colors: CellColors): SVGGElement {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const g = document.createElementNS(SVG_NS, 'g');
  const path = (d: string, style: string): void => {
    if (!d) return;
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    p.setAttribute('style', style);
    g.append(p);
  };
  const v = vectorCells(s, ox, oy);
  for (const f of v.fills) path(f.d, `fill:${fillOf(f.kind, colors)};fill-opacity:${f.opacity};stroke:none`);
  path(
    v.future,
    `fill:none;fill-opacity:1;stroke:${colors.future};stroke-width:${FUTURE_STROKE.width};stroke-dasharray:${FUTURE_STROKE.dash.join(' ')}`,
  );
  path(
    v.masked,
    `fill:none;fill-opacity:1;stroke:${colors.muted};stroke-width:${MASKED_STROKE.width};opacity:${MASKED_STROKE.opacity}`,
  );
  return g;
}

/**
 * Paints the cells onto a canvas at `scale` device pixels per CSS px, the grid's top-left corner
 * CELL_MARGIN in from the canvas's. Fills first (one path per colour and opacity level), then the
 * future outlines and the masked crosses, as the SVG draws them. Empty cells are left to the SVG.
 */
export function paintCells(ctx: CanvasRenderingContext2D, s: CellShapes, colors: CellColors, scale: number): void {
  // The whole bitmap: a larger grid painted before may have left cells anywhere on it.
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.setTransform(scale, 0, 0, scale, CELL_MARGIN * scale, CELL_MARGIN * scale);
  const sink: PathSink = {
    moveTo: (x, y) => ctx.moveTo(x, y),
    lineTo: (x, y) => ctx.lineTo(x, y),
    circle: (x, y, r) => {
      ctx.moveTo(x + r, y);
      ctx.arc(x, y, r, 0, 2 * Math.PI);
    },
    rect: (x, y, w, h) => ctx.rect(x, y, w, h),
  };
  const trace = (cells: number[], how: typeof traceShape): void => {
    ctx.beginPath();
    for (const i of cells) how(sink, s, i, 0, 0);
  };
  const g = groupCells(s);
  for (const [key, cells] of g.fills) {
    ctx.globalAlpha = (key % 256) / OPACITY_LEVELS;
    ctx.fillStyle = fillOf(Math.floor(key / 256), colors);
    trace(cells, traceShape);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (g.future.length) {
    ctx.strokeStyle = colors.future;
    ctx.lineWidth = FUTURE_STROKE.width;
    ctx.setLineDash(FUTURE_STROKE.dash);
    trace(g.future, traceShape);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (g.masked.length) {
    ctx.globalAlpha = MASKED_STROKE.opacity;
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = MASKED_STROKE.width;
    trace(g.masked, traceCross);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
}
