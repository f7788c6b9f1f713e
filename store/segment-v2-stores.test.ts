/**
 * Stores written by version 2 (columns listed by name) and read by version 3: whole and lazy reads answer
 * as the same store written in version 3 does, and compaction merges version-2 inputs into version-3
 * outputs with the same answers.
 */
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { DAY, MODULE, QUERIES, runTally, START, TENANT } from "../scripts/bench-queries.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import type { RangeReadable } from "../storage-drivers/ranges.ts";
import { compactedStore } from "../test/compacted-store.ts";
import { exportedEvents } from "../test/export-text.ts";
import { compactModule } from "./compaction.ts";
import { crc32 } from "./crc32.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { isQuarantined } from "./quarantine.ts";
import type { ListSpec } from "./query-spec.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";
import { copyTenant, countEvents } from "./tenant-copy.ts";

const AS_OF = Date.UTC(2030, 0, 1);

/** A version-3 segment file as version 2 wrote it: columns by name (`cols`, `sums`), hsum its header's CRC. */
function asVersion2(bytes: Uint8Array): Uint8Array {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const { columns, kinds, lengths, sums, ...rest } = JSON.parse(
    new TextDecoder().decode(bytes.subarray(12, 12 + length)),
  );
  const cols: Record<string, [string, number, number]> = {};
  const byName: Record<string, number> = {};
  let offset = 0;
  (columns as string).split(" ").forEach((name, i) => {
    cols[name] = [(kinds as string).split(" ")[i]!, offset, lengths[i]];
    if (sums && name !== "hsum") byName[name] = sums[i];
    offset = Math.ceil((offset + lengths[i]) / 8) * 8;
  });
  const json = new TextEncoder().encode(JSON.stringify({ ...rest, cols, ...(sums ? { sums: byName } : {}) }));
  const body = bytes.subarray(Math.ceil((12 + length) / 8) * 8, bytes.length - 4);
  const start = Math.ceil((12 + json.length) / 8) * 8;
  const out = new Uint8Array(start + body.length + 4);
  out.set(bytes.subarray(0, 4));
  out[4] = 2;
  const view = new DataView(out.buffer);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  out.set(body, start);
  if (sums) view.setUint32(start, crc32(json), true);
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const isSegment = (key: string) => key.includes(":ev:") && !isQuarantined(key);

/** A copy of `driver` with every segment file rewritten as version 2 wrote it. */
async function downgraded(driver: Driver): Promise<Driver> {
  const copy = memoryDriver();
  for (const key of await driver.getKeys("", {})) {
    const value = (await driver.getItemRaw!(key, {})) as Uint8Array;
    await copy.setItemRaw!(key, isSegment(key) ? asVersion2(value) : value, {});
  }
  return copy;
}

async function versions(driver: Driver): Promise<number[]> {
  const keys = (await driver.getKeys("", {})).filter(isSegment);
  return Promise.all(keys.map(async (k) => ((await driver.getItemRaw!(k, {})) as Uint8Array)[4]!));
}

/** A store on `driver`, with partial reads (lazy) or without; the ranges each partial read asked. */
function reading(driver: Driver, ranges: boolean) {
  const calls: unknown[] = [];
  const { getItemRanges } = driver as Driver & RangeReadable;
  const wrapped: Driver & Partial<RangeReadable> = {
    ...driver,
    getItemRanges: ranges
      ? async (key: string, r: [number, number][]) => {
          calls.push(r);
          return getItemRanges(key, r);
        }
      : undefined,
  };
  return { store: new EventStore({ storage: createStorage({ driver: wrapped }) }), calls };
}

async function answers(store: EventStore) {
  const out: unknown[] = [];
  for (const q of QUERIES) out.push((await runTally(store, q, AS_OF)).answer());
  return out;
}

describe("version-2 segments in a version-3 store", () => {
  it("answer every bench query as their version-3 twins do, whole and lazily, and compact into version 3", async () => {
    const v3 = await compactedStore();
    const v2 = await downgraded(v3);
    expect(new Set(await versions(v2))).toEqual(new Set([2]));
    const expected = await answers(reading(v3, false).store);
    expect(await answers(reading(v2, false).store)).toEqual(expected);
    const lazy = reading(v2, true);
    expect(await answers(lazy.store)).toEqual(expected);
    // Read lazily: the head first, then columns (a v2 head carries row columns after hsum, not tables).
    expect(lazy.calls.length).toBeGreaterThan(4);
    expect(await answers(lazy.store)).toEqual(expected);

    // More events on the same days, recorded in version 3, compacted with the version-2 segments.
    const more = generateEvents(1500, { start: START + 60 * DAY, end: START + 64 * DAY, seed: 7 }).map(
      (e) => ({
        ...e,
        id: `more-${e.id}`,
      }),
    );
    for (const driver of [v3, v2]) {
      const store = new EventStore({ storage: createStorage({ driver }) });
      await store.record(TENANT, MODULE, more);
      await compactModule(store, TENANT, MODULE);
    }
    expect(new Set(await versions(v2))).toEqual(new Set([3]));
    const after = await answers(reading(v3, false).store);
    expect(after).not.toEqual(expected);
    expect(await answers(reading(v2, false).store)).toEqual(after);
    expect(await answers(reading(v2, true).store)).toEqual(after);
  }, 120_000);

  it("dedup across version-2 and version-3 segments, and a tenant copy of a mixed store, count and answer as the twin", async () => {
    const v3 = await compactedStore();
    const v2 = await downgraded(v3);
    // The same ids again in a version-3 segment beside each version-2 one (a retry racing a merge): every
    // fifth event of each, as a whole read has it, under a key of the same day.
    for (const key of (await v3.getKeys("", {})).filter(isSegment)) {
      const segment = new Segment((await v3.getItemRaw!(key, {})) as Uint8Array, key);
      const twice: StoredEvent[] = [];
      for (let i = 0; i < segment.count; i += 5) twice.push(segment.event(i) as StoredEvent);
      const bytes = encodeSegment(twice, AS_OF - DAY);
      const dupKey = `${key.slice(0, key.lastIndexOf(":"))}:zzretry`;
      for (const driver of [v3, v2]) await driver.setItemRaw!(dupKey, bytes, {});
    }
    expect(new Set(await versions(v2))).toEqual(new Set([2, 3]));
    const twin = reading(v3, false).store;
    const expected = await answers(twin);
    const count = await countEvents(twin, TENANT, MODULE);
    expect(count).toBe(8000);
    for (const lazy of [false, true]) {
      const { store } = reading(v2, lazy);
      expect(await countEvents(store, TENANT, MODULE)).toBe(count);
      expect(await answers(store)).toEqual(expected);
    }
    const dest = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    const report = await copyTenant(reading(v2, true).store, dest, TENANT);
    expect(report.modules).toEqual([{ module: MODULE, source: count, dest: count }]);
    expect(await answers(dest)).toEqual(expected);
    // Compacted, the mixed partitions become version 3 with every duplicate dropped.
    await compactModule(new EventStore({ storage: createStorage({ driver: v2 }) }), TENANT, MODULE);
    expect(new Set(await versions(v2))).toEqual(new Set([3]));
    const merged = reading(v2, true).store;
    expect(await countEvents(merged, TENANT, MODULE)).toBe(count);
    expect(await answers(merged)).toEqual(expected);
  }, 120_000);

  it("exports the same CSV (every column, and chosen ones, both orders) from version-2 segments, whole and lazily", async () => {
    const v3 = await compactedStore();
    const v2 = await downgraded(v3);
    for (const order of ["asc", "desc"] as const)
      for (const columns of [[], ["org", "supplies.name"]]) {
        const spec: ListSpec = {
          tenant: TENANT,
          module: MODULE,
          start: START + 60 * DAY,
          end: START + 64 * DAY,
          types: [],
          filters: [],
          asOf: AS_OF,
          order,
        };
        const expected = await exportedEvents(reading(v3, false).store, spec, columns);
        expect(expected.split("\n").length).toBeGreaterThan(8000);
        for (const lazy of [false, true])
          expect(
            await exportedEvents(reading(v2, lazy).store, spec, columns),
            `${order} ${columns} ${lazy}`,
          ).toBe(expected);
      }
  }, 120_000);
});
