/**
 * Which model is loaded, and switching between models: the engine, the library and the load in
 * progress (with its build progress), behind one object the handlers share. No electron
 * import: the desktop app passes the native folder picker and file manager in as `desktop`.
 */
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { GraphInfo, LibraryState, ModelInfo, ModelNeeds } from '../shared/api';
import type { Engine, LoadOptions } from '../engine/engine';
import type { ModelLibrary } from '../engine/library';
import { ConfigNeededError } from '../engine/checkpoint-layout';
import { VocabularyNeededError } from '../engine/vocabulary';
import { weightsFileOf } from '../engine/gpt2-weights';

export interface DesktopHooks {
  pickFolder(): Promise<string | null>;
  /** A checkpoint file (`model`: .pt, .pth, .safetensors) or a vocabulary file (meta.pkl, vocab.json). */
  pickFile(kind: 'model' | 'vocabulary'): Promise<string | null>;
  reveal(path: string): void;
  /** Asks the person, natively, whether to download a repository that is not in the catalogue. */
  confirmDownload?(repo: string): Promise<boolean>;
}

/**
 * What the host needs of an engine: loading and the loaded model's description. The Engine itself
 * in the desktop app; in browser mode a proxy for the engine in its worker thread
 * (server/engine-client.ts), so that library calls answer while the engine is busy.
 */
export type HostedEngine = Pick<Engine, 'load' | 'modelDir' | 'modelInfo' | 'loadStats'>;

export class ModelHost<E extends HostedEngine = Engine> {
  private loadingDir: string | null = null;
  private loadError: string | null = null;
  private needs: ModelNeeds | null = null;
  private buildProgress: number | null = null;
  private current: Promise<unknown> = Promise.resolve();

  constructor(
    readonly engine: E,
    readonly library: ModelLibrary,
    readonly desktop: DesktopHooks | null = null,
  ) {}

  /** Resolves when no load is in progress (requests wait for the model they will use). */
  get ready(): Promise<unknown> {
    return this.current;
  }

  /** What the last failed load lacked (its number of heads, its vocabulary), or null. */
  get waitingFor(): ModelNeeds | null {
    return this.needs;
  }

  /**
   * Loads a folder or a checkpoint file: memory check, build (cached) with progress, session.
   * Keeps the old model on failure; a checkpoint that lacks its number of heads or its
   * vocabulary is remembered in `waitingFor` so the person can supply it.
   */
  load(dir: string, options: LoadOptions = this.library.optionsFor(dir)): Promise<ModelInfo> {
    const abs = resolve(dir);
    this.loadingDir = abs;
    this.loadError = null;
    this.needs = null;
    this.buildProgress = 0;
    const run = (async () => {
      try {
        this.library.checkMemory(abs, options);
        return await this.engine.load(abs, (f) => (this.buildProgress = f), options);
      } catch (e) {
        this.loadError = (e as Error).message;
        this.needs = needsOf(abs, e);
        throw e;
      } finally {
        this.loadingDir = null;
        this.buildProgress = null;
      }
    })();
    this.current = run.catch(() => undefined);
    return run;
  }

  private graphInfo(): GraphInfo | null {
    try {
      const s = this.engine.loadStats();
      const bytes = statSync(s.modelPath).size + statSync(`${s.modelPath}.data`).size;
      return { path: dirname(s.modelPath), bytes, buildMs: s.buildMs, fromCache: s.fromCache };
    } catch {
      return null;
    }
  }

  state(): LibraryState {
    const dir = this.engine.modelDir();
    const entries = this.library.list(dir);
    let model: ModelInfo | null = null;
    try {
      model = this.engine.modelInfo();
    } catch {
      model = null;
    }
    return {
      entries,
      download: this.library.downloadStatus(),
      loaded: {
        entryId: entries.find((e) => e.loaded)?.id ?? null,
        model,
        graph: model ? this.graphInfo() : null,
        loading: this.loadingDir !== null,
        buildProgress: this.buildProgress,
        error: this.loadError,
        needs: this.needs,
      },
      desktop: this.desktop !== null,
    };
  }
}

/** What a load error says the person must supply, if anything. */
function needsOf(path: string, e: unknown): ModelNeeds | null {
  let file = basename(path);
  try {
    file = basename(weightsFileOf(path));
  } catch {
    /* the path itself is named */
  }
  if (e instanceof ConfigNeededError) {
    const s = e.shape;
    return {
      kind: 'heads',
      path,
      file,
      format: s.format,
      nLayers: s.nLayer,
      dModel: s.dModel,
      nCtx: s.nCtx,
      vocabSize: s.vocabSize,
      qkvBias: s.qkvBias,
    };
  }
  if (e instanceof VocabularyNeededError) return { kind: 'vocabulary', path, file, rows: e.rows };
  return null;
}
