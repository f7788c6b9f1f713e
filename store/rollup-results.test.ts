/**
 * What a segment's rollup counted for a query shape is reused only by queries that would count the same:
 * shapes that differ in one part only (types, a filter, the group-by) and views that cut segments alike,
 * under group limits either side of the answer's size, stepped and not, equal a scan of the rows. A
 * segment keeps the shapes it was asked last, the least recently used going first.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { countSpec } from "../test/count-spec.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import type { FilterSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesResult } from "./series.ts";
import { querySeriesStepped, runStep } from "./stepped-query.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 3, 4);

const eventArb: fc.Arbitrary<StoredEvent> = fc
  .record({
    id: fc.integer({ min: 0, max: 400 }),
    type: fc.constantFrom("joined", "left", "enrolled"),
    minute: fc.integer({ min: 0, max: 2 * 24 * 60 - 1 }),
    org: fc.constantFrom<unknown>("o1", "o2", "o3", 1, "1"),
    project: fc.constantFrom("p1", "p2", "p3"),
  })
  .map(({ id, type, minute, org, project }) => ({
    id: `e${id}`,
    type,
    time: T0 + minute * 60_000,
    data: { org, project } as StoredEvent["data"],
    lat: Number.NaN,
    lon: Number.NaN,
  }));

/** Batches, compacted or not after each: segments of one day and of several batches. */
const storeArb = fc.array(
  fc.record({ events: fc.array(eventArb, { minLength: 1, maxLength: 80 }), compact: fc.boolean() }),
  { minLength: 1, maxLength: 4 },
);

const TYPES: string[][] = [[], ["joined"], ["joined", "left"], ["enrolled"]];
const FILTERS: FilterSpec[][] = [
  [],
  [{ field: "org", op: "eq", values: ["o1"] }],
  [{ field: "org", op: "eq", values: ["o2"] }],
  [{ field: "org", op: "neq", values: ["o1"] }],
  [{ field: "org", op: "eq", values: [1] }],
  [{ field: "project", op: "eq", values: ["p2"] }],
];
const GROUP_BY: string[][] = [[], ["org"], ["project"], ["type"], ["org", "project"]];

/** A shape, and another that differs from it in exactly one part. */
const shapesArb = fc
  .record({
    types: fc.nat(TYPES.length - 1),
    filters: fc.nat(FILTERS.length - 1),
    groupBy: fc.nat(GROUP_BY.length - 1),
    change: fc.constantFrom("types" as const, "filters" as const, "groupBy" as const),
    to: fc.nat(20),
  })
  .map(({ change, to, ...base }) => {
    const pools = { types: TYPES, filters: FILTERS, groupBy: GROUP_BY };
    const other = {
      ...base,
      [change]: (base[change] + 1 + (to % (pools[change].length - 1))) % pools[change].length,
    };
    const shape = (s: typeof base) => ({
      types: TYPES[s.types]!,
      filters: FILTERS[s.filters]!,
      groupBy: GROUP_BY[s.groupBy]!,
    });
    return [shape(base), shape(other)] as const;
  });

/** Views from few choices each, so that segments are often cut alike. */
const viewArb = fc.record({
  shape: fc.nat(1),
  interval: fc.constantFrom("hour" as const, "day", "total"),
  timeZone: fc.constantFrom("UTC", "Asia/Kathmandu"),
  from: fc.constantFrom(-1, 0, 0.5, 1),
  to: fc.constantFrom(0.5, 1, 1.25, 2, 3),
  maxGroups: fc.constantFrom(2, 50),
  stepped: fc.boolean(),
});

function table(r: SeriesResult) {
  return {
    starts: [...r.starts],
    groups: r.groups,
    values: r.groups.map((_, g) => [...r.starts].map((_, b) => r.value(b, g))),
  };
}

describe("counts kept per query shape", () => {
  it("serve only queries of the same shape and cuts, whatever else differs", async () => {
    const stats = { rollup: 0, rows: 0, kept: 0 };
    await fc.assert(
      fc.asyncProperty(
        storeArb,
        shapesArb,
        fc.array(viewArb, { minLength: 4, maxLength: 10 }),
        async (batches, shapes, views) => {
          const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
          for (const { events, compact } of batches) {
            await store.record("t", "m", events);
            if (compact) await compactModule(store, "t", "m");
          }
          for (const view of views) {
            const spec: SeriesSpec = {
              tenant: "t",
              module: "m",
              start: T0 + view.from * DAY,
              end: T0 + view.to * DAY,
              ...shapes[view.shape]!,
              asOf: Number.MAX_VALUE,
              interval: view.interval,
              timeZone: view.timeZone,
              weekStart: 1,
              aggregation: { fn: "count", field: "" },
            };
            const limits = { maxGroups: view.maxGroups };
            const answer = (run: () => Promise<SeriesResult>) =>
              run().then(table, (e: Error) => ({ error: e.message }));
            const rows = await answer(() => querySeries(store, spec, limits, { rollups: false }));
            const rollups = view.stepped
              ? answer(() => querySeriesStepped(spec, limits, (step) => runStep(store, step, 100)))
              : answer(() => querySeries(store, spec, limits, { stats }));
            expect(await rollups).toEqual(rows);
          }
        },
      ),
      { numRuns: 150 },
    );
    // Meaningful only if counts were reused, and counted afresh too.
    expect(stats.kept).toBeGreaterThan(100);
    expect(stats.rollup - stats.kept).toBeGreaterThan(100);
  });

  it("are kept for the 16 shapes a segment was asked last, the least recently used let go first", async () => {
    const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    await store.record(
      "t",
      "m",
      Array.from({ length: 50 }, (_, i) => ({
        id: `e${i}`,
        type: "joined",
        time: T0 + i * 60_000,
        data: { org: `o${i % 20}` },
        lat: Number.NaN,
        lon: Number.NaN,
      })),
    );
    const stats = { rollup: 0, rows: 0, kept: 0 };
    /** Shape k (all orgs but o<k>, by org): whether its counts were kept, checked against the rows. */
    const ask = async (k: number) => {
      const spec = countSpec(T0, {
        filters: [{ field: "org", op: "neq", values: [`o${k}`] }],
        interval: "hour",
        groupBy: ["org"],
      });
      const kept = stats.kept;
      const answer = table(await querySeries(store, spec, { maxGroups: 50 }, { stats }));
      expect(answer).toEqual(table(await querySeries(store, spec, { maxGroups: 50 }, { rollups: false })));
      return stats.kept > kept;
    };
    for (let k = 0; k < 16; k++) expect(await ask(k)).toBe(false);
    expect(await ask(0)).toBe(true); // shape 0 is now the most recently used, shape 1 the least
    expect(await ask(16)).toBe(false); // a 17th shape: shape 1 makes way
    expect(await ask(0)).toBe(true);
    expect(await ask(1)).toBe(false);
    expect(stats.rollup).toBe(20);
  });
});
