/** `tally series`: QuerySeries. */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import {
  AggregationFunction,
  Interval,
  QuerySeriesRequestSchema,
  QuerySeriesResponseSchema,
  SeriesRowSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { formatInZone } from "../output.ts";
import { queryCommand } from "./query.ts";

const VALUE_LABELS: Record<AggregationFunction, string> = {
  [AggregationFunction.UNSPECIFIED]: "count",
  [AggregationFunction.COUNT]: "count",
  [AggregationFunction.COUNT_UNIQUE]: "unique",
  [AggregationFunction.SUM]: "sum",
  [AggregationFunction.AVG]: "avg",
  [AggregationFunction.MIN]: "min",
  [AggregationFunction.MAX]: "max",
};

/** Day, week and month buckets start at local midnight: their time of day is noise. */
const DATE_ONLY = new Set([Interval.UNSPECIFIED, Interval.DAY, Interval.WEEK, Interval.MONTH]);

export function seriesCommand(program: Command): Command {
  return queryCommand(program, {
    kind: "series",
    name: "series",
    description: "time-bucketed counts, unique counts, sums, averages, minima or maxima (QuerySeries)",
    requestSchema: QuerySeriesRequestSchema,
    responseSchema: QuerySeriesResponseSchema,
    itemSchema: SeriesRowSchema,
    call: (client, request) => client.querySeries(request),
    items: (response) => response.rows,
    table(request) {
      const zone = request.timeZone || "UTC";
      const aggregation = request.aggregation;
      const fn = aggregation?.function ?? AggregationFunction.COUNT;
      const value = aggregation?.field ? `${VALUE_LABELS[fn]} ${aggregation.field}` : VALUE_LABELS[fn];
      const dateOnly = DATE_ONLY.has(request.interval);
      return {
        head: [`bucket (${zone})`, ...request.groupBy, value],
        row: (row) => [
          row.bucketStart ? formatInZone(timestampMs(row.bucketStart), zone, dateOnly) : "",
          ...row.group,
          String(row.value),
        ],
      };
    },
  });
}
