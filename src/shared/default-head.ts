/**
 * Which head the attention view opens on when a model loads. A learner's first picture must
 * show what the mask and the scaling do, so the head is chosen by a documented rule:
 *
 *   1. Keep heads whose attention (mask and scaling on) is neither one-hot nor uniform: mean
 *      row entropy between MIN_SPREAD and MAX_SPREAD of the uniform entropy (query q spreading
 *      over its q + 1 visible keys has entropy ln(q + 1)).
 *   2. Of those, keep heads where switching the scaling off lowers the mean entropy by at
 *      least MIN_SHARPEN of its value (the scaling visibly matters).
 *   3. Pick the one where switching the mask off moves the most weight onto later keys.
 *
 * When no head passes 1 and 2 (a model of one-hot heads, say), the head with the largest
 * leak × relative sharpening is taken. A model's `atlas-model.json` may name a head instead.
 */
import { attentionWeights, futureWeight, headOffset, rowEntropies } from './attention-math';

export const MIN_SPREAD = 0.1;
export const MAX_SPREAD = 0.9;
export const MIN_SHARPEN = 0.2;

export interface HeadToggleEffect {
  layer: number;
  head: number;
  /** Mean row entropy (nats) with mask and scaling on, over the uniform entropy. */
  spread: number;
  /** Mean weight per query on later keys once the mask is off (0–1). */
  leak: number;
  /** Mean row entropy with scaling on minus with scaling off (nats). */
  sharpen: number;
  /** sharpen over the entropy with scaling on. */
  relSharpen: number;
}

export interface DefaultHead {
  layer: number;
  head: number;
  /** 'rule': chosen by the rule above; 'fallback': no head passed it; 'model': named by the model. */
  reason: 'rule' | 'fallback' | 'model';
  effect: HeadToggleEffect | null;
}

function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] ?? 0;
  return a.length ? s / a.length : 0;
}

/** What switching the mask and the scaling off does to one head's [T, T] raw scores. */
export function toggleEffect(dot: Float32Array, T: number, dHead: number): Omit<HeadToggleEffect, 'layer' | 'head'> {
  const on = attentionWeights(dot, T, dHead, { scale: true, mask: true });
  const unscaled = attentionWeights(dot, T, dHead, { scale: false, mask: true });
  const unmasked = attentionWeights(dot, T, dHead, { scale: true, mask: false });
  let uniform = 0;
  for (let q = 0; q < T; q++) uniform += Math.log(q + 1);
  uniform /= Math.max(T, 1);
  const hOn = mean(rowEntropies(on, T));
  const hOff = mean(rowEntropies(unscaled, T));
  return {
    spread: uniform > 0 ? hOn / uniform : 0,
    leak: mean(futureWeight(unmasked, T)),
    sharpen: hOn - hOff,
    relSharpen: hOn > 0 ? (hOn - hOff) / hOn : 0,
  };
}

/** The toggle effects of every head, from the drawn square of raw scores [L, H, T, T]. */
export function toggleEffects(dot: Float32Array, L: number, H: number, T: number, dHead: number): HeadToggleEffect[] {
  const out: HeadToggleEffect[] = [];
  for (let layer = 0; layer < L; layer++) {
    for (let head = 0; head < H; head++) {
      const o = headOffset(layer, head, H, T);
      out.push({ layer, head, ...toggleEffect(dot.subarray(o, o + T * T), T, dHead) });
    }
  }
  return out;
}

/** Applies the rule in this module's comment to every head's effects. */
export function chooseDefaultHead(effects: HeadToggleEffect[]): DefaultHead {
  const passes = effects.filter((e) => e.spread >= MIN_SPREAD && e.spread <= MAX_SPREAD && e.relSharpen >= MIN_SHARPEN);
  const best = (list: HeadToggleEffect[], score: (e: HeadToggleEffect) => number): HeadToggleEffect | null =>
    list.reduce<HeadToggleEffect | null>((b, e) => (b === null || score(e) > score(b) ? e : b), null);
  const ruled = best(passes, (e) => e.leak);
  if (ruled) return { layer: ruled.layer, head: ruled.head, reason: 'rule', effect: ruled };
  const fallback = best(effects, (e) => e.leak * e.relSharpen);
  return fallback
    ? { layer: fallback.layer, head: fallback.head, reason: 'fallback', effect: fallback }
    : { layer: 0, head: 0, reason: 'fallback', effect: null };
}
