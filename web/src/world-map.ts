/**
 * The offline basemap: world-atlas's Natural Earth 1:110m countries (TopoJSON, shipped in the build, so no
 * tile server is ever asked), as GeoJSON for a flat longitude/latitude map.
 */
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import world from "world-atlas/countries-110m.json";

type Ring = number[][];

/**
 * Rings that cross the antimeridian (Russia's and Fiji's) jump from +180 to -180 and would draw a line
 * across the whole flat map: such a ring is unwrapped and drawn twice, once clamped to each side.
 */
export function splitAntimeridian(ring: Ring): Ring[] {
  if (!ring.some((p, i) => i > 0 && Math.abs(p[0]! - ring[i - 1]![0]!) > 180)) return [ring];
  let shift = 0;
  const unwrapped = ring.map((p, i) => {
    if (i > 0) {
      const jump = p[0]! - ring[i - 1]![0]!;
      if (jump > 180) shift -= 360;
      if (jump < -180) shift += 360;
    }
    return [p[0]! + shift, p[1]!];
  });
  const east = unwrapped.map(([lon, lat]) => [Math.max(-180, Math.min(180, lon!)), lat!]);
  const west = unwrapped.map(([lon, lat]) => [Math.max(-180, Math.min(180, lon! - 360)), lat!]);
  const wrapped = unwrapped.map(([lon, lat]) => [Math.max(-180, Math.min(180, lon! + 360)), lat!]);
  // Of the three copies, keep those that cover some area inside the map.
  return [east, west, wrapped].filter((r) => {
    const lons = r.map((p) => p[0]!);
    return Math.max(...lons) > Math.min(...lons);
  });
}

export interface Geometry {
  type: string;
  coordinates: unknown;
}

function fixGeometry(geometry: Geometry): Geometry {
  const polygons =
    geometry.type === "Polygon" ? [geometry.coordinates as Ring[]] : (geometry.coordinates as Ring[][]);
  const fixed: Ring[][] = [];
  for (const polygon of polygons) {
    const parts = polygon[0] ? splitAntimeridian(polygon[0]) : [];
    // A crossing polygon's copies lose its holes: none of the crossing countries has one at 1:110m.
    if (parts.length <= 1) fixed.push(polygon);
    else for (const part of parts) fixed.push([part]);
  }
  return { type: "MultiPolygon", coordinates: fixed };
}

export interface WorldFeature {
  id?: string;
  properties: { name?: string };
  geometry: Geometry;
}

/** The countries as a GeoJSON FeatureCollection; Antarctica is left out to give the inhabited world room. */
export function worldGeoJson(): { type: "FeatureCollection"; features: WorldFeature[] } {
  const topology = world as unknown as Topology<{ countries: GeometryCollection }>;
  const countries = feature(topology, topology.objects.countries) as unknown as {
    type: "FeatureCollection";
    features: { id?: string; properties: { name?: string }; geometry: Geometry | null }[];
  };
  const features = countries.features
    .filter((f) => f.geometry !== null && f.properties.name !== "Antarctica")
    .map((f) => ({ ...f, geometry: fixGeometry(f.geometry!) }));
  return { type: "FeatureCollection", features };
}
