/**
 * When a segment's rollup answers a QuerySeries count exactly, and which entries it adds to which bucket.
 *
 * A rollup table may stand in for a segment's rows only when every row it counts would be treated alike:
 *   - the query counts events (COUNT) and filters and groups only on the table's fields, with no geo filter;
 *   - no row of the segment is a duplicate of an earlier segment's (its dedup mask is empty) and every row
 *     was ingested at or before the query's snapshot (`asOf`);
 *   - no bucket or range boundary falls strictly inside a slot the segment has rows in (boundaries within
 *     the segment's time span are multiples of the slot length), or, for the whole-segment table, the
 *     segment lies inside the range and inside one bucket.
 * Filters and groups then run on the entries with the same code as on rows (filter.ts, series.ts), so the
 * counts are the same, entry by entry.
 */
import type { FieldColumn } from "./fields.ts";
import { compileColumnFilter, type RowPredicate } from "./filter.ts";
import type { SeriesSpec } from "./query-spec.ts";
import type { RollupTable } from "./rollup.ts";
import { type Segment, TAG_STRING } from "./segment-format.ts";
import { bucketIndexOf } from "./time-buckets.ts";

export interface RollupPlan {
  /** The smallest rollup table of `segment` that answers for its rows exactly, or undefined. */
  tableFor(segment: Segment, duplicates: Uint8Array | null): RollupTable | undefined;
}

/** A plan when the query could be answered from rollups at all (COUNT, fields rolled up, no geo). */
export function planRollups(spec: SeriesSpec, starts: Float64Array): RollupPlan | undefined {
  if (spec.aggregation.fn !== "count" || spec.geo) return undefined;
  const fields = new Set([...spec.filters.map((f) => f.field), ...spec.groupBy]);
  fields.delete("type");
  // Every instant where a row's bucket or its being in range can change, ascending.
  const bounds = Float64Array.from(new Set([...starts, spec.start, spec.end])).sort();
  /** Whether every boundary in (lo, hi] is a multiple of slotMs. */
  const aligned = (lo: number, hi: number, slotMs: number) => {
    for (let i = bucketIndexOf(bounds, lo) + 1; i < bounds.length && bounds[i]! <= hi; i++)
      if (bounds[i]! % slotMs !== 0) return false;
    return true;
  };
  return {
    tableFor(segment, duplicates) {
      if (duplicates || segment.count === 0 || segment.rollups.length === 0) return undefined;
      const { minTime, maxTime } = segment;
      if (maxTime < spec.start || minTime >= spec.end || segment.maxIngested > spec.asOf) return undefined;
      const whole =
        minTime >= spec.start &&
        maxTime < spec.end &&
        bucketIndexOf(starts, minTime) === bucketIndexOf(starts, maxTime);
      let best = -1;
      segment.rollups.forEach((info, k) => {
        if (![...fields].every((f) => info.dims.includes(f))) return;
        if (info.slotMs === 0 ? !whole : !aligned(minTime, maxTime, info.slotMs)) return;
        if (best < 0 || info.count < segment.rollups[best]!.count) best = k;
      });
      return best < 0 ? undefined : segment.rollup(best);
    },
  };
}

/**
 * Calls `visit(entry, bucket)` for every entry of `table` that the query's range, types and filters keep.
 * Only valid for a table `tableFor` returned for this query.
 */
export function matchEntries(
  segment: Segment,
  table: RollupTable,
  spec: SeriesSpec,
  starts: Float64Array,
  visit: (entry: number, bucket: number) => void,
): void {
  let typeOk: Uint8Array | undefined;
  if (spec.types.length > 0) {
    typeOk = new Uint8Array(segment.types.length);
    segment.types.forEach((t, code) => {
      if (spec.types.includes(t)) typeOk![code] = 1;
    });
  }
  const predicates: RowPredicate[] = [];
  for (const filter of spec.filters) {
    const compiled = compileColumnFilter(rollupColumn(segment, table, filter.field), filter);
    if (compiled === false) return;
    if (compiled !== true) predicates.push(compiled);
  }
  const { slot, type } = table;
  const last = starts.length - 1;
  let b = -1;
  entries: for (let e = 0; e < table.count; e++) {
    // Every row of the entry is on the same side of every boundary as this instant (see the plan).
    const t = Math.max(slot[e]!, segment.minTime);
    if (t < spec.start || t >= spec.end) continue;
    if (typeOk && !typeOk[type[e]!]) continue;
    for (const p of predicates) if (!p(e)) continue entries;
    // Entries ascend by slot, so the bucket only moves forward.
    if (b < 0) b = bucketIndexOf(starts, t);
    while (b < last && starts[b + 1]! <= t) b++;
    if (b >= 0) visit(e, b);
  }
}

const typeColumns = new WeakMap<RollupTable, FieldColumn>();

/** A field of a rollup table's entries, read the way fields.ts reads a segment's rows. */
export function rollupColumn(segment: Segment, table: RollupTable, field: string): FieldColumn | undefined {
  if (field === "type") {
    let column = typeColumns.get(table);
    if (!column) {
      const types = segment.types;
      column = {
        offsets: Uint32Array.from({ length: table.count + 1 }, (_, i) => i),
        tags: new Uint8Array(table.count).fill(TAG_STRING),
        vals: Float64Array.from(table.type),
        text: (code) => types[code]!,
        codeOf: (text) => types.indexOf(text),
      };
      typeColumns.set(table, column);
    }
    return column;
  }
  const j = table.dims.indexOf(field);
  if (j < 0) return undefined;
  const dict = segment.dict;
  return { ...table.columns[j]!, text: (code) => dict.get(code), codeOf: (text) => dict.indexOf(text) };
}
