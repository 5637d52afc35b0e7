import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { exportAnalysis } from '../../src/engine/export';
import { createHandlers } from '../../src/main/handlers';
import { CHANNELS, type SaveResult } from '../../src/shared/api';
import { allHookNames } from '../../src/shared/hooks';
import { maxAbsDiff, randomEngine, tempDir } from '../helpers/fixtures';
import { readNpy } from '../helpers/npy-reader';

describe('data export', () => {
  it('zips analysis.json and one .npy per hook that read back equal to the tensors', async () => {
    const { engine, spec } = await randomEngine();
    const req = { text: 'Export every hook, please.', prependEndOfText: true };
    const { name, bytes } = await exportAnalysis(engine, req);
    expect(name).toMatch(/^attention-atlas-.+-\d+-tokens\.zip$/);
    const files = unzipSync(bytes);
    const summary = JSON.parse(new TextDecoder().decode(files['analysis.json'])) as {
      tokens: { id: number; special: boolean }[];
      heads: {
        layer: number;
        head: number;
        labels: string[];
        induction: number;
        firstToken: number;
        sinkShare: number;
        duplicateToken: number;
      }[];
      tensors: Record<string, number[]>;
    };
    const ids = engine.tokenize(req).ids;
    expect(summary.tokens.map((t) => t.id)).toEqual(ids);
    expect(summary.tokens[0]?.special).toBe(true);
    expect(summary.heads).toHaveLength(spec.nLayer * spec.nHead);
    expect(typeof summary.heads[0]?.induction).toBe('number');
    expect(summary.heads[0]?.sinkShare).toBe(summary.heads[0]?.firstToken);
    expect(typeof summary.heads[0]?.duplicateToken).toBe('number');
    const tensors = await engine.runAll(ids);
    const dir = tempDir();
    for (const hook of allHookNames(spec.nLayer)) {
      const file = files[`${hook}.npy`];
      expect(file, hook).toBeDefined();
      writeFileSync(join(dir, 'x.npy'), file ?? new Uint8Array());
      const npy = readNpy(join(dir, 'x.npy'));
      expect(npy.shape, hook).toEqual(tensors[hook]?.dims);
      expect(summary.tensors[hook]).toEqual(tensors[hook]?.dims);
      expect(maxAbsDiff(npy.data as Float32Array, tensors[hook]?.data as Float32Array), hook).toBe(0);
    }
  });

  it('hands the file back for download where the host cannot save, or to the saver where it can', async () => {
    const { engine } = await randomEngine();
    const browser = createHandlers(engine);
    const r = (await browser[CHANNELS.exportData]({ text: 'hi there', prependEndOfText: false })) as SaveResult;
    expect(r.savedTo).toBeNull();
    expect(r.download?.bytes.byteLength).toBeGreaterThan(100);
    const saved: string[] = [];
    const desktop = createHandlers(engine, Promise.resolve(), async (name) => {
      saved.push(name);
      return `/chosen/${name}`;
    });
    const png = new Uint8Array([137, 80, 78, 71]);
    const d = (await desktop[CHANNELS.saveFile]({ suggestedName: 'grid L0H1.png', bytes: png })) as SaveResult;
    expect(d).toEqual({ savedTo: '/chosen/grid L0H1.png', download: null });
    expect(saved).toEqual(['grid L0H1.png']);
  });

  it.each([
    [{ suggestedName: '../../etc/passwd.png', bytes: new Uint8Array(1) }, /may only use letters/],
    [{ suggestedName: '/abs/x.png', bytes: new Uint8Array(1) }, /may only use letters/],
    [{ suggestedName: 'x.exe', bytes: new Uint8Array(1) }, /cannot save \.exe files/],
    [{ suggestedName: '.hidden.png', bytes: new Uint8Array(1) }, /may only use letters/],
    [{ suggestedName: 'x.png', bytes: [1, 2, 3] }, /bytes must be a Uint8Array/],
    [{ suggestedName: '', bytes: new Uint8Array(1) }, /1 to 200 characters/],
  ])('refuses unsafe save request %#', async (arg, message) => {
    const { engine } = await randomEngine();
    await expect(createHandlers(engine)[CHANNELS.saveFile](arg)).rejects.toThrow(message);
  });

  it('stores the .npy members instead of deflating them (deflate took 16 s for 256 tokens), and deflates analysis.json', async () => {
    const { engine } = await randomEngine();
    const { bytes } = await exportAnalysis(engine, { text: 'The cat sat on the mat.', prependEndOfText: false });
    // Walk the zip's local file headers: signature, then the compression method at offset 8.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const methods: Record<string, number> = {};
    for (let o = 0; o + 30 <= bytes.length && view.getUint32(o, true) === 0x04034b50;) {
      const method = view.getUint16(o + 8, true);
      const size = view.getUint32(o + 18, true);
      const nameLen = view.getUint16(o + 26, true);
      const extraLen = view.getUint16(o + 28, true);
      methods[new TextDecoder().decode(bytes.subarray(o + 30, o + 30 + nameLen))] = method;
      o += 30 + nameLen + extraLen + size;
    }
    const names = Object.keys(methods);
    expect(names.filter((n) => n.endsWith('.npy')).length).toBeGreaterThan(10);
    for (const n of names) expect(methods[n]).toBe(n.endsWith('.npy') ? 0 : 8);
    await engine.unload();
  });
});
