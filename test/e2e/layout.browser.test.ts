import { describe, expect, it } from 'vitest';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

/** 14 GPT-2 tokens (checked below). */
const SENTENCE = 'The quick brown fox jumps over the lazy dog while the farmer sleeps.';

describe('the attention view uses the window', () => {
  const suite = useBrowserSuite();

  for (const [width, height] of [
    [1024, 768],
    [1280, 800],
    [1920, 1080],
  ] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      it(`shows a 14-token grid, both axes' labels and the sums without scrolling at ${width}×${height} (${scheme})`, async () => {
        expect(suite.vm.engine.tokenize({ text: SENTENCE, prependEndOfText: false }).ids).toHaveLength(14);
        const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
          width,
          height,
          colorScheme: scheme,
        });
        await page.getByTestId('text-input').fill(SENTENCE);
        await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(14);
        await page.getByTestId('stage-softmax').click();
        const grid = page.getByTestId('qk-grid');
        expect(await grid.getByTestId('query-sum').count()).toBe(14);
        const boxes = await grid
          .locator('.label, [data-testid="query-sum"], .frame')
          .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
        expect(boxes).toHaveLength(14 * 2 + 14 + 1);
        for (const b of boxes) {
          expect(b.left).toBeGreaterThanOrEqual(0);
          expect(b.top).toBeGreaterThanOrEqual(0);
          expect(b.right).toBeLessThanOrEqual(width);
          expect(b.bottom).toBeLessThanOrEqual(height);
        }
        // The page itself does not scroll; cells grew to use the room (more than the 14 px minimum).
        expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThanOrEqual(height);
        // The cell pitch, from the grid's frame: a dot's own size follows its weight (and eases
        // in over a short transition after the stage changes), so it says nothing about the room.
        const cell = await grid
          .locator('.frame')
          .first()
          .evaluate((e) => e.getBoundingClientRect().height / 14);
        expect(cell).toBeGreaterThan(14);
        await page.screenshot({ path: `${SHOTS}/fit-14-tokens-${width}x${height}-${scheme}.png` });
        await context.close();
      });
    }
  }

  it('draws ÷√d_k visibly: stages 1 and 2 share one scale, every dot shrinks by d_k^(1/4) in radius', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    const grid = page.getByTestId('qk-grid');
    const radii = async (): Promise<number[]> =>
      grid.locator('circle').evaluateAll((els) => els.map((e) => Number(e.getAttribute('r'))));
    await page.getByTestId('stage-dot').click();
    const before = await radii();
    const shot1 = await grid.screenshot({ animations: 'disabled' });
    await page.getByTestId('stage-scale').click();
    await expect.poll(() => page.getByTestId('score-max').textContent()).toContain('after');
    const after = await radii();
    const shot2 = await grid.screenshot({ animations: 'disabled' });
    expect(Buffer.compare(shot1, shot2)).not.toBe(0);
    const dHead = suite.vm.engine.modelInfo().dHead;
    const ratio = dHead ** -0.25;
    expect(after.length).toBe(before.length);
    for (let i = 0; i < before.length; i++) {
      if ((before[i] ?? 0) > 1) expect((after[i] ?? 0) / (before[i] ?? 1)).toBeCloseTo(ratio, 3);
    }
    // The caption gives the largest |score| before and after, from the engine's numbers.
    const text = (await page.getByTestId('score-max').textContent()) ?? '';
    const [maxBefore, maxAfter] = (text.match(/\d+\.\d+/g) ?? []).map(Number);
    expect((maxBefore ?? 0) / (maxAfter ?? 1)).toBeCloseTo(Math.sqrt(dHead), 1);
    await context.close();
  });

  it('opens on a head whose toggles visibly change the picture, and says why', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    expect(await page.getByTestId('default-head-note').textContent()).toContain('Why this head');
    await page.getByTestId('stage-softmax').click();
    await page.getByTestId('toggle-mask').uncheck();
    const pct = Number(/(\d+\.\d)%/.exec((await page.getByTestId('mask-effect').textContent()) ?? '')?.[1]);
    expect(pct).toBeGreaterThan(20);
    await page.getByTestId('toggle-mask').check();
    await page.getByTestId('toggle-scale').uncheck();
    const m = /from (\d+\.\d+) to (\d+\.\d+) nats/.exec((await page.getByTestId('scale-effect').textContent()) ?? '');
    expect(Number(m?.[1]) - Number(m?.[2])).toBeGreaterThan(0.1);
    await context.close();
  });

  it('explains its words on keyboard focus', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    const term = page.getByTestId('term-softmax').first();
    await term.focus();
    const tip = term.locator('[role="tooltip"]');
    expect(await tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toContain('sum to 1');
    await page.screenshot({ path: `${SHOTS}/term-tooltip-1280x800-light.png` });
    await context.close();
  });
});
