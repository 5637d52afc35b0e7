import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Analysis } from '../../src/shared/api';
import { STAGES, headOffset, stageView } from '../../src/shared/attention-math';
import { hookNames } from '../../src/shared/hooks';
import { chooseHead, openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';

const SENTENCE = 'The cat sat on the mat because it was tired.';

/** The 3Blue1Brown attention view, driven as a learner drives it, on the real engine. */
describe('attention view in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let a: Analysis;
  beforeAll(async () => {
    a = await suite.vm.engine.analyze({ text: SENTENCE, prependEndOfText: false });
  });

  async function typeSentence(page: Page): Promise<void> {
    const input = page.getByTestId('text-input');
    await input.fill('');
    await input.pressSequentially(SENTENCE, { delay: 2 });
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(a.tokens.length);
    await page.getByTestId('qk-grid').waitFor();
    // These tests follow layer 0, head 0 (the bundled model's previous-token head), not the
    // head the view opens on.
    await chooseHead(page, 0, 0);
  }

  /** Hover the centre of cell (q, k) and read the tooltip. */
  async function hoverCell(page: Page, q: number, k: number): Promise<string> {
    const box = await page.locator(`[data-testid="qk-grid"] [data-q="${q}"][data-k="${k}"]`).first().boundingBox();
    if (!box) throw new Error(`cell ${q},${k} not drawn`);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    return (await page.getByTestId('grid-tooltip').textContent()) ?? '';
  }

  /**
   * Hovers cell (q, k) of the main grid by its position (a batched grid has no element per
   * cell), scrolling it to the middle of the grid's box first, and reads the tooltip's value.
   */
  /** Half the last printed decimal of QkGrid's tooltip (3 decimals, 2 from 10, 1 from 100), plus rounding slack. */
  const printedTolerance = (v: number): number => (Math.abs(v) >= 100 ? 0.051 : Math.abs(v) >= 10 ? 0.0051 : 0.00051);

  async function tooltipValueAt(page: Page, q: number, k: number): Promise<number> {
    const at = await page.evaluate(
      ([q, k]) => {
        const svg = document.querySelector('[data-testid="qk-grid"]') as SVGSVGElement;
        const frame = svg.querySelector('.frame') as SVGRectElement;
        const n = Number(svg.getAttribute('data-tokens'));
        const c = Number(frame.getAttribute('width')) / n;
        const b3 = svg.getAttribute('data-orientation') === '3b1b';
        const x = Number(frame.getAttribute('x')) + ((b3 ? q : k) + 0.5) * c;
        const y = Number(frame.getAttribute('y')) + ((b3 ? k : q) + 0.5) * c;
        const scroller = svg.parentElement as HTMLElement;
        scroller.scrollLeft = x - scroller.clientWidth / 2;
        scroller.scrollTop = y - scroller.clientHeight / 2;
        const r = svg.getBoundingClientRect();
        return { x: r.left + x, y: r.top + y };
      },
      [q, k] as const,
    );
    // The scroll event (which moves the sticky labels) lands on the next frame: wait for it.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.mouse.move(at.x - 3, at.y - 3);
    await page.mouse.move(at.x, at.y);
    const text = (await page.getByTestId('grid-tooltip-value').textContent()) ?? '';
    return Number(text.split('=').pop());
  }

  const T = (): number => a.tokens.length;
  const dh = (): number => a.model.dHead;
  const headDot = (l: number, h: number): Float32Array => {
    const o = headOffset(l, h, a.model.nHeads, T());
    return a.dot.subarray(o, o + T() * T());
  };

  it('shows tokens, steps through every stage with the engine’s numbers, masks, sums and toggles', async () => {
    const { page, context, console: consoleMessages } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await typeSentence(page);
    const chips = (await page.getByTestId('tokens').locator('button').allTextContents()).map((s) => s.trim());
    expect(chips).toEqual(a.tokens.map((t) => t.display.replace(/ /g, '␣')));
    expect(await page.getByTestId('model-label').textContent()).toContain(suite.vm.label);

    const grid = page.getByTestId('qk-grid');
    expect(await grid.getAttribute('data-orientation')).toBe('3b1b');
    const nMasked = (T() * (T() - 1)) / 2;
    const litPart: Record<string, string> = { dot: 'Q·Kᵀ', scale: '√d', mask: 'mask(', softmax: 'softmax(', weights: '· V' };
    for (const stage of STAGES) {
      await page.getByTestId(`stage-${stage}`).click();
      expect(await grid.getAttribute('data-stage')).toBe(stage);
      expect((await page.getByTestId('formula').locator('.lit').allTextContents()).join(' ')).toContain(litPart[stage]);
      const want = stageView(headDot(0, 0), T(), dh(), stage, { scale: true, mask: true }).values;
      // Query 5 attends to key 2: the tooltip shows the exact value of this stage.
      const tip = await hoverCell(page, 5, 2);
      expect(tip).toContain(a.tokens[5]?.display.replace(/ /g, '␣'));
      const shownText = /= (-?[\d.]+)/.exec(tip)?.[1] ?? '';
      const shown = Number(shownText);
      // Exact to the digits shown: half a unit in the last one (large raw dot products, like the
      // bundled model's previous-token head, are shown with fewer decimals).
      const decimals = shownText.split('.')[1]?.length ?? 0;
      expect(Math.abs(shown - (want[5 * T() + 2] ?? 0))).toBeLessThan(0.5 * 10 ** -decimals + 1e-4);
      const masked = await grid.locator('.masked').count();
      expect(masked).toBe(stage === 'dot' || stage === 'scale' ? 0 : nMasked);
      if (stage === 'mask') expect(await hoverCell(page, 2, 5)).toContain('masked');
      await page.screenshot({ path: `${SHOTS}/view-1280x800-light-${stage}.png` });
    }

    // Softmax stage: each query's weights sum to 1, shown once per query.
    await page.getByTestId('stage-softmax').click();
    const sums = await page.getByTestId('query-sum').allTextContents();
    expect(sums).toHaveLength(T());
    expect(sums.every((x) => x === '1.00')).toBe(true);
    // With both toggles on the drawn weights are the engine's hook_pattern.
    const o = headOffset(0, 0, a.model.nHeads, T());
    const drawn = Number(await grid.locator('[data-q="7"][data-k="3"]').getAttribute('data-value'));
    expect(Math.abs(drawn - (a.pattern[o + 7 * T() + 3] ?? 0))).toBeLessThan(1e-6);

    // Mask off: no struck cells, weight flows to the future and the caption says how much.
    await page.getByTestId('toggle-mask').click();
    expect(await grid.locator('.masked').count()).toBe(0);
    // The future weight is the unmasked softmax's (it can underflow to 0 in a sharp head, such as
    // the bundled model's previous-token head, so compare with the reference, not with 0).
    const unmasked = stageView(headDot(0, 0), T(), dh(), 'softmax', { scale: true, mask: false }).values;
    const future = Number(await grid.locator('[data-q="2"][data-k="5"]').getAttribute('data-value'));
    expect(Math.abs(future - (unmasked[2 * T() + 5] ?? -1))).toBeLessThan(1e-6);
    expect(await grid.locator('.future').count()).toBe(nMasked);
    expect(await page.getByTestId('mask-effect').textContent()).toMatch(
      /Mask off: on average \d+\.\d% of each query’s weight now flows to later tokens/,
    );
    await page.screenshot({ path: `${SHOTS}/view-1280x800-light-mask-off.png` });
    await page.getByTestId('toggle-mask').click();

    // Scaling off: the caption reports the entropy drop.
    await page.getByTestId('toggle-scale').click();
    const scaleCaption = (await page.getByTestId('scale-effect').textContent()) ?? '';
    const [, on, off] = /from ([\d.]+) to ([\d.]+) nats/.exec(scaleCaption) ?? [];
    expect(Number(off)).toBeLessThanOrEqual(Number(on));
    const unscaled = stageView(headDot(0, 0), T(), dh(), 'softmax', { scale: false, mask: true }).values;
    expect(
      Math.abs(Number(await grid.locator('[data-q="7"][data-k="3"]').getAttribute('data-value')) - (unscaled[7 * T() + 3] ?? 0)),
    ).toBeLessThan(1e-6);
    await page.screenshot({ path: `${SHOTS}/view-1280x800-light-scale-off.png` });
    await page.getByTestId('toggle-scale').click();
    expect(consoleMessages).toEqual([]);
    await context.close();
  });

  it('explains a selected cell: q, k, their products summing to hook_dot, values and ΔE', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await typeSentence(page);
    await page.getByTestId('stage-dot').click();
    await hoverCell(page, 6, 1);
    await page.mouse.down();
    await page.mouse.up();
    await page.getByTestId('selected-cell').waitFor();
    expect(await page.getByTestId('dot-pair').textContent()).toContain('(6)');
    await expect.poll(async () => page.getByTestId('dot-sum').getAttribute('data-value'), { timeout: 15_000 }).not.toBeNull();
    const sum = Number(await page.getByTestId('dot-sum').getAttribute('data-value'));
    expect(Math.abs(sum - (headDot(0, 0)[6 * T() + 1] ?? 0))).toBeLessThan(1e-4);
    // ΔE of query 6 for this head is hook_result[6, head 0]: its norm is the engine's result norm.
    const norm = Number(await page.getByTestId('delta-e-norm').getAttribute('data-value'));
    expect(Math.abs(norm - (a.resultNorm[6 * a.model.nHeads + 0] ?? 0))).toBeLessThan(1e-3);
    // Value rows are the keys this query attends to, at most up to itself.
    const ks = await page.getByTestId('value-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-k'))));
    expect(ks.length).toBeGreaterThan(0);
    expect(ks.every((k) => k <= 6)).toBe(true);
    // Predictions for position 6 (asked for on demand: the analysis carries the last token's).
    const want = await suite.vm.engine.predictions({ text: a.text, prependEndOfText: false, position: 6 });
    const shownP = (): Promise<string[]> => page.getByTestId('predictions').locator('li .p').allTextContents();
    await expect.poll(shownP, { timeout: 15_000 }).toEqual(Array.from(want.probs, (p) => `${(100 * p).toFixed(1)}%`));
    expect(want.position).not.toBe(a.topK.position);
    // Hovering a token chip highlights its row and column in the grid.
    await page.getByTestId('tokens').locator('button').nth(4).hover();
    expect(await page.getByTestId('qk-grid').locator('.band').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}/view-1280x800-light-selected.png` });
    await context.close();
  });

  it('switches head and layer, toggles and transposes from the keyboard', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { colorScheme: 'dark' });
    await typeSentence(page);
    await page.getByTestId('stage-softmax').click();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const current = page.getByTestId('current-head');
    await page.keyboard.press('ArrowRight');
    expect(await current.textContent()).toBe('layer 0, head 1');
    await page.keyboard.press('ArrowDown');
    expect(await current.textContent()).toBe('layer 1, head 1');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await current.textContent()).toBe(`layer 1, head ${a.model.nHeads - 1}`);
    // The grid now shows that head's weights.
    const l = 1;
    const h = a.model.nHeads - 1;
    const o = headOffset(l, h, a.model.nHeads, T());
    const grid = page.getByTestId('qk-grid');
    await expect
      .poll(async () => Number(await grid.locator('[data-q="8"][data-k="2"]').getAttribute('data-value')))
      .toBeCloseTo(a.pattern[o + 8 * T() + 2] ?? 0, 6);
    await page.keyboard.press('m');
    expect(await page.getByTestId('toggle-mask').isChecked()).toBe(false);
    await page.keyboard.press('m');
    await page.keyboard.press('s');
    expect(await page.getByTestId('toggle-scale').isChecked()).toBe(false);
    await page.keyboard.press('s');
    await page.keyboard.press('t');
    expect(await grid.getAttribute('data-orientation')).toBe('rows-are-queries');
    await page.keyboard.press('2');
    expect(await grid.getAttribute('data-stage')).toBe('scale');
    await page.keyboard.press(']');
    expect(await grid.getAttribute('data-stage')).toBe('mask');
    await page.screenshot({ path: `${SHOTS}/view-1280x800-dark-transposed-mask.png` });
    // Typing in the text box never triggers shortcuts.
    await page.getByTestId('text-input').press('m');
    expect(await page.getByTestId('toggle-mask').isChecked()).toBe(true);
    await context.close();
  });

  for (const [w, h] of [
    [1280, 800],
    [1920, 1080],
  ] as const) {
    for (const scheme of ['light', 'dark'] as const) {
      it(`renders every stage at ${w}×${h} in ${scheme} mode`, async () => {
        const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
          width: w,
          height: h,
          colorScheme: scheme,
        });
        await typeSentence(page);
        for (const stage of STAGES) {
          await page.getByTestId(`stage-${stage}`).click();
          await page.waitForTimeout(500); // let the stage transition finish before the picture
          await page.screenshot({ path: `${SHOTS}/stage-${stage}-${w}x${h}-${scheme}.png` });
        }
        // The grid, its labels and the side panels all fit side by side at this size.
        const gridBox = await page.getByTestId('qk-grid').boundingBox();
        const predBox = await page.getByTestId('predictions').boundingBox();
        expect(gridBox && predBox && gridBox.x + gridBox.width <= predBox.x).toBe(true);
        await context.close();
      });
    }
  }

  it('keeps the newest result when an older, slower answer arrives last, with a quiet hint meanwhile', async () => {
    const slowText = 'An old sentence that the engine answers slowly';
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      delayFor: (channel, arg) => (channel === 'atlas:analyze' && (arg as { text?: string }).text === slowText ? 2500 : 0),
    });
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('text-input').fill(slowText);
    // The slow request is in flight: the hint appears, the previous result stays on screen.
    await expect.poll(() => page.getByTestId('status').textContent(), { timeout: 5_000 }).toBe('Analysing…');
    expect(await page.getByTestId('qk-grid').count()).toBe(1);
    await page.getByTestId('text-input').fill(SENTENCE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 10_000 }).toBe(a.tokens.length);
    // The old answer lands after the new one and must not replace it.
    await page.waitForTimeout(3000);
    const chips = (await page.getByTestId('tokens').locator('button').allTextContents()).map((s) => s.trim());
    expect(chips).toEqual(a.tokens.map((t) => t.display.replace(/ /g, '␣')));
    expect(await page.getByTestId('status').textContent()).toBe('');
    await context.close();
  });

  it('asks for the score decomposition and the head detail once typing pauses, not per keystroke', async () => {
    const { page, context, calls } = await openApp(suite.browser, suite.url, suite.vm.engine);
    await page.getByTestId('qk-grid').waitFor();
    await page.getByTestId('score-sum').waitFor({ timeout: 10_000 });
    const input = page.getByTestId('text-input');
    await input.fill('');
    const from = calls.length;
    // 40 keystrokes 20 ms apart: each analysis lands well inside the 150 ms hold of the last one.
    await input.pressSequentially(SENTENCE, { delay: 20 });
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(a.tokens.length);
    // Once typing has paused, the decomposition is asked for the final text and shown.
    await expect.poll(() => calls.slice(from).includes('atlas:explain-score'), { timeout: 10_000 }).toBe(true);
    await page.getByTestId('score-sum').waitFor({ timeout: 10_000 });
    const typed = calls.slice(from);
    const count = (c: string): number => typed.filter((x) => x === c).length;
    const analyses = count('atlas:analyze');
    expect(analyses).toBeGreaterThanOrEqual(10);
    // Before: one score decomposition per analysis. A loaded machine may stretch a gap past the
    // hold now and then, so the bound leaves room for a few.
    expect(count('atlas:explain-score')).toBeGreaterThanOrEqual(1);
    expect(count('atlas:explain-score')).toBeLessThan(analyses / 3);
    expect(count('atlas:head-detail')).toBeLessThan(analyses / 3);
    await context.close();
  });

  it('sends no detail request for a text already typed over while its successor is in flight', async () => {
    const first = 'The cat sat on the mat';
    const typedOver = `${first} and`;
    const last = `${first} and slept`;
    const detailTexts: string[] = [];
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      delayFor: (channel, arg) => {
        const text = (arg as { text?: string }).text ?? '';
        if (channel === 'atlas:explain-score' || channel === 'atlas:head-detail') detailTexts.push(text);
        // The typed-over text and its successor answer slowly, so the successor is sent while the
        // typed-over one is still out, and is still out itself when the hold after that one ends.
        return channel === 'atlas:analyze' && (text === typedOver || text === last) ? 1500 : 0;
      },
    });
    await page.getByTestId('qk-grid').waitFor();
    const input = page.getByTestId('text-input');
    await input.fill(first);
    await expect.poll(() => detailTexts.includes(first), { timeout: 10_000 }).toBe(true);
    await input.fill(typedOver);
    await input.fill(last);
    await expect.poll(() => detailTexts.includes(last), { timeout: 10_000 }).toBe(true);
    await page.getByTestId('score-sum').waitFor({ timeout: 10_000 });
    // Before: the typed-over text's detail and decomposition went out 150 ms after it landed,
    // in front of the text that replaced it.
    expect(detailTexts.filter((t) => t === typedOver)).toEqual([]);
    await context.close();
  });

  it('does not show an older text’s score decomposition as the current one while the new one waits', async () => {
    const edited = `A dog. ${SENTENCE}`;
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      // The edited text's decomposition answers slowly: in between, the old one must not pass for it.
      delayFor: (channel, arg) => (channel === 'atlas:explain-score' && (arg as { text?: string }).text === edited ? 2500 : 0),
    });
    const input = page.getByTestId('text-input');
    await input.fill(SENTENCE);
    await page.getByTestId('stage-dot').click();
    // A cell that stays on screen after the edit: the old decomposition would match it.
    await hoverCell(page, 6, 1);
    await page.mouse.down();
    await page.mouse.up();
    await page.getByTestId('selected-cell').waitFor();
    await page.getByTestId('score-sum').waitFor({ timeout: 10_000 });
    await input.fill(edited);
    await expect.poll(() => page.getByTestId('tokens').locator('button').first().textContent(), { timeout: 10_000 }).toBe('A');
    await page.waitForTimeout(400); // past the hold: the request is out, its answer is not
    expect(await page.getByTestId('score-sum').count()).toBe(0);
    await page.getByTestId('score-sum').waitFor({ timeout: 10_000 });
    await context.close();
  });

  it('does not show an older text’s vectors as the current ones after an edit that keeps the token count', async () => {
    const edited = SENTENCE.replace('cat', 'dog');
    const engine = suite.vm.engine;
    const count = (text: string): number => engine.tokenize({ text, prependEndOfText: false }).ids.length;
    expect(count(edited)).toBe(count(SENTENCE)); // the case the token count could not tell apart
    const { page, context } = await openApp(suite.browser, suite.url, engine, {
      // The edited text's detail answers slowly: in between, the old one must not pass for it.
      delayFor: (channel, arg) => (channel === 'atlas:head-detail' && (arg as { text?: string }).text === edited ? 2500 : 0),
    });
    const input = page.getByTestId('text-input');
    await input.fill(SENTENCE);
    await page.getByTestId('dot-sum').waitFor({ timeout: 10_000 });
    await page.getByTestId('delta-e-norm').waitFor({ timeout: 10_000 });
    const before = await page.getByTestId('dot-sum').getAttribute('data-value');
    await input.fill(edited);
    await expect
      .poll(() => page.getByTestId('tokens').locator('button').nth(1).textContent(), { timeout: 10_000 })
      .toContain('dog');
    await page.waitForTimeout(400); // past the hold: the request is out, its answer is not
    // Before: the first text's q·k and ΔE stayed on screen under the edited text's tokens.
    expect(await page.getByTestId('dot-sum').count()).toBe(0);
    expect(await page.getByTestId('delta-e-norm').count()).toBe(0);
    await page.getByTestId('dot-sum').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('dot-sum').getAttribute('data-value')).not.toBe(before);
    await context.close();
  });

  it('draws an edit near the start of a long text before the rest of the text has run', async () => {
    const long = Array.from({ length: 14 }, (_, i) => `Sentence ${i} says the cat sat on the mat.`).join(' ');
    const edited = `A ${long}`;
    const engine = suite.vm.engine;
    const n = engine.tokenize({ text: edited, prependEndOfText: false }).ids.length;
    expect(n).toBeGreaterThan(128);
    const asked: { text: string; drawnFirst: boolean }[] = [];
    const { page, context } = await openApp(suite.browser, suite.url, engine, {
      delayFor: (channel, arg) => {
        const r = arg as { text?: string; drawnFirst?: boolean };
        if (channel !== 'atlas:analyze') return 0;
        asked.push({ text: r.text ?? '', drawnFirst: r.drawnFirst === true });
        // The rest of the edited text answers slowly, so the page can be read in between.
        return r.text === edited && !r.drawnFirst ? 2500 : 0;
      },
    });
    const input = page.getByTestId('text-input');
    await input.fill(long);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(n - 1);
    // The strip lists every token from the first answer on; the whole text's answer ends the wait.
    await expect.poll(() => page.getByTestId('tokens-waiting').count(), { timeout: 20_000 }).toBe(0);
    await input.fill(edited);
    // The square's tokens are drawn: the grid's first row is the new first token, every token
    // is listed, and the strip says which are still running.
    const firstRow = (): Promise<string | null> => page.getByTestId('qk-grid').locator('.label.row').first().textContent();
    await expect.poll(firstRow, { timeout: 10_000 }).toBe('A 0');
    expect(await page.getByTestId('tokens-waiting').textContent()).toBe(
      `The grid is ready; tokens 128–${n - 1} are still running through the model.`,
    );
    expect(await page.getByTestId('tokens').locator('button.waiting').count()).toBe(n - 128);
    expect(await page.getByTestId('tokens').locator('button').count()).toBe(n);
    await page.screenshot({ path: `${SHOTS}/attention-drawn-first.png` });
    // Then the whole text lands: nothing is waiting any more.
    await expect.poll(() => page.getByTestId('tokens-waiting').count(), { timeout: 10_000 }).toBe(0);
    expect(await page.getByTestId('tokens').locator('button.waiting').count()).toBe(0);
    // Asked square first, then the whole without the flag.
    expect(asked.filter((r) => r.text === edited).map((r) => r.drawnFirst)).toEqual([true, false]);
    await context.close();
  });

  it('paints a large grid at the screen’s pixel density, follows a change of density, and paints the dark theme', async () => {
    const long = Array.from({ length: 5 }, (_, i) => `Sentence ${i} says the cat sat on the mat.`).join(' ');
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { deviceScaleFactor: 2, colorScheme });
      await page.getByTestId('text-input').fill(long);
      await page.locator('[data-testid="qk-grid"] .batched[data-drawn]').waitFor({ timeout: 10_000 });
      const got = await page.evaluate(() => {
        const layer = document.querySelector('[data-testid="qk-grid"] .batched') as SVGForeignObjectElement;
        const canvas = layer.querySelector('canvas') as HTMLCanvasElement;
        const side = Number(layer.getAttribute('width'));
        // The most opaque pixel: the centre of the largest |q·k|'s dot, drawn at full opacity.
        const img = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height);
        let best = 3;
        for (let at = 7; at < img.data.length; at += 4) if ((img.data[at] ?? 0) > (img.data[best] ?? 0)) best = at;
        const colour = Array.from(img.data.slice(best - 3, best + 1));
        return { device: canvas.width, css: parseFloat(canvas.style.width), side, colour };
      });
      // Two device pixels per CSS pixel, and at least the grid's size: nothing is upscaled.
      expect(got.device / got.css).toBe(2);
      expect(got.css).toBeGreaterThanOrEqual(got.side);
      // The theme's own colours (styles.css): a dot is orange or purple in light, light orange or lavender in dark.
      const palette = colorScheme === 'light' ? ['e66101', '5e3c99'] : ['fdb863', 'b2abd2'];
      const [r, g, b, a] = got.colour;
      expect(a).toBe(255);
      const near = palette.some((hex) =>
        [0, 1, 2].every((i) => Math.abs(parseInt(hex.slice(2 * i, 2 * i + 2), 16) - ([r, g, b][i] ?? -99)) <= 2),
      );
      expect(near, `most opaque pixel ${got.colour.join(',')} in ${colorScheme}`).toBe(true);
      await page.screenshot({ path: `${SHOTS}/grid-canvas-2x-${colorScheme}.png` });
      if (colorScheme === 'light') {
        // The window moves to a screen of density 1 (or the page is zoomed): the canvas follows
        // instead of staying at the old density. (Chromium's emulation reports a density change
        // to media queries only with a size change, as a zoom or a move between screens brings;
        // 1 px here, so the grid's own layout, and with it every other reason to repaint, stays.)
        const cdp = await context.newCDPSession(page);
        await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 801, deviceScaleFactor: 1, mobile: false });
        const density = (): Promise<number> =>
          page.evaluate(() => {
            const canvas = document.querySelector('[data-testid="qk-grid"] .batched canvas') as HTMLCanvasElement;
            return canvas.width / parseFloat(canvas.style.width);
          });
        await expect.poll(density, { timeout: 5_000 }).toBe(1);
        // A zoom to 110 %: the bitmap keeps its size (it grows in 256-pixel steps), its size on
        // the page must still follow, or the cells would drift off their labels.
        await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 802, deviceScaleFactor: 1.1, mobile: false });
        await expect.poll(async () => Math.round((await density()) * 1000) / 1000, { timeout: 5_000 }).toBe(1.1);
      }
      await context.close();
    }
  });

  it('scales to a long sentence and says what the view keeps', async () => {
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { width: 1280, height: 800 });
    const long = Array.from({ length: 12 }, (_, i) => `Sentence ${i} says the cat sat on the mat.`).join(' ');
    await page.getByTestId('text-input').fill(long);
    const n = suite.vm.engine.tokenize({ text: long, prependEndOfText: false }).ids.length;
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(n);
    // Past 32 tokens a side the cells are batched paths (QkGrid.svelte), not an element each.
    const drawn = Math.min(n, 128);
    expect(await page.getByTestId('qk-grid').locator('.batched').getAttribute('data-cells')).toBe(String(drawn * drawn));
    expect(await page.getByTestId('qk-grid').locator('circle, .masked, rect.weight').count()).toBe(0);
    if (n > 128) expect(await page.getByTestId('grid-limit').textContent()).toContain(`first 128 of ${n}`);
    await page.screenshot({ path: `${SHOTS}/view-long-1280x800-light.png` });
    // Typing past the drawn square: the engine sends no new square and the page keeps its own;
    // what it draws must still be the new text's hook_dot.
    const longer = `${long} The end`;
    await page.getByTestId('text-input').fill(longer);
    const ids = suite.vm.engine.tokenize({ text: longer, prependEndOfText: false }).ids;
    await expect.poll(() => page.getByTestId('tokens').locator('button').count(), { timeout: 20_000 }).toBe(ids.length);
    await chooseHead(page, 0, 0);
    const hooks = await suite.vm.engine.run(ids, [hookNames(0).dot]);
    const dot0 = hooks[hookNames(0).dot]?.data as Float32Array; // [H, T, T]
    // The canvas paints each large dot in its sign's colour at the cell's centre: orange
    // (--pos, #e66101) for q·k > 0, purple (--neg, #5e3c99) below 0, read back from its pixels.
    const drawnT = Math.min(ids.length, 128);
    let top = 0;
    for (let q = 0; q < drawnT; q++)
      for (let k = 0; k < drawnT; k++) top = Math.max(top, Math.abs(dot0[q * ids.length + k] ?? 0));
    const big: [number, number, number][] = [];
    for (let q = 0; q < drawnT; q += 3)
      for (let k = 0; k < drawnT; k += 5) {
        const v = dot0[q * ids.length + k] ?? 0;
        if (Math.abs(v) >= 0.3 * top) big.push([q, k, v]);
      }
    expect(big.some(([, , v]) => v > 0)).toBe(true);
    expect(big.some(([, , v]) => v < 0)).toBe(true);
    const pixels = await page.evaluate((cells) => {
      const layer = document.querySelector('[data-testid="qk-grid"] .batched') as SVGForeignObjectElement;
      const canvas = layer.querySelector('canvas') as HTMLCanvasElement;
      const n = Number(layer.closest('svg')?.getAttribute('data-tokens'));
      // The grid's frame, in the canvas's own coordinates (the layer leaves a margin around it).
      const frame = layer.closest('svg')?.querySelector('.frame') as SVGRectElement;
      const ox = Number(frame.getAttribute('x')) - Number(layer.getAttribute('x'));
      const oy = Number(frame.getAttribute('y')) - Number(layer.getAttribute('y'));
      const c = Number(frame.getAttribute('width')) / n;
      const scale = window.devicePixelRatio;
      const img = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height);
      return cells.map(([q, k]) => {
        // 3Blue1Brown orientation: queries along the top (columns), keys down the rows.
        const x = Math.floor((ox + (q + 0.5) * c) * scale);
        const y = Math.floor((oy + (k + 0.5) * c) * scale);
        const at = (y * canvas.width + x) * 4;
        return Array.from(img.data.slice(at, at + 4));
      });
    }, big);
    big.forEach(([q, k, v], i) => {
      const [r, g, b, a] = pixels[i] ?? [];
      const want = v > 0 ? [0xe6, 0x61, 0x01] : [0x5e, 0x3c, 0x99];
      expect(a, `alpha at q ${q}, k ${k}`).toBeGreaterThan(0.5 * 255);
      for (const [got, w] of [
        [r, want[0]],
        [g, want[1]],
        [b, want[2]],
      ] as const)
        expect(Math.abs((got ?? -99) - (w ?? 0)), `colour at q ${q}, k ${k} (${v})`).toBeLessThanOrEqual(6);
    });
    for (const [q, k] of [
      [100, 99],
      [127, 3],
      [127, 127],
    ] as const) {
      // The tooltip prints q·k to 3 decimals (2 past 10): what the person sees at that cell.
      const want = dot0[q * ids.length + k] ?? 0;
      expect(Math.abs((await tooltipValueAt(page, q, k)) - want)).toBeLessThanOrEqual(printedTolerance(want));
    }
    // Another head, chosen after the edit: its square is fetched on demand, then drawn.
    await chooseHead(page, 1, 2);
    const dot1 = (await suite.vm.engine.run(ids, [hookNames(1).dot]))[hookNames(1).dot]?.data as Float32Array;
    await expect.poll(() => page.getByTestId('qk-grid').locator('.empty').count(), { timeout: 15_000 }).toBe(0);
    const want = dot1[(2 * ids.length + 120) * ids.length + 7] ?? 0;
    expect(Math.abs((await tooltipValueAt(page, 120, 7)) - want)).toBeLessThanOrEqual(printedTolerance(want));
    // The SVG export carries the batched cells as vector paths with their fills resolved.
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('grid-save-svg').click()]);
    const text = readFileSync((await svg.path()) ?? '', 'utf8');
    const paths = text.match(/<path [^>]*d="M[^"]{200,}"[^>]*>/g) ?? [];
    expect(paths.length).toBeGreaterThan(1);
    for (const p of paths) expect(p).toMatch(/fill-opacity:\s*[0-9.]+/);
    expect(text).not.toMatch(/var\(--/);
    await context.close();
  });
});
