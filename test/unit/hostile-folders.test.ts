/**
 * Issue 16 item 6: model folders a user (or an attacker who can write to one) hands the app.
 * Special files never hang or crash the loader, and non-finite weights are refused by name.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { Gpt2Checkpoint } from '../../src/engine/gpt2-weights';
import { SafetensorsFile } from '../../src/engine/safetensors';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel, type RandomModelSpec } from '../helpers/random-model';

const SPEC: RandomModelSpec = { nLayer: 2, nHead: 2, dModel: 16, nCtx: 12, vocabSize: 50257, seed: 5 };

/** Replaces `file` in a copy of a model folder with a FIFO or a directory. */
function withSpecial(file: string, what: 'fifo' | 'dir'): string {
  const dir = writeRandomModel(SPEC);
  rmSync(join(dir, file));
  if (what === 'dir') mkdirSync(join(dir, file));
  else expect(spawnSync('mkfifo', [join(dir, file)]).status).toBe(0);
  return dir;
}

/** Overwrites element `index` of tensor `name` with the raw little-endian bits `bits`. */
function poke(dir: string, name: string, index: number, bits: number, width: 2 | 4): void {
  const path = join(dir, 'model.safetensors');
  const file = SafetensorsFile.open(path);
  const entry = file.entries.get(name);
  file.close();
  if (!entry) throw new Error(`no ${name}`);
  const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
  const b = Buffer.alloc(width);
  if (width === 4) b.writeUInt32LE(bits);
  else b.writeUInt16LE(bits);
  const fd = openSync(path, 'r+');
  writeSync(fd, b, 0, width, 8 + headerLen + entry.begin + index * width);
  closeSync(fd);
}

describe('hostile model folders', () => {
  it('refuses a FIFO or a directory named config.json, model.safetensors or atlas-model.json by name, without blocking', () => {
    const cases = [
      ['config.json', 'fifo'],
      ['model.safetensors', 'fifo'],
      ['config.json', 'dir'],
      ['model.safetensors', 'dir'],
    ] as const;
    const dirs = cases.map(([f, w]) => withSpecial(f, w));
    const metaFifo = writeRandomModel(SPEC);
    expect(spawnSync('mkfifo', [join(metaFifo, 'atlas-model.json')]).status).toBe(0);
    // In a child process: a loader that blocks on a FIFO would block this worker for good.
    const r = spawnSync(process.execPath, ['--import', 'tsx', resolve('test/helpers/open-model-child.ts'), ...dirs, metaFifo], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.error?.message ?? null, `the loader blocked: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { dir: string; checkpoint: string; memory: number | null });
    expect(rows).toHaveLength(cases.length + 1);
    cases.forEach(([file, what], i) => {
      const row = rows[i];
      const kind = what === 'fifo' ? 'a named pipe \\(FIFO\\)' : 'a directory';
      expect(row?.checkpoint).toMatch(new RegExp(`^error: ${file.replace('.', '\\.')} in .* is ${kind}, not a regular file`));
      expect(row?.checkpoint).not.toMatch(/EISDIR/);
      expect(row?.memory).toBeNull();
    });
    // A FIFO beside good weights: the metadata reads as absent and the model still opens.
    expect(rows[cases.length]?.checkpoint).toBe('opened');
  });

  it('refuses NaN and infinite weights at load, naming the tensor, in F32 and F16; --allow-nonfinite loads them', async () => {
    const f32 = writeRandomModel(SPEC);
    poke(f32, 'h.1.attn.c_attn.weight', 7, 0x7fc00000, 4); // NaN
    const ck = Gpt2Checkpoint.open(f32);
    expect(() => ck.checkFinite()).toThrow(
      /model\.safetensors: tensor h\.1\.attn\.c_attn\.weight holds 1 NaN or infinite value \(the first at flat index 7\); refusing to load it/,
    );
    ck.close();
    const f16 = writeRandomModel({ ...SPEC, dtype: 'F16' });
    poke(f16, 'ln_f.bias', 3, 0x7c00, 2); // +Inf
    const ck16 = Gpt2Checkpoint.open(f16);
    expect(() => ck16.checkFinite()).toThrow(/tensor ln_f\.bias holds 1 NaN or infinite value/);
    ck16.close();
    const bf16 = writeRandomModel({ ...SPEC, dtype: 'BF16' });
    poke(bf16, 'wpe.weight', 0, 0xff80, 2); // -Inf
    const ckb = Gpt2Checkpoint.open(bf16);
    expect(() => ckb.checkFinite()).toThrow(/tensor wpe\.weight holds 1 NaN or infinite value/);
    ckb.close();
    // The engine refuses at load (it loaded silently and drew all-NaN patterns before).
    const engine = new Engine({ cacheDir: tempDir() });
    await expect(engine.load(f32)).rejects.toThrow(/h\.1\.attn\.c_attn\.weight holds 1 NaN/);
    expect(engine.modelDir()).toBeNull();
    const lenient = new Engine({ cacheDir: tempDir(), allowNonfinite: true });
    await expect(lenient.load(f32)).resolves.toMatchObject({ nLayers: SPEC.nLayer });
    await lenient.unload();
    // A clean model passes the check.
    const clean = Gpt2Checkpoint.open(writeRandomModel(SMALL_SPEC));
    expect(() => clean.checkFinite()).not.toThrow();
    clean.close();
  });

  it('the command line refuses them too, and --allow-nonfinite is accepted', () => {
    const dir = writeRandomModel(SPEC);
    poke(dir, 'wte.weight', 11, 0x7f800000, 4); // +Inf
    const run = (extra: string[]): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [resolve('bin/atlas.mjs'), 'build', dir, '--out', join(tempDir(), 'g.onnx'), ...extra], {
        encoding: 'utf8',
        timeout: 90_000,
      });
    const refused = run([]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/atlas: model\.safetensors: tensor wte\.weight holds 1 NaN or infinite value/);
    expect(run(['--allow-nonfinite']).status).toBe(0);
  });
});
