import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotRegularFileError } from '../../src/engine/regular-file';
import { PickleError, PickleTuple, toJsonLike, unpickle, type PickleValue } from '../../src/engine/pickle';
import {
  TorchFile,
  TorchFileError,
  findStateDict,
  isTensor,
  readCharVocab,
  readPlainPickle,
  type TensorRef,
} from '../../src/engine/torch-file';
import {
  PyCall,
  PyGlobal,
  PyOrderedDict,
  PyTuple,
  TorchStorage,
  TorchTensor,
  buildZip,
  encodePickle,
  encodeStateDict,
  encodeTorchFile,
  stateDict,
  tensor,
  torchEntries,
  type ZipEntryInput,
} from '../../src/engine/torch-writer';
import { writtenFiles, writtenMeta } from '../../tools/torch-fixtures/ts-written';
import { tempDir } from '../helpers/fixtures';

const FIXTURES = join(__dirname, '..', 'fixtures', 'torch');

interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: number[];
}
interface ExpectedFile {
  tensors?: Record<string, ExpectedTensor>;
  model_args?: Record<string, unknown>;
  config?: Record<string, unknown>;
  iter_num?: number;
  best_val_loss?: number;
  vocab_size?: number;
  chars?: string;
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
  torch_version: string;
  files: Record<string, ExpectedFile>;
};

const TORCH_DTYPES: Record<string, string> = {
  'torch.float32': 'F32',
  'torch.float16': 'F16',
  'torch.bfloat16': 'BF16',
  'torch.bool': 'BOOL',
  'torch.int64': 'I64',
};

/** Writes `bytes` as `name` in a fresh folder and returns the path. */
function saved(bytes: Uint8Array, name = 'model.pth'): string {
  const path = join(tempDir('atlas-torch-'), name);
  writeFileSync(path, bytes);
  return path;
}

function withFile<T>(path: string, fn: (f: TorchFile) => T): T {
  const f = TorchFile.open(path);
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

function expectTensor(f: TorchFile, ref: TensorRef | undefined, exp: ExpectedTensor, name: string): void {
  expect(ref, name).toBeDefined();
  if (!ref) return;
  expect(ref.shape, name).toEqual(exp.shape);
  expect(ref.dtype, name).toBe(TORCH_DTYPES[exp.dtype]);
  if (ref.dtype === 'F32' || ref.dtype === 'F16' || ref.dtype === 'BF16') {
    expect(Array.from(f.readF32(ref)), name).toEqual(exp.values);
  }
}

describe('reading real torch checkpoints', () => {
  it(`fixtures come from real torch (${expected.torch_version})`, () => {
    expect(expected.torch_version).toMatch(/^\d+\.\d+/);
  });

  for (const name of ['model.pth', 'ckpt.pt', 'model_and_optimizer.pth', 'compiled.pt']) {
    it(`${name}: every tensor matches torch's values`, () => {
      const exp = expected.files[name]?.tensors ?? {};
      withFile(join(FIXTURES, name), (f) => {
        const sd = findStateDict(f);
        expect([...sd.tensors.keys()].sort()).toEqual(Object.keys(exp).sort()); // expected.json keys are sorted
        for (const [k, t] of Object.entries(exp)) expectTensor(f, sd.tensors.get(k), t, `${name} ${k}`);
      });
    });
  }

  it('model.pth: a bare state dict with F16, BF16, a transposed view and non-float buffers', () => {
    withFile(join(FIXTURES, 'model.pth'), (f) => {
      const sd = findStateDict(f);
      expect(sd.key).toBe('');
      expect(sd.extras).toEqual({});
      const wT = sd.tensors.get('wT');
      expect(wT?.strides).toEqual([1, 3]); // torch saved the view, not a contiguous copy
      expect(sd.tensors.get('attn.mask')?.dtype).toBe('BOOL');
      const counter = sd.tensors.get('num_batches_tracked');
      expect(counter?.dtype).toBe('I64');
      if (counter) expect(() => f.readF32(counter)).toThrow(/model\.pth: tensor of dtype I64 cannot be read as floats/);
    });
  });

  it('ckpt.pt: nanoGPT model, tied weights on one storage, model_args, 0-d best_val_loss, config, optimizer', () => {
    const exp = expected.files['ckpt.pt'] as ExpectedFile;
    withFile(join(FIXTURES, 'ckpt.pt'), (f) => {
      const sd = findStateDict(f);
      expect(sd.key).toBe('model');
      expect(sd.tensors.get('lm_head.weight')?.storage).toBe(sd.tensors.get('transformer.wte.weight')?.storage);
      expect(sd.extras.model_args).toEqual(exp.model_args);
      expect(sd.extras.config).toEqual(exp.config);
      expect(sd.extras.iter_num).toBe(exp.iter_num);
      expect(sd.extras.best_val_loss).toBe(exp.best_val_loss);
      const opt = sd.extras.optimizer as { state: Record<string, { step: number; exp_avg: unknown }>; param_groups: unknown[] };
      expect(opt.state['0']?.step).toBe(1);
      expect(opt.state['0']?.exp_avg).toEqual({ dtype: 'F32', shape: [8, 4] });
      expect(opt.param_groups[0]).toMatchObject({ lr: 0.0006, betas: [0.9, 0.95], amsgrad: false, foreach: null });
    });
  });

  it('model_and_optimizer.pth: the book checkpoint dict', () => {
    withFile(join(FIXTURES, 'model_and_optimizer.pth'), (f) => {
      const sd = findStateDict(f);
      expect(sd.key).toBe('model_state_dict');
      expect(Object.keys(sd.extras)).toEqual(['optimizer_state_dict']);
    });
  });

  it("compiled.pt: torch.compile's _orig_mod. prefix is removed", () => {
    withFile(join(FIXTURES, 'compiled.pt'), (f) => {
      const sd = findStateDict(f);
      expect(sd.strippedPrefix).toBe('_orig_mod.');
      expect(sd.tensors.has('lm_head.weight')).toBe(true);
    });
  });

  it('meta.pkl: the char vocabulary, int keys as numbers', () => {
    const exp = expected.files['meta.pkl'] as ExpectedFile;
    const vocab = readCharVocab(join(FIXTURES, 'meta.pkl'));
    expect(vocab.vocabSize).toBe(exp.vocab_size);
    expect([...vocab.itos.keys()]).toEqual([...Array(exp.vocab_size).keys()]);
    expect([...vocab.itos.values()].join('')).toBe(exp.chars);
    expect(vocab.stoi.get('\n')).toBe(0);
    const raw = readPlainPickle(join(FIXTURES, 'meta.pkl'));
    expect(raw instanceof Map && raw.get('itos') instanceof Map).toBe(true);
  });

  it('evil.pt: an os.system pickle is refused by name and nothing runs', () => {
    const e = thrown(() => TorchFile.open(join(FIXTURES, 'evil.pt')));
    expect(e).toBeInstanceOf(TorchFileError);
    expect(e.message).toMatch(/^evil\.pt: .*refusing to load global "posix\.system": not on the allow-list/);
  });
});

describe('writer round trips', () => {
  for (const [name, w] of Object.entries(writtenFiles())) {
    it(`${name}: reads back what was written`, () => {
      withFile(saved(w.bytes, name), (f) => {
        const sd = findStateDict(f);
        expect(sd.key).toBe(w.key);
        expect([...sd.tensors.keys()]).toEqual(Object.keys(w.tensors));
        for (const [k, t] of Object.entries(w.tensors)) {
          const ref = sd.tensors.get(k) as TensorRef;
          expect(ref.shape).toEqual(t.shape);
          expect(ref.dtype).toBe(t.dtype);
          const got = f.readF32(ref);
          const tol = { F32: 0, F16: 1e-3, BF16: 8e-3 }[t.dtype] ?? 0;
          t.values.forEach((v, i) =>
            expect(Math.abs((got[i] ?? NaN) - v)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(v)) + 1e-7),
          );
        }
      });
    });
  }

  it('tied.pt: tied weights share one storage, the transposed view keeps its strides', () => {
    withFile(saved(writtenFiles()['tied.pt']?.bytes ?? Buffer.alloc(0)), (f) => {
      const sd = findStateDict(f);
      expect(sd.tensors.get('lm_head.weight')?.storage).toBe(sd.tensors.get('transformer.wte.weight')?.storage);
      expect(sd.tensors.get('attn.c_attn.weight')?.strides).toEqual([1, 3]);
      expect(f.storages.size).toBe(2);
    });
  });

  it('ckpt.pt: model_args, iter_num, a 0-d best_val_loss and the optimizer come back as values', () => {
    withFile(saved(writtenFiles()['ckpt.pt']?.bytes ?? Buffer.alloc(0)), (f) => {
      const { extras } = findStateDict(f);
      expect(extras.model_args).toEqual({
        n_layer: 1,
        n_head: 1,
        n_embd: 2,
        block_size: 5,
        bias: true,
        vocab_size: 65,
        dropout: 0,
      });
      expect(extras.iter_num).toBe(5000);
      expect(extras.best_val_loss).toBe(Math.fround(1.4697));
      expect(extras.config).toMatchObject({ wandb_run_name: null, compile: true });
      expect(extras.optimizer).toMatchObject({
        state: { '0': { step: 3 } },
        param_groups: [{ betas: [0.9, 0.999], params: [0, 1] }],
      });
    });
  });

  it('meta.pkl (protocol 4, FRAME, SHORT_BINUNICODE) round-trips, non-ASCII included', () => {
    const vocab = readCharVocab(saved(writtenMeta('\n !abcé中'), 'meta.pkl'));
    expect(vocab.vocabSize).toBe(8);
    expect(vocab.itos.get(7)).toBe('中');
    expect(vocab.stoi.get('é')).toBe(6);
  });

  it('set, torch.device, dtype objects and a Parameter with state load as values', () => {
    const root = {
      tags: new PyCall(new PyGlobal('builtins', 'set'), new PyTuple(['a', 'b'])),
      device: new PyCall(new PyGlobal('torch', 'device'), new PyTuple('cuda', 0)),
      dtype: new PyGlobal('torch', 'bfloat16'),
      p: new PyCall(
        new PyGlobal('torch._utils', '_rebuild_parameter_with_state'),
        new PyTuple(tensor([2], Float32Array.from([1, 2])), true, new PyOrderedDict({}), { note: 'x' }),
      ),
    };
    withFile(saved(encodeTorchFile(root)), (f) => {
      const r = f.root as Map<string, PickleValue>;
      expect(r.get('tags')).toEqual(new Set(['a', 'b']));
      expect(r.get('device')).toBe('cuda:0');
      expect(toJsonLike(r.get('dtype') ?? null)).toBe('torch.bfloat16');
      const p = r.get('p');
      expect(isTensor(p) && Array.from(f.readF32(p.value))).toEqual([1, 2]);
    });
  });

  it('_rebuild_from_type_v2: plain tensors only, and only torch._utils rebuild functions', () => {
    const sub = new PyCall(
      new PyGlobal('torch._tensor', '_rebuild_from_type_v2'),
      new PyTuple(new PyGlobal('torch._utils', '_rebuild_parameter'), new PyGlobal('torch', 'FloatStorage'), new PyTuple(), {}),
    );
    expect(() => TorchFile.open(saved(encodeTorchFile({ w: sub })))).toThrow(
      /tensor subclass torch\.FloatStorage is not supported/,
    );
    const self = new PyCall(
      new PyGlobal('torch._tensor', '_rebuild_from_type_v2'),
      new PyTuple(new PyGlobal('torch._tensor', '_rebuild_from_type_v2'), new PyGlobal('torch', 'Tensor'), new PyTuple(), {}),
    );
    expect(() => TorchFile.open(saved(encodeTorchFile({ w: self })))).toThrow(
      /cannot rebuild a tensor with global torch\._tensor\._rebuild_from_type_v2/,
    );
  });

  it('the archive folder may have any name, as torch names it after the file', () => {
    const bytes = encodeStateDict({ w: { shape: [2], data: Float32Array.from([1, 2]) } }, 'my_model');
    withFile(saved(bytes), (f) => expect(findStateDict(f).tensors.has('w')).toBe(true));
  });

  it('storage entries are 64-byte aligned, as torch writes them', () => {
    const bytes = encodeStateDict({ w: { shape: [3], data: Float32Array.from([1, 2, 3]) } });
    const at = bytes.indexOf(Buffer.from(Float32Array.from([1, 2, 3]).buffer));
    expect(at % 64).toBe(0);
  });
});

/** A torch file whose zip entries `alter` may change. */
function alteredFile(
  alter: (entries: ZipEntryInput[]) => void,
  root = stateDict({ w: { shape: [4], data: Float32Array.from([1, 2, 3, 4]) } }),
): string {
  const entries = torchEntries(root);
  alter(entries);
  return saved(buildZip(entries));
}
const entry = (entries: ZipEntryInput[], suffix: string): ZipEntryInput => {
  const e = entries.find((x) => x.name.endsWith(suffix));
  if (!e) throw new Error(`no entry ${suffix}`);
  return e;
};
const pkl = (...ops: number[]): Uint8Array => Uint8Array.from([0x80, 2, ...ops]);

describe('large files', () => {
  it('opens a 600 MB checkpoint lazily: only data.pkl and the bytes of the tensor asked for are read', () => {
    const numel = 150_000_000; // 600 MB of F32, left as a hole in a sparse file
    const big = new TorchTensor(new TorchStorage(new Float32Array(0), 'F32', numel), [numel], [1]);
    const tail = new TorchTensor(big.storage, [2, 2], [1, 2], numel - 4); // a strided view at the very end
    const entries = torchEntries(stateDict({ wte: big, tail })).filter((e) => !e.name.endsWith('/version'));
    const store = entry(entries, '/data/0');
    store.declaredSize = numel * 4;
    // buildZip writes the data/0 header with no data after it; put the 600 MB hole there.
    const zip = buildZip(entries);
    const cdOffset = zip.readUInt32LE(zip.length - 6);
    const path = join(tempDir('atlas-torch-'), 'ckpt.pt');
    const fd = openSync(path, 'w');
    writeSync(fd, zip, 0, cdOffset, 0);
    const cd = Buffer.from(zip.subarray(cdOffset));
    cd.writeUInt32LE(cdOffset + numel * 4, cd.length - 6);
    writeSync(fd, cd, 0, cd.length, cdOffset + numel * 4);
    closeSync(fd);
    const t0 = performance.now();
    try {
      withFile(path, (f) => {
        const sd = findStateDict(f);
        expect(sd.tensors.get('wte')?.shape).toEqual([numel]);
        expect(Array.from(f.readF32(sd.tensors.get('tail') as TensorRef))).toEqual([0, 0, 0, 0]);
      });
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      rmSync(path);
    }
  });
});

describe('hostile and broken files', () => {
  it('refuses globals not on the allow-list: builtins.eval, os.system', () => {
    const evalFile = saved(encodeTorchFile({ model: new PyCall(new PyGlobal('builtins', 'eval'), new PyTuple('1+1')) }));
    expect(() => TorchFile.open(evalFile)).toThrow(/model\.pth: .*refusing to load global "builtins\.eval"/);
    const meta = saved(
      encodePickle({ vocab_size: new PyCall(new PyGlobal('os', 'system'), new PyTuple('echo hi')) }, 4),
      'meta.pkl',
    );
    expect(() => readCharVocab(meta)).toThrow(/meta\.pkl: refusing to load global "os\.system"/);
  });

  it('a whole pickled model (torch.save(model)) is refused with a hint to save its state dict', () => {
    const path = saved(encodeTorchFile(new PyCall(new PyGlobal('__main__', 'GPTModel'), new PyTuple())));
    expect(() => TorchFile.open(path)).toThrow(
      /refusing to load global "__main__\.GPTModel".*save torch\.save\(model\.state_dict\(\), path\) instead/,
    );
  });

  it('an allow-listed global that is a value may not be called', () => {
    const path = saved(encodeTorchFile({ x: new PyCall(new PyGlobal('torch', 'FloatStorage'), new PyTuple()) }));
    expect(() => TorchFile.open(path)).toThrow(/global "torch\.FloatStorage" may not be called/);
  });

  it('refuses a storage that declares more elements than its entry holds', () => {
    const path = alteredFile((es) => (entry(es, '/data/0').data = new Uint8Array(4)));
    expect(() => TorchFile.open(path)).toThrow(
      /model\.pth: storage "0" declares 4 F32 elements \(16 bytes\) but its entry holds 4 bytes/,
    );
  });

  it('refuses a tensor view that reaches past its storage', () => {
    const t = new TorchTensor(new TorchStorage(Float32Array.from([1, 2, 3, 4])), [1000, 1000], [1000, 1]);
    const path = saved(encodeTorchFile(stateDict({ w: t })));
    expect(() => TorchFile.open(path)).toThrow(
      /tensor on storage "0": view of size \[1000, 1000\].* reaches past the storage's 4 elements/,
    );
    const offset = saved(encodeTorchFile(stateDict({ w: new TorchTensor(new TorchStorage(new Float32Array(4)), [2], [1], 3) })));
    expect(() => TorchFile.open(offset)).toThrow(/reaches past the storage/);
  });

  it('readF32 re-checks a hand-made ref before allocating', () => {
    withFile(saved(encodeStateDict({ w: { shape: [4], data: new Float32Array(4) } })), (f) => {
      const ref = findStateDict(f).tensors.get('w') as TensorRef;
      expect(() => f.readF32({ ...ref, shape: [2 ** 40] })).toThrow(/tensor view reaches past storage "0"/);
    });
  });

  it('refuses a truncated storage entry and a truncated file', () => {
    const short = alteredFile((es) => (entry(es, '/data/0').declaredSize = 1 << 20));
    expect(() => TorchFile.open(short)).toThrow(/model\.pth: entry "archive\/data\/0" .* runs into the central directory/);
    const whole = encodeStateDict({ w: { shape: [64], data: new Float32Array(64) } });
    const cut = saved(whole.subarray(0, whole.length - 40));
    expect(() => TorchFile.open(cut)).toThrow(/model\.pth: no zip end-of-central-directory record/);
  });

  it('refuses a truncated pickle, in a checkpoint and alone', () => {
    const path = alteredFile((es) => {
      const p = entry(es, 'data.pkl');
      p.data = p.data.subarray(0, p.data.length - 10);
    });
    expect(() => TorchFile.open(path)).toThrow(/model\.pth: archive\/data\.pkl: .*(truncated|without a STOP)/);
    expect(() => unpickle(pkl(0x7d))).toThrow(/without a STOP opcode \(truncated\?\)/);
    expect(() => unpickle(pkl(0x4a, 1, 2))).toThrow(/needs 4 bytes at byte 3 but only 2 remain/);
  });

  it('refuses 10^7 nested MARKs and huge string lengths fast, before allocating', () => {
    const t0 = performance.now();
    const marks = new Uint8Array(10_000_002).fill(0x28);
    marks.set([0x80, 2]);
    expect(() => unpickle(marks)).toThrow(/more than 10000 nested MARKs/);
    expect(() => unpickle(pkl(0x58, 0xff, 0xff, 0xff, 0x7f))).toThrow(/string needs 2147483647 bytes .* only 0 remain/);
    expect(() => unpickle(pkl(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x80))).toThrow(/string needs -1 bytes/);
    expect(() => unpickle(pkl(0x42, 0xff, 0xff, 0xff, 0xff))).toThrow(/bytes needs 4294967295 bytes/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('caps opcodes and the stack', () => {
    const nones = new Uint8Array(1000).fill(0x4e);
    expect(() => unpickle(Uint8Array.from([0x80, 2, ...nones]), { maxStack: 100 })).toThrow(/stack grew past 100 entries/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, ...nones]), { maxOps: 50 })).toThrow(/more than 50 opcodes/);
  });

  it('refuses opcodes outside the subset, persistent ids in plain pickles, bad memo reads', () => {
    expect(() => unpickle(pkl(0x69))).toThrow(/unsupported pickle opcode 0x69 at byte 2/); // INST
    expect(() => unpickle(pkl(0x4e, 0x51, 0x2e))).toThrow(/persistent id/);
    expect(() => unpickle(pkl(0x68, 5, 0x2e))).toThrow(/memo key 5 read before it was written/);
    expect(() => unpickle(pkl(0x4e, 0x4e, 0x61, 0x2e))).toThrow(/APPEND on a None, not a list/);
    expect(() => unpickle(pkl(0x2e))).toThrow(/STOP with 0 values/);
    expect(() => unpickle(pkl(0x30, 0x2e))).toThrow(PickleError);
  });

  it('a self-referencing list does not overflow the stack when turned into JSON', () => {
    // [] memo0, get0, append: l.append(l)
    const cyclic = unpickle(pkl(0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e));
    expect(Array.isArray(cyclic)).toBe(true);
    expect(() => toJsonLike(cyclic)).toThrow(/nests more than 64 levels/);
    expect(toJsonLike(new PickleTuple([1, 'a', null]))).toEqual([1, 'a', null]);
  });

  it('refuses a non-zip file, the legacy format, a compressed entry and a big-endian checkpoint', () => {
    expect(() => TorchFile.open(saved(Buffer.from('hello, not a checkpoint')))).toThrow(
      /model\.pth: not a PyTorch zip checkpoint/,
    );
    expect(() => TorchFile.open(saved(Buffer.from([0x80, 2, 0x8a, 10])))).toThrow(
      /model\.pth: legacy \(pre-1\.6\) torch\.save format/,
    );
    expect(() => TorchFile.open(saved(Buffer.alloc(0)))).toThrow(/model\.pth: not a PyTorch zip checkpoint/);
    const compressed = alteredFile((es) => (entry(es, '/data/0').method = 8));
    expect(() => TorchFile.open(compressed)).toThrow(/model\.pth: entry "archive\/data\/0" is compressed \(zip method 8\)/);
    const big = alteredFile((es) => (entry(es, 'byteorder').data = Buffer.from('big')));
    expect(() => TorchFile.open(big)).toThrow(/model\.pth: checkpoint byte order is "big"/);
    const noPkl = saved(buildZip([{ name: 'x/version', data: Buffer.from('3\n') }]));
    expect(() => TorchFile.open(noPkl)).toThrow(/no data\.pkl/);
    const script = alteredFile((es) => es.push({ name: 'archive/constants.pkl', data: encodePickle(new PyTuple()) }));
    expect(() => TorchFile.open(script)).toThrow(/model\.pth: this is a TorchScript archive/);
  });

  it('refuses a FIFO and a directory named model.pth by name, without blocking', () => {
    const dir = tempDir('atlas-torch-');
    mkdirSync(join(dir, 'model.pth'));
    const e = thrown(() => TorchFile.open(join(dir, 'model.pth')));
    expect(e).toBeInstanceOf(NotRegularFileError);
    expect(e.message).toMatch(/model\.pth in .* is a directory, not a regular file/);
    const fifoDir = tempDir('atlas-torch-');
    expect(spawnSync('mkfifo', [join(fifoDir, 'model.pth')]).status).toBe(0);
    // Opening must fail before any read: a blocking read would hang this worker for good.
    expect(() => TorchFile.open(join(fifoDir, 'model.pth'))).toThrow(/model\.pth in .* is a named pipe \(FIFO\)/);
    expect(spawnSync('mkfifo', [join(fifoDir, 'meta.pkl')]).status).toBe(0);
    expect(() => readPlainPickle(join(fifoDir, 'meta.pkl'))).toThrow(NotRegularFileError);
  });

  it('a self-referencing entry beside the model is a clear error naming the file', () => {
    // The root dict holds itself under "loop": root["loop"] = root.
    const bytes = torchEntries(stateDict({ w: { shape: [1], data: Float32Array.from([1]) } }));
    const sd = entry(bytes, 'data.pkl').data.subarray(2, -1); // the OrderedDict's opcodes, no PROTO/STOP
    const pickle = Buffer.concat([
      Buffer.from([0x80, 2, 0x7d, 0x71, 0, 0x8c, 5]),
      Buffer.from('model'),
      sd,
      Buffer.from([0x73, 0x8c, 4]),
      Buffer.from('loop'),
      Buffer.from([0x68, 0, 0x73, 0x2e]),
    ]);
    entry(bytes, 'data.pkl').data = pickle;
    withFile(saved(buildZip(bytes)), (f) => {
      expect(() => findStateDict(f)).toThrow(/model\.pth: entry "loop": value nests more than 64 levels/);
    });
  });

  it('no state dict: a clear message listing the top-level keys', () => {
    withFile(saved(encodeTorchFile({ epoch: 3, weights: [1, 2] })), (f) => {
      expect(() => findStateDict(f)).toThrow(/model\.pth: no state dict found: .*top level: "epoch", "weights"/);
    });
  });

  it('isTensor tells tensors from other values', () => {
    withFile(saved(encodeTorchFile({ t: tensor([1], Float32Array.from([1])), n: 1 })), (f) => {
      const root = f.root as Map<string, unknown>;
      expect(isTensor(root.get('t') as never)).toBe(true);
      expect(isTensor(root.get('n') as never)).toBe(false);
    });
  });
});
