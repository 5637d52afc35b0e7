/**
 * Run as a child process (node --import tsx): opens each model folder named on the command line
 * the ways the app does (checkpoint, library entry metadata, memory estimate) and prints one JSON
 * line per folder with what happened. A loader that blocks shows up as the child timing out.
 */
import { Gpt2Checkpoint } from '../../src/engine/gpt2-weights';
import { estimateMemoryBytes } from '../../src/engine/library';
import { readModelMeta } from '../../src/engine/model-meta';

for (const dir of process.argv.slice(2)) {
  let checkpoint: string;
  try {
    Gpt2Checkpoint.open(dir).close();
    checkpoint = 'opened';
  } catch (e) {
    checkpoint = `error: ${(e as Error).message}`;
  }
  const meta = readModelMeta(dir);
  const memory = estimateMemoryBytes(dir);
  process.stdout.write(JSON.stringify({ dir, checkpoint, meta, memory }) + '\n');
}
