/**
 * A QuerySeries count over tenant "t", module "m" for store tests: one UTC day from `start` by default,
 * every event counted, as of now; `overrides` set the rest.
 */
import type { SeriesSpec } from "../store/query-spec.ts";

const DAY = 86_400_000;

export function countSpec(start: number, overrides: Partial<SeriesSpec> = {}): SeriesSpec {
  return {
    tenant: "t",
    module: "m",
    start,
    end: start + DAY,
    types: [],
    filters: [],
    asOf: Number.MAX_VALUE,
    interval: "day",
    timeZone: "UTC",
    weekStart: 1,
    groupBy: [],
    aggregation: { fn: "count", field: "" },
    ...overrides,
  };
}
