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
  isMasked: (q: number, k: number) => boolean;
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
      const hidden = x.isMasked(q, k);
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

/** One path per fill, and the strokes, as vector path data offset by (ox, oy). */
export interface VectorCells {
  fills: { kind: number; opacity: number; d: string }[];
  masked: string;
  future: string;
  empty: string;
}

/**
 * The cells as SVG path data: dots as two arcs, weights as squares, masked cells as two strokes,
 * grouped by fill; coordinates rounded to 0.01 px. The exports use it; the screen shows only
 * `empty` this way (dashed outlines while a square is on its way: rare, and a selector for it).
 */
export function vectorCells(s: CellShapes, ox: number, oy: number, only?: 'empty'): VectorCells {
  const fills = new Map<number, { kind: number; opacity: number; d: string }>();
  let masked = '';
  let future = '';
  let empty = '';
  const c = s.cell;
  for (let i = 0; i < s.kind.length; i++) {
    const kind = s.kind[i] ?? 0;
    if (only === 'empty' && kind !== CellKind.empty) continue;
    if (kind === CellKind.none && !s.future[i]) continue;
    const [cx, cy] = centre(s, i);
    const x = ox + cx;
    const y = oy + cy;
    if (kind === CellKind.empty) {
      empty += `M${r2(x - c / 2 + 2)},${r2(y - c / 2 + 2)}h${r2(c - 4)}v${r2(c - 4)}h${r2(4 - c)}z`;
      continue;
    }
    if (kind === CellKind.masked) {
      const a = c * 0.28;
      masked += `M${r2(x - a)},${r2(y - a)}L${r2(x + a)},${r2(y + a)}M${r2(x - a)},${r2(y + a)}L${r2(x + a)},${r2(y - a)}`;
      continue;
    }
    let seg: string;
    const r = s.radius[i] ?? 0;
    if (r > 0) {
      const dy = y - s.dotShift;
      seg = `M${r2(x - r)},${r2(dy)}a${r},${r} 0 1,0 ${r2(2 * r)},0a${r},${r} 0 1,0 ${r2(-2 * r)},0`;
    } else {
      seg = `M${r2(x - c / 2 + 0.5)},${r2(y - c / 2 + 0.5)}h${r2(c - 1)}v${r2(c - 1)}h${r2(1 - c)}z`;
    }
    if (s.future[i]) future += seg;
    if (kind === CellKind.none) continue;
    const key = kind * 256 + (s.level[i] ?? 0);
    const f = fills.get(key);
    if (f) f.d += seg;
    else fills.set(key, { kind, opacity: (s.level[i] ?? 0) / OPACITY_LEVELS, d: seg });
  }
  return { fills: [...fills.values()], masked, future, empty };
}

/** The fill colour of a kind of cell. */
export function fillOf(kind: number, colors: CellColors): string {
  return kind === CellKind.negDot ? colors.neg : colors.pos;
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
  const c = s.cell;
  // Cells by fill (kind and opacity level), so each fill is one path and one fill call.
  const groups = new Map<number, number[]>();
  const outlined: number[] = [];
  const struck: number[] = [];
  for (let i = 0; i < s.kind.length; i++) {
    const kind = s.kind[i] ?? 0;
    if (s.future[i]) outlined.push(i);
    if (kind === CellKind.masked) struck.push(i);
    if (kind === CellKind.none || kind === CellKind.masked || kind === CellKind.empty) continue;
    const key = kind * 256 + (s.level[i] ?? 0);
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  /** Dots as circles (radius > 0), weights as squares, each added to the current path. */
  const shapes = (cells: number[]): void => {
    ctx.beginPath();
    for (const i of cells) {
      const [x, y] = centre(s, i);
      const r = s.radius[i] ?? 0;
      if (r > 0) {
        ctx.moveTo(x + r, y - s.dotShift);
        ctx.arc(x, y - s.dotShift, r, 0, 2 * Math.PI);
      } else ctx.rect(x - c / 2 + 0.5, y - c / 2 + 0.5, c - 1, c - 1);
    }
  };
  for (const [key, cells] of groups) {
    ctx.globalAlpha = (key % 256) / OPACITY_LEVELS;
    ctx.fillStyle = fillOf(Math.floor(key / 256), colors);
    shapes(cells);
    ctx.fill();
  }
  ctx.globalAlpha = 1;
  if (outlined.length) {
    ctx.strokeStyle = colors.future;
    ctx.lineWidth = 2;
    ctx.setLineDash([3, 2]);
    shapes(outlined);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  if (struck.length) {
    ctx.globalAlpha = 0.55;
    ctx.strokeStyle = colors.muted;
    ctx.lineWidth = 1.2;
    const a = c * 0.28;
    ctx.beginPath();
    for (const i of struck) {
      const [x, y] = centre(s, i);
      ctx.moveTo(x - a, y - a);
      ctx.lineTo(x + a, y + a);
      ctx.moveTo(x - a, y + a);
      ctx.lineTo(x + a, y - a);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
}
