/**
 * One onnxruntime-node session per loaded model: created once, reused for every run, released
 * when the model is switched.
 */
import * as ort from 'onnxruntime-node';

/** A tensor as the engine hands it on: dims plus a typed array, never a JSON number list. */
export interface HostTensor {
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface RuntimeSettings {
  /** Intra-op threads (0: one per physical core, onnxruntime's default). */
  threads: number;
  /** Whether idle pool threads spin waiting for work (onnxruntime's default) or sleep. */
  spinning: boolean;
}

/**
 * Chosen with `atlas bench --settings` (analysis-graph forward pass, GPT-2-small-shaped weights,
 * T = 64, median of 15 runs, 2-core AMD EPYC, 2026-11-21; "busy" = another process spinning
 * one core, as a browser or an editor does on a laptop):
 *
 *   threads  spinning   idle     busy
 *   1        off        236 ms   217 ms
 *   2        off        150 ms   198 ms
 *   2        on         132 ms   267 ms
 *   0 (= 2)  off        157 ms   185 ms
 *   0 (= 2)  on         130 ms   259 ms
 *
 * Spinning wins 1.15× on an idle machine and loses 1.4× on a busy one (its spinning threads
 * fight the other process for the cores), so it is off; the thread count stays onnxruntime's
 * default, one per physical core, which is the best busy setting measured.
 */
export const DEFAULT_RUNTIME_SETTINGS: RuntimeSettings = { threads: 0, spinning: false };

export class ModelRuntime {
  private constructor(private session: ort.InferenceSession | null) {}

  static async create(modelPath: string, settings: RuntimeSettings = DEFAULT_RUNTIME_SETTINGS): Promise<ModelRuntime> {
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: settings.threads,
      // A memory pattern is one block per distinct set of input shapes, planned on the first run
      // with those shapes and allocated on every later one beside what the arena already holds:
      // a second T = 1024 analysis of GPT-2 small took the process from 1.6 to 2.1 GB. Typing
      // changes the shapes on every keystroke (P grows), so patterns were rarely reused anyway;
      // without them T = 64 runs as fast (bench, 2026-11-30).
      enableMemPattern: false,
      // Flattened by the binding into the session config key "session.intra_op.allow_spinning".
      extra: { session: { intra_op: { allow_spinning: settings.spinning ? '1' : '0' } } },
    });
    return new ModelRuntime(session);
  }

  get outputNames(): readonly string[] {
    return this.live().outputNames;
  }

  private live(): ort.InferenceSession {
    if (!this.session) throw new Error('the model was unloaded');
    return this.session;
  }

  get inputNames(): readonly string[] {
    return this.live().inputNames;
  }

  /**
   * Runs token ids [T] and returns only the requested outputs. `feeds` are the graph's other
   * inputs (the past keys and values of an incremental run); the engine supplies them.
   */
  async run(
    ids: readonly number[],
    fetches: readonly string[],
    feeds: Record<string, HostTensor> = {},
    /** Outputs to write straight into these arrays (views into the caller's buffers): no
     *  onnxruntime-side allocation and no copy afterwards. */
    into: Record<string, HostTensor> = {},
  ): Promise<Record<string, HostTensor>> {
    const inputs: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (i) => BigInt(i)),
        [1, ids.length],
      ),
    };
    for (const [name, t] of Object.entries(feeds)) {
      inputs[name] =
        t.data instanceof Float32Array ? new ort.Tensor('float32', t.data, t.dims) : new ort.Tensor('int64', t.data, t.dims);
    }
    const wanted: Record<string, ort.Tensor | null> = {};
    for (const name of fetches) {
      const t = into[name];
      wanted[name] = t?.data instanceof Float32Array ? new ort.Tensor('float32', t.data, t.dims) : null;
    }
    const out = await this.live().run(inputs, wanted);
    const result: Record<string, HostTensor> = {};
    for (const name of fetches) {
      const t = out[name];
      if (!t) throw new Error(`the graph produced no output "${name}"`);
      const data = t.data;
      if (!(data instanceof Float32Array) && !(data instanceof BigInt64Array)) {
        throw new Error(`output "${name}" has unexpected type ${t.type}`);
      }
      result[name] = { dims: [...t.dims], data };
    }
    return result;
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release();
  }
}
