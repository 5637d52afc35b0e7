/** Where things live, for the app and the command line alike. */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The model the app opens on first start (issue #3): trained by tools/train-tiny-gpt2. */
export const BUNDLED_MODEL_NAME = 'tiny-gpt2-brown';

/** The bundled model in a source checkout (development, tests, the command line). */
export function bundledModelDir(appRoot: string): string {
  return join(appRoot, 'resources', 'models', BUNDLED_MODEL_NAME);
}

/** Where packaging puts resources/models (package.json build.extraResources `to`). */
export const PACKAGED_MODELS_DIR = 'models';

/**
 * The bundled model in an installed app: electron-builder copies resources/models to
 * <resourcesPath>/models, outside the asar (…/resources on Linux and Windows, …/Contents/Resources
 * on macOS, which is why this does not go through the parent folder's name).
 */
export function packagedBundledModelDir(resourcesPath: string): string {
  return join(resourcesPath, PACKAGED_MODELS_DIR, BUNDLED_MODEL_NAME);
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
