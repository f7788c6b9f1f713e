/**
 * When a segment's rollup answers a QuerySeries count exactly, and what it adds to which bucket.
 *
 * A rollup table (rollup.ts) may stand in for a segment's rows only when it counts what the scan would:
 *   - the query counts events (COUNT) and filters and groups only on the table's fields, with no geo filter;
 *   - no row of the segment is a duplicate of an earlier segment's (its dedup mask is empty) and every row
 *     was ingested at or before the query's snapshot (`asOf`);
 *   - every bucket or range boundary within the segment's time span is a multiple of the slot length, so
 *     it cuts the span between slots: each piece between two cuts lies in one bucket, inside or outside
 *     the range, and its count per combination is a difference of running counts.
 * Filters and groups run on combinations with the same code as on rows (filter.ts, series.ts).
 */
import { type FieldColumn, typeColumn } from "./fields.ts";
import { compileColumnFilter, type RowPredicate } from "./filter.ts";
import type { SeriesSpec } from "./query-spec.ts";
import { ROLLUP_SLOT_MS, type RollupTable } from "./rollup.ts";
import { projectRollup } from "./rollup-projection.ts";
import type { Segment } from "./segment.ts";
import { TAG_STRING } from "./segment-format.ts";
import { bucketIndexOf } from "./time-buckets.ts";

/** A segment's time span cut at the query's boundaries: piece i is [cuts[i-1], cuts[i]), open-ended. */
export interface Pieces {
  /** Inner cuts, ascending (multiples of the slot length). */
  cuts: number[];
  /** Each piece's bucket, or -1 when it is outside the range. */
  bucket: number[];
}

export interface RollupPlan {
  /**
   * Which rollup table answers for `segment`'s rows exactly (the smallest, or `pick`'s), from its header
   * alone (so that a lazily read segment fetches that table's columns and none of its rows), or undefined
   * when none does.
   */
  indexFor(segment: Segment, duplicates: Uint8Array | null): number | undefined;
  /** The query's pieces of `segment`'s time span; only for a segment `indexFor` found a table for. */
  piecesFor(segment: Segment): Pieces;
  /** Table `index` of `segment` as `countPieces` reads it: summed down to what the query uses. */
  tableOf(segment: Segment, index: number): RollupTable;
}

/**
 * A plan when the query could be answered from rollups at all (COUNT, fields rolled up, no geo). `pick`
 * chooses among a segment's exact tables (by index); by default the one with fewest combinations.
 */
export function planRollups(
  spec: SeriesSpec,
  starts: Float64Array,
  pick?: (exact: readonly number[]) => number,
): RollupPlan | undefined {
  if (spec.aggregation.fn !== "count" || spec.geo) return undefined;
  const fields = [...new Set([...spec.filters.map((f) => f.field), ...spec.groupBy])].filter(
    (f) => f !== "type",
  );
  // Every instant where a row's bucket or its being in range can change, ascending.
  const bounds = Float64Array.from(new Set([...starts, spec.start, spec.end])).sort();
  // A table answers only if every bound inside the segment's span cuts it between slots. Every table has
  // slots of ROLLUP_SLOT_MS (segment-format.ts reads no other), so the bounds that cannot are found once.
  const unaligned = bounds.filter((b) => b % ROLLUP_SLOT_MS !== 0);
  /**
   * Whether a table exploded by `dim` counts what the rows would. An event with values {a, b} is there
   * once under a and once under b: exact when the query groups by `dim` once and does not filter on it
   * (the event joins groups a and b — distinct groups when no two of its values share a group text), or
   * filters on it by one value and does not group by it (only one of its entries can match).
   */
  const explodedExact = (dim: string, textUnique: boolean) => {
    const filters = spec.filters.filter((f) => f.field === dim);
    const groups = spec.groupBy.filter((g) => g === dim).length;
    if (groups > 0) return groups === 1 && filters.length === 0 && textUnique;
    return filters.length === 1 && filters[0]!.op === "eq" && filters[0]!.values.length === 1;
  };
  const usesType =
    spec.types.length > 0 || spec.groupBy.includes("type") || spec.filters.some((f) => f.field === "type");
  const bucketAt = (t: number) => (t >= spec.start && t < spec.end ? bucketIndexOf(starts, t) : -1);
  /** The inner cuts of a segment's time span: the bounds after its first instant up to its last. */
  const cutsOf = (minTime: number, maxTime: number) => {
    const cuts: number[] = [];
    for (let i = bucketIndexOf(bounds, minTime) + 1; i < bounds.length && bounds[i]! <= maxTime; i++)
      cuts.push(bounds[i]!);
    return cuts;
  };
  const indexFor = (segment: Segment, duplicates: Uint8Array | null) => {
    if (duplicates || segment.count === 0 || segment.rollups.length === 0) return undefined;
    const { minTime, maxTime } = segment;
    if (maxTime < spec.start || minTime >= spec.end || segment.maxIngested > spec.asOf) return undefined;
    for (const b of unaligned) if (b > minTime && b <= maxTime) return undefined;
    const exact: number[] = [];
    segment.rollups.forEach((info, k) => {
      if (!fields.every((f) => info.dims.includes(f))) return;
      if (info.explode !== undefined && !explodedExact(info.explode, info.textUnique === true)) return;
      exact.push(k);
    });
    if (exact.length === 0) return undefined;
    return pick
      ? pick(exact)
      : exact.reduce((a, k) => (segment.rollups[k]!.count < segment.rollups[a]!.count ? k : a));
  };
  return {
    indexFor,
    piecesFor(segment) {
      // Every row of a piece is on the same side of every boundary as the piece's first instant.
      const cuts = cutsOf(segment.minTime, segment.maxTime);
      return { cuts, bucket: [bucketAt(segment.minTime), ...cuts.map(bucketAt)] };
    },
    tableOf(segment, index) {
      const stored = segment.rollup(index);
      // What the query does not read is summed away (rollup-projection.ts): fewer combinations to visit.
      const dims = stored.dims.filter((d) => fields.includes(d));
      return dims.length < stored.dims.length || !usesType
        ? projectRollup(stored, usesType, dims, (bytes) => segment.hold(bytes))
        : stored;
    },
  };
}

/**
 * Calls `visit(combination, piece, events)` for the events of each combination of `table` that the
 * query's types and filters keep, per piece inside the range. Only valid for a table and pieces the plan
 * gave for `segment`.
 */
export function countPieces(
  segment: Segment,
  table: RollupTable,
  pieces: Pieces,
  spec: SeriesSpec,
  visit: (combination: number, piece: number, events: number) => void,
): void {
  let typeOk: Uint8Array | undefined;
  if (spec.types.length > 0) {
    typeOk = new Uint8Array(segment.types.length);
    segment.types.forEach((t, code) => {
      if (spec.types.includes(t)) typeOk![code] = 1;
    });
  }
  const only = candidates(segment, table, spec);
  const predicates: RowPredicate[] = [];
  for (const filter of spec.filters) {
    // The candidates hold exactly the combinations that filter keeps: checking it again is a cache miss.
    if (filter === only?.by) continue;
    const compiled = compileColumnFilter(rollupColumn(segment, table, filter.field), filter);
    if (compiled === false) return;
    if (compiled !== true) predicates.push(compiled);
  }
  const { type, total, first, cum } = table;
  const { cuts, bucket } = pieces;
  const list = only?.list;
  const n = list ? list.length : table.count;
  const { slot: numbers, slotBase, slotMs } = table;
  /** Events of combination c in slots before `t` (a multiple of the slot length). */
  const before = (c: number, t: number) => {
    const wanted = (t - slotBase) / slotMs;
    let lo = first[c]!;
    let hi = first[c + 1]!;
    const from = lo;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (numbers[mid]! < wanted) lo = mid + 1;
      else hi = mid;
    }
    return lo === from ? 0 : cum[lo - 1]!;
  };
  combinations: for (let i = 0; i < n; i++) {
    const c = list ? list[i]! : i;
    if (typeOk && !typeOk[type[c]!]) continue;
    for (const p of predicates) if (!p(c)) continue combinations;
    if (cuts.length === 0) {
      if (bucket[0]! >= 0) visit(c, 0, total[c]!);
      continue;
    }
    let done = 0;
    for (let i = 0; i <= cuts.length; i++) {
      const upTo = i < cuts.length ? before(c, cuts[i]!) : total[c]!;
      if (upTo > done && bucket[i]! >= 0) visit(c, i, upTo - done);
      done = upTo;
    }
  }
}

/**
 * The combinations that can pass the query's equality filters on string values, ascending, from an index
 * of the table's dimensions (built once per table): a dashboard's filter on one org of many then visits
 * that org's combinations, not the table's. Undefined when no filter narrows it (every combination is
 * visited). `by`: the filter whose values chose them — it keeps exactly those (as filter.ts's equality
 * on string codes does), so only the other filters are checked on each.
 */
function candidates(
  segment: Segment,
  table: RollupTable,
  spec: SeriesSpec,
): { list: Uint32Array; by: SeriesSpec["filters"][number] } | undefined {
  let best: { list: Uint32Array; by: SeriesSpec["filters"][number] } | undefined;
  for (const filter of spec.filters) {
    if (filter.op !== "eq" || !filter.values.every((v) => typeof v === "string")) continue;
    const j = table.dims.indexOf(filter.field);
    if (j < 0) continue;
    const column = rollupColumn(segment, table, filter.field)!;
    const index = valueIndex(segment, table, j);
    const lists = filter.values.map((v) => index.get(column.codeOf(v as string)) ?? EMPTY);
    const union = lists.length === 1 ? lists[0]! : unionOf(lists, table.count);
    if (!best || union.length < best.list.length) best = { list: union, by: filter };
  }
  return best;
}

const EMPTY = new Uint32Array(0);

/** Per dimension of a table: each string code its combinations hold → those combinations, ascending. */
function valueIndex(segment: Segment, table: RollupTable, j: number): Map<number, Uint32Array> {
  const indexes = perTable(valueIndexes, table);
  let index = indexes[j];
  if (!index) {
    const { offsets, tags, vals } = table.columns[j]!;
    const lists = new Map<number, number[]>();
    for (let c = 0; c < table.count; c++) {
      for (let k = offsets[c]!, end = offsets[c + 1]!; k < end; k++) {
        if (tags[k] !== TAG_STRING) continue;
        const list = lists.get(vals[k]!);
        // A combination holding the same value twice is listed once.
        if (!list) lists.set(vals[k]!, [c]);
        else if (list[list.length - 1] !== c) list.push(c);
      }
    }
    index = new Map([...lists].map(([code, list]) => [code, Uint32Array.from(list)]));
    indexes[j] = index;
    let bytes = 0;
    for (const list of index.values()) bytes += list.byteLength + MAP_ENTRY_BYTES;
    segment.hold(bytes);
  }
  return index;
}

/** What a Map entry (key, value, and the typed array's own object) costs besides the array's bytes. */
const MAP_ENTRY_BYTES = 96;

const valueIndexes = new WeakMap<RollupTable, Map<number, Uint32Array>[]>();

/** What `cache` keeps for a table, one entry per dimension (an empty list on first use). */
function perTable<T>(cache: WeakMap<RollupTable, T[]>, table: RollupTable): T[] {
  let kept = cache.get(table);
  if (!kept) {
    kept = [];
    cache.set(table, kept);
  }
  return kept;
}

/** The ascending union of ascending lists of combinations below `count`. */
function unionOf(lists: readonly Uint32Array[], count: number): Uint32Array {
  const marked = new Uint8Array(count);
  for (const list of lists) for (const c of list) marked[c] = 1;
  const out: number[] = [];
  for (let c = 0; c < count; c++) if (marked[c]) out.push(c);
  return Uint32Array.from(out);
}

const typeColumns = new WeakMap<RollupTable, FieldColumn>();

/** A field of a rollup table's entries, read the way fields.ts reads a segment's rows. */
export function rollupColumn(segment: Segment, table: RollupTable, field: string): FieldColumn | undefined {
  if (field === "type") {
    let column = typeColumns.get(table);
    if (!column) {
      column = typeColumn(segment, table.type);
      typeColumns.set(table, column);
    }
    return column;
  }
  const j = table.dims.indexOf(field);
  if (j < 0) return undefined;
  const columns = perTable(dimColumns, table);
  let column = columns[j];
  if (!column) {
    const values = table.columns[j]!;
    const dict = table.text ? undefined : segment.dict;
    const textOf = table.text ?? ((code: number) => dict!.get(code));
    // A filter's operand is looked up among the few values this column holds (decoded once), not in the
    // segment's whole dictionary, which holds every user id too.
    let codes: Map<string, number> | undefined;
    column = {
      ...values,
      text: textOf,
      // A code of the table's texts that this dimension lacks matches none of its entries: still exact.
      codeOf:
        table.codeOf ??
        ((text) => {
          if (!codes) {
            codes = new Map();
            for (let k = 0; k < values.tags.length; k++) {
              if (values.tags[k]! >= TAG_STRING) codes.set(textOf(values.vals[k]!), values.vals[k]!);
            }
          }
          return codes.get(text) ?? -1;
        }),
    };
    columns[j] = column;
  }
  return column;
}

const dimColumns = new WeakMap<RollupTable, FieldColumn[]>();
