/**
 * A small binary codec for API messages outside Electron IPC (browser tests now, the web mode
 * later): JSON for the structure, raw bytes for typed arrays, so tensors never become JSON
 * number lists. Electron IPC does not need it: structured clone already keeps typed arrays.
 *
 * Layout: "ATL1" | u32 LE json length | json | zero pad to 8 | data. A typed array in the JSON
 * is {"__ta": kind, "o": byte offset into data, "n": element count}.
 */
const MAGIC = 0x314c5441; // "ATL1" read as little-endian u32

const KINDS = {
  Float32Array,
  Float64Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  BigInt64Array,
} as const;
type Kind = keyof typeof KINDS;
type AnyTypedArray = InstanceType<(typeof KINDS)[Kind]>;

function kindOf(v: unknown): Kind | null {
  for (const k of Object.keys(KINDS) as Kind[]) if (v instanceof KINDS[k]) return k;
  return null;
}

export function pack(value: unknown): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const json = JSON.stringify(value, (_key, v: unknown) => {
    const kind = kindOf(v);
    if (!kind) return v;
    const ta = v as AnyTypedArray;
    size += (8 - (size % 8)) % 8;
    const placeholder = { __ta: kind, o: size, n: ta.length };
    chunks.push(new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength));
    size += ta.byteLength;
    return placeholder;
  });
  const jsonBytes = new TextEncoder().encode(json ?? 'null');
  const head = 8 + jsonBytes.length;
  const dataStart = head + ((8 - (head % 8)) % 8);
  const out = new Uint8Array(dataStart + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, jsonBytes.length, true);
  out.set(jsonBytes, 8);
  let o = 0;
  for (const c of chunks) {
    o += (8 - (o % 8)) % 8;
    out.set(c, dataStart + o);
    o += c.byteLength;
  }
  return out;
}

export class WireError extends Error {}

export function unpack(bytes: Uint8Array): unknown {
  if (bytes.byteLength < 8) throw new WireError('message too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new WireError('not an Attention Atlas message');
  const jsonLen = view.getUint32(4, true);
  if (8 + jsonLen > bytes.byteLength) throw new WireError('message header runs past its end');
  const head = 8 + jsonLen;
  const dataStart = head + ((8 - (head % 8)) % 8);
  const json = new TextDecoder().decode(bytes.subarray(8, head));
  return JSON.parse(json, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || !('__ta' in v)) return v;
    const p = v as { __ta: unknown; o: unknown; n: unknown };
    if (typeof p.__ta !== 'string' || !(p.__ta in KINDS)) throw new WireError(`unknown array kind ${String(p.__ta)}`);
    const Ctor = KINDS[p.__ta as Kind];
    const o = Number(p.o);
    const n = Number(p.n);
    const len = n * Ctor.BYTES_PER_ELEMENT;
    if (!Number.isSafeInteger(o) || !Number.isSafeInteger(n) || o < 0 || n < 0 || dataStart + o + len > bytes.byteLength) {
      throw new WireError('array out of bounds');
    }
    // Copy: the source offset need not be aligned for this view type.
    const copy = bytes.slice(dataStart + o, dataStart + o + len);
    return new Ctor(copy.buffer, 0, n);
  });
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** What a transport returns: the handler's value, or its error message. */
export type WireReply = { ok: unknown } | { error: string };

/**
 * A successful reply already packed as `{ ok: value }` (browser mode's engine worker packs its
 * replies itself, off the serving thread); the web server sends its bytes as they are.
 */
export class PackedReply {
  constructor(readonly bytes: Uint8Array) {}
}
