/**
 * Issue 16 item 7: the packaging configuration (electron-builder's `build` key in package.json)
 * sets the Electron fuses that close the ways around the app's own code, and ships what the
 * packaged app needs outside the asar. electron-builder itself is not installed here (it needs
 * an Electron binary), so the configuration is checked as data.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PACKAGED_MODELS_DIR, bundledModelDir, packagedBundledModelDir } from '../../src/engine/paths';
import { describe, expect, it } from 'vitest';

interface Target {
  target?: string[];
  icon?: string;
}

interface BuildConfig {
  productName?: string;
  icon?: string;
  linux?: Target;
  win?: Target;
  mac?: Target;
  appId?: string;
  files?: string[];
  asar?: boolean;
  asarUnpack?: string[];
  extraResources?: { from: string; to: string }[];
  electronFuses?: Record<string, boolean>;
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  build?: BuildConfig;
};
const build = pkg.build ?? {};

describe('packaging configuration', () => {
  it('sets the fuses: no RunAsNode, no NODE_OPTIONS, no inspector flags, app only from its (verified) asar', () => {
    expect(build.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
    });
    expect(build.asar).toBe(true);
  });

  it('packs the built app, unpacks onnxruntime’s native files, ships the bundled model as a resource', () => {
    expect(build.appId).toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    expect(build.files).toContain('out/**');
    expect(pkg.main.startsWith('./out/')).toBe(true);
    expect(build.asarUnpack).toContain('node_modules/onnxruntime-node/bin/**');
    expect(existsSync('node_modules/onnxruntime-node/bin/napi-v6/linux/x64')).toBe(true);
    // src/main/index.ts finds it at <resources>/models when packaged.
    expect(build.extraResources).toEqual(
      expect.arrayContaining([expect.objectContaining({ from: 'resources/models', to: 'models' })]),
    );
    expect(existsSync('resources/models')).toBe(true);
    expect(readFileSync('src/main/index.ts', 'utf8')).toMatch(
      /app\.isPackaged \? packagedBundledModelDir\(process\.resourcesPath\)/,
    );
  });
});

/** Whether a path inside the app matches one of electron-builder's `files` globs (the few forms used). */
function packed(path: string, globs: string[]): boolean {
  const included = globs
    .filter((g) => !g.startsWith('!'))
    .some((g) => (g.endsWith('/**') ? path.startsWith(g.slice(0, -2)) : path === g));
  const excluded = globs.filter((g) => g.startsWith('!')).some((g) => g === '!**/*.map' && path.endsWith('.map'));
  return included && !excluded;
}

describe('installers (issue 17)', () => {
  it('builds AppImage and deb, an NSIS installer and a dmg with the app’s icon, from npm run dist', () => {
    expect(build.linux?.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(build.win?.target).toContain('nsis');
    expect(build.mac?.target).toContain('dmg');
    for (const icon of [build.icon, build.linux?.icon, build.win?.icon, build.mac?.icon]) {
      expect(icon).toBeDefined();
      expect(existsSync(icon ?? '')).toBe(true);
      // electron-builder makes .ico and .icns from a PNG of at least 512 × 512.
      const png = readFileSync(icon ?? '');
      expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(512);
      expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(512);
    }
    expect(pkg.scripts.dist).toMatch(/electron-vite build && npx --yes electron-builder@\d+\.\d+\.\d+ /);
    expect(productionDependencies()).toContain('onnxruntime-node');
  });

  it('resolves the paths the main process uses at run time inside the packaged layout', () => {
    // The built main bundle, the preload and the page it loads are in the asar (`files`).
    expect(packed('out/main/index.js', build.files ?? [])).toBe(true);
    for (const rel of ['../preload/index.cjs', '../renderer/index.html']) {
      const inApp = join('out/main', rel);
      expect(existsSync(inApp), inApp).toBe(true); // npm test builds first
      expect(packed(inApp.replace(/\\/g, '/'), build.files ?? []), inApp).toBe(true);
    }
    expect(readFileSync('src/main/index.ts', 'utf8')).toMatch(/join\(here, '\.\.\/preload\/index\.cjs'\)/);
    // The bundled model: every file the app reads is copied by extraResources to where
    // packagedBundledModelDir looks, for each platform's resources folder.
    const res = (build.extraResources ?? []).find((r) => r.from === 'resources/models');
    expect(res?.to).toBe(PACKAGED_MODELS_DIR);
    for (const resourcesPath of [
      '/opt/Attention Atlas/resources',
      'C:/Program Files/Attention Atlas/resources',
      '/Applications/Attention Atlas.app/Contents/Resources',
    ]) {
      const dir = packagedBundledModelDir(resourcesPath);
      expect(dir.startsWith(join(resourcesPath, res?.to ?? '?'))).toBe(true);
      const inSource = join('resources/models', relative(join(resourcesPath, res?.to ?? ''), dir));
      expect(inSource).toBe(bundledModelDir('.').replace(/^\.\//, ''));
    }
    for (const f of ['model.safetensors', 'config.json', 'atlas-model.json'])
      expect(existsSync(join(bundledModelDir('.'), f)), f).toBe(true);
    // onnxruntime's native binding for this platform is among the unpacked files.
    const binding = `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`;
    expect(existsSync(binding)).toBe(true);
    expect((build.asarUnpack ?? []).some((g) => g.endsWith('/**') && binding.startsWith(g.slice(0, -2)))).toBe(true);
  });
});

function productionDependencies(): string[] {
  return Object.keys((JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> }).dependencies);
}
