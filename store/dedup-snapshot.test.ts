/**
 * Exactly-once counting as of a snapshot (`asOf`: page tokens and stepped queries keep theirs) when a
 * compaction that listed its partition before a racing retry was stored writes its merged segment after
 * it: the merged segment then sorts after the retry's, yet holds the event as first ingested.
 */
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { countSpec } from "../test/count-spec.ts";
import { EventStore } from "./event-store.ts";
import type { StoredEvent } from "./json.ts";
import { dayOf, eventsPrefix } from "./keys.ts";
import { querySeries } from "./series.ts";

const T0 = Date.UTC(2026, 3, 4);

describe("read-time dedup", () => {
  it("counts an event once as of any instant after its first copy was ingested, across compaction", async () => {
    let clock = T0 + 86_400_000;
    const storage = createStorage({ driver: memoryDriver() });
    const now = () => clock;
    const writer = new EventStore({ storage, now });
    const racer = new EventStore({ storage, now });
    const compactor = new EventStore({ storage, now });
    const e: StoredEvent = { id: "e", type: "t", time: T0, data: {}, lat: Number.NaN, lon: Number.NaN };
    const day = dayOf(T0);
    const first = await writer.record("t", "m", [e]);
    expect(first.accepted).toBe(1);
    const [firstKey] = await storage.getKeys(`${eventsPrefix("t", "m")}:${day}`);
    const ingested = clock;
    // The compactor lists the partition now (the first copy only) ...
    clock += 1000;
    // ... a racing retry of the same event is stored by another process ...
    await racer.writeSegment("t", "m", day, [e], []);
    clock += 1000;
    // ... and the merged segment, made from that listing, is written last.
    const merged = { ...e, ingested };
    await compactor.writeSegment("t", "m", day, [merged], [firstKey!.split(":").at(-1)!]);
    const count = async (asOf: number, rollups: boolean) =>
      (await querySeries(writer, countSpec(T0, { asOf }), { maxGroups: 10 }, { rollups })).value(0, 0);
    for (const rollups of [true, false]) {
      // As of an instant between the first copy and the retry: the first copy counts.
      expect(await count(ingested + 500, rollups)).toBe(1);
      expect(await count(Number.MAX_VALUE, rollups)).toBe(1);
    }
  });
});
