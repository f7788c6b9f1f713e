/**
 * Deleting a tenant's data, a module's, or one partition (retention), crash-safe:
 *
 *   1. Write a tombstone (tombstones.ts). From now on no reader sees the covered segments.
 *   2. Remove every covered segment, listing again until a pass finds none.
 *   3. The tombstone stays for a grace period, then a later sweep (`resumeDeletions`) removes the
 *      stragglers and the tombstone.
 *
 * A crash in step 2 leaves the tombstone, so nothing half-deleted is ever visible, and the next
 * `resumeDeletions` (every server runs it at start and then periodically) finishes the job.
 */
import type { EventStore } from "./event-store.ts";
import { eventsPrefix, parseEventKey, segmentWrittenAt, tenantPrefix } from "./keys.ts";
import { isQuarantined, quarantinedFrom } from "./quarantine.ts";
import { Segment } from "./segment.ts";
import { buried, type Tombstone } from "./tombstones.ts";

/**
 * How long a tombstone outlives its first sweep: longer than any compaction of one partition takes, so a
 * merged segment of deleted events written by a compaction that started before the deletion is still
 * hidden, and then swept.
 */
export const TOMBSTONE_GRACE_MS = 60 * 60_000;

export interface DeleteScope {
  tenant: string;
  module?: string;
  day?: string;
}

/** Deletes everything in `scope` ingested before now; returns the number of segments removed. */
export async function deleteData(store: EventStore, scope: DeleteScope): Promise<{ segments: number }> {
  const stone = await store.tombstones.write(scope, store.now());
  return { segments: await sweep(store, stone) };
}

/** Removes the segments a tombstone covers, listing again until one pass removes nothing. */
export async function sweep(store: EventStore, stone: Tombstone): Promise<number> {
  const prefix = stone.module
    ? stone.day
      ? `${eventsPrefix(stone.tenant, stone.module)}:${stone.day}`
      : eventsPrefix(stone.tenant, stone.module)
    : tenantPrefix(stone.tenant);
  let removed = 0;
  for (;;) {
    let pass = 0;
    for (const key of await store.storage.getKeys(prefix)) {
      // A quarantined segment's data is deleted with the rest: it would otherwise fail every later query
      // of its day. It cannot be read, so only its name (when it was written) can say it is covered.
      const quarantined = isQuarantined(key);
      const parsed = parseEventKey(quarantined ? quarantinedFrom(key) : key);
      // A listing by prefix holds only this tenant's keys; the checks keep a look-alike out regardless.
      if (!parsed || parsed.tenant !== stone.tenant) continue;
      if (stone.module !== undefined && parsed.module !== stone.module) continue;
      if (stone.day !== undefined && parsed.day !== stone.day) continue;
      if (quarantined) {
        if (segmentWrittenAt(parsed.segment) >= stone.before) continue;
      } else if (!(await covered(store, key, parsed.segment, stone))) continue;
      await store.removeSegment(key);
      pass++;
    }
    removed += pass;
    if (pass === 0) return removed;
  }
}

async function covered(store: EventStore, key: string, name: string, stone: Tombstone): Promise<boolean> {
  // A segment named (written) before the tombstone holds only events ingested before it.
  if (segmentWrittenAt(name) < stone.before) return true;
  // A later one may still be a compaction's merge of older events: its ingestion instants tell.
  const bytes = await store.readSegmentBytes(key);
  return bytes !== undefined && buried([stone], new Segment(bytes, key).maxIngested);
}

/**
 * Finishes deletions a crash interrupted, and retires tombstones past their grace period (after one more
 * sweep). Returns the segments removed.
 */
export async function resumeDeletions(store: EventStore): Promise<number> {
  let removed = 0;
  for (const stone of await store.tombstones.list()) {
    removed += await sweep(store, stone);
    if (store.now() - stone.before > TOMBSTONE_GRACE_MS) await store.tombstones.remove(stone);
  }
  return removed;
}
