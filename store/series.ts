/**
 * QuerySeries: time-bucketed aggregations, grouped. Memory grows with buckets × groups (plus the distinct
 * values of a unique count), never with the number of events scanned.
 */
import { TallyError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { type FieldColumn, fieldColumn, groupText, valueKey } from "./fields.ts";
import { IdSet } from "./id-set.ts";
import { toJsonNumber } from "./json.ts";
import type { SeriesSpec } from "./query-spec.ts";
import type { RollupTable } from "./rollup.ts";
import { countPieces, planRollups, rollupColumn } from "./rollup-query.ts";
import { keepCounts, keptCounts, type SegmentCounts } from "./rollup-results.ts";
import { type Claim, type Match, scan } from "./scan.ts";
import type { Segment } from "./segment.ts";
import { TAG_NUMBER, TAG_OBJECT, TAG_STRING } from "./segment-format.ts";
import { bucketIndexOf, bucketStarts } from "./time-buckets.ts";
import { valueIds } from "./value-ids.ts";

export interface SeriesResult {
  /** Bucket start instants (ms), ascending. */
  starts: Float64Array;
  /** Every group that appears, ordered by its values. One empty group when there is no group-by. */
  groups: string[][];
  /** The value of bucket b, group g (an index into `groups`). */
  value(b: number, g: number): number;
}

export interface SeriesLimits {
  maxGroups: number;
}

export interface SeriesOptions {
  /** Answer from rollups where they are exact (default true); false scans every row (tests compare). */
  rollups?: boolean;
  /**
   * Reuse what a segment's rollup counted for an earlier query of the same shape, and keep what it counts
   * now (rollup-results.ts; default true). False counts every segment afresh: tests of what else is derived.
   */
  reuse?: boolean;
  /**
   * Counts of segments answered from rollups and by their rows, added to when given; `kept`, when given,
   * of those of the rollup segments answered with what they counted for an earlier query.
   */
  stats?: { rollup: number; rows: number; kept?: number };
  /** Which of a segment's exact rollup tables to use (default: the smallest); tests try each. */
  pickRollup?: (exact: readonly number[]) => number;
}

export async function querySeries(
  store: EventStore,
  spec: SeriesSpec,
  limits: SeriesLimits,
  options: SeriesOptions = {},
): Promise<SeriesResult> {
  const starts = seriesStarts(spec);
  const acc = seriesAccumulator(spec, starts, limits);
  const claim = options.rollups === false ? undefined : rollupClaim(acc, starts, spec, options);
  for await (const partition of scan(store, spec, { claim, fields: seriesFields(spec) }))
    accumulateSeries(acc, starts, spec, partition, options.stats);
  return acc.result(starts);
}

/** The fields a series reads of matched rows beyond its selection's (scan's `fields`). */
export function seriesFields(spec: SeriesSpec): readonly string[] {
  return spec.aggregation.fn === "count" ? spec.groupBy : [...spec.groupBy, spec.aggregation.field];
}

/**
 * The scan's `claim` for a query that rollups can answer: a segment whose rollup answers exactly is
 * counted entry by entry (rollup-query.ts) into `acc`, not row by row, and what it added is kept with the
 * segment for the next query of the same shape (rollup-results.ts). Undefined when no rollup can serve.
 */
export function rollupClaim(
  acc: Accumulator,
  starts: Float64Array,
  spec: SeriesSpec,
  options: Pick<SeriesOptions, "stats" | "pickRollup" | "reuse"> = {},
): Claim | undefined {
  const plan = planRollups(spec, starts, options.pickRollup);
  if (!plan) return undefined;
  const { stats } = options;
  // A forced table choice (tests comparing tables) is computed each time, and not kept for others.
  const query =
    options.pickRollup || options.reuse === false
      ? undefined
      : JSON.stringify([spec.types, spec.filters, spec.groupBy]);
  const groupsOf = rollupGroups(acc, spec);
  const claim = (segment: Segment, duplicates: Uint8Array | null): boolean => {
    const index = plan.indexFor(segment, duplicates);
    if (index === undefined) return false;
    if (stats) stats.rollup++;
    const pieces = plan.piecesFor(segment);
    const { bucket } = pieces;
    const shape =
      query === undefined
        ? undefined
        : `${query}\u0000${index}\u0000${pieces.cuts.join()}\u0000${bucket.map((b) => (b < 0 ? 0 : 1)).join("")}`;
    const known = shape === undefined ? undefined : keptCounts(segment, shape);
    if (known) {
      if (stats?.kept !== undefined) stats.kept++;
      addCounts(acc, known, bucket);
      return true;
    }
    const table = plan.tableOf(segment, index);
    // Per group that the segment adds to, its events per piece.
    const perGroup = new Map<number, Float64Array>();
    const groupCounts = (g: number) => {
      let counts = perGroup.get(g);
      if (!counts) {
        counts = new Float64Array(bucket.length);
        perGroup.set(g, counts);
      }
      return counts;
    };
    const groupsOfCombination = groupsOf(segment, table);
    // The counts of a list of groups, by the list (groupsOf hands the same list out again).
    const countsOfGroups = new Map<readonly number[], Float64Array[]>();
    let last = -1;
    let lastCounts: Float64Array[] = [];
    countPieces(segment, table, pieces, spec, (c, p, n) => {
      // A combination's groups are the same in every piece.
      if (last !== c) {
        last = c;
        const groups = groupsOfCombination(c);
        let counts = countsOfGroups.get(groups);
        if (!counts) {
          counts = groups.map(groupCounts);
          countsOfGroups.set(groups, counts);
        }
        lastCounts = counts;
      }
      for (const counts of lastCounts) counts[p]! += n;
    });
    const counts = acc.segmentCounts(perGroup, bucket.length);
    addCounts(acc, counts, bucket);
    if (shape !== undefined) keepCounts(segment, shape, counts);
    return true;
  };
  return Object.assign(claim, { rollupIndex: plan.indexFor });
}

/** Adds what a segment counted per piece to the buckets the pieces fall in (-1: outside the range). */
function addCounts(acc: Accumulator, segmentCounts: SegmentCounts, bucket: readonly number[]): void {
  const { keys, values, counts, pieces } = segmentCounts;
  for (let i = 0; i < keys.length; i++) {
    const total = acc.count[acc.groupOfKey(keys[i]!, values[i]!)]!;
    for (let p = 0; p < pieces; p++) {
      const n = counts[i * pieces + p]!;
      if (n !== 0) total[bucket[p]!]! += n;
    }
  }
}

/**
 * For a segment's rollup table, the groups each combination joins (`acc`'s group numbers), remembered per
 * text across the query's segments: the group values of one org or project are worked out once.
 */
function rollupGroups(acc: Accumulator, spec: SeriesSpec) {
  const ungrouped = spec.groupBy.length === 0 ? [acc.groupOf([])] : undefined;
  const single = spec.groupBy.length === 1;
  // Two group fields each with one string value (type × org, say): the groups by the two texts, as numbers
  // (the texts' order of first sight), worked out once for all the query's segments.
  const textIds = new Map<string, number>();
  const pairGroups = new Map<number, number[]>();
  return (segment: Segment, table: RollupTable) => {
    if (ungrouped) return (_: number) => ungrouped;
    const groupColumns = spec.groupBy.map((f) => rollupColumn(segment, table, f));
    const byCode = new Map<number, number>();
    const [first, second] = groupColumns;
    const paired = groupColumns.length === 2 && first !== undefined && second !== undefined;
    // Per column of this segment, a string code's text id: each text looked up once per segment, not
    // once per combination (a table has thousands).
    const firstIds = new Map<number, number>();
    const secondIds = new Map<number, number>();
    const textId = (column: FieldColumn, ids: Map<number, number>, c: number) => {
      const i = column.offsets[c]!;
      if (column.offsets[c + 1] !== i + 1 || column.tags[i] !== TAG_STRING) return -1;
      const code = column.vals[i]!;
      let id = ids.get(code);
      if (id === undefined) {
        const text = column.text(code);
        id = textIds.get(text);
        if (id === undefined) {
          id = textIds.size;
          textIds.set(text, id);
        }
        ids.set(code, id);
      }
      return id;
    };
    const pairKey = (c: number) => {
      if (!paired) return -1;
      const a = textId(first, firstIds, c);
      const b = a < 0 ? -1 : textId(second, secondIds, c);
      return b < 0 || a >= TEXT_IDS || b >= TEXT_IDS ? -1 : a * TEXT_IDS + b;
    };
    // One group field with one string value: the groups by its code, in this segment.
    const singleByCode = new Map<number, number[]>();
    const singleCode = (c: number) => {
      if (!first) return -1;
      const i = first.offsets[c]!;
      return first.offsets[c + 1] === i + 1 && first.tags[i] === TAG_STRING ? first.vals[i]! : -1;
    };
    return (c: number) => {
      const key = single ? singleCode(c) : pairKey(c);
      const known = key < 0 ? undefined : single ? singleByCode.get(key) : pairGroups.get(key);
      if (known) return known;
      const groups: number[] = [];
      if (single) acc.singleGroups(groupColumns[0], c, byCode, groups);
      else acc.crossGroups(groupColumns, c, groups);
      if (key >= 0) (single ? singleByCode : pairGroups).set(key, groups);
      return groups;
    };
  };
}

/** Above the text ids of a query's group values (bounded by its groups), so that a pair of ids is one number. */
const TEXT_IDS = 2 ** 26;

/** The bucket start instants of a query. */
export function seriesStarts(spec: SeriesSpec): Float64Array {
  return spec.interval === "total"
    ? Float64Array.of(spec.start)
    : bucketStarts({
        start: spec.start,
        end: spec.end,
        interval: spec.interval,
        timeZone: spec.timeZone,
        weekStart: spec.weekStart,
      });
}

/** An empty accumulator for a query; ungrouped, it has its one group from the start (zero rows count too). */
export function seriesAccumulator(spec: SeriesSpec, starts: Float64Array, limits: SeriesLimits): Accumulator {
  const acc = new Accumulator(starts.length, spec.aggregation.fn, limits.maxGroups);
  if (spec.groupBy.length === 0) acc.groupOf([]);
  return acc;
}

/** Adds one partition's matches to `acc` (stepped-query.ts calls this a bounded number of times per step). */
export function accumulateSeries(
  acc: Accumulator,
  starts: Float64Array,
  spec: SeriesSpec,
  partition: readonly Match[],
  stats?: SeriesOptions["stats"],
): void {
  const fn = spec.aggregation.fn;
  const single = spec.groupBy.length === 1;
  const ungrouped = spec.groupBy.length === 0 ? acc.groupOf([]) : -1;
  const joined: number[] = [];
  for (const { segment, rows } of partition) {
    if (stats) stats.rows++;
    const groupColumns = spec.groupBy.map((f) => fieldColumn(segment, f));
    const aggColumn = fn === "count" ? undefined : fieldColumn(segment, spec.aggregation.field);
    if (aggColumn && fn === "count_unique") acc.useColumn(aggColumn, segment, spec.aggregation.field);
    // The group of each dictionary code of a single group-by column: strings are compared once per segment.
    const byCode = new Map<number, number>();
    const time = segment.time;
    // Rows ascend in time, so the bucket only ever moves forward.
    let b = rows.length > 0 ? bucketIndexOf(starts, time[rows[0]!]!) : 0;
    const last = starts.length - 1;
    if (ungrouped >= 0 && fn === "count") {
      // The commonest chart — counts over time — needs nothing per row but its bucket.
      const counts = acc.count[ungrouped]!;
      for (let i = 0; i < rows.length; i++) {
        const t = time[rows[i]!]!;
        while (b < last && starts[b + 1]! <= t) b++;
        counts[b]!++;
      }
      continue;
    }
    // Single group-by, one string value (the common row): the group straight from the row's dictionary code.
    const column = single ? groupColumns[0] : undefined;
    if (fn === "count_unique" && aggColumn) {
      uniqueRows(acc, starts, b, rows, time, ungrouped, column, groupColumns, aggColumn);
      continue;
    }
    // A segment where no event has the field aggregated adds nothing, but grouped, its rows still join
    // their groups (below), which then appear.
    if (!aggColumn && fn !== "count" && ungrouped >= 0) continue;
    let codeGroups = column ? new Int32Array(64) : undefined;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const t = time[r]!;
      while (b < last && starts[b + 1]! <= t) b++;
      let g = ungrouped;
      if (column !== undefined && codeGroups !== undefined) {
        const k = column.offsets[r]!;
        if (column.offsets[r + 1] === k + 1 && column.tags[k] === TAG_STRING) {
          const code = column.vals[k]!;
          g = (code < codeGroups.length ? codeGroups[code]! : 0) - 1;
          if (g < 0) {
            g = acc.groupOfText(column.text(code));
            codeGroups = setCode(codeGroups, code, g + 1);
          }
        }
      }
      if (g >= 0) {
        if (fn === "count") acc.count[g]![b]!++;
        else if (aggColumn) acc.add(g, b, aggColumn, r);
        continue;
      }
      joined.length = 0;
      if (single) acc.singleGroups(groupColumns[0], r, byCode, joined);
      else acc.crossGroups(groupColumns, r, joined);
      for (const g of joined) {
        if (fn === "count") acc.count[g]![b]!++;
        else if (aggColumn) acc.add(g, b, aggColumn, r);
      }
    }
  }
}

/**
 * count_unique over one segment's rows. The common row — one string group value, one string value —
 * costs typed-array reads and one IdSet insert; any other row goes through the general path.
 */
function uniqueRows(
  acc: Accumulator,
  starts: Float64Array,
  firstBucket: number,
  rows: Uint32Array,
  time: Float64Array,
  ungrouped: number,
  column: FieldColumn | undefined,
  groupColumns: (FieldColumn | undefined)[],
  values: FieldColumn,
): void {
  const last = starts.length - 1;
  let b = firstBucket;
  const { offsets: vOffsets, tags: vTags, vals: vVals } = values;
  const codes = acc.uniqueCodes();
  acc.mapStringCodes(rows);
  const gOffsets = column?.offsets;
  const gTags = column?.tags;
  const gVals = column?.vals;
  let codeGroups = new Int32Array(64);
  /** The group of rows without a value of the single group-by field: "". */
  let noValue = -1;
  const single = groupColumns.length === 1;
  const byCode = new Map<number, number>();
  const joined: number[] = [];
  // Rows ascend in time: each bucket's rows are found by binary search, so the row loop reads no times.
  for (let i = 0, stop = 0; i < rows.length; i++) {
    if (i === stop) {
      const t = time[rows[i]!]!;
      while (b < last && starts[b + 1]! <= t) b++;
      const limit = b < last ? starts[b + 1]! : Number.POSITIVE_INFINITY;
      let lo = i + 1;
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (time[rows[mid]!]! < limit) lo = mid + 1;
        else hi = mid;
      }
      stop = lo;
    }
    const r = rows[i]!;
    const vs = vOffsets[r]!;
    const ve = vOffsets[r + 1]!;
    // A row without a value still joins its groups (which then appear, as with the other functions);
    // `add` counts nothing for it.
    let g = ungrouped;
    if (column !== undefined && gOffsets !== undefined && gTags !== undefined && gVals !== undefined) {
      const k = gOffsets[r]!;
      const end = gOffsets[r + 1]!;
      if (end === k + 1 && gTags[k] === TAG_STRING) {
        const code = gVals[k]!;
        g = (code < codeGroups.length ? codeGroups[code]! : 0) - 1;
        if (g < 0) {
          g = acc.groupOfText(column.text(code));
          codeGroups = setCode(codeGroups, code, g + 1);
        }
      } else if (end === k) {
        if (noValue < 0) noValue = acc.groupOf([""]);
        g = noValue;
      }
    } else if (single) {
      // Created on first use: a group appears in the answer only once a row joins it.
      if (noValue < 0) noValue = acc.groupOf([""]);
      g = noValue;
    }
    if (g < 0) {
      joined.length = 0;
      if (single) acc.singleGroups(column, r, byCode, joined);
      else acc.crossGroups(groupColumns, r, joined);
      for (const j of joined) acc.add(j, b, values, r);
      continue;
    }
    if (ve === vs + 1 && vTags[vs] === TAG_STRING) {
      const id = codes[vVals[vs]!]! - 1;
      if (id >= 0) {
        acc.uniqueCell(g, b).add(id);
        continue;
      }
    }
    acc.add(g, b, values, r);
  }
}

/**
 * `codes[code] = value` in a per-segment code table (0 = not yet known), grown when the code is past its
 * end; returns the table, a new one when it grew.
 */
function setCode(codes: Int32Array<ArrayBuffer>, code: number, value: number): Int32Array<ArrayBuffer> {
  let out = codes;
  if (code >= codes.length) {
    out = new Int32Array(Math.max(code + 1, codes.length * 2));
    out.set(codes);
  }
  out[code] = value;
  return out;
}

/**
 * An accumulator's exact state as plain JSON, so a query can stop between partitions and go on elsewhere
 * (stepped-query.ts). Per group: its values and its non-empty buckets — `[b, count, sum, n]` quadruples
 * (sum and n only for sum/avg/min/max), or `[b, [value keys]]` for count_unique.
 */
export interface SeriesState {
  groups: string[][];
  cells: (number | string)[][];
  unique: [number, string[]][][];
}

export class Accumulator {
  readonly count: Float64Array[] = [];
  private readonly sum: Float64Array[] = [];
  private readonly n: Float64Array[] = [];
  /** Per group, per bucket: the interned ids of the distinct values (count_unique only). */
  private readonly unique: (IdSet | undefined)[][] = [];
  /** Distinct values as small integers (shared with other queries: value-ids.ts). */
  private readonly ids = valueIds();
  /** The column `add` reads (count_unique), its segment and field, and its dictionary's code tables. */
  private uniqueColumn: FieldColumn | undefined;
  private uniqueSegment: Segment | undefined;
  private uniqueField = "";
  private stringCodes: Int32Array | undefined;
  private objectCodes: Int32Array | undefined;
  private readonly keys = new Map<string, number>();
  private readonly values: string[][] = [];
  /** Per group: its key in `keys`, and a copy of its values for segments' kept counts (segmentCounts). */
  private readonly groupKeys: string[] = [];
  private readonly keptValues: (readonly string[])[] = [];

  constructor(
    private readonly buckets: number,
    private readonly fn: SeriesSpec["aggregation"]["fn"],
    private readonly maxGroups: number,
  ) {}

  /** Adds to `out` the groups row r joins by one field: one per distinct value, "" when it has none. */
  singleGroups(column: FieldColumn | undefined, r: number, byCode: Map<number, number>, out: number[]): void {
    const start = column ? column.offsets[r]! : 0;
    const end = column ? column.offsets[r + 1]! : 0;
    if (!column || start === end) {
      out.push(this.groupOf([""]));
      return;
    }
    for (let k = start; k < end; k++) {
      let g: number | undefined;
      if (column.tags[k] === TAG_STRING) {
        const code = column.vals[k]!;
        g = byCode.get(code);
        if (g === undefined) {
          g = this.groupOf([column.text(code)]);
          byCode.set(code, g);
        }
      } else g = this.groupOf([groupText(column, k)]);
      if (!out.includes(g)) out.push(g);
    }
  }

  /** Adds to `out` the groups row r joins: one per distinct combination of its group values. */
  crossGroups(columns: (FieldColumn | undefined)[], r: number, out: number[]): void {
    let combos: string[][] = [[]];
    for (const column of columns) {
      const texts = new Set<string>();
      if (column) {
        for (let k = column.offsets[r]!, end = column.offsets[r + 1]!; k < end; k++)
          texts.add(groupText(column, k));
      }
      if (texts.size === 0) texts.add("");
      combos = combos.flatMap((c) => [...texts].map((t) => [...c, t]));
    }
    for (const c of combos) out.push(this.groupOf(c));
  }

  /** The group known by `key` (groupOf's key of `values`), without building the key again. */
  groupOfKey(key: string, values: readonly string[]): number {
    // A copy: a result's group values are its own, not shared with what segments keep.
    return this.keys.get(key) ?? this.groupOf([...values]);
  }

  /** Counts per group number and piece as a segment's counts, which other queries' groups can use. */
  segmentCounts(perGroup: Map<number, Float64Array>, pieces: number): SegmentCounts {
    const keys: string[] = [];
    const values: (readonly string[])[] = [];
    const counts = new Float64Array(perGroup.size * pieces);
    for (const [g, groupCounts] of perGroup) {
      counts.set(groupCounts, keys.length * pieces);
      // One copy per group for all the segments' counts: they are read, never changed.
      this.keptValues[g] ??= Object.freeze([...this.values[g]!]);
      values.push(this.keptValues[g]);
      keys.push(this.groupKeys[g]!);
    }
    return { keys, values, counts, pieces };
  }

  /** The group of one group-by value: groupOf([text]) without allocating when the group exists. */
  groupOfText(text: string): number {
    return this.keys.get(text) ?? this.groupOf([text]);
  }

  groupOf(values: string[]): number {
    const key = groupKey(values);
    let g = this.keys.get(key);
    if (g === undefined) {
      g = this.values.length;
      if (g >= this.maxGroups) {
        throw new TallyError(
          "resource_exhausted",
          `group_by: more than ${this.maxGroups} groups; narrow the query with filters or fewer group-by fields`,
        );
      }
      this.keys.set(key, g);
      this.groupKeys.push(key);
      this.values.push(values);
      this.count.push(new Float64Array(this.buckets));
      if (this.fn === "count_unique") this.unique.push(new Array<IdSet | undefined>(this.buckets));
      else if (this.fn !== "count") {
        this.sum.push(
          new Float64Array(this.buckets).fill(
            this.fn === "min" ? Infinity : this.fn === "max" ? -Infinity : 0,
          ),
        );
        this.n.push(new Float64Array(this.buckets));
      }
    }
    return g;
  }

  /** Tells `add` that the next rows come from `column`, field `field` of `segment` (count_unique). */
  useColumn(column: FieldColumn, segment: Segment, field: string): void {
    this.uniqueColumn = column;
    this.uniqueSegment = segment;
    this.uniqueField = field;
    this.stringCodes = undefined;
    this.objectCodes = undefined;
  }

  /** The code table of the current column's dictionary for strings or object texts. */
  private codeTable(tag: number): Int32Array {
    const segment = this.uniqueSegment!;
    // The type column's codes index the segment's type list; data paths' codes its dictionary.
    const dict = this.uniqueField === "type" ? segment.types : segment.dict;
    const table = this.ids.codes(dict, dict.length, tag);
    if (tag === TAG_OBJECT) this.objectCodes = table;
    else this.stringCodes = table;
    return table;
  }

  add(g: number, b: number, column: FieldColumn, r: number): void {
    if (this.fn === "count_unique") {
      this.addUnique(g, b, column, r);
      return;
    }
    const start = column.offsets[r]!;
    const end = column.offsets[r + 1]!;
    const sum = this.sum[g]!;
    const n = this.n[g]!;
    for (let k = start; k < end; k++) {
      if (column.tags[k] !== TAG_NUMBER) continue;
      const v = column.vals[k]!;
      if (this.fn === "min") sum[b] = Math.min(sum[b]!, v);
      else if (this.fn === "max") sum[b] = Math.max(sum[b]!, v);
      else sum[b]! += v;
      n[b]!++;
    }
  }

  /** The current unique column's table of string codes (id + 1, 0 until met). */
  uniqueCodes(): Int32Array {
    return this.stringCodes ?? this.codeTable(TAG_STRING);
  }

  /**
   * Maps the string codes that rows `rows` of the current unique column use and that its table lacks, in
   * one tight loop before the row loop: a cold segment's ~30 k codes then cost a hash probe each, not a
   * trip through `add` from the middle of the row loop (whose work evicts the tables between probes).
   */
  mapStringCodes(rows: Uint32Array): void {
    const column = this.uniqueColumn;
    // The type column's codes index the type list, a few strings: `add` maps them as met.
    if (column === undefined || this.uniqueField === "type") return;
    const table = this.uniqueCodes();
    const dict = this.uniqueSegment!.dict;
    const { offsets: starts, bytes } = dict;
    const { offsets, tags, vals } = column;
    const ids = this.ids;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      for (let k = offsets[r]!, end = offsets[r + 1]!; k < end; k++) {
        if (tags[k] !== TAG_STRING) continue;
        const code = vals[k]!;
        if (table[code] !== 0) continue;
        table[code] = ids.ofUtf8(TAG_STRING, bytes, starts[code]!, starts[code + 1]!) + 1;
      }
    }
  }

  /** The set of group g, bucket b (count_unique). */
  uniqueCell(g: number, b: number): IdSet {
    return this.unique[g]![b] ?? this.newSet(g, b);
  }

  /** count_unique: row r's values join bucket b of group g. Small, so that it inlines into the row loop. */
  private addUnique(g: number, b: number, column: FieldColumn, r: number): void {
    if (this.uniqueColumn !== column)
      throw new Error("Accumulator.add: useColumn was not called for this column");
    const start = column.offsets[r]!;
    const end = column.offsets[r + 1]!;
    if (start === end) return;
    const set = this.unique[g]![b] ?? this.newSet(g, b);
    // The common value: one string whose code this dictionary has already mapped.
    if (end === start + 1 && column.tags[start] === TAG_STRING && this.stringCodes !== undefined) {
      const id = this.stringCodes[column.vals[start]!]! - 1;
      if (id >= 0) {
        set.add(id);
        return;
      }
    }
    for (let k = start; k < end; k++) set.add(this.idOf(column, k));
  }

  private newSet(g: number, b: number): IdSet {
    const set = new IdSet(this.ids.size);
    this.unique[g]![b] = set;
    return set;
  }

  /** The id of value k of the current unique column, mapping its dictionary code when first met. */
  private idOf(column: FieldColumn, k: number): number {
    const tag = column.tags[k]!;
    if (tag === TAG_STRING || tag === TAG_OBJECT) {
      const code = column.vals[k]!;
      const table = (tag === TAG_STRING ? this.stringCodes : this.objectCodes) ?? this.codeTable(tag);
      let id = table[code]! - 1;
      if (id < 0) {
        // Data paths' codes index the segment dictionary: its bytes are mapped without making a string.
        if (this.uniqueField === "type") id = this.ids.ofTagged(tag, column.text(code));
        else {
          const { offsets, bytes } = this.uniqueSegment!.dict;
          id = this.ids.ofUtf8(tag, bytes, offsets[code]!, offsets[code + 1]!);
        }
        table[code] = id + 1;
      }
      return id;
    }
    if (tag === TAG_NUMBER) return this.ids.ofNumber(column.vals[k]!);
    return this.ids.ofKey(valueKey(column, k));
  }

  save(): SeriesState {
    const stats = this.fn !== "count" && this.fn !== "count_unique";
    const cells = this.values.map((_, g) => {
      const out: (number | string)[] = [];
      const count = this.count[g]!;
      for (let b = 0; b < this.buckets; b++) {
        const n = stats ? this.n[g]![b]! : 0;
        if (count[b] === 0 && n === 0) continue;
        out.push(b, count[b]!);
        // A sum can overflow to Infinity, a minimum be -0: JSON keeps neither (toJsonNumber).
        const sum = stats ? this.sum[g]![b]! : 0;
        if (stats) out.push(toJsonNumber(sum), n);
      }
      return out;
    });
    const unique =
      this.fn === "count_unique"
        ? this.unique.map((byBucket) => {
            const out: [number, string[]][] = [];
            byBucket.forEach((set, b) => {
              const values: string[] = [];
              set?.forEachId((id) => {
                values.push(this.ids.key(id));
              });
              out.push([b, values]);
            });
            return out;
          })
        : [];
    return { groups: this.values, cells, unique };
  }

  /** Restores a state saved by `save` into this fresh accumulator (same buckets and function). */
  load(state: SeriesState): this {
    const stats = this.fn !== "count" && this.fn !== "count_unique";
    state.groups.forEach((values, i) => {
      const g = this.groupOf(values);
      const cells = state.cells[i] ?? [];
      for (let k = 0; k < cells.length; k += stats ? 4 : 2) {
        const b = Number(cells[k]);
        this.count[g]![b] = Number(cells[k + 1]);
        if (stats) {
          this.sum[g]![b] = Number(cells[k + 2]);
          this.n[g]![b] = Number(cells[k + 3]);
        }
      }
      for (const [b, keys] of state.unique[i] ?? []) {
        const set = new IdSet();
        for (const key of keys) set.add(this.ids.ofKey(key));
        this.unique[g]![b] = set;
      }
    });
    return this;
  }

  result(starts: Float64Array): SeriesResult {
    const order = this.values
      .map((_, g) => g)
      .sort((a, b) => compareGroups(this.values[a]!, this.values[b]!));
    const fn = this.fn;
    return {
      starts,
      groups: order.map((g) => this.values[g]!),
      value: (b, i) => {
        const g = order[i]!;
        if (fn === "count") return this.count[g]![b]!;
        if (fn === "count_unique") return this.unique[g]![b]?.size ?? 0;
        const n = this.n[g]![b]!;
        if (n === 0) return 0;
        return fn === "avg" ? this.sum[g]![b]! / n : this.sum[g]![b]!;
      },
    };
  }
}

/** How an accumulator knows a group: its one value, or all of them as JSON. */
function groupKey(values: readonly string[]): string {
  return values.length === 1 ? values[0]! : JSON.stringify(values);
}

/** Group order: element by element, by UTF-16 code units (as JavaScript compares strings). */
export function compareGroups(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return a.length - b.length;
}
