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
    if (this.size * 2 > this.mask + 1) this.grow();
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

const KEY_OFFSET = 2_000_000;
const KEY_LON = 4_000_001;

/** Both cell indexes (within ±2,000,000) as one exactly represented number. */
function cellKey(cellLat: number, cellLon: number): number {
  return (cellLat + KEY_OFFSET) * KEY_LON + (cellLon + KEY_OFFSET);
}

/** Adds one partition's located matches to `cells` (stepped-query.ts calls this per step). */
export function accumulateGeo(cells: GeoCells, spec: GeoQuerySpec, partition: readonly Match[]): void {
  const size = spec.cellDegrees;
  for (const { segment, rows } of partition) {
    const { lat, lon } = segment;
    for (let n = 0; n < rows.length; n++) {
      const r = rows[n]!;
      const y = lat[r]!;
      if (Number.isNaN(y)) continue;
      const x = lon[r]!;
      cells.add(Math.floor(y / size), Math.floor(x / size), y, x);
    }
  }
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
