/**
 * The messages between browser mode's serving thread and its engine worker (engine-client.ts,
 * engine-worker.ts). Both ends are this program, so the messages are typed; the arguments of
 * engine calls are still checked by the worker's handlers, as they are in the desktop app.
 */
import type { ModelInfo, PredictionsRequest } from '../shared/api';
import type { LoadOptions, LoadStats } from '../engine/engine';
import type { InferredShape } from '../engine/checkpoint-layout';
import type { EngineChannel } from '../main/handlers';

/** What the worker is started with (workerData). */
export interface EngineWorkerData {
  cacheDir: string;
  allowNonfinite: boolean;
  /** Tests only: lets TEST_HOOK requests block or crash the worker (see engine-worker.ts). */
  testHooks: boolean;
}

/** The loaded model as the serving thread mirrors it, so that library calls never ask the worker. */
export interface EngineState {
  modelDir: string | null;
  modelInfo: ModelInfo | null;
  loadStats: LoadStats | null;
}

export type ToWorker =
  /** A call on an engine channel; answered with `reply` or `error`. */
  | { type: 'call'; id: number; channel: EngineChannel; arg: unknown }
  /** Predictions from the analysis the engine holds, if it holds it; answered with `reply` or `miss`. */
  | { type: 'fast'; id: number; req: PredictionsRequest }
  /** Load a model folder or file; answered with `progress`…, then `loaded` or `error`. */
  | { type: 'load'; id: number; dir: string; options: LoadOptions };

export type FromWorker =
  /** The call's outcome, already in the wire format ({ ok: value }); its buffer is transferred. */
  | { type: 'reply'; id: number; bytes: Uint8Array }
  | {
      type: 'error';
      id: number;
      message: string;
      /** A load that failed for want of the number of heads (ConfigNeededError) or a vocabulary. */
      configNeeded?: InferredShape;
      vocabularyNeeded?: number;
    }
  | { type: 'miss'; id: number }
  | { type: 'progress'; id: number; fraction: number }
  | { type: 'loaded'; id: number; info: ModelInfo }
  /** Sent after every load, failed ones included, and once at start. */
  | { type: 'state'; state: EngineState };

/**
 * Tests only, and only when the worker was started with `testHooks`: an analyze request whose
 * text is `${TEST_HOOK}block:<ms>` busy-waits that long on the worker's thread (a stand-in for a
 * long synchronous stretch of engine work) and answers { startedAt, endedAt } (Date.now());
 * `${TEST_HOOK}crash` makes the worker die.
 */
export const TEST_HOOK = '\u0000atlas-test-hook:';
