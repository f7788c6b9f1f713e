/** `tally events`: ListEvents. */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Command } from "commander";
import {
  EventSchema,
  ListEventsRequestSchema,
  ListEventsResponseSchema,
} from "../../proto/gen/telemetry/v1/telemetry_pb.ts";
import { queryCommand } from "./query.ts";

/** A table cell is for glancing; `-o json` has the whole of `data`. */
const DATA_WIDTH = 100;

export function eventsCommand(program: Command): Command {
  return queryCommand(program, {
    kind: "events",
    name: "events",
    description: "the matching events themselves, ordered by time (ListEvents)",
    requestSchema: ListEventsRequestSchema,
    responseSchema: ListEventsResponseSchema,
    itemSchema: EventSchema,
    call: (client, request) => client.listEvents(request),
    items: (response) => response.events,
    table: () => ({
      head: ["time", "type", "id", "lat", "lon", "data"],
      row: (event) => {
        const data = JSON.stringify(event.data ?? {});
        return [
          event.time ? new Date(timestampMs(event.time)).toISOString() : "",
          event.type,
          event.id,
          event.location ? String(event.location.lat) : "",
          event.location ? String(event.location.lon) : "",
          data.length > DATA_WIDTH ? `${data.slice(0, DATA_WIDTH - 1)}…` : data,
        ];
      },
    }),
  });
}
