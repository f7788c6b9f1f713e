/**
 * The segment cache's count of a lazily read segment follows what it holds: its first read (header and
 * the bytes after it) until its first load, then the header and the columns it loaded — also when several
 * queries load columns of the same segments at once.
 */
import { createStorage } from "unstorage";
import { describe, expect, it } from "vitest";
import { QUERIES, runTally } from "../scripts/bench-queries.ts";
import { compactedStore } from "../test/compacted-store.ts";
import { EventStore } from "./event-store.ts";
import type { Segment } from "./segment.ts";

const AS_OF = Date.UTC(2030, 0, 1);

/** The cache's entries (private): each segment and the bytes it is counted at. */
function entries(store: EventStore): { segment: Segment; bytes: number }[] {
  const cache = (store as unknown as { cache: { entries: Map<string, { segment: Segment; bytes: number }> } })
    .cache;
  return [...cache.entries.values()];
}

function expectCountedAsHeld(store: EventStore) {
  const all = entries(store);
  expect(all.length).toBeGreaterThan(0);
  for (const { segment, bytes } of all) expect(bytes).toBe(segment.heldBytes);
  expect(store.cachedBytes).toBe(all.reduce((n, e) => n + e.segment.heldBytes, 0));
}

describe("the cache's count of lazy segments", () => {
  it("is each segment's heldBytes after every query, one at a time and all at once", async () => {
    const driver = await compactedStore();
    const one = new EventStore({ storage: createStorage({ driver }) });
    for (const q of QUERIES) {
      await runTally(one, q, AS_OF);
      expectCountedAsHeld(one);
    }
    const many = new EventStore({ storage: createStorage({ driver }) });
    await Promise.all(QUERIES.map((q) => runTally(many, q, AS_OF)));
    expectCountedAsHeld(many);
    // A lazy segment that has loaded something no longer holds its 128 KiB first read.
    for (const { segment } of entries(many)) expect(segment.heldBytes).toBeLessThan(1024 ** 2);
  }, 120_000);
});
