/**
 * Reproducible views (DESIGN.md): the state that made a figure, as one small JSON document.
 * Exported PNGs carry it in an iTXt chunk, SVGs in a <metadata> element, and it can be saved on
 * its own; any of the three, or the document in a URL parameter, restores the exact view.
 */
import { LIMITS } from './api';

export const VIEW_STATE_FORMAT = 'attention-atlas-view';
/** iTXt keyword in PNGs and id of the <metadata> element in SVGs. */
export const VIEW_STATE_KEY = 'attention-atlas-view';

const VIEWS = ['walkthrough', 'attention', 'atlas', 'contributions'] as const;
const STAGES = ['dot', 'scale', 'mask', 'softmax', 'weights'] as const;
const ORDERS = ['layer', 'previousToken', 'firstToken', 'local', 'entropy', 'induction'] as const;

export interface ViewState {
  format: typeof VIEW_STATE_FORMAT;
  version: 1;
  model: { id: string; weightsHash: string };
  text: string;
  prependEndOfText: boolean;
  view: (typeof VIEWS)[number];
  layer: number;
  head: number;
  stage: (typeof STAGES)[number];
  /** The selected cell (query, key), or null. */
  selected: { q: number; k: number } | null;
  toggles: {
    mask: boolean;
    scale: boolean;
    transposed: boolean;
    sinkAware: boolean;
    atlasOrder: (typeof ORDERS)[number];
    labelledOnly: boolean;
    showDiff: boolean;
  };
  pinned: { layer: number; head: number }[];
}

export class ViewStateError extends Error {}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ViewStateError(`${what} must be an object`);
  return v as Record<string, unknown>;
}
function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new ViewStateError(`${what} must be true or false`);
  return v;
}
function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65536)
    throw new ViewStateError(`${what} must be a whole number`);
  return v;
}
function str(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw new ViewStateError(`${what} must be text of at most ${max} characters`);
  return v;
}
function oneOf<T extends string>(v: unknown, options: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v))
    throw new ViewStateError(`${what} must be one of ${options.join(', ')}`);
  return v as T;
}

/** Checks a parsed document field by field; anything else is refused with a reason. */
export function parseViewState(value: unknown): ViewState {
  const r = obj(value, 'the view file');
  if (r.format !== VIEW_STATE_FORMAT) throw new ViewStateError('this is not an Attention Atlas view file');
  if (r.version !== 1) throw new ViewStateError(`view file version ${String(r.version)} is not supported`);
  const m = obj(r.model, 'model');
  const tg = obj(r.toggles, 'toggles');
  const sel = r.selected === null ? null : obj(r.selected, 'selected');
  if (!Array.isArray(r.pinned) || r.pinned.length > 16) throw new ViewStateError('pinned must be a short list');
  return {
    format: VIEW_STATE_FORMAT,
    version: 1,
    model: { id: str(m.id, 'model.id', 4096), weightsHash: str(m.weightsHash, 'model.weightsHash', 128) },
    text: str(r.text, 'text', LIMITS.maxTextChars),
    prependEndOfText: bool(r.prependEndOfText, 'prependEndOfText'),
    view: oneOf(r.view, VIEWS, 'view'),
    layer: int(r.layer, 'layer'),
    head: int(r.head, 'head'),
    stage: oneOf(r.stage, STAGES, 'stage'),
    selected: sel ? { q: int(sel.q, 'selected.q'), k: int(sel.k, 'selected.k') } : null,
    toggles: {
      mask: bool(tg.mask, 'toggles.mask'),
      scale: bool(tg.scale, 'toggles.scale'),
      transposed: bool(tg.transposed, 'toggles.transposed'),
      sinkAware: bool(tg.sinkAware, 'toggles.sinkAware'),
      atlasOrder: oneOf(tg.atlasOrder, ORDERS, 'toggles.atlasOrder'),
      labelledOnly: bool(tg.labelledOnly, 'toggles.labelledOnly'),
      showDiff: bool(tg.showDiff, 'toggles.showDiff'),
    },
    pinned: r.pinned.map((p, i) => {
      const o = obj(p, `pinned[${i}]`);
      return { layer: int(o.layer, `pinned[${i}].layer`), head: int(o.head, `pinned[${i}].head`) };
    }),
  };
}

// ------------------------------------------------------------------ PNG: an iTXt chunk

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function isPng(b: Uint8Array): boolean {
  return PNG_SIGNATURE.every((v, i) => b[i] === v);
}

/** The PNG with the state in an uncompressed UTF-8 iTXt chunk just before IEND. */
export function pngWithViewState(png: Uint8Array, state: ViewState): Uint8Array {
  if (!isPng(png)) throw new ViewStateError('not a PNG file');
  const enc = new TextEncoder();
  // keyword \0, compression flag 0, method 0, language "" \0, translated keyword "" \0, text
  const data = new Uint8Array([...enc.encode(VIEW_STATE_KEY), 0, 0, 0, 0, 0, ...enc.encode(JSON.stringify(state))]);
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  chunk.set(enc.encode('iTXt'), 4);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  const iend = png.length - 12; // IEND is the last chunk: 0-length, type, CRC
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, iend), 0);
  out.set(chunk, iend);
  out.set(png.subarray(iend), iend + chunk.length);
  return out;
}

function pngViewState(png: Uint8Array): unknown {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const dec = new TextDecoder();
  let at = 8;
  while (at + 12 <= png.length) {
    const len = view.getUint32(at);
    const type = dec.decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'iTXt') {
      const z = data.indexOf(0);
      if (dec.decode(data.subarray(0, z)) === VIEW_STATE_KEY && data[z + 1] === 0) {
        // skip the compression flag and method, then the language tag and translated keyword
        let p = z + 3;
        p = data.indexOf(0, p) + 1;
        p = data.indexOf(0, p) + 1;
        return JSON.parse(dec.decode(data.subarray(p)));
      }
    }
    at += 12 + len;
  }
  throw new ViewStateError('this PNG carries no Attention Atlas view');
}

// ------------------------------------------------------------------ SVG: a <metadata> element

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The SVG with the state as text of a <metadata id="attention-atlas-view"> right after <svg …>. */
export function svgWithViewState(svg: Uint8Array, state: ViewState): Uint8Array {
  const text = new TextDecoder().decode(svg);
  const open = /<svg\b[^>]*>/.exec(text);
  if (!open) throw new ViewStateError('not an SVG file');
  const end = open.index + open[0].length;
  const meta = `<metadata id="${VIEW_STATE_KEY}">${escapeXml(JSON.stringify(state))}</metadata>`;
  return new TextEncoder().encode(text.slice(0, end) + meta + text.slice(end));
}

function svgViewState(text: string): unknown {
  const m = new RegExp(`<metadata id="${VIEW_STATE_KEY}">([^<]*)</metadata>`).exec(text);
  if (!m) throw new ViewStateError('this SVG carries no Attention Atlas view');
  return JSON.parse((m[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

/** The state in a view file: the JSON document itself, or a PNG or SVG this app exported. */
export function readViewState(bytes: Uint8Array): ViewState {
  if (isPng(bytes)) return parseViewState(pngViewState(bytes));
  const text = new TextDecoder().decode(bytes).trimStart();
  if (text.startsWith('<')) return parseViewState(svgViewState(text));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ViewStateError('this file is not a view (JSON), nor a PNG or SVG with one');
  }
  return parseViewState(parsed);
}

// ------------------------------------------------------------------ URL parameter (base64url)

export function viewStateToParam(state: ViewState): string {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function viewStateFromParam(param: string): ViewState {
  const b64 = param.replace(/-/g, '+').replace(/_/g, '/');
  let bin: string;
  try {
    bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  } catch {
    throw new ViewStateError('the view parameter is not base64url');
  }
  return readViewState(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
