/**
 * ListEvents and event exports: matching events in (time, id) order. Partitions (UTC days) are read in
 * order and each is sorted on its own — a day's events all sort before the next day's — so a page stops
 * reading once it is full, and an export streams with one day's matches in memory.
 */
import type { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import type { ListSpec } from "./query-spec.ts";
import { type Match, scan } from "./scan.ts";
import type { Segment } from "./segment-format.ts";

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

function compare(a: EventCursor, b: EventCursor): number {
  return a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** One partition's matches, sorted in the listing order. */
function sortedCandidates(matches: Match[], desc: boolean): Candidate[] {
  const out: Candidate[] = [];
  for (const { segment, rows } of matches) {
    for (const row of rows) out.push({ time: segment.time[row]!, id: segment.id(row), segment, row });
  }
  return out.sort(desc ? (a, b) => compare(b, a) : compare);
}

function raw({ segment, row, time, id }: Candidate): RawEvent {
  return {
    id,
    type: segment.types[segment.typeCodes[row]!]!,
    time,
    dataText: segment.dataText(row),
    lat: segment.lat[row]!,
    lon: segment.lon[row]!,
  };
}

function materialise(c: Candidate): ListedEvent {
  const { dataText, ...event } = raw(c);
  return { ...event, data: JSON.parse(dataText) as ListedEvent["data"] };
}

/** The range narrowed to the cursor's side: the cursor's own millisecond stays in (ties go by id). */
function narrowed(spec: ListSpec, cursor: EventCursor | undefined): ListSpec {
  if (!cursor) return spec;
  return spec.order === "desc"
    ? { ...spec, end: Math.min(spec.end, cursor.time + 1) }
    : { ...spec, start: Math.max(spec.start, cursor.time) };
}

/** Up to `limit` events after `cursor`, plus whether more follow. */
export async function listEvents(
  store: EventStore,
  spec: ListSpec,
  limit: number,
  cursor: EventCursor | undefined,
): Promise<{ events: ListedEvent[]; more: boolean }> {
  const desc = spec.order === "desc";
  const page: Candidate[] = [];
  const sel = narrowed(spec, cursor);
  if (sel.start >= sel.end) return { events: [], more: false };
  for await (const matches of scan(store, sel, spec.order)) {
    for (const c of sortedCandidates(matches, desc)) {
      if (cursor && (desc ? compare(c, cursor) >= 0 : compare(c, cursor) <= 0)) continue;
      page.push(c);
      if (page.length > limit) break;
    }
    if (page.length > limit) break;
  }
  return { events: page.slice(0, limit).map(materialise), more: page.length > limit };
}

/** An event with its data left as stored JSON text, for exports that never need the objects. */
export interface RawEvent extends Omit<ListedEvent, "data"> {
  dataText: string;
}

/**
 * Every matching event, in order, one partition in memory at a time. Segments read here are not kept in
 * the cache: an export of everything would otherwise push out what queries use and hold it all at once.
 */
export async function* streamRows(store: EventStore, spec: ListSpec): AsyncGenerator<Candidate[]> {
  for await (const matches of scan(store, spec, spec.order, false)) {
    yield sortedCandidates(matches, spec.order === "desc");
  }
}
