import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { bundledModelDir } from '../../src/engine/paths';
import type { ScoreDecomposition } from '../../src/shared/api';
import { randomEngine, tempDir, type RandomEngine } from '../helpers/fixtures';
import { referenceForward, type RefConfig } from '../reference/gpt2-reference';
import { readSafetensors, referenceScore } from '../reference/score-reference';

type Tensors = Record<string, { shape: number[]; data: Float32Array }>;

/** Worst errors over every comparison, printed at the end for the report. */
const worst = { termRel: 0, sumRel: 0, sumVsDotRel: 0, prob: 0, delta: 0 };

/** Engine decomposition vs the plain-loop reference, term by term, and Σ terms vs hook_dot. */
function compare(
  d: ScoreDecomposition,
  ids: number[],
  w: Tensors,
  cfg: RefConfig,
  ref: ReturnType<typeof referenceForward>,
): void {
  const r = referenceScore(w, cfg, ids, ref, d.layer, d.head, d.query, d.key);
  const P = r.parts.length;
  expect(d.parts).toEqual(r.parts);
  expect(d.terms.length).toBe(P * P);
  // Scale for relative errors: the largest term (single terms can be ~0).
  let scale = 0;
  for (const row of r.terms) for (const v of row) scale = Math.max(scale, Math.abs(v));
  for (let a = 0; a < P; a++) {
    for (let b = 0; b < P; b++) {
      const err = Math.abs((d.terms[a * P + b] ?? 0) - (r.terms[a]?.[b] ?? 0)) / scale;
      worst.termRel = Math.max(worst.termRel, err);
      expect(err, `${r.parts[a]} × ${r.parts[b]}`).toBeLessThan(1e-4);
    }
  }
  const sum = d.terms.reduce((a, v) => a + v, 0);
  const refSum = r.terms.flat().reduce((a, v) => a + v, 0);
  // The reference's own terms add up to its own hook_dot (float64: to rounding).
  expect(Math.abs(refSum - r.dot)).toBeLessThan(1e-9 * Math.max(1, Math.abs(r.dot)));
  const rel = Math.abs(sum - d.total) / Math.max(Math.abs(d.total), 1e-3 * scale);
  worst.sumRel = Math.max(worst.sumRel, rel);
  expect(rel, `Σ terms vs hook_dot at L${d.layer}H${d.head} (${d.query}, ${d.key})`).toBeLessThan(1e-4);
  worst.sumVsDotRel = Math.max(worst.sumVsDotRel, Math.abs(d.total - r.dot) / Math.max(Math.abs(r.dot), 1e-3 * scale));
}

const CELLS = (T: number): [number, number][] => [
  [0, 0],
  [T - 1, 0],
  [T - 1, T - 1],
  [Math.floor(T / 2), Math.floor(T / 2) - 1],
  [2, T - 2], // above the diagonal: hook_dot is unmasked
];

describe('score decomposition on a random multi-layer model', () => {
  let m: RandomEngine;
  const text = ' The cat sat on the mat, and the cat';
  let ids: number[];
  let cfg: RefConfig;
  let ref: ReturnType<typeof referenceForward>;
  beforeAll(async () => {
    m = await randomEngine();
    ids = m.engine.tokenize({ text, prependEndOfText: false }).ids;
    cfg = { ...m.spec, eps: 1e-5 };
    ref = referenceForward(m.tensors, cfg, ids);
  });
  afterAll(() => m.engine.unload());

  it('names the parts as DESIGN.md does, and they add up to hook_resid_pre', async () => {
    const d = await m.engine.explainScore({ text, prependEndOfText: false, layer: 2, head: 1, query: 3, key: 2 });
    expect(d.parts).toEqual([
      'embed',
      'pos',
      'L0H0',
      'L0H1',
      'L0H2',
      'L0H3',
      'L0.b_O',
      'L0.mlp',
      'L1H0',
      'L1H1',
      'L1H2',
      'L1H3',
      'L1.b_O',
      'L1.mlp',
      'bias',
    ]);
    const r = referenceScore(m.tensors, cfg, ids, ref, 2, 1, 3, 2);
    const pre = ref.get('blocks.2.hook_resid_pre')?.data ?? new Float64Array();
    const D = m.spec.dModel;
    r.residQuery.forEach((v, i) => expect(Math.abs(v - (pre[3 * D + i] ?? 0))).toBeLessThan(1e-9));
  });

  it('equals the reference term by term for every head and several cells; terms sum to hook_dot', async () => {
    const T = ids.length;
    for (let layer = 0; layer < m.spec.nLayer; layer++) {
      for (let head = 0; head < m.spec.nHead; head++) {
        for (const [query, key] of CELLS(T)) {
          const d = await m.engine.explainScore({ text, prependEndOfText: false, layer, head, query, key });
          compare(d, ids, m.tensors, cfg, ref);
        }
      }
    }
  });

  it('refuses cells outside the text or the model', async () => {
    await expect(m.engine.explainScore({ text, prependEndOfText: false, layer: 9, head: 0, query: 0, key: 0 })).rejects.toThrow(
      /outside this model/,
    );
    await expect(m.engine.explainScore({ text, prependEndOfText: false, layer: 0, head: 0, query: 99, key: 0 })).rejects.toThrow(
      /outside this text/,
    );
  });
});

describe('score decomposition and ablation on the bundled model', () => {
  const dir = bundledModelDir(resolve('.'));
  const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
  const text = 'The old man looked at the sea. The old man';
  let w: Tensors;
  let cfg: RefConfig;
  let ids: number[];
  let ref: ReturnType<typeof referenceForward>;
  beforeAll(async () => {
    await engine.load(dir);
    w = readSafetensors(readFileSync(join(dir, 'model.safetensors')));
    const c = engine.modelInfo();
    cfg = { nLayer: c.nLayers, nHead: c.nHeads, dModel: c.dModel, eps: 1e-5, vocabSize: c.vocabSize };
    ids = engine.tokenize({ text, prependEndOfText: true }).ids;
    ref = referenceForward(w, cfg, ids);
  });
  afterAll(() => engine.unload());

  it('decomposition equals the reference term by term for every head and several cells', async () => {
    const T = ids.length;
    for (let layer = 0; layer < cfg.nLayer; layer++) {
      for (let head = 0; head < cfg.nHead; head++) {
        for (const [query, key] of CELLS(T)) {
          const d = await engine.explainScore({ text, prependEndOfText: true, layer, head, query, key });
          compare(d, ids, w, cfg, ref);
        }
      }
    }
  });

  it('outside the drawn square (past 128 tokens) the total is still the graph’s hook_dot, and the terms sum to it', async () => {
    const long = Array.from({ length: 50 }, (_, i) => `word${i} and`).join(' ');
    const ids2 = engine.tokenize({ text: long, prependEndOfText: false }).ids;
    expect(ids2.length).toBeGreaterThan(140);
    const T = ids2.length;
    const out = await engine.run(ids2, ['blocks.2.attn.hook_dot']);
    const dot = out['blocks.2.attn.hook_dot']?.data as Float32Array;
    for (const [query, key] of [
      [T - 1, 130],
      [T - 1, 3],
      [135, 135],
    ] as const) {
      const d = await engine.explainScore({ text: long, prependEndOfText: false, layer: 2, head: 4, query, key });
      const want = dot[(4 * T + query) * T + key] ?? 0;
      expect(Math.abs(d.total - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
      const sum = d.terms.reduce((a, v) => a + v, 0);
      expect(Math.abs(sum - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
    }
  });

  it('ablation equals a reference forward pass with that head zeroed or mean-replaced', async () => {
    const V = cfg.vocabSize;
    const D = cfg.dModel;
    const T = ids.length;
    for (const [layer, head, mode, token] of [
      [0, 1, 'zero', T - 1],
      [1, 3, 'mean', T - 1],
      [2, 0, 'zero', 5],
      [cfg.nLayer - 1, cfg.nHead - 1, 'mean', T - 2],
    ] as const) {
      const a = await engine.ablate({ text, prependEndOfText: true, layer, head, mode, token });
      const abl = referenceForward(w, cfg, ids, { layer, head, mode });
      const probs = (out: typeof ref): number[] => {
        const row = Array.from((out.get('logits')?.data ?? new Float64Array()).subarray(token * V, (token + 1) * V));
        const mx = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - mx), 0);
        return row.map((v) => Math.exp(v - mx) / z);
      };
      const pc = probs(ref);
      const pa = probs(abl);
      // The reported tokens are the union of both top-5 lists, with both probabilities.
      const top5 = (p: number[]): number[] =>
        p
          .map((v, i) => [v, i] as const)
          .sort((x, y) => y[0] - x[0])
          .slice(0, 5)
          .map(([, i]) => i);
      expect(new Set(a.top.map((t) => t.id))).toEqual(new Set([...top5(pc), ...top5(pa)]));
      for (const t of a.top) {
        const e = Math.max(Math.abs(t.clean - (pc[t.id] ?? 0)), Math.abs(t.ablated - (pa[t.id] ?? 0)));
        worst.prob = Math.max(worst.prob, e);
        expect(e, `token ${t.id}`).toBeLessThan(1e-5);
      }
      const kl = pc.reduce((s, p, v) => s + p * (Math.log(p) - Math.log(pa[v] ?? 1)), 0);
      expect(Math.abs(a.kl - kl)).toBeLessThan(1e-5 + 1e-4 * kl);
      expect(a.layers.map((x) => x.layer)).toEqual(Array.from({ length: cfg.nLayer - layer }, (_, n) => layer + n));
      for (const x of a.layers) {
        const c = ref.get(`blocks.${x.layer}.hook_resid_post`)?.data ?? new Float64Array();
        const b = abl.get(`blocks.${x.layer}.hook_resid_post`)?.data ?? new Float64Array();
        let dd = 0;
        let nn = 0;
        for (let i = 0; i < D; i++) {
          dd += ((b[token * D + i] ?? 0) - (c[token * D + i] ?? 0)) ** 2;
          nn += (c[token * D + i] ?? 0) ** 2;
        }
        const err = Math.abs(x.delta - Math.sqrt(dd)) / Math.sqrt(nn);
        worst.delta = Math.max(worst.delta, err);
        expect(err, `‖ΔE‖ at layer ${x.layer}`).toBeLessThan(1e-4);
        expect(Math.abs(x.norm - Math.sqrt(nn)) / Math.sqrt(nn)).toBeLessThan(1e-4);
      }
      // The ablation changes something downstream of its own layer.
      expect(a.layers[0]?.delta ?? 0).toBeGreaterThan(0);
    }
  });

  afterAll(() => {
    console.log(
      `interpret: worst term rel err ${worst.termRel.toExponential(2)}, Σ vs hook_dot rel ${worst.sumRel.toExponential(2)}, graph vs ref dot ${worst.sumVsDotRel.toExponential(2)}, ablation prob abs ${worst.prob.toExponential(2)}, ‖ΔE‖ rel ${worst.delta.toExponential(2)}`,
    );
  });
});
