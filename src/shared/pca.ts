/**
 * The two principal directions of a set of vectors, for drawing residual-stream updates in 2-D.
 * Works on the N×N Gram matrix (N = a sentence's vectors, far fewer than d_model) with power
 * iteration and deflation: plenty for two components of a few hundred points.
 */
export interface Pca2 {
  mean: Float64Array;
  /** Two unit directions in the input space, [2][d]. */
  axes: [Float64Array, Float64Array];
  /** Variance along each axis. */
  variance: [number, number];
}

export function pca2(rows: readonly ArrayLike<number>[], d: number): Pca2 {
  const n = rows.length;
  const mean = new Float64Array(d);
  for (const r of rows) for (let i = 0; i < d; i++) mean[i] = (mean[i] ?? 0) + (r[i] ?? 0) / Math.max(n, 1);
  const X = rows.map((r) => Float64Array.from({ length: d }, (_, i) => (r[i] ?? 0) - (mean[i] ?? 0)));
  const G = Array.from({ length: n }, (_, a) => Float64Array.from({ length: n }, (_, b) => dot(X[a], X[b])));
  const axes: Float64Array[] = [];
  const variance: number[] = [];
  for (let c = 0; c < 2; c++) {
    let u = Float64Array.from({ length: n }, (_, i) => Math.sin(1 + i * (c + 1.7)));
    let lambda = 0;
    for (let it = 0; it < 200; it++) {
      const next = Float64Array.from({ length: n }, (_, a) => dot(G[a], u));
      lambda = Math.sqrt(dot(next, next));
      if (lambda < 1e-12) break;
      next.forEach((v, i) => (next[i] = v / lambda));
      const done = Math.abs(Math.abs(dot(next, u)) - 1) < 1e-12;
      u = next;
      if (done) break;
    }
    // direction in input space: Xᵀu, normalised
    const axis = new Float64Array(d);
    X.forEach((row, a) => row.forEach((v, i) => (axis[i] = (axis[i] ?? 0) + v * (u[a] ?? 0))));
    // Gram-Schmidt against the first axis: power iteration leaves ~1e-6 of it behind.
    const first = axes[0];
    if (first) {
      const overlap = dot(axis, first);
      axis.forEach((v, i) => (axis[i] = v - overlap * (first[i] ?? 0)));
    }
    const len = Math.sqrt(dot(axis, axis)) || 1;
    axis.forEach((v, i) => (axis[i] = v / len));
    axes.push(axis);
    variance.push(lambda / Math.max(n, 1));
    // deflate: G ← G − λ u uᵀ
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) (G[a] as Float64Array)[b] = (G[a]?.[b] ?? 0) - lambda * (u[a] ?? 0) * (u[b] ?? 0);
  }
  return {
    mean,
    axes: [axes[0] ?? new Float64Array(d), axes[1] ?? new Float64Array(d)],
    variance: [variance[0] ?? 0, variance[1] ?? 0],
  };
}

/** Coordinates of a point (subtracting the mean) or a displacement (not subtracting it). */
export function project(p: Pca2, v: ArrayLike<number>, displacement = false): [number, number] {
  let x = 0;
  let y = 0;
  for (let i = 0; i < p.mean.length; i++) {
    const c = (v[i] ?? 0) - (displacement ? 0 : (p.mean[i] ?? 0));
    x += c * (p.axes[0][i] ?? 0);
    y += c * (p.axes[1][i] ?? 0);
  }
  return [x, y];
}

function dot(a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined): number {
  let s = 0;
  if (!a || !b) return 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}
