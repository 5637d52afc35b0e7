/**
 * Saves the checkpoints our TypeScript writer makes, for check_ts_files.py to load with real torch:
 *   npx tsx tools/torch-fixtures/write-ts-files.ts /tmp/ts-torch && python3 tools/torch-fixtures/check_ts_files.py /tmp/ts-torch
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writtenFiles, writtenMeta } from './ts-written';

const dir = process.argv[2] ?? '/tmp/ts-torch';
mkdirSync(dir, { recursive: true });
const expected: Record<string, unknown> = {};
for (const [name, f] of Object.entries(writtenFiles())) {
  writeFileSync(join(dir, name), f.bytes);
  expected[name] = { tensors: f.tensors, key: f.key, weightsOnly: f.weightsOnly };
}
writeFileSync(join(dir, 'meta.pkl'), writtenMeta('\n !abcxyzé'));
expected['meta.pkl'] = { chars: '\n !abcxyzé' };
writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected, null, 1));
console.log(`wrote ${Object.keys(expected).length} files to ${dir}`);
