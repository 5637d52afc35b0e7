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

/** Number of next-token predictions the graph keeps per position. */
export const TOP_K = 10;

/** Outputs that are reductions for the UI, not TransformerLens hooks. */
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
