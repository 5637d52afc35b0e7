/**
 * Incremental analysis. With causal attention nothing about a position depends on later tokens,
 * so when the text changes only the positions from the first changed token on need the model:
 * this cache keeps what earlier runs computed (each layer's per-position hooks, the drawn square
 * of hook_dot / hook_pattern, per-row head statistics, norms, the last token's top-k) and runs the graph
 * on the new token ids only, with the unchanged prefix's keys and values as its past inputs.
 *
 * One subtlety: hook_dot is unmasked, so the prefix's query rows also gain entries for the new
 * keys; the graph returns those (dot_past_queries) for the drawn rows, the only ones kept.
 */
import { DRAWN_TOKENS, EXTRA_OUTPUTS, TOP_K, hookNames, incrementalNames } from '../shared/hooks';
import { zeroHeadStats, type HeadStats } from '../shared/head-scores';
import type { HostTensor } from './runtime';

export interface CacheShape {
  nLayer: number;
  nHead: number;
  dModel: number;
  nCtx: number;
}

/** Runs the graph: new token ids, the outputs wanted, and the past inputs. */
export type StepRunner = (
  ids: readonly number[],
  fetches: readonly string[],
  feeds: Record<string, HostTensor>,
  into: Record<string, HostTensor>,
) => Promise<Record<string, HostTensor>>;

/** What an analysis needs from the model for the cached ids, compacted to T (and the drawn square). */
export interface CachedAnalysis {
  /** Side of the dot / pattern squares: min(T, DRAWN_TOKENS). */
  drawn: number;
  /** Changes whenever the square's contents change (unique within the process). */
  squareVersion: number;
  /** Flat indices layer·H + head of the heads in dot and pattern, in order. */
  squareHeads: number[];
  dot: Float32Array; // [squareHeads.length, drawn, drawn]
  pattern: Float32Array; // [squareHeads.length, drawn, drawn]
  headStats: HeadStats;
  resultNorm: Float32Array; // [L, T, H]
  attnOutNorm: Float32Array; // [L, T]
  mlpOutNorm: Float32Array; // [L, T]
}

/** The graph's top-k after the last token of a run. */
export interface LastTopK {
  position: number;
  ids: Int32Array;
  probs: Float32Array;
}

/** Per-position hooks, [1, T, ·] in the graph, kept for every layer (head details and
 *  contributions read them; k and v are the next run's past). */
export const ROW_HOOKS = ['q', 'k', 'v', 'z', 'residPre', 'residMid'] as const;
export type RowHook = (typeof ROW_HOOKS)[number];
/**
 * The per-position hooks no analysis reply reads, only the views (head detail, contributions,
 * ablation). onnxruntime-node hands every fetched output back as a fresh copy even when it
 * wrote into the caller's buffer, so on GPT-2 small at T = 1024 these three cost 113 MB in the
 * cache plus 113 MB of copies at the end of the run. A long run (more than `lazyRowsFrom` new
 * positions, a paste or a first analysis) leaves them out and the first view that needs them
 * runs that step again (fillRows): same session, same inputs, so the same values bit for bit.
 * k and v stay eager (the next run's past inputs), and so do q's rows inside the drawn square
 * (the graph's q_drawn output; later runs' past queries).
 */
export const LAZY_ROW_HOOKS: readonly RowHook[] = ['q', 'z', 'residPre', 'residMid'];
/** Runs of more new positions than this defer the lazy hooks (typing stays eager). */
export const DEFAULT_LAZY_ROWS_FROM = 256;

/** One earlier run whose lazy hooks were not fetched: its ids from `start`, rows still owed up to `end`. */
interface PendingRows {
  start: number;
  ids: number[];
  end: number;
}
const LN_SCALE = 'ln_final.hook_scale';

/** Index of each row statistic in row_stats' last axis. */
const STAT = { entropy: 0, previousToken: 1, firstToken: 2, local: 3 } as const;

/** Length of the longest common prefix. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** The per-position hooks a step fetches: all, or without the lazy ones. */
function rowHooksFetched(lazy: boolean): readonly RowHook[] {
  return lazy ? ROW_HOOKS.filter((which) => !LAZY_ROW_HOOKS.includes(which)) : ROW_HOOKS;
}

/** The outputs an analysis step fetches when the unchanged prefix is P tokens long. */
export function analysisFetches(nLayer: number, P: number, lazyRows = false): string[] {
  const fetches: string[] = [EXTRA_OUTPUTS.topKIds, EXTRA_OUTPUTS.topKProbs, LN_SCALE, hookNames(nLayer - 1).residPost];
  for (let l = 0; l < nLayer; l++) {
    const inc = incrementalNames(l);
    const hk = hookNames(l);
    fetches.push(
      ...rowHooksFetched(lazyRows).map((which) => hk[which]),
      hk.resultNorm,
      hk.attnOutNorm,
      hk.mlpOutNorm,
      inc.rowStats,
    );
    // Past the drawn square nothing drawn changes: its rows and columns are all before P.
    if (P < DRAWN_TOKENS) fetches.push(inc.dotDrawn, inc.patternDrawn, inc.dotPastQueries);
    if (P < DRAWN_TOKENS && lazyRows) fetches.push(inc.queryDrawn);
  }
  return fetches;
}

/** Square versions are unique across caches, so a version from another model never matches. */
let nextSquareVersion = 1;

export class AnalysisCache {
  private ids: number[] = [];
  /** Per layer, [nCtx, width] rows of each per-position hook (width d_model). */
  private readonly rowHooks: Record<RowHook, Float32Array[]>;
  private readonly lnScale: Float32Array; // [nCtx]
  private readonly dot: Float32Array; // [L, H, DRAWN, DRAWN]
  private readonly pattern: Float32Array;
  private readonly stats: Float32Array; // [L, H, nCtx, 4]
  private readonly resultNorm: Float32Array; // [L, nCtx, H]
  private readonly attnOutNorm: Float32Array; // [L, nCtx]
  private readonly mlpOutNorm: Float32Array;
  private readonly finalResid: Float32Array; // [nCtx, d_model]: the last block's output
  private lastTop: LastTopK | null = null;
  /** Positions the last update ran through the model (for tests and the benchmark). */
  lastRunPositions = 0;
  private squareVersion = nextSquareVersion++;
  private squareSide = 0;
  /** Runs whose lazy hooks are still owed, oldest first (fillRows). */
  private pending: PendingRows[] = [];

  constructor(
    private readonly shape: CacheShape,
    /** Runs of more new positions than this leave LAZY_ROW_HOOKS for fillRows. */
    private readonly lazyRowsFrom = DEFAULT_LAZY_ROWS_FROM,
  ) {
    const { nLayer: L, nHead: H, dModel: D, nCtx: N } = shape;
    const layers = (size: number): Float32Array[] => Array.from({ length: L }, () => new Float32Array(size));
    this.rowHooks = {
      q: layers(N * D),
      k: layers(N * D),
      v: layers(N * D),
      z: layers(N * D),
      residPre: layers(N * D),
      residMid: layers(N * D),
    };
    this.lnScale = new Float32Array(N);
    this.dot = new Float32Array(L * H * DRAWN_TOKENS * DRAWN_TOKENS);
    this.pattern = new Float32Array(L * H * DRAWN_TOKENS * DRAWN_TOKENS);
    this.stats = new Float32Array(L * H * N * 4);
    this.resultNorm = new Float32Array(L * N * H);
    this.attnOutNorm = new Float32Array(L * N);
    this.mlpOutNorm = new Float32Array(L * N);
    this.finalResid = new Float32Array(N * D);
  }

  /** Past inputs for a full run (P = 0): every other caller of the graph uses these. */
  static emptyPast(shape: CacheShape): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    const dims = [1, 0, shape.nHead, shape.dModel / shape.nHead];
    for (let l = 0; l < shape.nLayer; l++) {
      const n = incrementalNames(l);
      for (const name of [n.pastKey, n.pastValue, n.pastQueryDrawn]) feeds[name] = { dims, data: new Float32Array(0) };
    }
    return feeds;
  }

  /** How many leading tokens of `ids` the cache holds already (what update would not run). */
  unchangedPrefix(ids: readonly number[]): number {
    return commonPrefix(this.ids, ids);
  }

  /** Whether the cache holds exactly `ids` (never true while an update is running). */
  holds(ids: readonly number[]): boolean {
    return this.ids.length === ids.length && this.ids.every((v, i) => v === ids[i]);
  }

  /** Brings the cache to `ids` (at most nCtx of them), running only what changed. */
  async update(ids: readonly number[], run: StepRunner): Promise<void> {
    const { nLayer: L, nHead: H, dModel: D, nCtx: N } = this.shape;
    if (ids.length > N) throw new RangeError(`${ids.length} tokens exceed the context of ${N}`);
    const P = commonPrefix(this.ids, ids);
    const fresh = ids.slice(P);
    this.lastRunPositions = fresh.length;
    if (fresh.length === 0) {
      this.ids = ids.slice(); // unchanged, or cut short: every kept row is still right
      this.noteSquare(false);
      return;
    }
    const Tn = fresh.length;
    const lazy = Tn > this.lazyRowsFrom;
    const fetches = analysisFetches(L, P, lazy);
    // The per-position hooks are written by onnxruntime straight into the cache's rows P….
    const into: Record<string, HostTensor> = {};
    const R = Math.max(0, Math.min(Tn, DRAWN_TOKENS - P)); // new rows inside the drawn square
    for (let l = 0; l < L; l++) {
      for (const which of rowHooksFetched(lazy)) into[hookNames(l)[which]] = this.rowTarget(which, l, P, Tn);
      if (lazy && R > 0) into[incrementalNames(l).queryDrawn] = this.rowTarget('q', l, P, R);
    }
    const feeds = this.pastFeeds(P);
    // Rows from P on are rewritten: what earlier runs still owe ends at P.
    const pending = this.pending.filter((seg) => seg.start < P).map((seg) => ({ ...seg, end: Math.min(seg.end, P) }));
    // From here on the old state is being overwritten: forget it first, so a failed run leaves
    // an empty cache rather than a half-updated one.
    this.ids = [];
    this.pending = [];
    const out = await run(fresh, fetches, feeds, into);
    const f = (name: string): Float32Array => {
      const t = out[name];
      if (!t || !(t.data instanceof Float32Array)) throw new Error(`missing float output ${name}`);
      return t.data;
    };
    const C = Math.min(P + Tn, DRAWN_TOKENS); // drawn key columns now
    const Pq = P < DRAWN_TOKENS ? P : 0; // drawn prefix rows that gained new key columns
    for (let l = 0; l < L; l++) {
      const inc = incrementalNames(l);
      const hk = hookNames(l);
      this.resultNorm.set(f(hk.resultNorm), (l * N + P) * H);
      this.attnOutNorm.set(f(hk.attnOutNorm), l * N + P);
      this.mlpOutNorm.set(f(hk.mlpOutNorm), l * N + P);
      const rows = f(inc.rowStats); // [H, Tn, 4]
      for (let h = 0; h < H; h++) this.stats.set(rows.subarray(h * Tn * 4, (h + 1) * Tn * 4), ((l * H + h) * N + P) * 4);
      if (P >= DRAWN_TOKENS) continue;
      const dotNew = f(inc.dotDrawn); // [H, R, C]
      const patNew = f(inc.patternDrawn);
      const dotOld = f(inc.dotPastQueries); // [H, Pq, Tn]
      const newCols = C - P;
      for (let h = 0; h < H; h++) {
        const base = (l * H + h) * DRAWN_TOKENS * DRAWN_TOKENS;
        for (let r = 0; r < R; r++) {
          const at = base + (P + r) * DRAWN_TOKENS;
          this.dot.set(dotNew.subarray((h * R + r) * C, (h * R + r + 1) * C), at);
          this.pattern.set(patNew.subarray((h * R + r) * C, (h * R + r + 1) * C), at);
        }
        for (let r = 0; r < Pq; r++) {
          const src = (h * Pq + r) * Tn;
          this.dot.set(dotOld.subarray(src, src + newCols), base + r * DRAWN_TOKENS + P);
          // The prefix rows' weights on the new keys are masked: exactly 0 (never written otherwise).
          this.pattern.fill(0, base + r * DRAWN_TOKENS + P, base + r * DRAWN_TOKENS + C);
        }
      }
    }
    const ids64 = out[EXTRA_OUTPUTS.topKIds]?.data;
    if (!(ids64 instanceof BigInt64Array)) throw new Error(`missing int64 output ${EXTRA_OUTPUTS.topKIds}`);
    this.lastTop = {
      position: ids.length - 1,
      ids: Int32Array.from(ids64, Number),
      probs: f(EXTRA_OUTPUTS.topKProbs).slice(0, TOP_K),
    };
    this.finalResid.set(f(hookNames(L - 1).residPost), P * D);
    this.lnScale.set(f(LN_SCALE), P);
    this.ids = ids.slice();
    this.pending = lazy ? [...pending, { start: P, ids: fresh, end: P + Tn }] : pending;
    this.noteSquare(P < DRAWN_TOKENS);
  }

  /** Past inputs for a step after the first P cached positions. */
  private pastFeeds(P: number): Record<string, HostTensor> {
    const { nLayer: L, nHead: H, dModel: D } = this.shape;
    const dh = D / H;
    const Pq = P < DRAWN_TOKENS ? P : 0; // drawn prefix rows that gain new key columns
    const feeds: Record<string, HostTensor> = {};
    for (let l = 0; l < L; l++) {
      const inc = incrementalNames(l);
      feeds[inc.pastKey] = { dims: [1, P, H, dh], data: this.layerRows('k', l).subarray(0, P * D) };
      feeds[inc.pastValue] = { dims: [1, P, H, dh], data: this.layerRows('v', l).subarray(0, P * D) };
      feeds[inc.pastQueryDrawn] = { dims: [1, Pq, H, dh], data: this.layerRows('q', l).subarray(0, Pq * D) };
    }
    return feeds;
  }

  /** Rows [P, P + Tn) of one layer's hook, shaped as the graph writes it. */
  private rowTarget(which: RowHook, layer: number, P: number, Tn: number, data?: Float32Array): HostTensor {
    const { nHead: H, dModel: D } = this.shape;
    const dims = which === 'residPre' || which === 'residMid' ? [1, Tn, D] : [1, Tn, H, D / H];
    return { dims, data: data ?? this.layerRows(which, layer).subarray(P * D, (P + Tn) * D) };
  }

  /** Whether some lazy hook rows are still owed (rows() of those hooks needs fillRows first). */
  get rowsPending(): boolean {
    return this.pending.length > 0;
  }

  /**
   * Fetches the lazy hooks of every run that left them out, by running that step again: its
   * ids after the same past (rows before its start are unchanged since: an edit before them
   * would have dropped it). Rows a later run rewrote are not touched.
   */
  async fillRows(run: StepRunner): Promise<void> {
    const { nLayer: L, dModel: D } = this.shape;
    while (this.pending.length > 0) {
      const seg = this.pending[0];
      if (!seg) break;
      const Tn = seg.ids.length;
      const whole = seg.end === seg.start + Tn;
      const into: Record<string, HostTensor> = {};
      for (let l = 0; l < L; l++) {
        for (const which of LAZY_ROW_HOOKS) {
          into[hookNames(l)[which]] = this.rowTarget(which, l, seg.start, Tn, whole ? undefined : new Float32Array(Tn * D));
        }
      }
      await run(seg.ids, Object.keys(into), this.pastFeeds(seg.start), into);
      if (this.pending[0] !== seg) continue; // an update ran meanwhile and re-planned what is owed
      if (!whole) {
        for (let l = 0; l < L; l++) {
          for (const which of LAZY_ROW_HOOKS) {
            const scratch = into[hookNames(l)[which]]?.data as Float32Array;
            this.layerRows(which, l).set(scratch.subarray(0, (seg.end - seg.start) * D), seg.start * D);
          }
        }
      }
      this.pending.shift();
    }
  }

  /** A new version when the square was written or its side changed. */
  private noteSquare(written: boolean): void {
    const side = Math.min(this.ids.length, DRAWN_TOKENS);
    if (written || side !== this.squareSide) this.squareVersion = nextSquareVersion++;
    this.squareSide = side;
  }

  /** The version of the square for the cached ids. */
  get currentSquareVersion(): number {
    return this.squareVersion;
  }

  /** The cached analysis for the current ids, compacted (fresh arrays: safe to send and keep).
   *  `heads`: the flat indices (layer·H + head, in range, no repeats) whose squares to copy;
   *  null for every head, [] for none (the caller holds this version already). */
  snapshot(heads: readonly number[] | null = null): CachedAnalysis {
    const { nLayer: L, nHead: H, nCtx: N } = this.shape;
    const T = this.ids.length;
    const drawn = Math.min(T, DRAWN_TOKENS);
    const squareHeads = heads ? [...heads] : Array.from({ length: L * H }, (_, i) => i);
    const dot = new Float32Array(squareHeads.length * drawn * drawn);
    const pattern = new Float32Array(squareHeads.length * drawn * drawn);
    squareHeads.forEach((i, j) => {
      for (let r = 0; r < drawn; r++) {
        const from = (i * DRAWN_TOKENS + r) * DRAWN_TOKENS;
        dot.set(this.dot.subarray(from, from + drawn), (j * drawn + r) * drawn);
        pattern.set(this.pattern.subarray(from, from + drawn), (j * drawn + r) * drawn);
      }
    });
    const headStats = zeroHeadStats(L * H);
    // Means over query rows, as head-scores.ts defines them: entropy and local over every row,
    // previous- and first-token over rows ≥ 1 (row 0 has no choice).
    for (let i = 0; i < L * H; i++) {
      let entropy = 0;
      let prev = 0;
      let first = 0;
      let local = 0;
      for (let t = 0; t < T; t++) {
        const o = (i * N + t) * 4;
        entropy += this.stats[o + STAT.entropy] ?? 0;
        local += this.stats[o + STAT.local] ?? 0;
        if (t === 0) continue;
        prev += this.stats[o + STAT.previousToken] ?? 0;
        first += this.stats[o + STAT.firstToken] ?? 0;
      }
      headStats.entropy[i] = T ? entropy / T : 0;
      headStats.local[i] = T ? local / T : 0;
      headStats.previousToken[i] = T > 1 ? prev / (T - 1) : 0;
      headStats.firstToken[i] = T > 1 ? first / (T - 1) : 0;
    }
    const perLayer = (src: Float32Array, width: number): Float32Array => {
      const out = new Float32Array(L * T * width);
      for (let l = 0; l < L; l++) out.set(src.subarray(l * N * width, (l * N + T) * width), l * T * width);
      return out;
    };
    return {
      drawn,
      squareVersion: this.squareVersion,
      squareHeads,
      dot,
      pattern,
      headStats,
      resultNorm: perLayer(this.resultNorm, H),
      attnOutNorm: perLayer(this.attnOutNorm, 1),
      mlpOutNorm: perLayer(this.mlpOutNorm, 1),
    };
  }

  private layerRows(which: RowHook, layer: number): Float32Array {
    const rows = this.rowHooks[which][layer];
    if (!rows) throw new RangeError(`no layer ${layer}`);
    return rows;
  }

  /** A per-position hook of one layer for the cached ids: [T, d_model] (TransformerLens's
   *  [T, H, d_head] for q, k, v, z), copied. */
  rows(which: RowHook, layer: number): Float32Array {
    if (this.pending.length > 0 && LAZY_ROW_HOOKS.includes(which)) throw new Error(`${which} rows are owed: fillRows first`);
    return this.layerRows(which, layer).slice(0, this.ids.length * this.shape.dModel);
  }

  /** hook_dot[layer, head, q, k] inside the drawn square (the graph's own value), else null. */
  dotAt(layer: number, head: number, q: number, k: number): number | null {
    const n = Math.min(this.ids.length, DRAWN_TOKENS);
    if (q >= n || k >= n) return null;
    return this.dot[((layer * this.shape.nHead + head) * DRAWN_TOKENS + q) * DRAWN_TOKENS + k] ?? null;
  }

  /** The graph's top-k at `position`, when a run ended there (else compute it: Engine.predictions). */
  topKAt(position: number): LastTopK | null {
    return this.lastTop && this.lastTop.position === position && position < this.ids.length ? this.lastTop : null;
  }

  /** The last block's output at one position, [d_model] (copied). */
  finalResidual(position: number): Float32Array {
    const D = this.shape.dModel;
    return this.finalResid.slice(position * D, (position + 1) * D);
  }

  /** ln_final.hook_scale for the cached ids: [T]. */
  finalScale(): Float32Array {
    return this.lnScale.slice(0, this.ids.length);
  }
}
