/**
 * TransformerLens hook names, the public names of every tensor the engine exposes
 * (DESIGN.md fixes them). Axis orders follow TransformerLens, with the batch axis of 1 kept
 * in the graph and in exported .npy files.
 */
export interface LayerHooks {
  residPre: string; // [1, T, d_model]
  residMid: string; // [1, T, d_model]
  residPost: string; // [1, T, d_model]
  q: string; // [1, T, H, d_head]
  k: string; // [1, T, H, d_head]
  v: string; // [1, T, H, d_head]
  dot: string; // [1, H, T_q, T_k] raw q·k, unscaled, unmasked
  pattern: string; // [1, H, T_q, T_k] softmax(mask(dot / √d_head))
  z: string; // [1, T, H, d_head]
  result: string; // [1, T, H, d_model] each head's z @ W_O[h], bias excluded
  attnOut: string; // [1, T, d_model]
  mlpOut: string; // [1, T, d_model]
  /** Not a TransformerLens hook: ‖hook_result‖₂ over d_model, [1, T, H], reduced in the graph. */
  resultNorm: string;
  /** ‖hook_attn_out‖₂ and ‖hook_mlp_out‖₂ per position, [1, T], reduced in the graph. */
  attnOutNorm: string;
  mlpOutNorm: string;
}

export function hookNames(layer: number): LayerHooks {
  const b = `blocks.${layer}`;
  return {
    residPre: `${b}.hook_resid_pre`,
    residMid: `${b}.hook_resid_mid`,
    residPost: `${b}.hook_resid_post`,
    q: `${b}.attn.hook_q`,
    k: `${b}.attn.hook_k`,
    v: `${b}.attn.hook_v`,
    dot: `${b}.attn.hook_dot`,
    pattern: `${b}.attn.hook_pattern`,
    z: `${b}.attn.hook_z`,
    result: `${b}.attn.hook_result`,
    attnOut: `${b}.hook_attn_out`,
    mlpOut: `${b}.hook_mlp_out`,
    resultNorm: `${b}.attn.result_norm`,
    attnOutNorm: `${b}.attn_out_norm`,
    mlpOutNorm: `${b}.mlp_out_norm`,
  };
}

/**
 * Outputs and inputs of the incremental analysis, not TransformerLens hooks. The graph takes the
 * keys and values of an unchanged prefix of P tokens and runs only the new ones (see
 * graph-builder.ts); hook tensors then cover the new positions (hook_dot / hook_pattern: the new
 * query rows against all P + T_new keys).
 */
export function incrementalNames(layer: number): {
  pastKey: string; // input [1, P, H, d_head]: hook_k of the prefix
  pastValue: string; // input [1, P, H, d_head]: hook_v of the prefix
  pastQueryDrawn: string; // input [1, P_q, H, d_head]: hook_q of the prefix's drawn rows (P_q ≤ DRAWN_TOKENS)
  queryDrawn: string; // output [1, R, H, d_head]: hook_q of the new rows inside the drawn square
  dotPastQueries: string; // output [1, H, P_q, T_new]: those queries · the new keys (unscaled)
  dotDrawn: string; // output [1, H, R, C]: hook_dot cut to the drawn square (rows P…, keys 0…)
  patternDrawn: string; // output [1, H, R, C]: hook_pattern cut the same way
  rowStats: string; // output [1, H, T_new, 4]: per new query row: entropy, prev-token, first-token, local ±2
} {
  return {
    pastKey: `past.${layer}.key`,
    pastValue: `past.${layer}.value`,
    pastQueryDrawn: `past.${layer}.query_drawn`,
    queryDrawn: `blocks.${layer}.attn.q_drawn`,
    dotPastQueries: `blocks.${layer}.attn.dot_past_queries`,
    dotDrawn: `blocks.${layer}.attn.dot_drawn`,
    patternDrawn: `blocks.${layer}.attn.pattern_drawn`,
    rowStats: `blocks.${layer}.attn.row_stats`,
  };
}

/**
 * What the analysis graph exposes (graph-builder.ts explains why it is a second graph): per
 * position tensors the incremental cache keeps and the on-demand views read, plus reductions.
 */
export function analysisOutputNames(nLayers: number): string[] {
  const names: string[] = [];
  for (let l = 0; l < nLayers; l++) {
    const h = hookNames(l);
    const inc = incrementalNames(l);
    names.push(h.residPre, h.residMid, h.q, h.k, h.v, h.z, h.resultNorm, h.attnOutNorm, h.mlpOutNorm);
    names.push(inc.rowStats, inc.dotDrawn, inc.patternDrawn, inc.dotPastQueries, inc.queryDrawn);
  }
  // The last block's output: predictions at any position are computed from it on demand.
  names.push(hookNames(nLayers - 1).residPost, 'ln_final.hook_scale', EXTRA_OUTPUTS.topKIds, EXTRA_OUTPUTS.topKProbs);
  return names;
}

/** The grids draw at most this many tokens; analyses ship dot and pattern for this square only. */
export const DRAWN_TOKENS = 128;

/** Number of next-token predictions the graph keeps per position. */
export const TOP_K = 10;

/** Outputs that are reductions for the UI, not TransformerLens hooks: the top-k next-token
 *  probabilities and ids after the last input token, [1, TOP_K]. */
export const EXTRA_OUTPUTS = {
  topKProbs: 'atlas.next_token_probs_topk',
  topKIds: 'atlas.next_token_ids_topk',
} as const;

/** Every TransformerLens-named tensor the graph exposes, in a stable order. */
export function allHookNames(nLayers: number): string[] {
  const names: string[] = [];
  for (let l = 0; l < nLayers; l++) {
    const h = hookNames(l);
    names.push(h.residPre, h.q, h.k, h.v, h.dot, h.pattern, h.z, h.result, h.attnOut, h.residMid, h.mlpOut, h.residPost);
  }
  names.push('ln_final.hook_scale', 'logits');
  return names;
}
