import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { headOffset } from '../../src/shared/attention-math';
import { hookNames } from '../../src/shared/hooks';
import { chooseHead, openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { maxAbsDiff, tempDir } from '../helpers/fixtures';
import { readNpy } from '../helpers/npy-reader';

const SENTENCE = 'When Mary and John went to the store, John gave a drink to Mary.';

/** Atlas of heads, compare, contributions and export, on the real engine. */
describe('atlas, compare and contributions in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let a: Analysis;
  beforeAll(async () => {
    a = await suite.vm.engine.analyze({ text: SENTENCE, prependEndOfText: false });
  });

  const T = (): number => a.tokens.length;
  const L = (): number => a.model.nLayers;
  const H = (): number => a.model.nHeads;

  async function ready(page: Page): Promise<void> {
    await page.getByTestId('text-input').fill(SENTENCE);
    // The exact tokens, not just their number: the default text also has 16 tokens.
    const want = a.tokens.map((t) => t.display.replace(/ /g, '␣'));
    await expect
      .poll(async () => (await page.getByTestId('tokens').locator('button').allTextContents()).map((x) => x.trim()), {
        timeout: 20_000,
      })
      .toEqual(want);
    // Start from layer 0, head 0, not the head the view opens on (shared/default-head.ts).
    await chooseHead(page, 0, 0);
  }

  for (const scheme of ['light', 'dark'] as const) {
    it(`draws every head, enlarges on hover, opens on click and pins on Shift+click (${scheme})`, async () => {
      const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { colorScheme: scheme });
      await ready(page);
      await page.getByTestId('view-atlas').click();
      const canvas = page.getByTestId('atlas-canvas');
      await canvas.waitFor();
      expect(await page.getByTestId('atlas-count').textContent()).toBe(`${L() * H()} of ${L() * H()} heads`);
      const order = (await canvas.getAttribute('data-order'))?.split(',') ?? [];
      expect(order[0]).toBe('0.0');
      expect(order).toHaveLength(L() * H());
      // The canvas really has the patterns on it: not a blank rectangle.
      const inked = await canvas.evaluate((c: HTMLCanvasElement) => {
        const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
        const distinct = new Set<number>();
        for (let i = 0; i < d.length; i += 16) distinct.add((d[i] ?? 0) * 65536 + (d[i + 1] ?? 0) * 256 + (d[i + 2] ?? 0));
        return distinct.size;
      });
      expect(inked).toBeGreaterThan(20);
      const box = await canvas.boundingBox();
      if (!box) throw new Error('no atlas');
      // Thumbnail (layer 0, head 1): second column, first row.
      const thumb = (await canvas.evaluate((c) => c.getBoundingClientRect().width)) / H();
      await page.mouse.move(box.x + thumb * 1.5, box.y + 60);
      expect(await page.getByTestId('atlas-enlarged').textContent()).toContain('L0 H1');
      await page.screenshot({ path: `${SHOTS}/atlas-1280x800-${scheme}.png` });
      // Shift+click pins it; the pin count shows.
      await page.keyboard.down('Shift');
      await page.mouse.click(box.x + thumb * 1.5, box.y + 60);
      await page.keyboard.up('Shift');
      expect(await page.getByTestId('compare-panel').count()).toBe(1);
      // Sorting by previous-token score puts the best previous-token head first.
      await page.getByTestId('atlas-order').selectOption('previousToken');
      const sorted = (await canvas.getAttribute('data-order'))?.split(',') ?? [];
      const prevScore = (key: string): number => {
        const [l, h] = key.split('.').map(Number);
        const o = headOffset(l ?? 0, h ?? 0, H(), T());
        let s = 0;
        for (let i = 1; i < T(); i++) s += a.pattern[o + i * T() + i - 1] ?? 0;
        return s / (T() - 1);
      };
      const scores = sorted.map(prevScore);
      expect([...scores].sort((x, y) => y - x)).toEqual(scores);
      // A plain click opens the head in the grid view.
      await page.getByTestId('atlas-order').selectOption('layer');
      await page.mouse.click(box.x + thumb * 1.5, box.y + 60);
      expect(await page.getByTestId('current-head').textContent()).toBe('layer 0, head 1');
      expect(await page.getByTestId('qk-grid').count()).toBe(1);
      await context.close();
    });
  }

  it('a keystroke carries the shown head’s square only; the atlas fetches every other head when it opens', async () => {
    const engine = suite.vm.engine;
    const analyze = engine.analyze.bind(engine);
    const asked: { text: string; squares: number[] | null }[] = [];
    engine.analyze = (req) => {
      asked.push({ text: req.text, squares: req.squares ?? null });
      return analyze(req);
    };
    try {
      const { page, context } = await openApp(suite.browser, suite.url, engine);
      await ready(page);
      const forSentence = (): { text: string; squares: number[] | null }[] => asked.filter((r) => r.text === SENTENCE);
      // Typed: one head's square with the reply (null would mean every head).
      expect(forSentence()[0]?.squares).toHaveLength(1);
      await page.getByTestId('view-atlas').click();
      await page.getByTestId('atlas-canvas').waitFor();
      const covered = (): number => {
        const heads = new Set<number>();
        for (const r of forSentence()) for (const h of r.squares ?? Array.from({ length: L() * H() }, (_, i) => i)) heads.add(h);
        return heads.size;
      };
      await expect.poll(covered, { timeout: 15_000 }).toBe(L() * H());
      await context.close();
    } finally {
      engine.analyze = analyze;
    }
  });

  it('paints each thumbnail under the toggles from the scores: every cell’s colour against a plain-loop softmax', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await ready(page);
    await page.getByTestId('view-atlas').click();
    const canvas = page.getByTestId('atlas-canvas');
    await canvas.waitFor();
    await page.keyboard.press('m'); // mask off: the atlas redoes every head's softmax itself
    // Reference: head (layer 1, head 2), softmax over the keys the toggles leave, in float64.
    const [l, h] = [1, 2];
    const n = T();
    const o = headOffset(l, h, H(), n);
    const weight = (q: number, k: number, mask: boolean, scale: boolean): number => {
      const seen = mask ? q + 1 : n;
      if (k >= seen) return 0;
      const row = Array.from({ length: seen }, (_, j) => (a.dot[o + q * n + j] ?? 0) / (scale ? Math.sqrt(a.model.dHead) : 1));
      const max = Math.max(...row);
      let sum = 0;
      for (const x of row) sum += Math.exp(x - max);
      return Math.exp((row[k] ?? 0) - max) / sum;
    };
    // The atlas's colour scale (HeadAtlas.svelte): background → --pos by √weight, 4096 levels.
    const [bg, fg] = [
      [0xff, 0xff, 0xff],
      [0xe6, 0x61, 0x01],
    ];
    const colour = (w: number): number[] =>
      [0, 1, 2].map((c) => Math.round((bg[c] ?? 0) + ((fg[c] ?? 0) - (bg[c] ?? 0)) * Math.sqrt(Math.round(w * 4096) / 4096)));
    // Mask off (keys down, then transposed), then mask on with the scaling off, each painted on
    // demand; then, after a pause, both off: a sheet the atlas painted ahead in idle time.
    for (const [keys, pause, mask, scale, transposed] of [
      [[], 100, false, true, false],
      [['t'], 100, false, true, true],
      [['m', 's'], 100, true, false, true],
      [['m'], 100, false, false, true],
    ] as const) {
      if (keys[0] === 'm' && !mask) await page.waitForTimeout(1000); // time to paint ahead
      for (const key of keys) await page.keyboard.press(key);
      await page.waitForTimeout(pause);
      // Every cell's centre pixel of that thumbnail (item layer·H + head in layer order).
      const pixels = await canvas.evaluate(
        (c: HTMLCanvasElement, { item, cols, n }) => {
          const css = c.getBoundingClientRect().width;
          const dpr = c.width / css;
          const thumb = css / cols - 6; // canvasW = cols · (thumb + GAP)
          const x0 = (item % cols) * (thumb + 6);
          const y0 = Math.floor(item / cols) * (thumb + 36) + 30; // + CAPTION_H
          const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
          const out: number[][] = [];
          for (let r = 0; r < n; r++)
            for (let col = 0; col < n; col++) {
              const x = Math.floor((x0 + ((col + 0.5) * thumb) / n) * dpr);
              const y = Math.floor((y0 + ((r + 0.5) * thumb) / n) * dpr);
              const i = (y * c.width + x) * 4;
              out.push([d[i] ?? 0, d[i + 1] ?? 0, d[i + 2] ?? 0]);
            }
          return out;
        },
        { item: l * H() + h, cols: H(), n },
      );
      let worst = 0;
      for (let r = 0; r < n; r++)
        for (let col = 0; col < n; col++) {
          // Keys down, queries across; transposed: queries down.
          const [q, k] = transposed ? [r, col] : [col, r];
          const want = colour(weight(q, k, mask, scale));
          const got = pixels[r * n + col] ?? [];
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs((got[c] ?? 0) - (want[c] ?? 0)));
        }
      expect(worst, `mask ${mask}, scale ${scale}, transposed ${transposed}`).toBeLessThanOrEqual(1);
    }
    await context.close();
  });

  it('a head switched to after the engine ran other text meanwhile is fetched and drawn, not left empty', async () => {
    const engine = suite.vm.engine;
    const { page, context } = await openApp(suite.browser, suite.url, engine);
    await ready(page);
    // Another request moves the engine's cache to other text (as a late predictions request or
    // a second browser tab does): the version the page holds is no longer the engine's, and the
    // engine runs the sentence again, under a new version, when the page asks for a square.
    await engine.analyze({ text: 'Something else entirely, typed in another tab.', prependEndOfText: false });
    await chooseHead(page, L() - 1, H() - 1);
    const grid = page.getByTestId('qk-grid');
    await expect.poll(() => grid.locator('.empty').count(), { timeout: 15_000 }).toBe(0);
    // And what is drawn is that head's own square: one of its raw scores, at the q·k stage.
    const mine = headOffset(L() - 1, H() - 1, H(), T());
    const cell = grid.locator('[data-q="3"][data-k="2"]').first();
    await page.keyboard.press('Escape');
    await page.keyboard.press('1'); // q·k
    await expect
      .poll(async () => Math.abs(Number(await cell.getAttribute('data-value')) - (a.dot[mine + 3 * T() + 2] ?? 0)), {
        timeout: 10_000,
      })
      .toBeLessThan(1e-4);
    await context.close();
  });

  it('settles when every square it fetches comes back under a new version (another tab moving the engine’s cache)', async () => {
    const engine = suite.vm.engine;
    const analyze = engine.analyze.bind(engine);
    let calls = 0;
    // Before each square fetch (a request that holds no version), "another tab" runs its own
    // sentence: the page's text is then run again and every reply carries a new version.
    engine.analyze = async (req) => {
      calls++;
      if (req.squares && req.haveSquare === undefined)
        await analyze({ text: 'Another tab’s sentence.', prependEndOfText: false });
      return analyze(req);
    };
    try {
      const { page, context } = await openApp(suite.browser, suite.url, engine);
      await ready(page);
      await expect.poll(() => page.getByTestId('qk-grid').locator('.empty').count(), { timeout: 15_000 }).toBe(0);
      // The layer's other heads are prefetched once typing has paused (500 ms); after that nothing
      // is missing, so nothing more is asked (keeping only the reply's heads re-asked for the
      // shown one, whose reply dropped the others: a request every half second, for ever).
      await page.waitForTimeout(1500);
      const settled = calls;
      await page.waitForTimeout(3000);
      expect(calls - settled).toBe(0);
      await expect.poll(() => page.getByTestId('qk-grid').locator('.empty').count(), { timeout: 5_000 }).toBe(0);
      await context.close();
    } finally {
      engine.analyze = analyze;
    }
  });

  it('compares pinned heads with one scale, synchronised hover, a difference view and presets', async () => {
    const { page, context, console: consoleMessages } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await ready(page);
    // Pin two heads from the picker, then compare.
    await page.getByTestId('pin-head').click();
    await page.keyboard.press('ArrowDown');
    await page.getByTestId('pin-head').click();
    await page.getByTestId('view-atlas').click();
    const panels = page.getByTestId('compare-panel');
    expect(await panels.count()).toBe(2);
    expect(await panels.evaluateAll((els) => els.map((e) => e.getAttribute('data-head')))).toEqual(['L0 H0', 'L1 H0']);
    await page.getByTestId('compare-diff').check();
    expect(await page.getByTestId('compare-diff-panel').count()).toBe(1);
    // Hover a cell in the first panel: every panel reports its own value for that cell.
    const cell = page.getByTestId('compare-grid').first().locator('[data-q="9"][data-k="4"]');
    const cb = await cell.boundingBox();
    if (!cb) throw new Error('no cell');
    await page.mouse.move(cb.x + cb.width / 2, cb.y + cb.height / 2);
    const values = (await page.getByTestId('compare-value').allTextContents()).map(Number);
    const w = (l: number, h: number): number => a.pattern[headOffset(l, h, H(), T()) + 9 * T() + 4] ?? 0;
    expect(values[0]).toBeCloseTo(w(0, 0), 3);
    expect(values[1]).toBeCloseTo(w(1, 0), 3);
    expect(values[2]).toBeCloseTo(w(0, 0) - w(1, 0), 3);
    expect(await page.getByTestId('synced-cell').count()).toBe(2); // the other two panels
    expect(consoleMessages).toEqual([]);
    await page.screenshot({ path: `${SHOTS}/compare-diff-1280x800-light.png`, fullPage: true });
    // Presets.
    await page.getByTestId('preset-layer').click();
    expect(await panels.count()).toBe(H());
    await page.getByTestId('preset-same-head').click();
    expect(await panels.evaluateAll((els) => els.map((e) => e.getAttribute('data-head')))).toEqual(
      Array.from({ length: L() }, (_, l) => `L${l} H0`),
    );
    // Toggles apply to every panel: mask off, no struck cells anywhere.
    await page.keyboard.press('m');
    expect(await page.getByTestId('compare-grid').locator('.masked').count()).toBe(0);
    await page.keyboard.press('m');
    expect(await page.getByTestId('compare-grid').first().locator('.masked').count()).toBe((T() * (T() - 1)) / 2);
    await page.screenshot({ path: `${SHOTS}/compare-presets-1280x800-light.png`, fullPage: true });
    await context.close();
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`shows contributions that match the engine (${scheme})`, async () => {
      const { page, context, console } = await openApp(suite.browser, suite.url, suite.vm.engine, { colorScheme: scheme });
      await ready(page);
      const token = 9;
      await page.getByTestId('tokens').locator('button').nth(token).click();
      await page.keyboard.press('ArrowDown'); // layer 1
      await page.getByTestId('view-contributions').click();
      const norm = page.getByTestId('contrib-selected-norm');
      await norm.waitFor();
      expect(Number(await norm.getAttribute('data-value'))).toBeCloseTo(a.resultNorm[(1 * T() + token) * H() + 0] ?? 0, 4);
      const c = await suite.vm.engine.contribution({ text: SENTENCE, prependEndOfText: false, layer: 1, head: 0, token });
      await expect.poll(() => page.getByTestId('contrib-raises').locator('[data-value]').count(), { timeout: 15_000 }).toBe(5);
      const raised = await page
        .getByTestId('contrib-raises')
        .locator('[data-value]')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
      expect(maxAbsDiff(raised, Array.from(c.raises.values))).toBeLessThan(1e-5);
      const lowered = await page
        .getByTestId('contrib-lowers')
        .locator('[data-value]')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
      expect(maxAbsDiff(lowered, Array.from(c.lowers.values))).toBeLessThan(1e-5);
      for (const id of ['contrib-heatmap', 'contrib-pca', 'contrib-sources']) {
        expect(await page.getByTestId(id).locator('canvas').count(), id).toBeGreaterThan(0);
      }
      await page.waitForTimeout(600);
      // The sources chart really draws both series: orange bars and the weight line in the accent
      // colour (ECharts silently skips a series type it was not given, so count pixels).
      const accentPixels = await page
        .getByTestId('contrib-sources')
        .locator('canvas')
        .first()
        .evaluate((c: HTMLCanvasElement) => {
          const accent = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();
          const [r, g, b] = [1, 3, 5].map((i) => parseInt(accent.slice(i, i + 2), 16));
          const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
          let n = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (
              Math.abs((d[i] ?? 0) - (r ?? 0)) < 24 &&
              Math.abs((d[i + 1] ?? 0) - (g ?? 0)) < 24 &&
              Math.abs((d[i + 2] ?? 0) - (b ?? 0)) < 24
            )
              n++;
          }
          return n;
        });
      expect(accentPixels).toBeGreaterThan(50);
      await page.screenshot({ path: `${SHOTS}/contributions-1280x800-${scheme}.png`, fullPage: true });
      expect(console).toEqual([]); // e.g. ECharts warns about a chart type it was not given
      await context.close();
    });
  }

  it('exports the analysis as a zip download whose .npy files equal the tensors, and the grid as SVG', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await ready(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-data').click()]);
    const dir = tempDir();
    const zipPath = join(dir, 'export.zip');
    await download.saveAs(zipPath);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const { readFileSync } = await import('node:fs');
    const files = unzipSync(new Uint8Array(readFileSync(zipPath)));
    const all = await suite.vm.engine.runAll(a.tokens.map((t) => t.id));
    const hook = hookNames(1).pattern;
    writeFileSync(join(dir, 'p.npy'), files[`${hook}.npy`] ?? new Uint8Array());
    expect(maxAbsDiff(readNpy(join(dir, 'p.npy')).data as Float32Array, all[hook]?.data as Float32Array)).toBe(0);
    expect(await page.getByTestId('save-note').textContent()).toContain('Downloaded');
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('grid-save-svg').click()]);
    const svgPath = join(dir, 'grid.svg');
    await svg.saveAs(svgPath);
    const text = readFileSync(svgPath, 'utf8');
    expect(text).toMatch(/^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(text).not.toMatch(/var\(--/); // styles resolved, not CSS variables
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('grid-save-png').click()]);
    const pngPath = join(dir, 'grid.png');
    await png.saveAs(pngPath);
    expect([...readFileSync(pngPath).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    await context.close();
  });
});
