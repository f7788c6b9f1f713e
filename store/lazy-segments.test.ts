/**
 * Large compacted segments are read lazily from drivers with partial reads: the header first, then only
 * the columns a query uses, each checked against its own CRC-32. Answers must equal whole reads; a
 * damaged column a query reads is data_loss and quarantined like any corrupt segment; a damaged header
 * falls back to the whole read, whose trailer check reports it.
 */
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { DAY, MODULE, QUERIES, runTally, START, TENANT } from "../scripts/bench-queries.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import type { RangeReadable } from "../storage-drivers/ranges.ts";
import { compactedStore } from "../test/compacted-store.ts";
import { failure } from "../test/expect-failure.ts";
import { segmentColumns, segmentHeader } from "../test/segment-columns.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { queryGeo } from "./geo-query.ts";
import { type EventCursor, listEvents } from "./list-events.ts";
import { isQuarantined } from "./quarantine.ts";
import type { GeoQuerySpec, ListSpec, SeriesSpec } from "./query-spec.ts";
import { Segment } from "./segment.ts";
import { querySeries } from "./series.ts";
import { queryGeoStepped, querySeriesStepped, runStep, type Step } from "./stepped-query.ts";

const AS_OF = Date.UTC(2030, 0, 1);

/** 40,000 events on one day of the bench's range, compacted: one segment of several megabytes. */
async function megabyteDay() {
  const driver = memoryDriver();
  const writer = new EventStore({ storage: createStorage({ driver }) });
  const events = generateEvents(40_000, { start: START + 60 * DAY, end: START + 61 * DAY });
  for (let i = 0; i < events.length; i += 1000)
    await writer.record(TENANT, MODULE, events.slice(i, i + 1000));
  await compactModule(writer, TENANT, MODULE);
  return driver;
}

/**
 * The same driver counting the bytes its partial reads return and recording each call's ranges, or
 * without partial reads at all; `splitRangesAt` as a driver that reads ranges side by side states it.
 */
function reading(driver: Driver, ranges = true, splitRangesAt?: number) {
  const counter = { bytes: 0, calls: [] as (readonly (readonly [number, number])[])[] };
  const { getItemRanges } = driver as Driver & RangeReadable;
  const wrapped: Driver & Partial<RangeReadable> = {
    ...driver,
    getItemRanges: ranges
      ? async (key: string, r: [number, number][]) => {
          counter.calls.push(r);
          const out = await getItemRanges(key, r);
          for (const part of out?.parts ?? []) counter.bytes += part.byteLength;
          return out;
        }
      : undefined,
    splitRangesAt,
  };
  return { store: new EventStore({ storage: createStorage({ driver: wrapped }) }), counter };
}

async function segmentFiles(driver: Driver) {
  const keys = (await driver.getKeys("", {})).filter((k) => k.includes(":ev:") && !isQuarantined(k));
  return Promise.all(
    keys.map(async (key) => ({ key, bytes: (await driver.getItemRaw!(key, {})) as Uint8Array })),
  );
}

/** Where column `name` starts in a segment file. */
function columnOffset(bytes: Uint8Array, name: string): number {
  return segmentColumns(bytes).get(name)!.start;
}

describe("lazily read segments", () => {
  it("answer every bench query as whole reads do, reading a fraction of the bytes for rollup answers", async () => {
    const driver = await compactedStore();
    const files = await segmentFiles(driver);
    expect(files.length).toBe(4);
    const stored = files.reduce((n, f) => n + f.bytes.byteLength, 0);
    // Longer than a lazy read's first request (event-store.ts HEAD_BYTES), so not read whole.
    for (const f of files) expect(f.bytes.byteLength).toBeGreaterThan(128 * 1024);
    for (const q of QUERIES) {
      const lazy = reading(driver);
      const whole = reading(driver, false);
      const a = await runTally(lazy.store, q, AS_OF);
      const b = await runTally(whole.store, q, AS_OF);
      expect(a.answer(), q.name).toEqual(b.answer());
      // Read again through the same (now warm) store: the lazy segments it cached answer the same.
      expect((await runTally(lazy.store, q, AS_OF)).answer(), q.name).toEqual(b.answer());
      if (q.name.startsWith("full scan")) {
        expect(a.rollupStats?.rollup).toBe(4);
        expect(lazy.counter.bytes).toBeLessThan(stored / 4);
      }
    }
  });

  it("a query the smallest rollup tables answer reads each segment once: its header and the tables together", async () => {
    const driver = await megabyteDay();
    const [file] = await segmentFiles(driver);
    expect(file!.bytes.byteLength).toBeGreaterThan(6 * 1024 ** 2);
    const names = ["narrow", "full range: supplies.name", "rollup: full range, monthly", "full scan"];
    for (const name of names) {
      const q = QUERIES.find((x) => x.name.startsWith(name))!;
      const lazy = reading(driver);
      const a = await runTally(lazy.store, q, AS_OF);
      expect(a.answer(), q.name).toEqual((await runTally(reading(driver, false).store, q, AS_OF)).answer());
      expect(a.rollupStats?.rollup, q.name).toBe(1);
      expect(lazy.counter.calls, q.name).toEqual([[[0, 128 * 1024]]]);
    }
  });

  it("a segment its types rule out is skipped, not asked for a rollup table it never fetched", async () => {
    const { store } = reading(await compactedStore());
    const spec: SeriesSpec = {
      tenant: TENANT,
      module: MODULE,
      start: START + 60 * DAY,
      end: START + 64 * DAY,
      types: ["no-such-type"],
      filters: [],
      asOf: AS_OF,
      interval: "day",
      timeZone: "UTC",
      weekStart: 1,
      groupBy: [],
      aggregation: { fn: "count", field: "" },
    };
    const series = await querySeries(store, spec, { maxGroups: 10 });
    expect(series.starts.length).toBeGreaterThan(0);
    for (let b = 0; b < series.starts.length; b++) expect(series.value(b, 0)).toBe(0);
  });

  it("a query over lazy segments, then one that needs every column, reads the rest", async () => {
    const driver = await compactedStore();
    const { store } = reading(driver);
    const narrow = QUERIES[0]!;
    const list = QUERIES.find((q) => q.tally.kind === "list")!;
    await runTally(store, narrow, AS_OF);
    const fresh = reading(driver, false).store;
    expect((await runTally(store, list, AS_OF)).answer()).toEqual(
      (await runTally(fresh, list, AS_OF)).answer(),
    );
  });

  it("a segment's row columns are cached from the second scan of its rows on; the first reads them into a copy", async () => {
    const driver = await megabyteDay();
    const [file] = await segmentFiles(driver);
    const geoQuery = QUERIES.find((q) => q.tally.kind === "geo")!;
    const lazy = reading(driver);
    const expected = (await runTally(reading(driver, false).store, geoQuery, AS_OF)).answer();
    const empty = lazy.store.cachedBytes;
    const first = await runTally(lazy.store, geoQuery, AS_OF);
    expect(first.answer()).toEqual(expected);
    const afterFirst = lazy.store.cachedBytes;
    // The header and the first read's 128 KiB, no column of the megabytes the rows take.
    expect(afterFirst - empty).toBeLessThan(256 * 1024);
    const columns = segmentColumns(file!.bytes);
    const locations = columns.get("lat")!.length + columns.get("lon")!.length;
    expect(lazy.counter.bytes).toBeGreaterThan(locations);
    // Two queries at once on the segment's second scan: both answer, one keeps the columns.
    const [a, b] = await Promise.all([
      runTally(lazy.store, geoQuery, AS_OF),
      runTally(lazy.store, geoQuery, AS_OF),
    ]);
    expect(a.answer()).toEqual(expected);
    expect(b.answer()).toEqual(expected);
    const kept = lazy.store.cachedBytes;
    expect(kept - afterFirst).toBeGreaterThanOrEqual(locations);
    // From then on nothing is read again.
    const before = lazy.counter.bytes;
    expect((await runTally(lazy.store, geoQuery, AS_OF)).answer()).toEqual(expected);
    expect(lazy.counter.bytes).toBe(before);
    // A query of other columns reads them into a copy once more, and leaves what is kept as it was.
    const unique = QUERIES.find((q) => q.name.includes("COUNT_UNIQUE"))!;
    const uniqueAnswer = (await runTally(reading(driver, false).store, unique, AS_OF)).answer();
    expect((await runTally(lazy.store, unique, AS_OF)).answer()).toEqual(uniqueAnswer);
    expect((await runTally(lazy.store, unique, AS_OF)).answer()).toEqual(uniqueAnswer);
  });

  it("a query its rollup table answered counts as a segment's first scan: the next query's columns are kept", async () => {
    const driver = await megabyteDay();
    const [file] = await segmentFiles(driver);
    const columns = segmentColumns(file!.bytes);
    const locations = columns.get("lat")!.length + columns.get("lon")!.length;
    const { store } = reading(driver);
    const count = QUERIES.find((q) => q.name.startsWith("full scan"))!;
    expect((await runTally(store, count, AS_OF)).rollupStats?.rollup).toBe(1);
    const before = store.cachedBytes;
    const geoQuery = QUERIES.find((q) => q.tally.kind === "geo")!;
    expect((await runTally(store, geoQuery, AS_OF)).answer()).toEqual(
      (await runTally(reading(driver, false).store, geoQuery, AS_OF)).answer(),
    );
    expect(store.cachedBytes - before).toBeGreaterThanOrEqual(locations);
  });

  it("QueryGeo reads no time column of a segment whose span lies in the range, and reads it when the range cuts the span", async () => {
    const driver = await megabyteDay();
    const [file] = await segmentFiles(driver);
    const time = segmentColumns(file!.bytes).get("time")!;
    const readsTime = (calls: (readonly (readonly [number, number])[])[]) =>
      calls.some((ranges) => ranges.some(([o, n]) => o < time.start + 8 && time.start < o + n));
    const base = { tenant: TENANT, module: MODULE, types: [], filters: [], asOf: AS_OF };
    const whole: GeoQuerySpec = {
      ...base,
      start: START,
      end: START + 90 * DAY,
      cellDegrees: 0.5,
      minCount: 1,
    };
    // From noon of the segment's day: its span is cut, so its rows are found by their times.
    const cut: GeoQuerySpec = { ...whole, start: START + 60.5 * DAY };
    for (const [spec, timesRead] of [
      [whole, false],
      [cut, true],
    ] as const) {
      const lazy = reading(driver);
      const bins = await queryGeo(lazy.store, spec);
      expect(bins).toEqual(await queryGeo(reading(driver, false).store, spec));
      expect(bins.length).toBeGreaterThan(0);
      expect(readsTime(lazy.counter.calls)).toBe(timesRead);
      // In steps too (Workers): the same bins, the same columns read.
      const stepped = reading(driver);
      expect(await queryGeoStepped(spec, (step) => runStep(stepped.store, step, 3000))).toEqual(bins);
      expect(readsTime(stepped.counter.calls)).toBe(timesRead);
    }
  });
  it("a stepped QueryGeo reads each column once: what a step fetched ahead for the next is not fetched again", async () => {
    const driver = await compactedStore();
    const spec: GeoQuerySpec = {
      tenant: TENANT,
      module: MODULE,
      start: START,
      end: START + 90 * DAY,
      types: [],
      filters: [],
      asOf: AS_OF,
      cellDegrees: 0.5,
      minCount: 1,
    };
    const once = reading(driver);
    const bins = await queryGeo(once.store, spec);
    // A step per day (each of the four holds ~2,000 events): every step but the last ends with the
    // next days' columns already fetched ahead, which the next step is to use rather than fetch again.
    const stepped = reading(driver);
    let steps = 0;
    const run = (step: Step) => {
      steps++;
      return runStep(stepped.store, step, 1000);
    };
    expect(await queryGeoStepped(spec, run)).toEqual(bins);
    expect(steps).toBeGreaterThan(2);
    expect(stepped.counter.bytes).toBe(once.counter.bytes);
  });

  it("a ListEvents page from a day's segment of megabytes: its header, then every column in one call, in parts", async () => {
    const driver = await megabyteDay();
    const [file] = await segmentFiles(driver);
    expect(file!.bytes.byteLength).toBeGreaterThan(6 * 1024 ** 2);
    const list = QUERIES.find((q) => q.tally.kind === "list")!;
    const whole = (await runTally(reading(driver, false).store, list, AS_OF)).answer();
    // The header, then what matching and the page read, together. Where the driver reads ranges side by
    // side (fs-atomic, 1 MiB), a run of adjacent columns past that comes in several ranges; where each
    // range costs a request (R2), in one.
    const split = reading(driver, true, 1024 ** 2);
    const joined = reading(driver);
    for (const { store } of [split, joined])
      expect((await runTally(store, list, AS_OF)).answer()).toEqual(whole);
    expect(split.counter.calls.length).toBe(2);
    expect(joined.counter.calls.length).toBe(2);
    expect(split.counter.calls[1]!.length).toBeGreaterThan(3);
    for (const [, length] of split.counter.calls[1]!) expect(length).toBeLessThan(2 * 1024 ** 2);
    expect(joined.counter.calls[1]!.length).toBeLessThanOrEqual(3);
    expect(Math.max(...joined.counter.calls[1]!.map(([, length]) => length))).toBeGreaterThan(2 * 1024 ** 2);
  });

  it("ListEvents pages through a day's segment of megabytes, both ways, as whole reads do", async () => {
    const driver = await megabyteDay();
    const lazy = reading(driver, true, 1024 ** 2);
    const whole = reading(driver, false).store;
    let split = 0;
    for (const order of ["asc", "desc"] as const) {
      for (const filters of [[], [{ field: "org", op: "eq" as const, values: ["org-7"] }]]) {
        const spec: ListSpec = {
          tenant: TENANT,
          module: MODULE,
          start: START + 60 * DAY + 3_600_000,
          end: START + 61 * DAY - 3_600_000,
          types: [],
          filters,
          asOf: AS_OF,
          order,
        };
        const limit = filters.length > 0 ? 400 : 2000;
        let cursor: EventCursor | undefined;
        // Page after page, each from a fresh lazy store (its first day's columns read with the match's).
        for (let page = 0; page < 3; page++) {
          const fresh = reading(driver, true, 1024 ** 2);
          const got = await listEvents(fresh.store, spec, limit, cursor);
          expect(got).toEqual(await listEvents(whole, spec, limit, cursor));
          expect(await listEvents(lazy.store, spec, limit, cursor)).toEqual(got);
          expect(got.events.length).toBe(limit);
          expect(fresh.counter.calls.length).toBe(2);
          // A run split past 1 MiB: two ranges of one call that a read of adjacent columns would join.
          for (const ranges of fresh.counter.calls)
            for (let i = 1; i < ranges.length; i++)
              if (ranges[i]![0] - (ranges[i - 1]![0] + ranges[i - 1]![1]) <= 4096) split++;
          const last = got.events[got.events.length - 1]!;
          cursor = { time: last.time, id: last.id };
        }
      }
    }
    expect(split).toBeGreaterThan(0);
  });

  it("a segment compacted away between its header and its columns being read: the partition is read again", async () => {
    const driver = await compactedStore();
    // One more small batch on the first day: its next compaction merges (and deletes) the big segment.
    const writer = new EventStore({ storage: createStorage({ driver }) });
    const extra = generateEvents(10, { start: START + 60 * DAY, end: START + 61 * DAY, seed: 99 });
    await writer.record(TENANT, MODULE, extra);
    let raced = 0;
    const { getItemRanges } = driver as Driver & RangeReadable;
    const hooked: Driver & RangeReadable = {
      ...driver,
      getItemRanges: async (key: string, ranges: readonly (readonly [number, number])[]) => {
        // The first column read (not the header's): another process compacts the partition first.
        if (raced === 0 && ranges[0]![0] !== 0) {
          raced++;
          await compactModule(writer, TENANT, MODULE);
          expect(await driver.hasItem(key, {})).toBe(false);
        }
        return getItemRanges(key, ranges);
      },
    };
    const store = new EventStore({ storage: createStorage({ driver: hooked }) });
    const q = QUERIES.find((x) => x.name.includes("COUNT_UNIQUE"))!;
    const answer = (await runTally(store, q, AS_OF)).answer();
    expect(raced).toBe(1);
    expect(answer).toEqual((await runTally(reading(driver, false).store, q, AS_OF)).answer());
  });

  it("stepped queries (series and geo) read lazily and answer as whole reads do", async () => {
    const driver = await compactedStore();
    const sel = {
      tenant: TENANT,
      module: MODULE,
      start: START + 60 * DAY + 3_600_000,
      end: START + 64 * DAY,
      types: [],
      filters: [{ field: "org", op: "neq" as const, values: ["org-1"] }],
      asOf: AS_OF,
    };
    const unique: SeriesSpec = {
      ...sel,
      interval: "day",
      timeZone: "Europe/Berlin",
      weekStart: 1,
      groupBy: ["project"],
      aggregation: { fn: "count_unique", field: "userId" },
    };
    const geo: GeoQuerySpec = { ...sel, cellDegrees: 0.5, minCount: 2 };
    const stepsOf = (store: EventStore) => (step: Step) => runStep(store, step, 3000);
    const lazy = reading(driver);
    const whole = reading(driver, false).store;
    const a = await querySeriesStepped(unique, { maxGroups: 1000 }, stepsOf(lazy.store));
    const b = await querySeries(whole, unique, { maxGroups: 1000 });
    expect(Array.from(a.starts)).toEqual(Array.from(b.starts));
    expect(a.groups).toEqual(b.groups);
    for (let i = 0; i < a.starts.length; i++)
      for (let g = 0; g < a.groups.length; g++) expect(a.value(i, g)).toBe(b.value(i, g));
    expect(await queryGeoStepped(geo, stepsOf(lazy.store))).toEqual(await queryGeo(whole, geo));
    expect(lazy.counter.bytes).toBeGreaterThan(0);
  });

  it("a damaged column that a query reads is data_loss, and the segment is quarantined", async () => {
    const driver = await compactedStore();
    const [victim] = await segmentFiles(driver);
    const damaged = victim!.bytes.slice();
    damaged[columnOffset(damaged, "time") + 3]! ^= 0x10;
    await driver.setItemRaw!(victim!.key, damaged, {});
    const errors = console.error;
    console.error = () => {};
    try {
      const unique = QUERIES.find((q) => q.name.includes("COUNT_UNIQUE"))!;
      const error = await failure(runTally(reading(driver).store, unique, AS_OF));
      expect(error.code).toBe("data_loss");
      expect(error.message).toContain("checksum mismatch in column time");
      expect(await driver.hasItem(`${victim!.key}.quarantined`, {})).toBe(true);
      expect(await driver.hasItem(victim!.key, {})).toBe(false);
    } finally {
      console.error = errors;
    }
  });

  it("a damaged column that came with the header is data_loss too, and the segment is quarantined", async () => {
    const driver = await megabyteDay();
    const [victim] = await segmentFiles(driver);
    const bytes = victim!.bytes.slice();
    const header = segmentHeader(bytes) as { rollupTables: { dims: string[]; explode?: string }[] };
    // The org table, which answers the narrow query, comes with the header (among the smallest tables).
    const k = header.rollupTables.findIndex((t) => t.dims.join() === "org" && !t.explode);
    const name = `r${k}.y`;
    const column = segmentColumns(bytes).get(name)!;
    expect(column.start + column.length).toBeLessThan(128 * 1024);
    bytes[columnOffset(bytes, name) + 1]! ^= 0x04;
    await driver.setItemRaw!(victim!.key, bytes, {});
    const errors = console.error;
    console.error = () => {};
    try {
      const lazy = reading(driver);
      const error = await failure(runTally(lazy.store, QUERIES[0]!, AS_OF));
      expect(lazy.counter.calls).toEqual([[[0, 128 * 1024]]]);
      expect(error.code).toBe("data_loss");
      expect(error.message).toContain(`checksum mismatch in column ${name}`);
      expect(await driver.hasItem(`${victim!.key}.quarantined`, {})).toBe(true);
    } finally {
      console.error = errors;
    }
  });

  it("a damaged header is read whole and reported by the trailer check", async () => {
    const driver = await compactedStore();
    const [victim] = await segmentFiles(driver);
    const damaged = victim!.bytes.slice();
    damaged[20]! ^= 0x01;
    await driver.setItemRaw!(victim!.key, damaged, {});
    // Not lazily readable: the header's own sum fails.
    expect(Segment.lazy(damaged.subarray(0, 16 * 1024), damaged.byteLength, { read: async () => [] })).toBe(
      undefined,
    );
    const errors = console.error;
    console.error = () => {};
    try {
      const error = await failure(runTally(reading(driver).store, QUERIES[0]!, AS_OF));
      expect(error.code).toBe("data_loss");
      expect(await driver.hasItem(`${victim!.key}.quarantined`, {})).toBe(true);
    } finally {
      console.error = errors;
    }
  });

  it("segments written by RecordEvents carry no sums and are read whole", async () => {
    const driver = memoryDriver();
    const store = new EventStore({ storage: createStorage({ driver }) });
    await store.record(
      TENANT,
      MODULE,
      generateEvents(2000, { start: START + 60 * DAY, end: START + 61 * DAY }),
    );
    const [file] = await segmentFiles(driver);
    expect(file!.bytes.byteLength).toBeGreaterThan(16 * 1024);
    expect(
      Segment.lazy(file!.bytes.subarray(0, 16 * 1024), file!.bytes.byteLength, { read: async () => [] }),
    ).toBe(undefined);
  });
});
