/**
 * CRC-32 (IEEE 802.3, the polynomial of zip, gzip and PNG), slicing by 8 bytes: segments carry one so that
 * a flipped or missing byte is caught before any column is read. Runtime-neutral (no node:zlib).
 */

const TABLES = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let s = 1; s < 8; s++)
      t[s * 256 + n] = (t[(s - 1) * 256 + n]! >>> 8) ^ t[t[(s - 1) * 256 + n]! & 0xff]!;
  }
  return t;
})();

/** The CRC-32 of `bytes` (an unsigned 32-bit integer). */
export function crc32(bytes: Uint8Array): number {
  return implementation(bytes);
}

let implementation = jsCrc32;

/**
 * Makes `crc32` use `native` (say node:zlib's, ~4× faster) from now on, process-wide: a checksum is a pure
 * function, so every caller gets the same numbers either way. Refused unless it agrees with this file's on
 * test inputs.
 */
export function useCrc32(native: (bytes: Uint8Array) => number): void {
  const probe = new Uint8Array(1031);
  for (let i = 0; i < probe.length; i++) probe[i] = (i * 151 + 7) & 0xff;
  for (const bytes of [new Uint8Array(0), probe.subarray(0, 9), probe])
    if (native(bytes) >>> 0 !== jsCrc32(bytes)) throw new Error("useCrc32: the given CRC-32 disagrees");
  implementation = (bytes) => native(bytes) >>> 0;
}

/** Slicing by 8, in plain JavaScript: runs everywhere. */
function jsCrc32(bytes: Uint8Array): number {
  const t = TABLES;
  let c = 0xffffffff;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    const hi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
    c =
      t[7 * 256 + (lo & 0xff)]! ^
      t[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      t[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      t[4 * 256 + (lo >>> 24)]! ^
      t[3 * 256 + (hi & 0xff)]! ^
      t[2 * 256 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[(hi >>> 24) & 0xff]!;
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
