/**
 * What a newcomer sees from `npm install` and `npm start` where the Electron binary cannot be
 * had (these machines, CI, offline laptops): one friendly message each, never a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const electronDir = join('node_modules', 'electron');
const hasBinary = ((): boolean => {
  try {
    return existsSync(join(electronDir, 'dist', readFileSync(join(electronDir, 'path.txt'), 'utf8').trim()));
  } catch {
    return false;
  }
})();

describe.skipIf(hasBinary)('install and start without the Electron binary', () => {
  it('npm start says in one line that the window needs Electron and that npm run web works', () => {
    const r = spawnSync(process.execPath, ['scripts/start.mjs'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const out = `${r.stdout}${r.stderr}`.trim();
    expect(out.split('\n')).toHaveLength(1);
    expect(out).toContain('needs the Electron binary');
    expect(out).toContain('npm run web');
    expect(out).not.toMatch(/Error|\bat /);
  });

  it('a failed binary download prints the friendly message only, and install still succeeds', () => {
    // A closed loopback port as the mirror: the download fails at once, without the internet.
    const { ELECTRON_SKIP_BINARY_DOWNLOAD: _skip, ...rest } = process.env;
    const env = { ...rest, ELECTRON_MIRROR: 'http://127.0.0.1:9/' };
    const r = spawnSync(process.execPath, ['scripts/install-electron-binary.mjs'], { encoding: 'utf8', env, timeout: 120_000 });
    expect(r.status).toBe(0);
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain('could not be downloaded');
    expect(out).not.toMatch(/TypeError|fetch failed|\n\s+at /);
  });
});

describe('configuration', () => {
  it('package.json and the README agree on the Node.js and npm versions, and nothing in .npmrc makes npm warn', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string; npm: string } };
    const readme = readFileSync('README.md', 'utf8');
    const node = /(\d+\.\d+)/.exec(pkg.engines.node)?.[1] ?? '?';
    const npm = /(\d+\.\d+)/.exec(pkg.engines.npm)?.[1] ?? '?';
    expect(readme).toContain(`Node.js ≥ ${node}`);
    expect(readme).toContain(`npm ≥ ${npm}`);
    // onnxruntime-node's CUDA download is refused by package.json's allowScripts, not .npmrc.
    expect(existsSync('.npmrc') ? readFileSync('.npmrc', 'utf8') : '').not.toMatch(/onnxruntime-node-install/);
  });
});
