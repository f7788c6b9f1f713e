/**
 * Location filters. Boxes have inclusive edges and cross the antimeridian when west > east; circles use
 * the haversine distance on a sphere of radius 6,371,008.8 m (the mean Earth radius), edge inclusive.
 */
import type { GeoSpec } from "./query-spec.ts";

export const EARTH_RADIUS_M = 6_371_008.8;
const RAD = Math.PI / 180;

export function haversineMeters(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const dLat = (lat2 - lat1) * RAD;
  const dLon = (lon2 - lon1) * RAD;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Whether a point matches; NaN (no location) never does. */
export function geoPredicate(geo: GeoSpec): (lat: number, lon: number) => boolean {
  if (geo.kind === "box") {
    const { south, west, north, east } = geo;
    const wraps = west > east;
    return (lat, lon) =>
      lat >= south && lat <= north && (wraps ? lon >= west || lon <= east : lon >= west && lon <= east);
  }
  const { lat: cLat, lon: cLon, radiusMeters } = geo;
  // A point is at least its latitude difference away (along a meridian), so one outside the circle's
  // latitude band (widened far beyond rounding) is out without the trigonometry. NaN fails both tests.
  const band = (radiusMeters / EARTH_RADIUS_M / RAD) * (1 + 1e-9);
  return (lat, lon) => Math.abs(lat - cLat) <= band && haversineMeters(cLat, cLon, lat, lon) <= radiusMeters;
}

/** Whether a segment's bounding box [south, west, north, east] may hold a matching point. */
export function bboxMayMatch(geo: GeoSpec, bbox: [number, number, number, number] | null): boolean {
  if (!bbox) return false;
  const [s, w, n, e] = bbox;
  if (geo.kind === "box") {
    if (n < geo.south || s > geo.north) return false;
    if (geo.west > geo.east) return true;
    return !(e < geo.west || w > geo.east);
  }
  // Only the latitude band is cheap to bound exactly; longitude spans depend on latitude.
  const band = (geo.radiusMeters / EARTH_RADIUS_M / RAD) * (1 + 1e-9);
  return !(n < geo.lat - band || s > geo.lat + band);
}
