/**
 * Deletion and retention are crash-safe: a crash at every step of a deletion shows either all of the
 * deleted data or none (never part), the next sweep finishes it, writes that come after a deletion started
 * are kept, look-alike tenants and other modules are untouched, and a compaction racing the deletion
 * brings nothing back.
 */
import { createStorage, type Storage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactPartition } from "./compaction.ts";
import { deleteData, resumeDeletions, TOMBSTONE_GRACE_MS } from "./deletion.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { listEvents } from "./list-events.ts";
import { applyRetention, startMaintenance } from "./retention.ts";

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);
const ev = (id: string, day: number, minute = 0): StoredEvent => ({
  id,
  type: "x",
  time: T0 + day * DAY_MS + minute * 60_000,
  data: { id },
  lat: Number.NaN,
  lon: Number.NaN,
});

/** Storage whose n-th removal throws, and every mutation after it: a process that died there. */
function crashingStorage(base: Storage, crashAt: number): Storage & { removals: () => number } {
  let removals = 0;
  let dead = false;
  const guard =
    <A extends unknown[]>(fn: (...args: A) => Promise<unknown>, isRemoval: boolean) =>
    async (...args: A) => {
      if (isRemoval && ++removals >= crashAt) dead = true;
      if (dead) throw new Error("crash");
      return fn(...args);
    };
  return Object.assign(Object.create(base) as Storage, {
    setItem: guard(base.setItem.bind(base), false),
    setItemRaw: guard(base.setItemRaw.bind(base), false),
    removeItem: guard(base.removeItem.bind(base), true),
    removals: () => removals,
  });
}

async function ids(store: EventStore, tenant: string, module: string): Promise<string[]> {
  const sel = { tenant, module, start: T0 - 400 * DAY_MS, end: T0 + 40 * DAY_MS, types: [], filters: [] };
  const { events } = await listEvents(
    store,
    { ...sel, asOf: Number.MAX_VALUE, order: "asc" },
    100_000,
    undefined,
  );
  return events.map((e) => e.id).sort();
}

let clock = T0 + 10 * DAY_MS;
const now = () => clock;

/** Two modules of acme over 5 days, plus look-alike tenants holding the same module. */
async function seeded(): Promise<Storage> {
  const storage = createStorage({ driver: memoryDriver() });
  const store = new EventStore({ storage, now });
  for (const tenant of ["acme", "acme-eu", "acme0"]) {
    for (const module of ["mod-disco", "mod-disc"]) {
      for (let b = 0; b < 3; b++) {
        clock += 1;
        await store.record(
          tenant,
          module,
          Array.from({ length: 5 }, (_, i) => ev(`${tenant}/${module}/${b}-${i}`, i, b)),
        );
      }
    }
  }
  return storage;
}

describe("deleteData", () => {
  it("deletes one module of one tenant, and nothing else", async () => {
    const storage = await seeded();
    const store = new EventStore({ storage, now });
    const others = {
      disc: await ids(store, "acme", "mod-disc"),
      eu: await ids(store, "acme-eu", "mod-disco"),
      zero: await ids(store, "acme0", "mod-disco"),
    };
    expect(others.disc).toHaveLength(15);
    clock += 1;
    const result = await deleteData(store, { tenant: "acme", module: "mod-disco" });
    expect(result.segments).toBe(15); // 3 batches × 5 days
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    expect(await ids(store, "acme", "mod-disc")).toEqual(others.disc);
    expect(await ids(store, "acme-eu", "mod-disco")).toEqual(others.eu);
    expect(await ids(store, "acme0", "mod-disco")).toEqual(others.zero);
    expect(await storage.getKeys("v1:acme:mod-disco")).toEqual([]);
    // Deleted events are gone, not remembered: recording them again stores them again.
    clock += 1;
    expect(await store.record("acme", "mod-disco", [ev("acme/mod-disco/0-0", 0)])).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    expect(await ids(store, "acme", "mod-disco")).toEqual(["acme/mod-disco/0-0"]);
  });

  it("deletes a quarantined segment with the rest, so the module's queries answer again", async () => {
    const storage = await seeded();
    const store = new EventStore({ storage, now });
    const [victim] = await storage.getKeys("v1:acme:mod-disco");
    const bytes = (await storage.getItemRaw(victim!)) as Uint8Array;
    await storage.setItemRaw(victim!, bytes.subarray(0, bytes.byteLength - 9));
    await expect(ids(store, "acme", "mod-disco")).rejects.toThrow(/corrupt/);
    expect(await storage.hasItem(`${victim!}.quarantined`)).toBe(true);
    await expect(ids(store, "acme", "mod-disco")).rejects.toThrow(/quarantined/);
    clock += 1;
    await deleteData(store, { tenant: "acme", module: "mod-disco" });
    expect(await storage.getKeys("v1:acme:mod-disco")).toEqual([]);
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
  });

  it("deletes a whole tenant, keeping look-alike tenants", async () => {
    const storage = await seeded();
    const store = new EventStore({ storage, now });
    const eu = await ids(store, "acme-eu", "mod-disco");
    clock += 1;
    expect((await deleteData(store, { tenant: "acme" })).segments).toBe(30);
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    expect(await ids(store, "acme", "mod-disc")).toEqual([]);
    expect(await ids(store, "acme-eu", "mod-disco")).toEqual(eu);
    expect(await storage.getKeys("v1:acme")).toEqual([]);
  });

  it("never shows half-deleted data after a crash at any step, and the next sweep finishes", async () => {
    const full = crashingStorage(await seeded(), Number.MAX_SAFE_INTEGER);
    clock += 1;
    await deleteData(new EventStore({ storage: full, now }), { tenant: "acme", module: "mod-disco" });
    const steps = full.removals();
    expect(steps).toBe(15);
    for (let crashAt = 1; crashAt <= steps; crashAt++) {
      const base = await seeded();
      const kept = await ids(new EventStore({ storage: base, now }), "acme", "mod-disc");
      clock += 1;
      await expect(
        deleteData(new EventStore({ storage: crashingStorage(base, crashAt), now }), {
          tenant: "acme",
          module: "mod-disco",
        }),
      ).rejects.toThrow();
      // A fresh process: some segments are still on disk, none is visible.
      const store = new EventStore({ storage: base, now });
      expect((await base.getKeys("v1:acme:mod-disco")).length, `crash at ${crashAt}`).toBe(15 - crashAt + 1);
      expect(await ids(store, "acme", "mod-disco"), `crash at ${crashAt}`).toEqual([]);
      expect(await ids(store, "acme", "mod-disc")).toEqual(kept);
      expect(await resumeDeletions(store)).toBe(15 - crashAt + 1);
      expect(await base.getKeys("v1:acme:mod-disco")).toEqual([]);
      expect(await base.getKeys("sys:tombstones")).toHaveLength(1);
      clock += TOMBSTONE_GRACE_MS + 1;
      await resumeDeletions(store);
      expect(await base.getKeys("sys:tombstones")).toEqual([]);
      expect(await ids(store, "acme", "mod-disc")).toEqual(kept);
    }
  });

  it("covers a write made just before it, however close (the store's own clock never repeats an instant)", async () => {
    const store = new EventStore({ storage: createStorage({ driver: memoryDriver() }) });
    let last = store.now();
    for (let i = 0; i < 10_000; i++) {
      const next = store.now();
      // Segment names keep microseconds: two instants must differ there too.
      expect(Math.floor(next * 1000)).toBeGreaterThan(Math.floor(last * 1000));
      last = next;
    }
    for (let i = 0; i < 50; i++) {
      await store.record("t", "m", [ev(`a${i}`, 0)]);
      await deleteData(store, { tenant: "t", module: "m" });
      expect(await ids(store, "t", "m")).toEqual([]);
    }
  });

  it("keeps what is written after the deletion started", async () => {
    const storage = await seeded();
    const store = new EventStore({ storage, now });
    clock += 1;
    const stone = await store.tombstones.write({ tenant: "acme", module: "mod-disco" }, clock);
    clock += 1;
    await store.record("acme", "mod-disco", [ev("late", 2)]);
    expect(await ids(store, "acme", "mod-disco")).toEqual(["late"]);
    await resumeDeletions(store);
    expect(await ids(store, "acme", "mod-disco")).toEqual(["late"]);
    expect(stone.before).toBeLessThan(clock);
  });

  it("brings nothing back when a compaction that listed before the deletion writes after it", async () => {
    const storage = await seeded();
    const store = new EventStore({ storage, now });
    const day = "20260301";
    // The compaction lists and loads first…
    const slow = new EventStore({ storage, now });
    const state = await slow.partitionState("acme", "mod-disco", day);
    expect(state.live).toHaveLength(3);
    clock += 1;
    await deleteData(store, { tenant: "acme", module: "mod-disco" });
    // …and writes its merge of the (now deleted) inputs afterwards.
    clock += 1;
    await slow.writeSegment(
      "acme",
      "mod-disco",
      day,
      state.live.flatMap((s) => Array.from({ length: s.segment.count }, (_, r) => s.segment.event(r))),
      state.live.map((s) => s.name),
    );
    expect(await storage.getKeys(`v1:acme:mod-disco:ev:${day}`)).toHaveLength(1);
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    // And a compaction from now on does not revive it either.
    await compactPartition(store, "acme", "mod-disco", day);
    expect(await ids(store, "acme", "mod-disco")).toEqual([]);
    expect(await resumeDeletions(store)).toBe(1);
    expect(await storage.getKeys("v1:acme:mod-disco")).toEqual([]);
  });
});

describe("maintenance", () => {
  it("finishes a deletion a crash interrupted as soon as a server starts", async () => {
    const base = await seeded();
    clock += 1;
    await expect(
      deleteData(new EventStore({ storage: crashingStorage(base, 4), now }), {
        tenant: "acme",
        module: "mod-disco",
      }),
    ).rejects.toThrow();
    expect(await base.getKeys("v1:acme:mod-disco")).toHaveLength(12);
    const logged: string[] = [];
    const stop = startMaintenance(new EventStore({ storage: base, now }), [], 3_600_000, (m) =>
      logged.push(m),
    );
    try {
      for (let i = 0; i < 100 && (await base.getKeys("v1:acme:mod-disco")).length > 0; i++)
        await new Promise((r) => setTimeout(r, 10));
    } finally {
      stop();
    }
    expect(await base.getKeys("v1:acme:mod-disco")).toEqual([]);
    expect(logged).toEqual([]);
  });
});

describe("retention", () => {
  it("hides partitions older than the retention at once, then deletes them", async () => {
    const storage = await seeded();
    clock = T0 + 12 * DAY_MS; // days 0..4 hold events; keep 10 days: from day 2 on
    const store = new EventStore({
      storage,
      now,
      retentionDays: (m) => (m === "mod-disco" ? 10 : undefined),
    });
    const visible = (await ids(store, "acme", "mod-disco")).map((id) => id);
    expect(visible).toHaveLength(9); // 3 batches × days 2, 3, 4
    expect(visible.every((id) => /-[234]$/.test(id))).toBe(true);
    expect(await ids(store, "acme", "mod-disc")).toHaveLength(15);
    // 3 tenants × 2 expired days × 3 segments.
    expect(await applyRetention(store, ["mod-disco", "mod-disc"])).toBe(18);
    expect(await storage.getKeys("v1:acme:mod-disco:ev:20260301")).toEqual([]);
    expect(await storage.getKeys("v1:acme:mod-disco:ev:20260302")).toEqual([]);
    expect(await storage.getKeys("v1:acme:mod-disco:ev:20260303")).toHaveLength(3);
    // A process configured without the retention still sees no half-deleted day.
    expect(await ids(new EventStore({ storage, now }), "acme", "mod-disco")).toHaveLength(9);
  });
});
