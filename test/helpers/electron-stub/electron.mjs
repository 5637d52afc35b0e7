// A recording stand-in for the electron module, for running the built main bundle under plain
// Node. It records windows, IPC handlers and security settings, calls the model-info handler
// once the window has loaded, writes everything to $ATLAS_STUB_REPORT and exits.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';

const report = {
  windows: [],
  handlers: [],
  permissionHandlerSet: false,
  /** What the permission check handler answered for a few permissions (null: none set). */
  permissionChecks: null,
  modelInfo: null,
  /** The model-info handler called from frames that are not the app's page: what each got. */
  foreignCalls: [],
  /** A download of a repository outside the catalogue, asked for by the app's page. */
  offCatalogueDownload: null,
  messageBoxes: [],
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

/** An IPC event as Electron passes it: the sender frame's URL and whether it is a subframe. */
function event(url, subframe = false) {
  return { senderFrame: url === null ? null : { url, parent: subframe ? { url } : null } };
}

async function probe() {
  const loaded = BrowserWindow.all[0]?.record.loaded;
  const appUrl = loaded?.file ? pathToFileURL(loaded.file).href : (loaded?.url ?? '');
  try {
    report.modelInfo = await handlers.get('atlas:model-info')?.(event(appUrl), undefined);
  } catch (e) {
    report.errors.push(String(e));
  }
  try {
    await handlers.get('atlas:download')?.(event(appUrl), { repo: 'someone/not-in-catalogue' });
    report.offCatalogueDownload = 'started';
  } catch (e) {
    report.offCatalogueDownload = String(e);
  }
  const foreign = [
    ['remote page', 'https://attacker.example/'],
    ['other local file', pathToFileURL('/tmp/other.html').href],
    ['subframe', appUrl, true],
    ['no frame', null],
  ];
  for (const [what, url, subframe] of foreign) {
    try {
      await handlers.get('atlas:model-info')?.(event(url, subframe), undefined);
      report.foreignCalls.push({ what, result: 'answered' });
    } catch (e) {
      report.foreignCalls.push({ what, result: String(e) });
    }
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
    setPermissionCheckHandler(fn) {
      report.permissionChecks = Object.fromEntries(
        ['media', 'notifications', 'clipboard-read', 'geolocation', 'hid', 'serial', 'usb'].map((p) => [
          p,
          fn(null, p, 'file://', {}),
        ]),
      );
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
  async showMessageBox(...args) {
    const options = args.length > 1 ? args[1] : args[0];
    report.messageBoxes.push(options.message);
    return { response: 0 }; // the person chose Cancel
  },
};

export const shell = {
  showItemInFolder() {},
};

export const contextBridge = {};
export const ipcRenderer = {};
export default { app, BrowserWindow, ipcMain, session, dialog, shell, contextBridge, ipcRenderer };
