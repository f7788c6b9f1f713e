/**
 * Queries as the store takes them: plain, validated values, free of protobuf and HTTP. functions/ turns a
 * request into one of these after checking every field.
 */
import type { JsonValue } from "./json.ts";
import type { IntervalKind } from "./time-buckets.ts";

export type FilterOp = "eq" | "neq" | "exists" | "not_exists" | "gt" | "gte" | "lt" | "lte" | "contains";

/** `field` is `type` (the event type) or a dotted path into data. */
export interface FilterSpec {
  field: string;
  op: FilterOp;
  values: JsonValue[];
}

export type GeoSpec =
  | { kind: "box"; south: number; west: number; north: number; east: number }
  | { kind: "circle"; lat: number; lon: number; radiusMeters: number };

/** Which events a query reads. */
export interface Selection {
  tenant: string;
  module: string;
  /** [start, end) in ms. */
  start: number;
  end: number;
  /** Event types; empty means all. */
  types: string[];
  filters: FilterSpec[];
  geo?: GeoSpec;
  /** Only events ingested at or before this instant (ms): pages of one query see one snapshot. */
  asOf: number;
}

export type AggregationFn = "count" | "count_unique" | "sum" | "avg" | "min" | "max";

export interface SeriesSpec extends Selection {
  interval: IntervalKind;
  timeZone: string;
  /** ISO weekday, 1 = Monday. */
  weekStart: number;
  groupBy: string[];
  aggregation: { fn: AggregationFn; field: string };
}

export interface GeoQuerySpec extends Selection {
  cellDegrees: number;
  minCount: number;
}

export interface ListSpec extends Selection {
  order: "asc" | "desc";
}
