import { describe, expect, it } from 'vitest';
import { fromBase64, pack, toBase64, unpack } from '../../src/shared/wire';

describe('wire codec', () => {
  it('round-trips nested structures with typed arrays as raw bytes', () => {
    const value = {
      text: 'héllo 注意 🤖',
      dot: Float32Array.from([1.5, -2.25, 3e-8, Number.NEGATIVE_INFINITY]),
      ids: Int32Array.from([0, 50256, -1]),
      big: BigInt64Array.from([1n, -2n]),
      nested: [{ a: Uint8Array.from([255, 0, 7]) }, null, 3],
    };
    const bytes = pack(value);
    const back = unpack(fromBase64(toBase64(bytes))) as typeof value;
    expect(back.text).toBe(value.text);
    expect(back.dot).toBeInstanceOf(Float32Array);
    expect(Array.from(back.dot)).toEqual(Array.from(value.dot));
    expect(Array.from(back.ids)).toEqual([0, 50256, -1]);
    expect(Array.from(back.big)).toEqual([1n, -2n]);
    expect(Array.from((back.nested[0] as { a: Uint8Array }).a)).toEqual([255, 0, 7]);
    // Tensors travel as bytes: 1000 floats cost ~4 kB, not a JSON number list.
    expect(pack({ x: new Float32Array(1000).fill(0.123456789) }).length).toBeLessThan(4200);
  });

  it('rejects malformed messages instead of reading out of bounds', () => {
    expect(() => unpack(new Uint8Array([1, 2, 3]))).toThrow(/too short/);
    expect(() => unpack(new Uint8Array(16))).toThrow(/not an Attention Atlas message/);
    const evil = pack({ a: new Float32Array(2) });
    const json = new TextDecoder().decode(evil.subarray(8, 8 + new DataView(evil.buffer).getUint32(4, true)));
    const forged = json.replace('"n":2', '"n":9');
    const enc = new TextEncoder().encode(forged);
    const msg = new Uint8Array(evil.length + 8);
    msg.set(evil.subarray(0, 4));
    new DataView(msg.buffer).setUint32(4, enc.length, true);
    msg.set(enc, 8);
    expect(() => unpack(msg)).toThrow(/out of bounds/);
  });
});
