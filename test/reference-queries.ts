/**
 * The reference queries: plain request init objects (no page size, no page token) that the reference test
 * runs against both the server and the model, and that protocol tests can replay over other transports.
 * Together they cover every interval, operator, geo shape, aggregation and grouping of the contract, on
 * ranges chosen around DST changes and bucket edges of reference-data.ts.
 */
import type { JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { fromJson } from "@bufbuild/protobuf";
import { timestampFromMs, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  AggregationFunction,
  Interval,
  type ListEventsRequestSchema,
  Operator,
  Order,
  type QueryGeoRequestSchema,
  type QuerySeriesRequestSchema,
  Weekday,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import {
  ACCOUNT,
  BERLIN,
  BERLIN_EDGE_BOX,
  CITIES,
  DATA_END,
  DATA_START,
  DISCO,
  DST,
  EXACT_POINTS,
  LORD_HOWE,
  NUUK,
  SANTIAGO,
  SYDNEY,
  zonedMidnight,
} from "./reference-data.ts";
import { haversineMeters } from "./reference-model.ts";

export type SeriesRequestInit = MessageInitShape<typeof QuerySeriesRequestSchema>;
export type GeoRequestInit = MessageInitShape<typeof QueryGeoRequestSchema>;
export type ListRequestInit = MessageInitShape<typeof ListEventsRequestSchema>;

export interface SeriesQuery {
  name: string;
  rpc: "querySeries";
  request: SeriesRequestInit;
}
export interface GeoQuery {
  name: string;
  rpc: "queryGeo";
  request: GeoRequestInit;
}
export interface ListQuery {
  name: string;
  rpc: "listEvents";
  request: ListRequestInit;
}
export type ReferenceQuery = SeriesQuery | GeoQuery | ListQuery;

const MINUTE = 60_000;
const HOUR = 3_600_000;

function range(startMs: number, endMs: number) {
  return { start: timestampFromMs(startMs), end: timestampFromMs(endMs) };
}

function filter(field: string, op: Operator, ...values: JsonValue[]) {
  return { field, op, values: values.map((v): Value => fromJson(ValueSchema, v)) };
}

const berlin = (m: number, d: number) => zonedMidnight(BERLIN, 2026, m, d);
const sydney = (m: number, d: number) => zonedMidnight(SYDNEY, 2026, m, d);
const utc = (m: number, d: number, h = 0, min = 0) => Date.UTC(2026, m - 1, d, h, min);

const box = (south: number, west: number, north: number, east: number) => ({
  shape: { case: "box" as const, value: { south, west, north, east } },
});
const circle = (lat: number, lon: number, radiusMeters: number) => ({
  shape: { case: "circle" as const, value: { center: { lat, lon }, radiusMeters } },
});

/**
 * A circle around one exact point whose edge passes through another, widened or narrowed by 1e-7
 * relative: far above rounding noise, far below what a wrong Earth radius (e.g. 6,371,000 m) changes.
 */
function edgeCircle(scale: number) {
  const center = EXACT_POINTS.find((p) => p.lat === -34 && p.lon === 151.5)!;
  const edge = EXACT_POINTS.find((p) => p.lat === -33.5 && p.lon === 151)!;
  return circle(center.lat, center.lon, haversineMeters(center.lat, center.lon, edge.lat, edge.lon) * scale);
}

const series = (name: string, request: SeriesRequestInit): SeriesQuery => ({
  name,
  rpc: "querySeries",
  request,
});
const geo = (name: string, request: GeoRequestInit): GeoQuery => ({ name, rpc: "queryGeo", request });
const list = (name: string, request: ListRequestInit): ListQuery => ({
  name,
  rpc: "listEvents",
  request,
});

export const SERIES_QUERIES: readonly SeriesQuery[] = [
  // Intervals -------------------------------------------------------------------------------------------
  series("minute buckets around Berlin's spring-forward instant, range not minute-aligned", {
    module: DISCO,
    range: range(DST.berlinSpring - 45 * MINUTE + 17_000, DST.berlinSpring + 75 * MINUTE),
    interval: Interval.MINUTE,
    timeZone: BERLIN,
  }),
  series("hours of Berlin's 25-hour fall-back day, by role", {
    module: ACCOUNT,
    range: range(berlin(10, 24), berlin(10, 27)),
    interval: Interval.HOUR,
    timeZone: BERLIN,
    groupBy: ["role"],
  }),
  series("hours of Berlin's 23-hour spring-forward day, MAX supplies.value", {
    module: DISCO,
    range: range(berlin(3, 28), berlin(3, 30)),
    interval: Interval.HOUR,
    timeZone: BERLIN,
    aggregation: { function: AggregationFunction.MAX, field: "supplies.value" },
  }),
  series("Berlin days across spring-forward, by type", {
    module: ACCOUNT,
    range: range(berlin(3, 22), berlin(4, 5)),
    interval: Interval.DAY,
    timeZone: BERLIN,
    groupBy: ["type"],
  }),
  series("Berlin days across fall-back, MIN supplies.value", {
    module: DISCO,
    range: range(berlin(10, 18), berlin(11, 1)),
    interval: Interval.DAY,
    timeZone: BERLIN,
    aggregation: { function: AggregationFunction.MIN, field: "supplies.value" },
  }),
  series("Sydney days across both DST changes, COUNT_UNIQUE userId (interval unspecified = DAY)", {
    module: DISCO,
    range: range(sydney(4, 1), sydney(4, 10)),
    timeZone: SYDNEY,
    aggregation: { function: AggregationFunction.COUNT_UNIQUE, field: "userId" },
  }),
  series("Sydney days across spring-forward, range ending mid-day, by needs", {
    module: DISCO,
    range: range(sydney(9, 29), sydney(10, 8) + 7 * HOUR),
    interval: Interval.DAY,
    timeZone: SYDNEY,
    groupBy: ["needs"],
  }),
  series("hours in Kathmandu (+05:45: hours start at :15 UTC), NEQ type user.left, by type", {
    module: ACCOUNT,
    range: range(utc(10, 24, 12), utc(10, 26)),
    interval: Interval.HOUR,
    timeZone: "Asia/Kathmandu",
    filters: [filter("type", Operator.NEQ, "user.left")],
    groupBy: ["type"],
  }),
  series("hours across Lord Howe's half-hour fall-back (a 30-minute repeated hour), by type and needs", {
    module: DISCO,
    range: range(zonedMidnight(LORD_HOWE, 2026, 4, 4), zonedMidnight(LORD_HOWE, 2026, 4, 6)),
    interval: Interval.HOUR,
    timeZone: LORD_HOWE,
    groupBy: ["type", "needs"],
  }),
  series("Santiago days across both changes (Sep 6 has no 00:00), by type", {
    module: ACCOUNT,
    range: range(DST.santiagoAutumn - 3 * 86_400_000, DST.santiagoSpring + 3 * 86_400_000),
    interval: Interval.DAY,
    timeZone: SANTIAGO,
    groupBy: ["type"],
  }),
  series("Santiago weeks starting Sunday across Sep 6 (a week starting 01:00 local)", {
    module: DISCO,
    range: range(utc(8, 1), utc(10, 1)),
    interval: Interval.WEEK,
    timeZone: SANTIAGO,
    weekStart: Weekday.SUNDAY,
  }),
  series("Nuuk days around the fall-back at local midnight (Oct 24 has 25 hours)", {
    module: ACCOUNT,
    range: range(zonedMidnight(NUUK, 2026, 10, 22), zonedMidnight(NUUK, 2026, 10, 28)),
    interval: Interval.DAY,
    timeZone: NUUK,
  }),
  series("Berlin weeks from a Wednesday (default Monday start), by role", {
    module: ACCOUNT,
    range: range(utc(3, 4, 12, 34), utc(6, 1)),
    interval: Interval.WEEK,
    timeZone: BERLIN,
    groupBy: ["role"],
  }),
  series("Sydney weeks starting Sunday, enrolments that list supplies", {
    module: DISCO,
    range: range(utc(9, 1), DATA_END),
    interval: Interval.WEEK,
    timeZone: SYDNEY,
    weekStart: Weekday.SUNDAY,
    filters: [filter("supplies.name", Operator.EXISTS)],
  }),
  series("Berlin months of all data, by org (unicode, commas, quotes, newline)", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    timeZone: BERLIN,
    groupBy: ["org"],
  }),
  series("TOTAL of enrolments by supplies.name, SUM supplies.value", {
    module: DISCO,
    types: ["enrolled"],
    range: range(utc(2, 20, 5, 5), utc(10, 30, 17)),
    interval: Interval.TOTAL,
    groupBy: ["supplies.name"],
    aggregation: { function: AggregationFunction.SUM, field: "supplies.value" },
  }),

  // Operators -------------------------------------------------------------------------------------------
  series("EQ with a number, a numeric string and a half on supplies.value, monthly UTC by type", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    filters: [filter("supplies.value", Operator.EQ, 3, "5", 7.5)],
    groupBy: ["type"],
  }),
  series("NEQ role GUEST/USER, weekly UTC by role", {
    module: ACCOUNT,
    types: ["user.joined", "role.changed"],
    range: range(utc(5, 1), utc(8, 1)),
    interval: Interval.WEEK,
    filters: [filter("role", Operator.NEQ, "GUEST", "USER")],
    groupBy: ["role"],
  }),
  series("NOT_EXISTS supplies.name and EXISTS needs, monthly Sydney by type", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    timeZone: SYDNEY,
    filters: [filter("supplies.name", Operator.NOT_EXISTS), filter("needs", Operator.EXISTS)],
    groupBy: ["type"],
  }),
  series("GT 3 and LTE 7.5 on supplies.value, AVG supplies.value monthly Berlin by org", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    timeZone: BERLIN,
    filters: [filter("supplies.value", Operator.GT, 3), filter("supplies.value", Operator.LTE, 7.5)],
    groupBy: ["org"],
    aggregation: { function: AggregationFunction.AVG, field: "supplies.value" },
  }),
  series("CONTAINS ignoring case (ZÜRICH, inc., 東京) on org, by org and project", {
    module: ACCOUNT,
    range: range(utc(6, 1), utc(9, 1)),
    interval: Interval.MONTH,
    timeZone: "UTC",
    filters: [filter("org", Operator.CONTAINS, "ZÜRICH", "inc.", "東京")],
    groupBy: ["org", "project"],
  }),
  series("groupBy two fields (org, role) over a quarter, Sydney months", {
    module: ACCOUNT,
    range: range(sydney(4, 1), sydney(7, 1)),
    interval: Interval.MONTH,
    timeZone: SYDNEY,
    groupBy: ["org", "role"],
  }),
  series('groupBy supplies.value (numbers as strings; 5 and "5" are one group)', {
    module: DISCO,
    range: range(utc(7, 1), utc(10, 1)),
    interval: Interval.MONTH,
    groupBy: ["supplies.value"],
  }),

  // Geo filters -----------------------------------------------------------------------------------------
  series("Berlin edge box (inclusive edges), Berlin weeks", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    interval: Interval.WEEK,
    timeZone: BERLIN,
    geo: box(BERLIN_EDGE_BOX.south, BERLIN_EDGE_BOX.west, BERLIN_EDGE_BOX.north, BERLIN_EDGE_BOX.east),
  }),
  series("circle of 15 km around Sydney, Sydney months by type", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    timeZone: SYDNEY,
    geo: circle(CITIES.sydney.lat, CITIES.sydney.lon, 15_000),
    groupBy: ["type"],
  }),
  series("circle whose edge passes just outside an exact point (point included), Sydney months", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    timeZone: SYDNEY,
    geo: edgeCircle(1 + 1e-7),
  }),
  series("antimeridian box (west 175 > east -170), months UTC, COUNT_UNIQUE userId", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    interval: Interval.MONTH,
    geo: box(-20, 175, -10, -170),
    aggregation: { function: AggregationFunction.COUNT_UNIQUE, field: "userId" },
  }),
];

export const GEO_QUERIES: readonly GeoQuery[] = [
  geo("half-degree cells of all enrolments, minCount 3", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    cellDegrees: 0.5,
    minCount: 3,
  }),
  geo("default 1-degree cells, LT 2 on supplies.value", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    filters: [filter("supplies.value", Operator.LT, 2)],
  }),
  geo("2-degree cells inside the antimeridian box", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    geo: box(-20, 175, -10, -170),
    cellDegrees: 2,
  }),
  geo("0.1-degree cells in a circle whose edge passes just inside an exact point (point excluded)", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    geo: edgeCircle(1 - 1e-7),
    cellDegrees: 0.1,
  }),
  geo("0.01-degree cells in a 30 km circle around Berlin, user.joined, minCount 2", {
    module: ACCOUNT,
    types: ["user.joined"],
    range: range(utc(3, 1), utc(10, 1)),
    geo: circle(CITIES.berlin.lat, CITIES.berlin.lon, 30_000),
    cellDegrees: 0.01,
    minCount: 2,
  }),
];

export const LIST_QUERIES: readonly ListQuery[] = [
  list("ascending, Berlin edge box", {
    module: ACCOUNT,
    range: range(DATA_START, DATA_END),
    geo: box(BERLIN_EDGE_BOX.south, BERLIN_EDGE_BOX.west, BERLIN_EDGE_BOX.north, BERLIN_EDGE_BOX.east),
    order: Order.ASC,
  }),
  list("descending through Berlin's fall-back night, unfiltered (time ties on edges, broken by id)", {
    module: ACCOUNT,
    range: range(berlin(10, 24), berlin(10, 26)),
    order: Order.DESC,
  }),
  list("descending around Berlin's fall-back, role.changed to ADMIN or SUPERADMIN", {
    module: ACCOUNT,
    types: ["role.changed"],
    range: range(berlin(10, 23), berlin(10, 28)),
    filters: [filter("role", Operator.EQ, "ADMIN", "SUPERADMIN")],
    order: Order.DESC,
  }),
  list("default order, GTE 9.5 on supplies.value", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    filters: [filter("supplies.value", Operator.GTE, 9.5)],
  }),
  list("descending around Sydney's autumn change, range ends exactly on an edge, CONTAINS legal", {
    module: DISCO,
    range: range(sydney(4, 3), sydney(4, 7)),
    filters: [filter("supplies.name", Operator.CONTAINS, "legal")],
    order: Order.DESC,
  }),
  list("EQ on an object value given with its keys in another order (JSON objects are unordered)", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    filters: [filter("supplies", Operator.EQ, { unit: "hrs", value: 3, name: "Food" })],
  }),
  list("ascending, NOT_EXISTS needs, unicode CONTAINS on project", {
    module: DISCO,
    range: range(DATA_START, DATA_END),
    filters: [filter("needs", Operator.NOT_EXISTS), filter("project", Operator.CONTAINS, "café", "東京")],
    order: Order.ASC,
  }),
];

export const REFERENCE_QUERIES: readonly ReferenceQuery[] = [
  ...SERIES_QUERIES,
  ...GEO_QUERIES,
  ...LIST_QUERIES,
];
