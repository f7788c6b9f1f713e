/** `tally geo`: QueryGeo. */
import type { Command } from "commander";
import {
  GeoBinSchema,
  QueryGeoRequestSchema,
  QueryGeoResponseSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { queryCommand } from "./query.ts";

export function geoCommand(program: Command): Command {
  return queryCommand(program, {
    kind: "geo",
    name: "geo",
    description: "counts of located events per latitude/longitude cell, for heat maps (QueryGeo)",
    requestSchema: QueryGeoRequestSchema,
    responseSchema: QueryGeoResponseSchema,
    itemSchema: GeoBinSchema,
    call: (client, request) => client.queryGeo(request),
    items: (response) => response.bins,
    table: () => ({
      head: ["lat", "lon", "count"],
      row: (bin) => [String(bin.lat), String(bin.lon), String(bin.count)],
    }),
  });
}
