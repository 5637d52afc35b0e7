import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { ModelLibrary } from '../../src/engine/library';
import { ModelHost } from '../../src/main/model-host';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { repoFromModelDir, startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

// Longer than the 128-token square, so the switch's analysis comes square first and must ask for the rest.
const SENTENCE = Array.from({ length: 20 }, (_, i) => `Switching models keeps sentence ${i}.`).join(' ');

/** The model library in the browser, downloading from a loopback server that behaves like the Hub. */
describe('model library in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let hub: FakeHub;
  let host: ModelHost;

  beforeAll(async () => {
    const gpt2 = writeRandomModel({ ...SMALL_SPEC, nLayer: 2, nCtx: 200, seed: 21 });
    hub = await startFakeHub({
      'openai-community/gpt2': repoFromModelDir(gpt2, 'e'.repeat(40)),
    });
    hub.faults.trickle = 120_000; // ~6 MB/s, so the progress bar is seen moving
    const bundled = writeRandomModel({ ...SMALL_SPEC, nCtx: 200 });
    writeFileSync(
      join(bundled, 'atlas-model.json'),
      JSON.stringify({ label: 'Bundled test model', description: 'random weights' }),
    );
    const library = new ModelLibrary({
      bundledDir: bundled,
      modelsDir: tempDir(),
      hfCacheDir: tempDir(),
      downloadOptions: { endpoint: hub.endpoint, timeoutMs: 5000, freeBytes: async () => 1e12 },
    });
    host = new ModelHost(new Engine({ cacheDir: tempDir() }), library);
    await host.load(bundled);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('lists models, downloads GPT-2 small from the Hub with progress, builds it and switches, keeping the text and view', async () => {
    const { page, context, console: consoleMessages } = await openApp(suite.browser, suite.url, host.engine, { host });
    await page.getByTestId('text-input').fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBeGreaterThan(3);
    expect(await page.getByTestId('model-label').textContent()).toContain('Bundled test model');
    await page.getByTestId('view-atlas').click();

    await page.getByTestId('open-library').click();
    const entries = page.getByTestId('library-entry');
    await expect.poll(() => entries.count()).toBe(4); // bundled + three on the Hub
    expect(await entries.evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')))).toEqual([
      'bundled',
      'downloadable',
      'downloadable',
      'downloadable',
    ]);
    const gpt2 = page.locator('[data-testid="library-entry"][data-repo="openai-community/gpt2"]');
    expect(await gpt2.textContent()).toContain('≈548.0 MB to download');
    await page.screenshot({ path: `${SHOTS}/library-1280x800-light.png` });

    await gpt2.getByTestId('library-download').click();
    const bar = page.getByTestId('download-progress');
    await expect.poll(async () => Number((await bar.getAttribute('value')) ?? 0), { timeout: 15_000 }).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/library-downloading-1280x800-light.png` });
    expect(await gpt2.textContent()).toContain('Downloading…');
    const status = page.getByTestId('download-status');
    expect(await status.textContent()).toMatch(/model\.safetensors: .* of .* ·.*\/s · .* left/);
    await expect.poll(() => status.getAttribute('data-phase'), { timeout: 30_000 }).toBe('done');

    // Switched: the new model is in use, the text and the view are kept, the analysis is new.
    await expect.poll(() => page.getByTestId('model-label').textContent(), { timeout: 20_000 }).toContain('GPT-2 small (OpenAI)');
    expect(await page.locator('[data-testid="library-entry"][data-kind="downloaded"]').textContent()).toContain('In use');
    expect(await page.getByTestId('library-graph').textContent()).toMatch(/Instrumented graph: .* MB, built in \d+( ms|\.\d s)/);
    await page.screenshot({ path: `${SHOTS}/library-done-1280x800-light.png` });
    await page.keyboard.press('Escape');
    expect(await page.getByTestId('text-input').inputValue()).toBe(SENTENCE);
    expect(await page.getByTestId('atlas-canvas').count()).toBe(1);
    await expect.poll(() => page.getByTestId('atlas-count').textContent()).toBe('8 of 8 heads'); // the new model: 2 layers × 4 heads
    // The whole text was analysed on the new model, not only the square's tokens.
    const n = host.engine.tokenize({ text: SENTENCE, prependEndOfText: false }).ids.length;
    expect(n).toBeGreaterThan(128);
    expect(n).toBeLessThanOrEqual(200);
    await expect.poll(() => page.getByTestId('tokens-waiting').count(), { timeout: 10_000 }).toBe(0);
    expect(await page.getByTestId('tokens').locator('button').count()).toBe(n);
    expect(consoleMessages).toEqual([]);
    await context.close();
  });
});
