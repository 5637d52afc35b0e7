/**
 * Benchmark (not a test): how long the head atlas takes to draw for GPT-2 small's shape,
 * 12 layers × 12 heads at 64 tokens, in Debian Chromium. The page gets synthetic analyses of
 * that shape (random scores through a real softmax) from a stand-in transport, so no model is
 * needed; the atlas measures its own draw (weights under the toggles + painting all 144 heads)
 * and reports it in data-draw-ms. Redraws are forced by hovering tokens.
 *
 *   npm run bench:atlas
 */
import type { Server } from 'node:http';
import { RENDERER_DIR, launchChromium, serveStatic } from '../test/helpers/browser-host';
import { CHANNELS, type Analysis, type ModelInfo } from '../src/shared/api';
import { attentionWeights } from '../src/shared/attention-math';
import { headStatsFromPatterns } from '../src/shared/head-scores';
import { pack, toBase64 } from '../src/shared/wire';

const L = 12;
const H = 12;
const T = 64;
const RUNS = 40;

function synthetic(version: number): Analysis {
  const model: ModelInfo = {
    id: 'gpt2-shape',
    label: 'GPT-2 small shape (synthetic)',
    description: '',
    nLayers: L,
    nHeads: H,
    dModel: 768,
    dHead: 64,
    nCtx: 1024,
    vocabSize: 50257,
    weightsHash: '',
    preferredHead: null,
    source: {
      format: 'hf-gpt2',
      file: 'model.safetensors',
      notes: [],
      vocabulary: { kind: 'gpt2', size: 50257, file: null, unusedRows: 0, endOfText: true },
    },
  };
  const dot = Float32Array.from({ length: L * H * T * T }, () => (Math.random() - 0.5) * 40);
  const pattern = new Float32Array(dot.length);
  for (let i = 0; i < L * H; i++)
    pattern.set(attentionWeights(dot.subarray(i * T * T, (i + 1) * T * T), T, 64, { scale: true, mask: true }), i * T * T);
  return {
    model,
    text: 'x',
    outside: [],
    tokens: Array.from({ length: T }, (_, i) => ({
      id: i,
      display: ` t${i}`,
      partial: false,
      start: i,
      end: i + 1,
      special: false,
      charGroup: { first: i, count: 1, text: ` t${i}` },
    })),
    truncatedFrom: null,
    drawn: T,
    squareHeads: Array.from({ length: L * H }, (_, i) => i),
    squareVersion: version,
    squareUnchanged: false,
    dot,
    pattern,
    resultNorm: new Float32Array(L * T * H).fill(1),
    attnOutNorm: new Float32Array(L * T).fill(1),
    mlpOutNorm: new Float32Array(L * T).fill(1),
    topK: { position: T - 1, k: 10, ids: new Int32Array(10), probs: new Float32Array(10), strings: Array(10).fill('x') },
    headStats: headStatsFromPatterns(pattern, L, H, T), // the engine's part, done before sending
  };
}

async function main(): Promise<void> {
  // Two analyses to alternate between, so every edit brings new tensors.
  const analyses = [synthetic(1), synthetic(2)];
  let analyzeCalls = 0;
  const analysis = analyses[0] as Analysis;
  const browser = await launchChromium();
  let server: Server | undefined;
  try {
    const served = await serveStatic(RENDERER_DIR);
    server = served.server;
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.exposeFunction('__atlasTransport', async (channel: string, _req: string) => {
      const reply =
        channel === CHANNELS.analyze
          ? { ok: analyses[analyzeCalls++ % 2] }
          : channel === CHANNELS.modelInfo
            ? { ok: analysis.model }
            : channel === CHANNELS.inductionProbe
              ? { ok: { scores: new Float32Array(L * H), sequences: 8, blockLength: 50 } }
              : { error: 'not needed by this benchmark' };
      return toBase64(pack(reply));
    });
    await page.goto(served.url);
    await page.getByTestId('view-atlas').click();
    await page.getByTestId('atlas-canvas').waitFor();
    const count = page.getByTestId('atlas-count');
    const read = async (attr: string): Promise<number> => Number(await count.getAttribute(attr));
    const drawTotal = async (): Promise<number> => (await read('data-tiles-ms')) + (await read('data-draw-ms'));
    // Typing: each edit brings a new analysis; every head is repainted (toggles at their defaults).
    const typing: number[] = [];
    const arrival: number[] = [];
    const tilesOnly: number[] = [];
    const input = page.getByTestId('text-input');
    /** Types `text` and waits (at most 5 s) until the atlas has painted its analysis. */
    const typeAndWaitForTiles = async (text: string): Promise<void> => {
      const before = await count.getAttribute('data-tiles-ms');
      await input.fill(text);
      await page
        .waitForFunction(
          (b) => document.querySelector('[data-testid="atlas-count"]')?.getAttribute('data-tiles-ms') !== b,
          before,
          { timeout: 5000 },
        )
        .catch(() => undefined);
    };
    for (let i = 0; i < RUNS; i++) {
      await typeAndWaitForTiles(`edit ${i}`);
      typing.push(await drawTotal());
      arrival.push(await read('data-frame-ms'));
      tilesOnly.push(await read('data-tiles-ms'));
    }
    await page.getByTestId('view-atlas').click(); // focus off the text box for the shortcuts
    // Toggle: flipping the mask recomputes every head's softmax in the renderer, then repaints.
    const toggle: number[] = [];
    const toggleTiles: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await page.keyboard.press('m');
      await page.waitForTimeout(40);
      if (i % 2 === 0) {
        toggle.push(await drawTotal()); // mask off: the softmax path
        toggleTiles.push(await read('data-tiles-ms'));
      }
    }
    // A toggle pressed right after an analysis lands: the states one flip away are painted ahead
    // in idle time a layer at a time from the moment a sheet is shown (HeadAtlas.svelte), so the
    // key may find its sheet partly painted (the rest is painted on the key) and may wait for
    // the layer being painted: how long the key waited for the page (the event's own timestamp
    // to its handler) is measured too, with the tiles and the draw.
    const toggleAfterEdit: number[] = [];
    const toggleAfterEditRedraw: number[] = [];
    const toggleAfterEditInputDelay: number[] = [];
    await page.evaluate(
      `addEventListener('keydown', (e) => { window.__atlasKeyDelay = performance.now() - e.timeStamp; }, { capture: true })`,
    );
    for (let i = 0; i < RUNS / 2; i++) {
      await typeAndWaitForTiles(`again ${i}`);
      await input.press('Escape'); // leave the text box: the shortcuts act again
      await page.keyboard.press('m');
      const inputDelay = Number(await page.evaluate('window.__atlasKeyDelay'));
      await page.waitForTimeout(40);
      toggleAfterEdit.push(await read('data-tiles-ms'));
      toggleAfterEditRedraw.push(await drawTotal());
      toggleAfterEditInputDelay.push(inputDelay);
      await page.keyboard.press('m');
      await page.waitForTimeout(40);
    }
    // Hover: a token hovered elsewhere is marked in every thumbnail (tiles reused).
    const hover: number[] = [];
    const chips = page.getByTestId('tokens').locator('button');
    for (let i = 0; i < RUNS; i++) {
      await chips.nth(i % T).hover();
      await page.waitForTimeout(30);
      hover.push(await read('data-draw-ms'));
    }
    const stats = (xs: number[]): { median: number; p95: number } => {
      const s = [...xs].sort((a, b) => a - b);
      const q = (p: number): number => Number((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0).toFixed(2));
      return { median: q(0.5), p95: q(0.95) };
    };
    console.log(
      JSON.stringify(
        {
          shape: { layers: L, heads: H, tokens: T },
          runs: RUNS,
          newAnalysisArrivalToPixelsMs: stats(arrival),
          newAnalysisRedrawMs: stats(typing),
          newAnalysisTilesMs: stats(tilesOnly),
          toggleRedrawMs: stats(toggle),
          toggleTilesMs: stats(toggleTiles),
          toggleRightAfterAnalysisTilesMs: stats(toggleAfterEdit),
          toggleRightAfterAnalysisRedrawMs: stats(toggleAfterEditRedraw),
          toggleRightAfterAnalysisInputDelayMs: stats(toggleAfterEditInputDelay),
          hoverRedrawMs: stats(hover),
          frameBudgetMs: 16.7,
        },
        null,
        2,
      ),
    );
  } finally {
    await browser.close();
    server?.close();
  }
}

await main();
