/**
 * NumPy .npy (format 1.0) writer: a magic string, a Python-dict header padded to 64 bytes,
 * then C-order little-endian data. Hand-written: the format is a page long and the npm
 * packages for it are unmaintained.
 */
export function encodeNpy(data: Float32Array | BigInt64Array | Int32Array, shape: readonly number[]): Buffer {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof BigInt64Array ? '<i8' : '<i4';
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const preamble = 10; // magic (6) + version (2) + header length (2)
  header += ' '.repeat(64 - ((preamble + header.length + 1) % 64)) + '\n';
  const head = Buffer.alloc(preamble);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
