import { spawn, spawnSync } from 'node:child_process';
import { modelFolderName } from '../../src/engine/download';
import { repoFromModelDir, startFakeHub } from '../helpers/fake-hub';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allHookNames } from '../../src/shared/hooks';
import { Gpt2Tokenizer } from '../../src/engine/tokenizer';
import { maxAbsDiff, tempDir } from '../helpers/fixtures';
import { readNpy } from '../helpers/npy-reader';
import { SMALL_SPEC, randomTensors, writeRandomModel } from '../helpers/random-model';
import { referenceForward } from '../reference/gpt2-reference';
import { bookModelPth, SHAKESPEARE_CHARS, writeCharModel } from '../helpers/other-layouts';

/** The `atlas` bin as a user runs it: a child process, files on disk, exit codes. */
function atlas(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [resolve('bin/atlas.mjs'), ...args], {
    encoding: 'utf8',
    input,
    timeout: 90_000,
    env: { ...process.env, XDG_CACHE_HOME: tempDir('atlas-xdg-'), ...env },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant: the fake Hub runs in this process, so the child must not block it. */
function atlasAsync(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [resolve('bin/atlas.mjs'), ...args], {
      env: { ...process.env, XDG_CACHE_HOME: tempDir('atlas-xdg-'), ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      ok({ status, stdout, stderr });
    });
  });
}

describe('atlas command line', () => {
  const model = writeRandomModel(SMALL_SPEC);

  it('analyze writes tokens.json and one .npy per hook that equal the reference', () => {
    const out = tempDir();
    const text = ' Attention, please: 注意';
    const r = atlas(['analyze', model, '--text', text, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const tokens = JSON.parse(readFileSync(join(out, 'tokens.json'), 'utf8')) as { ids: number[]; strings: string[] };
    const tok = new Gpt2Tokenizer();
    expect(tokens.ids).toEqual(tok.encode(text));
    expect(tokens.strings).toEqual(tok.pieces(tokens.ids).map((p) => p.display));
    const ref = referenceForward(randomTensors(SMALL_SPEC), { ...SMALL_SPEC, eps: 1e-5 }, tokens.ids);
    for (const name of allHookNames(SMALL_SPEC.nLayer)) {
      const file = join(out, `${name}.npy`);
      expect(existsSync(file), file).toBe(true);
      const npy = readNpy(file);
      const want = ref.get(name);
      expect(npy.dtype).toBe('<f4');
      expect(npy.shape, name).toEqual(want?.dims);
      expect(maxAbsDiff(npy.data as Float32Array, want?.data ?? []), name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('bench prints one JSON report with every measure (structure only: timing stays out of tests)', () => {
    const model = writeRandomModel({ ...SMALL_SPEC, nCtx: 80 });
    const r = atlas(['bench', model, '--runs', '1', '--build-runs', '1']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
    for (const key of [
      'buildMs',
      'sessionCreateMs',
      'analyzeMs',
      'appendOneCharMs',
      'bytesPerUpdate',
      'onnxruntimeWeb',
      'tokenizer',
    ]) {
      expect(report, key).toHaveProperty(key);
    }
    expect(Object.keys(report.analyzeMs ?? {})).toEqual(['16', '64']); // 256 and 1024 exceed n_ctx 80
    expect(report.appendPositionsRun).toEqual({ '64': 1 }); // one appended letter: one position ran
    expect(Number(report.peakRssBytes)).toBeGreaterThan(0);
    expect(Object.keys((report.onnxruntimeWeb?.webOverNode as object) ?? {})).toEqual(['64']);
    expect(atlas(['bench', model, '--runs', '0']).status).toBe(2);
  });

  it('bench --only tokenizer runs the tokenizer part alone, without a model', () => {
    const r = atlas(['bench', '--only', 'tokenizer', '--runs', '1']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { tokenizer: Record<string, unknown> };
    for (const key of ['chinese2000Ms', 'emoji2000Ms', 'worst20000Ms', 'keystroke20000Ms']) {
      expect(report.tokenizer, key).toHaveProperty(key);
    }
    expect(atlas(['bench', '--only', 'nothing']).status).toBe(2);
  });

  it('build writes an ONNX model with external weights', () => {
    const out = join(tempDir(), 'nested', 'g.onnx');
    const r = atlas(['build', model, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(existsSync(`${out}.data`)).toBe(true);
    // 3 layers × (12 hooks + 3 norms + 5 incremental outputs: drawn queries, past queries·keys, drawn dot, drawn pattern, row statistics) + hook_scale, logits, top-k ids and probs
    expect(r.stderr).toMatch(/built 64 outputs/);
  });

  it('pull downloads from HF_ENDPOINT with progress on stderr and prints the model folder', async () => {
    const hub = await startFakeHub({
      'tiny-org/tiny-gpt2': repoFromModelDir(model, 'c'.repeat(40)),
    });
    try {
      const dir = tempDir();
      const r = await atlasAsync(['pull', 'tiny-org/tiny-gpt2', '--dir', dir], { HF_ENDPOINT: hub.endpoint, HF_TOKEN: 'hf_x' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/model\.safetensors: .* of .* 100\.0%/);
      expect(r.stdout.trim()).toBe(join(dir, modelFolderName('tiny-org/tiny-gpt2', 'c'.repeat(40))));
      expect(existsSync(join(r.stdout.trim(), 'model.safetensors'))).toBe(true);
      const missing = await atlasAsync(['pull', 'tiny-org/nothing', '--dir', dir], { HF_ENDPOINT: hub.endpoint });
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/atlas: tiny-org\/nothing has no config\.json at revision main/);
    } finally {
      await hub.close();
    }
  });

  it('two pulls of one repository at once: one installs intact bytes, the other is refused with a clear message', async () => {
    const repo = repoFromModelDir(model, 'd'.repeat(40));
    const hub = await startFakeHub({ 'tiny-org/tiny-gpt2': repo });
    hub.faults.trickle = 20_000; // ≈ 1 MB/s: the two runs overlap
    try {
      const dir = tempDir();
      const env = { HF_ENDPOINT: hub.endpoint };
      const runs = await Promise.all([
        atlasAsync(['pull', 'tiny-org/tiny-gpt2', '--dir', dir], env),
        atlasAsync(['pull', 'tiny-org/tiny-gpt2', '--dir', dir], env),
      ]);
      const ok = runs.filter((r) => r.status === 0);
      expect(ok.length, runs.map((r) => r.stderr).join('\n')).toBeGreaterThanOrEqual(1);
      for (const r of runs.filter((x) => x.status !== 0)) {
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/atlas: tiny-org\/tiny-gpt2 is already being downloaded by another process \(pid \d+/);
      }
      const installed = readFileSync(join(dir, modelFolderName('tiny-org/tiny-gpt2', 'd'.repeat(40)), 'model.safetensors'));
      expect(installed.equals(repo.files['model.safetensors'] ?? Buffer.alloc(0))).toBe(true);
    } finally {
      await hub.close();
    }
  });

  it('analyze takes a long --text (a 30 KB command line crashed onnxruntime with SIGSEGV) and refuses over-long text clearly', () => {
    const out = tempDir();
    // 18,000 characters, 42,000 bytes of UTF-8 on the command line (short words: quick to tokenize).
    const chinese = '中文 '.repeat(6000);
    const long = atlas(['analyze', model, '--text', chinese, '--out', out]);
    expect(long.signal).toBeNull();
    expect(long.status, long.stderr).toBe(0);
    const tokens = JSON.parse(readFileSync(join(out, 'tokens.json'), 'utf8')) as { ids: number[] };
    expect(tokens.ids).toHaveLength(SMALL_SPEC.nCtx);
    // Over the app's text limit: a clear error before tokenizing, never a signal.
    const over = atlas(['analyze', model, '--text', 'x'.repeat(30_000), '--out', tempDir()]);
    expect(over.signal).toBeNull();
    expect(over.status).toBe(1);
    expect(over.stderr).toMatch(/atlas: the text is 30000 characters; the limit is 20000/);
  });

  it('analyze reads the text from --text-file or standard input (-), with the same result as --text', () => {
    const text = 'The cat sat on the mat. The cat sat on the mat.';
    const idsOf = (args: string[], input?: string): number[] => {
      const out = tempDir();
      const r = atlas(['analyze', model, ...args, '--out', out], {}, input);
      expect(r.status, r.stderr).toBe(0);
      return (JSON.parse(readFileSync(join(out, 'tokens.json'), 'utf8')) as { ids: number[] }).ids;
    };
    const file = join(tempDir(), 'text.txt');
    writeFileSync(file, text);
    const direct = idsOf(['--text', text]);
    expect(direct).toEqual(new Gpt2Tokenizer().encode(text));
    expect(idsOf(['--text-file', file])).toEqual(direct);
    expect(idsOf(['--text-file', '-'], text)).toEqual(direct);
    expect(idsOf(['--text', '-'], text)).toEqual(direct);
    const big = join(tempDir(), 'big.txt');
    writeFileSync(big, 'y'.repeat(100_000));
    const refused = atlas(['analyze', model, '--text-file', big, '--out', tempDir()]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/is over 80000 bytes; the text limit is 20000 characters/);
    const piped = atlas(['analyze', model, '--text', '-', '--out', tempDir()], {}, 'z'.repeat(100_000));
    expect(piped.status).toBe(1);
    expect(piped.stderr).toMatch(/standard input is over 80000 bytes/);
    const both = atlas(['analyze', model, '--text', 'a', '--text-file', file, '--out', tempDir()]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/give the text once/);
    const missing = atlas(['analyze', model, '--text-file', join(tempDir(), 'nope.txt'), '--out', tempDir()]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read --text-file .*nope\.txt: ENOENT/);
  });

  it('reports errors on stderr with a non-zero exit', () => {
    const missing = atlas(['analyze', join(tempDir(), 'nope'), '--text', 'x', '--out', tempDir()]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/atlas: .*nope does not exist/);
    const usage = atlas(['analyze', model]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/missing --text <text>/);
    expect(atlas(['nonsense']).status).toBe(2);
  });
});

describe('atlas on nanoGPT and book checkpoints', () => {
  it('analyze reads a character-level ckpt.pt with its meta.pkl: one token per character, hooks as the reference', () => {
    const m = writeCharModel({ nLayer: 1, nHead: 2, dModel: 16, nCtx: 32, seed: 6 });
    const out = tempDir();
    const text = 'First Citizen:';
    const r = atlas(['analyze', m.ckpt, '--text', text, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const tokens = JSON.parse(readFileSync(join(out, 'tokens.json'), 'utf8')) as { ids: number[]; strings: string[] };
    expect(tokens.strings).toEqual([...text]);
    expect(tokens.ids).toEqual([...text].map((c) => SHAKESPEARE_CHARS.indexOf(c)));
    const ref = referenceForward(m.tensors, { ...m.spec, eps: 1e-5, gelu: 'erf' }, tokens.ids);
    const pattern = readNpy(join(out, 'blocks.0.attn.hook_pattern.npy'));
    expect(maxAbsDiff(pattern.data as Float32Array, ref.get('blocks.0.attn.hook_pattern')?.data ?? [])).toBeLessThan(1e-4);
  });

  it("the book's model.pth without config.json: the error says to pass --n-heads, and with it analyze runs", () => {
    const spec = { ...SMALL_SPEC, nLayer: 1, seed: 8 };
    const dir = tempDir();
    writeFileSync(join(dir, 'model.pth'), bookModelPth(spec, randomTensors(spec)));
    const out = tempDir();
    const missing = atlas(['analyze', join(dir, 'model.pth'), '--text', 'Every effort moves you', '--out', out]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/number of attention heads is not in the file.*or pass --n-heads <n>/s);
    const bad = atlas(['analyze', dir, '--n-heads', 'twelve', '--text', 'x', '--out', out]);
    expect(bad.status).toBe(2);
    const ok = atlas(['analyze', dir, '--n-heads', '4', '--text', 'Every effort moves you', '--out', out]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(existsSync(join(out, 'blocks.0.attn.hook_pattern.npy'))).toBe(true);
  });
});
