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
import { SMALL_SPEC, hfConfig, randomTensors, writeRandomModel, type RandomModelSpec } from '../helpers/random-model';
import { bookModelPth, SHAKESPEARE_CHARS, writeCharModel } from '../helpers/other-layouts';

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
    const { host, bundled } = setup({
      desktop: { pickFolder: async () => picked, pickFile: async () => null, reveal: (p) => revealed.push(p) },
    });
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

  it('opens a checkpoint file picked in the desktop dialog, asks for what the file lacks, and remembers the answer', async () => {
    const bookDir = tempDir();
    const spec = { ...TINY, nHead: 4, dModel: 32, seed: 12 };
    writeFileSync(join(bookDir, 'model.pth'), bookModelPth(spec, randomTensors(spec)));
    const char = writeCharModel({ nLayer: 1, nHead: 2, dModel: 16, nCtx: 16, seed: 3 }, { metaBeside: false });
    const vocab = join(tempDir(), 'vocab.json');
    writeFileSync(vocab, JSON.stringify(SHAKESPEARE_CHARS));
    const picks: string[] = [join(bookDir, 'model.pth'), char.ckpt, vocab];
    const asked: string[] = [];
    const desktop: DesktopHooks = {
      pickFolder: async () => null,
      pickFile: async (kind) => {
        asked.push(kind);
        return picks.shift() ?? null;
      },
      reveal: () => {},
    };
    const { host, bundled } = setup({ desktop });
    await host.load(bundled);
    const handlers = createHandlers(host.engine, Promise.resolve(), null, host);
    // The book's model.pth without config.json: not an error, a question with what the tensors said.
    let s = (await handlers[CHANNELS.openFile](undefined)) as LibraryState;
    expect(s.loaded.needs).toEqual({
      kind: 'heads',
      path: join(bookDir, 'model.pth'),
      file: 'model.pth',
      format: 'book',
      nLayers: 1,
      dModel: 32,
      nCtx: 16,
      vocabSize: 50257,
      qkvBias: false,
    });
    expect(s.loaded.model?.id).not.toBe('model.pth'); // the bundled model stays loaded
    await expect(handlers[CHANNELS.completeModel]({ nHeads: 0 })).rejects.toThrow(/nHeads must be an integer from 1 to 128/);
    await expect(handlers[CHANNELS.completeModel]({ nHeads: 5 })).rejects.toThrow(/5 heads do not divide the width 32/);
    s = (await handlers[CHANNELS.completeModel]({ nHeads: 4 })) as LibraryState;
    expect(s.loaded.needs).toBeNull();
    expect(s.loaded.model).toMatchObject({ nHeads: 4, source: { format: 'book', file: 'model.pth' } });
    const bookEntry = s.entries.find((e) => e.dir === join(bookDir, 'model.pth'));
    expect(bookEntry?.kind).toBe('folder');
    expect(bookEntry?.memoryBytes).toBeGreaterThan(0);
    // A character-level ckpt.pt without meta.pkl: the vocabulary is asked for, then picked.
    s = (await handlers[CHANNELS.openFile](undefined)) as LibraryState;
    expect(s.loaded.needs).toMatchObject({ kind: 'vocabulary', file: 'ckpt.pt', rows: 65 });
    await expect(handlers[CHANNELS.completeModel]({ nHeads: 2 })).rejects.toThrow(/needs a vocabulary/);
    s = (await handlers[CHANNELS.completeModel]({ pickVocabulary: true })) as LibraryState;
    expect(s.loaded.model?.source.vocabulary).toMatchObject({ kind: 'chars', size: 65, file: 'vocab.json' });
    expect(asked).toEqual(['model', 'model', 'vocabulary']);
    // Switching back to the book model uses the number of heads given before, without asking.
    s = (await handlers[CHANNELS.useModel]({ id: bookEntry?.id })) as LibraryState;
    expect(s.loaded.model?.nHeads).toBe(4);
    expect(s.loaded.needs).toBeNull();
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
