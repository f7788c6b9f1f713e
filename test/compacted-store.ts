import { createStorage, type Driver } from "unstorage";
import { generateEvents } from "../scripts/bench-data.ts";
import { DAY, MODULE, START, TENANT } from "../scripts/bench-queries.ts";
import { memoryDriver } from "../storage-drivers/memory.ts";
import { compactModule } from "../store/compaction.ts";
import { EventStore } from "../store/event-store.ts";

/**
 * 8,000 of the bench's events over four days of its narrow query's range, recorded in 1,000-event batches
 * and compacted: four compacted segments of ~300 KB (per-column sums, rollup tables), read lazily from a
 * driver with partial reads. Tests of lazy reads and of format versions start from it.
 */
export async function compactedStore(): Promise<Driver> {
  const driver = memoryDriver();
  const store = new EventStore({ storage: createStorage({ driver }) });
  const events = generateEvents(8000, { start: START + 60 * DAY, end: START + 64 * DAY });
  for (let i = 0; i < events.length; i += 1000) await store.record(TENANT, MODULE, events.slice(i, i + 1000));
  await compactModule(store, TENANT, MODULE);
  return driver;
}
