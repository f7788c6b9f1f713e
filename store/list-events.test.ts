/**
 * ListEvents pages: (time, id) order across a partition's segments, ties in time broken by id, pages that
 * join up without a gap or a repeat — whether a day is one compacted segment, a few, or many small ones.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { deleteData } from "./deletion.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { type EventCursor, type ListedEvent, listEvents } from "./list-events.ts";
import type { FilterSpec, ListSpec } from "./query-spec.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);

const eventArb = fc.record({
  // Few distinct instants over three days: many ties in time, within and across segments.
  day: fc.integer({ min: 0, max: 2 }),
  second: fc.constantFrom(0, 1, 1, 2, 3, 86_399),
  id: fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "Z", "0"), minLength: 1, maxLength: 4 }),
  group: fc.constantFrom("x", "y"),
});

type Drawn = { day: number; second: number; id: string; group: string };

function toStored(drawn: Drawn[]): StoredEvent[] {
  return drawn.map((d, i) => ({
    // The index keeps (id, time) distinct, so nothing is dropped as a retry; ids still sort unlike arrival.
    id: `${d.id}-${i}`,
    type: "joined",
    time: T0 + d.day * DAY + d.second * 1000,
    data: { group: d.group, n: i },
    lat: Number.NaN,
    lon: Number.NaN,
  }));
}

async function storeWith(batches: StoredEvent[][], compact: boolean) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
  for (const batch of batches) if (batch.length > 0) await store.record("t", "m", batch);
  if (compact) await compactModule(store, "t", "m");
  return store;
}

/** Every page of the listing, joined. */
async function allPages(store: EventStore, spec: ListSpec, limit: number): Promise<ListedEvent[]> {
  const out: ListedEvent[] = [];
  let cursor: EventCursor | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await listEvents(store, spec, limit, cursor);
    out.push(...page.events);
    if (!page.more) return out;
    const last = page.events[page.events.length - 1]!;
    cursor = { time: last.time, id: last.id };
  }
  throw new Error("listing did not end");
}

function expected(events: StoredEvent[], spec: ListSpec): string[] {
  const wanted = spec.filters[0]?.values[0];
  const kept = events.filter((e) => wanted === undefined || e.data.group === wanted);
  kept.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (spec.order === "desc") kept.reverse();
  return kept.map((e) => e.id);
}

const specOf = (order: "asc" | "desc", filters: FilterSpec[]): ListSpec => ({
  tenant: "t",
  module: "m",
  start: T0,
  end: T0 + 3 * DAY,
  types: [],
  filters,
  asOf: Date.UTC(2100, 0, 1),
  order,
});

describe("listEvents", () => {
  it("pages through every event once, in (time, id) order, however the days are split into segments", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(eventArb, { maxLength: 30 }), { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.constantFrom<"asc" | "desc">("asc", "desc"),
        fc.integer({ min: 1, max: 7 }),
        fc.boolean(),
        async (drawnBatches, compact, order, limit, filtered) => {
          let n = 0;
          const batches = drawnBatches.map((drawn) => {
            const stored = toStored(drawn).map((e) => ({ ...e, id: `${e.id}.${n}`, data: { ...e.data } }));
            n++;
            return stored;
          });
          const store = await storeWith(batches, compact);
          const spec = specOf(order, filtered ? [{ field: "group", op: "eq", values: ["x"] }] : []);
          const listed = await allPages(store, spec, limit);
          expect(listed.map((e) => e.id)).toEqual(expected(batches.flat(), spec));
          for (const e of listed) expect(e.data.group).toBeTypeOf("string");
        },
      ),
      { numRuns: 60 },
    );
  });

  it("over a long range lists the days, then only the days it reads, and honours a deletion in progress", async () => {
    const listed: string[] = [];
    const inner = memoryDriver();
    const driver = {
      ...inner,
      getKeys: (base: string, opts: object) => {
        listed.push(base);
        return inner.getKeys(base, opts);
      },
    };
    let clock = T0 + 500 * DAY;
    const store = new EventStore({ storage: createStorage({ driver }), now: () => clock++ });
    const days = [0, 1, 40, 41, 200, 399];
    const events = toStored(
      days.flatMap((day) =>
        Array.from({ length: 30 }, (_, i) => ({ day, second: i % 4, id: "e", group: "x" })),
      ),
    );
    for (const day of days)
      await store.record(
        "t",
        "m",
        events.filter((e) => e.time < T0 + (day + 1) * DAY && e.time >= T0 + day * DAY),
      );
    const spec = { ...specOf("asc", []), end: T0 + 400 * DAY };
    listed.length = 0;
    const first = await listEvents(store, spec, 10, undefined);
    expect(first.events.map((e) => e.id)).toEqual(expected(events, spec).slice(0, 10));
    // The module's days were named one level down; only the first day's segments were listed (the page
    // ends there, and nothing is read ahead of a first partition), not all six days'.
    expect(listed.filter((base) => base.endsWith(":ev:"))).toEqual([]);
    expect(listed.filter((base) => /:ev:\d{8}:$/.test(base))).toEqual(["v1:t:m:ev:20260301:"]);
    for (const order of ["asc", "desc"] as const) {
      const s = { ...specOf(order, []), end: T0 + 400 * DAY };
      expect((await allPages(store, s, 7)).map((e) => e.id)).toEqual(expected(events, s));
    }
    // A deletion of day 40 whose segments are not yet removed hides them all the same.
    await store.tombstones.write({ tenant: "t", module: "m", day: "20260410" }, clock++);
    const kept = events.filter((e) => e.time < T0 + 40 * DAY || e.time >= T0 + 41 * DAY);
    for (const order of ["asc", "desc"] as const) {
      const s = { ...specOf(order, []), end: T0 + 400 * DAY };
      expect((await allPages(store, s, 9)).map((e) => e.id)).toEqual(expected(kept, s));
    }
  });

  it("a page sees another store instance's writes, compaction and deletion over the same storage at once", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    let clock = T0 + 500 * DAY;
    const now = () => clock++;
    // Two stateless processes over one data directory: `reader` pages, `writer` changes the data between.
    const [reader, writer] = [new EventStore({ storage, now }), new EventStore({ storage, now })];
    const at = (day: number, second: number, id: string): StoredEvent => ({
      id,
      type: "joined",
      time: T0 + day * DAY + second * 1000,
      data: { group: "x", n: 0 },
      lat: Number.NaN,
      lon: Number.NaN,
    });
    const held: StoredEvent[] = [];
    const record = async (events: StoredEvent[]) => {
      await writer.record("t", "m", events);
      held.push(...events);
    };
    await record([at(1, 5, "b"), at(1, 6, "c"), at(60, 1, "d"), at(61, 1, "e")]);
    await compactModule(writer, "t", "m");
    // Over 31 days (days named one level down, each listed as read) and within 31 days (listed at once).
    const ranges = [
      { start: T0, end: T0 + 400 * DAY },
      { start: T0 + 40 * DAY, end: T0 + 65 * DAY },
    ];
    const check = async () => {
      for (const range of ranges)
        for (const order of ["asc", "desc"] as const) {
          const spec = { ...specOf(order, []), ...range };
          const page = await listEvents(reader, spec, 2, undefined);
          const inRange = held.filter((e) => e.time >= spec.start && e.time < spec.end);
          expect(page.events.map((e) => e.id)).toEqual(expected(inRange, spec).slice(0, 2));
        }
    };
    await check();
    // New segments in a day the reader has read, in a day it has not, and before its first day.
    await record([at(1, 4, "a"), at(61, 2, "f")]);
    await record([at(0, 1, "0"), at(62, 0, "g")]);
    await check();
    await compactModule(writer, "t", "m");
    await check();
    // Deletions of the days the first pages come from, each way.
    for (const day of ["20260301", "20260302", "20260502", "20260501"]) {
      await deleteData(writer, { tenant: "t", module: "m", day });
      held.splice(
        0,
        held.length,
        ...held.filter((e) => new Date(e.time).toISOString().slice(0, 10).replaceAll("-", "") !== day),
      );
      await check();
    }
  });

  it("orders a day of many small segments (sorted whole, not merged) the same way", async () => {
    const drawn = Array.from({ length: 400 }, (_, i) => ({
      day: i % 2,
      second: i % 5,
      id: String.fromCharCode(97 + ((i * 7) % 26)),
      group: i % 3 === 0 ? "x" : "y",
    }));
    const events = toStored(drawn);
    const batches = Array.from({ length: 20 }, (_, b) => events.filter((_, i) => i % 20 === b));
    const store = await storeWith(batches, false);
    for (const order of ["asc", "desc"] as const) {
      const spec = specOf(order, []);
      expect((await allPages(store, spec, 37)).map((e) => e.id)).toEqual(expected(events, spec));
    }
  });
});
