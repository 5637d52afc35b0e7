#!/usr/bin/env node
// The `atlas` command: runs the TypeScript CLI through tsx, so it needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/atlas.ts');
process.exitCode = await main(process.argv.slice(2));
