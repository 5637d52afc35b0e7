import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENDERER_DIR, launchChromium, openApp, serveStatic } from '../helpers/browser-host';
import { randomEngine, type RandomEngine } from '../helpers/fixtures';
import { Gpt2Tokenizer } from '../../src/engine/tokenizer';

const SHOTS = 'test-results/screenshots';

describe('first screen in Debian Chromium, real engine behind window.atlas', () => {
  let m: RandomEngine;
  let browser: Browser;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    m = await randomEngine();
    browser = await launchChromium();
    ({ server, url } = await serveStatic(RENDERER_DIR));
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('types a sentence and shows its tokens and an attention pattern', async () => {
    const { page, calls, context } = await openApp(browser, url, m.engine);
    const sentence = 'The cat sat on the mat because it was tired.';
    const input = page.getByTestId('text-input');
    await input.fill('');
    await input.pressSequentially(sentence, { delay: 5 });
    const expected = new Gpt2Tokenizer().pieces(new Gpt2Tokenizer().encode(sentence)).map((p) => p.display.replace(/ /g, '␣'));
    await expect
      .poll(async () => (await page.getByTestId('tokens').locator('li').allTextContents()).map((s) => s.trim()), {
        timeout: 15_000,
      })
      .toEqual(expected);
    // The heatmap canvas is drawn with non-background pixels.
    const chart = page.getByTestId('pattern-chart');
    await expect.poll(async () => chart.locator('canvas').count()).toBeGreaterThan(0);
    const label = await page.getByTestId('model-label').textContent();
    expect(label).toContain(`${m.spec.nLayer} layers × ${m.spec.nHead} heads`);
    // Switch head: a second pattern renders from the same analysis.
    await page.getByTestId('head-select').selectOption('2');
    await expect.poll(() => page.getByText('layer 0, head 2').isVisible()).toBe(true);
    expect(calls).toContain('atlas:analyze');
    await page.screenshot({ path: `${SHOTS}/first-screen-1280x800-light.png` });
    await context.close();
  });

  it('says how much was kept when the text exceeds the model context', async () => {
    const { page, context } = await openApp(browser, url, m.engine, { colorScheme: 'dark' });
    const long = 'word '.repeat(60);
    const total = new Gpt2Tokenizer().encode(long).length;
    expect(total).toBeGreaterThan(m.spec.nCtx);
    await page.getByTestId('text-input').fill(long);
    await expect
      .poll(() => page.getByTestId('truncated').textContent(), { timeout: 15_000 })
      .toContain(`first ${m.spec.nCtx} of ${total} tokens`);
    expect(await page.getByTestId('tokens').locator('li').count()).toBe(m.spec.nCtx);
    await page.screenshot({ path: `${SHOTS}/first-screen-1280x800-dark-truncated.png` });
    await context.close();
  });
});
