/**
 * Each row's QueryGeo cell in a segment, worked out once per cell size and kept beside the segment's
 * (immutable, cached) latitude column, so that a warm QueryGeo reads a small integer per row instead of
 * dividing, flooring and hashing two coordinates (value-ids.ts keeps dictionary code tables the same way).
 *
 * Memory: 2 bytes per row and 2 per located row (4 and 4 in a segment of more than 65,535 rows) per cell
 * size, for the last KEEP_SIZES sizes asked of a segment; held weakly, so it goes when the segment's
 * column does.
 */
export interface CellIndex {
  cellDegrees: number;
  /** Per row: its cell's number + 1 in this index, 0 when the row is not located (NaN latitude). */
  cellOf: Uint16Array | Int32Array;
  /** The located rows, ascending. */
  located: Uint16Array | Uint32Array;
  /** Cell n's indexes, floor(lat / cellDegrees) and floor(lon / cellDegrees), for n from 0. */
  cellLat: Int32Array;
  cellLon: Int32Array;
  /** Number of cells. */
  size: number;
}

/** How many cell sizes an index is kept for per segment (a map is looked at in a few zoom levels). */
const KEEP_SIZES = 2;
const indexes = new WeakMap<Float64Array, CellIndex[]>();
/** The cell sizes asked of a column that has no index for them yet. */
const seen = new WeakMap<Float64Array, number[]>();

/**
 * The cell index of the segment whose columns are `lat` and `lon`, built when it is asked for the second
 * time. Undefined on the first time, and when a located row's cell is not a pair of int32 indexes (an
 * infinite or NaN coordinate beside a located latitude, which validation keeps out of stored events):
 * the caller then takes the rows one by one.
 */
export function cellIndex(
  lat: Float64Array,
  lon: Float64Array,
  cellDegrees: number,
  /**
   * Told how the bytes kept with `lat` change when an index is built: its own, less those of an index it
   * pushes out (the caller counts them).
   */
  built?: (bytes: number) => void,
): CellIndex | undefined {
  const kept = indexes.get(lat) ?? [];
  const found = kept.find((index) => index.cellDegrees === cellDegrees);
  if (found) return found;
  // Built on the second visit of a segment's kept columns at this size (the third query scanning its rows:
  // scan.ts reads the first into a copy): the first costs what it did without an index (a
  // query over data read once, a cold one above all, should not pay for it), the next ones much less.
  let sizes = seen.get(lat);
  if (!sizes?.includes(cellDegrees)) {
    sizes = [cellDegrees, ...(sizes ?? [])].slice(0, KEEP_SIZES);
    seen.set(lat, sizes);
    return undefined;
  }
  const index = buildCellIndex(lat, lon, cellDegrees);
  if (index) {
    const all = [index, ...kept];
    indexes.set(lat, all.slice(0, KEEP_SIZES));
    built?.(indexBytes(index) - all.slice(KEEP_SIZES).reduce((n, old) => n + indexBytes(old), 0));
  }
  return index;
}

function indexBytes(index: CellIndex): number {
  return (
    index.cellOf.byteLength + index.located.byteLength + index.cellLat.byteLength + index.cellLon.byteLength
  );
}

/** 2^32 / golden ratio and another odd constant, to mix the two cell indexes. */
const HASH_LAT = 0x9e3779b1;
const HASH_LON = 0x85ebca77;

export function buildCellIndex(
  lat: Float64Array,
  lon: Float64Array,
  cellDegrees: number,
): CellIndex | undefined {
  const rows = lat.length;
  // Fewer rows than 0xffff: fewer cells too, so their numbers + 1 fit 16 bits.
  const cellOf = rows < 0xffff ? new Uint16Array(rows) : new Int32Array(rows);
  const located = rows <= 0x10000 ? new Uint16Array(rows) : new Uint32Array(rows);
  let m = 0;
  let cellLat = new Int32Array(1024);
  let cellLon = new Int32Array(1024);
  let size = 0;
  // Open addressing over the cells, load ≤ 1/4: slot i holds cell number + 1 (0 = empty) and its key.
  let bits = 32 - Math.clz32(Math.min(rows, 1 << 14));
  let slots = new Int32Array(1 << bits);
  let keys = new Float64Array(1 << bits);
  for (let r = 0; r < rows; r++) {
    const y = lat[r]!;
    if (Number.isNaN(y)) continue;
    located[m++] = r;
    const cy = Math.floor(y / cellDegrees);
    const cx = Math.floor(lon[r]! / cellDegrees);
    // Exact and one-to-one for indexes within ±2^21 (validation keeps them within ±1,800,000); NaN for
    // a NaN index, which no slot matches.
    const key = (cy + 2 ** 21) * 2 ** 23 + (cx + 2 ** 22);
    const mask = slots.length - 1;
    let i = (Math.imul(cy, HASH_LAT) ^ Math.imul(cx, HASH_LON)) >>> (32 - bits);
    let s = slots[i]!;
    while (s !== 0 && keys[i] !== key) {
      i = (i + 1) & mask;
      s = slots[i]!;
    }
    if (s !== 0) {
      cellOf[r] = s;
      continue;
    }
    if (cy !== (cy | 0) || cx !== (cx | 0) || Math.abs(cy) >= 2 ** 21 || Math.abs(cx) >= 2 ** 21)
      return undefined;
    if (size === cellLat.length) {
      cellLat = grown(cellLat);
      cellLon = grown(cellLon);
    }
    cellLat[size] = cy;
    cellLon[size] = cx;
    slots[i] = ++size;
    keys[i] = key;
    cellOf[r] = size;
    if (size * 4 > slots.length) {
      bits++;
      const oldSlots = slots;
      const oldKeys = keys;
      slots = new Int32Array(1 << bits);
      keys = new Float64Array(1 << bits);
      for (let j = 0; j < oldSlots.length; j++) {
        const t = oldSlots[j]!;
        if (t === 0) continue;
        let k = (Math.imul(cellLat[t - 1]!, HASH_LAT) ^ Math.imul(cellLon[t - 1]!, HASH_LON)) >>> (32 - bits);
        while (slots[k] !== 0) k = (k + 1) & (slots.length - 1);
        slots[k] = t;
        keys[k] = oldKeys[j]!;
      }
    }
  }
  return {
    cellDegrees,
    cellOf,
    located: located.slice(0, m),
    cellLat: cellLat.slice(0, size),
    cellLon: cellLon.slice(0, size),
    size,
  };
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}
