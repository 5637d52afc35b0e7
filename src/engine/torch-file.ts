/** Opens a checkpoint or pickle for reading: only a regular file (that error is kept as is), any other failure as a TorchFileError naming the file. */
function openPickleFile(path: string): number {
  try {
    return openRegularFile(path);
  } catch (e) {
    if (e instanceof NotRegularFileError) throw e;
    throw new TorchFileError(path, `cannot open: ${(e as Error).message}`);
  }
}

/**
 * Reads PyTorch checkpoints (`torch.save`, zip format since torch 1.6) without running anything:
 * nanoGPT's ckpt.pt, a book's model.pth (a bare state dict or a checkpoint dict), and plain
 * pickles such as nanoGPT's meta.pkl.
 *
 * A .pt file is a zip of stored (uncompressed, 64-byte aligned) entries: `<archive>/data.pkl`
 * (the pickled object, tensors replaced by persistent ids), `<archive>/data/<key>` (one raw
 * storage each), `<archive>/byteorder` and `<archive>/version`. We read the zip central directory
 * ourselves so a 1.5 GB checkpoint is never read whole: only data.pkl is loaded, tensors become
 * lazy TensorRefs and `readF32` reads just the bytes one tensor needs. The pickle goes through
 * the restricted unpickler (pickle.ts) with an allow-list of the globals torch.save writes for
 * tensors; anything else (`os.system`, a model class pickled whole) is refused by name.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { openRegularFile, NotRegularFileError } from './regular-file';
import { decodeToF32, type Dtype } from './safetensors';
import {
  ORDERED_DICT,
  PickleError,
  PickleGlobal,
  PickleOpaque,
  PickleTuple,
  describeValue,
  toJsonLike,
  unpickle,
  type GlobalHandler,
  type JsonValue,
  type PickleValue,
} from './pickle';

export class TorchFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${basename(file)}: ${problem}`);
    this.name = 'TorchFileError';
  }
}

/** Storage element types; only F32/F16/BF16 decode to floats, the rest load as references. */
export type TorchDtype = Dtype | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const STORAGE_DTYPES: Record<string, TorchDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
export const DTYPE_SIZE: Record<TorchDtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
/** torch dtype objects (`torch.float16`) a newer torch may pickle as plain values, e.g. in a config. */
const TORCH_DTYPE_NAMES = ['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

const MAX_RANK = 8;
/** data.pkl is small (GPT-2: ~30 kB, with an optimizer ~100 kB); refuse absurd ones before reading. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
const MAX_CENTRAL_DIR_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 1_000_000;

export interface StorageRef {
  key: string;
  dtype: TorchDtype;
  /** Elements the pickle declares, checked against the entry's byte length. */
  numel: number;
  /** Absolute byte offset of the storage data in the file, and its byte length. */
  fileOffset: number;
  byteLength: number;
}

/** A tensor not yet read: a strided view into one storage (tied weights share a storage). */
export interface TensorRef {
  dtype: TorchDtype;
  shape: number[];
  /** In elements, as torch stores them. */
  strides: number[];
  storage: StorageRef;
  /** In elements from the start of the storage. */
  offset: number;
}

const TENSOR_TAG = 'tensor';
const STORAGE_TYPE_TAG = 'storage type';

export function isTensor(v: PickleValue | undefined): v is PickleOpaque<TensorRef> {
  return v instanceof PickleOpaque && v.tag === TENSOR_TAG;
}

// ---------------------------------------------------------------- zip directory

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  compressedSize: number;
  size: number;
  crc: number;
  localOffset: number;
}

/** The zip central directory, read from the end of the file; entry data is read on demand. */
class ZipIndex {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fileSize: number;
  /** Where the central directory begins: every entry's data must end before it. */
  private cdStart = 0;

  constructor(
    private readonly path: string,
    private readonly fd: number,
  ) {
    this.fileSize = fstatSync(fd).size;
    this.readCentralDirectory();
  }

  fail(problem: string): never {
    throw new TorchFileError(this.path, problem);
  }

  read(position: number, length: number, what: string): Buffer {
    if (position < 0 || length < 0 || position + length > this.fileSize) {
      this.fail(
        `${what} (bytes ${position}..${position + length}) lies past the end of the ${this.fileSize}-byte file (truncated?)`,
      );
    }
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) this.fail(`file ended while reading ${what} (truncated?)`);
      done += n;
    }
    return buf;
  }

  private readCentralDirectory(): void {
    const head = this.read(0, Math.min(4, this.fileSize), 'file header');
    if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) {
      if (head[0] === 0x80) {
        this.fail(
          'legacy (pre-1.6) torch.save format is not supported; re-save it with torch >= 1.6: torch.save(torch.load(f), f)',
        );
      }
      this.fail('not a PyTorch zip checkpoint (no zip signature at the start)');
    }
    const { rec, at } = this.findEocd();
    let count = rec.readUInt16LE(10);
    let cdSize = rec.readUInt32LE(12);
    let cdOffset = rec.readUInt32LE(16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      ({ count, cdSize, cdOffset } = this.zip64Eocd(at));
    }
    if (count > MAX_ENTRIES) this.fail(`zip claims ${count} entries; refusing more than ${MAX_ENTRIES}`);
    if (cdSize > MAX_CENTRAL_DIR_BYTES) this.fail(`zip central directory of ${cdSize} bytes is implausibly large`);
    this.cdStart = cdOffset;
    const cd = this.read(cdOffset, cdSize, 'zip central directory');
    let p = 0;
    for (let i = 0; i < count; i++) p = this.parseCentralEntry(cd, p);
  }

  /** End-of-central-directory record: in the last 22..65557 bytes of the file. */
  private findEocd(): { rec: Buffer; at: number } {
    const tailLen = Math.min(this.fileSize, 22 + 0xffff);
    const tailStart = this.fileSize - tailLen;
    const tail = this.read(tailStart, tailLen, 'end of the zip');
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) return { rec: tail.subarray(i, i + 22), at: tailStart + i };
    }
    return this.fail('no zip end-of-central-directory record (truncated, or not a checkpoint)');
  }

  /** Zip64 (files over 4 GB): the locator sits 20 bytes before the classic record. */
  private zip64Eocd(eocdAt: number): { count: number; cdSize: number; cdOffset: number } {
    const loc = this.read(eocdAt - 20, 20, 'zip64 locator');
    if (loc.readUInt32LE(0) !== 0x07064b50) this.fail('zip64 end-of-central-directory locator missing');
    const recAt = this.safe(loc.readBigUInt64LE(8), 'zip64 record offset');
    const rec = this.read(recAt, 56, 'zip64 end-of-central-directory');
    if (rec.readUInt32LE(0) !== 0x06064b50) this.fail('zip64 end-of-central-directory record missing');
    return {
      count: this.safe(rec.readBigUInt64LE(32), 'entry count'),
      cdSize: this.safe(rec.readBigUInt64LE(40), 'central directory size'),
      cdOffset: this.safe(rec.readBigUInt64LE(48), 'central directory offset'),
    };
  }

  private safe(v: bigint, what: string): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`zip ${what} ${v} is out of range`);
    return Number(v);
  }

  private parseCentralEntry(cd: Buffer, p: number): number {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) this.fail('zip central directory is corrupt');
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cd.length) this.fail('zip central directory is corrupt (an entry runs past its end)');
    const entry: ZipEntry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      flags: cd.readUInt16LE(p + 8),
      method: cd.readUInt16LE(p + 10),
      crc: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localOffset: cd.readUInt32LE(p + 42),
    };
    this.applyZip64Extra(entry, cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen));
    this.entries.set(entry.name, entry);
    return end;
  }

  /** Sizes/offsets of 0xffffffff live in the zip64 extra field (id 1), in this order. */
  private applyZip64Extra(e: ZipEntry, extra: Buffer): void {
    if (e.size !== 0xffffffff && e.compressedSize !== 0xffffffff && e.localOffset !== 0xffffffff) return;
    for (let q = 0; q + 4 <= extra.length;) {
      const id = extra.readUInt16LE(q);
      const len = extra.readUInt16LE(q + 2);
      if (id === 1) {
        let r = q + 4;
        const next = (): number => {
          if (r + 8 > q + 4 + len || r + 8 > extra.length) this.fail(`zip64 field of "${e.name}" is short`);
          const v = this.safe(extra.readBigUInt64LE(r), 'size');
          r += 8;
          return v;
        };
        if (e.size === 0xffffffff) e.size = next();
        if (e.compressedSize === 0xffffffff) e.compressedSize = next();
        if (e.localOffset === 0xffffffff) e.localOffset = next();
        return;
      }
      q += 4 + len;
    }
    this.fail(`zip entry "${e.name}" needs a zip64 field and has none`);
  }

  /** Absolute offset of an entry's data, after checking it is stored and lies within the file. */
  dataRange(name: string): { offset: number; length: number } {
    const e = this.entries.get(name);
    if (!e) return this.fail(`checkpoint has no entry "${name}"`);
    if (e.flags & 1) this.fail(`entry "${name}" is encrypted`);
    if (e.method !== 0) {
      this.fail(
        `entry "${name}" is compressed (zip method ${e.method}); torch.save stores entries uncompressed — re-save with torch.save`,
      );
    }
    if (e.compressedSize !== e.size) this.fail(`entry "${name}" is stored but its sizes differ`);
    const local = this.read(e.localOffset, 30, `local header of "${name}"`);
    if (local.readUInt32LE(0) !== 0x04034b50) this.fail(`local header of "${name}" is corrupt`);
    const offset = e.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (offset + e.size > this.cdStart) {
      this.fail(`entry "${name}" (${e.size} bytes at ${offset}) runs into the central directory (truncated or corrupt file)`);
    }
    return { offset, length: e.size };
  }

  readEntry(name: string, max: number): Buffer {
    const { offset, length } = this.dataRange(name);
    if (length > max) this.fail(`entry "${name}" is ${length} bytes, more than the ${max}-byte limit`);
    return this.read(offset, length, `entry "${name}"`);
  }
}

// ---------------------------------------------------------------- tensors

/** Checks a shape/stride/offset view fits its storage; returns the elements it spans. */
function viewExtent(shape: number[], strides: number[], offset: number): number {
  if (shape.some((d) => d === 0)) return 0;
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += ((shape[i] ?? 1) - 1) * (strides[i] ?? 0);
  return last + 1;
}

function intTuple(v: PickleValue, what: string, fail: (p: string) => never): number[] {
  if (!(v instanceof PickleTuple) || v.items.length > MAX_RANK) fail(`${what} is not a tuple of at most ${MAX_RANK} ints`);
  return (v as PickleTuple).items.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
      fail(`${what} holds ${JSON.stringify(String(x))}, not a size`);
    return x as number;
  });
}

export interface OpenTorchOptions {
  /** Extra "module.name" globals to accept, with their handlers (none needed for state dicts). */
  extraGlobals?: ReadonlyMap<string, GlobalHandler>;
}

export class TorchFile {
  /** The unpickled object: a Map for dicts, TensorRefs (wrapped, see isTensor) for tensors. */
  readonly root: PickleValue;
  readonly storages = new Map<string, StorageRef>();
  private readonly zip: ZipIndex;
  private readonly prefix: string;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    opts: OpenTorchOptions,
  ) {
    this.zip = new ZipIndex(path, fd);
    this.prefix = this.findPrefix();
    this.checkByteOrder();
    const pkl = this.zip.readEntry(`${this.prefix}data.pkl`, MAX_PICKLE_BYTES);
    this.root = this.unpickleData(pkl, opts);
  }

  static open(path: string, opts: OpenTorchOptions = {}): TorchFile {
    const fd = openPickleFile(path);
    try {
      return new TorchFile(path, fd, opts);
    } catch (e) {
      closeSync(fd);
      if (e instanceof PickleError) throw new TorchFileError(path, e.message + wholeModelHint(e.message));
      throw e;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private fail(problem: string): never {
    throw new TorchFileError(this.path, problem);
  }

  /** torch names the top folder after the file (or "archive"); find it through data.pkl. */
  private findPrefix(): string {
    const names = [...this.zip.entries.keys()];
    const top = names.filter((n) => (n === 'data.pkl' || n.endsWith('/data.pkl')) && n.split('/').length <= 2);
    if (top.length === 0) this.fail('zip has no data.pkl: not a torch.save checkpoint');
    if (top.length > 1) this.fail(`zip has ${top.length} data.pkl entries; expected one`);
    const prefix = (top[0] as string).slice(0, -'data.pkl'.length);
    // torch.jit.save archives also hold a data.pkl, but of TorchScript classes (and code/).
    if (this.zip.entries.has(`${prefix}constants.pkl`) || names.some((n) => n.startsWith(`${prefix}code/`))) {
      this.fail('this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save model.state_dict() instead');
    }
    return prefix;
  }

  /** torch >= 2.1 records the byte order; older files are little-endian. */
  private checkByteOrder(): void {
    const name = `${this.prefix}byteorder`;
    if (!this.zip.entries.has(name)) return;
    const order = this.zip.readEntry(name, 64).toString('latin1').trim();
    if (order !== 'little') this.fail(`checkpoint byte order is "${order}"; only little-endian checkpoints are supported`);
  }

  private unpickleData(pkl: Buffer, opts: OpenTorchOptions): PickleValue {
    const globals: Map<string, GlobalHandler> = new Map<string, GlobalHandler>([
      ['collections.OrderedDict', ORDERED_DICT],
      ['torch._utils._rebuild_tensor_v2', { call: (a) => this.rebuildTensor(a) }],
      ['torch._utils._rebuild_tensor', { call: (a) => this.rebuildTensor(a) }],
      ['torch._utils._rebuild_parameter', { call: (a) => this.rebuildParameter(a) }],
      ['torch._utils._rebuild_parameter_with_state', { call: (a) => this.rebuildParameter(a) }],
      // Newer torch wraps a tensor that carries Python attributes: (func, type, args, state).
      ['torch._tensor._rebuild_from_type_v2', { call: (a): PickleValue => this.rebuildFromType(a, globals) }],
      ['torch.Tensor', {}],
      ['torch.nn.parameter.Parameter', {}],
      ['torch.device', { call: (a) => a.map((x) => String(x)).join(':') }],
      ['builtins.set', { call: (a) => new Set(Array.isArray(a[0]) ? a[0] : []) }],
      // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1'); harmless to decode.
      ['_codecs.encode', { call: (a) => latin1Bytes(a) }],
      ['torch.Size', { call: (a) => (a[0] instanceof PickleTuple ? a[0] : new PickleTuple([])) }],
      ...Object.keys(STORAGE_DTYPES).map((n): [string, GlobalHandler] => [`torch.${n}`, {}]),
      ...TORCH_DTYPE_NAMES.map((n): [string, GlobalHandler] => [`torch.${n}`, {}]),
      ...(opts.extraGlobals ?? []),
    ]);
    return unpickle(pkl, {
      globals,
      persistentLoad: (pid) => this.loadStorage(pid),
      source: `${this.prefix}data.pkl`,
    });
  }

  /** Persistent id `('storage', torch.FloatStorage, key, location, numel)` → the storage entry. */
  private loadStorage(pid: PickleValue): PickleValue {
    const items = pid instanceof PickleTuple ? pid.items : [];
    const [kind, type, key, , numel] = items;
    if (kind !== 'storage' || items.length !== 5)
      this.fail(`unsupported persistent id (${describeValue(pid)}): expected a torch storage`);
    if (!(type instanceof PickleGlobal) || !(type.name in STORAGE_DTYPES)) {
      this.fail(`storage has unsupported type ${describeValue(type)}`);
    }
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key))
      this.fail(`storage key ${JSON.stringify(String(key))} is invalid`);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) this.fail(`storage "${key}" has a bad size`);
    const dtype = STORAGE_DTYPES[(type as PickleGlobal).name] as TorchDtype;
    const seen = this.storages.get(key as string);
    if (seen) {
      if (seen.dtype !== dtype || seen.numel !== numel)
        this.fail(`storage "${key}" is declared twice with different types or sizes`);
      return new PickleOpaque(STORAGE_TYPE_TAG, seen);
    }
    const range = this.zip.dataRange(`${this.prefix}data/${key}`);
    const bytes = (numel as number) * DTYPE_SIZE[dtype];
    if (bytes > range.length) {
      this.fail(
        `storage "${key}" declares ${numel} ${dtype} elements (${bytes} bytes) but its entry holds ${range.length} bytes`,
      );
    }
    const ref: StorageRef = { key: key as string, dtype, numel: numel as number, fileOffset: range.offset, byteLength: bytes };
    this.storages.set(key as string, ref);
    return new PickleOpaque(STORAGE_TYPE_TAG, ref);
  }

  /** `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`. */
  private rebuildTensor(args: readonly PickleValue[]): PickleValue {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof PickleOpaque) || storage.tag !== STORAGE_TYPE_TAG) this.fail('tensor without a storage');
    const st = (storage as PickleOpaque<StorageRef>).value;
    const fail = (p: string): never => this.fail(`tensor on storage "${st.key}": ${p}`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail('bad storage offset');
    const shape = intTuple(size ?? null, 'size', fail);
    const strides = intTuple(stride ?? null, 'stride', fail);
    if (strides.length !== shape.length) fail(`size has ${shape.length} dims but stride ${strides.length}`);
    const extent = viewExtent(shape, strides, offset as number);
    if (!Number.isSafeInteger(extent) || extent > st.numel) {
      fail(
        `view of size [${shape.join(', ')}] stride [${strides.join(', ')}] at offset ${offset} reaches past the storage's ${st.numel} elements`,
      );
    }
    const ref: TensorRef = { dtype: st.dtype, shape, strides, storage: st, offset: offset as number };
    return new PickleOpaque(TENSOR_TAG, ref);
  }

  /** `_rebuild_parameter(data, requires_grad, hooks)`: a Parameter is its tensor for us. */
  private rebuildParameter(args: readonly PickleValue[]): PickleValue {
    if (!isTensor(args[0])) this.fail('parameter without a tensor');
    return args[0] as PickleValue;
  }

  /**
   * `_rebuild_from_type_v2(func, new_type, args, state)`: calls `func` (itself allow-listed) on
   * `args` and drops the attributes in `state`; only plain tensors and Parameters, no subclasses.
   */
  private rebuildFromType(args: readonly PickleValue[], globals: ReadonlyMap<string, GlobalHandler>): PickleValue {
    const [func, type, inner] = args;
    const typeName = type instanceof PickleGlobal ? type.qualifiedName : describeValue(type);
    if (typeName !== 'torch.Tensor' && typeName !== 'torch.nn.parameter.Parameter')
      this.fail(`tensor subclass ${typeName} is not supported`);
    // Only torch._utils' rebuild functions: letting it call itself would let a pickle nest calls a million deep.
    const rebuild = func instanceof PickleGlobal && func.module === 'torch._utils';
    const handler = rebuild ? globals.get(func.qualifiedName) : undefined;
    if (!handler?.call || !(inner instanceof PickleTuple)) this.fail(`cannot rebuild a tensor with ${describeValue(func)}`);
    const out = (handler as Required<GlobalHandler>).call((inner as PickleTuple).items);
    if (!isTensor(out)) this.fail(`${describeValue(func)} did not make a tensor`);
    return out;
  }

  /** A tensor's values as float32 in row-major order (strided views are gathered). */
  readF32(ref: TensorRef): Float32Array {
    const { dtype, shape, strides, offset, storage } = ref;
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      this.fail(`tensor of dtype ${dtype} cannot be read as floats (supported: F32, F16, BF16)`);
    }
    const size = DTYPE_SIZE[dtype];
    const extent = viewExtent(shape, strides, offset);
    // Checked again here: refs can be made by hand. Nothing is allocated before this.
    if (extent * size > storage.byteLength || extent > storage.numel) {
      this.fail(`tensor view reaches past storage "${storage.key}" (${storage.numel} elements)`);
    }
    const numel = shape.reduce((a, b) => a * b, 1);
    if (numel === 0) return new Float32Array(0);
    const bytes = this.zip.read(storage.fileOffset + offset * size, (extent - offset) * size, `storage "${storage.key}"`);
    const flat = decodeToF32(dtype as Dtype, bytes);
    return isContiguous(shape, strides) ? flat : gather(flat, shape, strides, numel);
  }
}

/** `torch.save(model)` pickles the model's class; say how to save a loadable file instead. */
function wholeModelHint(message: string): string {
  const cls = /refusing to load global "(torch\.nn\.[^"]+|__main__\.[^"]+)"/.exec(message);
  return cls
    ? `. It looks like a whole model saved with torch.save(model); save torch.save(model.state_dict(), path) instead`
    : '';
}

function latin1Bytes(args: readonly PickleValue[]): PickleValue {
  const [text] = args;
  return typeof text === 'string' ? Uint8Array.from(Buffer.from(text, 'latin1')) : new Uint8Array(0);
}

function isContiguous(shape: number[], strides: number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if ((shape[i] ?? 1) !== 1 && strides[i] !== expect) return false;
    expect *= shape[i] ?? 1;
  }
  return true;
}

/** Row-major copy of a strided view; `flat` starts at the view's offset. */
function gather(flat: Float32Array, shape: number[], strides: number[], numel: number): Float32Array {
  const out = new Float32Array(numel);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < numel; i++) {
    out[i] = flat[src] ?? 0;
    // Odometer increment over the dims, last dim fastest.
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = (idx[d] ?? 0) + 1;
      src += strides[d] ?? 0;
      if ((idx[d] ?? 0) < (shape[d] ?? 1)) break;
      src -= (strides[d] ?? 0) * (shape[d] ?? 1);
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- state dicts

export interface FoundStateDict {
  /** Parameter name → tensor, in file order, with a uniform `_orig_mod.`/`module.` prefix removed. */
  tensors: Map<string, TensorRef>;
  /** Where it was found: "" for the root itself, else the root key ("model", "model_state_dict"...). */
  key: string;
  /** The prefix removed from every name (torch.compile's "_orig_mod.", DDP's "module."), or "". */
  strippedPrefix: string;
  /** The other top-level entries as JSON-like values; tensors become `{dtype, shape}` or, 0-d floats, numbers. */
  extras: Record<string, JsonValue>;
}

const STATE_DICT_KEYS = ['model', 'model_state_dict', 'state_dict'];
const STRIPPABLE_PREFIXES = ['_orig_mod.', 'module.'];

function asStateDict(v: PickleValue | undefined): Map<string, TensorRef> | null {
  if (!(v instanceof Map) || v.size === 0) return null;
  const out = new Map<string, TensorRef>();
  for (const [k, t] of v) {
    if (typeof k !== 'string' || !isTensor(t)) return null;
    out.set(k, t.value);
  }
  return out;
}

function stripPrefix(tensors: Map<string, TensorRef>): { tensors: Map<string, TensorRef>; prefix: string } {
  for (const prefix of STRIPPABLE_PREFIXES) {
    if ([...tensors.keys()].every((k) => k.startsWith(prefix))) {
      return { tensors: new Map([...tensors].map(([k, t]) => [k.slice(prefix.length), t])), prefix };
    }
  }
  return { tensors, prefix: '' };
}

/**
 * The state dict in a checkpoint: the root if all its values are tensors (a book's model.pth),
 * else root["model"] (nanoGPT), root["model_state_dict"] (the book's checkpoint) or root["state_dict"].
 */
export function findStateDict(file: TorchFile): FoundStateDict {
  const root = file.root;
  let key: string | null = null;
  let found = asStateDict(root);
  if (found) key = '';
  else if (root instanceof Map) {
    for (const k of STATE_DICT_KEYS) {
      found = asStateDict(root.get(k));
      if (found) {
        key = k;
        break;
      }
    }
  }
  if (!found || key === null) {
    const keys = root instanceof Map ? [...root.keys()].map((k) => JSON.stringify(k)).join(', ') : describeValue(root);
    throw new TorchFileError(
      file.path,
      `no state dict found: expected a dict of tensors or a "model"/"model_state_dict"/"state_dict" entry (top level: ${keys || 'empty'})`,
    );
  }
  const { tensors, prefix } = stripPrefix(found);
  const extras: Record<string, JsonValue> = {};
  if (key !== '' && root instanceof Map) {
    for (const [k, v] of root) {
      if (k === key) continue;
      try {
        extras[typeof k === 'string' ? k : String(k)] = toJsonLike(v, (o) => tensorSummary(file, o));
      } catch (e) {
        if (e instanceof TorchFileError) throw e;
        throw new TorchFileError(file.path, `entry ${JSON.stringify(k)}: ${(e as Error).message}`);
      }
    }
  }
  return { tensors, key, strippedPrefix: prefix, extras };
}

/** A 0-d float tensor (nanoGPT's best_val_loss) becomes its number; others their dtype and shape. */
function tensorSummary(file: TorchFile, o: PickleOpaque): JsonValue {
  if (!isTensor(o)) return `<${o.tag}>`;
  const t = o.value;
  if (t.shape.length === 0 && (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16')) return file.readF32(t)[0] ?? null;
  return { dtype: t.dtype, shape: t.shape };
}

// ---------------------------------------------------------------- plain pickles (meta.pkl)

const MAX_PLAIN_PICKLE_BYTES = 64 * 1024 * 1024;

/** A plain pickle file (not a zip), e.g. nanoGPT's meta.pkl. No globals are allowed. */
export function readPlainPickle(path: string): PickleValue {
  const fd = openPickleFile(path);
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_PLAIN_PICKLE_BYTES) throw new TorchFileError(path, `${size} bytes is too large for a vocabulary pickle`);
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    if (buf[0] !== 0x80) throw new TorchFileError(path, 'not a binary pickle (protocol 2 or newer)');
    return unpickle(buf.subarray(0, done), { source: basename(path) });
  } catch (e) {
    if (e instanceof PickleError) throw new TorchFileError(path, e.message.slice(basename(path).length + 2));
    throw e;
  } finally {
    closeSync(fd);
  }
}

export interface CharVocab {
  vocabSize: number;
  /** id → character(s), as nanoGPT's `itos`. */
  itos: Map<number, string>;
  stoi: Map<string, number>;
}

/** nanoGPT's shakespeare_char meta.pkl: `{vocab_size, itos: {int: str}, stoi: {str: int}}`, checked. */
export function readCharVocab(path: string): CharVocab {
  const root = readPlainPickle(path);
  const fail = (p: string): never => {
    throw new TorchFileError(path, p);
  };
  if (!(root instanceof Map)) return fail(`expected a dict, found a ${describeValue(root)}`);
  const vocabSize = root.get('vocab_size');
  const itos = root.get('itos');
  const stoi = root.get('stoi');
  if (typeof vocabSize !== 'number' || !Number.isSafeInteger(vocabSize) || vocabSize <= 0)
    fail('vocab_size is not a positive int');
  if (!(itos instanceof Map) || !(stoi instanceof Map)) return fail('itos and stoi must be dicts');
  const out: CharVocab = { vocabSize: vocabSize as number, itos: new Map(), stoi: new Map() };
  for (const [k, v] of itos) {
    if (typeof k !== 'number' || typeof v !== 'string' || k < 0 || k >= out.vocabSize)
      fail(`itos entry ${String(k)} is not id → string`);
    out.itos.set(k as number, v as string);
  }
  for (const [k, v] of stoi) {
    if (typeof k !== 'string' || typeof v !== 'number' || v < 0 || v >= out.vocabSize)
      fail(`stoi entry ${String(k)} is not string → id`);
    out.stoi.set(k as string, v as number);
  }
  return out;
}
