import { describe, expect, it } from "vitest";
import { splitAntimeridian, worldGeoJson } from "./world-map.ts";

function rings(geometry: { type: string; coordinates: unknown }): number[][][] {
  return (geometry.coordinates as number[][][][]).flat();
}

describe("the offline world outline", () => {
  const world = worldGeoJson();

  it("holds the countries, without Antarctica", () => {
    const names = world.features.map((f) => f.properties.name);
    expect(names.length).toBeGreaterThan(170);
    expect(names).toContain("Russia");
    expect(names).toContain("Fiji");
    expect(names).not.toContain("Antarctica");
  });

  it("has no ring that jumps across the antimeridian (which would draw a line across the map)", () => {
    for (const feature of world.features) {
      for (const ring of rings(feature.geometry)) {
        for (let i = 1; i < ring.length; i++) {
          expect(Math.abs(ring[i]![0]! - ring[i - 1]![0]!), feature.properties.name).toBeLessThanOrEqual(180);
        }
        for (const [lon, lat] of ring) {
          expect(Math.abs(lon!)).toBeLessThanOrEqual(180);
          expect(Math.abs(lat!)).toBeLessThanOrEqual(90);
        }
      }
    }
  });

  it("keeps Russia on both sides of the antimeridian", () => {
    const russia = world.features.find((f) => f.properties.name === "Russia")!;
    const lons = rings(russia.geometry)
      .flat()
      .map((p) => p[0]!);
    expect(Math.min(...lons)).toBeLessThan(-170);
    expect(Math.max(...lons)).toBeGreaterThan(170);
  });

  it("draws nothing along the map's edge but where land crosses it", () => {
    // Clamping the copies (as before) folded Russia's whole extent onto -180: a line from 41°N to 82°N.
    for (const feature of world.features) {
      for (const ring of rings(feature.geometry)) {
        const edge = ring.filter(([lon]) => Math.abs(lon!) === 180).map(([, lat]) => lat!);
        if (feature.properties.name === "Russia" && edge.length > 0) {
          expect(Math.min(...edge)).toBeGreaterThan(60);
          expect(Math.max(...edge)).toBeLessThan(72);
        }
      }
    }
    const [east, west] = splitAntimeridian([
      [100, 40],
      [179, 40],
      [-175, 65],
      [-175, 70],
      [179, 80],
      [100, 80],
      [100, 40],
    ]);
    expect(west!.map(([lon, lat]) => [lon, Math.round(lat! * 100) / 100])).toEqual([
      [-180, 44.17],
      [-175, 65],
      [-175, 70],
      [-180, 78.33],
      [-180, 44.17],
    ]);
    expect(east!.every(([lon]) => lon! <= 180)).toBe(true);
    expect(east!.filter(([lon]) => lon === 180).map(([, lat]) => Math.round(lat! * 100) / 100)).toEqual([
      44.17, 78.33,
    ]);
  });

  it("splits a crossing ring into a piece on each side", () => {
    const ring = [
      [170, 0],
      [-170, 0],
      [-170, 10],
      [170, 10],
      [170, 0],
    ];
    const parts = splitAntimeridian(ring);
    expect(parts).toHaveLength(2);
    expect(parts.map((p) => [Math.min(...p.map((q) => q[0]!)), Math.max(...p.map((q) => q[0]!))])).toEqual([
      [170, 180],
      [-180, -170],
    ]);
    expect(
      splitAntimeridian([
        [0, 0],
        [10, 0],
        [10, 10],
        [0, 0],
      ]),
    ).toHaveLength(1);
  });
});
