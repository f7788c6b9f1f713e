/**
 * Compaction is crash-safe: a crash injected before every write and delete it makes leaves every event
 * counted exactly once, the next compaction finishes the job, retries stay duplicates, and two compactors
 * racing on one partition double nothing.
 */
import { createStorage, type Storage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { countSpec } from "../test/count-spec.ts";
import { compactPartition } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { listEvents } from "./list-events.ts";
import { INLINE_ENCODER, mergeSegments, type SegmentEncoder } from "./segment-encoder.ts";
import { querySeries } from "./series.ts";

const DAY = "20260329";
const T0 = Date.UTC(2026, 2, 29);
/** The partition's day, listed in order (each test adds its snapshot's `asOf`). */
const daySelection = {
  tenant: "t",
  module: "m",
  start: T0,
  end: T0 + 86_400_000,
  types: [],
  filters: [],
  order: "asc" as const,
};
const ev = (id: string, minute: number, org = "o1"): StoredEvent => ({
  id,
  type: "enrolled",
  time: T0 + minute * 60_000,
  data: { org, n: minute },
  lat: Number.NaN,
  lon: Number.NaN,
});

/** Batches with overlapping times and a racing retry stored twice (as two processes would). */
function batches(): StoredEvent[][] {
  const out: StoredEvent[][] = [];
  for (let b = 0; b < 8; b++)
    out.push(Array.from({ length: 25 }, (_, i) => ev(`b${b}-${i}`, (b * 7 + i * 3) % 600)));
  return out;
}
const DISTINCT = 8 * 25;

/** Storage whose n-th mutation (write or delete) throws, and every one after it: a process that died. */
function crashingStorage(base: Storage, crashAt: number): Storage & { mutations: () => number } {
  let count = 0;
  const mutate =
    <A extends unknown[]>(fn: (...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      count++;
      if (count >= crashAt) throw new Error("crash");
      return fn(...args);
    };
  return Object.assign(Object.create(base) as Storage, {
    setItemRaw: mutate(base.setItemRaw.bind(base)),
    removeItem: mutate(base.removeItem.bind(base)),
    mutations: () => count,
  });
}

async function seeded(): Promise<Storage> {
  const storage = createStorage({ driver: memoryDriver() });
  const store = new EventStore({ storage });
  for (const batch of batches()) await store.record("t", "m", batch);
  // A retry that raced its first attempt: stored a second time, bypassing write-time dedup.
  const racing = new EventStore({ storage });
  await racing.writeSegment("t", "m", DAY, batches()[3]!, []);
  return storage;
}

async function countAll(storage: Storage): Promise<{ total: number; ids: string[] }> {
  const store = new EventStore({ storage });
  const series = await querySeries(store, countSpec(T0, { interval: "total" }), { maxGroups: 10 });
  const { events } = await listEvents(store, { ...daySelection, asOf: Number.MAX_VALUE }, 10_000, undefined);
  return { total: series.value(0, 0), ids: events.map((e) => e.id).sort() };
}

const segmentKeys = async (storage: Storage) => (await storage.getKeys(`v1:t:m:ev:${DAY}`)).length;

/**
 * An encoder that merges "elsewhere" (as the Node server's worker does: the inputs read again as stored),
 * here in this thread, counting its merges.
 */
function mergingEncoder(): SegmentEncoder & { merges: number } {
  const encoder = {
    merges: 0,
    encode: INLINE_ENCODER.encode,
    merge: async (...args: Parameters<typeof mergeSegments>) => {
      encoder.merges++;
      return mergeSegments(...args);
    },
  };
  return encoder;
}

describe.each([
  ["merged in the calling thread", () => undefined],
  ["merged by the encoder", () => mergingEncoder()],
])("compaction, %s", (_, encoderOf) => {
  const storeOn = (storage: Storage) => new EventStore({ storage, encoder: encoderOf() });

  it("merges a partition's segments and keeps every event once", async () => {
    const storage = await seeded();
    expect(await segmentKeys(storage)).toBe(9);
    const before = await countAll(storage);
    expect(before.total).toBe(DISTINCT);
    const encoder = encoderOf();
    const store = new EventStore({ storage, encoder });
    const result = await compactPartition(store, "t", "m", DAY);
    expect(encoder?.merges ?? 1).toBe(1);
    expect(result).toEqual({ segmentsBefore: 9, segmentsAfter: 1 });
    expect(await segmentKeys(storage)).toBe(1);
    expect(await countAll(storage)).toEqual(before);
    const retry = await new EventStore({ storage }).record("t", "m", batches()[5]!);
    expect(retry).toEqual({ accepted: 0, duplicates: 25 });
    // The compacting store's own index has the merged segment's events too.
    expect(await store.record("t", "m", batches()[6]!)).toEqual({ accepted: 0, duplicates: 25 });
  });

  it("counts every event exactly once after a crash at any step, and the next run finishes", async () => {
    const full = crashingStorage(await seeded(), Number.MAX_SAFE_INTEGER);
    await compactPartition(storeOn(full), "t", "m", DAY);
    const steps = full.mutations();
    expect(steps).toBe(1 + 9);
    const expected = await countAll(full);
    for (let crashAt = 1; crashAt <= steps; crashAt++) {
      const base = await seeded();
      const crashing = crashingStorage(base, crashAt);
      await expect(compactPartition(storeOn(crashing), "t", "m", DAY)).rejects.toThrow();
      expect(await countAll(base), `crash at step ${crashAt}`).toEqual(expected);
      await compactPartition(new EventStore({ storage: base }), "t", "m", DAY);
      expect(await segmentKeys(base), `after recovery from step ${crashAt}`).toBe(1);
      expect(await countAll(base)).toEqual(expected);
      const retry = await new EventStore({ storage: base }).record("t", "m", batches()[0]!);
      expect(retry.duplicates).toBe(25);
    }
  });

  it("doubles nothing when two compactors race on one partition", async () => {
    const storage = await seeded();
    const expected = await countAll(storage);
    await Promise.all([
      compactPartition(storeOn(storage), "t", "m", DAY),
      compactPartition(storeOn(storage), "t", "m", DAY),
    ]);
    expect(await countAll(storage)).toEqual(expected);
    await compactPartition(new EventStore({ storage }), "t", "m", DAY);
    expect(await countAll(storage)).toEqual(expected);
    expect(await segmentKeys(storage)).toBe(1);
  });

  it("an input gone before the encoder could read it again is merged from the segment as loaded", async () => {
    const storage = await seeded();
    const expected = await countAll(storage);
    const encoder = mergingEncoder();
    // The second read of one input (the merge's; the first loaded the partition) finds it gone, as when
    // another process compacted it meanwhile.
    const [victim] = await storage.getKeys(`v1:t:m:ev:${DAY}`);
    let reads = 0;
    const racing = Object.assign(Object.create(storage) as Storage, {
      getItemRaw: async (key: string) => (key === victim && ++reads === 2 ? null : storage.getItemRaw(key)),
    });
    const result = await compactPartition(new EventStore({ storage: racing, encoder }), "t", "m", DAY);
    expect(result).toEqual({ segmentsBefore: 9, segmentsAfter: 1 });
    expect(reads).toBe(2);
    expect(encoder.merges).toBe(0);
    expect(await countAll(storage)).toEqual(expected);
  });

  it("leaves partitions with few small segments alone, and keeps ingestion instants", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    let clock = 1000;
    const store = new EventStore({ storage, now: () => clock });
    await store.record("t", "m", [ev("a", 1)]);
    expect(await compactPartition(store, "t", "m", DAY)).toEqual({ segmentsBefore: 1, segmentsAfter: 1 });
    clock = 2000;
    await store.record("t", "m", [ev("b", 2)]);
    clock = 3000;
    await compactPartition(store, "t", "m", DAY);
    // A snapshot taken between the two writes still sees only the first event after compaction.
    const { events } = await listEvents(
      new EventStore({ storage }),
      { ...daySelection, asOf: 1500 },
      10,
      undefined,
    );
    expect(events.map((e) => e.id)).toEqual(["a"]);
  });
});

describe("a retry racing a compaction", () => {
  it("keeps a snapshot's answer: the merged copy of an event is not hidden behind a later racing copy", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    let clock = 1000;
    const store = new EventStore({ storage, now: () => clock });
    await store.record("t", "m", [ev("a", 1)]);
    clock = 2000;
    await store.record("t", "m", [ev("b", 2)]);
    const snapshot = async () =>
      (
        await listEvents(new EventStore({ storage }), { ...daySelection, asOf: 3000 }, 10, undefined)
      ).events.map((e) => e.id);
    expect(await snapshot()).toEqual(["a", "b"]);
    // A compactor lists the partition (as compactPartition does) ...
    const { live } = await store.partitionState("t", "m", DAY);
    // ... then a retry of "a" races its first write (another process, which did not see it) ...
    clock = 4000;
    await new EventStore({ storage, now: () => clock }).writeSegment("t", "m", DAY, [ev("a", 1)], []);
    expect(await snapshot()).toEqual(["a", "b"]);
    // ... and the compactor writes its merge (named after the retry's segment) and deletes its inputs.
    clock = 5000;
    await store.writeMerged(
      "t",
      "m",
      DAY,
      live.map((s) => ({ ...s, mask: null })),
      live.map((s) => s.name),
    );
    for (const s of live) await store.removeSegment(s.key);
    // Still both at the snapshot (the merged "a" was ingested at 1000), and "a" once now.
    expect(await snapshot()).toEqual(["a", "b"]);
    const now = await listEvents(new EventStore({ storage }), { ...daySelection, asOf: 9000 }, 10, undefined);
    expect(now.events.map((e) => e.id)).toEqual(["a", "b"]);
    // The next compaction keeps one copy, the first ingested.
    await compactPartition(new EventStore({ storage }), "t", "m", DAY);
    expect(await segmentKeys(storage)).toBe(1);
    expect(await snapshot()).toEqual(["a", "b"]);
  });
});
