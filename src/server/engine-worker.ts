/**
 * Browser mode's engine thread: the Engine and the handlers of its channels, driven by messages
 * from the serving thread (engine-client.ts; the messages are engine-protocol.ts). Everything
 * long and synchronous (tokenizing, snapshotting, explainScore and ablate's float64 loops,
 * exports, packing replies) runs here, so the serving thread keeps answering HTTP meanwhile.
 * Started through engine-worker.mjs, which registers tsx first.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CHANNELS } from '../shared/api';
import { pack } from '../shared/wire';
import { Engine, type LoadOptions } from '../engine/engine';
import { ConfigNeededError } from '../engine/checkpoint-layout';
import { VocabularyNeededError } from '../engine/vocabulary';
import { createEngineHandlers, ENGINE_CHANNELS, parsePredictionsRequest } from '../main/handlers';
import { TEST_HOOK, type EngineState, type EngineWorkerData, type FromWorker, type ToWorker } from './engine-protocol';

if (!parentPort) throw new Error('engine-worker runs as a worker thread; see engine-client.ts');
const port = parentPort;
const data = workerData as EngineWorkerData;
const engine = new Engine({ cacheDir: data.cacheDir, allowNonfinite: data.allowNonfinite });
/** The load in progress: engine calls wait for it, so they run on the model they will see. */
let loading: Promise<unknown> = Promise.resolve();
let loadsInFlight = 0;
const handlers = createEngineHandlers(engine, () => loading);
const engineChannels = new Set<string>(ENGINE_CHANNELS);

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function state(): EngineState {
  const dir = engine.modelDir();
  if (dir === null) return { modelDir: null, modelInfo: null, loadStats: null };
  return { modelDir: dir, modelInfo: engine.modelInfo(), loadStats: engine.loadStats() };
}

function reply(id: number, value: unknown): void {
  let bytes: Uint8Array;
  try {
    bytes = pack({ ok: value });
  } catch (e) {
    post({ type: 'error', id, message: (e as Error).message });
    return;
  }
  // The packed bytes are a fresh copy nobody else holds, so their buffer is handed over, not
  // copied again. The engine's own arrays (which its caches may keep) are never transferred.
  post({ type: 'reply', id, bytes }, [bytes.buffer as ArrayBuffer]);
}

/** Tests only (see TEST_HOOK): true when `m` was a hook request, now handled. */
function testHook(m: Extract<ToWorker, { type: 'call' }>): boolean {
  if (!data.testHooks || m.channel !== CHANNELS.analyze) return false;
  const text = typeof m.arg === 'object' && m.arg !== null && 'text' in m.arg ? m.arg.text : null;
  if (typeof text !== 'string' || !text.startsWith(TEST_HOOK)) return false;
  const what = text.slice(TEST_HOOK.length);
  // Thrown from the message handler: uncaught, it ends the worker before it reads another message.
  if (what === 'crash') throw new Error('the engine worker crashed on purpose (test hook)');
  const ms = Number(/^block:(\d+)$/.exec(what)?.[1] ?? NaN);
  if (!Number.isFinite(ms)) return false;
  const startedAt = Date.now();
  while (Date.now() < startedAt + ms) {
    // Busy on purpose: a long synchronous stretch, as a big analysis's tokenizing was.
  }
  reply(m.id, { startedAt, endedAt: Date.now() });
  return true;
}

function load(id: number, dir: string, options: LoadOptions): void {
  loadsInFlight++;
  const run = engine.load(dir, (fraction) => post({ type: 'progress', id, fraction }), options);
  loading = run.catch(() => undefined);
  void run.then(
    (info) => {
      loadsInFlight--;
      // State first: when the load's promise resolves on the serving thread, its mirror is current.
      post({ type: 'state', state: state() });
      post({ type: 'loaded', id, info });
    },
    (e: unknown) => {
      loadsInFlight--;
      post({ type: 'state', state: state() });
      // What the checkpoint lacks crosses the thread as data; the client rebuilds the error.
      post({
        type: 'error',
        id,
        message: (e as Error).message,
        configNeeded: e instanceof ConfigNeededError ? e.shape : undefined,
        vocabularyNeeded: e instanceof VocabularyNeededError ? e.rows : undefined,
      });
    },
  );
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'load') return load(m.id, m.dir, m.options);
  if (m.type === 'fast') {
    // Only the analysis the engine holds, and not while another model is coming in.
    let p = null;
    try {
      p = loadsInFlight === 0 ? engine.cachedPredictions(parsePredictionsRequest(m.req)) : null;
    } catch {
      p = null; // malformed for the fast path: the queued call's handler will say why
    }
    return p ? reply(m.id, p) : post({ type: 'miss', id: m.id });
  }
  if (!engineChannels.has(m.channel)) return post({ type: 'error', id: m.id, message: `no engine channel ${m.channel}` });
  if (testHook(m)) return;
  void handlers[m.channel](m.arg).then(
    (value) => reply(m.id, value),
    (e: unknown) => post({ type: 'error', id: m.id, message: (e as Error).message }),
  );
});
