/** What a newcomer trips over, each checked in Debian Chromium on the real engine (issue 17). */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chooseHead, openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

const SENTENCE = 'The cat sat on the mat because it was tired, and the cat slept.';

/** Pixels of a canvas close to an RGB colour. */
async function pixelsNear(page: Page, testid: string, rgb: [number, number, number]): Promise<number> {
  return page
    .getByTestId(testid)
    .locator('canvas')
    .first()
    .evaluate((c: HTMLCanvasElement, [r, g, b]) => {
      const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (
          (d[i + 3] ?? 0) > 200 &&
          Math.abs((d[i] ?? 0) - r) + Math.abs((d[i + 1] ?? 0) - g) + Math.abs((d[i + 2] ?? 0) - b) < 30
        )
          n++;
      }
      return n;
    }, rgb);
}

describe('newcomer fixes', () => {
  const suite = useBrowserSuite();

  it('Esc closes the Models dialog', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('open-library').click();
    await expect.poll(() => page.getByTestId('library').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('library').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
    await context.close();
  });

  it('Esc leaves the text box, then shortcuts work; each view’s key is its name’s first letter', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    const input = page.getByTestId('text-input');
    await input.click();
    await page.keyboard.type(' 2');
    expect(await input.inputValue()).toMatch(/ 2$/); // typing goes into the text
    await page.keyboard.press('Escape');
    expect(await page.evaluate(() => document.activeElement?.tagName)).not.toBe('TEXTAREA');
    await page.keyboard.press('2');
    expect(await page.getByTestId('qk-grid').getAttribute('data-stage')).toBe('scale');
    expect(await page.getByTestId('help-keys').textContent()).toContain('Esc');
    for (const [key, view] of [
      ['h', 'atlas'],
      ['c', 'contributions'],
      ['w', 'walkthrough'],
      ['a', 'attention'],
    ] as const) {
      await page.keyboard.press(key);
      const tab = page.getByTestId(`view-${view}`);
      expect(await tab.getAttribute('aria-current')).toBe('page');
      const label = ((await tab.textContent()) ?? '').trim();
      expect(label.at(-1)?.toLowerCase()).toBe(key); // the key shown on the tab
      expect(label[0]?.toLowerCase()).toBe(key); // is the first letter of its name
    }
    await context.close();
  });

  it('charts follow a live switch between light and dark', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { colorScheme: 'light' });
    await page.getByTestId('text-input').fill(SENTENCE);
    await page.getByTestId('view-contributions').click();
    await page.getByTestId('contrib-selected-norm').waitFor();
    await page.waitForTimeout(500);
    const darkFg: [number, number, number] = [0xe4, 0xe8, 0xef]; // styles.css --fg in dark mode
    expect(await pixelsNear(page, 'contrib-heatmap', darkFg)).toBe(0);
    await page.emulateMedia({ colorScheme: 'dark' });
    await expect.poll(() => pixelsNear(page, 'contrib-heatmap', darkFg), { timeout: 5000 }).toBeGreaterThan(20);
    await page.screenshot({ path: `${SHOTS}/contributions-live-dark-1280x800.png` });
    await context.close();
  });

  it('keeps the last column’s labels inside the grid’s picture, in the attention view and in compare', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { width: 1024, height: 768 });
    await page.getByTestId('text-input').fill(`${SENTENCE} Afterwards everybody rested comfortably.`);
    await page.getByTestId('qk-grid').waitFor();
    await page.waitForTimeout(500);
    const outside = async (testid: string): Promise<number> =>
      page
        .getByTestId(testid)
        .first()
        .evaluate((svg) => {
          const box = svg.getBoundingClientRect();
          return Array.from(svg.querySelectorAll('.label')).filter((l) => l.getBoundingClientRect().right > box.right + 0.5)
            .length;
        });
    expect(await outside('qk-grid')).toBe(0);
    await page.getByTestId('pin-head').click();
    await page.keyboard.press('ArrowDown');
    await page.getByTestId('pin-head').click();
    await page.getByTestId('view-atlas').click();
    await page.getByTestId('compare-diff').check();
    for (const id of ['compare-grid', 'compare-diff-panel']) {
      await page.getByTestId(id).first().waitFor();
    }
    expect(await outside('compare-grid')).toBe(0);
    await context.close();
  });

  it('shows tokens with exactly equal logit effects as one tie with its count, not as a ranking', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(16);
    await chooseHead(page, 0, 0);
    await page.getByTestId('tokens').locator('button').nth(9).click();
    const c = await suite.vm.engine.contribution({ text: SENTENCE, prependEndOfText: false, layer: 0, head: 0, token: 9 });
    await page.getByTestId('view-contributions').click();
    const items = page.getByTestId('contrib-raises').locator('li');
    await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(c.raises.ids.length);
    const counts = await items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
    expect(counts).toEqual(Array.from(c.raises.counts));
    const tie = counts.findIndex((n) => n > 1);
    if (tie >= 0)
      expect(await items.nth(tie).textContent()).toContain(`${(counts[tie] ?? 0).toLocaleString('en-US')} tokens tie`);
    const values = await items.locator('[data-value]').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')));
    expect(new Set(values).size).toBe(values.length);
    await page.screenshot({ path: `${SHOTS}/contributions-ties-1280x800-light.png` });
    await context.close();
  });

  it('counts the same keys under every toggle in the values panel', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(16);
    await page.getByTestId('tokens').locator('button').nth(13).click(); // query 13
    const more = page.getByTestId('values-more');
    // Keys listed + keys counted = every key query 13 may see (14 with the mask on), whatever
    // the scaling does to the weights.
    const total = async (): Promise<number> =>
      (await page.getByTestId('value-row').count()) + Number(/(\d+) more keys/.exec((await more.textContent()) ?? '')?.[1] ?? 0);
    await expect.poll(total, { timeout: 15_000 }).toBe(14);
    await page.getByTestId('toggle-scale').uncheck();
    await expect.poll(total).toBe(14);
    await page.getByTestId('toggle-mask').uncheck();
    await expect.poll(total).toBe(16);
    await context.close();
  });

  it('says when no head earns a score’s label instead of an empty or meaningless order', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('view-atlas').click();
    await page.getByTestId('atlas-order').selectOption('induction');
    const probe = await suite.vm.engine.inductionProbe();
    const best = Math.max(...Array.from(probe.scores));
    if (best < 0.3) {
      await expect.poll(() => page.getByTestId('atlas-none').textContent(), { timeout: 30_000 }).toContain('above 0.3');
      expect(await page.getByTestId('atlas-none').textContent()).toContain(best.toFixed(2));
    } else {
      await page.waitForTimeout(1000);
      expect(await page.getByTestId('atlas-none').count()).toBe(0);
    }
    // The enlarged head names its tokens.
    const box = await page.getByTestId('atlas-canvas').boundingBox();
    if (!box) throw new Error('no atlas');
    await page.mouse.move(box.x + 40, box.y + 60);
    await page.getByTestId('atlas-enlarged-canvas').waitFor();
    const hasText = await page.getByTestId('atlas-enlarged-canvas').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')?.getImageData(0, c.height / 2, 40, 40).data ?? new Uint8ClampedArray(); // left margin: row labels
      return Array.from(d).some((v, i) => i % 4 === 3 && v > 0);
    });
    expect(hasText).toBe(true);
    await page.screenshot({ path: `${SHOTS}/atlas-none-1280x800-light.png` });
    await context.close();
  });

  it('exports carry a title and are 2×; a comparison saves as one figure', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(16);
    await chooseHead(page, 0, 0);
    const downloads: { name: string; bytes: Buffer }[] = [];
    page.on('download', (d) => {
      void d.path().then((p) => p && downloads.push({ name: d.suggestedFilename(), bytes: readFileSync(p) }));
    });
    const pngWidth = (b: Buffer): number => b.readUInt32BE(16);
    const pngHeight = (b: Buffer): number => b.readUInt32BE(20);
    const svgWidth = async (testid: string): Promise<number> =>
      page
        .getByTestId(testid)
        .first()
        .evaluate((e) => (e as SVGSVGElement).width.baseVal.value);

    await page.getByTestId('grid-save-svg').click();
    await expect.poll(() => downloads.length).toBe(1);
    const svg = downloads[0]?.bytes.toString('utf8') ?? '';
    expect(svg).toContain(suite.vm.label);
    expect(svg).toContain('Layer 0, head 0');
    expect(svg).toContain(SENTENCE);
    await page.getByTestId('grid-save-png').click();
    await expect.poll(() => downloads.length).toBe(2);
    expect(pngWidth(downloads[1]?.bytes ?? Buffer.alloc(24))).toBeGreaterThanOrEqual(2 * (await svgWidth('qk-grid')));

    // Compare two heads and their difference: one file holding all three panels.
    await page.getByTestId('pin-head').click();
    await page.keyboard.press('ArrowDown');
    await page.getByTestId('pin-head').click();
    await page.getByTestId('view-atlas').click();
    await page.getByTestId('compare-diff').check();
    await page.getByTestId('compare-save-svg').click();
    await expect.poll(() => downloads.length).toBe(3);
    await page.waitForTimeout(1000); // no second file follows
    expect(downloads).toHaveLength(3);
    const cmp = downloads[2]?.bytes.toString('utf8') ?? '';
    expect(downloads[2]?.name).toBe('compare-L0H0-L1H0-diff.svg');
    expect(cmp.match(/role="grid"/g)).toHaveLength(3);
    expect(cmp).toContain('Compare: L0 H0, L1 H0');

    // The atlas at 2× with a title band above it.
    const css = await page
      .getByTestId('atlas-canvas')
      .evaluate((c: HTMLCanvasElement) => c.getBoundingClientRect().toJSON() as DOMRect);
    await page.getByTestId('atlas-save-png').click();
    await expect.poll(() => downloads.length).toBe(4);
    const atlas = downloads[3]?.bytes ?? Buffer.alloc(24);
    expect(pngWidth(atlas)).toBeGreaterThanOrEqual(2 * Math.floor(css.width));
    expect(pngHeight(atlas)).toBeGreaterThan(2 * Math.floor(css.height) + 60);
    await context.close();
  });

  it('shows that a data export is under way until the file arrives', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      delayFor: (channel) => (channel === 'atlas:export-data' ? 2500 : 0),
    });
    await page.getByTestId('qk-grid').waitFor();
    const done = page.waitForEvent('download');
    await page.getByTestId('export-data').click();
    await page.getByTestId('export-progress').waitFor();
    expect(await page.getByTestId('export-progress').textContent()).toMatch(/Exporting 16 tokens × \d+ hooks/);
    expect(await page.getByTestId('export-data').isDisabled()).toBe(true);
    await done;
    await expect.poll(() => page.getByTestId('export-progress').count()).toBe(0);
    expect(await page.getByTestId('save-note').textContent()).toContain('Downloaded');
    await context.close();
  });

  it('grows the text box with its text and shows where the analysed part of a long paste ends', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    const box = page.getByTestId('text-input');
    const lineHeight = await box.evaluate((e) => parseFloat(getComputedStyle(e).lineHeight));
    await box.fill('one\ntwo\nthree\nfour\nfive');
    const fiveLines = await box.evaluate((e) => e.clientHeight);
    expect(fiveLines).toBeGreaterThan(4.5 * lineHeight); // all five lines show
    const long = Array.from({ length: 60 }, (_, i) => `Line ${i} of a long pasted page about attention.`).join('\n');
    await box.fill(long);
    const height = await box.evaluate((e) => e.clientHeight);
    expect(height).toBeLessThan(9.5 * lineHeight); // grows, but only so far
    const a = await suite.vm.engine.analyze({ text: long, prependEndOfText: false });
    const end = a.tokens[a.tokens.length - 1]?.end ?? 0;
    expect(a.truncatedFrom).not.toBeNull();
    await expect
      .poll(() => page.getByTestId('analysed-end').textContent(), { timeout: 20_000 })
      .toContain(`first ${end.toLocaleString('en-US')} of ${long.length.toLocaleString('en-US')} characters`);
    await box.evaluate((e) => (e.scrollTop = e.scrollHeight)); // as after a paste: the end in view
    await page.getByTestId('show-analysed-end').click();
    expect(await box.evaluate((e: HTMLTextAreaElement) => e.selectionEnd)).toBe(end);
    const line = long.slice(0, end).split('\n').length - 1;
    const top = await box.evaluate((e) => e.scrollTop);
    expect(Math.abs(top + height / 2 - line * lineHeight)).toBeLessThan(height / 2 + lineHeight); // that line is in view
    await page.screenshot({ path: `${SHOTS}/long-paste-1280x800-light.png` });
    await context.close();
  });

  it('coalesces keystrokes while the engine is busy, and a reply that never comes does not freeze the view', async () => {
    const stuck = 'A reply to this text takes a minute';
    const analyses: string[] = [];
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      delayFor: (channel, arg) => {
        if (channel !== 'atlas:analyze') return 0;
        analyses.push((arg as { text: string }).text);
        return (arg as { text: string }).text === stuck ? 60_000 : 0;
      },
    });
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('text-input').fill(stuck);
    await expect.poll(() => analyses.includes(stuck)).toBe(true);
    // Typed while the engine is busy: one request for the newest text, not one per keystroke.
    const before = analyses.length;
    await page.getByTestId('text-input').fill('');
    await page.getByTestId('text-input').pressSequentially('The cat sat.', { delay: 20 });
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 15_000 }).toBe(4);
    expect(analyses.length - before).toBeLessThanOrEqual(3);
    expect(analyses.at(-1)).toBe('The cat sat.');
    await context.close();
  });
});
