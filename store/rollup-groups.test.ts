/**
 * Rollup counts grouped by one or two fields answer exactly as a scan of the rows does, however a
 * segment's dictionary codes its group texts: the rollup path keys a segment's groups by its string codes
 * (one field) or by query-wide text ids (two fields), and keeps what each segment counted per group.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { countSpec } from "../test/count-spec.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { JsonObject, JsonValue, StoredEvent } from "./json.ts";
import type { FilterSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesResult } from "./series.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 3, 4);
/** Texts shared by every group field (and the event types), so that equal texts meet across fields. */
const TEXTS = ["a", "b", "c", "1", "true"];
const FIELDS = ["type", "org", "project", "supplies.name", "needs"];

const valueArb: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...TEXTS) },
  { weight: 1, arbitrary: fc.constantFrom<JsonValue>(1, true, false, null, { x: 1 }, `{"x":1}`) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom<JsonValue>(...TEXTS, 1), { maxLength: 3 }) },
);

const eventArb = (day: number): fc.Arbitrary<StoredEvent> =>
  fc
    .record({
      id: fc.integer({ min: 0, max: 40 }),
      type: fc.constantFrom("a", "b", "joined"),
      minute: fc.integer({ min: 0, max: 24 * 60 - 1 }),
      data: fc.record(
        {
          org: valueArb,
          project: valueArb,
          supplies: fc.array(fc.record({ name: valueArb }), { maxLength: 2 }),
          needs: valueArb,
        },
        { requiredKeys: [] },
      ) as fc.Arbitrary<JsonObject>,
    })
    .map(({ id, type, minute, data }) => ({
      id: `e${day}-${id}`,
      type,
      time: T0 + day * DAY + minute * 60_000,
      data,
      lat: Number.NaN,
      lon: Number.NaN,
    }));

/**
 * Batches over three days, each drawing its texts from a subset of TEXTS: segments then hold the same text
 * under different dictionary codes. Some are stored as compaction writes them, some compacted afterwards.
 */
const batchArb = fc
  .record({
    day: fc.integer({ min: 0, max: 2 }),
    texts: fc.subarray(TEXTS, { minLength: 1 }),
    events: fc.integer({ min: 1, max: 40 }),
    compacted: fc.boolean(),
  })
  .chain(({ day, texts, events, compacted }) =>
    fc.record({
      day: fc.constant(day),
      compacted: fc.constant(compacted),
      events: fc
        .array(eventArb(day), { minLength: events, maxLength: events })
        .map((list) => list.map((e) => ({ ...e, data: narrow(e.data, texts) }))),
    }),
  );

/** `data` with each text outside `texts` replaced by the first of them (arrays and objects kept). */
function narrow(data: JsonObject, texts: string[]): JsonObject {
  const one = (v: JsonValue): JsonValue =>
    typeof v === "string" && TEXTS.includes(v) && !texts.includes(v)
      ? texts[0]!
      : Array.isArray(v)
        ? v.map(one)
        : v !== null && typeof v === "object" && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, one(x)]))
          : v;
  return one(data) as JsonObject;
}

const queryArb = fc.record({
  // Two fields may be the same one, and "type" may be either.
  groupBy: fc.array(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 2 }),
  interval: fc.constantFrom("hour" as const, "day", "week", "total"),
  timeZone: fc.constantFrom("UTC", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns"),
  startDay: fc.integer({ min: -1, max: 2 }),
  days: fc.integer({ min: 1, max: 4 }),
  types: fc.oneof(fc.constant<string[]>([]), fc.subarray(["a", "b", "joined"], { minLength: 1 })),
  filters: fc.constantFrom<FilterSpec[]>(
    [],
    [{ field: "org", op: "neq", values: ["b"] }],
    [{ field: "supplies.name", op: "eq", values: ["a", "c"] }],
    [{ field: "project", op: "exists", values: [] }],
  ),
  pick: fc.option(fc.nat(), { freq: 3 }),
});

function table(r: SeriesResult) {
  return {
    groups: r.groups,
    values: r.groups.map((_, g) => [...r.starts].map((_, b) => r.value(b, g))),
  };
}

const answer = (store: EventStore, spec: SeriesSpec, options: Parameters<typeof querySeries>[3]) =>
  querySeries(store, spec, { maxGroups: 400 }, options).then(table, (e: Error) => ({ error: e.message }));

describe("rollup counts by group", () => {
  it("equal a scan of the rows, with group texts coded differently per segment, kept and reused", async () => {
    const stats = { rollup: 0, rows: 0, kept: 0 };
    let paired = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb, { minLength: 2, maxLength: 6 }),
        fc.boolean(),
        fc.array(queryArb, { minLength: 2, maxLength: 8 }),
        async (batches, compactAll, queries) => {
          let clock = T0 + 10 * DAY;
          const store = new EventStore({
            storage: createStorage({ driver: memoryDriver() }),
            now: () => (clock += 1.25),
          });
          for (const { day, compacted, events } of batches) {
            const unique = [...new Map(events.map((e) => [`${e.time}:${e.id}`, e])).values()];
            if (compacted) {
              const name = new Date(T0 + day * DAY).toISOString().slice(0, 10).replaceAll("-", "");
              await store.writeSegment("t", "m", name, unique, []);
            } else await store.record("t", "m", unique);
          }
          if (compactAll) await compactModule(store, "t", "m");
          // Each query twice: its second answer comes from what the segments kept, among other shapes'.
          for (const q of [...queries, ...queries]) {
            const spec = countSpec(T0 + q.startDay * DAY, {
              end: T0 + (q.startDay + q.days) * DAY,
              groupBy: q.groupBy,
              interval: q.interval,
              timeZone: q.timeZone,
              types: q.types,
              filters: q.filters,
            });
            const pickRollup =
              q.pick === null ? undefined : (exact: readonly number[]) => exact[q.pick! % exact.length]!;
            const rows = await answer(store, spec, { rollups: false });
            const before = stats.rollup;
            expect(await answer(store, spec, { stats, pickRollup })).toEqual(rows);
            if (q.groupBy.length === 2 && stats.rollup > before) paired++;
          }
        },
      ),
      { numRuns: 100 },
    );
    // Meaningful only if rollups answered, grouped by two fields too, and kept counts were reused.
    expect(stats.rollup).toBeGreaterThan(500);
    expect(paired).toBeGreaterThan(80);
    expect(stats.kept).toBeGreaterThan(60);
  });

  it("tell groups apart when segments code the same texts differently and fields share texts", async () => {
    let clock = T0 + 10 * DAY;
    const store = new EventStore({
      storage: createStorage({ driver: memoryDriver() }),
      now: () => (clock += 1),
    });
    const at = (id: string, day: number, type: string, org: string, project: string): StoredEvent => ({
      id,
      type,
      time: T0 + day * DAY + 60_000,
      data: { org, project },
      lat: Number.NaN,
      lon: Number.NaN,
    });
    // Day 0 holds only "x" and "y"; day 1 adds "w" (coded before them); types "y" and "x" are listed in
    // the opposite order of first sight on each day.
    await store.record("t", "m", [
      at("1", 0, "y", "x", "y"),
      at("2", 0, "x", "y", "x"),
      at("3", 0, "x", "x", "x"),
    ]);
    await store.record("t", "m", [
      at("4", 1, "x", "w", "x"),
      at("5", 1, "y", "x", "y"),
      at("6", 1, "y", "y", "w"),
      at("7", 1, "x", "x", "x"),
    ]);
    const expected: Record<string, [string[], number][]> = {
      "org,project": [
        [["w", "x"], 1],
        [["x", "x"], 2],
        [["x", "y"], 2],
        [["y", "w"], 1],
        [["y", "x"], 1],
      ],
      "project,org": [
        [["w", "y"], 1],
        [["x", "w"], 1],
        [["x", "x"], 2],
        [["x", "y"], 1],
        [["y", "x"], 2],
      ],
      "type,org": [
        [["x", "w"], 1],
        [["x", "x"], 2],
        [["x", "y"], 1],
        [["y", "x"], 2],
        [["y", "y"], 1],
      ],
      "org,org": [
        [["w", "w"], 1],
        [["x", "x"], 4],
        [["y", "y"], 2],
      ],
      org: [
        [["w"], 1],
        [["x"], 4],
        [["y"], 2],
      ],
      type: [
        [["x"], 4],
        [["y"], 3],
      ],
    };
    const stats = { rollup: 0, rows: 0, kept: 0 };
    // Every shape twice over, the second time from kept counts.
    for (const round of [0, 1]) {
      for (const [shape, groups] of Object.entries(expected)) {
        const spec = countSpec(T0, { end: T0 + 2 * DAY, interval: "total", groupBy: shape.split(",") });
        const r = await querySeries(store, spec, { maxGroups: 50 }, { stats });
        expect(table(r), `${shape}, round ${round}`).toEqual({
          groups: groups.map(([g]) => g),
          values: groups.map(([, n]) => [n]),
        });
      }
    }
    expect(stats).toEqual({ rollup: 24, rows: 0, kept: 12 });
  });
});
