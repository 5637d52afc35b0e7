import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gpt2Tokenizer } from '../../src/engine/tokenizer';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, randomTensors, writeRandomModel } from '../helpers/random-model';
import { referenceForward } from '../reference/gpt2-reference';
import { referenceScore } from '../reference/score-reference';
import { VIEW_STATE_FORMAT, viewStateFromParam, type ViewState } from '../../src/shared/view-state';

function atlas(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve('bin/atlas.mjs'), ...args], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, XDG_CACHE_HOME: tempDir('atlas-xdg-') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `atlas explain-score` and `atlas ablate` as a user runs them, against the plain reference. */
describe('atlas explain-score and ablate', () => {
  const model = writeRandomModel(SMALL_SPEC);
  const text = ' one two three one two';
  const ids = new Gpt2Tokenizer().encode(text);
  const cfg = { ...SMALL_SPEC, eps: 1e-5 };
  const w = randomTensors(SMALL_SPEC);
  const ref = referenceForward(w, cfg, ids);

  it('explain-score --json prints the documented fields, terms equal to the reference', () => {
    const args = ['--text', text, '--layer', '2', '--head', '3', '--query', '4', '--key', '1', '--json'];
    const r = atlas(['explain-score', model, ...args]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['layer', 'head', 'query', 'key', 'total', 'parts', 'terms']);
    const s = referenceScore(w, cfg, ids, ref, 2, 3, 4, 1);
    expect(out.parts).toEqual(s.parts);
    const terms = out.terms as number[][];
    const scale = Math.max(...s.terms.flat().map(Math.abs));
    s.terms.forEach((row, a) => row.forEach((v, b) => expect(Math.abs((terms[a]?.[b] ?? 0) - v) / scale).toBeLessThan(1e-4)));
    expect(Math.abs((out.total as number) - s.dot) / Math.abs(s.dot)).toBeLessThan(1e-4);
  });

  it('ablate --json equals the reference with the head mean-replaced', () => {
    const r = atlas(['ablate', model, '--text', text, '--layer', '1', '--head', '0', '--mode', 'mean', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout) as { token: number; top: { id: number; ablated: number }[]; layers: { delta: number }[] };
    expect(a.token).toBe(ids.length - 1);
    const abl = referenceForward(w, cfg, ids, { layer: 1, head: 0, mode: 'mean' });
    const V = SMALL_SPEC.vocabSize;
    const row = Array.from((abl.get('logits')?.data ?? new Float64Array()).subarray(a.token * V, (a.token + 1) * V));
    const mx = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - mx), 0);
    for (const t of a.top) expect(Math.abs(t.ablated - Math.exp((row[t.id] ?? 0) - mx) / z)).toBeLessThan(1e-6);
    expect(a.layers).toHaveLength(2);
  });

  it('refuses a bad mode with a usage error', () => {
    const r = atlas(['ablate', model, '--text', text, '--layer', '0', '--head', '0', '--mode', 'half']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--mode is zero or mean/);
  });

  it('open serves the app and prints a URL whose ?view= restores the saved view', async () => {
    const view: ViewState = {
      format: VIEW_STATE_FORMAT,
      version: 1,
      model: { id: 'somewhere-else', weightsHash: '0'.repeat(64) },
      text,
      prependEndOfText: false,
      view: 'attention',
      layer: 1,
      head: 2,
      stage: 'weights',
      selected: { q: 3, k: 1 },
      toggles: {
        mask: true,
        scale: true,
        transposed: false,
        sinkAware: true,
        atlasOrder: 'layer',
        labelledOnly: false,
        showDiff: false,
      },
      pinned: [],
    };
    const file = join(tempDir(), 'view.json');
    writeFileSync(file, JSON.stringify(view));
    const child = spawn(process.execPath, [resolve('bin/atlas.mjs'), 'open', file, '--port', '0', '--model', model], {
      env: { ...process.env, XDG_CACHE_HOME: tempDir('atlas-xdg-') },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no URL printed; stderr: ${stderr}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /serving .* at (\S+)/.exec(stdout);
          if (m?.[1]) {
            clearTimeout(timer);
            ok(m[1]);
          }
        });
      });
      expect(viewStateFromParam(new URL(url).searchParams.get('view') ?? '')).toEqual(view);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app"');
      expect(stderr).toMatch(/made with somewhere-else/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
