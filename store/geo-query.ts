/**
 * QueryGeo: located events binned into latitude/longitude cells. A bin reports its events' mean position
 * (where a heat circle goes) and their count; bins under the privacy floor `minCount` are left out.
 */
import type { EventStore } from "./event-store.ts";
import type { GeoQuerySpec } from "./query-spec.ts";
import { type Match, scan } from "./scan.ts";

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
  const cells: GeoCells = new Map();
  for await (const partition of scan(store, spec)) accumulateGeo(cells, spec, partition);
  return geoBins(cells, spec);
}

/** Cells by a numeric key, each with its summed (not yet averaged) position. */
export type GeoCells = Map<number, GeoBin>;

/** Adds one partition's located matches to `cells` (stepped-query.ts calls this per step). */
export function accumulateGeo(cells: GeoCells, spec: GeoQuerySpec, partition: readonly Match[]): void {
  const size = spec.cellDegrees;
  for (const { segment, rows } of partition) {
    const { lat, lon } = segment;
    for (const r of rows) {
      const y = lat[r]!;
      const x = lon[r]!;
      if (Number.isNaN(y)) continue;
      const cellLat = Math.floor(y / size);
      const cellLon = Math.floor(x / size);
      const key = cellKey(cellLat, cellLon);
      const bin = cells.get(key);
      if (bin) {
        bin.lat += y;
        bin.lon += x;
        bin.count++;
      } else cells.set(key, { cellLat, cellLon, lat: y, lon: x, count: 1 });
    }
  }
}

/** Cell indexes are bounded by ±1,800,000 (cellDegrees ≥ 0.0001), so one number keys them exactly. */
export function cellKey(cellLat: number, cellLon: number): number {
  return (cellLat + 2_000_000) * 4_000_001 + (cellLon + 2_000_000);
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
