/**
 * GPT weights, opened from a folder or a single file: Hugging Face GPT-2 (model.safetensors +
 * config.json), nanoGPT (ckpt.pt, or its state dict as safetensors + config.json) and the book's
 * GPTModel (model.pth + config.json). checkpoint-layout.ts maps each onto HF's names and
 * orientation; everything after this file sees one layout.
 *
 * Mask buffers (`attn.bias`, `attn.masked_bias`, the book's `att.mask`) are ignored, lm_head is
 * tied to wte when absent or byte-identical, and every tensor's shape is checked against the
 * configuration before anything is read.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { isRegularFileOrAbsent, readRegularFile } from './regular-file';
import { basename, dirname, join, resolve } from 'node:path';
import { SafetensorsFile, type Dtype } from './safetensors';
import {
  canonicalName,
  mapCheckpoint,
  type CheckpointFormat,
  type MappedCheckpoint,
  type TensorSource,
} from './checkpoint-layout';
import { openTorchSource } from './torch-source';
import { ModelFormatError, type Gpt2Config } from './gpt2-config';

export { ModelFormatError, parseGpt2Config, type GeluKind, type Gpt2Config } from './gpt2-config';

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

/** What to open a model with, beyond its path. */
export interface OpenOptions {
  /**
   * Configuration values the person gave (e.g. the book's `{"n_heads": 12}` when no config.json
   * lies beside its model.pth); they override the file's own.
   */
  config?: Record<string, unknown>;
}

/** The weights file a folder holds, in the order the formats are tried. */
const WEIGHT_FILES = ['model.safetensors', 'ckpt.pt', 'model.pth', 'model.pt'];
const TORCH_EXT = /\.(pt|pth|bin)$/i;

/**
 * Finds the weights file of a model path: a file as given, or in a folder the first of
 * WEIGHT_FILES, else its only .pt/.pth file.
 */
export function weightsFileOf(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ModelFormatError(`${path} does not exist`);
  }
  if (!st.isDirectory()) return path;
  for (const name of WEIGHT_FILES) {
    const p = join(path, name);
    if (existsSync(p)) return p;
  }
  const torch = readdirSync(path).filter((n) => TORCH_EXT.test(n) && !n.startsWith('.'));
  if (torch.length === 1) return join(path, torch[0] ?? '');
  throw new ModelFormatError(
    torch.length > 1
      ? `${path} holds several checkpoints (${torch.slice(0, 4).join(', ')}): open one of them as a file`
      : `no model.safetensors, ckpt.pt or model.pth in ${path}`,
  );
}

/** Human names of the formats, for the library and the model line. */
export const FORMAT_LABELS: Record<CheckpointFormat, string> = {
  'hf-gpt2': 'Hugging Face GPT-2',
  nanogpt: 'nanoGPT',
  book: "the book's GPTModel",
};

/** An opened, validated GPT checkpoint in HF GPT-2 orientation; tensors are read on demand. */
export class Gpt2Checkpoint {
  /** Rows of wte / lm_head the model uses: the vocabulary's size (nanoGPT pads to 50304). */
  private rows: number;

  private constructor(
    /** What was opened: a folder or a single file. */
    readonly path: string,
    /** The folder the files are in (atlas-model.json, training-log.json, vocabularies). */
    readonly dir: string,
    private readonly source: TensorSource,
    private readonly mapped: MappedCheckpoint,
    /** Top-level values of a PyTorch checkpoint besides the weights (nanoGPT's config.dataset …). */
    readonly extras: Record<string, unknown>,
  ) {
    this.rows = mapped.embeddingRows;
  }

  static open(path: string, options: OpenOptions = {}): Gpt2Checkpoint {
    const abs = resolve(path);
    const weights = weightsFileOf(abs);
    const dir = weights === abs ? dirname(abs) : abs;
    const cfgPath = join(dir, 'config.json');
    // Refused by name before anything is opened: a FIFO would block, a directory give EISDIR.
    // (config.json is optional: nanoGPT's ckpt.pt carries model_args, and the book's model.pth
    // needs only its number of heads, which the person may give.)
    const hasConfig = isRegularFileOrAbsent(cfgPath);
    if (!isRegularFileOrAbsent(weights)) throw new ModelFormatError(`no ${basename(weights)} in ${dir}`);
    const fileConfig = hasConfig ? configObject(readRegularFile(cfgPath).toString('utf8'), 'config.json') : null;
    const opened = openTensorSource(weights);
    try {
      const fromCheckpoint = opened.modelArgs;
      const config =
        fileConfig || fromCheckpoint || options.config
          ? { ...(fileConfig ?? {}), ...(fromCheckpoint ?? {}), ...(options.config ?? {}) }
          : null;
      const where = options.config
        ? 'the configuration given'
        : fromCheckpoint
          ? `${basename(weights)} model_args`
          : 'config.json';
      const mapped = mapCheckpoint(opened.source, config, where);
      return new Gpt2Checkpoint(abs, dir, opened.source, mapped, opened.extras);
    } catch (e) {
      opened.source.close();
      throw e;
    }
  }

  get config(): Gpt2Config {
    return { ...this.mapped.config, vocabSize: this.rows };
  }

  get format(): CheckpointFormat {
    return this.mapped.format;
  }

  /** Rows of the embedding in the file (≥ config.vocabSize). */
  get embeddingRows(): number {
    return this.mapped.embeddingRows;
  }

  /** What a person may want to know about the layout ("no biases (bias: false)" …). */
  get notes(): readonly string[] {
    return this.mapped.notes;
  }

  /** Uses the first `n` rows of wte / lm_head only: the vocabulary's tokens, not nanoGPT's padding. */
  useVocabularyRows(n: number): void {
    if (n < 1 || n > this.mapped.embeddingRows)
      throw new ModelFormatError(
        `the vocabulary has ${n} tokens but the model's embedding has ${this.mapped.embeddingRows} rows`,
      );
    this.rows = n;
  }

  get weightsPath(): string {
    return this.source.path;
  }

  /** The file's name of an untied unembedding, or null when it is tied to wte. */
  get lmHead(): string | null {
    return this.mapped.lmHead;
  }

  /** Float32 data of a tensor by its canonical HF name, e.g. "h.0.attn.c_attn.weight", in HF orientation. */
  read(canonical: string): Float32Array {
    const data = this.mapped.read(canonical);
    if ((canonical === 'wte.weight' || canonical === 'lm_head.weight') && this.rows < this.mapped.embeddingRows)
      return data.slice(0, this.rows * this.mapped.config.dModel);
    return data;
  }

  /**
   * Refuses weights holding NaN or ±Inf (they would draw all-NaN patterns): names the first
   * such tensor. Reads every tensor once, one at a time; integer tests on the raw bits.
   */
  checkFinite(): void {
    for (const name of this.mapped.used) {
      const { dtype, bytes } = this.source.readRaw(name);
      const { bad, first } = countNonFinite(dtype, bytes);
      if (bad > 0) {
        throw new ModelFormatError(
          `${basename(this.source.path)}: tensor ${canonicalName(name)} holds ${bad} NaN or infinite value${bad === 1 ? '' : 's'} ` +
            `(the first at flat index ${first}); refusing to load it (--allow-nonfinite loads it anyway)`,
        );
      }
    }
  }

  close(): void {
    this.source.close();
  }
}

function configObject(text: string, where: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelFormatError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFormatError(`${where} is not a JSON object`);
  return raw as Record<string, unknown>;
}

/** NaN / ±Inf count on raw bits: F32 exponent 0x7f800000, F16 0x7c00, BF16 0x7f80 (all ones). */
function countNonFinite(dtype: Dtype, bytes: Uint8Array): { bad: number; first: number } {
  let bad = 0;
  let first = -1;
  if (dtype === 'F32') {
    const u = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (let i = 0; i < u.length; i++) {
      if (((u[i] ?? 0) & 0x7f800000) === 0x7f800000) {
        if (first < 0) first = i;
        bad++;
      }
    }
  } else {
    const mask = dtype === 'F16' ? 0x7c00 : 0x7f80;
    const u = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    for (let i = 0; i < u.length; i++) {
      if (((u[i] ?? 0) & mask) === mask) {
        if (first < 0) first = i;
        bad++;
      }
    }
  }
  return { bad, first };
}

/** A weights file opened as tensors, with a PyTorch checkpoint's other top-level values. */
interface OpenedSource {
  source: TensorSource;
  /** nanoGPT's model_args, when the checkpoint carries them. */
  modelArgs: Record<string, unknown> | null;
  extras: Record<string, unknown>;
}

function openTensorSource(path: string): OpenedSource {
  if (TORCH_EXT.test(path)) return openTorchSource(path);
  return { source: safetensorsSource(SafetensorsFile.open(path)), modelArgs: null, extras: {} };
}

/** A safetensors file as a TensorSource. */
export function safetensorsSource(file: SafetensorsFile): TensorSource {
  return {
    path: file.path,
    tensors: file.entries,
    readF32: (name) => file.readF32(name).data,
    readRaw: (name) => {
      const { entry, bytes } = file.readBytes(name);
      return { dtype: entry.dtype, bytes };
    },
    sameData: (a, b) => {
      const ea = file.entries.get(a);
      const eb = file.entries.get(b);
      if (!ea || !eb || ea.dtype !== eb.dtype || ea.end - ea.begin !== eb.end - eb.begin) return false;
      return Buffer.from(file.readBytes(a).bytes).equals(Buffer.from(file.readBytes(b).bytes));
    },
    close: () => file.close(),
  };
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
