import { describe, expect, it } from 'vitest';
import { createHandlers, parseAnalyzeRequest, parseHeadDetailRequest, parsePredictionsRequest } from '../../src/main/handlers';
import { CHANNELS, LIMITS } from '../../src/shared/api';
import { Engine } from '../../src/engine/engine';
import { tempDir } from '../helpers/fixtures';
import { ModelLibrary } from '../../src/engine/library';
import { ModelHost } from '../../src/main/model-host';
import { CATALOGUE } from '../../src/engine/hub';

describe('IPC argument validation in main', () => {
  it('accepts a well-formed analyze request and defaults prependEndOfText to false', () => {
    expect(parseAnalyzeRequest({ text: 'hi' })).toEqual({ text: 'hi', prependEndOfText: false });
  });

  it.each([
    [null, /must be an object/],
    ['text', /must be an object/],
    [[1, 2], /must be an object/],
    [{}, /text must be a string/],
    [{ text: 42 }, /text must be a string/],
    [{ text: 'x', prependEndOfText: 'yes' }, /prependEndOfText must be true or false/],
    [{ text: 'x'.repeat(LIMITS.maxTextChars + 1) }, /limit is 20000/],
    [{ text: 'x', haveSquare: -1 }, /haveSquare must be a non-negative integer/],
    [{ text: 'x', haveSquare: 1.5 }, /haveSquare must be a non-negative integer/],
    [{ text: 'x', haveSquare: '3' }, /haveSquare must be a non-negative integer/],
    [{ text: 'x', drawnFirst: 'yes' }, /drawnFirst must be true or false/],
    [{ text: 'x', squares: 3 }, /squares must be a list/],
    [{ text: 'x', squares: [0, -1] }, /squares must be a list/],
    [{ text: 'x', squares: [0.5] }, /squares must be a list/],
    [{ text: 'x', squares: ['1'] }, /squares must be a list/],
    [{ text: 'x', squares: Array(LIMITS.maxSquareHeads + 1).fill(0) }, /squares must be a list of at most 4096/],
  ])('rejects analyze argument %#', (arg, message) => {
    expect(() => parseAnalyzeRequest(arg)).toThrow(message);
  });

  it.each([
    [{ text: 'x', layer: -1, head: 0 }, /layer must be a non-negative integer/],
    [{ text: 'x', layer: 0.5, head: 0 }, /layer must be a non-negative integer/],
    [{ text: 'x', layer: 0, head: '1' }, /head must be a non-negative integer/],
    [{ text: 'x', layer: 0, head: 1e9 }, /head must be a non-negative integer/],
  ])('rejects head detail argument %#', (arg, message) => {
    expect(() => parseHeadDetailRequest(arg)).toThrow(message);
  });

  it('accepts the heads whose squares are wanted, as a copy', () => {
    const squares = [3, 0, 3];
    const req = parseAnalyzeRequest({ text: 'hi', squares });
    expect(req).toEqual({ text: 'hi', prependEndOfText: false, squares: [3, 0, 3] });
    expect(req.squares).not.toBe(squares);
  });

  it('accepts a square version and a predictions position, and rejects bad positions', () => {
    expect(parseAnalyzeRequest({ text: 'hi', haveSquare: 7 })).toEqual({ text: 'hi', prependEndOfText: false, haveSquare: 7 });
    expect(parseAnalyzeRequest({ text: 'hi', drawnFirst: true })).toEqual({
      text: 'hi',
      prependEndOfText: false,
      drawnFirst: true,
    });
    expect(parseAnalyzeRequest({ text: 'hi', drawnFirst: false })).toEqual({ text: 'hi', prependEndOfText: false });
    expect(parsePredictionsRequest({ text: 'hi', position: 1 })).toEqual({ text: 'hi', prependEndOfText: false, position: 1 });
    for (const position of [-1, 2.5, '1', undefined, 1e9]) {
      expect(() => parsePredictionsRequest({ text: 'hi', position })).toThrow(/position must be a non-negative integer/);
    }
  });

  it('registers one handler per API channel and turns errors into user-facing messages', async () => {
    const handlers = createHandlers(new Engine({ cacheDir: tempDir() }));
    expect(Object.keys(handlers).sort()).toEqual(Object.values(CHANNELS).sort());
    await expect(handlers[CHANNELS.analyze]({ text: 5 })).rejects.toThrow(/^AtlasError: text must be a string/);
    await expect(handlers[CHANNELS.modelInfo](undefined)).rejects.toThrow(/^AtlasError: no model is loaded/);
  });

  it('reports a failed model load on every request instead of hanging', async () => {
    const failed = Promise.reject(new Error('model.safetensors: truncated'));
    failed.catch(() => undefined);
    const handlers = createHandlers(new Engine({ cacheDir: tempDir() }), failed);
    await expect(handlers[CHANNELS.analyze]({ text: 'x' })).rejects.toThrow(/AtlasError: model\.safetensors: truncated/);
  });
});

describe('downloads only of what the person chose (issue 16 item 2)', () => {
  function setup(confirm?: (repo: string) => Promise<boolean>): {
    download: (repo: string) => Promise<unknown>;
    started: string[];
    asked: string[];
  } {
    const engine = new Engine({ cacheDir: tempDir() });
    const library = new ModelLibrary({ bundledDir: tempDir(), modelsDir: tempDir(), graphCacheDir: tempDir() });
    const started: string[] = [];
    const asked: string[] = [];
    // Record instead of fetching: what matters here is whether a download may start at all.
    library.startDownload = (repo: string) => void started.push(repo);
    const desktop = confirm
      ? {
          pickFolder: async () => null,
          pickFile: async () => null,
          reveal: () => {},
          confirmDownload: async (repo: string) => {
            asked.push(repo);
            return confirm(repo);
          },
        }
      : null;
    const handlers = createHandlers(engine, Promise.resolve(), null, new ModelHost(engine, library, desktop));
    return { download: (repo) => handlers[CHANNELS.download]({ repo }), started, asked };
  }

  it('starts catalogue models without asking', async () => {
    const s = setup(async () => false);
    await s.download(CATALOGUE[0]?.repo ?? '');
    expect(s.started).toEqual([CATALOGUE[0]?.repo]);
    expect(s.asked).toEqual([]);
  });

  it('refuses any other repository where nobody can be asked (browser mode)', async () => {
    const s = setup();
    await expect(s.download('attacker/payload')).rejects.toThrow(
      /attacker\/payload is not in the model catalogue, and only catalogue models can be downloaded here/,
    );
    expect(s.started).toEqual([]);
  });

  it('asks the person in the desktop app, naming the repository; starts only on yes', async () => {
    const no = setup(async () => false);
    await expect(no.download('someone/fine-tune')).rejects.toThrow(/the download of someone\/fine-tune was not confirmed/);
    expect(no.asked).toEqual(['someone/fine-tune']);
    expect(no.started).toEqual([]);
    const yes = setup(async () => true);
    await yes.download('someone/fine-tune');
    expect(yes.started).toEqual(['someone/fine-tune']);
  });
});
