/** Shared test fixtures: random checkpoints built into a live engine. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { Engine } from '../../src/engine/engine';
import type { Analysis } from '../../src/shared/api';
import { firstTokenScore, localScore, meanEntropy, previousTokenScore } from '../../src/shared/head-scores';
import { SMALL_SPEC, randomTensors, writeRandomModel, type RandomModelSpec } from './random-model';

export interface RandomEngine {
  engine: Engine;
  dir: string;
  spec: RandomModelSpec;
  tensors: ReturnType<typeof randomTensors>;
}

export function tempDir(prefix = 'atlas-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function randomEngine(spec: RandomModelSpec = SMALL_SPEC): Promise<RandomEngine> {
  const dir = writeRandomModel(spec);
  const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
  await engine.load(dir);
  return { engine, dir, spec, tensors: randomTensors(spec) };
}

/** Seeded token ids spread over the whole vocabulary. */
export function randomIds(n: number, seed: number, vocab = 50257): number[] {
  let a = seed;
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a % vocab;
  });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** The engine's head statistics of an analysis (every head's square sent) equal the plain per-head scores of its patterns. */
export function expectHeadStatsOfPatterns(a: Analysis): void {
  const T = a.tokens.length;
  for (let i = 0; i < a.model.nLayers * a.model.nHeads; i++) {
    const p = a.pattern.subarray(i * T * T, (i + 1) * T * T);
    expect(a.headStats.previousToken[i]).toBeCloseTo(previousTokenScore(p, T), 6);
    expect(a.headStats.firstToken[i]).toBeCloseTo(firstTokenScore(p, T), 6);
    expect(a.headStats.local[i]).toBeCloseTo(localScore(p, T), 6);
    expect(a.headStats.entropy[i]).toBeCloseTo(meanEntropy(p, T), 5);
  }
}
