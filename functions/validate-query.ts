/**
 * Query validation: turns QuerySeries, QueryGeo and ListEvents requests into the store's plain specs, and
 * refuses — before any scan — anything malformed or absurd, naming the field in its JSON form.
 */
import { toJson } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  AggregationFunction,
  type Filter,
  type GeoFilter,
  Interval,
  type ListEventsRequest,
  Operator,
  Order,
  type QueryGeoRequest,
  type QuerySeriesRequest,
  type TimeRange,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { invalidArgument } from "../store/errors.ts";
import type { JsonValue } from "../store/json.ts";
import type {
  AggregationFn,
  FilterOp,
  FilterSpec,
  GeoQuerySpec,
  GeoSpec,
  ListSpec,
  Selection,
  SeriesSpec,
} from "../store/query-spec.ts";
import { estimateBucketCount, type IntervalKind, isValidTimeZone } from "../store/time-buckets.ts";
import type { Limits } from "./limits.ts";
import { timestampMs, validateModule } from "./validate-events.ts";

const CONTROL = /[\u0000-\u001f\u007f]/;

interface SelectionRequest {
  module: string;
  types: string[];
  range?: TimeRange;
  filters: Filter[];
  geo?: GeoFilter;
}

export function validateSelection(
  req: SelectionRequest,
  tenant: string,
  asOf: number,
  limits: Limits,
): Selection {
  const module = validateModule(req.module);
  if (!req.range) throw invalidArgument("range", "required: {start, end}");
  if (!req.range.start) throw invalidArgument("range.start", "required");
  if (!req.range.end) throw invalidArgument("range.end", "required");
  const start = timestampMs(req.range.start, "range.start");
  const end = timestampMs(req.range.end, "range.end");
  if (end <= start) throw invalidArgument("range.end", "must be after range.start");
  if (req.types.length > limits.maxTypes) throw invalidArgument("types", `at most ${limits.maxTypes}`);
  req.types.forEach((t, i) => {
    if (!t || CONTROL.test(t)) throw invalidArgument(`types[${i}]`, "must be a non-empty event type");
  });
  if (req.filters.length > limits.maxFilters)
    throw invalidArgument("filters", `at most ${limits.maxFilters}`);
  const filters = req.filters.map((f, i) => validateFilter(f, `filters[${i}]`, limits));
  const geo = req.geo ? validateGeo(req.geo) : undefined;
  return {
    tenant,
    module,
    start,
    end,
    types: [...new Set(req.types)],
    filters,
    ...(geo ? { geo } : {}),
    asOf,
  };
}

/** A field: `type`, or a dotted path into data with non-empty segments. */
export function validateField(field: string, at: string): string {
  if (!field) throw invalidArgument(at, "required: `type` or a dotted path into data such as `org`");
  if (field.length > 256) throw invalidArgument(at, "at most 256 characters");
  if (CONTROL.test(field) || field.split(".").some((part) => part === "")) {
    throw invalidArgument(
      at,
      `${JSON.stringify(field)} is not a field path (dotted names, e.g. supplies.name)`,
    );
  }
  return field;
}

const OPS: Partial<Record<Operator, FilterOp>> = {
  [Operator.EQ]: "eq",
  [Operator.NEQ]: "neq",
  [Operator.EXISTS]: "exists",
  [Operator.NOT_EXISTS]: "not_exists",
  [Operator.GT]: "gt",
  [Operator.GTE]: "gte",
  [Operator.LT]: "lt",
  [Operator.LTE]: "lte",
  [Operator.CONTAINS]: "contains",
};

function validateFilter(filter: Filter, at: string, limits: Limits): FilterSpec {
  const field = validateField(filter.field, `${at}.field`);
  const op = OPS[filter.op];
  if (!op)
    throw invalidArgument(
      `${at}.op`,
      "required: one of OPERATOR_EQ, _NEQ, _EXISTS, _NOT_EXISTS, _GT, _GTE, _LT, _LTE, _CONTAINS",
    );
  if (filter.values.length > limits.maxFilterValues) {
    throw invalidArgument(`${at}.values`, `at most ${limits.maxFilterValues}`);
  }
  const values = filter.values.map((v, i) => valueToJson(v, `${at}.values[${i}]`));
  switch (op) {
    case "exists":
    case "not_exists":
      if (values.length) throw invalidArgument(`${at}.values`, `must be empty for ${Operator[filter.op]}`);
      break;
    case "eq":
    case "neq":
      if (!values.length) throw invalidArgument(`${at}.values`, "at least one value is required");
      break;
    case "contains":
      if (!values.length || values.some((v) => typeof v !== "string" || v === "")) {
        throw invalidArgument(
          `${at}.values`,
          "one or more non-empty strings are required for OPERATOR_CONTAINS",
        );
      }
      break;
    default:
      if (values.length !== 1 || typeof values[0] !== "number") {
        throw invalidArgument(
          `${at}.values`,
          `exactly one number is required for OPERATOR_${Operator[filter.op]}`,
        );
      }
  }
  return { field, op, values };
}

function valueToJson(value: Value, at: string): JsonValue {
  if (value.kind.case === undefined) throw invalidArgument(at, "empty value");
  if (value.kind.case === "numberValue" && !Number.isFinite(value.kind.value)) {
    throw invalidArgument(at, "must be a finite number");
  }
  return toJson(ValueSchema, value) as JsonValue;
}

function validateGeo(geo: GeoFilter): GeoSpec {
  const { shape } = geo;
  if (shape.case === "box") {
    const { south, west, north, east } = shape.value;
    checkLat(south, "geo.box.south");
    checkLat(north, "geo.box.north");
    checkLon(west, "geo.box.west");
    checkLon(east, "geo.box.east");
    if (south > north) throw invalidArgument("geo.box.north", "must not be south of geo.box.south");
    return { kind: "box", south, west, north, east };
  }
  if (shape.case === "circle") {
    const { center, radiusMeters } = shape.value;
    if (!center) throw invalidArgument("geo.circle.center", "required");
    checkLat(center.lat, "geo.circle.center.lat");
    checkLon(center.lon, "geo.circle.center.lon");
    if (!Number.isFinite(radiusMeters) || radiusMeters <= 0) {
      throw invalidArgument("geo.circle.radiusMeters", "must be a positive number of meters");
    }
    return { kind: "circle", lat: center.lat, lon: center.lon, radiusMeters };
  }
  throw invalidArgument("geo", "needs a box or a circle");
}

function checkLat(v: number, at: string): void {
  if (!Number.isFinite(v) || v < -90 || v > 90) throw invalidArgument(at, `${v} is outside -90..90`);
}
function checkLon(v: number, at: string): void {
  if (!Number.isFinite(v) || v < -180 || v > 180) throw invalidArgument(at, `${v} is outside -180..180`);
}

const INTERVALS: Record<Interval, IntervalKind> = {
  [Interval.UNSPECIFIED]: "day",
  [Interval.MINUTE]: "minute",
  [Interval.HOUR]: "hour",
  [Interval.DAY]: "day",
  [Interval.WEEK]: "week",
  [Interval.MONTH]: "month",
  [Interval.TOTAL]: "total",
};

const FUNCTIONS: Record<AggregationFunction, AggregationFn> = {
  [AggregationFunction.UNSPECIFIED]: "count",
  [AggregationFunction.COUNT]: "count",
  [AggregationFunction.COUNT_UNIQUE]: "count_unique",
  [AggregationFunction.SUM]: "sum",
  [AggregationFunction.AVG]: "avg",
  [AggregationFunction.MIN]: "min",
  [AggregationFunction.MAX]: "max",
};

export function validateSeries(
  req: QuerySeriesRequest,
  tenant: string,
  asOf: number,
  limits: Limits,
): SeriesSpec {
  const selection = validateSelection(req, tenant, asOf, limits);
  const interval = INTERVALS[req.interval];
  if (!interval) throw invalidArgument("interval", `unknown interval ${req.interval}`);
  const timeZone = req.timeZone || "UTC";
  if (!isValidTimeZone(timeZone)) {
    throw invalidArgument(
      "timeZone",
      `${JSON.stringify(timeZone.slice(0, 80))} is not an IANA time zone (e.g. Europe/Berlin)`,
    );
  }
  if (req.weekStart < 0 || req.weekStart > 7)
    throw invalidArgument("weekStart", `unknown weekday ${req.weekStart}`);
  const estimate = interval === "total" ? 1 : estimateBucketCount(selection.start, selection.end, interval);
  if (estimate > limits.maxBuckets) {
    throw invalidArgument(
      "interval",
      `about ${Math.ceil(estimate)} buckets; at most ${limits.maxBuckets}: use a longer interval or a shorter range`,
    );
  }
  if (req.groupBy.length > limits.maxGroupBy)
    throw invalidArgument("groupBy", `at most ${limits.maxGroupBy} fields`);
  const groupBy = req.groupBy.map((f, i) => validateField(f, `groupBy[${i}]`));
  const fn = FUNCTIONS[req.aggregation?.function ?? AggregationFunction.COUNT];
  if (!fn) throw invalidArgument("aggregation.function", `unknown function ${req.aggregation?.function}`);
  const field = fn === "count" ? "" : validateField(req.aggregation?.field ?? "", "aggregation.field");
  return {
    ...selection,
    interval,
    timeZone,
    weekStart: req.weekStart || 1,
    groupBy,
    aggregation: { fn, field },
  };
}

export function validateGeoQuery(
  req: QueryGeoRequest,
  tenant: string,
  asOf: number,
  limits: Limits,
): GeoQuerySpec {
  const selection = validateSelection(req, tenant, asOf, limits);
  // Only 0 (unset) means the default: `|| 1` would take NaN (proto3 JSON "NaN") as unset too.
  const cellDegrees = req.cellDegrees === 0 ? 1 : req.cellDegrees;
  if (!Number.isFinite(cellDegrees) || cellDegrees < 0.0001 || cellDegrees > 180) {
    throw invalidArgument("cellDegrees", "must be between 0.0001 and 180");
  }
  if (req.minCount < 0) throw invalidArgument("minCount", "must not be negative");
  return { ...selection, cellDegrees, minCount: req.minCount };
}

export function validateList(req: ListEventsRequest, tenant: string, asOf: number, limits: Limits): ListSpec {
  const selection = validateSelection(req, tenant, asOf, limits);
  if (req.order !== Order.UNSPECIFIED && req.order !== Order.ASC && req.order !== Order.DESC) {
    throw invalidArgument("order", `unknown order ${req.order}`);
  }
  return { ...selection, order: req.order === Order.DESC ? "desc" : "asc" };
}

/** A page size: the default when 0, and at most `max` (larger requests get `max`, as AIP-158 advises). */
export function pageSize(requested: number, defaultSize: number, max: number): number {
  if (requested < 0) throw invalidArgument("pageSize", "must not be negative");
  return Math.min(requested || defaultSize, max);
}
