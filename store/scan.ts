/**
 * The scan: which rows of which segments a selection matches, partition by partition. Segments are skipped whole when their time
 * range, types, bounding box or dictionaries rule them out; inside a segment the time range is found by
 * binary search (rows are sorted by time) and the remaining conditions are checked row by row.
 */
import { lowerBound } from "./dedup.ts";
import type { EventStore, Partition } from "./event-store.ts";
import { compileFilter, type RowPredicate } from "./filter.ts";
import { bboxMayMatch, geoPredicate } from "./geo.ts";
import type { Selection } from "./query-spec.ts";
import type { Segment } from "./segment.ts";

export interface Match {
  day: string;
  key: string;
  segment: Segment;
  /** Matching rows, ascending (so in time order). Read-only: it may be a view shared with other matches. */
  rows: Uint32Array;
}

/**
 * Sees each segment before its rows are scanned; true takes it (answered from its rollups). `rollupIndex`
 * tells from the header alone which rollup table it would read, so a lazily read segment fetches that.
 */
export type Claim = ((segment: Segment, duplicates: Uint8Array | null) => boolean) & {
  rollupIndex?: (segment: Segment, duplicates: Uint8Array | null) => number | undefined;
};

/** How `scan` reads (every field optional). */
export interface ScanOptions {
  /** Day order, or reversed. Default "asc". */
  order?: "asc" | "desc";
  /** Keep what is read in the segment cache (default true; exports of everything do not). */
  cache?: boolean;
  /**
   * Sees each segment first; a segment it returns true for is the caller's (answered from its rollups)
   * and its rows are not scanned.
   */
  claim?: Claim;
  /**
   * The fields the caller reads of the matched rows beyond the selection's (group-by, aggregated); given,
   * large segments are read column by column and only what the query touches is fetched (Segment.lazy);
   * undefined, every column is at hand.
   */
  fields?: readonly string[];
  /**
   * Whether the caller reads the matched rows' times (default true). False (QueryGeo): a segment whose
   * whole span lies in the range matches without its time column, which a cold full-range query would
   * otherwise read for every segment only to learn that all rows are in range.
   */
  times?: boolean;
  /**
   * Partitions a lazy scan reads ahead of the one it yields (a caller that usually stops after the first,
   * ListEvents, asks for few).
   */
  ahead?: number;
  /** List the days, then each partition as it is read, not every segment of the range up front. */
  listEach?: boolean;
  /**
   * Columns fetched with the first partition's, beyond what matching reads: what a caller that usually
   * stops there reads of the rows it takes (a ListEvents page's types, locations and data), in the same
   * round trip. Later partitions' are the caller's to fetch, for the few rows it takes of them.
   */
  firstColumns?: readonly string[];
  /**
   * Only the first matches of each segment in the scan's order are wanted: a ListEvents page. A segment's
   * rows are in (time, id) order (segment-format.ts), so a page merged from several segments draws on a
   * prefix of each one's matches, and the rest of a day's rows need not be checked.
   */
  take?: Take;
  /**
   * Told of each partition once its rows are checked: its day and how many events its segments held
   * whose rows were checked (those ruled out whole by their header, or claimed, cost next to nothing and
   * count 0). With it, a partition without matches is yielded too, empty, so a caller that bounds its work
   * (stepped-query.ts) gets control after every partition, not only after those that match.
   */
  visit?: (day: string, checked: number) => void;
}

/** How many matches a segment's rows are checked for (ScanOptions.take). */
export interface Take {
  /** Matches wanted of each segment, counted from its first row in the range (its last, descending). */
  rows: number;
  /**
   * A page cursor: rows of its millisecond at or before it in the scan's order (id ≤ its id ascending,
   * ≥ descending) are still returned but do not count, since the caller skips them.
   */
  after?: { time: number; id: string };
}

/** The matches of `sel`, one partition (UTC day) at a time, in day order or reversed. */
export async function* scan(
  store: EventStore,
  sel: Selection,
  {
    order = "asc",
    cache = true,
    claim,
    fields,
    times = true,
    ahead = COLUMNS_AHEAD,
    listEach = false,
    take,
    firstColumns = [],
    visit,
  }: ScanOptions = {},
): AsyncGenerator<Match[]> {
  const geo = sel.geo ? geoPredicate(sel.geo) : undefined;
  const lazy = fields !== undefined;
  const partitions = store.partitions(
    sel.tenant,
    sel.module,
    sel.start,
    sel.end,
    order,
    cache,
    lazy,
    Math.max(1, 2 * ahead),
    listEach,
  );
  // Lazily read partitions fetch their columns a few partitions ahead of the one being scanned.
  const pending: { partition: Partition; ready: Promise<boolean>; copies: Copies }[] = [];
  const iterator = partitions[Symbol.asyncIterator]();
  // Events whose rows the last matchPartition checked (ScanOptions.visit).
  let checked = 0;
  let listed = false;
  let extra = firstColumns;
  try {
    for (;;) {
      while (!listed && pending.length < (lazy ? ahead : 1)) {
        const next = await iterator.next();
        if (next.done) listed = true;
        else {
          const copies: Copies = [];
          const partition = lazy && cache ? firstScan(next.value, sel, claim, copies) : next.value;
          const ready = lazy
            ? loadColumns(partition.segments, sel, fields, times, claim, extra)
            : Promise.resolve(true);
          extra = [];
          ready.catch(() => {});
          pending.push({ partition, ready, copies });
        }
      }
      const first = pending.shift();
      if (!first) break;
      let partition = first.partition;
      // A segment compacted away between its header and its columns being read: its events are in the
      // merged segment, so the partition is listed and read again, whole (then nothing can go missing).
      const reread = () => store.rereadPartition(sel.tenant, sel.module, partition.day, cache);
      if (!(await first.ready)) partition = await reread();
      let out = await matchPartition(partition);
      if (out === undefined) {
        partition = await reread();
        out = (await matchPartition(partition))!;
      }
      if (visit) visit(partition.day, checked);
      if (out.length > 0 || visit) yield out;
    }
  } finally {
    // Partitions fetched ahead but not scanned (a step that ends here, stepped-query.ts): their segments
    // count as scanned (firstScan), so the next step reads the cached ones — which take what the copies
    // fetched, rather than fetch it again.
    for (const { ready, copies } of pending)
      if (copies.length > 0)
        ready.then(
          (ok) => {
            if (ok) for (const [segment, copy] of copies) segment.adopt(copy);
          },
          () => {},
        );
    await iterator.return?.(undefined);
  }

  /** The partition's matches, or undefined when a lazily read segment has gone since its header was read. */
  async function matchPartition(partition: Partition): Promise<Match[] | undefined> {
    const out: Match[] = [];
    checked = 0;
    for (const { key, segment, duplicates } of partition.segments) {
      // A segment ruled out whole adds nothing; its columns (a rollup table's too) were never fetched.
      if (!mayMatch(segment, sel)) continue;
      if (claim?.(segment, duplicates)) continue;
      checked += segment.count;
      // A claim that declined after all (never expected): the rows it was to spare are needed now.
      if (lazy && !(await segment.ensure(rowColumns(segment, sel, fields ?? [], times)))) return undefined;
      const rows = take
        ? takeRows(segment, duplicates, sel, geo, take, order === "desc")
        : matchRows(segment, duplicates, sel, geo);
      if (rows && rows.length > 0) out.push({ day: partition.day, key, segment, rows });
    }
    return out;
  }
}

/**
 * The cache takes a lazily read segment's columns from the second query that scans it on: the first reads
 * its rows into a copy of the segment (`Segment.transient`) that goes with the query. So a query run once —
 * a new process's first, an ad-hoc range — neither pushes out what the dashboard's repeated queries keep
 * nor holds hundreds of megabytes it will not read again; where new memory is dear (~17 µs for each new
 * page a process touches on the VM docs/performance.md measured) it also touches far less of it, since the
 * copies' columns are freed and their memory reused as the scan moves on. A segment answered from a rollup
 * table keeps it at once (it is small), and counts as scanned. The rollup table is looked for only at a
 * segment's first scan: later ones go straight to the cached segment, so a warm query asks no more than
 * loadColumns does.
 */
function firstScan(
  partition: Partition,
  sel: Selection,
  claim: Claim | undefined,
  copies: Copies,
): Partition {
  let copied = false;
  const segments = partition.segments.map((entry) => {
    const { segment, duplicates } = entry;
    if (segment.complete || !mayMatch(segment, sel) || segment.scans++ > 0) return entry;
    if (claim?.rollupIndex?.(segment, duplicates) !== undefined) return entry;
    copied = true;
    const copy = segment.transient();
    copies.push([segment, copy]);
    return { ...entry, segment: copy };
  });
  return copied ? { ...partition, segments } : partition;
}

/** A partition's cached segments and the copies firstScan read them into. */
type Copies = [segment: Segment, copy: Segment][];

/** Partitions whose columns are fetched ahead of the scan (lazily read segments). */
const COLUMNS_AHEAD = 8;

/**
 * Fetches what the scan and its caller will read of a partition's lazily read segments, all at once: the
 * rollup table the claim will use, or the row columns of segments whose rows may match (and `extra`).
 * False when a segment has gone since its header was read (compacted away).
 */
async function loadColumns(
  segments: readonly { segment: Segment; duplicates: Uint8Array | null }[],
  sel: Selection,
  fields: readonly string[],
  times: boolean,
  claim: Claim | undefined,
  extra: readonly string[],
): Promise<boolean> {
  const loads: Promise<boolean>[] = [];
  for (const { segment, duplicates } of segments) {
    if (segment.complete || !mayMatch(segment, sel)) continue;
    const k = claim?.rollupIndex?.(segment, duplicates);
    let columns: string[];
    if (k === undefined) columns = [...rowColumns(segment, sel, fields, times), ...extra];
    else {
      // Texts are looked up only for the fields filtered or grouped on (the type's are in the header).
      columns = segment.rollupColumns(k);
      const texts = [...sel.filters.map((f) => f.field), ...fields].some((f) => f !== "type");
      // Tables written before they carried their own texts (columns r<k>.x.*) use the dictionary.
      if (texts && !columns.includes(`r${k}.x.c`)) columns.push("dict.o", "dict.b");
    }
    // A warm query's segments hold what it reads: no load (an async call each) for them.
    if (!segment.holds(columns)) loads.push(segment.ensure(columns));
  }
  return !(await Promise.all(loads)).includes(false);
}

/** In scan's `fields`: the caller reads matched rows' locations (QueryGeo). */
export const LOCATION = "@location";
/** In scan's `fields`: the caller reads matched rows' ids (ListEvents orders by them). */
export const IDS = "@id";

/** The columns a row scan of `segment` reads for `sel` and the caller's `fields` (and `times`). */
function rowColumns(segment: Segment, sel: Selection, fields: readonly string[], times: boolean): string[] {
  const names = times || !withinRange(segment, sel) ? ["time"] : [];
  if (segment.maxIngested > sel.asOf) names.push("ingested");
  if (sel.geo || fields.includes(LOCATION)) names.push("lat", "lon");
  if (fields.includes(IDS)) names.push("id.o", "id.b");
  const used = [...sel.filters.map((f) => f.field), ...fields];
  if (sel.types.length > 0 || used.includes("type")) names.push("type");
  for (const field of used) names.push(...segment.pathColumns(field));
  return names;
}

/** What can rule a segment out before any column is read: its time span, types and bounding box. */
function mayMatch(segment: Segment, sel: Selection): boolean {
  if (segment.count === 0 || segment.maxTime < sel.start || segment.minTime >= sel.end) return false;
  if (sel.geo && !bboxMayMatch(sel.geo, segment.bbox)) return false;
  return sel.types.length === 0 || segment.types.some((t) => sel.types.includes(t));
}

/** Whether every row of `segment` lies in the time range of `sel` (its header's span tells). */
function withinRange(segment: Segment, sel: Selection): boolean {
  return segment.minTime >= sel.start && segment.maxTime < sel.end;
}

/** The rows of `segment` in the range of `sel`, [from, to): all of them without reading times when its span lies inside. */
function rowRange(segment: Segment, sel: Selection): [number, number] {
  if (withinRange(segment, sel)) return [0, segment.count];
  const { time } = segment;
  return [lowerBound(time, sel.start), lowerBound(time, sel.end)];
}

function matchRows(
  segment: Segment,
  duplicates: Uint8Array | null,
  sel: Selection,
  geo: ((lat: number, lon: number) => boolean) | undefined,
): Uint32Array | undefined {
  // Only for segments `mayMatch` kept: their time span meets the range, their box the area, and some
  // type of theirs is asked for.
  let typeOk: Uint8Array | undefined;
  if (sel.types.length > 0) {
    typeOk = new Uint8Array(segment.types.length);
    segment.types.forEach((t, code) => {
      if (sel.types.includes(t)) typeOk![code] = 1;
    });
  }
  const predicates: RowPredicate[] = [];
  for (const filter of sel.filters) {
    const compiled = compileFilter(segment, filter);
    if (compiled === false) return undefined;
    if (compiled !== true) predicates.push(compiled);
  }
  const [from, to] = rowRange(segment, sel);
  if (!duplicates && !typeOk && !geo && predicates.length === 0 && segment.maxIngested <= sel.asOf) {
    // Nothing to check row by row: every row in the time range matches — a view of the shared run of
    // row numbers, not a new array per segment per query (Match.rows is read-only).
    return rowNumbers(to).subarray(from, to);
  }
  const rows = new Uint32Array(to - from);
  const typeCodes = typeOk ? segment.typeCodes : undefined;
  const [lat, lon] = geo ? [segment.lat, segment.lon] : [undefined, undefined];
  // Read only when some row is later than the snapshot (a lazily read segment fetched it only then).
  const late = segment.maxIngested > sel.asOf ? segment.ingested : undefined;
  let n = 0;
  rowLoop: for (let r = from; r < to; r++) {
    if (duplicates?.[r] || (late && late[r]! > sel.asOf)) continue;
    if (typeOk && !typeOk[typeCodes![r]!]) continue;
    if (geo && !geo(lat![r]!, lon![r]!)) continue;
    for (const p of predicates) if (!p(r)) continue rowLoop;
    rows[n++] = r;
  }
  return rows.subarray(0, n);
}

/**
 * matchRows for a page (ScanOptions.take): rows are checked from the range's start (or end, descending)
 * until `take.rows` of them count; ascending, like every Match's rows.
 */
function takeRows(
  segment: Segment,
  duplicates: Uint8Array | null,
  sel: Selection,
  geo: ((lat: number, lon: number) => boolean) | undefined,
  take: Take,
  desc: boolean,
): Uint32Array | undefined {
  const predicates: RowPredicate[] = [];
  for (const filter of sel.filters) {
    const compiled = compileFilter(segment, filter);
    if (compiled === false) return undefined;
    if (compiled !== true) predicates.push(compiled);
  }
  const typeOk = sel.types.length > 0 ? segment.types.map((t) => sel.types.includes(t)) : undefined;
  const late = segment.maxIngested > sel.asOf ? segment.ingested : undefined;
  const [from, to] = rowRange(segment, sel);
  const { after } = take;
  const rows: number[] = [];
  let counted = 0;
  rowLoop: for (let k = 0; k < to - from && counted < take.rows; k++) {
    const r = desc ? to - 1 - k : from + k;
    if (duplicates?.[r] || (late && late[r]! > sel.asOf)) continue;
    if (typeOk && !typeOk[segment.typeCodes[r]!]) continue;
    if (geo && !geo(segment.lat[r]!, segment.lon[r]!)) continue;
    for (const p of predicates) if (!p(r)) continue rowLoop;
    rows.push(r);
    if (!after || !atOrBefore(segment, r, after, desc)) counted++;
  }
  if (desc) rows.reverse();
  return Uint32Array.from(rows);
}

/** Whether row `r` lies at or before the cursor `after` in the scan's order. */
function atOrBefore(
  segment: Segment,
  r: number,
  after: { time: number; id: string },
  desc: boolean,
): boolean {
  const t = segment.time[r]!;
  if (t !== after.time) return desc ? t > after.time : t < after.time;
  const id = segment.id(r);
  return desc ? id >= after.id : id <= after.id;
}

let numbers = new Uint32Array(0);

/** 0, 1, 2, … up to at least `n` (grown as larger segments are met, shared by every scan). */
function rowNumbers(n: number): Uint32Array {
  if (numbers.length < n) {
    numbers = new Uint32Array(Math.max(n, 2 * numbers.length));
    for (let i = 0; i < numbers.length; i++) numbers[i] = i;
  }
  return numbers;
}
