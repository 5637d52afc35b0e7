import { beforeAll, describe, expect, it } from 'vitest';
import { hookNames } from '../../src/shared/hooks';
import { attentionWeights } from '../../src/shared/attention-math';
import type { HostTensor } from '../../src/engine/runtime';
import { randomEngine, randomIds, type RandomEngine } from '../helpers/fixtures';

/** The invariants DESIGN.md names, each its own test, on a random model at T = 24. */
describe('attention invariants of the built graph', () => {
  let m: RandomEngine;
  let out: Record<string, HostTensor>;
  const T = 24;
  beforeAll(async () => {
    m = await randomEngine();
    out = await m.engine.runAll(randomIds(T, 5));
  });
  const f32 = (name: string): Float32Array => out[name]?.data as Float32Array;

  it('Σ_h hook_result + b_O = hook_attn_out', () => {
    const { nHead: H, dModel: D } = m.spec;
    for (let l = 0; l < m.spec.nLayer; l++) {
      const hk = hookNames(l);
      const result = f32(hk.result);
      const attnOut = f32(hk.attnOut);
      const bO = m.tensors[`h.${l}.attn.c_proj.bias`]?.data ?? new Float32Array(D);
      for (let t = 0; t < T; t++) {
        for (let o = 0; o < D; o++) {
          let s = bO[o] ?? 0;
          for (let h = 0; h < H; h++) s += result[(t * H + h) * D + o] ?? 0;
          expect(Math.abs(s - (attnOut[t * D + o] ?? 0))).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('hook_resid_pre + hook_attn_out = hook_resid_mid, and + hook_mlp_out = hook_resid_post', () => {
    for (let l = 0; l < m.spec.nLayer; l++) {
      const hk = hookNames(l);
      const pre = f32(hk.residPre);
      const attn = f32(hk.attnOut);
      const mid = f32(hk.residMid);
      const mlp = f32(hk.mlpOut);
      const post = f32(hk.residPost);
      for (let i = 0; i < pre.length; i++) {
        expect(Math.abs((pre[i] ?? 0) + (attn[i] ?? 0) - (mid[i] ?? 0))).toBeLessThan(1e-5);
        expect(Math.abs((mid[i] ?? 0) + (mlp[i] ?? 0) - (post[i] ?? 0))).toBeLessThan(1e-5);
      }
    }
  });

  it('each query row of hook_pattern sums to 1', () => {
    for (let l = 0; l < m.spec.nLayer; l++) {
      const p = f32(hookNames(l).pattern);
      for (let row = 0; row < m.spec.nHead * T; row++) {
        let s = 0;
        for (let k = 0; k < T; k++) s += p[row * T + k] ?? 0;
        expect(Math.abs(s - 1)).toBeLessThan(1e-5);
      }
    }
  });

  it('masked entries (key after query) are exactly 0 and unmasked ones are positive', () => {
    for (let l = 0; l < m.spec.nLayer; l++) {
      const p = f32(hookNames(l).pattern);
      for (let h = 0; h < m.spec.nHead; h++) {
        for (let q = 0; q < T; q++) {
          for (let k = 0; k < T; k++) {
            const v = p[(h * T + q) * T + k] ?? Number.NaN;
            if (k > q) expect(v).toBe(0);
            else expect(v).toBeGreaterThan(0);
          }
        }
      }
    }
  });

  it("the renderer's softmax(mask(dot/√d)) equals hook_pattern", () => {
    const dh = m.spec.dModel / m.spec.nHead;
    for (let l = 0; l < m.spec.nLayer; l++) {
      const hk = hookNames(l);
      const dot = f32(hk.dot);
      const pattern = f32(hk.pattern);
      for (let h = 0; h < m.spec.nHead; h++) {
        const slice = dot.subarray(h * T * T, (h + 1) * T * T);
        const w = attentionWeights(slice, T, dh, { scale: true, mask: true });
        for (let i = 0; i < T * T; i++) {
          expect(Math.abs((w[i] ?? 0) - (pattern[h * T * T + i] ?? 0))).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('hook_dot is the raw, unscaled, unmasked q·k', () => {
    const { nHead: H, dModel: D } = m.spec;
    const dh = D / H;
    const hk = hookNames(1);
    const q = f32(hk.q);
    const k = f32(hk.k);
    const dot = f32(hk.dot);
    let sawFuture = false;
    for (let h = 0; h < H; h++) {
      for (let tq = 0; tq < T; tq++) {
        for (let tk = 0; tk < T; tk++) {
          let s = 0;
          for (let i = 0; i < dh; i++) s += (q[(tq * H + h) * dh + i] ?? 0) * (k[(tk * H + h) * dh + i] ?? 0);
          expect(Math.abs(s - (dot[(h * T + tq) * T + tk] ?? 0))).toBeLessThan(1e-4);
          if (tk > tq && Math.abs(s) > 1e-3) sawFuture = true;
        }
      }
    }
    expect(sawFuture).toBe(true);
  });
});
