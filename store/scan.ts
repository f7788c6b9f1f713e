/**
 * The scan: which rows of which segments a selection matches, partition by partition. Segments are skipped whole when their time
 * range, types, bounding box or dictionaries rule them out; inside a segment the time range is found by
 * binary search (rows are sorted by time) and the remaining conditions are checked row by row.
 */
import { lowerBound } from "./dedup.ts";
import type { EventStore } from "./event-store.ts";
import { compileFilter, type RowPredicate } from "./filter.ts";
import { bboxMayMatch, geoPredicate } from "./geo.ts";
import type { Selection } from "./query-spec.ts";
import type { Segment } from "./segment-format.ts";

export interface Match {
  day: string;
  key: string;
  segment: Segment;
  /** Matching rows, ascending (so in time order). */
  rows: Uint32Array;
}

/**
 * The matches of `sel`, one partition (UTC day) at a time, in day order or reversed. `claim`, when given,
 * sees each segment first; a segment it returns true for is the caller's (answered from its rollups) and
 * its rows are not scanned.
 */
export async function* scan(
  store: EventStore,
  sel: Selection,
  order: "asc" | "desc" = "asc",
  cache = true,
  claim?: (segment: Segment, duplicates: Uint8Array | null) => boolean,
): AsyncGenerator<Match[]> {
  const geo = sel.geo ? geoPredicate(sel.geo) : undefined;
  for await (const partition of store.partitions(sel.tenant, sel.module, sel.start, sel.end, order, cache)) {
    const out: Match[] = [];
    for (const { key, segment, duplicates } of partition.segments) {
      if (claim?.(segment, duplicates)) continue;
      const rows = matchRows(segment, duplicates, sel, geo);
      if (rows && rows.length > 0) out.push({ day: partition.day, key, segment, rows });
    }
    if (out.length > 0) yield out;
  }
}

function matchRows(
  segment: Segment,
  duplicates: Uint8Array | null,
  sel: Selection,
  geo: ((lat: number, lon: number) => boolean) | undefined,
): Uint32Array | undefined {
  if (segment.count === 0 || segment.maxTime < sel.start || segment.minTime >= sel.end) return undefined;
  if (sel.geo && !bboxMayMatch(sel.geo, segment.bbox)) return undefined;
  let typeOk: Uint8Array | undefined;
  if (sel.types.length > 0) {
    typeOk = new Uint8Array(segment.types.length);
    let any = false;
    segment.types.forEach((t, code) => {
      if (sel.types.includes(t)) {
        typeOk![code] = 1;
        any = true;
      }
    });
    if (!any) return undefined;
  }
  const predicates: RowPredicate[] = [];
  for (const filter of sel.filters) {
    const compiled = compileFilter(segment, filter);
    if (compiled === false) return undefined;
    if (compiled !== true) predicates.push(compiled);
  }
  const { time, ingested, typeCodes, lat, lon } = segment;
  const from = lowerBound(time, sel.start);
  const to = lowerBound(time, sel.end);
  const rows = new Uint32Array(to - from);
  if (!duplicates && !typeOk && !geo && predicates.length === 0 && segment.maxIngested <= sel.asOf) {
    // Nothing to check row by row: every row in the time range matches.
    for (let i = 0; i < rows.length; i++) rows[i] = from + i;
    return rows;
  }
  let n = 0;
  rowLoop: for (let r = from; r < to; r++) {
    if (duplicates?.[r] || ingested[r]! > sel.asOf) continue;
    if (typeOk && !typeOk[typeCodes[r]!]) continue;
    if (geo && !geo(lat[r]!, lon[r]!)) continue;
    for (const p of predicates) if (!p(r)) continue rowLoop;
    rows[n++] = r;
  }
  return rows.subarray(0, n);
}
