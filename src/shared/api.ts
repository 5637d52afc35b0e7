/**
 * The typed contract between the renderer (window.atlas) and the engine behind IPC.
 * Everything here is plain data or typed arrays, so it crosses Electron IPC (structured clone)
 * and the wire codec (src/shared/wire.ts) unchanged.
 */
import type { HeadStats } from './head-scores';

/**
 * The tokens that together hold one run of characters: a character (or emoji grapheme) whose
 * UTF-8 bytes GPT-2 split over several tokens puts all of them in one group, so the UI can show
 * the character once over its pieces. A token that holds only whole characters is a group of one.
 * Groups tile the token sequence in order.
 */
export interface CharGroup {
  /** Index of the group's first token. */
  first: number;
  /** Tokens in the group (1 when nothing is split). */
  count: number;
  /** The source text the group covers, whole characters (e.g. `注`, ` 注`, `👍🏽`). */
  text: string;
}

/** One token as the engine shows it; see Gpt2Tokenizer.pieces. */
export interface TokenInfo {
  id: number;
  /**
   * Exact text covered, leading spaces included. A character split over tokens is shown on each
   * of them with its place among them, e.g. `注(1/2)` and `注(2/2)`; never as bare bytes.
   */
  display: string;
  /** True when the token holds only some of the UTF-8 bytes of a character (its group then has count > 1). */
  partial: boolean;
  /** UTF-16 range [start, end) in the analysed text. */
  start: number;
  end: number;
  /** The character group this token belongs to (shared, by value, by all its tokens). */
  charGroup: CharGroup;
  /** True for the prepended `<|endoftext|>` that is not part of the user's text. */
  special: boolean;
}

export interface ModelInfo {
  id: string;
  /** Shown in the UI as is: says honestly what the model is. */
  label: string;
  description: string;
  nLayers: number;
  nHeads: number;
  dModel: number;
  dHead: number;
  nCtx: number;
  vocabSize: number;
  /** sha256 of model.safetensors (hex): names these exact weights in saved views. */
  weightsHash: string;
  /** The head the attention view opens on, when the model's atlas-model.json names one. */
  preferredHead: { layer: number; head: number } | null;
  /** How the model was saved and what turns its text into tokens. */
  source: ModelSource;
}

/** The layouts the engine opens (see src/engine/checkpoint-layout.ts). */
export type CheckpointFormat = 'hf-gpt2' | 'nanogpt' | 'book';

export interface ModelSource {
  format: CheckpointFormat;
  /** The weights file's name, e.g. `ckpt.pt`, `model.safetensors`. */
  file: string;
  /** Facts about the layout a person may want: "no biases (bias: false)" … (English, from the engine). */
  notes: string[];
  vocabulary: {
    /** `gpt2`: GPT-2's BPE; `chars`: one character per token (nanoGPT's meta.pkl); `list`: vocab.json. */
    kind: 'gpt2' | 'chars' | 'list';
    size: number;
    /** The vocabulary file's name, or null for GPT-2's built-in tokenizer. */
    file: string | null;
    /** Embedding rows no token uses (nanoGPT pads GPT-2's 50257 to 50304): left out of predictions. */
    unusedRows: number;
    /** Whether it has GPT-2's <|endoftext|> to put first. */
    endOfText: boolean;
  };
}

/**
 * Per-head scores recorded while the model trained (train.py's training-log.json beside the
 * weights): "how this model's heads formed". Row i of each series is every head's score at
 * steps[i], index layer·heads + head, defined as in head-scores.ts (previous-token and
 * first-token on held-out text, induction on the engine's probe).
 */
export interface TrainingHistory {
  layers: number;
  heads: number;
  /** Training steps, increasing, ≥ 1. */
  steps: number[];
  /** Training tokens seen at each step. */
  tokens: number[];
  previousToken: number[][];
  firstToken: number[][];
  induction: number[][];
}

export interface AnalyzeRequest {
  text: string;
  /** Put GPT-2's `<|endoftext|>` token first (off by default). */
  prependEndOfText: boolean;
  /**
   * The squareVersion of the analysis the caller already holds. When the drawn square has not
   * changed since (typing past the first DRAWN_TOKENS tokens), dot and pattern come back empty
   * with squareUnchanged set, and the caller keeps its own: a keystroke then ships kilobytes.
   */
  haveSquare?: number;
  /**
   * The heads whose squares the caller wants, as flat indices layer·nHeads + head (at most
   * LIMITS.maxSquareHeads, each < nLayers·nHeads; repeats ignored). Absent: every head. The
   * attention view asks for the head it shows and fetches others when a view needs them: all
   * heads' squares of GPT-2 small at 128 tokens are 19 MB a keystroke, one head's 128 KB.
   */
  squares?: number[];
  /**
   * Answer the drawn square first. When the text is longer than DRAWN_TOKENS and the square
   * changes (an edit before its end, a paste, a first analysis), the model runs the first
   * DRAWN_TOKENS tokens only and the reply is the analysis of those (`rest` lists the tokens
   * still to run); asking again without this flag runs only the rest, keeping the square. The
   * grids draw no more than the square, so a learner sees an edit near the start of a long text
   * after the share of the model's work the square needs (a quarter of it at 512 tokens).
   */
  drawnFirst?: boolean;
}

/** Attention tensors are row-major, laid out as their TransformerLens hooks without batch. */
export interface Analysis {
  model: ModelInfo;
  text: string;
  tokens: TokenInfo[];
  /** Tokens the text had before it was cut to the model's context, or null when nothing was cut. */
  truncatedFrom: number | null;
  /** Side of the dot / pattern squares: min(T, DRAWN_TOKENS) — the grids draw no more. */
  drawn: number;
  /**
   * The heads in dot and pattern, in order, as flat indices layer·nHeads + head: every head
   * (0 … L·H − 1, so dot is [L, H, drawn, drawn]) unless the request named `squares`.
   */
  squareHeads: number[];
  /** blocks.{l}.attn.hook_dot of squareHeads[i] at [i, drawn, drawn], first `drawn` queries × keys, raw q·k (unscaled, unmasked). */
  dot: Float32Array;
  /** blocks.{l}.attn.hook_pattern of the same heads, the same square: [squareHeads.length, drawn, drawn]. */
  pattern: Float32Array;
  /** Identifies the square's contents: equal versions, equal dot and pattern. */
  squareVersion: number;
  /** True when the request's haveSquare matched: dot and pattern are empty, keep yours. */
  squareUnchanged: boolean;
  /** ‖blocks.{l}.attn.hook_result[t, h]‖₂: [L, T, H]. */
  resultNorm: Float32Array;
  /** ‖blocks.{l}.hook_attn_out[t]‖₂ and ‖blocks.{l}.hook_mlp_out[t]‖₂: [L, T] each. */
  attnOutNorm: Float32Array;
  mlpOutNorm: Float32Array;
  /** Top-k next-token predictions after the last token (other positions: predictions()). */
  topK: Predictions;
  /** Per-head pattern statistics over all T tokens (entropy, previous/first-token, local), [L·H] each. */
  headStats: HeadStats;
  /** Distinct characters of the text the model's vocabulary has no token for (left out); empty for GPT-2's. */
  outside: string[];
  /**
   * Present when a drawnFirst request was answered with the first `tokens.length` tokens only:
   * the text's later tokens, not run through the model yet (everything above describes the
   * first tokens, as if the text ended there). Ask again without drawnFirst for the whole.
   */
  rest?: TokenInfo[];
}

/** The model's top-k next-token predictions at one position, probabilities descending. */
export interface Predictions {
  position: number;
  k: number;
  ids: Int32Array;
  probs: Float32Array;
  strings: string[];
}

export interface PredictionsRequest extends AnalyzeRequest {
  position: number;
}

export interface HeadDetailRequest extends AnalyzeRequest {
  layer: number;
  head: number;
}

/** Heavier per-head tensors, on demand for one (layer, head); each [T, d] row-major. */
export interface HeadDetail {
  layer: number;
  head: number;
  T: number;
  dHead: number;
  dModel: number;
  q: Float32Array; // hook_q[:, head]  [T, d_head]
  k: Float32Array; // hook_k[:, head]  [T, d_head]
  v: Float32Array; // hook_v[:, head]  [T, d_head]
  z: Float32Array; // hook_z[:, head]  [T, d_head]
  result: Float32Array; // hook_result[:, head]  [T, d_model]
  /** v[k] @ W_O[head] for every key k, [T, d_model]: ΔE for any weights w is Σ_k w_k · vO[k]. */
  vO: Float32Array;
  /** blocks.{layer}.hook_resid_pre, [T, d_model]: the embeddings E this layer updates. */
  residPre: Float32Array;
}

export interface ContributionRequest extends HeadDetailRequest {
  /** The token whose embedding update is explained. */
  token: number;
}

/**
 * Tokens a head's ΔE pushes up or down, with their direct logit effects, ranked by distinct
 * value: tokens whose effects are exactly equal (e.g. tokens a model never saw in training,
 * which share one embedding row) are one entry with their count, never a fake ranking.
 */
export interface LogitEffects {
  /** One token per entry (the lowest id of a tie). */
  ids: Int32Array;
  strings: string[];
  values: Float32Array;
  /** How many tokens have exactly this effect (1 for most). */
  counts: Int32Array;
  /** For a tie, a few of its tokens as examples (empty otherwise). */
  examples: string[][];
}

/** How one layer's heads update one token's embedding. */
export interface Contribution {
  layer: number;
  head: number;
  token: number;
  T: number;
  dModel: number;
  nHeads: number;
  /** blocks.{layer}.hook_resid_pre and hook_resid_mid for every token, [T, d_model] each. */
  residPre: Float32Array;
  residMid: Float32Array;
  /** hook_result[token, h] for every head h, [H, d_model]: each head's ΔE. */
  headResults: Float32Array;
  /** b_O: Σ_h ΔE_h + b_O = hook_attn_out[token]. */
  attnBias: Float32Array;
  /**
   * Direct logit effect of `head`'s ΔE at `token`: ((ΔE − mean ΔE) / ln_final.hook_scale ⊙ γ_f) · W_U,
   * the five tokens it raises most and the five it lowers most.
   */
  raises: LogitEffects;
  lowers: LogitEffects;
}

/** Induction scores of every head on random tokens repeated twice. */
export interface InductionProbe {
  /** [L, H]: mean weight from a repeated token to the token after its first occurrence. */
  scores: Float32Array;
  /** [L, H]: duplicate-token scores on the same sequences (weight on earlier copies of a token). */
  duplicateScores: Float32Array;
  sequences: number;
  blockLength: number;
}

export interface ScoreRequest extends HeadDetailRequest {
  /** Query position i (the grid row in the usual orientation). */
  query: number;
  /** Key position j. */
  key: number;
}

/**
 * hook_dot[layer, head, query, key] split into exact bilinear terms (DESIGN.md's residual-stream
 * parts): with ln_1's scale frozen at each position's value, q = Σ_parts q_part + q_bias and
 * k likewise, so q·k = Σ_a Σ_b q_{parts[a]} · k_{parts[b]}.
 */
export interface ScoreDecomposition {
  layer: number;
  head: number;
  query: number;
  key: number;
  /** The raw q·k from the graph (hook_dot, unscaled, unmasked). */
  total: number;
  /** `embed`, `pos`, then for each earlier layer l: `L{l}H{h}`…, `L{l}.b_O`, `L{l}.mlp`; last `bias`. */
  parts: string[];
  /** [P, P] row-major: terms[a·P + b] = q_{parts[a]} · k_{parts[b]}. */
  terms: Float64Array;
  /** ln_1's frozen scale √(var + ε) at the query and at the key. */
  sigmaQuery: number;
  sigmaKey: number;
}

export type AblationMode = 'zero' | 'mean';

export interface AblationRequest extends HeadDetailRequest {
  /** zero: the head's output is removed; mean: replaced by its mean over this text's positions. */
  mode: AblationMode;
  /** The token whose next-token prediction and later residual stream are compared. */
  token: number;
}

/** One candidate next token, before and after the ablation. */
export interface AblatedToken {
  id: number;
  string: string;
  clean: number;
  ablated: number;
}

/** What knocking one head out does at one token (an exact forward pass of the later layers). */
export interface Ablation {
  layer: number;
  head: number;
  mode: AblationMode;
  token: number;
  /** The union of the clean and the ablated top-5 next tokens, clean probability descending. */
  top: AblatedToken[];
  /** KL(clean ‖ ablated) of the next-token distributions, in nats. */
  kl: number;
  /** For each layer from `layer` on: ‖Δ hook_resid_post[token]‖ and the clean ‖hook_resid_post[token]‖. */
  layers: { layer: number; delta: number; norm: number }[];
}

/** A file the renderer made (a view as PNG or SVG) for the host to save. */
export interface SaveFileRequest {
  suggestedName: string;
  bytes: Uint8Array;
}

/**
 * Where a file went. The desktop app asks with a save dialog (savedTo is the path, or null when
 * the person cancelled); a browser host cannot write files, so it hands the bytes back for the
 * renderer to download.
 */
export interface SaveResult {
  savedTo: string | null;
  download: { name: string; bytes: Uint8Array } | null;
}

/** A model the library can run now, or fetch. */
export interface LibraryEntry {
  /** Stable key: kind and folder, or `hub:<repo>` for a model not on disk yet. */
  id: string;
  kind: 'bundled' | 'downloaded' | 'hf-cache' | 'folder' | 'downloadable';
  label: string;
  description: string;
  repo: string | null;
  /** Folder on disk, or null for a model that is not downloaded. */
  dir: string | null;
  diskBytes: number | null;
  /** Approximate download size, for models not on disk. */
  downloadBytes: number | null;
  /** Bytes of an interrupted download waiting to resume. */
  partialBytes: number;
  /** Estimated memory to load it and analyse a full context. */
  memoryBytes: number | null;
  /** Bytes of its built instrumented graphs in the cache (0: none built yet). */
  graphBytes: number;
  loaded: boolean;
}

export interface DownloadState {
  repo: string;
  phase: 'downloading' | 'building' | 'done' | 'failed' | 'cancelled';
  file: string | null;
  received: number;
  total: number | null;
  bytesPerSecond: number;
  secondsLeft: number | null;
  error: string | null;
  dir: string | null;
}

/** The loaded model's built graph: where it is cached and what it cost. */
export interface GraphInfo {
  path: string;
  bytes: number;
  buildMs: number;
  fromCache: boolean;
}

/**
 * What a checkpoint lacks to be loaded, and what its tensors already said: the book's model.pth
 * without config.json has everything but the number of heads; a character-level nanoGPT without
 * its meta.pkl has no vocabulary.
 */
export type ModelNeeds =
  | {
      kind: 'heads';
      /** The model asked for (folder or file) and its weights file's name. */
      path: string;
      file: string;
      format: CheckpointFormat;
      nLayers: number;
      dModel: number;
      nCtx: number;
      vocabSize: number;
      qkvBias: boolean;
    }
  | { kind: 'vocabulary'; path: string; file: string; rows: number };

export interface LibraryState {
  entries: LibraryEntry[];
  download: DownloadState | null;
  loaded: {
    entryId: string | null;
    model: ModelInfo | null;
    graph: GraphInfo | null;
    loading: boolean;
    /** Share of the graph build done while loading (0–1), or null when not building. */
    buildProgress: number | null;
    error: string | null;
    /** The last model asked for could not load until the person says more (completeModel). */
    needs: ModelNeeds | null;
  };
  /** Whether this host can show native folder pickers and file managers (the desktop app). */
  desktop: boolean;
}

/** window.atlas: what the renderer may ask of the engine. */
export interface AtlasApi {
  modelInfo(): Promise<ModelInfo>;
  analyze(req: AnalyzeRequest): Promise<Analysis>;
  headDetail(req: HeadDetailRequest): Promise<HeadDetail>;
  contribution(req: ContributionRequest): Promise<Contribution>;
  /** Top-k next-token predictions at any position (the analysis carries the last one's). */
  predictions(req: PredictionsRequest): Promise<Predictions>;
  inductionProbe(): Promise<InductionProbe>;
  /** The loaded model's per-head scores over training, or null when its folder has none. */
  trainingHistory(): Promise<TrainingHistory | null>;
  /** hook_dot at one cell split into exact terms, one per (query-side part, key-side part). */
  explainScore(req: ScoreRequest): Promise<ScoreDecomposition>;
  /** One head zeroed or mean-replaced: the change in next-token probabilities and later layers. */
  ablate(req: AblationRequest): Promise<Ablation>;
  /** The analysis as data: analysis.json plus a .npy per TransformerLens hook, zipped. */
  exportData(req: AnalyzeRequest): Promise<SaveResult>;
  saveFile(req: SaveFileRequest): Promise<SaveResult>;
  library(): Promise<LibraryState>;
  /** Switch to a library entry that is on disk. */
  useModel(req: { id: string }): Promise<LibraryState>;
  /** Start downloading a catalogue model in the background; poll library() for progress. */
  download(req: { repo: string }): Promise<LibraryState>;
  cancelDownload(): Promise<LibraryState>;
  removeModel(req: { id: string }): Promise<LibraryState>;
  /** Delete a model's built graphs from the cache (rebuilt when it is next used). */
  removeGraph(req: { id: string }): Promise<LibraryState>;
  /** Desktop only: pick a folder with a native dialog and load it. */
  openFolder(): Promise<LibraryState>;
  /** Desktop only: pick one checkpoint file (.pt, .pth, .safetensors) with a native dialog and load it. */
  openFile(): Promise<LibraryState>;
  /**
   * Load the model `loaded.needs` names with what it lacked: its number of heads, or a
   * vocabulary file picked with a native dialog (desktop only).
   */
  completeModel(req: { nHeads: number } | { pickVocabulary: true }): Promise<LibraryState>;
  /** Desktop only: reveal a library entry's folder, or the graph cache, in the file manager. */
  showInFolder(req: { id: string } | { graph: true }): Promise<void>;
}

/** Channel names; one handler each on the main side. */
export const CHANNELS = {
  modelInfo: 'atlas:model-info',
  analyze: 'atlas:analyze',
  headDetail: 'atlas:head-detail',
  contribution: 'atlas:contribution',
  predictions: 'atlas:predictions',
  inductionProbe: 'atlas:induction-probe',
  trainingHistory: 'atlas:training-history',
  explainScore: 'atlas:explain-score',
  ablate: 'atlas:ablate',
  exportData: 'atlas:export-data',
  saveFile: 'atlas:save-file',
  library: 'atlas:library',
  useModel: 'atlas:use-model',
  download: 'atlas:download',
  cancelDownload: 'atlas:cancel-download',
  removeModel: 'atlas:remove-model',
  removeGraph: 'atlas:remove-graph',
  openFolder: 'atlas:open-folder',
  openFile: 'atlas:open-file',
  completeModel: 'atlas:complete-model',
  showInFolder: 'atlas:show-in-folder',
} as const satisfies Record<keyof AtlasApi, string>;

export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/** Bounds checked on every request, in main, before the engine sees it. */
export const LIMITS = {
  /** Characters of text accepted per request; more is refused, not truncated silently. */
  maxTextChars: 20_000,
  /** Heads named in one analyze request's `squares` (GPT-2 XL has 48 × 25 = 1,200). */
  maxSquareHeads: 4096,
  /** Largest file the renderer may hand over for saving. */
  maxSaveBytes: 256 * 1024 * 1024,
} as const;

/** File types the renderer may ask to save, by extension. */
export const SAVE_TYPES = { png: 'PNG image', svg: 'SVG image', zip: 'Zip archive', json: 'JSON' } as const;

/** Errors that cross IPC keep only their message; this prefix marks ones meant for the user. */
export const USER_ERROR_PREFIX = 'AtlasError: ';
