/**
 * What queries derive from a cached segment and keep with it — rollup projections and value indexes, type
 * columns, geo cell indexes, what rollups counted for a query's shape — is counted in the segment's bytes,
 * so the cache's byte bound covers it.
 */

import { readFileSync } from "node:fs";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { FIXTURE_T0 } from "../test/fixtures/make-segments.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { queryGeo } from "./geo-query.ts";
import type { StoredEvent } from "./json.ts";
import { dayOf, segmentKey } from "./keys.ts";
import type { GeoQuerySpec, SeriesSpec } from "./query-spec.ts";
import { Segment } from "./segment.ts";
import { querySeries } from "./series.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1);

function events(n: number): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `e${i}`,
    type: ["joined", "left", "enrolled"][i % 3]!,
    time: T0 + Math.floor((i * 3 * DAY) / n),
    data: { org: `org-${i % 7}`, project: `p-${i % 5}`, userId: `u${i % 301}` },
    lat: 40 + (i % 97) / 10,
    lon: 5 + (i % 89) / 10,
  }));
}

const selection = {
  tenant: "t",
  module: "m",
  start: T0,
  end: T0 + 3 * DAY,
  types: [],
  asOf: Number.MAX_VALUE,
};
const byProject: SeriesSpec = {
  ...selection,
  filters: [{ field: "org", op: "eq", values: ["org-1", "org-2"] }],
  interval: "day",
  timeZone: "Asia/Kathmandu",
  weekStart: 1,
  groupBy: ["project"],
  aggregation: { fn: "count", field: "" },
};
const byTypeUnique: SeriesSpec = {
  ...byProject,
  filters: [],
  groupBy: ["type"],
  aggregation: { fn: "count_unique", field: "userId" },
};
const geo: GeoQuerySpec = { ...selection, filters: [], cellDegrees: 0.5, minCount: 1 };

async function filledStore(cacheBytes: number, compact: boolean) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }), cacheBytes });
  const all = events(9_000);
  for (let i = 0; i < all.length; i += 1_000) await store.record("t", "m", all.slice(i, i + 1_000));
  if (compact) await compactModule(store, "t", "m");
  return store;
}
const compactedStore = (cacheBytes: number) => filledStore(cacheBytes, true);

/**
 * A store of per-batch segments (read whole: nothing grows by lazy column loads) with every segment
 * already cached by a query that derives nothing, and the segments themselves.
 */
async function warmFreshStore() {
  const store = await filledStore(1024 ** 3, false);
  await querySeries(store, { ...byTypeUnique, groupBy: [] }, { maxGroups: 10 });
  const segments: Segment[] = [];
  for (const key of await store.storage.getKeys("v1:t:m:ev"))
    segments.push(new Segment((await store.storage.getItemRaw(key)) as Uint8Array));
  return { store, segments };
}

/** How much `run` adds to the cache's bytes. */
async function growth(store: EventStore, run: () => Promise<unknown>) {
  const before = store.cachedBytes;
  await run();
  return store.cachedBytes - before;
}

const typeColumnBytes = (n: number) => 4 * (n + 1) + n + 8 * n;

describe("the segment cache", () => {
  it("counts a row scan's type column, once", async () => {
    const { store, segments } = await warmFreshStore();
    const scan = () => querySeries(store, byTypeUnique, { maxGroups: 100 });
    const expected = segments.reduce((n, s) => n + typeColumnBytes(s.count), 0);
    expect(await growth(store, scan)).toBe(expected);
    expect(await growth(store, scan)).toBe(0);
  });

  it("counts a rollup table's type column and value index, once", async () => {
    const { store, segments } = await warmFreshStore();
    const stats = { rollup: 0, rows: 0 };
    // Grouped by type alone: the table with fewest combinations answers, its type column kept.
    const byType = () =>
      querySeries(
        store,
        { ...byProject, filters: [], groupBy: ["type"] },
        { maxGroups: 100 },
        { stats, reuse: false },
      );
    const expected = segments.reduce(
      (n, s) => n + typeColumnBytes(Math.min(...s.rollups.map((info) => info.count))),
      0,
    );
    expect(await growth(store, byType)).toBe(expected);
    expect(stats.rollup).toBe(segments.length);
    // An org filter: each table's index of org codes (the first use of a shape projects nothing).
    const byOrg = () =>
      querySeries(store, { ...byProject, groupBy: [] }, { maxGroups: 100 }, { stats, reuse: false });
    expect(await growth(store, byOrg)).toBeGreaterThan(0);
    expect(await growth(store, byOrg)).toBeGreaterThan(0); // its projections, and their indexes
    expect(await growth(store, byOrg)).toBe(0);
  });

  it("counts a rollup projection, made on a shape's second use, once", async () => {
    const { store } = await warmFreshStore();
    // Grouped by project, no filter: nothing is indexed, and the type is summed away on the second use.
    const run = () => querySeries(store, { ...byProject, filters: [] }, { maxGroups: 100 }, { reuse: false });
    expect(await growth(store, run)).toBe(0);
    expect(await growth(store, run)).toBeGreaterThan(0);
    expect(await growth(store, run)).toBe(0);
  });

  it("counts the slot numbers of a table of the first format, converted once", async () => {
    const bytes = new Uint8Array(
      readFileSync(new URL("../test/fixtures/segment-f97ff00-fresh.seg", import.meta.url)),
    );
    const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    const key = segmentKey("t", "m", dayOf(FIXTURE_T0), `${"1".padStart(11, "0")}${"0".repeat(12)}`);
    await store.writeSegmentBytes(key, bytes);
    const spec: SeriesSpec = { ...byProject, start: FIXTURE_T0, end: FIXTURE_T0 + DAY, filters: [] };
    await querySeries(
      store,
      { ...spec, groupBy: [], aggregation: { fn: "count_unique", field: "org" } },
      { maxGroups: 10 },
    );
    const stats = { rollup: 0, rows: 0 };
    const run = () => querySeries(store, spec, { maxGroups: 10 }, { stats, reuse: false });
    // Grouped by project: table 0 (type × org × project) answers; its 8-byte starts become bytes.
    expect(await growth(store, run)).toBe(new Segment(bytes).rollup(0).slot.byteLength);
    expect(stats.rollup).toBe(1);
  });

  it("counts what rollups counted for a query's shape, once, and lets go of the shapes it no longer keeps", async () => {
    const { store, segments } = await warmFreshStore();
    // An org filter but for equality (which indexes a table's orgs): the first use of a shape projects
    // and indexes nothing.
    const stats = { rollup: 0, rows: 0, kept: 0 };
    const shape = (org: number, groupBy: string[]) => () =>
      querySeries(
        store,
        { ...byProject, filters: [{ field: "org", op: "neq", values: [`org-${org}`] }], groupBy },
        { maxGroups: 100 },
        { stats },
      );
    const project = () =>
      querySeries(
        store,
        { ...byProject, filters: [{ field: "org", op: "neq", values: ["org-9"] }] },
        { maxGroups: 100 },
        { stats },
      );
    expect(await growth(store, project)).toBeGreaterThan(0);
    expect(await growth(store, project)).toBe(0);
    expect(stats.kept).toBe(segments.length);
    // More shapes than a segment keeps (16), in turn: each makes way before it comes back, the bytes
    // stay level.
    const shapes = [0, 1, 2, 3, 4, 5, 6].flatMap((org) => [
      shape(org, ["project"]),
      shape(org, ["type"]),
      shape(org, []),
    ]);
    for (const run of shapes) await run();
    const settled = store.cachedBytes;
    stats.kept = 0;
    for (let round = 0; round < 3; round++) for (const run of shapes) await run();
    expect(Math.abs(store.cachedBytes - settled)).toBeLessThan(settled * 0.01);
    expect(stats.kept).toBe(0);
  });

  it("counts what rollups counted per group and piece: 8 bytes each", async () => {
    // One segment of 20 orgs over ten hours: by org, the day is one piece and the hours ten.
    const kept = async (interval: SeriesSpec["interval"]) => {
      const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
      await store.record(
        "t",
        "m",
        events(9_000)
          .slice(0, 50)
          .map((e, i) => ({ ...e, time: T0 + i * 12 * 60_000, data: { org: `org-${i % 20}` } })),
      );
      await querySeries(store, { ...byTypeUnique, groupBy: [] }, { maxGroups: 10 });
      const stats = { rollup: 0, rows: 0 };
      const spec = { ...byProject, filters: [], groupBy: ["org"], interval, timeZone: "UTC" };
      const bytes = await growth(store, () => querySeries(store, spec, { maxGroups: 100 }, { stats }));
      expect(stats).toEqual({ rollup: 1, rows: 0 });
      return bytes;
    };
    // Beyond the longer shape (its cuts), 9 more pieces for each of 20 groups.
    expect((await kept("hour")) - (await kept("day"))).toBeGreaterThanOrEqual(20 * 9 * 8);
  });

  it("counts QueryGeo's cell indexes, and lets go of those it no longer keeps", async () => {
    const store = await compactedStore(1024 ** 3);
    const at = (cellDegrees: number) => () => queryGeo(store, { ...geo, cellDegrees });
    // The first scan reads the rows into copies (scan.ts, firstScan); the second keeps the columns.
    await at(0.5)();
    await at(0.5)();
    // The second visit of the kept columns at a size builds each segment's index; the third reuses it.
    expect(await growth(store, at(0.5))).toBeGreaterThan(0);
    expect(await growth(store, at(0.5))).toBe(0);
    // Three sizes in turn: two indexes are kept per segment, the third replaces the oldest.
    for (const size of [1, 1, 2, 2]) await at(size)();
    const settled = store.cachedBytes;
    for (let round = 0; round < 3; round++) for (const size of [0.5, 0.5, 1, 1, 2, 2]) await at(size)();
    expect(Math.abs(store.cachedBytes - settled)).toBeLessThan(settled * 0.01);
  });

  it("drops what was derived with the segments it evicts, within its bound, and answers the same", async () => {
    const run = async (store: EventStore) => {
      const answers: Awaited<ReturnType<typeof querySeries>>[] = [];
      for (let i = 0; i < 3; i++) {
        answers.push(await querySeries(store, byProject, { maxGroups: 100 }));
        await querySeries(store, byTypeUnique, { maxGroups: 100 });
        await queryGeo(store, geo);
      }
      return answers.map((r) => r.groups.map((_, g) => r.starts.map((_, b) => r.value(b, g))));
    };
    const probe = await compactedStore(1024 ** 3);
    await querySeries(probe, byProject, { maxGroups: 100 });
    const bound = probe.cachedBytes + 1024;
    const unbounded = await run(probe);
    // Room for the segments one query reads, not for all that the three shapes read and derive.
    expect(probe.cachedBytes).toBeGreaterThan(bound);
    const store = await compactedStore(bound);
    const answers = await run(store);
    expect(store.cachedBytes).toBeLessThanOrEqual(bound);
    expect(answers).toEqual(unbounded);
    expect(answers[2]).toEqual(answers[0]);
  });
});
