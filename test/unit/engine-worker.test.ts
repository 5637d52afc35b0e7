/**
 * Browser mode's engine runs in a worker thread (server/engine-client.ts): the real server, the
 * real worker, a real (random) model. The worker's test hooks stand in for a long synchronous
 * stretch of engine work and for a crash.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLibrary } from '../../src/engine/library';
import { ModelHost } from '../../src/main/model-host';
import { CHANNELS, USER_ERROR_PREFIX, type Analysis, type LibraryState, type ModelInfo } from '../../src/shared/api';
import { pack, unpack, type WireReply } from '../../src/shared/wire';
import { EngineClient, MAX_CRASHES } from '../../src/server/engine-client';
import { TEST_HOOK } from '../../src/server/engine-protocol';
import { API_HEADER, startWebServer, type WebServer } from '../../src/server/web-server';
import { RENDERER_DIR } from '../helpers/browser-host';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

const origin = (s: WebServer): string => s.url.replace(/\/\?token=.*$/, '');

async function call(server: WebServer, channel: string, arg: unknown): Promise<WireReply> {
  const res = await fetch(`${origin(server)}/api/${channel}`, {
    method: 'POST',
    body: pack(arg) as BodyInit,
    headers: { 'content-type': 'application/octet-stream', [API_HEADER]: '1', 'x-atlas-token': server.token },
  });
  expect(res.status).toBe(200);
  return unpack(new Uint8Array(await res.arrayBuffer())) as WireReply;
}

function ok<T>(r: WireReply): T {
  if (!('ok' in r)) throw new Error(`expected an answer, got ${r.error}`);
  return r.ok as T;
}

/** A promise's error message, or null when it resolved (caught at once: no unhandled rejection). */
const failure = (p: Promise<unknown>): Promise<string | null> =>
  p.then(
    () => null,
    (e: unknown) => (e as Error).message,
  );

const analyze = (text: string): { text: string; prependEndOfText: boolean } => ({ text, prependEndOfText: false });

describe('browser mode: the engine in a worker thread', () => {
  const modelDir = writeRandomModel(SMALL_SPEC);
  const cacheDir = tempDir('atlas-cache-');
  const logs: string[] = [];
  let client: EngineClient;
  let server: WebServer;

  beforeAll(async () => {
    client = new EngineClient({ cacheDir, testHooks: true, log: (line) => logs.push(line) });
    const library = new ModelLibrary({
      bundledDir: modelDir,
      modelsDir: tempDir(),
      graphCacheDir: cacheDir,
      hfCacheDir: tempDir(),
    });
    const host = new ModelHost(client, library);
    await host.load(modelDir);
    server = await startWebServer({ ...client.serverOptions(host), rendererDir: RENDERER_DIR });
  });

  afterAll(async () => {
    await server?.close();
    await client?.close();
  });

  it('answers engine calls from the worker: typed arrays, predictions, validation errors', async () => {
    const a = ok<Analysis>(await call(server, CHANNELS.analyze, analyze('The cat sat on the mat')));
    expect(a.tokens.length).toBeGreaterThan(3);
    expect(a.pattern).toBeInstanceOf(Float32Array);
    expect(a.pattern.length).toBe(SMALL_SPEC.nLayer * SMALL_SPEC.nHead * a.drawn * a.drawn);
    // The analysis just made: answered by the worker's fast path.
    const p = ok<{ position: number; probs: Float32Array }>(
      await call(server, CHANNELS.predictions, { ...analyze('The cat sat on the mat'), position: 1 }),
    );
    expect(p.position).toBe(1);
    expect(p.probs).toBeInstanceOf(Float32Array);
    expect(await call(server, CHANNELS.analyze, { text: 5 })).toEqual({ error: `${USER_ERROR_PREFIX}text must be a string` });
  });

  it('keeps serving the page, 401s, the library and the model while the engine is busy for seconds', async () => {
    const heavy = call(server, CHANNELS.analyze, analyze(`${TEST_HOOK}block:4000`));
    let heavyDone = false;
    void heavy.then(() => (heavyDone = true));
    const answers: { what: string; sent: number; answered: number }[] = [];
    const timed = async (what: string, request: () => Promise<boolean>): Promise<void> => {
      const sent = Date.now();
      expect(await request()).toBe(true);
      answers.push({ what, sent, answered: Date.now() });
    };
    // Ask again and again until the engine is done; what matters is which answers came while it was blocked.
    while (!heavyDone) {
      await timed('page', async () => (await fetch(server.url)).status === 200);
      await timed('401', async () => (await fetch(`${origin(server)}/`)).status === 401);
      await timed('library', async () => ok<LibraryState>(await call(server, CHANNELS.library, null)).loaded.model !== null);
      await timed('modelInfo', async () => ok<ModelInfo>(await call(server, CHANNELS.modelInfo, null)).nLayers === 3);
    }
    const { startedAt, endedAt } = ok<{ startedAt: number; endedAt: number }>(await heavy);
    // Asked after the worker's thread had started its synchronous block and answered before it ended.
    const during = answers.filter((x) => x.sent >= startedAt && x.answered <= endedAt);
    expect(new Set(during.map((x) => x.what))).toEqual(new Set(['page', '401', 'library', 'modelInfo']));
  });

  it('a crashed worker answers what it held with an error, restarts with the model, and serves again', async () => {
    logs.length = 0;
    // Both reach the worker; the first kills it before it reads the second.
    const crash = failure(client.call(CHANNELS.analyze, analyze(`${TEST_HOOK}crash`)));
    const behind = failure(client.call(CHANNELS.analyze, analyze('queued behind the crash')));
    expect(await crash).toMatch(/the engine stopped unexpectedly .*crashed on purpose.* and is being restarted/);
    expect(await behind).toMatch(/the engine stopped unexpectedly/);
    expect(logs.join('\n')).toMatch(/engine worker stopped .*; restarting it/);
    // Over HTTP too: an error reply, not a hang and not a dead server.
    const r = await call(server, CHANNELS.analyze, analyze(`${TEST_HOOK}crash`));
    expect('error' in r && r.error).toMatch(/^AtlasError: the engine stopped unexpectedly/);
    // The new worker reloaded the model: analyses work again.
    const a = ok<Analysis>(await call(server, CHANNELS.analyze, analyze('after the crash')));
    expect(a.model.nLayers).toBe(SMALL_SPEC.nLayer);
    expect(ok<LibraryState>(await call(server, CHANNELS.library, null)).loaded.model?.nLayers).toBe(SMALL_SPEC.nLayer);
  });

  it(`a worker that dies ${MAX_CRASHES} times in a row is left stopped, and every request says so`, async () => {
    const lines: string[] = [];
    // No model: nothing to reload, so nothing is answered between the deaths.
    const other = new EngineClient({ cacheDir, testHooks: true, log: (line) => lines.push(line) });
    try {
      for (let i = 1; i <= MAX_CRASHES; i++) {
        expect(await failure(other.call(CHANNELS.analyze, analyze(`${TEST_HOOK}crash`)))).toMatch(
          i < MAX_CRASHES ? /is being restarted/ : new RegExp(`${MAX_CRASHES} times in a row .*restart atlas serve`),
        );
      }
      expect(await failure(other.call(CHANNELS.analyze, analyze('anyone there?')))).toMatch(/restart atlas serve/);
      expect(lines.at(-1)).toMatch(/times in a row/);
    } finally {
      await other.close();
    }
  });

  it('closing answers what the worker still held', async () => {
    const other = new EngineClient({ cacheDir, testHooks: true, log: () => {} });
    await other.load(modelDir);
    const held = failure(other.call(CHANNELS.analyze, analyze(`${TEST_HOOK}block:2000`)));
    await other.close();
    expect(await held).toMatch(/shutting down/);
    expect(await failure(other.call(CHANNELS.analyze, analyze('after close')))).toMatch(/shutting down/);
  });

  it('`atlas serve` (bin/atlas.mjs, through tsx) starts its worker, analyses, and stops with the server', async () => {
    const child = spawn(process.execPath, [resolve('bin/atlas.mjs'), 'serve', '--port', '0', '--model', modelDir], {
      env: { ...process.env, XDG_CACHE_HOME: tempDir('atlas-xdg-'), XDG_DATA_HOME: tempDir('atlas-xdg-') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const url = await new Promise<string>((done, fail) => {
        const timer = setTimeout(() => fail(new Error(`atlas serve did not start: ${out}`)), 90_000);
        child.stdout.on('data', () => {
          const m = /at (http:\/\/\S+)/.exec(out);
          if (m?.[1]) {
            clearTimeout(timer);
            done(m[1]);
          }
        });
        void exited.then((code) => fail(new Error(`atlas serve exited with ${code}: ${out}`)));
      });
      const served: WebServer = {
        url,
        port: Number(new URL(url).port),
        token: new URL(url).searchParams.get('token') ?? '',
        close: async () => {},
      };
      const a = ok<Analysis>(await call(served, CHANNELS.analyze, analyze('from the command line')));
      expect(a.tokens.length).toBeGreaterThan(2);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
