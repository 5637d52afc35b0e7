/**
 * Which model is loaded, and switching between models: the engine, the library and the load in
 * progress (with its build progress), behind one object the handlers share. No electron
 * import: the desktop app passes the native folder picker and file manager in as `desktop`.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { GraphInfo, LibraryState, ModelInfo } from '../shared/api';
import type { Engine } from '../engine/engine';
import type { ModelLibrary } from '../engine/library';

export interface DesktopHooks {
  pickFolder(): Promise<string | null>;
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

  /** Loads a folder: memory check, build (cached) with progress, session. Keeps the old model on failure. */
  load(dir: string): Promise<ModelInfo> {
    const abs = resolve(dir);
    this.loadingDir = abs;
    this.loadError = null;
    this.buildProgress = 0;
    const run = (async () => {
      try {
        this.library.checkMemory(abs);
        return await this.engine.load(abs, (f) => (this.buildProgress = f));
      } catch (e) {
        this.loadError = (e as Error).message;
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
      },
      desktop: this.desktop !== null,
    };
  }
}
