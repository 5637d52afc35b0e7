/**
 * Browser mode's engine, seen from the serving thread: the Engine runs in a worker thread
 * (engine-worker.ts) and this proxy stands in for it. A long synchronous stretch of engine work
 * (a 2,000-emoji text's tokenizing blocked the server's event loop for 9 s) then blocks only the
 * worker: the page's files, 401s, library calls and the model's state keep being answered.
 *
 * What lives where: the worker holds the Engine and nothing else. This thread holds the model
 * library and the ModelHost (downloads are async I/O and stay here; a finished one asks the
 * worker to load), and a mirror of the loaded model (folder, ModelInfo, load stats) that the
 * worker sends after every load, so `library` and `modelInfo` never ask the worker.
 *
 * A worker that dies answers every request it held with an error, is started again and reloads
 * the model it had; after MAX_CRASHES deaths in a row without one answer it is left stopped and
 * every request says so. Nothing waits for an answer that cannot come.
 */
import { Worker } from 'node:worker_threads';
import { CHANNELS, USER_ERROR_PREFIX, type ModelInfo, type PredictionsRequest } from '../shared/api';
import { PackedReply } from '../shared/wire';
import type { LoadOptions, LoadStats } from '../engine/engine';
import { ConfigNeededError } from '../engine/checkpoint-layout';
import { VocabularyNeededError } from '../engine/vocabulary';
import {
  createHostHandlers,
  parseAblationRequest,
  parseAnalyzeRequest,
  parseContributionRequest,
  parseHeadDetailRequest,
  parsePredictionsRequest,
  parseScoreRequest,
  ENGINE_CHANNELS,
  type EngineChannel,
  type Handler,
} from '../main/handlers';
import type { HostedEngine, ModelHost } from '../main/model-host';
import type { EngineState, EngineWorkerData, FromWorker, ToWorker } from './engine-protocol';
import type { WebServerOptions } from './web-server';

export interface EngineClientOptions {
  cacheDir: string;
  allowNonfinite?: boolean;
  /** Tests only: see TEST_HOOK in engine-protocol.ts. */
  testHooks?: boolean;
  /** Where crashes and restarts are reported (stderr by default). */
  log?: (line: string) => void;
}

/** Deaths in a row, without one answer in between, after which the worker is not started again. */
export const MAX_CRASHES = 3;

type Settled = Extract<FromWorker, { type: 'reply' | 'error' | 'miss' | 'loaded' }>;

interface Pending {
  settle(m: Settled): void;
  onProgress?: ((fraction: number) => void) | undefined;
}

/**
 * The serving thread's check of each engine call before it crosses to the worker (whose handlers
 * check again): only a well-formed request, stripped to its known fields, reaches the engine.
 */
const CHECK: Record<EngineChannel, (arg: unknown) => unknown> = {
  [CHANNELS.modelInfo]: () => null,
  [CHANNELS.analyze]: parseAnalyzeRequest,
  [CHANNELS.headDetail]: parseHeadDetailRequest,
  [CHANNELS.contribution]: parseContributionRequest,
  [CHANNELS.predictions]: parsePredictionsRequest,
  [CHANNELS.inductionProbe]: () => null,
  [CHANNELS.trainingHistory]: () => null,
  [CHANNELS.explainScore]: parseScoreRequest,
  [CHANNELS.ablate]: parseAblationRequest,
  [CHANNELS.exportData]: parseAnalyzeRequest,
};

function userError(e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(msg.startsWith(USER_ERROR_PREFIX) ? msg : USER_ERROR_PREFIX + msg);
}

export class EngineClient implements HostedEngine {
  private worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private mirror: EngineState = { modelDir: null, modelInfo: null, loadStats: null };
  /** The newest load (settled either way): modelInfo waits for it, like the engine's calls do. */
  private loading: Promise<unknown> = Promise.resolve();
  /** The options of the last load, for reloading the model into a restarted worker. */
  private lastLoadOptions: LoadOptions = {};
  private crashes = 0;
  /** Why no worker runs any more (closed, or crashing over and over); null while one does. */
  private stopped: string | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly o: EngineClientOptions) {
    this.log = o.log ?? ((line) => console.error(line));
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const workerData: EngineWorkerData = {
      cacheDir: this.o.cacheDir,
      allowNonfinite: this.o.allowNonfinite ?? false,
      testHooks: this.o.testHooks ?? false,
    };
    const w = new Worker(new URL('./engine-worker.mjs', import.meta.url), {
      workerData,
      // A worker thread's stack is 4 MB by default; onnxruntime recurses over the process's
      // command line on it (see bin/atlas.mjs), so it gets the main thread's 8 MB.
      resourceLimits: { stackSizeMb: 8 },
    });
    let reason = 'it exited';
    w.on('message', (m: FromWorker) => this.receive(m));
    w.on('error', (e) => (reason = e.message));
    w.on('messageerror', (e) => this.log(`atlas: a message from the engine worker could not be read: ${e.message}`));
    w.on('exit', (code) => {
      if (this.worker === w && this.stopped === null) this.died(`${reason}, exit code ${code}`);
    });
    return w;
  }

  private receive(m: FromWorker): void {
    if (m.type === 'state') {
      this.mirror = m.state;
      return;
    }
    const p = this.pending.get(m.id);
    if (m.type === 'progress') return p?.onProgress?.(m.fraction);
    this.pending.delete(m.id);
    this.crashes = 0;
    p?.settle(m);
  }

  /** Answers everything the dead worker held, then starts another and reloads the model it had. */
  private died(reason: string): void {
    this.crashes++;
    const restart = this.crashes < MAX_CRASHES;
    const message = restart
      ? `${USER_ERROR_PREFIX}the engine stopped unexpectedly (${reason}) and is being restarted; try again`
      : `${USER_ERROR_PREFIX}the engine stopped unexpectedly ${this.crashes} times in a row (${reason}); restart atlas serve`;
    this.answerAll(message);
    if (!restart) {
      this.stopped = message.slice(USER_ERROR_PREFIX.length);
      this.log(`atlas: ${this.stopped}`);
      return;
    }
    this.log(`atlas: the engine worker stopped (${reason}); restarting it`);
    this.worker = this.spawn();
    const dir = this.mirror.modelDir;
    // Sent before anything else reaches the new worker, so every later call waits for it there.
    if (dir)
      void this.load(dir, undefined, this.lastLoadOptions).catch((e: unknown) =>
        this.log(`atlas: could not reload ${dir}: ${(e as Error).message}`),
      );
  }

  private answerAll(message: string): void {
    const held = [...this.pending];
    this.pending.clear();
    for (const [id, p] of held) p.settle({ type: 'error', id, message });
  }

  private send(make: (id: number) => ToWorker, onProgress?: (fraction: number) => void): Promise<Settled> {
    const id = this.nextId++;
    if (this.stopped !== null) return Promise.resolve({ type: 'error', id, message: USER_ERROR_PREFIX + this.stopped });
    return new Promise<Settled>((settle) => {
      this.pending.set(id, { settle, onProgress });
      try {
        this.worker.postMessage(make(id));
      } catch (e) {
        this.pending.delete(id);
        settle({ type: 'error', id, message: (e as Error).message });
      }
    });
  }

  // HostedEngine: what the ModelHost asks of an engine, answered from the mirror.

  load(dir: string, onBuildProgress?: (fraction: number) => void, options: LoadOptions = {}): Promise<ModelInfo> {
    this.lastLoadOptions = options;
    const run = this.send((id) => ({ type: 'load', id, dir, options }), onBuildProgress).then((r) => {
      if (r.type === 'loaded') return r.info;
      if (r.type !== 'error') throw new Error(`unexpected ${r.type} for a load`);
      if (r.configNeeded) throw new ConfigNeededError(r.configNeeded, r.message);
      if (r.vocabularyNeeded !== undefined) throw new VocabularyNeededError(r.vocabularyNeeded, r.message);
      throw new Error(r.message);
    });
    this.loading = run.catch(() => undefined);
    return run;
  }

  modelDir(): string | null {
    return this.mirror.modelDir;
  }

  modelInfo(): ModelInfo {
    if (!this.mirror.modelInfo) throw new Error('no model is loaded');
    return this.mirror.modelInfo;
  }

  loadStats(): LoadStats {
    if (!this.mirror.loadStats) throw new Error('no model is loaded');
    return this.mirror.loadStats;
  }

  /** An engine call in the worker; the reply comes packed for the wire. */
  async call(channel: EngineChannel, arg: unknown): Promise<PackedReply> {
    let req: unknown;
    try {
      req = CHECK[channel](arg);
    } catch (e) {
      throw userError(e);
    }
    const r = await this.send((id) => ({ type: 'call', id, channel, arg: req }));
    if (r.type === 'reply') return new PackedReply(r.bytes);
    throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type} for ${channel}`);
  }

  /** Predictions of the analysis the engine holds, or undefined when it holds another. */
  async cachedPredictions(req: PredictionsRequest): Promise<PackedReply | undefined> {
    const r = await this.send((id) => ({ type: 'fast', id, req }));
    return r.type === 'reply' ? new PackedReply(r.bytes) : undefined;
  }

  /**
   * The handler map and fast path for startWebServer: library channels run here on the
   * ModelHost; the model's state comes from the mirror; every other engine channel goes to the worker.
   */
  serverOptions(host: ModelHost<HostedEngine>): Pick<WebServerOptions, 'handlers' | 'fastPath'> {
    const engine = Object.fromEntries(
      ENGINE_CHANNELS.map((c): [EngineChannel, Handler] => [c, (arg) => this.call(c, arg)]),
    ) as Record<EngineChannel, Handler>;
    engine[CHANNELS.modelInfo] = async () => {
      await host.ready;
      await this.loading;
      try {
        return this.modelInfo();
      } catch (e) {
        throw userError(e);
      }
    };
    return {
      handlers: { ...engine, ...createHostHandlers(host, () => host.ready) },
      // Checked here, synchronously: a malformed request goes on to the handler, which says why.
      fastPath: (channel, arg) =>
        channel === CHANNELS.predictions ? this.cachedPredictions(parsePredictionsRequest(arg)) : undefined,
    };
  }

  /** Stops the worker; whatever it still held is answered with an error first. */
  async close(): Promise<void> {
    if (this.stopped === null) this.stopped = 'the server is shutting down';
    this.answerAll(USER_ERROR_PREFIX + this.stopped);
    await this.worker.terminate();
  }
}
