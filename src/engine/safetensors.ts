/**
 * safetensors reader (F32, F16, BF16 → Float32Array) that trusts nothing in the file.
 *
 * Format: u64 little-endian header length N, N bytes of JSON header, then the data area.
 * Every header field is checked against the file before anything is allocated from it:
 * header size cap, JSON shape, known dtypes, shape × dtype size = byte length, offsets within
 * the data area, no overlaps, no holes (as the format requires), file length matching.
 * Any violation throws SafetensorsError naming the file and the problem.
 *
 * Written by hand because no maintained npm package reads safetensors in Node without pulling
 * in a full ML runtime; the format is small and fully specified.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { NotRegularFileError, openRegularFile } from './regular-file';
import { basename } from 'node:path';

export type Dtype = 'F32' | 'F16' | 'BF16';
const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** The reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const MAX_RANK = 8;

export class SafetensorsError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range inside the data area. */
  begin: number;
  end: number;
}

function isDtype(s: unknown): s is Dtype {
  return s === 'F32' || s === 'F16' || s === 'BF16';
}

/** IEEE half → float. Node 20 has no Float16Array, so decode by bits. */
function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let f16Table: Float32Array | null = null;
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32(i);
  }
  return f16Table;
}

export function decodeToF32(dtype: Dtype, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === 'F16') {
    const table = halfTable();
    for (let i = 0; i < n; i++) out[i] = table[view.getUint16(i * 2, true)] ?? 0;
  } else {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  }
  return out;
}

export class SafetensorsFile {
  readonly entries: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly dataStart: number;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    entries: Map<string, TensorEntry>,
    metadata: Record<string, string>,
    dataStart: number,
  ) {
    this.entries = entries;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openRegularFile(path);
    } catch (e) {
      if (e instanceof NotRegularFileError) throw e;
      throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
    }
    try {
      const { entries, metadata, dataStart } = parseHeader(path, fd);
      return new SafetensorsFile(path, fd, entries, metadata, dataStart);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Raw bytes of one tensor; the size was checked against the file when it was opened. */
  readBytes(name: string): { entry: TensorEntry; bytes: Uint8Array } {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(this.path, `no tensor named "${name}"`);
    const bytes = new Uint8Array(entry.end - entry.begin);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, this.dataStart + entry.begin + done);
      if (n === 0) throw new SafetensorsError(this.path, `file ended while reading "${name}" (was it truncated?)`);
      done += n;
    }
    return { entry, bytes };
  }

  readF32(name: string): { shape: number[]; data: Float32Array } {
    const { entry, bytes } = this.readBytes(name);
    return { shape: entry.shape, data: decodeToF32(entry.dtype, bytes) };
  }
}

function parseHeader(
  path: string,
  fd: number,
): { entries: Map<string, TensorEntry>; metadata: Record<string, string>; dataStart: number } {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem);
  };
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) fail(`file is ${fileSize} bytes, too short to be safetensors (needs an 8-byte header length)`);
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) {
    fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not safetensors)`);
  }
  const n = Number(headerLen);
  if (n < 2) fail(`header length ${n} is too small for a JSON header`);
  if (8 + n > fileSize) fail(`header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  const headerBuf = Buffer.alloc(n);
  readSync(fd, headerBuf, 0, n, 8);
  let header: unknown;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(raw as object).map(([k, v]) => [k, String(v)]));
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (!isDtype(dtype)) {
      fail(`tensor "${name}": unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F16, BF16)`);
    }
    const dt = dtype as Dtype;
    if (!Array.isArray(shape) || shape.length > MAX_RANK)
      fail(`tensor "${name}": shape must be a list of at most ${MAX_RANK} dimensions`);
    const dims = shape as unknown[];
    let numel = 1;
    for (const d of dims) {
      if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
        fail(`tensor "${name}": bad dimension ${JSON.stringify(d)} in shape`);
      numel *= d as number;
      if (!Number.isSafeInteger(numel) || numel * DTYPE_BYTES[dt] > dataLen) {
        fail(`tensor "${name}": shape [${dims.join(', ')}] needs more bytes than the file's ${dataLen}-byte data area`);
      }
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      fail(`tensor "${name}": data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`tensor "${name}": data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataLen)
      fail(`tensor "${name}": data ends at byte ${end} but the data area has only ${dataLen} bytes (truncated file?)`);
    if (end - begin !== numel * DTYPE_BYTES[dt]) {
      fail(
        `tensor "${name}": shape [${dims.join(', ')}] of ${dt} needs ${numel * DTYPE_BYTES[dt]} bytes but data_offsets span ${end - begin}`,
      );
    }
    entries.set(name, { name, dtype: dt, shape: dims as number[], begin, end });
  }
  // No overlaps and no holes: sorted ranges must tile [0, dataLen) exactly.
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) {
      const prev = sorted.find((p) => p !== e && p.begin <= e.begin && p.end > e.begin);
      fail(`tensors "${prev?.name ?? '?'}" and "${e.name}" overlap in the data area`);
    }
    if (e.begin > cursor) fail(`bytes ${cursor}..${e.begin} of the data area belong to no tensor`);
    cursor = e.end;
  }
  if (cursor !== dataLen) {
    fail(
      cursor < dataLen
        ? `file has ${dataLen - cursor} bytes after the last tensor (corrupt header?)`
        : `data area is ${dataLen} bytes, header describes ${cursor}`,
    );
  }
  return { entries, metadata, dataStart };
}

/** Serialise F32 tensors (for tests, random models and exports). */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array; dtype?: Dtype }>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    if (!t) continue;
    const dtype = t.dtype ?? 'F32';
    const blob = Buffer.alloc(t.data.length * DTYPE_BYTES[dtype]);
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i] ?? 0;
      if (dtype === 'F32') blob.writeFloatLE(v, i * 4);
      else if (dtype === 'F16') blob.writeUInt16LE(f32ToF16(v), i * 2);
      else blob.writeUInt16LE(f32ToBf16(v), i * 2);
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + blob.length] };
    blobs.push(blob);
    offset += blob.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...blobs]);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function f32ToBf16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0] ?? 0;
  return ((x + 0x7fff + ((x >> 16) & 1)) >>> 16) & 0xffff; // round to nearest even
}

/** float → IEEE half, round to nearest even (normal range; tiny values flush to subnormals). */
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  let mant = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (exp << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}
