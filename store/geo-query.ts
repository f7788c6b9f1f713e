/**
 * QueryGeo: located events binned into latitude/longitude cells. A bin reports its events' mean position
 * (where a heat circle goes) and their count; bins under the privacy floor `minCount` are left out.
 */
import type { EventStore } from "./event-store.ts";
import type { GeoQuerySpec } from "./query-spec.ts";
import { scan } from "./scan.ts";

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
  const cells = new Map<number, GeoBin>();
  const size = spec.cellDegrees;
  for await (const partition of scan(store, spec))
    for (const { segment, rows } of partition) {
      const { lat, lon } = segment;
      for (const r of rows) {
        const y = lat[r]!;
        const x = lon[r]!;
        if (Number.isNaN(y)) continue;
        const cellLat = Math.floor(y / size);
        const cellLon = Math.floor(x / size);
        // Cell indexes are bounded by ±1,800,000 (cellDegrees ≥ 0.0001), so one number keys them exactly.
        const key = (cellLat + 2_000_000) * 4_000_001 + (cellLon + 2_000_000);
        const bin = cells.get(key);
        if (bin) {
          bin.lat += y;
          bin.lon += x;
          bin.count++;
        } else cells.set(key, { cellLat, cellLon, lat: y, lon: x, count: 1 });
      }
    }
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
