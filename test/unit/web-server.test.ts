import { afterEach, describe, expect, it } from 'vitest';
import type { Handler } from '../../src/main/handlers';
import { CHANNELS, type Channel } from '../../src/shared/api';
import { pack, PackedReply, unpack, type WireReply } from '../../src/shared/wire';
import { request as httpRequest } from 'node:http';
import {
  API_HEADER,
  allowedHostNames,
  isLoopback,
  parseHostHeader,
  startWebServer,
  type WebServer,
} from '../../src/server/web-server';
import { RENDERER_DIR } from '../helpers/browser-host';

/** Handlers that echo, except analyze, which waits until the test releases it. */
function fakeHandlers(): { handlers: Record<Channel, Handler>; release: () => void; ran: string[]; called: string[] } {
  const ran: string[] = [];
  const called: string[] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => (release = r));
  const handlers = Object.fromEntries(
    Object.values(CHANNELS).map((c) => [
      c,
      async (arg: unknown) => {
        called.push(c);
        return { channel: c, arg };
      },
    ]),
  ) as Record<Channel, Handler>;
  handlers[CHANNELS.analyze] = async (arg) => {
    const text = (arg as { text: string }).text;
    if (text === 'block') {
      await gate;
      gate = new Promise<void>((r) => (release = r));
    }
    ran.push(text);
    called.push(CHANNELS.analyze);
    return { text };
  };
  return { handlers, release: () => release(), ran, called };
}

/** The origin of a server's URL, with a trailing slash (the URL without its ?token=…). */
const baseOf = (s: WebServer): string => s.url.replace(/\?token=.*$/, '');

/** An API call as a script would make it: the token in a header (unless `headers` says otherwise). */
async function call(
  server: WebServer,
  channel: string,
  arg: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; reply: WireReply | string }> {
  const res = await fetch(`${baseOf(server)}api/${channel}`, {
    method: 'POST',
    body: pack(arg) as BodyInit,
    headers: {
      'content-type': 'application/octet-stream',
      [API_HEADER]: '1',
      'x-atlas-token': server.token,
      ...headers,
    },
  });
  const isWire = res.headers.get('content-type') === 'application/octet-stream';
  return {
    status: res.status,
    reply: isWire ? (unpack(new Uint8Array(await res.arrayBuffer())) as WireReply) : await res.text(),
  };
}

describe('web server', () => {
  let server: WebServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('binds loopback by default and needs the per-launch token there too; serves the renderer with a strict CSP', async () => {
    const { handlers, called } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const token = server.token;
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32,}$/);
    const base = baseOf(server);
    expect((await fetch(base)).status).toBe(401);
    expect((await fetch(`${base}?token=${'x'.repeat(token.length)}`)).status).toBe(401);
    expect((await call(server, CHANNELS.modelInfo, null, { 'x-atlas-token': '' })).status).toBe(401);
    expect(called).toEqual([]);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const setCookie = page.headers.get('set-cookie') ?? '';
    // Cookies are per host, not per port: the name carries the port so two servers never collide.
    expect(setCookie).toMatch(new RegExp(`^atlas_token_${server.port}=[\\w-]+; HttpOnly; SameSite=Strict; Path=/, `));
    expect(setCookie).toMatch(new RegExp(`atlas_session_${server.port}=[\\w-]+; HttpOnly; SameSite=Strict; Path=/$`));
    const jar = setCookie.split(';')[0] ?? '';
    expect((await fetch(`${base}..%2f..%2fetc%2fpasswd`, { headers: { cookie: jar } })).status).toBe(404);
    expect(await call(server, CHANNELS.analyze, { text: 'hi' }, { 'x-atlas-token': '', cookie: jar })).toEqual({
      status: 200,
      reply: { ok: { text: 'hi' } },
    });
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && !isLoopback('0.0.0.0') && !isLoopback('192.168.1.2')).toBe(true);
  });

  it('requires the random token on any other bind: 401 without it, works with it (query, cookie or header)', async () => {
    const { handlers } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, host: '0.0.0.0' });
    const token = server.token;
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32,}$/);
    const base = baseOf(server); // dialled on loopback
    expect((await fetch(base)).status).toBe(401);
    expect((await call(server, CHANNELS.modelInfo, null, { 'x-atlas-token': 'nope' })).status).toBe(401);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    const setCookie = page.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/atlas_token_\d+=.*HttpOnly; SameSite=Strict/);
    expect(
      (await call(server, CHANNELS.modelInfo, null, { 'x-atlas-token': '', cookie: setCookie.split(';')[0] ?? '' })).status,
    ).toBe(200);
    expect((await call(server, CHANNELS.modelInfo, null, { 'x-atlas-token': token })).status).toBe(200);
  });

  it('answers only to its own names (DNS rebinding): any other Host gets 421, even with the token', async () => {
    const { handlers, called } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const port = server.port;
    /** A raw request with a Host header of our choosing (fetch will not let one be set). */
    const raw = (host: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<number> =>
      new Promise((ok, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { host, ...headers } }, (res) => {
          res.resume();
          ok(res.statusCode ?? 0);
        });
        req.on('error', fail);
        req.end(method === 'POST' ? Buffer.from(pack(null)) : undefined);
      });
    const t = `?token=${server.token}`;
    const api = { 'content-type': 'application/octet-stream', [API_HEADER]: '1', 'x-atlas-token': server.token };
    for (const evil of [
      'attacker.example',
      `attacker.example:${port}`,
      `127.0.0.1:${port + 1}`,
      `localhost.attacker.example:${port}`,
    ]) {
      expect(await raw(evil, `/${t}`), evil).toBe(421);
      expect(await raw(evil, `/api/${CHANNELS.library}`, 'POST', api), evil).toBe(421);
    }
    expect(called).toEqual([]);
    for (const good of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      expect(await raw(good, `/${t}`), good).toBe(200);
      expect(await raw(good, `/api/${CHANNELS.library}`, 'POST', api), good).toBe(200);
    }
    expect(parseHostHeader('[::1]:80')).toEqual({ name: '[::1]', port: 80 });
    expect(parseHostHeader('a b')).toBeNull();
    const names = allowedHostNames('atlas.lan');
    expect(names.has('atlas.lan') && names.has('localhost') && names.has('127.0.0.1') && !names.has('evil.lan')).toBe(true);
  });

  it('refuses API calls a cross-site page could make: simple requests, foreign Origin, cross-site fetch metadata', async () => {
    const { handlers, called } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const other = `http://127.0.0.1:${server.port + 1}`; // another loopback port: same site, other origin
    const refusals: Record<string, string>[] = [
      { 'content-type': 'text/plain' }, // a "simple" POST: no preflight
      { 'content-type': 'application/x-www-form-urlencoded' }, // a form
      { [API_HEADER]: '' }, // no API header
      { origin: other },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
    ];
    for (const h of refusals)
      expect((await call(server, CHANNELS.removeModel, { id: 'x' }, h)).status, JSON.stringify(h)).toBe(403);
    expect(called).toEqual([]);
    // The app's own page: same Origin and Sec-Fetch-Site same-origin.
    const own = { origin: baseOf(server).slice(0, -1), 'sec-fetch-site': 'same-origin' };
    expect((await call(server, CHANNELS.library, null, own)).status).toBe(200);
    expect(called).toEqual([CHANNELS.library]);
  });

  it('answers oversized, malformed and unknown requests with 4xx and a clear message, then keeps serving', async () => {
    // (A handler's own error is an application result: 200 with { error } in the wire reply.)
    const { handlers } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, maxBodyBytes: 64 * 1024 });
    const base = baseOf(server);
    const h = { 'content-type': 'application/octet-stream', [API_HEADER]: '1', 'x-atlas-token': server.token };
    const big = await fetch(`${base}api/${CHANNELS.analyze}`, { method: 'POST', body: new Uint8Array(200 * 1024), headers: h });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/over the 65536-byte limit/);
    const junk = await fetch(`${base}api/${CHANNELS.analyze}`, { method: 'POST', body: 'not a message at all', headers: h });
    expect(junk.status).toBe(400);
    expect(await junk.text()).toMatch(/malformed request: not an Attention Atlas message/);
    expect((await fetch(`${base}api/atlas:nope`, { method: 'POST', body: '', headers: h })).status).toBe(404);
    expect((await fetch(`${base}api/${CHANNELS.analyze}`, { headers: h })).status).toBe(405);
    expect(await call(server, CHANNELS.analyze, { text: 'still here' })).toEqual({
      status: 200,
      reply: { ok: { text: 'still here' } },
    });
  });

  it('runs one analysis at a time; a client’s newer request supersedes its older waiting one', async () => {
    const { handlers, release, ran } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const a = { 'x-atlas-client': 'tab-a' };
    const b = { 'x-atlas-client': 'tab-b' };
    // The waits only let requests reach the server; on two cores shared with browser tests 50 ms
    // was sometimes too short (the newer request arrived after the release), hence the margin.
    const first = call(server, CHANNELS.analyze, { text: 'block' }, a); // runs, waits for release
    await new Promise((r) => setTimeout(r, 300));
    const older = call(server, CHANNELS.analyze, { text: 'older' }, a);
    await new Promise((r) => setTimeout(r, 100));
    const other = call(server, CHANNELS.analyze, { text: 'other tab' }, b);
    const newer = call(server, CHANNELS.analyze, { text: 'newer' }, a);
    await new Promise((r) => setTimeout(r, 600));
    release();
    expect((await first).status).toBe(200);
    expect(await older).toEqual({ status: 200, reply: { error: 'superseded by a newer request' } });
    expect((await other).reply).toEqual({ ok: { text: 'other tab' } }); // other clients are not affected
    expect((await newer).reply).toEqual({ ok: { text: 'newer' } });
    expect(ran).toEqual(['block', 'other tab', 'newer']);
  });

  /** A browser session: loads the page (getting the token and session cookies) and calls as its tab. */
  async function session(s: WebServer, tab: string): Promise<Record<string, string>> {
    const page = await fetch(s.url);
    const jar = (page.headers.getSetCookie?.() ?? []).map((c) => c.split(';')[0]).join('; ');
    expect(jar).toMatch(/atlas_session_\d+=/);
    return { cookie: jar, 'x-atlas-token': '', 'x-atlas-client': tab };
  }

  it('light channels never wait behind analyses: the library answers while an analysis holds the engine', async () => {
    const { handlers, release, ran } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const order: string[] = [];
    const blocked = call(server, CHANNELS.analyze, { text: 'block' }).then(() => order.push('analysis'));
    const queued = Array.from({ length: 20 }, (_, i) =>
      call(server as WebServer, CHANNELS.analyze, { text: `queued ${i}` }, { 'x-atlas-client': `tab-${i}` }),
    );
    // The old single queue made this wait for all 21 analyses; the fallback release keeps a
    // regression from hanging the test (the order below still fails it).
    const fallback = setTimeout(release, 30_000);
    const lib = await call(server, CHANNELS.library, null);
    order.push('library');
    for (const c of [CHANNELS.removeGraph, CHANNELS.cancelDownload])
      expect((await call(server, c, { id: 'x' })).status).toBe(200);
    release();
    clearTimeout(fallback);
    await blocked;
    await Promise.all(queued);
    expect(lib).toEqual({ status: 200, reply: { ok: { channel: CHANNELS.library, arg: null } } });
    expect(order).toEqual(['library', 'analysis']);
    expect(ran).toHaveLength(21);
  });

  it('predictions the engine can answer from what it holds skip the queue (fastPath); others queue', async () => {
    const { handlers, release } = fakeHandlers();
    const fastPath = (channel: Channel, arg: unknown): Promise<unknown> | undefined =>
      channel === CHANNELS.predictions && (arg as { text: string }).text === 'cached'
        ? Promise.resolve({ fast: true })
        : undefined;
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, fastPath });
    const order: string[] = [];
    const blocked = call(server, CHANNELS.analyze, { text: 'block' }).then(() => order.push('analysis'));
    const slow = call(server, CHANNELS.predictions, { text: 'not cached', position: 0 }).then((r) => {
      order.push('uncached predictions');
      return r;
    });
    const fallback = setTimeout(release, 30_000);
    const fast = await call(server, CHANNELS.predictions, { text: 'cached', position: 0 });
    order.push('cached predictions');
    release();
    clearTimeout(fallback);
    await blocked;
    expect(fast.reply).toEqual({ ok: { fast: true } });
    expect((await slow).reply).toEqual({ ok: { channel: CHANNELS.predictions, arg: { text: 'not cached', position: 0 } } });
    expect(order).toEqual(['cached predictions', 'analysis', 'uncached predictions']);
  });

  it('a fast path that finds nothing resolves to undefined and the request queues; packed replies go out as they are', async () => {
    const { handlers, release } = fakeHandlers();
    // As browser mode's engine worker answers: asked asynchronously, it may not hold the analysis.
    const fastPath = (channel: Channel, arg: unknown): Promise<unknown> | undefined =>
      channel === CHANNELS.predictions
        ? Promise.resolve((arg as { text: string }).text === 'cached' ? new PackedReply(pack({ ok: 'packed' })) : undefined)
        : undefined;
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, fastPath });
    const order: string[] = [];
    const blocked = call(server, CHANNELS.analyze, { text: 'block' }).then(() => order.push('analysis'));
    const missed = call(server, CHANNELS.predictions, { text: 'other', position: 0 }).then((r) => {
      order.push('missed predictions');
      return r;
    });
    const fallback = setTimeout(release, 30_000);
    expect((await call(server, CHANNELS.predictions, { text: 'cached', position: 0 })).reply).toEqual({ ok: 'packed' });
    // The model's description is light too: it never waits behind the held analysis.
    expect((await call(server, CHANNELS.modelInfo, null)).reply).toEqual({ ok: { channel: CHANNELS.modelInfo, arg: null } });
    order.push('light');
    release();
    clearTimeout(fallback);
    await blocked;
    expect((await missed).reply).toEqual({ ok: { channel: CHANNELS.predictions, arg: { text: 'other', position: 0 } } });
    expect(order).toEqual(['light', 'analysis', 'missed predictions']);
  });

  it('serves sessions in turn: one session’s queued analyses do not starve another’s', async () => {
    const { handlers, release, ran, called } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    const busy = await session(server, 'tab');
    const other = await session(server, 'tab'); // the same tab header: different session all the same
    const first = call(server, CHANNELS.analyze, { text: 'block' }, busy);
    const flood = Array.from({ length: 5 }, (_, i) =>
      call(server as WebServer, CHANNELS.headDetail, { text: `flood ${i}` }, busy),
    );
    // Let the flood reach the queue before the other session's one request.
    await call(server, CHANNELS.library, null);
    const mine = call(server, CHANNELS.analyze, { text: 'other session' }, other);
    await call(server, CHANNELS.library, null);
    release();
    await Promise.all([first, ...flood]);
    expect((await mine).reply).toEqual({ ok: { text: 'other session' } });
    // ran records analyses only: the other session's came right after the running one,
    // not after the busy session's five queued calls; and it did not supersede anything.
    expect(ran).toEqual(['block', 'other session']);
    expect(called.filter((c) => c !== CHANNELS.library)).toEqual([
      CHANNELS.analyze, // 'block'
      CHANNELS.analyze, // the other session's, next
      ...Array.from({ length: 5 }, () => CHANNELS.headDetail),
    ]);
  });
});
