/**
 * The test run's temporary files go under one folder of its own (test/helpers/temp-root.ts),
 * which the run removes at its end: before it, each `npm test` left gigabytes in /tmp.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('temporary files of a test run', () => {
  it('land in the run’s own folder, not loose in the system’s', () => {
    expect(basename(tmpdir())).toMatch(/^atlas-test-run-/);
    const dir = mkdtempSync(join(tmpdir(), 'atlas-test-'));
    expect(dirname(dir)).toBe(tmpdir());
  });
});
