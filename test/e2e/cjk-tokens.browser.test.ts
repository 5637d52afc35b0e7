import { describe, expect, it } from 'vitest';
import { headOffset } from '../../src/shared/attention-math';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

const TEXT = '注意力机制是大模型的核心';

describe('Chinese text in the token strip and the grid', () => {
  const suite = useBrowserSuite();

  it('shows each split character once over its pieces, never bare bytes, and aggregates per character only on request', async () => {
    const a = await suite.vm.engine.analyze({ text: TEXT, prependEndOfText: false });
    const { page, context, console: consoleMessages } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('text-input').fill(TEXT);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(a.tokens.length);
    // Independent grouping: consecutive tokens whose bytes decode to no whole character belong
    // to the character they complete. Checked here through what the page shows.
    const groups = page.getByTestId('char-group');
    const shown = await groups.evaluateAll((els) =>
      els.map((e) => ({
        char: e.querySelector('.char')?.textContent ?? '',
        pieces: e.querySelectorAll('button').length,
        title: e.getAttribute('title') ?? '',
      })),
    );
    expect(shown.length).toBeGreaterThan(0);
    const first = shown[0];
    expect(first?.char).toBe('注');
    expect(first?.title).toContain(`${first?.pieces} tokens`);
    // Every character of the text appears, once, in order, over chips or as a chip of its own.
    const strip = (
      await page
        .getByTestId('tokens')
        .evaluate((e) =>
          Array.from(e.querySelectorAll(':scope > li')).map(
            (li) => li.querySelector('.char')?.textContent ?? li.textContent?.trim() ?? '',
          ),
        )
    ).join('');
    expect(strip).toBe(TEXT);
    // No chip and no axis label is a bare hex byte.
    const chipTexts = await page.getByTestId('tokens').locator('button').allTextContents();
    const labels = await page.getByTestId('qk-grid').locator('.label').allTextContents();
    for (const x of [...chipTexts, ...labels]) expect(x).not.toMatch(/‹|^[0-9a-f]{2}( [0-9a-f]{2})*$/);
    expect(await page.getByTestId('qk-grid').getByTestId('char-span').allTextContents()).toEqual(shown.map((g) => g.char));

    // The aggregate is a choice, off by default, for weights only.
    await page.getByTestId('layer-0').click();
    await page.getByTestId('head-0').click();
    const toggle = page.getByTestId('toggle-per-character');
    expect(await toggle.isChecked()).toBe(false);
    expect(await toggle.isDisabled()).toBe(true); // score stages
    await page.getByTestId('stage-softmax').click();
    await toggle.check();
    await page.getByTestId('aggregate-note').waitFor();
    const G = TEXT.length;
    expect(await page.getByTestId('qk-grid').getByTestId('query-sum').count()).toBe(G);
    for (const x of await page.getByTestId('qk-grid').getByTestId('query-sum').allTextContents()) expect(x).toBe('1.00');
    // Plain loops over the engine's hook_pattern: sum over the key character's pieces, mean over the query's.
    const spans: [number, number][] = [];
    for (let i = 0; i < a.tokens.length;) {
      const c = a.tokens[i]?.charGroup.count ?? 1;
      spans.push([i, c]);
      i += c;
    }
    expect(spans).toHaveLength(G);
    const T = a.drawn;
    const o = headOffset(0, 0, a.model.nHeads, T);
    const agg = (gq: number, gk: number): number => {
      const [q0, qn] = spans[gq] ?? [0, 1];
      const [k0, kn] = spans[gk] ?? [0, 1];
      let s = 0;
      for (let q = q0; q < q0 + qn; q++) for (let k = k0; k < k0 + kn; k++) s += a.pattern[o + q * T + k] ?? 0;
      return s / qn;
    };
    for (const [gq, gk] of [
      [5, 3],
      [11, 0],
      [4, 4],
    ] as const) {
      const v = Number(
        await page.getByTestId('qk-grid').locator(`[data-q="${gq}"][data-k="${gk}"]`).first().getAttribute('data-value'),
      );
      expect(v).toBeCloseTo(agg(gq, gk), 4);
    }
    await page.screenshot({ path: `${SHOTS}/cjk-per-character-1280x800-light.png` });
    await toggle.uncheck();
    await expect.poll(() => page.getByTestId('qk-grid').getByTestId('query-sum').count()).toBe(a.tokens.length);
    expect(consoleMessages).toEqual([]);
    await context.close();
  });
});
