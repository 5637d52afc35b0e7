import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  VIEW_STATE_FORMAT,
  parseViewState,
  pngWithViewState,
  readViewState,
  svgWithViewState,
  viewStateFromParam,
  viewStateToParam,
  type ViewState,
} from '../../src/shared/view-state';

const STATE: ViewState = {
  format: VIEW_STATE_FORMAT,
  version: 1,
  model: { id: 'tiny-gpt2-brown', weightsHash: 'ab'.repeat(32) },
  text: 'The cat <sat> & “注意” ]]> done',
  prependEndOfText: true,
  view: 'attention',
  layer: 2,
  head: 3,
  stage: 'softmax',
  selected: { q: 5, k: 1 },
  toggles: {
    mask: true,
    scale: false,
    transposed: true,
    sinkAware: true,
    atlasOrder: 'induction',
    labelledOnly: false,
    showDiff: true,
  },
  pinned: [{ layer: 1, head: 0 }],
};

/** A real 2×1 RGB PNG, chunks and CRCs written from the spec (node's zlib for IDAT). */
function tinyPng(): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Uint8Array): number => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 0xff] ?? 0) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length, 0);
    b.write(type, 4, 'latin1');
    Buffer.from(data).copy(b, 8);
    b.writeUInt32BE(crc(b.subarray(4, 8 + data.length)), 8 + data.length);
    return b;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(1, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const idat = deflateSync(Buffer.from([0, 255, 0, 0, 0, 0, 255]));
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array()),
  ]);
}

/** Every chunk's CRC checks out and IEND stays last. */
function chunksValid(png: Uint8Array): string[] {
  const b = Buffer.from(png);
  const types: string[] = [];
  let at = 8;
  while (at < b.length) {
    const len = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    const want = b.readUInt32BE(at + 8 + len);
    types.push(type);
    expect(want).toBe(crc32Of(b.subarray(at + 4, at + 8 + len)));
    at += 12 + len;
  }
  return types;
}

function crc32Of(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('reproducible view files', () => {
  it('round-trips through JSON, a PNG iTXt chunk, SVG metadata and a URL parameter', () => {
    expect(readViewState(new TextEncoder().encode(JSON.stringify(STATE)))).toEqual(STATE);
    const png = pngWithViewState(tinyPng(), STATE);
    expect(chunksValid(png)).toEqual(['IHDR', 'IDAT', 'iTXt', 'IEND']);
    expect(readViewState(png)).toEqual(STATE);
    const svg = svgWithViewState(
      new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="4"><rect/></svg>'),
      STATE,
    );
    expect(new TextDecoder().decode(svg)).toMatch(/^<svg [^>]*><metadata id="attention-atlas-view">/);
    expect(readViewState(svg)).toEqual(STATE);
    const param = viewStateToParam(STATE);
    expect(param).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(viewStateFromParam(param)).toEqual(STATE);
  });

  it.each([
    [{ ...STATE, format: 'other' }, /not an Attention Atlas view/],
    [{ ...STATE, version: 2 }, /version 2/],
    [{ ...STATE, stage: 'boil' }, /stage must be one of/],
    [{ ...STATE, layer: -1 }, /layer must be a whole number/],
    [{ ...STATE, toggles: { ...STATE.toggles, mask: 'yes' } }, /toggles.mask/],
    [{ ...STATE, selected: { q: 1 } }, /selected.k/],
  ])('refuses a malformed view %#', (v, message) => {
    expect(() => parseViewState(v)).toThrow(message);
  });

  it('says so when a PNG or SVG carries no view', () => {
    expect(() => readViewState(tinyPng())).toThrow(/carries no Attention Atlas view/);
    expect(() => readViewState(new TextEncoder().encode('<svg></svg>'))).toThrow(/carries no/);
    expect(() => readViewState(new TextEncoder().encode('hello'))).toThrow(/not a view/);
  });
});
