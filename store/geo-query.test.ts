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

  it("adds a segment's rows through addRows exactly as add does row by row (bit-identical sums, same cells)", () => {
    /** Coordinates near cell edges, anywhere, -0, or not located (NaN latitude). */
    const coordinate = fc.oneof(
      fc.integer({ min: -30, max: 30 }).map((k) => k * 0.1),
      fc.double({ min: -90, max: 90, noNaN: true }),
      fc.constant(-0),
    );
    const segment = fc
      .array(fc.option(fc.tuple(coordinate, coordinate), { freq: 3, nil: undefined }), { maxLength: 200 })
      .chain((points) =>
        fc.tuple(
          fc.constant(points),
          // Matching rows: a subset, a contiguous run, or all.
          fc.oneof(
            fc.constant(points.map((_, r) => r)),
            fc.subarray(points.map((_, r) => r)),
            fc
              .tuple(fc.nat(points.length), fc.nat(points.length))
              .map(([a, b]) => points.map((_, r) => r).slice(Math.min(a, b), Math.max(a, b))),
          ),
        ),
      );
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom(0.1, 1, 0.0001, 25),
        adds,
        (segments, size, before) => {
          const viaRows = new GeoCells();
          const viaAdd = new GeoCells();
          // Cells already there (a state loaded by a stepped query) take the segments' rows after theirs.
          for (const [cellLat, cellLon, lat, lon, count] of before.slice(0, 20)) {
            viaRows.add(cellLat, cellLon, lat, lon, count);
            viaAdd.add(cellLat, cellLon, lat, lon, count);
          }
          for (const [points, rows] of segments) {
            const lat = Float64Array.from(points, (p) => (p ? p[0] : Number.NaN));
            const lon = Float64Array.from(points, (p) => (p ? p[1] : Number.NaN));
            // Three times: without a cell index, building it, then reading the one kept.
            for (let pass = 0; pass < 3; pass++) {
              viaRows.addRows(lat, lon, Uint32Array.from(rows), size);
              for (const r of rows) {
                const y = lat[r]!;
                if (Number.isNaN(y)) continue;
                viaAdd.add(Math.floor(y / size), Math.floor(lon[r]! / size), y, lon[r]!);
              }
            }
          }
          const got = [...viaRows.values()];
          const want = [...viaAdd.values()];
          expect(got.length).toBe(want.length);
          got.forEach((bin, i) => {
            const w = want[i]!;
            expect([bin.cellLat, bin.cellLon, bin.count]).toEqual([w.cellLat, w.cellLon, w.count]);
            expect(Object.is(bin.lat, w.lat) && Object.is(bin.lon, w.lon)).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps a cell of -0 coordinates at sums of -0 (as add does), through a cell index too", () => {
    const lat = Float64Array.of(-0, Number.NaN, -0);
    const lon = Float64Array.of(-0, Number.NaN, -0);
    for (let pass = 0; pass < 3; pass++) {
      const cells = new GeoCells();
      cells.addRows(lat, lon, Uint32Array.of(0, 1, 2), 0.1);
      const [bin] = [...cells.values()];
      expect(bin?.count).toBe(2);
      expect(Object.is(bin?.lat, -0) && Object.is(bin?.lon, -0)).toBe(true);
    }
  });
});
