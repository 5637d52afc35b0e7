/** Where things live, for the app and the command line alike. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The model the app opens on first start (issue #3): trained by tools/train-tiny-gpt2. */
export const BUNDLED_MODEL_NAME = 'tiny-gpt2-brown';

export function bundledModelDir(appRoot: string): string {
  return join(appRoot, 'resources', 'models', BUNDLED_MODEL_NAME);
}

/** Built-graph cache for the command line (the app uses its user-data folder). */
export function cliCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'attention-atlas', 'graphs');
}

/** Where `atlas pull` puts models when no --dir is given. */
export function cliModelsDir(): string {
  const base = process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share');
  return join(base, 'attention-atlas', 'models');
}
