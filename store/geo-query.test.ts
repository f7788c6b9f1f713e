import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type GeoBin, GeoCells } from "./geo-query.ts";

/** What GeoCells replaced: a Map keyed by the two cell indexes, an object per cell. */
function naive(adds: [number, number, number, number, number][]): Map<string, GeoBin> {
  const cells = new Map<string, GeoBin>();
  for (const [cellLat, cellLon, lat, lon, count] of adds) {
    const key = `${cellLat},${cellLon}`;
    const bin = cells.get(key);
    if (bin) {
      bin.lat += lat;
      bin.lon += lon;
      bin.count += count;
    } else cells.set(key, { cellLat, cellLon, lat, lon, count });
  }
  return cells;
}

/** Cells from a small grid (many repeats, collisions) or anywhere in the valid ±1,800,000 range. */
const cell = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -1_800_000, max: 1_800_000 }));
const adds = fc.array(
  fc.tuple(
    cell,
    cell,
    fc.double({ min: -90, max: 90, noNaN: true }),
    fc.double({ min: -180, max: 180, noNaN: true }),
    fc.integer({ min: 1, max: 1000 }),
  ),
  { maxLength: 2000 },
);

describe("GeoCells", () => {
  it("holds the same cells, sums and counts as a Map, in first-met order", () => {
    fc.assert(
      fc.property(adds, (list) => {
        const cells = new GeoCells();
        for (const [cellLat, cellLon, lat, lon, count] of list) cells.add(cellLat, cellLon, lat, lon, count);
        const expected = [...naive(list).values()];
        expect(cells.size).toBe(expected.length);
        // Sums are added in the same order, so they are bit-for-bit equal (toEqual would accept -0 for 0).
        const got = [...cells.values()];
        expect(got.length).toBe(expected.length);
        got.forEach((bin, i) => {
          const want = expected[i]!;
          expect(bin.cellLat).toBe(want.cellLat);
          expect(bin.cellLon).toBe(want.cellLon);
          expect(Object.is(bin.lat, want.lat)).toBe(true);
          expect(Object.is(bin.lon, want.lon)).toBe(true);
          expect(bin.count).toBe(want.count);
        });
      }),
      { numRuns: 200 },
    );
  });
});
