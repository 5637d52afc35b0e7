import { existsSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { hookNames } from '../../src/shared/hooks';
import { expectHeadStatsOfPatterns, randomEngine, type RandomEngine, tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

describe('engine.analyze and headDetail', () => {
  let m: RandomEngine;
  beforeAll(async () => {
    m = await randomEngine();
  });

  it('returns typed arrays shaped [L, H, T, T] that equal the hooks, plus per-head result norms', async () => {
    const text = 'Attention is all you need.';
    const a = await m.engine.analyze({ text, prependEndOfText: false });
    const T = a.tokens.length;
    const { nLayer: L, nHead: H, dModel: D } = SMALL_SPEC;
    expect(a.dot).toBeInstanceOf(Float32Array);
    expect(a.pattern.length).toBe(L * H * T * T);
    const ids = a.tokens.map((t) => t.id);
    const all = await m.engine.runAll(ids);
    for (let l = 0; l < L; l++) {
      const hk = hookNames(l);
      expect(Array.from(a.pattern.subarray(l * H * T * T, (l + 1) * H * T * T))).toEqual(
        Array.from(all[hk.pattern]?.data as Float32Array),
      );
      expect(Array.from(a.dot.subarray(l * H * T * T, (l + 1) * H * T * T))).toEqual(
        Array.from(all[hk.dot]?.data as Float32Array),
      );
      // ‖hook_result[t, h]‖ from the full tensor
      const result = all[hk.result]?.data as Float32Array;
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < H; h++) {
          let s = 0;
          for (let o = 0; o < D; o++) s += (result[(t * H + h) * D + o] ?? 0) ** 2;
          expect(a.resultNorm[(l * T + t) * H + h]).toBeCloseTo(Math.sqrt(s), 4);
        }
      }
    }
    // Head statistics are the engine's: check them against the plain per-head scores.
    expectHeadStatsOfPatterns(a);
    expect(a.topK.position).toBe(T - 1);
    expect(a.topK.ids.length).toBe(a.topK.k);
    expect(a.topK.strings.length).toBe(a.topK.k);
    // Predictions at every position, on demand, equal softmax(logits) of the full graph; the
    // last one is the analysis's own (from the graph), the others are computed in the engine.
    const logits = all['logits']?.data as Float32Array;
    const V = 50257;
    for (let t = 0; t < T; t++) {
      const p = t === T - 1 ? a.topK : await m.engine.predictions({ text, prependEndOfText: false, position: t });
      expect(p.position).toBe(t);
      const row = logits.subarray(t * V, (t + 1) * V);
      let mx = -Infinity;
      for (const v of row) mx = Math.max(mx, v);
      let z = 0;
      for (const v of row) z += Math.exp(v - mx);
      const want = Array.from(row, (v, id) => ({ id, p: Math.exp(v - mx) / z }))
        .sort((x, y) => y.p - x.p)
        .slice(0, p.k);
      expect(Array.from(p.ids)).toEqual(want.map((w) => w.id));
      want.forEach((w, r) => expect(p.probs[r]).toBeCloseTo(w.p, 5));
    }
    await expect(m.engine.predictions({ text, prependEndOfText: false, position: T })).rejects.toThrow(/outside/);
  });

  it('headDetail slices q, k, v, z and result of one head', async () => {
    const req = { text: 'one two three four', prependEndOfText: true, layer: 2, head: 3 };
    const d = await m.engine.headDetail(req);
    const a = await m.engine.analyze(req);
    const T = a.tokens.length;
    expect(a.tokens[0]?.special).toBe(true);
    const all = await m.engine.runAll(a.tokens.map((t) => t.id));
    const { nHead: H, dModel: D } = SMALL_SPEC;
    const dh = D / H;
    const q = all[hookNames(2).q]?.data as Float32Array;
    const result = all[hookNames(2).result]?.data as Float32Array;
    for (let t = 0; t < T; t++) {
      expect(Array.from(d.q.subarray(t * dh, (t + 1) * dh))).toEqual(Array.from(q.subarray((t * H + 3) * dh, (t * H + 4) * dh)));
      expect(Array.from(d.result.subarray(t * D, (t + 1) * D))).toEqual(
        Array.from(result.subarray((t * H + 3) * D, (t * H + 4) * D)),
      );
    }
    // Σ_k pattern[q, k] · vO[k] reproduces hook_result for that head: the renderer's ΔE.
    const pattern = all[hookNames(2).pattern]?.data as Float32Array;
    for (let tq = 0; tq < T; tq++) {
      for (let o = 0; o < D; o++) {
        let s = 0;
        for (let tk = 0; tk < T; tk++) s += (pattern[(3 * T + tq) * T + tk] ?? 0) * (d.vO[tk * D + o] ?? 0);
        expect(Math.abs(s - (d.result[tq * D + o] ?? 0))).toBeLessThan(1e-5);
      }
    }
    expect(Array.from(d.residPre)).toEqual(Array.from(all[hookNames(2).residPre]?.data as Float32Array));
    await expect(m.engine.headDetail({ ...req, layer: 9 })).rejects.toThrow(/outside this model \(3 layers × 4 heads\)/);
  });

  it('tokenizes typed text incrementally, with the ids of a fresh run and character groups for the strip', async () => {
    const steps = ['注意', '注意力', '注意力 is', '注意力 is 👍🏽', 'x注意力 is 👍🏽', '注意力 is 👍🏽'];
    for (const text of steps) {
      const a = await m.engine.analyze({ text, prependEndOfText: true });
      expect(a.tokens.map((t) => t.id)).toEqual(m.engine.tokenizer.encode(text, { prependEndOfText: true }));
      expect(a.tokens[0]?.charGroup).toEqual({ first: 0, count: 1, text: '<|endoftext|>' });
      const zhu = a.tokens.find((t) => t.charGroup.text === '注' || t.charGroup.text === 'x注');
      expect(zhu?.charGroup.count, text).toBeGreaterThan(1);
      for (const t of a.tokens) expect(t.display).not.toMatch(/‹/);
    }
  });

  it('sends the squares of the heads asked for, in order, each equal to the full reply’s', async () => {
    const text = 'Only the heads the view draws cross the wire.';
    const { nLayer: L, nHead: H } = SMALL_SPEC;
    const all = await m.engine.analyze({ text, prependEndOfText: false });
    const n = all.drawn;
    expect(all.squareHeads).toEqual(Array.from({ length: L * H }, (_, i) => i));
    // Repeats once, out-of-range heads dropped, the order asked kept.
    const some = await m.engine.analyze({ text, prependEndOfText: false, squares: [7, 2, 7, L * H] });
    expect(some.squareHeads).toEqual([7, 2]);
    expect(some.squareVersion).toBe(all.squareVersion);
    expect(some.dot.length).toBe(2 * n * n);
    some.squareHeads.forEach((h, i) => {
      expect(Array.from(some.dot.subarray(i * n * n, (i + 1) * n * n))).toEqual(
        Array.from(all.dot.subarray(h * n * n, (h + 1) * n * n)),
      );
      expect(Array.from(some.pattern.subarray(i * n * n, (i + 1) * n * n))).toEqual(
        Array.from(all.pattern.subarray(h * n * n, (h + 1) * n * n)),
      );
    });
    // Everything but the squares is the same reply.
    expect(Array.from(some.resultNorm)).toEqual(Array.from(all.resultNorm));
    expect(some.headStats).toEqual(all.headStats);
    // A caller holding this version gets no square, whatever it asks for.
    const held = await m.engine.analyze({ text, prependEndOfText: false, squares: [1], haveSquare: all.squareVersion });
    expect(held.squareUnchanged).toBe(true);
    expect(held.squareHeads).toEqual([]);
    expect(held.dot.length).toBe(0);
  });

  it('analyses empty text as zero tokens without running the model', async () => {
    const a = await m.engine.analyze({ text: '', prependEndOfText: false });
    expect(a.tokens).toEqual([]);
    expect(a.pattern.length).toBe(0);
  });

  it('builds a model once and reuses the cached graph', async () => {
    const cacheDir = tempDir();
    const dir = writeRandomModel({ ...SMALL_SPEC, seed: 11 });
    const e1 = new Engine({ cacheDir });
    await e1.load(dir);
    expect(e1.loadStats().fromCache).toBe(false);
    const e2 = new Engine({ cacheDir });
    await e2.load(dir);
    expect(e2.loadStats().fromCache).toBe(true);
    expect(e2.loadStats().modelPath).toBe(e1.loadStats().modelPath);
    expect(readdirSync(cacheDir).filter((f) => !f.startsWith('.'))).toHaveLength(1);
    // Different weights, different cache entry.
    await e2.load(writeRandomModel({ ...SMALL_SPEC, seed: 12 }));
    expect(e2.loadStats().fromCache).toBe(false);
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(existsSync(e1.loadStats().modelPath)).toBe(true);
    await e1.unload();
    await e2.unload();
  });

  it('answers predictions of the analysis it holds synchronously, and only those (browser mode’s fast path)', async () => {
    const text = 'The cat sat on the mat and the cat';
    const req = { text, prependEndOfText: false };
    expect(m.engine.cachedPredictions({ ...req, text: 'something else entirely', position: 0 })).toBeNull();
    await m.engine.analyze(req);
    const fast = m.engine.cachedPredictions({ ...req, position: 2 });
    expect(fast).not.toBeNull();
    expect(fast).toEqual(await m.engine.predictions({ ...req, position: 2 }));
    expect(m.engine.cachedPredictions({ ...req, text: text + ' again', position: 2 })).toBeNull();
    expect(m.engine.cachedPredictions({ ...req, position: 999 })).toBeNull();
    // While an update runs the cache holds nothing: no answer from a half-written cache.
    const running = m.engine.analyze({ ...req, text: 'A different sentence now' });
    expect(m.engine.cachedPredictions({ ...req, position: 2 })).toBeNull();
    await running;
  });

  it('refuses work after unload with a clear error', async () => {
    const e = new Engine({ cacheDir: tempDir() });
    await expect(e.analyze({ text: 'x', prependEndOfText: false })).rejects.toThrow(/no model is loaded/);
  });
});
