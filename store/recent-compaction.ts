/**
 * Compaction for stateless runtimes. The Node server compacts the partitions it wrote to (it remembers
 * them); a Worker's isolates come and go and a Cron Trigger runs in whichever one, so it cannot know what
 * was written. Instead a scheduled run compacts, for each tenant, every module's partitions of the last
 * few UTC days — where new per-batch segments land. Older partitions were compacted when they were
 * recent; the `Compact` RPC handles late backfills.
 *
 * Finding the modules costs one listing of the tenant's keys (1,000 keys per R2 list call), which stays
 * small once partitions are compacted.
 */
import { compactPartition } from "./compaction.ts";
import type { EventStore } from "./event-store.ts";
import { dayOf, eventsPrefix, isValidModule, parseSegmentKey, tenantPrefix } from "./keys.ts";

const DAY_MS = 86_400_000;

export interface RecentCompactionResult {
  partitions: number;
  segmentsBefore: number;
  segmentsAfter: number;
  /** Partitions that failed, as `tenant:module:day: message`; the next run tries them again. */
  failed: string[];
}

/** Compacts the partitions of the `days` UTC days up to `now` (today and yesterday by default). */
export async function compactRecent(
  store: EventStore,
  tenants: readonly string[],
  now: number,
  days = 2,
): Promise<RecentCompactionResult> {
  const wanted = new Set(Array.from({ length: days }, (_, i) => dayOf(now - i * DAY_MS)));
  const result: RecentCompactionResult = { partitions: 0, segmentsBefore: 0, segmentsAfter: 0, failed: [] };
  for (const tenant of tenants) {
    const partitions = new Set<string>();
    for (const key of await store.storage.getKeys(tenantPrefix(tenant))) {
      const module = key.split(":")[2] ?? "";
      if (!isValidModule(module)) continue;
      const day = parseSegmentKey(eventsPrefix(tenant, module), key)?.day;
      if (day && wanted.has(day)) partitions.add(`${module}:${day}`);
    }
    for (const partition of [...partitions].sort()) {
      const [module, day] = partition.split(":") as [string, string];
      try {
        const done = await compactPartition(store, tenant, module, day);
        result.partitions++;
        result.segmentsBefore += done.segmentsBefore;
        result.segmentsAfter += done.segmentsAfter;
      } catch (error) {
        result.failed.push(
          `${tenant}:${partition}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
  }
  return result;
}
