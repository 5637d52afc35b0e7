import { mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { ModelLibrary } from '../../src/engine/library';
import { encodeSafetensors } from '../../src/engine/safetensors';
import { createHandlers } from '../../src/main/handlers';
import { ModelHost, type DesktopHooks } from '../../src/main/model-host';
import { CHANNELS, type LibraryState } from '../../src/shared/api';
import { repoFromModelDir, startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, hfConfig, writeRandomModel, type RandomModelSpec } from '../helpers/random-model';

const TINY: RandomModelSpec = { nLayer: 1, nHead: 2, dModel: 16, nCtx: 16, vocabSize: 50257, seed: 4 };

function setup(extra: { hfCache?: string; endpoint?: string; desktop?: DesktopHooks } = {}): {
  host: ModelHost;
  bundled: string;
  models: string;
} {
  const bundled = writeRandomModel(TINY);
  writeFileSync(join(bundled, 'atlas-model.json'), JSON.stringify({ label: 'Bundled test model', description: 'small' }));
  const models = tempDir();
  const graphCacheDir = tempDir();
  const library = new ModelLibrary({
    bundledDir: bundled,
    modelsDir: models,
    graphCacheDir,
    hfCacheDir: extra.hfCache ?? tempDir(),
    downloadOptions: extra.endpoint ? { endpoint: extra.endpoint, timeoutMs: 3000, freeBytes: async () => 1e12 } : {},
  });
  return { host: new ModelHost(new Engine({ cacheDir: graphCacheDir }), library, extra.desktop ?? null), bundled, models };
}

describe('model library', () => {
  let hub: FakeHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('lists the bundled model, the Hub catalogue, Hugging Face cache snapshots and opened folders', async () => {
    const cache = tempDir();
    const snap = join(cache, 'models--openai-community--gpt2', 'snapshots', 'abc123');
    mkdirSync(snap, { recursive: true });
    const src = writeRandomModel(TINY);
    for (const f of ['config.json', 'model.safetensors']) symlinkSync(join(src, f), join(snap, f));
    const { host, bundled } = setup({ hfCache: cache });
    await host.load(bundled);
    const opened = host.library.addFolder(writeRandomModel({ ...TINY, seed: 9 }));
    const s = host.state();
    const kinds = s.entries.map((e) => `${e.kind}:${e.repo ?? e.label}`);
    expect(kinds).toContain('bundled:Bundled test model');
    expect(kinds).toContain('hf-cache:openai-community/gpt2'); // offered without a download
    expect(kinds).toContain('downloadable:distilbert/distilgpt2');
    expect(kinds).toContain('downloadable:openai-community/gpt2-medium');
    expect(kinds).not.toContain('downloadable:openai-community/gpt2');
    expect(s.entries.find((e) => e.dir === opened)?.kind).toBe('folder');
    const b = s.entries.find((e) => e.kind === 'bundled');
    expect(b?.loaded).toBe(true);
    expect(b?.diskBytes).toBeGreaterThan(1_000_000);
    expect(b?.memoryBytes).toBeGreaterThan(b?.diskBytes ?? 0);
    expect(s.loaded.graph?.bytes).toBeGreaterThan(0);
    expect(s.loaded.model?.nLayers).toBe(TINY.nLayer);
  });

  it('switches models through the handlers and reports the new one', async () => {
    const { host, bundled } = setup();
    await host.load(bundled);
    const other = host.library.addFolder(writeRandomModel(SMALL_SPEC));
    const handlers = createHandlers(host.engine, Promise.resolve(), null, host);
    const id = host.state().entries.find((e) => e.dir === other)?.id ?? '';
    const s = (await handlers[CHANNELS.useModel]({ id })) as LibraryState;
    expect(s.loaded.model?.nLayers).toBe(SMALL_SPEC.nLayer);
    expect(s.entries.find((e) => e.loaded)?.dir).toBe(other);
    await expect(handlers[CHANNELS.useModel]({ id: 'hub:distilbert/distilgpt2' })).rejects.toThrow(
      /not on disk; download it first/,
    );
    await expect(handlers[CHANNELS.openFolder](undefined)).rejects.toThrow(/needs the desktop app/);
  });

  it('downloads a catalogue model in the background, builds it and switches to it', async () => {
    const src = writeRandomModel(SMALL_SPEC);
    hub = await startFakeHub({
      'distilbert/distilgpt2': repoFromModelDir(src, 'd'.repeat(40)),
    });
    const { host, bundled } = setup({ endpoint: hub.endpoint });
    await host.load(bundled);
    const handlers = createHandlers(host.engine, Promise.resolve(), null, host);
    await handlers[CHANNELS.download]({ repo: 'distilbert/distilgpt2' });
    let s = host.state();
    for (let i = 0; i < 200 && s.download?.phase !== 'done' && s.download?.phase !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      s = host.state();
    }
    expect(s.download?.error).toBeNull();
    expect(s.download?.phase).toBe('done');
    expect(s.loaded.model?.nLayers).toBe(SMALL_SPEC.nLayer);
    const entry = s.entries.find((e) => e.loaded);
    expect(entry?.kind).toBe('downloaded');
    expect(entry?.label).toBe('DistilGPT2');
    expect(s.entries.some((e) => e.id === 'hub:distilbert/distilgpt2')).toBe(false);
    // Removing it is refused while in use, allowed after switching away.
    await expect(handlers[CHANNELS.removeModel]({ id: entry?.id })).rejects.toThrow(/in use/);
    await handlers[CHANNELS.useModel]({ id: s.entries.find((e) => e.kind === 'bundled')?.id });
    s = (await handlers[CHANNELS.removeModel]({ id: entry?.id })) as LibraryState;
    expect(s.entries.some((e) => e.kind === 'downloaded')).toBe(false);
  });

  it('opens a folder picked in the desktop dialog, shows built graphs per model and removes them when unused', async () => {
    const picked = writeRandomModel({ ...TINY, seed: 31 });
    const revealed: string[] = [];
    const { host, bundled } = setup({ desktop: { pickFolder: async () => picked, reveal: (p) => revealed.push(p) } });
    await host.load(bundled);
    const handlers = createHandlers(host.engine, Promise.resolve(), null, host);
    const s = (await handlers[CHANNELS.openFolder](undefined)) as LibraryState;
    expect(s.loaded.entryId).toBe(`folder:${picked}`);
    expect(s.desktop).toBe(true);
    const bundledEntry = s.entries.find((e) => e.kind === 'bundled');
    expect(bundledEntry?.graphBytes).toBeGreaterThan(0); // built when it was loaded first
    await handlers[CHANNELS.showInFolder]({ graph: true });
    expect(revealed[0]).toBe(s.loaded.graph?.path);
    const after = (await handlers[CHANNELS.removeGraph]({ id: bundledEntry?.id })) as LibraryState;
    expect(after.entries.find((e) => e.kind === 'bundled')?.graphBytes).toBe(0);
    await expect(handlers[CHANNELS.removeGraph]({ id: `folder:${picked}` })).rejects.toThrow(/in use/);
  });

  it('refuses a model that would not fit in memory, with the numbers, before loading it', async () => {
    const { host, bundled } = setup();
    await host.load(bundled);
    // A tiny file that claims a 65 536-token context: a full-context analysis needs ~70 GB.
    const dir = tempDir();
    const spec = { ...TINY, nCtx: 65536 };
    const t: Record<string, { shape: number[]; data: Float32Array }> = {};
    const { randomTensors } = await import('../helpers/random-model');
    Object.assign(t, randomTensors({ ...spec, nCtx: 16 }));
    t['wpe.weight'] = { shape: [65536, 16], data: new Float32Array(65536 * 16) };
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(t));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(spec)));
    await expect(host.load(dir)).rejects.toThrow(
      /needs about \d+\.\d GB of memory and this computer has \d+\.\d GB; it was not loaded/,
    );
    expect(host.engine.modelDir()).toBe(bundled); // the previous model stays loaded
    expect(host.state().loaded.error).toMatch(/not loaded/);
  });

  it('opens HF-layout folders: prefixed keys, plain keys, F16; broken ones say why and keep the old model', async () => {
    const { host, bundled } = setup();
    await host.load(bundled);
    for (const spec of [{ ...TINY, prefixed: true }, TINY, { ...TINY, dtype: 'F16' as const }]) {
      const info = await host.load(host.library.addFolder(writeRandomModel(spec)));
      expect(info.nHeads).toBe(TINY.nHead);
    }
    const missing = writeRandomModel(TINY);
    rmSync(join(missing, 'config.json'));
    await expect(host.load(missing)).rejects.toThrow(/no config\.json in /);
    const wrongHeads = writeRandomModel(TINY);
    writeFileSync(join(wrongHeads, 'config.json'), JSON.stringify({ ...hfConfig(TINY), n_head: 3 }));
    await expect(host.load(wrongHeads)).rejects.toThrow(/n_head 3 does not divide n_embd 16/);
    const truncated = writeRandomModel(TINY);
    truncateSync(join(truncated, 'model.safetensors'), 5000);
    await expect(host.load(truncated)).rejects.toThrow(/model\.safetensors: /);
    expect(host.engine.modelInfo().nHeads).toBe(TINY.nHead); // still the last good one
  });
});
