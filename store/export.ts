/**
 * Exports: the whole answer of a series, geo or events query as CSV text, yielded in chunks of about
 * 64 KiB. Series and geo answers are small (buckets × groups, cells); events stream one partition at a
 * time (export-events.ts), so a 10 M-event export holds one day's matches in memory, never the answer.
 */
import { csvRow, isoInZone } from "./csv.ts";
import type { EventStore } from "./event-store.ts";
import { eventRows } from "./export-events.ts";
import { type GeoBin, queryGeo } from "./geo-query.ts";
import type { EventCursor, ListedEvent } from "./list-events.ts";
import type { GeoQuerySpec, ListSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesLimits, type SeriesResult } from "./series.ts";

export type ExportSpec =
  | { kind: "series"; spec: SeriesSpec }
  | { kind: "geo"; spec: GeoQuerySpec }
  | { kind: "events"; spec: ListSpec; columns: string[] };

/**
 * How series and geo answers, and events exports' rows, are computed: in one go by default, in steps on
 * Workers (stepped-query.ts).
 */
export interface ExportAggregations {
  series(spec: SeriesSpec, limits: SeriesLimits): Promise<SeriesResult>;
  geo(spec: GeoQuerySpec): Promise<GeoBin[]>;
  /** The events export's text (header and rows); absent: `eventRows`, in this invocation. */
  events?(spec: ListSpec, columns: readonly string[]): AsyncIterable<string>;
  /** A ListEvents page; absent: `listEvents`, in this invocation. */
  list?(
    spec: ListSpec,
    limit: number,
    cursor: EventCursor | undefined,
  ): Promise<{ events: ListedEvent[]; more: boolean }>;
}

const CHUNK = 64 * 1024;
const BOM = "\uFEFF";

export async function* exportCsv(
  store: EventStore,
  what: ExportSpec,
  options: { bom: boolean; limits: SeriesLimits; aggregate?: ExportAggregations | undefined },
): AsyncGenerator<string> {
  let buffer = options.bom ? BOM : "";
  const aggregate = options.aggregate ?? {
    series: (spec, limits) => querySeries(store, spec, limits),
    geo: (spec) => queryGeo(store, spec),
  };
  const rows =
    what.kind === "series"
      ? seriesRows(aggregate, what.spec, options.limits)
      : what.kind === "geo"
        ? geoRows(aggregate, what.spec)
        : (aggregate.events?.(what.spec, what.columns) ?? eventRows(store, what.spec, what.columns));
  for await (const row of rows) {
    buffer += row;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = "";
    }
  }
  if (buffer) yield buffer;
}

async function* seriesRows(
  aggregate: ExportAggregations,
  spec: SeriesSpec,
  limits: SeriesLimits,
): AsyncGenerator<string> {
  yield csvRow(["bucket_start", ...spec.groupBy, "value"]);
  const result = await aggregate.series(spec, limits);
  for (let b = 0; b < result.starts.length; b++) {
    const start = isoInZone(result.starts[b]!, spec.timeZone);
    for (let g = 0; g < result.groups.length; g++)
      yield csvRow([start, ...result.groups[g]!, result.value(b, g)]);
  }
}

async function* geoRows(aggregate: ExportAggregations, spec: GeoQuerySpec): AsyncGenerator<string> {
  yield csvRow(["lat", "lon", "count"]);
  for (const bin of await aggregate.geo(spec)) yield csvRow([bin.lat, bin.lon, bin.count]);
}
