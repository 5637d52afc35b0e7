/**
 * "One row per character": attention over character groups instead of GPT-2's byte-level
 * tokens. A CJK character or an emoji that GPT-2 splits into several tokens is one group (see
 * TokenInfo.charGroup); every other token is a group of its own.
 *
 * This is an AGGREGATE the model never computed, for reading, not a hook: label it as such and
 * never make it the default view. For a query group Q and a key group K:
 *
 *   A[Q, K] = mean over q ∈ Q of ( sum over k ∈ K of w[q, k] )
 *
 * — how much of a query piece's attention goes to the key character as a whole (sum over the
 * key's pieces), averaged over the character's query pieces. Each row of A still sums to 1 when
 * each row of w does (the key groups partition the keys; a mean of ones is one).
 *
 * Layout as attention-math.ts: one head's weights [T_q, T_k] row-major (hook_pattern); the
 * 3Blue1Brown picture is the same data drawn transposed (then each column sums to 1).
 */
import type { CharGroup } from './api';

/** A run of consecutive tokens [first, first + count). */
export interface TokenSpan {
  first: number;
  count: number;
}

/**
 * The distinct character groups of the first `n` tokens, in order, tiling [0, n). A group cut
 * by `n` (the drawn square ends inside a character) keeps only its tokens before `n`.
 */
export function characterGroups(tokens: readonly { charGroup: CharGroup }[], n: number = tokens.length): CharGroup[] {
  const out: CharGroup[] = [];
  const end = Math.min(n, tokens.length);
  for (let t = 0; t < end;) {
    const g = tokens[t]?.charGroup;
    // Defensive: a token whose group does not start here (never from the engine) stands alone.
    const count = g && g.first === t ? Math.max(1, Math.min(g.count, end - t)) : 1;
    out.push({ first: t, count, text: g?.text ?? '' });
    t += count;
  }
  return out;
}

/** The group index of each of the first `n` tokens. */
export function groupOfToken(groups: readonly TokenSpan[], n: number): Int32Array {
  const of = new Int32Array(n);
  groups.forEach((g, i) => of.fill(i, g.first, Math.min(n, g.first + g.count)));
  return of;
}

/**
 * Aggregates attention weights over character groups: sum over a key group's tokens, mean over
 * a query group's tokens. `weights` holds one or more [n, n] squares back to back (e.g. the
 * [L, H, d, d] pattern with n = d); the result holds as many [G, G] squares, G = groups.length.
 * `groups` must tile [0, n) in order (characterGroups(tokens, n) does).
 */
export function aggregateByCharacter(weights: Float32Array, n: number, groups: readonly TokenSpan[]): Float32Array {
  const G = groups.length;
  const planes = n === 0 ? 0 : Math.floor(weights.length / (n * n));
  const of = groupOfToken(groups, n);
  const out = new Float32Array(planes * G * G);
  const acc = new Float64Array(G * G);
  for (let p = 0; p < planes; p++) {
    acc.fill(0);
    const base = p * n * n;
    for (let q = 0; q < n; q++) {
      const row = (of[q] ?? 0) * G;
      const w = base + q * n;
      for (let k = 0; k < n; k++) {
        const c = row + (of[k] ?? 0);
        acc[c] = (acc[c] ?? 0) + (weights[w + k] ?? 0);
      }
    }
    const o = p * G * G;
    for (let a = 0; a < G; a++) {
      const inv = 1 / (groups[a]?.count ?? 1);
      for (let b = 0; b < G; b++) out[o + a * G + b] = (acc[a * G + b] ?? 0) * inv;
    }
  }
  return out;
}

/**
 * True when the causal mask hides every key token of group `k` from every query token of group
 * `q` (the key character starts after the query character ends). The diagonal cell of a
 * multi-token character is partly masked and is not reported as masked.
 */
export function isGroupMasked(q: TokenSpan, k: TokenSpan): boolean {
  return k.first > q.first + q.count - 1;
}
