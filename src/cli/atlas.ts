/**
 * `atlas`: the engine from a terminal or a notebook's shell.
 *
 *   atlas build <model> --out <file.onnx>
 *   atlas analyze <model> (--text <text> | --text-file <path>) --out <dir> [--prepend-eot]
 *
 * Text comes from --text, or from a file (--text-file <path>), or from standard input
 * (`--text -` or `--text-file -`); at most LIMITS.maxTextChars characters (the app's limit),
 * checked before tokenizing, so an over-long input is a clear error. Long command lines are
 * handled by bin/atlas.mjs (see there: onnxruntime overflowed the stack on them).
 *   atlas explain-score <model> --text <text> --layer L --head H --query I --key J --json
 *   atlas ablate <model> --text <text> --layer L --head H [--mode zero|mean] --json
 *   atlas open <view.json|figure.png|figure.svg>   (browser mode, restoring that view)
 *
 * `analyze` writes tokens.json ({"ids": [...], "strings": [...]}) and one .npy per exposed
 * tensor, named by its TransformerLens hook (blocks.0.attn.hook_pattern.npy), in DESIGN.md's
 * axis order. Errors go to stderr with a non-zero exit.
 */
import { createReadStream, mkdirSync, readFileSync, statSync, writeFileSync, type ReadStream } from 'node:fs';
import { LIMITS } from '../shared/api';
import { readViewState, viewStateToParam, type ViewState } from '../shared/view-state';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLibrary } from '../engine/library';
import { ModelHost } from '../main/model-host';
import { isLoopback, startWebServer } from '../server/web-server';
import { EngineClient } from '../server/engine-client';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Engine, type LoadOptions } from '../engine/engine';
import { ConfigNeededError } from '../engine/checkpoint-layout';
import { resolveVocabulary, VocabularyNeededError } from '../engine/vocabulary';
import { buildInstrumentedGraph } from '../engine/graph-builder';
import { Gpt2Checkpoint } from '../engine/gpt2-weights';
import { encodeNpy } from '../engine/npy';
import { bundledModelDir, cliCacheDir, cliModelsDir } from '../engine/paths';
import { downloadModel, formatBytes } from '../engine/download';
import { benchModelDir, runBench, runRssProbe, runSettingsBench } from '../bench/bench';
import { runTokenizerBench } from '../bench/tokenizer-bench';

const USAGE = `usage:
  atlas build <model> --out <file.onnx> [--allow-nonfinite]
  atlas analyze <model> (--text <text> | --text-file <path>) --out <dir> [--prepend-eot] [--allow-nonfinite]
                (\`-\` as the text or the path reads standard input)
  atlas explain-score <model> --text <text> --layer L --head H --query I --key J [--prepend-eot] [--json]
  atlas ablate <model> --text <text> --layer L --head H [--mode zero|mean] [--token T] [--prepend-eot] [--json]
  atlas pull <repo-id> [--revision <rev>] [--dir <models-dir>]
  atlas serve [--port <n>] [--host <address>] [--model <model>] [--open] [--allow-nonfinite]
  atlas open <view.json|figure.png|figure.svg> [--port <n>] [--host <address>] [--model <model-dir>]
  atlas bench [<model-dir>] [--runs <n>] [--build-runs <n>] [--settings] [--only tokenizer|analyze]

<model> is a folder or one checkpoint file: Hugging Face GPT-2 (model.safetensors + config.json),
nanoGPT (ckpt.pt, or its state dict as model.safetensors + config.json), or the book's GPTModel
(model.pth or its checkpoint dict + config.json). Every command that takes <model> also takes
--n-heads <n> (a checkpoint with no configuration, e.g. the book's model.pth) and --vocab <file>
(nanoGPT's meta.pkl or a vocab.json, when none lies beside the checkpoint).`;

class UsageError extends Error {}

function need(v: string | undefined, what: string): string {
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

/**
 * What a checkpoint may lack, given on the command line: the book's model.pth has no number of
 * heads, a character-level nanoGPT may have no meta.pkl beside it.
 */
const MODEL_OPTIONS = {
  'n-heads': { type: 'string' },
  vocab: { type: 'string' },
} as const;

function modelOptions(values: { 'n-heads'?: string; vocab?: string }): LoadOptions {
  const o: LoadOptions = {};
  if (values['n-heads'] !== undefined) {
    const n = Number(values['n-heads']);
    if (!Number.isInteger(n) || n < 1 || n > 128) throw new UsageError('--n-heads must be an integer from 1 to 128');
    o.config = { n_head: n, n_heads: n };
  }
  if (values.vocab !== undefined) o.vocabulary = resolve(values.vocab);
  return o;
}

async function build(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, 'allow-nonfinite': { type: 'boolean', default: false }, ...MODEL_OPTIONS },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model>');
  const out = resolve(need(values.out, '--out <file.onnx>'));
  mkdirSync(dirname(out), { recursive: true });
  const options = modelOptions(values);
  const ckpt = Gpt2Checkpoint.open(dir, options);
  try {
    // The graph's unembedding has the vocabulary's rows (nanoGPT's padding left out), as in the app.
    ckpt.useVocabularyRows(resolveVocabulary(ckpt.embeddingRows, ckpt.dir, ckpt.extras, options.vocabulary).size);
    if (!values['allow-nonfinite']) ckpt.checkFinite();
    const t0 = performance.now();
    const r = await buildInstrumentedGraph(ckpt, out);
    console.error(`built ${r.outputs.length} outputs in ${(performance.now() - t0).toFixed(0)} ms → ${out} (+ ${r.dataPath})`);
  } finally {
    ckpt.close();
  }
}

/** Reads a stream whole, refusing more than `maxBytes`; strict UTF-8. */
async function readText(stream: NodeJS.ReadableStream, what: string, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > maxBytes) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new Error(
        `${what} is over ${maxBytes} bytes; the text limit is ${LIMITS.maxTextChars} characters (only the model's context is analysed anyway)`,
      );
    }
    chunks.push(b);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new Error(`${what} is not valid UTF-8 text`);
  }
}

/** The text of `analyze`: --text, --text-file or standard input, within the app's limit. */
async function inputText(values: { text?: string; 'text-file'?: string }): Promise<string> {
  if (values.text !== undefined && values['text-file'] !== undefined)
    throw new UsageError('give the text once: --text or --text-file, not both');
  // UTF-8 needs at most 4 bytes a character: a larger input cannot be within the limit.
  const maxBytes = LIMITS.maxTextChars * 4;
  let text: string;
  if (values.text === '-' || values['text-file'] === '-') text = await readText(process.stdin, 'standard input', maxBytes);
  else if (values['text-file'] !== undefined) {
    const path = values['text-file'];
    let stream: ReadStream | undefined;
    try {
      if (statSync(path).isDirectory()) throw new Error('it is a directory');
      stream = createReadStream(path);
      const s = stream;
      await new Promise<void>((ok, fail) => s.once('open', () => ok()).once('error', fail));
    } catch (e) {
      throw new Error(`cannot read --text-file ${path}: ${(e as Error).message}`);
    }
    text = await readText(stream, path, maxBytes);
  } else text = need(values.text, '--text <text> or --text-file <path>');
  if (text.length > LIMITS.maxTextChars) {
    throw new Error(
      `the text is ${text.length} characters; the limit is ${LIMITS.maxTextChars} (only the model's context is analysed anyway: cut the text first)`,
    );
  }
  return text;
}

async function analyze(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      text: { type: 'string' },
      'text-file': { type: 'string' },
      out: { type: 'string' },
      'prepend-eot': { type: 'boolean', default: false },
      'allow-nonfinite': { type: 'boolean', default: false },
      ...MODEL_OPTIONS,
    },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model>');
  if (values['text-file'] === undefined) need(values.text, '--text <text> or --text-file <path>');
  const outDir = resolve(need(values.out, '--out <dir>'));
  const text = await inputText(values);
  const engine = new Engine({ cacheDir: cliCacheDir(), allowNonfinite: values['allow-nonfinite'] });
  try {
    await engine.load(dir, undefined, modelOptions(values));
    const prepend = values['prepend-eot'] ?? false;
    const { ids, truncatedFrom } = engine.tokenize({ text, prependEndOfText: prepend });
    if (ids.length === 0) throw new Error('the text has no tokens');
    if (truncatedFrom !== null)
      console.error(`note: kept the first ${ids.length} of ${truncatedFrom} tokens (the model's context)`);
    const tensors = await engine.runAll(ids);
    mkdirSync(outDir, { recursive: true });
    const strings = engine.tokenInfos(ids, prepend, text).map((p) => p.display);
    writeFileSync(join(outDir, 'tokens.json'), JSON.stringify({ ids, strings }, null, 2) + '\n');
    let n = 0;
    for (const [name, t] of Object.entries(tensors)) {
      writeFileSync(join(outDir, `${name}.npy`), encodeNpy(t.data, t.dims));
      n++;
    }
    console.error(`wrote tokens.json and ${n} .npy files for ${ids.length} tokens → ${outDir}`);
  } finally {
    await engine.unload();
  }
}

function intOption(v: string | undefined, what: string): number {
  const n = Number(need(v, what));
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} takes a whole number ≥ 0`);
  return n;
}

const TEXT_OPTIONS = {
  text: { type: 'string' },
  layer: { type: 'string' },
  head: { type: 'string' },
  'prepend-eot': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  ...MODEL_OPTIONS,
} as const;

/** hook_dot at one cell as exact terms, one per (query-side part, key-side part); see interpret.ts. */
async function explainScore(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...TEXT_OPTIONS, query: { type: 'string' }, key: { type: 'string' } },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model>');
  const engine = new Engine({ cacheDir: cliCacheDir() });
  try {
    await engine.load(dir, undefined, modelOptions(values));
    const d = await engine.explainScore({
      text: need(values.text, '--text <text>'),
      prependEndOfText: values['prepend-eot'] ?? false,
      layer: intOption(values.layer, '--layer'),
      head: intOption(values.head, '--head'),
      query: intOption(values.query, '--query'),
      key: intOption(values.key, '--key'),
    });
    const P = d.parts.length;
    const terms = d.parts.map((_, a) => Array.from(d.terms.subarray(a * P, (a + 1) * P)));
    if (values.json) {
      const { layer, head, query, key, total, parts } = d;
      console.log(JSON.stringify({ layer, head, query, key, total, parts, terms }));
      return;
    }
    const sum = d.terms.reduce((a, v) => a + v, 0);
    console.log(`L${d.layer}H${d.head} q·k at query ${d.query}, key ${d.key}: ${d.total.toFixed(4)} (Σ terms ${sum.toFixed(4)})`);
    const order = Array.from(d.terms.keys()).sort((x, y) => Math.abs(d.terms[y] ?? 0) - Math.abs(d.terms[x] ?? 0));
    for (const i of order.slice(0, 12)) {
      const a = d.parts[Math.floor(i / P)] ?? '';
      const b = d.parts[i % P] ?? '';
      console.log(`  ${(d.terms[i] ?? 0).toFixed(4).padStart(10)}  query side ${a} × key side ${b}`);
    }
  } finally {
    await engine.unload();
  }
}

/** One head zeroed or mean-replaced: next-token probabilities and later ‖ΔE‖ at one token. */
async function ablate(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...TEXT_OPTIONS, mode: { type: 'string', default: 'zero' }, token: { type: 'string' } },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model>');
  const mode = values.mode;
  if (mode !== 'zero' && mode !== 'mean') throw new UsageError('--mode is zero or mean');
  const engine = new Engine({ cacheDir: cliCacheDir() });
  try {
    await engine.load(dir, undefined, modelOptions(values));
    const text = need(values.text, '--text <text>');
    const prependEndOfText = values['prepend-eot'] ?? false;
    const T = engine.tokenize({ text, prependEndOfText }).ids.length;
    if (T === 0) throw new Error('the text has no tokens');
    const token = values.token === undefined ? T - 1 : intOption(values.token, '--token');
    const a = await engine.ablate({
      text,
      prependEndOfText,
      layer: intOption(values.layer, '--layer'),
      head: intOption(values.head, '--head'),
      mode,
      token,
    });
    if (values.json) {
      console.log(JSON.stringify(a));
      return;
    }
    console.log(`L${a.layer}H${a.head} ablated (${a.mode}) at token ${a.token}: KL(clean ‖ ablated) = ${a.kl.toFixed(5)} nats`);
    for (const t of a.top) {
      console.log(
        `  ${JSON.stringify(t.string).padEnd(16)} ${(100 * t.clean).toFixed(2).padStart(6)}% → ${(100 * t.ablated).toFixed(2).padStart(6)}%`,
      );
    }
    for (const x of a.layers) console.log(`  layer ${x.layer}: ‖ΔE‖ ${x.delta.toFixed(4)} of ‖E‖ ${x.norm.toFixed(4)}`);
  } finally {
    await engine.unload();
  }
}

/** Downloads a model from the Hub (HF_ENDPOINT, HF_TOKEN and proxies honoured), progress on stderr. */
async function pull(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { revision: { type: 'string', default: 'main' }, dir: { type: 'string' } },
    allowPositionals: true,
  });
  const repo = need(positionals[0], '<repo-id>');
  const dir = resolve(values.dir ?? cliModelsDir());
  const ctrl = new AbortController();
  process.once('SIGINT', () => ctrl.abort());
  let lastLine = 0;
  const got = await downloadModel(repo, dir, {
    revision: values.revision,
    signal: ctrl.signal,
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastLine < 1000 && p.received !== p.total) return;
      lastLine = now;
      const pct = p.total ? ` ${((100 * p.received) / p.total).toFixed(1)}%` : '';
      const eta = p.secondsLeft !== null ? `, ${Math.ceil(p.secondsLeft)} s left` : '';
      console.error(
        `${p.file}: ${formatBytes(p.received)}${p.total ? ` of ${formatBytes(p.total)}` : ''}${pct}, ${formatBytes(p.bytesPerSecond)}/s${eta}`,
      );
    },
  });
  console.error(`downloaded ${repo} at ${got.commit} → ${got.dir}`);
  console.log(got.dir);
}

/** Opens a URL in the default browser; best effort (a headless machine just has the printed URL). */
function openInBrowser(url: string): void {
  const [cmd, ...args] =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '""', url]
        : ['xdg-open', url];
  try {
    const child = spawn(cmd as string, args, { stdio: 'ignore', detached: true });
    child.on('error', () => console.error(`(could not open a browser: open ${url} yourself)`));
    child.unref();
  } catch {
    console.error(`(could not open a browser: open ${url} yourself)`);
  }
}

/**
 * Browser mode: the engine and the built renderer over HTTP. Binds 127.0.0.1 unless --host
 * says otherwise. Every launch has a random token, printed in the URL (and opened with --open),
 * on loopback too: without it a web page the user visits could drive the server.
 */
async function serve(args: string[], view: ViewState | null = null): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8317' },
      host: { type: 'string', default: '127.0.0.1' },
      model: { type: 'string' },
      open: { type: 'boolean', default: false },
      'allow-nonfinite': { type: 'boolean', default: false },
      ...MODEL_OPTIONS,
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0 to 65535');
  const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  // The engine runs in a worker thread, so that its long synchronous stretches never hold up the
  // serving thread (the page's files, library calls, other sessions): see server/engine-client.ts.
  const engine = new EngineClient({ cacheDir: cliCacheDir(), allowNonfinite: values['allow-nonfinite'] });
  const library = new ModelLibrary({
    bundledDir: bundledModelDir(appRoot),
    modelsDir: cliModelsDir(),
    graphCacheDir: cliCacheDir(),
  });
  const host = new ModelHost(engine, library);
  const modelDir = values.model ? library.addFolder(values.model, modelOptions(values)) : bundledModelDir(appRoot);
  console.error(`loading ${modelDir} …`);
  let server;
  try {
    await host.load(modelDir);
    server = await startWebServer({
      ...engine.serverOptions(host),
      rendererDir: join(appRoot, 'out', 'renderer'),
      port,
      host: values.host,
    });
  } catch (e) {
    await engine.close();
    throw e;
  }
  let shown = server.url;
  if (view) {
    const url = new URL(server.url);
    url.searchParams.set('view', viewStateToParam(view));
    shown = url.toString();
    const info = engine.modelInfo();
    if (view.model.weightsHash !== info.weightsHash) {
      console.error(
        `note: this view was made with ${view.model.id} (weights ${view.model.weightsHash.slice(0, 12)}…), not the model being served (${info.id}); pass --model <its folder>`,
      );
    }
  }
  console.log(`Attention Atlas is serving ${engine.modelInfo().label} at ${shown}`);
  if (values.open) openInBrowser(shown);
  if (!isLoopback(values.host)) {
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4' && !a.internal)
      .map((a) => `http://${a?.address}:${server.port}/?token=${server.token}`);
    if (others.length) console.log(`Others on your network: ${others.join('  ')}`);
  }
  console.log('Anyone with this URL can use the app; stop the server with Ctrl+C.');
  await new Promise<void>((done) => {
    const stop = (): void => void server.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await engine.close();
}

/**
 * Opens a saved view (the JSON file, or a PNG / SVG the app exported) in browser mode: serves the
 * app like `serve` and prints the URL whose ?view= parameter restores that exact view.
 */
async function openView(args: string[]): Promise<void> {
  const { positionals } = parseArgs({
    args,
    options: { port: { type: 'string' }, host: { type: 'string' }, model: { type: 'string' } },
    allowPositionals: true,
  });
  const file = need(positionals[0], '<view file>');
  const view = readViewState(readFileSync(file));
  await serve(
    args.filter((a) => a !== file),
    view,
  );
}

/** Speed report as one JSON object on stdout (progress on stderr); see src/bench/bench.ts. */
async function bench(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '20' },
      'build-runs': { type: 'string' },
      settings: { type: 'boolean', default: false },
      'rss-probe': { type: 'boolean', default: false },
      'square-first': { type: 'boolean', default: false },
      only: { type: 'string' },
    },
    allowPositionals: true,
  });
  const runs = Number(values.runs);
  const buildRuns = Number(values['build-runs'] ?? values.runs);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(buildRuns) || buildRuns < 1) {
    throw new UsageError('--runs and --build-runs take a whole number ≥ 1');
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  if (values.only !== undefined && values.only !== 'analyze') {
    if (values.only !== 'tokenizer') throw new UsageError('--only takes: tokenizer, analyze');
    console.log(JSON.stringify({ tokenizer: runTokenizerBench(runs, log) }, null, 2));
    return;
  }
  const analysisOnly = values.only === 'analyze';
  const cacheRoot = dirname(cliCacheDir());
  const modelDir = positionals[0] ? resolve(positionals[0]) : benchModelDir(cacheRoot, log);
  const options = {
    runs,
    buildRuns,
    // --only analyze: the issue-19 figures (T = 64 and 1024, typing at 1024, peak RSS).
    lengths: analysisOnly ? [64, 1024] : [16, 64, 256, 1024],
    appendLengths: analysisOnly ? [1024] : [64, 256, 1024],
    webLengths: [64, 256],
    cacheDir: cliCacheDir(),
    log,
    analysisOnly,
  };
  const report = values['rss-probe']
    ? await runRssProbe(modelDir, options.cacheDir, values['square-first'])
    : values.settings
      ? await runSettingsBench(modelDir, options)
      : await runBench(modelDir, options);
  console.log(JSON.stringify(report, null, 2));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'build') await build(rest);
    else if (command === 'analyze') await analyze(rest);
    else if (command === 'explain-score') await explainScore(rest);
    else if (command === 'ablate') await ablate(rest);
    else if (command === 'pull') await pull(rest);
    else if (command === 'serve') await serve(rest);
    else if (command === 'open') await openView(rest);
    else if (command === 'bench') await bench(rest);
    else if (command === '--help' || command === '-h' || command === undefined) {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    } else throw new UsageError(`unknown command "${command}"`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) console.error(`atlas: ${e.message}\n${USAGE}`);
    else if (e instanceof ConfigNeededError) console.error(`atlas: ${e.message}, or pass --n-heads <n>`);
    else if (e instanceof VocabularyNeededError) console.error(`atlas: ${e.message} (--vocab <file>)`);
    else console.error(`atlas: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
