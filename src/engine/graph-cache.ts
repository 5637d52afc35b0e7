/**
 * Built graphs are cached on disk, keyed by sha256(weights) + sha256(the configuration read) + builder
 * version, so a model is built once and a new builder version rebuilds. A build is written to
 * a temporary folder and renamed into place, so a half-built graph is never found.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILDER_VERSION, analysisModelPathFor, buildInstrumentedGraph } from './graph-builder';
import { hashFile, type Gpt2Checkpoint } from './gpt2-weights';

export interface CachedGraph {
  /** The graph with every hook. */
  modelPath: string;
  /** The lean graph analyses run (graph-builder.ts says why there are two). */
  analysisModelPath: string;
  key: string;
  /** sha256 of model.safetensors (hex), part of the key; names the weights in saved views. */
  weightsHash: string;
  /** False when this call built it. */
  fromCache: boolean;
  buildMs: number;
}

const DONE_MARKER = 'complete.json';

/** What a finished cache entry records about itself. */
export interface CacheRecord {
  builderVersion: number;
  key: string;
  buildMs: number;
  /** The model folder or file it was built from (the library shows and removes graphs per model). */
  modelDir: string;
}

/** Finished cache entries with their folder and size on disk. */
export function listCachedGraphs(cacheRoot: string): (CacheRecord & { dir: string; bytes: number })[] {
  if (!existsSync(cacheRoot)) return [];
  const out: (CacheRecord & { dir: string; bytes: number })[] = [];
  for (const name of readdirSync(cacheRoot)) {
    if (name.startsWith('.')) continue;
    const dir = join(cacheRoot, name);
    try {
      const rec = JSON.parse(readFileSync(join(dir, DONE_MARKER), 'utf8')) as CacheRecord;
      const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      out.push({ ...rec, dir, bytes });
    } catch {
      /* unfinished or foreign folder: not a cache entry */
    }
  }
  return out;
}

export async function cacheKey(ckpt: Gpt2Checkpoint, weightsHash?: string): Promise<string> {
  const weights = weightsHash ?? (await hashFile(ckpt.weightsPath));
  // The configuration as the engine understood it (layout, shape, GELU, vocabulary rows): the
  // same weights read another way build another graph.
  const config = createHash('sha256')
    .update(JSON.stringify({ format: ckpt.format, ...ckpt.config }))
    .digest('hex');
  return createHash('sha256').update(`${weights}:${config}:builder-${BUILDER_VERSION}`).digest('hex').slice(0, 40);
}

export async function ensureBuilt(
  ckpt: Gpt2Checkpoint,
  cacheRoot: string,
  onProgress?: (fraction: number) => void,
): Promise<CachedGraph> {
  const weightsHash = await hashFile(ckpt.weightsPath);
  const key = await cacheKey(ckpt, weightsHash);
  const dir = join(cacheRoot, `${key}-v${BUILDER_VERSION}`);
  const modelPath = join(dir, 'model.onnx');
  const analysisModelPath = analysisModelPathFor(modelPath);
  if (existsSync(join(dir, DONE_MARKER)) && existsSync(modelPath) && existsSync(analysisModelPath)) {
    return { modelPath, analysisModelPath, key, weightsHash, fromCache: true, buildMs: 0 };
  }
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = join(cacheRoot, `.build-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  const t0 = performance.now();
  try {
    await buildInstrumentedGraph(ckpt, join(tmp, 'model.onnx'), onProgress);
    const buildMs = performance.now() - t0;
    writeFileSync(
      join(tmp, DONE_MARKER),
      JSON.stringify({ builderVersion: BUILDER_VERSION, key, buildMs, modelDir: ckpt.path } satisfies CacheRecord),
    );
    rmSync(dir, { recursive: true, force: true }); // an unfinished older attempt, never a complete one
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process finished the same build first: theirs is as good as ours.
      if (!existsSync(join(dir, DONE_MARKER))) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
    return { modelPath, analysisModelPath, key, weightsHash, fromCache: false, buildMs };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
