/**
 * The API requests each panel makes, built from the dashboard state alone: what a panel shows, its CSV
 * exports and the test compare against are all the same request.
 */
import { create, toJson } from "@bufbuild/protobuf";
import { timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  AggregationFunction,
  type Filter,
  FilterSchema,
  type GeoFilter,
  GeoFilterSchema,
  Interval,
  type ListEventsRequest,
  ListEventsRequestSchema,
  Operator,
  Order,
  type QueryGeoRequest,
  QueryGeoRequestSchema,
  type QuerySeriesRequest,
  QuerySeriesRequestSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { type DashboardState, FILTER_FIELDS, FILTER_KEYS, type FilterKey } from "./state.ts";
import { type Bucket, effectiveInterval, type ResolvedRange } from "./time.ts";

const INTERVALS: Record<Bucket, Interval> = {
  hour: Interval.HOUR,
  day: Interval.DAY,
  week: Interval.WEEK,
  month: Interval.MONTH,
};

export const EVENTS_PAGE_SIZE = 25;

/** The state turned into query parts, once per state change. */
export interface QueryContext {
  state: DashboardState;
  tz: string;
  range: ResolvedRange;
  bucket: Bucket;
  /** The clock the range was resolved at: what is "so far" is judged by it, not by when an answer came. */
  now: number;
}

export function queryContext(
  state: DashboardState,
  tz: string,
  range: ResolvedRange,
  now = Date.now(),
): QueryContext {
  return { state, tz, range, bucket: effectiveInterval(state.interval, range), now };
}

function filters(state: DashboardState): Filter[] {
  return FILTER_KEYS.filter((key) => key !== "type" && state.filters[key].length > 0).map((key) =>
    create(FilterSchema, {
      field: FILTER_FIELDS[key],
      op: Operator.EQ,
      values: state.filters[key].map((value) =>
        create(ValueSchema, { kind: { case: "stringValue", value } }),
      ),
    }),
  );
}

function geo(state: DashboardState): GeoFilter | undefined {
  const loc = state.location;
  if (!loc) return undefined;
  if (loc.kind === "box") {
    const { south, west, north, east } = loc;
    return create(GeoFilterSchema, { shape: { case: "box", value: { south, west, north, east } } });
  }
  return create(GeoFilterSchema, {
    shape: {
      case: "circle",
      value: { center: { lat: loc.lat, lon: loc.lon }, radiusMeters: loc.radiusKm * 1000 },
    },
  });
}

/** What every query of the view shares: module, types, range, filters, location. */
function base(ctx: QueryContext) {
  return {
    module: ctx.state.module,
    types: ctx.state.filters.type,
    range: { start: timestampFromMs(ctx.range.start), end: timestampFromMs(ctx.range.end) },
    filters: filters(ctx.state),
    geo: geo(ctx.state),
  };
}

/** Events over time, one group per event type: the stacked bars. */
export function typesRequest(ctx: QueryContext): QuerySeriesRequest {
  return create(QuerySeriesRequestSchema, {
    ...base(ctx),
    interval: INTERVALS[ctx.bucket],
    timeZone: ctx.tz,
    groupBy: ["type"],
    pageSize: 10_000,
  });
}

/** Unique users (distinct `userId`) over time, per event type: the lines. */
export function usersRequest(ctx: QueryContext): QuerySeriesRequest {
  return create(QuerySeriesRequestSchema, {
    ...base(ctx),
    interval: INTERVALS[ctx.bucket],
    timeZone: ctx.tz,
    groupBy: ["type"],
    aggregation: { function: AggregationFunction.COUNT_UNIQUE, field: "userId" },
    pageSize: 10_000,
  });
}

/** Event counts over the whole range by one field: the breakdown bars. */
export function breakdownRequest(ctx: QueryContext): QuerySeriesRequest {
  return create(QuerySeriesRequestSchema, {
    ...base(ctx),
    interval: Interval.TOTAL,
    timeZone: ctx.tz,
    groupBy: [FILTER_FIELDS[ctx.state.breakdown]],
    pageSize: 10_000,
  });
}

/** Heat-map bins; the cell size follows the map's zoom. */
export function geoRequest(ctx: QueryContext, cellDegrees: number): QueryGeoRequest {
  return create(QueryGeoRequestSchema, { ...base(ctx), cellDegrees, pageSize: 10_000 });
}

/** The raw events, newest first, a page at a time. */
export function eventsRequest(ctx: QueryContext, pageToken = ""): ListEventsRequest {
  return create(ListEventsRequestSchema, {
    ...base(ctx),
    order: Order.DESC,
    pageSize: EVENTS_PAGE_SIZE,
    pageToken,
  });
}

/**
 * The values a filter can offer: the field's groups over the module and range, ignoring the other
 * filters (so that choosing one org does not hide the others).
 */
export function valuesRequest(ctx: QueryContext, key: FilterKey): QuerySeriesRequest {
  return create(QuerySeriesRequestSchema, {
    module: ctx.state.module,
    range: base(ctx).range,
    interval: Interval.TOTAL,
    groupBy: [FILTER_FIELDS[key]],
    pageSize: 10_000,
  });
}

/** Cell size for a map zoom: 4° for the whole world, halved per doubling of the zoom. */
export function cellForZoom(zoom: number): number {
  const exponent = Math.round(Math.log2(Math.max(zoom, 1e-6)));
  return Math.min(8, Math.max(1 / 256, 4 / 2 ** exponent));
}

/** Requests as proto3 JSON, for the page's debug object and the tests. */
export const json = {
  series: (r: QuerySeriesRequest) => toJson(QuerySeriesRequestSchema, r),
  geo: (r: QueryGeoRequest) => toJson(QueryGeoRequestSchema, r),
  events: (r: ListEventsRequest) => toJson(ListEventsRequestSchema, r),
};
