/**
 * Issue 16 item 7: the packaging configuration (electron-builder's `build` key in package.json)
 * sets the Electron fuses that close the ways around the app's own code, and ships what the
 * packaged app needs outside the asar. electron-builder itself is not installed here (it needs
 * an Electron binary), so the configuration is checked as data.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface BuildConfig {
  appId?: string;
  files?: string[];
  asar?: boolean;
  asarUnpack?: string[];
  extraResources?: { from: string; to: string }[];
  electronFuses?: Record<string, boolean>;
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { main: string; build?: BuildConfig };
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
    expect(readFileSync('src/main/index.ts', 'utf8')).toMatch(/app\.isPackaged \? dirname\(process\.resourcesPath\)/);
  });
});
