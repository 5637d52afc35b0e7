/**
 * A restricted unpickler for the pickles inside PyTorch checkpoints (data.pkl) and nanoGPT's meta.pkl.
 *
 * Why by hand: Python's pickle is a small stack machine whose GLOBAL/REDUCE opcodes call any
 * importable function, so a checkpoint from the internet can run `os.system`. The npm pickle
 * parsers (pickleparser 0.2.x, the largest) resolve every global to a generic object or to a
 * caller-supplied registry without refusing unknown names, are barely maintained, and put no bounds
 * on sizes; none is safe to point at an untrusted file. The subset torch.save and pickle.dump write
 * for state dicts and vocabularies is ~45 opcodes, so we implement exactly those.
 *
 * Safety: nothing in a file is ever executed. A global is looked up in the caller's allow-list and
 * any other name is refused by name. REDUCE/NEWOBJ/BUILD only call the caller's own handlers.
 * Every length is checked against the remaining bytes before anything is allocated, and opcodes,
 * stack, mark stack and memo are capped, so a hostile pickle fails fast with a PickleError.
 */

/** A Python tuple; kept apart from lists so callers can tell `(1, 2)` from `[1, 2]`. */
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A global from the allow-list that was pushed but not (yet) called, e.g. `torch.float16`. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object a handler builds (a tensor reference, a storage type...); opaque to the unpickler. */
export class PickleOpaque<T = unknown> {
  constructor(
    readonly tag: string,
    readonly value: T,
  ) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | PickleGlobal
  | PickleOpaque;

/** How an allow-listed global behaves. A global without `call` may only be pushed as a value. */
export interface GlobalHandler {
  /** REDUCE (`f(*args)`) and NEWOBJ (`cls.__new__(cls, *args)`) on this global. */
  call?: (args: readonly PickleValue[]) => PickleValue;
  /** BUILD (`obj.__setstate__(state)`) on an object this global made; default: Maps ignore state. */
  build?: (obj: PickleValue, state: PickleValue) => PickleValue;
}

export interface UnpickleOptions {
  /** "module.name" → handler. Every global not listed is refused. */
  globals?: ReadonlyMap<string, GlobalHandler>;
  /** BINPERSID; without it a persistent id is an error. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Name used in error messages (the file, or "ckpt.pt: archive/data.pkl"). */
  source?: string;
  maxOps?: number;
  maxStack?: number;
  maxMarks?: number;
  maxMemo?: number;
}

export class PickleError extends Error {
  constructor(source: string, problem: string) {
    super(`${source}: ${problem}`);
    this.name = 'PickleError';
  }
}

/** Bounds generous for any real checkpoint (a GPT-2 data.pkl runs ~20k opcodes). */
export const PICKLE_LIMITS = { maxOps: 5_000_000, maxStack: 1_000_000, maxMarks: 10_000, maxMemo: 2_000_000 };

const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_TUPLE: 0x29, // )
  SHORT_BINBYTES: 0x43, // C
  BINBYTES: 0x42, // B
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Machine {
  private pos = 0;
  private readonly stack: PickleValue[] = [];
  /** Stack heights at each MARK (kept apart from the values, so no value can pose as a mark). */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  /** Which global built each object, so BUILD can ask that global's handler. */
  private readonly madeBy = new WeakMap<object, GlobalHandler>();
  private readonly view: DataView;
  private readonly globals: ReadonlyMap<string, GlobalHandler>;
  private readonly limits: typeof PICKLE_LIMITS;
  private readonly source: string;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.globals = opts.globals ?? new Map();
    this.source = opts.source ?? 'pickle';
    this.limits = {
      maxOps: opts.maxOps ?? PICKLE_LIMITS.maxOps,
      maxStack: opts.maxStack ?? PICKLE_LIMITS.maxStack,
      maxMarks: opts.maxMarks ?? PICKLE_LIMITS.maxMarks,
      maxMemo: opts.maxMemo ?? PICKLE_LIMITS.maxMemo,
    };
  }

  fail(problem: string): never {
    throw new PickleError(this.source, problem);
  }

  run(): PickleValue {
    for (let ops = 0; ops < this.limits.maxOps; ops++) {
      if (this.pos >= this.bytes.length) this.fail(`pickle ends at byte ${this.pos} without a STOP opcode (truncated?)`);
      const at = this.pos;
      const op = this.u8();
      if (op === OP.STOP) return this.finish();
      this.step(op, at);
      if (this.stack.length > this.limits.maxStack) this.fail(`stack grew past ${this.limits.maxStack} entries`);
    }
    return this.fail(`more than ${this.limits.maxOps} opcodes; refusing to continue`);
  }

  private finish(): PickleValue {
    if (this.marks.length) this.fail('STOP with an unclosed MARK');
    if (this.stack.length !== 1) this.fail(`STOP with ${this.stack.length} values on the stack (expected 1)`);
    return this.stack[0] ?? null;
  }

  // ---- byte reading, every length checked against what is left ----

  private need(n: number, what: string): void {
    if (n < 0 || !Number.isSafeInteger(n) || this.pos + n > this.bytes.length) {
      this.fail(`${what} needs ${n} bytes at byte ${this.pos} but only ${this.bytes.length - this.pos} remain (truncated?)`);
    }
  }
  private u8(): number {
    this.need(1, 'opcode argument');
    return this.bytes[this.pos++] ?? 0;
  }
  private u16(): number {
    this.need(2, 'opcode argument');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4, 'opcode argument');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    this.need(4, 'opcode argument');
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8, 'opcode argument');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Anything past the safe range is longer than any pickle we accept; `need` will refuse it.
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
  }
  private take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  private text(n: number): string {
    try {
      return utf8.decode(this.take(n, 'string'));
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return this.fail(`string at byte ${this.pos - n} is not valid UTF-8`);
    }
  }
  /** GLOBAL's "module\nname\n" arguments: read up to a newline, at most 256 bytes. */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0 || end - this.pos > 256) this.fail(`GLOBAL at byte ${this.pos - 1} has no name line (truncated?)`);
    const s = utf8.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  // ---- stack ----

  private push(v: PickleValue): void {
    this.stack.push(v);
  }
  private pop(): PickleValue {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail(`stack underflow at byte ${this.pos - 1}`);
    return this.stack.pop() as PickleValue;
  }
  private top(): PickleValue {
    if (this.stack.length <= (this.marks.at(-1) ?? 0)) this.fail(`stack underflow at byte ${this.pos - 1}`);
    return this.stack[this.stack.length - 1] as PickleValue;
  }
  /** Everything above the last MARK, removing the mark. */
  private popMark(): PickleValue[] {
    const h = this.marks.pop();
    if (h === undefined) this.fail(`opcode at byte ${this.pos - 1} needs a MARK but there is none`);
    return this.stack.splice(h);
  }
  private memoPut(i: number): void {
    if (this.memo.size >= this.limits.maxMemo && !this.memo.has(i)) this.fail(`memo grew past ${this.limits.maxMemo} entries`);
    this.memo.set(i, this.top());
  }
  private memoGet(i: number): void {
    if (!this.memo.has(i)) this.fail(`memo key ${i} read before it was written`);
    this.push(this.memo.get(i) as PickleValue);
  }

  // ---- opcodes ----

  private step(op: number, at: number): void {
    if (this.scalar(op)) return;
    if (this.container(op)) return;
    if (this.memoOp(op)) return;
    if (this.call(op)) return;
    this.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
  }

  /** Constants and framing. */
  private scalar(op: number): boolean {
    switch (op) {
      case OP.PROTO: {
        const p = this.u8();
        if (p > 5) this.fail(`pickle protocol ${p} is newer than 5`);
        return true;
      }
      case OP.FRAME:
        this.u64(); // frames are only a read-ahead hint
        return true;
      case OP.NONE:
        this.push(null);
        return true;
      case OP.NEWTRUE:
        this.push(true);
        return true;
      case OP.NEWFALSE:
        this.push(false);
        return true;
      case OP.BININT:
        this.push(this.i32());
        return true;
      case OP.BININT1:
        this.push(this.u8());
        return true;
      case OP.BININT2:
        this.push(this.u16());
        return true;
      case OP.LONG1:
        this.push(this.long(this.u8()));
        return true;
      case OP.BINFLOAT:
        this.need(8, 'BINFLOAT');
        this.push(this.view.getFloat64(this.pos, false));
        this.pos += 8;
        return true;
      case OP.SHORT_BINUNICODE:
        this.push(this.text(this.u8()));
        return true;
      case OP.BINUNICODE:
        this.push(this.text(this.u32()));
        return true;
      case OP.BINUNICODE8:
        this.push(this.text(this.u64()));
        return true;
      case OP.SHORT_BINBYTES:
        this.push(this.take(this.u8(), 'bytes').slice());
        return true;
      case OP.BINBYTES:
        this.push(this.take(this.u32(), 'bytes').slice());
        return true;
      case OP.BINBYTES8:
        this.push(this.take(this.u64(), 'bytes').slice());
        return true;
      default:
        return false;
    }
  }

  /** LONG1: little-endian two's complement of n bytes; a number when it fits exactly. */
  private long(n: number): number | bigint {
    const b = this.take(n, 'LONG1');
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] ?? 0);
    if (n > 0 && (b[n - 1] ?? 0) & 0x80) v -= 1n << BigInt(8 * n);
    const small = Number(v);
    return Number.isSafeInteger(small) ? small : v;
  }

  /** Tuples, lists, dicts, sets, marks. */
  private container(op: number): boolean {
    switch (op) {
      case OP.MARK:
        if (this.marks.length >= this.limits.maxMarks) this.fail(`more than ${this.limits.maxMarks} nested MARKs`);
        this.marks.push(this.stack.length);
        return true;
      case OP.POP:
        this.pop();
        return true;
      case OP.POP_MARK:
        this.popMark();
        return true;
      case OP.DUP:
        this.push(this.top());
        return true;
      case OP.EMPTY_TUPLE:
        this.push(new PickleTuple([]));
        return true;
      case OP.TUPLE1:
      case OP.TUPLE2:
      case OP.TUPLE3: {
        const n = op - OP.TUPLE1 + 1;
        const items: PickleValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(this.pop());
        this.push(new PickleTuple(items));
        return true;
      }
      case OP.TUPLE:
        this.push(new PickleTuple(this.popMark()));
        return true;
      case OP.EMPTY_LIST:
        this.push([]);
        return true;
      case OP.LIST:
        this.push(this.popMark());
        return true;
      case OP.APPEND: {
        const v = this.pop();
        this.listAt().push(v);
        return true;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const list = this.listAt();
        for (const v of items) list.push(v);
        return true;
      }
      case OP.EMPTY_DICT:
        this.push(new Map());
        return true;
      case OP.DICT: {
        const d = new Map<PickleValue, PickleValue>();
        this.setPairs(d, this.popMark());
        this.push(d);
        return true;
      }
      case OP.SETITEM: {
        const v = this.pop();
        const k = this.pop();
        this.mapAt().set(k, v);
        return true;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        this.setPairs(this.mapAt(), items);
        return true;
      }
      case OP.EMPTY_SET:
        this.push(new Set());
        return true;
      case OP.ADDITEMS: {
        const items = this.popMark();
        const s = this.top();
        if (!(s instanceof Set)) this.fail(`ADDITEMS on a ${describeValue(s)}, not a set`);
        for (const v of items) s.add(v);
        return true;
      }
      case OP.FROZENSET:
        this.push(new Set(this.popMark()));
        return true;
      default:
        return false;
    }
  }

  private listAt(): PickleValue[] {
    const l = this.top();
    if (!Array.isArray(l)) this.fail(`APPEND on a ${describeValue(l)}, not a list`);
    return l;
  }
  private mapAt(): Map<PickleValue, PickleValue> {
    const d = this.top();
    if (!(d instanceof Map)) this.fail(`SETITEM on a ${describeValue(d)}, not a dict`);
    return d;
  }
  private setPairs(d: Map<PickleValue, PickleValue>, items: PickleValue[]): void {
    if (items.length % 2) this.fail('odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) d.set(items[i] as PickleValue, items[i + 1] as PickleValue);
  }

  private memoOp(op: number): boolean {
    switch (op) {
      case OP.MEMOIZE:
        this.memoPut(this.memo.size);
        return true;
      case OP.BINPUT:
        this.memoPut(this.u8());
        return true;
      case OP.LONG_BINPUT:
        this.memoPut(this.u32());
        return true;
      case OP.BINGET:
        this.memoGet(this.u8());
        return true;
      case OP.LONG_BINGET:
        this.memoGet(this.u32());
        return true;
      default:
        return false;
    }
  }

  /** Globals, calls, persistent ids: only through the caller's allow-list and handlers. */
  private call(op: number): boolean {
    switch (op) {
      case OP.GLOBAL: {
        const module = this.line();
        this.pushGlobal(module, this.line());
        return true;
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
        this.pushGlobal(module, name);
        return true;
      }
      case OP.REDUCE:
      case OP.NEWOBJ: {
        const args = this.pop();
        const fn = this.pop();
        if (!(args instanceof PickleTuple)) this.fail(`${op === OP.REDUCE ? 'REDUCE' : 'NEWOBJ'} arguments are not a tuple`);
        this.push(this.invoke(fn, args.items));
        return true;
      }
      case OP.BUILD: {
        const state = this.pop();
        const obj = this.pop();
        this.push(this.build(obj, state));
        return true;
      }
      case OP.BINPERSID: {
        const pid = this.pop();
        if (!this.opts.persistentLoad) this.fail('pickle uses a persistent id, which a plain pickle may not');
        this.push(this.opts.persistentLoad(pid));
        return true;
      }
      default:
        return false;
    }
  }

  private pushGlobal(module: string, name: string): void {
    const full = `${module}.${name}`;
    if (!this.globals.has(full)) {
      this.fail(`refusing to load global "${full}": not on the allow-list (this file may try to run code)`);
    }
    this.push(new PickleGlobal(module, name));
  }

  private invoke(fn: PickleValue, args: readonly PickleValue[]): PickleValue {
    if (!(fn instanceof PickleGlobal)) return this.fail(`call of a ${describeValue(fn)}, which is not a global`);
    const handler = this.globals.get(fn.qualifiedName);
    if (!handler?.call) return this.fail(`global "${fn.qualifiedName}" may not be called`);
    const out = handler.call(args);
    if (typeof out === 'object' && out !== null) this.madeBy.set(out, handler);
    return out;
  }

  private build(obj: PickleValue, state: PickleValue): PickleValue {
    const handler = typeof obj === 'object' && obj !== null ? this.madeBy.get(obj) : undefined;
    if (handler?.build) return handler.build(obj, state);
    // OrderedDict state is instance attributes (torch's `_metadata`), not items: keep the dict.
    if (obj instanceof Map) return obj;
    return this.fail(`BUILD on a ${describeValue(obj)}, which has no state handler`);
  }
}

export function describeValue(v: PickleValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof PickleTuple) return 'tuple';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PickleGlobal) return `global ${v.qualifiedName}`;
  if (v instanceof PickleOpaque) return v.tag;
  return typeof v;
}

/** Unpickles `bytes` without running anything; see UnpickleOptions for what may be resolved. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): PickleValue {
  return new Machine(bytes, opts).run();
}

/** `collections.OrderedDict()` as a plain Map (its items follow via SETITEMS). */
export const ORDERED_DICT: GlobalHandler = {
  call: () => new Map<PickleValue, PickleValue>(),
};

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A pickled value as JSON-like data: tuples and sets become arrays, dict keys strings, big ints
 * strings, globals their qualified name. `opaque` converts handler-made objects (tensors).
 * Depth is capped: a pickle can build cycles or million-deep nests through the memo.
 */
export function toJsonLike(v: PickleValue, opaque: (o: PickleOpaque) => JsonValue = (o) => `<${o.tag}>`, depth = 0): JsonValue {
  if (depth > 64) throw new Error('value nests more than 64 levels deep (or refers to itself)');
  const rec = (x: PickleValue): JsonValue => toJsonLike(x, opaque, depth + 1);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (Array.isArray(v)) return v.map(rec);
  if (v instanceof PickleTuple) return v.items.map(rec);
  if (v instanceof Set) return [...v].map(rec);
  if (v instanceof PickleGlobal) return v.qualifiedName;
  if (v instanceof PickleOpaque) return opaque(v);
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of v) out[typeof k === 'string' ? k : JSON.stringify(toJsonLike(k, opaque, depth + 1))] = rec(x);
  return out;
}
