import { afterEach, describe, expect, it } from 'vitest';
import type { Handler } from '../../src/main/handlers';
import { CHANNELS, type Channel } from '../../src/shared/api';
import { pack, unpack, type WireReply } from '../../src/shared/wire';
import { isLoopback, startWebServer, type WebServer } from '../../src/server/web-server';
import { RENDERER_DIR } from '../helpers/browser-host';

/** Handlers that echo, except analyze, which waits until the test releases it. */
function fakeHandlers(): { handlers: Record<Channel, Handler>; release: () => void; ran: string[] } {
  const ran: string[] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((r) => (release = r));
  const handlers = Object.fromEntries(
    Object.values(CHANNELS).map((c) => [c, async (arg: unknown) => ({ channel: c, arg })]),
  ) as Record<Channel, Handler>;
  handlers[CHANNELS.analyze] = async (arg) => {
    const text = (arg as { text: string }).text;
    if (text === 'block') {
      await gate;
      gate = new Promise<void>((r) => (release = r));
    }
    ran.push(text);
    return { text };
  };
  return { handlers, release: () => release(), ran };
}

async function call(
  base: string,
  channel: string,
  arg: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; reply: WireReply | string }> {
  const res = await fetch(`${base}api/${channel}`, {
    method: 'POST',
    body: pack(arg) as BodyInit,
    headers: { 'content-type': 'application/octet-stream', ...headers },
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

  it('binds loopback by default, with no token, and serves the renderer with a strict CSP', async () => {
    const { handlers } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR });
    expect(server.token).toBeNull();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect((await fetch(`${server.url}..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    const r = await call(server.url, CHANNELS.analyze, { text: 'hi' });
    expect(r).toEqual({ status: 200, reply: { ok: { text: 'hi' } } });
    expect(isLoopback('127.0.0.1') && isLoopback('::1') && !isLoopback('0.0.0.0') && !isLoopback('192.168.1.2')).toBe(true);
  });

  it('requires the random token on any other bind: 401 without it, works with it (query, cookie or header)', async () => {
    const { handlers } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, host: '0.0.0.0' });
    const token = server.token ?? '';
    expect(token.length).toBeGreaterThanOrEqual(32);
    const base = server.url.replace(/\?token=.*$/, ''); // dialled on loopback
    expect((await fetch(base)).status).toBe(401);
    expect((await fetch(`${base}?token=${'x'.repeat(token.length)}`)).status).toBe(401);
    expect((await call(base, CHANNELS.modelInfo, null)).status).toBe(401);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    const setCookie = page.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/atlas_token=.*HttpOnly; SameSite=Strict/);
    expect((await call(base, CHANNELS.modelInfo, null, { cookie: setCookie.split(';')[0] ?? '' })).status).toBe(200);
    expect((await call(base, CHANNELS.modelInfo, null, { 'x-atlas-token': token })).status).toBe(200);
  });

  it('answers oversized, malformed and unknown requests with 4xx and a clear message, then keeps serving', async () => {
    // (A handler's own error is an application result: 200 with { error } in the wire reply.)
    const { handlers } = fakeHandlers();
    server = await startWebServer({ handlers, rendererDir: RENDERER_DIR, maxBodyBytes: 64 * 1024 });
    const big = await fetch(`${server.url}api/${CHANNELS.analyze}`, { method: 'POST', body: new Uint8Array(200 * 1024) });
    expect(big.status).toBe(413);
    expect(await big.text()).toMatch(/over the 65536-byte limit/);
    const junk = await fetch(`${server.url}api/${CHANNELS.analyze}`, { method: 'POST', body: 'not a message at all' });
    expect(junk.status).toBe(400);
    expect(await junk.text()).toMatch(/malformed request: not an Attention Atlas message/);
    expect((await fetch(`${server.url}api/atlas:nope`, { method: 'POST', body: '' })).status).toBe(404);
    expect((await fetch(`${server.url}api/${CHANNELS.analyze}`)).status).toBe(405);
    expect(await call(server.url, CHANNELS.analyze, { text: 'still here' })).toEqual({
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
    const first = call(server.url, CHANNELS.analyze, { text: 'block' }, a); // runs, waits for release
    await new Promise((r) => setTimeout(r, 300));
    const older = call(server.url, CHANNELS.analyze, { text: 'older' }, a);
    await new Promise((r) => setTimeout(r, 100));
    const other = call(server.url, CHANNELS.analyze, { text: 'other tab' }, b);
    const newer = call(server.url, CHANNELS.analyze, { text: 'newer' }, a);
    await new Promise((r) => setTimeout(r, 600));
    release();
    expect((await first).status).toBe(200);
    expect(await older).toEqual({ status: 200, reply: { error: 'superseded by a newer request' } });
    expect((await other).reply).toEqual({ ok: { text: 'other tab' } }); // other clients are not affected
    expect((await newer).reply).toEqual({ ok: { text: 'newer' } });
    expect(ran).toEqual(['block', 'other tab', 'newer']);
  });
});
