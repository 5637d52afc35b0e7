import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { ModelLibrary } from '../../src/engine/library';
import { ModelHost } from '../../src/main/model-host';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, randomTensors, writeRandomModel } from '../helpers/random-model';
import { bookModelPth, SHAKESPEARE_CHARS, writeCharModel } from '../helpers/other-layouts';

/**
 * The GPT a learner trained: a character-level nanoGPT (ckpt.pt + meta.pkl) in the attention
 * view and the atlas, and the book's model.pth without config.json opened from the library.
 */
describe('checkpoints people train themselves, in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let charDir: string;

  beforeAll(() => {
    charDir = writeCharModel({ nLayer: 3, nHead: 4, dModel: 32, nCtx: 64, seed: 17 }).dir;
  });

  it('a character-level nanoGPT: one chip per character, the format named, characters outside the vocabulary named', async () => {
    const engine = new Engine({ cacheDir: tempDir() });
    await engine.load(charDir);
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page, context } = await openApp(suite.browser, suite.url, engine, { colorScheme });
      const text = 'First Citizen: Before we proceed — hear me.';
      await page.getByTestId('text-input').fill(text);
      const kept = [...text].filter((c) => SHAKESPEARE_CHARS.includes(c));
      await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(kept.length);
      expect(await page.getByTestId('model-source').textContent()).toBe('nanoGPT · ckpt.pt · 65 characters (meta.pkl)');
      expect(await page.getByTestId('outside-chars').textContent()).toContain('—');
      // No <|endoftext|> in a character vocabulary: the choice is shown off and cannot be made.
      const eot = page.locator('.input-row input[type="checkbox"]');
      expect(await eot.isDisabled()).toBe(true);
      expect(await eot.isChecked()).toBe(false);
      // The grid's labels are the characters themselves.
      await page.getByTestId('view-attention').click();
      const grid = page.getByTestId('qk-grid');
      await grid.waitFor();
      const labels = await grid.locator('text').allTextContents();
      expect(labels.some((l) => l.startsWith('F'))).toBe(true);
      await page.screenshot({ path: `${SHOTS}/char-model-attention-1280x800-${colorScheme}.png` });
      await page.getByTestId('view-atlas').click();
      await page.getByTestId('atlas-count').waitFor();
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${SHOTS}/char-model-atlas-1280x800-${colorScheme}.png` });
      await context.close();
    }
  });

  it("the book's model.pth without config.json: the library asks for the number of heads, shows what the tensors said, then opens it", async () => {
    const bundled = writeRandomModel(SMALL_SPEC);
    const spec = { ...SMALL_SPEC, nLayer: 2, seed: 23 };
    const dir = tempDir();
    const file = join(dir, 'model.pth');
    writeFileSync(file, bookModelPth(spec, randomTensors(spec)));
    const library = new ModelLibrary({ bundledDir: bundled, modelsDir: tempDir(), hfCacheDir: tempDir() });
    const host = new ModelHost(new Engine({ cacheDir: tempDir() }), library, {
      pickFolder: async () => null,
      pickFile: async () => file,
      reveal: () => {},
    });
    await host.load(bundled);
    const { page, context } = await openApp(suite.browser, suite.url, host.engine, { host });
    await page.getByTestId('text-input').fill('Every effort moves you');
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBeGreaterThan(2);
    await page.getByTestId('open-library').click();
    await page.getByTestId('library-open-file').click();
    const needs = page.getByTestId('library-needs');
    await needs.waitFor();
    expect(await needs.textContent()).toContain('model.pth is the book’s GPTModel without its configuration');
    expect(await needs.textContent()).toContain('2 layers, width 32, 40 positions, 50,257 tokens');
    const heads = page.getByTestId('needs-heads');
    // The width 32 is not divisible by the book's 12: the default is the divisor nearest it.
    expect(await heads.inputValue()).toBe('8');
    await heads.fill('5');
    expect(await page.getByTestId('needs-open').isDisabled()).toBe(true);
    await heads.fill('4');
    await page.screenshot({ path: `${SHOTS}/library-needs-heads-1280x800-light.png` });
    await page.getByTestId('needs-open').click();
    await expect.poll(() => page.getByTestId('model-label').textContent(), { timeout: 30_000 }).toContain('2 layers × 4 heads');
    expect(await page.getByTestId('model-source').textContent()).toBe('the book’s GPTModel · model.pth · GPT-2’s tokenizer');
    expect(await page.getByTestId('library-needs').count()).toBe(0);
    await context.close();
  });
});
