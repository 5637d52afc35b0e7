import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { Gpt2Tokenizer } from '../../src/engine/tokenizer';
import { SHOTS, useBrowserSuite } from '../helpers/browser-suite';
import { tempDir } from '../helpers/fixtures';
import { SMALL_SPEC, writeRandomModel } from '../helpers/random-model';

/** `atlas serve` (what `npm run web` starts after building) as a real process; returns its URL. */
function serve(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      [resolve('bin/atlas.mjs'), 'serve', '--port', '0', '--model', writeRandomModel(SMALL_SPEC), ...args],
      {
        env: { ...process.env, XDG_CACHE_HOME: tempDir(), XDG_DATA_HOME: tempDir(), ...env },
      },
    );
    let out = '';
    const timer = setTimeout(() => fail(new Error(`atlas serve did not start: ${out}`)), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = / at (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        ok({ child, url: m[1] });
      }
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => fail(new Error(`atlas serve exited with ${code}: ${out}`)));
  });
}

const chips = async (page: Page): Promise<string[]> =>
  (await page.getByTestId('tokens').locator('button').allTextContents()).map((s) => s.trim());
const expected = (text: string): string[] => {
  const tok = new Gpt2Tokenizer();
  return tok.pieces(tok.encode(text)).map((p) => p.display.replace(/ /g, '␣'));
};

describe('browser mode: the app served over HTTP by atlas serve', () => {
  const suite = useBrowserSuite();
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = undefined;
  });

  it('serves the real app: two browsers at once, each with its own sentence, tokens and pattern', async () => {
    const s = await serve([]);
    child = s.child;
    // The token is in the URL on loopback too (a page the user visits must not drive the server).
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32,}$/);
    expect((await fetch(s.url.replace(/\?token=.*$/, ''))).status).toBe(401);
    const [one, two] = await Promise.all([suite.browser.newContext(), suite.browser.newContext()]);
    const [p1, p2] = await Promise.all([one.newPage(), two.newPage()]);
    await Promise.all([p1.goto(s.url), p2.goto(s.url)]);
    const a = 'The first class types about cats.';
    const b = 'Meanwhile another student writes about the stars tonight.';
    await Promise.all([p1.getByTestId('text-input').fill(a), p2.getByTestId('text-input').fill(b)]);
    await expect.poll(() => chips(p1), { timeout: 20_000 }).toEqual(expected(a));
    await expect.poll(() => chips(p2), { timeout: 20_000 }).toEqual(expected(b));
    // On a loaded machine the tokens were seen up to 0.4 s before the dots (the grid shows a
    // head's cells once its square is held, which may take a second request): wait for them.
    await expect.poll(() => p1.getByTestId('qk-grid').locator('circle').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await p2.getByTestId('model-label').textContent()).toContain(`${SMALL_SPEC.nLayer} layers`);
    await p1.screenshot({ path: `${SHOTS}/web-mode-1280x720.png` });
    await Promise.all([one.close(), two.close()]);
  });

  it('on a non-loopback bind, needs the printed token: 401 without it, the app with it', async () => {
    const s = await serve(['--host', '0.0.0.0']);
    child = s.child;
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32,}$/);
    const bare = s.url.replace(/\?token=.*$/, '');
    expect((await fetch(bare)).status).toBe(401);
    const ctx = await suite.browser.newContext();
    const page = await ctx.newPage();
    await page.goto(s.url);
    await page.getByTestId('text-input').fill('With the token it works.');
    await expect.poll(() => chips(page), { timeout: 20_000 }).toEqual(expected('With the token it works.'));
    await ctx.close();
  });

  it('with --open (what npm run web passes) opens the printed URL, token included, in the default browser', async () => {
    // A stand-in xdg-open first on PATH records what it was asked to open.
    const bin = tempDir();
    const opened = join(tempDir(), 'opened.txt');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, { mode: 0o755 });
    const s = await serve(['--open'], { PATH: `${bin}:${process.env.PATH ?? ''}` });
    child = s.child;
    expect(s.url).toMatch(/\?token=[\w-]{32,}$/);
    await expect.poll(() => (existsSync(opened) ? readFileSync(opened, 'utf8') : ''), { timeout: 20_000 }).toBe(s.url);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.web).toMatch(/atlas\.mjs serve --open$/);
  });
});
