/**
 * Model folders come from users and downloads: a FIFO named config.json would block a read
 * forever, a directory would fail with a bare EISDIR. Every file of a model folder is opened
 * through here: anything but a regular file (symbolic links followed, as the Hugging Face cache
 * uses them) is refused by name before a read can block, and the descriptor is opened
 * non-blocking and checked again, so a file swapped in between cannot hang us either.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';

export class NotRegularFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotRegularFileError';
  }
}

function kind(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function refuse(path: string, s: Stats): NotRegularFileError {
  return new NotRegularFileError(`${basename(path)} in ${dirname(path)} is ${kind(s)}, not a regular file; refusing to read it`);
}

/** Throws unless `path` is a regular file (after following links); false when it does not exist. */
export function isRegularFileOrAbsent(path: string): boolean {
  const s = statSync(path, { throwIfNoEntry: false });
  if (!s) return false;
  if (!s.isFile()) throw refuse(path, s);
  return true;
}

/** Opens a regular file for reading without ever blocking on a FIFO or device. */
export function openRegularFile(path: string): number {
  isRegularFileOrAbsent(path);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw refuse(path, s);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads a regular file whole (small files: config.json, atlas-model.json). */
export function readRegularFile(path: string): Buffer {
  const fd = openRegularFile(path);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
