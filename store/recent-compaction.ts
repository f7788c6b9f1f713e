/**
 * Compaction for stateless runtimes. The Node server compacts the partitions it wrote to (it remembers
 * them); a Worker's isolates come and go and a Cron Trigger runs in whichever one, so it cannot know what
 * was written. Instead a scheduled run compacts, for each tenant, every module's partitions of the last
 * few UTC days — where new per-batch segments land. Older partitions were compacted when they were
 * recent; the `Compact` RPC handles late backfills.
 *
 * Finding them costs one-level listings (the tenant's modules, then each wanted day of each module: R2's
 * delimited prefixes, a directory read on a filesystem), never a listing of every segment of the store.
 */
import { compactPartition } from "./compaction.ts";
import type { EventStore } from "./event-store.ts";
import { dayOf, eventsPrefix, parseSegmentKey } from "./keys.ts";
import { listModules } from "./retention.ts";

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
    const partitions: [string, string][] = [];
    for (const module of await listModules(store, tenant)) {
      const prefix = eventsPrefix(tenant, module);
      const days = new Set(await store.childNames(prefix));
      for (const day of [...wanted].sort()) {
        if (!days.has(day)) continue;
        const keys = await store.storage.getKeys(`${prefix}:${day}`);
        if (keys.some((key) => parseSegmentKey(prefix, key)?.day === day)) partitions.push([module, day]);
      }
    }
    for (const [module, day] of partitions) {
      const partition = `${module}:${day}`;
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
