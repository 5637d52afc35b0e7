import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile, encodeSafetensors, decodeToF32, MAX_HEADER_BYTES } from '../../src/engine/safetensors';
import { tempDir } from '../helpers/fixtures';

/** A file from a raw header object and a data area of `dataBytes` bytes. */
function rawFile(header: unknown, dataBytes: number, headerLenOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(json.length));
  const path = join(tempDir(), 'model.safetensors');
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return path;
}

const open =
  (path: string): (() => SafetensorsFile) =>
  () =>
    SafetensorsFile.open(path);

describe('safetensors reader', () => {
  it('round-trips F32, F16 and BF16 tensors', () => {
    const data = Float32Array.from([0, 1, -2.5, 0.333333, 65504, -1e-3, 3.140625]);
    const path = join(tempDir(), 'model.safetensors');
    writeFileSync(
      path,
      encodeSafetensors({
        a: { shape: [7], data },
        b: { shape: [7], data, dtype: 'F16' },
        c: { shape: [1, 7], data, dtype: 'BF16' },
      }),
    );
    const f = SafetensorsFile.open(path);
    expect(Array.from(f.readF32('a').data)).toEqual(Array.from(data));
    const half = f.readF32('b').data;
    // F16 keeps ~3 significant digits: 0.333333 → 0.33325195
    data.forEach((v, i) => expect(Math.abs((half[i] ?? 0) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-6));
    expect(half[2]).toBe(-2.5);
    const bf = f.readF32('c');
    expect(bf.shape).toEqual([1, 7]);
    expect(bf.data[6]).toBe(3.140625); // exactly representable in bfloat16
    f.close();
  });

  it('decodes IEEE half special values', () => {
    const bytes = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff]).buffer);
    expect(Array.from(decodeToF32('F16', bytes))).toEqual([1, -2, Infinity, 2 ** -24, 65504]);
  });

  it('rejects a file too short for the header length', () => {
    const path = join(tempDir(), 'model.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expect(open(path)).toThrow(/model\.safetensors: file is 3 bytes, too short/);
  });

  it('rejects a truncated file whose data ends early', () => {
    const path = rawFile({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8);
    expect(open(path)).toThrow(/model\.safetensors: tensor "w":.*(needs more bytes|truncated)/);
  });

  it('rejects a header length larger than the file', () => {
    expect(open(rawFile({}, 0, 5000n))).toThrow(/runs past the end of the .*-byte file/);
  });

  it('rejects an absurd header length without allocating it', () => {
    expect(open(rawFile({}, 0, 2n ** 62n))).toThrow(new RegExp(`exceeds the ${MAX_HEADER_BYTES}-byte limit`));
  });

  it('rejects a header that is not JSON', () => {
    expect(open(rawFile('{"w": {dtype', 0))).toThrow(/header is not valid JSON/);
  });

  it('rejects a lying header whose offsets disagree with the shape', () => {
    const path = rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }, 32);
    expect(open(path)).toThrow(/shape \[2, 3\] of F32 needs 24 bytes but data_offsets span 16/);
  });

  it('rejects overlapping tensors', () => {
    const path = rawFile(
      {
        a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      24,
    );
    expect(open(path)).toThrow(/tensors "a" and "b" overlap/);
  });

  it('rejects absurd shapes before allocating anything', () => {
    const path = rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 20], data_offsets: [0, 16] } }, 16);
    expect(open(path)).toThrow(/shape \[1099511627776, 1048576\] needs more bytes than the file's 16-byte data area/);
  });

  it('rejects negative or fractional dimensions', () => {
    expect(open(rawFile({ w: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, 16))).toThrow(/bad dimension -4/);
    expect(open(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 16] } }, 16))).toThrow(/bad dimension 1\.5/);
  });

  it('rejects an unsupported dtype with its name', () => {
    const path = rawFile({ w: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16);
    expect(open(path)).toThrow(/tensor "w": unsupported dtype "I64" \(supported: F32, F16, BF16\)/);
  });

  it('rejects holes and trailing bytes in the data area', () => {
    expect(open(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16))).toThrow(
      /bytes 0\.\.8 of the data area belong to no tensor/,
    );
    expect(open(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 16))).toThrow(/8 bytes after the last tensor/);
  });

  it('rejects reversed offsets', () => {
    expect(open(rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8))).toThrow(
      /data_offsets \[8, 0\] are reversed/,
    );
  });
});
