/**
 * The main-side handler map: one function per API channel, each validating its argument
 * (types, bounds, sizes) before the engine sees it. No electron import: the Electron main
 * process registers these with ipcMain, and browser tests call the very same functions.
 */
import {
  CHANNELS,
  LIMITS,
  USER_ERROR_PREFIX,
  type AnalyzeRequest,
  type Channel,
  type AblationRequest,
  type ContributionRequest,
  type ScoreRequest,
  type HeadDetailRequest,
  type PredictionsRequest,
  type SaveFileRequest,
  type SaveResult,
  SAVE_TYPES,
} from '../shared/api';
import { exportAnalysis } from '../engine/export';
import { CATALOGUE } from '../engine/hub';
import type { HostedEngine, ModelHost } from './model-host';
import type { Engine } from '../engine/engine';

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

function record(arg: unknown, what: string): Record<string, unknown> {
  if (typeof arg !== 'object' || arg === null || Array.isArray(arg)) throw new ValidationError(`${what} must be an object`);
  return arg as Record<string, unknown>;
}

export function parseAnalyzeRequest(arg: unknown): AnalyzeRequest {
  const r = record(arg, 'analyze request');
  if (typeof r.text !== 'string') throw new ValidationError('text must be a string');
  if (r.text.length > LIMITS.maxTextChars) {
    throw new ValidationError(`text is ${r.text.length} characters; the limit is ${LIMITS.maxTextChars}`);
  }
  if (r.prependEndOfText !== undefined && typeof r.prependEndOfText !== 'boolean') {
    throw new ValidationError('prependEndOfText must be true or false');
  }
  if (
    r.haveSquare !== undefined &&
    !(typeof r.haveSquare === 'number' && Number.isSafeInteger(r.haveSquare) && r.haveSquare >= 0)
  ) {
    throw new ValidationError('haveSquare must be a non-negative integer');
  }
  const squares = r.squares;
  if (
    squares !== undefined &&
    !(
      Array.isArray(squares) &&
      squares.length <= LIMITS.maxSquareHeads &&
      squares.every((h) => typeof h === 'number' && Number.isSafeInteger(h) && h >= 0)
    )
  ) {
    throw new ValidationError(`squares must be a list of at most ${LIMITS.maxSquareHeads} non-negative integers`);
  }
  if (r.drawnFirst !== undefined && typeof r.drawnFirst !== 'boolean') {
    throw new ValidationError('drawnFirst must be true or false');
  }
  const req: AnalyzeRequest = { text: r.text, prependEndOfText: r.prependEndOfText === true };
  if (r.drawnFirst === true) req.drawnFirst = true;
  if (r.haveSquare !== undefined) req.haveSquare = r.haveSquare;
  if (squares !== undefined) req.squares = (squares as number[]).slice();
  return req;
}

function index(r: Record<string, unknown>, key: string): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4096) {
    throw new ValidationError(`${key} must be a non-negative integer`);
  }
  return v;
}

export function parseHeadDetailRequest(arg: unknown): HeadDetailRequest {
  const base = parseAnalyzeRequest(arg);
  const r = record(arg, 'head detail request');
  return { ...base, layer: index(r, 'layer'), head: index(r, 'head') };
}

export function parsePredictionsRequest(arg: unknown): PredictionsRequest {
  const base = parseAnalyzeRequest(arg);
  return { ...base, position: index(record(arg, 'predictions request'), 'position') };
}

export function parseContributionRequest(arg: unknown): ContributionRequest {
  const base = parseHeadDetailRequest(arg);
  return { ...base, token: index(record(arg, 'contribution request'), 'token') };
}

export function parseScoreRequest(arg: unknown): ScoreRequest {
  const base = parseHeadDetailRequest(arg);
  const r = record(arg, 'score request');
  return { ...base, query: index(r, 'query'), key: index(r, 'key') };
}

export function parseAblationRequest(arg: unknown): AblationRequest {
  const base = parseHeadDetailRequest(arg);
  const r = record(arg, 'ablation request');
  if (r.mode !== 'zero' && r.mode !== 'mean') throw new ValidationError('mode must be "zero" or "mean"');
  return { ...base, mode: r.mode, token: index(r, 'token') };
}

export function parseSaveFileRequest(arg: unknown): SaveFileRequest {
  const r = record(arg, 'save request');
  if (typeof r.suggestedName !== 'string' || r.suggestedName.length === 0 || r.suggestedName.length > 200) {
    throw new ValidationError('suggestedName must be a file name of 1 to 200 characters');
  }
  // A name, never a path: the save dialog decides where it goes.
  if (!/^[\w.\- ()]+$/.test(r.suggestedName) || r.suggestedName.startsWith('.')) {
    throw new ValidationError('suggestedName may only use letters, digits, spaces and . - _ ( )');
  }
  const ext = r.suggestedName.split('.').pop()?.toLowerCase() ?? '';
  if (!(ext in SAVE_TYPES))
    throw new ValidationError(`cannot save .${ext} files (allowed: ${Object.keys(SAVE_TYPES).join(', ')})`);
  if (!(r.bytes instanceof Uint8Array)) throw new ValidationError('bytes must be a Uint8Array');
  if (r.bytes.byteLength > LIMITS.maxSaveBytes)
    throw new ValidationError(`file is ${r.bytes.byteLength} bytes; the limit is ${LIMITS.maxSaveBytes}`);
  return { suggestedName: r.suggestedName, bytes: r.bytes };
}

/** Saves bytes where the person chooses; returns the path, or null if they cancelled. */
export type Saver = (suggestedName: string, bytes: Uint8Array) => Promise<string | null>;

export type Handler = (arg: unknown) => Promise<unknown>;

/** Errors reach the renderer as their message only; mark the ones written for people. */
function userFacing(e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(msg.startsWith(USER_ERROR_PREFIX) ? msg : USER_ERROR_PREFIX + msg);
}

/**
 * `ready` is the model load in progress: requests wait for it, and a failed load reaches the
 * renderer as that request's error instead of a dead window.
 */
function idRequest(arg: unknown): { id: string } {
  const r = record(arg, 'request');
  if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 4096)
    throw new ValidationError('id must be a library entry id');
  return { id: r.id };
}

/** The heads of a GPT the app can draw: 1–128 (as the config caps), or a vocabulary to pick. */
function completeRequest(arg: unknown): { nHeads: number } | { pickVocabulary: true } {
  const r = record(arg, 'request');
  if (r.pickVocabulary === true) return { pickVocabulary: true };
  if (!Number.isInteger(r.nHeads) || (r.nHeads as number) < 1 || (r.nHeads as number) > 128)
    throw new ValidationError('nHeads must be an integer from 1 to 128');
  return { nHeads: r.nHeads as number };
}

/**
 * A load that failed only because the checkpoint lacks something the person can supply is not
 * an error of the request: the library state says what is needed (loaded.needs).
 */
function keepIfNeeds(h: ModelHost<HostedEngine>): (e: unknown) => void {
  return (e) => {
    if (!h.waitingFor) throw e;
  };
}

function repoRequest(arg: unknown): { repo: string } {
  const r = record(arg, 'request');
  if (typeof r.repo !== 'string' || !/^[\w.-]+\/[\w.-]+$/.test(r.repo))
    throw new ValidationError('repo must be a Hugging Face model id (owner/name)');
  return { repo: r.repo };
}

/**
 * Channels that run the engine (tokenizer, forward passes, float64 loops, exports). Browser mode
 * runs these in the engine's worker thread; the rest (HostChannel) stay with the model host.
 */
export const ENGINE_CHANNELS = [
  CHANNELS.modelInfo,
  CHANNELS.analyze,
  CHANNELS.headDetail,
  CHANNELS.contribution,
  CHANNELS.predictions,
  CHANNELS.inductionProbe,
  CHANNELS.trainingHistory,
  CHANNELS.explainScore,
  CHANNELS.ablate,
  CHANNELS.exportData,
] as const;
export type EngineChannel = (typeof ENGINE_CHANNELS)[number];
export type HostChannel = Exclude<Channel, EngineChannel>;

/** Library calls must not wait for a model load: they report on it. */
const now =
  (fn: Handler): Handler =>
  async (arg) => {
    try {
      return await fn(arg);
    } catch (e) {
      throw userFacing(e);
    }
  };

/** Calls that wait for `ready` (the model being loaded), so they run on the model they will see. */
const after =
  (ready: () => Promise<unknown>) =>
  (fn: Handler): Handler =>
    now(async (arg) => {
      await ready();
      return fn(arg);
    });

function saveWith(saver: Saver | null) {
  return async (name: string, bytes: Uint8Array): Promise<SaveResult> =>
    saver ? { savedTo: await saver(name, bytes), download: null } : { savedTo: null, download: { name, bytes } };
}

/** The engine's channels; `ready` resolves when no model load is in progress. */
export function createEngineHandlers(
  engine: Engine,
  ready: () => Promise<unknown>,
  saver: Saver | null = null,
): Record<EngineChannel, Handler> {
  const wrap = after(ready);
  const save = saveWith(saver);
  return {
    [CHANNELS.modelInfo]: wrap(async () => engine.modelInfo()),
    [CHANNELS.analyze]: wrap(async (arg) => engine.analyze(parseAnalyzeRequest(arg))),
    [CHANNELS.headDetail]: wrap(async (arg) => engine.headDetail(parseHeadDetailRequest(arg))),
    [CHANNELS.contribution]: wrap(async (arg) => engine.contribution(parseContributionRequest(arg))),
    [CHANNELS.predictions]: wrap(async (arg) => engine.predictions(parsePredictionsRequest(arg))),
    [CHANNELS.inductionProbe]: wrap(async () => engine.inductionProbe()),
    [CHANNELS.trainingHistory]: wrap(async () => engine.trainingHistory()),
    [CHANNELS.explainScore]: wrap(async (arg) => engine.explainScore(parseScoreRequest(arg))),
    [CHANNELS.ablate]: wrap(async (arg) => engine.ablate(parseAblationRequest(arg))),
    [CHANNELS.exportData]: wrap(async (arg) => {
      const file = await exportAnalysis(engine, parseAnalyzeRequest(arg));
      return save(file.name, file.bytes);
    }),
  };
}

/** The library's channels (and saving a file): the model host, never a forward pass. */
export function createHostHandlers(
  host: ModelHost<HostedEngine> | null,
  ready: () => Promise<unknown>,
  saver: Saver | null = null,
): Record<HostChannel, Handler> {
  const needHost = (): ModelHost<HostedEngine> => {
    if (!host) throw new Error('the model library is not available here');
    return host;
  };
  const entryDir = (id: string): string => {
    const h = needHost();
    const entry = h.library.list(h.engine.modelDir()).find((e) => e.id === id);
    if (!entry?.dir) throw new Error('that model is not on disk; download it first');
    return entry.dir;
  };
  const save = saveWith(saver);
  return {
    [CHANNELS.saveFile]: after(ready)(async (arg) => {
      const req = parseSaveFileRequest(arg);
      return save(req.suggestedName, req.bytes);
    }),
    [CHANNELS.library]: now(async () => needHost().state()),
    [CHANNELS.useModel]: now(async (arg) => {
      const h = needHost();
      await h.load(entryDir(idRequest(arg).id)).catch(keepIfNeeds(h));
      return h.state();
    }),
    [CHANNELS.download]: now(async (arg) => {
      const h = needHost();
      const { repo } = repoRequest(arg);
      // Only what the person chose: catalogue entries, or another id they confirmed in a native
      // dialog (desktop). A renderer (or a page driving it) cannot pick an arbitrary repository.
      if (!CATALOGUE.some((c) => c.repo === repo)) {
        if (!h.desktop?.confirmDownload) {
          throw new Error(
            `${repo} is not in the model catalogue, and only catalogue models can be downloaded here; use \`atlas pull ${repo}\` in a terminal`,
          );
        }
        if (!(await h.desktop.confirmDownload(repo))) throw new Error(`the download of ${repo} was not confirmed`);
      }
      h.library.startDownload(repo, async (dir) => {
        await h.load(dir);
      });
      return h.state();
    }),
    [CHANNELS.cancelDownload]: now(async () => {
      const h = needHost();
      h.library.cancelDownload();
      return h.state();
    }),
    [CHANNELS.removeModel]: now(async (arg) => {
      const h = needHost();
      h.library.remove(idRequest(arg).id, h.engine.modelDir());
      return h.state();
    }),
    [CHANNELS.removeGraph]: now(async (arg) => {
      const h = needHost();
      h.library.removeGraphs(idRequest(arg).id, h.engine.modelDir());
      return h.state();
    }),
    [CHANNELS.openFolder]: now(async () => {
      const h = needHost();
      if (!h.desktop)
        throw new Error('opening a folder needs the desktop app; in a browser use `atlas serve` with the model folder');
      const dir = await h.desktop.pickFolder();
      if (dir) await h.load(h.library.addFolder(dir)).catch(keepIfNeeds(h));
      return h.state();
    }),
    [CHANNELS.openFile]: now(async () => {
      const h = needHost();
      if (!h.desktop) throw new Error('opening a file needs the desktop app; in a browser use `atlas serve --model <file>`');
      const file = await h.desktop.pickFile('model');
      if (file) await h.load(h.library.addFolder(file)).catch(keepIfNeeds(h));
      return h.state();
    }),
    [CHANNELS.completeModel]: now(async (arg) => {
      const h = needHost();
      const req = completeRequest(arg);
      const needs = h.waitingFor;
      if (!needs) throw new Error('no model is waiting for more information');
      const options = { ...h.library.optionsFor(needs.path) };
      if ('nHeads' in req) {
        if (needs.kind !== 'heads') throw new Error('this model needs a vocabulary, not a number of heads');
        if (needs.dModel % req.nHeads !== 0) throw new Error(`${req.nHeads} heads do not divide the width ${needs.dModel}`);
        options.config = { ...options.config, n_head: req.nHeads, n_heads: req.nHeads };
      } else {
        if (!h.desktop)
          throw new Error('choosing a vocabulary file needs the desktop app; in a browser use `atlas serve --vocab <file>`');
        const file = await h.desktop.pickFile('vocabulary');
        if (!file) return h.state();
        options.vocabulary = file;
      }
      await h.load(h.library.addFolder(needs.path, options), options).catch(keepIfNeeds(h));
      return h.state();
    }),
    [CHANNELS.showInFolder]: now(async (arg) => {
      const h = needHost();
      if (!h.desktop) throw new Error('showing a folder needs the desktop app');
      const r = record(arg, 'request');
      if (r.graph === true) {
        const g = h.state().loaded.graph;
        if (!g) throw new Error('no model is loaded');
        h.desktop.reveal(g.path);
      } else h.desktop.reveal(entryDir(idRequest(arg).id));
      return undefined;
    }),
  };
}

/** Every channel in one process (the desktop app, the CLI's tools and tests). */
export function createHandlers(
  engine: Engine,
  ready: Promise<unknown> = Promise.resolve(),
  saver: Saver | null = null,
  host: ModelHost | null = null,
): Record<Channel, Handler> {
  const loaded = async (): Promise<void> => {
    await ready;
    if (host) await host.ready;
  };
  return { ...createEngineHandlers(engine, loaded, saver), ...createHostHandlers(host, loaded, saver) };
}
