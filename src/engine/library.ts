/**
 * The model library: what the app can run and what it can fetch.
 *  - the bundled model (resources/models), always there;
 *  - the catalogue of GPT-2 models on the Hub, downloadable in the background;
 *  - models downloaded before, and GPT-2 snapshots already in the Hugging Face cache;
 *  - any folder or checkpoint file the person opened (Hugging Face GPT-2, nanoGPT's ckpt.pt,
 *    the book's model.pth; see gpt2-weights.ts), with what they told the app about it.
 * Each entry says its size on disk and the memory it needs, so nothing is loaded blind.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { DownloadState, LibraryEntry } from '../shared/api';
import { DownloadError, downloadInProgress, downloadModel, partialBytes, type DownloadOptions } from './download';
import { CATALOGUE, findCachedSnapshots, hubCacheDir } from './hub';
import { Gpt2Checkpoint, weightsFileOf, type Gpt2Config } from './gpt2-weights';
import type { LoadOptions } from './engine';
import { listCachedGraphs } from './graph-cache';
import { readModelMeta } from './model-meta';

export interface LibraryOptions {
  bundledDir: string;
  /** The engine's built-graph cache, to show and remove graphs per model. */
  graphCacheDir?: string;
  /** Where downloads go (the app's user-data folder). */
  modelsDir: string;
  hfCacheDir?: string;
  /** Passed to every download (tests point it at a loopback Hub). */
  downloadOptions?: DownloadOptions;
}

/**
 * Memory a model needs once loaded, from its parameter count and shape: float32 weights held
 * by onnxruntime, the engine's own copies (W_O, and the unembedding for logit effects), and
 * one full-context analysis (every hook tensor of every layer at n_ctx tokens).
 */
export function estimateMemoryBytes(path: string, options: LoadOptions = {}): number | null {
  try {
    const key = `${path}\0${JSON.stringify(options)}\0${statSync(weightsFileOf(path)).mtimeMs}`;
    const hit = estimates.get(key);
    if (hit !== undefined) return hit;
    const ckpt = Gpt2Checkpoint.open(path, options);
    const cfg = ckpt.config;
    ckpt.close();
    const D = cfg.dModel;
    const rows = ckpt.embeddingRows;
    const perBlock = 4 * D + 3 * D * D + 3 * D + D * D + D + 2 * D * cfg.dMlp + cfg.dMlp + D;
    const params = rows * D + cfg.nCtx * D + cfg.nLayer * perBlock + 2 * D + (ckpt.lmHead ? rows * D : 0);
    const bytes = memoryForShape(params, cfg);
    estimates.set(key, bytes);
    return bytes;
  } catch {
    return null;
  }
}

/** Estimates by path, options and modification time: a PyTorch file is not re-parsed on every list. */
const estimates = new Map<string, number>();

export function memoryForShape(
  params: number,
  cfg: Pick<Gpt2Config, 'nLayer' | 'nHead' | 'dModel' | 'nCtx' | 'vocabSize'>,
): number {
  const weights = params * 4;
  const engineCopies = cfg.nLayer * cfg.dModel * cfg.dModel * 4 + cfg.vocabSize * cfg.dModel * 4;
  const T = cfg.nCtx;
  const perLayer = (16 * T * cfg.dModel + cfg.nHead * T * cfg.dModel + 2 * cfg.nHead * T * T) * 4;
  return weights + engineCopies + cfg.nLayer * perLayer + T * cfg.vocabSize * 4;
}

/** The weights file and config.json of a folder or a file. */
function dirBytes(path: string): number {
  let n = 0;
  let weights: string;
  try {
    weights = weightsFileOf(path);
  } catch {
    return 0;
  }
  for (const f of [weights, join(dirname(weights), 'config.json')]) {
    try {
      n += statSync(f).size;
    } catch {
      /* missing file: counted as 0 */
    }
  }
  return n;
}

export class ModelLibrary {
  /** Folders and files the person opened this session, with what they told the app about each. */
  private readonly opened = new Map<string, LoadOptions>();
  private download: { repo: string; ctrl: AbortController; state: DownloadState } | null = null;
  private lastDownload: DownloadState | null = null;

  constructor(private readonly o: LibraryOptions) {}

  /** A folder or file the person opened: remembered for this session's list, with its options. */
  addFolder(path: string, options: LoadOptions = this.optionsFor(path)): string {
    const abs = resolve(path);
    this.opened.set(abs, options);
    return abs;
  }

  /** What the person told the app about a model they opened (number of heads, vocabulary file). */
  optionsFor(path: string): LoadOptions {
    return this.opened.get(resolve(path)) ?? {};
  }

  list(loadedDir: string | null): LibraryEntry[] {
    const entries: LibraryEntry[] = [];
    const loaded = loadedDir ? resolve(loadedDir) : null;
    const graphs = this.o.graphCacheDir ? listCachedGraphs(this.o.graphCacheDir) : [];
    const onDisk = (
      kind: LibraryEntry['kind'],
      dir: string,
      label: string,
      description: string,
      repo: string | null = null,
    ): LibraryEntry => ({
      id: `${kind}:${dir}`,
      kind,
      label,
      description,
      repo,
      dir,
      diskBytes: dirBytes(dir),
      downloadBytes: null,
      partialBytes: 0,
      memoryBytes: estimateMemoryBytes(dir, this.optionsFor(dir)),
      graphBytes: graphs.filter((g) => resolve(g.modelDir) === resolve(dir)).reduce((n, g) => n + g.bytes, 0),
      loaded: loaded === resolve(dir),
    });
    const bundledMeta = readModelMeta(this.o.bundledDir);
    if (existsSync(join(this.o.bundledDir, 'model.safetensors'))) {
      entries.push(
        onDisk('bundled', this.o.bundledDir, bundledMeta.label ?? basename(this.o.bundledDir), bundledMeta.description ?? ''),
      );
    }
    const downloaded = existsSync(this.o.modelsDir) ? readdirSync(this.o.modelsDir).filter((n) => !n.startsWith('.')) : [];
    const downloadedRepos = new Set<string>();
    for (const name of downloaded) {
      const dir = join(this.o.modelsDir, name);
      if (!existsSync(join(dir, 'model.safetensors'))) continue;
      const meta = readModelMeta(dir);
      const repo = meta.sourceRepo ?? null;
      if (repo) downloadedRepos.add(repo);
      entries.push(onDisk('downloaded', dir, meta.label ?? name, meta.description ?? '', repo));
    }
    for (const snap of findCachedSnapshots(this.o.hfCacheDir ?? hubCacheDir())) {
      if (downloadedRepos.has(snap.repo)) continue;
      entries.push(
        onDisk(
          'hf-cache',
          snap.dir,
          snap.repo,
          `Already in the Hugging Face cache (revision ${snap.revision.slice(0, 12)}); no download needed.`,
          snap.repo,
        ),
      );
      downloadedRepos.add(snap.repo);
    }
    for (const c of CATALOGUE) {
      if (downloadedRepos.has(c.repo)) continue;
      entries.push({
        id: `hub:${c.repo}`,
        kind: 'downloadable',
        label: c.label,
        description: c.description,
        repo: c.repo,
        dir: null,
        diskBytes: null,
        downloadBytes: c.approxBytes,
        partialBytes: partialBytes(c.repo, this.o.modelsDir),
        memoryBytes: memoryForShape(c.params, { ...c.shape, vocabSize: 50257 }),
        graphBytes: 0,
        loaded: false,
      });
    }
    for (const dir of this.opened.keys()) {
      if (entries.some((e) => e.dir && resolve(e.dir) === dir)) continue;
      entries.push(onDisk('folder', dir, basename(dir), `Opened from ${dir}`));
    }
    return entries;
  }

  /** Refuses, with the numbers, a model that would not fit in memory. */
  checkMemory(dir: string, options: LoadOptions = {}): void {
    const need = estimateMemoryBytes(dir, options);
    if (need === null) return; // the loader will say what is wrong with the folder
    const total = totalmem();
    if (need > 0.8 * total) {
      throw new Error(
        `This model needs about ${(need / 1e9).toFixed(1)} GB of memory and this computer has ${(total / 1e9).toFixed(1)} GB; it was not loaded.`,
      );
    }
    if (need > freemem())
      console.warn(`[atlas] ${dir} needs ~${(need / 1e9).toFixed(1)} GB; ${(freemem() / 1e9).toFixed(1)} GB is free now`);
  }

  downloadStatus(): DownloadState | null {
    return this.download?.state ?? this.lastDownload;
  }

  /** Starts a background download; its progress is read with downloadStatus(). */
  startDownload(repo: string, onDone: (dir: string) => Promise<void>): void {
    if (this.download) throw new Error(`${this.download.repo} is still downloading; wait for it or cancel it first`);
    const entry = CATALOGUE.find((c) => c.repo === repo);
    const ctrl = new AbortController();
    const state: DownloadState = {
      repo,
      phase: 'downloading',
      file: null,
      received: 0,
      total: null,
      bytesPerSecond: 0,
      secondsLeft: null,
      error: null,
      dir: null,
    };
    this.download = { repo, ctrl, state };
    this.lastDownload = null;
    const options: DownloadOptions = {
      ...this.o.downloadOptions,
      signal: ctrl.signal,
      label: entry?.label,
      description: entry?.description,
      onProgress: (p) => {
        state.file = p.file;
        state.received = p.received;
        state.total = p.total;
        state.bytesPerSecond = p.bytesPerSecond;
        state.secondsLeft = p.secondsLeft;
      },
    };
    void downloadModel(repo, this.o.modelsDir, options)
      .then(async (got) => {
        state.phase = 'building';
        state.dir = got.dir;
        await onDone(got.dir);
        state.phase = 'done';
      })
      .catch((e: unknown) => {
        state.phase = e instanceof DownloadError && e.kind === 'cancelled' ? 'cancelled' : 'failed';
        state.error = (e as Error).message;
      })
      .finally(() => {
        this.lastDownload = { ...state };
        this.download = null;
      });
  }

  cancelDownload(): void {
    this.download?.ctrl.abort();
  }

  /** Deletes the built graphs of a model that is not in use (they are rebuilt on next use). */
  removeGraphs(id: string, loadedDir: string | null): void {
    const entry = this.list(loadedDir).find((e) => e.id === id);
    if (!entry?.dir) throw new Error('no such model on disk');
    if (entry.loaded) throw new Error('this model is in use; switch to another one first');
    for (const g of this.o.graphCacheDir ? listCachedGraphs(this.o.graphCacheDir) : []) {
      if (resolve(g.modelDir) === resolve(entry.dir)) rmSync(g.dir, { recursive: true, force: true });
    }
  }

  /** Deletes a downloaded model, or the partial files of an interrupted download. */
  remove(id: string, loadedDir: string | null): void {
    const entry = this.list(loadedDir).find((e) => e.id === id);
    if (!entry) throw new Error('no such model in the library');
    if (entry.loaded) throw new Error('this model is in use; switch to another one first');
    if (entry.kind === 'downloaded' && entry.dir) rmSync(entry.dir, { recursive: true, force: true });
    else if (entry.kind === 'downloadable' && entry.repo) {
      // Never pull the part files from under a download that is running (here or elsewhere).
      if (downloadInProgress(entry.repo, this.o.modelsDir))
        throw new Error('this model is being downloaded right now; cancel the download first');
      rmSync(join(this.o.modelsDir, '.partial', entry.repo.replace('/', '--')), { recursive: true, force: true });
    } else throw new Error('only downloaded models can be removed here');
  }
}
