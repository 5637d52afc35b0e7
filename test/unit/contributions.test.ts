import { beforeAll, describe, expect, it } from 'vitest';
import { Engine, distinctExtremes } from '../../src/engine/engine';
import { viewModel } from '../helpers/view-model';
import { hookNames } from '../../src/shared/hooks';
import { previousTokenScore } from '../../src/shared/head-scores';
import { randomEngine, tempDir, type RandomEngine } from '../helpers/fixtures';
import { writeInductionModel } from '../helpers/induction-model';

describe('per-head contributions to the embedding update', () => {
  let m: RandomEngine;
  const text = 'Heads write into the residual stream, one update at a time.';
  beforeAll(async () => {
    m = await randomEngine();
  });

  it('Σ_h ΔE_h + b_O equals hook_attn_out at the token, for every layer', async () => {
    const { nHead: H, dModel: D, nLayer } = m.spec;
    for (let layer = 0; layer < nLayer; layer++) {
      const c = await m.engine.contribution({ text, prependEndOfText: false, layer, head: 0, token: 4 });
      const all = await m.engine.runAll(m.engine.tokenize({ text, prependEndOfText: false }).ids);
      const attnOut = all[hookNames(layer).attnOut]?.data as Float32Array;
      for (let o = 0; o < D; o++) {
        let s = c.attnBias[o] ?? 0;
        for (let h = 0; h < H; h++) s += c.headResults[h * D + o] ?? 0;
        expect(Math.abs(s - (attnOut[4 * D + o] ?? 0))).toBeLessThan(1e-5);
      }
      expect(Array.from(c.residPre)).toEqual(Array.from(all[hookNames(layer).residPre]?.data as Float32Array));
    }
  });

  it('logit effects equal a plain matrix-vector reference through ln_final’s scale and W_U', async () => {
    const { dModel: D, nHead: H } = m.spec;
    const req = { text, prependEndOfText: false, layer: 2, head: 1, token: 6 };
    const c = await m.engine.contribution(req);
    const all = await m.engine.runAll(m.engine.tokenize(req).ids);
    const sigma = (all['ln_final.hook_scale']?.data as Float32Array)[6] ?? 0;
    const dE = (all[hookNames(2).result]?.data as Float32Array).subarray((6 * H + 1) * D, (6 * H + 2) * D);
    const gamma = m.tensors['ln_f.weight']?.data ?? new Float32Array();
    const U = m.tensors['wte.weight']?.data ?? new Float32Array();
    const mean = dE.reduce((a, b) => a + b, 0) / D;
    const reference = (v: number): number => {
      let s = 0;
      for (let i = 0; i < D; i++) s += (((dE[i] ?? 0) - mean) / sigma) * (gamma[i] ?? 0) * (U[v * D + i] ?? 0);
      return s;
    };
    const everything = Array.from({ length: 50257 }, (_, v) => reference(v));
    const sorted = [...everything].sort((a, b) => b - a);
    for (let i = 0; i < 5; i++) {
      expect(reference(c.raises.ids[i] ?? 0)).toBeCloseTo(c.raises.values[i] ?? 0, 4);
      expect(c.raises.values[i]).toBeCloseTo(sorted[i] ?? 0, 4);
      expect(c.lowers.values[i]).toBeCloseTo(sorted[sorted.length - 1 - i] ?? 0, 4);
    }
    expect(c.raises.strings).toHaveLength(5);
  });

  it('rejects a token outside the text', async () => {
    await expect(
      m.engine.contribution({ text: 'two words', prependEndOfText: false, layer: 0, head: 0, token: 9 }),
    ).rejects.toThrow(/token 9 is outside this text \(2 tokens\)/);
  });
});

describe('induction probe', () => {
  it('finds the exact induction head of a hand-built model and nothing else', async () => {
    const engine = new Engine({ cacheDir: tempDir() });
    await engine.load(writeInductionModel());
    const probe = await engine.inductionProbe();
    expect(probe.blockLength).toBe(50);
    const [l0h0, l0h1, l1h0, l1h1] = Array.from(probe.scores);
    // Not exactly 1: a random block occasionally repeats a token, and then the weight is rightly
    // split between both earlier occurrences.
    expect(l1h0).toBeGreaterThan(0.95);
    for (const other of [l0h0, l0h1, l1h1]) expect(other).toBeLessThan(0.1);
    // Its layer-0 partner is a perfect previous-token head on ordinary text.
    const ids = engine.tokenize({ text: 'Previous-token heads look one step back, every time.', prependEndOfText: false }).ids;
    const out = await engine.run(ids, [hookNames(0).pattern]);
    const T = ids.length;
    expect(previousTokenScore((out[hookNames(0).pattern]?.data as Float32Array).subarray(0, T * T), T)).toBeGreaterThan(0.99);
    // Cached: a second call returns the same object.
    expect(await engine.inductionProbe()).toBe(probe);
  });
});

describe('logit effects with ties', () => {
  it('ranks distinct values and counts the tokens that share one, exactly', async () => {
    const v = Float32Array.from([0.5, -1, 2, -1, 2, 0.25, -1, 3, -2]);
    const top = distinctExtremes(v, 3, true);
    expect(top.map((g) => [g.value, g.first, g.count])).toEqual([
      [3, 7, 1],
      [2, 2, 2],
      [0.5, 0, 1],
    ]);
    const low = distinctExtremes(v, 2, false);
    expect(low.map((g) => [g.value, g.count, g.examples])).toEqual([
      [-2, 1, [8]],
      [-1, 3, [1, 3, 6]],
    ]);
    // A real head: its effects over the whole vocabulary, counted with a plain loop.
    const { engine } = await viewModel();
    const c = await engine.contribution({
      text: 'The cat sat on the mat.',
      prependEndOfText: false,
      layer: 1,
      head: 0,
      token: 3,
    });
    const D = c.dModel;
    const scale = (
      await engine.run(engine.tokenize({ text: 'The cat sat on the mat.', prependEndOfText: false }).ids, ['ln_final.hook_scale'])
    )['ln_final.hook_scale']?.data as Float32Array;
    const effects = engine.logitEffects(c.headResults.subarray(0, D), scale[3] ?? 1);
    for (const side of [c.raises, c.lowers]) {
      expect(new Set(side.values).size).toBe(side.values.length); // no value listed twice
      side.values.forEach((v, i) => {
        let n = 0;
        for (const e of effects) if (e === v) n++;
        expect(side.counts[i]).toBe(n);
      });
    }
    await engine.unload();
  });
});
