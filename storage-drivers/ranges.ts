/**
 * Partial reads: a driver that has `getItemRanges` lets the store fetch a large segment's header and only
 * the columns a query uses, rather than the whole file (store/segment.ts, Segment.lazy). unstorage
 * has no such call, so the store finds it on the mounted driver (`storage.getMount(key).driver`).
 *
 * @module
 */

/** What `getItemRanges` returns: each range's bytes (clipped to the value), and the value's length. */
export interface ItemRanges {
  /** The value's length; a driver may leave it out unless some range reached past the end. */
  size?: number;
  /** One fresh buffer per range (so 8-byte aligned), in the order asked. */
  parts: Uint8Array[];
}

export interface RangeReadable {
  /** Reads byte ranges [offset, offset + length) of the value at `key`; null when there is none. */
  getItemRanges(key: string, ranges: readonly (readonly [number, number])[]): Promise<ItemRanges | null>;
  /**
   * Bytes past which adjacent ranges are better asked as several than as one: the driver reads a call's
   * ranges side by side (fs-atomic: on the thread pool). Absent where each range costs a request (R2) or
   * nothing (memory): then a run of adjacent columns is one range however long.
   */
  readonly splitRangesAt?: number;
}

/** Clips `ranges` to a value of `size` bytes and copies them out of `bytes` (for drivers holding values). */
export function sliceRanges(bytes: Uint8Array, ranges: readonly (readonly [number, number])[]): ItemRanges {
  return {
    size: bytes.byteLength,
    parts: ranges.map(([offset, length]) => bytes.slice(Math.min(offset, bytes.byteLength), offset + length)),
  };
}
