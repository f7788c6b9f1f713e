/**
 * ListEvents: matching events in (time, id) order, one page at a time after a keyset cursor. Partitions
 * are read in the order of the listing and the scan stops once a page is certain, so the first page of a
 * long range reads only the first days.
 */
import type { EventStore } from "./event-store.ts";
import type { JsonObject } from "./json.ts";
import type { ListSpec } from "./query-spec.ts";
import { scan } from "./scan.ts";

export interface ListedEvent {
  id: string;
  type: string;
  time: number;
  data: JsonObject;
  lat: number;
  lon: number;
}

/** The last event of a page: the next page starts strictly after it. */
export interface EventCursor {
  time: number;
  id: string;
}

const DAY_MS = 86_400_000;

/** Up to `limit` events after `cursor`, plus whether more follow. */
export async function listEvents(
  store: EventStore,
  spec: ListSpec,
  limit: number,
  cursor: EventCursor | undefined,
): Promise<{ events: ListedEvent[]; more: boolean }> {
  const desc = spec.order === "desc";
  const after = (time: number, id: string): boolean => {
    if (!cursor) return true;
    const c = time - cursor.time || (id < cursor.id ? -1 : id > cursor.id ? 1 : 0);
    return desc ? c < 0 : c > 0;
  };
  let candidates: { time: number; id: string; take: () => ListedEvent }[] = [];
  // Narrow the range to the cursor's side, then walk it a window of days at a time.
  let start = spec.start;
  let end = spec.end;
  if (cursor) {
    if (desc) end = Math.min(end, cursor.time + 1);
    else start = Math.max(start, cursor.time);
  }
  let window = 7 * DAY_MS;
  while (start < end) {
    const from = desc ? Math.max(start, end - window) : start;
    const to = desc ? end : Math.min(end, start + window);
    for (const { segment, rows } of await scan(store, { ...spec, start: from, end: to })) {
      for (const r of rows) {
        const time = segment.time[r]!;
        const id = segment.id(r);
        if (!after(time, id)) continue;
        candidates.push({
          time,
          id,
          take: () => ({
            id,
            type: segment.types[segment.typeCodes[r]!]!,
            time,
            data: segment.data(r),
            lat: segment.lat[r]!,
            lon: segment.lon[r]!,
          }),
        });
      }
      if (candidates.length > 4 * limit + 1024) candidates = best(candidates, limit + 1, desc);
    }
    if (candidates.length > limit) break;
    if (desc) end = from;
    else start = to;
    window *= 2;
  }
  const page = best(candidates, limit + 1, desc);
  return { events: page.slice(0, limit).map((c) => c.take()), more: page.length > limit };
}

function best<T extends { time: number; id: string }>(items: T[], n: number, desc: boolean): T[] {
  items.sort((a, b) => {
    const c = a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    return desc ? -c : c;
  });
  return items.length > n ? items.slice(0, n) : items;
}
