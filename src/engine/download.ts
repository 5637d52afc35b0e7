/**
 * Downloads a GPT-2 checkpoint (config.json + model.safetensors) from the Hub's resolve URLs.
 *
 *  - Pinned: the first file's X-Repo-Commit fixes the commit every file is fetched at.
 *  - Resumable: bytes go to <models>/.partial/<repo>/<file>.part; an interrupted or restarted
 *    download continues with an HTTP Range request (and re-hashes what it already has).
 *  - Verified: LFS files against the sha256 the Hub reports in X-Linked-Etag and the size in
 *    X-Linked-Size; a mismatch deletes the part file.
 *  - Atomic: a model folder appears under <models>/ only when every file is verified (built in
 *    a temporary folder and renamed into place), so the library never sees half a model.
 *  - Exclusive: one download of a repository at a time, across processes: a lock file
 *    <models>/.partial/<owner--name>.lock names its process; a second download is refused
 *    with a clear message, and the lock of a process that died is recovered.
 *  - Verified on disk: each file's size and sha256 are checked over the bytes in the part
 *    file, not the bytes received, right before it is renamed into place.
 *  - Careful: redirects followed by hand (credentials only ever go to the endpoint's exact
 *    origin: scheme, host and port), a proxy from
 *    HTTP(S)_PROXY / NO_PROXY honoured, a free-space check first, timeouts, cancel.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  writeFileSync,
} from 'node:fs';
import { statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { MODEL_FILES, checkRepoId, checkRevision, hubEndpoint, hubToken, resolveUrl } from './hub';

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly kind:
      | 'offline'
      | 'not-found'
      | 'denied'
      | 'server'
      | 'timeout'
      | 'disk-space'
      | 'disk-full'
      | 'checksum'
      | 'cancelled'
      | 'busy'
      | 'protocol',
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadProgress {
  file: string;
  /** Bytes of this file on disk so far (resumed bytes included). */
  received: number;
  total: number | null;
  bytesPerSecond: number;
  secondsLeft: number | null;
}

export interface DownloadOptions {
  revision?: string;
  endpoint?: string;
  token?: string | null;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Longest silence allowed while waiting for headers or between body chunks. */
  timeoutMs?: number;
  /** Automatic resumes when the connection drops mid-file. */
  retries?: number;
  /** Free bytes on the volume holding `dir` (injectable for tests). */
  freeBytes?: (dir: string) => Promise<number>;
  dispatcher?: Dispatcher;
  /** Written into atlas-model.json for the library. */
  label?: string;
  description?: string;
}

export interface DownloadedModel {
  dir: string;
  repo: string;
  commit: string;
}

const MAX_REDIRECTS = 5;
/** Room kept free beyond the file itself. */
const DISK_MARGIN = 64 * 1024 * 1024;

/** Folder name of a downloaded model: owner--name@commit (short). */
export function modelFolderName(repo: string, commit: string): string {
  return `${repo.replace('/', '--')}@${commit.slice(0, 12)}`;
}

async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

/** sha256 from X-Linked-Etag (`"abc…"` or `W/"abc…"`), when it is one. */
function linkedSha256(h: Record<string, string | string[] | undefined>): string | null {
  const raw = header(h, 'x-linked-etag');
  const m = raw ? /^(?:W\/)?"?([0-9a-f]{64})"?$/i.exec(raw.trim()) : null;
  return m?.[1]?.toLowerCase() ?? null;
}

function mapNetworkError(e: unknown, url: string, timeoutMs: number): DownloadError {
  const err = e as { code?: string; name?: string; message?: string };
  const host = new URL(url).host;
  if (err.name === 'AbortError' || err.code === 'ABORT_ERR') return new DownloadError('The download was cancelled.', 'cancelled');
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') {
    return new DownloadError(`${host} stopped responding for ${Math.round(timeoutMs / 1000)} s; try again later.`, 'timeout');
  }
  if (err.code === 'ENOSPC')
    return new DownloadError('The disk is full: free some space and the download will resume where it stopped.', 'disk-full');
  if (['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH'].includes(err.code ?? '')) {
    return new DownloadError(
      `Could not reach ${host}: check the internet connection (or HF_ENDPOINT and proxy settings).`,
      'offline',
    );
  }
  return new DownloadError(`The connection to ${host} failed (${err.code ?? err.message ?? 'unknown error'}).`, 'offline');
}

interface Opened {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Headers of the first hop: the Hub puts X-Linked-* and X-Repo-Commit there, not on the CDN. */
  firstHeaders: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

/** One request, no redirects followed; the token only when `withToken` (the endpoint's own host). */
async function send(
  method: 'GET' | 'HEAD',
  url: string,
  opts: Required<Pick<DownloadOptions, 'timeoutMs'>> & DownloadOptions,
  withToken: boolean,
  range: number,
): Promise<Dispatcher.ResponseData> {
  const headers: Record<string, string> = { 'user-agent': 'attention-atlas', 'accept-encoding': 'identity' };
  if (withToken && opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (range > 0) headers.range = `bytes=${range}-`;
  try {
    return await request(url, {
      method,
      headers,
      signal: opts.signal,
      dispatcher: opts.dispatcher,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    });
  } catch (e) {
    throw mapNetworkError(e, url, opts.timeoutMs);
  }
}

/**
 * Whether the Hub token may go with a request to `url`: only to the endpoint's exact origin
 * (scheme, host and port). A redirect to http:, to another port or to a CDN never gets it, so
 * the token is never sent in clear unless the endpoint itself is http.
 */
export function tokenAllowed(endpoint: string, url: string): boolean {
  return new URL(url).origin === new URL(endpoint).origin;
}

/** GET with manual redirects; Authorization only ever goes to the endpoint's own origin. */
async function open(
  url: string,
  opts: Required<Pick<DownloadOptions, 'timeoutMs'>> & DownloadOptions,
  range: number,
): Promise<Opened> {
  const endpoint = opts.endpoint ?? hubEndpoint();
  let current = url;
  let firstHeaders: Record<string, string | string[] | undefined> | null = null;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await send('GET', current, opts, tokenAllowed(endpoint, current), range);
    firstHeaders ??= res.headers;
    if (res.statusCode >= 300 && res.statusCode < 400 && res.statusCode !== 304) {
      const location = header(res.headers, 'location');
      await res.body.dump();
      if (!location) throw new DownloadError(`${current} redirected without a Location`, 'protocol');
      current = new URL(location, current).toString();
      continue;
    }
    return { status: res.statusCode, headers: res.headers, firstHeaders, body: res.body, url: current };
  }
  throw new DownloadError(`Too many redirects from ${url}`, 'protocol');
}

function statusError(status: number, repo: string, file: string, revision: string, url: string): DownloadError {
  if (status === 404) return new DownloadError(`${repo} has no ${file} at revision ${revision} (404 from ${url}).`, 'not-found');
  if (status === 401 || status === 403) {
    return new DownloadError(
      `Access to ${repo} was refused (${status}): if it is gated or private, set HF_TOKEN to a token that may read it.`,
      'denied',
    );
  }
  return new DownloadError(`The server answered ${status} for ${url}; try again later.`, 'server');
}

async function hashExisting(path: string, hash: Hash): Promise<number> {
  if (!existsSync(path)) return 0;
  let n = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    n += (chunk as Buffer).length;
  }
  return n;
}

interface LockHolder {
  pid: number;
  host: string;
  nonce: string;
  since: string;
}

function readLock(path: string): LockHolder | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    return typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.nonce === 'string' ? (v as LockHolder) : null;
  } catch {
    return null; // unreadable or half-written: treated as stale
  }
}

/** Whether the process holding a lock still runs (a lock from another machine counts as live). */
function holderAlive(h: LockHolder): boolean {
  if (h.host !== hostname()) return true;
  if (h.pid === process.pid) return true;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Where the lock of `repo`'s downloads lives. */
export function downloadLockPath(repo: string, modelsDir: string): string {
  return join(modelsDir, '.partial', `${repo.replace('/', '--')}.lock`);
}

/** The process downloading `repo` into `modelsDir` right now, if any (stale locks excluded). */
export function downloadInProgress(repo: string, modelsDir: string): LockHolder | null {
  const h = readLock(downloadLockPath(repo, modelsDir));
  return h && holderAlive(h) ? h : null;
}

/**
 * Takes the exclusive lock for downloading `repo` into `modelsDir`; returns its release. A lock
 * whose process has died is recovered; a live one is a `busy` error.
 */
export function acquireDownloadLock(repo: string, modelsDir: string): () => void {
  const path = downloadLockPath(repo, modelsDir);
  mkdirSync(join(modelsDir, '.partial'), { recursive: true });
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    nonce: randomBytes(8).toString('hex'),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return () => {
        if (readLock(path)?.nonce === me.nonce) rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    const holder = readLock(path);
    // An unreadable lock may be one being written this very moment: stale only once it is old.
    const young = !holder && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000;
    if ((holder && holderAlive(holder)) || young) {
      throw new DownloadError(
        `${repo} is already being downloaded by another process${holder ? ` (pid ${holder.pid}, since ${holder.since})` : ''}; wait for it to finish.`,
        'busy',
      );
    }
    // Stale: move it aside, then make sure what was moved is the lock judged stale, not a fresh
    // one another process took in between (if so, put it back and yield to that process).
    const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (moved?.nonce !== holder?.nonce) {
      try {
        linkSync(aside, path);
      } catch {
        /* a third process holds it now; the next round will see */
      }
    }
    rmSync(aside, { force: true });
  }
  throw new DownloadError(`Could not take the download lock for ${repo} (${path}); try again.`, 'busy');
}

interface PartialMeta {
  repo: string;
  commit: string;
}

/** Downloads one file into `part`, resuming what is there; returns its verified sha256. */
async function fetchFile(
  repo: string,
  commit: string,
  file: string,
  part: string,
  opts: Required<Pick<DownloadOptions, 'timeoutMs' | 'retries'>> & DownloadOptions,
): Promise<void> {
  const url = resolveUrl(opts.endpoint ?? hubEndpoint(), repo, commit, file);
  let attempt = 0;
  for (;;) {
    const have = sizeOf(part);
    const res = await open(url, opts, have);
    if (res.status === 416 && have > 0) {
      // We already have every byte (or more than the server has): verify what is there.
      await res.body.dump();
      await verify(file, part, null, null);
      return;
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body.dump();
      throw statusError(res.status, repo, file, commit, url);
    }
    if (res.status === 200 && have > 0) {
      // The server ignored the Range: start this file again.
      await res.body.dump();
      rmSync(part, { force: true });
      continue;
    }
    const expectedSha = linkedSha256(res.firstHeaders);
    const linkedSize = Number(header(res.firstHeaders, 'x-linked-size') ?? NaN);
    const contentLength = Number(header(res.headers, 'content-length') ?? NaN);
    const total = Number.isFinite(linkedSize) ? linkedSize : Number.isFinite(contentLength) ? contentLength + have : null;
    const fd = openSync(part, have > 0 ? 'a' : 'w');
    const started = performance.now();
    let received = have;
    let lastReport = 0;
    try {
      for await (const chunk of res.body) {
        let done = 0;
        while (done < chunk.length) done += writeSync(fd, chunk, done, chunk.length - done);
        received += chunk.length;
        const now = performance.now();
        if (now - lastReport > 100 || (total !== null && received >= total)) {
          lastReport = now;
          const rate = ((received - have) * 1000) / Math.max(1, now - started);
          opts.onProgress?.({
            file,
            received,
            total,
            bytesPerSecond: rate,
            secondsLeft: total !== null && rate > 0 ? (total - received) / rate : null,
          });
        }
      }
    } catch (e) {
      closeSync(fd);
      const err = e as { code?: string; name?: string };
      const dropped = !opts.signal?.aborted && err.code !== 'ENOSPC' && err.name !== 'AbortError';
      if (dropped && attempt < opts.retries) {
        attempt++;
        continue; // the connection dropped mid-file: resume from what is on disk
      }
      throw mapNetworkError(e, url, opts.timeoutMs);
    }
    closeSync(fd);
    if (total !== null && received < total && attempt < opts.retries) {
      attempt++;
      continue; // the body ended early without an error: resume
    }
    await verify(file, part, total, expectedSha);
    return;
  }
}

/**
 * Checks the part file as it lies on disk (another writer, a bad disk or a bug in the resume
 * logic would all show here, where a hash of the received stream would not).
 */
async function verify(file: string, part: string, total: number | null, expectedSha: string | null): Promise<void> {
  const hash = createHash('sha256');
  const size = await hashExisting(part, hash);
  const sha = hash.digest('hex');
  if (total !== null && size !== total) {
    rmSync(part, { force: true });
    throw new DownloadError(
      `${file} arrived with ${size} bytes instead of ${total}; the partial file was removed, please retry.`,
      'checksum',
    );
  }
  if (expectedSha && sha !== expectedSha) {
    rmSync(part, { force: true });
    throw new DownloadError(
      `${file} failed its integrity check (sha256 ${sha.slice(0, 12)}…, expected ${expectedSha.slice(0, 12)}…); it was removed, please retry.`,
      'checksum',
    );
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * A file's size without downloading it: a HEAD on the resolve URL, first hop only. The Hub
 * answers LFS files with a redirect carrying X-Linked-Size, small files with Content-Length.
 */
async function remoteSize(
  repo: string,
  commit: string,
  file: string,
  opts: Required<Pick<DownloadOptions, 'timeoutMs'>> & DownloadOptions,
): Promise<number | null> {
  const url = resolveUrl(opts.endpoint ?? hubEndpoint(), repo, commit, file);
  const res = await send('HEAD', url, opts, tokenAllowed(opts.endpoint ?? hubEndpoint(), url), 0);
  await res.body.dump();
  if (res.statusCode >= 400) throw statusError(res.statusCode, repo, file, commit, url);
  const size = Number(header(res.headers, 'x-linked-size') ?? header(res.headers, 'content-length') ?? NaN);
  return Number.isFinite(size) ? size : null;
}

/** The commit `revision` resolves to, from the X-Repo-Commit header of config.json's resolve URL. */
async function resolveCommit(
  repo: string,
  revision: string,
  opts: Required<Pick<DownloadOptions, 'timeoutMs'>> & DownloadOptions,
): Promise<string> {
  if (/^[0-9a-f]{40}$/.test(revision)) return revision;
  const url = resolveUrl(opts.endpoint ?? hubEndpoint(), repo, revision, MODEL_FILES[0]);
  const res = await open(url, opts, 0);
  await res.body.dump();
  if (res.status !== 200) throw statusError(res.status, repo, MODEL_FILES[0], revision, url);
  const commit = header(res.firstHeaders, 'x-repo-commit') ?? header(res.headers, 'x-repo-commit');
  // A server that names no commit (a plain mirror) keeps the revision as given.
  return commit && /^[0-9a-f]{40}$/.test(commit) ? commit : revision;
}

export async function downloadModel(repo: string, modelsDir: string, options: DownloadOptions = {}): Promise<DownloadedModel> {
  checkRepoId(repo);
  const revision = checkRevision(options.revision ?? 'main');
  const opts = {
    ...options,
    endpoint: options.endpoint ?? hubEndpoint(),
    token: options.token === undefined ? hubToken() : options.token,
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 3,
    dispatcher: options.dispatcher ?? new EnvHttpProxyAgent(),
  };
  const freeBytes = options.freeBytes ?? defaultFreeBytes;
  mkdirSync(modelsDir, { recursive: true });
  const partialDir = join(modelsDir, '.partial', repo.replace('/', '--'));
  const release = acquireDownloadLock(repo, modelsDir);
  mkdirSync(partialDir, { recursive: true });
  try {
    const commit = await resolveCommit(repo, revision, opts);
    // Part files from another commit cannot be resumed: start over.
    const metaPath = join(partialDir, 'partial.json');
    const previous = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as PartialMeta) : null;
    if (previous && previous.commit !== commit) {
      for (const f of MODEL_FILES) rmSync(join(partialDir, `${f}.part`), { force: true });
    }
    writeFileSync(metaPath, JSON.stringify({ repo, commit } satisfies PartialMeta));
    // Room for everything still to come, checked before the first byte is fetched.
    const sizes = await Promise.all(MODEL_FILES.map((f) => remoteSize(repo, commit, f, opts)));
    if (sizes.every((x) => x !== null)) {
      const remaining = MODEL_FILES.reduce(
        (n, f, i) => n + Math.max(0, (sizes[i] ?? 0) - sizeOf(join(partialDir, `${f}.part`))),
        0,
      );
      const free = await freeBytes(modelsDir);
      if (free < remaining + DISK_MARGIN) {
        throw new DownloadError(
          `Not enough disk space for ${repo}: it needs ${formatBytes(remaining)} more and ${formatBytes(free)} is free at ${modelsDir}.`,
          'disk-space',
        );
      }
    }
    for (const file of MODEL_FILES) await fetchFile(repo, commit, file, join(partialDir, `${file}.part`), opts);

    // Every file verified: assemble the folder beside its final place, then rename it in.
    const finalDir = join(modelsDir, modelFolderName(repo, commit));
    const staging = join(modelsDir, '.partial', `assemble-${randomBytes(4).toString('hex')}`);
    mkdirSync(staging);
    for (const file of MODEL_FILES) renameSync(join(partialDir, `${file}.part`), join(staging, file));
    writeFileSync(
      join(staging, 'atlas-model.json'),
      JSON.stringify(
        {
          id: modelFolderName(repo, commit),
          label: options.label ?? repo,
          description: options.description ?? `${repo} from the Hugging Face Hub, commit ${commit.slice(0, 12)}`,
          source: { repo, revision, commit, endpoint: opts.endpoint },
        },
        null,
        2,
      ),
    );
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(staging, finalDir);
    rmSync(partialDir, { recursive: true, force: true });
    return { dir: finalDir, repo, commit };
  } finally {
    release();
    if (!options.dispatcher) await opts.dispatcher.close();
  }
}

/** Bytes already downloaded for `repo` (a paused or interrupted download), or 0. */
export function partialBytes(repo: string, modelsDir: string): number {
  const dir = join(modelsDir, '.partial', repo.replace('/', '--'));
  return MODEL_FILES.reduce((n, f) => n + sizeOf(join(dir, `${f}.part`)), 0);
}
