/**
 * Benchmark (not a test): what a person feels, from a keystroke to the pixels that show it, in
 * Debian Chromium against the built renderer with the real engine behind it (the browser tests'
 * host, and browser mode over HTTP with --web).
 *
 * Each case is timed by the page itself with performance marks: `atlas-input` at the input or
 * key event's own timestamp, `atlas-pixels` at the start of the first animation frame after the
 * grid shows the change (a MutationObserver on the page, then requestAnimationFrame; an append past
 * the 128-token drawn square shows in the token strip instead), and the
 * measure between them. Cases: the bundled model and the GPT-2-small-shaped bench model; texts
 * of about 16, 64 and 256 tokens; a letter appended at the end and an edit near the start; the
 * mask and scaling toggles; switching head. Bytes are the replies' packed size on the wire.
 *
 *   npm run bench:ui -- [--runs 15] [--web] [--only bundled|gpt2SmallShape]
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { benchModelDir, textOfTokens } from '../src/bench/bench';
import { Engine } from '../src/engine/engine';
import { bundledModelDir } from '../src/engine/paths';
import { CHANNELS } from '../src/shared/api';
import { RENDERER_DIR, launchChromium, openApp, serveStatic } from '../test/helpers/browser-host';

const args = process.argv.slice(2);
const RUNS = Number(args[args.indexOf('--runs') + 1] ?? '') || 15;
const WEB = args.includes('--web');
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const log = (line: string): void => void process.stderr.write(`[bench:ui] ${line}\n`);

interface Stats {
  median: number;
  p95: number;
  runs: number;
}
function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => Number((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(1));
  return { median: q(0.5), p95: q(0.95), runs: s.length };
}

/**
 * Arms the page: the next input or keydown event marks `atlas-input` with its own timestamp;
 * the first frame after the grid changes so that `done()` holds marks `atlas-pixels`. Resolves
 * with the measure in ms. `done` is evaluated in the page against the grid element.
 */
/** Cases whose change never reached the grid in 20 s: reported, not hidden. */
let timeouts = 0;

async function measure(page: Page, act: () => Promise<void>, done: string, arg: unknown): Promise<number> {
  try {
    return await measureOnce(page, act, done, arg);
  } catch (e) {
    timeouts++;
    log(`no frame measured: ${(e as Error).message.slice(0, 160)}`);
    return Number.NaN;
  }
}

async function measureOnce(page: Page, act: () => Promise<void>, done: string, arg: unknown): Promise<number> {
  await installMeasure(page);
  // Armed before the action, awaited after it: the listeners are in place when the key lands.
  await page.evaluate(
    ([d, a]) =>
      void ((window as unknown as MeasureWindow).__atlasArmed = (window as unknown as MeasureWindow).__atlasMeasure(
        d as string,
        a,
      )),
    [done, arg] as const,
  );
  await act();
  return (await page.evaluate(() => (window as unknown as MeasureWindow).__atlasArmed)) as number;
}

interface MeasureWindow {
  __atlasMeasure(done: string, arg: unknown): Promise<number>;
  __atlasArmed: Promise<number>;
}

/**
 * The in-page half, as source text: tsx would wrap named functions in a helper the page does
 * not have, so the page gets plain JavaScript.
 */
const measureSource = (): string => `var signature = ${SIGNATURE};
var lastLabelIs = ${LAST_LABEL};
window.__atlasMeasure = function (doneSrc, arg) {
  return new Promise(function (resolve, reject) {
    // Predicates by name: the page's CSP forbids eval and new Function.
    var isDone =
      doneSrc === 'label' ? lastLabelIs
      : doneSrc === 'tokens' ? function (grid, n) { return document.querySelectorAll('[data-testid="tokens"] button').length === n; }
      : function (grid, before) { var now = signature(grid); return now !== '' && now !== before; };
    var t0 = null;
    var onEvent = function (e) {
      if (t0 !== null) return;
      t0 = e.timeStamp;
      performance.mark('atlas-input', { startTime: t0 });
    };
    window.addEventListener('input', onEvent, { capture: true });
    window.addEventListener('keydown', onEvent, { capture: true });
    var observer = new MutationObserver(function () {
      var grid = document.querySelector('[data-testid="qk-grid"]');
      if (t0 === null || !grid || !isDone(grid, arg)) return;
      observer.disconnect();
      requestAnimationFrame(function (frame) {
        window.removeEventListener('input', onEvent, { capture: true });
        window.removeEventListener('keydown', onEvent, { capture: true });
        performance.mark('atlas-pixels', { startTime: frame });
        resolve(performance.measure('atlas-keystroke-to-pixels', 'atlas-input', 'atlas-pixels').duration);
      });
    });
    observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    setTimeout(function () { var g = document.querySelector('[data-testid="qk-grid"]'); var rows = g ? g.querySelectorAll('.label.row') : []; reject(new Error('no change reached the grid within 20 s (input seen: ' + (t0 !== null) + ', rows ' + rows.length + ', last ' + (rows.length ? rows[rows.length - 1].textContent : '') + ', want ' + JSON.stringify(arg) + ')')); }, 20000);
  });
};`;

async function installMeasure(page: Page): Promise<void> {
  if (await page.evaluate('typeof window.__atlasMeasure === "function"')) return;
  await page.evaluate(measureSource()); // through the debugging protocol: the page's CSP allows no inline script
}

/** The grid's last row label is the expected one (its text and position). */
const LAST_LABEL = `(grid, want) => {
  const rows = grid.querySelectorAll('.label.row');
  return rows.length === want.n && rows[rows.length - 1]?.textContent === want.label;
}`;
/**
 * What the grid draws, cheaply: its stage, its first 400 cells' values and radii (a grid of at
 * most 32 tokens a side, one element per cell), or the signature of its painted cells (larger
 * grids paint every cell on one canvas and carry a hash of what they painted; QkGrid.svelte).
 * Empty cells (a head whose square is still on its way) do not count as drawn: the signature is
 * '' until none is left.
 */
const SIGNATURE = `(grid) => !grid || grid.querySelector('.empty') ? '' : grid.getAttribute('data-stage') + '|' + Array.from(grid.querySelectorAll('[data-value]')).slice(0, 400).map((e) => (e.getAttribute('data-value') || '') + (e.getAttribute('r') || '')).join(',') + '|' + (grid.querySelector('.batched')?.getAttribute('data-drawn') || '')`;

async function gridSignature(page: Page): Promise<string> {
  return (await page.evaluate(`(${SIGNATURE})(document.querySelector('[data-testid="qk-grid"]'))`)) as string;
}

async function benchModel(name: string, engine: Engine, url: string): Promise<Record<string, unknown>> {
  const browser = await launchChromium();
  const bytes: number[] = [];
  if (WEB) process.env.ATLAS_E2E_MODE = 'web';
  try {
    const { page, context } = await openApp(browser, url, engine, {
      width: 1280,
      height: 800,
      onReply: (channel, n) => {
        if (channel === CHANNELS.analyze) bytes.push(n);
      },
    });
    await page.getByTestId('qk-grid').waitFor({ timeout: 120_000 });
    const out: Record<string, unknown> = {};
    const input = page.getByTestId('text-input');
    const nCtx = engine.modelInfo().nCtx;
    // ≈ 256 on a model with a 256-token context: a few tokens short, so the appends still fit.
    for (const T of [16, 64, 256].map((t) => Math.min(t, nCtx - 2 * RUNS - 8))) {
      log(`${name}: T = ${T}`);
      const base = textOfTokens(engine, T, 1);
      await input.fill(base);
      await page.waitForTimeout(500);
      const labelOf = (text: string): { n: number; label: string } => {
        const pieces = engine.tokenize({ text, prependEndOfText: false }).ids;
        const n = Math.min(pieces.length, 128);
        const display = engine.tokenInfos(pieces, false, text)[n - 1]?.display ?? '';
        return { n, label: `${display.replace(/ /g, '␣').replace(/\n/g, '↵').replace(/\t/g, '⇥')} ${n - 1}` };
      };
      // Append: a space and a letter at the end (a new token each time, so the grid must change
      // when T ≤ 128; past the drawn square the token strip is what changes).
      const append: number[] = [];
      const appendBytes: number[] = [];
      let text = base;
      await input.focus();
      await input.press('End');
      for (let i = 0; i < RUNS + 1; i++) {
        const next = `${text} ${String.fromCharCode(97 + (i % 26))}`;
        const want = labelOf(next);
        const before = bytes.length;
        const ms =
          want.n < 128
            ? await measure(page, () => page.keyboard.insertText(next.slice(text.length)), 'label', want)
            : // Past the drawn square the grid keeps its picture: the new token shows in the strip.
              await measure(
                page,
                () => page.keyboard.insertText(next.slice(text.length)),
                'tokens',
                engine.tokenize({ text: next, prependEndOfText: false }).ids.length,
              );
        if (i > 0 && Number.isFinite(ms)) append.push(ms); // the first is a warm-up
        if (i > 0) appendBytes.push(bytes.slice(before).reduce((a, b) => a + b, 0));
        text = next;
      }
      // Edit near the start: a letter typed into the second word.
      const start: number[] = [];
      const startBytes: number[] = [];
      for (let i = 0; i < RUNS + 1; i++) {
        const at = text.indexOf(' ') + 2;
        const next = `${text.slice(0, at)}${String.fromCharCode(97 + (i % 26))}${text.slice(at)}`;
        await input.evaluate((e: HTMLTextAreaElement, at) => e.setSelectionRange(at, at), at);
        const before = bytes.length;
        const ms = await measure(
          page,
          () => page.keyboard.insertText(next.slice(at, at + 1)),
          'changed',
          await gridSignature(page),
        );
        if (i > 0 && Number.isFinite(ms)) {
          start.push(ms);
          startBytes.push(bytes.slice(before).reduce((a, b) => a + b, 0));
        }
        text = next;
      }
      out[`T${T}`] = {
        appendKeystrokeToPixelsMs: stats(append),
        appendBytesOnWire: stats(appendBytes),
        editNearStartToPixelsMs: stats(start),
        editNearStartBytesOnWire: stats(startBytes),
      };
    }
    // Toggles and head switches at T ≈ 64, from the keyboard (focus off the text box).
    await input.fill(textOfTokens(engine, Math.min(64, nCtx - 2), 2));
    await page.waitForTimeout(800);
    await input.press('Escape');
    await page.keyboard.press('4'); // the softmax stage: where the mask and the scaling change the picture
    const toggle: number[] = [];
    const head: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const ms = await measure(page, () => page.keyboard.press(i % 2 ? 's' : 'm'), 'changed', await gridSignature(page));
      if (i > 0 && Number.isFinite(ms)) toggle.push(ms);
    }
    for (let i = 0; i < RUNS + 1; i++) {
      const ms = await measure(page, () => page.keyboard.press('ArrowRight'), 'changed', await gridSignature(page));
      if (i > 0 && Number.isFinite(ms)) head.push(ms);
    }
    out.toggleToPixelsMs = stats(toggle);
    out.switchHeadToPixelsMs = stats(head);
    await context.close();
    return out;
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'attention-atlas');
  const cacheDir = join(cacheRoot, 'graphs');
  const { server, url } = await serveStatic(RENDERER_DIR);
  const report: Record<string, unknown> = {
    mode: WEB ? 'browser mode (HTTP)' : 'browser-test host (Playwright binding)',
    runs: RUNS,
  };
  try {
    const models: [string, () => string][] = [
      ['bundled', () => bundledModelDir(process.cwd())],
      ['gpt2SmallShape', () => benchModelDir(cacheRoot, log)],
    ];
    for (const [name, dir] of models) {
      if (ONLY && ONLY !== name) continue;
      log(`${name}: loading (the first run builds the graph)…`);
      const engine = new Engine({ cacheDir });
      await engine.load(dir());
      report[name] = await benchModel(name, engine, url);
      await engine.unload();
    }
  } finally {
    server.close();
  }
  report.unmeasured = timeouts;
  console.log(JSON.stringify(report, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
