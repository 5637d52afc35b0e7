/**
 * Browser mode: the built renderer and the engine over HTTP, for classrooms and machines without
 * Electron. The browser's window.atlas is the same createApi(invoke) the preload uses, with
 * invoke carried as POST /api/<channel> (bodies in the binary wire format of shared/wire.ts),
 * and the server registers the very same handler map as the Electron main process.
 *
 * Security (README "Security"): binds 127.0.0.1 unless told otherwise, and on every bind, loopback
 * included, a web page the user merely visits must not be able to drive it:
 *  - Host allow-list: loopback names, the bound address and the name given as --host, at the
 *    bound port; anything else (a DNS-rebound name) gets 421 before anything is read.
 *  - A random per-launch token, given once in the URL (?token=…), then kept in an HttpOnly,
 *    SameSite=Strict cookie named after the port; compared in constant time; 401 without it.
 *  - API calls: POST with Content-Type application/octet-stream and the X-Atlas-Api header,
 *    which no cross-site "simple" request (form, text/plain fetch) can carry; an Origin, when
 *    sent, must be this server's own origin, and a Sec-Fetch-Site, when sent, "same-origin".
 *    A page on another loopback port is same-site, so its requests carry the cookie: the
 *    origin check is what stops it.
 * Request bodies are capped.
 *
 * Scheduling: light channels (library, model info, downloads, and predictions the engine can
 * answer from the analysis it holds, see `fastPath`) run at once and never wait behind analyses.
 * Engine work runs one at a time from per-session queues taken in turn (round robin), the
 * session being an HttpOnly cookie the server issues with the page, not a header the client
 * picks; within a session, a tab's newer analysis supersedes its older one still waiting.
 *
 * Threads: `atlas serve` passes engine-client.ts's handlers, which run the engine in a worker
 * thread, so this thread only parses, checks, serves files and schedules: a long synchronous
 * stretch of engine work delays no page, 401, light channel or other session. Their replies
 * come already packed (PackedReply) and are sent as they are.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { CHANNELS, type Channel } from '../shared/api';
import { pack, PackedReply, unpack, WireError, type WireReply } from '../shared/wire';
import type { Handler } from '../main/handlers';

export interface WebServerOptions {
  handlers: Record<Channel, Handler>;
  rendererDir: string;
  port?: number;
  host?: string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
  /** The access token (tests); a random one per launch otherwise. */
  token?: string;
  /**
   * Answers a request at once when it can without queueing (predictions of the analysis the
   * engine holds); undefined, or a promise of undefined (the engine holds another analysis),
   * sends it to the engine queue.
   */
  fastPath?: (channel: Channel, arg: unknown) => Promise<unknown> | undefined;
}

export interface WebServer {
  /** The URL to open: it carries the token. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** Same policy as the desktop app's page, plus the network rules a served page needs. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The header every API call must carry: a cross-site "simple" request cannot set it. */
export const API_HEADER = 'x-atlas-api';

/** Host names (lower case, IPv6 in brackets) a Host header may name for a server bound to `bind`. */
export function allowedHostNames(bind: string): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  const b = bind.toLowerCase();
  names.add(b.includes(':') && !b.startsWith('[') ? `[${b}]` : b);
  if (b === '0.0.0.0' || b === '::' || b === '[::]') {
    for (const a of Object.values(networkInterfaces()).flat()) {
      if (a) names.add(a.family === 'IPv6' ? `[${a.address.split('%')[0]?.toLowerCase()}]` : a.address);
    }
  }
  return names;
}

/** Splits a Host header into name and port; null when it is not one. */
export function parseHostHeader(value: string | undefined): { name: string; port: number | null } | null {
  if (!value) return null;
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m?.[1]) return null;
  return { name: m[1].toLowerCase(), port: m[2] === undefined ? null : Number(m[2]) };
}

function sameSecret(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  // timingSafeEqual needs equal lengths; compare against itself to spend the same time.
  return a.length === b.length ? timingSafeEqual(a, b) : (timingSafeEqual(b, b), false);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS }).end(message);
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > max) return fail(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        fail(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

const VALID_CHANNELS = new Set<string>(Object.values(CHANNELS));

/** Channels that never touch the engine's analysis state: they run at once, beside the queue. */
export const LIGHT_CHANNELS: ReadonlySet<Channel> = new Set<Channel>([
  CHANNELS.modelInfo,
  CHANNELS.library,
  CHANNELS.download,
  CHANNELS.cancelDownload,
  CHANNELS.removeModel,
  CHANNELS.removeGraph,
  CHANNELS.openFolder,
  CHANNELS.openFile,
  CHANNELS.showInFolder,
  CHANNELS.saveFile,
]);

interface Task {
  tab: string;
  isAnalysis: boolean;
  start(): void;
  supersede(): void;
}

/**
 * One engine task at a time, from per-session FIFO queues served in turn: the next task comes
 * from the waiting session served longest ago (never served first), so a session that queues a
 * hundred requests delays another session's next one by at most one task.
 */
class FairQueue {
  private readonly sessions = new Map<string, Task[]>();
  /** When each session was last served (a counter); sessions never served count as −1. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  private busy = false;

  push(session: string, task: Task): void {
    const q = this.sessions.get(session) ?? [];
    if (task.isAnalysis) {
      // The same tab's older analysis still waiting is out of date: it steps aside.
      for (const old of q.filter((t) => t.isAnalysis && t.tab === task.tab)) old.supersede();
      const kept = q.filter((t) => !(t.isAnalysis && t.tab === task.tab));
      q.length = 0;
      q.push(...kept);
    }
    q.push(task);
    this.sessions.set(session, q);
    this.pump();
  }

  done(): void {
    this.busy = false;
    this.pump();
  }

  private pump(): void {
    if (this.busy) return;
    let pick: string | null = null;
    for (const [session, q] of this.sessions) {
      if (q.length === 0) continue;
      if (pick === null || (this.lastServed.get(session) ?? -1) < (this.lastServed.get(pick) ?? -1)) pick = session;
    }
    if (pick === null) return;
    const q = this.sessions.get(pick) ?? [];
    const next = q.shift();
    if (q.length === 0) this.sessions.delete(pick);
    if (!next) return;
    this.lastServed.set(pick, this.served++);
    this.busy = true;
    next.start();
  }
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const hostAddr = o.host ?? '127.0.0.1';
  const token = o.token ?? randomBytes(24).toString('base64url');
  const allowedHosts = allowedHostNames(hostAddr);
  /** Set once listening: cookies are per host, not per port, so the names carry the port. */
  let tokenCookie = 'atlas_token';
  let sessionCookie = 'atlas_session';
  /** Sessions this server issued (a cookie it did not issue is no session). */
  const sessions = new Set<string>();
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;
  const root = resolve(o.rendererDir);
  if (!existsSync(join(root, 'index.html'))) throw new Error(`no built renderer at ${root}: run \`npm run build\` first`);
  /** One engine, one engine task at a time, sessions served in turn. */
  const queue = new FairQueue();

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) text(res, 500, `internal error: ${(e as Error).message}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // 1. The Host must name this server: a DNS-rebound name never gets further.
    const host = parseHostHeader(req.headers.host);
    if (!host || !allowedHosts.has(host.name) || (host.port ?? 80) !== port)
      return text(res, 421, `Misdirected request: this server answers to 127.0.0.1:${port}, not "${req.headers.host ?? ''}".`);
    const url = new URL(req.url ?? '/', 'http://server');
    const isApi = url.pathname.startsWith('/api/');
    // 2. The token: in the URL once (pages only), then the cookie; scripts may send a header.
    const fromQuery = isApi ? null : url.searchParams.get('token');
    const ok =
      sameSecret(fromQuery, token) ||
      sameSecret(cookie(req, tokenCookie), token) ||
      sameSecret(req.headers['x-atlas-token'] as string | undefined, token);
    if (!ok) return text(res, 401, 'Unauthorized: open the URL with ?token=… that the server printed when it started.');
    const cookies: string[] = [];
    if (fromQuery) cookies.push(`${tokenCookie}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    if (!isApi && !sessions.has(cookie(req, sessionCookie) ?? '')) {
      // A page load without a session: its requests are scheduled as one client from now on.
      const id = randomBytes(16).toString('base64url');
      sessions.add(id);
      cookies.push(`${sessionCookie}=${id}; HttpOnly; SameSite=Strict; Path=/`);
    }
    if (cookies.length) res.setHeader('set-cookie', cookies);
    if (isApi) {
      // 3. Same origin only, and nothing a cross-site simple request could send.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`)
        return text(res, 403, `Forbidden: API calls are accepted from this server's own pages only (Origin ${origin}).`);
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin')
        return text(
          res,
          403,
          `Forbidden: API calls are accepted from this server's own pages only (Sec-Fetch-Site ${String(site)}).`,
        );
      if (req.headers[API_HEADER] !== '1' || req.headers['content-type'] !== 'application/octet-stream')
        return text(res, 403, `Forbidden: API calls need Content-Type application/octet-stream and ${API_HEADER}: 1.`);
      return api(req, res, url.pathname.slice('/api/'.length));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'method not allowed');
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '');
    const file = resolve(root, rel === '' ? 'index.html' : rel);
    if (!(file === root || file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile())
      return text(res, 404, 'not found');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      ...SECURITY_HEADERS,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  }

  async function api(req: IncomingMessage, res: ServerResponse, channel: string): Promise<void> {
    if (req.method !== 'POST') return text(res, 405, 'API calls are POST requests');
    if (!VALID_CHANNELS.has(channel)) return text(res, 404, `no API channel "${channel}"`);
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (e) {
      if (e instanceof BodyTooLarge) return text(res, 413, `request body over the ${maxBody}-byte limit`);
      throw e;
    }
    let arg: unknown;
    try {
      arg = unpack(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    } catch (e) {
      return text(res, 400, `malformed request: ${e instanceof WireError ? e.message : (e as Error).message}`);
    }
    // Application outcomes, errors included, travel in the wire reply with status 200; HTTP
    // error codes are kept for transport problems (401, 400, 404, 405, 413).
    const settle = async (work: () => Promise<unknown>): Promise<WireReply> => {
      try {
        return { ok: await work() };
      } catch (e) {
        return { error: (e as Error).message };
      }
    };
    const ch = channel as Channel;
    let fast: Promise<unknown> | undefined;
    try {
      fast = o.fastPath?.(ch, arg);
    } catch {
      fast = undefined; // malformed for the fast path: the handler will say why
    }
    const fastReply = fast ? await settle(() => fast) : undefined;
    // A fast path that found nothing to answer from resolved to undefined: the request goes on.
    const reply =
      fastReply && !('ok' in fastReply && fastReply.ok === undefined)
        ? fastReply
        : LIGHT_CHANNELS.has(ch)
          ? await settle(() => o.handlers[ch](arg))
          : await queued(req, ch, () => settle(() => o.handlers[ch](arg)));
    const status = 200;
    // Browser mode's engine worker packs its replies itself (off this thread): sent as they are.
    const bytes = 'ok' in reply && reply.ok instanceof PackedReply ? reply.ok.bytes : pack(reply);
    res.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': bytes.byteLength,
      ...SECURITY_HEADERS,
    });
    res.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** Runs engine work from the request's session queue, in turn with other sessions. */
  function queued(req: IncomingMessage, ch: Channel, work: () => Promise<WireReply>): Promise<WireReply> {
    const presented = cookie(req, sessionCookie);
    const session = presented && sessions.has(presented) ? presented : 'no-session';
    // The tab header only tells a session's own tabs apart (which analysis supersedes which).
    const tab = String(req.headers['x-atlas-client'] ?? '').slice(0, 64);
    return new Promise<WireReply>((done) => {
      queue.push(session, {
        tab,
        isAnalysis: ch === CHANNELS.analyze,
        supersede: () => done({ error: 'superseded by a newer request' }),
        start: () =>
          void work().then((r) => {
            queue.done();
            done(r);
          }),
      });
    });
  }

  let port = 0;
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, hostAddr, () => ok());
  });
  port = (server.address() as AddressInfo).port;
  tokenCookie = `atlas_token_${port}`;
  sessionCookie = `atlas_session_${port}`;
  const shownHost =
    hostAddr === '0.0.0.0' || hostAddr === '::' ? '127.0.0.1' : hostAddr.includes(':') ? `[${hostAddr}]` : hostAddr;
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
