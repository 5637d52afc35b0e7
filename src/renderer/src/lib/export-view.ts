/**
 * Views to files. Every figure carries a title (model, text, what is shown) so it still says
 * what it is when pasted into slides or notes, and PNGs are drawn at 2× or more.
 *
 * SVG views are serialised with their computed styles written inline (the live document styles
 * them through CSS variables, which a standalone file would lose); several panels (compare)
 * become one figure. PNGs are rasterised from that SVG; canvases and charts are redrawn under a
 * title band.
 */
const STYLE_PROPS = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-dasharray',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'text-anchor',
  'dominant-baseline',
  'white-space',
] as const;

const SVG_NS = 'http://www.w3.org/2000/svg';
/** Resolution of exported PNGs. */
export const EXPORT_SCALE = 2;
const TITLE_FONT = 15;
const SUB_FONT = 12;
const TITLE_PAD = 12;
/** The page's font list (styles.css --font-sans, CJK included), so characters survive in exports. */
function exportFonts(): string {
  return getComputedStyle(document.documentElement).getPropertyValue('--font-sans').trim() || 'sans-serif';
}

/** A figure's title: the first line bold, the rest (text, toggles) smaller. */
export type FigureTitle = string[];

function titleHeight(title: FigureTitle): number {
  if (title.length === 0) return 0;
  return TITLE_PAD + TITLE_FONT + (title.length - 1) * (SUB_FONT + 6) + TITLE_PAD;
}

/**
 * Parts of a live SVG drawn another way on screen (a grid's cells on a canvas) that a file
 * must carry as vectors: the part's owner registers how to build them, styled inline.
 */
const standIns = new WeakMap<Element, () => SVGElement>();

/** Registers `build` as what the exports put in place of `el`; returns the unregistration. */
export function registerVectorStandIn(el: Element, build: () => SVGElement): () => void {
  standIns.set(el, build);
  return () => {
    if (standIns.get(el) === build) standIns.delete(el);
  };
}

/** A clone of a live SVG with its computed styles inline; scrolled labels put back in place. */
function inlineSvg(svg: SVGSVGElement): SVGSVGElement {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const live = [svg, ...svg.querySelectorAll('*')];
  const copies = [clone, ...clone.querySelectorAll('*')];
  const replaced: [Element, SVGElement][] = [];
  live.forEach((el, i) => {
    const copy = copies[i] as SVGElement | undefined;
    if (!copy) return;
    const build = standIns.get(el);
    if (build) replaced.push([copy, build()]);
    const cs = getComputedStyle(el);
    copy.setAttribute('style', STYLE_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(';'));
    // Axis labels that follow the scroll position are exported where they belong unscrolled.
    if (el.classList.contains('sticky')) copy.removeAttribute('transform');
    copy.removeAttribute('class');
  });
  for (const [copy, vectors] of replaced) copy.replaceWith(vectors);
  return clone;
}

function textEl(x: number, y: number, size: number, weight: string, color: string, text: string): SVGTextElement {
  const el = document.createElementNS(SVG_NS, 'text');
  el.setAttribute('x', String(x));
  el.setAttribute('y', String(y));
  el.setAttribute('style', `font-family:${exportFonts()};font-size:${size}px;font-weight:${weight};fill:${color}`);
  el.textContent = text;
  return el;
}

export interface Figure {
  bytes: Uint8Array;
  width: number;
  height: number;
}

/**
 * One SVG figure: the title, then the panels side by side (wrapping after `perRow`), each with
 * an optional caption above it.
 */
export function composeSvg(panels: { svg: SVGSVGElement; caption?: string }[], title: FigureTitle, perRow = 3): Figure {
  const body = getComputedStyle(document.body);
  const fg = body.color;
  const gap = 16;
  const capH = panels.some((p) => p.caption) ? 20 : 0;
  const sizes = panels.map((p) => ({ w: p.svg.width.baseVal.value, h: p.svg.height.baseVal.value }));
  const rows: number[][] = [];
  sizes.forEach((_, i) => (i % perRow === 0 ? rows.push([i]) : rows[rows.length - 1]?.push(i)));
  const rowH = rows.map((r) => Math.max(...r.map((i) => sizes[i]?.h ?? 0)) + capH);
  const rowW = rows.map((r) => r.reduce((a, i) => a + (sizes[i]?.w ?? 0), 0) + gap * (r.length - 1));
  const top = titleHeight(title);
  const width = Math.ceil(Math.max(480, ...rowW) + 2 * gap);
  const height = Math.ceil(top + rowH.reduce((a, b) => a + b, 0) + gap * rows.length);

  const out = document.createElementNS(SVG_NS, 'svg');
  out.setAttribute('xmlns', SVG_NS);
  out.setAttribute('width', String(width));
  out.setAttribute('height', String(height));
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', body.backgroundColor);
  out.append(bg);
  title.forEach((line, i) => {
    const y = TITLE_PAD + TITLE_FONT + i * (SUB_FONT + 6);
    out.append(textEl(gap, y, i === 0 ? TITLE_FONT : SUB_FONT, i === 0 ? '700' : '400', fg, line));
  });
  let y = top;
  rows.forEach((r, ri) => {
    let x = gap;
    for (const i of r) {
      const p = panels[i];
      const size = sizes[i];
      if (!p || !size) continue;
      if (p.caption) out.append(textEl(x, y + 14, SUB_FONT, '700', fg, p.caption));
      const inner = inlineSvg(p.svg);
      inner.setAttribute('x', String(x));
      inner.setAttribute('y', String(y + capH));
      out.append(inner);
      x += size.w + gap;
    }
    y += (rowH[ri] ?? 0) + gap;
  });
  return { bytes: new TextEncoder().encode(new XMLSerializer().serializeToString(out)), width, height };
}

function canvasBytes(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) reject(new Error('could not encode the image'));
      else void blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
    }, 'image/png');
  });
}

/** An SVG figure rasterised at EXPORT_SCALE. */
export async function figurePng(fig: Figure, scale = EXPORT_SCALE): Promise<Uint8Array> {
  const url = URL.createObjectURL(new Blob([fig.bytes as BlobPart], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(fig.width * scale);
    canvas.height = Math.ceil(fig.height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2-D canvas');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    return await canvasBytes(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/**
 * A PNG of a picture drawn at `scale` (a chart's getDataURL, a canvas painted for export) under
 * the title, drawn at the same scale. `cssWidth` × `cssHeight` is the picture's size in CSS px.
 */
export async function titledPng(
  picture: CanvasImageSource,
  cssWidth: number,
  cssHeight: number,
  title: FigureTitle,
  scale = EXPORT_SCALE,
): Promise<Uint8Array> {
  const body = getComputedStyle(document.body);
  const top = titleHeight(title);
  const canvas = document.createElement('canvas');
  canvas.width = Math.ceil(Math.max(cssWidth, 480) * scale);
  canvas.height = Math.ceil((top + cssHeight) * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2-D canvas');
  ctx.scale(scale, scale);
  ctx.fillStyle = body.backgroundColor;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = body.color;
  title.forEach((line, i) => {
    ctx.font = `${i === 0 ? '700' : '400'} ${i === 0 ? TITLE_FONT : SUB_FONT}px ${exportFonts()}`;
    ctx.fillText(line, 16, TITLE_PAD + TITLE_FONT + i * (SUB_FONT + 6));
  });
  ctx.drawImage(picture, 0, top, cssWidth, cssHeight);
  return canvasBytes(canvas);
}

/** A data: URL (ECharts' getDataURL) as an image to draw. */
export async function imageFromDataUrl(url: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}
