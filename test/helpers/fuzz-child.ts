/**
 * The model-file fuzzer's body, run as a child process so a hang is a timeout, not a stuck
 * worker: a seeded mutation of a small valid checkpoint per case (safetensors header, tensor
 * bytes, config.json), then everything the loader does (open, shape checks, every tensor read,
 * the NaN/Inf check). Prints one JSON line per case: {i, kind, outcome, error?, ms}.
 * argv: <seed> <cases> <work-dir>
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpt2Checkpoint, ModelFormatError } from '../../src/engine/gpt2-weights';
import { NotRegularFileError } from '../../src/engine/regular-file';
import { SafetensorsError } from '../../src/engine/safetensors';
import { writeRandomModel } from './random-model';

const [seedArg, casesArg, work] = process.argv.slice(2);
let state = Number(seedArg ?? 1) >>> 0;
/** mulberry32: small, seeded, good enough to pick mutations. */
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

const base = writeRandomModel({ nLayer: 2, nHead: 2, dModel: 8, nCtx: 6, vocabSize: 40, seed: 11 });
const weights = readFileSync(join(base, 'model.safetensors'));
const config = readFileSync(join(base, 'config.json'), 'utf8');
const headerLen = Number(weights.readBigUInt64LE(0));
const header = weights.subarray(8, 8 + headerLen).toString('utf8');
const data = weights.subarray(8 + headerLen);

const WILD = [
  0,
  -1,
  1,
  2,
  3,
  7,
  2 ** 31,
  2 ** 32 + 1,
  2 ** 53,
  2 ** 64,
  1e308,
  -1e308,
  0.5,
  'x',
  null,
  true,
  [],
  {},
  [1, 2],
  '1e9',
];
const WILD_TEXT = WILD.map((v) => JSON.stringify(v));

/** Replaces one JSON number/string/array token in `text` with a wild value. */
function mutateJsonText(text: string): string {
  const tokens = [...text.matchAll(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|"[^"]*"|\[[^[\]]*\]/gi)];
  if (tokens.length === 0) return text;
  const m = pick(tokens);
  const at = m.index ?? 0;
  return text.slice(0, at) + pick(WILD_TEXT) + text.slice(at + m[0].length);
}

function mutateBytes(b: Buffer, count: number): Buffer {
  const out = Buffer.from(b);
  for (let k = 0; k < count && out.length > 0; k++) out[int(out.length)] = int(256);
  return out;
}

function safetensors(h: string | Buffer, body: Buffer, declared?: bigint): Buffer {
  const hb = typeof h === 'string' ? Buffer.from(h) : h;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(hb.length));
  return Buffer.concat([len, hb, body]);
}

const MUTATIONS: Record<string, () => { weights: Buffer; config: string }> = {
  'header value': () => {
    let h = header;
    for (let k = 1 + int(3); k > 0; k--) h = mutateJsonText(h);
    return { weights: safetensors(h, data), config };
  },
  'header bytes': () => ({ weights: safetensors(mutateBytes(Buffer.from(header), 1 + int(4)), data), config }),
  'header length': () => ({
    weights: safetensors(
      header,
      data,
      pick([0n, 1n, 7n, BigInt(headerLen - 1), BigInt(headerLen + 1), 2n ** 40n, 2n ** 63n, 2n ** 64n - 1n]),
    ),
    config,
  }),
  'header truncated': () => ({ weights: safetensors(header.slice(0, int(header.length)), data), config }),
  'header deep nesting': () => ({ weights: safetensors('['.repeat(1 + int(200_000)), data), config }),
  'file truncated': () => ({ weights: weights.subarray(0, int(weights.length)), config }),
  'file extended': () => ({ weights: Buffer.concat([weights, Buffer.alloc(1 + int(5000), int(256))]), config }),
  'tensor bytes': () => ({
    weights: Buffer.concat([weights.subarray(0, 8 + headerLen), mutateBytes(data, 1 + int(64))]),
    config,
  }),
  'config value': () => {
    let c = config;
    for (let k = 1 + int(3); k > 0; k--) c = mutateJsonText(c);
    return { weights, config: c };
  },
  'config bytes': () => ({ weights, config: mutateBytes(Buffer.from(config), 1 + int(8)).toString('latin1') }),
  'config truncated': () => ({ weights, config: config.slice(0, int(config.length)) }),
  'config deep nesting': () => ({ weights, config: '{"n_layer":'.repeat(1 + int(100_000)) }),
};
const kinds = Object.keys(MUTATIONS);

const cases = Number(casesArg ?? 300);
for (let i = 0; i < cases; i++) {
  const kind = kinds[i % kinds.length] as string; // every kind equally often
  const m = (MUTATIONS[kind] as () => { weights: Buffer; config: string })();
  const dir = join(work as string, `case-${i}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.safetensors'), m.weights);
  writeFileSync(join(dir, 'config.json'), m.config);
  const t0 = performance.now();
  let outcome: string;
  let error: string | undefined;
  try {
    const ck = Gpt2Checkpoint.open(dir);
    try {
      ck.checkFinite();
      for (const name of ['wte.weight', 'wpe.weight', 'h.0.attn.c_attn.weight', 'ln_f.bias']) ck.read(name);
    } finally {
      ck.close();
    }
    outcome = 'ok';
  } catch (e) {
    const clean = e instanceof ModelFormatError || e instanceof SafetensorsError || e instanceof NotRegularFileError;
    outcome = clean ? 'clean-error' : 'unclean-error';
    error = `${(e as Error).name}: ${(e as Error).message}`.slice(0, 300);
  }
  process.stdout.write(JSON.stringify({ i, kind, outcome, error, ms: Math.round(performance.now() - t0) }) + '\n');
}
