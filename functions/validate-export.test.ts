import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ExportCsvRequestSchema, Interval } from "../proto/gen/telemetry/v1/telemetry_pb.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { validateExport } from "./validate-export.ts";

const range = (start: number, end: number) => ({ start: timestampFromMs(start), end: timestampFromMs(end) });

function filename(query: Parameters<typeof create<typeof ExportCsvRequestSchema>>[1]) {
  return validateExport(create(ExportCsvRequestSchema, query), "t", Date.UTC(2027, 0, 1), DEFAULT_LIMITS)
    .filename;
}

describe("export file names", () => {
  it("name a series by its dates in its time zone, other exports by UTC dates", () => {
    const berlinMarch = range(Date.UTC(2026, 1, 28, 23), Date.UTC(2026, 2, 31, 22));
    expect(
      filename({
        query: {
          case: "series",
          value: {
            module: "mod-disco",
            range: berlinMarch,
            interval: Interval.DAY,
            timeZone: "Europe/Berlin",
          },
        },
      }),
    ).toBe("mod-disco-series-2026-03-01-2026-04-01.csv");
    // The same instants in UTC are not midnights: compact UTC times.
    expect(filename({ query: { case: "events", value: { module: "mod-disco", range: berlinMarch } } })).toBe(
      "mod-disco-events-20260228T230000Z-20260331T220000Z.csv",
    );
    expect(
      filename({
        query: {
          case: "geo",
          value: { module: "sys-account", range: range(Date.UTC(2026, 2, 1), Date.UTC(2026, 3, 1)) },
        },
      }),
    ).toBe("sys-account-geo-2026-03-01-2026-04-01.csv");
    // A series whose range is not at its zone's midnights: compact UTC times.
    expect(
      filename({
        query: {
          case: "series",
          value: {
            module: "mod-disco",
            range: range(Date.UTC(2026, 2, 1, 9, 30), Date.UTC(2026, 2, 2)),
            interval: Interval.HOUR,
            timeZone: "Asia/Kathmandu",
          },
        },
      }),
    ).toBe("mod-disco-series-20260301T093000Z-20260302T000000Z.csv");
  });
});
