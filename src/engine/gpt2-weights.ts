/**
 * GPT-2 weights in the Hugging Face layout: model.safetensors + config.json.
 *
 * Accepts keys with or without the `transformer.` prefix, ignores the `attn.bias` /
 * `attn.masked_bias` mask buffers, ties `lm_head` to `wte` when it is absent, and checks every
 * tensor's shape against config.json. Conv1D weights stay in HF's [in, out] orientation.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { isRegularFileOrAbsent, readRegularFile } from './regular-file';
import { join } from 'node:path';
import { SafetensorsFile } from './safetensors';

export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

export interface Gpt2Config {
  nLayer: number;
  nHead: number;
  dModel: number;
  nCtx: number;
  vocabSize: number;
  dMlp: number;
  layerNormEps: number;
}

/** Sanity caps: far above GPT-2 XL (48 layers, 1600 wide), far below anything absurd. */
const CAPS = { nLayer: 128, nHead: 128, dModel: 16384, nCtx: 65536, vocabSize: 1_000_000, dMlp: 65536 };

const TANH_GELUS = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

function intField(cfg: Record<string, unknown>, keys: string[], cap: number, fallback?: number): number {
  for (const key of keys) {
    const v = cfg[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > cap) {
      throw new ModelFormatError(`config.json: "${key}" must be an integer between 1 and ${cap}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw new ModelFormatError(`config.json: missing "${keys[0]}"`);
}

export function parseGpt2Config(text: string): Gpt2Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`config.json is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ModelFormatError('config.json is not a JSON object');
  const cfg = raw as Record<string, unknown>;
  if (cfg.model_type !== undefined && cfg.model_type !== 'gpt2') {
    throw new ModelFormatError(
      `config.json: model_type is "${String(cfg.model_type)}"; only GPT-2-architecture models are supported`,
    );
  }
  const act = cfg.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !TANH_GELUS.has(act)) {
    throw new ModelFormatError(`config.json: activation_function "${String(act)}" is not GPT-2's tanh GELU (gelu_new)`);
  }
  const dModel = intField(cfg, ['n_embd', 'hidden_size'], CAPS.dModel);
  const nHead = intField(cfg, ['n_head', 'num_attention_heads'], CAPS.nHead);
  if (dModel % nHead !== 0) {
    throw new ModelFormatError(`config.json: n_head ${nHead} does not divide n_embd ${dModel}`);
  }
  const eps = cfg.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) {
    throw new ModelFormatError(`config.json: layer_norm_epsilon must be a small positive number, got ${JSON.stringify(eps)}`);
  }
  return {
    nLayer: intField(cfg, ['n_layer', 'num_hidden_layers'], CAPS.nLayer),
    nHead,
    dModel,
    nCtx: intField(cfg, ['n_positions', 'n_ctx'], CAPS.nCtx),
    vocabSize: intField(cfg, ['vocab_size'], CAPS.vocabSize),
    dMlp: intField(cfg, ['n_inner'], CAPS.dMlp, 4 * dModel),
    layerNormEps: eps,
  };
}

/** Tensor names in HF GPT-2 layout (without prefix) and the shape config.json implies. */
export function expectedShapes(c: Gpt2Config): Map<string, number[]> {
  const m = new Map<string, number[]>([
    ['wte.weight', [c.vocabSize, c.dModel]],
    ['wpe.weight', [c.nCtx, c.dModel]],
    ['ln_f.weight', [c.dModel]],
    ['ln_f.bias', [c.dModel]],
  ]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    m.set(p + 'ln_1.weight', [c.dModel]);
    m.set(p + 'ln_1.bias', [c.dModel]);
    m.set(p + 'attn.c_attn.weight', [c.dModel, 3 * c.dModel]);
    m.set(p + 'attn.c_attn.bias', [3 * c.dModel]);
    m.set(p + 'attn.c_proj.weight', [c.dModel, c.dModel]);
    m.set(p + 'attn.c_proj.bias', [c.dModel]);
    m.set(p + 'ln_2.weight', [c.dModel]);
    m.set(p + 'ln_2.bias', [c.dModel]);
    m.set(p + 'mlp.c_fc.weight', [c.dModel, c.dMlp]);
    m.set(p + 'mlp.c_fc.bias', [c.dMlp]);
    m.set(p + 'mlp.c_proj.weight', [c.dMlp, c.dModel]);
    m.set(p + 'mlp.c_proj.bias', [c.dModel]);
  }
  return m;
}

const IGNORED = /(^|\.)attn\.(bias|masked_bias)$/;

/** An opened, validated GPT-2 checkpoint; tensors are read one at a time on demand. */
export class Gpt2Checkpoint {
  private constructor(
    readonly dir: string,
    readonly config: Gpt2Config,
    private readonly file: SafetensorsFile,
    /** canonical name → name in the file */
    private readonly names: Map<string, string>,
    /** name in the file of an untied unembedding [vocab, d_model], or null when tied */
    readonly lmHead: string | null,
  ) {}

  static open(dir: string): Gpt2Checkpoint {
    const cfgPath = join(dir, 'config.json');
    const weightsPath = join(dir, 'model.safetensors');
    // Refused by name before anything is opened: a FIFO would block, a directory give EISDIR.
    if (!isRegularFileOrAbsent(cfgPath)) throw new ModelFormatError(`no config.json in ${dir}`);
    if (!isRegularFileOrAbsent(weightsPath)) throw new ModelFormatError(`no model.safetensors in ${dir}`);
    const config = parseGpt2Config(readRegularFile(cfgPath).toString('utf8'));
    const file = SafetensorsFile.open(weightsPath);
    try {
      const names = new Map<string, string>();
      let lmHead: string | null = null;
      for (const name of file.entries.keys()) {
        const canonical = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
        if (IGNORED.test(canonical)) continue;
        if (canonical === 'lm_head.weight') {
          lmHead = name;
          continue;
        }
        names.set(canonical, name);
      }
      const expected = expectedShapes(config);
      const missing = [...expected.keys()].filter((k) => !names.has(k));
      if (missing.length) {
        const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
        throw new ModelFormatError(`model.safetensors is missing GPT-2 tensors: ${shown}`);
      }
      const check = (fileName: string, want: number[], label: string): void => {
        const got = file.entries.get(fileName)?.shape ?? [];
        if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
          throw new ModelFormatError(
            `${label} has shape [${got.join(', ')}] but config.json implies [${want.join(', ')}] ` +
              `(n_layer ${config.nLayer}, n_head ${config.nHead}, n_embd ${config.dModel}, vocab ${config.vocabSize})`,
          );
        }
      };
      for (const [k, want] of expected) check(names.get(k) ?? k, want, k);
      if (lmHead) check(lmHead, [config.vocabSize, config.dModel], 'lm_head.weight');
      // An lm_head that is byte-identical to wte is just the tied weight written twice.
      if (lmHead && sameBytes(file, lmHead, names.get('wte.weight') ?? '')) lmHead = null;
      return new Gpt2Checkpoint(dir, config, file, names, lmHead);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  get weightsPath(): string {
    return this.file.path;
  }

  /** Float32 data of a tensor by its canonical (prefix-free) name, e.g. "h.0.attn.c_attn.weight". */
  read(canonical: string): Float32Array {
    const name = canonical === 'lm_head.weight' && this.lmHead ? this.lmHead : this.names.get(canonical);
    if (!name) throw new ModelFormatError(`no tensor ${canonical}`);
    return this.file.readF32(name).data;
  }

  /**
   * Refuses weights holding NaN or ±Inf (they would draw all-NaN patterns): names the first
   * such tensor. Reads every tensor once, one at a time; integer tests on the raw bits.
   */
  checkFinite(): void {
    const used = [...this.names.values(), ...(this.lmHead ? [this.lmHead] : [])];
    for (const name of used) {
      const { entry, bytes } = this.file.readBytes(name);
      let bad = 0;
      let first = -1;
      if (entry.dtype === 'F32') {
        const u = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        for (let i = 0; i < u.length; i++) {
          if (((u[i] ?? 0) & 0x7f800000) === 0x7f800000) {
            if (first < 0) first = i;
            bad++;
          }
        }
      } else {
        // F16: exponent 0x7c00; BF16: exponent 0x7f80 (all ones: Inf or NaN).
        const mask = entry.dtype === 'F16' ? 0x7c00 : 0x7f80;
        const u = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
        for (let i = 0; i < u.length; i++) {
          if (((u[i] ?? 0) & mask) === mask) {
            if (first < 0) first = i;
            bad++;
          }
        }
      }
      if (bad > 0) {
        const canonical = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
        throw new ModelFormatError(
          `model.safetensors: tensor ${canonical} holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'} ` +
            `(the first at flat index ${first}); refusing to load it (--allow-nonfinite loads it anyway)`,
        );
      }
    }
  }

  close(): void {
    this.file.close();
  }
}

function sameBytes(file: SafetensorsFile, a: string, b: string): boolean {
  const ea = file.entries.get(a);
  const eb = file.entries.get(b);
  if (!ea || !eb || ea.dtype !== eb.dtype || ea.end - ea.begin !== eb.end - eb.begin) return false;
  return Buffer.from(file.readBytes(a).bytes).equals(Buffer.from(file.readBytes(b).bytes));
}

/** sha256 of a file, streamed (GPT-2 medium is 1.5 GB). */
export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .on('data', (chunk) => h.update(chunk))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return h.digest('hex');
}
