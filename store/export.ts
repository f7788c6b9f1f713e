/**
 * Exports: the whole answer of a series, geo or events query as CSV text, yielded in chunks of about
 * 64 KiB. Series and geo answers are small (buckets × groups, cells); events stream one partition at a
 * time, so a 10 M-event export holds one day's matches in memory, never the whole answer.
 */
import { csvCell, csvRow, isoInZone } from "./csv.ts";
import { flattenJsonText } from "./csv-flatten.ts";
import type { EventStore } from "./event-store.ts";
import { type GeoBin, queryGeo } from "./geo-query.ts";
import { streamEvents } from "./list-events.ts";
import type { GeoQuerySpec, ListSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesLimits, type SeriesResult } from "./series.ts";

export type ExportSpec =
  | { kind: "series"; spec: SeriesSpec }
  | { kind: "geo"; spec: GeoQuerySpec }
  | { kind: "events"; spec: ListSpec; columns: string[] };

/** How series and geo answers are computed: in one go by default, in steps on Workers (stepped-query.ts). */
export interface ExportAggregations {
  series(spec: SeriesSpec, limits: SeriesLimits): Promise<SeriesResult>;
  geo(spec: GeoQuerySpec): Promise<GeoBin[]>;
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
        : eventRows(store, what.spec, what.columns);
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

async function* eventRows(store: EventStore, spec: ListSpec, requested: string[]): AsyncGenerator<string> {
  // The header needs every column before the first row: a first pass collects the union of data paths.
  let columns = requested;
  if (columns.length === 0) {
    const union = new Set<string>();
    const add = (path: string) => union.add(path);
    for await (const events of streamEvents(store, spec))
      for (const e of events) flattenJsonText(e.dataText, add);
    columns = [...union].sort();
  }
  yield csvRow(["id", "type", "time", "lat", "lon", ...columns]);
  const index = new Map(columns.map((c, i) => [c, i]));
  const cells: string[] = new Array(columns.length).fill("");
  const set = (path: string, cell: string) => {
    const i = index.get(path);
    if (i !== undefined) cells[i] = cell;
  };
  for await (const events of streamEvents(store, spec)) {
    let chunk = "";
    for (const e of events) {
      cells.fill("");
      flattenJsonText(e.dataText, set);
      const located = !Number.isNaN(e.lat);
      chunk += `${csvCell(e.id)},${csvCell(e.type)},${new Date(e.time).toISOString()},${located ? e.lat : ""},${located ? e.lon : ""}${cells.length ? "," : ""}${cells.join(",")}\r\n`;
    }
    yield chunk;
  }
}
