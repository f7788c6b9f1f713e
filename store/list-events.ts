/**
 * ListEvents and event exports: matching events in (time, id) order. Partitions (UTC days) are read in
 * order and each is sorted on its own — a day's events all sort before the next day's — so a page stops
 * reading once it is full, and an export streams with one day's matches in memory.
 */
import type { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { dayStart } from "./keys.ts";
import type { ListSpec } from "./query-spec.ts";
import { IDS, type Match, scan } from "./scan.ts";
import type { Segment } from "./segment.ts";

/** An event as ListEvents returns it. */
export type ListedEvent = Pick<StoredEvent, "id" | "type" | "time" | "data" | "lat" | "lon">;

/** The last event of a page: the next page starts strictly after it. */
export interface EventCursor {
  time: number;
  id: string;
}

export interface Candidate {
  time: number;
  id: string;
  segment: Segment;
  row: number;
}

/** The listing order of two events (ascending): by time, then by id. */
export function compare(a: EventCursor, b: EventCursor): number {
  return a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * One partition's matches in the listing order, made as the caller takes them: a page usually needs a
 * hundred of a day's thousands, and each segment's rows are already in that order (segment-format.ts):
 * a k-way merge of the segments (a partition of many small segments is sorted whole).
 */
function* orderedCandidates(matches: Match[], desc: boolean): Generator<Candidate> {
  if (matches.length > MERGE_SEGMENTS) {
    yield* sortedCandidates(matches, desc);
    return;
  }
  const before = (a: Candidate, b: Candidate) => (desc ? compare(a, b) > 0 : compare(a, b) < 0);
  const runs = matches.map((m) => inOrder(m, desc));
  const heads = runs.map((run) => run.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!;
      if (!head.done && (best < 0 || before(head.value, heads[best]!.value as Candidate))) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as Candidate;
    heads[best] = runs[best]!.next();
  }
}

/** Above this many segments in a partition, its matches are sorted at once rather than merged. */
const MERGE_SEGMENTS = 8;

/** One segment's matching rows in the listing order: a segment's rows are sorted by (time, id). */
function* inOrder({ segment, rows }: Match, desc: boolean): Generator<Candidate> {
  const { time } = segment;
  const n = rows.length;
  for (let k = 0; k < n; k++) {
    const row = rows[desc ? n - 1 - k : k]!;
    yield { time: time[row]!, id: segment.id(row), segment, row };
  }
}

/** One partition's matches, sorted in the listing order. */
function sortedCandidates(matches: Match[], desc: boolean): Candidate[] {
  const out: Candidate[] = [];
  for (const { segment, rows } of matches) {
    for (const row of rows) out.push({ time: segment.time[row]!, id: segment.id(row), segment, row });
  }
  return out.sort(desc ? (a, b) => compare(b, a) : compare);
}

/** A page's events whole: each segment's data texts read at once (Segment.dataTexts). */
function materialise(page: readonly Candidate[]): ListedEvent[] {
  const texts = new Map<Segment, string[]>();
  for (const segment of new Set(page.map((c) => c.segment))) {
    const rows = page.filter((c) => c.segment === segment).map((c) => c.row);
    texts.set(segment, segment.dataTexts(rows));
  }
  const taken = new Map<Segment, number>();
  return page.map(({ segment, row, time, id }) => {
    const k = taken.get(segment) ?? 0;
    taken.set(segment, k + 1);
    return {
      id,
      type: segment.types[segment.typeCodes[row]!]!,
      time,
      data: JSON.parse(texts.get(segment)![k]!) as ListedEvent["data"],
      lat: segment.lat[row]!,
      lon: segment.lon[row]!,
    };
  });
}

/** The range narrowed to the cursor's side: the cursor's own millisecond stays in (ties go by id). */
function narrowed(spec: ListSpec, cursor: EventCursor | undefined): ListSpec {
  if (!cursor) return spec;
  return spec.order === "desc"
    ? { ...spec, end: Math.min(spec.end, cursor.time + 1) }
    : { ...spec, start: Math.max(spec.start, cursor.time) };
}

/**
 * Up to `limit` events after `cursor`, plus whether more follow.
 *
 * With `maxEvents` (a page in steps, stepped-query.ts), the page may also end early, at the end of the
 * first partition after which `maxEvents` events have been scanned: `resume` is then where the rest of
 * the range starts (its start ascending, its end descending), and `more` says nothing.
 */
export async function listEvents(
  store: EventStore,
  spec: ListSpec,
  limit: number,
  cursor: EventCursor | undefined,
  maxEvents = Number.POSITIVE_INFINITY,
): Promise<{ events: ListedEvent[]; more: boolean; resume?: number }> {
  const desc = spec.order === "desc";
  const sel = narrowed(spec, cursor);
  if (sel.start >= sel.end) return { events: [], more: false };
  // Segments are read lazily: matching needs the times, ids and filtered fields of a day's rows, and only
  // the page's rows need the rest (fetched with the first day's, which usually fills the page). A segment
  // compacted away before its other columns were read has its events in the merged one: the page is made
  // again from a new listing (whole reads the last time).
  for (let attempt = 0; ; attempt++) {
    const lazy = attempt < 2;
    const bound = workBound(sel, maxEvents);
    const { visit } = bound;
    // Each segment's rows are checked only until they yield a page's worth after the cursor.
    const take = { rows: limit + 1, after: cursor };
    const matched = lazy
      ? scan(store, sel, {
          order: spec.order,
          fields: [IDS],
          ahead: 1,
          listEach: true,
          take,
          firstColumns: EVENT_COLUMNS,
          visit,
        })
      : scan(store, sel, { order: spec.order, take, visit });
    const page = await firstAfter(matched, limit, cursor, desc, bound.stop);
    const shown = page.slice(0, limit);
    const segments = [...new Set(shown.map((c) => c.segment))];
    const loaded = await Promise.all(segments.map((s) => s.ensure(EVENT_COLUMNS)));
    if (loaded.includes(false)) continue;
    const events = materialise(shown);
    const { resume } = bound;
    return resume === undefined ? { events, more: page.length > limit } : { events, more: false, resume };
  }
}

const DAY_MS = 86_400_000;

/**
 * The bound on a page's work in steps: `visit` (scan's) counts the events whose rows were checked, and
 * `stop`, asked after a partition, ends the page there once `maxEvents` have been, unless it was the last
 * of `sel`; `resume` is then where the rest of the range starts (its start ascending, its end descending).
 * Only a page in steps (a finite `maxEvents`) needs every partition, matching or not, to come back to it.
 */
function workBound(sel: ListSpec, maxEvents: number) {
  const desc = sel.order === "desc";
  let scanned = 0;
  let day = "";
  const bound = {
    resume: undefined as number | undefined,
    visit: Number.isFinite(maxEvents)
      ? (d: string, checked: number) => {
          day = d;
          scanned += checked;
        }
      : undefined,
    stop: () => {
      if (scanned < maxEvents) return false;
      const next = desc ? dayStart(day) : dayStart(day) + DAY_MS;
      if (desc ? next <= sel.start : next >= sel.end) return false;
      bound.resume = next;
      return true;
    },
  };
  return bound;
}

/**
 * Up to `limit` matching events after `cursor`, in order, as rows of their segments: a ListEvents page
 * for an export step (export-events.ts) that formats rows itself. Segments are read whole and not cached,
 * as a streamed export's are. With `maxEvents`, the page may end early as `listEvents`'s does (`resume`).
 */
export async function candidatesAfter(
  store: EventStore,
  spec: ListSpec,
  limit: number,
  cursor: EventCursor | undefined,
  maxEvents = Number.POSITIVE_INFINITY,
): Promise<{ page: Candidate[]; more: boolean; resume?: number }> {
  const sel = narrowed(spec, cursor);
  if (sel.start >= sel.end) return { page: [], more: false };
  const take = { rows: limit + 1, after: cursor };
  const bound = workBound(sel, maxEvents);
  const matched = scan(store, sel, { order: spec.order, take, cache: false, visit: bound.visit });
  const page = await firstAfter(matched, limit, cursor, spec.order === "desc", bound.stop);
  const { resume } = bound;
  if (resume !== undefined) return { page, more: false, resume };
  return { page: page.slice(0, limit), more: page.length > limit };
}

/**
 * The first `limit` + 1 matches after `cursor` in the listing order (the extra one tells that more
 * follow). `stop`, asked after each partition that left the page short, may end it there.
 */
async function firstAfter(
  matched: AsyncIterable<Match[]>,
  limit: number,
  cursor: EventCursor | undefined,
  desc: boolean,
  stop?: () => boolean,
): Promise<Candidate[]> {
  const page: Candidate[] = [];
  for await (const matches of matched) {
    for (const c of orderedCandidates(matches, desc)) {
      if (cursor && (desc ? compare(c, cursor) >= 0 : compare(c, cursor) <= 0)) continue;
      page.push(c);
      if (page.length > limit) return page;
    }
    if (stop?.()) break;
  }
  return page;
}

/** What `materialise` reads of a row beyond its time and id. */
const EVENT_COLUMNS = ["type", "lat", "lon", "data.o", "data.b"];

/**
 * Every matching event, in order, one partition in memory at a time. Segments read here are not kept in
 * the cache: an export of everything would otherwise push out what queries use and hold it all at once.
 */
export async function* streamRows(store: EventStore, spec: ListSpec): AsyncGenerator<Candidate[]> {
  for await (const matches of scan(store, spec, { order: spec.order, cache: false })) {
    yield sortedCandidates(matches, spec.order === "desc");
  }
}
