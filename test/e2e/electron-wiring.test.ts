import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHANNELS } from '../../src/shared/api';
import { writeRandomModel, SMALL_SPEC } from '../helpers/random-model';
import { tempDir } from '../helpers/fixtures';

/**
 * The built main bundle (out/main/index.js), run under plain Node with a recording stand-in for
 * the electron module: there is no Electron binary on these machines, but the wiring can still
 * be checked exactly as it ships.
 */
describe('Electron main wiring (built bundle, stand-in electron module)', () => {
  const mainBundle = resolve('out/main/index.js');
  const reportPath = join(tempDir(), 'report.json');

  function run(env: Record<string, string> = {}): {
    windows: {
      options: { webPreferences: Record<string, unknown> };
      loaded: { file?: string; url?: string };
      windowOpenHandler: { action: string };
      webContentsEvents: string[];
      calls: string[];
    }[];
    handlers: string[];
    permissionHandlerSet: boolean;
    permissionChecks: Record<string, boolean> | null;
    foreignCalls: { what: string; result: string }[];
    offCatalogueDownload: string | null;
    messageBoxes: string[];
    singleInstanceLockRequested: boolean;
    quitCalled: boolean;
    appEvents: string[];
    modelInfo: { nLayers: number } | null;
    errors: string[];
  } {
    expect(existsSync(mainBundle), 'run `npm run build` first').toBe(true);
    const r = spawnSync(process.execPath, ['--import', resolve('test/helpers/electron-stub/register.mjs'), mainBundle], {
      env: {
        ...process.env,
        ATLAS_STUB_REPORT: reportPath,
        ATLAS_STUB_USERDATA: tempDir(),
        ATLAS_MODEL_DIR: writeRandomModel(SMALL_SPEC),
        ...env,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(readFileSync(reportPath, 'utf8'));
  }

  it('opens one window with contextIsolation, sandbox, no nodeIntegration; preload and renderer exist; every channel has a handler', () => {
    const report = run();
    expect(report.windows).toHaveLength(1);
    const win = report.windows[0];
    if (!win) return;
    const prefs = win.options.webPreferences;
    expect(prefs.contextIsolation).toBe(true);
    expect(prefs.sandbox).toBe(true);
    expect(prefs.nodeIntegration).toBe(false);
    expect(prefs.webSecurity).not.toBe(false);
    expect(typeof prefs.preload).toBe('string');
    expect(existsSync(prefs.preload as string), `preload ${String(prefs.preload)}`).toBe(true);
    // The sandboxed preload is CommonJS and requires nothing but electron.
    const preload = readFileSync(prefs.preload as string, 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(win.loaded.file && existsSync(win.loaded.file), `renderer ${win.loaded.file}`).toBe(true);
    const html = readFileSync(win.loaded.file ?? '', 'utf8');
    expect(html).toMatch(/Content-Security-Policy/);
    expect(html).toMatch(/default-src 'self'; script-src 'self'/);
    expect(win.windowOpenHandler).toEqual({ action: 'deny' });
    expect(win.webContentsEvents).toContain('will-navigate');
    expect(report.permissionHandlerSet).toBe(true);
    expect([...report.handlers].sort()).toEqual(Object.values(CHANNELS).sort());
    // The handlers reach the real engine with the model loaded.
    expect(report.errors).toEqual([]);
    expect(report.modelInfo?.nLayers).toBe(SMALL_SPEC.nLayer);
  });

  it('is a single instance: a second launch quits at once; the first brings its window forward', () => {
    const first = run();
    expect(first.singleInstanceLockRequested).toBe(true);
    expect(first.appEvents).toContain('second-instance');
    expect(first.windows[0]?.calls).toEqual(expect.arrayContaining(['restore', 'focus']));
    const second = run({ ATLAS_STUB_SECOND_INSTANCE: '1' });
    expect(second.quitCalled).toBe(true);
    expect(second.windows).toEqual([]);
    expect(second.handlers).toEqual([]);
  });

  it('answers IPC only from the app’s own top-level page, and denies every permission check', () => {
    const report = run();
    expect(report.modelInfo?.nLayers).toBe(SMALL_SPEC.nLayer);
    expect(report.foreignCalls.map((c) => c.what)).toEqual(['remote page', 'other local file', 'subframe', 'no frame']);
    for (const c of report.foreignCalls)
      expect(c.result, c.what).toMatch(/refused atlas:model-info from .*not the app's own page/);
    // A repository outside the catalogue needs the person's yes in a native dialog naming it.
    expect(report.messageBoxes).toEqual(['Download someone/not-in-catalogue from the Hugging Face Hub?']);
    expect(report.offCatalogueDownload).toMatch(/the download of someone\/not-in-catalogue was not confirmed/);
    expect(report.permissionChecks).not.toBeNull();
    expect(Object.values(report.permissionChecks ?? {}).every((v) => v === false)).toBe(true);
  });

  it('a built app ignores ELECTRON_RENDERER_URL (development builds only) and loads its own file', () => {
    const report = run({ ELECTRON_RENDERER_URL: 'https://attacker.example/' });
    const win = report.windows[0];
    expect(win?.loaded.url).toBeUndefined();
    expect(win?.loaded.file && existsSync(win.loaded.file)).toBe(true);
    expect(report.errors).toEqual([]);
  });
});
