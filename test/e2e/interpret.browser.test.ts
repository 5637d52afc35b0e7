import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { headOffset } from '../../src/shared/attention-math';
import { chooseHead, openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

const SENTENCE = 'The old man looked at the sea, and the old man smiled.';

/** Issue 18 in the browser: the score decomposition panel on the real engine. */
describe('why a query attends to a key, in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let a: Analysis;
  beforeAll(async () => {
    a = await suite.vm.engine.analyze({ text: SENTENCE, prependEndOfText: false });
  });

  async function typeSentence(page: Page): Promise<void> {
    const input = page.getByTestId('text-input');
    await input.fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(a.tokens.length);
    await page.getByTestId('qk-grid').waitFor();
  }

  async function selectCell(page: Page, q: number, k: number): Promise<void> {
    const box = await page.locator(`[data-testid="qk-grid"] [data-q="${q}"][data-k="${k}"]`).first().boundingBox();
    if (!box) throw new Error(`cell ${q},${k} not drawn`);
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByTestId('selected-cell').waitFor();
  }

  it('splits the selected cell’s q·k into terms that add up to hook_dot, grouped by layer with drill-down', async () => {
    const { page, context, console: logs } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await typeSentence(page);
    const L = a.model.nLayers - 1;
    await chooseHead(page, L, 1);
    await page.getByTestId('stage-dot').click();
    const [q, k] = [11, 2];
    await selectCell(page, q, k);
    const sum = page.getByTestId('score-sum');
    const T = a.tokens.length;
    const want = a.dot[headOffset(L, 1, a.model.nHeads, T) + q * T + k] ?? 0;
    await expect.poll(async () => Number(await sum.getAttribute('data-total')), { timeout: 20_000 }).toBeCloseTo(want, 3);
    const total = Number(await sum.getAttribute('data-total'));
    const terms = Number(await sum.getAttribute('data-sum'));
    expect(Math.abs(terms - total)).toBeLessThan(1e-4 * Math.max(1, Math.abs(total)));
    // Collapsed: embed, pos, one row per earlier layer, bias.
    const matrix = page.getByTestId('score-matrix');
    expect(await matrix.locator('tbody tr').count()).toBe(3 + L);
    // Drill down into layer 0 on the query side: its heads, b_O and MLP.
    await page.getByTestId('score-row-L0').click();
    expect(await matrix.locator('tbody tr').count()).toBe(3 + L - 1 + a.model.nHeads + 2);
    expect(await page.getByTestId('score-top').locator('li').count()).toBe(4);
    expect(await page.getByTestId('score-top').textContent()).toMatch(/query side: .+ × key side: /);
    await page.getByTestId('score-panel').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/score-decomposition-1280x800.png` });
    expect(logs).toEqual([]);
    await context.close();
  });
});

describe('head evidence and ablation, in Debian Chromium', () => {
  const suite = useBrowserSuite();
  const text = 'The old man looked at the sea, and the old man smiled.';

  it('shows each label’s score, source and threshold, and ablates the head exactly as the engine does', async () => {
    const a = await suite.vm.engine.analyze({ text, prependEndOfText: false });
    const { page, context, console: logs } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(text);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(a.tokens.length);
    await chooseHead(page, 0, 0);
    const H = a.model.nHeads;
    const prev = page.getByTestId('evidence-previous-token');
    await expect
      .poll(async () => Number(await prev.getAttribute('data-score')))
      .toBeCloseTo(a.headStats.previousToken[0] ?? -1, 5);
    expect(await prev.getAttribute('data-met')).toBe(String((a.headStats.previousToken[0] ?? 0) >= 0.5));
    expect(await prev.textContent()).toContain('≥ 0.5');
    // Induction and duplicate-token scores come from the probe once it has run.
    const probe = await suite.vm.engine.inductionProbe();
    const dup = page.getByTestId('evidence-duplicate-token');
    await expect
      .poll(async () => Number(await dup.getAttribute('data-score')), { timeout: 30_000 })
      .toBeCloseTo(probe.duplicateScores[0 * H + 0] ?? -1, 5);
    expect(await dup.textContent()).toContain('this text:');

    await page.getByTestId('ablate-mean').click();
    const want = await suite.vm.engine.ablate({
      text,
      prependEndOfText: false,
      layer: 0,
      head: 0,
      mode: 'mean',
      token: a.tokens.length - 1,
    });
    const summary = page.getByTestId('ablation-summary');
    await summary.waitFor({ timeout: 30_000 });
    expect(Number(await summary.getAttribute('data-kl'))).toBeCloseTo(want.kl, 8);
    const shown = await page
      .getByTestId('ablation-probs')
      .locator('li')
      .evaluateAll((li) => li.map((x) => [Number(x.getAttribute('data-id')), Number(x.getAttribute('data-ablated'))]));
    expect(shown).toEqual(want.top.map((x) => [x.id, x.ablated]));
    expect(await page.getByTestId('ablation-deltas').locator('li').count()).toBe(a.model.nLayers);
    await page.getByTestId('evidence-panel').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/head-evidence-ablation-1280x800.png` });
    expect(logs).toEqual([]);
    await context.close();
  });
});

describe('sink-aware view, in Debian Chromium', () => {
  const suite = useBrowserSuite();
  const text = 'When Mary and John went to the store, John gave a drink to Mary.';

  it('is off by default; on, it hides the first-token column, renormalises rows and says so; the atlas shows sink shares', async () => {
    const a = await suite.vm.engine.analyze({ text, prependEndOfText: false });
    const T = a.tokens.length;
    const { page, context, console: logs } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(text);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(T);
    const layer = a.model.nLayers - 1;
    await chooseHead(page, layer, 0);
    await page.getByTestId('stage-softmax').click();
    const toggle = page.getByTestId('toggle-sink');
    expect(await toggle.isChecked()).toBe(false);
    expect(await page.getByTestId('sink-note').count()).toBe(0);
    await toggle.check();
    await page.getByTestId('sink-note').waitFor();
    const cells = await page
      .locator('[data-testid="qk-grid"] [data-value]')
      .evaluateAll((els) =>
        els.map((e) => [
          Number(e.getAttribute('data-q')),
          Number(e.getAttribute('data-k')),
          Number(e.getAttribute('data-value')),
        ]),
      );
    const pattern = a.pattern.subarray(headOffset(layer, 0, a.model.nHeads, T), headOffset(layer, 0, a.model.nHeads, T) + T * T);
    const sums = new Array<number>(T).fill(0);
    for (const [q, k, v] of cells) {
      if (q === undefined || k === undefined || v === undefined) continue;
      if (k === 0) expect(v).toBe(0);
      else {
        let rest = 0;
        for (let j = 1; j < T; j++) rest += pattern[q * T + j] ?? 0;
        expect(v).toBeCloseTo((pattern[q * T + k] ?? 0) / rest, 5);
        sums[q] = (sums[q] ?? 0) + v;
      }
    }
    for (let q = 1; q < T; q++) expect(sums[q]).toBeCloseTo(1, 4);
    await page.screenshot({ path: `${SHOTS}/sink-aware-1280x800.png` });
    // Atlas: each head's sink share on hover.
    await page.getByTestId('view-atlas').click();
    const canvas = page.getByTestId('atlas-canvas');
    await canvas.waitFor();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no atlas');
    const thumb = (await canvas.evaluate((c) => c.getBoundingClientRect().width)) / a.model.nHeads;
    await page.mouse.move(box.x + thumb * 0.5, box.y + 60);
    expect(await page.getByTestId('atlas-sink-share').textContent()).toContain(
      `sink share: ${(100 * (a.headStats.firstToken[0] ?? 0)).toFixed(0)}%`,
    );
    await page.screenshot({ path: `${SHOTS}/sink-aware-atlas-1280x800.png` });
    expect(logs).toEqual([]);
    await context.close();
  });
});
