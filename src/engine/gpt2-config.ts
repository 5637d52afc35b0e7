/**
 * GPT-2's configuration as the engine uses it, and the Hugging Face config.json reader. Its own
 * module so the layout mapping (checkpoint-layout.ts) and the checkpoint (gpt2-weights.ts) can
 * both use it without importing each other.
 */
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
  /**
   * The MLP's GELU: `tanh` is GPT-2's approximation (HF "gelu_new", the book's GELU); `erf` is
   * the exact one (PyTorch's nn.GELU(), which nanoGPT uses; HF "gelu").
   */
  gelu: GeluKind;
}

export type GeluKind = 'tanh' | 'erf';

/** Sanity caps: far above GPT-2 XL (48 layers, 1600 wide), far below anything absurd. */
const CAPS = { nLayer: 128, nHead: 128, dModel: 16384, nCtx: 65536, vocabSize: 1_000_000, dMlp: 65536 };

const TANH_GELUS = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);
const ERF_GELUS = new Set(['gelu']);

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
  if (typeof act !== 'string' || !(TANH_GELUS.has(act) || ERF_GELUS.has(act))) {
    throw new ModelFormatError(
      `config.json: activation_function "${String(act)}" is not a GELU (gelu_new, gelu_pytorch_tanh, gelu_fast or gelu)`,
    );
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
    gelu: ERF_GELUS.has(act) ? 'erf' : 'tanh',
  };
}
