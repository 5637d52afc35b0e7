/**
 * Electron main process: window, security settings and IPC wiring only. All model work is in
 * the engine (src/engine), reached through the shared handler map.
 */
import { BrowserWindow, app, ipcMain, session } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../engine/engine';
import { bundledModelDir } from '../engine/paths';
import { createHandlers } from './handlers';

const here = dirname(fileURLToPath(import.meta.url));
export const PRELOAD_PATH = join(here, '../preload/index.cjs');
export const RENDERER_HTML = join(here, '../renderer/index.html');

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
  const devUrl = process.env.ELECTRON_RENDERER_URL;
  if (!app.isPackaged && devUrl) void win.loadURL(devUrl);
  else void win.loadFile(RENDERER_HTML);
  return win;
}

async function main(): Promise<void> {
  await app.whenReady();
  // No camera, microphone, notifications or anything else a page might ask for.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  const engine = new Engine({ cacheDir: join(app.getPath('userData'), 'graph-cache') });
  const modelDir = process.env.ATLAS_MODEL_DIR ?? bundledModelDir(app.getAppPath());
  const ready = engine.load(modelDir);
  ready.catch((e: unknown) => console.error('[atlas] could not load the model:', e));
  for (const [channel, handler] of Object.entries(createHandlers(engine, ready))) {
    ipcMain.handle(channel, (_event, arg: unknown) => handler(arg));
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
