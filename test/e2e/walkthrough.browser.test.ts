import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { headOffset } from '../../src/shared/attention-math';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

/** The book's embeddings (Raschka, ch. 3.3.1) and what it prints for them. */
const X = [
  [0.43, 0.15, 0.89],
  [0.55, 0.87, 0.66],
  [0.57, 0.85, 0.64],
  [0.22, 0.58, 0.33],
  [0.77, 0.25, 0.1],
  [0.05, 0.8, 0.55],
];
const BOOK_SCORES_2 = ['0.9544', '1.4950', '1.4754', '0.8434', '0.7070', '1.0865'];
const BOOK_WEIGHTS_2 = ['0.1385', '0.2379', '0.2333', '0.1240', '0.1082', '0.1581'];
const BOOK_Z_2 = ['0.4419', '0.6515', '0.5683'];

/** Plain loops, independent of the app: scores, softmax weights and context vectors. */
function book(): { scores: number[][]; weights: number[][]; z: number[][] } {
  const scores = X.map((a) => X.map((b) => a.reduce((s, v, i) => s + v * (b[i] ?? 0), 0)));
  const weights = scores.map((row) => {
    const e = row.map(Math.exp);
    const total = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / total);
  });
  const z = weights.map((row) => [0, 1, 2].map((d) => row.reduce((s, w, j) => s + w * (X[j]?.[d] ?? 0), 0)));
  return { scores, weights, z };
}
const f4 = (v: number): string => v.toFixed(4);

describe('walkthrough in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let a: Analysis;
  beforeAll(async () => {
    a = await suite.vm.engine.analyze({
      text: 'The cat sat on the mat because it was tired, and the cat slept.',
      prependEndOfText: false,
    });
  });

  const chips = async (page: Page, id: string): Promise<string[]> =>
    (await page.getByTestId(id).locator('.num').allTextContents()).map((x) => x.trim());
  const cells = async (page: Page, id: string): Promise<string[]> =>
    (await page.getByTestId(id).locator('td').allTextContents()).map((x) => x.trim());

  it('computes the book’s numbers, asks before it shows, and bridges to the real model', async () => {
    const ref = book();
    const { page, context, console: consoleMessages } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('view-walkthrough').click();
    const body = page.getByTestId('walk-body');
    expect(await body.getAttribute('data-step')).toBe('tokens');
    expect(await cells(page, 'walk-inputs')).toEqual(X.flat().map((v) => v.toFixed(2)));

    // Keyboard: → is the next step.
    await page.keyboard.press('ArrowRight');
    expect(await body.getAttribute('data-step')).toBe('scores');
    // Predict first: nothing drawn, a question asked.
    await page.getByTestId('walk-question').waitFor();
    expect(await page.getByTestId('walk-grid').locator('circle').count()).toBe(0);
    await page.getByTestId('walk-grid').locator('[data-q="1"][data-k="0"]').click(); // "Your": a wrong guess
    const answer = (await page.getByTestId('walk-answer').textContent()) ?? '';
    expect(answer).toContain('Not quite');
    expect(answer).toContain('“journey”: 1.4950');
    expect(await chips(page, 'walk-query-scores')).toEqual(BOOK_SCORES_2);
    expect(await chips(page, 'walk-query-scores')).toEqual((ref.scores[1] ?? []).map(f4));
    // All 36 scores are drawn with the computed value.
    const drawn = await page
      .getByTestId('walk-grid')
      .locator('circle')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    expect(drawn).toHaveLength(36);
    const dq = await page.getByTestId('walk-grid').locator('circle[data-q="3"][data-k="5"]').getAttribute('data-value');
    expect(Number(dq)).toBeCloseTo(ref.scores[3]?.[5] ?? NaN, 5);

    await page.getByTestId('walk-next').click();
    expect(await chips(page, 'walk-query-weights')).toEqual([...BOOK_WEIGHTS_2, 'Σ = 1.0000']);
    expect(await page.getByTestId('walk-grid').getByTestId('query-sum').allTextContents()).toEqual(['1.0000']);

    await page.getByTestId('walk-next').click();
    const z2 = await page.getByTestId('walk-z2').locator('td').allTextContents();
    expect(z2).toEqual(BOOK_Z_2);
    expect(z2).toEqual((ref.z[1] ?? []).map(f4));

    await page.getByTestId('walk-next').click();
    const weights = await page
      .getByTestId('walk-grid')
      .locator('rect.weight')
      .evaluateAll((els) =>
        els.map((e) => [
          Number(e.getAttribute('data-q')),
          Number(e.getAttribute('data-k')),
          Number(e.getAttribute('data-value')),
        ]),
      );
    expect(weights).toHaveLength(36);
    for (const [q, k, v] of weights) expect(f4(v ?? NaN)).toBe(f4(ref.weights[q ?? 0]?.[k ?? 0] ?? NaN));
    expect(await cells(page, 'walk-all-context')).toEqual(ref.z.flat().map(f4));

    await page.getByTestId('walk-next').click(); // projections
    expect(await page.getByTestId('walk-ours').textContent()).toContain('own fixed matrices');
    await page.getByTestId('walk-next').click(); // q·k
    await page.getByTestId('walk-next').click(); // scale: predict
    await page.getByTestId('walk-question').waitFor();
    expect(await page.getByTestId('walk-grid-unscaled').locator('rect.weight').count()).toBe(0);
    await page.getByTestId('walk-choice-flatter').click();
    expect(await page.getByTestId('walk-answer').textContent()).toContain('Not quite');
    const top = async (id: string): Promise<number> =>
      Math.max(
        ...(await page
          .getByTestId(id)
          .locator('rect.weight[data-q="1"]')
          .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))))),
      );
    // Without ÷√d_k journey's weights are peakier: its top weight grows.
    expect(await top('walk-grid-unscaled')).toBeGreaterThan((await top('walk-grid')) + 0.03);

    await page.getByTestId('walk-next').click(); // weights and z
    await page.getByTestId('walk-next').click(); // mask: predict
    await page.getByTestId('walk-question').waitFor();
    await page.getByTestId('walk-grid').locator('[data-q="0"][data-k="0"]').click();
    expect(await page.getByTestId('walk-answer').textContent()).toContain('Right!');
    expect(await page.getByTestId('walk-grid').locator('.masked').count()).toBe(15);
    expect(
      Number(await page.getByTestId('walk-grid').locator('rect.weight[data-q="0"][data-k="0"]').getAttribute('data-value')),
    ).toBe(1);

    // The bridge: the real model, opened at the matching stage.
    await page.getByTestId('walk-next').click();
    expect(await page.getByTestId('walk-grid').locator('circle').count()).toBe(a.drawn * a.drawn);
    await page.getByTestId('walk-open-scale').click();
    expect(await page.getByTestId('qk-grid').getAttribute('data-stage')).toBe('scale');
    await page.getByTestId('view-walkthrough').click();
    expect(await body.getAttribute('data-step')).toBe('realScores'); // kept its place

    await page.getByTestId('walk-step-atlas').click();
    await page.getByTestId('walk-question').waitFor();
    // The previous-token head by plain loops over the engine's hook_pattern.
    const { nLayers: L, nHeads: H } = a.model;
    const T = a.drawn;
    let best = { layer: 0, head: 0, score: -1 };
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        const o = headOffset(l, h, H, T);
        let s = 0;
        for (let q = 1; q < T; q++) s += a.pattern[o + q * T + q - 1] ?? 0;
        if (s / (T - 1) > best.score) best = { layer: l, head: h, score: s / (T - 1) };
      }
    }
    await page.getByTestId(`thumb-L${L - 1}H${H - 1}`).click();
    const atlasAnswer = (await page.getByTestId('walk-answer').textContent()) ?? '';
    expect(atlasAnswer).toContain(`Layer ${best.layer}, head ${best.head}`);
    expect(atlasAnswer).toContain(best.score.toFixed(2));
    await page.getByTestId('walk-open-head').click();
    expect(await page.getByTestId('current-head').textContent()).toBe(`layer ${best.layer}, head ${best.head}`);
    expect(consoleMessages).toEqual([]);
    await context.close();
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`renders every step at 1280×800 (${scheme}) for a look`, async () => {
      const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { colorScheme: scheme });
      await page.getByTestId('qk-grid').waitFor();
      // An empty text box offers the walkthrough.
      await page.getByTestId('text-input').fill('');
      await page.getByTestId('start-screen').waitFor();
      await page.screenshot({ path: `${SHOTS}/start-1280x800-${scheme}.png` });
      await page.getByTestId('start-walkthrough').click();
      await page.getByTestId('walkthrough').waitFor();
      // The real-model steps use the learner's sentence.
      await page.getByTestId('text-input').fill('The cat sat on the mat because it was tired, and the cat slept.');
      const steps = await page
        .locator('[data-testid^="walk-step-"]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')));
      expect(steps.length).toBeGreaterThanOrEqual(12);
      for (const [i, id] of steps.entries()) {
        await page.getByTestId(id ?? '').click();
        if (await page.getByTestId('walk-reveal').count()) await page.getByTestId('walk-reveal').click();
        await page.getByTestId('walk-body').waitFor();
        await page.screenshot({
          path: `${SHOTS}/walk-${String(i + 1).padStart(2, '0')}-${id?.replace('walk-step-', '')}-1280x800-${scheme}.png`,
        });
      }
      await context.close();
    });
  }
});
