/**
 * Vitest global setup: one temporary folder per test run, removed when the run ends. Tests make
 * model folders, graph caches, downloads and browser profiles under os.tmpdir() (fixtures'
 * tempDir, writeRandomModel, the CLI, Chromium), and nothing removed them: a run left ≈ 200
 * folders, gigabytes, in /tmp, until a developer machine's disk was full (75 GB here, 2026-12-01).
 * os.tmpdir() reads TMPDIR on every call, and the test workers and every process they start
 * inherit it, so all of it lands under the run's own folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'atlas-test-run-'));
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
