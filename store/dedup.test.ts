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
const segmentOf = (events: StoredEvent[]) => new Segment(encodeSegment(events, 0));

/**
 * The rule, written plainly: an (id, time) pair counts in the segment holding its first ingested copy,
 * of equal instants the first segment.
 */
function bruteForce(segments: Segment[]): boolean[][] {
  const keep = new Map<string, [number, number]>();
  segments.forEach((s, j) => {
    for (let r = 0; r < s.count; r++) {
      const key = `${s.time[r]}/${s.id(r)}`;
      const held = keep.get(key);
      if (held === undefined || s.ingested[r]! < held[1]) keep.set(key, [j, s.ingested[r]!]);
    }
  });
  return segments.map((s, j) =>
    Array.from({ length: s.count }, (_, r) => keep.get(`${s.time[r]}/${s.id(r)}`)![0] !== j),
  );
}

describe("duplicate masks", () => {
  it("mark all but the first ingested copy of racing writes, whatever the overlap pattern", () => {
    const batch = fc.uniqueArray(
      fc.record({
        id: fc.constantFrom("a", "b", "c", "d", "e"),
        time: fc.integer({ min: 0, max: 12 }),
        // Ingestion instants as a compaction's merged segment keeps them: any order of names.
        ingested: fc.integer({ min: 0, max: 3 }),
      }),
      {
        selector: (e) => `${e.id}/${e.time}`,
        maxLength: 12,
      },
    );
    fc.assert(
      fc.property(fc.array(batch, { maxLength: 7 }), (batches) => {
        const segments = batches.map((b) =>
          segmentOf(b.map((e) => ({ ...event(e.id, e.time), ingested: e.ingested }))),
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
