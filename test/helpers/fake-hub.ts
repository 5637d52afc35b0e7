/**
 * A loopback server that behaves like the Hugging Face Hub's resolve endpoint:
 *  /{owner}/{name}/resolve/{revision}/{file}
 *    small files: 200 with X-Repo-Commit;
 *    LFS files:   302 to /cdn/{sha256} on a second server (another host:port, like a CDN), with
 *                 X-Linked-Etag: "<sha256>", X-Linked-Size and X-Repo-Commit.
 *  /cdn/{sha256}  200 or 206 (Range), and the faults a test asks for: drop the connection after
 *                 N bytes, hang, serve corrupted bytes.
 * Binds 127.0.0.1 only; clients dial loopback.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  files: Record<string, Buffer>;
  commit: string;
  /** Files served as LFS (redirect + X-Linked-*). */
  lfs: string[];
}

export interface Faults {
  /** Destroy the socket after this many body bytes of a CDN response, this many times. */
  dropAfter?: { bytes: number; times: number };
  /** Never answer CDN requests. */
  hang?: boolean;
  /** Flip a byte in CDN responses. */
  corrupt?: boolean;
  /** Answer 404 for every resolve URL. */
  notFound?: boolean;
  /** Trickle the body: bytes per 20 ms (to make progress and cancel observable). */
  trickle?: number;
}

export interface RecordedRequest {
  host: string;
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface FakeHub {
  endpoint: string;
  requests: RecordedRequest[];
  faults: Faults;
  close(): Promise<void>;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A Hub repository holding the checkpoint in `dir` (model.safetensors served as LFS). */
export function repoFromModelDir(dir: string, commit: string): FakeRepo {
  return {
    commit,
    lfs: ['model.safetensors'],
    files: {
      'config.json': readFileSync(join(dir, 'config.json')),
      'model.safetensors': readFileSync(join(dir, 'model.safetensors')),
    },
  };
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const faults: Faults = {};
  const byHash = new Map<string, Buffer>();
  for (const r of Object.values(repos))
    for (const f of r.lfs) byHash.set(sha256(r.files[f] ?? Buffer.alloc(0)), r.files[f] ?? Buffer.alloc(0));
  let cdnPort = 0;
  const hung: IncomingMessage[] = [];

  const handler = (req: IncomingMessage, res: import('node:http').ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({
      host: req.headers.host ?? '',
      path: url.pathname,
      range: req.headers.range ?? null,
      authorization: req.headers.authorization ?? null,
    });
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      const [, repoId = '', revision = '', file = ''] = m;
      const repo = repos[repoId];
      const body = repo?.files[file];
      if (faults.notFound || !repo || !body || (revision !== 'main' && revision !== repo.commit)) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
        return;
      }
      if (repo.lfs.includes(file)) {
        res
          .writeHead(302, {
            location: `http://127.0.0.1:${cdnPort}/cdn/${sha256(body)}`,
            'x-linked-etag': `"${sha256(body)}"`,
            'x-linked-size': String(body.length),
            'x-repo-commit': repo.commit,
          })
          .end();
        return;
      }
      res
        .writeHead(200, { 'content-length': body.length, 'x-repo-commit': repo.commit, etag: `"${sha256(body).slice(0, 40)}"` })
        .end(body);
      return;
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    const blob = cdn ? byHash.get(cdn[1] ?? '') : undefined;
    if (!blob) {
      res.writeHead(404).end();
      return;
    }
    if (faults.hang) {
      hung.push(req);
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    if (start >= blob.length && start > 0) {
      res.writeHead(416, { 'content-range': `bytes */${blob.length}` }).end();
      return;
    }
    let data = blob.subarray(start);
    if (faults.corrupt) {
      data = Buffer.from(data);
      data[Math.floor(data.length / 2)] = (data[Math.floor(data.length / 2)] ?? 0) ^ 0xff;
    }
    res.writeHead(range ? 206 : 200, {
      'content-length': data.length,
      ...(range ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}),
    });
    const drop = faults.dropAfter;
    if (drop && drop.times > 0 && data.length > drop.bytes) {
      drop.times--;
      res.write(data.subarray(0, drop.bytes), () => res.socket?.destroy());
      return;
    }
    if (faults.trickle) {
      const step = faults.trickle;
      let o = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(data.subarray(o, o + step));
        o += step;
        if (o >= data.length) {
          clearInterval(timer);
          res.end();
        }
      }, 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(data);
  };
  const hub: Server = createServer(handler);
  const cdn: Server = createServer(handler);
  await new Promise<void>((ok) => hub.listen(0, '127.0.0.1', ok));
  await new Promise<void>((ok) => cdn.listen(0, '127.0.0.1', ok));
  cdnPort = (cdn.address() as AddressInfo).port;
  const close = (server: Server): Promise<void> =>
    new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    });
  return {
    endpoint: `http://127.0.0.1:${(hub.address() as AddressInfo).port}`,
    requests,
    faults,
    close: async () => {
      for (const r of hung) r.socket.destroy();
      await Promise.all([close(hub), close(cdn)]);
    },
  };
}
