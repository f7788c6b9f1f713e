import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { duplicateMasks, holds } from "./dedup.ts";
import type { StoredEvent } from "./json.ts";
import { Segment } from "./segment.ts";
import { encodeSegment } from "./segment-encode.ts";

const event = (id: string, time: number): StoredEvent => ({
  id,
  type: "t",
  time,
  data: {},
  lat: Number.NaN,
  lon: Number.NaN,
});
const segmentOf = (events: StoredEvent[], ingestedAt = 0) => new Segment(encodeSegment(events, ingestedAt));

/**
 * The rule, written plainly: an (id, time) pair counts in the copy ingested first; of copies ingested at
 * the same instant, in the first segment's.
 */
function bruteForce(segments: Segment[]): boolean[][] {
  const first = new Map<string, [number, number]>();
  segments.forEach((s, j) => {
    for (let r = 0; r < s.count; r++) {
      const key = `${s.time[r]}/${s.id(r)}`;
      const known = first.get(key);
      if (!known || s.ingested[r]! < known[1]) first.set(key, [j, s.ingested[r]!]);
    }
  });
  return segments.map((s, j) =>
    Array.from({ length: s.count }, (_, r) => first.get(`${s.time[r]}/${s.id(r)}`)![0] !== j),
  );
}

describe("duplicate masks", () => {
  it("mark all copies of racing writes but the first ingested, whatever the overlap pattern", () => {
    const batch = fc.uniqueArray(
      fc.record({ id: fc.constantFrom("a", "b", "c", "d", "e"), time: fc.integer({ min: 0, max: 12 }) }),
      {
        selector: (e) => `${e.id}/${e.time}`,
        maxLength: 12,
      },
    );
    fc.assert(
      // Ingestion instants out of name order too: a merged segment keeps its events' first ingestion.
      fc.property(fc.array(fc.tuple(batch, fc.nat(3)), { maxLength: 7 }), (batches) => {
        const segments = batches.map(([b, at]) =>
          segmentOf(
            b.map((e) => event(e.id, e.time)),
            at,
          ),
        );
        const masks = duplicateMasks(segments);
        const expected = bruteForce(segments);
        segments.forEach((s, j) => {
          for (let r = 0; r < s.count; r++) expect(Boolean(masks[j]?.[r])).toBe(expected[j]![r]);
        });
      }),
      { numRuns: 500 },
    );
  });

  it("leave segments that do not overlap in time alone", () => {
    const masks = duplicateMasks([segmentOf([event("a", 1), event("a", 2)]), segmentOf([event("a", 3)])]);
    expect(masks).toEqual([null, null]);
  });

  it("find an event by id and time", () => {
    const s = segmentOf([event("x", 5), event("y", 5), event("x", 6)]);
    expect(holds(s, "y", 5)).toBe(true);
    expect(holds(s, "y", 6)).toBe(false);
    expect(holds(s, "z", 5)).toBe(false);
  });
});
