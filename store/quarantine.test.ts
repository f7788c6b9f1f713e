/**
 * A corrupt segment is reported and moved aside, never skipped in silence: the query that meets it fails
 * with data_loss, the bytes go to `<key>.quarantined`, later queries over that partition fail too (over
 * short and long ranges), writers and compaction carry on, and deleting the quarantined file lets queries
 * answer again — without the lost events.
 */
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { failure } from "../test/expect-failure.ts";
import { compactPartition } from "./compaction.ts";
import { crc32 } from "./crc32.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { SEGMENT_VERSION } from "./segment-format.ts";

const T0 = Date.UTC(2026, 2, 29);
const ev = (id: string, minute: number): StoredEvent => ({
  id,
  type: "t",
  time: T0 + minute * 60_000,
  data: { n: minute },
  lat: Number.NaN,
  lon: Number.NaN,
});

async function count(store: EventStore, start = T0 - 86_400_000, end = T0 + 86_400_000) {
  let n = 0;
  for await (const p of store.partitions("acme", "m", start, end)) {
    for (const s of p.segments) for (let r = 0; r < s.segment.count; r++) if (!s.duplicates?.[r]) n++;
  }
  return n;
}

describe("quarantine of corrupt segments", () => {
  it("reports, moves aside, keeps failing loudly, and recovers when the operator removes it", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const logs: string[] = [];
    const original = console.error;
    console.error = (m: string) => logs.push(m);
    try {
      const store = new EventStore({ storage });
      await store.record("acme", "m", [ev("a", 1), ev("b", 2)]);
      await store.record("acme", "m", [ev("c", 3)]);
      expect(await count(store)).toBe(3);
      const keys = await storage.getKeys("v1:acme:m:ev:20260329");
      const victim = keys[0]!;
      const bytes = (await storage.getItemRaw(victim)) as Uint8Array;
      const damaged = bytes.slice();
      damaged[damaged.length - 20]! ^= 0x40;
      await storage.setItemRaw(victim, damaged);

      const reader = new EventStore({ storage }); // a fresh cache, as after a restart
      const first = await failure(count(reader));
      expect(first.code).toBe("data_loss");
      expect(first.message).toContain("checksum mismatch");
      expect(first.message).toContain(`moved to ${victim}.quarantined`);
      expect(await storage.hasItem(victim)).toBe(false);
      expect(await storage.getItemRaw(`${victim}.quarantined`)).toEqual(damaged);
      expect(logs.join("\n")).toContain(`corrupt segment ${victim}`);

      // Later queries say so: a short range (listed day by day) and a long one (one listing of the module).
      for (const [start, end] of [
        [T0, T0 + 86_400_000],
        [T0 - 400 * 86_400_000, T0 + 86_400_000],
      ] as const) {
        const later = await failure(count(reader, start, end));
        expect(later.code).toBe("data_loss");
        expect(later.message).toContain("quarantined corrupt segment");
        expect(later.message).toContain(`${victim}.quarantined`);
      }

      // Writers and compaction carry on; the quarantined file is neither merged nor deleted.
      await reader.record("acme", "m", [ev("d", 4)]);
      await reader.record("acme", "m", [ev("e", 5)]);
      await compactPartition(reader, "acme", "m", "20260329");
      expect(await storage.hasItem(`${victim}.quarantined`)).toBe(true);
      expect((await failure(count(reader))).code).toBe("data_loss");

      // The operator deletes it (or restores the segment): answers come back, without the lost events.
      await storage.removeItem(`${victim}.quarantined`);
      expect(await count(reader)).toBe(3); // c, d, e — a and b were in the corrupt segment
    } finally {
      console.error = original;
    }
  });

  it("leaves a newer format's segment in place: failed_precondition, not quarantine", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const store = new EventStore({ storage });
    await store.record("acme", "m", [ev("a", 1)]);
    const [key] = await storage.getKeys("v1:acme:m:ev:20260329");
    const newer = ((await storage.getItemRaw(key!)) as Uint8Array).slice();
    newer[4] = SEGMENT_VERSION + 1; // a later format, written whole by a newer Tally during a rolling upgrade
    const end = newer.length - 4;
    new DataView(newer.buffer).setUint32(end, crc32(newer.subarray(0, end)), true);
    await storage.setItemRaw(key!, newer);
    const error = await failure(count(new EventStore({ storage })));
    expect(error.code).toBe("failed_precondition");
    expect(error.message).toContain("upgrade this server");
    expect(await storage.hasItem(key!)).toBe(true);
    expect(await storage.hasItem(`${key!}.quarantined`)).toBe(false);
  });
});
