/**
 * What each partition this process writes to holds, as (id, time) fingerprints: a writer's duplicate
 * check hashes its batch and looks it up here, instead of reading and searching every segment of the
 * partition per request (hundreds between two compactions — under sustained load that decoding per
 * concurrent request was most of the server's memory and CPU).
 *
 * An entry knows which segment names it covers. Segments written by this process are added as they are
 * written; segments another process wrote (or merged) are read once, when a writer's listing first shows
 * them. Names are never dropped from an entry on the strength of a listing: a listing taken before this
 * process's own write would wrongly "remove" it. A covered segment that is gone when a hit must be
 * confirmed (compacted or deleted since) makes the writer rebuild the entry from a new listing.
 *
 * Entries are bounded in bytes, least recently used first out; a partition too large for the whole budget
 * is not indexed (and remembered as such) and its writers search the segments whose time spans meet their
 * batch's (EventStore.freshBySearch).
 */
import { FingerprintSet, fingerprint } from "./id-fingerprints.ts";

export class PartitionEntry {
  readonly set = new FingerprintSet();
  /** Segment keys by owner number; the set stores owner numbers. */
  readonly keys: string[] = [];
  private readonly owners = new Map<string, number>();

  covers(key: string): boolean {
    return this.owners.has(key);
  }

  /** Adds a segment's events (its rows, or the events just written to it). */
  addSegment(key: string, count: number, idOf: (i: number) => string, timeOf: (i: number) => number): void {
    let owner = this.owners.get(key);
    if (owner === undefined) {
      owner = this.keys.length;
      this.keys.push(key);
      this.owners.set(key, owner);
    }
    for (let i = 0; i < count; i++) {
      fingerprint(idOf(i), timeOf(i));
      this.set.add(owner);
    }
  }

  /** The key of the segment that may hold (id, time), or undefined when none does. */
  candidate(id: string, time: number): string | undefined {
    fingerprint(id, time);
    const owner = this.set.find();
    return owner < 0 ? undefined : this.keys[owner];
  }

  get bytes(): number {
    // Keys are ~90-character strings plus a map entry each.
    return this.set.bytes + this.keys.length * 200;
  }
}

export class PartitionIds {
  private readonly entries = new Map<string, PartitionEntry>();
  /**
   * Partitions found too large for the whole budget: not indexed again (each attempt would read the
   * whole partition only to drop it). Days move on, so few are ever here; the set is cleared if not.
   */
  private readonly oversize = new Set<string>();

  constructor(private readonly maxBytes: number) {}

  /** The partition's entry, created empty when missing; undefined when indexing is off or it is too large. */
  entry(partition: string): PartitionEntry | undefined {
    if (this.maxBytes <= 0 || this.oversize.has(partition)) return undefined;
    let entry = this.entries.get(partition);
    if (entry) this.entries.delete(partition);
    else entry = new PartitionEntry();
    // Map order is insertion order: re-inserting makes this the most recently used.
    this.entries.set(partition, entry);
    return entry;
  }

  /** The entry if there is one, without creating it or changing the order. */
  peek(partition: string): PartitionEntry | undefined {
    return this.entries.get(partition);
  }

  drop(partition: string): void {
    this.entries.delete(partition);
  }

  /**
   * Evicts least recently used entries until the total fits; reports whether `partition` still has
   * its entry (false: it alone is over the budget, and is dropped).
   */
  fit(partition: string): boolean {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.bytes;
    for (const [name, entry] of this.entries) {
      if (total <= this.maxBytes) break;
      this.entries.delete(name);
      total -= entry.bytes;
    }
    if (this.entries.has(partition)) return true;
    if (this.oversize.size >= 1000) this.oversize.clear();
    this.oversize.add(partition);
    return false;
  }
}
