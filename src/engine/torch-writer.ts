/**
 * Writes real PyTorch checkpoints (the zip format torch.save uses since 1.6) and plain pickles,
 * so tests and benchmarks can make ckpt.pt / model.pth / meta.pkl files without Python.
 *
 * It writes what torch.save writes: a protocol-2 pickle in `<archive>/data.pkl` whose tensors are
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` with the
 * storage as persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)`, each storage
 * in `<archive>/data/<key>`, plus `byteorder` and `version`; entries stored uncompressed with
 * their data 64-byte aligned (padding in an "FB" extra field, as torch's writer does). Tensors
 * may share a storage (tied weights) and be strided views of it (a transposed weight).
 * Checked against torch 1.13's `torch.load(..., weights_only=True)` (tools/torch-fixtures).
 */
import { f32ToBf16, f32ToF16, type Dtype } from './safetensors';

/** A Python float (`0.0`); a plain JS number is written as an int when it is integral. */
export class PyFloat {
  constructor(readonly value: number) {}
}
export class PyTuple {
  readonly items: readonly PyValue[];
  constructor(...items: PyValue[]) {
    this.items = items;
  }
}
/** `collections.OrderedDict`, as state_dict() returns. */
export class PyOrderedDict {
  constructor(readonly entries: ReadonlyMap<string, PyValue> | Record<string, PyValue>) {}
}
/** A global reference (module.name); with PyCall, how hostile test pickles are built. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
export class PyCall {
  constructor(
    readonly fn: PyGlobal,
    readonly args: PyTuple,
  ) {}
}
/** One storage: the flat data of one or more tensors. */
export class TorchStorage {
  constructor(
    readonly data: Float32Array,
    readonly dtype: Dtype = 'F32',
    /** Declare this many elements instead of data.length (tests: huge sparse files, lying sizes). */
    readonly declaredNumel?: number,
  ) {}
}
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
    readonly offset = 0,
    /** Python attributes (`t.foo = 1`): newer torch then wraps the tensor in _rebuild_from_type_v2. */
    readonly attributes?: Record<string, PyValue>,
  ) {}
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyFloat
  | PyTuple
  | PyOrderedDict
  | PyGlobal
  | PyCall
  | TorchTensor
  | PyValue[]
  | Map<string | number, PyValue>
  | { [key: string]: PyValue };

export interface TensorSpec {
  shape: number[];
  data: Float32Array;
  dtype?: Dtype;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] ?? 1;
  }
  return strides;
}

/** A contiguous tensor with its own storage (`data` row-major; a 0-d tensor has shape []). */
export function tensor(shape: number[], data: Float32Array, dtype: Dtype = 'F32'): TorchTensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== data.length) throw new Error(`shape [${shape.join(', ')}] needs ${numel} values, got ${data.length}`);
  return new TorchTensor(new TorchStorage(data, dtype), shape, contiguousStrides(shape));
}

/** A 2-D tensor's `.t()`: the same storage, strides swapped (non-contiguous). */
export function transposed(t: TorchTensor): TorchTensor {
  const [r, c] = t.shape;
  const [sr, sc] = t.strides;
  if (t.shape.length !== 2 || r === undefined || c === undefined || sr === undefined || sc === undefined) {
    throw new Error('transposed() needs a 2-D tensor');
  }
  return new TorchTensor(t.storage, [c, r], [sc, sr], t.offset);
}

/** An OrderedDict of fresh tensors, as `model.state_dict()`. */
export function stateDict(tensors: Record<string, TensorSpec | TorchTensor>): PyOrderedDict {
  const out = new Map<string, PyValue>();
  for (const [name, t] of Object.entries(tensors)) {
    out.set(name, t instanceof TorchTensor ? t : tensor(t.shape, t.data, t.dtype));
  }
  return new PyOrderedDict(out);
}

// ---------------------------------------------------------------- pickle

/** Python's pickle batches APPENDS/SETITEMS by 1000; so do we. */
const BATCH = 1000;

class PickleWriter {
  private readonly chunks: Buffer[] = [];
  /** Storages in order of first use; their index is their key. */
  readonly storages = new Map<TorchStorage, string>();

  constructor(private readonly protocol: 2 | 4) {}

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  op(...codes: number[]): void {
    this.chunks.push(Buffer.from(codes));
  }
  raw(b: Buffer): void {
    this.chunks.push(b);
  }

  value(v: PyValue): void {
    if (v === null) return this.op(0x4e);
    if (typeof v === 'boolean') return this.op(v ? 0x88 : 0x89);
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(v) : this.float(v);
    if (typeof v === 'bigint') return this.long(v);
    if (typeof v === 'string') return this.str(v);
    if (v instanceof PyFloat) return this.float(v.value);
    if (v instanceof PyTuple) return this.tuple(v.items);
    if (v instanceof PyGlobal) return this.global(v.module, v.name);
    if (v instanceof PyCall) return this.call(v.fn, v.args.items);
    if (v instanceof TorchTensor) return this.tensor(v);
    if (v instanceof PyOrderedDict) return this.orderedDict(v);
    if (Array.isArray(v)) return this.list(v);
    this.op(0x7d); // EMPTY_DICT
    this.items(v instanceof Map ? [...v] : Object.entries(v));
  }

  private int(v: number): void {
    if (v >= 0 && v < 256) return this.op(0x4b, v); // BININT1
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8); // BININT2
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = 0x4a; // BININT
      b.writeInt32LE(v, 1);
      return this.raw(b);
    }
    this.long(BigInt(v));
  }
  /** LONG1: minimal little-endian two's complement. */
  private long(v: bigint): void {
    const bytes: number[] = [];
    let x = v;
    while (true) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const sign = (bytes.at(-1) ?? 0) & 0x80;
      if ((x === 0n && !sign) || (x === -1n && sign)) break;
    }
    this.op(0x8a, bytes.length, ...bytes);
  }
  private float(v: number): void {
    const b = Buffer.alloc(9);
    b[0] = 0x47; // BINFLOAT, big-endian
    b.writeDoubleBE(v, 1);
    this.raw(b);
  }
  private str(s: string): void {
    const utf = Buffer.from(s, 'utf8');
    if (this.protocol >= 4 && utf.length < 256) return this.raw(Buffer.concat([Buffer.from([0x8c, utf.length]), utf]));
    const head = Buffer.alloc(5);
    head[0] = 0x58; // BINUNICODE
    head.writeUInt32LE(utf.length, 1);
    this.raw(Buffer.concat([head, utf]));
  }
  private tuple(items: readonly PyValue[]): void {
    if (items.length === 0) return this.op(0x29);
    if (items.length > 3) this.op(0x28); // MARK
    for (const x of items) this.value(x);
    this.op(items.length > 3 ? 0x74 : 0x84 + items.length); // TUPLE or TUPLE1..3
  }
  private list(items: readonly PyValue[]): void {
    this.op(0x5d); // EMPTY_LIST
    for (let i = 0; i < items.length; i += BATCH) {
      this.op(0x28);
      for (const x of items.slice(i, i + BATCH)) this.value(x);
      this.op(0x65); // APPENDS
    }
  }
  private items(entries: [PyValue, PyValue][]): void {
    for (let i = 0; i < entries.length; i += BATCH) {
      this.op(0x28);
      for (const [k, x] of entries.slice(i, i + BATCH)) {
        this.value(k);
        this.value(x);
      }
      this.op(0x75); // SETITEMS
    }
  }
  global(module: string, name: string): void {
    this.op(0x63); // GLOBAL
    this.raw(Buffer.from(`${module}\n${name}\n`, 'utf8'));
  }
  private call(fn: PyGlobal, args: readonly PyValue[]): void {
    this.global(fn.module, fn.name);
    this.tuple(args);
    this.op(0x52); // REDUCE
  }
  private orderedDict(d: PyOrderedDict): void {
    this.call(new PyGlobal('collections', 'OrderedDict'), []);
    this.items(d.entries instanceof Map ? [...d.entries] : Object.entries(d.entries));
  }

  private tensor(t: TorchTensor): void {
    if (t.attributes) {
      // _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, (args...), state), as torch >= 1.13.
      this.global('torch._tensor', '_rebuild_from_type_v2');
      this.op(0x28);
      this.global('torch._utils', '_rebuild_tensor_v2');
      this.global('torch', 'Tensor');
      this.op(0x28);
      this.tensorArgs(t);
      this.op(0x74); // TUPLE of the args
      this.value(t.attributes);
      this.op(0x74, 0x52);
      return;
    }
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28); // MARK for the 6 arguments
    this.tensorArgs(t);
    this.op(0x74, 0x52); // TUPLE, REDUCE
  }
  private tensorArgs(t: TorchTensor): void {
    this.storage(t.storage);
    this.int(t.offset);
    this.tuple([...t.shape]);
    this.tuple([...t.strides]);
    this.op(0x89); // requires_grad False
    this.orderedDict(new PyOrderedDict({})); // backward hooks
  }
  private storage(s: TorchStorage): void {
    let key = this.storages.get(s);
    if (key === undefined) {
      key = String(this.storages.size);
      this.storages.set(s, key);
    }
    const type = { F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage' }[s.dtype];
    this.tuple(['storage', new PyGlobal('torch', type), key, 'cpu', s.declaredNumel ?? s.data.length]);
    this.op(0x51); // BINPERSID
  }
}

/** A pickle of `v`: protocol 2 as torch.save writes, or 4 as Python 3.8+'s pickle.dump (meta.pkl). */
export function encodePickle(v: PyValue, protocol: 2 | 4 = 2): Buffer {
  const w = new PickleWriter(protocol);
  w.value(v);
  w.op(0x2e); // STOP
  const body = w.bytes();
  const proto = Buffer.from([0x80, protocol]);
  if (protocol < 4) return Buffer.concat([proto, body]);
  // Protocol 4 wraps the body in a FRAME (a read-ahead length hint), as CPython does.
  const frame = Buffer.alloc(9);
  frame[0] = 0x95;
  frame.writeBigUInt64LE(BigInt(body.length), 1);
  return Buffer.concat([proto, frame, body]);
}

function storageBytes(s: TorchStorage): Buffer {
  const size = s.dtype === 'F32' ? 4 : 2;
  const out = Buffer.alloc(s.data.length * size);
  s.data.forEach((v, i) => {
    if (s.dtype === 'F32') out.writeFloatLE(v, i * 4);
    else out.writeUInt16LE(s.dtype === 'F16' ? f32ToF16(v) : f32ToBf16(v), i * 2);
  });
  return out;
}

// ---------------------------------------------------------------- zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntryInput {
  name: string;
  data: Uint8Array;
  /** Write this compression method in the headers (the data is NOT compressed): to test refusals. */
  method?: number;
  /** Declare this size in the central directory instead of the real one: to test truncation. */
  declaredSize?: number;
}

/** Local header for `e` at `offset`, with an "FB" extra field padding its data to 64 bytes. */
function localHeader(e: ZipEntryInput, name: Buffer, offset: number, crc: number): Buffer {
  const bare = offset + 30 + name.length;
  let pad = (64 - (bare % 64)) % 64;
  if (pad > 0 && pad < 4) pad += 64;
  const h = Buffer.alloc(30 + name.length + pad);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(e.method ?? 0, 8);
  h.writeUInt16LE(0x21, 12); // 1980-01-01, as torch writes
  h.writeUInt32LE(crc, 14);
  h.writeUInt32LE(e.declaredSize ?? e.data.length, 18);
  h.writeUInt32LE(e.declaredSize ?? e.data.length, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(pad, 28);
  name.copy(h, 30);
  if (pad) {
    h.writeUInt16LE(0x4246, 30 + name.length); // "FB"
    h.writeUInt16LE(pad - 4, 32 + name.length);
  }
  return h;
}

function centralHeader(e: ZipEntryInput, name: Buffer, offset: number, crc: number): Buffer {
  const c = Buffer.alloc(46 + name.length);
  c.writeUInt32LE(0x02014b50, 0);
  c.writeUInt16LE(20, 4);
  c.writeUInt16LE(20, 6);
  c.writeUInt16LE(e.method ?? 0, 10);
  c.writeUInt16LE(0x21, 14);
  c.writeUInt32LE(crc, 16);
  c.writeUInt32LE(e.declaredSize ?? e.data.length, 20);
  c.writeUInt32LE(e.declaredSize ?? e.data.length, 24);
  c.writeUInt16LE(name.length, 28);
  c.writeUInt32LE(offset, 42);
  name.copy(c, 46);
  return c;
}

/** A zip of stored entries, each entry's data 64-byte aligned (as torch's PyTorchStreamWriter). */
export function buildZip(entries: ZipEntryInput[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const local = localHeader(e, name, offset, crc);
    central.push(centralHeader(e, name, offset, crc));
    parts.push(local, Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength));
    offset += local.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, eocd]);
}

// ---------------------------------------------------------------- torch files

/** The zip entries of `torch.save(root, "<archive>.pt")`, in torch's order; tests alter them. */
export function torchEntries(root: PyValue, archive = 'archive'): ZipEntryInput[] {
  const w = new PickleWriter(2);
  w.value(root);
  w.op(0x2e);
  const pkl = Buffer.concat([Buffer.from([0x80, 0x02]), w.bytes()]);
  const entries: ZipEntryInput[] = [
    { name: `${archive}/data.pkl`, data: pkl },
    { name: `${archive}/byteorder`, data: Buffer.from('little') },
  ];
  for (const [s, key] of w.storages) entries.push({ name: `${archive}/data/${key}`, data: storageBytes(s) });
  entries.push({ name: `${archive}/version`, data: Buffer.from('3\n') });
  return entries;
}

/** The bytes of `torch.save(root, "<archive>.pt")`. */
export function encodeTorchFile(root: PyValue, archive = 'archive'): Buffer {
  return buildZip(torchEntries(root, archive));
}

/** `torch.save(model.state_dict(), path)`: a bare OrderedDict of tensors. */
export function encodeStateDict(tensors: Record<string, TensorSpec | TorchTensor>, archive = 'archive'): Buffer {
  return encodeTorchFile(stateDict(tensors), archive);
}
