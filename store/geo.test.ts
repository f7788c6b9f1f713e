import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { geoPredicate, haversineMeters } from "./geo.ts";

const lat = fc.double({ min: -90, max: 90, noNaN: true });
const lon = fc.double({ min: -180, max: 180, noNaN: true });

describe("geoPredicate (circle)", () => {
  it("keeps exactly the points the haversine distance keeps, the latitude-band shortcut included", () => {
    fc.assert(
      fc.property(
        lat,
        lon,
        fc.oneof(fc.double({ min: 1, max: 20_000_000, noNaN: true }), fc.constantFrom(1, 50_000, 1e7)),
        fc.array(
          fc.oneof(
            fc.tuple(lat, lon),
            // Near the band's edge: a latitude difference of about the radius, any longitude.
            fc.tuple(fc.double({ min: 0.999, max: 1.001, noNaN: true }), lon, fc.boolean()),
            fc.constant([Number.NaN, Number.NaN] as const),
          ),
          { maxLength: 40 },
        ),
        (cLat, cLon, radiusMeters, points) => {
          const keep = geoPredicate({ kind: "circle", lat: cLat, lon: cLon, radiusMeters });
          const band = radiusMeters / 6_371_008.8 / (Math.PI / 180);
          for (const p of points) {
            const [pLat, pLon] =
              p.length === 3 ? [Math.max(-90, Math.min(90, cLat + (p[2] ? 1 : -1) * p[0] * band)), p[1]] : p;
            const expected = !Number.isNaN(pLat) && haversineMeters(cLat, cLon, pLat, pLon) <= radiusMeters;
            expect(keep(pLat, pLon)).toBe(expected);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
