/**
 * QueryGeo: located events binned into latitude/longitude cells. A bin reports its events' mean position
 * (where a heat circle goes) and their count; bins under the privacy floor `minCount` are left out.
 */
import type { EventStore } from "./event-store.ts";
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
  for await (const partition of scan(store, spec, "asc", true, undefined, [LOCATION]))
    accumulateGeo(cells, spec, partition);
  return geoBins(cells, spec);
}

/** 2^32 / golden ratio and another odd constant, to mix the two cell indexes. */
const HASH_LAT = 0x9e3779b1;
const HASH_LON = 0x85ebca77;

/**
 * Cells with their summed (not yet averaged) positions and counts, in an open-addressing hash table over
 * typed arrays keyed by the two cell indexes: a located row costs a multiply and a probe or two, not a Map
 * look-up of a boxed key and an object per cell. Memory grows with the cells, never with the rows. Cell
 * indexes fit Int32: validation keeps cellDegrees ≥ 0.0001, so they are within ±1,800,000.
 */
export class GeoCells {
  /** Number of cells. */
  size = 0;
  /**
   * Slot i is [4i, 4i + 4): cell key, latitude sum, longitude sum, count — one cache line per look-up.
   * A count of 0 marks an empty slot (every cell holds at least one event).
   */
  private slots = new Float64Array(64 * 4);
  private mask = 63;
  private shift = 32 - 6;
  /** Slots in the order their cells were first met, so saved states list cells in a stable order. */
  private order = new Int32Array(32);
  /** addRows' list of a segment's located rows (reused from segment to segment). */
  private located = new Uint32Array(0);

  /** Adds `count` events at summed position (`lat`, `lon`) to cell (`cellLat`, `cellLon`). */
  add(cellLat: number, cellLon: number, lat: number, lon: number, count = 1): void {
    const slots = this.slots;
    const key = cellKey(cellLat, cellLon);
    let i = (Math.imul(cellLat, HASH_LAT) ^ Math.imul(cellLon, HASH_LON)) >>> this.shift;
    for (;;) {
      const at = i * 4;
      if (slots[at + 3] === 0) break;
      if (slots[at] === key) {
        slots[at + 1]! += lat;
        slots[at + 2]! += lon;
        slots[at + 3]! += count;
        return;
      }
      i = (i + 1) & this.mask;
    }
    const at = i * 4;
    slots[at] = key;
    slots[at + 1] = lat;
    slots[at + 2] = lon;
    slots[at + 3] = count;
    if (this.size === this.order.length) {
      const order = new Int32Array(this.order.length * 2);
      order.set(this.order);
      this.order = order;
    }
    this.order[this.size++] = i;
    // Load ≤ 1/4 while the table is at most SPARSE_SLOTS (a second probe is a mispredicted branch, dearer
    // than the slot's cache line at that size), ≤ 1/2 past it (memory then grows with the cells).
    if (this.size * (this.mask < SPARSE_SLOTS ? 4 : 2) > this.mask + 1) this.grow();
  }

  /**
   * Adds rows `rows` of a segment's `lat` and `lon` columns (NaN latitude: not located) to their cells of
   * `cellDegrees` — the query's hot loop, ~6 M located rows at 10 M events. Each cell receives its rows in
   * row order, so its sums are those of `add` called row by row.
   *
   * Two passes: the located rows are picked out without a branch (located and unlocated rows alternate at
   * random, and a mispredicted branch per row costs about what the row's cell does), then the located
   * rows go to their cells with the probe inlined and the table's fields held in locals.
   */
  addRows(lat: Float64Array, lon: Float64Array, rows: Uint32Array, cellDegrees: number): void {
    const n = rows.length;
    if (this.located.length < n) this.located = new Uint32Array(n);
    const located = this.located;
    const words = new Int32Array(lat.buffer, lat.byteOffset, lat.length * 2);
    let m = 0;
    let infinite = 0;
    for (let k = 0; k < n; k++) {
      const r = rows[k]!;
      const high = words[2 * r + HIGH]! & 0x7fffffff;
      // Exponent bits all ones: NaN or ±Infinity. e is 0 then, and `(e | -e) >>> 31` is 0 exactly when e is.
      const e = (high & 0x7ff00000) ^ 0x7ff00000;
      located[m] = r;
      m += (e | -e) >>> 31;
      const inf = (high ^ 0x7ff00000) | words[2 * r + 1 - HIGH]!;
      infinite |= 1 - ((inf | -inf) >>> 31);
    }
    // Stored latitudes are finite or NaN (validation keeps them within ±90); were one infinite, the rows
    // would go one by one as they always have.
    if (infinite !== 0) {
      for (let k = 0; k < n; k++) {
        const r = rows[k]!;
        const y = lat[r]!;
        if (Number.isNaN(y)) continue;
        const x = lon[r]!;
        this.add(Math.floor(y / cellDegrees), Math.floor(x / cellDegrees), y, x);
      }
      return;
    }
    let slots = this.slots;
    let mask = this.mask;
    let shift = this.shift;
    for (let k = 0; k < m; k++) {
      const r = located[k]!;
      const y = lat[r]!;
      const x = lon[r]!;
      const cellLat = Math.floor(y / cellDegrees);
      const cellLon = Math.floor(x / cellDegrees);
      const key = cellKey(cellLat, cellLon);
      let i = (Math.imul(cellLat, HASH_LAT) ^ Math.imul(cellLon, HASH_LON)) >>> shift;
      for (;;) {
        const at = i << 2;
        const count = slots[at + 3]!;
        if (count === 0) {
          this.add(cellLat, cellLon, y, x);
          slots = this.slots;
          mask = this.mask;
          shift = this.shift;
          break;
        }
        if (slots[at] === key) {
          slots[at + 1]! += y;
          slots[at + 2]! += x;
          slots[at + 3] = count + 1;
          break;
        }
        i = (i + 1) & mask;
      }
    }
  }

  /** The cells with their sums (positions not averaged), in the order they were first met. */
  *values(): IterableIterator<GeoBin> {
    const slots = this.slots;
    for (let n = 0; n < this.size; n++) {
      const at = this.order[n]! * 4;
      const key = slots[at]!;
      const cellLat = Math.floor(key / KEY_LON) - KEY_OFFSET;
      yield {
        cellLat,
        cellLon: key - (cellLat + KEY_OFFSET) * KEY_LON - KEY_OFFSET,
        lat: slots[at + 1]!,
        lon: slots[at + 2]!,
        count: slots[at + 3]!,
      };
    }
  }

  private grow(): void {
    const cells = [...this.values()];
    const length = (this.mask + 1) * 2;
    this.slots = new Float64Array(length * 4);
    this.mask = length - 1;
    this.order = new Int32Array(this.order.length);
    this.shift--;
    this.size = 0;
    for (const c of cells) this.add(c.cellLat, c.cellLon, c.lat, c.lon, c.count);
  }
}

/** The table stays sparse (load ≤ 1/4) up to this many slots (2 MiB), half full past it. */
const SPARSE_SLOTS = 1 << 16;
/** Which Int32 of a Float64 holds its sign and exponent: the second on little-endian platforms. */
const HIGH = new Uint8Array(new Float64Array([-0]).buffer)[7] === 0x80 ? 1 : 0;

const KEY_OFFSET = 2_000_000;
const KEY_LON = 4_000_001;

/** Both cell indexes (within ±2,000,000) as one exactly represented number. */
function cellKey(cellLat: number, cellLon: number): number {
  return (cellLat + KEY_OFFSET) * KEY_LON + (cellLon + KEY_OFFSET);
}

/** Adds one partition's located matches to `cells` (stepped-query.ts calls this per step). */
export function accumulateGeo(cells: GeoCells, spec: GeoQuerySpec, partition: readonly Match[]): void {
  for (const { segment, rows } of partition) cells.addRows(segment.lat, segment.lon, rows, spec.cellDegrees);
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
