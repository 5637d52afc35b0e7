/**
 * The renderer's state: what is typed, what the engine answered, and what the learner is
 * looking at. Engine results are $state.raw: they are replaced whole, never mutated, and
 * typed arrays must not be wrapped in proxies.
 */
import type {
  Analysis,
  AnalyzeRequest,
  CharGroup,
  AtlasApi,
  Contribution,
  HeadDetail,
  InductionProbe,
  TrainingHistory,
  LibraryState,
  ModelInfo,
  Predictions,
} from '../../../shared/api';
import {
  STAGES,
  attentionWeights,
  attentionWeightsInto,
  headOffset,
  type Stage,
  type StageOptions,
} from '../../../shared/attention-math';
import { hideFirstToken } from '../../../shared/sink-view';
import { VIEW_STATE_FORMAT, pngWithViewState, readViewState, svgWithViewState, type ViewState } from '../../../shared/view-state';
import { summariesFromStats, type HeadSummary } from '../../../shared/head-scores';
import { chooseDefaultHead, toggleEffect, toggleEffects, type DefaultHead } from '../../../shared/default-head';
import { DRAWN_TOKENS } from '../../../shared/hooks';
import { characterGroups } from '../../../shared/char-groups';
import { untrack } from 'svelte';
import { mergeSquares, type HeldSquares } from './squares';
import { t } from '../i18n';
import { visibleToken } from '../token-text';

export const DEFAULT_TEXT = 'The cat sat on the mat because it was tired, and the cat slept.';
/** An analysis in flight longer than this stops holding back newer keystrokes. */
const STUCK_MS = 2000;
/** Typing paused this long (longer than most gaps between keystrokes): prefetch the shown layer's other heads' squares. */
const PREFETCH_IDLE_MS = 500;
/** An analysis landed this recently: the head detail waits (typing may go on). */
const DETAIL_IDLE_MS = 150;
/** Show the progress hint only for analyses slower than this. */
const SLOW_MS = 300;
/** The grid draws at most this many tokens; the notice says how many were kept. */
export const GRID_MAX_TOKENS = DRAWN_TOKENS; // the engine sends no more

export type View = 'walkthrough' | 'attention' | 'atlas' | 'contributions';
export type AtlasOrder = 'layer' | 'previousToken' | 'firstToken' | 'local' | 'entropy' | 'induction';

export interface HeadRef {
  layer: number;
  head: number;
}

/** Heads a person pins by hand; the presets may show a whole layer or column of heads. */
export const MAX_PINNED = 4;

/** The text, and whether an end-of-text token was put before it, that a request was made for. */
export interface AskedFor {
  text: string;
  prepend: boolean;
}

export interface Cell {
  /** Query position (attends from). */
  q: number;
  /** Key position (attends to). */
  k: number;
}

export class AtlasState {
  text = $state(DEFAULT_TEXT);
  prependEot = $state(false);
  model = $state.raw<ModelInfo | null>(null);
  analysis = $state.raw<Analysis | null>(null);
  /** The drawn squares held for the analysis's squareVersion (read them through headDot / weightsOf). */
  squares = $state.raw<HeldSquares | null>(null);
  detail = $state.raw<HeadDetail | null>(null);
  /** The text `detail` was asked for (answeredFor). */
  private detailFor = $state.raw<AskedFor | null>(null);
  error = $state<string | null>(null);
  slow = $state(false);

  layer = $state(0);
  head = $state(0);
  stage = $state<Stage>('dot');
  mask = $state(true);
  scale = $state(true);
  /** View choice, never the default: weights summed over a key character's pieces, averaged over a query's. */
  perCharacter = $state(false);
  /** false: 3Blue1Brown (keys down the left, queries across); true: a row per query. */
  transposed = $state(false);
  /** Sink-aware view (issue 18): hide the first-token column, renormalise rows. Never the default. */
  sinkAware = $state(false);
  selected = $state<Cell | null>(null);
  hoverToken = $state<number | null>(null);
  /** A cell hovered in one compare panel, highlighted in all of them. */
  hoverCell = $state<Cell | null>(null);

  view = $state<View>('attention');
  /** Walkthrough: the step shown, and the learner's answers to its predict-then-see questions. */
  walkStep = $state(0);
  walkAnswers = $state<Record<string, string>>({});
  pinned = $state<HeadRef[]>([]);
  showDiff = $state(false);
  atlasOrder = $state<AtlasOrder>('layer');
  labelledOnly = $state(false);
  induction = $state.raw<InductionProbe | null>(null);
  /** How the model's heads formed (training-log.json's per-head scores), when it has them. */
  trainingHistory = $state.raw<TrainingHistory | null>(null);
  private historyFor: string | null = null;
  contribution = $state.raw<Contribution | null>(null);
  /** The text `contribution` was asked for (answeredFor). */
  private contributionFor = $state.raw<AskedFor | null>(null);
  /** Predictions at a focused query other than the last (the analysis carries the last one's). */
  otherPredictions = $state.raw<{ analysis: Analysis; predictions: Predictions } | null>(null);
  /** performance.now() when a data export started, while it runs. */
  exportingSince = $state<number | null>(null);
  /** Status line after an export or save. */
  saveNote = $state<string | null>(null);
  library = $state.raw<LibraryState | null>(null);
  libraryOpen = $state(false);
  private libraryTimer: ReturnType<typeof setTimeout> | null = null;

  /** The head the attention view opened on for this model, and why (null until chosen). */
  defaultHead = $state.raw<DefaultHead | null>(null);
  private defaultHeadFor: string | null = null;

  /** performance.now() when the current analysis arrived; the atlas reports arrival → pixels. */
  analysisArrivedAt = 0;
  private latestAnalysis = 0;
  private latestDetail = 0;
  private latestContribution = 0;
  private latestPredictions = 0;

  constructor(private readonly atlas: AtlasApi | null) {
    if (!atlas) this.error = t('error.noEngine');
  }

  /** A view being restored (issue 18): applied when the analysis of its text arrives. */
  private pendingView: ViewState | null = null;

  /** The engine, for panels that ask it things of their own (score decomposition, ablation). */
  get api(): AtlasApi | null {
    return this.atlas;
  }

  /** Tokens the grid shows (the view limit, not the model's). */
  get T(): number {
    return Math.min(this.analysis?.tokens.length ?? 0, GRID_MAX_TOKENS);
  }

  /** "␣cat 3": a token as the grids and charts label it (visible spaces, position). */
  tokenLabel(i: number): string {
    return `${visibleToken(this.analysis?.tokens[i]?.display ?? '')} ${i}`;
  }

  /**
   * Grid axis labels of the drawn tokens. A piece of a character split over several tokens is
   * labelled "1/2 5": the grid draws the character itself once over its pieces (labelGroups).
   */
  get labels(): string[] {
    const tokens = this.analysis?.tokens ?? [];
    return Array.from({ length: this.T }, (_, i) => {
      const g = tokens[i]?.charGroup;
      return g && g.count > 1 ? `${t('tokens.piece', { k: i - g.first + 1, n: g.count })} ${i}` : this.tokenLabel(i);
    });
  }

  /** Labels with the whole character, for tooltips. */
  get tipLabels(): string[] {
    return Array.from({ length: this.T }, (_, i) => this.tokenLabel(i));
  }

  /** Characters split over several drawn tokens, for the grid's brackets. */
  get labelGroups(): CharGroup[] {
    return characterGroups(this.analysis?.tokens ?? [], this.T).filter((g) => g.count > 1);
  }

  /** The query whose values and prediction are shown: the selected cell's, else the last token. */
  get focusQuery(): number {
    const n = this.analysis?.tokens.length ?? 0;
    const q = this.selected?.q ?? this.T - 1;
    return Math.max(0, Math.min(q, n - 1));
  }

  /**
   * One head's raw q·k, [T, T] over the drawn tokens. A head whose square has not arrived yet
   * reads as NaN, which the grids draw as empty cells, until ensureSquares brings it.
   */
  headDot(layer = this.layer, head = this.head): Float32Array {
    return this.headSlice('dot', layer, head);
  }

  /** One head's hook_pattern (the model's own weights, both toggles on), [T, T]; NaN until held. */
  headPattern(layer = this.layer, head = this.head): Float32Array {
    return this.headSlice('pattern', layer, head);
  }

  /** The squares held for analysis `a` (null: none, or held for another version). */
  private heldFor(a: Analysis): HeldSquares | null {
    const sq = this.squares;
    return sq && sq.version === a.squareVersion ? sq : null;
  }

  private headSlice(kind: 'dot' | 'pattern', layer: number, head: number): Float32Array {
    const a = this.analysis;
    if (!a || a.tokens.length === 0) return new Float32Array(0);
    const T = this.T;
    const square = this.heldFor(a)?.[kind].get(layer * a.model.nHeads + head);
    if (!square) return new Float32Array(T * T).fill(Number.NaN);
    const n = a.drawn; // the engine sends the square of the first `drawn` tokens
    if (T === n) return square;
    const out = new Float32Array(T * T);
    for (let q = 0; q < T; q++) out.set(square.subarray(q * n, q * n + T), q * T);
    return out;
  }

  /**
   * The heads whose squares the current view draws, as flat indices (null: every head). The
   * attention view draws one head; the atlas, its compare panels and the walkthrough's
   * thumbnails draw them all; a model's first analysis needs all of them to pick the head the
   * view opens on.
   */
  wantedSquares(): number[] | null {
    const m = this.model;
    if (!m || this.defaultHeadFor !== m.id) return null;
    if (this.view === 'atlas' || this.view === 'walkthrough') return null;
    return [this.layer * m.nHeads + this.head];
  }

  /** The wanted heads not held for the current analysis (all of them: L·H indices). */
  private missingSquares(): number[] {
    const a = this.analysis;
    if (!a || a.tokens.length === 0) return [];
    const wanted = this.wantedSquares() ?? Array.from({ length: a.model.nLayers * a.model.nHeads }, (_, i) => i);
    const held = this.heldFor(a);
    return wanted.filter((h) => !held?.dot.has(h));
  }

  /**
   * Heads worth holding before they are asked for: the rest of the shown head's layer, so that
   * stepping through its heads (←/→, the picker) draws without a round trip. Fetched once the
   * typing stops, one reply per analysis (a layer of GPT-2 small at 128 tokens is 1.5 MB).
   */
  private prefetchSquares(): number[] {
    const a = this.analysis;
    if (!a || a.tokens.length === 0 || this.wantedSquares() === null) return [];
    const H = a.model.nHeads;
    const held = this.heldFor(a);
    return Array.from({ length: H }, (_, h) => this.layer * H + h).filter((h) => !held?.dot.has(h));
  }

  private squaresInFlight: string | null = null;

  /**
   * Fetches the squares the view needs and the last reply did not bring (a head switched to,
   * the atlas opened); when none is missing, prefetches the shown layer's other heads once the
   * typing has paused (prefetchSquares), so they never ride along with a keystroke.
   */
  async ensureSquares(): Promise<void> {
    const needed = this.missingSquares();
    if (this.prefetchTimer) clearTimeout(this.prefetchTimer);
    this.prefetchTimer = null;
    if (needed.length > 0) {
      await this.fetchSquares(needed);
      return;
    }
    const a = this.analysis;
    this.prefetchTimer = setTimeout(() => {
      this.prefetchTimer = null;
      if (this.analysis === a) void this.fetchSquares(this.prefetchSquares());
    }, PREFETCH_IDLE_MS);
  }

  private prefetchTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * Asks for `heads` of the analysis shown, unless a keystroke's analysis is out (ensureSquares
   * runs again when it lands): it asks for the held text, so the engine answers from its cache
   * without running the model.
   */
  private async fetchSquares(heads: number[]): Promise<void> {
    const a = this.analysis;
    if (!this.atlas || !a || heads.length === 0 || this.inFlightSince !== null || a.text !== this.text) return;
    const key = `${a.squareVersion}:${heads.join(',')}`;
    if (this.squaresInFlight === key) return;
    this.squaresInFlight = key;
    const prepend = this.prependEot;
    try {
      const r = await this.atlas.analyze({ text: a.text, prependEndOfText: prepend, squares: heads });
      // Kept only while it still belongs to what is shown (a keystroke may have landed meanwhile).
      if (this.analysis?.squareVersion === r.squareVersion) this.squares = mergeSquares(this.squares, r);
      else if (this.analysis === a && this.inFlightSince === null && this.text === a.text && this.prependEot === prepend) {
        // Nothing newer was asked for, yet the version moved: another request (predictions of
        // an earlier text, an export) took the engine's cache elsewhere and this text was run
        // again. The reply is the same analysis under a new version, so it becomes the shown one;
        // dropping it instead left the head's cells empty until the next keystroke, since every
        // later fetch came back under that same new version. Squares held for the old version
        // are the same text's numbers, so they are kept under the new version: dropping them sent
        // the view after them again, and with two tabs on one engine (each fetch moving the
        // cache, each reply a new version) the two pages re-ran the model for ever.
        const held = this.heldFor(a);
        this.squares = mergeSquares(held ? { ...held, version: r.squareVersion } : null, r);
        this.analysis = r;
      }
    } catch (e) {
      this.error = t('error.generic', { message: (e as Error).message });
    } finally {
      if (this.squaresInFlight === key) this.squaresInFlight = null;
    }
  }

  /** Weights under the current toggles, [T, T]; equals hook_pattern with both on. */
  weights(): Float32Array {
    return this.weightsOf(this.layer, this.head);
  }

  /**
   * Any head's weights under the current toggles, over the drawn tokens. With `into` (a [T, T]
   * buffer and a [T] scratch) a recomputed softmax is written there instead of a new array:
   * the atlas paints 144 heads through one buffer. The result may be `into.out` or the held
   * hook_pattern: read it before the next call.
   */
  weightsOf(
    layer: number,
    head: number,
    into?: { out: Float32Array; scratch: Float64Array },
    /** Toggles other than the current ones (the atlas paints the states one flip away ahead). */
    opts: StageOptions = { scale: this.scale, mask: this.mask },
  ): Float32Array {
    const T = this.T;
    const dHead = this.model?.dHead ?? 1;
    // Both toggles on: the model's own hook_pattern, no need to redo the softmax.
    const w =
      opts.scale && opts.mask
        ? this.headPattern(layer, head)
        : into
          ? attentionWeightsInto(this.headDot(layer, head), T, dHead, opts, into.out, into.scratch)
          : attentionWeights(this.headDot(layer, head), T, dHead, opts);
    return this.sinkAware ? hideFirstToken(w, this.T) : w;
  }

  /** Per-head summaries of the model's own patterns (not the toggled ones), with induction scores. */
  summaries(): HeadSummary[] {
    const a = this.analysis;
    if (!a || a.tokens.length === 0) return [];
    return summariesFromStats(a.headStats, a.model.nLayers, a.model.nHeads, this.induction?.scores ?? null);
  }

  togglePin(ref: HeadRef): void {
    const i = this.pinned.findIndex((p) => p.layer === ref.layer && p.head === ref.head);
    if (i >= 0) this.pinned = this.pinned.filter((_, j) => j !== i);
    else this.pinned = [...this.pinned, ref].slice(-MAX_PINNED);
  }

  isPinned(ref: HeadRef): boolean {
    return this.pinned.some((p) => p.layer === ref.layer && p.head === ref.head);
  }

  pinSameHeadAcrossLayers(): void {
    this.pinned = Array.from({ length: this.model?.nLayers ?? 0 }, (_, layer) => ({ layer, head: this.head }));
  }

  pinAllHeadsOfLayer(): void {
    this.pinned = Array.from({ length: this.model?.nHeads ?? 0 }, (_, head) => ({ layer: this.layer, head }));
  }

  openHead(ref: HeadRef): void {
    this.layer = ref.layer;
    this.head = ref.head;
    this.view = 'attention';
  }

  /**
   * Analyses the current text: at once when the engine is idle, else once the running analysis
   * finishes, with whatever the text is by then (keystrokes typed meanwhile coalesce into one
   * request). No fixed debounce: an idle engine answers a keystroke in milliseconds. The
   * previous result stays on screen until the new one lands.
   */
  scheduleAnalysis(): void {
    const next = { text: this.text, prepend: this.prependEot };
    // Only the text and the prepend switch are this call's inputs. Everything request() reads
    // on its way to the engine (the held analysis, its squares, the view) is untracked: an
    // $effect that calls this must not re-run, and send the same text again, whenever a reply
    // lands (it did: every keystroke cost a second, useless round trip).
    untrack(() => this.request(next));
  }

  /**
   * Busy: remember only the newest text, and look again when the request in flight would count
   * as stuck. A request out longer than STUCK_MS no longer holds the queue (stale replies are
   * dropped by number anyway), so one slow or lost reply can never freeze the view.
   */
  private request(next: { text: string; prepend: boolean }): void {
    this.lastRequestAt = performance.now();
    const busyFor = this.inFlightSince === null ? Infinity : performance.now() - this.inFlightSince;
    if (busyFor < STUCK_MS) {
      this.pending = next;
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = setTimeout(
        () => {
          this.watchdog = null;
          if (this.pending) this.request(this.pending);
        },
        STUCK_MS - busyFor + 10,
      );
      return;
    }
    void this.runAnalyses(next.text, next.prepend);
  }

  private inFlightSince: number | null = null;
  /** When the text was last sent (or queued): typing in progress holds back detail requests. */
  private lastRequestAt = 0;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  private pending: { text: string; prepend: boolean } | null = null;

  /** The running queue; a newer run (after a stuck request) replaces it and the old one stops. */
  private run = 0;

  private async runAnalyses(text: string, prepend: boolean): Promise<void> {
    const run = ++this.run;
    let next: { text: string; prepend: boolean } | null = { text, prepend };
    while (next) {
      this.pending = null;
      this.inFlightSince = performance.now();
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = null;
      await this.analyze(next.text, next.prepend);
      if (run !== this.run) return; // a newer run took over the queue
      const a = this.analysis;
      if (!this.pending && a?.rest && a.text === next.text && this.prependEot === next.prepend) {
        // The square's tokens are drawn; nothing newer was typed meanwhile: now the rest.
        this.inFlightSince = performance.now();
        await this.analyze(next.text, next.prepend, false);
        if (run !== this.run) return;
      }
      next = this.pending;
    }
    this.inFlightSince = null;
    // Squares a view asked for while keystrokes were out (ensureSquares waits for the queue).
    void this.ensureSquares();
  }

  /**
   * One analysis of `text`. `drawnFirst`: a long text whose square changed comes back as the
   * analysis of the square's tokens (Analysis.rest lists the others) and runAnalyses asks for
   * the whole next, unless a newer keystroke is waiting: the grid shows an edit near the start
   * of a long text after the square's share of the model's work.
   */
  async analyze(text: string, prepend: boolean, drawnFirst = true): Promise<void> {
    if (!this.atlas) return;
    const id = ++this.latestAnalysis;
    const slowTimer = setTimeout(() => {
      if (id === this.latestAnalysis) this.slow = true;
    }, SLOW_MS);
    try {
      const held = this.squares;
      const wanted = this.wantedSquares();
      const ask = (haveSquare: number | null, squares: number[] | null): AnalyzeRequest => ({
        text,
        prependEndOfText: prepend,
        ...(haveSquare === null ? {} : { haveSquare }),
        ...(squares === null ? {} : { squares }),
        ...(drawnFirst ? { drawnFirst } : {}),
      });
      let result = await this.atlas.analyze(ask(held?.version ?? null, wanted));
      if (id !== this.latestAnalysis) return; // a newer request was sent: its answer wins
      // squareUnchanged: the engine kept the square we hold (the reply carries none). Held for
      // another version (a reply went missing): ask again with the squares.
      if (result.squareUnchanged && !this.heldFor(result)) {
        result = await this.atlas.analyze(ask(null, wanted));
        if (id !== this.latestAnalysis) return;
      }
      // A model's first analysis chooses the head the view opens on from every head's square.
      const L = result.model.nLayers;
      const H = result.model.nHeads;
      if (this.defaultHeadFor !== result.model.id && result.drawn >= 2 && result.squareHeads.length < L * H) {
        result = await this.atlas.analyze(ask(null, null));
        if (id !== this.latestAnalysis) return;
      }
      this.squares = mergeSquares(this.heldFor(result), result);
      if (this.model?.id !== result.model.id) this.induction = null;
      this.model = result.model;
      this.analysisArrivedAt = performance.now();
      this.analysis = result;
      this.error = null;
      this.layer = Math.min(this.layer, result.model.nLayers - 1);
      this.head = Math.min(this.head, result.model.nHeads - 1);
      const pv = this.pendingView;
      if (pv && pv.text === text && pv.prependEndOfText === prepend) this.finishRestore(pv, result);
      if (this.defaultHeadFor !== result.model.id && result.drawn >= 2) this.openDefaultHead(result);
      const n = Math.min(result.tokens.length, GRID_MAX_TOKENS);
      if (this.selected && (this.selected.q >= n || this.selected.k >= n)) this.selected = null;
    } catch (e) {
      if (id === this.latestAnalysis) this.error = t('error.generic', { message: (e as Error).message });
    } finally {
      clearTimeout(slowTimer);
      if (id === this.latestAnalysis) this.slow = false;
    }
  }

  /**
   * Opens the head a newcomer should see first on a newly loaded model: the one the model names,
   * else the one the rule in shared/default-head.ts picks on this text.
   */
  private openDefaultHead(a: Analysis): void {
    // Called with a reply that carries every head's square, in [L, H, drawn, drawn] order.
    const { nLayers, nHeads, dHead, preferredHead } = a.model;
    const T = a.drawn;
    let chosen: DefaultHead;
    if (preferredHead) {
      const o = headOffset(preferredHead.layer, preferredHead.head, nHeads, T);
      const effect = { ...preferredHead, ...toggleEffect(a.dot.subarray(o, o + T * T), T, dHead) };
      chosen = { ...preferredHead, reason: 'model', effect };
    } else {
      chosen = chooseDefaultHead(toggleEffects(a.dot, nLayers, nHeads, T, dHead));
    }
    this.defaultHeadFor = a.model.id;
    this.defaultHead = chosen;
    this.layer = chosen.layer;
    this.head = chosen.head;
  }

  /** Top-k predictions at the focused query: the analysis's own at the last token, else loaded. */
  get focusPredictions(): Predictions | null {
    const a = this.analysis;
    if (!a || a.tokens.length === 0) return null;
    const q = this.focusQuery;
    if (a.topK.position === q) return a.topK;
    const o = this.otherPredictions;
    return o && o.analysis === a && o.predictions.position === q ? o.predictions : null;
  }

  async loadPredictions(): Promise<void> {
    const a = this.analysis;
    const q = this.focusQuery;
    // An answer with `rest` is followed by the whole text's at once: ask then, not twice.
    if (!this.atlas || !a || a.tokens.length === 0 || a.rest || a.topK.position === q) return;
    const id = ++this.latestPredictions;
    try {
      const p = await this.atlas.predictions({ text: a.text, prependEndOfText: this.prependEot, position: q });
      if (id === this.latestPredictions) this.otherPredictions = { analysis: a, predictions: p };
    } catch (e) {
      if (id === this.latestPredictions) this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  /**
   * Runs `work` once typing has paused: DETAIL_IDLE_MS after the last analysis landed and the
   * last text was sent, with no analysis in flight (else it looks again later). A head switched
   * or a cell clicked runs it at once. Returns a cancel function; callers cancel and reschedule
   * on every new analysis, so a burst of keystrokes queues no per-keystroke request in front of
   * the next analysis: the engine answers one request at a time, and at 64 tokens of GPT-2
   * small a score decomposition is ≈ 0.1 s of work, a head detail ≈ 0.6 MB.
   */
  afterTypingPause(work: () => void): () => void {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const attempt = (): void => {
      const now = performance.now();
      const busy = this.inFlightSince !== null && now - this.inFlightSince < STUCK_MS;
      const quietFor = now - Math.max(this.analysisArrivedAt, this.lastRequestAt);
      if (!busy && quietFor >= DETAIL_IDLE_MS) {
        timer = null;
        work();
        return;
      }
      timer = setTimeout(attempt, busy ? DETAIL_IDLE_MS : DETAIL_IDLE_MS - quietFor);
    };
    attempt();
    return () => {
      if (timer) clearTimeout(timer);
    };
  }

  private cancelDetail: () => void = () => {};

  /** loadDetail, held back while typing (afterTypingPause). */
  scheduleDetail(): void {
    this.cancelDetail();
    this.cancelDetail = this.afterTypingPause(() => void this.loadDetail());
  }

  /** Fetches q, k, v, z, ΔE of the current head for the current analysis. */
  async loadDetail(): Promise<void> {
    const a = this.analysis;
    if (!this.atlas || !a || a.tokens.length === 0) {
      this.detail = null;
      return;
    }
    const id = ++this.latestDetail;
    const req = { text: a.text, prependEndOfText: this.prependEot, layer: this.layer, head: this.head };
    try {
      const d = await this.atlas.headDetail(req);
      if (id === this.latestDetail) {
        this.detail = d;
        this.detailFor = { text: req.text, prepend: req.prependEndOfText };
      }
    } catch (e) {
      if (id === this.latestDetail) this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  /** The loaded model's per-head scores over training (null: none, or not asked yet). */
  async loadTrainingHistory(modelId: string | null): Promise<void> {
    if (!this.atlas || modelId === this.historyFor) return;
    this.historyFor = modelId;
    this.trainingHistory = null;
    if (modelId === null) return;
    try {
      const h = await this.atlas.trainingHistory();
      if (this.historyFor === modelId) this.trainingHistory = h;
    } catch {
      // No history is shown; the model itself works.
    }
  }

  /** Every head's induction score, once per model (the engine caches it too). */
  async loadInduction(): Promise<void> {
    if (!this.atlas || this.induction) return;
    try {
      this.induction = await this.atlas.inductionProbe();
    } catch (e) {
      this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  /** How the current layer's heads update the focused token. */
  async loadContribution(): Promise<void> {
    const a = this.analysis;
    if (!this.atlas || !a || a.tokens.length === 0) {
      this.contribution = null;
      return;
    }
    if (a.rest) return; // the whole text's answer follows at once (runAnalyses): asked for then
    const id = ++this.latestContribution;
    const req = { text: a.text, prependEndOfText: this.prependEot, layer: this.layer, head: this.head, token: this.focusQuery };
    try {
      const c = await this.atlas.contribution(req);
      if (id === this.latestContribution) {
        this.contribution = c;
        this.contributionFor = { text: req.text, prepend: req.prependEndOfText };
      }
    } catch (e) {
      if (id === this.latestContribution) this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  contributionIsCurrent(): boolean {
    const c = this.contribution;
    return (
      !!c &&
      c.layer === this.layer &&
      c.head === this.head &&
      c.token === this.focusQuery &&
      c.T === (this.analysis?.tokens.length ?? -1) &&
      this.answersCurrentText(this.contributionFor)
    );
  }

  /**
   * Whether an answer asked for `f` belongs to the text shown now. The token count alone is not
   * enough: a letter typed inside a word often keeps it, and an older text's vectors were then
   * drawn as the new text's until the next pause's answer came.
   */
  answersCurrentText(f: AskedFor | null): boolean {
    return !!f && f.text === this.analysis?.text && f.prepend === this.prependEot;
  }

  /** Reads the library; keeps polling while a download or a load is under way. */
  async refreshLibrary(quiet = false): Promise<void> {
    if (!this.atlas) return;
    if (this.libraryTimer) clearTimeout(this.libraryTimer);
    this.libraryTimer = null;
    try {
      const before = this.library;
      const lib = await this.atlas.library();
      this.library = lib;
      const finished = before?.download?.phase !== 'done' && lib.download?.phase === 'done';
      if (finished || (before?.loaded.loading && !lib.loaded.loading)) await this.afterSwitch();
      const busy = lib.loaded.loading || lib.download?.phase === 'downloading' || lib.download?.phase === 'building';
      if (busy || this.libraryOpen) this.libraryTimer = setTimeout(() => void this.refreshLibrary(quiet), busy ? 300 : 2000);
    } catch (e) {
      // Quiet: a host without a model library (a plain engine behind a browser) is not an error.
      if (!quiet) this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  /** Runs a library action and shows its result; errors go to the banner. */
  async libraryAction(fn: (api: AtlasApi) => Promise<LibraryState | void>): Promise<void> {
    if (!this.atlas) return;
    try {
      const r = await fn(this.atlas);
      if (r) this.library = r;
    } catch (e) {
      this.error = t('error.generic', { message: (e as Error).message });
    }
    await this.refreshLibrary();
  }

  /** A new model is loaded: same text and view, new analysis. */
  private async afterSwitch(): Promise<void> {
    this.detail = null;
    this.contribution = null;
    this.induction = null;
    this.selected = null;
    this.pinned = [];
    // Through the queue, so a long text's rest is asked for after its square (runAnalyses).
    await this.runAnalyses(this.text, this.prependEot);
  }

  /** The state that makes the current view (shared/view-state.ts). */
  viewState(): ViewState {
    return {
      format: VIEW_STATE_FORMAT,
      version: 1,
      model: { id: this.model?.id ?? '', weightsHash: this.model?.weightsHash ?? '' },
      text: this.analysis?.text ?? this.text,
      prependEndOfText: this.prependEot,
      view: this.view,
      layer: this.layer,
      head: this.head,
      stage: this.stage,
      selected: this.selected ? { q: this.selected.q, k: this.selected.k } : null,
      toggles: {
        mask: this.mask,
        scale: this.scale,
        transposed: this.transposed,
        sinkAware: this.sinkAware,
        atlasOrder: this.atlasOrder,
        labelledOnly: this.labelledOnly,
        showDiff: this.showDiff,
      },
      pinned: this.pinned.map((p) => ({ layer: p.layer, head: p.head })),
    };
  }

  /**
   * Restores a saved view: the text now (its analysis follows), the rest when that analysis
   * arrives, so the head the view opens on by default never overrides the saved one.
   */
  applyViewState(v: ViewState): void {
    this.view = v.view;
    this.stage = v.stage;
    this.mask = v.toggles.mask;
    this.scale = v.toggles.scale;
    this.transposed = v.toggles.transposed;
    this.sinkAware = v.toggles.sinkAware;
    this.atlasOrder = v.toggles.atlasOrder;
    this.labelledOnly = v.toggles.labelledOnly;
    this.showDiff = v.toggles.showDiff;
    const a = this.analysis;
    if (a && a.text === v.text && this.prependEot === v.prependEndOfText && this.text === v.text) {
      this.finishRestore(v, a);
      return;
    }
    this.pendingView = v;
    this.text = v.text;
    this.prependEot = v.prependEndOfText;
  }

  /** Saves the current view's state as a small JSON file. */
  async saveViewFile(): Promise<void> {
    const json = JSON.stringify(this.viewState(), null, 2) + '\n';
    await this.save(`view-L${this.layer}H${this.head}-${this.stage}.json`, new TextEncoder().encode(json));
  }

  /** Opens a view file (JSON, or a PNG / SVG this app exported); false when it holds no view. */
  openViewFile(bytes: Uint8Array): boolean {
    try {
      this.applyViewState(readViewState(bytes));
      return true;
    } catch (e) {
      this.error = t('view.openFailed', { message: (e as Error).message });
      return false;
    }
  }

  private finishRestore(v: ViewState, a: Analysis): void {
    this.pendingView = null;
    this.defaultHeadFor = a.model.id;
    this.layer = Math.min(v.layer, a.model.nLayers - 1);
    this.head = Math.min(v.head, a.model.nHeads - 1);
    this.selected = v.selected;
    this.pinned = v.pinned.filter((p) => p.layer < a.model.nLayers && p.head < a.model.nHeads).slice(-MAX_PINNED);
    this.saveNote =
      v.model.weightsHash && v.model.weightsHash !== a.model.weightsHash
        ? t('view.otherModel', { id: v.model.id, hash: v.model.weightsHash.slice(0, 12) })
        : t('view.restored');
  }

  /** Saves bytes through the host: a dialog in the desktop app, a download in a browser. */
  async save(name: string, bytes: Uint8Array): Promise<void> {
    if (!this.atlas) return;
    // Every exported figure carries the state that made it (issue 18).
    if (name.endsWith('.png')) bytes = pngWithViewState(bytes, this.viewState());
    else if (name.endsWith('.svg')) bytes = svgWithViewState(bytes, this.viewState());
    try {
      const r = await this.atlas.saveFile({ suggestedName: name, bytes });
      this.finishSave(r);
    } catch (e) {
      this.error = t('error.generic', { message: (e as Error).message });
    }
  }

  async exportData(): Promise<void> {
    const a = this.analysis;
    if (!this.atlas || !a) return;
    this.saveNote = t('export.working');
    this.exportingSince = performance.now();
    try {
      this.finishSave(await this.atlas.exportData({ text: a.text, prependEndOfText: this.prependEot }));
    } catch (e) {
      this.saveNote = null;
      this.error = t('error.generic', { message: (e as Error).message });
    } finally {
      this.exportingSince = null;
    }
  }

  private finishSave(r: { savedTo: string | null; download: { name: string; bytes: Uint8Array } | null }): void {
    if (r.download) {
      const blob = new Blob([r.download.bytes as BlobPart]);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = r.download.name;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      this.saveNote = t('export.downloaded', { name: r.download.name });
    } else {
      this.saveNote = r.savedTo ? t('export.saved', { path: r.savedTo }) : t('export.cancelled');
    }
  }

  /** The title every exported figure carries: model, what is shown, the text, the toggles. */
  figureTitle(what: string): string[] {
    const text = this.analysis?.text ?? '';
    const short = text.length > 110 ? `${text.slice(0, 110)}…` : text;
    const onOff = (b: boolean): string => t(b ? 'export.on' : 'export.off');
    return [
      t('export.titleModel', { model: this.model?.label ?? '' }),
      what,
      t('export.titleText', { text: short }),
      t('export.titleToggles', { mask: onOff(this.mask), scale: onOff(this.scale) }),
    ];
  }

  /** Whether the loaded detail belongs to what is on screen. */
  detailIsCurrent(): boolean {
    const d = this.detail;
    return (
      !!d &&
      d.layer === this.layer &&
      d.head === this.head &&
      d.T === (this.analysis?.tokens.length ?? -1) &&
      this.answersCurrentText(this.detailFor)
    );
  }

  stepStage(delta: number): void {
    const i = STAGES.indexOf(this.stage) + delta;
    this.stage = STAGES[Math.max(0, Math.min(STAGES.length - 1, i))] ?? this.stage;
  }

  moveHead(delta: number): void {
    const n = this.model?.nHeads ?? 1;
    this.head = (this.head + delta + n) % n;
  }

  moveLayer(delta: number): void {
    const n = this.model?.nLayers ?? 1;
    this.layer = (this.layer + delta + n) % n;
  }
}
