/** Event locations at record time (validate-events.ts): the ranges' ends, signed zeros, non-numbers. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RecordEventsRequestSchema } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { validateRecord } from "./validate-events.ts";

const record = (...locations: ({ lat: number; lon: number } | undefined)[]) =>
  validateRecord(
    create(RecordEventsRequestSchema, {
      module: "mod-disco",
      events: locations.map((location) => ({ type: "x", ...(location ? { location } : {}) })),
    }),
    DEFAULT_LIMITS,
    0,
  );

describe("validateRecord: locations", () => {
  it("keeps the ranges' ends and -0 as sent, and an event without a location as not located (NaN)", () => {
    const events = record({ lat: 90, lon: 180 }, { lat: -90, lon: -180 }, { lat: -0, lon: -0 }, undefined);
    expect(events.map((e) => [e.lat, e.lon])).toEqual([
      [90, 180],
      [-90, -180],
      [-0, -0],
      [Number.NaN, Number.NaN],
    ]);
  });

  it("refuses a coordinate past its range or not a finite number, naming the event and the coordinate", () => {
    const bad: [{ lat: number; lon: number }, RegExp][] = [
      [{ lat: 90.000_000_000_001, lon: 0 }, /^events\[1\]\.location\.lat: /],
      [{ lat: -90.000_000_000_001, lon: 0 }, /^events\[1\]\.location\.lat: /],
      [{ lat: Number.NaN, lon: 0 }, /^events\[1\]\.location\.lat: /],
      [{ lat: 0, lon: 180.000_000_000_01 }, /^events\[1\]\.location\.lon: /],
      [{ lat: 0, lon: Number.NEGATIVE_INFINITY }, /^events\[1\]\.location\.lon: /],
      [{ lat: 0, lon: Number.NaN }, /^events\[1\]\.location\.lon: /],
    ];
    for (const [location, message] of bad)
      expect(() => record({ lat: 1, lon: 1 }, location), JSON.stringify(location)).toThrow(message);
  });
});
