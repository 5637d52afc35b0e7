import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

/**
 * A training log in train.py's format for SMALL_SPEC (3 layers × 4 heads), shaped like a run in
 * which heads form: L0H1 becomes a previous-token head around step 300, L1H0 a first-token head,
 * L2H3 an induction head in a bump around step 1,500; the rest drift near uniform.
 */
function writeLog(dir: string): void {
  const L = SMALL_SPEC.nLayer;
  const H = SMALL_SPEC.nHead;
  const steps: number[] = [];
  for (let s = 1; s <= 4096; s *= 2) steps.push(s);
  for (let s = 100; s <= 4000; s += 100) steps.push(s);
  const sorted = [...new Set(steps)].sort((a, b) => a - b);
  const sig = (s: number, mid: number, width: number): number => 1 / (1 + Math.exp(-(Math.log(s) - Math.log(mid)) / width));
  const noise = (i: number, r: number): number => 0.03 * Math.abs(Math.sin(i * 12.9898 + r * 78.233));
  const rows = (peak: number, mid: number, to: number): number[][] =>
    sorted.map((s, r) =>
      Array.from({ length: L * H }, (_, i) =>
        Math.min(1, (i === peak ? 0.05 + to * sig(s, mid, 0.25) : 0.04 + 0.06 * sig(s, 800, 0.6)) + noise(i, r)),
      ),
    );
  const log = {
    steps: [25, 50],
    train_loss: [10.5, 9.8],
    head_scores: {
      layers: L,
      heads: H,
      steps: sorted,
      tokens: sorted.map((s) => s * 16 * 256),
      previous_token: rows(1, 300, 0.85),
      first_token: rows(4, 1200, 0.65),
      induction: rows(11, 1500, 0.5),
      definitions: 'per head, index layer*heads + head, as src/shared/head-scores.ts',
    },
  };
  writeFileSync(join(dir, 'training-log.json'), JSON.stringify(log));
}

describe('how this model’s heads formed (training-log.json) in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let engine: Engine;

  beforeAll(async () => {
    const dir = writeRandomModel(SMALL_SPEC);
    writeLog(dir);
    engine = new Engine({ cacheDir: tempDir() });
    await engine.load(dir);
  });
  afterAll(async () => {
    await engine?.unload();
  });

  it('shows nothing for a model without per-head scores in its log (the bundled one)', async () => {
    const { page, context, calls } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('model-label').waitFor();
    await expect.poll(() => calls.includes('atlas:training-history')).toBe(true);
    await page.waitForTimeout(200);
    expect(await page.getByTestId('heads-formed-open').count()).toBe(0);
    expect(await page.getByTestId('heads-formed').count()).toBe(0);
    await context.close();
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`draws one line per head over training, the top heads in colour, for each score (1280×800 ${scheme})`, async () => {
      const {
        page,
        context,
        console: consoleMessages,
      } = await openApp(suite.browser, suite.url, engine, {
        colorScheme: scheme,
      });
      const open = page.getByTestId('heads-formed-open');
      await open.waitFor({ timeout: 20_000 });
      expect(await open.textContent()).toBe('How its heads formed');
      await open.click();
      const dialog = page.getByTestId('heads-formed');
      await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(true);
      const canvas = page.getByTestId('heads-formed-chart').locator('canvas').first();
      await canvas.waitFor();
      /** Pixels of the chart close to a top head's colour (Okabe–Ito blue, vermillion, green). */
      const coloured = (): Promise<number[]> =>
        canvas.evaluate((c) => {
          const cv = c as HTMLCanvasElement;
          const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
          const targets = [
            [0, 114, 178],
            [213, 94, 0],
            [0, 158, 115],
          ];
          const n = [0, 0, 0];
          for (let i = 0; i < d.length; i += 4) {
            targets.forEach(([r, g, b], k) => {
              if (Math.abs(d[i]! - r!) + Math.abs(d[i + 1]! - g!) + Math.abs(d[i + 2]! - b!) < 40 && d[i + 3]! > 200) n[k]!++;
            });
          }
          return n;
        });
      await expect.poll(async () => Math.min(...(await coloured())), { timeout: 10_000 }).toBeGreaterThan(50);
      expect(await dialog.textContent()).toContain('How this model’s heads formed');
      expect(await dialog.textContent()).toContain('at 53 points of training up to step 4096');
      await page.screenshot({ path: `${SHOTS}/heads-formed-1280x800-${scheme}.png` });

      for (const key of ['induction', 'firstToken'] as const) {
        const before = await canvas.screenshot();
        await page.getByTestId(`heads-formed-${key}`).check();
        await expect.poll(async () => Buffer.compare(await canvas.screenshot(), before) !== 0).toBe(true);
      }
      await page.getByTestId('heads-formed-induction').check();
      await page.waitForTimeout(150);
      await page.screenshot({ path: `${SHOTS}/heads-formed-induction-1280x800-${scheme}.png` });
      await page.keyboard.press('Escape');
      await expect.poll(() => dialog.evaluate((d) => (d as HTMLDialogElement).open)).toBe(false);
      expect(consoleMessages).toEqual([]);
      await context.close();
    });
  }
});
