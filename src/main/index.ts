/**
 * Electron main process: window, security settings and IPC wiring only. All model work is in
 * the engine (src/engine), reached through the shared handler map.
 */
import { BrowserWindow, app, dialog, ipcMain, session, shell } from 'electron';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Engine } from '../engine/engine';
import { bundledModelDir, packagedBundledModelDir } from '../engine/paths';
import { SAVE_TYPES } from '../shared/api';
import { ModelLibrary } from '../engine/library';
import { createHandlers, type Saver } from './handlers';
import { ModelHost, type DesktopHooks } from './model-host';

/** A save dialog, then an atomic write: a crash never leaves half a file under the chosen name. */
const saveWithDialog: Saver = async (suggestedName, bytes) => {
  const ext = extname(suggestedName).slice(1).toLowerCase() as keyof typeof SAVE_TYPES;
  const win = BrowserWindow.getFocusedWindow();
  const options = {
    defaultPath: join(app.getPath('documents'), suggestedName),
    filters: [{ name: SAVE_TYPES[ext] ?? ext, extensions: [ext] }],
  };
  const choice = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
  if (choice.canceled || !choice.filePath) return null;
  const tmp = `${choice.filePath}.partial-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, choice.filePath);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return choice.filePath;
};

const here = dirname(fileURLToPath(import.meta.url));
export const PRELOAD_PATH = join(here, '../preload/index.cjs');
export const RENDERER_HTML = join(here, '../renderer/index.html');

/**
 * The dev server's URL, honoured only by a development build (electron-vite dev); a built app
 * ignores ELECTRON_RENDERER_URL, so an environment variable cannot point it at remote content.
 */
const DEV_RENDERER_URL = import.meta.env.DEV ? (process.env.ELECTRON_RENDERER_URL ?? null) : null;

/** Whether a frame's URL is the app's own page: the built index.html, or the dev server's origin. */
export function isAppUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (DEV_RENDERER_URL) return u.origin === new URL(DEV_RENDERER_URL).origin;
  return u.protocol === 'file:' && u.pathname === pathToFileURL(RENDERER_HTML).pathname;
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    title: 'Attention Atlas',
    show: false,
    webPreferences: {
      preload: PRELOAD_PATH,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // The renderer is local content only: no navigation away, no new windows.
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  if (DEV_RENDERER_URL && !app.isPackaged) void win.loadURL(DEV_RENDERER_URL);
  else void win.loadFile(RENDERER_HTML);
  return win;
}

async function main(): Promise<void> {
  // One app per user: a second launch hands over to the first (which focuses its window) and
  // quits, so two processes never download into or build in the same folders at once.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.on('second-instance', () => {
    const win = BrowserWindow.getAllWindows()[0];
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  });
  await app.whenReady();
  // No camera, microphone, notifications or anything else a page might ask for.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  const graphCacheDir = join(app.getPath('userData'), 'graph-cache');
  const engine = new Engine({ cacheDir: graphCacheDir });
  // Packaged, the bundled model is an extra resource (<resources>/models, outside the asar).
  const bundled = app.isPackaged ? packagedBundledModelDir(process.resourcesPath) : bundledModelDir(app.getAppPath());
  const library = new ModelLibrary({ bundledDir: bundled, modelsDir: join(app.getPath('userData'), 'models'), graphCacheDir });
  const desktop: DesktopHooks = {
    pickFolder: async () => {
      const win = BrowserWindow.getFocusedWindow();
      const options = {
        title: 'Open a model folder (GPT-2 model.safetensors + config.json, nanoGPT ckpt.pt, the book’s model.pth)',
        properties: ['openDirectory' as const],
      };
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    pickFile: async (kind) => {
      const win = BrowserWindow.getFocusedWindow();
      const options =
        kind === 'model'
          ? {
              title: 'Open a GPT checkpoint (nanoGPT ckpt.pt, the book’s model.pth, model.safetensors)',
              properties: ['openFile' as const],
              filters: [
                { name: 'GPT checkpoints', extensions: ['pt', 'pth', 'bin', 'safetensors'] },
                { name: 'All files', extensions: ['*'] },
              ],
            }
          : {
              title: 'Choose the model’s vocabulary (nanoGPT meta.pkl, or vocab.json)',
              properties: ['openFile' as const],
              filters: [
                { name: 'Vocabularies', extensions: ['pkl', 'json'] },
                { name: 'All files', extensions: ['*'] },
              ],
            };
      const r = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
    reveal: (path) => shell.showItemInFolder(path),
    confirmDownload: async (repo) => {
      const win = BrowserWindow.getFocusedWindow();
      const options = {
        type: 'question' as const,
        buttons: ['Cancel', 'Download'],
        defaultId: 0,
        cancelId: 0,
        title: 'Download a model',
        message: `Download ${repo} from the Hugging Face Hub?`,
        detail: `${repo} is not one of the catalogue models. Download it only if you chose it yourself.`,
      };
      const r = win ? await dialog.showMessageBox(win, options) : await dialog.showMessageBox(options);
      return r.response === 1;
    },
  };
  const host = new ModelHost(engine, library, desktop);
  const modelDir = process.env.ATLAS_MODEL_DIR ?? bundled;
  if (process.env.ATLAS_MODEL_DIR) library.addFolder(modelDir);
  const ready = host.load(modelDir);
  ready.catch((e: unknown) => console.error('[atlas] could not load the model:', e));
  for (const [channel, handler] of Object.entries(createHandlers(engine, ready, saveWithDialog, host))) {
    // Only the app's own top-level page may call: not an iframe, not a page navigated elsewhere.
    ipcMain.handle(channel, (event, arg: unknown) => {
      const frame = event.senderFrame;
      if (!frame || frame.parent !== null || !isAppUrl(frame.url)) {
        throw new Error(`refused ${channel} from ${frame?.url ?? 'an unknown frame'}: not the app's own page`);
      }
      return handler(arg);
    });
  }
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

void main();
