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

/** MEASURED_BY_BENCH */
export const DEFAULT_RUNTIME_SETTINGS: RuntimeSettings = { threads: 0, spinning: false };

export class ModelRuntime {
  private constructor(private session: ort.InferenceSession | null) {}

  static async create(modelPath: string, settings: RuntimeSettings = DEFAULT_RUNTIME_SETTINGS): Promise<ModelRuntime> {
    const session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: settings.threads,
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
    const out = await this.live().run(inputs, [...fetches]);
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
