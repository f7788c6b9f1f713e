/**
 * Retention: a module configured to keep N days keeps the partitions (UTC days) from `now - N days` on.
 * Readers stop seeing an older partition as soon as it falls out (EventStore.partitionState applies the
 * same rule); this sweep then deletes it through a day tombstone (deletion.ts), so that even a process
 * configured without the retention never sees a half-deleted day.
 */
import { deleteData, resumeDeletions } from "./deletion.ts";
import type { EventStore } from "./event-store.ts";
import { EVENTS_ROOT, isValidModule, isValidTenant, tenantPrefix } from "./keys.ts";

/** Deletes the expired partitions of every tenant's modules that have a retention; returns segments removed. */
export async function applyRetention(store: EventStore, modules: readonly string[]): Promise<number> {
  let removed = 0;
  const tenants = await listTenants(store);
  for (const module of modules) {
    const from = store.retainedFrom(module);
    if (!from) continue;
    for (const tenant of tenants) {
      for (const day of await store.days(tenant, module)) {
        if (day >= from) break;
        removed += (await deleteData(store, { tenant, module, day })).segments;
      }
    }
  }
  return removed;
}

/** The tenants that have events, from one listing of the store. */
export async function listTenants(store: EventStore): Promise<string[]> {
  const tenants = new Set<string>();
  for (const key of await store.storage.getKeys(EVENTS_ROOT)) {
    const tenant = key.split(":")[1];
    if (tenant && isValidTenant(tenant)) tenants.add(tenant);
  }
  return [...tenants].sort();
}

/** The modules of a tenant that have events. */
export async function listModules(store: EventStore, tenant: string): Promise<string[]> {
  const modules = new Set<string>();
  for (const key of await store.storage.getKeys(tenantPrefix(tenant))) {
    const parts = key.split(":");
    if (parts[1] === tenant && parts[2] && isValidModule(parts[2])) modules.add(parts[2]);
  }
  return [...modules].sort();
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
