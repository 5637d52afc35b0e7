// Prints the closing line CI reads: "N passed, N failed[, N skipped]", from Vitest's JSON
// report. When `npm test` failed before Vitest ran (lint, types, build), that stage counts as
// one failed check.
import { existsSync, readFileSync } from 'node:fs';

const [file = 'test-results/vitest.json', statusArg = '0'] = process.argv.slice(2);
const status = Number(statusArg);
if (!existsSync(file)) {
  console.log(status === 0 ? '0 passed, 0 failed' : '0 passed, 1 failed');
  process.exit(0);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const passed = r.numPassedTests ?? 0;
let failed = r.numFailedTests ?? 0;
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
// A suite that failed to load has no failed tests but fails the run.
if (failed === 0 && status !== 0) failed = 1;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
