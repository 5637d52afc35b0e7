/**
 * Long runs leave the lazy per-position hooks (q past the drawn rows, z, resid_pre, resid_mid) for later; fillRows runs
 * those steps again. The rows it fills must equal what an eager cache fetched, bit for bit, after
 * any sequence of edits (including one that cuts a deferred run short), and rows() must refuse
 * to hand out rows that are still owed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Checkpoint } from '../../src/engine/gpt2-weights';
import { ensureBuilt } from '../../src/engine/graph-cache';
import { AnalysisCache, LAZY_ROW_HOOKS, ROW_HOOKS, analysisFetches, type StepRunner } from '../../src/engine/incremental';
import { ModelRuntime } from '../../src/engine/runtime';
import { DRAWN_TOKENS, hookNames, incrementalNames } from '../../src/shared/hooks';
import { randomIds, tempDir } from '../helpers/fixtures';
import { writeRandomModel } from '../helpers/random-model';

const SPEC = { nLayer: 2, nHead: 3, dModel: 24, nCtx: 160, vocabSize: 50257, seed: 31 };
const SHAPE = { nLayer: SPEC.nLayer, nHead: SPEC.nHead, dModel: SPEC.dModel, nCtx: SPEC.nCtx };

describe('AnalysisCache lazy per-position hooks', () => {
  let runtime: ModelRuntime;
  let run: StepRunner;
  beforeAll(async () => {
    const ckpt = Gpt2Checkpoint.open(writeRandomModel(SPEC));
    try {
      const built = await ensureBuilt(ckpt, tempDir('atlas-cache-'));
      runtime = await ModelRuntime.create(built.analysisModelPath);
    } finally {
      ckpt.close();
    }
    run = (ids, fetches, feeds, into) => runtime.run(ids, fetches, feeds, into);
  });
  afterAll(async () => {
    await runtime.dispose();
  });

  it('leaves the lazy hooks out of a long step only', () => {
    const eager = analysisFetches(SPEC.nLayer, 0);
    const lazy = analysisFetches(SPEC.nLayer, 0, true);
    for (const which of LAZY_ROW_HOOKS) {
      expect(eager).toContain(hookNames(1)[which]);
      expect(lazy).not.toContain(hookNames(1)[which]);
    }
    expect(lazy).toContain(hookNames(1).k);
    // q's rows inside the drawn square stay eager: later runs feed them back as past queries.
    expect(lazy).toContain(incrementalNames(1).queryDrawn);
    expect(eager).not.toContain(incrementalNames(1).queryDrawn);
    expect(analysisFetches(SPEC.nLayer, DRAWN_TOKENS, true)).not.toContain(incrementalNames(1).queryDrawn);
  });

  it('fills rows equal to an eager cache after edits, including one inside a deferred run', async () => {
    const eager = new AnalysisCache(SHAPE, Number.POSITIVE_INFINITY);
    const lazy = new AnalysisCache(SHAPE, 40);
    const a = randomIds(100, 1);
    const steps = [
      a, // deferred: 100 new positions
      [...a.slice(0, 60), ...randomIds(50, 2)], // deferred again, from 60
      [...a.slice(0, 60), ...randomIds(50, 2), ...randomIds(3, 3)], // typing: eager
      [...a.slice(0, 30), ...randomIds(20, 4)], // cuts the first run at 30, drops the second
    ];
    for (const ids of steps) {
      await eager.update(ids, run);
      await lazy.update(ids, run);
    }
    expect(lazy.rowsPending).toBe(true);
    expect(() => lazy.rows('z', 0)).toThrow(/fillRows/);
    expect(Array.from(lazy.rows('k', 1))).toEqual(Array.from(eager.rows('k', 1)));
    await lazy.fillRows(run);
    expect(lazy.rowsPending).toBe(false);
    for (let l = 0; l < SPEC.nLayer; l++) {
      for (const which of ROW_HOOKS) {
        expect(Array.from(lazy.rows(which, l)), `${which} layer ${l}`).toEqual(Array.from(eager.rows(which, l)));
      }
    }
    expect(lazy.snapshot()).toEqual({ ...eager.snapshot(), squareVersion: lazy.currentSquareVersion });
  });
});
