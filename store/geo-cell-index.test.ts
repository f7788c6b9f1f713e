import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildCellIndex, cellIndex } from "./geo-cell-index.ts";

/** Coordinates near a few cell edges (k * 0.1 and its neighbours), anywhere, -0 and not located (NaN). */
const coordinate = fc.oneof(
  fc.integer({ min: -30, max: 30 }).map((k) => k * 0.1),
  fc.integer({ min: -30, max: 30 }).map((k) => k * 0.1 + Number.EPSILON * 8),
  fc.double({ min: -90, max: 90, noNaN: true }),
  fc.constant(-0),
  fc.constant(Number.NaN),
);
const cellDegrees = fc.constantFrom(0.1, 0.25, 1, 0.0001, 7);

describe("cellIndex", () => {
  it("gives each row the cell floor(lat / size), floor(lon / size), one number per distinct cell, 0 when not located", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(coordinate, coordinate), { maxLength: 300 }),
        cellDegrees,
        (points, size) => {
          const lat = Float64Array.from(points, ([y]) => y);
          // Stored events have both coordinates or neither.
          const lon = Float64Array.from(points, ([y, x]) =>
            Number.isNaN(y) ? Number.NaN : Number.isNaN(x) ? 0 : x,
          );
          const index = buildCellIndex(lat, lon, size)!;
          const numbers = new Map<string, number>();
          points.forEach((_, r) => {
            const cell = index.cellOf[r]!;
            if (Number.isNaN(lat[r]!)) {
              expect(cell).toBe(0);
              return;
            }
            // + 0: cell -0 is cell 0 (an Int32Array holds no -0).
            const cy = Math.floor(lat[r]! / size) + 0;
            const cx = Math.floor(lon[r]! / size) + 0;
            expect(index.cellLat[cell - 1]).toBe(cy);
            expect(index.cellLon[cell - 1]).toBe(cx);
            const key = `${cy},${cx}`;
            if (!numbers.has(key)) numbers.set(key, numbers.size + 1);
            expect(cell).toBe(numbers.get(key));
          });
          expect(index.size).toBe(numbers.size);
        },
      ),
    );
  });

  it("declines a located row whose cell is not a pair of int32 indexes", () => {
    expect(
      buildCellIndex(Float64Array.of(1, 2), Float64Array.of(1, Number.POSITIVE_INFINITY), 0.1),
    ).toBeUndefined();
    expect(
      buildCellIndex(Float64Array.of(Number.POSITIVE_INFINITY), Float64Array.of(1), 0.1),
    ).toBeUndefined();
  });

  it("builds an index on a column's second visit at a size, and keeps them for the last two sizes", () => {
    const lat = Float64Array.of(1.05, 2);
    const lon = Float64Array.of(3, 4);
    expect(cellIndex(lat, lon, 0.1)).toBeUndefined();
    const a = cellIndex(lat, lon, 0.1);
    expect(a?.size).toBe(2);
    expect(cellIndex(lat, lon, 0.1)).toBe(a);
    expect(cellIndex(lat, lon, 1)).toBeUndefined();
    const b = cellIndex(lat, lon, 1);
    expect(b?.cellDegrees).toBe(1);
    expect(cellIndex(lat, lon, 0.1)).toBe(a);
    cellIndex(lat, lon, 2);
    expect(cellIndex(lat, lon, 2)?.cellDegrees).toBe(2);
    expect(cellIndex(lat, lon, 1)).toBe(b);
    // Size 0.1 was dropped (and forgotten): its next visit is a first one again.
    expect(cellIndex(lat, lon, 0.1)).toBeUndefined();
    expect(cellIndex(lat, lon, 0.1)).not.toBe(a);
  });
});

describe("buildCellIndex at the 16-bit limits", () => {
  it("numbers every cell right when rows and distinct cells reach and pass 65,535", () => {
    for (const rows of [0xfffe, 0xffff, 0x10000, 0x10001]) {
      // Every row in a cell of its own (cells of 0.0001°), the last row not located.
      const lat = Float64Array.from({ length: rows }, (_, r) =>
        r === rows - 1 ? Number.NaN : -90 + r * 0.0013,
      );
      const lon = Float64Array.from({ length: rows }, (_, r) =>
        r === rows - 1 ? Number.NaN : 179.99 - r * 0.0049,
      );
      const index = buildCellIndex(lat, lon, 0.0001)!;
      expect(index.size).toBe(rows - 1);
      expect(index.located.length).toBe(rows - 1);
      expect(index.located[rows - 2]).toBe(rows - 2);
      expect(index.cellOf[rows - 1]).toBe(0);
      let wrong = 0;
      for (let r = 0; r < rows - 1; r++) {
        const cell = index.cellOf[r]!;
        if (
          cell !== r + 1 ||
          index.cellLat[cell - 1] !== Math.floor(lat[r]! / 0.0001) ||
          index.cellLon[cell - 1] !== Math.floor(lon[r]! / 0.0001)
        )
          wrong++;
      }
      expect(wrong).toBe(0);
    }
  });
});
