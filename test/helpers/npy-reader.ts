/**
 * An independent .npy reader for tests (not the app's writer run backwards): parses the
 * header dict with regular expressions, as numpy's format spec describes it.
 */
import { readFileSync } from 'node:fs';

export function readNpy(path: string): { dtype: string; shape: number[]; data: Float32Array | BigInt64Array | Int32Array } {
  const buf = readFileSync(path);
  if (buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${path}: not .npy`);
  const major = buf[6] ?? 0;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  if ((start + headerLen) % 64 !== 0) throw new Error(`${path}: data not 64-byte aligned`);
  const dtype = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  if (!/'fortran_order':\s*False/.test(header)) throw new Error('fortran order');
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = buf.subarray(start + headerLen);
  const copy = new Uint8Array(body).buffer;
  const data = dtype === '<f4' ? new Float32Array(copy) : dtype === '<i8' ? new BigInt64Array(copy) : new Int32Array(copy);
  return { dtype, shape, data };
}
