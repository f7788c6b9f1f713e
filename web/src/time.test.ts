import { describe, expect, it } from "vitest";
import { defaultState } from "./state.ts";
import {
  bucketLabel,
  effectiveInterval,
  offsetAt,
  resolveRange,
  startOfLocalDay,
  unfinishedFrom,
} from "./time.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("local days", () => {
  it("start at local midnight, on both sides of a DST change", () => {
    expect(startOfLocalDay(2026, 3, 29, "Europe/Berlin")).toBe(Date.UTC(2026, 2, 28, 23));
    expect(startOfLocalDay(2026, 3, 30, "Europe/Berlin")).toBe(Date.UTC(2026, 2, 29, 22));
    expect(startOfLocalDay(2026, 10, 26, "Europe/Berlin")).toBe(Date.UTC(2026, 9, 25, 23));
    expect(startOfLocalDay(2026, 4, 5, "Australia/Lord_Howe")).toBe(Date.UTC(2026, 3, 4, 13));
    expect(startOfLocalDay(2026, 1, 1, "UTC")).toBe(Date.UTC(2026, 0, 1));
  });

  it("start after the gap where midnight is skipped (Santiago, Sep 6 2026 begins at 01:00)", () => {
    expect(startOfLocalDay(2026, 9, 6, "America/Santiago")).toBe(Date.UTC(2026, 8, 6, 4));
    // Apr 5: 00:00 -03 becomes 23:00 -04 on Apr 4, so Apr 5 begins at 00:00 -04.
    expect(startOfLocalDay(2026, 4, 5, "America/Santiago")).toBe(Date.UTC(2026, 3, 5, 4));
  });

  it("offsets are east-positive", () => {
    expect(offsetAt(Date.UTC(2026, 6, 1), "Europe/Berlin")).toBe(2 * HOUR);
    expect(offsetAt(Date.UTC(2026, 6, 1), "America/New_York")).toBe(-4 * HOUR);
  });
});

describe("ranges", () => {
  const now = Date.UTC(2026, 10, 29, 15, 30, 12);

  it("a custom range runs from the first day's midnight to the midnight after the last day", () => {
    const state = { ...defaultState(), range: "custom" as const, from: "2026-03-01", to: "2026-03-31" };
    expect(resolveRange(state, "Europe/Berlin", now)).toEqual({
      start: Date.UTC(2026, 1, 28, 23),
      end: Date.UTC(2026, 2, 31, 22),
    });
  });

  it("day presets end at the next local midnight; 24h ends at the next minute", () => {
    expect(resolveRange({ ...defaultState(), range: "7d" }, "Asia/Tokyo", now)).toEqual({
      start: Date.UTC(2026, 10, 23, 15),
      end: Date.UTC(2026, 10, 30, 15),
    });
    expect(resolveRange({ ...defaultState(), range: "24h" }, "UTC", now)).toEqual({
      start: Date.UTC(2026, 10, 28, 15, 31),
      end: Date.UTC(2026, 10, 29, 15, 31),
    });
  });

  it("auto picks an interval that gives a readable number of bars", () => {
    const span = (days: number) => ({ start: 0, end: days * DAY });
    expect(effectiveInterval("auto", span(1))).toBe("hour");
    expect(effectiveInterval("auto", span(90))).toBe("day");
    expect(effectiveInterval("auto", span(3 * 365))).toBe("week");
    expect(effectiveInterval("auto", span(20 * 365))).toBe("month");
    expect(effectiveInterval("month", span(1))).toBe("month");
  });

  it("labels buckets in the time zone", () => {
    expect(bucketLabel(Date.UTC(2026, 2, 28, 23), "day", "Europe/Berlin")).toBe("2026-03-29");
    expect(bucketLabel(Date.UTC(2026, 2, 29, 1), "hour", "Europe/Berlin")).toBe("2026-03-29 03:00");
    expect(bucketLabel(Date.UTC(2026, 2, 31, 22), "month", "Europe/Berlin")).toBe("2026-04");
  });
});

describe("unfinishedFrom", () => {
  const H = 3_600_000;
  const buckets = [0, H, 2 * H, 3 * H];
  it("is the bucket now falls in, when the range runs past now", () => {
    expect(unfinishedFrom(buckets, 4 * H, 2.5 * H)).toBe(2);
    expect(unfinishedFrom(buckets, 4 * H, 3 * H)).toBe(3);
    expect(unfinishedFrom(buckets, 4 * H, 0)).toBe(0);
  });
  it("is -1 when the range is over, or has not begun", () => {
    expect(unfinishedFrom(buckets, 4 * H, 4 * H)).toBe(-1);
    expect(unfinishedFrom(buckets, 4 * H, 9 * H)).toBe(-1);
    expect(unfinishedFrom(buckets, 4 * H, -1)).toBe(-1);
    expect(unfinishedFrom([], 4 * H, H)).toBe(-1);
  });
});
