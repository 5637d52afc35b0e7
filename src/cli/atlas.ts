/**
 * `atlas`: the engine from a terminal or a notebook's shell.
 *
 *   atlas build <model-dir> --out <file.onnx>
 *   atlas analyze <model-dir> (--text <text> | --text-file <path>) --out <dir> [--prepend-eot]
 *
 * Text comes from --text, or from a file (--text-file <path>), or from standard input
 * (`--text -` or `--text-file -`); at most LIMITS.maxTextChars characters (the app's limit),
 * checked before tokenizing, so an over-long input is a clear error. Long command lines are
 * handled by bin/atlas.mjs (see there: onnxruntime overflowed the stack on them).
 *
 * `analyze` writes tokens.json ({"ids": [...], "strings": [...]}) and one .npy per exposed
 * tensor, named by its TransformerLens hook (blocks.0.attn.hook_pattern.npy), in DESIGN.md's
 * axis order. Errors go to stderr with a non-zero exit.
 */
import { createReadStream, mkdirSync, statSync, writeFileSync, type ReadStream } from 'node:fs';
import { CHANNELS, LIMITS } from '../shared/api';
import { networkInterfaces } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLibrary } from '../engine/library';
import { createHandlers, parsePredictionsRequest } from '../main/handlers';
import { ModelHost } from '../main/model-host';
import { isLoopback, startWebServer } from '../server/web-server';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/engine';
import { buildInstrumentedGraph } from '../engine/graph-builder';
import { Gpt2Checkpoint } from '../engine/gpt2-weights';
import { encodeNpy } from '../engine/npy';
import { bundledModelDir, cliCacheDir, cliModelsDir } from '../engine/paths';
import { downloadModel, formatBytes } from '../engine/download';
import { benchModelDir, runBench, runRssProbe, runSettingsBench } from '../bench/bench';
import { runTokenizerBench } from '../bench/tokenizer-bench';

const USAGE = `usage:
  atlas build <model-dir> --out <file.onnx> [--allow-nonfinite]
  atlas analyze <model-dir> (--text <text> | --text-file <path>) --out <dir> [--prepend-eot] [--allow-nonfinite]
                (\`-\` as the text or the path reads standard input)
  atlas pull <repo-id> [--revision <rev>] [--dir <models-dir>]
  atlas serve [--port <n>] [--host <address>] [--model <model-dir>] [--open] [--allow-nonfinite]
  atlas bench [<model-dir>] [--runs <n>] [--build-runs <n>] [--settings] [--only tokenizer]`;

class UsageError extends Error {}

function need(v: string | undefined, what: string): string {
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

async function build(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, 'allow-nonfinite': { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model-dir>');
  const out = resolve(need(values.out, '--out <file.onnx>'));
  mkdirSync(dirname(out), { recursive: true });
  const ckpt = Gpt2Checkpoint.open(dir);
  try {
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
    },
    allowPositionals: true,
  });
  const dir = need(positionals[0], '<model-dir>');
  if (values['text-file'] === undefined) need(values.text, '--text <text> or --text-file <path>');
  const outDir = resolve(need(values.out, '--out <dir>'));
  const text = await inputText(values);
  const engine = new Engine({ cacheDir: cliCacheDir(), allowNonfinite: values['allow-nonfinite'] });
  try {
    await engine.load(dir);
    const prepend = values['prepend-eot'] ?? false;
    const { ids, truncatedFrom } = engine.tokenize({ text, prependEndOfText: prepend });
    if (ids.length === 0) throw new Error('the text has no tokens');
    if (truncatedFrom !== null)
      console.error(`note: kept the first ${ids.length} of ${truncatedFrom} tokens (the model's context)`);
    const tensors = await engine.runAll(ids);
    mkdirSync(outDir, { recursive: true });
    const strings = engine.tokenInfos(ids, prepend).map((p) => p.display);
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
async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '8317' },
      host: { type: 'string', default: '127.0.0.1' },
      model: { type: 'string' },
      open: { type: 'boolean', default: false },
      'allow-nonfinite': { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be 0 to 65535');
  const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const engine = new Engine({ cacheDir: cliCacheDir(), allowNonfinite: values['allow-nonfinite'] });
  const library = new ModelLibrary({
    bundledDir: bundledModelDir(appRoot),
    modelsDir: cliModelsDir(),
    graphCacheDir: cliCacheDir(),
  });
  const host = new ModelHost(engine, library);
  const modelDir = values.model ? library.addFolder(values.model) : bundledModelDir(appRoot);
  console.error(`loading ${modelDir} …`);
  await host.load(modelDir);
  const server = await startWebServer({
    handlers: createHandlers(engine, Promise.resolve(), null, host),
    // Predictions of the analysis the engine holds need no forward pass: answered beside the queue.
    fastPath: (channel, arg) => {
      if (channel !== CHANNELS.predictions) return undefined;
      const p = engine.cachedPredictions(parsePredictionsRequest(arg));
      return p ? Promise.resolve(p) : undefined;
    },
    rendererDir: join(appRoot, 'out', 'renderer'),
    port,
    host: values.host,
  });
  console.log(`Attention Atlas is serving ${engine.modelInfo().label} at ${server.url}`);
  if (values.open) openInBrowser(server.url);
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
  await engine.unload();
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
  if (values.only !== undefined) {
    if (values.only !== 'tokenizer') throw new UsageError('--only takes: tokenizer');
    console.log(JSON.stringify({ tokenizer: runTokenizerBench(runs, log) }, null, 2));
    return;
  }
  const cacheRoot = dirname(cliCacheDir());
  const modelDir = positionals[0] ? resolve(positionals[0]) : benchModelDir(cacheRoot, log);
  const options = {
    runs,
    buildRuns,
    lengths: [16, 64, 256, 1024],
    appendLengths: [64, 256, 1024],
    webLengths: [64, 256],
    cacheDir: cliCacheDir(),
    log,
  };
  const report = values['rss-probe']
    ? await runRssProbe(modelDir, options.cacheDir)
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
    else if (command === 'pull') await pull(rest);
    else if (command === 'serve') await serve(rest);
    else if (command === 'bench') await bench(rest);
    else if (command === '--help' || command === '-h' || command === undefined) {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    } else throw new UsageError(`unknown command "${command}"`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) console.error(`atlas: ${e.message}\n${USAGE}`);
    else console.error(`atlas: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  }
}
