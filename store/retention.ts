/**
 * Retention: a module configured to keep N days keeps the partitions (UTC days) from `now - N days` on.
 * Readers stop seeing an older partition as soon as it falls out (EventStore.partitionState applies the
 * same rule); this sweep then deletes it through a day tombstone (deletion.ts), so that even a process
 * configured without the retention never sees a half-deleted day.
 */
import { deleteData, resumeDeletions } from "./deletion.ts";
import type { EventStore } from "./event-store.ts";
import {
  DAY_PATTERN,
  EVENTS_ROOT,
  eventsPrefix,
  isValidModule,
  isValidTenant,
  tenantPrefix,
} from "./keys.ts";

/** Deletes the expired partitions of every tenant's modules that have a retention; returns segments removed. */
export async function applyRetention(store: EventStore, modules: readonly string[]): Promise<number> {
  let removed = 0;
  const tenants = await listTenants(store);
  for (const module of modules) {
    const from = store.retainedFrom(module);
    if (!from) continue;
    for (const tenant of tenants) {
      // The module's days one level down: an expired day is deleted whole, none of its keys are needed.
      for (const day of await store.childNames(eventsPrefix(tenant, module))) {
        if (!DAY_PATTERN.test(day)) continue;
        if (day >= from) break;
        // A directory left empty (a crash between removing its last file and itself) has nothing to delete.
        if ((await store.storage.getKeys(`${eventsPrefix(tenant, module)}:${day}`)).length === 0) continue;
        removed += (await deleteData(store, { tenant, module, day })).segments;
      }
    }
  }
  return removed;
}

/** The tenants that have events: the store's names one level down (not a listing of every key). */
export async function listTenants(store: EventStore): Promise<string[]> {
  return (await store.childNames(EVENTS_ROOT)).filter(isValidTenant);
}

/** The modules of a tenant that have events. */
export async function listModules(store: EventStore, tenant: string): Promise<string[]> {
  return (await store.childNames(tenantPrefix(tenant))).filter(isValidModule);
}

/**
 * The store's housekeeping besides compaction — interrupted deletions, then retention — every
 * `intervalMs` and once at start. Runtime-neutral: Node starts it; a Worker calls `maintain` from a
 * scheduled handler.
 */
export async function maintain(store: EventStore, modules: readonly string[]): Promise<number> {
  return (await resumeDeletions(store)) + (await applyRetention(store, modules));
}

export function startMaintenance(
  store: EventStore,
  modules: readonly string[],
  intervalMs: number,
  log: (m: string) => void = console.error,
) {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      await maintain(store, modules);
    } catch (error) {
      log(`[tally] maintenance failed (will retry): ${error instanceof Error ? error.message : error}`);
    } finally {
      running = false;
    }
  };
  void run();
  const timer = setInterval(run, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
