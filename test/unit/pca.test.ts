import { describe, expect, it } from 'vitest';
import { pca2, project } from '../../src/shared/pca';
import { rng } from '../helpers/random-model';

describe('pca2', () => {
  it('recovers the plane that points were drawn from, ordered by variance', () => {
    const r = rng(5);
    const d = 12;
    // An ellipse in the plane of e0 and e3 (semi-axes 5 and 2: exactly uncorrelated), offset
    // from the origin, plus tiny noise in every dimension.
    const rows = Array.from({ length: 60 }, (_, i) => {
      const v = Array.from({ length: d }, () => (r() - 0.5) * 1e-3);
      const theta = (2 * Math.PI * i) / 60;
      v[0] = (v[0] ?? 0) + 5 * Math.cos(theta) + 3; // the offset is the mean, removed by pca2
      v[3] = (v[3] ?? 0) + 2 * Math.sin(theta);
      return v;
    });
    const p = pca2(rows, d);
    expect(Math.abs(p.axes[0][0] ?? 0)).toBeGreaterThan(0.999);
    expect(Math.abs(p.axes[1][3] ?? 0)).toBeGreaterThan(0.999);
    expect(p.variance[0]).toBeGreaterThan(p.variance[1]);
    // Axes are orthonormal.
    const dot = p.axes[0].reduce((s, v, i) => s + v * (p.axes[1][i] ?? 0), 0);
    expect(Math.abs(dot)).toBeLessThan(1e-6);
    // Projections keep in-plane distances.
    const [x1, y1] = project(p, rows[0] ?? []);
    const [x2, y2] = project(p, rows[1] ?? []);
    const inPlane = Math.hypot((rows[0]?.[0] ?? 0) - (rows[1]?.[0] ?? 0), (rows[0]?.[3] ?? 0) - (rows[1]?.[3] ?? 0));
    expect(Math.hypot(x1 - x2, y1 - y2)).toBeCloseTo(inPlane, 2);
    // A displacement ignores the mean.
    const [dx, dy] = project(
      p,
      Array.from({ length: d }, (_, i) => (i === 0 ? 1 : 0)),
      true,
    );
    expect(Math.hypot(dx, dy)).toBeCloseTo(1, 3);
  });
});
