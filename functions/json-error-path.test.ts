import type { JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ExportCsvRequestSchema,
  QuerySeriesRequestSchema,
  RecordEventsRequestSchema,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { jsonErrorPath } from "./json-error-path.ts";

const strict = { ignoreUnknownFields: false };
const RANGE = { start: "2026-03-01T00:00:00Z", end: "2026-04-01T00:00:00Z" };
const good = { type: "x", time: "2026-03-01T00:00:00Z", data: { a: [1, { b: 2 }] } };

describe("jsonErrorPath", () => {
  const record = (events: JsonValue[]) => ({ module: "m", events });
  it.each<[string, JsonValue, string | undefined]>([
    ["a valid request", record([good, good]), undefined],
    ["a time that is not RFC 3339", record([good, good, { ...good, time: "yesterday" }]), "events[2].time"],
    ["data that is not an object", record([good, { ...good, data: "str" }]), "events[1].data"],
    [
      "a latitude that is not a number",
      record([{ ...good, location: { lat: "abc" } }]),
      "events[0].location.lat",
    ],
    ["an unknown field in an event", record([good, { ...good, colour: "red" }]), "events[1].colour"],
    ["a type that is not a string", record([{ type: 5 }]), "events[0].type"],
    ["events that are not a list", { module: "m", events: 5 }, "events"],
    ["a request that is not an object", [1], undefined],
  ])("RecordEvents: %s → %s", (_, json, path) => {
    expect(jsonErrorPath(RecordEventsRequestSchema, json, strict)).toBe(path);
  });

  const series = (extra: Record<string, JsonValue>) => ({ module: "m", range: RANGE, ...extra });
  it.each<[string, JsonValue, string | undefined]>([
    ["a misspelt top-level field", series({ timezone: "UTC" }), "timezone"],
    ["an unknown field in range", { module: "m", range: { ...RANGE, foo: 1 } }, "range.foo"],
    [
      "an unknown operator",
      series({ filters: [{ field: "a", op: "OPERATOR_EQ" }, { op: "OPERATOR_LIKE" }] }),
      "filters[1].op",
    ],
    ["an unknown interval", series({ interval: "INTERVAL_SECOND" }), "interval"],
    ["an unknown weekday", series({ weekStart: "SUNDAY" }), "weekStart"],
    ["a bad page size", series({ pageSize: "many" }), "pageSize"],
    ["an unknown aggregation", series({ aggregation: { function: "MEDIAN" } }), "aggregation.function"],
    ["a bad circle radius", series({ geo: { circle: { radiusMeters: "far" } } }), "geo.circle.radiusMeters"],
    ["both box and circle", series({ geo: { box: {}, circle: {} } }), "geo"],
    ["a proto field name", series({ time_zone: 5 }), "timeZone"],
  ])("QuerySeries: %s → %s", (_, json, path) => {
    expect(jsonErrorPath(QuerySeriesRequestSchema, json, strict)).toBe(path);
  });

  it("ExportCsv: the path runs through the query", () => {
    const json = { events: { module: "m", range: RANGE, timeZone: "UTC" } };
    expect(jsonErrorPath(ExportCsvRequestSchema, json, strict)).toBe("events.timeZone");
  });

  it("unknown fields are no fault when they are ignored", () => {
    expect(
      jsonErrorPath(QuerySeriesRequestSchema, series({ timezone: "UTC" }), { ignoreUnknownFields: true }),
    ).toBeUndefined();
  });
});
