/**
 * The setup every browser test file shares: the view model, Debian Chromium, the built renderer
 * on a loopback server and a screenshots folder, started before the file's tests and closed after.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { RENDERER_DIR, launchChromium, serveStatic } from './browser-host';
import { viewModel, type ViewModel } from './view-model';

export const SHOTS = 'test-results/screenshots';

export interface BrowserSuite {
  vm: ViewModel;
  browser: Browser;
  url: string;
}

/** Call at the top of a describe block; the fields are ready inside its tests. */
export function useBrowserSuite(): BrowserSuite {
  const suite = {} as BrowserSuite;
  let server: Server | undefined;
  beforeAll(async () => {
    suite.vm = await viewModel();
    suite.browser = await launchChromium();
    const served = await serveStatic(RENDERER_DIR);
    server = served.server;
    suite.url = served.url;
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await suite.browser?.close();
    server?.close();
  });
  return suite;
}
