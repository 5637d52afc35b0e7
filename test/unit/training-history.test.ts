import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { bundledModelDir } from '../../src/engine/paths';
import {
  MAX_HISTORY_ROWS,
  MAX_TRAINING_LOG_BYTES,
  parseTrainingHistory,
  readTrainingHistory,
} from '../../src/engine/training-history';
import { createHandlers } from '../../src/main/handlers';
import { CHANNELS } from '../../src/shared/api';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

/** A log as train.py writes it: test/reference/train-py-training-log.json is a real one
 *  (2 layers × 2 heads, 20 steps on the CPU, tools/train-tiny-gpt2/train.py of issue 20). */
const REAL = JSON.parse(readFileSync('test/reference/train-py-training-log.json', 'utf8')) as Record<string, unknown>;

function log(L: number, H: number, rows: number, tweak?: (hs: Record<string, unknown>) => void): Record<string, unknown> {
  const row = (r: number): number[] => Array.from({ length: L * H }, (_, i) => ((i + 1) * (r + 1)) / (L * H * rows + 1));
  const hs: Record<string, unknown> = {
    layers: L,
    heads: H,
    steps: Array.from({ length: rows }, (_, r) => 2 ** r),
    tokens: Array.from({ length: rows }, (_, r) => 2 ** r * 4096),
    previous_token: Array.from({ length: rows }, (_, r) => row(r)),
    first_token: Array.from({ length: rows }, (_, r) => row(r)),
    induction: Array.from({ length: rows }, (_, r) => row(r)),
  };
  tweak?.(hs);
  return { steps: [25], train_loss: [10], head_scores: hs };
}

const shape = { nLayers: 3, nHeads: 4 };

describe("training-log.json's per-head scores (how the model's heads formed)", () => {
  it('reads the log train.py writes', () => {
    const h = parseTrainingHistory(REAL, { nLayers: 2, nHeads: 2 });
    expect(h).not.toBeNull();
    expect(h!.steps).toEqual([1, 2, 4, 5, 8, 10, 15, 16, 20]);
    expect(h!.tokens).toHaveLength(9);
    for (const s of [h!.previousToken, h!.firstToken, h!.induction]) {
      expect(s).toHaveLength(9);
      for (const r of s) expect(r).toHaveLength(4);
    }
    // the shape must be the loaded model's
    expect(parseTrainingHistory(REAL, { nLayers: 2, nHeads: 4 })).toBeNull();
  });

  it('has nothing for a log without head_scores, like the bundled model’s', () => {
    const bundled = JSON.parse(readFileSync(join(bundledModelDir(process.cwd()), 'training-log.json'), 'utf8')) as unknown;
    expect(parseTrainingHistory(bundled, { nLayers: 4, nHeads: 6 })).toBeNull();
    expect(readTrainingHistory(bundledModelDir(process.cwd()), { nLayers: 4, nHeads: 6 })).toBeNull();
    expect(readTrainingHistory(tempDir(), shape)).toBeNull(); // no file at all
  });

  it.each([
    ['not an object', () => 42],
    ['null', () => null],
    ['an array', () => [log(3, 4, 3)]],
    ['head_scores a string', () => ({ head_scores: 'x' })],
    ['wrong layer count', () => log(2, 4, 3)],
    ['layers as a string', () => log(3, 4, 3, (h) => (h.layers = '3'))],
    ['one row only', () => log(3, 4, 1)],
    ['too many rows', () => log(3, 4, 3, (h) => (h.steps = Array.from({ length: MAX_HISTORY_ROWS + 1 }, (_, i) => i + 1)))],
    ['steps not increasing', () => log(3, 4, 3, (h) => (h.steps = [1, 4, 4]))],
    ['step zero', () => log(3, 4, 3, (h) => (h.steps = [0, 1, 2]))],
    ['a fractional step', () => log(3, 4, 3, (h) => (h.steps = [1, 2.5, 3]))],
    ['tokens missing', () => log(3, 4, 3, (h) => delete h.tokens)],
    ['negative tokens', () => log(3, 4, 3, (h) => (h.tokens = [1, -1, 2]))],
    ['a series missing', () => log(3, 4, 3, (h) => delete h.induction)],
    ['a row too short', () => log(3, 4, 3, (h) => ((h.first_token as number[][])[1] = [0.1]))],
    ['a score above 1', () => log(3, 4, 3, (h) => ((h.previous_token as number[][])[2]![0] = 1.5))],
    ['a negative score', () => log(3, 4, 3, (h) => ((h.previous_token as number[][])[2]![0] = -0.1))],
    ['a score as a string', () => log(3, 4, 3, (h) => ((h.induction as unknown[][])[0]![0] = '0.5'))],
    ['a null score (NaN in JSON)', () => log(3, 4, 3, (h) => ((h.induction as unknown[][])[0]![0] = null))],
    ['rows that are objects', () => log(3, 4, 3, (h) => (h.induction = [{}, {}, {}]))],
  ])('rejects a log with %s', (_, make) => {
    expect(parseTrainingHistory(make(), shape)).toBeNull();
  });

  it('accepts a valid one and copies only the numbers', () => {
    const raw = log(3, 4, 3);
    (raw.head_scores as Record<string, unknown>).extra = { evil: true };
    const h = parseTrainingHistory(raw, shape)!;
    expect(Object.keys(h).sort()).toEqual(['firstToken', 'heads', 'induction', 'layers', 'previousToken', 'steps', 'tokens']);
    expect(h.steps).toEqual([1, 2, 4]);
  });

  it('reads no file larger than the cap, no malformed JSON and no folder in its place', () => {
    const dir = tempDir();
    const good = JSON.stringify(log(3, 4, 3));
    writeFileSync(join(dir, 'training-log.json'), good);
    expect(readTrainingHistory(dir, shape)?.steps).toEqual([1, 2, 4]);
    // valid JSON, but padded past the cap: not read at all
    writeFileSync(join(dir, 'training-log.json'), good + ' '.repeat(MAX_TRAINING_LOG_BYTES));
    expect(readTrainingHistory(dir, shape)).toBeNull();
    writeFileSync(join(dir, 'training-log.json'), good.slice(0, -5));
    expect(readTrainingHistory(dir, shape)).toBeNull();
    writeFileSync(join(dir, 'training-log.json'), '\u0000\u00ff garbage');
    expect(readTrainingHistory(dir, shape)).toBeNull();
    const other = tempDir();
    mkdirSync(join(other, 'training-log.json'));
    expect(readTrainingHistory(other, shape)).toBeNull();
  });

  it('the engine reads it beside a model and the trainingHistory channel returns it (or null)', async () => {
    const dir = writeRandomModel(SMALL_SPEC);
    const engine = new Engine({ cacheDir: tempDir() });
    await engine.load(dir);
    const handlers = createHandlers(engine, Promise.resolve(), null, null);
    expect(await handlers[CHANNELS.trainingHistory]!(undefined)).toBeNull();

    writeFileSync(join(dir, 'training-log.json'), JSON.stringify(log(SMALL_SPEC.nLayer, SMALL_SPEC.nHead, 4)));
    await engine.load(dir);
    const h = (await handlers[CHANNELS.trainingHistory]!(undefined)) as { steps: number[]; layers: number };
    expect(h.steps).toEqual([1, 2, 4, 8]);
    expect(h.layers).toBe(SMALL_SPEC.nLayer);

    writeFileSync(join(dir, 'training-log.json'), '{"head_scores": ');
    await engine.load(dir); // a broken log never stops the model from loading
    expect(await handlers[CHANNELS.trainingHistory]!(undefined)).toBeNull();
    await engine.unload();
  });
});
