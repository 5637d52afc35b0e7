/**
 * The sink-aware view: many heads park most of their weight on the first token (an "attention
 * sink") when nothing else fits. Hiding that column and renormalising each row shows where the
 * rest of the weight goes. A view choice only: the model's weights are untouched.
 *
 * `weights` is one head, [T_q, T_k] row-major. Column 0 becomes 0; each row q ≥ 1 is divided by
 * the weight it puts on keys 1…T−1 (a row with none left stays 0). Row 0 can only attend to the
 * first token, so it is all 0 in this view.
 */
export function hideFirstToken(weights: ArrayLike<number>, T: number): Float32Array {
  const out = new Float32Array(T * T);
  for (let q = 0; q < T; q++) {
    let rest = 0;
    for (let k = 1; k < T; k++) rest += weights[q * T + k] ?? 0;
    if (rest <= 0) continue;
    for (let k = 1; k < T; k++) out[q * T + k] = (weights[q * T + k] ?? 0) / rest;
  }
  return out;
}
