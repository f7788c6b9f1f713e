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
 * across the whole flat map: such a ring is unwrapped and drawn as up to three copies (shifted by -360,
 * 0 and +360 degrees), each clipped to the map's -180..180. Clipped, not clamped: clamping would fold
 * everything beyond the edge onto it, drawing Russia's whole north-south extent as a line at -180.
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
  // Of the three copies, keep those that cover some area inside the map.
  return [0, -360, 360]
    .map((by) =>
      clip(
        clip(
          unwrapped.map(([lon, lat]) => [lon! + by, lat!]),
          -180,
          1,
        ),
        180,
        -1,
      ),
    )
    .filter((r) => {
      const lons = r.map((p) => p[0]!);
      return r.length >= 3 && Math.max(...lons) > Math.min(...lons);
    });
}

/**
 * Sutherland–Hodgman: the part of a closed ring on one side of the meridian `edge` (`side` 1: east of it,
 * -1: west of it), with a point added where each crossing edge meets it.
 */
function clip(ring: Ring, edge: number, side: 1 | -1): Ring {
  const inside = (p: number[]) => (p[0]! - edge) * side >= 0;
  const meet = (a: number[], b: number[]) => [
    edge,
    a[1]! + ((b[1]! - a[1]!) * (edge - a[0]!)) / (b[0]! - a[0]!),
  ];
  const out: Ring = [];
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const current = ring[i]!;
    const previous = ring[(i + n - 1) % n]!;
    if (inside(current)) {
      if (!inside(previous)) out.push(meet(previous, current));
      out.push(current);
    } else if (inside(previous)) out.push(meet(previous, current));
  }
  // GeoJSON rings end where they start.
  if (out.length > 0 && (out[0]![0] !== out.at(-1)![0] || out[0]![1] !== out.at(-1)![1]))
    out.push([...out[0]!]);
  return out;
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
