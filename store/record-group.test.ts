/**
 * Concurrent record calls committed as a group (group-commit.ts): each answered as if it ran alone after
 * the calls before it, every event stored once, and a failed write storing nothing of any member.
 */
import fc from "fast-check";
import { createStorage, type Driver } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";

const DAY = Date.UTC(2026, 2, 3);
const event = (id: string, time: number): StoredEvent => ({
  id,
  type: "t",
  time,
  data: { id },
  lat: Number.NaN,
  lon: Number.NaN,
});

/** A memory store whose writes wait for `open()`, and fail while `failing(key)` says so. */
function gatedStore(groupCommit = true) {
  const memory = memoryDriver();
  let open: () => void = () => {};
  let gate = Promise.resolve();
  const control = {
    writes: [] as string[],
    failing: (_key: string) => false,
    close: () => {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    open: () => open(),
  };
  const driver: Driver = {
    ...memory,
    setItemRaw: async (key: string, value: unknown, opts: unknown) => {
      await gate;
      if (control.failing(key))
        throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      control.writes.push(key);
      return memory.setItemRaw!(key, value, opts as never);
    },
  };
  const store = new EventStore({ storage: createStorage({ driver }), groupCommit });
  return { store, control };
}

async function stored(store: EventStore): Promise<string[]> {
  const out: string[] = [];
  for await (const p of store.partitions("t", "m", DAY - 86_400_000, DAY + 2 * 86_400_000))
    for (const { segment, duplicates } of p.segments)
      for (let r = 0; r < segment.count; r++)
        if (!duplicates?.[r]) out.push(`${segment.id(r)}/${segment.time[r]}`);
  return out.sort();
}

const eventArb = fc
  .record({ id: fc.constantFrom("a", "b", "c", "d"), t: fc.integer({ min: -1, max: 2 }) })
  // Some on the day before: a group spans two partitions.
  .map(({ id, t }) => event(id, DAY + t * 3_600_000 * (t < 0 ? 24 : 1)));

describe("record: concurrent calls committed as a group", () => {
  it("answers each call as if it ran alone after those before it, and stores every event once", async () => {
    const batches = fc.array(fc.array(eventArb, { maxLength: 6 }), { minLength: 1, maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(batches, async (queued) => {
        // A call being written (disjoint from the rest: the next group is prepared while it writes)…
        const { store, control } = gatedStore();
        control.close();
        const first = store.record("t", "m", [event("x", DAY)]);
        // …while these wait, and then go as one group.
        const grouped = queued.map((batch) => store.record("t", "m", batch));
        control.open();
        await first;
        const answers = await Promise.all(grouped);
        // The same batches one after another, on a store of their own.
        const serial = gatedStore().store;
        await serial.record("t", "m", [event("x", DAY)]);
        const expected = [];
        for (const batch of queued) expected.push(await serial.record("t", "m", batch));
        expect(answers).toEqual(expected);
        expect(await stored(store)).toEqual(await stored(serial));
        // One segment per day for the whole group (at most two days), besides the first call's.
        expect(control.writes.length).toBeLessThanOrEqual(3);
      }),
      { numRuns: 80 },
    );
  });

  it("stores nothing of any member when the group's write fails; each gets the error, and retries count once", async () => {
    const { store, control } = gatedStore();
    control.close();
    const first = store.record("t", "m", [event("x", DAY)]);
    const a = [event("a", DAY), event("b", DAY - 3_600_000)]; // two days
    const b = [event("b", DAY - 3_600_000), event("c", DAY + 1)];
    const grouped = [store.record("t", "m", a), store.record("t", "m", b)];
    // The first call lands; the group's segment of DAY fails (its segment of the day before lands).
    control.failing = (key) => control.writes.length >= 1 && key.includes(":20260303:");
    control.open();
    await first;
    for (const call of grouped) await expect(call).rejects.toMatchObject({ code: "resource_exhausted" });
    expect(await stored(store)).toEqual([`x/${DAY}`]);
    // One group: after x, its segment of the day before, which was taken back.
    expect(control.writes).toHaveLength(2);
    control.failing = () => false;
    expect(await store.record("t", "m", a)).toEqual({ accepted: 2, duplicates: 0 });
    expect(await store.record("t", "m", b)).toEqual({ accepted: 1, duplicates: 1 });
    expect(await stored(store)).toHaveLength(4);
  });

  it.each([true, false])(
    "stores a retry checked while an earlier call's write is failing, rather than take it for a duplicate of a segment taken back (group commit: %s)",
    async (groupCommit) => {
      const memory = memoryDriver();
      let release: () => void = () => {};
      const failing = new Promise<void>((resolve) => {
        release = resolve;
      });
      let landed: () => void = () => {};
      const dayLanded = new Promise<void>((resolve) => {
        landed = resolve;
      });
      let armed = false;
      let listed: () => void = () => {};
      const retryListed = new Promise<void>((resolve) => {
        listed = resolve;
      });
      const driver: Driver = {
        ...memory,
        getKeys: async (base: string, opts: unknown) => {
          const keys = await memory.getKeys(base, opts as never);
          if (armed) listed();
          return keys;
        },
        setItemRaw: async (key: string, value: unknown, opts: unknown) => {
          // The day before's segment of the first call hangs, then fails; its segment of DAY lands at once.
          if (key.includes(":20260302:")) {
            await failing;
            throw Object.assign(new Error("EIO: i/o error"), { code: "EIO" });
          }
          await memory.setItemRaw!(key, value, opts as never);
          landed();
        },
      };
      const store = new EventStore({ storage: createStorage({ driver }), groupCommit });
      const first = store.record("t", "m", [event("a", DAY), event("b", DAY - 3_600_000)]);
      first.catch(() => {});
      await dayLanded;
      // The client's retry of "a" (say, after a timeout), checked while the first call's write has not
      // failed yet: its segment of DAY is listed.
      armed = true;
      const retry = store.record("t", "m", [event("a", DAY)]);
      await retryListed;
      // Let it answer if it would without waiting for the first call's outcome (it would say duplicate).
      await Promise.race([retry, new Promise((resolve) => setTimeout(resolve, 50))]);
      release();
      expect(await retry).toEqual({ accepted: 1, duplicates: 0 });
      await expect(first).rejects.toMatchObject({ code: "unavailable" });
      expect(await stored(store)).toEqual([`a/${DAY}`]);
    },
  );

  it("drops repeats within a batch, whether it comes sorted by (time, id) or not", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(eventArb, { maxLength: 12 }), fc.boolean(), async (batch, sort) => {
        if (sort) batch.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const { store } = gatedStore();
        const distinct = new Set(batch.map((e) => `${e.id}/${e.time}`));
        expect(await store.record("t", "m", batch)).toEqual({
          accepted: distinct.size,
          duplicates: batch.length - distinct.size,
        });
        expect(await stored(store)).toEqual([...distinct].sort());
      }),
      { numRuns: 150 },
    );
  });

  it("writes each call on its own without the option (as on Workers)", async () => {
    const { store, control } = gatedStore(false);
    control.close();
    const calls = ["a", "b", "c", "d"].map((id) => store.record("t", "m", [event(id, DAY)]));
    control.open();
    expect(await Promise.all(calls)).toEqual(calls.map(() => ({ accepted: 1, duplicates: 0 })));
    expect(control.writes).toHaveLength(4);
  });
});
