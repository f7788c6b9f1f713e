import { describe, expect, it } from "vitest";
import {
  QuerySeriesRequestSchema,
  RecordEventsRequestSchema,
} from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { calendarFault, daysInMonth, timestampFault } from "./strict-timestamps.ts";

describe("calendarFault", () => {
  it("passes every real instant, leap days and offsets included", () => {
    for (const t of [
      "2026-01-31T23:59:59Z",
      "2028-02-29T00:00:00Z",
      "2000-02-29T12:00:00.123456789+05:30",
      "2026-12-31T00:00:00-23:59",
      "0001-01-01T00:00:00Z",
    ])
      expect(calendarFault(t), t).toBeUndefined();
  });

  it("names what does not exist", () => {
    expect(calendarFault("2026-02-29T00:00:00Z")).toBe("February 2026 has 28 days");
    expect(calendarFault("1900-02-29T00:00:00Z")).toBe("February 1900 has 28 days");
    expect(calendarFault("2026-04-31T00:00:00Z")).toBe("April 2026 has 30 days");
    expect(calendarFault("2026-04-00T00:00:00Z")).toBe("April 2026 has 30 days");
    expect(calendarFault("2026-13-01T00:00:00Z")).toBe("there is no month 13");
    expect(calendarFault("2026-11-30T24:00:00Z")).toBe("hours run from 00 to 23");
    expect(calendarFault("2026-11-30T23:60:00Z")).toBe("minutes run from 00 to 59");
    expect(calendarFault("2026-12-31T23:59:60Z")).toBe("seconds run from 00 to 59 (no leap seconds)");
    expect(calendarFault("2026-11-30T12:00:00+24:00")).toBe("the UTC offset is out of range");
  });

  it("leaves what is not a date-time to the decoder", () => {
    expect(calendarFault("yesterday")).toBeUndefined();
    expect(calendarFault("2026-02-30")).toBeUndefined();
  });

  it("agrees with the calendar Date keeps, for every month of four centuries", () => {
    for (let year = 1900; year < 2300; year++)
      for (let month = 1; month <= 12; month++)
        expect(daysInMonth(year, month)).toBe(new Date(Date.UTC(year, month, 0)).getUTCDate());
  });
});

describe("timestampFault", () => {
  const record = (events: unknown[]) => JSON.stringify({ module: "m", events });

  it("names the first Timestamp field that is not a real instant", () => {
    const text = record([
      { type: "a", time: "2026-03-01T00:00:00Z" },
      { type: "b", time: "2026-02-30T08:00:00Z" },
    ]);
    expect(timestampFault(RecordEventsRequestSchema, text)).toBe(
      'events[1].time: invalid RFC 3339 string "2026-02-30T08:00:00Z": February 2026 has 28 days',
    );
    const range = JSON.stringify({ module: "m", range: { start: "2026-11-30T24:00:00Z", end: "x" } });
    expect(timestampFault(QuerySeriesRequestSchema, range)).toMatch(/^range\.start: /);
  });

  it("sees through \\u escapes, which JSON allows for any character", () => {
    const escaped = String.raw`{"module":"m","events":[{"type":"a","time":"\u0032026-02-30T00:00:00\u005a"}]}`;
    expect(timestampFault(RecordEventsRequestSchema, escaped)).toBe(
      'events[0].time: invalid RFC 3339 string "2026-02-30T00:00:00Z": February 2026 has 28 days',
    );
    const accented = String.raw`{"module":"m","events":[{"type":"caf\u00e9","time":"2026-02-28T00:00:00Z"}]}`;
    expect(timestampFault(RecordEventsRequestSchema, accented)).toBeUndefined();
  });

  it("leaves the same strings alone in an event's free data, and valid requests untouched", () => {
    const text = record([
      { type: "a", data: { when: "2026-02-30T08:00:00Z", list: ["2026-04-31T00:00:00Z"] } },
    ]);
    expect(timestampFault(RecordEventsRequestSchema, text)).toBeUndefined();
    expect(
      timestampFault(RecordEventsRequestSchema, record([{ type: "a", time: "2028-02-29T00:00:00Z" }])),
    ).toBeUndefined();
    // Text that is not JSON is the decoder's to refuse.
    expect(
      timestampFault(RecordEventsRequestSchema, '{"events":[{"time":"2026-02-30T08:00:00Z"'),
    ).toBeUndefined();
  });
});
