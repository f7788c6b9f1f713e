import fc from "fast-check";
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../scripts/bench-data.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import type { RangeReadable } from "../storage-drivers/ranges.ts";
import { compactModule } from "./compaction.ts";
import { deleteData, resumeDeletions, TOMBSTONE_GRACE_MS } from "./deletion.ts";
import { EventStore } from "./event-store.ts";
import { FingerprintSet, fingerprint, hashed } from "./id-fingerprints.ts";
import type { StoredEvent } from "./json.ts";
import { dayOf } from "./keys.ts";

const DAY = Date.UTC(2026, 2, 3);
const event = (id: string, time: number): StoredEvent => ({
  id,
  type: "t",
  time,
  data: { n: 1 },
  lat: Number.NaN,
  lon: Number.NaN,
});

describe("fingerprint set", () => {
  it("finds what was added, with its latest owner, and nothing else (against a Map)", () => {
    const op = fc.record({
      id: fc.string({ maxLength: 6 }),
      time: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.double({ min: -1e13, max: 1e13, noNaN: true })),
      owner: fc.nat(1000),
      add: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const set = new FingerprintSet(4);
        const naive = new Map<string, number>();
        for (const { id, time, owner, add } of ops) {
          const key = `${id}\u0000${time}`;
          fingerprint(id, time);
          if (add) {
            set.add(owner);
            naive.set(key, owner);
          } else expect(set.find()).toBe(naive.get(key) ?? -1);
        }
        expect(set.size).toBe(naive.size);
      }),
      { numRuns: 300 },
    );
  });

  it("spreads near-identical keys (no collisions among 200,000 sequential ids and times)", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      fingerprint(`evt-${i}`, DAY);
      seen.add(`${hashed.a}/${hashed.b}`);
      fingerprint("evt-1", DAY + i);
      seen.add(`${hashed.a}/${hashed.b}`);
    }
    // evt-1 at DAY + 1 appears in both runs' keys once each; everything else is distinct.
    expect(seen.size).toBe(199_999);
  });
});

describe("writers' duplicate check through partition fingerprints", () => {
  const setup = (idIndexBytes?: number) => {
    const storage = createStorage({ driver: memoryDriver() });
    return { storage, store: new EventStore({ storage, idIndexBytes }) };
  };
  const count = async (store: EventStore) => {
    let n = 0;
    for await (const p of store.partitions("t", "m", DAY, DAY + 86_400_000))
      for (const s of p.segments) n += s.segment.count - (s.duplicates?.reduce((a, b) => a + b, 0) ?? 0);
    return n;
  };

  it("drops retries written by this process, by another process and after compaction", async () => {
    const { storage, store } = setup();
    const other = new EventStore({ storage });
    const batch = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => event(`e${from + i}`, DAY + (from + i) * 1000));
    expect(await store.record("t", "m", batch(0, 50))).toEqual({ accepted: 50, duplicates: 0 });
    expect(await store.record("t", "m", batch(40, 60))).toEqual({ accepted: 10, duplicates: 10 });
    // Another process wrote these: this one reads its segment once, when its listing first shows it.
    expect(await other.record("t", "m", batch(60, 80))).toEqual({ accepted: 20, duplicates: 0 });
    expect(await store.record("t", "m", batch(70, 90))).toEqual({ accepted: 10, duplicates: 10 });
    // Another process merges and deletes every segment this one's fingerprints name.
    await compactModule(other, "t", "m");
    expect(await store.record("t", "m", batch(0, 100))).toEqual({ accepted: 10, duplicates: 90 });
    expect(await count(store)).toBe(100);
  });

  it("accepts again what a deletion removed", async () => {
    const { store } = setup();
    await store.record("t", "m", [event("a", DAY), event("b", DAY + 1)]);
    await deleteData(store, { tenant: "t", module: "m" });
    expect(await store.record("t", "m", [event("a", DAY), event("c", DAY + 2)])).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    expect(await count(store)).toBe(2);
  });

  it("accepts again what another process deleted, once its tombstone is retired (a segment still cached here)", async () => {
    const { storage, store } = setup();
    await store.record("t", "m", [event("a", DAY), event("b", DAY + 1)]);
    // A retry reads the segment its fingerprints name, and a query reads it too: both keep it cached.
    expect(await store.record("t", "m", [event("a", DAY)])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await count(store)).toBe(2);
    const other = new EventStore({ storage });
    await deleteData(other, { tenant: "t", module: "m" });
    // The sweep after the grace period retires the tombstone (another process, its clock past the grace).
    const later = new EventStore({ storage, now: () => Date.now() + TOMBSTONE_GRACE_MS + 60_000 });
    await resumeDeletions(later);
    expect(await storage.getKeys("")).toEqual([]);
    expect(await store.record("t", "m", [event("a", DAY), event("c", DAY + 2)])).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    expect(await count(store)).toBe(2);
  });

  it("rebuilds when a segment it names has gone (removed by another process)", async () => {
    const { storage, store } = setup();
    await store.record("t", "m", [event("a", DAY), event("b", DAY + 1)]);
    for (const key of await storage.getKeys("")) await storage.removeItem(key);
    expect(await store.record("t", "m", [event("a", DAY), event("b", DAY + 1)])).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    expect(await store.record("t", "m", [event("a", DAY)])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await count(store)).toBe(2);
  });

  it("confirms a hit in the segment named, so a fingerprint collision never drops an event", async () => {
    const { store } = setup();
    await store.record("t", "m", [event("a", DAY)]);
    const entry = store.ids.peek(`t:m:${dayOf(DAY)}`)!;
    const key = entry.keys[0]!;
    // Make "x" look held by a's segment, as a colliding fingerprint would.
    entry.addSegment(
      key,
      1,
      () => "x",
      () => DAY + 5,
    );
    expect(await store.record("t", "m", [event("x", DAY + 5), event("a", DAY)])).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    expect(await count(store)).toBe(2);
  });

  it("finds a retry whose fingerprint a later distinct event of the partition shares (a real collision)", async () => {
    // Two distinct events of one day with equal 64-bit fingerprints, found by solving the hash's bits
    // (integer milliseconds, so a client can send both). The later one took the slot's owner.
    const [a, b] = [event("a", 1772681040585), event("kehfzf", 1772747319443)];
    fingerprint(a.id, a.time);
    const first = [hashed.a, hashed.b];
    fingerprint(b.id, b.time);
    expect([hashed.a, hashed.b]).toEqual(first);
    expect(dayOf(a.time)).toBe(dayOf(b.time));
    const { store } = setup();
    expect(await store.record("t", "m", [a])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await store.record("t", "m", [b])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await store.record("t", "m", [{ ...a }])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await store.record("t", "m", [{ ...b }])).toEqual({ accepted: 0, duplicates: 1 });
    // The partition holds the two events once each: no retry was written again.
    let rows = 0;
    for await (const p of store.partitions("t", "m", a.time, a.time + 86_400_000))
      for (const s of p.segments) rows += s.segment.count;
    expect(rows).toBe(2);
  });

  it("gives the same answers with no index, a tiny one and the default (random retries)", async () => {
    const ev = fc.record({ id: fc.constantFrom("a", "b", "c", "d"), t: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(ev, { maxLength: 6 }), { maxLength: 8 }), async (batches) => {
        const results = [];
        for (const bytes of [0, 300, undefined]) {
          const { store } = setup(bytes);
          const answers = [];
          for (const b of batches)
            answers.push(
              await store.record(
                "t",
                "m",
                b.map((e) => event(e.id, DAY + e.t)),
              ),
            );
          results.push({ answers, count: await count(store) });
        }
        expect(results[1]).toEqual(results[0]);
        expect(results[2]).toEqual(results[0]);
        expect(results[0]!.count).toBe(new Set(batches.flat().map((e) => `${e.id}/${e.t}`)).size);
      }),
      { numRuns: 60 },
    );
  });

  it("stops indexing a partition over the whole budget, and searches only segments its batch's times meet", async () => {
    const driver = memoryDriver();
    const writer = new EventStore({ storage: createStorage({ driver }) });
    const morning = generateEvents(3000, { start: DAY, end: DAY + 12 * 3_600_000 });
    for (let i = 0; i < morning.length; i += 1000) await writer.record("t", "m", morning.slice(i, i + 1000));
    await compactModule(writer, "t", "m");
    // Count the bytes another process reads of the merged segment (a large one: read lazily).
    const read = { bytes: 0 };
    const { getItemRanges } = driver as Driver & RangeReadable;
    const counting: Driver & RangeReadable = {
      ...driver,
      getItemRaw: async (key: string, opts: unknown) => {
        const value = (await driver.getItemRaw!(key, opts as never)) as Uint8Array | null;
        read.bytes += value?.byteLength ?? 0;
        return value;
      },
      getItemRanges: async (key: string, ranges: readonly (readonly [number, number])[]) => {
        const got = await getItemRanges(key, ranges);
        for (const part of got?.parts ?? []) read.bytes += part.byteLength;
        return got;
      },
    };
    const store = new EventStore({ storage: createStorage({ driver: counting }), idIndexBytes: 1024 });
    const evening = [event("late-1", DAY + 20 * 3_600_000), event("late-2", DAY + 21 * 3_600_000)];
    expect(await store.record("t", "m", evening)).toEqual({ accepted: 2, duplicates: 0 });
    const partition = `t:m:${dayOf(DAY)}`;
    // Over the budget: remembered, so later writes do not read the partition again to find out.
    expect(store.ids.peek(partition)).toBeUndefined();
    read.bytes = 0;
    expect(await store.record("t", "m", [event("late-3", DAY + 22 * 3_600_000), evening[0]!])).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    expect(store.ids.peek(partition)).toBeUndefined();
    // The merged segment (~1 MB) ends before these times: only its header was read.
    expect(read.bytes).toBeLessThan(64 * 1024);
    // A retry of a morning event meets the merged segment: its times and ids are read, and it is found.
    const retried = morning[1234]!;
    expect(await store.record("t", "m", [{ ...retried }])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await count(store)).toBe(3003);
  });
});
