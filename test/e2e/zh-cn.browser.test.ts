import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { ModelLibrary } from '../../src/engine/library';
import { ModelHost } from '../../src/main/model-host';
import { catalogs, en, type MessageKey } from '../../src/renderer/src/i18n';
import { openApp } from '../helpers/browser-host';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

const SENTENCE = 'The cat sat on the mat because it was tired, and the cat slept.';
/** Chinese text whose characters GPT-2's byte-level BPE keeps whole in some tokens. */
const CHINESE = '我的猫在这里。我的猫很小。';
const zh = catalogs['zh-CN'];

/**
 * English sentences of the UI (several words, no placeholders, translated differently): none of
 * them may be on a page that is in Chinese.
 */
const ENGLISH_SENTENCES = (Object.keys(en) as MessageKey[])
  .filter((k) => en[k] !== zh[k] && !en[k].includes('{') && en[k].trim().split(/\s+/).length >= 3)
  .map((k) => en[k]);

async function visibleEnglish(page: Page): Promise<string[]> {
  const text = await page.evaluate(() => document.body.innerText);
  return ENGLISH_SENTENCES.filter((s) => text.includes(s));
}

/** Controls whose text is cut off: wider content than box, in buttons, tabs and headings. */
async function clipped(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('button, h1, h2, h3, label, select, .tabs *')]
      .filter(
        (el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible',
      )
      .map((el) => el.textContent?.trim() ?? ''),
  );
}

async function typed(page: Page, text: string): Promise<void> {
  await page.getByTestId('text-input').fill(text);
  await expect
    .poll(
      async () =>
        (await page.getByTestId('text-input').inputValue()) === text && (await page.getByTestId('status').textContent()) === '',
      {
        timeout: 20_000,
      },
    )
    .toBe(true);
}

describe('Simplified Chinese in Debian Chromium', () => {
  const suite = useBrowserSuite();
  let host: ModelHost;

  beforeAll(async () => {
    // The models dialog needs a library: a small random bundled model and the Hub's catalogue.
    const bundled = writeRandomModel(SMALL_SPEC);
    writeFileSync(join(bundled, 'atlas-model.json'), JSON.stringify({ label: '测试模型', description: 'random weights' }));
    const library = new ModelLibrary({
      bundledDir: bundled,
      modelsDir: tempDir(),
      hfCacheDir: tempDir(),
      downloadOptions: { endpoint: 'http://127.0.0.1:9', timeoutMs: 1000, freeBytes: async () => 1e12 },
    });
    host = new ModelHost(new Engine({ cacheDir: tempDir() }), library);
    await host.load(bundled);
  });

  it('switches the language at once from the header, keeps the view, remembers it; ?lang= wins', async () => {
    const {
      page,
      context,
      calls,
      console: consoleMessages,
    } = await openApp(suite.browser, suite.url, suite.vm.engine, {
      params: { lang: 'en' },
    });
    await page.getByTestId('qk-grid').waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await typed(page, SENTENCE);
    await page.getByTestId('layer-1').click();
    await page.getByTestId('head-2').click();
    await page.getByTestId('stage-mask').click();
    const analyses = calls.filter((c) => c === 'atlas:analyze').length;

    await page.getByTestId('lang-switch').selectOption('zh-CN');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.getByTestId('view-attention').textContent()).toContain('注意力（单个头）');
    expect(await page.getByTestId('current-head').textContent()).toBe('层 1、头 2');
    expect(await page.getByTestId('stage-caption').textContent()).toBe(zh['stage.mask.caption']);
    // The grid's axis names were constants once; they follow the switch too.
    expect(await page.getByTestId('qk-grid').textContent()).toContain('查询');
    expect(await page.getByTestId('text-input').inputValue()).toBe(SENTENCE);
    expect(await visibleEnglish(page)).toEqual([]);
    // Nothing was analysed again, nothing reloaded.
    expect(calls.filter((c) => c === 'atlas:analyze').length).toBe(analyses);
    expect(calls).not.toContain('atlas:useModel');
    // The ?lang= link follows the choice, so a reload keeps it; so does the remembered choice.
    expect(new URL(page.url()).searchParams.get('lang')).toBe('zh-CN');
    await page.goto(page.url().replace(/[?&]lang=[^&]*/, ''));
    await page.getByTestId('qk-grid').waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');
    expect(await page.getByTestId('view-atlas').textContent()).toContain('图谱与对比');
    // Back to English from the switch: every string again, charts included (the heatmap's legend
    // and axis names are drawn on a canvas, so its pixels change).
    await page.getByTestId('view-contributions').click();
    const heatmap = page.getByTestId('contrib-heatmap').locator('canvas').first();
    await heatmap.waitFor();
    await page.waitForTimeout(300);
    const zhChart = await heatmap.screenshot();
    await page.getByTestId('lang-switch').selectOption('en');
    expect(await page.getByTestId('view-atlas').textContent()).toContain('Heads: atlas and compare');
    await page.waitForTimeout(300);
    expect(Buffer.compare(await heatmap.screenshot(), zhChart)).not.toBe(0);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(consoleMessages).toEqual([]);
    await context.close();
  });

  it('starts in the browser’s language (the OS locale in Electron) when nothing else is chosen', async () => {
    for (const [locale, lang, tab] of [
      ['zh-CN', 'zh-CN', '分步讲解'],
      ['zh-TW', 'zh-CN', '分步讲解'], // only Simplified Chinese is provided
      ['en-GB', 'en', 'Walkthrough'],
      ['de-DE', 'en', 'Walkthrough'],
    ] as const) {
      const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { locale });
      await page.getByTestId('qk-grid').waitFor();
      expect(await page.evaluate(() => document.documentElement.lang), locale).toBe(lang);
      expect((await page.getByTestId('view-walkthrough').textContent())?.trim().replace(/\s+W$/, ''), locale).toBe(tab); // the tab ends with its key, W
      await context.close();
    }
  });

  const configs = [
    { width: 1280, height: 800, scheme: 'light' },
    { width: 1280, height: 800, scheme: 'dark' },
    { width: 1920, height: 1080, scheme: 'light' },
  ] as const;
  for (const { width, height, scheme } of configs) {
    it(`shows every view in Chinese at ${width}×${height} (${scheme}), with no English sentence left`, async () => {
      const {
        page,
        context,
        console: consoleMessages,
      } = await openApp(suite.browser, suite.url, suite.vm.engine, {
        width,
        height,
        colorScheme: scheme,
        params: { lang: 'zh-CN' },
      });
      const shot = async (name: string, fullPage = false): Promise<void> => {
        await page.waitForTimeout(250); // charts settle
        expect(await visibleEnglish(page), name).toEqual([]);
        expect(await clipped(page), name).toEqual([]);
        await page.screenshot({ path: `${SHOTS}/zh-CN-${name}-${width}x${height}-${scheme}.png`, fullPage });
      };
      await page.getByTestId('qk-grid').waitFor();
      expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-CN');

      // Start screen, then the walkthrough: book steps with their questions, then the real model.
      await page.getByTestId('text-input').fill('');
      await page.getByTestId('start-screen').waitFor();
      await shot('start');
      await page.getByTestId('start-walkthrough').click();
      await page.getByTestId('walkthrough').waitFor();
      await typed(page, SENTENCE);
      for (const id of ['tokens', 'scores', 'softmax', 'projections', 'scale', 'mask', 'realScores', 'realValues', 'atlas']) {
        await page.getByTestId(`walk-step-${id}`).click();
        if (id === 'scores') {
          await shot(`walk-${id}-question`);
          await page.getByTestId('walk-grid').locator('[data-q="1"][data-k="0"]').click();
          expect(await page.getByTestId('walk-answer').textContent()).toContain('不太对。');
        } else if (await page.getByTestId('walk-reveal').count()) {
          await page.getByTestId('walk-reveal').click();
        }
        await page.getByTestId('walk-body').waitFor();
        await shot(`walk-${id}`);
      }

      await page.getByTestId('view-attention').click();
      await page.getByTestId('qk-grid').waitFor();
      await page.getByTestId('stage-softmax').click();
      await page.getByTestId('qk-grid').locator('[data-q="5"][data-k="2"]').first().click();
      await expect.poll(() => page.getByTestId('dot-pair').textContent()).toContain('查询');
      await shot('attention');
      // A term explains itself in Chinese, with the glossary's sentence.
      const term = page.getByTestId('term-dk').first();
      await term.focus();
      expect(await term.locator('[role="tooltip"]').textContent()).toBe(zh['term.dk.def']);
      await shot('term-tooltip');
      await term.blur();
      await page.keyboard.press('m');
      await shot('attention-mask-off');

      await page.getByTestId('view-atlas').click();
      await page.getByTestId('atlas-canvas').waitFor();
      expect(await page.getByTestId('atlas-count').textContent()).toMatch(/^\d+ 个头中的 \d+ 个$/);
      await shot('atlas');
      await page.getByTestId('preset-layer').click();
      await shot('compare', true);

      await page.getByTestId('view-contributions').click();
      await page.getByTestId('contrib-heatmap').locator('canvas').first().waitFor();
      await shot('contributions', true);

      // Chinese text in the grid: labels, SVG export (next test) and the layout with CJK tokens.
      await page.getByTestId('view-attention').click();
      await typed(page, CHINESE);
      await page.getByTestId('qk-grid').waitFor();
      await shot('attention-chinese-text');
      expect(consoleMessages).toEqual([]);
      await context.close();
    });
  }

  for (const { width, height, scheme } of configs) {
    it(`shows the models dialog in Chinese at ${width}×${height} (${scheme})`, async () => {
      const { page, context } = await openApp(suite.browser, suite.url, host.engine, {
        width,
        height,
        colorScheme: scheme,
        host,
        params: { lang: 'zh-CN' },
      });
      await page.getByTestId('qk-grid').waitFor();
      await page.getByTestId('open-library').click();
      await expect.poll(() => page.getByTestId('library-entry').count()).toBe(4);
      const text = (await page.getByTestId('library').textContent()) ?? '';
      expect(text).toContain('使用中');
      expect(text).toContain('下载');
      expect(await visibleEnglish(page)).toEqual([]);
      await page.screenshot({ path: `${SHOTS}/zh-CN-models-${width}x${height}-${scheme}.png` });
      await context.close();
    });
  }

  it('exports a grid of Chinese tokens as SVG and PNG with the characters and the CJK font list', async () => {
    const a = await suite.vm.engine.analyze({ text: CHINESE, prependEndOfText: false });
    // Tokens that are whole CJK characters (others are pieces of one character's bytes).
    const whole = a.tokens.map((t) => t.display.trim()).filter((d) => /^[\u4e00-\u9fff。]+$/.test(d));
    expect(whole.length).toBeGreaterThan(0);
    const { page, context } = await openApp(suite.browser, suite.url, suite.vm.engine, { params: { lang: 'zh-CN' } });
    await page.getByTestId('qk-grid').waitFor();
    await typed(page, CHINESE);
    await expect.poll(() => page.getByTestId('tokens').locator('button').count()).toBe(a.tokens.length);
    const dir = tempDir();
    const [svg] = await Promise.all([page.waitForEvent('download'), page.getByTestId('grid-save-svg').click()]);
    await svg.saveAs(join(dir, 'grid.svg'));
    const text = readFileSync(join(dir, 'grid.svg'), 'utf8');
    for (const ch of whole) expect(text).toContain(ch);
    expect(text).toContain('查询'); // the axis name, in the UI's language
    expect(text).toContain('Noto Sans CJK SC'); // the stated fallback list travels with the file
    expect(await page.getByTestId('save-note').textContent()).toContain('已下载');
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('grid-save-png').click()]);
    const pngPath = `${SHOTS}/zh-CN-export-grid.png`;
    await png.saveAs(pngPath);
    expect([...readFileSync(pngPath).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    // Rasterised from that SVG: same picture, twice the size (the characters are looked at in
    // this file by eye; the SVG check above is the automatic one).
    const size = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      return img.naturalWidth;
    }, readFileSync(pngPath).toString('base64'));
    const svgWidth = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(text)?.[1]);
    expect(size).toBe(Math.ceil(svgWidth * 2));
    await context.close();
  });
});
