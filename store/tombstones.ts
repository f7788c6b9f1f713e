/**
 * Tombstones make deletion crash-safe. A deletion first writes a tombstone — "every segment of this
 * tenant / module / day whose events were all ingested before `before` is deleted" — and only then
 * removes segments. Readers (EventStore.partitionState, so queries, dedup, compaction, exports and
 * backups alike) skip every segment a tombstone covers, so from the moment the tombstone exists no one
 * sees the deleted data, however far the removal has got or wherever it crashed. Events ingested after
 * `before` are not covered: writing continues during a deletion.
 *
 * A tombstone outlives its sweep by a grace period (deletion.ts): a compaction that listed the partition
 * before the tombstone existed may still write its merged segment afterwards, and the tombstone must hide
 * that (its events were ingested before `before`) until a later sweep removes it.
 */
import type { Storage } from "unstorage";
import { TallyError } from "./errors.ts";
import { parseTombstoneKey, TOMBSTONES_PREFIX, type TombstoneScope, tombstoneKey } from "./keys.ts";

export interface Tombstone extends TombstoneScope {
  key: string;
  /** Segments whose every event was ingested before this instant (ms) are deleted. */
  before: number;
}

export class Tombstones {
  constructor(private readonly storage: Storage) {}

  /** Every tombstone in the store, read now (a deletion by another process counts from its first byte). */
  async list(): Promise<Tombstone[]> {
    let keys: string[];
    try {
      keys = await this.storage.getKeys(TOMBSTONES_PREFIX);
    } catch (cause) {
      throw new TallyError("unavailable", "storage list failed; retry", { cause });
    }
    const stones: Tombstone[] = [];
    for (const key of keys) {
      const scope = parseTombstoneKey(key);
      if (!scope) continue;
      const text = await this.storage.getItem(key);
      // Removed since it was listed: its deletion finished, nothing left to hide.
      if (text === null || text === undefined) continue;
      const { before } = (typeof text === "string" ? JSON.parse(text) : text) as { before: number };
      const { nonce: _, ...rest } = scope;
      stones.push({ ...rest, key, before });
    }
    return stones;
  }

  /** The tombstones covering a partition (or, without `day`, any part of the module). */
  async covering(tenant: string, module: string, day?: string): Promise<Tombstone[]> {
    const all = await this.list();
    return all.filter(
      (t) =>
        t.tenant === tenant &&
        (t.module === undefined || t.module === module) &&
        (t.day === undefined || day === undefined || t.day === day),
    );
  }

  /**
   * The keys of the tombstones that may cover part of a module's days [from, to] (yyyymmdd), sorted: from
   * the listing alone, no tombstone read (a query in steps notes them to see a deletion arrive).
   */
  async keysCovering(tenant: string, module: string, from: string, to: string): Promise<string[]> {
    let keys: string[];
    try {
      keys = await this.storage.getKeys(TOMBSTONES_PREFIX);
    } catch (cause) {
      throw new TallyError("unavailable", "storage list failed; retry", { cause });
    }
    return keys
      .filter((key) => {
        const t = parseTombstoneKey(key);
        if (!t || t.tenant !== tenant || (t.module !== undefined && t.module !== module)) return false;
        return t.day === undefined || (t.day >= from && t.day <= to);
      })
      .sort();
  }

  async write(scope: TombstoneScope, before: number): Promise<Tombstone> {
    const nonce = new Uint32Array(2);
    crypto.getRandomValues(nonce);
    const key = tombstoneKey(scope, nonce[0]!.toString(36) + nonce[1]!.toString(36));
    try {
      await this.storage.setItem(key, JSON.stringify({ before }));
    } catch (cause) {
      throw new TallyError("unavailable", "storage write failed; nothing was deleted, retry", { cause });
    }
    return { ...scope, key, before };
  }

  async remove(stone: Tombstone): Promise<void> {
    await this.storage.removeItem(stone.key);
  }
}

/** Whether a segment whose latest event was ingested at `maxIngested` lies under one of `stones`. */
export function buried(stones: readonly Tombstone[], maxIngested: number): boolean {
  for (const t of stones) if (maxIngested < t.before) return true;
  return false;
}
