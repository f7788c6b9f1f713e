/**
 * COUNT_UNIQUE (and grouped counts) against a naive model over Sets and Maps of JSON-derived keys: the
 * accumulator's per-segment code tables, IdSets and single-field fast path must not change any answer,
 * whatever mix of strings, numbers, booleans, objects and arrays the group and value fields hold.
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { canonicalJson, type JsonObject, type JsonValue, type StoredEvent } from "./json.ts";
import type { AggregationFn, SeriesSpec } from "./query-spec.ts";
import { querySeries } from "./series.ts";
import { querySeriesStepped, runStep, type Step } from "./stepped-query.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 4, 1);

const scalar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<JsonValue>("a", "b", "c", "d", "1") },
  { weight: 2, arbitrary: fc.constantFrom<JsonValue>(1, 2, 2.5, 0) },
  { weight: 1, arbitrary: fc.constantFrom<JsonValue>(true, false, null) },
  // An object and a string with the same text must stay distinct values.
  { weight: 1, arbitrary: fc.constantFrom<JsonValue>({ x: 1 }, '{"x":1}') },
);
const field = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
);

const eventArb = fc
  .record({ minute: fc.nat({ max: 3 * 24 * 60 - 1 }), g: field, u: field }, { requiredKeys: ["minute"] })
  .map(({ minute, g, u }): StoredEvent => {
    const data: JsonObject = {};
    if (g !== undefined) data.g = g;
    if (u !== undefined) data.u = u;
    // Ids are given per batch below (retry dedup is not what this tests).
    return { id: "", type: "t", time: T0 + minute * 60_000, data, lat: Number.NaN, lon: Number.NaN };
  });

/** The values a path reaches: an array's elements, else the value itself; nothing when absent. */
const reached = (v: JsonValue | undefined): JsonValue[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];
const groupTextOf = (v: JsonValue) =>
  typeof v === "string" ? v : typeof v === "object" && v !== null ? canonicalJson(v) : String(v);
const uniqueKeyOf = (v: JsonValue) =>
  typeof v === "string" ? `s${v}` : typeof v === "object" && v !== null ? `o${canonicalJson(v)}` : `x${v}`;

/** `${bucket}|${group}` → distinct value keys (count_unique) or row count (count); UTC buckets of `unit` ms. */
function model(events: StoredEvent[], fn: AggregationFn, unit: number): Map<string, number> {
  const unique = new Map<string, Set<string>>();
  const counts = new Map<string, number>();
  for (const e of events) {
    const day = Math.floor((e.time - T0) / unit) * unit + T0;
    const groups = new Set(reached(e.data.g).map(groupTextOf));
    if (groups.size === 0) groups.add("");
    for (const g of groups) {
      const key = `${day}|${g}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const values = reached(e.data.u);
      if (values.length === 0) continue;
      const set = unique.get(key) ?? new Set<string>();
      unique.set(key, set);
      for (const v of values) set.add(uniqueKeyOf(v));
    }
  }
  if (fn === "count") return counts;
  return new Map([...unique].map(([k, s]) => [k, s.size]));
}

function cells(r: Awaited<ReturnType<typeof querySeries>>): Map<string, number> {
  const out = new Map<string, number>();
  r.starts.forEach((start, b) => {
    r.groups.forEach((group, g) => {
      const v = r.value(b, g);
      if (v !== 0) out.set(`${start}|${group[0]}`, v);
    });
  });
  return out;
}

describe("QuerySeries grouped by one field", () => {
  it("count_unique and count equal a naive Set/Map model, whole and in JSON-carried steps", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(eventArb, { minLength: 1, maxLength: 120 }), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.constantFrom<AggregationFn>("count_unique", "count"),
        // Hours put many buckets in one (daily) segment; days one.
        fc.constantFrom("hour" as const, "day" as const),
        async (generated, compact, fn, interval) => {
          const batches = generated.map((batch, i) => batch.map((e, j) => ({ ...e, id: `e${i}-${j}` })));
          const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
          for (const batch of batches) await store.record("acme", "m", batch);
          if (compact) await compactModule(store, "acme", "m");
          const spec: SeriesSpec = {
            tenant: "acme",
            module: "m",
            start: T0,
            end: T0 + 3 * DAY,
            types: [],
            filters: [],
            asOf: store.now(),
            interval,
            timeZone: "UTC",
            weekStart: 1,
            groupBy: ["g"],
            aggregation: { fn, field: fn === "count" ? "" : "u" },
          };
          const expected = model(batches.flat(), fn, interval === "hour" ? DAY / 24 : DAY);
          expect(cells(await querySeries(store, spec, { maxGroups: 1000 }, { rollups: false }))).toEqual(
            expected,
          );
          const stepped = await querySeriesStepped(spec, { maxGroups: 1000 }, async (step) => {
            const next = await runStep(store, JSON.parse(JSON.stringify(step)) as Step, 1);
            return JSON.parse(JSON.stringify(next)) as Step;
          });
          expect(cells(stepped)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("QuerySeries COUNT_UNIQUE", () => {
  it("has a row for every group an event joins, whether or not the event has a value to count", async () => {
    // As SUM, AVG, MIN, MAX and COUNT do: a group appears when an event joins it. Before, an event without
    // the counted field joined no group — and none at all of a segment where no event had it — so which
    // groups appeared depended on how events happened to share segments (and changed at compaction).
    const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    const at = (id: string, minute: number, data: JsonObject): StoredEvent => ({
      id,
      type: "t",
      time: T0 + minute * 60_000,
      data,
      lat: Number.NaN,
      lon: Number.NaN,
    });
    await store.record("acme", "m", [at("1", 0, { g: "a" })]);
    await store.record("acme", "m", [at("2", 1, { g: "b", u: "x" }), at("3", 2, { g: "c" })]);
    const answer = async (fn: AggregationFn) => {
      const r = await querySeries(
        store,
        {
          tenant: "acme",
          module: "m",
          start: T0,
          end: T0 + DAY,
          types: [],
          filters: [],
          asOf: store.now(),
          interval: "day",
          timeZone: "UTC",
          weekStart: 1,
          groupBy: ["g"],
          aggregation: { fn, field: fn === "count" ? "" : "u" },
        },
        { maxGroups: 10 },
        { rollups: false },
      );
      return r.groups.map((group, g) => [group[0], r.value(0, g)]);
    };
    const expected = [
      ["a", 0],
      ["b", 1],
      ["c", 0],
    ];
    expect(await answer("sum")).toEqual(expected.map(([g]) => [g, 0]));
    expect(await answer("count_unique")).toEqual(expected);
    await compactModule(store, "acme", "m");
    expect(await answer("count_unique")).toEqual(expected);
  });
});
