/**
 * A PyTorch checkpoint (`ckpt.pt`, `model.pth`) as a TensorSource: the state dict that
 * torch-file.ts found in it, read lazily, and the checkpoint's other top-level values
 * (nanoGPT's `model_args` and `config`). Nothing in the file is executed (pickle.ts).
 */
import type { Dtype } from './safetensors';
import type { SourceTensor, TensorSource } from './checkpoint-layout';
import { findStateDict, TorchFile, type TensorRef } from './torch-file';

const FLOAT_DTYPES = new Set<string>(['F32', 'F16', 'BF16']);

export interface TorchSource {
  source: TensorSource;
  /** nanoGPT's `model_args` (n_layer, n_head, n_embd, block_size, bias, vocab_size, dropout), when present. */
  modelArgs: Record<string, unknown> | null;
  /** Every other top-level value, JSON-like (tensors summarised). */
  extras: Record<string, unknown>;
}

export function openTorchSource(path: string): TorchSource {
  const file = TorchFile.open(path);
  try {
    const found = findStateDict(file);
    const refs = new Map<string, TensorRef>();
    const tensors = new Map<string, SourceTensor>();
    for (const [name, ref] of found.tensors) {
      // Integer buffers (step counters and the like) are not weights: left out, never decoded.
      if (!FLOAT_DTYPES.has(ref.dtype)) continue;
      refs.set(name, ref);
      tensors.set(name, { dtype: ref.dtype as Dtype, shape: ref.shape });
    }
    const ref = (name: string): TensorRef => {
      const r = refs.get(name);
      if (!r) throw new Error(`${path}: no tensor ${name}`);
      return r;
    };
    const source: TensorSource = {
      path,
      tensors,
      readF32: (name) => file.readF32(ref(name)),
      // The NaN/Inf check reads decoded values: a strided view has no contiguous raw bytes.
      readRaw: (name) => {
        const data = file.readF32(ref(name));
        return { dtype: 'F32', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
      },
      sameData: (a, b) => {
        const ra = refs.get(a);
        const rb = refs.get(b);
        if (!ra || !rb || ra.shape.join() !== rb.shape.join()) return false;
        // Tied weights are one storage viewed twice (nanoGPT's lm_head and wte).
        if (ra.storage.key === rb.storage.key && ra.offset === rb.offset && ra.strides.join() === rb.strides.join()) return true;
        const x = file.readF32(ra);
        const y = file.readF32(rb);
        return x.every((v, i) => Object.is(v, y[i]));
      },
      close: () => file.close(),
    };
    const args = found.extras.model_args;
    const modelArgs =
      typeof args === 'object' && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : null;
    return { source, modelArgs, extras: found.extras };
  } catch (e) {
    file.close();
    throw e;
  }
}
