/**
 * A module's `locationDecimals` rounding (module-policy.ts) as a plain function: the same on both sides
 * of the equator and of the prime meridian, never a point outside the valid ranges.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../store/json.ts";
import { applyIngestPolicy } from "./module-policy.ts";

function rounded(lat: number, lon: number, locationDecimals: number): [number, number] {
  const e: StoredEvent = { id: "e", type: "t", time: 0, data: {}, lat, lon };
  applyIngestPolicy([e], { locationDecimals }, "");
  return [e.lat, e.lon];
}

/** Exact binary ties: whole degrees plus a half, quarter or eighth. */
const tie = (max: number) =>
  fc
    .tuple(fc.integer({ min: -max, max }), fc.constantFrom(0.5, 0.25, 0.125, 0.375))
    .map(([k, f]) => (k < 0 ? k - f : k + f));

describe("locationDecimals rounding", () => {
  it("rounds a tie away from zero in every hemisphere: -1.5 as -2 like 1.5 as 2 (not Math.round's -1)", () => {
    expect(rounded(1.5, 2.5, 0)).toEqual([2, 3]);
    expect(rounded(-1.5, -2.5, 0)).toEqual([-2, -3]);
    // 0.125 and 0.375 are exact in binary: true ties at two decimals.
    expect(rounded(-0.125, -179.375, 2)).toEqual([-0.13, -179.38]);
    expect(rounded(-0.5, 0.5, 0)).toEqual([-1, 1]);
  });

  it("commutes with negation, keeps ranges and writes no -0", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: -90, max: 90, noNaN: true }), tie(89)),
        fc.oneof(fc.double({ min: -180, max: 180, noNaN: true }), tie(179)),
        fc.integer({ min: 0, max: 10 }),
        (lat, lon, decimals) => {
          const [y, x] = rounded(lat, lon, decimals);
          const [ny, nx] = rounded(-lat, -lon, decimals);
          expect(ny).toBe(-y + 0);
          expect(nx).toBe(-x + 0);
          expect(Math.abs(y)).toBeLessThanOrEqual(90);
          expect(Math.abs(x)).toBeLessThanOrEqual(180);
          expect(Object.is(y, -0) || Object.is(x, -0)).toBe(false);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
