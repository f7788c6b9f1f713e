/**
 * A lazy read's first request (128 KiB) on every driver with partial reads: a compacted segment shorter
 * than that comes back whole in that one request and is read whole (no second request); one longer is read
 * lazily. Answers equal a store without partial reads.
 */
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { DAY, MODULE, QUERIES, runTally, START, TENANT } from "../scripts/bench-queries.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import type { RangeReadable } from "../storage-drivers/ranges.ts";
import { capableDrivers } from "../storage-drivers/test-drivers.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import { isQuarantined } from "./quarantine.ts";

const AS_OF = Date.UTC(2030, 0, 1);
const HEAD = 128 * 1024;

/** Compacted days: one small (< 128 KiB) and one large (> 128 KiB) segment, plus the store's other keys. */
async function source(): Promise<Driver> {
  const driver = memoryDriver();
  const store = new EventStore({ storage: createStorage({ driver }) });
  const small = generateEvents(150, { start: START + 60 * DAY, end: START + 61 * DAY, seed: 3 });
  const large = generateEvents(3000, { start: START + 61 * DAY, end: START + 62 * DAY, seed: 4 });
  for (const events of [small, large])
    for (let i = 0; i < events.length; i += 500) await store.record(TENANT, MODULE, events.slice(i, i + 500));
  await compactModule(store, TENANT, MODULE);
  return driver;
}

const isSegment = (key: string) => key.includes(":ev:") && !isQuarantined(key);

describe.each(Object.entries(capableDrivers("lazy-head")))("a lazy read's first request (%s)", (_, make) => {
  it("reads a segment shorter than it whole in that one request, and a longer one lazily", async () => {
    const from = await source();
    const driver = await make();
    const sizes = new Map<string, number>();
    for (const key of await from.getKeys("", {})) {
      const value = (await from.getItemRaw!(key, {})) as Uint8Array;
      await driver.setItemRaw!(key, value, {});
      if (isSegment(key)) sizes.set(key, value.byteLength);
    }
    const lengths = [...sizes.values()].sort((a, b) => a - b);
    expect(lengths.length).toBe(2);
    expect(lengths[0]).toBeLessThan(HEAD);
    expect(lengths[1]).toBeGreaterThan(HEAD);

    const calls: { key: string; ranges: [number, number][]; got: number[] }[] = [];
    const { getItemRanges } = driver as Driver & RangeReadable;
    const counted: Driver = {
      ...driver,
      getItemRanges: async (key: string, ranges: [number, number][]) => {
        const out = await getItemRanges(key, ranges);
        calls.push({ key, ranges, got: (out?.parts ?? []).map((p) => p.byteLength) });
        return out;
      },
    } as Driver;
    const lazy = new EventStore({ storage: createStorage({ driver: counted }) });
    const plain: Driver & Partial<RangeReadable> = { ...from, getItemRanges: undefined };
    const whole = new EventStore({ storage: createStorage({ driver: plain }) });
    for (const q of QUERIES) {
      expect((await runTally(lazy, q, AS_OF)).answer(), q.name).toEqual(
        (await runTally(whole, q, AS_OF)).answer(),
      );
    }
    const [smallKey] = [...sizes].find(([, n]) => n < HEAD)!;
    const [largeKey] = [...sizes].find(([, n]) => n > HEAD)!;
    const small = calls.filter((c) => c.key.endsWith(smallKey.split(":").slice(-3).join(":")));
    expect(small).toEqual([{ key: small[0]!.key, ranges: [[0, HEAD]], got: [sizes.get(smallKey)!] }]);
    const large = calls.filter((c) => c.key.endsWith(largeKey.split(":").slice(-3).join(":")));
    expect(large[0]!.ranges).toEqual([[0, HEAD]]);
    expect(large[0]!.got).toEqual([HEAD]);
    expect(large.length).toBeGreaterThan(1);
    await driver.dispose?.();
  }, 120_000);
});
