/**
 * Rollups, rows and the reference model (test/reference-model.ts) answer every count query alike, whatever
 * happened to the store in between: writes, racing retries, compaction, DeleteData and retention changes,
 * with the same query shapes asked again through other ranges, intervals and zones (so that what segments
 * counted for one query is offered to the next). Zones include offsets that are not whole quarter hours
 * (Africa/Monrovia's -0:44:30 until 1972) and DST changes; values include numbers and strings of the same
 * text, booleans, null, objects, empty and nested arrays and missing fields.
 */
import { fromJson, type JsonValue as ProtoJson } from "@bufbuild/protobuf";
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { QuerySeriesRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { type ModelSeriesRow, ReferenceModel } from "../test/reference-model.ts";
import { compactModule } from "./compaction.ts";
import { deleteData } from "./deletion.ts";
import { EventStore } from "./event-store.ts";
import type { JsonObject, JsonValue, StoredEvent } from "./json.ts";
import { dayOf } from "./keys.ts";
import type { FilterSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesResult } from "./series.ts";
import { querySeriesStepped, runStep, type Step } from "./stepped-query.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * Two eras of two UTC days each: 2026-03-28/29 (Europe leaves winter time at 01:00Z on the 29th) and
 * 1971-06-01/02 (Monrovia at -0:44:30).
 */
const ERAS = [Date.UTC(2026, 2, 28), Date.UTC(1971, 5, 1)];
const ZONES = [
  "UTC",
  "Europe/Berlin",
  "Asia/Kathmandu",
  "Africa/Monrovia",
  "America/St_Johns",
  "Australia/Lord_Howe",
];
/** The model buckets by whole minutes: it knows no offset with seconds. */
const MODEL_ZONES = new Set(ZONES.filter((z) => z !== "Africa/Monrovia"));
const FIELDS = ["type", "org", "project", "supplies.name", "needs"];
const ODD: JsonValue[] = [
  1,
  0,
  -0,
  1.5,
  true,
  false,
  null,
  { x: 1 },
  `{"x":1}`,
  { x: 1, y: [2] },
  {},
  [],
  "",
  "true",
];

const value = (pool: JsonValue[]): fc.Arbitrary<JsonValue> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: fc.constantFrom(...ODD) },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...pool, ...ODD), { maxLength: 3 }) },
  );

const NAMES: JsonValue[] = ["Food", "1", 1, "food"];
const dataArb: fc.Arbitrary<JsonObject> = fc.record(
  {
    org: value(["o1", "o2"]),
    project: value(["p1", "p2"]),
    supplies: fc.oneof(
      fc.array(fc.oneof(fc.record({ name: value(NAMES) }), fc.constant({}), fc.constant(null)), {
        maxLength: 3,
      }),
      fc.constant([]),
      fc.constant({ name: "Food" }),
    ),
    needs: fc.oneof(fc.array(value(NAMES), { maxLength: 3 }), value(NAMES)),
    n: value([1, 2.5, -3, "4"]),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<JsonObject>;

const eventArb = (era: number): fc.Arbitrary<StoredEvent> =>
  fc
    .record({
      id: fc.integer({ min: 0, max: 40 }),
      type: fc.constantFrom("a", "b"),
      // Quarter-hours and odd instants over the era's two days, plus the instants either side of midnight
      // in Monrovia (00:44:30Z).
      time: fc.oneof(
        fc.integer({ min: 0, max: 2 * 96 - 1 }).map((q) => q * 15 * MINUTE),
        fc.integer({ min: 0, max: 2 * DAY - 1 }),
        fc.constantFrom(44 * MINUTE + 29_999, 44 * MINUTE + 30_000, DAY + 44 * MINUTE + 30_000),
      ),
      data: dataArb,
    })
    .map(({ id, type, time, data }) => ({
      id: `e${id}`,
      type,
      time: era + time,
      data,
      lat: Number.NaN,
      lon: Number.NaN,
    }));

const stepArb = (era: number) =>
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("record" as const),
        events: fc.array(eventArb(era), { minLength: 1, maxLength: 60 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("race" as const), of: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), day: fc.option(fc.nat(1)) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("retention" as const), days: fc.option(fc.nat(1)) }),
    },
    // Queries between the changes: each shape is asked again after what follows.
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("query" as const), view: fc.nat() }) },
  );

const filterArb: fc.Arbitrary<FilterSpec> = fc.oneof(
  fc.record({
    field: fc.constantFrom(...FIELDS),
    op: fc.constantFrom("eq" as const, "neq" as const),
    values: fc.array(fc.constantFrom<JsonValue>("o1", "p2", "a", ...NAMES, ...ODD), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  fc.record({
    field: fc.constantFrom(...FIELDS),
    op: fc.constantFrom("exists" as const, "not_exists" as const),
    values: fc.constant<JsonValue[]>([]),
  }),
  fc.record({
    field: fc.constantFrom(...FIELDS),
    op: fc.constantFrom("contains" as const),
    values: fc.constantFrom<JsonValue[]>(["O"], ["1"], ["true"]),
  }),
  fc.record({
    field: fc.constantFrom(...FIELDS),
    op: fc.constantFrom("gt" as const, "lte" as const),
    values: fc.constant<JsonValue[]>([0]),
  }),
);

const shapeArb = fc.record({
  types: fc.oneof(fc.constant<string[]>([]), fc.subarray(["a", "b", "c"], { minLength: 1 })),
  filters: fc.array(filterArb, { maxLength: 2 }),
  groupBy: fc.subarray(FIELDS, { maxLength: 2 }),
  aggregation: fc.oneof(
    { weight: 4, arbitrary: fc.constant({ fn: "count" as const, field: "" }) },
    {
      weight: 1,
      arbitrary: fc.record({
        fn: fc.constantFrom(
          "count_unique" as const,
          "sum" as const,
          "avg" as const,
          "min" as const,
          "max" as const,
        ),
        field: fc.constantFrom("n", "org", "needs", "type"),
      }),
    },
  ),
});

/** Range ends: on quarter hours, on Monrovia's 00:44:30, or anywhere, over the era's days and around them. */
const boundArb = fc.oneof(
  fc.integer({ min: -8, max: 2 * 96 + 8 }).map((q) => q * 15 * MINUTE),
  fc.integer({ min: -1, max: 2 }).map((d) => d * DAY + 44 * MINUTE + 30_000),
  fc.integer({ min: -HOUR, max: 2 * DAY + HOUR }),
);

const viewArb = fc.record({
  shape: fc.nat(),
  interval: fc.constantFrom("minute" as const, "hour", "day", "week", "month", "total"),
  timeZone: fc.constantFrom(...ZONES),
  weekStart: fc.constantFrom(1, 7),
  bounds: fc.tuple(boundArb, boundArb).filter(([a, b]) => a !== b),
  maxGroups: fc.constantFrom(4, 100),
  stepEvents: fc.constantFrom(1, 50),
  /** As of now, or of the instant after one of the steps so far. */
  snapshot: fc.option(fc.nat(), { freq: 2 }),
});

type View = typeof viewArb extends fc.Arbitrary<infer V> ? V : never;
type Shape = typeof shapeArb extends fc.Arbitrary<infer S> ? S : never;

function specOf(era: number, shape: Shape, view: View, asOf: number): SeriesSpec {
  const [a, b] = view.bounds;
  const [start, end] = a < b ? [era + a, era + b] : [era + b, era + a];
  return {
    tenant: "t",
    module: "m",
    start,
    end,
    types: shape.types,
    filters: shape.filters,
    asOf,
    interval: view.interval === "minute" && end - start > 6 * HOUR ? "hour" : view.interval,
    timeZone: view.timeZone,
    weekStart: view.weekStart,
    groupBy: shape.groupBy,
    aggregation: shape.aggregation,
  };
}

function rowsOf(r: SeriesResult): ModelSeriesRow[] {
  const rows: ModelSeriesRow[] = [];
  r.starts.forEach((bucketStartMs, b) => {
    r.groups.forEach((group, g) => {
      rows.push({ bucketStartMs, group, value: r.value(b, g) });
    });
  });
  return rows;
}

const OPS: Record<FilterSpec["op"], string> = {
  eq: "OPERATOR_EQ",
  neq: "OPERATOR_NEQ",
  exists: "OPERATOR_EXISTS",
  not_exists: "OPERATOR_NOT_EXISTS",
  gt: "OPERATOR_GT",
  gte: "OPERATOR_GTE",
  lt: "OPERATOR_LT",
  lte: "OPERATOR_LTE",
  contains: "OPERATOR_CONTAINS",
};

function modelAnswer(events: readonly StoredEvent[], spec: SeriesSpec): ModelSeriesRow[] {
  const model = new ReferenceModel();
  model.record(
    events.map((e) => ({ module: "m", id: e.id, type: e.type, timeMs: e.time, data: e.data as never })),
  );
  const request = fromJson(QuerySeriesRequestSchema, {
    module: "m",
    types: spec.types,
    range: { start: new Date(spec.start).toISOString(), end: new Date(spec.end).toISOString() },
    interval: `INTERVAL_${spec.interval.toUpperCase()}`,
    timeZone: spec.timeZone,
    weekStart: spec.weekStart,
    filters: spec.filters.map((f) => ({ field: f.field, op: OPS[f.op], values: f.values as ProtoJson[] })),
    groupBy: spec.groupBy,
    aggregation: {
      function: `AGGREGATION_FUNCTION_${spec.aggregation.fn.toUpperCase()}`,
      field: spec.aggregation.field,
    },
  });
  return model.querySeries(request);
}

describe("rollups, rows and the reference model", () => {
  it("answer alike after writes, races, compaction, deletion and retention changes", async () => {
    const stats = { rollup: 0, rows: 0, kept: 0 };
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ERAS).chain((era) =>
          fc.record({
            era: fc.constant(era),
            steps: fc.array(stepArb(era), { minLength: 2, maxLength: 12 }),
            shapes: fc.array(shapeArb, { minLength: 1, maxLength: 2 }),
            views: fc.array(viewArb, { minLength: 1, maxLength: 4 }),
          }),
        ),
        async ({ era, steps, shapes, views }) => {
          // The clock runs a little after the era's two days; retention of 0 or 1 days hides day one or both.
          let clock = era + 2 * DAY + HOUR;
          let retention: number | undefined;
          const storage = createStorage({ driver: memoryDriver() });
          const options = { storage, now: () => (clock += 1.25), retentionDays: () => retention };
          const store = new EventStore(options);
          /** What the store holds, deduplicated as the contract says, with the step that first stored it. */
          let held: { e: StoredEvent; step: number }[] = [];
          const recorded: StoredEvent[][] = [];
          /** The instant after each step (a snapshot to query as of). */
          const snapshots: number[] = [];
          const hold = (events: readonly StoredEvent[]) => {
            const seen = new Set(held.map(({ e }) => `${e.id}@${e.time}`));
            for (const e of events) {
              if (seen.has(`${e.id}@${e.time}`)) continue;
              seen.add(`${e.id}@${e.time}`);
              held.push({ e, step: snapshots.length });
            }
          };
          const ask = async (view: View) => {
            const k =
              view.snapshot === null || snapshots.length === 0 ? -1 : view.snapshot % snapshots.length;
            const asOf = k < 0 ? Number.MAX_VALUE : snapshots[k]!;
            const spec = specOf(era, shapes[view.shape % shapes.length]!, view, asOf);
            const answer = (rollups: boolean) =>
              querySeries(store, spec, { maxGroups: view.maxGroups }, { rollups, stats }).then(
                rowsOf,
                (e) => ({
                  error: (e as Error).message,
                }),
              );
            const fromRollups = await answer(true);
            const fromRows = await answer(false);
            expect(fromRollups).toEqual(fromRows);
            // In steps of a few events, each step's state carried as JSON (rollups answer where they can).
            const stepped = await querySeriesStepped(spec, { maxGroups: view.maxGroups }, async (step) => {
              const next = await runStep(store, JSON.parse(JSON.stringify(step)) as Step, view.stepEvents);
              return JSON.parse(JSON.stringify(next)) as Step;
            }).then(rowsOf, (e) => ({ error: (e as Error).message }));
            expect(stepped).toEqual(fromRows);
            if (!MODEL_ZONES.has(spec.timeZone) || "error" in fromRows) return;
            const from = store.retainedFrom("m");
            const visible = held
              .filter(({ e, step }) => dayOf(e.time) >= from && (k < 0 || step <= k))
              .map(({ e }) => e);
            // (-0 and 0 are one answer on the wire.)
            const zero = (rows: ModelSeriesRow[]) => rows.map((row) => ({ ...row, value: row.value + 0 }));
            expect(zero(fromRows)).toEqual(zero(modelAnswer(visible, spec)));
            compared++;
          };
          for (const step of steps) {
            if (step.kind === "record") {
              await store.record("t", "m", step.events);
              recorded.push(step.events);
              hold(step.events);
            } else if (step.kind === "race" && recorded.length > 0) {
              // (After a deletion of its day, a retry brings its events back.)
              const batch = recorded[step.of % recorded.length]!;
              // Each (id, time) once, as the batch's first copy (the one its record kept).
              const unique = batch.filter(
                (e, i) => batch.findIndex((f) => f.id === e.id && f.time === e.time) === i,
              );
              hold(unique);
              const racer = new EventStore({ ...options, now: () => (clock += 1.25) });
              const byDay = new Map<string, StoredEvent[]>();
              for (const e of unique) byDay.set(dayOf(e.time), [...(byDay.get(dayOf(e.time)) ?? []), e]);
              for (const [day, events] of byDay) await racer.writeSegment("t", "m", day, events, []);
            } else if (step.kind === "compact") await compactModule(store, "t", "m");
            else if (step.kind === "delete") {
              // A day, or (null) the whole module.
              const day = step.day === null ? undefined : dayOf(era + step.day * DAY);
              await deleteData(store, { tenant: "t", module: "m", ...(day ? { day } : {}) });
              held = held.filter(({ e }) => day !== undefined && dayOf(e.time) !== day);
            } else if (step.kind === "retention") retention = step.days ?? undefined;
            else if (step.kind === "query") await ask(views[step.view % views.length]!);
            snapshots.push(clock + 0.5);
          }
          for (const view of views) await ask(view);
        },
      ),
      { numRuns: Number(process.env.RUNS ?? 150) },
    );
    if (process.env.RUNS) console.log(stats, compared);
    expect(stats.rollup).toBeGreaterThan(100);
    expect(stats.kept).toBeGreaterThan(20);
    expect(compared).toBeGreaterThan(100);
  });
});
