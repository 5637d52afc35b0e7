#!/usr/bin/env node
// The `atlas` command: runs the TypeScript CLI through tsx, so it needs no build step.
//
// Long command lines: onnxruntime reads the process's whole command line (/proc/self/cmdline)
// when it creates a session and walks it recursively, about three native frames a byte, on the
// main thread's 8 MB stack: from roughly 25 KB of arguments (a long --text) the process died
// with SIGSEGV (a backtrace shows ~87,000 onnxruntime frames for 30,000 characters; the length
// of the command line matters, not the text: the same text from a file runs fine). So a long
// command line never reaches onnxruntime: this launcher hands the arguments to a child process
// through a private temporary file and runs the command there, under a short command line.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Command lines up to this many bytes run in this process (far below the crash at ~25 KB). */
const MAX_INLINE_ARGS_BYTES = 8 * 1024;

let args = process.argv.slice(2);
const handedOver = process.env.ATLAS_ARGS_FILE;
if (handedOver) {
  delete process.env.ATLAS_ARGS_FILE;
  args = JSON.parse(readFileSync(handedOver, 'utf8'));
  rmSync(join(handedOver, '..'), { recursive: true, force: true });
}

const cmdlineBytes = process.argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
if (!handedOver && cmdlineBytes > MAX_INLINE_ARGS_BYTES) {
  const dir = mkdtempSync(join(tmpdir(), 'atlas-args-'));
  const file = join(dir, 'args.json');
  writeFileSync(file, JSON.stringify(args), { mode: 0o600 });
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, ATLAS_ARGS_FILE: file },
  });
  // Ctrl+C reaches the child through the terminal's process group; this process just waits.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('error', (e) => {
    rmSync(dir, { recursive: true, force: true });
    console.error(`atlas: could not start: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    rmSync(dir, { recursive: true, force: true });
    if (signal) console.error(`atlas: stopped by ${signal}`);
    process.exit(code ?? 1);
  });
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/atlas.ts');
  process.exitCode = await main(args);
}
