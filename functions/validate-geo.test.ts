/** QueryGeo's and the geo filters' validation (validate-query.ts) at the edges of the contract's ranges. */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { QueryGeoRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { validateGeoQuery } from "./validate-query.ts";

const T0 = Date.UTC(2026, 2, 1);
const range = { start: timestampFromMs(T0), end: timestampFromMs(T0 + 86_400_000) };

function validate(fields: Record<string, unknown>) {
  return validateGeoQuery(
    create(QueryGeoRequestSchema, { module: "m", range, ...fields }),
    "t",
    T0,
    DEFAULT_LIMITS,
  );
}

describe("validateGeoQuery", () => {
  it("takes cellDegrees 0 (unset) and -0 as the default 1, and the documented bounds", () => {
    expect(validate({}).cellDegrees).toBe(1);
    expect(validate({ cellDegrees: -0 }).cellDegrees).toBe(1);
    expect(validate({ cellDegrees: 0.0001 }).cellDegrees).toBe(0.0001);
    expect(validate({ cellDegrees: 180 }).cellDegrees).toBe(180);
  });

  it('refuses a cellDegrees of NaN (proto3 JSON "NaN") instead of taking it as unset', () => {
    for (const cellDegrees of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0.00009, 180.0001])
      expect(() => validate({ cellDegrees }), String(cellDegrees)).toThrow(/^cellDegrees: /);
  });

  it("accepts boxes at the poles and across the antimeridian, circles at the poles and of any positive radius", () => {
    const box = (south: number, west: number, north: number, east: number) => ({
      geo: { shape: { case: "box", value: { south, west, north, east } } },
    });
    expect(validate(box(-90, 170, 90, -170)).geo).toEqual({
      kind: "box",
      south: -90,
      west: 170,
      north: 90,
      east: -170,
    });
    expect(validate(box(90, -180, 90, 180)).geo).toMatchObject({ south: 90, north: 90 });
    expect(() => validate(box(10, 0, 9, 1))).toThrow(/^geo\.box\.north: /);
    expect(() => validate(box(-90.5, 0, 9, 1))).toThrow(/^geo\.box\.south: /);
    expect(() => validate(box(0, 0, 9, Number.NaN))).toThrow(/^geo\.box\.east: /);
    const circle = (lat: number, lon: number, radiusMeters: number) => ({
      geo: { shape: { case: "circle", value: { center: { lat, lon }, radiusMeters } } },
    });
    expect(validate(circle(90, 180, 1e12)).geo).toEqual({
      kind: "circle",
      lat: 90,
      lon: 180,
      radiusMeters: 1e12,
    });
    expect(validate(circle(-90, -180, 1e-9)).geo).toMatchObject({ radiusMeters: 1e-9 });
    for (const r of [0, -0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => validate(circle(0, 0, r)), String(r)).toThrow(/^geo\.circle\.radiusMeters: /);
  });
});
