/**
 * The queries the protocol suite sends over every wire: each RPC, filters of every kind, groups, a time
 * zone, geo shapes and small pages.
 */
import { create, type DescMessage, fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  AggregationFunction,
  Interval,
  ListEventsRequestSchema,
  Operator,
  Order,
  QueryGeoRequestSchema,
  QuerySeriesRequestSchema,
  Weekday,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";

export interface ProtocolQuery {
  name: string;
  rpc: "querySeries" | "queryGeo" | "listEvents";
  request: Record<string, unknown>;
  requestSchema: DescMessage;
  requestMessage: (override: Record<string, unknown>) => ReturnType<typeof create>;
}

const range = { start: timestampFromMs(Date.UTC(2026, 2, 1)), end: timestampFromMs(Date.UTC(2026, 5, 1)) };
const v = (json: string | number | boolean | null) => fromJson(ValueSchema, json);

function query<S extends DescMessage>(
  name: string,
  rpc: ProtocolQuery["rpc"],
  schema: S,
  request: MessageInitShape<S>,
): ProtocolQuery {
  return {
    name,
    rpc,
    request: request as Record<string, unknown>,
    requestSchema: schema,
    requestMessage: (override) => create(schema, { ...request, ...override } as MessageInitShape<S>),
  };
}

export const PROTOCOL_QUERIES: ProtocolQuery[] = [
  query("daily counts by type in Berlin", "querySeries", QuerySeriesRequestSchema, {
    module: "mod-disco",
    range,
    interval: Interval.DAY,
    timeZone: "Europe/Berlin",
    groupBy: ["type"],
    pageSize: 40,
  }),
  query("weekly unique users, Sunday weeks, Childcare", "querySeries", QuerySeriesRequestSchema, {
    module: "mod-disco",
    range,
    interval: Interval.WEEK,
    weekStart: Weekday.SUNDAY,
    timeZone: "Australia/Sydney",
    filters: [{ field: "supplies.name", op: Operator.EQ, values: [v("Childcare"), v("Transport")] }],
    aggregation: { function: AggregationFunction.COUNT_UNIQUE, field: "userId" },
  }),
  query("monthly hours by supply, value ≥ 5", "querySeries", QuerySeriesRequestSchema, {
    module: "mod-disco",
    range,
    interval: Interval.MONTH,
    groupBy: ["supplies.name"],
    filters: [{ field: "supplies.value", op: Operator.GTE, values: [v(5)] }],
    aggregation: { function: AggregationFunction.SUM, field: "supplies.value" },
    pageSize: 9,
  }),
  query("roles joined in a box, total", "querySeries", QuerySeriesRequestSchema, {
    module: "sys-account",
    range,
    interval: Interval.TOTAL,
    types: ["user.joined", "role.changed"],
    groupBy: ["role", "org"],
    geo: { shape: { case: "box", value: { south: 35, west: -10, north: 60, east: 40 } } },
    filters: [{ field: "role", op: Operator.NEQ, values: [v("GUEST")] }],
  }),
  query("geo bins near Sydney", "queryGeo", QueryGeoRequestSchema, {
    module: "mod-disco",
    range,
    cellDegrees: 0.25,
    geo: {
      shape: { case: "circle", value: { center: { lat: -33.87, lon: 151.21 }, radiusMeters: 150_000 } },
    },
    pageSize: 4,
  }),
  query("geo bins world, min count 3", "queryGeo", QueryGeoRequestSchema, {
    module: "sys-account",
    range,
    cellDegrees: 2,
    minCount: 3,
    filters: [{ field: "org", op: Operator.CONTAINS, values: [v("ORG-1")] }],
    pageSize: 10,
  }),
  query("newest unenrolments with needs", "listEvents", ListEventsRequestSchema, {
    module: "mod-disco",
    range,
    types: ["unenrolled"],
    order: Order.DESC,
    filters: [{ field: "needs", op: Operator.EXISTS }],
    pageSize: 25,
  }),
  query("oldest events without location", "listEvents", ListEventsRequestSchema, {
    module: "sys-account",
    range: { start: range.start, end: timestampFromMs(Date.UTC(2026, 2, 4)) },
    pageSize: 30,
  }),
];
