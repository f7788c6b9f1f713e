/**
 * An event is its (id, time), exactly: ids of any text — a leading byte order mark, NUL, combining marks,
 * long ids sharing a prefix — are stored and read back as sent, a retry is a duplicate, and two ids
 * that differ anywhere are two events, before and after compaction (against a plain model).
 */
import fc from "fast-check";
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "./compaction.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";

const DAY = Date.UTC(2026, 2, 3);
const event = (id: string, time: number): StoredEvent => ({
  id,
  type: "t",
  time,
  data: { n: 1 },
  lat: Number.NaN,
  lon: Number.NaN,
});
const long = "x".repeat(300);
const IDS = [
  "x",
  "\ufeffx",
  "\ufeff",
  "\ufeff\ufeffx",
  "x\ufeff",
  "\u0000",
  "\u0000x",
  "é",
  "e\u0301",
  "😀",
  long,
  `${long}y`,
];

/** The (id, time) pairs the store counts once each, as `id/time` of what it reads back. */
async function stored(store: EventStore): Promise<string[]> {
  const out: string[] = [];
  for await (const p of store.partitions("t", "m", DAY - 86_400_000, DAY + 2 * 86_400_000))
    for (const s of p.segments)
      for (let r = 0; r < s.segment.count; r++)
        if (!s.duplicates?.[r]) out.push(JSON.stringify([s.segment.id(r), s.segment.time[r]]));
  return out.sort();
}

describe("event identity", () => {
  it("keeps every id exactly: retries are duplicates, distinct ids distinct events (before and after compaction)", async () => {
    const ev = fc.record({
      id: fc.constantFrom(...IDS),
      // The day's last millisecond and the next day's first: an event's time picks its partition.
      t: fc.constantFrom(0, 1, 86_399_999, 86_400_000),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(ev, { minLength: 1, maxLength: 8 }), { maxLength: 6 }),
        async (batches) => {
          for (const idIndexBytes of [0, undefined]) {
            const store = new EventStore({
              storage: createStorage({ driver: memoryDriver() }),
              idIndexBytes,
            });
            const seen = new Set<string>();
            for (const batch of batches) {
              let accepted = 0;
              for (const e of batch) {
                const key = JSON.stringify([e.id, DAY + e.t]);
                if (!seen.has(key)) accepted++;
                seen.add(key);
              }
              const answer = await store.record(
                "t",
                "m",
                batch.map((e) => event(e.id, DAY + e.t)),
              );
              expect(answer).toEqual({ accepted, duplicates: batch.length - accepted });
            }
            expect(await stored(store)).toEqual([...seen].sort());
            await compactModule(store, "t", "m");
            expect(await stored(store)).toEqual([...seen].sort());
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
