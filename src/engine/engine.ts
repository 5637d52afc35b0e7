/**
 * The engine: one loaded GPT-2 (checkpoint → cached instrumented graph → session) and the
 * questions the UI and the command line ask of it. Plain Node; never imports electron.
 */
import { basename, resolve } from 'node:path';
import type {
  AblatedToken,
  Ablation,
  AblationRequest,
  Analysis,
  AnalyzeRequest,
  Contribution,
  ContributionRequest,
  HeadDetail,
  HeadDetailRequest,
  InductionProbe,
  LogitEffects,
  ModelInfo,
  Predictions,
  PredictionsRequest,
  ScoreDecomposition,
  ScoreRequest,
  TokenInfo,
  TrainingHistory,
} from '../shared/api';
import { duplicateTokenScore } from '../shared/duplicate-token';
import { inductionScore } from '../shared/head-scores';
import { DRAWN_TOKENS, TOP_K, incrementalNames } from '../shared/hooks';
import {
  bilinearTerms,
  forwardFromMid,
  lnScale,
  logProbs,
  norm,
  partNames,
  projectParts,
  residualParts,
  topIndices,
  type BlockWeights,
} from './interpret';
import { ensureBuilt } from './graph-cache';
import { readModelMeta } from './model-meta';
import { readTrainingHistory } from './training-history';
import { FORMAT_LABELS, Gpt2Checkpoint, type Gpt2Config, type OpenOptions } from './gpt2-weights';
import { AnalysisCache, commonPrefix, type RowHook } from './incremental';
import { ModelRuntime, type HostTensor } from './runtime';
import { gpt2Vocabulary, resolveVocabulary, type Vocabulary } from './vocabulary';

export class AtlasError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AtlasError';
  }
}

export interface LoadStats {
  buildMs: number;
  fromCache: boolean;
  sessionMs: number;
  modelPath: string;
}

interface Loaded {
  info: ModelInfo;
  config: Gpt2Config;
  /** The lean analysis graph's session (graph-builder.ts), used by everything the UI asks. */
  runtime: ModelRuntime;
  /** The all-hooks graph's session, created on first use (exports, the command line). */
  full: ModelRuntime | null;
  fullModelPath: string;
  stats: LoadStats;
  /** Read on first use (outputProjection): attn.c_proj.weight per layer, [H·d_head, d_model] =
   *  W_O as [H, d_head, d_model], and attn.c_proj.bias per layer, [d_model]. 28 MB on GPT-2
   *  small that no analysis reply needs, so not part of the first analysis's peak. */
  outputProj: { wO: Float32Array[]; bO: Float32Array[] } | null;
  /** What was opened (a folder or a file), how, and the folder its files are in. */
  path: string;
  openOptions: OpenOptions;
  dir: string;
  vocab: Vocabulary;
  /** Read on first use: the unembedding [vocab, d_model] and ln_f's weight and bias, for logit
   *  effects and predictions away from the last token. */
  unembed: { U: Float32Array; gamma: Float32Array; beta: Float32Array } | null;
  induction: InductionProbe | null;
  /** training-log.json's per-head scores over training, validated at load (null: none). */
  history: TrainingHistory | null;
  /** What the last analyses computed, so the next one runs only the changed positions. */
  cache: AnalysisCache;
  /** The text's ids the last square-first answer was for (the cache then holds their square). */
  squareFirstOf: readonly number[] | null;
  /** Zero-length past inputs: a plain full forward pass. */
  emptyPast: Record<string, HostTensor>;
  /** Read on first use by explainScore / ablate: every block's weights, wte and wpe. */
  weights: { blocks: BlockWeights[]; wte: Float32Array; wpe: Float32Array } | null;
}

/** Random tokens repeated twice: enough sequences for a stable mean, short enough for any n_ctx. */
const PROBE_SEQUENCES = 8;
const PROBE_BLOCK = 50;
const LOGIT_TOP = 5;

export interface EngineOptions {
  /** Where built graphs are cached. */
  cacheDir: string;
  /** Load weights holding NaN or ±Inf instead of refusing them (for studying broken checkpoints). */
  allowNonfinite?: boolean;
}

/** What a model is opened with beyond its path: a configuration the person gave, a vocabulary file. */
export interface LoadOptions extends OpenOptions {
  /** nanoGPT's meta.pkl or a vocab.json, when none lies beside the checkpoint. */
  vocabulary?: string;
}

export class Engine {
  private loaded: Loaded | null = null;

  constructor(private readonly options: EngineOptions) {}

  /** The loaded model's vocabulary (GPT-2's when none is loaded). */
  get tokenizer(): Vocabulary {
    return this.loaded?.vocab ?? gpt2Vocabulary();
  }

  /** What the loaded model was opened from (a folder or a single file), or null. */
  modelDir(): string | null {
    return this.loaded?.path ?? null;
  }

  async load(modelPath: string, onBuildProgress?: (fraction: number) => void, loadOptions: LoadOptions = {}): Promise<ModelInfo> {
    const path = resolve(modelPath);
    const openOptions: OpenOptions = loadOptions.config ? { config: loadOptions.config } : {};
    const ckpt = Gpt2Checkpoint.open(path, openOptions);
    const dir = ckpt.dir;
    let built;
    let vocab: Vocabulary;
    try {
      vocab = resolveVocabulary(ckpt.embeddingRows, dir, ckpt.extras, loadOptions.vocabulary);
      ckpt.useVocabularyRows(Math.min(vocab.size, ckpt.embeddingRows));
      if (vocab.size > ckpt.embeddingRows)
        throw new AtlasError(
          `the vocabulary (${vocab.file ?? 'GPT-2'}) has ${vocab.size} tokens but the model's embedding has only ${ckpt.embeddingRows} rows`,
        );
      if (!this.options.allowNonfinite) ckpt.checkFinite();
      built = await ensureBuilt(ckpt, this.options.cacheDir, onBuildProgress);
    } finally {
      ckpt.close();
    }
    const c = ckpt.config;
    const t0 = performance.now();
    const runtime = await ModelRuntime.create(built.analysisModelPath);
    const sessionMs = performance.now() - t0;
    // atlas-model.json describes a folder's model; a file opened on its own has only its name.
    const isFile = path !== dir;
    const meta = isFile ? {} : readModelMeta(dir);
    // A file is named with its folder: nanoGPT writes every run's ckpt.pt under out-<run>/.
    const name = isFile ? `${basename(dir)}/${basename(path)}` : basename(path);
    const weightsFile = basename(ckpt.weightsPath);
    const info: ModelInfo = {
      id: meta.id ?? name,
      label: meta.label ?? `${name} (${FORMAT_LABELS[ckpt.format]})`,
      description: meta.description ?? `Loaded from ${path}`,
      nLayers: c.nLayer,
      nHeads: c.nHead,
      dModel: c.dModel,
      dHead: c.dModel / c.nHead,
      nCtx: c.nCtx,
      vocabSize: c.vocabSize,
      weightsHash: built.weightsHash,
      // A head the model names is used only when it exists in this model.
      preferredHead:
        meta.defaultHead && meta.defaultHead.layer < c.nLayer && meta.defaultHead.head < c.nHead ? meta.defaultHead : null,
      source: {
        format: ckpt.format,
        file: weightsFile,
        notes: [...ckpt.notes],
        vocabulary: {
          kind: vocab.kind,
          size: vocab.size,
          file: vocab.file ? basename(vocab.file) : null,
          unusedRows: ckpt.embeddingRows - c.vocabSize,
          endOfText: vocab.endOfText !== null,
        },
      },
    };
    await this.unload();
    const shape = { nLayer: c.nLayer, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx };
    this.loaded = {
      info,
      config: c,
      runtime,
      full: null,
      fullModelPath: built.modelPath,
      stats: { buildMs: built.buildMs, fromCache: built.fromCache, sessionMs, modelPath: built.modelPath },
      outputProj: null,
      path,
      openOptions,
      dir,
      vocab,
      unembed: null,
      induction: null,
      history: readTrainingHistory(dir, { nLayers: c.nLayer, nHeads: c.nHead }),
      cache: new AnalysisCache(shape),
      squareFirstOf: null,
      emptyPast: AnalysisCache.emptyPast(shape),
      weights: null,
    };
    return info;
  }

  async unload(): Promise<void> {
    const l = this.loaded;
    this.loaded = null;
    await l?.runtime.dispose();
    await l?.full?.dispose();
  }

  /** The loaded model's checkpoint again (for weights read on first use), with its vocabulary's rows. */
  private openCheckpoint(m: Loaded): Gpt2Checkpoint {
    const ckpt = Gpt2Checkpoint.open(m.path, m.openOptions);
    ckpt.useVocabularyRows(m.config.vocabSize);
    return ckpt;
  }

  private model(): Loaded {
    if (!this.loaded) throw new AtlasError('no model is loaded');
    return this.loaded;
  }

  modelInfo(): ModelInfo {
    return this.model().info;
  }

  loadStats(): LoadStats {
    return this.model().stats;
  }

  /** Token ids for a request, cut to the model's context. */
  tokenize(req: AnalyzeRequest): { ids: number[]; truncatedFrom: number | null } {
    const ids = this.tokenizer.encode(req.text, { prependEndOfText: req.prependEndOfText });
    const nCtx = this.model().config.nCtx;
    return ids.length > nCtx ? { ids: ids.slice(0, nCtx), truncatedFrom: ids.length } : { ids, truncatedFrom: null };
  }

  tokenInfos(ids: readonly number[], prependEndOfText: boolean, text: string): TokenInfo[] {
    const v = this.tokenizer;
    const prepended = prependEndOfText && v.endOfText !== null;
    return v.pieces(ids, prepended, text).map((p, i) => ({
      ...p,
      special: prepended && i === 0 && p.id === v.endOfText,
    }));
  }

  /** Every hook the full graph exposes, for the command line and exports. */
  async runAll(ids: readonly number[]): Promise<Record<string, HostTensor>> {
    return this.run(ids, (await this.fullRuntime()).outputNames);
  }

  /** Named outputs of the full graph (a plain forward pass of `ids`). */
  async run(ids: readonly number[], fetches: readonly string[]): Promise<Record<string, HostTensor>> {
    const m = this.model();
    return (await this.fullRuntime()).run(ids, fetches, m.emptyPast);
  }

  private async fullRuntime(): Promise<ModelRuntime> {
    const m = this.model();
    m.full ??= await ModelRuntime.create(m.fullModelPath);
    return m.full;
  }

  /** Brings the incremental cache to `ids` (running only what changed) and returns it. */
  private async cached(ids: readonly number[]): Promise<AnalysisCache> {
    const m = this.model();
    await m.cache.update(ids, (fresh, fetches, feeds, into) => m.runtime.run(fresh, fetches, feeds, into));
    return m.cache;
  }

  /** As cached, with every per-position hook filled (the views read them; analyze does not). */
  private async cachedWithRows(ids: readonly number[]): Promise<AnalysisCache> {
    const m = this.model();
    const cache = await this.cached(ids);
    await cache.fillRows((fresh, fetches, feeds, into) => m.runtime.run(fresh, fetches, feeds, into));
    return cache;
  }

  async analyze(req: AnalyzeRequest): Promise<Analysis> {
    const m = this.model();
    const { ids: all, truncatedFrom } = this.tokenize(req);
    const allTokens = this.tokenInfos(all, req.prependEndOfText, req.text);
    // drawnFirst: when the square changes and the text runs past it, only the square's tokens
    // run now; the rest is asked for next, and runs after them as an append would. Asked again
    // for a text answered square first (more heads' squares) while the cache still holds just
    // its square's tokens: the same first answer, from the cache. A text of exactly
    // DRAWN_TOKENS tokens typed on at its end is not that: its square does not change.
    const P = m.cache.unchangedPrefix(all);
    const again = P === DRAWN_TOKENS && m.cache.holds(all.slice(0, DRAWN_TOKENS)) && sameIds(m.squareFirstOf, all);
    const first = req.drawnFirst === true && all.length > DRAWN_TOKENS && (P < DRAWN_TOKENS || again);
    m.squareFirstOf = first ? all : null;
    const ids = first ? all.slice(0, DRAWN_TOKENS) : all;
    const tokens = first ? allTokens.slice(0, DRAWN_TOKENS) : allTokens;
    // Only the positions after the unchanged prefix run through the model (incremental.ts).
    const cache = await this.cached(ids);
    const squareUnchanged = req.haveSquare !== undefined && req.haveSquare === cache.currentSquareVersion;
    // Only the squares asked for cross the wire (api.ts AnalyzeRequest.squares).
    const heads = squareUnchanged ? [] : req.squares ? this.squareHeads(req.squares) : null;
    const c = cache.snapshot(heads);
    return {
      model: m.info,
      text: req.text,
      tokens,
      outside: m.vocab.outside(req.text),
      truncatedFrom,
      drawn: c.drawn,
      squareHeads: c.squareHeads,
      squareVersion: c.squareVersion,
      squareUnchanged,
      dot: c.dot,
      pattern: c.pattern,
      resultNorm: c.resultNorm,
      attnOutNorm: c.attnOutNorm,
      mlpOutNorm: c.mlpOutNorm,
      topK: this.predictionsAt(cache, ids.length - 1),
      headStats: c.headStats,
      ...(first ? { rest: allTokens.slice(DRAWN_TOKENS) } : {}),
    };
  }

  /** The requested heads that exist, each once, in the order asked. */
  private squareHeads(asked: readonly number[]): number[] {
    const n = this.model().info.nLayers * this.model().info.nHeads;
    return [...new Set(asked)].filter((h) => h < n);
  }

  /**
   * Predictions answered from the analysis the engine holds right now, synchronously (no
   * forward pass, nothing awaited, so nothing can change the cache meanwhile); null when the
   * cache holds other text or an update is running. Browser mode answers these beside the queue.
   */
  cachedPredictions(req: PredictionsRequest): Predictions | null {
    if (!this.loaded) return null;
    const m = this.model();
    const { ids } = this.tokenize(req);
    if (req.position >= ids.length || !m.cache.holds(ids)) return null;
    return this.predictionsAt(m.cache, req.position);
  }

  async predictions(req: PredictionsRequest): Promise<Predictions> {
    const { ids } = this.tokenize(req);
    if (req.position >= ids.length) throw new AtlasError(`position ${req.position} is outside this text (${ids.length} tokens)`);
    return this.predictionsAt(await this.cached(ids), req.position);
  }

  /**
   * From the graph when a run ended at `position` (the usual case: the last token); otherwise
   * from the cached last-block output: ln_f, the unembedding, a logsumexp over the vocabulary.
   */
  private predictionsAt(cache: AnalysisCache, position: number): Predictions {
    if (position < 0) return { position: 0, k: TOP_K, ids: new Int32Array(0), probs: new Float32Array(0), strings: [] };
    const fromGraph = cache.topKAt(position);
    let ids: Int32Array;
    let probs: Float32Array;
    if (fromGraph) {
      ids = fromGraph.ids;
      probs = fromGraph.probs;
    } else {
      const m = this.model();
      const { U, gamma, beta } = this.unembedding(m);
      const x = cache.finalResidual(position);
      const D = x.length;
      let mean = 0;
      for (let i = 0; i < D; i++) mean += x[i] ?? 0;
      mean /= D;
      let variance = 0;
      for (let i = 0; i < D; i++) variance += ((x[i] ?? 0) - mean) ** 2;
      const sigma = Math.sqrt(variance / D + m.config.layerNormEps);
      const y = Float32Array.from(x, (v, i) => ((v - mean) / sigma) * (gamma[i] ?? 0) + (beta[i] ?? 0));
      const logits = new Float32Array(m.config.vocabSize);
      let max = -Infinity;
      for (let v = 0; v < logits.length; v++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += (y[i] ?? 0) * (U[v * D + i] ?? 0);
        logits[v] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (const l of logits) sum += Math.exp(l - max);
      const logZ = max + Math.log(sum);
      const top = extremes(logits, TOP_K, true);
      ids = Int32Array.from(top);
      probs = Float32Array.from(top, (v) => Math.exp((logits[v] ?? 0) - logZ));
    }
    const strings = Array.from(ids, (id) => this.tokenizer.display(id));
    return { position, k: TOP_K, ids, probs, strings };
  }

  /** Positions the last analyze ran through the model (the rest came from the cache). */
  lastAnalyzeRunPositions(): number {
    return this.model().cache.lastRunPositions;
  }

  /** W_O and b_O per layer, read on first use and kept for per-head value projections (v·W_O),
   *  so toggled weights can recompute ΔE. */
  private outputProjection(m: Loaded): NonNullable<Loaded['outputProj']> {
    if (!m.outputProj) {
      const ckpt = this.openCheckpoint(m);
      try {
        const L = m.config.nLayer;
        m.outputProj = {
          wO: Array.from({ length: L }, (_, l) => ckpt.read(`h.${l}.attn.c_proj.weight`)),
          bO: Array.from({ length: L }, (_, l) => ckpt.read(`h.${l}.attn.c_proj.bias`)),
        };
      } finally {
        ckpt.close();
      }
    }
    return m.outputProj;
  }

  private unembedding(m: Loaded): { U: Float32Array; gamma: Float32Array; beta: Float32Array } {
    if (!m.unembed) {
      const ckpt = this.openCheckpoint(m);
      try {
        m.unembed = {
          U: ckpt.read(ckpt.lmHead ? 'lm_head.weight' : 'wte.weight'),
          gamma: ckpt.read('ln_f.weight'),
          beta: ckpt.read('ln_f.bias'),
        };
      } finally {
        ckpt.close();
      }
    }
    return m.unembed;
  }

  /**
   * Direct logit effect of a residual-stream vector x at a position whose final LayerNorm scale
   * is σ: ((x − mean x) / σ ⊙ γ_f) · W_U[v] for every token v (TransformerLens's
   * apply_ln_to_stack followed by the unembedding; the LN bias is not part of any component).
   */
  logitEffects(x: Float32Array, sigma: number): Float32Array {
    const m = this.model();
    const { U, gamma } = this.unembedding(m);
    const D = m.config.dModel;
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[i] ?? 0;
    mean /= D;
    const y = new Float32Array(D);
    for (let i = 0; i < D; i++) y[i] = (((x[i] ?? 0) - mean) / sigma) * (gamma[i] ?? 0);
    const out = new Float32Array(m.config.vocabSize);
    for (let v = 0; v < out.length; v++) {
      let s = 0;
      const row = v * D;
      for (let i = 0; i < D; i++) s += (y[i] ?? 0) * (U[row + i] ?? 0);
      out[v] = s;
    }
    return out;
  }

  async contribution(req: ContributionRequest): Promise<Contribution> {
    const m = this.model();
    const { nLayer, nHead: H, dModel: D } = m.config;
    if (req.layer >= nLayer || req.head >= H) {
      throw new AtlasError(`layer ${req.layer}, head ${req.head} is outside this model (${nLayer} layers × ${H} heads)`);
    }
    const { ids } = this.tokenize(req);
    const T = ids.length;
    if (req.token >= T) throw new AtlasError(`token ${req.token} is outside this text (${T} tokens)`);
    const cache = await this.cachedWithRows(ids);
    const dh = D / H;
    const { wO, bO } = this.outputProjection(m);
    // hook_result of every head at this token: z[token, h] @ W_O[h].
    const z = cache.rows('z', req.layer).subarray(req.token * D, (req.token + 1) * D);
    const headResults = new Float32Array(H * D);
    for (let h = 0; h < H; h++) headResults.set(headTimesWO(z.subarray(h * dh, (h + 1) * dh), wO[req.layer], h, D), h * D);
    const sigma = cache.finalScale()[req.token] ?? 1;
    const effects = this.logitEffects(headResults.subarray(req.head * D, (req.head + 1) * D), sigma);
    const piece = (id: number): string => this.tokenizer.display(id);
    const pick = (groups: TieGroup[]): LogitEffects => ({
      ids: Int32Array.from(groups, (g) => g.first),
      strings: groups.map((g) => piece(g.first)),
      values: Float32Array.from(groups, (g) => g.value),
      counts: Int32Array.from(groups, (g) => g.count),
      examples: groups.map((g) => (g.count > 1 ? g.examples.map(piece) : [])),
    });
    return {
      layer: req.layer,
      head: req.head,
      token: req.token,
      T,
      dModel: D,
      nHeads: H,
      residPre: cache.rows('residPre', req.layer),
      residMid: cache.rows('residMid', req.layer),
      headResults,
      attnBias: (bO[req.layer] ?? new Float32Array(D)).slice(),
      raises: pick(distinctExtremes(effects, LOGIT_TOP, true)),
      lowers: pick(distinctExtremes(effects, LOGIT_TOP, false)),
    };
  }

  /**
   * Induction scores of every head: <|endoftext|>, then a block of random tokens, then the same
   * block again (Olsson et al. 2022). Seeded, so a model always gets the same scores; cached.
   */
  async inductionProbe(): Promise<InductionProbe> {
    const m = this.model();
    if (m.induction) return m.induction;
    const { nLayer: L, nHead: H } = m.config;
    // 2n + 1 tokens: within the context and within the drawn square the analysis graph returns.
    const n = Math.min(PROBE_BLOCK, Math.floor((Math.min(m.config.nCtx, DRAWN_TOKENS) - 1) / 2));
    let seed = 2022;
    const rand = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const scores = new Float32Array(L * H);
    const duplicateScores = new Float32Array(L * H);
    const patterns = Array.from({ length: L }, (_, l) => incrementalNames(l).patternDrawn);
    // GPT-2's ids 1000–40999 are ordinary words; a small vocabulary (characters) uses all its ids.
    const eot = m.vocab.endOfText;
    const prefix = eot !== null ? [eot] : [];
    const [lo, span] = m.vocab.kind === 'gpt2' ? [1000, 40000] : [0, m.config.vocabSize];
    for (let s = 0; s < PROBE_SEQUENCES; s++) {
      const block = Array.from({ length: n }, () => lo + Math.floor(rand() * span));
      const ids = [...prefix, ...block, ...block];
      const T = ids.length;
      const out = await m.runtime.run(ids, patterns, m.emptyPast);
      for (let l = 0; l < L; l++) {
        const p = f32(out, incrementalNames(l).patternDrawn); // [H, T, T]: T ≤ DRAWN_TOKENS
        for (let h = 0; h < H; h++) {
          scores[l * H + h] =
            (scores[l * H + h] ?? 0) +
            inductionScore(p.subarray(h * T * T, (h + 1) * T * T), T, n, prefix.length) / PROBE_SEQUENCES;
          duplicateScores[l * H + h] =
            (duplicateScores[l * H + h] ?? 0) +
            (duplicateTokenScore(p.subarray(h * T * T, (h + 1) * T * T), T, ids) ?? 0) / PROBE_SEQUENCES;
        }
      }
    }
    m.induction = { scores, duplicateScores, sequences: PROBE_SEQUENCES, blockLength: n };
    return m.induction;
  }

  /** How the loaded model's heads formed: training-log.json's per-head scores, or null. */
  trainingHistory(): TrainingHistory | null {
    return this.model().history;
  }

  private interpretWeights(m: Loaded): NonNullable<Loaded['weights']> {
    if (!m.weights) {
      const ckpt = this.openCheckpoint(m);
      try {
        const blocks = Array.from({ length: m.config.nLayer }, (_, l): BlockWeights => {
          const r = (n: string): Float32Array => ckpt.read(`h.${l}.${n}`);
          return {
            ln1g: r('ln_1.weight'),
            ln1b: r('ln_1.bias'),
            attnW: r('attn.c_attn.weight'),
            attnB: r('attn.c_attn.bias'),
            projW: r('attn.c_proj.weight'),
            projB: r('attn.c_proj.bias'),
            ln2g: r('ln_2.weight'),
            ln2b: r('ln_2.bias'),
            fcW: r('mlp.c_fc.weight'),
            fcB: r('mlp.c_fc.bias'),
            mlpW: r('mlp.c_proj.weight'),
            mlpB: r('mlp.c_proj.bias'),
            gelu: m.config.gelu,
          };
        });
        // Tied models share wte with the unembedding: read it once.
        const wte = ckpt.lmHead ? ckpt.read('wte.weight') : this.unembedding(m).U;
        m.weights = { blocks, wte, wpe: ckpt.read('wpe.weight') };
      } finally {
        ckpt.close();
      }
    }
    return m.weights;
  }

  private checkHead(m: Loaded, layer: number, head: number): void {
    const { nLayer, nHead } = m.config;
    if (layer >= nLayer || head >= nHead) {
      throw new AtlasError(`layer ${layer}, head ${head} is outside this model (${nLayer} layers × ${nHead} heads)`);
    }
  }

  /**
   * hook_dot at (layer, head, query, key) split into exact terms (interpret.ts). Everything comes
   * from the incremental cache, like headDetail: each earlier head's hook_result is z · W_O at the
   * two positions, hook_mlp_out is hook_resid_pre of the next block minus hook_resid_mid (what
   * the graph added), and the total is the graph's hook_dot (q·k of the cached q and k outside
   * the drawn square).
   */
  async explainScore(req: ScoreRequest): Promise<ScoreDecomposition> {
    const m = this.model();
    this.checkHead(m, req.layer, req.head);
    const { nHead: H, dModel: D, layerNormEps: eps } = m.config;
    const dh = D / H;
    const { ids } = this.tokenize(req);
    const T = ids.length;
    if (req.query >= T || req.key >= T)
      throw new AtlasError(`query ${req.query} or key ${req.key} is outside this text (${T} tokens)`);
    const cache = await this.cachedWithRows(ids);
    const w = this.interpretWeights(m);
    const block = w.blocks[req.layer] as BlockWeights;
    const { wO, bO } = this.outputProjection(m);
    const residPre = cache.rows('residPre', req.layer);
    // Earlier layers' head outputs and MLP outputs, [T, H, D] and [T, D], at the two positions only.
    const positions = new Set([req.query, req.key]);
    const results: Float32Array[] = [];
    const mlpOuts: Float32Array[] = [];
    for (let l = 0; l < req.layer; l++) {
      const z = cache.rows('z', l);
      const mid = cache.rows('residMid', l);
      const next = cache.rows('residPre', l + 1);
      const res = new Float32Array(T * H * D);
      const mlp = new Float32Array(T * D);
      for (const t of positions) {
        for (let h = 0; h < H; h++) {
          res.set(headTimesWO(z.subarray((t * H + h) * dh, (t * H + h + 1) * dh), wO[l], h, D), (t * H + h) * D);
        }
        for (let i = 0; i < D; i++) mlp[t * D + i] = (next[t * D + i] ?? 0) - (mid[t * D + i] ?? 0);
      }
      results.push(res);
      mlpOuts.push(mlp);
    }
    const side = (t: number, col0: number): { parts: Float64Array[]; sigma: number } => {
      const sigma = lnScale(residPre.subarray(t * D, (t + 1) * D), eps);
      const parts = residualParts({
        layer: req.layer,
        nHead: H,
        dModel: D,
        embed: w.wte.subarray((ids[t] ?? 0) * D, ((ids[t] ?? 0) + 1) * D),
        pos: w.wpe.subarray(t * D, (t + 1) * D),
        result: results,
        bO,
        mlpOut: mlpOuts,
        position: t,
      });
      return { parts: projectParts(parts, sigma, block, col0, dh), sigma };
    };
    const q = side(req.query, req.head * dh);
    const k = side(req.key, D + req.head * dh);
    let total = cache.dotAt(req.layer, req.head, req.query, req.key);
    if (total === null) {
      const qs = cache.rows('q', req.layer);
      const ks = cache.rows('k', req.layer);
      total = 0;
      for (let c = 0; c < dh; c++)
        total += (qs[(req.query * H + req.head) * dh + c] ?? 0) * (ks[(req.key * H + req.head) * dh + c] ?? 0);
    }
    return {
      layer: req.layer,
      head: req.head,
      query: req.query,
      key: req.key,
      total,
      parts: partNames(req.layer, H),
      terms: bilinearTerms(q.parts, k.parts),
      sigmaQuery: q.sigma,
      sigmaKey: k.sigma,
    };
  }

  /**
   * One head knocked out at every position of the text: its hook_result removed (zero) or set to
   * its mean over the text's positions (mean). The later layers run in float64 in interpret.ts,
   * the graph having no intervention input; clean and ablated take the same path from the same
   * hooks, so the difference is the ablation's alone.
   */
  async ablate(req: AblationRequest): Promise<Ablation> {
    const m = this.model();
    this.checkHead(m, req.layer, req.head);
    const { nHead: H, dModel: D, layerNormEps: eps } = m.config;
    const { ids } = this.tokenize(req);
    const T = ids.length;
    if (req.token >= T) throw new AtlasError(`token ${req.token} is outside this text (${T} tokens)`);
    const cache = await this.cachedWithRows(ids);
    const w = this.interpretWeights(m);
    const { U, gamma, beta } = this.unembedding(m);
    const mid = cache.rows('residMid', req.layer);
    // The head's hook_result at every position: z · W_O (bias excluded), as in headDetail.
    const z = cache.rows('z', req.layer);
    const dh = D / H;
    const wO = this.outputProjection(m).wO[req.layer];
    const result = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      result.set(headTimesWO(z.subarray((t * H + req.head) * dh, (t * H + req.head + 1) * dh), wO, req.head, D), t * D);
    }
    const headRow = (t: number): Float32Array => result.subarray(t * D, (t + 1) * D);
    const mean = new Float64Array(D);
    if (req.mode === 'mean') {
      for (let t = 0; t < T; t++) headRow(t).forEach((v, i) => (mean[i] = (mean[i] ?? 0) + v / T));
    }
    const rows = req.token + 1;
    const clean = Array.from({ length: rows }, (_, t) => Float64Array.from(mid.subarray(t * D, (t + 1) * D)));
    const ablated = clean.map((r, t) => {
      const hr = headRow(t);
      return r.map((v, i) => v - (hr[i] ?? 0) + (mean[i] ?? 0));
    });
    const postsClean = forwardFromMid(clean, req.layer, w.blocks, H, eps);
    const postsAblated = forwardFromMid(ablated, req.layer, w.blocks, H, eps);
    const last = (p: Float64Array[]): Float64Array => p[p.length - 1] ?? new Float64Array(D);
    const lpClean = logProbs(last(postsClean), U, gamma, beta, eps);
    const lpAblated = logProbs(last(postsAblated), U, gamma, beta, eps);
    const ids5 = [...new Set([...topIndices(lpClean, 5), ...topIndices(lpAblated, 5)])];
    ids5.sort((a, b) => (lpClean[b] ?? 0) - (lpClean[a] ?? 0));
    const top: AblatedToken[] = ids5.map((id) => ({
      id,
      string: this.tokenizer.display(id),
      clean: Math.exp(lpClean[id] ?? -Infinity),
      ablated: Math.exp(lpAblated[id] ?? -Infinity),
    }));
    let kl = 0;
    lpClean.forEach((lp, v) => (kl += Math.exp(lp) * (lp - (lpAblated[v] ?? 0))));
    return {
      layer: req.layer,
      head: req.head,
      mode: req.mode,
      token: req.token,
      top,
      kl: Math.max(0, kl),
      layers: postsClean.map((p, n) => {
        const a = postsAblated[n] ?? new Float64Array(D);
        return { layer: req.layer + n, delta: norm(p.map((v, i) => (a[i] ?? 0) - v)), norm: norm(p) };
      }),
    };
  }

  async headDetail(req: HeadDetailRequest): Promise<HeadDetail> {
    const m = this.model();
    const { nLayer, nHead: H, dModel: D } = m.config;
    if (req.layer >= nLayer || req.head >= H) {
      throw new AtlasError(`layer ${req.layer}, head ${req.head} is outside this model (${nLayer} layers × ${H} heads)`);
    }
    const dh = D / H;
    const { ids } = this.tokenize(req);
    const T = ids.length;
    const cache = await this.cachedWithRows(ids);
    /** Head `head`'s block of a [T, H, d_head] hook, as [T, d_head]. */
    const headSlice = (which: RowHook): Float32Array => {
      const src = cache.rows(which, req.layer);
      const dst = new Float32Array(T * dh);
      for (let t = 0; t < T; t++) dst.set(src.subarray((t * H + req.head) * dh, (t * H + req.head + 1) * dh), t * dh);
      return dst;
    };
    const v = headSlice('v');
    const z = headSlice('z');
    const wO = this.outputProjection(m).wO[req.layer];
    const vO = new Float32Array(T * D);
    const result = new Float32Array(T * D);
    for (let t = 0; t < T; t++) {
      vO.set(headTimesWO(v.subarray(t * dh, (t + 1) * dh), wO, req.head, D), t * D);
      result.set(headTimesWO(z.subarray(t * dh, (t + 1) * dh), wO, req.head, D), t * D);
    }
    return {
      layer: req.layer,
      head: req.head,
      T,
      dHead: dh,
      dModel: D,
      q: headSlice('q'),
      k: headSlice('k'),
      v,
      z,
      result,
      vO,
      residPre: cache.rows('residPre', req.layer),
    };
  }
}

/**
 * x [d_head] through head h's slice of W_O (c_proj.weight, [H·d_head, d_model]): x @ W_O[h].
 * With x = z this is the head's hook_result (no bias); with x = v, what that value would write.
 */
function headTimesWO(x: Float32Array, wO: Float32Array | undefined, h: number, D: number): Float32Array {
  const out = new Float32Array(D);
  if (!wO) return out;
  const dh = x.length;
  for (let i = 0; i < dh; i++) {
    const xi = x[i] ?? 0;
    const row = (h * dh + i) * D;
    for (let o = 0; o < D; o++) out[o] = (out[o] ?? 0) + xi * (wO[row + o] ?? 0);
  }
  return out;
}

/** Indices of the `n` largest (or smallest) values. */
function extremes(values: Float32Array, n: number, largest: boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (idx.length < n) {
      idx.push(i);
      idx.sort((a, b) => (largest ? (values[b] ?? 0) - (values[a] ?? 0) : (values[a] ?? 0) - (values[b] ?? 0)));
    } else {
      const worst = values[idx[n - 1] ?? 0] ?? 0;
      if (largest ? v > worst : v < worst) {
        idx[n - 1] = i;
        idx.sort((a, b) => (largest ? (values[b] ?? 0) - (values[a] ?? 0) : (values[a] ?? 0) - (values[b] ?? 0)));
      }
    }
  }
  return idx;
}

/** Tokens sharing one exact value: the first id, up to three examples, and how many. */
interface TieGroup {
  value: number;
  first: number;
  examples: number[];
  count: number;
}

/**
 * The n largest (or smallest) distinct values, each with the tokens that have exactly it. Exact
 * equality is the point: tokens with one shared embedding row get bit-identical effects, and a
 * ranking among them would be an artefact of their ids.
 */
export function distinctExtremes(values: Float32Array, n: number, largest: boolean): TieGroup[] {
  const better = (a: number, b: number): boolean => (largest ? a > b : a < b);
  // Pass 1: the n best distinct values (n is tiny, so a sorted array is the simplest heap).
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (best.includes(v)) continue;
    if (best.length < n || better(v, best[best.length - 1] ?? 0)) {
      best.push(v);
      best.sort((a, b) => (largest ? b - a : a - b));
      if (best.length > n) best.pop();
    }
  }
  // Pass 2: who has each of them.
  const groups: TieGroup[] = best.map((value) => ({ value, first: -1, examples: [], count: 0 }));
  for (let i = 0; i < values.length; i++) {
    const g = groups.find((x) => x.value === values[i]);
    if (!g) continue;
    if (g.first < 0) g.first = i;
    if (g.examples.length < 3) g.examples.push(i);
    g.count++;
  }
  return groups;
}

function f32(out: Record<string, HostTensor>, name: string): Float32Array {
  const t = out[name];
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`missing float output ${name}`);
  return t.data;
}

function sameIds(a: readonly number[] | null, b: readonly number[]): boolean {
  return a !== null && a.length === b.length && commonPrefix(a, b) === a.length;
}
