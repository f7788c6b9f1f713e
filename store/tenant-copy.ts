/**
 * Reading a tenant's live segments consistently while writes and compaction continue, and copying them into
 * another store — the ground of backups (backup.ts) and `tally migrate`.
 *
 * Segments are immutable, so a copy of one is a copy of what it held. Each partition is read as one
 * snapshot: its live segments (tombstones and retention applied, superseded ones left out), then their
 * bytes. When a compaction deletes one of them in between, the partition is read again: its merged
 * segment now holds those events. Every event acknowledged before the copy started is therefore in the
 * copy (counted once: superseded segments are left out, and read-time dedup settles two racing merges),
 * and no segment is ever partial.
 */
import { duplicateMasks } from "./dedup.ts";
import { TallyError } from "./errors.ts";
import type { EventStore } from "./event-store.ts";
import { parseEventKey } from "./keys.ts";
import { listModules } from "./retention.ts";
import { Segment } from "./segment.ts";

export interface StoredSegment {
  module: string;
  day: string;
  key: string;
  /** The bytes as stored: sealed when the source store encrypts. */
  stored: Uint8Array;
}

/** One partition's live segments as stored, read as one snapshot. */
export async function partitionSnapshot(
  store: EventStore,
  tenant: string,
  module: string,
  day: string,
): Promise<StoredSegment[]> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { live } = await store.partitionState(tenant, module, day, undefined, false);
    const bytes = await Promise.all(live.map((s) => store.readStoredBytes(s.key)));
    if (bytes.every((b) => b !== undefined)) {
      return live.map((s, i) => ({ module, day, key: s.key, stored: bytes[i]! }));
    }
  }
  throw new TallyError("unavailable", `partition ${module}/${day} kept changing while it was copied; retry`);
}

/** Every live segment of a tenant, partition by partition, module by module. */
export async function* tenantSegments(
  store: EventStore,
  tenant: string,
  modules?: readonly string[],
): AsyncGenerator<StoredSegment> {
  for (const module of modules ?? (await listModules(store, tenant))) {
    for (const day of await store.days(tenant, module))
      yield* await partitionSnapshot(store, tenant, module, day);
  }
}

/** The distinct events (by id and time) of a module, as queries count them. */
export async function countEvents(store: EventStore, tenant: string, module: string): Promise<number> {
  let n = 0;
  for (const day of await store.days(tenant, module)) {
    const { live } = await store.partitionState(tenant, module, day, undefined, false);
    const masks = duplicateMasks(live.map((s) => s.segment));
    live.forEach((s, i) => {
      const mask = masks[i];
      n += s.segment.count;
      if (mask) for (let r = 0; r < mask.length; r++) n -= mask[r]!;
    });
  }
  return n;
}

/**
 * Writes a segment read from another store (or a backup) into `dest` under the same key, unless `dest`
 * already has that key (segments are immutable: same key, same events), so a copy that stopped half-way
 * is resumed by running it again. The bytes are opened with `open` (the source's codec) and checked to be
 * a whole segment before anything is written; `dest` seals them with its own codec.
 */
export async function copySegment(
  dest: EventStore,
  key: string,
  stored: Uint8Array,
  open: (key: string, stored: Uint8Array) => Promise<Uint8Array>,
): Promise<boolean> {
  if (!parseEventKey(key)) throw new TallyError("data_loss", `not an event segment key: ${key}`);
  if (await dest.storage.hasItem(key)) return false;
  const plain = await open(key, stored);
  new Segment(plain, key);
  await dest.writeSegmentBytes(key, plain);
  return true;
}

export interface CopyReport {
  segments: number;
  copied: number;
  /**
   * Distinct events per module: in the source before the copy started, and in the destination after it.
   * Every event acknowledged before the copy is copied, so `dest < source` means something was lost.
   */
  modules: { module: string; source: number; dest: number }[];
}

/** Copies a tenant from one store to another, resumably, and checks every module's events arrived. */
export async function copyTenant(
  source: EventStore,
  dest: EventStore,
  tenant: string,
  onSegment: (s: StoredSegment, copied: boolean) => void = () => {},
): Promise<CopyReport> {
  const report: CopyReport = { segments: 0, copied: 0, modules: [] };
  const modules = await listModules(source, tenant);
  const before = new Map<string, number>();
  for (const module of modules) before.set(module, await countEvents(source, tenant, module));
  for await (const s of tenantSegments(source, tenant, modules)) {
    const copied = await copySegment(dest, s.key, s.stored, (k, b) => source.codec.open(k, b));
    report.segments++;
    if (copied) report.copied++;
    onSegment(s, copied);
  }
  for (const module of modules) {
    report.modules.push({
      module,
      source: before.get(module)!,
      dest: await countEvents(dest, tenant, module),
    });
  }
  return report;
}
