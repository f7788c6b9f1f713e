/**
 * What queries derive from a cached segment and keep with it — rollup projections and value indexes, type
 * columns, geo cell indexes — is counted in the segment's bytes, so the cache's byte bound covers it.
 */
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { queryGeo } from "./geo-query.ts";
import type { StoredEvent } from "./json.ts";
import type { GeoQuerySpec, SeriesSpec } from "./query-spec.ts";
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

async function compactedStore(cacheBytes: number) {
  const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }), cacheBytes });
  const all = events(9_000);
  for (let i = 0; i < all.length; i += 1_000) await store.record("t", "m", all.slice(i, i + 1_000));
  await compactModule(store, "t", "m");
  return store;
}

describe("the segment cache", () => {
  it("counts the projections, indexes and columns that queries keep with its segments", async () => {
    const store = await compactedStore(1024 ** 3);
    /** The cache's bytes after each of three runs. */
    const bytesAfterRuns = async (run: () => Promise<unknown>) => {
      const bytes: number[] = [];
      for (let i = 0; i < 3; i++) {
        await run();
        bytes.push(store.cachedBytes);
      }
      return bytes;
    };
    const stats = { rollup: 0, rows: 0 };
    // A shape's second query of a table projects it: kept and counted then, and only then.
    const [first = 0, second = 0, third] = await bytesAfterRuns(() =>
      querySeries(store, byProject, { maxGroups: 100 }, { stats }),
    );
    expect(stats.rollup).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(third).toBe(second);
    // A row scan grouped by type keeps each segment's type column.
    await querySeries(store, byTypeUnique, { maxGroups: 100 });
    expect(store.cachedBytes).toBeGreaterThan(second);
    // QueryGeo's second run builds each segment's cell index.
    const [geo1 = 0, geo2 = 0, geo3] = await bytesAfterRuns(() => queryGeo(store, geo));
    expect(geo2).toBeGreaterThan(geo1);
    expect(geo3).toBe(geo2);
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
