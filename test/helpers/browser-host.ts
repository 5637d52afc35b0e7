/**
 * Drives the built renderer in Debian Chromium with the real engine behind it: a static server
 * on 127.0.0.1 serves out/renderer, and window.__atlasTransport is a Playwright binding that
 * calls the real main-side handlers (createHandlers) with packed messages. No engine mocks.
 * With ATLAS_E2E_MODE=web the same tests run against browser mode instead: the page is served
 * by the web server and calls the same handlers over HTTP.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createHandlers } from '../../src/main/handlers';
import type { ModelHost } from '../../src/main/model-host';
import { startWebServer } from '../../src/server/web-server';
import type { Engine } from '../../src/engine/engine';
import { fromBase64, pack, toBase64, unpack, type WireReply } from '../../src/shared/wire';
import type { Channel } from '../../src/shared/api';

export const RENDERER_DIR = resolve('out/renderer');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export function serveStatic(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }));
  });
}

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Debian chromium not found at ${CHROMIUM}: apt-get install chromium (CI's .ci/run does)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

export interface HostedPage {
  page: Page;
  context: BrowserContext;
  /** Channels the page invoked, in order. */
  calls: Channel[];
  /** Console errors and warnings the page logged, and uncaught page errors. */
  console: string[];
}

export async function openApp(
  browser: Browser,
  url: string,
  engine: Engine,
  options: {
    width?: number;
    height?: number;
    colorScheme?: 'light' | 'dark';
    /** Device pixels per CSS pixel (2: a high-density laptop screen). */
    deviceScaleFactor?: number;
    /** Milliseconds to hold a reply, to test slow and out-of-order answers. */
    delayFor?: (channel: Channel, arg: unknown) => number;
    /** Model library and switching; without it the library channels answer "not available". */
    host?: ModelHost;
    /** The browser's language (navigator.languages); en-US unless a test asks, whatever the machine's. */
    locale?: string;
    /** Query parameters for the page's URL, e.g. { lang: 'zh-CN' }. */
    params?: Record<string, string>;
    /** Told the size of every reply the page receives (the benchmark counts bytes on the wire). */
    onReply?: (channel: Channel, bytes: number) => void;
  } = {},
): Promise<HostedPage> {
  if (!existsSync(join(RENDERER_DIR, 'index.html'))) throw new Error('out/renderer is missing: run `npm run build` first');
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.colorScheme ?? 'light',
    locale: options.locale ?? 'en-US',
    deviceScaleFactor: options.deviceScaleFactor ?? 1,
  });
  const page = await context.newPage();
  const handlers = createHandlers(engine, Promise.resolve(), null, options.host ?? null);
  const calls: Channel[] = [];
  const web = process.env.ATLAS_E2E_MODE === 'web';
  /**
   * The same handlers, recording calls and holding replies as the test asks. In browser mode
   * they also count the bytes the server sends for each reply (it packs { ok: value } the same
   * way), when asked to (the benchmark's bytes on the wire); the binding below counts its own.
   */
  const observed = Object.fromEntries(
    Object.entries(handlers).map(([channel, handler]) => [
      channel,
      async (arg: unknown) => {
        calls.push(channel as Channel);
        // In browser mode a held reply is held on its way back (see the route below), not here:
        // here it would hold the server's engine queue, as a slow engine would, not a slow reply.
        const delay = web ? 0 : (options.delayFor?.(channel as Channel, arg) ?? 0);
        const value = await handler(arg);
        if (web && options.onReply) options.onReply(channel as Channel, pack({ ok: value }).length);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        return value;
      },
    ]),
  ) as typeof handlers;
  const consoleMessages: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') consoleMessages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => consoleMessages.push(`pageerror: ${e.message}`));
  if (web) {
    // Browser mode: the page talks HTTP to a web server on loopback that registers these handlers.
    const server = await startWebServer({ handlers: observed, rendererDir: RENDERER_DIR });
    context.on('close', () => void server.close());
    // The page's own query (a view to restore, ?view=…) comes along to the web server's URL,
    // beside the session token that URL carries.
    const delayFor = options.delayFor;
    if (delayFor) {
      await page.route('**/api/**', async (route) => {
        const req = route.request();
        const path = new URL(req.url()).pathname;
        const channel = decodeURIComponent(path.slice(path.indexOf('/api/') + '/api/'.length)) as Channel;
        const body = req.postDataBuffer();
        let delay = 0;
        try {
          delay = body ? delayFor(channel, unpack(new Uint8Array(body))) : 0;
        } catch {
          // A test's rule written for requests with a text, shown one without: not held.
        }
        if (delay <= 0) return route.continue();
        const response = await route.fetch();
        await new Promise((r) => setTimeout(r, delay));
        await route.fulfill({ response }).catch(() => {}); // the page may be gone by then
      });
    }
    const target = new URL(server.url);
    for (const [k, v] of new URL(url).searchParams) target.searchParams.set(k, v);
    await page.goto(withParams(target.toString(), options.params));
    return { page, context, calls, console: consoleMessages };
  }
  await page.exposeFunction('__atlasTransport', async (channel: string, request: string): Promise<string> => {
    let reply: WireReply;
    const handler = observed[channel as Channel];
    try {
      if (!handler) throw new Error(`unknown channel ${channel}`);
      reply = { ok: await handler(unpack(fromBase64(request))) };
    } catch (e) {
      reply = { error: (e as Error).message };
    }
    const bytes = pack(reply);
    options.onReply?.(channel as Channel, bytes.length);
    return toBase64(bytes);
  });
  await page.goto(withParams(url, options.params));
  return { page, context, calls, console: consoleMessages };
}

function withParams(url: string, params: Record<string, string> | undefined): string {
  if (!params) return url;
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * Chooses a head in the attention view's picker. The view opens on the head its rule picks
 * (shared/default-head.ts); tests that follow a particular head choose it.
 */
export async function chooseHead(page: Page, layer: number, head: number): Promise<void> {
  await page.getByTestId(`layer-${layer}`).click();
  await page.getByTestId(`head-${head}`).click();
}
