/**
 * Issue 16 item 8: a seeded mutation fuzzer over safetensors headers, tensor bytes and
 * config.json. Every case must end as a success or a clean model-format error: never a crash,
 * a hang (the child runs under a timeout) or an unbounded allocation (the child's heap is capped).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fixtures';

const SEED = 20261130;
const CASES = 360;

describe('model-file fuzzer', () => {
  it(`${CASES} seeded mutations: each a success or a clean error, none crashes, hangs or allocates without bound`, () => {
    const r = spawnSync(
      process.execPath,
      [
        '--max-old-space-size=256',
        '--import',
        'tsx',
        resolve('test/helpers/fuzz-child.ts'),
        String(SEED),
        String(CASES),
        tempDir(),
      ],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(r.error?.message ?? null, `the fuzzer did not finish in a minute: ${r.stderr.slice(-2000)}`).toBeNull();
    expect(r.signal, r.stderr.slice(-2000)).toBeNull();
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { i: number; kind: string; outcome: string; error?: string });
    expect(rows).toHaveLength(CASES);
    const unclean = rows.filter((x) => x.outcome === 'unclean-error');
    expect(unclean, JSON.stringify(unclean.slice(0, 5), null, 1)).toEqual([]);
    // The mutations reach deep: most cases are refused, some still load, every kind ran.
    expect(rows.filter((x) => x.outcome === 'clean-error').length).toBeGreaterThan(CASES / 3);
    expect(new Set(rows.map((x) => x.kind)).size).toBe(12);
  });
});
