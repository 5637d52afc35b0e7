/**
 * Views to files. SVG views are serialised with their computed styles written inline (the
 * live document styles them through CSS variables, which a standalone file would lose); PNGs
 * are rasterised from that SVG, or taken straight from a canvas.
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

export function svgBytes(svg: SVGSVGElement): Uint8Array {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const live = [svg, ...svg.querySelectorAll('*')];
  const copies = [clone, ...clone.querySelectorAll('*')];
  live.forEach((el, i) => {
    const cs = getComputedStyle(el);
    const copy = copies[i] as SVGElement | undefined;
    if (!copy) return;
    copy.setAttribute('style', STYLE_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(';'));
    // Axis labels that follow the scroll position are exported where they belong unscrolled.
    if (el.classList.contains('sticky')) copy.removeAttribute('transform');
    copy.removeAttribute('class');
  });
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const bg = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
  bg.setAttribute('width', '100%');
  bg.setAttribute('height', '100%');
  bg.setAttribute('fill', getComputedStyle(document.body).backgroundColor);
  clone.insertBefore(bg, clone.firstChild);
  return new TextEncoder().encode(new XMLSerializer().serializeToString(clone));
}

function canvasBytes(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) reject(new Error('could not encode the image'));
      else void blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
    }, 'image/png');
  });
}

export async function svgPngBytes(svg: SVGSVGElement, scale = 2): Promise<Uint8Array> {
  const url = URL.createObjectURL(new Blob([svgBytes(svg) as BlobPart], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(svg.width.baseVal.value * scale);
    canvas.height = Math.ceil(svg.height.baseVal.value * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2-D canvas');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0);
    return await canvasBytes(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function canvasPngBytes(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return canvasBytes(canvas);
}

/** A data: URL (ECharts' getDataURL) to bytes. */
export function dataUrlBytes(url: string): Uint8Array {
  const b64 = url.slice(url.indexOf(',') + 1);
  const s = atob(b64);
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
