import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { readViewState, viewStateToParam } from '../../src/shared/view-state';
import { chooseHead, openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

const TEXT = 'When Mary and John went to the store, John gave a drink to Mary.';

/** Reproducible views: export → open → the same pixels, three ways. */
describe('view files round-trip in Debian Chromium', () => {
  const suite = useBrowserSuite();

  /** The grid once the view has settled, the mouse parked where it hovers nothing. */
  async function gridShot(page: Page): Promise<Buffer> {
    await page.mouse.move(640, 5);
    // A full repaint of the grid, so earlier partial repaints leave no antialiasing traces.
    await page.getByTestId('qk-grid').evaluate(async (el: SVGSVGElement) => {
      el.style.display = 'none';
      void el.getBoundingClientRect();
      await new Promise((r) => requestAnimationFrame(r));
      el.style.display = '';
    });
    await page.getByTestId('selected-cell').waitFor();
    await page.getByTestId('sink-note').waitFor();
    const grid = page.getByTestId('qk-grid');
    await expect.poll(() => grid.getAttribute('data-stage')).toBe('softmax');
    // Dots and squares ease between stages over 450 ms (QkGrid.svelte): let them land.
    await page.waitForTimeout(1000);
    return grid.screenshot();
  }

  async function download(page: Page, testId: string): Promise<Buffer> {
    const [d] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
    return readFileSync((await d.path()) ?? '');
  }

  it('the JSON file, a URL parameter and an exported PNG dropped on the window restore the exact view', async () => {
    const info = suite.vm.engine.modelInfo();
    const a = await openApp(suite.browser, suite.url, suite.vm.engine);
    const page = a.page;
    await page.getByTestId('text-input').fill(TEXT);
    const T = (await suite.vm.engine.analyze({ text: TEXT, prependEndOfText: false })).tokens.length;
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(T);
    await chooseHead(page, info.nLayers - 1, 2);
    await page.getByTestId('stage-softmax').click();
    await page.getByTestId('transpose').click();
    await page.getByTestId('toggle-sink').check();
    const cell = page.locator('[data-testid="qk-grid"] [data-q="9"][data-k="3"]').first();
    const box = await cell.boundingBox();
    if (!box) throw new Error('cell not drawn');
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const before = await gridShot(page);

    const json = await download(page, 'save-view');
    const state = readViewState(json);
    expect(state).toMatchObject({
      model: { id: info.id, weightsHash: info.weightsHash },
      text: TEXT,
      view: 'attention',
      layer: info.nLayers - 1,
      head: 2,
      stage: 'softmax',
      selected: { q: 9, k: 3 },
      toggles: { transposed: true, sinkAware: true, mask: true, scale: true },
    });
    expect(info.weightsHash).toMatch(/^[0-9a-f]{64}$/);
    // Every exported figure carries the same state.
    const png = await download(page, 'grid-save-png');
    expect(readViewState(png)).toEqual(state);
    const svg = await download(page, 'grid-save-svg');
    expect(readViewState(svg)).toEqual(state);
    await a.context.close();

    // A URL parameter (browser mode; `atlas open` prints such a URL).
    const b = await openApp(suite.browser, `${suite.url}?view=${viewStateToParam(state)}`, suite.vm.engine);
    const viaUrl = await gridShot(b.page);
    expect(await b.page.getByTestId('text-input').inputValue()).toBe(TEXT);
    expect(viaUrl.equals(before)).toBe(true);
    // The restored view exports the very same figure, byte for byte (state included).
    expect((await download(b.page, 'grid-save-png')).equals(png)).toBe(true);
    await b.page.screenshot({ path: `${SHOTS}/view-restored-1280x800.png` });
    await b.context.close();

    // The exported PNG dropped on a window showing something else.
    const c = await openApp(suite.browser, suite.url, suite.vm.engine);
    await c.page.getByTestId('qk-grid').waitFor();
    await c.page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'grid.png', { type: 'image/png' }));
      window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, png.toString('base64'));
    const viaDrop = await gridShot(c.page);
    expect(viaDrop.equals(before)).toBe(true);
    expect(await c.page.getByTestId('save-note').textContent()).toContain('View restored');
    expect((await download(c.page, 'grid-save-svg')).equals(svg)).toBe(true);
    expect([...a.console, ...b.console, ...c.console]).toEqual([]);
    await c.context.close();
  });
});
