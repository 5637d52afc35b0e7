/**
 * The model the browser tests drive: the bundled model when it is present (the product's real
 * default), else a random one, so the view tests never depend on a file being trained first.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine';
import { bundledModelDir } from '../../src/engine/paths';
import { randomEngine, tempDir } from './fixtures';

export interface ViewModel {
  engine: Engine;
  label: string;
}

export async function viewModel(): Promise<ViewModel> {
  const dir = bundledModelDir(process.cwd());
  if (existsSync(join(dir, 'model.safetensors'))) {
    const engine = new Engine({ cacheDir: tempDir('atlas-cache-') });
    const info = await engine.load(dir);
    return { engine, label: info.label };
  }
  const { engine } = await randomEngine();
  return { engine, label: engine.modelInfo().label };
}
