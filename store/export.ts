/**
 * Exports: the whole answer of a series, geo or events query as CSV text, yielded in chunks of about
 * 64 KiB. Series and geo answers are small (buckets × groups, cells); events stream one partition at a
 * time (export-events.ts), so a 10 M-event export holds one day's matches in memory, never the answer.
 */
import { csvRow, isoInZone } from "./csv.ts";
import type { EventStore } from "./event-store.ts";
import { eventRows } from "./export-events.ts";
import { queryGeo } from "./geo-query.ts";
import type { GeoQuerySpec, ListSpec, SeriesSpec } from "./query-spec.ts";
import { querySeries, type SeriesLimits } from "./series.ts";

export type ExportSpec =
  | { kind: "series"; spec: SeriesSpec }
  | { kind: "geo"; spec: GeoQuerySpec }
  | { kind: "events"; spec: ListSpec; columns: string[] };

const CHUNK = 64 * 1024;
const BOM = "\uFEFF";

export async function* exportCsv(
  store: EventStore,
  what: ExportSpec,
  options: { bom: boolean; limits: SeriesLimits },
): AsyncGenerator<string> {
  let buffer = options.bom ? BOM : "";
  const rows =
    what.kind === "series"
      ? seriesRows(store, what.spec, options.limits)
      : what.kind === "geo"
        ? geoRows(store, what.spec)
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
  store: EventStore,
  spec: SeriesSpec,
  limits: SeriesLimits,
): AsyncGenerator<string> {
  yield csvRow(["bucket_start", ...spec.groupBy, "value"]);
  const result = await querySeries(store, spec, limits);
  for (let b = 0; b < result.starts.length; b++) {
    const start = isoInZone(result.starts[b]!, spec.timeZone);
    for (let g = 0; g < result.groups.length; g++)
      yield csvRow([start, ...result.groups[g]!, result.value(b, g)]);
  }
}

async function* geoRows(store: EventStore, spec: GeoQuerySpec): AsyncGenerator<string> {
  yield csvRow(["lat", "lon", "count"]);
  for (const bin of await queryGeo(store, spec)) yield csvRow([bin.lat, bin.lon, bin.count]);
}
