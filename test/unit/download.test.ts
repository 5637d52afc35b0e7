import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DownloadError,
  acquireDownloadLock,
  downloadLockPath,
  downloadModel,
  modelFolderName,
  partialBytes,
  tokenAllowed,
  type DownloadProgress,
} from '../../src/engine/download';
import { MockAgent } from 'undici';
import { ModelLibrary } from '../../src/engine/library';
import { CATALOGUE } from '../../src/engine/hub';
import { Engine } from '../../src/engine/engine';
import { repoFromModelDir, startFakeHub, type FakeHub, type FakeRepo } from '../helpers/fake-hub';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

const REPO = 'tiny-org/tiny-gpt2';
const COMMIT = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';

/** Models a library would list: folders under modelsDir that are not hidden work areas. */
const visibleModels = (modelsDir: string): string[] =>
  existsSync(modelsDir) ? readdirSync(modelsDir).filter((n) => !n.startsWith('.')) : [];

describe('Hub downloads against a loopback server that behaves like the Hub', () => {
  let repo: FakeRepo;
  let hub: FakeHub;
  beforeAll(() => {
    const dir = writeRandomModel(SMALL_SPEC);
    repo = {
      commit: COMMIT,
      lfs: ['model.safetensors'],
      files: {
        'config.json': readFileSync(join(dir, 'config.json')),
        'model.safetensors': readFileSync(join(dir, 'model.safetensors')),
      },
    };
  });
  const start = async (): Promise<FakeHub> => {
    hub = await startFakeHub({ [REPO]: repo });
    return hub;
  };
  afterEach(async () => {
    await hub?.close();
  });
  const base = (h: FakeHub): { endpoint: string; token: string; timeoutMs: number; freeBytes: () => Promise<number> } => ({
    endpoint: h.endpoint,
    token: 'hf_test_token',
    timeoutMs: 2000,
    freeBytes: async () => 1e12,
  });

  it('downloads, verifies and places a model that the engine then loads; pinned to one commit', async () => {
    const h = await start();
    const models = tempDir();
    const progress: DownloadProgress[] = [];
    const got = await downloadModel(REPO, models, { ...base(h), onProgress: (p) => progress.push(p) });
    expect(got.commit).toBe(COMMIT);
    expect(got.dir).toBe(join(models, modelFolderName(REPO, COMMIT)));
    expect(visibleModels(models)).toEqual([modelFolderName(REPO, COMMIT)]);
    expect(readFileSync(join(got.dir, 'model.safetensors')).equals(repo.files['model.safetensors'] ?? Buffer.alloc(0))).toBe(
      true,
    );
    const meta = JSON.parse(readFileSync(join(got.dir, 'atlas-model.json'), 'utf8')) as { source: { commit: string } };
    expect(meta.source.commit).toBe(COMMIT);
    // Both files were fetched at the commit the first answer named.
    const resolves = h.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.slice(1).every((r) => r.path.includes(`/resolve/${COMMIT}/`))).toBe(true);
    // The token goes to the Hub, never to the CDN host it redirects to.
    expect(resolves.every((r) => r.authorization === 'Bearer hf_test_token')).toBe(true);
    const cdn = h.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(cdn.length).toBeGreaterThan(0);
    expect(cdn.every((r) => r.authorization === null)).toBe(true);
    // Progress reports the model file up to its full size.
    const last = progress.filter((p) => p.file === 'model.safetensors').at(-1);
    expect(last?.received).toBe(repo.files['model.safetensors']?.length);
    expect(last?.total).toBe(repo.files['model.safetensors']?.length);
    const engine = new Engine({ cacheDir: tempDir() });
    expect((await engine.load(got.dir)).nLayers).toBe(SMALL_SPEC.nLayer);
    expect(existsSync(join(models, '.partial', 'tiny-org--tiny-gpt2'))).toBe(false);
  });

  it('resumes with an HTTP Range when the server drops the connection mid-file', async () => {
    const h = await start();
    h.faults.dropAfter = { bytes: 1_000_000, times: 1 };
    const models = tempDir();
    const got = await downloadModel(REPO, models, base(h));
    expect(statSync(join(got.dir, 'model.safetensors')).size).toBe(repo.files['model.safetensors']?.length);
    expect(h.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.range)).toEqual([null, 'bytes=1000000-']);
  });

  it('resumes after an app restart from the part file on disk', async () => {
    const h = await start();
    h.faults.dropAfter = { bytes: 2_000_000, times: 1 };
    const models = tempDir();
    await expect(downloadModel(REPO, models, { ...base(h), retries: 0 })).rejects.toBeInstanceOf(DownloadError);
    expect(visibleModels(models)).toEqual([]);
    expect(partialBytes(REPO, models)).toBe(2_000_000 + (repo.files['config.json']?.length ?? 0));
    // "Restart": a new call, as a new process would make.
    const got = await downloadModel(REPO, models, base(h));
    expect(readFileSync(join(got.dir, 'model.safetensors')).equals(repo.files['model.safetensors'] ?? Buffer.alloc(0))).toBe(
      true,
    );
    expect(h.requests.filter((r) => r.path.startsWith('/cdn/')).at(-1)?.range).toBe('bytes=2000000-');
  });

  it('rejects a file whose sha256 does not match X-Linked-Etag and removes it', async () => {
    const h = await start();
    h.faults.corrupt = true;
    const models = tempDir();
    const err = await downloadModel(REPO, models, base(h)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).kind).toBe('checksum');
    expect((err as Error).message).toMatch(/model\.safetensors failed its integrity check .* it was removed/);
    expect(existsSync(join(models, '.partial', 'tiny-org--tiny-gpt2', 'model.safetensors.part'))).toBe(false);
    expect(visibleModels(models)).toEqual([]);
  });

  it('refuses to start when the disk lacks room, before downloading the model file', async () => {
    const h = await start();
    const models = tempDir();
    const err = await downloadModel(REPO, models, { ...base(h), freeBytes: async () => 1_000_000 }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('disk-space');
    expect((err as Error).message).toMatch(
      /Not enough disk space for tiny-org\/tiny-gpt2: it needs 6\.\d MB more and 1\.0 MB is free/,
    );
    expect(h.requests.filter((r) => r.path.startsWith('/cdn/'))).toHaveLength(0);
    expect(visibleModels(models)).toEqual([]);
  });

  it('reports a missing repository or file clearly', async () => {
    const h = await start();
    const models = tempDir();
    await expect(downloadModel('tiny-org/no-such-model', models, base(h))).rejects.toThrow(
      /tiny-org\/no-such-model has no config\.json at revision main \(404/,
    );
    expect(visibleModels(models)).toEqual([]);
  });

  it('times out on a server that stops answering', async () => {
    const h = await start();
    h.faults.hang = true;
    const models = tempDir();
    const err = await downloadModel(REPO, models, { ...base(h), timeoutMs: 400, retries: 0 }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('timeout');
    expect((err as Error).message).toMatch(/stopped responding/);
    expect(visibleModels(models)).toEqual([]);
  });

  it('cancels on request; nothing half-written becomes a model, and it can resume later', async () => {
    const h = await start();
    h.faults.trickle = 200_000;
    const models = tempDir();
    const ctrl = new AbortController();
    const err = await downloadModel(REPO, models, {
      ...base(h),
      signal: ctrl.signal,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.received > 500_000) ctrl.abort();
      },
    }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('cancelled');
    expect(visibleModels(models)).toEqual([]);
    expect(partialBytes(REPO, models)).toBeGreaterThan(500_000);
    h.faults.trickle = undefined;
    const got = await downloadModel(REPO, models, base(h));
    expect(readFileSync(join(got.dir, 'model.safetensors')).equals(repo.files['model.safetensors'] ?? Buffer.alloc(0))).toBe(
      true,
    );
  });

  it('runs one download of a repository at a time: a second one is refused, the first installs intact bytes', async () => {
    const h = await start();
    h.faults.trickle = 100_000;
    const models = tempDir();
    const pending: Promise<unknown>[] = [];
    const first = downloadModel(REPO, models, {
      ...base(h),
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && pending.length === 0)
          pending.push(downloadModel(REPO, models, base(h)).catch((e: unknown) => e));
      },
    });
    const got = await first;
    expect(pending).toHaveLength(1);
    const err = await pending[0];
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).kind).toBe('busy');
    expect((err as Error).message).toMatch(/tiny-org\/tiny-gpt2 is already being downloaded by another process \(pid \d+/);
    expect(readFileSync(join(got.dir, 'model.safetensors')).equals(repo.files['model.safetensors'] ?? Buffer.alloc(0))).toBe(
      true,
    );
    // The lock is released: the next download of the repository may start.
    expect(existsSync(downloadLockPath(REPO, models))).toBe(false);
    h.faults.trickle = undefined;
    await expect(downloadModel(REPO, models, base(h))).resolves.toMatchObject({ commit: COMMIT });
  });

  it('recovers the lock of a process that died mid-download', async () => {
    const h = await start();
    const models = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // ran and exited
    mkdirSync(join(models, '.partial'), { recursive: true });
    const lock = downloadLockPath(REPO, models);
    writeFileSync(lock, JSON.stringify({ pid: dead, host: hostname(), nonce: 'old', since: '2026-01-01T00:00:00Z' }));
    const got = await downloadModel(REPO, models, base(h));
    expect(got.commit).toBe(COMMIT);
    expect(existsSync(lock)).toBe(false);
    // A live holder (this very process) is respected.
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), nonce: 'live', since: '2026-01-01T00:00:00Z' }));
    await expect(downloadModel(REPO, models, base(h))).rejects.toMatchObject({ kind: 'busy' });
    expect(readFileSync(lock, 'utf8')).toContain('"live"');
  });

  it('the library will not discard the part files of a download another process is running', async () => {
    const models = tempDir();
    const library = new ModelLibrary({ bundledDir: tempDir(), modelsDir: models, graphCacheDir: tempDir() });
    const catalogued = CATALOGUE[0]?.repo ?? '';
    const partial = join(models, '.partial', catalogued.replace('/', '--'));
    mkdirSync(partial, { recursive: true });
    writeFileSync(join(partial, 'model.safetensors.part'), Buffer.alloc(1000));
    const entry = library.list(null).find((e) => e.repo === catalogued);
    expect(entry?.partialBytes).toBe(1000);
    const release = acquireDownloadLock(catalogued, models); // as if another `atlas pull` held it
    expect(() => library.remove(entry?.id ?? '', null)).toThrow(/being downloaded right now/);
    expect(existsSync(join(partial, 'model.safetensors.part'))).toBe(true);
    release();
    library.remove(entry?.id ?? '', null);
    expect(existsSync(partial)).toBe(false);
  });

  it('verifies the bytes on disk, not the bytes received, before the file is renamed into place', async () => {
    const h = await start();
    const models = tempDir();
    const part = join(models, '.partial', 'tiny-org--tiny-gpt2', 'model.safetensors.part');
    let tampered = false;
    const err = await downloadModel(REPO, models, {
      ...base(h),
      onProgress: (p) => {
        // Another writer changes a byte the stream already delivered (what two pulls did).
        if (p.file === 'model.safetensors' && !tampered && existsSync(part)) {
          const fd = openSync(part, 'r+');
          writeSync(fd, Buffer.from([0xff ^ (repo.files['model.safetensors']?.[100] ?? 0)]), 0, 1, 100);
          closeSync(fd);
          tampered = true;
        }
      },
    }).catch((e: unknown) => e);
    expect(tampered).toBe(true);
    expect((err as DownloadError).kind).toBe('checksum');
    expect((err as Error).message).toMatch(/model\.safetensors failed its integrity check/);
    expect(visibleModels(models)).toEqual([]);
  });

  it('says so when the Hub cannot be reached at all', async () => {
    const models = tempDir();
    const h = await start();
    const endpoint = h.endpoint;
    await h.close();
    const err = await downloadModel(REPO, models, { endpoint, timeoutMs: 2000, retries: 0 }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('offline');
    expect((err as Error).message).toMatch(/Could not reach 127\.0\.0\.1:\d+: check the internet connection/);
  });
});

describe('proxies from the environment', () => {
  it('tunnels every request through HTTP_PROXY (a loopback CONNECT proxy) when it is set', async () => {
    const { createServer } = await import('node:http');
    const { connect } = await import('node:net');
    const tunnels: string[] = [];
    const proxy = createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client, head) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as import('node:net').AddressInfo).port}`;
    const dir = writeRandomModel({ ...SMALL_SPEC, seed: 41 });
    const hub = await startFakeHub({ [REPO]: repoFromModelDir(dir, COMMIT) });
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    process.env.HTTP_PROXY = proxyUrl;
    delete process.env.NO_PROXY;
    delete process.env.no_proxy;
    try {
      const models = tempDir();
      const got = await downloadModel(REPO, models, { endpoint: hub.endpoint, timeoutMs: 3000, freeBytes: async () => 1e12 });
      expect(existsSync(join(got.dir, 'model.safetensors'))).toBe(true);
      const hubHost = new URL(hub.endpoint).host;
      expect(tunnels).toContain(hubHost);
      expect(tunnels.some((t) => t !== hubHost)).toBe(true); // the CDN host too
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await hub.close();
      proxy.closeAllConnections();
      await new Promise<void>((ok) => proxy.close(() => ok()));
    }
  });
});

describe('the Hub token stays on the endpoint’s exact origin', () => {
  /** Every request the download made, by origin, with its Authorization header. */
  async function redirectedDownload(
    endpoint: string,
    cdn: string,
  ): Promise<{ origin: string; path: string; authorization: string | null }[]> {
    const seen: { origin: string; path: string; authorization: string | null }[] = [];
    const agent = new MockAgent();
    agent.disableNetConnect();
    const auth = (headers: unknown): string | null => {
      if (Array.isArray(headers)) {
        for (let i = 0; i < headers.length; i += 2)
          if (String(headers[i]).toLowerCase() === 'authorization') return String(headers[i + 1]);
        return null;
      }
      const h = (headers ?? {}) as Record<string, string>;
      return Object.entries(h).find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? null;
    };
    // The endpoint redirects every file elsewhere (as the Hub does to its CDN); the target has nothing.
    for (const method of ['GET', 'HEAD']) {
      agent
        .get(endpoint)
        .intercept({ path: /.*/, method })
        .reply((o) => {
          seen.push({ origin: endpoint, path: o.path, authorization: auth(o.headers) });
          return { statusCode: 302, data: '', responseOptions: { headers: { location: `${cdn}${o.path}` } } };
        })
        .persist();
      agent
        .get(cdn)
        .intercept({ path: /.*/, method })
        .reply((o) => {
          seen.push({ origin: cdn, path: o.path, authorization: auth(o.headers) });
          return { statusCode: 404, data: 'no' };
        })
        .persist();
    }
    const err = await downloadModel(REPO, tempDir(), {
      endpoint,
      token: 'hf_secret',
      dispatcher: agent,
      retries: 0,
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect((err as DownloadError).kind).toBe('not-found');
    await agent.close();
    return seen;
  }

  it('is not sent after an https → http redirect on the same host name (it was, in clear)', async () => {
    const seen = await redirectedDownload('https://hub.example', 'http://hub.example');
    expect(seen.filter((r) => r.origin === 'https://hub.example').map((r) => r.authorization)).toEqual(['Bearer hf_secret']);
    const clear = seen.filter((r) => r.origin === 'http://hub.example');
    expect(clear.length).toBeGreaterThan(0);
    expect(clear.map((r) => r.authorization)).toEqual(clear.map(() => null));
  });

  it('is not sent to another port of the same host, nor to another host', async () => {
    for (const cdn of ['https://hub.example:8443', 'https://cdn.example']) {
      const seen = await redirectedDownload('https://hub.example', cdn);
      expect(seen.filter((r) => r.origin === cdn).every((r) => r.authorization === null)).toBe(true);
    }
    expect(tokenAllowed('http://127.0.0.1:9000', 'http://127.0.0.1:9000/x')).toBe(true);
    expect(tokenAllowed('https://huggingface.co', 'https://huggingface.co:443/a')).toBe(true);
    expect(tokenAllowed('https://huggingface.co', 'http://huggingface.co/a')).toBe(false);
  });
});
