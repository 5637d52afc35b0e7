import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { _electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { writeRandomModel, SMALL_SPEC } from '../helpers/random-model';

/**
 * Path of the Electron binary, or why there is none. Found the way the electron package does,
 * but without requiring it: its index.js starts a download when the binary is missing, and
 * tests never touch the network.
 */
function electronBinary(): { path: string } | { reason: string } {
  let pkgDir: string;
  try {
    pkgDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { reason: 'the electron package is not installed' };
  }
  const pathFile = join(pkgDir, 'path.txt');
  if (!existsSync(pathFile))
    return { reason: 'no Electron binary on this machine (its download was skipped or failed at install)' };
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(pkgDir, 'dist');
  const path = join(dist, readFileSync(pathFile, 'utf8'));
  return existsSync(path) ? { path } : { reason: `no Electron binary at ${path}` };
}

describe('the real desktop app through Playwright _electron', () => {
  const bin = electronBinary();
  it('opens the window, analyses typed text and shows tokens', async (ctx) => {
    if ('reason' in bin) {
      console.warn(`[skipped] ${bin.reason}`);
      ctx.skip(bin.reason);
      return;
    }
    const app = await _electron.launch({
      executablePath: bin.path,
      args: [resolve('out/main/index.js')],
      env: { ...process.env, ATLAS_MODEL_DIR: writeRandomModel(SMALL_SPEC) } as Record<string, string>,
    });
    try {
      const page = await app.firstWindow();
      await page.getByTestId('text-input').fill('Attention is all you need');
      await expect.poll(() => page.getByTestId('tokens').locator('li').count(), { timeout: 30_000 }).toBe(5);
      // Sandboxed, context-isolated renderer: no Node globals, only window.atlas.
      expect(
        await page.evaluate(() => [
          typeof (globalThis as { require?: unknown }).require,
          typeof (globalThis as { process?: unknown }).process,
        ]),
      ).toEqual(['undefined', 'undefined']);
      expect(await page.evaluate(() => typeof window.atlas?.analyze)).toBe('function');
    } finally {
      await app.close();
    }
  });
});
