import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { eventRows } from "./export-events.ts";
import { queryGeo } from "./geo-query.ts";
import type { StoredEvent } from "./json.ts";
import { type EventCursor, listEvents } from "./list-events.ts";
import type { AggregationFn, ListSpec, Selection, SeriesSpec } from "./query-spec.ts";
import { querySeries } from "./series.ts";
import {
  exportEventsStepped,
  listEventsStepped,
  queryGeoStepped,
  querySeriesStepped,
  runStep,
  type Step,
} from "./stepped-query.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 27);
/** Times on and around day edges, and equal times, so that ties and edges are common. */
const TIMES = [0, 1, DAY - 1, DAY, DAY + 1, DAY + 3_600_000, 2 * DAY - 1, 2 * DAY, 3 * DAY + 5, 5 * DAY - 1];

const event = fc.record({
  id: fc.constantFrom("a", "b", "c", "d", "e", "f"),
  at: fc.constantFrom(...TIMES),
  type: fc.constantFrom("x", "y"),
  org: fc.option(fc.constantFrom("o1", "o2", "o3"), { nil: undefined }),
  value: fc.option(fc.constantFrom(-2, 0, 1.5, 7), { nil: undefined }),
  rare: fc.option(fc.constantFrom("r1", "r2"), { nil: undefined }),
  located: fc.boolean(),
  lat: fc.constantFrom(10, 10.25, 50.5, -33.9),
  lon: fc.constantFrom(8, 8.75, 151.2, -0.5),
});

type Gen = fc.Arbitrary<typeof event extends fc.Arbitrary<infer T> ? T : never>;

function stored(e: typeof event extends fc.Arbitrary<infer T> ? T : never): StoredEvent {
  const data: Record<string, unknown> = {};
  if (e.org !== undefined) data.org = e.org;
  if (e.value !== undefined) data.value = e.value;
  if (e.rare !== undefined) data[e.rare] = { deep: e.id };
  return {
    id: e.id,
    type: e.type,
    time: T0 + e.at,
    data: data as StoredEvent["data"],
    lat: e.located ? e.lat : Number.NaN,
    lon: e.located ? e.lon : Number.NaN,
  };
}

const batches = fc.array(fc.array(event as Gen, { minLength: 1, maxLength: 5 }), {
  minLength: 1,
  maxLength: 11,
});
/** Range edges: day edges, mid-day, and past the data. */
const EDGES = [
  -40 * DAY,
  -DAY,
  0,
  1,
  DAY - 1,
  DAY,
  DAY + 2,
  2 * DAY,
  3 * DAY + 5,
  3 * DAY + 6,
  6 * DAY,
  40 * DAY,
];
const range = fc
  .tuple(fc.constantFrom(...EDGES), fc.constantFrom(...EDGES))
  .filter(([a, b]) => a < b)
  .map(([a, b]) => ({ start: T0 + a, end: T0 + b }));
const filters = fc.constantFrom<Selection["filters"]>(
  [],
  [{ field: "org", op: "eq", values: ["o2"] }],
  [{ field: "value", op: "gte", values: [1] }],
  [{ field: "org", op: "eq", values: ["nobody"] }],
);

async function storeOf(data: ReturnType<typeof stored>[][], compact: boolean) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
  for (const batch of data) await store.record("t", "m", batch);
  if (compact) await compactModule(store, "t", "m");
  return store;
}

function runner(
  store: EventStore,
  maxEvents: number,
  between?: () => Promise<void>,
  limits?: { rows: number; chars: number },
) {
  return async (step: Step) => {
    const next = await runStep(store, JSON.parse(JSON.stringify(step)) as Step, maxEvents, limits);
    await between?.();
    return JSON.parse(JSON.stringify(next)) as Step;
  };
}

async function text(chunks: AsyncIterable<string>) {
  let all = "";
  for await (const chunk of chunks) all += chunk;
  return all;
}

const common = fc.record({
  batches,
  compact: fc.boolean(),
  range,
  filters,
  maxEvents: fc.integer({ min: 1, max: 12 }),
  late: fc.array(fc.array(event as Gen, { minLength: 1, maxLength: 3 }), { maxLength: 4 }),
  compactBetween: fc.boolean(),
});

/** Between steps: the late batches, one a step, each followed by compaction when asked. */
function churn(store: EventStore, c: { late: ReturnType<typeof stored>[][]; compactBetween: boolean }) {
  let k = 0;
  return async () => {
    const batch = c.late[k++];
    if (batch)
      await store.record(
        "t",
        "m",
        batch.map((e) => ({ ...e, id: `${e.id}-late` })),
      );
    if (c.compactBetween) await compactModule(store, "t", "m");
  };
}

type Case = typeof common extends fc.Arbitrary<infer T> ? T : never;

/**
 * A case's store, the selection all its queries share (as of the store's now), and its step runner: the
 * case's late writes and compaction between steps, and optionally an export step's row and text limits.
 */
async function caseOf(c: Case) {
  const store = await storeOf(
    c.batches.map((b) => b.map(stored)),
    c.compact,
  );
  const selection = {
    tenant: "t",
    module: "m",
    ...c.range,
    types: [] as string[],
    filters: c.filters,
    asOf: store.now(),
  };
  const run = (limits?: { rows: number; chars: number }) =>
    runner(
      store,
      c.maxEvents,
      churn(store, { late: c.late.map((b) => b.map(stored)), compactBetween: c.compactBetween }),
      limits,
    );
  return { store, selection, run };
}

describe("steps equal the one-pass answer (property)", () => {
  it("QuerySeries", async () => {
    await fc.assert(
      fc.asyncProperty(
        common,
        fc.constantFrom<AggregationFn>("count", "count_unique", "sum", "avg", "min", "max"),
        fc.constantFrom("hour", "day", "week", "total"),
        fc.constantFrom("UTC", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu"),
        fc.constantFrom([], ["org"]),
        async (c, fn, interval, timeZone, groupBy) => {
          const { store, selection, run } = await caseOf(c);
          const spec: SeriesSpec = {
            ...selection,
            interval: interval as SeriesSpec["interval"],
            timeZone,
            weekStart: 1,
            groupBy: [...groupBy],
            aggregation: { fn, field: fn === "count_unique" ? "org" : "value" },
          };
          const one = await querySeries(store, spec, { maxGroups: 100 });
          const steps = await querySeriesStepped(spec, { maxGroups: 100 }, run());
          const rows = (r: typeof one) =>
            Array.from(r.starts).flatMap((s, b) => r.groups.map((g, i) => [s, g, r.value(b, i)]));
          expect(rows(steps)).toEqual(rows(one));
        },
      ),
      { numRuns: Number(process.env.STEP_RUNS ?? 60) },
    );
  });

  it("QueryGeo", async () => {
    await fc.assert(
      fc.asyncProperty(common, fc.constantFrom(0.5, 1, 10), async (c, cellDegrees) => {
        const { store, selection, run } = await caseOf(c);
        const spec = { ...selection, cellDegrees, minCount: 1 };
        expect(await queryGeoStepped(spec, run())).toEqual(await queryGeo(store, spec));
      }),
      { numRuns: Number(process.env.STEP_RUNS ?? 60) },
    );
  });

  it("ListEvents pages, each from the one-pass cursor", async () => {
    await fc.assert(
      fc.asyncProperty(
        common,
        fc.constantFrom<"asc" | "desc">("asc", "desc"),
        fc.integer({ min: 1, max: 4 }),
        async (c, order, limit) => {
          const { store, selection, run } = await caseOf(c);
          const spec: ListSpec = { ...selection, order };
          let cursor: EventCursor | undefined;
          for (let page = 0; page < 20; page++) {
            const one = await listEvents(store, spec, limit, cursor);
            expect(await listEventsStepped(spec, limit, cursor, run())).toEqual(one);
            const last = one.events.at(-1);
            if (!one.more || !last) break;
            cursor = { time: last.time, id: last.id };
          }
        },
      ),
      { numRuns: Number(process.env.STEP_RUNS ?? 60) },
    );
  });

  it("events exports", async () => {
    await fc.assert(
      fc.asyncProperty(
        common,
        fc.constantFrom<"asc" | "desc">("asc", "desc"),
        fc.constantFrom([], ["org", "r2.deep", "none"]),
        // A step's row and text limits, small: steps end on them and on the events checked together.
        fc.record({ rows: fc.integer({ min: 1, max: 6 }), chars: fc.constantFrom(1, 40, 90, 10_000) }),
        async (c, order, columns, limits) => {
          const { store, selection, run } = await caseOf(c);
          const spec: ListSpec = { ...selection, order };
          const one = await text(eventRows(store, spec, columns));
          expect(await text(exportEventsStepped(spec, columns, run(limits)))).toBe(one);
        },
      ),
      { numRuns: Number(process.env.STEP_RUNS ?? 60) },
    );
  });
});
