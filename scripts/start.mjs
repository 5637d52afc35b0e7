// `npm start`: the desktop app, or one clear line saying why it cannot open here.
//
// Why: without Electron's binary (an offline `npm install`, CI), `electron-vite preview` dies
// with "Error: Electron uninstall" and a stack trace. The browser mode needs no binary.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/**
 * The Electron executable's path, or null when the binary was never downloaded. Read from the
 * package's path.txt rather than require('electron'), which tries the download again itself.
 */
function electronBinary() {
  try {
    const dir = dirname(require.resolve('electron/package.json'));
    const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(dir, 'dist');
    const exe = join(dist, readFileSync(join(dir, 'path.txt'), 'utf8').trim());
    return existsSync(exe) ? exe : null;
  } catch {
    return null;
  }
}

if (!electronBinary()) {
  console.error(
    '[attention-atlas] The desktop window needs the Electron binary, which is not installed here; `npm run web` opens the same app in your browser.',
  );
  process.exit(1);
}
const bin = process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite';
const child = spawn(bin, ['preview', ...process.argv.slice(2)], { stdio: 'inherit', shell: process.platform === 'win32' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
