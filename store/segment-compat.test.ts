/**
 * Segments exactly as earlier Tally versions wrote them (test/fixtures, made by make-segments.ts) answer
 * the same from their rollups as from their rows, alone and beside segments of today's format, before and
 * after compaction; the very first rollup tables, of another shape, are ignored rather than rejected.
 */
import { readFileSync } from "node:fs";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { FIXTURE_T0, fixtureEvents } from "../test/fixtures/make-segments.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { dayOf, segmentKey } from "./keys.ts";
import type { SeriesSpec } from "./query-spec.ts";
import { Segment } from "./segment.ts";
import { querySeries, type SeriesResult } from "./series.ts";

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../test/fixtures/segment-${name}.seg`, import.meta.url)));

const DAY = 86_400_000;
const base = {
  tenant: "t",
  module: "m",
  start: FIXTURE_T0 - DAY,
  end: FIXTURE_T0 + 2 * DAY,
  types: [],
  asOf: Number.MAX_VALUE,
  weekStart: 1,
  aggregation: { fn: "count" as const, field: "" },
};
const SPECS: SeriesSpec[] = [
  { ...base, filters: [], interval: "hour", timeZone: "UTC", groupBy: [] },
  {
    ...base,
    filters: [{ field: "org", op: "eq", values: ["o2"] }],
    interval: "day",
    timeZone: "Asia/Kathmandu",
    groupBy: ["project"],
  },
  {
    ...base,
    filters: [{ field: "org", op: "eq", values: ["o1", "o3"] }],
    interval: "hour",
    timeZone: "UTC",
    groupBy: [],
  },
  { ...base, filters: [], interval: "day", timeZone: "UTC", groupBy: ["supplies.name"] },
  {
    ...base,
    filters: [{ field: "needs", op: "eq", values: ["Food"] }],
    interval: "week",
    timeZone: "UTC",
    groupBy: ["type", "org"],
  },
  {
    ...base,
    filters: [{ field: "supplies.name", op: "neq", values: ["Food"] }],
    interval: "total",
    timeZone: "UTC",
    groupBy: ["type"],
  },
];

const table = (r: SeriesResult) => ({
  starts: [...r.starts],
  groups: r.groups,
  values: r.groups.map((_, g) => [...r.starts].map((_, b) => r.value(b, g))),
});

/** Each spec answered from rows, then twice from rollups (stored, then projected): rollups used, or not. */
async function answers(store: EventStore) {
  const stats = { rollup: 0, rows: 0 };
  for (const spec of SPECS) {
    const rows = table(await querySeries(store, spec, { maxGroups: 100 }, { rollups: false }));
    for (let i = 0; i < 2; i++)
      expect(table(await querySeries(store, spec, { maxGroups: 100 }, { stats }))).toEqual(rows);
  }
  return stats;
}

let named = 0;
async function storeWith(...segments: Uint8Array[]) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
  for (const bytes of segments) {
    const name = `${(1_000_000 + ++named).toString(36).padStart(11, "0")}${"0".repeat(12)}`;
    await store.writeSegmentBytes(segmentKey("t", "m", dayOf(FIXTURE_T0), name), bytes);
  }
  return store;
}

describe("segments of earlier formats", () => {
  for (const kind of ["fresh", "compacted"]) {
    it(`f97ff00 (${kind}): tables with slot starts answer as the rows do`, async () => {
      expect(new Segment(fixture(`f97ff00-${kind}`)).rollups.length).toBeGreaterThan(0);
      const stats = await answers(await storeWith(fixture(`f97ff00-${kind}`)));
      expect(stats.rollup).toBe(2 * SPECS.length);
    });

    it(`c299463 (${kind}): the first tables are ignored, the rows answer, nothing is quarantined`, async () => {
      expect(new Segment(fixture(`c299463-${kind}`)).rollups).toEqual([]);
      const store = await storeWith(fixture(`c299463-${kind}`));
      const stats = await answers(store);
      expect(stats).toEqual({ rollup: 0, rows: 2 * SPECS.length });
      const total = await querySeries(store, SPECS[0]!, { maxGroups: 10 });
      expect(total.groups.map((_, g) => total.starts.reduce((n, _, b) => n + total.value(b, g), 0))).toEqual([
        60,
      ]);
    });
  }

  it("beside today's segments in one partition, and merged by compaction into today's format", async () => {
    const store = await storeWith(fixture("f97ff00-compacted"), fixture("c299463-fresh"));
    // The same events again (duplicates of both: counted once) and new ones, in today's format.
    const again: StoredEvent[] = fixtureEvents().map((e, i) => (i % 2 ? e : { ...e, id: `new${i}` }));
    await store.record("t", "m", again);
    const before = await answers(store);
    expect(before.rollup).toBeGreaterThan(0);
    await compactModule(store, "t", "m");
    const keys = await store.storage.getKeys("v1:t:m:ev");
    expect(keys).toHaveLength(1);
    const merged = new Segment((await store.storage.getItemRaw(keys[0]!)) as Uint8Array);
    expect(merged.count).toBe(90);
    expect(merged.rollups.length).toBeGreaterThan(0);
    expect(merged.rollup(0).slot).toBeInstanceOf(Uint8Array);
    const after = await answers(store);
    expect(after.rollup).toBe(2 * SPECS.length);
  });
});
