// Runs Electron's own binary installer, but never lets a failed download fail `npm install`.
//
// Why: Electron's postinstall downloads a ~100 MB binary and exits non-zero when it cannot
// (offline machines, CI, these build machines). Electron 45's installer no longer honours
// ELECTRON_SKIP_BINARY_DOWNLOAD, so package.json denies Electron's own install script
// (allowScripts) and this script runs it instead:
//   - ELECTRON_SKIP_BINARY_DOWNLOAD=1 skips the attempt (CI sets it);
//   - otherwise the download is tried, and a failure prints what it means and exits 0.
// Without the binary, `npm start` cannot open the desktop window; `npm test`, `npm run web`
// and the `atlas` command line need no Electron binary.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function electronDir() {
  try {
    return dirname(require.resolve('electron/package.json'));
  } catch {
    return null;
  }
}

const dir = electronDir();
if (!dir) {
  console.log('[attention-atlas] electron is not installed (omitted dev dependency); skipping its binary.');
  process.exit(0);
}
if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
  console.log('[attention-atlas] ELECTRON_SKIP_BINARY_DOWNLOAD is set: not downloading the Electron binary.');
  process.exit(0);
}
const installer = join(dir, 'install.js');
if (!existsSync(installer)) process.exit(0);

// Output is captured: a failed download prints a raw "TypeError: fetch failed" stack, which
// says nothing useful to someone installing the app. The message below says what it means.
const result = spawnSync(process.execPath, [installer], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
if (result.status !== 0) {
  console.warn(
    '[attention-atlas] The Electron binary could not be downloaded (offline?).\n' +
      '  `npm start` needs it; run `npm install` again with internet access, or\n' +
      '  `node node_modules/electron/install.js`. Everything else works without it.',
  );
}
process.exit(0);
