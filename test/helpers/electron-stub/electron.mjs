// A recording stand-in for the electron module, for running the built main bundle under plain
// Node. It records windows, IPC handlers and security settings, calls the model-info handler
// once the window has loaded, writes everything to $ATLAS_STUB_REPORT and exits.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const report = {
  windows: [],
  handlers: [],
  permissionHandlerSet: false,
  modelInfo: null,
  errors: [],
  singleInstanceLockRequested: false,
  quitCalled: false,
  appEvents: [],
};
const handlers = new Map();
const appListeners = new Map();
// ATLAS_STUB_SECOND_INSTANCE=1: another instance holds the single-instance lock.
const secondInstance = process.env.ATLAS_STUB_SECOND_INSTANCE === '1';

function finish() {
  writeFileSync(process.env.ATLAS_STUB_REPORT, JSON.stringify(report, null, 2));
  process.exit(0);
}

async function probe() {
  try {
    report.modelInfo = await handlers.get('atlas:model-info')?.({}, undefined);
  } catch (e) {
    report.errors.push(String(e));
  }
  // A second launch of the app: the first instance is told and should bring its window forward.
  for (const fn of appListeners.get('second-instance') ?? []) fn({}, ['atlas'], process.cwd());
  finish();
}

class WebContents {
  constructor(win) {
    this.win = win;
  }
  setWindowOpenHandler(fn) {
    this.win.windowOpenHandler = fn({ url: 'https://example.com' });
  }
  on(event) {
    this.win.webContentsEvents.push(event);
  }
}

export class BrowserWindow {
  static all = [];
  static getAllWindows() {
    return BrowserWindow.all;
  }
  static getFocusedWindow() {
    return BrowserWindow.all[0] ?? null;
  }
  constructor(options) {
    this.record = { options, loaded: null, windowOpenHandler: null, webContentsEvents: [], calls: [] };
    this.webContents = new WebContents(this.record);
    report.windows.push(this.record);
    BrowserWindow.all.push(this);
  }
  once() {}
  on() {}
  show() {
    this.record.calls.push('show');
  }
  focus() {
    this.record.calls.push('focus');
  }
  restore() {
    this.record.calls.push('restore');
  }
  isMinimized() {
    return true;
  }
  async loadFile(path) {
    this.record.loaded = { file: path };
    setTimeout(probe, 0);
  }
  async loadURL(url) {
    this.record.loaded = { url };
    setTimeout(probe, 0);
  }
}

export const app = {
  isPackaged: false,
  getFocusedWindow: () => null,
  whenReady: () => Promise.resolve(),
  getPath: () => process.env.ATLAS_STUB_USERDATA ?? tmpdir(),
  getAppPath: () => process.cwd(),
  requestSingleInstanceLock() {
    report.singleInstanceLockRequested = true;
    return !secondInstance;
  },
  on(event, fn) {
    report.appEvents.push(event);
    appListeners.set(event, [...(appListeners.get(event) ?? []), fn]);
  },
  quit() {
    report.quitCalled = true;
    // The real app exits once quit runs; the stub reports what it saw.
    setTimeout(finish, 50);
  },
};

export const ipcMain = {
  handle(channel, fn) {
    handlers.set(channel, fn);
    report.handlers.push(channel);
  },
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler() {
      report.permissionHandlerSet = true;
    },
  },
};

export const dialog = {
  async showSaveDialog() {
    return { canceled: true };
  },
  async showOpenDialog() {
    return { canceled: true, filePaths: [] };
  },
};

export const shell = {
  showItemInFolder() {},
};

export const contextBridge = {};
export const ipcRenderer = {};
export default { app, BrowserWindow, ipcMain, session, dialog, shell, contextBridge, ipcRenderer };
