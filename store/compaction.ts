/**
 * Compaction: a partition's small per-batch segments are merged into large ones, so scans read few big
 * segments instead of thousands of small ones.
 *
 * The protocol is crash-safe and needs no lock:
 *   1. Read the partition's live segments (those no other segment supersedes).
 *   2. Write the merged segment M, whose header names every segment it supersedes. Until M exists
 *      (writes are atomic), readers use the inputs; once it does, readers ignore the inputs.
 *   3. Delete the inputs — last. A crash before or during deletion leaves superseded segments that readers
 *      ignore and the next compaction deletes.
 * M drops rows that are duplicates (dedup.ts), keeps every event's id, time and ingestion instant, so
 * retries stay duplicates and page snapshots stay stable. Two compactors merging the same inputs at once
 * write two supersets of the same events; readers count each (id, time) once, so nothing is doubled.
 */
import { duplicateMasks } from "./dedup.ts";
import type { EventStore } from "./event-store.ts";
import { END_OF_TIME } from "./keys.ts";

export interface CompactionOptions {
  /** Events in a merged segment, at most. */
  maxSegmentEvents: number;
  /** Bytes (encoded) of the inputs of one merge, at most. */
  maxMergeBytes: number;
  /** Segments smaller than this many events are merge candidates. */
  smallSegmentEvents: number;
  /** A partition is merged once it has this many candidates. */
  minSegments: number;
}

export const DEFAULT_COMPACTION: CompactionOptions = {
  maxSegmentEvents: 65_536,
  maxMergeBytes: 64 * 1024 * 1024,
  smallSegmentEvents: 16_384,
  minSegments: 2,
};

export interface CompactionResult {
  segmentsBefore: number;
  segmentsAfter: number;
}

export async function compactPartition(
  store: EventStore,
  tenant: string,
  module: string,
  day: string,
  options: CompactionOptions = DEFAULT_COMPACTION,
): Promise<CompactionResult> {
  const { live, superseded } = await store.partitionState(tenant, module, day);
  // Leftovers of an earlier compaction that stopped before deleting its inputs.
  for (const s of superseded) await store.removeSegment(s.key);
  const masks = duplicateMasks(live.map((s) => s.segment));
  const candidates = live
    .map((s, i) => ({ ...s, mask: masks[i] ?? null }))
    .filter((s) => s.segment.count < options.smallSegmentEvents);
  let after = live.length;
  if (candidates.length < options.minSegments) return { segmentsBefore: live.length, segmentsAfter: after };

  // Consecutive runs of candidates (in name order), each within the size limits.
  const groups: (typeof candidates)[] = [];
  let group: typeof candidates = [];
  let events = 0;
  let bytes = 0;
  for (const c of candidates) {
    const size = c.segment.byteLength;
    if (
      group.length > 0 &&
      (events + c.segment.count > options.maxSegmentEvents || bytes + size > options.maxMergeBytes)
    ) {
      groups.push(group);
      group = [];
      events = 0;
      bytes = 0;
    }
    group.push(c);
    events += c.segment.count;
    bytes += size;
  }
  groups.push(group);

  for (const inputs of groups) {
    if (inputs.length < 2) continue;
    // The inputs' own superseded segments were deleted above, before anything was written, so naming
    // the inputs is enough: no leftover can come back to life when an input is deleted in its turn.
    await store.writeMerged(
      tenant,
      module,
      day,
      inputs,
      inputs.map((s) => s.name),
    );
    for (const s of inputs) await store.removeSegment(s.key);
    after -= inputs.length - 1;
  }
  return { segmentsBefore: live.length, segmentsAfter: after };
}

/** Compacts every partition of a module within [start, end) (all of them by default), one at a time. */
export async function compactModule(
  store: EventStore,
  tenant: string,
  module: string,
  range: { start: number; end: number } = { start: 0, end: END_OF_TIME },
  options: CompactionOptions = DEFAULT_COMPACTION,
) {
  const days = await store.days(tenant, module, range.start, range.end);
  let segmentsBefore = 0;
  let segmentsAfter = 0;
  for (const day of days) {
    const result = await compactPartition(store, tenant, module, day, options);
    segmentsBefore += result.segmentsBefore;
    segmentsAfter += result.segmentsAfter;
  }
  return { partitions: days.length, segmentsBefore, segmentsAfter };
}

/**
 * Background compaction of the partitions this process wrote to, every `intervalMs`. Runtime-neutral: the
 * Node server starts it; a Worker would call `compactWritten` from a scheduled handler instead.
 */
export function startCompactor(
  store: EventStore,
  intervalMs: number,
  log: (m: string) => void = console.error,
) {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      await compactWritten(store);
    } catch (error) {
      log(
        `[tally] background compaction failed (will retry): ${error instanceof Error ? error.message : error}`,
      );
    } finally {
      running = false;
    }
  }, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/** Compacts the partitions recorded into since the last call. */
export async function compactWritten(
  store: EventStore,
  options: CompactionOptions = DEFAULT_COMPACTION,
): Promise<void> {
  const written = [...store.written];
  store.written.clear();
  for (let i = 0; i < written.length; i++) {
    const [tenant, module, day] = written[i]!.split(":") as [string, string, string];
    try {
      await compactPartition(store, tenant, module, day, options);
    } catch (error) {
      // This partition and the ones not reached yet wait for the next round.
      for (const entry of written.slice(i)) store.written.add(entry);
      throw error;
    }
  }
}
