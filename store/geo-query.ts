/**
 * QueryGeo: located events binned into latitude/longitude cells. A bin reports its events' mean position
 * (where a heat circle goes) and their count; bins under the privacy floor `minCount` are left out.
 */

import { lowerBound } from "./dedup.ts";
import type { EventStore } from "./event-store.ts";
import { type CellIndex, cellIndex } from "./geo-cell-index.ts";
import type { GeoQuerySpec } from "./query-spec.ts";
import { LOCATION, type Match, scan } from "./scan.ts";

export interface GeoBin {
  /** Cell indexes: floor(lat / cellDegrees), floor(lon / cellDegrees). */
  cellLat: number;
  cellLon: number;
  lat: number;
  lon: number;
  count: number;
}

/** Bins ordered by count descending, then by cell (south to north, west to east). */
export async function queryGeo(store: EventStore, spec: GeoQuerySpec): Promise<GeoBin[]> {
  const cells = new GeoCells();
  // Lazily: a large segment's header, then only the columns the filters and the locations need.
  for await (const partition of scan(store, spec, { fields: [LOCATION], times: false }))
    accumulateGeo(cells, spec, partition);
  return geoBins(cells, spec);
}

/** 2^32 / golden ratio and another odd constant, to mix the two cell indexes. */
const HASH_LAT = 0x9e3779b1;
const HASH_LON = 0x85ebca77;

/**
 * Cells with their summed (not yet averaged) positions and counts: an open-addressing hash table over
 * typed arrays keyed by the two cell indexes, pointing into dense per-cell sums in the order the cells
 * were first met. A located row costs a probe or two (or, through addRows, none), not a Map look-up of a
 * boxed key and an object per cell. Memory grows with the cells (~40 bytes each), never with the rows.
 * Cell indexes fit Int32: validation keeps cellDegrees ≥ 0.0001, so they are within ±1,800,000.
 */
export class GeoCells {
  /** Number of cells. */
  size = 0;
  /** Slot i holds cell number + 1 (0 = empty); length a power of two, load ≤ 1/2. */
  private slots = new Int32Array(64);
  private shift = 32 - 6;
  /** The key (cellKey) of cell n. */
  private keys = new Float64Array(32);
  /**
   * Cell n's latitude sum, longitude sum and count are [3n + 3, 3n + 6): a cell's sums stay where they
   * are as cells are added (the array is only copied to a larger one). [0, 3) is addRows' scratch cell
   * for rows that are not located (never read).
   */
  private sums = new Float64Array(3 + 32 * 3);
  /** addRows' offsets in `sums` of a segment's cells (reused from segment to segment). */
  private offsets = new Int32Array(0);

  /** Adds `count` events at summed position (`lat`, `lon`) to cell (`cellLat`, `cellLon`). */
  add(cellLat: number, cellLon: number, lat: number, lon: number, count = 1): void {
    const at = this.offsetOf(cellLat, cellLon);
    const sums = this.sums;
    if (at > 0) {
      sums[at]! += lat;
      sums[at + 1]! += lon;
      sums[at + 2]! += count;
      return;
    }
    this.insert(cellLat, cellLon, lat, lon, count);
  }

  /**
   * Adds rows `rows` of a segment's `lat` and `lon` columns (NaN latitude: not located) to their cells of
   * `cellDegrees` — the query's hot loop, ~6 M located rows at 10 M events. Each cell receives its rows in
   * row order, so its sums are those of `add` called row by row.
   *
   * A row's cell comes from the segment's cell index (geo-cell-index.ts: built once, then kept), and the
   * sums of each of the segment's cells are looked up once, when its first row comes. Rows that are not
   * located add into the scratch cell instead of taking a branch: located and unlocated rows alternate at
   * random, and a mispredicted branch per row costs about what the row's cell does.
   */
  addRows(
    lat: Float64Array,
    lon: Float64Array,
    rows: Uint32Array,
    cellDegrees: number,
    /** Told how the bytes of cell indexes kept for these columns change (the caller's segment holds them). */
    built?: (bytes: number) => void,
  ): void {
    const index = cellIndex(lat, lon, cellDegrees, built);
    if (!index) {
      this.addEach(lat, lon, rows, cellDegrees);
      return;
    }
    const { cellOf, cellLat, cellLon, located } = index;
    // Per cell number + 1 of the index: its offset in `sums`, -1 until looked up; 0 is the scratch cell.
    if (this.offsets.length <= index.size) this.offsets = new Int32Array(index.size + 1);
    const offsets = this.offsets;
    offsets.fill(-1, 1, index.size + 1);
    offsets[0] = 0;
    // Rows ascend: a run of consecutive rows (every row in the time range matched) is not read at all,
    // and only its located rows are visited.
    const first = rows.length > 0 ? rows[0]! : 0;
    if (rows.length > 0 && rows[rows.length - 1]! - first === rows.length - 1) {
      const from = lowerBound(located, first);
      const to = lowerBound(located, first + rows.length);
      if (from === 0 && to === located.length) {
        // Every located row of the segment: each of its cells gets a row, so all can be looked up (or
        // added, empty) first, in the order of their first rows — the order row by row would add them.
        // Empty means sums of -0, to which adding y gives exactly y (as setting it would), even y = -0.
        for (let cell = 1; cell <= index.size; cell++) {
          const cy = cellLat[cell - 1]!;
          const cx = cellLon[cell - 1]!;
          const at = this.offsetOf(cy, cx);
          offsets[cell] = at > 0 ? at : this.insert(cy, cx, -0, -0, 0);
        }
        const sums = this.sums;
        for (let j = 0; j < located.length; j++) {
          const r = located[j]!;
          const at = offsets[cellOf[r]!]!;
          sums[at]! += lat[r]!;
          sums[at + 1]! += lon[r]!;
          sums[at + 2]!++;
        }
        return;
      }
      this.addIndexed(index, lat, lon, located.subarray(from, to), offsets);
      return;
    }
    this.addIndexed(index, lat, lon, rows, offsets);
  }

  /**
   * Adds rows `rows` through cell index `index`, looking each cell up when its first row comes; rows
   * that are not located add into the scratch cell.
   */
  private addIndexed(
    index: CellIndex,
    lat: Float64Array,
    lon: Float64Array,
    rows: Uint32Array | Uint16Array,
    offsets: Int32Array,
  ): void {
    const { cellOf, cellLat, cellLon } = index;
    let sums = this.sums;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const cell = cellOf[r]!;
      const at = offsets[cell]!;
      const y = lat[r]!;
      const x = lon[r]!;
      if (at >= 0) {
        sums[at]! += y;
        sums[at + 1]! += x;
        sums[at + 2]!++;
        continue;
      }
      const cy = cellLat[cell - 1]!;
      const cx = cellLon[cell - 1]!;
      let found = this.offsetOf(cy, cx);
      if (found > 0) {
        sums[found]! += y;
        sums[found + 1]! += x;
        sums[found + 2]!++;
      } else {
        found = this.insert(cy, cx, y, x, 1);
        sums = this.sums;
      }
      offsets[cell] = found;
    }
  }

  /** addRows without a cell index: `add` row by row, its probe inlined. */
  private addEach(lat: Float64Array, lon: Float64Array, rows: Uint32Array, cellDegrees: number): void {
    let slots = this.slots;
    let keys = this.keys;
    let sums = this.sums;
    let shift = this.shift;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      const y = lat[r]!;
      if (Number.isNaN(y)) continue;
      const x = lon[r]!;
      const cellLat = Math.floor(y / cellDegrees);
      const cellLon = Math.floor(x / cellDegrees);
      const key = cellKey(cellLat, cellLon);
      const mask = slots.length - 1;
      let i = (Math.imul(cellLat, HASH_LAT) ^ Math.imul(cellLon, HASH_LON)) >>> shift;
      let s = slots[i]!;
      while (s !== 0 && keys[s - 1] !== key) {
        i = (i + 1) & mask;
        s = slots[i]!;
      }
      if (s !== 0) {
        const at = 3 * s;
        sums[at]! += y;
        sums[at + 1]! += x;
        sums[at + 2]!++;
        continue;
      }
      this.insert(cellLat, cellLon, y, x, 1);
      slots = this.slots;
      keys = this.keys;
      sums = this.sums;
      shift = this.shift;
    }
  }

  /** The cells with their sums (positions not averaged), in the order they were first met. */
  *values(): IterableIterator<GeoBin> {
    for (let n = 0; n < this.size; n++) {
      const key = this.keys[n]!;
      const cellLat = Math.floor(key / KEY_LON) - KEY_OFFSET;
      const at = 3 * n + 3;
      yield {
        cellLat,
        cellLon: key - (cellLat + KEY_OFFSET) * KEY_LON - KEY_OFFSET,
        lat: this.sums[at]!,
        lon: this.sums[at + 1]!,
        count: this.sums[at + 2]!,
      };
    }
  }

  /** The offset in `sums` of cell (`cellLat`, `cellLon`), or 0 when the table lacks it. */
  private offsetOf(cellLat: number, cellLon: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const key = cellKey(cellLat, cellLon);
    for (
      let i = (Math.imul(cellLat, HASH_LAT) ^ Math.imul(cellLon, HASH_LON)) >>> this.shift;
      ;
      i = (i + 1) & mask
    ) {
      const s = slots[i]!;
      if (s === 0) return 0;
      if (this.keys[s - 1] === key) return 3 * s;
    }
  }

  /** Adds cell (`cellLat`, `cellLon`), which the table lacks, with these sums; returns its offset in `sums`. */
  private insert(cellLat: number, cellLon: number, lat: number, lon: number, count: number): number {
    const n = this.size++;
    if (n === this.keys.length) {
      const keys = new Float64Array(n * 2);
      keys.set(this.keys);
      this.keys = keys;
      const sums = new Float64Array(3 + n * 2 * 3);
      sums.set(this.sums);
      this.sums = sums;
    }
    const key = cellKey(cellLat, cellLon);
    this.keys[n] = key;
    const at = 3 * n + 3;
    this.sums[at] = lat;
    this.sums[at + 1] = lon;
    this.sums[at + 2] = count;
    if (this.size * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.place(this.slots, this.shift, n);
    return at;
  }

  /** Puts cell n into the first free slot of its probe sequence in `slots`. */
  private place(slots: Int32Array, shift: number, n: number): void {
    const key = this.keys[n]!;
    const cellLat = Math.floor(key / KEY_LON) - KEY_OFFSET;
    const cellLon = key - (cellLat + KEY_OFFSET) * KEY_LON - KEY_OFFSET;
    const mask = slots.length - 1;
    let i = (Math.imul(cellLat, HASH_LAT) ^ Math.imul(cellLon, HASH_LON)) >>> shift;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = n + 1;
  }

  private rehash(length: number): void {
    const slots = new Int32Array(length);
    const shift = 32 - Math.log2(length);
    for (let n = 0; n < this.size; n++) this.place(slots, shift, n);
    this.slots = slots;
    this.shift = shift;
  }
}

const KEY_OFFSET = 2_000_000;
const KEY_LON = 4_000_001;

/** Both cell indexes (within ±2,000,000) as one exactly represented number. */
function cellKey(cellLat: number, cellLon: number): number {
  return (cellLat + KEY_OFFSET) * KEY_LON + (cellLon + KEY_OFFSET);
}

/** Adds one partition's located matches to `cells` (stepped-query.ts calls this per step). */
export function accumulateGeo(cells: GeoCells, spec: GeoQuerySpec, partition: readonly Match[]): void {
  for (const { segment, rows } of partition)
    cells.addRows(segment.lat, segment.lon, rows, spec.cellDegrees, (bytes) => segment.hold(bytes));
}

/** The answer: bins at or above the privacy floor, at their mean positions, in result order. */
export function geoBins(cells: GeoCells, spec: GeoQuerySpec): GeoBin[] {
  const bins: GeoBin[] = [];
  for (const bin of cells.values()) {
    if (bin.count < spec.minCount) continue;
    bins.push({ ...bin, lat: bin.lat / bin.count, lon: bin.lon / bin.count });
  }
  return bins.sort(compareBins);
}

export function compareBins(a: Pick<GeoBin, "count" | "cellLat" | "cellLon">, b: typeof a): number {
  return b.count - a.count || a.cellLat - b.cellLat || a.cellLon - b.cellLon;
}
