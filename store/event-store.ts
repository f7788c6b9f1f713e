/**
 * The event store over an unstorage `Storage`: writes immutable segments, lists and loads them.
 *
 * Nothing is ever read-modified-written, so any number of stateless processes or Workers can record into
 * the same store at once without losing an event; see dedup.ts for how retries stay exactly-once.
 */
import type { Storage } from "unstorage";
import type { Inflate } from "./codec.ts";
import { useCrc32 } from "./crc32.ts";
import { duplicateMasks, holds } from "./dedup.ts";
import { PLAIN_CODEC, type SegmentCodec, sealedWith } from "./encryption.ts";
import { keyVerified } from "./encryption-check.ts";
import { TallyError } from "./errors.ts";
import { GroupCommit } from "./group-commit.ts";
import type { StoredEvent } from "./json.ts";
import {
  DAY_PATTERN,
  dayOf,
  dayStart,
  END_OF_TIME,
  eventsPrefix,
  parseSegmentKey,
  segmentKey,
} from "./keys.ts";
import { mapLimit } from "./map-limit.ts";
import { PartitionIds } from "./partition-ids.ts";
import { isQuarantined, quarantine, quarantinedError, quarantinedFrom } from "./quarantine.ts";
import { Segment } from "./segment.ts";
import { SegmentCache } from "./segment-cache.ts";
import { encodeSegment } from "./segment-encode.ts";
import { INLINE_ENCODER, mergedEvents, type SegmentEncoder } from "./segment-encoder.ts";
import { guardStorage, storageFailure } from "./storage-errors.ts";
import { buried, type Tombstone, Tombstones } from "./tombstones.ts";

export interface EventStoreOptions {
  storage: Storage;
  /** Bytes of decoded segments kept in memory. Default 256 MiB. */
  cacheBytes?: number;
  /** The clock; tests replace it. */
  now?: () => number;
  /** Inflates compressed columns; fflate unless the runtime has something faster (see codec.ts). */
  inflate?: Inflate;
  /** A faster CRC-32 the runtime has (node:zlib's); installed process-wide (crc32.ts, `useCrc32`). */
  crc32?: (bytes: Uint8Array) => number;
  /** Seals and opens segment bytes (encryption.ts); plain by default. */
  codec?: SegmentCodec;
  /** A module's retention in days, if it has one: older partitions are invisible, then deleted (retention.ts). */
  retentionDays?: (module: string) => number | undefined;
  /** Bytes of (id, time) fingerprints kept for writers' duplicate checks (partition-ids.ts). Default 64 MiB. */
  idIndexBytes?: number;
  /**
   * Commit concurrent record calls for one module together (group-commit.ts). For a long-lived process
   * serving many requests (the Node server); off by default, because on Workers a group would write on
   * behalf of several requests from one request's context, which workerd does not allow.
   */
  groupCommit?: boolean;
  /** Encodes the segments `record` writes (segment-encoder.ts); in the calling thread by default. */
  encoder?: SegmentEncoder;
}

/** One partition's segments, in name order, with the rows each must skip as duplicates. */
export interface Partition {
  day: string;
  segments: { key: string; segment: Segment; duplicates: Uint8Array | null }[];
}

const DAY_MS = 86_400_000;
/**
 * A driver with partial reads and one-level listings, as storage-drivers/ranges.ts and prefixes.ts define
 * them (fs-atomic, memory and r2 have both); stated here structurally, because store/ imports nothing
 * outside itself (runtime-neutral.test.ts).
 */
interface RangeDriver {
  getItemRanges?(
    key: string,
    ranges: readonly (readonly [number, number])[],
  ): Promise<{ size?: number; parts: Uint8Array[] } | null>;
  readonly splitRangesAt?: number;
  getChildPrefixes?(base: string): Promise<string[]>;
  getKeysByChild?(base: string): Promise<[string, string[]][]>;
}
/**
 * A lazy read first fetches this much of a segment: its header (~10 KiB for a compacted day) and what the
 * layout puts after it, the smallest rollup tables (segment-encode.ts `layoutOrder`), so that a query answered from them
 * reads each segment once. A longer header (up to MAX_HEAD_BYTES) is read again at its length. A file no
 * longer than this is read whole.
 */
const HEAD_BYTES = 128 * 1024;
const MAX_HEAD_BYTES = 16 * 1024 * 1024;
/**
 * Events of one group commit at most (a lone batch may be larger): the group's segments stay small enough
 * for compaction to merge (compaction.ts takes segments under 16,384 events).
 */
const GROUP_EVENTS = 8192;

/** A record call's batch, waiting for its group commit: its distinct events by UTC day. */
interface PendingBatch {
  tenant: string;
  module: string;
  byDay: Map<string, StoredEvent[]>;
  /** Distinct events in it. */
  count: number;
}

/** Ranges of at most this many days are listed day by day; longer ones by one listing of the module. */
const LIST_DAYS_SEPARATELY = 31;

export class EventStore {
  readonly storage: Storage;
  readonly now: () => number;
  private readonly cache: SegmentCache;
  private readonly inflate: Inflate | undefined;
  private readonly masks = new Map<string, (Uint8Array | null)[]>();
  /** Writers' duplicate-check fingerprints (partition-ids.ts). */
  readonly ids: PartitionIds;
  /** Partitions this process wrote to since the compactor last asked: `tenant:module:day`. */
  readonly written = new Set<string>();
  readonly codec: SegmentCodec;
  readonly tombstones: Tombstones;
  readonly retentionDays: (module: string) => number | undefined;
  /** Concurrent record calls, committed in groups per module (when `groupCommit`). */
  private readonly commits: GroupCommit<PendingBatch, number> | undefined;
  private readonly encoder: SegmentEncoder;
  /**
   * Segments `record` is writing, until they are written and indexed or taken back after a failure: an
   * event found only in a segment about to be taken back is no duplicate (its call fails; a retry checked
   * meanwhile must store it). With group commit (one long-lived process) a writer's duplicate check that
   * lists one waits for it to settle; without (Workers: a request must not wait on another's I/O) it
   * ignores it, as it would a concurrent writer's (if both are stored, readers count the event once).
   */
  private readonly unsettled = new Map<string, Promise<void>>();

  /** Bytes the segment cache holds: segments, and what queries derived from them and keep with them. */
  get cachedBytes(): number {
    return this.cache.size;
  }

  constructor(options: EventStoreOptions) {
    // Every storage error reaches callers as unavailable or resource_exhausted (storage-errors.ts).
    this.storage = guardStorage(options.storage);
    this.now = options.now ?? preciseNow;
    this.cache = new SegmentCache(options.cacheBytes ?? 256 * 1024 * 1024);
    this.inflate = options.inflate;
    if (options.crc32) useCrc32(options.crc32);
    this.codec = options.codec ?? PLAIN_CODEC;
    this.encoder = options.encoder ?? INLINE_ENCODER;
    this.tombstones = new Tombstones(this.storage);
    this.retentionDays = options.retentionDays ?? (() => undefined);
    this.ids = new PartitionIds(options.idIndexBytes ?? 64 * 1024 * 1024);
    if (options.groupCommit)
      this.commits = new GroupCommit((_, group, writing) => this.commitGroup(group, writing), {
        maxPreparing: 1,
        maxWeight: GROUP_EVENTS,
        weight: (batch) => batch.count,
      });
  }

  /** The first day (yyyymmdd) a module's retention keeps, or "" when it keeps everything. */
  retainedFrom(module: string): string {
    const days = this.retentionDays(module);
    return days === undefined ? "" : dayOf(this.now() - days * DAY_MS);
  }

  /**
   * Stores a validated batch: one segment per UTC day it touches. Events whose (id, time) the partition
   * already holds, or that repeat within the batch, are dropped and counted as duplicates.
   *
   * With `groupCommit`, concurrent calls for one module are committed in groups (group-commit.ts): the
   * batches that wait while earlier ones are written go together, as one segment per day and one write,
   * each still answered as if it had run alone after the batches before it (an event an earlier member of
   * the group holds is its duplicate); if the write fails, nothing of any member is stored and each gets
   * the error.
   */
  async record(tenant: string, module: string, events: readonly StoredEvent[]) {
    const byDay = new Map<string, StoredEvent[]>();
    // A batch in strictly ascending (time, id) order (a client's usual one) cannot repeat an event: no set.
    const seen = ascending(events) ? undefined : new Set<string>();
    let duplicates = 0;
    // Batches mostly stay within a day: name it once per day, not once per event.
    let dayNumber = Number.NaN;
    let dayName = "";
    for (const event of events) {
      if (seen) {
        const key = `${event.time}\u0000${event.id}`;
        if (seen.has(key)) {
          duplicates++;
          continue;
        }
        seen.add(key);
      }
      if (Math.floor(event.time / DAY_MS) !== dayNumber) {
        dayNumber = Math.floor(event.time / DAY_MS);
        dayName = dayOf(event.time);
      }
      const day = dayName;
      const list = byDay.get(day);
      if (list) list.push(event);
      else byDay.set(day, [event]);
    }
    const batch = { tenant, module, byDay, count: events.length - duplicates };
    const stored = this.commits
      ? await this.commits.submit(`${tenant}:${module}`, batch)
      : (await this.commitGroup([batch]))[0]!;
    return { accepted: stored, duplicates: events.length - stored };
  }

  /** Writes a group of batches (record's, distinct within each) as one; answers each one's stored events. */
  private async commitGroup(group: readonly PendingBatch[], writing?: () => void): Promise<number[]> {
    const { tenant, module } = group[0]!;
    const days = new Map<string, StoredEvent[][]>();
    for (const [member, batch] of group.entries())
      for (const [day, list] of batch.byDay) {
        let lists = days.get(day);
        if (!lists) {
          lists = group.map(() => []);
          days.set(day, lists);
        }
        lists[member] = list;
      }
    // Check every partition before writing any, so that a read failure stores nothing.
    const stored = group.map(() => 0);
    const fresh: [string, StoredEvent[]][] = [];
    for (const [day, lists] of days) {
      const merged = withoutRepeats(lists);
      const kept = await this.freshEvents(tenant, module, day, merged);
      if (kept.length === 0) continue;
      fresh.push([day, kept]);
      if (kept.length === lists.reduce((n, list) => n + list.length, 0)) {
        // Nothing dropped: each member stores all of its events of this day.
        lists.forEach((list, member) => {
          stored[member]! += list.length;
        });
      } else {
        // An event is its first holder's (withoutRepeats keeps the first; a later member's is a repeat).
        const owner = new Map<StoredEvent, number>();
        lists.forEach((list, member) => {
          for (const e of list) if (!owner.has(e)) owner.set(e, member);
        });
        for (const e of kept) stored[owner.get(e)!]!++;
      }
    }
    // Stamped as late as possible: a page snapshot taken before this instant must not see these events,
    // so the window between the stamp and the segment becoming visible is only the encode and the write.
    const ingestedAt = this.now();
    // Checked: the next group may be prepared while this one is encoded (in a worker thread on Node) and
    // written. It may miss this group's events, as a concurrent writer may; readers count them once.
    writing?.();
    const written = await Promise.all(
      fresh.map(async ([day, list]) => {
        const key = segmentKey(tenant, module, day, newSegmentName(ingestedAt));
        const plain = await this.encoder.encode(list, ingestedAt);
        return { key, plain, bytes: await this.codec.seal(key, plain) };
      }),
    );
    let settle: () => void = () => {};
    const settling = new Promise<void>((resolve) => {
      settle = resolve;
    });
    for (const w of written) this.unsettled.set(w.key, settling);
    try {
      const results = await Promise.allSettled(written.map((w) => this.storage.setItemRaw(w.key, w.bytes)));
      const failed = results.find((r) => r.status === "rejected");
      if (failed) {
        // A batch spanning days is several segments: take back those that landed, so a failed call stores
        // nothing and its retry counts every event once.
        await Promise.allSettled(written.map((w) => this.storage.removeItem(w.key)));
        throw storageFailure("write", failed.reason);
      }
      fresh.forEach(([day, list], i) => {
        this.written.add(`${tenant}:${module}:${day}`);
        this.indexWritten(tenant, module, day, written[i]!.key, list);
      });
    } finally {
      for (const w of written) this.unsettled.delete(w.key);
      settle();
    }
    return stored;
  }

  /**
   * The events of `list` (one day's, distinct) that the partition does not hold yet. Looked up in the
   * partition's fingerprints (partition-ids.ts); a partition under a tombstone, or too large to index,
   * is searched segment by segment instead.
   */
  private async freshEvents(
    tenant: string,
    module: string,
    day: string,
    list: StoredEvent[],
  ): Promise<StoredEvent[]> {
    // Expired: invisible to every reader, so nothing in it can make an event a duplicate.
    if (day < this.retainedFrom(module)) return list;
    const partition = `${tenant}:${module}:${day}`;
    for (let attempt = 0; attempt < 3; attempt++) {
      const kept = await this.freshByIndex(tenant, module, day, partition, list);
      if (kept === "search") break;
      if (kept) return kept;
      // A segment went away while it was read (compacted or deleted since): rebuild from a new listing.
      this.ids.drop(partition);
    }
    return this.freshBySearch(tenant, module, day, list);
  }

  /**
   * The duplicate check without fingerprints: only segments whose time span meets the batch's are
   * searched, and of a large compacted segment only its header is read unless it does (lazy reads), so a
   * partition of millions of events costs its listing and headers, not its rows.
   */
  private async freshBySearch(
    tenant: string,
    module: string,
    day: string,
    list: StoredEvent[],
  ): Promise<StoredEvent[]> {
    let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const e of list) [lo, hi] = [Math.min(lo, e.time), Math.max(hi, e.time)];
    for (let lazy = true; ; lazy = false) {
      const load = () => this.loadPartition(tenant, module, day, undefined, false, true, undefined, lazy);
      let existing = await load();
      if (!(await this.settled(existing.map((s) => s.key)))) existing = await load();
      const meeting = existing.filter(
        (s) =>
          s.segment.count > 0 &&
          s.segment.maxTime >= lo &&
          s.segment.minTime <= hi &&
          !this.unsettled.has(s.key),
      );
      // A segment compacted away since its header was read: read the partition again, whole.
      if (lazy && !(await loadColumns(meeting, ["time", "id.o", "id.b"]))) continue;
      return list.filter((e) => !meeting.some((s) => holds(s.segment, e.id, e.time)));
    }
  }

  /** undefined: a segment it needed has gone; "search": the partition cannot use its index now. */
  private async freshByIndex(
    tenant: string,
    module: string,
    day: string,
    partition: string,
    list: StoredEvent[],
  ): Promise<StoredEvent[] | undefined | "search"> {
    const prefix = eventsPrefix(tenant, module);
    const listKeys = async () =>
      (await this.storage.getKeys(`${prefix}:${day}`)).filter(
        (key) => parseSegmentKey(prefix, key)?.day === day,
      );
    let keys = await listKeys();
    if (!(await this.settled(keys))) keys = await listKeys();
    // Writes begun since the first listing are concurrent with this one: they may hold its events too
    // (then both are stored, and readers count them once), but must not be taken for what the partition holds.
    keys = keys.filter((key) => !this.unsettled.has(key));
    // Read after the listing, as partitionState does: a deletion hides segments the index still holds.
    if ((await this.tombstones.covering(tenant, module, day)).length > 0) return "search";
    const entry = this.ids.entry(partition);
    if (!entry) return "search";
    const missing = keys.filter((key) => !entry.covers(key));
    // One-off reads, kept out of the segment cache: writers must not fill it with what queries may never ask.
    const loaded = await mapLimit(missing, 16, (key) => this.loadSegment(key, false));
    if (loaded.some((s) => s === undefined)) return undefined;
    loaded.forEach((segment, i) => {
      const s = segment!;
      entry.addSegment(
        missing[i]!,
        s.count,
        (r) => s.id(r),
        (r) => s.time[r]!,
      );
    });
    if (!this.ids.fit(partition)) return "search";
    // A hit is a candidate: confirm it in the segment named (a fingerprint collision must not drop an event).
    const candidates = new Map<string, number[]>();
    list.forEach((e, i) => {
      const key = entry.candidate(e.id, e.time);
      if (key === undefined) return;
      const rows = candidates.get(key);
      if (rows) rows.push(i);
      else candidates.set(key, [i]);
    });
    if (candidates.size === 0) return list;
    const held = new Uint8Array(list.length);
    const unconfirmed: number[] = [];
    const listed = new Set(keys);
    for (const [key, rows] of candidates) {
      // The segment cache may still hold a segment another process has deleted (DeleteData, its tombstone
      // since retired). A candidate the listing lacks is confirmed to exist (it may be a segment this
      // process wrote after the listing); a gone one makes the entry be rebuilt.
      if (!listed.has(key) && !(await this.storage.hasItem(key))) return undefined;
      const segment = await this.loadSegment(key);
      if (!segment) return undefined;
      for (const i of rows)
        if (holds(segment, list[i]!.id, list[i]!.time)) held[i] = 1;
        else unconfirmed.push(i);
    }
    // A hit the named segment does not hold is a fingerprint collision: a slot names one segment (the
    // latest to add it), so another segment may hold this event under the same fingerprint. Searched.
    if (unconfirmed.length > 0) {
      const searched = unconfirmed.map((i) => list[i]!);
      const fresh = new Set(await this.freshBySearch(tenant, module, day, searched));
      for (const i of unconfirmed) if (!fresh.has(list[i]!)) held[i] = 1;
    }
    return list.filter((_, i) => held[i] === 0);
  }

  /**
   * Whether `keys` name none of this process's writes in progress; else, with group commit, waits for
   * those to settle (written, or taken back) and answers false, and the caller lists again.
   */
  private async settled(keys: readonly string[]): Promise<boolean> {
    if (!this.commits) return true;
    const pending: Promise<void>[] = [];
    for (const key of keys) {
      const settling = this.unsettled.get(key);
      if (settling) pending.push(settling);
    }
    if (pending.length === 0) return true;
    await Promise.all(pending);
    return false;
  }

  /** Adds a segment this process wrote to its partition's fingerprints, if the partition is indexed. */
  private indexWritten(tenant: string, module: string, day: string, key: string, events: StoredEvent[]) {
    this.indexRows(
      tenant,
      module,
      day,
      key,
      events.length,
      (i) => events[i]!.id,
      (i) => events[i]!.time,
    );
  }

  /** Adds a segment this process wrote to its partition's fingerprints, if it keeps them. */
  private indexRows(
    tenant: string,
    module: string,
    day: string,
    key: string,
    count: number,
    idOf: (i: number) => string,
    timeOf: (i: number) => number,
  ) {
    const partition = `${tenant}:${module}:${day}`;
    const entry = this.ids.peek(partition);
    if (!entry) return;
    entry.addSegment(key, count, idOf, timeOf);
    this.ids.fit(partition);
  }

  /**
   * The partitions whose days intersect [start, end), in day order (or reversed), loaded one at a time as
   * the caller asks for them, so a scan holds one partition's segments at once, not the whole range's.
   */
  async *partitions(
    tenant: string,
    module: string,
    start: number,
    end: number,
    order: "asc" | "desc" = "asc",
    cache = true,
    lazy = false,
    lazyAhead = 32,
    listEach = false,
  ): AsyncGenerator<Partition> {
    const { days, rest } = await this.listDays(tenant, module, start, end, listEach, order);
    let later = rest;
    later?.catch(() => {});
    // Read once, after every listed partition's listing: serves all of them (see partitionState), and
    // overlaps their segments' reads. A partition listed only when it is loaded reads its own.
    const stones = [...days.values()].some((keys) => keys !== undefined)
      ? this.tombstones.covering(tenant, module)
      : undefined;
    stones?.catch(() => {});
    const sorted = [...days.keys()].sort();
    if (order === "desc") sorted.reverse();
    // Load the next partition while the caller works on this one; lazily read ones (headers only, a few
    // KiB each) several ahead, so that the many small reads overlap. A caller that will likely stop
    // within the first partition (listEach: a ListEvents page) gets none read ahead of it, then 1, 2,
    // 4… more each time it comes back for another.
    let ahead = listEach ? 0 : lazy ? lazyAhead : 1;
    const load = (day: string) => {
      const loading = this.loadPartition(tenant, module, day, days.get(day), true, cache, stones, lazy);
      // A failed read-ahead must not go unhandled if the caller stops before awaiting it.
      loading.catch(() => {});
      return loading;
    };
    const queue: Promise<Partition["segments"]>[] = [];
    let started = 0;
    const startUpTo = (n: number) => {
      while (started < Math.min(n, sorted.length)) queue.push(load(sorted[started++]!));
    };
    startUpTo(Math.max(1, ahead));
    for (let i = 0; ; i++) {
      if (i === sorted.length && later) {
        // The first day was listed before the module's other days were named: they follow it.
        const more = await later;
        later = undefined;
        for (const day of more) days.set(day, undefined);
        sorted.push(...more);
      }
      if (i >= sorted.length) break;
      startUpTo(i + 1);
      const segments = await queue.shift()!;
      startUpTo(i + 1 + ahead);
      yield { day: sorted[i]!, segments };
      if (listEach) ahead = Math.min(lazyAhead, Math.max(1, 2 * ahead));
    }
  }

  /**
   * The names directly below `prefix` (keys `prefix:<name>:…`), sorted: one level of listing where the
   * driver has it (prefixes.ts: a directory read, R2's delimited prefixes) and no other mount lies below
   * `prefix`, so that housekeeping finds tenants and modules without listing every segment of the store;
   * else from every key below.
   */
  async childNames(prefix: string): Promise<string[]> {
    const { driver, base } = this.storage.getMount(prefix);
    const oneLevel = driver as RangeDriver;
    try {
      if (oneLevel.getChildPrefixes && this.storage.getMounts(`${prefix}:`).length === 0)
        return await oneLevel.getChildPrefixes(prefix.slice(base.length));
    } catch (cause) {
      throw storageFailure("list", cause);
    }
    const names = new Set<string>();
    for (const key of await this.storage.getKeys(prefix)) {
      const rest = key.slice(prefix.length + 1).split(":");
      if (rest.length > 1) names.add(rest[0]!);
    }
    return [...names].sort();
  }

  /** The UTC days (yyyymmdd) holding segments of a module within [start, end), sorted. */
  async days(tenant: string, module: string, start = 0, end = END_OF_TIME): Promise<string[]> {
    return [...(await this.listDays(tenant, module, start, end)).days.keys()].sort();
  }

  /**
   * The module's days in [start, end) with their keys. `listEach`: a caller that will likely stop after a
   * day or two (ListEvents) gets just the days, from a driver that can list one level (prefixes.ts), and
   * each partition is listed as it is loaded (with the tombstones read after it, see partitionState).
   * When the day the listing starts from holds segments, it comes at once with its keys, before the other
   * days are named; `rest` then names those, in the listing's order.
   */
  private async listDays(
    tenant: string,
    module: string,
    start: number,
    end: number,
    listEach = false,
    order: "asc" | "desc" = "asc",
  ): Promise<{ days: Map<string, string[] | undefined>; rest?: Promise<string[]> }> {
    const prefix = eventsPrefix(tenant, module);
    const first = dayStart(dayOf(start));
    const days = new Map<string, string[] | undefined>();
    const { driver, base } = this.storage.getMount(prefix);
    const oneLevel = driver as RangeDriver;
    if (listEach && oneLevel.getChildPrefixes && (end - first) / DAY_MS > LIST_DAYS_SEPARATELY) {
      const [from, to] = [dayOf(start), dayOf(end - 1)];
      // The day the listing starts from is listed meanwhile, on the chance that it holds segments (a page
      // back from now, or from the module's first day): its partition's listing is then at hand.
      // Holding segments, it is the first partition whatever the other days are: it is read at once.
      const firstDay = order === "desc" ? to : from;
      const guess = this.storage.getKeys(`${prefix}:${firstDay}`);
      const named = (async () => {
        let names: string[];
        try {
          names = await oneLevel.getChildPrefixes!(prefix.slice(base.length));
        } catch (cause) {
          throw storageFailure("list", cause);
        }
        const inRange = names.filter((day) => DAY_PATTERN.test(day) && day >= from && day <= to).sort();
        return order === "desc" ? inRange.reverse() : inRange;
      })();
      named.catch(() => {});
      const keys = await guess;
      if (keys.some((key) => parseSegmentKey(prefix, key)?.day === firstDay)) {
        days.set(firstDay, keys);
        return { days, rest: named.then((names) => names.filter((day) => day !== firstDay)) };
      }
      for (const day of await named) days.set(day, undefined);
    } else if ((end - first) / DAY_MS <= LIST_DAYS_SEPARATELY) {
      const wanted: string[] = [];
      for (let t = first; t < end; t += DAY_MS) wanted.push(dayOf(t));
      const listed = await Promise.all(wanted.map((day) => this.storage.getKeys(`${prefix}:${day}`)));
      listed.forEach((keys, i) => {
        if (keys.length) days.set(wanted[i]!, keys);
      });
    } else if (oneLevel.getKeysByChild) {
      // The days' keys grouped by the driver (prefixes.ts): one call, each day's keys already together.
      const [from, to] = [dayOf(start), dayOf(end - 1)];
      let groups: [string, string[]][];
      try {
        groups = await oneLevel.getKeysByChild(prefix.slice(base.length));
      } catch (cause) {
        throw storageFailure("list", cause);
      }
      for (const [day, names] of groups) {
        if (!DAY_PATTERN.test(day) || day < from || day > to) continue;
        const keys: string[] = [];
        for (const name of names) {
          const key = `${prefix}:${day}:${name}`;
          if (parseSegmentKey(prefix, isQuarantined(key) ? quarantinedFrom(key) : key)) keys.push(key);
        }
        if (keys.length > 0) days.set(day, keys);
      }
    } else {
      const [from, to] = [dayOf(start), dayOf(end - 1)];
      for (const key of await this.storage.getKeys(prefix)) {
        const parsed = parseSegmentKey(prefix, isQuarantined(key) ? quarantinedFrom(key) : key);
        if (!parsed || parsed.day < from || parsed.day > to) continue;
        const list = days.get(parsed.day);
        if (list) list.push(key);
        else days.set(parsed.day, [key]);
      }
    }
    return { days };
  }

  /**
   * One partition listed and read again, whole (not lazily): what a scan falls back on when a segment it
   * read lazily was compacted away before its columns were fetched.
   */
  async rereadPartition(tenant: string, module: string, day: string, cache = true): Promise<Partition> {
    return { day, segments: await this.loadPartition(tenant, module, day, undefined, true, cache) };
  }

  /**
   * A partition's live segments in name order — those no other listed segment supersedes — with their
   * duplicate masks unless `masks` is false (writers do not need them). A segment deleted between listing
   * and reading was superseded by compaction, so the partition is listed again.
   */
  private async loadPartition(
    tenant: string,
    module: string,
    day: string,
    listed?: string[],
    masks = true,
    cache = true,
    stones?: Promise<Tombstone[]>,
    lazy = false,
  ): Promise<Partition["segments"]> {
    const state = await this.partitionState(tenant, module, day, listed, cache, stones, lazy);
    // Readers must not answer without the quarantined events; writers go on (see quarantine.ts).
    if (masks && state.quarantined.length > 0) throw quarantinedError(day, state.quarantined);
    const live = state.live;
    let m: (Uint8Array | null)[] = [];
    // Duplicates are marked only across segments (dedup.ts): a lone segment has none, nothing to look up.
    if (masks && live.length > 1) {
      const signature = live.map((s) => s.key).join("|");
      // Duplicates can only be among several segments; their check reads times, ids and ingestion instants. A segment
      // compacted away since its header was read: list the partition again and read it whole.
      if (!this.masks.has(signature) && !(await loadColumns(live, ["time", "id.o", "id.b", "ingested"])))
        return this.loadPartition(tenant, module, day, undefined, masks, cache);
      m = this.masks.get(signature) ?? duplicateMasks(live.map((s) => s.segment));
      if (this.masks.size > 10_000) this.masks.clear();
      this.masks.set(signature, m);
    }
    return live.map((s, i) => ({ ...s, duplicates: m[i] ?? null }));
  }

  /**
   * Live and superseded segments of a partition (compaction deletes the superseded ones). `stones`: the
   * module's tombstones, read after `listed` was listed (a query reads them once for all its partitions).
   */
  async partitionState(
    tenant: string,
    module: string,
    day: string,
    listed?: string[],
    cache = true,
    stones?: Promise<Tombstone[]>,
    lazy = false,
  ) {
    const prefix = eventsPrefix(tenant, module);
    // Expired by retention, or under a tombstone: gone for every reader, however far deletion has got.
    if (day < this.retainedFrom(module)) return { live: [], superseded: [], quarantined: [] };
    for (let attempt = 0; ; attempt++) {
      const all = attempt === 0 && listed ? listed : await this.storage.getKeys(`${prefix}:${day}`);
      const quarantined = all.filter((key) => isQuarantined(key));
      const keys = all.filter((key) => parseSegmentKey(prefix, key)?.day === day).sort();
      // Read after the listing: a compaction that lists, then merges, can only have missed a tombstone
      // written after its listing, and then every input (so its merge) is older than the tombstone.
      // Started now, so that it overlaps the segments' reads.
      const stonesRead =
        attempt === 0 && listed && stones
          ? stones.then((found) => found.filter((t) => t.day === undefined || t.day === day))
          : this.tombstones.covering(tenant, module, day);
      stonesRead.catch(() => {});
      // At most 16 reads at once: with a cold cache, each concurrent write or query would otherwise hold
      // a file open per segment of the partition (thousands of fds under load).
      // Segments all in the cache need no read (a warm query over months meets only those): no task each.
      const loaded =
        this.cachedSegments(keys, lazy) ??
        (await mapLimit(keys, 16, (key) => this.loadSegment(key, cache, lazy)));
      // A segment deleted since the listing was compacted away: harmless when a segment we did read
      // supersedes it (its events are there); otherwise list again.
      // (Sets of names built only when needed: a compacted segment names every segment it merged, and a
      // query meets this for each of its partitions.)
      const covering = loaded.includes(undefined)
        ? new Set(loaded.flatMap((s) => s?.supersedes ?? []))
        : undefined;
      const lost = covering
        ? keys.filter((key, i) => loaded[i] === undefined && !covering.has(nameOf(key)))
        : [];
      if (lost.length > 0) {
        if (attempt < 5) continue;
        throw new TallyError("unavailable", `partition ${day} kept changing while it was read; retry`);
      }
      const stonesHere = await stonesRead;
      const segments = keys
        .map((key, i) => ({ key, name: nameOf(key), segment: loaded[i]! }))
        .filter((s) => s.segment !== undefined)
        .filter((s) => stonesHere.length === 0 || !buried(stonesHere, s.segment.maxIngested));
      const superseded =
        segments.length > 1 ? new Set(segments.flatMap((s) => s.segment.supersedes)) : new Set<string>();
      return {
        live: segments.filter((s) => !superseded.has(s.name)),
        superseded: segments.filter((s) => superseded.has(s.name)),
        quarantined,
      };
    }
  }

  /** The keys' segments if every one is cached as `loadSegment` would hand it out, else undefined. */
  private cachedSegments(keys: readonly string[], lazy: boolean): Segment[] | undefined {
    const out: Segment[] = [];
    for (const key of keys) {
      const cached = this.cache.get(key);
      if (!cached || !(lazy || cached.complete)) return undefined;
      out.push(cached);
    }
    return out;
  }

  /**
   * The decoded segment, or undefined when the key is gone (superseded and deleted since it was listed).
   * `cache` false: use a cached copy if there is one, but do not keep this one (a one-off full read).
   * `lazy`: the caller loads the columns it uses (Segment.ensure), so a large segment may come with its
   * header only; otherwise every column is at hand.
   */
  private async loadSegment(key: string, cache = true, lazy = false): Promise<Segment | undefined> {
    const cached = this.cache.get(key);
    if (cached) {
      if (lazy || cached.complete) return cached;
      return (await cached.ensure()) ? cached : undefined;
    }
    let stored: Uint8Array | undefined;
    if (lazy) {
      const read = await this.readLazily(key, cache);
      if (read === "gone") return undefined;
      if (read instanceof Segment) return read;
      stored = read;
    }
    stored ??= await this.readStoredBytes(key);
    if (stored === undefined) return undefined;
    // A segment sealed with a key this store lacks fails as the codec says (failed_precondition), and so
    // does one that a key not proven right cannot open: an operator's problem, not damage. One that a
    // proven key cannot open is damaged, and so is one that opens but does not decode: both are moved
    // aside, so that writes to its day go on (quarantine.ts).
    let bytes: Uint8Array;
    try {
      bytes = await this.codec.open(key, stored);
    } catch (error) {
      if (error instanceof TallyError && error.code === "data_loss" && (await this.damaged(key, stored))) {
        throw await quarantine(this.storage, key, stored, error);
      }
      throw error;
    }
    let segment: Segment;
    try {
      segment = new Segment(bytes, key, this.inflate);
    } catch (error) {
      if (error instanceof TallyError && error.code === "data_loss") {
        throw await quarantine(this.storage, key, stored, error);
      }
      throw error;
    }
    if (cache) {
      this.cache.set(key, segment, bytes.byteLength);
      this.countGrowth(key, segment);
    }
    return segment;
  }

  /** A cached segment that comes to hold more (a page's inflated data) is counted again. */
  private countGrowth(key: string, segment: Segment): void {
    segment.onGrow = () => {
      if (this.cache.get(key) === segment) this.cache.set(key, segment, segment.heldBytes);
    };
  }

  /**
   * A large plain segment read from a driver with partial reads (storage-drivers/ranges.ts): its header
   * now, its columns when asked. Otherwise undefined, and it is read whole (sealed, no per-column sums, no
   * such driver) — or the whole file, when the first read got all of it. "gone" when there is none.
   */
  private async readLazily(key: string, cache: boolean): Promise<Segment | Uint8Array | "gone" | undefined> {
    if (this.codec !== PLAIN_CODEC) return undefined;
    const { driver, base } = this.storage.getMount(key);
    const relativeKey = key.slice(base.length);
    const ranged = driver as RangeDriver;
    if (typeof ranged.getItemRanges !== "function") return undefined;
    const read = async (ranges: readonly (readonly [number, number])[]) => {
      try {
        return await ranged.getItemRanges!(relativeKey, ranges);
      } catch (cause) {
        throw storageFailure("read", cause);
      }
    };
    let head = await read([[0, HEAD_BYTES]]);
    if (head === null) return "gone";
    if (head.parts[0]!.byteLength < HEAD_BYTES) return head.parts[0]!;
    // A header longer than the first read (many paths or shapes): read as much as it needs.
    const needed = Segment.headLength(head.parts[0]!);
    if (needed > HEAD_BYTES && needed <= MAX_HEAD_BYTES) {
      head = await read([[0, needed]]);
      if (head === null) return "gone";
    }
    const first = head.parts[0]!;
    const segment = Segment.lazy(
      first,
      head.size,
      {
        read: async (ranges) => (await read(ranges))?.parts,
        splitAt: ranged.splitRangesAt,
        // The cache counts what a segment holds: grow its entry as columns arrive.
        loaded: () => segment?.onGrow?.(),
        damaged: async (error) => {
          const stored = await this.readStoredBytes(key);
          return stored === undefined ? error : quarantine(this.storage, key, stored, error);
        },
      },
      key,
      this.inflate,
    );
    if (!segment) return undefined;
    if (cache) {
      this.cache.set(key, segment, segment.heldBytes);
      this.countGrowth(key, segment);
    }
    return segment;
  }

  /**
   * Whether a sealed segment that did not open is damaged rather than opened with the wrong key: its
   * header is unreadable, or the key it names is proven right by its check value (encryption-check.ts).
   */
  private async damaged(key: string, stored: Uint8Array): Promise<boolean> {
    const id = sealedWith(key, stored);
    return id === undefined || (await keyVerified(this.storage, this.codec, id));
  }

  /** A segment's plain bytes (opened by the codec), or undefined when the key is gone. */
  async readSegmentBytes(key: string): Promise<Uint8Array | undefined> {
    const stored = await this.readStoredBytes(key);
    return stored === undefined ? undefined : this.codec.open(key, stored);
  }

  /** A segment's bytes as stored (sealed when encryption is on), or undefined when the key is gone. */
  async readStoredBytes(key: string): Promise<Uint8Array | undefined> {
    let raw: unknown;
    try {
      raw = await this.storage.getItemRaw(key);
    } catch (cause) {
      throw storageFailure("read", cause);
    }
    if (raw === null || raw === undefined) return undefined;
    return raw instanceof Uint8Array ? raw : new Uint8Array(raw as ArrayBuffer);
  }

  /** Stores plain segment bytes at an event key (restore, migration), sealed by this store's codec. */
  async writeSegmentBytes(key: string, plain: Uint8Array): Promise<void> {
    new Segment(plain, key); // refuse to store anything that would not read back
    const sealed = await this.codec.seal(key, plain);
    try {
      await this.storage.setItemRaw(key, sealed);
    } catch (cause) {
      throw storageFailure("write", cause);
    }
  }

  /**
   * Writes the compacted segment of `inputs`' rows (each segment's, less the rows its mask drops), naming
   * `supersedes`; see compaction.ts. Where the encoder merges elsewhere (a worker thread on Node) the inputs
   * are read again as stored and merged there; an input gone meanwhile (another process compacted it) makes
   * this merge happen here, from the segments as loaded, as it always can.
   */
  async writeMerged(
    tenant: string,
    module: string,
    day: string,
    inputs: readonly { key: string; segment: Segment; mask: Uint8Array | null }[],
    supersedes: string[],
  ): Promise<string> {
    const merge = this.encoder.merge?.bind(this.encoder);
    const files = merge ? await Promise.all(inputs.map((i) => this.readSegmentBytes(i.key))) : [];
    if (!merge || files.some((f) => f === undefined))
      return this.writeSegment(tenant, module, day, mergedEvents(inputs), supersedes);
    const now = this.now();
    const key = segmentKey(tenant, module, day, newSegmentName(now));
    const merged = await merge(
      files as Uint8Array[],
      inputs.map((i) => i.mask),
      now,
      supersedes,
    );
    try {
      await this.storage.setItemRaw(key, await this.codec.seal(key, merged.bytes));
    } catch (cause) {
      throw storageFailure("write", cause);
    }
    const { ids, idEnd, times } = merged;
    this.indexRows(
      tenant,
      module,
      day,
      key,
      merged.count,
      (i) => ids.slice(i > 0 ? idEnd[i - 1] : 0, idEnd[i]),
      (i) => times[i]!,
    );
    return key;
  }

  /** Writes a compacted segment; see compaction.ts. */
  async writeSegment(
    tenant: string,
    module: string,
    day: string,
    events: StoredEvent[],
    supersedes: string[],
  ) {
    const now = this.now();
    const key = segmentKey(tenant, module, day, newSegmentName(now));
    try {
      await this.storage.setItemRaw(
        key,
        await this.codec.seal(key, encodeSegment(events, now, supersedes, true)),
      );
    } catch (cause) {
      throw storageFailure("write", cause);
    }
    this.indexWritten(tenant, module, day, key, events);
    return key;
  }

  async removeSegment(key: string): Promise<void> {
    this.cache.delete(key);
    try {
      await this.storage.removeItem(key);
    } catch (cause) {
      throw storageFailure("remove", cause);
    }
  }
}

/** Loads `columns` of lazily read segments; false when one has gone meanwhile (compacted away). */
async function loadColumns(segments: readonly { segment: Segment }[], columns: string[]): Promise<boolean> {
  const loaded = await Promise.all(segments.map((s) => s.segment.ensure(columns)));
  return !loaded.includes(false);
}

/** Whether each event's (time, id) is greater than the one before it: then no two are the same. */
function ascending(events: readonly StoredEvent[]): boolean {
  for (let i = 1; i < events.length; i++) {
    const [a, b] = [events[i - 1]!, events[i]!];
    if (!(a.time < b.time || (a.time === b.time && a.id < b.id))) return false;
  }
  return true;
}

/**
 * One list of a group's members' events (each member's distinct), without an event an earlier member
 * already has (same id and time): those are the later member's duplicates, as if it had run after.
 */
function withoutRepeats(lists: readonly StoredEvent[][]): StoredEvent[] {
  const nonEmpty = lists.filter((list) => list.length > 0);
  if (nonEmpty.length <= 1) return nonEmpty[0] ?? [];
  // Members whose time spans do not meet cannot share an event (the usual case: successive batches).
  const spans = nonEmpty.map((list) => {
    let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const e of list) [lo, hi] = [Math.min(lo, e.time), Math.max(hi, e.time)];
    return [lo, hi] as const;
  });
  const meet = spans.some(([lo, hi], i) => spans.some(([lo2, hi2], j) => j < i && lo <= hi2 && lo2 <= hi));
  if (!meet) return nonEmpty.flat();
  const seen = new Set<string>();
  const out: StoredEvent[] = [];
  for (const list of nonEmpty)
    for (const e of list) {
      const key = `${e.time}\u0000${e.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
  return out;
}

function nameOf(key: string): string {
  return key.slice(key.lastIndexOf(":") + 1);
}

/**
 * Wall-clock ms with a sub-millisecond fraction: ingestion instants and page snapshots compare finer than
 * a millisecond, so an event written in the same millisecond as a first page almost always sorts after it.
 * (The whole part stays Date.now(), which follows the system clock as other processes see it.) Never
 * decreasing: the fraction's millisecond boundary is not Date.now()'s, so the sum alone can step back by
 * up to 1 ms, and a query right after an acknowledged write would then miss it (the fault suite found it).
 * Strictly increasing, by at least 2 µs (segment names keep microseconds; one more absorbs the rounding of
 * a double near 2^40): two instants of one process are never equal, or a deletion stamped right after a
 * write could fail to cover its segment (named at the same instant, not before it), which then stayed.
 */
let lastNow = 0;
function preciseNow(): number {
  lastNow = Math.max(lastNow + 0.002, Date.now() + (performance.now() % 1));
  return lastNow;
}

/**
 * Time-ordered, collision-resistant segment names: 11 base-36 digits of microseconds, then 12 random ones.
 * Microseconds, because names order like the sub-millisecond ingestion instants that page snapshots
 * compare (of a duplicated event's copies the first ingested counts, dedup.ts; then the first by name).
 */
function newSegmentName(now: number): string {
  const random = new Uint32Array(2);
  crypto.getRandomValues(random);
  const tail = (random[0]!.toString(36).padStart(7, "0") + random[1]!.toString(36).padStart(7, "0")).slice(
    0,
    12,
  );
  return (
    Math.floor(now * 1000)
      .toString(36)
      .padStart(11, "0") + tail
  );
}
