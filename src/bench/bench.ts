/**
 * `atlas bench [model-dir]` / `npm run bench`: how fast the app answers, measured the way the
 * renderer experiences it. Without a model dir it uses GPT-2-small-shaped random weights
 * (12 layers × 12 heads, d_model 768, n_ctx 1024; written once into the user cache, never into
 * the repository). Prints one JSON object; README "Reading the benchmark" explains each field.
 *
 * What a number means:
 *  - analyzeMs[T]: text of T tokens (new from its first token, so nothing is reused) → the
 *    analyze handler (validation, tokenizer, model, reductions) → structured-clone serialisation
 *    (what Electron IPC does) → the typed object the renderer gets.
 *  - analyzeSquareFirstMs[T] (T > 128): the same new text asked for as the renderer asks, square
 *    first (drawnFirst): the time to the first answer, when the grid shows it; and
 *    analyzeSquareFirstThenRestMs[T]: that answer plus the second, for the rest of the text.
 *  - appendOneCharMs[T]: the same path for text of T tokens plus one character: the incremental
 *    analysis reuses the unchanged prefix.
 *  - bytesPerUpdate: the serialised size of those answers.
 *  - peakRssBytes: the process's high-water mark after the model was loaded and T = 1024 analysed
 *    (builds run in child processes, and onnxruntime-web comes after the reading);
 *    peakRssSquareFirstBytes: the same with the text asked for as the renderer asks, square first.
 *  - onnxruntimeWeb: the same graph, inputs and fetched outputs on onnxruntime-node and on
 *    onnxruntime-web (WASM, in Node), forward pass only, in this same run.
 *  - tokenizer: see tokenizer-bench.ts (alone: `atlas bench --only tokenizer`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { CHANNELS, type Analysis } from '../shared/api';
import { DRAWN_TOKENS } from '../shared/hooks';
import { Engine } from '../engine/engine';
import { ensureBuilt } from '../engine/graph-cache';
import { Gpt2Checkpoint } from '../engine/gpt2-weights';
import { AnalysisCache, analysisFetches } from '../engine/incremental';
import { ModelRuntime, type HostTensor, type RuntimeSettings } from '../engine/runtime';
import { createHandlers } from '../main/handlers';
import { writeRandomModel, type RandomModelSpec } from './random-model';
import { runTokenizerBench } from './tokenizer-bench';

export const GPT2_SMALL_SHAPE: RandomModelSpec = {
  nLayer: 12,
  nHead: 12,
  dModel: 768,
  nCtx: 1024,
  vocabSize: 50257,
  seed: 124,
};

export interface Stat {
  median: number;
  p95: number;
  runs: number;
}

export function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? Number.NaN;
  const round = (v: number): number => Number(v.toFixed(2));
  return { median: round(at(0.5)), p95: round(at(0.95)), runs: xs.length };
}

/** Runs `once` runs + 1 times and summarises all but the first, a warm-up; `once` returns its ms. */
async function timed(runs: number, once: (i: number) => Promise<number>): Promise<Stat> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const ms = await once(i);
    if (i > 0) times.push(ms);
  }
  return stat(times);
}

async function msOf(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
}

export interface BenchOptions {
  runs: number;
  /** Build the graph this many times (each in a child process). */
  buildRuns: number;
  lengths: number[];
  appendLengths: number[];
  webLengths: number[];
  cacheDir: string;
  log: (line: string) => void;
  /** Only the analysis path (analyzeMs, appendOneCharMs, bytes, peak RSS): no tokenizer, build,
   *  session-creation or onnxruntime-web sections (`atlas bench --only analyze`). */
  analysisOnly?: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ATLAS_BIN = join(ROOT, 'bin', 'atlas.mjs');

/** GPT-2-small-shaped random weights in the user cache, written on first use (≈ 0.5 GB). */
export function benchModelDir(cacheRoot: string, log: (line: string) => void): string {
  const dir = join(cacheRoot, 'bench', 'gpt2-small-shape-random');
  if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'config.json'))) return dir;
  log(`writing GPT-2-small-shaped random weights to ${dir} (once)…`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  writeRandomModel({ ...GPT2_SMALL_SHAPE, dtype: 'F32' }, partial);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  // Renamed whole, so an interrupted write is never mistaken for a finished one.
  spawnSync('mv', [partial, dir]);
  return dir;
}

/** Words that are one GPT-2 token each (with their leading space). */
const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'and', 'dog', 'ran', 'to', 'a', 'house', 'in', 'town', 'with', 'her', 'friend'];

/** Text of exactly T tokens whose first token differs with `variant` (so no prefix is shared). */
export function textOfTokens(engine: Engine, T: number, variant: number): string {
  const first = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi'][variant % 8] ?? 'Alice';
  const words = [first, ...Array.from({ length: T + 8 }, (_, i) => WORDS[(i * 7 + variant) % WORDS.length] ?? 'the')];
  let text = words.join(' ');
  const ids = engine.tokenizer.encode(text).slice(0, T);
  text = engine.tokenizer.decode(ids);
  const back = engine.tokenizer.encode(text);
  if (back.length !== T) throw new Error(`could not make a text of ${T} tokens (got ${back.length})`);
  return text;
}

/**
 * The renderer's view of one analyze call: handler → structured clone → typed object. Like the
 * renderer, it says which drawn square it holds (`held`) and keeps its own when told it is
 * unchanged.
 */
async function analyzeAsRenderer(
  handler: (arg: unknown) => Promise<unknown>,
  text: string,
  held: Analysis | null = null,
  drawnFirst = false,
): Promise<{ ms: number; bytes: number; analysis: Analysis }> {
  const t0 = performance.now();
  const req = {
    text,
    prependEndOfText: false,
    ...(held ? { haveSquare: held.squareVersion } : {}),
    ...(drawnFirst ? { drawnFirst } : {}),
  };
  const wire = serialize(await handler(req));
  let analysis = deserialize(wire) as Analysis;
  if (analysis.squareUnchanged && held)
    analysis = { ...analysis, squareHeads: held.squareHeads, dot: held.dot, pattern: held.pattern, squareUnchanged: false };
  return { ms: performance.now() - t0, bytes: wire.length, analysis };
}

async function builtGraph(modelDir: string, cacheDir: string): Promise<{ modelPath: string; analysisModelPath: string }> {
  const ckpt = Gpt2Checkpoint.open(modelDir);
  try {
    return await ensureBuilt(ckpt, cacheDir);
  } finally {
    ckpt.close();
  }
}

function rssProbe(modelDir: string, cacheDir: string, squareFirst = false): number {
  const r = spawnSync(
    process.execPath,
    [ATLAS_BIN, 'bench', modelDir, '--rss-probe', ...(squareFirst ? ['--square-first'] : [])],
    {
      encoding: 'utf8',
      env: { ...process.env, XDG_CACHE_HOME: dirname(dirname(cacheDir)) },
    },
  );
  if (r.status !== 0) throw new Error(`the RSS probe failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { peakRssBytes: number }).peakRssBytes;
}

/**
 * `atlas bench --rss-probe [--square-first]`: load, analyse the longest text the model takes,
 * type one letter. With --square-first the text is asked for as the renderer asks: the square's
 * tokens first, then the rest (two smaller runs than one pass over every token).
 */
export async function runRssProbe(
  modelDir: string,
  cacheDir: string,
  squareFirst = false,
): Promise<{ peakRssBytes: number; tokens: number }> {
  const engine = new Engine({ cacheDir });
  const info = await engine.load(modelDir);
  const analyze = createHandlers(engine)[CHANNELS.analyze];
  const T = Math.min(1024, info.nCtx);
  const text = textOfTokens(engine, T - 1, 5);
  const square = squareFirst ? await analyzeAsRenderer(analyze, text, null, true) : null;
  const first = await analyzeAsRenderer(analyze, text, square?.analysis ?? null);
  await analyzeAsRenderer(analyze, `${text}s`, first.analysis);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  await engine.unload();
  return { peakRssBytes, tokens: first.analysis.tokens.length };
}

function buildInChild(modelDir: string, out: string): number {
  const r = spawnSync(process.execPath, [ATLAS_BIN, 'build', modelDir, '--out', out], { encoding: 'utf8' });
  const m = /built \d+ outputs in (\d+) ms/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`atlas build failed: ${r.stderr}`);
  return Number(m[1]);
}

/** Same graph, same inputs and outputs, on onnxruntime-web's WASM backend (in Node). */
async function webForward(
  modelPath: string,
  dataPath: string,
  feedsOf: (T: number) => Record<string, HostTensor>,
  fetchesOf: string[],
  lengths: number[],
  runs: number,
): Promise<Record<string, Stat>> {
  const ortWeb = await import('onnxruntime-web');
  ortWeb.env.wasm.numThreads = Math.min(2, cpus().length);
  const session = await ortWeb.InferenceSession.create(readFileSync(modelPath), {
    executionProviders: ['wasm'],
    externalData: [{ path: basename(dataPath), data: readFileSync(dataPath) }],
  });
  const out: Record<string, Stat> = {};
  try {
    for (const T of lengths) {
      const feeds: Record<string, InstanceType<typeof ortWeb.Tensor>> = {};
      for (const [name, t] of Object.entries(feedsOf(T)))
        feeds[name] = new ortWeb.Tensor(t.data instanceof Float32Array ? 'float32' : 'int64', t.data, t.dims);
      out[T] = await timed(runs, () => msOf(() => session.run(feeds, fetchesOf)));
    }
  } finally {
    await session.release();
  }
  return out;
}

function benchBuild(modelDir: string, o: BenchOptions): Stat {
  o.log(`building the graph ${o.buildRuns}× (child processes)…`);
  const buildDir = mkdtempSync(join(tmpdir(), 'atlas-bench-build-'));
  try {
    return stat(Array.from({ length: o.buildRuns }, () => buildInChild(modelDir, join(buildDir, 'g.onnx'))));
  } finally {
    rmSync(buildDir, { recursive: true, force: true });
  }
}

export async function runBench(modelDir: string, o: BenchOptions): Promise<Record<string, unknown>> {
  const ckpt = Gpt2Checkpoint.open(modelDir);
  const config = ckpt.config;
  ckpt.close();
  const report: Record<string, unknown> = {
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    model: { dir: modelDir, layers: config.nLayer, heads: config.nHead, dModel: config.dModel, nCtx: config.nCtx },
  };
  if (!o.analysisOnly) {
    report.tokenizer = runTokenizerBench(o.runs, o.log);
    report.buildMs = benchBuild(modelDir, o);
  }

  // The graph cache is filled by a child process too, so building never counts toward peak RSS.
  const warmOut = mkdtempSync(join(tmpdir(), 'atlas-bench-warm-'));
  const warm = spawnSync(process.execPath, [ATLAS_BIN, 'analyze', modelDir, '--text', 'warm', '--out', warmOut], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: dirname(dirname(o.cacheDir)) },
  });
  rmSync(warmOut, { recursive: true, force: true });
  if (warm.status !== 0) throw new Error(`could not build the graph cache: ${warm.stderr}`);
  const built = await builtGraph(modelDir, o.cacheDir);
  const engine = new Engine({ cacheDir: o.cacheDir });
  await engine.load(modelDir);
  const analyze = createHandlers(engine)[CHANNELS.analyze];
  const analyzeMs: Record<string, Stat> = {};
  const appendMs: Record<string, Stat> = {};
  const bytes: Record<string, { analyze: number; append: number }> = {};
  const positionsRun: Record<string, number> = {};
  const drawnFirstMs: Record<string, Stat> = {};
  const drawnFirstWholeMs: Record<string, Stat> = {};
  for (const T of o.lengths) {
    if (T > config.nCtx) continue;
    o.log(`analyze T = ${T} (${o.runs} runs)…`);
    let size = 0;
    analyzeMs[T] = await timed(o.runs, async (i) => {
      const r = await analyzeAsRenderer(analyze, textOfTokens(engine, T, i));
      if (r.analysis.tokens.length !== T) throw new Error(`expected ${T} tokens, got ${r.analysis.tokens.length}`);
      size = r.bytes;
      return r.ms;
    });
    bytes[T] = { analyze: size, append: 0 };
    if (T <= DRAWN_TOKENS) continue;
    // The renderer asks for the drawn square first (AnalyzeRequest.drawnFirst): the grid shows
    // after the first answer, the whole text after the second.
    o.log(`analyze T = ${T}, square first (${o.runs} runs)…`);
    const whole: number[] = [];
    drawnFirstMs[T] = await timed(o.runs, async (i) => {
      const text = textOfTokens(engine, T, i + o.runs + 1); // not the text the cache holds now
      const first = await analyzeAsRenderer(analyze, text, null, true);
      if (first.analysis.tokens.length !== DRAWN_TOKENS) throw new Error(`expected the square's ${DRAWN_TOKENS} tokens first`);
      const rest = await analyzeAsRenderer(analyze, text, first.analysis);
      whole.push(first.ms + rest.ms);
      return first.ms;
    });
    drawnFirstWholeMs[T] = stat(whole.slice(1)); // as timed: the first is a warm-up
  }
  for (const T of o.appendLengths) {
    if (T > config.nCtx) continue;
    o.log(`append one character at T = ${T} (${o.runs} runs)…`);
    // T − 1 tokens plus a word, so the appended letter stays inside the context.
    const base = textOfTokens(engine, T - 1, 1);
    let held: Analysis | null = null;
    appendMs[T] = await timed(o.runs, async (i) => {
      const back = await analyzeAsRenderer(analyze, base, held); // back to the base text (untimed)
      const r = await analyzeAsRenderer(analyze, base + String.fromCharCode(97 + (i % 26)), back.analysis);
      held = r.analysis;
      positionsRun[T] = engine.lastAnalyzeRunPositions();
      const b = bytes[T] ?? { analyze: 0, append: 0 };
      b.append = r.bytes;
      bytes[T] = b;
      return r.ms;
    });
  }
  report.analyzeMs = analyzeMs;
  report.analyzeSquareFirstMs = drawnFirstMs;
  report.analyzeSquareFirstThenRestMs = drawnFirstWholeMs;
  report.appendOneCharMs = appendMs;
  report.appendPositionsRun = positionsRun;
  report.bytesPerUpdate = bytes;
  // The target's situation in a process of its own: the model loaded, T = 1024 analysed, one
  // letter typed. This process has done 21 full T = 1024 analyses by now, and the garbage they
  // left before the collector ran is reported beside it.
  report.peakRssBytes = rssProbe(modelDir, o.cacheDir);
  report.peakRssSquareFirstBytes = rssProbe(modelDir, o.cacheDir, true);
  report.benchProcessPeakRssBytes = process.resourceUsage().maxRSS * 1024;
  await engine.unload();
  if (o.analysisOnly) return report;

  // After the RSS reading: sessions created and released in a loop are not what the app holds.
  o.log(`creating the session ${o.runs}×…`);
  const creates: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const t0 = performance.now();
    const rt = await ModelRuntime.create(built.analysisModelPath);
    creates.push(performance.now() - t0);
    await rt.dispose();
  }
  report.sessionCreateMs = stat(creates);

  const webLengths = o.webLengths.filter((T) => T <= config.nCtx);
  o.log(`onnxruntime-node vs onnxruntime-web, T = ${webLengths.join(', ')}…`);
  const shape = { nLayer: config.nLayer, nHead: config.nHead, dModel: config.dModel, nCtx: config.nCtx };
  const fetches = analysisFetches(config.nLayer, 0);
  const past = AnalysisCache.emptyPast(shape);
  const idsOf = (T: number): number[] => engine.tokenizer.encode(textOfTokens(engine, T, 3));
  const node: Record<string, Stat> = {};
  const rt = await ModelRuntime.create(built.analysisModelPath);
  try {
    for (const T of webLengths) {
      const ids = idsOf(T);
      node[T] = await timed(o.runs, () => msOf(() => rt.run(ids, fetches, past)));
    }
  } finally {
    await rt.dispose();
  }
  const web = await webForward(
    built.analysisModelPath,
    `${built.modelPath}.data`, // both graphs share the full graph's weights file
    (T) => ({ ...past, input_ids: { dims: [1, T], data: BigInt64Array.from(idsOf(T), (i) => BigInt(i)) } }),
    fetches,
    webLengths,
    o.runs,
  );
  const ratio: Record<string, number> = {};
  for (const T of webLengths) ratio[T] = Number(((web[T]?.median ?? 0) / (node[T]?.median ?? 1)).toFixed(2));
  report.onnxruntimeWeb = { nodeForwardMs: node, webForwardMs: web, webOverNode: ratio };
  return report;
}

/**
 * Runtime settings under an idle and a busy machine: analyze-forward at T = 64 for each
 * combination of intra-op threads and spinning, with a second process spinning one core for
 * "busy". The result chose DEFAULT_RUNTIME_SETTINGS (see runtime.ts).
 */
export async function runSettingsBench(modelDir: string, o: BenchOptions): Promise<Record<string, unknown>> {
  const built = await builtGraph(modelDir, o.cacheDir);
  const ckpt = Gpt2Checkpoint.open(modelDir);
  const c = ckpt.config;
  ckpt.close();
  const engine = new Engine({ cacheDir: o.cacheDir });
  const ids = engine.tokenizer.encode(textOfTokens(engine, 64, 0));
  const past = AnalysisCache.emptyPast({ nLayer: c.nLayer, nHead: c.nHead, dModel: c.dModel, nCtx: c.nCtx });
  const fetches = analysisFetches(c.nLayer, 0);
  const results: Record<string, Stat> = {};
  const settings: RuntimeSettings[] = [
    { threads: 1, spinning: false },
    { threads: 2, spinning: false },
    { threads: 2, spinning: true },
    { threads: 0, spinning: false },
    { threads: 0, spinning: true },
  ];
  for (const load of ['idle', 'busy'] as const) {
    const hog = load === 'busy' ? spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }) : null;
    try {
      for (const s of settings) {
        const rt = await ModelRuntime.create(built.analysisModelPath, s);
        const result = await timed(o.runs, () => msOf(() => rt.run(ids, fetches, past)));
        await rt.dispose();
        results[`${load} threads=${s.threads} spinning=${s.spinning}`] = result;
        o.log(`${load} threads=${s.threads} spinning=${s.spinning}: ${JSON.stringify(result)}`);
      }
    } finally {
      hog?.kill();
    }
  }
  return { machine: { cpus: cpus().length }, forwardMsAtT64: results };
}
