/**
 * Issue 16 item 1, from a real browser: a page the user visits on another loopback port (same
 * site as the app, other origin) tries what a hostile page would, in the very browser that holds
 * the app's cookie; and a DNS-rebound name is mapped onto the server with Chromium's resolver
 * rules. None of it may reach a handler or read anything back.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handler } from '../../src/main/handlers';
import { startWebServer, type WebServer } from '../../src/server/web-server';
import { CHANNELS, type Channel } from '../../src/shared/api';
import { pack } from '../../src/shared/wire';
import { RENDERER_DIR, launchChromium } from '../helpers/browser-host';

/** What a hostile page runs: every way a cross-origin page can send or read, each result recorded. */
function attackPage(target: string): string {
  // Well-formed API messages: the attacker knows the wire format, it is in the public source.
  const body = (arg: unknown): string => `new Uint8Array(${JSON.stringify(Array.from(pack(arg)))})`;
  return `<!doctype html><meta charset="utf-8"><title>hostile</title><body><script>
const T = ${JSON.stringify(target)};
const results = {};
async function attempt(name, fn) {
  try { results[name] = 'read: ' + String(await fn()).slice(0, 200); } catch (e) { results[name] = 'failed: ' + e; }
}
window.attack = (async () => {
  // A "simple" cross-site POST: no preflight, the cookie goes along, the reply is opaque.
  await attempt('simple text/plain', () => fetch(T + 'api/atlas:remove-model', { method: 'POST', mode: 'no-cors',
    credentials: 'include', headers: { 'content-type': 'text/plain' }, body: ${body({ id: 'x' })} }).then((r) => r.type));
  // The real API's shape: forces a preflight, which the server does not grant.
  await attempt('api with header', () => fetch(T + 'api/atlas:library', { method: 'POST', credentials: 'include',
    headers: { 'content-type': 'application/octet-stream', 'x-atlas-api': '1' }, body: ${body(null)} })
    .then((r) => r.status + ' ' + r.headers.get('content-type')));
  await attempt('download', () => fetch(T + 'api/atlas:download', { method: 'POST', mode: 'no-cors', credentials: 'include',
    body: ${body({ repo: 'owner/name' })} }).then((r) => r.type));
  // Reading the app's page (with the token cookie) across origins.
  await attempt('read page', () => fetch(T, { credentials: 'include' }).then((r) => r.text()));
  // A form POST in a frame: a top-level-like simple request.
  await new Promise((done) => {
    const f = document.createElement('iframe');
    f.name = 'sink';
    f.onload = done;
    document.body.appendChild(f);
    const form = document.createElement('form');
    form.method = 'POST';
    form.enctype = 'text/plain';
    form.action = T + 'api/atlas:use-model';
    form.target = 'sink';
    const i = document.createElement('input');
    i.name = 'id';
    i.value = 'x';
    form.appendChild(i);
    document.body.appendChild(form);
    form.submit();
    setTimeout(done, 3000);
  });
  return results;
})();
</script>`;
}

describe('browser mode in Chromium: other origins cannot drive the server', () => {
  let browser: Browser;
  let server: WebServer;
  let hostile: Server;
  let hostileUrl = '';
  const called: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    const handlers = Object.fromEntries(
      Object.values(CHANNELS).map((c) => [
        c,
        async (_arg: unknown): Promise<unknown> => {
          called.push(c);
          return { channel: c };
        },
      ]),
    ) as Record<Channel, Handler>;
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const target = server.url.replace(/\?token=.*$/, '');
    hostile = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(attackPage(target));
    });
    await new Promise<void>((ok) => hostile.listen(0, '127.0.0.1', () => ok()));
    hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    hostile?.close();
  });

  it('a page on another loopback port, in the browser that holds the app cookie, neither reaches a handler nor reads a reply', async () => {
    const context = await browser.newContext();
    // The user has opened the server's URL: the browser holds its HttpOnly cookie. (A page of
    // the server that runs no app code, so every handler call below is the test's own.)
    const app = await context.newPage();
    expect((await app.goto(server.url.replace('/?token=', '/no-such-page?token=')))?.status()).toBe(404);
    expect((await context.cookies()).map((c) => c.name)).toContain(`atlas_token_${server.port}`);
    const evil = await context.newPage();
    await evil.goto(hostileUrl);
    const results = (await evil.evaluate('window.attack')) as Record<string, string>;
    expect(Object.keys(results).sort()).toEqual(['api with header', 'download', 'read page', 'simple text/plain']);
    // The no-cors ones "succeed" with an opaque reply (nothing readable); the others fail.
    expect(results['simple text/plain']).toBe('read: opaque');
    expect(results.download).toBe('read: opaque');
    expect(results['api with header']).toMatch(/^failed: TypeError/);
    expect(results['read page']).toMatch(/^failed: TypeError/);
    expect(called).toEqual([]);
    // The app's own page, in the same browser, still works (the checks are not simply closed).
    const own = await app.evaluate(
      async (packedNull) => {
        const r = await fetch('api/atlas:library', {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'x-atlas-api': '1' },
          body: new Uint8Array(packedNull),
        });
        return r.status;
      },
      Array.from(pack(null)),
    );
    expect(own).toBe(200);
    expect(called).toEqual([CHANNELS.library]);
    await context.close();
  });

  it('a DNS-rebound name pointing at the server gets 421, token or not', async () => {
    const rebound = await launchChromium(['--host-resolver-rules=MAP rebound.test 127.0.0.1']);
    try {
      const page = await rebound.newPage();
      const url = server.url.replace('127.0.0.1', 'rebound.test');
      const res = await page.goto(url);
      expect(res?.status()).toBe(421);
      const api = await page.evaluate(async () => {
        const r = await fetch('api/atlas:library', {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'x-atlas-api': '1' },
          body: new Uint8Array([0]),
        });
        return r.status;
      });
      expect(api).toBe(421);
      expect(called).toEqual([CHANNELS.library]); // the first test's own call, nothing since
    } finally {
      await rebound.close();
    }
  });
});
