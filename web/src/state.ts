/**
 * The dashboard's whole state, and its URL form: what is in the query string is the view, so a link can
 * be shared and a reload shows the same thing. Parsing is lenient (a hand-edited or stale link falls back
 * to defaults field by field), but says what it left out, so that the page can tell the reader the view is
 * not the one the link asked for; encoding leaves defaults out so links stay short.
 */
import { isTimeZone } from "./time.ts";

export const RANGE_PRESETS = ["24h", "7d", "30d", "90d", "365d"] as const;
export type RangeChoice = (typeof RANGE_PRESETS)[number] | "custom";
export const INTERVALS = ["auto", "hour", "day", "week", "month"] as const;
export type IntervalChoice = (typeof INTERVALS)[number];

/** The filterable fields: the URL key and the query field it stands for. */
export const FILTER_FIELDS = {
  org: "org",
  project: "project",
  type: "type",
  supply: "supplies.name",
  need: "needs",
} as const;
export type FilterKey = keyof typeof FILTER_FIELDS;
export const FILTER_KEYS = Object.keys(FILTER_FIELDS) as FilterKey[];
export const BREAKDOWNS = ["supply", "need", "org", "project"] as const;
export type BreakdownKey = (typeof BREAKDOWNS)[number];

export type LocationFilter =
  | { kind: "box"; south: number; west: number; north: number; east: number }
  | { kind: "circle"; lat: number; lon: number; radiusKm: number };

/** The map's zoom (1: the whole world) and the [lon, lat] at its center. */
export interface MapView {
  zoom: number;
  lon: number;
  lat: number;
}

export interface DashboardState {
  module: string;
  range: RangeChoice;
  /** Custom range: first and last day (inclusive), `YYYY-MM-DD`, in the time zone. */
  from: string;
  to: string;
  interval: IntervalChoice;
  /** IANA zone; "" means the browser's. */
  tz: string;
  filters: Record<FilterKey, string[]>;
  location: LocationFilter | undefined;
  breakdown: BreakdownKey;
  /** The map's zoom and center, which decide its cells; undefined: the whole world. */
  map: MapView | undefined;
}

export const DEFAULT_MODULE = "mod-disco";

export function defaultState(): DashboardState {
  return {
    module: DEFAULT_MODULE,
    range: "30d",
    from: "",
    to: "",
    interval: "auto",
    tz: "",
    filters: { org: [], project: [], type: [], supply: [], need: [] },
    location: undefined,
    breakdown: "supply",
    map: undefined,
  };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MODULE = /^[a-z][a-z0-9-]{0,62}$/;

function oneOf<T extends string>(list: readonly T[], value: string | null, fallback: T): T {
  return value !== null && (list as readonly string[]).includes(value) ? (value as T) : fallback;
}

function numbers(text: string | null, count: number): number[] | undefined {
  if (text === null) return undefined;
  const parts = text.split(",").map(Number);
  return parts.length === count && parts.every(Number.isFinite) ? parts : undefined;
}

function parseLocation(params: URLSearchParams): LocationFilter | undefined {
  const box = numbers(params.get("box"), 4);
  if (box) {
    const [south, west, north, east] = box as [number, number, number, number];
    if (south <= north && south >= -90 && north <= 90 && Math.abs(west) <= 180 && Math.abs(east) <= 180) {
      return { kind: "box", south, west, north, east };
    }
  }
  const near = numbers(params.get("near"), 3);
  if (near) {
    const [lat, lon, radiusKm] = near as [number, number, number];
    if (Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && radiusKm > 0)
      return { kind: "circle", lat, lon, radiusKm };
  }
  return undefined;
}

/**
 * The state a query string describes. Each parameter it has but cannot use (`range=bogus`, a reversed
 * custom range, an unknown time zone) falls back to its default and is added to `ignored` as `key=value`.
 */
export function parseState(search: string, ignored: string[] = []): DashboardState {
  const params = new URLSearchParams(search);
  const state = defaultState();
  const drop = (...keys: string[]) => {
    for (const key of keys) for (const value of params.getAll(key)) ignored.push(`${key}=${value}`);
  };
  const module = params.get("module");
  if (module !== null && MODULE.test(module)) state.module = module;
  else if (module !== null) drop("module");
  const from = params.get("from");
  const to = params.get("to");
  const range = params.get("range");
  if (from !== null && to !== null && DAY.test(from) && DAY.test(to) && from <= to) {
    state.range = "custom";
    state.from = from;
    state.to = to;
    if (range !== null && range !== "custom") drop("range");
  } else {
    if (from !== null || to !== null) drop("from", "to");
    state.range = oneOf(RANGE_PRESETS, range, "30d");
    if (range !== null && range !== state.range) drop("range");
  }
  const interval = params.get("interval");
  state.interval = oneOf(INTERVALS, interval, "auto");
  if (interval !== null && interval !== state.interval) drop("interval");
  const tz = params.get("tz") ?? "";
  if (tz === "" || isTimeZone(tz)) state.tz = tz;
  else drop("tz");
  for (const key of FILTER_KEYS) {
    state.filters[key] = [...new Set(params.getAll(key))];
  }
  state.location = parseLocation(params);
  if (state.location === undefined) drop("box", "near");
  else if (state.location.kind === "box") drop("near");
  const by = params.get("by");
  state.breakdown = oneOf(BREAKDOWNS, by, "supply");
  if (by !== null && by !== state.breakdown) drop("by");
  const map = numbers(params.get("map"), 3);
  if (map) {
    const [zoom, lon, lat] = map as [number, number, number];
    if (zoom >= 1 && zoom <= 256 && Math.abs(lon) <= 180 && Math.abs(lat) <= 90)
      state.map = { zoom, lon, lat };
  }
  if (state.map === undefined) drop("map");
  return state;
}

/** Shortest decimal that survives the round trip, without float noise from map coordinates. */
function coord(n: number): string {
  return String(Math.round(n * 1e5) / 1e5);
}

export function encodeState(state: DashboardState): string {
  const params = new URLSearchParams();
  const defaults = defaultState();
  if (state.module !== defaults.module) params.set("module", state.module);
  if (state.range === "custom") {
    params.set("from", state.from);
    params.set("to", state.to);
  } else if (state.range !== defaults.range) {
    params.set("range", state.range);
  }
  if (state.interval !== defaults.interval) params.set("interval", state.interval);
  if (state.tz !== "") params.set("tz", state.tz);
  for (const key of FILTER_KEYS) {
    for (const value of state.filters[key]) params.append(key, value);
  }
  const loc = state.location;
  if (loc?.kind === "box") params.set("box", [loc.south, loc.west, loc.north, loc.east].map(coord).join(","));
  if (loc?.kind === "circle") params.set("near", [loc.lat, loc.lon, loc.radiusKm].map(coord).join(","));
  if (state.breakdown !== defaults.breakdown) params.set("by", state.breakdown);
  const map = state.map;
  if (map) params.set("map", [Math.round(map.zoom * 1000) / 1000, coord(map.lon), coord(map.lat)].join(","));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
