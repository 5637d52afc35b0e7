/**
 * `training-log.json` beside a model's weights, as tools/train-tiny-gpt2/train.py writes it: the
 * per-head scores recorded over training ("how this model's heads formed"). Optional and
 * untrusted, like atlas-model.json: a missing, oversized, malformed or inconsistent log reads as
 * no history (null), never as an error, and only the validated numbers leave this module.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainingHistory } from '../shared/api';

/** Larger logs are not read at all (train.py's, at 24 heads and a few hundred rows: ~100 KB). */
export const MAX_TRAINING_LOG_BYTES = 4 * 1024 * 1024;
/** More rows than this are not a plausible log; the chart would not show them apart anyway. */
export const MAX_HISTORY_ROWS = 2000;

const SCORE_KEYS = [
  ['previous_token', 'previousToken'],
  ['first_token', 'firstToken'],
  ['induction', 'induction'],
] as const;

/** Reads at most `limit` bytes of a regular file, or null (missing, not a file, too large). */
function readCapped(path: string, limit: number): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > limit) return null;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The history in `log` (parsed JSON), checked against the model's shape, or null. */
export function parseTrainingHistory(log: unknown, shape: { nLayers: number; nHeads: number }): TrainingHistory | null {
  if (typeof log !== 'object' || log === null) return null;
  const hs = (log as Record<string, unknown>).head_scores;
  if (typeof hs !== 'object' || hs === null) return null;
  const r = hs as Record<string, unknown>;
  if (r.layers !== shape.nLayers || r.heads !== shape.nHeads) return null;
  const heads = shape.nLayers * shape.nHeads;
  const steps = r.steps;
  if (!Array.isArray(steps) || steps.length < 2 || steps.length > MAX_HISTORY_ROWS) return null;
  const n = steps.length;
  for (let i = 0; i < n; i++) {
    const s: unknown = steps[i];
    if (!Number.isSafeInteger(s) || (s as number) < 1) return null;
    if (i > 0 && (s as number) <= (steps[i - 1] as number)) return null;
  }
  const tokens = r.tokens;
  if (!Array.isArray(tokens) || tokens.length !== n) return null;
  if (!tokens.every((x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) return null;
  const series = (key: string): number[][] | null => {
    const rows = r[key];
    if (!Array.isArray(rows) || rows.length !== n) return null;
    const out: number[][] = [];
    for (const row of rows as unknown[]) {
      if (!Array.isArray(row) || row.length !== heads) return null;
      for (const v of row as unknown[]) {
        // Attention weights' means: within [0, 1] (a little slack for float rounding).
        if (typeof v !== 'number' || !Number.isFinite(v) || v < -1e-6 || v > 1 + 1e-6) return null;
      }
      out.push((row as number[]).map((v) => Math.min(1, Math.max(0, v))));
    }
    return out;
  };
  const [prev, first, ind] = SCORE_KEYS.map(([k]) => series(k));
  if (!prev || !first || !ind) return null;
  return {
    layers: shape.nLayers,
    heads: shape.nHeads,
    steps: (steps as number[]).slice(),
    tokens: (tokens as number[]).slice(),
    previousToken: prev,
    firstToken: first,
    induction: ind,
  };
}

/** The per-head score history in `dir`/training-log.json, or null when there is none to show. */
export function readTrainingHistory(dir: string, shape: { nLayers: number; nHeads: number }): TrainingHistory | null {
  const text = readCapped(join(dir, 'training-log.json'), MAX_TRAINING_LOG_BYTES);
  if (text === null) return null;
  try {
    return parseTrainingHistory(JSON.parse(text), shape);
  } catch {
    return null;
  }
}
